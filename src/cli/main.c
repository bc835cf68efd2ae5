/*
 * main.c: the keepon command dispatcher. The table below is the only registry
 * of commands; `keepon --help` is generated from it.
 */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli/cli.h"

#ifndef KP_VERSION
#define KP_VERSION "0.0.0"
#endif

static const kp_cmd_t commands[] = {
  {"probe", kp_cmd_probe, "measure reachability from inside: 'probe im', 'probe web'"},
  {"analyze", kp_cmd_analyze, "add keepon's verdict and technique to OONI measurements (JSON / JSONL files)"},
  {"locate", kp_cmd_locate, "find where the probe is: country, network, resolver (never prints the IP unless asked)"},
  {"helper", kp_cmd_helper, "run a Web Connectivity test helper (control vantage)"},
  {"serve", kp_cmd_serve, "run the collector, query API and dashboard"},
  {"upload", kp_cmd_upload, "deliver pending outbox records to a collector"},
  {"outbox", kp_cmd_outbox, "list the measurements waiting in the outbox"},
  {"verify", kp_cmd_verify, "check signatures and hash chains of an outbox or a server"},
  {"evidence", kp_cmd_evidence, "one verifiable archive per incident: signed records, signals, custody, RFC 3161 time-stamp"},
  {"census", kp_cmd_census, "find each /24 block's responsive addresses"},
  {"watch", kp_cmd_watch, "Trinocular-style adaptive probing of /24 blocks"},
  {"bgp", kp_cmd_bgp, "parse MRT files: 'bgp dump', 'bgp visibility'"},
  {"detect", kp_cmd_detect, "find outages and blocking in signals; join them into incidents"},
  {"report", kp_cmd_report, "write a self-contained incident report or exports"},
  {"lab", kp_cmd_lab, "the network-namespace censorship lab: up, down, status, censor"},
  {"demo", kp_cmd_demo, "replay a documented shutdown in the lab (kz2022)"},
  {"remote", kp_cmd_remote, "measure from outside: 'remote dns' (Satellite), 'remote http' (Hyperquack)"},
};

static void usage(FILE *f) {
  fprintf(f, "keepon %s: an open internet-shutdown observatory\n\nusage: keepon [-v] COMMAND [options]\n\ncommands:\n",
          KP_VERSION);
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n'keepon COMMAND --help' describes a command. -v/-vv: more logging.\n");
}

int main(int argc, char **argv) {
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "-v") == 0) kp_log_set_level(KP_LOG_INFO);
    else if (strcmp(argv[i], "-vv") == 0) kp_log_set_level(KP_LOG_DEBUG);
    else if (strcmp(argv[i], "--version") == 0) {
      printf("keepon %s\n", KP_VERSION);
      return 0;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "keepon: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return KP_EXIT_USAGE;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return KP_EXIT_USAGE;
  }
  for (size_t c = 0; c < sizeof commands / sizeof *commands; c++)
    if (strcmp(argv[i], commands[c].name) == 0) return commands[c].fn(argc - i, argv + i);
  fprintf(stderr, "keepon: unknown command '%s'\n\n", argv[i]);
  usage(stderr);
  return KP_EXIT_USAGE;
}
