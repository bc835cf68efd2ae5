/*
 * cmd_report.c: `keepon report`: runs detection over the inputs (as `keepon
 * detect` does, same settings) and writes one self-contained report (HTML or
 * Markdown) or one export (STOP CSV, CODF, incidents JSON) for a country and
 * a time window. The output is written atomically and only after everything
 * was read and rendered; it holds no current time unless --generated is given.
 * --lang all renders every language, FILE.html -> FILE.en.html, FILE.ru.html,
 * FILE.kk.html; Markdown plots go beside the report as <stem>-NN.svg.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "detect/detect.h"
#include "httpc/httpc.h"
#include "reach/reach.h"
#include "report/report.h"

#define MAX_INPUTS 256

static int split(const char **paths, int *n, const char *list, char **dup) {
  if (!list) return 0;
  char *save = NULL;
  if (!(*dup = strdup(list))) return -1;
  for (char *p = strtok_r(*dup, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
    if (*n >= MAX_INPUTS) return -1;
    paths[(*n)++] = p;
  }
  return 0;
}

/* FILE with ".LANG" before its extension (LANG NULL: FILE); *stem = its base name without extension */
static int lang_path(const char *out, const char *lang, char *path, size_t cap, char *stem, size_t scap) {
  const char *base = strrchr(out, '/');
  base = base ? base + 1 : out;
  const char *dot = strrchr(base, '.');
  size_t keep = dot && dot != base ? (size_t)(dot - out) : strlen(out);
  int n = lang ? snprintf(path, cap, "%.*s.%s%s", (int)keep, out, lang, out + keep) : snprintf(path, cap, "%s", out);
  if (n < 0 || (size_t)n >= cap) return -1;
  const char *pb = strrchr(path, '/');
  pb = pb ? pb + 1 : path;
  const char *pd = strrchr(pb, '.');
  n = snprintf(stem, scap, "%.*s", (int)(pd && pd != pb ? (size_t)(pd - pb) : strlen(pb)), pb);
  return n < 0 || (size_t)n >= scap ? -1 : 0;
}

/* Render one language and write it (stdout or FILE, atomically), plus its plot files beside it. */
/* the reach windows of the comma-separated measurement files (one buffer: a window may span files) */
static kp_status_t read_reach(const char *list, const char *cc, kp_reach_windows_t *out) {
  kp_buf_t all, one;
  kp_buf_init(&all, (size_t)1 << 30);
  kp_buf_init(&one, (size_t)1 << 30);
  char *copy = strdup(list), *save = NULL;
  kp_status_t st = copy ? KP_OK : KP_ERR_NOMEM;
  for (char *f = copy ? strtok_r(copy, ",", &save) : NULL; f && st == KP_OK; f = strtok_r(NULL, ",", &save)) {
    kp_buf_reset(&one);
    if (kp_file_read(f, &one) != KP_OK) continue; /* the detect loader reports unreadable files */
    st = kp_buf_append(&all, one.data, one.len);
    if (st == KP_OK) st = kp_buf_putc(&all, '\n');
  }
  if (st == KP_OK) st = kp_reach_windows(all.data ? (const void *)all.data : "", all.len, cc, out);
  free(copy);
  kp_buf_free(&one);
  kp_buf_free(&all);
  return st;
}

static int kp_cli_report_write(kp_report_opts_t *ro, const kp_sigset_t *set, const kp_incset_t *is, const char *out,
                               const char *lang, kp_buf_t *b) {
  char path[4096], stem[512], fp[4608];
  kp_report_files_t files = {0};
  int rc = -1;
  kp_buf_reset(b);
  if (out && strcmp(out, "-") && lang_path(out, lang, path, sizeof path, stem, sizeof stem) != 0) {
    fprintf(stderr, "keepon report: output name too long\n");
    return -1;
  }
  ro->plot_stem = out && strcmp(out, "-") ? stem : NULL;
  kp_status_t r = kp_report_render_files(ro, set, is, b, &files);
  if (r != KP_OK) {
    fprintf(stderr, "keepon report: %s\n", kp_strstatus(r));
    goto out;
  }
  if (!out || !strcmp(out, "-")) {
    rc = fwrite(b->data, 1, b->len, stdout) == b->len ? 0 : -1;
    goto out;
  }
  const char *slash = strrchr(path, '/');
  for (size_t i = 0; i < files.n; i++) { /* the plots first: a report never links a file not yet there */
    snprintf(fp, sizeof fp, "%.*s%s", slash ? (int)(slash - path + 1) : 0, path, files.v[i].name);
    if (kp_file_write_atomic(fp, files.v[i].data.data, files.v[i].data.len, 0644) != KP_OK) {
      fprintf(stderr, "keepon report: %s: %s\n", fp, strerror(errno));
      goto out;
    }
  }
  if (kp_file_write_atomic(path, b->data ? b->data : (const uint8_t *)"", b->len, 0644) != KP_OK) {
    fprintf(stderr, "keepon report: %s: %s\n", path, strerror(errno));
    goto out;
  }
  rc = 0;
out:
  kp_report_files_free(&files);
  return rc;
}

int kp_cmd_report(int argc, char **argv) {
  const char *signals = NULL, *msms = NULL, *out = NULL, *cc = NULL, *from_s = NULL, *to_s = NULL;
  const char *format = "html", *generated = NULL, *lang_s = "en", *tune = NULL, *probe_step_s = "1h";
  const char *active_hist = NULL, *bgp_hist = NULL, *warmup = NULL, *server = NULL, *entities = NULL;
  long max_plots = 12;
  kp_cli_httpc_t hv = {0};
  kp_httpc_t *http = NULL;
  const kp_opt_t opts[] = {
      {"cc", 0, KP_OPT_STR, "CC", "country (ISO alpha-2); entities with no known country count as CC; default: every country", &cc, 0, 0},
      {"from", 0, KP_OPT_STR, "TIME", "window start, UTC (YYYY-MM-DD[Thh:mm:ss]); default: start of the data", &from_s, 0, 0},
      {"to", 0, KP_OPT_STR, "TIME", "window end, UTC; default: end of the data", &to_s, 0, 0},
      {"format", 0, KP_OPT_STR, "FMT", "html (default), md, stop (CSV), codf (JSON), json (incidents)", &format, 0, 0},
      {"out", 'o', KP_OPT_STR, "FILE", "output file (default: stdout)", &out, 0, 0},
      {"lang", 0, KP_OPT_STR, "LANG", "report language: en (default), ru, kk, or all (FILE.<lang>.EXT each)", &lang_s, 0, 0},
      {"signals", 's', KP_OPT_STR, "FILE[,FILE]", "signal-point JSONL", &signals, 0, 0},
      {"server", 0, KP_OPT_STR, "URL", "read signals from a keepon server (https://NAME[:PORT]) over --from..--to", &server, 0, 0},
      {"entity", 0, KP_OPT_STR, "T/C[,T/C]", "--server: entities to fetch (default country/<--cc>)", &entities, 0, 0},
      {"measurements", 'm', KP_OPT_STR, "FILE[,FILE]", "OONI-format measurement JSONL", &msms, 0, 0},
      {"generated", 0, KP_OPT_STR, "TEXT", "print 'Generated: TEXT' (default: nothing, so output is reproducible)", &generated, 0, 0},
      {"max-plots", 0, KP_OPT_INT, "N", "signal plots at most (default 12)", &max_plots, 1, 1000},
      {"probe-step", 0, KP_OPT_STR, "SPAN", "bin length for measurement failure rates (default 1h)", &probe_step_s, 0, 0},
      {"active-history", 0, KP_OPT_STR, "SPAN", "active-probing median window (default 7d)", &active_hist, 0, 0},
      {"bgp-history", 0, KP_OPT_STR, "SPAN", "BGP median window (default 24h)", &bgp_hist, 0, 0},
      {"warmup", 0, KP_OPT_STR, "SPAN", "history needed before any verdict (default 1h)", &warmup, 0, 0},
      {"tune", 0, KP_OPT_STR, "K=V[,K=V]", "other detector settings (docs/detect.md)", &tune, 0, 0},
      KP_CLI_HTTPC_OPTS(&hv),
      {0},
  };
  const kp_cmd_help_t help = {
      "keepon report [--cc CC] [--from T] [--to T] [--format html|md|stop|codf|json] [--lang en|ru|kk|all] [options] [FILE...]",
      "Detect incidents in the inputs and write a self-contained report: timeline, SVG plots with the "
      "events shaded, affected regions/networks/services, techniques, findings and an evidence appendix. "
      "Or export the incident list (Access Now STOP CSV, Common Outage Data Format, JSON)."};
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  const char **paths = calloc(MAX_INPUTS, sizeof *paths);
  char *dups[2] = {NULL, NULL};
  int npos = 0, n = 0, status = KP_EXIT_USAGE;
  kp_sigset_t *set = NULL;
  kp_event_list_t ev = {0};
  kp_incset_t *is = NULL;
  kp_reach_windows_t rw = {0};
  kp_buf_t b;
  kp_buf_init(&b, (size_t)1 << 30);
  if (!pos || !paths) { status = KP_EXIT_FAIL; goto done; }
  int rc = kp_opts_parse(&help, opts, argc, argv, pos, &npos);
  if (rc != 0) { status = rc == 1 ? KP_EXIT_OK : KP_EXIT_USAGE; goto done; }
  if (split(paths, &n, signals, &dups[0]) || split(paths, &n, msms, &dups[1])) { fprintf(stderr, "keepon report: too many inputs\n"); goto done; }
  for (int i = 0; i < npos && n < MAX_INPUTS; i++) paths[n++] = pos[i];
  if (!n && !server) { fprintf(stderr, "usage: %s\nno input (--signals, --measurements, FILE or --server)\n", help.usage); goto done; }
  kp_report_opts_t ro = {.cc = cc, .generated = generated, .max_plots = (size_t)max_plots};
  int kind = !strcmp(format, "html") ? 0 : !strcmp(format, "md") ? 1 : !strcmp(format, "stop") ? 2
           : !strcmp(format, "codf") ? 3 : !strcmp(format, "json") ? 4 : -1;
  kp_detect_cfg_t cfg;
  kp_detect_cfg_default(&cfg);
  kp_span_t ps;
  time_t t;
  char err[300] = "";
  kp_lang_t lang = KP_LANG_EN;
  bool all_langs = !strcmp(lang_s, "all");
  if (kind < 0) snprintf(err, sizeof err, "bad --format '%s' (html, md, stop, codf, json)", format);
  else if (!all_langs && kp_lang_parse(lang_s, &lang) != 0) snprintf(err, sizeof err, "bad --lang '%s' (en, ru, kk, all)", lang_s);
  else if ((all_langs || kind == 1) && (!out || !strcmp(out, "-")))
    snprintf(err, sizeof err, "%s writes more than one file: give -o FILE", all_langs ? "--lang all" : "--format md");
  else if (cc && strlen(cc) != 2) snprintf(err, sizeof err, "bad --cc '%s'", cc);
  else if (from_s && (kp_time_parse(from_s, &t) != 0 || (ro.from = (int64_t)t, false))) snprintf(err, sizeof err, "bad --from '%s'", from_s);
  else if (to_s && (kp_time_parse(to_s, &t) != 0 || (ro.until = (int64_t)t, false))) snprintf(err, sizeof err, "bad --to '%s'", to_s);
  else if (ro.until && ro.until <= ro.from) snprintf(err, sizeof err, "--to must be after --from");
  else if (kp_span_parse(probe_step_s, &ps) != 0 || ps.bins || ps.v < 60 || ps.v > 86400) snprintf(err, sizeof err, "bad --probe-step");
  else if (active_hist && kp_span_parse(active_hist, &cfg.active.history) != 0) snprintf(err, sizeof err, "bad --active-history");
  else if (bgp_hist && kp_span_parse(bgp_hist, &cfg.bgp.history) != 0) snprintf(err, sizeof err, "bad --bgp-history");
  else if (warmup && (kp_span_parse(warmup, &cfg.active.warmup) != 0 || kp_span_parse(warmup, &cfg.bgp.warmup) != 0 ||
                      kp_span_parse(warmup, &cfg.other.warmup) != 0)) snprintf(err, sizeof err, "bad --warmup");
  else if (tune && kp_detect_cfg_tune(&cfg, tune, err, sizeof err) != KP_OK) {}
  else if (server && ((strncmp(server, "http://", 7) && !kp_httpc_is_https(server)) || (!entities && !cc)))
    snprintf(err, sizeof err, "--server needs https://NAME[:PORT] (or http://) and --entity or --cc");
  else if (server && (!ro.from || !ro.until)) snprintf(err, sizeof err, "--server needs --from and --to");
  if (err[0]) { fprintf(stderr, "keepon report: %s\n", err); goto done; }
  ro.format = kind == 1 ? KP_REPORT_MD : KP_REPORT_HTML;
  if (kp_sigset_new(ps.v, &set) != KP_OK) { status = KP_EXIT_FAIL; goto done; }
  kp_sigset_set_default_cc(set, cc);
  kp_read_stats_t st = {0};
  for (int i = 0; i < n; i++) {
    kp_status_t r = kp_detect_load_file(set, paths[i], &st);
    if (r != KP_OK) {
      fprintf(stderr, "keepon report: %s: %s\n", paths[i], r == KP_ERR_IO ? strerror(errno) : kp_strstatus(r));
      status = r == KP_ERR_IO ? KP_EXIT_USAGE : KP_EXIT_FAIL;
      goto done;
    }
  }
  /* what stayed reachable: the keepon_reach measurements among the --measurements files */
  if (msms && read_reach(msms, cc, &rw) == KP_OK) ro.reach = &rw;
  if (server && !(http = kp_cli_httpc_new(&hv, 0, 0, (size_t)512 << 20))) goto done;
  if (server) {
    char list[1024];
    snprintf(list, sizeof list, "%s%s", entities ? "" : "country/", entities ? entities : cc);
    char *save = NULL;
    for (char *e = strtok_r(list, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
      char *slash = strchr(e, '/');
      size_t pts = 0;
      if (!slash) { fprintf(stderr, "keepon report: bad --entity '%s' (TYPE/CODE)\n", e); goto done; }
      *slash = 0;
      kp_status_t r = kp_signals_fetch(http, server, e, slash + 1, ro.from, ro.until, cc, 10000, set, &pts);
      if (r != KP_OK) {
        fprintf(stderr, "keepon report: %s: %s/%s: %s\n", server, e, slash + 1, kp_strstatus(r));
        status = KP_EXIT_FAIL;
        goto done;
      }
    }
  }
  if (st.bad) kp_log_warnx("report", "%zu bad line(s) skipped (first at line %zu)", st.bad, st.first_bad[0]);
  status = KP_EXIT_FAIL;
  kp_status_t r = kp_sigset_finalize(set);
  if (r == KP_ERR_RANGE) {
    fprintf(stderr, "keepon report: the input spans too many bins (a series longer than 4M bins, or 256M in all)\n");
    status = KP_EXIT_USAGE;
    goto done;
  }
  if (r == KP_OK) r = kp_detect_run(&cfg, set, &ev);
  if (r == KP_OK) r = kp_incidents_merge(&cfg, set, &ev, &is);
  if (r != KP_OK) {
    fprintf(stderr, "keepon report: %s\n", kp_strstatus(r));
    goto done;
  }
  if (kind >= 2) { /* exports carry no prose: one file, whatever --lang says */
    r = kind == 2 ? kp_export_stop(&ro, is, &b) : kind == 3 ? kp_export_codf(&ro, is, &b) : kp_export_json(&ro, is, &b);
    if (r != KP_OK) {
      fprintf(stderr, "keepon report: %s\n", kp_strstatus(r));
      goto done;
    }
    if (!out || !strcmp(out, "-")) {
      if (fwrite(b.data, 1, b.len, stdout) != b.len) goto done;
    } else if (kp_file_write_atomic(out, b.data ? b.data : (const uint8_t *)"", b.len, 0644) != KP_OK) {
      fprintf(stderr, "keepon report: %s: %s\n", out, strerror(errno));
      goto done;
    }
    status = KP_EXIT_OK;
    goto done;
  }
  for (int l = all_langs ? 0 : (int)lang; l < (all_langs ? KP_LANG__COUNT : (int)lang + 1); l++) {
    ro.lang = (kp_lang_t)l;
    if (kp_cli_report_write(&ro, set, is, out, all_langs ? kp_lang_code(ro.lang) : NULL, &b) != 0) goto done;
  }
  status = KP_EXIT_OK;
done:
  kp_reach_windows_free(&rw);
  kp_httpc_free(http);
  kp_buf_free(&b);
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(set);
  free(dups[0]);
  free(dups[1]);
  free(paths);
  free(pos);
  return status;
}
