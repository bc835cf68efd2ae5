/*
 * report.c: the incident report, HTML or Markdown, from one pass over the
 * selected incidents and the signal set.
 *
 * Sections: summary sentences (#KeepItOn style), timeline (SVG + table),
 * signal plots (per entity, events shaded), affected regions / networks /
 * services, techniques, findings, evidence appendix.
 * Plot choice (deterministic, capped at max_plots): the country's own level
 * signals, then its probe signals, then every other series an incident's event
 * came from, in signal-set order. HTML is self-contained (inline CSS and SVG);
 * Markdown embeds the same SVGs as data: URIs. Every input-derived string is
 * escaped for the target format.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "report/internal.h"
#include "report/report.h"

bool kp_report_selects(const kp_report_opts_t *o, const kp_incident_t *inc) {
  if (o->cc && o->cc[0] && strcmp(o->cc, inc->cc)) return false;
  if (o->from && inc->end <= o->from) return false;
  if (o->until && inc->start >= o->until) return false;
  return true;
}

typedef struct rep {
  const kp_report_opts_t *o;
  bool md;
  kp_buf_t *out;
} rep_t;

/* text in the target format: HTML-escaped, or Markdown with table/HTML specials neutralised */
static void txt(rep_t *r, const char *s) {
  if (!r->md) {
    kp_rep_esc(r->out, s);
    return;
  }
  for (; *s; s++) {
    if (strchr("|\\`*_[]<>#", *s)) kp_buf_putc(r->out, '\\');
    kp_buf_putc(r->out, *s == '\n' || *s == '\r' ? ' ' : *s);
  }
}

static void dur(int64_t s, char *out, size_t cap) {
  int64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
  if (d) snprintf(out, cap, "%lldd %lldh %lldm", (long long)d, (long long)h, (long long)m);
  else snprintf(out, cap, "%lldh %lldm", (long long)h, (long long)m);
}

static void tstr(int64_t t, char *out, size_t cap) { kp_rep_time(t, "%Y-%m-%d %H:%M", out, cap); }

static void join(rep_t *r, const char *const *v, size_t n, const char *none) {
  if (!n) txt(r, none);
  for (size_t i = 0; i < n; i++) {
    if (i) kp_buf_puts(r->out, ", ");
    txt(r, v[i]);
  }
}

static void h2(rep_t *r, const char *id, const char *title) {
  if (r->md) kp_buf_printf(r->out, "\n## %s\n\n", title);
  else kp_buf_printf(r->out, "<h2 id=\"%s\">%s</h2>\n", id, title);
}

static void sentence(rep_t *r, const kp_incident_t *c) {
  char a[32], b[32], d[48];
  tstr(c->start, a, sizeof a);
  tstr(c->end, b, sizeof b);
  dur(c->end - c->start, d, sizeof d);
  const char *tn = kp_inc_type_name(c->type);
  kp_buf_puts(r->out, r->md ? "- **" : "<li><b>");
  kp_buf_putc(r->out, (char)(tn[0] - 'a' + 'A'));
  kp_buf_puts(r->out, tn + 1);
  kp_buf_puts(r->out, r->md ? "**" : "</b>");
  kp_buf_printf(r->out, " (%s, confidence %.2f) from %s to %s UTC%s (%s)", kp_level_name(c->level), c->confidence, a,
                b, c->ongoing ? ", ongoing at the end of the data" : "", d);
  if (c->curfew) kp_buf_printf(r->out, ", curfew-style in %zu windows", c->nwindows);
  if (c->nservices) {
    kp_buf_puts(r->out, "; services: ");
    join(r, c->services, c->nservices, "");
  }
  if (c->nregions) {
    kp_buf_puts(r->out, "; regions: ");
    join(r, c->regions, c->nregions, "");
  }
  if (c->nasns) {
    kp_buf_puts(r->out, "; networks: ");
    join(r, c->asns, c->nasns, "");
  }
  kp_buf_puts(r->out, "; sources: ");
  join(r, c->sources, c->nsources, "none");
  kp_buf_puts(r->out, r->md ? ".\n" : ".</li>\n");
}

static void svg_embed(rep_t *r, kp_buf_t *svg, const char *alt) {
  if (!r->md) {
    kp_buf_puts(r->out, "<figure>");
    kp_buf_append(r->out, svg->data, svg->len);
    kp_buf_puts(r->out, "</figure>\n");
    return;
  }
  kp_buf_puts(r->out, "![");
  txt(r, alt);
  kp_buf_puts(r->out, "](data:image/svg+xml;base64,");
  kp_base64_encode(svg->data, svg->len, r->out);
  kp_buf_puts(r->out, ")\n\n");
}

static bool series_in(const kp_incident_t *const *sel, size_t n, const kp_series_t *s) {
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < sel[i]->nevents; k++)
      if (sel[i]->events[k]->series == s) return true;
  return false;
}

static void plots(rep_t *r, const kp_sigset_t *s, const kp_incident_t *const *sel, size_t nsel, int64_t from,
                  int64_t until) {
  size_t maxp = r->o->max_plots ? r->o->max_plots : 12, done = 0;
  kp_buf_t svg;
  kp_buf_init(&svg, KP_BUF_DEFAULT_CAP);
  kp_window_t *sh = NULL;
  for (int pass = 0; pass < 3 && done < maxp; pass++) {
    for (size_t i = 0; i < kp_sigset_count(s) && done < maxp; i++) {
      const kp_series_t *se = kp_sigset_at(s, i);
      bool country = !strcmp(se->entity_type, "country") && (!r->o->cc || !strcmp(se->entity_code, r->o->cc));
      bool probe = !strncmp(se->datasource, "probe-", 6);
      bool pick = pass == 0 ? country && !probe : pass == 1 ? country && probe : !country && series_in(sel, nsel, se);
      if (!pick || !se->n) continue;
      size_t nsh = 0, cap = 0;
      for (size_t k = 0; k < nsel; k++)
        for (size_t e = 0; e < sel[k]->nevents; e++) {
          const kp_event_t *ev = sel[k]->events[e];
          if (ev->series != se) continue;
          size_t add = ev->nwin ? ev->nwin : 1;
          if (nsh + add > cap) {
            cap = (nsh + add) * 2;
            kp_window_t *p = realloc(sh, cap * sizeof *sh);
            if (!p) goto out;
            sh = p;
          }
          if (ev->nwin) {
            memcpy(sh + nsh, ev->win, ev->nwin * sizeof *sh);
            nsh += ev->nwin;
          } else {
            sh[nsh++] = (kp_window_t){ev->start, ev->end};
          }
        }
      kp_buf_reset(&svg);
      if (kp_report_svg(se, from, until, sh, nsh, &svg) != KP_OK) continue;
      char alt[256];
      snprintf(alt, sizeof alt, "%s %s %s", se->entity_type, se->entity_code, se->datasource);
      svg_embed(r, &svg, alt);
      done++;
    }
  }
  if (!done) kp_buf_puts(r->out, r->md ? "No signal data in the window.\n" : "<p>No signal data in the window.</p>\n");
out:
  free(sh);
  kp_buf_free(&svg);
}

static void table_row(rep_t *r, const char *const *cells, size_t n, bool head) {
  if (r->md) {
    kp_buf_puts(r->out, "|");
    for (size_t i = 0; i < n; i++) {
      kp_buf_putc(r->out, ' ');
      txt(r, cells[i]);
      kp_buf_puts(r->out, " |");
    }
    kp_buf_putc(r->out, '\n');
    if (head) {
      kp_buf_puts(r->out, "|");
      for (size_t i = 0; i < n; i++) kp_buf_puts(r->out, "---|");
      kp_buf_putc(r->out, '\n');
    }
    return;
  }
  kp_buf_puts(r->out, "<tr>");
  for (size_t i = 0; i < n; i++) {
    kp_buf_puts(r->out, head ? "<th>" : "<td>");
    txt(r, cells[i]);
    kp_buf_puts(r->out, head ? "</th>" : "</td>");
  }
  kp_buf_puts(r->out, "</tr>\n");
}

static void strjoin(char *out, size_t cap, const char *const *v, size_t n, const char *none) {
  out[0] = 0;
  if (!n) snprintf(out, cap, "%s", none);
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(out);
    snprintf(out + l, cap - l, "%s%s", i ? ", " : "", v[i]);
  }
}

static void timeline_table(rep_t *r, const kp_incident_t *const *sel, size_t n) {
  static const char *const head[] = {"id", "type", "level", "start (UTC)", "end (UTC)", "duration", "windows",
                                     "scope", "services", "confidence"};
  if (!r->md) kp_buf_puts(r->out, "<table>\n");
  table_row(r, head, 10, true);
  for (size_t i = 0; i < n; i++) {
    const kp_incident_t *c = sel[i];
    char a[32], b[32], d[48], w[24], scope[512], svc[512], conf[16];
    tstr(c->start, a, sizeof a);
    tstr(c->end, b, sizeof b);
    dur(c->end - c->start, d, sizeof d);
    snprintf(w, sizeof w, "%zu%s", c->nwindows, c->curfew ? " (curfew)" : "");
    if (c->nregions) strjoin(scope, sizeof scope, c->regions, c->nregions, "");
    else if (c->nasns && c->type != KP_INC_FULL && c->type != KP_INC_PARTIAL) strjoin(scope, sizeof scope, c->asns, c->nasns, "");
    else snprintf(scope, sizeof scope, "national (%s)", c->cc);
    strjoin(svc, sizeof svc, c->services, c->nservices, c->type == KP_INC_FULL ? "all" : "-");
    snprintf(conf, sizeof conf, "%.2f", c->confidence);
    char ty[64]; /* full/partial say how much went dark */
    if ((c->type == KP_INC_FULL || c->type == KP_INC_PARTIAL) && c->down_share >= 0)
      snprintf(ty, sizeof ty, "%s (%.0f%% of blocks down)", kp_inc_type_name(c->type), c->down_share * 100);
    else snprintf(ty, sizeof ty, "%s", kp_inc_type_name(c->type));
    const char *cells[] = {c->id, ty, kp_level_name(c->level), a,
                           c->ongoing ? "ongoing" : b, d, w, scope, svc, conf};
    table_row(r, cells, 10, false);
  }
  if (!r->md) kp_buf_puts(r->out, "</table>\n");
}

static void windows_list(rep_t *r, const kp_incident_t *const *sel, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const kp_incident_t *c = sel[i];
    if (c->nwindows < 2) continue;
    kp_buf_puts(r->out, r->md ? "\nWindows of " : "<p>Windows of ");
    txt(r, c->id);
    kp_buf_puts(r->out, r->md ? ":\n\n" : ":</p><ul>\n");
    for (size_t k = 0; k < c->nwindows; k++) {
      char a[32], b[32], d[48];
      tstr(c->windows[k].start, a, sizeof a);
      tstr(c->windows[k].end, b, sizeof b);
      dur(c->windows[k].end - c->windows[k].start, d, sizeof d);
      kp_buf_printf(r->out, r->md ? "- %s to %s (%s)\n" : "<li>%s to %s (%s)</li>\n", a, b, d);
    }
    if (!r->md) kp_buf_puts(r->out, "</ul>\n");
  }
}

static void affected(rep_t *r, const kp_incident_t *const *sel, size_t n) {
  static const char *const what[] = {"Regions", "Networks", "Services"};
  for (int k = 0; k < 3; k++) {
    const char *items[256];
    size_t ni = 0;
    for (size_t i = 0; i < n; i++) {
      const char *const *v = k == 0 ? sel[i]->regions : k == 1 ? sel[i]->asns : sel[i]->services;
      size_t m = k == 0 ? sel[i]->nregions : k == 1 ? sel[i]->nasns : sel[i]->nservices;
      for (size_t j = 0; j < m && ni < 256; j++) {
        size_t q;
        for (q = 0; q < ni && strcmp(items[q], v[j]); q++) {}
        if (q == ni) items[ni++] = v[j];
      }
    }
    kp_buf_printf(r->out, r->md ? "- **%s:** " : "<p><b>%s:</b> ", what[k]);
    join(r, items, ni, "none detected");
    kp_buf_puts(r->out, r->md ? "\n" : "</p>\n");
  }
}

static void techniques(rep_t *r, const kp_incident_t *const *sel, size_t n) {
  static const char *const head[] = {"incident", "technique", "failed measurements"};
  size_t rows = 0;
  for (size_t i = 0; i < n; i++) rows += sel[i]->ntechniques + (sel[i]->unreachable > 0);
  if (!rows) {
    kp_buf_puts(r->out, r->md ? "No technique recorded by probe measurements.\n"
                              : "<p>No technique recorded by probe measurements.</p>\n");
    return;
  }
  if (!r->md) kp_buf_puts(r->out, "<table>\n");
  table_row(r, head, 3, true);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < sel[i]->ntechniques; k++) {
      char cnt[24];
      snprintf(cnt, sizeof cnt, "%lld", (long long)sel[i]->techniques[k].count);
      const char *cells[] = {sel[i]->id, sel[i]->techniques[k].name, cnt};
      table_row(r, cells, 3, false);
    }
  /* failures inside a national cut are no technique (a cut is not an app block): one row that
   * says so, after the techniques */
  for (size_t i = 0; i < n; i++)
    if (sel[i]->unreachable > 0) {
      char cnt[24], what[96];
      snprintf(cnt, sizeof cnt, "%lld", (long long)sel[i]->unreachable);
      snprintf(what, sizeof what, "unreachable during the shutdown %s (not a technique)", sel[i]->unreachable_in);
      const char *cells[] = {sel[i]->id, what, cnt};
      table_row(r, cells, 3, false);
    }
  if (!r->md) kp_buf_puts(r->out, "</table>\n");
}

static void findings(rep_t *r, const kp_incident_t *const *sel, size_t n) {
  size_t any = 0;
  if (!r->md) kp_buf_puts(r->out, "<ul>\n");
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < sel[i]->nfindings; k++, any++) {
      kp_buf_puts(r->out, r->md ? "- " : "<li>");
      txt(r, sel[i]->id);
      kp_buf_puts(r->out, ": ");
      txt(r, sel[i]->findings[k]);
      kp_buf_puts(r->out, r->md ? "\n" : "</li>\n");
    }
  if (!any) kp_buf_puts(r->out, r->md ? "None.\n" : "<li>None.</li>\n");
  if (!r->md) kp_buf_puts(r->out, "</ul>\n");
}

static void evidence(rep_t *r, const kp_incident_t *const *sel, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const kp_incident_t *c = sel[i];
    kp_buf_puts(r->out, r->md ? "\n### " : "<h3>");
    txt(r, c->id);
    kp_buf_puts(r->out, r->md ? "\n\n" : "</h3>\n<ul class=\"ev\">\n");
    for (size_t k = 0; k < c->nevents; k++) {
      const kp_event_t *e = c->events[k];
      char a[32], b[32];
      tstr(e->start, a, sizeof a);
      tstr(e->end, b, sizeof b);
      kp_buf_puts(r->out, r->md ? "- event " : "<li>event ");
      txt(r, e->detector);
      kp_buf_puts(r->out, " on ");
      txt(r, e->series->entity_type);
      kp_buf_putc(r->out, ' ');
      txt(r, e->series->entity_code);
      kp_buf_putc(r->out, ' ');
      txt(r, e->series->datasource);
      kp_buf_printf(r->out, ": %s to %s, %s, score %.1f%s", a, b, kp_level_name(e->level), e->score,
                    r->md ? "\n" : "</li>\n");
    }
    for (size_t k = 0; k < c->nevidence; k++) {
      kp_buf_puts(r->out, r->md ? "- " : "<li><code>");
      txt(r, c->evidence[k].kind);
      kp_buf_puts(r->out, " ");
      txt(r, c->evidence[k].ref);
      if (c->evidence[k].hash[0]) {
        kp_buf_puts(r->out, " sha256:");
        txt(r, c->evidence[k].hash);
      }
      kp_buf_puts(r->out, r->md ? "\n" : "</code></li>\n");
    }
    if (!r->md) kp_buf_puts(r->out, "</ul>\n");
  }
}

static const char css[] =
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}"
    "h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;margin-top:2em}"
    "table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:.2em .4em;text-align:left}"
    "th{background:#f0f0f0}.meta{color:#555}figure{margin:.5em 0}ul.ev{font-size:.8em}code{word-break:break-all}";

kp_status_t kp_report_render(const kp_report_opts_t *o, const kp_sigset_t *s, const kp_incset_t *is, kp_buf_t *out) {
  rep_t r = {.o = o, .md = o->format == KP_REPORT_MD, .out = out};
  size_t n = 0;
  const kp_incident_t **sel = malloc((kp_incset_count(is) + 1) * sizeof *sel);
  if (!sel) return KP_ERR_NOMEM;
  for (size_t i = 0; i < kp_incset_count(is); i++)
    if (kp_report_selects(o, kp_incset_at(is, i))) sel[n++] = kp_incset_at(is, i);
  /* the window: as asked, else the span of the country's data and incidents */
  int64_t from = o->from, until = o->until, lo = INT64_MAX, hi = INT64_MIN;
  for (size_t i = 0; i < kp_sigset_count(s); i++) {
    const kp_series_t *se = kp_sigset_at(s, i);
    if (o->cc && strcmp(se->cc, o->cc)) continue;
    if (se->n && se->t0 < lo) lo = se->t0;
    if (se->n && se->t0 + (int64_t)se->n * se->step > hi) hi = se->t0 + (int64_t)se->n * se->step;
  }
  for (size_t i = 0; i < n; i++) {
    if (sel[i]->start < lo) lo = sel[i]->start;
    if (sel[i]->end > hi) hi = sel[i]->end;
  }
  bool nodata = lo == INT64_MAX && !from;
  if (!from) from = nodata ? 0 : lo;
  if (!until) until = hi == INT64_MIN ? from + 86400 : hi;
  if (until <= from) until = from + 3600;
  char a[32], b[32], title[128];
  tstr(from, a, sizeof a);
  tstr(until, b, sizeof b);
  if (o->cc) snprintf(title, sizeof title, "Internet shutdown report: %s (%s)", kp_country_name(o->cc), o->cc);
  else snprintf(title, sizeof title, "Internet shutdown report");
  char win[96];
  if (nodata) snprintf(win, sizeof win, "no data");
  else snprintf(win, sizeof win, "%s to %s UTC", a, b);
  if (r.md) {
    kp_buf_puts(out, "# ");
    txt(&r, title);
    kp_buf_printf(out, "\n\nWindow: %s. Incidents: %zu.", win, n);
  } else {
    kp_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    txt(&r, title);
    kp_buf_printf(out, "</title><style>%s</style></head><body>\n<h1>", css);
    txt(&r, title);
    kp_buf_printf(out, "</h1>\n<p class=\"meta\">Window: %s. Incidents: %zu.", win, n);
  }
  if (o->generated) {
    kp_buf_puts(out, " Generated: ");
    txt(&r, o->generated);
    kp_buf_putc(out, '.');
  }
  kp_buf_puts(out, r.md ? "\n" : "</p>\n");
  h2(&r, "summary", "Summary");
  if (!n) kp_buf_puts(out, r.md ? "No incident detected in the window.\n" : "<p>No incident detected in the window.</p>\n");
  if (n && !r.md) kp_buf_puts(out, "<ul>\n");
  for (size_t i = 0; i < n; i++) sentence(&r, sel[i]);
  if (n && !r.md) kp_buf_puts(out, "</ul>\n");
  h2(&r, "timeline", "Timeline");
  if (n) {
    kp_buf_t svg;
    kp_buf_init(&svg, KP_BUF_DEFAULT_CAP);
    if (kp_rep_timeline_svg(sel, n, from, until, &svg) == KP_OK) svg_embed(&r, &svg, "timeline");
    kp_buf_free(&svg);
    timeline_table(&r, sel, n);
    windows_list(&r, sel, n);
  }
  h2(&r, "signals", "Signals");
  if (nodata) kp_buf_puts(out, r.md ? "No signal data.\n" : "<p>No signal data.</p>\n");
  else plots(&r, s, sel, n, from, until);
  h2(&r, "affected", "Affected regions, networks and services");
  affected(&r, sel, n);
  h2(&r, "techniques", "Techniques");
  techniques(&r, sel, n);
  h2(&r, "findings", "Findings");
  findings(&r, sel, n);
  h2(&r, "evidence", "Evidence appendix");
  evidence(&r, sel, n);
  kp_status_t st = kp_buf_puts(out, r.md ? "\n---\nMade by keepon (detect: IODA median rule, CUSUM, curfew; "
                                           "see docs/detect.md).\n"
                                         : "<hr><p class=\"meta\">Made by keepon (detect: IODA median rule, CUSUM, "
                                           "curfew; see docs/detect.md).</p>\n</body></html>\n");
  free(sel);
  return st;
}
