/*
 * cmd_evidence.c: keepon evidence bundle INCIDENT
 * One self-contained archive per incident (layout: src/evidence/evidence.h, docs/evidence.md):
 * the signed records and signal points behind it, custody, method, a summary, a SHA-256
 * manifest and an RFC 3161 time-stamp on it. Check it with `keepon verify bundle FILE`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/opts.h"
#include "cli/cli.h"
#include "evidence/evidence.h"
#include "httpc/httpc.h"

#ifndef KP_VERSION
#define KP_VERSION "0.0.0"
#endif

int kp_cmd_evidence(int argc, char **argv) {
  kp_ev_bundle_cfg_t c = {.software = "keepon " KP_VERSION};
  long margin = 21600, timeout_ms = 10000;
  kp_cli_httpc_t hv = {0};
  const kp_opt_t opts[] = {
    {"incidents", 'i', KP_OPT_STR, "FILE", "incidents JSON from keepon detect (one object or an array)", &c.incidents_path, 0, 0},
    {"db", 0, KP_OPT_STR, "PATH", "collector store to read records, custody and signals from", &c.store_path, 0, 0},
    {"records", 0, KP_OPT_STR, "FILE", "or: record lines (a chain.log or a collector export)", &c.records_path, 0, 0},
    {"signals", 0, KP_OPT_STR, "FILE", "and: signal points, JSON Lines", &c.signals_path, 0, 0},
    {"collector", 0, KP_OPT_STR, "NAME", "custody: the collector that verified the records on ingest", &c.collector, 0, 0},
    {"tsa", 0, KP_OPT_STR, "URL", "RFC 3161 time-stamping authority (https://host[:port]/path or http://)", &c.tsa_url, 0, 0},
    {"tsa-ca", 0, KP_OPT_STR, "FILE", "the TSA's CA certificate (PEM)", &c.tsa_ca_path, 0, 0},
    {"output", 'o', KP_OPT_STR, "FILE", "the archive to write (default <incident>.tar)", &c.out_path, 0, 0},
    {"margin", 0, KP_OPT_INT, "S", "seconds of context before and after the incident (default 21600)", &margin, 0, 30 * 86400},
    {"timeout-ms", 0, KP_OPT_INT, "MS", "TSA request timeout (default 10000)", &timeout_ms, 1, 600000},
    KP_CLI_HTTPC_OPTS(&hv), /* the TSA request goes through the control-plane client */
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon evidence bundle INCIDENT --incidents FILE (--db PATH | --records FILE [--signals FILE]) --tsa URL --tsa-ca FILE [options]",
    "Write one archive with everything behind an incident: the signed measurements (whole chains\n"
    "of each probe key involved), the signal points, a custody log, the method and software\n"
    "version, a plain-language summary, a SHA-256 manifest and an RFC 3161 time-stamp on it."};
  char **pos = NULL;
  int npos = 0, rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  if (rc) return kp_opts_exit(rc);
  int ret = KP_EXIT_OK;
  if (npos != 2 || strcmp(pos[0], "bundle") != 0 || !c.incidents_path || !c.tsa_url || !c.tsa_ca_path ||
      (!c.store_path == !c.records_path)) {
    fprintf(stderr, "usage: %s\n", help.usage);
    free(pos);
    return KP_EXIT_USAGE;
  }
  c.incident_id = pos[1];
  c.margin_s = margin;
  c.timeout_ms = (int)timeout_ms;
  char out[4096];
  if (!c.out_path) {
    snprintf(out, sizeof out, "%s.tar", pos[1]);
    for (char *p = out; *p; p++)
      if (*p == '/') *p = '_';
    c.out_path = out;
  }
  c.http = kp_cli_httpc_new(&hv, 0, (int)timeout_ms, (size_t)1 << 20);
  if (!c.http) {
    free(pos);
    return KP_EXIT_USAGE;
  }
  kp_ev_bundle_info_t info;
  char why[512];
  kp_status_t st = kp_ev_bundle(&c, &info, why, sizeof why);
  kp_httpc_free(c.http);
  if (st != KP_OK) {
    fprintf(stderr, "keepon evidence bundle: %s\n", why[0] ? why : kp_strstatus(st));
    ret = st == KP_ERR_INVAL || st == KP_ERR_NOTFOUND ? KP_EXIT_USAGE : KP_EXIT_FAIL;
  } else {
    printf("%s: incident %s, %zu records of %zu key(s) (%zu in the window), %zu signal points, time-stamped %s\n",
           c.out_path, info.id, info.records, info.keys, info.in_window, info.signals, info.ts_time);
  }
  free(pos);
  return ret;
}
