/*
 * cmd_probe.c: `keepon probe im`: measure the reachability of WhatsApp,
 * Telegram, Signal and Facebook Messenger and write one OONI measurement per
 * app (JSONL, written atomically: all or nothing).
 *
 * Order of work: parse options -> validate everything (apps, targets file,
 * resolver, CA file, output folder) so that bad input exits 2 before any
 * packet or byte is written -> privacy notice -> run -> one line per app on
 * stdout -> append every measurement to the outbox (fsync'd, signed,
 * chained: the evidence exists before anything else happens to it) -> write
 * the file -> upload pending outbox records when a collector is known
 * (--collector or $KEEPON_COLLECTOR; a failed upload leaves them pending for
 * `keepon upload`, it does not fail the run).
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/clock.h"
#include "base/cursor.h"
#include "base/file.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "httpc/httpc.h"
#include "geo/geo.h"
#include "locate/locate.h"
#include "outbox/outbox.h"
#include "probe/probe.h"
#include "reach/reach.h"

#define MAX_LIST 256

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "keepon probe im: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  return KP_EXIT_USAGE;
}

static const char *outbox_path(const char *dir, char *buf, size_t cap) {
  if (dir) return dir;
  const char *state = kp_cli_state_dir();
  if (!state) return NULL; /* refused; kp_cli_state_dir said why */
  snprintf(buf, cap, "%s/outbox", state);
  return buf;
}

/* Appends each line of @p jsonl to the outbox; every append is durable when it returns.
 * Shared with `probe web` (cli.h). */
int kp_cli_keep_in_outbox(const char *dir, const kp_buf_t *jsonl) {
  char dbuf[4096];
  kp_outbox_t *ob = NULL;
  const char *path = outbox_path(dir, dbuf, sizeof dbuf);
  if (!path) return KP_EXIT_FAIL;
  kp_status_t st = kp_outbox_open(path, &ob);
  if (st != KP_OK) {
    fprintf(stderr, "keepon probe: cannot open the outbox %s: %s\n", path, kp_strstatus(st));
    return KP_EXIT_FAIL;
  }
  kp_cur_t c = kp_cur_make(jsonl->data, jsonl->len);
  const uint8_t *l;
  size_t n;
  while (st == KP_OK && kp_cur_line(&c, &l, &n))
    if (n) st = kp_outbox_append(ob, (const char *)l, n, NULL);
  kp_outbox_close(ob);
  if (st != KP_OK) {
    fprintf(stderr, "keepon probe: cannot append to the outbox: %s\n", kp_strstatus(st));
    return KP_EXIT_FAIL;
  }
  return KP_EXIT_OK;
}

/* Best effort: what is not delivered now stays pending for `keepon upload`. Shared with `probe web`. */
void kp_cli_upload_pending(const char *dir, const char *url) {
  char dbuf[4096];
  kp_outbox_t *ob = NULL;
  const char *path = outbox_path(dir, dbuf, sizeof dbuf);
  if (!path) return;
  if ((strncmp(url, "http://", 7) != 0 && !kp_httpc_is_https(url)) || kp_outbox_open(path, &ob) != KP_OK) {
    fprintf(stderr, "keepon probe: upload skipped (collector must be https:// or http://)\n");
    return;
  }
  const kp_cli_httpc_t env = {0}; /* $KEEPON_PROXY, $KEEPON_CA_FILE (--ca-file here is the measurements') */
  kp_httpc_t *http = kp_cli_httpc_new(&env, 10000, 10000, 0);
  if (!http) {
    kp_outbox_close(ob);
    return;
  }
  kp_upload_cfg_t cfg = {.url = url, .path_prefix = getenv("KEEPON_COLLECTOR_PREFIX"), .http = http,
                         .max_attempts = 3, .deadline_ms = 20000};
  kp_upload_stats_t s = {0};
  kp_status_t st = kp_outbox_upload(ob, &cfg, &s);
  printf("upload: %zu delivered, %zu already there, %zu pending%s\n", s.delivered, s.duplicates, s.remaining,
         st == KP_OK ? "" : " (run 'keepon upload' later)");
  kp_httpc_free(http);
  kp_outbox_close(ob);
}

static const char *default_asn_db(char *buf, size_t cap) {
  struct stat sb;
  const char *home = getenv("KEEPON_HOME");
  snprintf(buf, cap, "var/geo/asn.csv");
  if (stat(buf, &sb) == 0) return buf;
  if (home) {
    snprintf(buf, cap, "%s/geo/asn.csv", home);
    if (stat(buf, &sb) == 0) return buf;
  }
  return NULL;
}

typedef struct locate_job {
  const kp_cli_locate_t *v;
  const char *resolver, *cc, *asn, *net;
  kp_cli_where_t *w;
  kp_locate_result_t *raw;
  int rc;
} locate_job_t;
static void *locate_job(void *arg) {
  locate_job_t *j = arg;
  j->rc = kp_cli_locate(j->v, j->resolver, j->cc, j->asn, j->net, j->w, j->raw);
  return NULL;
}

static int probe_im(int argc, char **argv) {
  const char *apps_opt = NULL, *targets_path = NULL, *resolver = "8.8.8.8", *ca_file = NULL, *output = NULL;
  const char *cc = NULL, *asn = NULL, *netname = NULL, *probe_ip = NULL; /* NULL: looked up (src/locate) */
  const char *access = NULL; /* --access-type, else the located ASN's row (kp_access_resolve) */
  kp_cli_locate_t lv = {0};
  const char *outbox_dir = NULL, *collector = getenv("KEEPON_COLLECTOR");
  bool no_outbox = false;
  double timeout = 60;
  long parallel = 32;
  const kp_opt_t opts[] = {
    {"apps", 'a', KP_OPT_STR, "LIST", "comma-separated apps (default whatsapp,telegram,signal,facebook_messenger)",
     &apps_opt, 0, 0},
    {"targets", 't', KP_OPT_STR, "FILE", "target file (JSON, docs/probe.md; default: the built-in OONI targets)",
     &targets_path, 0, 0},
    {"resolver", 'r', KP_OPT_STR, "ADDR", "DNS-over-UDP resolver, IP or IP:port (default 8.8.8.8)", &resolver, 0, 0},
    {"ca-file", 0, KP_OPT_STR, "FILE", "trust these CA certificates instead of the system store", &ca_file, 0, 0},
    {"output", 'o', KP_OPT_STR, "FILE", "JSONL output (default <state>/measurements/im-<time>.jsonl)", &output, 0, 0},
    {"timeout", 0, KP_OPT_DOUBLE, "S", "budget for the whole suite in seconds (default 60)", &timeout, 1, 3600},
    {"parallel", 'j', KP_OPT_INT, "N", "concurrent flows (default 32)", &parallel, 1, 64},
    {"probe-cc", 0, KP_OPT_STR, "CC", "country code to record (default: looked up, else ZZ)", &cc, 0, 0},
    {"probe-asn", 0, KP_OPT_STR, "ASN", "network to record, e.g. AS9198 (default: looked up, else AS0)", &asn, 0, 0},
    {"probe-network-name", 0, KP_OPT_STR, "NAME", "network name to record", &netname, 0, 0},
    {"access-type", 0, KP_OPT_STR, "T", "the probe's access: mobile or fixed (default: the ASN's row of data/access/kz.tsv, else not written)", &access, 0, 0},
    {"with-probe-ip", 0, KP_OPT_STR, "IP", "record this probe IP (default: 127.0.0.1, i.e. none)", &probe_ip, 0, 0},
    {"outbox", 0, KP_OPT_STR, "DIR", "signed outbox folder (default <state>/outbox)", &outbox_dir, 0, 0},
    {"no-outbox", 0, KP_OPT_FLAG, NULL, "do not keep the measurements in the outbox", &no_outbox, 0, 0},
    {"collector", 'c', KP_OPT_STR, "URL", "upload to this collector after the run (default $KEEPON_COLLECTOR)",
     &collector, 0, 0},
    KP_CLI_LOCATE_OPTS(&lv),
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon probe im [options]",
    "Runs OONI's instant-messaging tests (whatsapp, telegram, signal, facebook_messenger) with DNS over UDP "
    "and the system resolver, TCP, TLS and HTTP steps, and writes one OONI-format measurement per app with "
    "OONI's result keys plus keepon's verdict and the censorship technique found. Prints one line per app.",
  };
  char *pos[MAX_LIST];
  int npos = 0;
  if (argc > MAX_LIST) return usage_error("too many arguments");
  int rc = kp_opts_parse(&help, opts, argc, argv, pos, &npos);
  if (rc == 1) return KP_EXIT_OK;
  if (rc != 0) return KP_EXIT_USAGE;
  if (npos) return usage_error("unexpected argument '%s'", pos[0]);

  /* apps */
  const char *apps[KP_PROBE_MAX_APPS + 1] = {0};
  char appbuf[512];
  size_t napps = 0;
  if (!apps_opt) {
    for (size_t i = 0; i < kp_im_ntests; i++) apps[napps++] = kp_im_tests[i].name;
  } else {
    if (strlen(apps_opt) >= sizeof appbuf) return usage_error("--apps is too long");
    snprintf(appbuf, sizeof appbuf, "%s", apps_opt);
    char *save = NULL;
    for (char *a = strtok_r(appbuf, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
      if (!kp_im_test_find(a)) return usage_error("unknown app '%s' (whatsapp, telegram, signal, facebook_messenger)", a);
      bool dup = false;
      for (size_t k = 0; k < napps; k++) dup = dup || strcmp(apps[k], a) == 0;
      if (dup) continue;
      if (napps >= KP_PROBE_MAX_APPS) return usage_error("too many apps");
      apps[napps++] = a;
    }
    if (!napps) return usage_error("--apps is empty");
  }
  if (cc && (strlen(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z'))
    return usage_error("--probe-cc must be two upper-case letters, not '%s'", cc);
  if (asn && (strncmp(asn, "AS", 2) != 0 || !asn[2] || strspn(asn + 2, "0123456789") != strlen(asn + 2) || strlen(asn) > 12))
    return usage_error("--probe-asn must look like AS1234, not '%s'", asn);
  if (kp_access_resolve(access, NULL, &access) != KP_OK) return usage_error("--access-type is mobile or fixed");
  if (probe_ip) {
    kp_addr_t a;
    if (kp_addr_parse(probe_ip, &a) != KP_OK) return usage_error("--with-probe-ip: bad address '%s'", probe_ip);
  }

  /* targets */
  kp_targets_t *targets = calloc(1, sizeof *targets);
  if (!targets) return KP_EXIT_FAIL;
  char err[512];
  kp_status_t st;
  int ret = KP_EXIT_USAGE;
  kp_buf_t file, out;
  kp_buf_init(&file, 4 << 20);
  kp_buf_init(&out, 256 << 20);
  kp_im_run_t run = {0};
  kp_geo_t *geo = NULL;
  if (targets_path) {
    if ((st = kp_file_read(targets_path, &file)) != KP_OK) {
      fprintf(stderr, "keepon probe im: cannot read targets '%s': %s\n", targets_path, kp_strstatus(st));
      goto done;
    }
    st = kp_targets_parse(file.data ? file.data : (const uint8_t *)"", file.len, targets, err, sizeof err);
  } else {
    size_t len;
    const char *def = kp_targets_default_json(&len);
    st = kp_targets_parse(def, len, targets, err, sizeof err);
  }
  if (st != KP_OK) {
    fprintf(stderr, "keepon probe im: bad targets %s: %s\n", targets_path ? targets_path : "(built in)", err);
    goto done;
  }
  for (size_t i = 0; i < napps; i++)
    if (!kp_targets_app(targets, apps[i])) {
      fprintf(stderr, "keepon probe im: targets %s have no entry for '%s'\n", targets_path ? targets_path : "(built in)",
              apps[i]);
      goto done;
    }
  kp_cli_where_t where = {0}; /* filled by kp_cli_locate once every input is validated */
  kp_locate_result_t located; /* its probe address is never used: probe_ip comes only from --with-probe-ip */
  kp_probe_cfg_t cfg = {.resolver = resolver, .ca_file = ca_file, .timeout = timeout, .parallel = (size_t)parallel,
                        .probe_cc = where.cc, .probe_asn = where.asn, .probe_network_name = where.network_name,
                        .probe_ip = probe_ip, .software_version = KP_VERSION,
                        .resolver_seen = where.resolver_ip, .resolver_asn = where.resolver_asn};
  /* one set of databases for where the probe is and for OONI's DNS consistency by ASN (Facebook's
     AS32934): --asn-mmdb / --geo, the flags `keepon locate` takes */
  char asn_buf[4096];
  const char *asn_db = lv.asn, *geo_table = lv.geo_table;
  if (!asn_db && !geo_table) asn_db = default_asn_db(asn_buf, sizeof asn_buf);
  if (asn_db || geo_table) {
    kp_geo_config_t gc = {.asn_mmdb = asn_db, .table = geo_table};
    if ((st = kp_geo_open(&gc, &geo)) != KP_OK) {
      fprintf(stderr, "keepon probe im: cannot open the ASN database %s: %s\n", asn_db ? asn_db : geo_table,
              kp_strstatus(st));
      goto done;
    }
    cfg.geo = geo;
  }
  if (kp_probe_cfg_check(&cfg, err, sizeof err) != KP_OK) {
    fprintf(stderr, "keepon probe im: %s\n", err);
    goto done;
  }
  char defout[4096];
  if (!output) {
    if (!kp_cli_measurement_path("keepon probe im", "im", defout, sizeof defout)) {
      ret = KP_EXIT_FAIL;
      goto done;
    }
    output = defout;
  } else {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", output);
    char *slash = strrchr(dir, '/');
    struct stat sb;
    if (slash) *slash = 0;
    if (slash && dir[0] && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
      fprintf(stderr, "keepon probe im: output folder '%s' does not exist\n", dir);
      goto done;
    }
  }
  kp_cli_privacy_notice();
  signal(SIGPIPE, SIG_IGN); /* a peer hanging up mid-write is a measurement, not a crash */

  apps[napps] = NULL;
  /* locate runs beside the measurement (its lookups overlap the flows instead of adding to them) */
  locate_job_t lj = {&lv, resolver, cc, asn, netname, &where, &located, KP_EXIT_OK};
  pthread_t lt;
  bool lt_on = pthread_create(&lt, NULL, locate_job, &lj) == 0;
  if (!lt_on) locate_job(&lj);
  st = kp_probe_im_run(&cfg, targets, apps, kp_clock_system(), &run);
  if (lt_on) pthread_join(lt, NULL);
  if (lj.rc != KP_EXIT_OK) {
    ret = lj.rc;
    goto done;
  }
  if (!access) kp_access_resolve(NULL, where.asn, &access); /* the flag validated above */
  cfg.access_type = access;
  if (st != KP_OK) {
    fprintf(stderr, "keepon probe im: run failed: %s\n", kp_strstatus(st));
    ret = KP_EXIT_FAIL;
    goto done;
  }
  for (size_t i = 0; i < run.napps; i++) {
    const kp_im_app_result_t *r = run.app[i];
    if ((st = kp_probe_write_measurement(&cfg, &run, r, &out)) != KP_OK || (st = kp_buf_putc(&out, '\n')) != KP_OK) {
      fprintf(stderr, "keepon probe im: cannot serialize: %s\n", kp_strstatus(st));
      ret = KP_EXIT_FAIL;
      goto done;
    }
  }
  if (!no_outbox && (ret = kp_cli_keep_in_outbox(outbox_dir, &out)) != KP_EXIT_OK) goto done;
  ret = KP_EXIT_USAGE;
  if ((st = kp_file_write_atomic(output, out.data, out.len, 0600)) != KP_OK) {
    fprintf(stderr, "keepon probe im: cannot write %s: %s\n", output, kp_strstatus(st));
    ret = KP_EXIT_FAIL;
    goto done;
  }
  for (size_t i = 0; i < run.napps; i++) {
    const kp_im_app_result_t *r = run.app[i];
    const kp_an_result_t *v = &r->verdict;
    if (v->verdict == KP_VERDICT_BLOCKED)
      printf("%-19s BLOCKED (%s, %zu/%zu endpoints)  %s\n", r->test->name, kp_tech_name(v->tech), v->n_tech,
             v->n_counting, v->evidence);
    else if (v->verdict == KP_VERDICT_DEGRADED)
      printf("%-19s DEGRADED (%zu/%zu reachable)  %s\n", r->test->name, v->n_ok, v->n_counting, v->evidence);
    else
      printf("%-19s OK (%zu/%zu reachable)\n", r->test->name, v->n_ok, v->n_counting);
  }
  printf("measurements: %s\n", output);
  if (!no_outbox && collector && *collector) kp_cli_upload_pending(outbox_dir, collector);
  ret = KP_EXIT_OK;
done:
  kp_probe_im_run_free(&run);
  kp_geo_close(geo);
  kp_buf_free(&file);
  kp_buf_free(&out);
  free(targets);
  return ret;
}

int kp_cmd_probe(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "im") == 0) return probe_im(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "web") == 0) return kp_cmd_probe_web(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "run") == 0) return kp_cmd_probe_run(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "reach") == 0) return kp_cmd_probe_reach(argc - 1, argv + 1);
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("usage: keepon probe im|web|run|reach [options]   ('keepon probe im --help', 'keepon probe web --help', "
           "'keepon probe run --help')\n");
    return KP_EXIT_OK;
  }
  fprintf(stderr, "usage: keepon probe im|web|run|reach [options]\n");
  return KP_EXIT_USAGE;
}
