/*
 * cmd_detect.c: `keepon detect`: signal points and measurements in, incidents out.
 *
 * Once (default): read every input, detect, merge, write the outputs
 * (incidents JSON to --out or stdout, optional STOP CSV / CODF / converted
 * probe points), send the alerts (webhook and/or --alerts file), exit.
 *
 * --follow (state diagram):
 *     READ new complete lines of every input (per-file offset, like tail -F;
 *          a file that shrank is re-read from the start)
 *       -> nothing new: SLEEP --interval, READ
 *       -> new data: DETECT over everything read so far, write outputs
 *          atomically, diff incidents against what was announced
 *          (open / level / close alerts), SLEEP, READ
 *     SIGINT/SIGTERM or --rounds N ends the loop after the current round.
 * Detection is recomputed from all data each round: simple and exact; the
 * cost is one detector pass per round (bench/detect.sh gives the figures).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "detect/detect.h"
#include "httpc/httpc.h"
#include "report/report.h"

#define MAX_INPUTS 256

typedef struct input { const char *path; long off; } input_t;

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

/* Split a comma list into inputs; *dup owns the strings for the life of the command. */
static int add_list(input_t *in, int *n, const char *list, char **dup) {
  if (!list) return 0;
  char *save = NULL;
  if (!(*dup = strdup(list))) return -1;
  for (char *p = strtok_r(*dup, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
    if (*n >= MAX_INPUTS) return -1;
    in[(*n)++].path = p;
  }
  return 0;
}

/* Read the complete lines appended since the last call (all of it when !follow). */
static kp_status_t read_new(kp_sigset_t *s, input_t *in, bool follow, kp_read_stats_t *st, bool *got) {
  if (!follow || !strcmp(in->path, "-")) {
    if (in->off < 0) return KP_OK; /* stdin: read once */
    kp_status_t r = kp_detect_load_file(s, in->path, st);
    in->off = -1;
    *got = true;
    return r;
  }
  FILE *f = fopen(in->path, "rb");
  if (!f) return errno == ENOENT ? KP_OK : KP_ERR_IO; /* not there yet: wait for it */
  struct stat sb;
  if (fstat(fileno(f), &sb) == 0 && sb.st_size < in->off) in->off = 0; /* truncated/rotated */
  kp_status_t r = KP_OK;
  if (fseek(f, in->off, SEEK_SET) == 0) {
    kp_buf_t b;
    kp_buf_init(&b, (size_t)1 << 30);
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
      if ((r = kp_buf_append(&b, chunk, k)) != KP_OK) break;
    size_t end = b.len;
    while (end && b.data[end - 1] != '\n') end--; /* a partial last line waits for the next round */
    if (r == KP_OK && end) {
      r = kp_sigset_add_jsonl(s, b.data, end, st);
      in->off += (long)end;
      *got = true;
    }
    kp_buf_free(&b);
  }
  fclose(f);
  return r;
}

static int write_out(const char *path, kp_buf_t *b) {
  if (!path) return 0;
  if (!strcmp(path, "-")) return fwrite(b->data, 1, b->len, stdout) == b->len ? 0 : -1;
  if (kp_file_write_atomic(path, b->data ? b->data : (const uint8_t *)"", b->len, 0644) != KP_OK) {
    kp_log_warn("detect", "%s", path);
    return -1;
  }
  return 0;
}

static void post_alerts(kp_httpc_t *http, const char *url, const kp_buf_t *alerts) {
  const char *p = kp_buf_str(alerts);
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    int code = 0;
    kp_status_t st = kp_webhook_post(http, url, p, n, 5000, &code);
    if (st != KP_OK) kp_log_warnx("detect", "webhook %s: %s (HTTP %d)", url, kp_strstatus(st), code);
    p += n + (nl ? 1 : 0);
  }
}

int kp_cmd_detect(int argc, char **argv) {
  const char *signals = NULL, *msms = NULL, *out = NULL, *stop = NULL, *codf = NULL, *emit = NULL, *cc = NULL, *risk = NULL;
  const char *webhook = NULL, *alerts_path = NULL, *tune = NULL, *probe_step_s = "1h";
  const char *active_hist = NULL, *bgp_hist = NULL, *warmup = NULL;
  const char *server = NULL, *entities = NULL, *from_s = NULL, *to_s = NULL;
  bool follow = false;
  long interval = 10, rounds = 0;
  kp_cli_httpc_t hv = {0};
  kp_httpc_t *http = NULL;
  const kp_opt_t opts[] = {
      {"signals", 's', KP_OPT_STR, "FILE[,FILE]", "signal-point JSONL (watch, bgp, converted probe points)", &signals, 0, 0},
      {"measurements", 'm', KP_OPT_STR, "FILE[,FILE]", "OONI-format measurement JSONL (converted to probe-<test> signals)", &msms, 0, 0},
      {"server", 0, KP_OPT_STR, "URL", "read signals from a keepon server (https://NAME[:PORT]) instead of files", &server, 0, 0},
      {"entity", 0, KP_OPT_STR, "T/C[,T/C]", "--server: entities to fetch, e.g. country/KZ,asn/AS9198 (default country/<--cc>)", &entities, 0, 0},
      {"from", 0, KP_OPT_STR, "TIME", "--server: window start, UTC (default: 14 days before --to)", &from_s, 0, 0},
      {"to", 0, KP_OPT_STR, "TIME", "--server: window end, UTC (default: now, re-read every --follow round)", &to_s, 0, 0},
      {"out", 'o', KP_OPT_STR, "FILE", "incidents JSON (default: stdout)", &out, 0, 0},
      {"stop", 0, KP_OPT_STR, "FILE", "also write the incidents as Access Now STOP CSV", &stop, 0, 0},
      {"codf", 0, KP_OPT_STR, "FILE", "also write Common Outage Data Format JSON (one record per event)", &codf, 0, 0},
      {"risk", 0, KP_OPT_STR, "FILE", "also write the early-warning \"shutdown risk\" alerts (JSON array)", &risk, 0, 0},
      {"emit-signals", 0, KP_OPT_STR, "FILE", "write the measurements converted to probe-* signal points", &emit, 0, 0},
      {"cc", 0, KP_OPT_STR, "CC", "only incidents in this country; entities with no known country count as CC", &cc, 0, 0},
      {"probe-step", 0, KP_OPT_STR, "SPAN", "bin length for measurement failure rates (default 1h)", &probe_step_s, 0, 0},
      {"active-history", 0, KP_OPT_STR, "SPAN", "active-probing median window (default 7d; '288b' = bins)", &active_hist, 0, 0},
      {"bgp-history", 0, KP_OPT_STR, "SPAN", "BGP median window (default 24h)", &bgp_hist, 0, 0},
      {"warmup", 0, KP_OPT_STR, "SPAN", "history needed before any verdict, every source (default 1h)", &warmup, 0, 0},
      {"tune", 0, KP_OPT_STR, "K=V[,K=V]", "other detector settings, e.g. active.warning=0.7,merge_gap=2h (docs/detect.md)", &tune, 0, 0},
      {"webhook", 0, KP_OPT_STR, "URL", "POST each alert (JSON) to https://NAME[:PORT]/PATH on open, level change, close", &webhook, 0, 0},
      {"alerts", 0, KP_OPT_STR, "FILE", "append the alerts as JSONL to FILE ('-' = stderr)", &alerts_path, 0, 0},
      {"follow", 'f', KP_OPT_FLAG, NULL, "keep reading appended lines and re-detect (Ctrl-C stops)", &follow, 0, 0},
      {"interval", 0, KP_OPT_INT, "SECONDS", "--follow poll interval (default 10)", &interval, 1, 86400},
      {"rounds", 0, KP_OPT_INT, "N", "--follow: stop after N rounds with new data (default: never)", &rounds, 0, 1e9},
      KP_CLI_HTTPC_OPTS(&hv),
      {0},
  };
  const kp_cmd_help_t help = {
      "keepon detect [options] [FILE...]",
      "Detect outages and blocking from signal points (watch, bgp) and probe measurements, merge them "
      "into incidents (type, scope, services, techniques, windows, confidence, evidence) and alert. "
      "Positional FILEs may hold either kind of line. Bad lines are skipped and counted. See docs/detect.md."};
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  input_t *in = calloc(MAX_INPUTS, sizeof *in);
  int npos = 0, nin = 0, status = KP_EXIT_USAGE;
  kp_sigset_t *set = NULL;
  kp_alert_state_t *ast = NULL;
  char *dups[3] = {NULL, NULL, NULL};
  input_t ent[MAX_INPUTS]; /* add_list caps at MAX_INPUTS */
  int nent = 0;
  time_t tt = 0, tt2 = 0;
  char ccent[16];
  if (!pos || !in) { free(pos); free(in); return KP_EXIT_FAIL; }
  int rc = kp_opts_parse(&help, opts, argc, argv, pos, &npos);
  if (rc != 0) { status = rc == 1 ? KP_EXIT_OK : KP_EXIT_USAGE; goto done; }
  if (add_list(in, &nin, signals, &dups[0]) || add_list(in, &nin, msms, &dups[1])) { fprintf(stderr, "keepon detect: too many inputs\n"); goto done; }
  for (int i = 0; i < npos && nin < MAX_INPUTS; i++) in[nin++].path = pos[i];
  if (server && nin) { fprintf(stderr, "keepon detect: --server replaces input files\n"); goto done; }
  if (!nin && !server) { fprintf(stderr, "usage: %s\nno input (--signals, --measurements or FILE)\n", help.usage); goto done; }
  kp_detect_cfg_t cfg;
  kp_detect_cfg_default(&cfg);
  kp_span_t ps;
  char err[300] = "";
  if (kp_span_parse(probe_step_s, &ps) != 0 || ps.bins || ps.v < 60 || ps.v > 86400) snprintf(err, sizeof err, "bad --probe-step '%s'", probe_step_s);
  else if (active_hist && kp_span_parse(active_hist, &cfg.active.history) != 0) snprintf(err, sizeof err, "bad --active-history");
  else if (bgp_hist && kp_span_parse(bgp_hist, &cfg.bgp.history) != 0) snprintf(err, sizeof err, "bad --bgp-history");
  else if (warmup && (kp_span_parse(warmup, &cfg.active.warmup) != 0 || kp_span_parse(warmup, &cfg.bgp.warmup) != 0 ||
                      kp_span_parse(warmup, &cfg.other.warmup) != 0)) snprintf(err, sizeof err, "bad --warmup");
  else if (tune && kp_detect_cfg_tune(&cfg, tune, err, sizeof err) != KP_OK) {}
  else if (cc && (strlen(cc) != 2)) snprintf(err, sizeof err, "bad --cc '%s'", cc);
  else if (webhook && strncmp(webhook, "http://", 7) && !kp_httpc_is_https(webhook)) snprintf(err, sizeof err, "--webhook must be https:// or http://");
  else if (server && strncmp(server, "http://", 7) && !kp_httpc_is_https(server)) snprintf(err, sizeof err, "--server must be https:// or http://");
  else if (server && !entities && !cc) snprintf(err, sizeof err, "--server needs --entity or --cc");
  else if (from_s && kp_time_parse(from_s, &tt) != 0) snprintf(err, sizeof err, "bad --from '%s'", from_s);
  else if (to_s && kp_time_parse(to_s, &tt2) != 0) snprintf(err, sizeof err, "bad --to '%s'", to_s);
  else if (server && entities && add_list(ent, &nent, entities, &dups[2])) snprintf(err, sizeof err, "too many entities");
  for (int i = 0; i < nent && !err[0]; i++)
    if (!strchr(ent[i].path, '/')) snprintf(err, sizeof err, "bad --entity '%s' (TYPE/CODE)", ent[i].path);
  if (err[0]) { fprintf(stderr, "keepon detect: %s\n", err); goto done; }
  if ((server || webhook) && !(http = kp_cli_httpc_new(&hv, 0, 0, (size_t)512 << 20))) goto done;
  for (int i = 0; i < nin && !follow; i++) /* once: every input must exist before anything is written */
    if (strcmp(in[i].path, "-") && access(in[i].path, R_OK) != 0) {
      fprintf(stderr, "keepon detect: %s: %s\n", in[i].path, strerror(errno));
      goto done;
    }
  if (kp_sigset_new(ps.v, &set) != KP_OK || kp_alert_state_new(&ast) != KP_OK) { status = KP_EXIT_FAIL; goto done; }
  kp_sigset_set_default_cc(set, cc);
  if (follow) {
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
  }
  kp_report_opts_t ro = {.cc = cc};
  long done_rounds = 0;
  status = KP_EXIT_OK;
  while (!g_stop) {
    kp_read_stats_t st = {0};
    bool got = false;
    if (server) { /* fresh signal set from the server every round */
      if (!nent) {
        snprintf(ccent, sizeof ccent, "country/%s", cc);
        ent[nent++].path = ccent;
      }
      int64_t until = to_s ? (int64_t)tt2 : (int64_t)time(NULL), from = from_s ? (int64_t)tt : until - 14 * 86400;
      kp_sigset_free(set);
      set = NULL;
      if (kp_sigset_new(ps.v, &set) != KP_OK) { status = KP_EXIT_FAIL; goto done; }
      kp_sigset_set_default_cc(set, cc);
      for (int i = 0; i < nent; i++) {
        char et[32];
        const char *slash = strchr(ent[i].path, '/');
        snprintf(et, sizeof et, "%.*s", (int)(slash - ent[i].path), ent[i].path);
        size_t pts = 0;
        kp_status_t r = kp_signals_fetch(http, server, et, slash + 1, from, until, cc, 10000, set, &pts);
        if (r != KP_OK) {
          fprintf(stderr, "keepon detect: %s: %s %s\n", server, ent[i].path, kp_strstatus(r));
          if (!follow) { status = KP_EXIT_FAIL; goto done; }
        }
        st.signals += pts;
      }
      got = true;
    }
    for (int i = 0; i < nin; i++) {
      kp_status_t r = read_new(set, &in[i], follow, &st, &got);
      if (r != KP_OK) {
        fprintf(stderr, "keepon detect: %s: %s\n", in[i].path, r == KP_ERR_IO ? strerror(errno) : kp_strstatus(r));
        status = r == KP_ERR_IO ? KP_EXIT_USAGE : KP_EXIT_FAIL;
        goto done;
      }
    }
    if (st.bad) {
      char lines[128] = "";
      for (size_t k = 0; k < st.nfirst_bad; k++) {
        size_t l = strlen(lines);
        snprintf(lines + l, sizeof lines - l, "%s%zu", k ? "," : "", st.first_bad[k]);
      }
      kp_log_warnx("detect", "%zu bad line(s) skipped (first at line %s, counted across inputs)", st.bad, lines);
    }
    kp_log_info("detect", "%zu lines: %zu signal points, %zu measurements", st.lines, st.signals, st.measurements);
    if (got) {
      kp_event_list_t ev = {0};
      kp_incset_t *is = NULL;
      kp_buf_t b, al;
      kp_buf_init(&b, (size_t)1 << 30);
      kp_buf_init(&al, (size_t)1 << 28);
      size_t nal = 0;
      kp_status_t r = kp_sigset_finalize(set);
      if (r == KP_ERR_RANGE) {
        fprintf(stderr, "keepon detect: the input spans too many bins (a series longer than 4M bins, or 256M in all)\n");
        status = KP_EXIT_USAGE;
        kp_buf_free(&b);
        kp_buf_free(&al);
        goto done;
      }
      if (r == KP_OK) r = kp_detect_run(&cfg, set, &ev);
      if (r == KP_OK) r = kp_incidents_merge(&cfg, set, &ev, &is);
      if (r == KP_OK) r = kp_export_json(&ro, is, &b);
      if (r == KP_OK && write_out(out ? out : "-", &b)) r = KP_ERR_IO;
      if (r == KP_OK && stop) { kp_buf_reset(&b); r = kp_export_stop(&ro, is, &b); if (r == KP_OK && write_out(stop, &b)) r = KP_ERR_IO; }
      if (r == KP_OK && codf) { kp_buf_reset(&b); r = kp_export_codf(&ro, is, &b); if (r == KP_OK && write_out(codf, &b)) r = KP_ERR_IO; }
      if (r == KP_OK && risk) { kp_buf_reset(&b); r = kp_export_risk(&ro, is, &b); if (r == KP_OK && write_out(risk, &b)) r = KP_ERR_IO; }
      if (r == KP_OK && emit) { kp_buf_reset(&b); r = kp_sigset_write_probe_points(set, &b); if (r == KP_OK && write_out(emit, &b)) r = KP_ERR_IO; }
      if (r == KP_OK && (webhook || alerts_path)) r = kp_alerts_diff(ast, is, &al, &nal);
      if (r == KP_OK && nal) {
        if (alerts_path && !strcmp(alerts_path, "-")) fputs(kp_buf_str(&al), stderr);
        else if (alerts_path) {
          FILE *f = fopen(alerts_path, "a");
          if (!f || fwrite(al.data, 1, al.len, f) != al.len) kp_log_warn("detect", "%s", alerts_path);
          if (f) fclose(f);
        }
        if (webhook) post_alerts(http, webhook, &al);
      }
      if (out && r == KP_OK) fprintf(stderr, "keepon detect: %zu incident(s) -> %s\n", kp_incset_count(is), out);
      kp_buf_free(&b);
      kp_buf_free(&al);
      kp_incset_free(is);
      kp_events_free(&ev);
      fflush(stdout);
      if (r != KP_OK) {
        fprintf(stderr, "keepon detect: %s\n", kp_strstatus(r));
        status = KP_EXIT_FAIL;
        goto done;
      }
      done_rounds++;
    }
    if (!follow || (rounds && done_rounds >= rounds)) break;
    for (long k = 0; k < interval * 10 && !g_stop; k++) {
      struct timespec ts = {0, 100 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
done:
  kp_httpc_free(http);
  free(dups[0]);
  free(dups[1]);
  free(dups[2]);
  kp_alert_state_free(ast);
  kp_sigset_free(set);
  free(in);
  free(pos);
  return status;
}
