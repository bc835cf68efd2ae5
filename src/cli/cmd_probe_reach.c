/*
 * cmd_probe_reach.c: `keepon probe reach [--list FILE] [--resolver IP] [--access-type mobile|fixed]
 * ...` (dispatched from cmd_probe.c): what stayed reachable (src/reach, docs/probe.md). One run
 * tests every entry of the list (default: the compiled-in data/domestic/kz.tsv) and writes one
 * keepon_reach measurement (the outbox first, as `probe im` does, unless --no-outbox), then
 * prints the window's class and what worked.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/file.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "msmt/msmt.h"
#include "reach/reach.h"

int kp_cmd_probe_reach(int argc, char **argv) {
  const char *list_path = NULL, *resolver = NULL, *ca_file = NULL, *output = NULL, *cc = NULL, *asn = NULL;
  const char *access = NULL, *outbox_dir = NULL;
  bool no_outbox = false;
  double timeout = 20;
  const kp_opt_t opts[] = {
    {"list", 'l', KP_OPT_STR, "FILE", "the list to test (TSV, docs/probe.md; default the compiled-in data/domestic/kz.tsv)", &list_path, 0, 0},
    {"resolver", 'r', KP_OPT_STR, "IP", "resolve names over UDP through this (domestic) resolver (default: the system's)", &resolver, 0, 0},
    {"ca-file", 0, KP_OPT_STR, "FILE", "trust these roots for the HTTPS entries (default: the system store)", &ca_file, 0, 0},
    {"timeout", 't', KP_OPT_DOUBLE, "SEC", "budget for the whole run (default 20)", &timeout, 1, 600},
    {"probe-cc", 0, KP_OPT_STR, "CC", "country of the probe (default ZZ: unknown)", &cc, 0, 0},
    {"probe-asn", 0, KP_OPT_STR, "ASN", "network of the probe, e.g. AS9198 (default AS0: unknown)", &asn, 0, 0},
    {"access-type", 0, KP_OPT_STR, "T", "the probe's access: mobile or fixed (default: --probe-asn's row of data/access/kz.tsv, else not written)", &access, 0, 0},
    {"output", 'o', KP_OPT_STR, "FILE", "also write the measurement (JSONL) here", &output, 0, 0},
    {"outbox", 0, KP_OPT_STR, "DIR", "outbox folder (default <state>/outbox)", &outbox_dir, 0, 0},
    {"no-outbox", 0, KP_OPT_FLAG, NULL, "do not keep the measurement in the outbox (then -o is required)", &no_outbox, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon probe reach [--list FILE] [--resolver IP] [--access-type mobile|fixed] [-o FILE]",
    "During a cut, test which domestic services (banks, government, domestic resolvers), foreign\n"
    "references and port holes still answer, and classify the moment: open, full_cut, whitelist\n"
    "(some domestic services up) or national_only (domestic broadly up, foreign down)."};
  char **pos = NULL;
  int npos = 0, rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  if (rc) return kp_opts_exit(rc);
  free(pos);
  int ret = KP_EXIT_USAGE;
  kp_addr_t a;
  if (npos) return fprintf(stderr, "keepon probe reach: takes no positional argument\n"), KP_EXIT_USAGE;
  if (resolver && kp_addr_parse(resolver, &a) != KP_OK)
    return fprintf(stderr, "keepon probe reach: bad --resolver '%s' (an IP address)\n", resolver), KP_EXIT_USAGE;
  if (kp_access_resolve(access, asn, &access) != KP_OK)
    return fprintf(stderr, "keepon probe reach: --access-type is mobile or fixed\n"), KP_EXIT_USAGE;
  if ((cc && !kp_msmt_valid_cc(cc)) || (asn && !kp_msmt_valid_asn(asn)))
    return fprintf(stderr, "keepon probe reach: bad --probe-cc / --probe-asn\n"), KP_EXIT_USAGE;
  if (no_outbox && !output) return fprintf(stderr, "keepon probe reach: --no-outbox needs -o FILE\n"), KP_EXIT_USAGE;
  kp_reach_list_t *l = malloc(sizeof *l);
  kp_reach_run_t *r = calloc(1, sizeof *r);
  kp_buf_t file, out;
  kp_buf_init(&file, 1 << 20);
  kp_buf_init(&out, 1 << 24);
  char err[160];
  if (!l || !r) goto done;
  const char *p;
  size_t n;
  if (list_path) {
    if (kp_file_read(list_path, &file) != KP_OK) {
      fprintf(stderr, "keepon probe reach: cannot read %s (or it is over 1 MiB)\n", list_path);
      goto done;
    }
    p = (const char *)file.data, n = file.len;
  } else {
    p = kp_reach_default_list(&n);
  }
  if (kp_reach_list_parse(p, n, l, err, sizeof err) != KP_OK) {
    fprintf(stderr, "keepon probe reach: %s: %s\n", list_path ? list_path : "default list", err);
    goto done;
  }
  signal(SIGPIPE, SIG_IGN);
  kp_reach_cfg_t cfg = {.timeout = timeout, .ca_file = ca_file, .resolver = resolver, .probe_cc = cc,
                        .probe_asn = asn, .access_type = access, .software_version = KP_VERSION};
  ret = KP_EXIT_FAIL;
  kp_status_t st = kp_reach_run(&cfg, l, kp_clock_system(), r);
  if (st == KP_OK) st = kp_reach_write(&cfg, l, r, &out);
  if (st == KP_OK) st = kp_buf_putc(&out, '\n');
  if (st != KP_OK) {
    fprintf(stderr, "keepon probe reach: %s\n", kp_strstatus(st));
    goto done;
  }
  if (!no_outbox && (ret = kp_cli_keep_in_outbox(outbox_dir, &out)) != KP_EXIT_OK) goto done;
  if (output && (st = kp_file_write_atomic(output, out.data, out.len, 0600)) != KP_OK) {
    fprintf(stderr, "keepon probe reach: cannot write %s: %s\n", output, kp_strstatus(st));
    ret = KP_EXIT_FAIL;
    goto done;
  }
  printf("%s: %zu/%zu domestic, %zu/%zu foreign, %zu/%zu port holes answered; worked:", kp_reach_class_name(r->cls),
         r->counts.dom_ok, r->counts.dom_n, r->counts.for_ok, r->counts.for_n, r->counts.port_ok, r->counts.port_n);
  for (size_t i = 0; i < l->n; i++)
    if (r->out[i].ok) printf(" %s", l->t[i].name);
  printf("\n");
  ret = KP_EXIT_OK;
done:
  if (r) kp_reach_run_free(r);
  free(r);
  free(l);
  kp_buf_free(&file);
  kp_buf_free(&out);
  return ret;
}
