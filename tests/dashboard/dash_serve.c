/*
 * dash_serve.c: `keepon serve` plus the dashboard, for the browser test while cmd_serve.c does
 * not call kp_dashboard_mount() yet (docs/dashboard.md gives the one line it needs). Same
 * server, store and collector as keepon serve; the dashboard mounted after the collector.
 * usage: test_dash_serve DB ADDR:PORT FINGERPRINT_DIR   (SIGTERM/SIGINT stop it)
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "dashboard/dashboard.h"
#include "fastpath/fastpath.h"
#include "server/server.h"
#include "store/store.h"

static volatile sig_atomic_t stop;
static void on_stop(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s DB ADDR:PORT FINGERPRINT_DIR\n", argv[0]);
    return 2;
  }
  kp_fp_db_t *fp = NULL;
  kp_store_t *store = NULL;
  kp_srv_t *srv = NULL;
  kp_collector_t *col = NULL;
  kp_dashboard_t *dash = NULL;
  int rc = 1;
  kp_srv_config_t cfg;
  kp_srv_config_defaults(&cfg);
  cfg.listen = argv[2];
  if (kp_fp_db_load_dir(argv[3], &fp) != KP_OK || kp_store_open(argv[1], &store) != KP_OK ||
      kp_srv_create(&cfg, &srv) != KP_OK || kp_collector_mount(srv, store, fp, &(kp_collector_config_t){0}, &col) != KP_OK ||
      kp_dashboard_mount(srv, store, NULL, &dash) != KP_OK) {
    fprintf(stderr, "dash_serve: setup failed\n");
    goto out;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  fprintf(stderr, "dash_serve: listening on port %u\n", kp_srv_port(srv));
  rc = kp_srv_run(srv, &stop) == KP_OK ? 0 : 1;
  kp_collector_flush(col);
out:
  kp_collector_free(col);
  kp_srv_destroy(srv);
  kp_dashboard_free(dash);
  kp_store_close(store);
  kp_fp_db_free(fp);
  return rc;
}
