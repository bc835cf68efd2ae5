/*
 * cmd_probe_run.c: `keepon probe run`: the IM tests (and a web list, when
 * given) every --every with a random delay, unattended (systemd:
 * dist/systemd/keepon-probe.{service,timer}). The loop is kp_sched_run
 * (src/probe/schedule.c, tested on a manual clock); each run is
 * `keepon probe im` and `keepon probe web` with the options given here, so
 * every run lands in the outbox and is uploaded as those commands do.
 * SIGINT/SIGTERM end the wait between runs (a run in progress finishes).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/opts.h"
#include "cli/cli.h"
#include "probe/schedule.h"

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static bool real_sleep(void *arg, int64_t ns) {
  (void)arg;
  while (ns > 0 && !stop_flag) {
    int64_t step = ns < 1000000000LL ? ns : 1000000000LL;
    struct timespec ts = {.tv_sec = (time_t)(step / 1000000000LL), .tv_nsec = (long)(step % 1000000000LL)};
    nanosleep(&ts, NULL);
    ns -= step;
  }
  return !stop_flag;
}

typedef struct opts {
  const char *every, *jitter, *apps, *targets, *resolver, *ca_file, *list, *helper, *outbox, *collector, *cc, *asn;
  double timeout;
  bool no_outbox, lab, no_im, no_locate;
} opts_t;

enum { ARGV_CAP = 40 };
static void add(char **argv, int *n, const char *flag, const char *val) {
  if (val && *n + 2 < ARGV_CAP) {
    argv[(*n)++] = (char *)flag;
    argv[(*n)++] = (char *)val;
  }
}
#define ADD(flag, val) add(argv, &n, flag, val)

/* the flags `probe im` and `probe web` both take, appended after argv[0..n); NULL-terminated */
static int common_args(const opts_t *o, char **argv, int n) {
  ADD("--resolver", o->resolver);
  ADD("--ca-file", o->ca_file);
  ADD("--outbox", o->outbox);
  ADD("--collector", o->collector);
  ADD("--probe-cc", o->cc);
  ADD("--probe-asn", o->asn);
  if (o->no_outbox && n + 1 < ARGV_CAP) argv[n++] = "--no-outbox";
  if (o->no_locate && n + 1 < ARGV_CAP) argv[n++] = "--no-locate";
  argv[n] = NULL;
  return n;
}

static int job(void *arg, uint64_t run, int64_t wall_ns) {
  const opts_t *o = arg;
  char when[21], tbuf[32];
  kp_time_iso((time_t)(wall_ns / 1000000000), when);
  fprintf(stderr, "keepon probe run: run %llu at %s\n", (unsigned long long)run + 1, when);
  fflush(stderr);
  int rc = 0;
  char *argv[ARGV_CAP];
  int n;
  if (!o->no_im) {
    n = 0;
    argv[n++] = "probe";
    argv[n++] = "im";
    snprintf(tbuf, sizeof tbuf, "%g", o->timeout);
    ADD("--timeout", tbuf);
    ADD("--apps", o->apps);
    ADD("--targets", o->targets);
    n = common_args(o, argv, n);
    rc |= kp_cmd_probe(n, argv);
  }
  if (o->list) {
    n = 0;
    argv[n++] = "probe";
    argv[n++] = "web";
    ADD("--list", o->list);
    ADD("--helper", o->helper);
    if (o->lab) argv[n++] = "--lab";
    n = common_args(o, argv, n);
    rc |= kp_cmd_probe(n, argv);
  }
  fflush(stdout);
  return rc;
}

int kp_cmd_probe_run(int argc, char **argv) {
  opts_t o = {.every = "1h", .timeout = 60};
  long runs = 0;
  const kp_opt_t opts[] = {
    {"every", 0, KP_OPT_STR, "DURATION", "time between runs: 90s, 15m, 1h, 1d (default 1h)", &o.every, 0, 0},
    {"jitter", 0, KP_OPT_STR, "DURATION", "random extra delay per run (default a tenth of --every, at most 10m)",
     &o.jitter, 0, 0},
    {"runs", 0, KP_OPT_INT, "N", "stop after N runs (default 0 = until stopped)", &runs, 0, 1000000},
    {"apps", 'a', KP_OPT_STR, "LIST", "IM apps (as probe im)", &o.apps, 0, 0},
    {"no-im", 0, KP_OPT_FLAG, NULL, "skip the IM tests (web list only)", &o.no_im, 0, 0},
    {"targets", 't', KP_OPT_STR, "FILE", "IM target file (as probe im)", &o.targets, 0, 0},
    {"timeout", 0, KP_OPT_DOUBLE, "S", "IM suite budget (as probe im, default 60)", &o.timeout, 1, 3600},
    {"list", 'l', KP_OPT_STR, "CSV", "also run Web Connectivity on this test list (as probe web)", &o.list, 0, 0},
    {"helper", 'H', KP_OPT_STR, "URL", "test helper for the web list (as probe web)", &o.helper, 0, 0},
    {"lab", 0, KP_OPT_FLAG, NULL, "web list in the netns lab (as probe web --lab)", &o.lab, 0, 0},
    {"resolver", 'r', KP_OPT_STR, "ADDR", "DNS-over-UDP resolver (default 8.8.8.8)", &o.resolver, 0, 0},
    {"ca-file", 0, KP_OPT_STR, "FILE", "trust these CAs instead of the system store", &o.ca_file, 0, 0},
    {"probe-cc", 0, KP_OPT_STR, "CC", "country code to record", &o.cc, 0, 0},
    {"probe-asn", 0, KP_OPT_STR, "ASN", "network to record", &o.asn, 0, 0},
    {"no-locate", 0, KP_OPT_FLAG, NULL, "do not look up where the probe is (as probe im/web)", &o.no_locate, 0, 0},
    {"outbox", 0, KP_OPT_STR, "DIR", "signed outbox folder (default <state>/outbox)", &o.outbox, 0, 0},
    {"no-outbox", 0, KP_OPT_FLAG, NULL, "do not keep measurements in the outbox", &o.no_outbox, 0, 0},
    {"collector", 'c', KP_OPT_STR, "URL", "upload after each run (default $KEEPON_COLLECTOR)", &o.collector, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon probe run [--every 1h] [--jitter 6m] [--runs N] [--list CSV --helper URL] [options]",
    "Runs `probe im` (and `probe web` on --list) now and then every --every plus a random delay, until stopped "
    "(SIGINT/SIGTERM) or --runs are done. Each run goes to the outbox and, with a collector, is uploaded. For "
    "headless machines: see dist/systemd/keepon-probe.service and .timer.",
  };
  char *pos[8];
  int npos = 0;
  if (argc > 64) {
    fprintf(stderr, "keepon probe run: too many arguments\n");
    return KP_EXIT_USAGE;
  }
  int rc = kp_opts_parse(&help, opts, argc, argv, pos, &npos);
  if (rc == 1) return KP_EXIT_OK;
  if (rc != 0) return KP_EXIT_USAGE;
  if (npos) {
    fprintf(stderr, "keepon probe run: unexpected argument '%s'\n", pos[0]);
    return KP_EXIT_USAGE;
  }
  kp_sched_cfg_t cfg = {.max_runs = (uint64_t)runs};
  if (kp_sched_parse_duration(o.every, &cfg.every) != KP_OK) {
    fprintf(stderr, "keepon probe run: --every wants a duration like 1h or 15m, not '%s'\n", o.every);
    return KP_EXIT_USAGE;
  }
  cfg.jitter = cfg.every / 10 < 600 ? cfg.every / 10 : 600;
  if (o.jitter && (kp_sched_parse_duration(o.jitter, &cfg.jitter) != KP_OK || cfg.jitter >= cfg.every)) {
    fprintf(stderr, "keepon probe run: --jitter wants a duration shorter than --every, not '%s'\n", o.jitter);
    return KP_EXIT_USAGE;
  }
  if (o.no_im && !o.list) {
    fprintf(stderr, "keepon probe run: --no-im needs --list\n");
    return KP_EXIT_USAGE;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  cfg.seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  kp_sched_stats_t st;
  if (kp_sched_run(&cfg, kp_clock_system(), real_sleep, NULL, job, &o, &st) != KP_OK) return KP_EXIT_USAGE;
  fprintf(stderr, "keepon probe run: %llu run(s), %llu with errors, %llu slot(s) skipped (runs longer than --every)\n",
          (unsigned long long)st.runs, (unsigned long long)st.failed, (unsigned long long)st.skipped_slots);
  return st.failed && st.failed == st.runs ? KP_EXIT_FAIL : KP_EXIT_OK;
}
