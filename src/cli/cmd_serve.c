/*
 * cmd_serve.c: keepon serve --db PATH --listen ADDR:PORT
 * The collector (OONI protocol + keepon signed uploads), query API and signals API on one
 * epoll thread with group-committed SQLite writes (docs/serve.md). SIGINT/SIGTERM stop it
 * cleanly; kill -9 loses nothing that was acknowledged. SIGHUP reloads --tls-cert/--tls-key.
 * Writes other than uploads need the token of --admin-token-file (or $KEEPON_ADMIN_TOKEN_FILE).
 */
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/file.h"
#include "base/log.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "fastpath/fastpath.h"
#include "server/server.h"
#include "dashboard/dashboard.h"
#include "store/store.h"

static volatile sig_atomic_t serve_stop, serve_reload;
static void on_stop(int sig) {
  (void)sig;
  serve_stop = 1;
}
static void on_hup(int sig) {
  (void)sig;
  serve_reload = 1;
}

/* the token: the file's first line, surrounding white space dropped; at least 16 bytes */
static int read_token(const char *path, kp_buf_t *tok) {
  struct stat sb;
  if (kp_file_read(path, tok) != KP_OK) {
    fprintf(stderr, "keepon serve: cannot read the admin token file %s\n", path);
    return -1;
  }
  if (stat(path, &sb) == 0 && (sb.st_mode & 077))
    fprintf(stderr, "keepon serve: warning: %s is readable by other users (chmod 600 it)\n", path);
  char *t = (char *)tok->data;
  size_t n = tok->len, a = 0;
  while (a < n && (t[a] == ' ' || t[a] == '\t')) a++;
  size_t e = a;
  while (e < n && t[e] != '\n' && t[e] != '\r') e++;
  while (e > a && (t[e - 1] == ' ' || t[e - 1] == '\t')) e--;
  if (e - a < 16) {
    fprintf(stderr, "keepon serve: the admin token in %s must be at least 16 characters\n", path);
    return -1;
  }
  memmove(t, t + a, e - a);
  t[e - a] = 0;
  return 0;
}

int kp_cmd_serve(int argc, char **argv) {
  const char *db = NULL, *listen_at = "127.0.0.1:8080", *fpdir = NULL, *token_file = NULL, *hosts = NULL;
  const char *tls_cert = NULL, *tls_key = NULL, *trusted_keys = NULL, *kprefix = NULL;
  const char *ps_th = NULL, *ps_list = NULL, *ps_public = NULL; /* OONI probe services */
  long max_conns = 512, max_body_kib = 8192, batch = 8192, head_to = 10, body_to = 30, per_addr = 32;
  const kp_opt_t opts[] = {
    {"db", 0, KP_OPT_STR, "PATH", "SQLite database (created if missing); --db or --store is required", &db, 0, 0},
    {"store", 0, KP_OPT_STR, "URL", "sqlite:PATH or clickhouse://HOST:PORT[,HOST:PORT]/DB[?cluster=NAME] (docs/store.md)", &db, 0, 0},
    {"listen", 0, KP_OPT_STR, "ADDR:PORT", "address to listen on (default 127.0.0.1:8080; port 0 = any)", &listen_at, 0, 0},
    {"max-conns", 0, KP_OPT_INT, "N", "concurrent connections; more get 503 (default 512)", &max_conns, 1, 100000},
    {"max-body-kib", 0, KP_OPT_INT, "KIB", "largest request body (default 8192 KiB)", &max_body_kib, 1, 1 << 20},
    {"batch", 0, KP_OPT_INT, "N", "most measurements per group commit (default 8192; one commits while the next gathers)", &batch, 1, 100000},
    {"head-timeout", 0, KP_OPT_INT, "S", "seconds to receive a request head (default 10)", &head_to, 1, 3600},
    {"body-timeout", 0, KP_OPT_INT, "S", "seconds to receive a request body (default 30)", &body_to, 1, 3600},
    {"test-helpers", 0, KP_OPT_STR, "URLS", "comma-separated web_connectivity helper URLs handed to OONI Probes (check-in)", &ps_th, 0, 0},
    {"test-list", 0, KP_OPT_STR, "FILE", "\"url[,category]\" lines handed to OONI Probes (check-in, test-list/urls)", &ps_list, 0, 0},
    {"public-url", 0, KP_OPT_STR, "URL", "this collector as probes reach it (GET /api/v1/collectors)", &ps_public, 0, 0},
    {"fingerprints", 0, KP_OPT_STR, "DIR", "OONI fingerprint tables (default <data>/fingerprints)", &fpdir, 0, 0},
    {"max-conns-per-addr", 0, KP_OPT_INT, "N", "connections from one address (IPv6: one /64; default 32)", &per_addr, 1, 100000},
    {"admin-token-file", 0, KP_OPT_STR, "PATH", "token for writes other than uploads (Authorization: Bearer);\n"
     "without it those writes are refused (default $KEEPON_ADMIN_TOKEN_FILE)", &token_file, 0, 0},
    {"allowed-hosts", 0, KP_OPT_STR, "LIST", "Host names answered, comma-separated, '*' = any (default: loopback\n"
     "names when listening on loopback, else any)", &hosts, 0, 0},
    {"tls-cert", 0, KP_OPT_STR, "PEM", "serve HTTPS with this certificate chain (with --tls-key; SIGHUP reloads)", &tls_cert, 0, 0},
    {"tls-key", 0, KP_OPT_STR, "PEM", "private key of --tls-cert", &tls_key, 0, 0},
    {"trusted-keys", 0, KP_OPT_STR, "FILE", "accept keepon records only from these key ids (one a line)", &trusted_keys, 0, 0},
    {"path-prefix", 0, KP_OPT_STR, "PATH", "serve keepon's upload routes under PATH (e.g. /v1) instead of\n"
     "/api/v1/keepon, which then answers 404 (upload/verify --path-prefix PATH)", &kprefix, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon serve --db PATH | --store URL [--listen ADDR:PORT] [options]",
    "Run the collector: OONI's POST /report, /report/{id}, /report/{id}/close; keepon's signed\n"
    "POST /api/v1/keepon/submit; GET /api/v1/measurements, /api/v1/aggregation (JSON or CSV);\n"
    "POST /api/v1/signals and GET /api/v1/signals/raw/{type}/{code}. Every stored measurement gets\n"
    "OONI-fastpath flags. A 2xx is sent only once the measurement is durable."};
  char **pos = NULL;
  int npos = 0, rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  free(pos);
  if (rc) return kp_opts_exit(rc);
  if (!db || npos) {
    fprintf(stderr, "usage: %s\n--db or --store is required\n", help.usage);
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
  if (!tls_cert != !tls_key) {
    fprintf(stderr, "keepon serve: --tls-cert and --tls-key go together\n");
    return KP_EXIT_USAGE;
  }
  if (!token_file) token_file = getenv("KEEPON_ADMIN_TOKEN_FILE");
  kp_buf_t token;
  kp_buf_init(&token, 4096);
  if (token_file && *token_file && read_token(token_file, &token) != 0) {
    kp_buf_free(&token);
    return KP_EXIT_USAGE;
  }
  char fpbuf[4096];
  if (!fpdir) {
    snprintf(fpbuf, sizeof fpbuf, "%s/fingerprints", kp_cli_data_dir());
    fpdir = fpbuf;
  }
  kp_fp_db_t *fp = NULL;
  if (kp_fp_db_load_dir(fpdir, &fp) != KP_OK) {
    fprintf(stderr, "keepon serve: cannot load fingerprints from %s (needed for 'confirmed')\n", fpdir);
    kp_buf_free(&token);
    return KP_EXIT_USAGE;
  }
  kp_srv_config_t cfg;
  kp_srv_config_defaults(&cfg);
  cfg.listen = listen_at;
  cfg.max_conns = (size_t)max_conns;
  cfg.max_body = (size_t)max_body_kib * 1024;
  cfg.head_timeout_ms = (int)head_to * 1000;
  cfg.body_timeout_ms = (int)body_to * 1000;
  cfg.max_conns_per_addr = (size_t)per_addr;
  cfg.admin_token = token.len ? kp_buf_str(&token) : NULL;
  cfg.allowed_hosts = hosts;
  cfg.tls_cert = tls_cert;
  cfg.tls_key = tls_key;
  kp_store_t *store = NULL, *commit_store = NULL; /* commit_store: the collector's commit thread's own */
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
  if ((st = kp_store_open(db, &commit_store)) != KP_OK) {
    fprintf(stderr, "keepon serve: cannot open %s a second time: %s\n", db, kp_strstatus(st));
    goto out;
  }
  if ((st = kp_srv_create(&cfg, &srv)) != KP_OK) {
    fprintf(stderr, "keepon serve: cannot listen on %s: %s\n", listen_at, kp_strstatus(st));
    ret = st == KP_ERR_INVAL ? KP_EXIT_USAGE : KP_EXIT_FAIL;
    goto out;
  }
  kp_collector_config_t cc = {.max_batch = (size_t)batch, .trusted_keys = trusted_keys, .keepon_prefix = kprefix,
                             .commit_store = commit_store};
  if ((st = kp_collector_mount(srv, store, fp, &cc, &col)) != KP_OK) {
    if (st == KP_ERR_INVAL)
      fprintf(stderr, "keepon serve: bad --path-prefix '%s' or --trusted-keys file\n", kprefix ? kprefix : "");
    ret = st == KP_ERR_INVAL ? KP_EXIT_USAGE : KP_EXIT_FAIL;
    goto out;
  }
  char thbuf[4096], *th[16];
  size_t nth = 0;
  snprintf(thbuf, sizeof thbuf, "%s", ps_th ? ps_th : "");
  for (char *sv = NULL, *t = strtok_r(thbuf, ",", &sv); t && nth < 16; t = strtok_r(NULL, ",", &sv)) th[nth++] = t;
  kp_ps_config_t psc = {.th = (const char *const *)th, .nth = nth, .public_url = ps_public, .test_list = ps_list};
  if ((st = kp_ps_mount(srv, &psc, &ps)) != KP_OK) {
    fprintf(stderr, "keepon serve: probe services: %s%s\n", kp_strstatus(st), ps_list ? " (--test-list readable?)" : "");
    goto out;
  }
  /* the dashboard keeps posted incidents next to the database (a ClickHouse store: in
   * keepon's state folder) */
  char dbdir[4096];
  bool ch = strncmp(db, "clickhouse://", 13) == 0;
  snprintf(dbdir, sizeof dbdir, "%s", ch ? kp_cli_state_dir() : strncmp(db, "sqlite:", 7) ? db : db + 7);
  char *slash = ch ? NULL : strrchr(dbdir, '/');
  if (slash) *slash = 0;
  else if (!ch) snprintf(dbdir, sizeof dbdir, ".");
  if ((st = kp_dashboard_mount(srv, store, dbdir[0] ? dbdir : "/", &dash)) != KP_OK) {
    fprintf(stderr, "keepon serve: cannot mount the dashboard: %s\n", kp_strstatus(st));
    goto out;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = on_hup;
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  kp_srv_watch_reload(srv, &serve_reload);
  fprintf(stderr, "keepon serve: listening on %s port %u%s (db %s, schema v%d, %zu fingerprints; writes %s)\n",
          listen_at, kp_srv_port(srv), tls_cert ? " https" : "", db, kp_store_schema_version(store),
          kp_fp_db_count(fp), token.len ? "need the admin token" : "disabled except uploads");
  fflush(stderr);
  st = kp_srv_run(srv, &serve_stop);
  kp_collector_flush(col);
  ret = st == KP_OK ? KP_EXIT_OK : KP_EXIT_FAIL;
out:
  kp_collector_free(col);
  kp_store_close(commit_store);
  kp_ps_free(ps);
  kp_srv_destroy(srv);
  kp_dashboard_free(dash);
  kp_store_close(store);
  kp_fp_db_free(fp);
  kp_buf_free(&token);
  return ret;
}
