/*
 * cmd_upload.c: keepon upload --collector URL
 * Deliver pending outbox records in batches over one kept-alive connection (https:// with
 * certificate checks, optionally through --proxy; exponential backoff with full jitter;
 * idempotent: the collector dedups by content hash). Exit 0 when nothing is pending afterwards,
 * 1 otherwise.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/opts.h"
#include "cli/cli.h"
#include "httpc/httpc.h"
#include "outbox/outbox.h"

int kp_cmd_upload(int argc, char **argv) {
  const char *dir = NULL, *url = getenv("KEEPON_COLLECTOR"), *prefix = getenv("KEEPON_COLLECTOR_PREFIX");
  const char *proto = "keepon";
  long attempts = 8, base = 500, cap = 60000, timeout = 10000, deadline = 0, batch = 256;
  kp_cli_httpc_t hv = {0};
  const kp_opt_t opts[] = {
    {"collector", 'c', KP_OPT_STR, "URL", "collector base URL, https://NAME[:PORT] (default $KEEPON_COLLECTOR)", &url, 0, 0},
    {"protocol", 0, KP_OPT_STR, "P", "keepon (signed records, default) or ooni (OONI's collector protocol; also ooni+https:// URLs)", &proto, 0, 0},
    {"path-prefix", 0, KP_OPT_STR, "PATH", "collector route prefix (default /api/v1/keepon; a front may map any path)", &prefix, 0, 0},
    {"outbox", 0, KP_OPT_STR, "DIR", "outbox folder (default <state>/outbox)", &dir, 0, 0},
    {"batch", 0, KP_OPT_INT, "N", "records per request (default 256; 1 = one request per record)", &batch, 1, 1024},
    {"max-attempts", 0, KP_OPT_INT, "N", "attempts per batch before giving up this run (default 8)", &attempts, 1, 1000000},
    {"base-delay-ms", 0, KP_OPT_INT, "MS", "first backoff (default 500)", &base, 1, 3600000},
    {"max-delay-ms", 0, KP_OPT_INT, "MS", "largest backoff (default 60000)", &cap, 1, 86400000},
    {"timeout-ms", 0, KP_OPT_INT, "MS", "per-request timeout (default 10000)", &timeout, 100, 600000},
    {"deadline", 0, KP_OPT_INT, "S", "stop retrying after S seconds (default 0 = no limit)", &deadline, 0, 86400 * 7},
    KP_CLI_HTTPC_OPTS(&hv),
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon upload --collector URL [options]",
    "Deliver the outbox's pending measurements to a collector, in order, in batches over one\n"
    "kept-alive HTTPS connection, retrying with exponential backoff and jitter. Safe to repeat:\n"
    "the collector stores each measurement once. Use https:// (http:// shows everything to the\n"
    "network) and, where the collector is blocked, --proxy socks5h://... (e.g. Tor)."};
  char **pos = NULL;
  int npos = 0, rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  free(pos);
  if (rc) return kp_opts_exit(rc);
  bool ooni = strcmp(proto, "ooni") == 0;
  if (url && strncmp(url, "ooni+", 5) == 0) ooni = true, url += 5;
  if (!ooni && strcmp(proto, "keepon") != 0) {
    fprintf(stderr, "keepon upload: --protocol is keepon or ooni\n");
    return KP_EXIT_USAGE;
  }
  if (!url || !*url || npos || (strncmp(url, "http://", 7) != 0 && !kp_httpc_is_https(url))) {
    fprintf(stderr, "usage: %s\nneeds --collector https://NAME[:PORT] (or http://)\n", help.usage);
    return KP_EXIT_USAGE;
  }
  if (!kp_httpc_is_https(url))
    fprintf(stderr, "keepon upload: warning: %s is plain HTTP: the network sees every measurement\n", url);
  char dbuf[4096];
  if (!dir) {
    const char *state = kp_cli_state_dir();
    if (!state) return KP_EXIT_FAIL;
    snprintf(dbuf, sizeof dbuf, "%s/outbox", state);
    dir = dbuf;
  }
  kp_httpc_t *http = kp_cli_httpc_new(&hv, (int)(timeout < 10000 ? timeout : 10000), (int)timeout, 0);
  if (!http) return KP_EXIT_USAGE;
  kp_cli_privacy_notice();
  kp_outbox_t *ob = NULL;
  kp_status_t st = kp_outbox_open(dir, &ob);
  if (st != KP_OK) {
    fprintf(stderr, "keepon upload: cannot open %s: %s\n", dir, kp_strstatus(st));
    kp_httpc_free(http);
    return KP_EXIT_FAIL;
  }
  kp_upload_cfg_t cfg = {.url = url, .path_prefix = prefix, .http = http, .batch = (int)batch,
                         .max_attempts = (int)attempts, .base_delay_ms = (int)base, .max_delay_ms = (int)cap,
                         .timeout_ms = (int)timeout, .deadline_ms = deadline * 1000};
  kp_upload_stats_t s;
  st = ooni ? kp_outbox_upload_ooni(ob, &cfg, &s) : kp_outbox_upload(ob, &cfg, &s);
  fprintf(stderr, "keepon upload: %zu delivered (%zu already there), %zu refused, %zu pending, %zu attempts\n",
          s.delivered, s.duplicates, s.rejected, s.remaining, s.attempts);
  kp_outbox_close(ob);
  kp_httpc_free(http);
  return st == KP_OK ? KP_EXIT_OK : KP_EXIT_FAIL;
}
