/*
 * cmd_demo.c: `keepon demo kz2022` replays Kazakhstan, January 2022 in the lab.
 *
 * The replay itself is lab/demo/kz2022.sh (it orchestrates lab, probe, watch, bgp, serve,
 * detect, report); this command validates the options and runs it with this binary's path.
 * Helper subcommands the script uses (all pure, on files):
 *   keepon demo schedule  the injected truth and the timed lab actions for a day range
 *   keepon demo warp      relabel JSONL records from real to simulated time
 *   keepon demo check     compare detected incidents and signals with the truth (exit 3 on mismatch)
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cursor.h"
#include "base/file.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "demo/demo.h"

static int usage(void) {
  fprintf(stderr,
          "usage: keepon demo kz2022 [options]      (see keepon demo kz2022 --help)\n"
          "       keepon demo schedule|warp|check   (helpers used by the replay script)\n");
  return KP_EXIT_USAGE;
}

/* lab/demo/kz2022.sh: $KEEPON_LAB_DIR/demo, else next to the data folder (source tree or
 * install), else in the source tree holding this binary's build folder */
static int find_script(char *out, size_t n) {
  const char *lab = getenv("KEEPON_LAB_DIR");
  char cand[3][PATH_MAX];
  int nc = 0;
  if (lab && *lab) snprintf(cand[nc++], PATH_MAX, "%.*s/demo/kz2022.sh", PATH_MAX - 20, lab);
  const char *data = kp_cli_data_dir();
  snprintf(cand[nc++], PATH_MAX, "%.*s/lab/demo/kz2022.sh", PATH_MAX - 24, data);
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", data);
  char *slash = strrchr(parent, '/');
  if (slash) {
    *slash = 0;
    snprintf(cand[nc++], PATH_MAX, "%.*s/lab/demo/kz2022.sh", PATH_MAX - 24, parent);
  }
  for (int i = 0; i < nc; i++) {
    struct stat st;
    size_t len = strlen(cand[i]);
    if (stat(cand[i], &st) == 0 && S_ISREG(st.st_mode) && len < n) {
      memcpy(out, cand[i], len + 1);
      return 0;
    }
  }
  /* the source tree holding this binary's build folder */
  char exe[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k <= 0) return -1;
  exe[k] = 0;
  for (int up = 0; up < 5; up++) {
    char *sl = strrchr(exe, '/');
    if (!sl) break;
    *sl = 0;
    snprintf(cand[0], PATH_MAX, "%.*s/lab/demo/kz2022.sh", PATH_MAX - 24, exe);
    struct stat st;
    size_t len = strlen(cand[0]);
    if (stat(cand[0], &st) == 0 && S_ISREG(st.st_mode) && len < n) {
      memcpy(out, cand[0], len + 1);
      return 0;
    }
  }
  return -1;
}

static int cmd_kz2022(int argc, char **argv) {
  double speed = KP_DEMO_SPEED_DEFAULT;
  const char *days = "4-11", *out = NULL, *prefix = "kpdemo";
  long tolerance = 0;
  bool keep = false;
  const kp_opt_t opts[] = {
    {"speed", 's', KP_OPT_DOUBLE, "SEC", "real seconds per simulated hour (default 1: the week in ~3 min; 10: ~28 min, finer rounds)", &speed, 0.2, 3600},
    {"days", 'd', KP_OPT_STR, "A-B", "January days to replay, 4..11 (default 4-11; the test uses 4-6)", &days, 0, 0},
    {"out", 'o', KP_OPT_STR, "DIR", "where the report, data and logs go (default ./kz2022-out)", &out, 0, 0},
    {"prefix", 'p', KP_OPT_STR, "P", "lab instance prefix (default kpdemo)", &prefix, 0, 0},
    {"keep", 'k', KP_OPT_FLAG, NULL, "leave the lab and the dashboard running at the end", &keep, 0, 0},
    {"tolerance", 0, KP_OPT_INT, "SEC", "boundary tolerance for the truth check, simulated seconds (default: one watch round)", &tolerance, 0, 86400},
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon demo kz2022 [options]",
    "Replays Kazakhstan, January 2022 in the network-namespace lab, compressed in time: app\n"
    "blocking (DPI) and throttling from Jan 4 14:30, the nationwide cut from Jan 5 10:30 with BGP\n"
    "staying up, the daily connectivity windows, restoration on Jan 11 02:15. probe runs inside the\n"
    "lab, watch and bgp outside; then detect and report run, and the command prints where the\n"
    "report and the dashboard are. Needs root (network namespaces). See docs/demo.md."};
  char **pos = NULL;
  int npos = 0, r = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  if (r) return kp_opts_exit(r);
  if (npos) {
    fprintf(stderr, "keepon demo kz2022: unexpected argument '%s'\n", pos[0]);
    free(pos);
    return KP_EXIT_USAGE;
  }
  free(pos);
  kp_demo_span_t span;
  if (kp_demo_span_parse(days, &span) != KP_OK) {
    fprintf(stderr, "keepon demo kz2022: --days wants A-B with 4 <= A <= B <= 11 (got '%s')\n", days);
    return KP_EXIT_USAGE;
  }
  for (const char *c = prefix; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-') || c - prefix > 8) {
      fprintf(stderr, "keepon demo kz2022: --prefix wants up to 9 of [a-z0-9-] (got '%s')\n", prefix);
      return KP_EXIT_USAGE;
    }
  char script[PATH_MAX];
  if (find_script(script, sizeof script) != 0) {
    fprintf(stderr, "keepon demo kz2022: lab/demo/kz2022.sh not found (set KEEPON_LAB_DIR to the lab folder)\n");
    return KP_EXIT_FAIL;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    fprintf(stderr, "keepon demo kz2022: cannot find my own path: %s\n", strerror(errno));
    return KP_EXIT_FAIL;
  }
  self[n] = 0;
  char sp[32], tol[32];
  snprintf(sp, sizeof sp, "%g", speed);
  snprintf(tol, sizeof tol, "%ld", tolerance);
  const char *args[24];
  int a = 0;
  args[a++] = "bash";
  args[a++] = script;
  args[a++] = "--keepon";
  args[a++] = self;
  args[a++] = "--speed";
  args[a++] = sp;
  args[a++] = "--days";
  args[a++] = days;
  args[a++] = "--out";
  args[a++] = out ? out : "kz2022-out";
  args[a++] = "--prefix";
  args[a++] = prefix;
  args[a++] = "--tolerance";
  args[a++] = tol;
  if (keep) args[a++] = "--keep";
  args[a] = NULL;
  fflush(NULL);
  execvp("bash", (char *const *)args);
  fprintf(stderr, "keepon demo kz2022: cannot run bash: %s\n", strerror(errno));
  return KP_EXIT_FAIL;
}

static int write_out(const char *path, const kp_buf_t *b) {
  if (!path || strcmp(path, "-") == 0) {
    fwrite(b->data ? (const void *)b->data : "", 1, b->len, stdout);
    return 0;
  }
  return kp_file_write_atomic(path, b->data ? (const void *)b->data : "", b->len, 0644) == KP_OK ? 0 : -1;
}

static int cmd_schedule(int argc, char **argv) {
  double speed = KP_DEMO_SPEED_DEFAULT;
  const char *days = "4-11", *truth = NULL, *actions = NULL;
  const kp_opt_t opts[] = {
    {"speed", 's', KP_OPT_DOUBLE, "SEC", "real seconds per simulated hour (default 1)", &speed, 0.2, 3600},
    {"days", 'd', KP_OPT_STR, "A-B", "January days, 4..11 (default 4-11)", &days, 0, 0},
    {"truth", 0, KP_OPT_STR, "FILE", "write the truth JSON here (default: stdout)", &truth, 0, 0},
    {"actions", 0, KP_OPT_STR, "FILE", "write the timed lab actions (JSONL) here", &actions, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {"keepon demo schedule [options]",
                              "The kz2022 truth (what is injected, simulated UTC) and the lab actions with their real\n"
                              "offsets in seconds from the start of the replay."};
  char **pos = NULL;
  int npos = 0, r = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  free(pos);
  if (r) return kp_opts_exit(r);
  if (npos) return KP_EXIT_USAGE;
  kp_demo_span_t span;
  if (kp_demo_span_parse(days, &span) != KP_OK) {
    fprintf(stderr, "keepon demo schedule: bad --days '%s'\n", days);
    return KP_EXIT_USAGE;
  }
  kp_buf_t t, ac;
  kp_buf_init(&t, 1 << 20);
  kp_buf_init(&ac, 1 << 20);
  int rc = KP_EXIT_OK;
  if (kp_demo_truth(&span, speed, &t) != KP_OK || kp_demo_actions(&span, speed, &ac) != KP_OK) rc = KP_EXIT_FAIL;
  else if (write_out(truth, &t) != 0 || (actions && write_out(actions, &ac) != 0)) {
    fprintf(stderr, "keepon demo schedule: cannot write: %s\n", strerror(errno));
    rc = KP_EXIT_FAIL;
  }
  kp_buf_free(&t);
  kp_buf_free(&ac);
  return rc;
}

static int cmd_warp(int argc, char **argv) {
  double real0 = 0, sim0 = 0, speed = 0;
  const char *out = NULL, *anchors = NULL;
  const kp_opt_t opts[] = {
    {"real0", 0, KP_OPT_DOUBLE, "T", "real Unix time of the replay's start", &real0, 0, 0},
    {"anchors", 0, KP_OPT_STR, "FILE", "\"REAL SIM\" lines: where late actions pinned the clock", &anchors, 0, 0},
    {"sim0", 0, KP_OPT_DOUBLE, "T", "simulated Unix time of the replay's start", &sim0, 0, 0},
    {"speed", 's', KP_OPT_DOUBLE, "SEC", "real seconds per simulated hour", &speed, 0.2, 3600},
    {"out", 'o', KP_OPT_STR, "FILE", "output (default stdout)", &out, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {"keepon demo warp --real0 T --sim0 T --speed S [FILE...]",
                              "Relabels signal points and OONI measurements (JSONL) from real to simulated time.\n"
                              "Lines that are not JSON objects are dropped and counted on stderr."};
  char **pos = NULL;
  int npos = 0, r = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  if (r) return kp_opts_exit(r);
  if (!(real0 > 0 && sim0 > 0 && speed > 0)) {
    fprintf(stderr, "keepon demo warp: --real0, --sim0 and --speed are required\n");
    free(pos);
    return KP_EXIT_USAGE;
  }
  kp_demo_warp_t w = {real0, sim0, speed, NULL, 0};
  kp_demo_anchor_t *an = NULL;
  if (anchors) {
    kp_buf_t ab;
    kp_buf_init(&ab, 1 << 20);
    kp_status_t ast = kp_file_read(anchors, &ab);
    if (ast == KP_OK) ast = kp_demo_anchors_parse(ab.data, ab.len, &an, &w.nanchors);
    kp_buf_free(&ab);
    if (ast != KP_OK) {
      fprintf(stderr, "keepon demo warp: %s: %s\n", anchors,
              ast == KP_ERR_INVAL ? "not \"REAL SIM\" lines in time order" : "cannot read");
      free(pos);
      return KP_EXIT_USAGE;
    }
    w.anchors = an;
  }
  kp_buf_t res;
  kp_buf_init(&res, KP_BUF_DEFAULT_CAP * 8);
  size_t bad = 0;
  int rc = KP_EXIT_OK;
  for (int i = 0; i < (npos ? npos : 1) && rc == KP_EXIT_OK; i++) {
    kp_buf_t in;
    kp_buf_init(&in, KP_BUF_DEFAULT_CAP * 8);
    const char *path = npos ? pos[i] : "-";
    if (kp_file_read(path, &in) != KP_OK) {
      fprintf(stderr, "keepon demo warp: cannot read %s: %s\n", path, strerror(errno));
      rc = KP_EXIT_USAGE;
    }
    kp_cur_t c = kp_cur_make(in.data, in.data ? in.len : 0);
    const uint8_t *l;
    size_t len;
    while (rc == KP_EXIT_OK && kp_cur_line(&c, &l, &len)) {
      if (!len) continue;
      kp_status_t st = kp_demo_warp_line(&w, l, len, &res);
      if (st == KP_ERR_INVAL) bad++;
      else if (st != KP_OK) rc = KP_EXIT_FAIL;
    }
    kp_buf_free(&in);
  }
  if (bad) fprintf(stderr, "keepon demo warp: %zu lines were not JSON objects (dropped)\n", bad);
  if (rc == KP_EXIT_OK && write_out(out, &res) != 0) {
    fprintf(stderr, "keepon demo warp: cannot write %s: %s\n", out, strerror(errno));
    rc = KP_EXIT_FAIL;
  }
  kp_buf_free(&res);
  free(an);
  free(pos);
  return rc;
}

static int cmd_check(int argc, char **argv) {
  const char *truth = NULL, *incidents = NULL, *signals = NULL, *msmts = NULL;
  long tolerance = 600;
  bool no_tech = false, throttling = false;
  const kp_opt_t opts[] = {
    {"truth", 0, KP_OPT_STR, "FILE", "the injected truth (keepon demo schedule --truth)", &truth, 0, 0},
    {"incidents", 0, KP_OPT_STR, "FILE", "detect's incidents (JSON array)", &incidents, 0, 0},
    {"signals", 0, KP_OPT_STR, "FILE", "the signal points detect read (JSONL, simulated time)", &signals, 0, 0},
    {"tolerance", 0, KP_OPT_INT, "SEC", "boundary tolerance in simulated seconds (default 600)", &tolerance, 0, 86400 * 2},
    {"no-techniques", 0, KP_OPT_FLAG, NULL, "do not require each app's technique to be named", &no_tech, 0, 0},
    {"throttling", 0, KP_OPT_FLAG, NULL, "require the throttled app to be found too", &throttling, 0, 0},
    {"measurements", 0, KP_OPT_STR, "FILE", "the probe's measurements (JSONL, simulated time): check what stayed reachable", &msmts, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {"keepon demo check --truth F --incidents F --signals F [options]",
                              "Compares what detect found with what the demo injected. Exit 0 when everything\n"
                              "matches, 3 when an expectation failed (one line per expectation on stdout)."};
  char **pos = NULL;
  int npos = 0, r = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  free(pos);
  if (r) return kp_opts_exit(r);
  if (npos) return KP_EXIT_USAGE;
  if (!truth || !incidents || !signals) {
    fprintf(stderr, "keepon demo check: --truth, --incidents and --signals are required\n");
    return KP_EXIT_USAGE;
  }
  kp_buf_t t, i, s, m, log;
  kp_buf_init(&m, (size_t)1 << 30);
  kp_buf_init(&t, 1 << 24);
  kp_buf_init(&i, 1 << 28);
  kp_buf_init(&s, (size_t)1 << 31);
  kp_buf_init(&log, 1 << 24);
  int rc = KP_EXIT_OK;
  const char *bad = NULL;
  if (kp_file_read(truth, &t) != KP_OK) bad = truth;
  else if (kp_file_read(incidents, &i) != KP_OK) bad = incidents;
  else if (kp_file_read(signals, &s) != KP_OK) bad = signals;
  else if (msmts && kp_file_read(msmts, &m) != KP_OK) bad = msmts;
  if (bad) {
    fprintf(stderr, "keepon demo check: cannot read %s: %s\n", bad, strerror(errno));
    rc = KP_EXIT_USAGE;
  } else {
    kp_demo_check_opts_t o = {.tolerance_s = tolerance, .require_techniques = !no_tech, .require_throttling = throttling};
    size_t fails = 0;
    kp_status_t st = kp_demo_check(&o, t.data, t.len, i.data, i.len, s.data ? (const void *)s.data : "", s.len, &log, &fails);
    size_t rfails = 0;
    if (st == KP_OK && msmts) st = kp_demo_check_reach(&o, t.data, t.len, m.data ? (const void *)m.data : "", m.len, &log, &rfails);
    fails += rfails;
    if (st == KP_OK && msmts) { /* mobile and fixed apart: the same measurements, detect's access split */
      st = kp_demo_check_access(&o, t.data, t.len, m.data ? (const void *)m.data : "", m.len, i.data, i.len, &log, &rfails);
      fails += rfails;
    }
    if (st != KP_OK) {
      fprintf(stderr, "keepon demo check: bad truth or incidents file: %s\n", kp_strstatus(st));
      rc = KP_EXIT_USAGE;
    } else {
      fputs(kp_buf_str(&log), stdout);
      printf("%s: %zu expectation(s) failed\n", fails ? "MISMATCH" : "MATCH", fails);
      rc = fails ? KP_EXIT_CHECK : KP_EXIT_OK;
    }
  }
  kp_buf_free(&t);
  kp_buf_free(&i);
  kp_buf_free(&s);
  kp_buf_free(&m);
  kp_buf_free(&log);
  return rc;
}

int kp_cmd_demo(int argc, char **argv) {
  if (argc < 2) return usage();
  const char *sub = argv[1];
  if (strcmp(sub, "kz2022") == 0) return cmd_kz2022(argc - 1, argv + 1);
  if (strcmp(sub, "schedule") == 0) return cmd_schedule(argc - 1, argv + 1);
  if (strcmp(sub, "warp") == 0) return cmd_warp(argc - 1, argv + 1);
  if (strcmp(sub, "check") == 0) return cmd_check(argc - 1, argv + 1);
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
    printf("usage: keepon demo kz2022 [options]   replay Kazakhstan, January 2022 (docs/demo.md)\n"
           "       keepon demo schedule|warp|check helpers of the replay (--help on each)\n");
    return KP_EXIT_OK;
  }
  fprintf(stderr, "keepon demo: unknown demo '%s' (available: kz2022)\n", sub);
  return KP_EXIT_USAGE;
}
