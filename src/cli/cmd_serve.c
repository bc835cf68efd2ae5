/*
 * cmd_serve.c: keepon serve --db PATH --listen ADDR:PORT
 * The collector (OONI protocol + keepon signed uploads), query API and signals API on one
 * epoll thread with group-committed SQLite writes (docs/serve.md). SIGINT/SIGTERM stop it
 * cleanly; kill -9 loses nothing that was acknowledged.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/log.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "fastpath/fastpath.h"
#include "server/server.h"
#include "dashboard/dashboard.h"
#include "store/store.h"

static volatile sig_atomic_t serve_stop;
static void on_stop(int sig) {
  (void)sig;
  serve_stop = 1;
}

int kp_cmd_serve(int argc, char **argv) {
  const char *db = NULL, *listen_at = "127.0.0.1:8080", *fpdir = NULL;
  const char *ps_th = NULL, *ps_list = NULL, *ps_public = NULL; /* OONI probe services */
  long max_conns = 512, max_body_kib = 8192, batch = 512, head_to = 10, body_to = 30;
  const kp_opt_t opts[] = {
    {"db", 0, KP_OPT_STR, "PATH", "SQLite database (created if missing; required)", &db, 0, 0},
    {"listen", 0, KP_OPT_STR, "ADDR:PORT", "address to listen on (default 127.0.0.1:8080; port 0 = any)", &listen_at, 0, 0},
    {"max-conns", 0, KP_OPT_INT, "N", "concurrent connections; more get 503 (default 512)", &max_conns, 1, 100000},
    {"max-body-kib", 0, KP_OPT_INT, "KIB", "largest request body (default 8192 KiB)", &max_body_kib, 1, 1 << 20},
    {"batch", 0, KP_OPT_INT, "N", "most measurements per group commit (default 512)", &batch, 1, 100000},
    {"head-timeout", 0, KP_OPT_INT, "S", "seconds to receive a request head (default 10)", &head_to, 1, 3600},
    {"body-timeout", 0, KP_OPT_INT, "S", "seconds to receive a request body (default 30)", &body_to, 1, 3600},
    {"test-helpers", 0, KP_OPT_STR, "URLS", "comma-separated web_connectivity helper URLs handed to OONI Probes (check-in)", &ps_th, 0, 0},
    {"test-list", 0, KP_OPT_STR, "FILE", "\"url[,category]\" lines handed to OONI Probes (check-in, test-list/urls)", &ps_list, 0, 0},
    {"public-url", 0, KP_OPT_STR, "URL", "this collector as probes reach it (GET /api/v1/collectors)", &ps_public, 0, 0},
    {"fingerprints", 0, KP_OPT_STR, "DIR", "OONI fingerprint tables (default <data>/fingerprints)", &fpdir, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon serve --db PATH [--listen ADDR:PORT] [options]",
    "Run the collector: OONI's POST /report, /report/{id}, /report/{id}/close; keepon's signed\n"
    "POST /api/v1/keepon/submit; GET /api/v1/measurements, /api/v1/aggregation (JSON or CSV);\n"
    "POST /api/v1/signals and GET /api/v1/signals/raw/{type}/{code}. Every stored measurement gets\n"
    "OONI-fastpath flags. A 2xx is sent only once the measurement is durable."};
  char **pos = NULL;
  int npos = 0, rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  free(pos);
  if (rc) return kp_opts_exit(rc);
  if (!db || npos) {
    fprintf(stderr, "usage: %s\n--db is required\n", help.usage);
    return KP_EXIT_USAGE;
  }
  char host[64];
  uint16_t port;
  kp_addr_t addr;
  if (kp_hostport_parse(listen_at, host, sizeof host, &port) != KP_OK || kp_addr_parse(host, &addr) != KP_OK) {
    fprintf(stderr, "keepon serve: --listen wants ADDR:PORT with a literal address (e.g. 127.0.0.1:8080), got '%s'\n",
            listen_at);
    return KP_EXIT_USAGE; /* checked before the database is created */
  }
  char fpbuf[4096];
  if (!fpdir) {
    snprintf(fpbuf, sizeof fpbuf, "%s/fingerprints", kp_cli_data_dir());
    fpdir = fpbuf;
  }
  kp_fp_db_t *fp = NULL;
  if (kp_fp_db_load_dir(fpdir, &fp) != KP_OK) {
    fprintf(stderr, "keepon serve: cannot load fingerprints from %s (needed for 'confirmed')\n", fpdir);
    return KP_EXIT_USAGE;
  }
  kp_srv_config_t cfg;
  kp_srv_config_defaults(&cfg);
  cfg.listen = listen_at;
  cfg.max_conns = (size_t)max_conns;
  cfg.max_body = (size_t)max_body_kib * 1024;
  cfg.head_timeout_ms = (int)head_to * 1000;
  cfg.body_timeout_ms = (int)body_to * 1000;
  kp_store_t *store = NULL;
  kp_srv_t *srv = NULL;
  kp_collector_t *col = NULL;
  kp_ps_t *ps = NULL;
  kp_dashboard_t *dash = NULL;
  int ret = KP_EXIT_FAIL;
  kp_status_t st = kp_store_open(db, &store);
  if (st != KP_OK) {
    fprintf(stderr, "keepon serve: cannot open %s: %s\n", db, kp_strstatus(st));
    goto out;
  }
  if ((st = kp_srv_create(&cfg, &srv)) != KP_OK) {
    fprintf(stderr, "keepon serve: cannot listen on %s: %s\n", listen_at, kp_strstatus(st));
    ret = st == KP_ERR_INVAL ? KP_EXIT_USAGE : KP_EXIT_FAIL;
    goto out;
  }
  kp_collector_config_t cc = {.max_batch = (size_t)batch};
  if ((st = kp_collector_mount(srv, store, fp, &cc, &col)) != KP_OK) goto out;
  char thbuf[4096], *th[16];
  size_t nth = 0;
  snprintf(thbuf, sizeof thbuf, "%s", ps_th ? ps_th : "");
  for (char *sv = NULL, *t = strtok_r(thbuf, ",", &sv); t && nth < 16; t = strtok_r(NULL, ",", &sv)) th[nth++] = t;
  kp_ps_config_t psc = {.th = (const char *const *)th, .nth = nth, .public_url = ps_public, .test_list = ps_list};
  if ((st = kp_ps_mount(srv, &psc, &ps)) != KP_OK) {
    fprintf(stderr, "keepon serve: probe services: %s%s\n", kp_strstatus(st), ps_list ? " (--test-list readable?)" : "");
    goto out;
  }
  /* the dashboard keeps posted incidents next to the database */
  char dbdir[4096];
  snprintf(dbdir, sizeof dbdir, "%s", db);
  char *slash = strrchr(dbdir, '/');
  if (slash) *slash = 0;
  else snprintf(dbdir, sizeof dbdir, ".");
  if ((st = kp_dashboard_mount(srv, store, dbdir[0] ? dbdir : "/", &dash)) != KP_OK) {
    fprintf(stderr, "keepon serve: cannot mount the dashboard: %s\n", kp_strstatus(st));
    goto out;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  fprintf(stderr, "keepon serve: listening on %s port %u (db %s, schema v%d, %zu fingerprints)\n", listen_at,
          kp_srv_port(srv), db, kp_store_schema_version(store), kp_fp_db_count(fp));
  fflush(stderr);
  st = kp_srv_run(srv, &serve_stop);
  kp_collector_flush(col);
  ret = st == KP_OK ? KP_EXIT_OK : KP_EXIT_FAIL;
out:
  kp_collector_free(col);
  kp_ps_free(ps);
  kp_srv_destroy(srv);
  kp_dashboard_free(dash);
  kp_store_close(store);
  kp_fp_db_free(fp);
  return ret;
}
