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
 * Markdown links the same SVGs as files (<stem>-NN.svg, returned to the caller:
 * base64 data: URIs of megabytes are not rendered by Markdown viewers). Every
 * message comes from the language's table (i18n.c); every input-derived string
 * and every message is escaped for the target format. Times are "UTC (local)"
 * when the country's zone is known (tz.c), UTC alone otherwise.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "report/i18n_keys.h"
#include "report/internal.h"
#include "reach/reach.h"
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
  const kp_i18n_t *t;
  kp_report_files_t *files; /* Markdown plot files, NULL = none */
} rep_t;

#define M(r, id) kp_rep_msg((r)->t, KP_M_##id)
#define NARGS(...) (sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *))

/* text in the target format: HTML-escaped, or Markdown with table/HTML specials neutralised */
static void txtn(rep_t *r, const char *s, size_t n) {
  if (!r->md) {
    char tmp[256];
    while (n) { /* kp_rep_esc takes C strings: in pieces */
      size_t k = n < sizeof tmp - 1 ? n : sizeof tmp - 1;
      memcpy(tmp, s, k);
      tmp[k] = 0;
      kp_rep_esc(r->out, tmp);
      s += k;
      n -= k;
    }
    return;
  }
  for (; n; s++, n--) {
    if (strchr("|\\`*_[]<>#", *s)) kp_buf_putc(r->out, '\\');
    kp_buf_putc(r->out, *s == '\n' || *s == '\r' ? ' ' : *s);
  }
}

static void txt(rep_t *r, const char *s) { txtn(r, s, strlen(s)); }

static kp_status_t put_txt(void *ctx, const char *s, size_t n) {
  txtn(ctx, s, n);
  return KP_OK;
}

/* a message with {1}.. filled, escaped for the target format */
static void msgv(rep_t *r, const char *tmpl, const char *const *args, size_t n) { kp_rep_fill(tmpl, args, n, put_txt, r); }
#define MSG(r, id, ...) msgv((r), M(r, id), (const char *const[]){__VA_ARGS__}, NARGS(__VA_ARGS__))

typedef struct sbuf { char *p; size_t cap, len; } sbuf_t;
static kp_status_t put_str(void *ctx, const char *s, size_t n) {
  sbuf_t *b = ctx;
  if (b->len + n >= b->cap) n = b->cap - 1 - b->len; /* truncate: cells and labels are bounded */
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
  return KP_OK;
}
/* a message with {1}.. filled, into out (unescaped: for cells that are escaped later) */
static const char *fmtv(char *out, size_t cap, const char *tmpl, const char *const *args, size_t n) {
  sbuf_t b = {out, cap, 0};
  out[0] = 0;
  kp_rep_fill(tmpl, args, n, put_str, &b);
  return out;
}
#define FMT(r, out, id, ...) fmtv((out), sizeof(out), M(r, id), (const char *const[]){__VA_ARGS__}, NARGS(__VA_ARGS__))

static void dur(rep_t *r, int64_t s, char *out, size_t cap) {
  char d[24], h[24], m[24];
  snprintf(d, sizeof d, "%lld", (long long)(s / 86400));
  snprintf(h, sizeof h, "%lld", (long long)(s % 86400 / 3600));
  snprintf(m, sizeof m, "%lld", (long long)(s % 3600 / 60));
  if (s >= 86400) fmtv(out, cap, M(r, DUR_DHM), (const char *const[]){d, h, m}, 3);
  else fmtv(out, cap, M(r, DUR_HM), (const char *const[]){h, m}, 2);
}

static void tstr(int64_t t, char *out, size_t cap) { kp_rep_time(t, "%Y-%m-%d %H:%M", out, cap); }

/* "2022-01-05 11:00 UTC (2022-01-05 17:00 UTC+6)", or "... UTC" when no local zone is known */
static const char *tpair(rep_t *r, int64_t t, char *out, size_t cap) {
  char u[32], l[32], z[16];
  int off;
  tstr(t, u, sizeof u);
  if (!kp_rep_zone(r->o->cc, t, NULL, &off)) return fmtv(out, cap, M(r, TIME_UTC), (const char *const[]){u}, 1);
  tstr(t + off, l, sizeof l);
  kp_rep_offset_str(off, z, sizeof z);
  return fmtv(out, cap, M(r, TIME_PAIR), (const char *const[]){u, l, z}, 3);
}

static const char *type_name(rep_t *r, kp_inc_type_t t) {
  /* the key list names today's types; a new one prints detect's English name until it has a
   * key (tests/report fails first: it walks kp_inc_type_name) */
  return (unsigned)t <= KP_INC_PARTIAL ? kp_rep_msg(r->t, KP_M_TYPE_FULL + (int)t) : kp_inc_type_name(t);
}

static const char *level_name(rep_t *r, kp_level_t l) {
  return (unsigned)l <= KP_LVL_CRITICAL ? kp_rep_msg(r->t, KP_M_LEVEL_NORMAL + (int)l) : kp_level_name(l);
}

static void join(rep_t *r, const char *const *v, size_t n, const char *none) {
  if (!n) txt(r, none);
  for (size_t i = 0; i < n; i++) {
    if (i) kp_buf_puts(r->out, ", ");
    txt(r, v[i]);
  }
}

static void h2(rep_t *r, const char *id, const char *title) {
  kp_buf_puts(r->out, r->md ? "\n## " : "<h2 id=\"");
  if (!r->md) kp_buf_printf(r->out, "%s\">", id);
  txt(r, title);
  kp_buf_puts(r->out, r->md ? "\n\n" : "</h2>\n");
}

/* the first letter upper-cased (ASCII, or a 2-byte Cyrillic/Kazakh letter) */
static void capitalised(rep_t *r, const char *s) {
  char b[256];
  snprintf(b, sizeof b, "%s", s);
  unsigned char *u = (unsigned char *)b;
  if (u[0] >= 'a' && u[0] <= 'z') u[0] = (unsigned char)(u[0] - 'a' + 'A');
  else if (u[0] == 0xd0 && u[1] >= 0xb0 && u[1] <= 0xbf) u[1] = (unsigned char)(u[1] - 0x20); /* а..п */
  else if (u[0] == 0xd1 && u[1] >= 0x80 && u[1] <= 0x8f) { u[0] = 0xd0; u[1] = (unsigned char)(u[1] + 0x20); } /* р..я */
  txt(r, b);
}

static void sentence(rep_t *r, const kp_incident_t *c) {
  char a[96], b[96], d[64], conf[16], nw[24];
  tpair(r, c->start, a, sizeof a);
  tpair(r, c->end, b, sizeof b);
  dur(r, c->end - c->start, d, sizeof d);
  snprintf(conf, sizeof conf, "%.2f", c->confidence);
  kp_buf_puts(r->out, r->md ? "- **" : "<li><b>");
  capitalised(r, type_name(r, c->type));
  kp_buf_puts(r->out, r->md ? "** " : "</b> ");
  MSG(r, S_SPAN, level_name(r, c->level), conf, a, b, d);
  if (c->ongoing) txt(r, M(r, S_ONGOING));
  snprintf(nw, sizeof nw, "%zu", c->nwindows);
  if (c->curfew) MSG(r, S_CURFEW, nw);
  if (c->nservices) {
    txt(r, M(r, S_SERVICES));
    join(r, c->services, c->nservices, "");
  }
  if (c->nregions) {
    txt(r, M(r, S_REGIONS));
    join(r, c->regions, c->nregions, "");
  }
  if (c->nasns) {
    txt(r, M(r, S_NETWORKS));
    join(r, c->asns, c->nasns, "");
  }
  txt(r, M(r, S_SOURCES));
  join(r, c->sources, c->nsources, M(r, NONE));
  kp_buf_puts(r->out, r->md ? ".\n" : ".</li>\n");
}

/* HTML: the SVG inline. Markdown: a link to <stem>-NN.svg, the bytes handed to the caller. */
static void svg_embed(rep_t *r, kp_buf_t *svg, const char *alt) {
  if (!r->md) {
    kp_buf_puts(r->out, "<figure>");
    kp_buf_append(r->out, svg->data, svg->len);
    kp_buf_puts(r->out, "</figure>\n");
    return;
  }
  if (!r->files) return;
  kp_report_file_t *v = realloc(r->files->v, (r->files->n + 1) * sizeof *v);
  if (!v) return;
  r->files->v = v;
  kp_report_file_t *f = &v[r->files->n];
  snprintf(f->name, sizeof f->name, "%s-%02zu.svg", r->o->plot_stem ? r->o->plot_stem : "report", r->files->n + 1);
  kp_buf_init(&f->data, svg->cap_limit);
  if (kp_buf_append(&f->data, svg->data, svg->len) != KP_OK) {
    kp_buf_free(&f->data);
    return;
  }
  r->files->n++;
  kp_buf_puts(r->out, "![");
  txt(r, alt);
  kp_buf_puts(r->out, "](");
  /* the name is the caller's stem: percent-encode what would end or break the link */
  for (const char *p = f->name; *p; p++) {
    if ((unsigned char)*p <= ' ' || strchr("()<>[]%\\", *p)) kp_buf_printf(r->out, "%%%02X", (unsigned char)*p);
    else kp_buf_putc(r->out, *p);
  }
  kp_buf_puts(r->out, ")\n\n");
}

void kp_report_files_free(kp_report_files_t *f) {
  if (!f) return;
  for (size_t i = 0; i < f->n; i++) kp_buf_free(&f->v[i].data);
  free(f->v);
  f->v = NULL;
  f->n = 0;
}

static kp_rep_axis_t axis_of(rep_t *r, const kp_series_t *se) {
  kp_rep_axis_t ax = {.unit = M(r, UNIT_OTHER), .time_axis = M(r, PLOT_TIME_AXIS), .scale = 1, .ymax = 0};
  if (!strcmp(se->datasource, "ping-slash24")) ax.unit = M(r, UNIT_PING);
  else if (!strcmp(se->datasource, "bgp")) ax.unit = M(r, UNIT_BGP);
  else if (!strcmp(se->datasource, "bgp-updates")) ax.unit = M(r, UNIT_BGP_UPDATES);
  else if (!strncmp(se->datasource, "probe-", 6)) { /* stored as failures per 1000 measurements */
    ax.unit = M(r, UNIT_PROBE);
    ax.scale = 0.1;
    ax.ymax = 100;
  }
  return ax;
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
      kp_rep_axis_t ax = axis_of(r, se);
      if (kp_rep_svg(se, from, until, sh, nsh, &ax, &svg) != KP_OK) continue;
      char alt[256];
      snprintf(alt, sizeof alt, "%s %s %s", se->entity_type, se->entity_code, se->datasource);
      svg_embed(r, &svg, alt);
      done++;
    }
  }
  if (!done) {
    kp_buf_puts(r->out, r->md ? "" : "<p>");
    txt(r, M(r, SIGNALS_NONE));
    kp_buf_puts(r->out, r->md ? "\n" : "</p>\n");
  }
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
  const char *head[] = {M(r, TH_ID),       M(r, TH_TYPE),    M(r, TH_LEVEL), M(r, TH_START),    M(r, TH_END),
                        M(r, TH_DURATION), M(r, TH_WINDOWS), M(r, TH_SCOPE), M(r, TH_SERVICES), M(r, TH_CONFIDENCE)};
  if (!r->md) kp_buf_puts(r->out, "<table>\n");
  table_row(r, head, 10, true);
  for (size_t i = 0; i < n; i++) {
    const kp_incident_t *c = sel[i];
    char a[96], b[96], d[64], w[64], scope[512], svc[512], conf[16];
    tpair(r, c->start, a, sizeof a);
    tpair(r, c->end, b, sizeof b);
    dur(r, c->end - c->start, d, sizeof d);
    snprintf(w, sizeof w, "%zu%s%s", c->nwindows, c->curfew ? " " : "", c->curfew ? M(r, CELL_CURFEW) : "");
    if (c->nregions) strjoin(scope, sizeof scope, c->regions, c->nregions, "");
    else if (c->nasns && c->type != KP_INC_FULL && c->type != KP_INC_PARTIAL) strjoin(scope, sizeof scope, c->asns, c->nasns, "");
    else FMT(r, scope, CELL_NATIONAL, c->cc);
    strjoin(svc, sizeof svc, c->services, c->nservices, c->type == KP_INC_FULL ? M(r, CELL_ALL) : "-");
    snprintf(conf, sizeof conf, "%.2f", c->confidence);
    char ty[160], pct[16]; /* full/partial say how much went dark */
    if ((c->type == KP_INC_FULL || c->type == KP_INC_PARTIAL) && c->down_share >= 0) {
      snprintf(pct, sizeof pct, "%.0f", c->down_share * 100);
      FMT(r, ty, CELL_DOWN_SHARE, type_name(r, c->type), pct);
    } else snprintf(ty, sizeof ty, "%s", type_name(r, c->type));
    const char *cells[] = {c->id, ty, level_name(r, c->level), a,
                           c->ongoing ? M(r, CELL_ONGOING) : b, d, w, scope, svc, conf};
    table_row(r, cells, 10, false);
  }
  if (!r->md) kp_buf_puts(r->out, "</table>\n");
}

static void windows_list(rep_t *r, const kp_incident_t *const *sel, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const kp_incident_t *c = sel[i];
    if (c->nwindows < 2) continue;
    kp_buf_puts(r->out, r->md ? "\n" : "<p>");
    MSG(r, WINDOWS_OF, c->id);
    kp_buf_puts(r->out, r->md ? "\n\n" : "</p><ul>\n");
    for (size_t k = 0; k < c->nwindows; k++) {
      char a[96], b[96], d[64];
      tpair(r, c->windows[k].start, a, sizeof a);
      tpair(r, c->windows[k].end, b, sizeof b);
      dur(r, c->windows[k].end - c->windows[k].start, d, sizeof d);
      kp_buf_puts(r->out, r->md ? "- " : "<li>");
      MSG(r, WINDOW_ITEM, a, b, d);
      kp_buf_puts(r->out, r->md ? "\n" : "</li>\n");
    }
    if (!r->md) kp_buf_puts(r->out, "</ul>\n");
  }
}

static void affected(rep_t *r, const kp_incident_t *const *sel, size_t n) {
  const char *const what[] = {M(r, AFF_REGIONS), M(r, AFF_NETWORKS), M(r, AFF_SERVICES)};
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
    kp_buf_puts(r->out, r->md ? "- **" : "<p><b>");
    txt(r, what[k]);
    kp_buf_puts(r->out, r->md ? ":** " : ":</b> ");
    join(r, items, ni, M(r, AFF_NONE));
    kp_buf_puts(r->out, r->md ? "\n" : "</p>\n");
  }
}

static void para(rep_t *r, const char *s) {
  kp_buf_puts(r->out, r->md ? "" : "<p>");
  txt(r, s);
  kp_buf_puts(r->out, r->md ? "\n" : "</p>\n");
}

static void techniques(rep_t *r, const kp_incident_t *const *sel, size_t n) {
  const char *const head[] = {M(r, TECH_INCIDENT), M(r, TECH_TECHNIQUE), M(r, TECH_FAILED)};
  size_t rows = 0;
  for (size_t i = 0; i < n; i++) rows += sel[i]->ntechniques + (sel[i]->unreachable > 0);
  if (!rows) {
    para(r, M(r, TECH_NONE));
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
      char cnt[24], what[256];
      snprintf(cnt, sizeof cnt, "%lld", (long long)sel[i]->unreachable);
      FMT(r, what, TECH_UNREACHABLE, sel[i]->unreachable_in);
      const char *cells[] = {sel[i]->id, what, cnt};
      table_row(r, cells, 3, false);
    }
  if (!r->md) kp_buf_puts(r->out, "</table>\n");
}

static bool starts(const char *s, const char *p, const char **rest) {
  size_t n = strlen(p);
  if (strncmp(s, p, n)) return false;
  *rest = s + n;
  return true;
}

/*
 * detect writes its findings in English (src/detect/incident.c); the known
 * shapes are recognised here and re-said in the report's language with their
 * data kept. A finding of another shape is printed as detect wrote it.
 */
static void finding(rep_t *r, const char *f) {
  const char *rest;
  char a[128], b[32], c[32];
  size_t nw;
  int used = 0;
  size_t fl = strlen(f);
  if (starts(f, "BGP visible, traffic down (", &rest) && fl && f[fl - 1] == ')') {
    snprintf(a, sizeof a, "%.*s", (int)(strlen(rest) - 1), rest);
    MSG(r, F_BGP_VISIBLE, a);
  } else if (sscanf(f, "BGP update spike at %16[0-9-] %5[0-9:] UTC (%31[0-9] updates, day median %31[0-9])%n", a, a + 20, b,
                    c, &used) == 4 && (size_t)used == fl) {
    a[10] = ' ';
    memmove(a + 11, a + 20, 6);
    MSG(r, F_BGP_SPIKE, a, b, c);
  } else if (sscanf(f, "curfew-style: %zu outage windows with connectivity restored %n", &nw, &used) == 1 && used) {
    snprintf(b, sizeof b, "%zu", nw);
    if (!strcmp(f + used, "at the same time each day")) MSG(r, F_CURFEW_FIXED, b);
    else if (!strcmp(f + used, "in varying daily windows")) MSG(r, F_CURFEW_VARYING, b);
    else txt(r, f);
  } else if (starts(f, "overlaps network incident ", &rest)) {
    MSG(r, F_OVERLAPS, rest);
  } else if (!strcmp(f, "network up while services failed")) {
    txt(r, M(r, F_NETWORK_UP));
  } else {
    txt(r, f);
  }
}

static void findings(rep_t *r, const kp_incident_t *const *sel, size_t n) {
  size_t any = 0;
  if (!r->md) kp_buf_puts(r->out, "<ul>\n");
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < sel[i]->nfindings; k++, any++) {
      kp_buf_puts(r->out, r->md ? "- " : "<li>");
      txt(r, sel[i]->id);
      kp_buf_puts(r->out, ": ");
      finding(r, sel[i]->findings[k]);
      kp_buf_puts(r->out, r->md ? "\n" : "</li>\n");
    }
  if (!any) {
    kp_buf_puts(r->out, r->md ? "" : "<li>");
    txt(r, M(r, FINDINGS_NONE));
    kp_buf_puts(r->out, r->md ? "\n" : "</li>\n");
  }
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
      char a[32], b[32], on[256], sc[32];
      tstr(e->start, a, sizeof a);
      tstr(e->end, b, sizeof b);
      snprintf(on, sizeof on, "%s %s %s", e->series->entity_type, e->series->entity_code, e->series->datasource);
      snprintf(sc, sizeof sc, "%.1f", e->score);
      kp_buf_puts(r->out, r->md ? "- " : "<li>");
      MSG(r, EV_EVENT, e->detector, on, a, b, level_name(r, e->level), sc);
      kp_buf_puts(r->out, r->md ? "\n" : "</li>\n");
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

/* Early warning (detect/risk.c): "shutdown risk" alerts of the country in the window, each
 * naming its precursors and the national cut that followed, if one did. Assessed over the
 * whole incident set, so "no outage yet" and "new DNS tampering" see before the window. */
static void warnings(rep_t *r, const kp_incset_t *is) {
  kp_risk_params_t p;
  kp_risk_params_default(&p);
  kp_risk_list_t l = {0};
  size_t shown = 0;
  if (kp_risk_assess(&p, is, &l) == KP_OK) {
    if (!r->md) kp_buf_puts(r->out, "<ul>\n");
    for (size_t i = 0; i < l.n; i++) {
      const kp_risk_t *k = &l.v[i];
      if ((r->o->cc && strcmp(r->o->cc, k->cc)) || (r->o->from && k->end <= r->o->from) ||
          (r->o->until && k->start >= r->o->until))
        continue;
      char a[96], b[96], what[512] = "", first[256] = "", one[256], lead[64];
      tpair(r, k->start, a, sizeof a);
      tpair(r, k->end, b, sizeof b);
      for (unsigned bit = KP_PRE_APPS; bit <= KP_PRE_DNS; bit <<= 1) {
        if (!(k->precursors & bit)) continue;
        if (bit == KP_PRE_APPS) FMT(r, one, PRE_APPS, k->services);
        else snprintf(one, sizeof one, "%s", bit == KP_PRE_THROTTLING ? M(r, PRE_THROTTLING) : M(r, PRE_DNS));
        if (bit == (unsigned)k->first) snprintf(first, sizeof first, "%s", one);
        size_t n = strlen(what);
        snprintf(what + n, sizeof what - n, "%s%s", n ? "; " : "", one);
      }
      kp_buf_puts(r->out, r->md ? "- **" : "<li><b>");
      txt(r, M(r, RISK_LEVEL));
      kp_buf_puts(r->out, r->md ? "** " : "</b> ");
      MSG(r, RISK_ITEM, a, b, what, first, k->incidents);
      if (k->outage[0]) {
        dur(r, k->lead_s, lead, sizeof lead);
        MSG(r, RISK_FOLLOWED, lead, k->outage);
      } else {
        txt(r, M(r, RISK_OPEN));
      }
      kp_buf_puts(r->out, r->md ? "\n" : "</li>\n");
      shown++;
    }
    if (!r->md) kp_buf_puts(r->out, "</ul>\n");
  }
  if (!shown) para(r, M(r, RISK_NONE));
  kp_risks_free(&l);
}

/* What stayed reachable (docs/probe.md): the reach windows of the cut (full cut, whitelist,
 * national-only; "open" and "unknown" runs are not a cut and are left out) inside the report's
 * window, each with what answered in every one of its runs. */
static void reach_section(rep_t *r, int64_t from, int64_t until) {
  const kp_reach_windows_t *ws = r->o->reach;
  size_t shown = 0;
  for (size_t i = 0; ws && i < ws->n; i++) {
    const kp_reach_window_t *w = &ws->v[i];
    if (w->cls != KP_REACH_FULL_CUT && w->cls != KP_REACH_WHITELIST && w->cls != KP_REACH_NATIONAL) continue;
    if (w->end < from || w->start >= until || (r->o->cc && strcmp(r->o->cc, w->cc))) continue;
    if (!shown++) {
      para(r, M(r, REACH_INTRO));
      kp_buf_puts(r->out, r->md ? "\n" : "<ul>\n");
    }
    char a[96], b[96], n[24], list[1024];
    tpair(r, w->start, a, sizeof a);
    tpair(r, w->end, b, sizeof b);
    snprintf(n, sizeof n, "%zu", w->nmsmt);
    size_t len = 0;
    list[0] = 0;
    for (size_t k = 0; k < w->nworked; k++) {
      int m = snprintf(list + len, sizeof list - len, "%s%s", k ? ", " : "", w->worked[k]);
      if (m < 0 || (size_t)m >= sizeof list - len) break;
      len += (size_t)m;
    }
    const char *cls = w->cls == KP_REACH_FULL_CUT ? M(r, REACH_FULL_CUT)
                      : w->cls == KP_REACH_WHITELIST ? M(r, REACH_WHITELIST) : M(r, REACH_NATIONAL);
    kp_buf_puts(r->out, r->md ? "- " : "<li>");
    MSG(r, REACH_ITEM, a, b, n, cls, w->nworked ? list : M(r, REACH_NOTHING));
    kp_buf_puts(r->out, r->md ? "\n" : "</li>\n");
  }
  if (!shown) para(r, M(r, REACH_NONE));
  else if (!r->md) kp_buf_puts(r->out, "</ul>\n");
}

/* Mobile and fixed apart (detect/access.c): per access type when its network went down, which
 * went first and by how long, and which access types each incident hit. */
static void access_section(rep_t *r, const kp_sigset_t *s, const kp_incident_t *const *sel, size_t nsel, int64_t from,
                           int64_t until) {
  kp_access_summary_t a[2];
  size_t n = r->o->cc ? kp_access_summaries(s, r->o->cc, a, 2) : 0;
  if (!n) {
    para(r, M(r, ACCESS_NONE));
    return;
  }
  para(r, M(r, ACCESS_INTRO));
  kp_buf_puts(r->out, r->md ? "\n" : "<ul>\n");
  for (size_t i = 0; i < n; i++) {
    const char *name = !strcmp(a[i].access, "mobile") ? M(r, ACCESS_MOBILE) : M(r, ACCESS_FIXED);
    char t[96], d[24], m[24], p[24];
    snprintf(d, sizeof d, "%lld", (long long)a[i].down_measurements);
    snprintf(m, sizeof m, "%lld", (long long)a[i].measurements);
    snprintf(p, sizeof p, "%zu", a[i].nperiods);
    kp_buf_puts(r->out, r->md ? "- " : "<li>");
    if (a[i].first_down < 0) MSG(r, ACCESS_ITEM_UP, name, m);
    else MSG(r, ACCESS_ITEM, name, tpair(r, a[i].first_down, t, sizeof t), d, m, p);
    kp_buf_puts(r->out, r->md ? "\n" : "</li>\n");
  }
  for (size_t i = 0; i < nsel; i++) {
    const kp_incident_t *c = sel[i];
    const char *l = kp_access_label_name(c->access_affected, c->access_measured);
    if (!l) continue;
    const char *lab = !strcmp(l, "both") ? M(r, ACCESS_L_BOTH) : !strcmp(l, "mobile_only") ? M(r, ACCESS_L_MOBILE_ONLY)
                      : !strcmp(l, "fixed_only") ? M(r, ACCESS_L_FIXED_ONLY) : !strcmp(l, "mobile") ? M(r, ACCESS_L_MOBILE)
                                                 : M(r, ACCESS_L_FIXED);
    char t[96];
    kp_buf_puts(r->out, r->md ? "- " : "<li>");
    MSG(r, ACCESS_INCIDENT, c->id, type_name(r, c->type), tpair(r, c->start, t, sizeof t), lab);
    kp_buf_puts(r->out, r->md ? "\n" : "</li>\n");
  }
  if (!r->md) kp_buf_puts(r->out, "</ul>\n");
  if (n == 2 && a[0].first_down >= 0 && a[1].first_down >= 0) {
    int64_t gap = a[1].first_down - a[0].first_down;
    const char *first = gap >= 0 ? M(r, ACCESS_MOBILE) : M(r, ACCESS_FIXED);
    const char *second = gap >= 0 ? M(r, ACCESS_FIXED) : M(r, ACCESS_MOBILE);
    char line[512], d[64];
    dur(r, gap >= 0 ? gap : -gap, d, sizeof d);
    if (gap) FMT(r, line, ACCESS_BEFORE, first, d, second);
    else FMT(r, line, ACCESS_SAME, first, second);
    if (r->md) kp_buf_putc(r->out, '\n'); /* a paragraph, not the list's last item continued */
    para(r, line);
  }
  /* one plot per access type: its access-down series, its down periods shaded */
  kp_buf_t svg;
  kp_buf_init(&svg, KP_BUF_DEFAULT_CAP);
  for (size_t i = 0; i < n; i++) {
    char code[16], alt[64];
    snprintf(code, sizeof code, "%.2s/%s", a[i].cc, a[i].access);
    const kp_series_t *se = kp_sigset_find(s, "access", code, KP_ACCESS_DS);
    kp_rep_axis_t ax = {.unit = M(r, UNIT_ACCESS), .time_axis = M(r, PLOT_TIME_AXIS), .scale = 0.1, .ymax = 100};
    kp_buf_reset(&svg);
    if (!se || kp_rep_svg(se, from, until, a[i].periods, a[i].nperiods, &ax, &svg) != KP_OK) continue;
    snprintf(alt, sizeof alt, "access %s %s", code, KP_ACCESS_DS);
    svg_embed(r, &svg, alt);
  }
  kp_buf_free(&svg);
}

static const char css[] =
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}"
    "h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;margin-top:2em}"
    "table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:.2em .4em;text-align:left}"
    "th{background:#f0f0f0}.meta{color:#555}figure{margin:.5em 0}ul.ev{font-size:.8em}code{word-break:break-all}";

kp_status_t kp_report_render(const kp_report_opts_t *o, const kp_sigset_t *s, const kp_incset_t *is, kp_buf_t *out) {
  return kp_report_render_files(o, s, is, out, NULL);
}

kp_status_t kp_report_render_files(const kp_report_opts_t *o, const kp_sigset_t *s, const kp_incset_t *is,
                                   kp_buf_t *out, kp_report_files_t *files) {
  kp_i18n_t *t = NULL;
  kp_status_t st = kp_rep_i18n_load(o->lang, &t);
  if (st != KP_OK) return st;
  rep_t r = {.o = o, .md = o->format == KP_REPORT_MD, .out = out, .t = t, .files = files};
  size_t n = 0;
  const kp_incident_t **sel = malloc((kp_incset_count(is) + 1) * sizeof *sel);
  if (!sel) {
    kp_rep_i18n_free(t);
    return KP_ERR_NOMEM;
  }
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
  char a[96], b[96], title[256], win[256], cnt[24], zone[160];
  tpair(&r, from, a, sizeof a);
  tpair(&r, until, b, sizeof b);
  if (o->cc) FMT(&r, title, TITLE_CC, kp_rep_country(t, o->cc), o->cc);
  else snprintf(title, sizeof title, "%s", M(&r, TITLE));
  if (nodata) snprintf(win, sizeof win, "%s", M(&r, META_NODATA));
  else FMT(&r, win, RANGE, a, b);
  snprintf(cnt, sizeof cnt, "%zu", n);
  const char *zn = NULL;
  int off = 0;
  if (kp_rep_zone(o->cc, from, &zn, &off)) {
    char z[16];
    kp_rep_offset_str(off, z, sizeof z);
    FMT(&r, zone, META_ZONE, zn, z);
  } else {
    snprintf(zone, sizeof zone, "%s", M(&r, META_ZONE_UTC));
  }
  if (r.md) {
    kp_buf_puts(out, "# ");
    txt(&r, title);
    kp_buf_puts(out, "\n\n");
  } else {
    kp_buf_printf(out, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\"><title>", kp_lang_code(o->lang));
    txt(&r, title);
    kp_buf_printf(out, "</title><style>%s</style></head><body>\n<h1>", css);
    txt(&r, title);
    kp_buf_puts(out, "</h1>\n<p class=\"meta\">");
  }
  MSG(&r, META_WINDOW, win);
  kp_buf_putc(out, ' ');
  MSG(&r, META_INCIDENTS, cnt);
  kp_buf_putc(out, ' ');
  txt(&r, zone);
  if (o->generated) {
    kp_buf_putc(out, ' ');
    MSG(&r, META_GENERATED, o->generated);
  }
  kp_buf_puts(out, r.md ? "\n" : "</p>\n");
  h2(&r, "summary", M(&r, SEC_SUMMARY));
  if (!n) para(&r, M(&r, SUMMARY_NONE));
  if (n && !r.md) kp_buf_puts(out, "<ul>\n");
  for (size_t i = 0; i < n; i++) sentence(&r, sel[i]);
  if (n && !r.md) kp_buf_puts(out, "</ul>\n");
  h2(&r, "warning", M(&r, SEC_WARNING));
  warnings(&r, is);
  h2(&r, "timeline", M(&r, SEC_TIMELINE));
  if (n) {
    kp_buf_t svg;
    kp_buf_init(&svg, KP_BUF_DEFAULT_CAP);
    const char **lab = malloc(n * sizeof *lab);
    for (size_t i = 0; lab && i < n; i++) lab[i] = type_name(&r, sel[i]->type);
    if (lab && kp_rep_timeline_svg(sel, n, from, until, M(&r, PLOT_TIMELINE), lab, &svg) == KP_OK)
      svg_embed(&r, &svg, M(&r, PLOT_TIMELINE));
    free(lab);
    kp_buf_free(&svg);
    timeline_table(&r, sel, n);
    windows_list(&r, sel, n);
  }
  h2(&r, "signals", M(&r, SEC_SIGNALS));
  if (nodata) para(&r, M(&r, SIGNALS_NODATA));
  else plots(&r, s, sel, n, from, until);
  h2(&r, "affected", M(&r, SEC_AFFECTED));
  affected(&r, sel, n);
  h2(&r, "reach", M(&r, SEC_REACH));
  reach_section(&r, from, until);
  h2(&r, "access", M(&r, SEC_ACCESS));
  access_section(&r, s, sel, n, from, until);
  h2(&r, "techniques", M(&r, SEC_TECHNIQUES));
  techniques(&r, sel, n);
  h2(&r, "findings", M(&r, SEC_FINDINGS));
  findings(&r, sel, n);
  h2(&r, "evidence", M(&r, SEC_EVIDENCE));
  evidence(&r, sel, n);
  kp_buf_puts(out, r.md ? "\n---\n" : "<hr><p class=\"meta\">");
  txt(&r, M(&r, FOOTER));
  st = kp_buf_puts(out, r.md ? "\n" : "</p>\n</body></html>\n");
  free(sel);
  kp_rep_i18n_free(t);
  return st;
}
