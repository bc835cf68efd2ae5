/*
 * cmd_helper.c: `keepon helper --listen ADDR:PORT`: a Web Connectivity test
 * helper speaking OONI's oohelperd protocol (POST / with the control request,
 * GET / as a health check). It measures from its own vantage; run it where
 * the network is not censored.
 *
 * Destinations: the helper never connects to a non-public address or one of
 * its own (webconn.h, kp_wc_dest_refuse); --allow-net exempts reserved test
 * ranges (the netns lab) and is never on by default. --geo-table/--asn-mmdb
 * fill ip_info.<ip>.asn.
 *
 * Options are validated (and the socket bound) before anything is served, so
 * bad input exits 2 and a busy port exits 1. SIGINT/SIGTERM stop it cleanly:
 * requests in flight finish (each is bounded by its timeouts).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/opts.h"
#include "cli/cli.h"
#include "geo/geo.h"
#include "webconn/webconn.h"

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

int kp_cmd_helper(int argc, char **argv) {
  const char *listen_on = NULL, *ca_file = NULL, *allow_net = NULL, *geo_table = NULL, *asn_mmdb = NULL;
  bool lab = false;
  long inflight = 50, per_client = 0, max_body_mib = 16;
  double step = 10, total = 30;
  const kp_opt_t opts[] = {
    {"listen", 'l', KP_OPT_STR, "ADDR:PORT", "address to listen on, e.g. 127.0.0.1:8080 or [::1]:8080 (required)",
     &listen_on, 0, 0},
    {"lab", 0, KP_OPT_FLAG, NULL,
     "ip_info does not flag 198.18.0.0/15 and 2001:db8::/32 as bogons (the netns lab; OONI does)", &lab, 0, 0},
    {"allow-net", 0, KP_OPT_STR, "PREFIX[,PREFIX]",
     "TEST ONLY: also connect to these reserved/private prefixes (e.g. the lab's 198.18.0.0/15); loopback, "
     "link-local, multicast and the helper's own addresses stay refused", &allow_net, 0, 0},
    {"geo-table", 0, KP_OPT_STR, "FILE", "keepon geo table (prefix,cc,region,asn,as_name) for ip_info.asn",
     &geo_table, 0, 0},
    {"asn-mmdb", 0, KP_OPT_STR, "FILE", "MaxMind-format ASN database (or ip-location-db ASN CSV) for ip_info.asn",
     &asn_mmdb, 0, 0},
    {"ca-file", 0, KP_OPT_STR, "FILE", "trust these CA certificates instead of the system store", &ca_file, 0, 0},
    {"max-inflight", 0, KP_OPT_INT, "N", "requests measured at once; more are answered 503 (default 50)", &inflight,
     1, 4096},
    {"max-per-client", 0, KP_OPT_INT, "N", "of those, per client address / IPv6 /64 (default max-inflight/5)",
     &per_client, 1, 4096},
    {"max-request-mib", 0, KP_OPT_INT, "N", "largest request body in MiB; more is answered 413 (default 16)",
     &max_body_mib, 1, 64},
    {"step-timeout", 0, KP_OPT_DOUBLE, "S", "timeout of each DNS/TCP/TLS/HTTP step in seconds (default 10)", &step,
     0.1, 120},
    {"timeout", 0, KP_OPT_DOUBLE, "S", "budget of one request in seconds (default 30)", &total, 1, 600},
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon helper --listen ADDR:PORT [options]",
    "Runs a Web Connectivity test helper (OONI's oohelperd protocol): for each POSTed control request it "
    "resolves the URL's host, connects (and TLS-handshakes) to every address the probe and it found, fetches "
    "the URL following redirects, and answers dns/tcp_connect/tls_handshake/http_request/ip_info.",
  };
  char *pos[8];
  int npos = 0;
  if (argc > 64) {
    fprintf(stderr, "keepon helper: too many arguments\n");
    return KP_EXIT_USAGE;
  }
  int rc = kp_opts_parse(&help, opts, argc, argv, pos, &npos);
  if (rc == 1) return KP_EXIT_OK;
  if (rc != 0) return KP_EXIT_USAGE;
  if (npos) {
    fprintf(stderr, "keepon helper: unexpected argument '%s'\n", pos[0]);
    return KP_EXIT_USAGE;
  }
  if (!listen_on) {
    fprintf(stderr, "keepon helper: --listen ADDR:PORT is required\n");
    return KP_EXIT_USAGE;
  }
  if (ca_file) {
    FILE *f = fopen(ca_file, "r");
    if (!f) {
      fprintf(stderr, "keepon helper: cannot read --ca-file %s\n", ca_file);
      return KP_EXIT_USAGE;
    }
    fclose(f);
  }
  kp_wc_th_cfg_t cfg = {.opts = {.lab = lab}, .ca_file = ca_file, .step_timeout = step, .total_timeout = total,
                        .max_inflight = (size_t)inflight, .max_per_client = (size_t)per_client,
                        .max_request = (size_t)max_body_mib << 20};
  if (allow_net && kp_wc_dest_allow_parse(allow_net, &cfg.dest) != KP_OK) {
    fprintf(stderr, "keepon helper: --allow-net wants up to %d prefixes that touch no loopback, link-local, "
            "multicast or unspecified range, got '%s'\n", KP_WC_DEST_MAX_ALLOW, allow_net);
    return KP_EXIT_USAGE;
  }
  kp_geo_t *geo = NULL;
  if (geo_table || asn_mmdb) {
    kp_geo_config_t gc = {.table = geo_table, .asn_mmdb = asn_mmdb};
    if (kp_geo_open(&gc, &geo) != KP_OK) {
      fprintf(stderr, "keepon helper: cannot open --geo-table/--asn-mmdb\n");
      return KP_EXIT_USAGE;
    }
    cfg.geo = geo;
  }
  kp_wc_th_server_t *srv = NULL;
  kp_status_t st = kp_wc_th_server_new(&cfg, listen_on, &srv);
  if (st != KP_OK) kp_geo_close(geo);
  if (st == KP_ERR_INVAL) {
    fprintf(stderr, "keepon helper: --listen wants a literal ADDR:PORT, got '%s'\n", listen_on);
    return KP_EXIT_USAGE;
  }
  if (st != KP_OK) {
    fprintf(stderr, "keepon helper: cannot listen on %s: %s\n", listen_on, kp_strstatus(st));
    return KP_EXIT_FAIL;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  fprintf(stderr, "keepon helper: listening on port %u%s\n", (unsigned)kp_wc_th_server_port(srv),
          allow_net ? " (--allow-net: test ranges reachable)" : "");
  st = kp_wc_th_server_run(srv, &g_stop);
  kp_wc_th_server_free(srv);
  kp_geo_close(geo);
  return st == KP_OK ? KP_EXIT_OK : KP_EXIT_FAIL;
}
