/*
 * cmd_remote.c: `keepon remote dns` / `http` / `scan` (thin: options, files, the library
 * src/remote, output). Measurements go to --out (JSONL), summaries to stdout, signals to
 * --signals. Exit 0 when the run completed (blocked targets are results), 2 on bad input.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "geo/geo.h"
#include "remote/remote.h"

#ifndef KP_VERSION
#define KP_VERSION "0"
#endif

static int read_or_die(const char *what, const char *path, kp_buf_t *b) {
  kp_buf_init(b, (size_t)256 << 20);
  if (kp_file_read(path, b) != KP_OK) {
    fprintf(stderr, "keepon remote: cannot read %s %s\n", what, path);
    return KP_EXIT_USAGE;
  }
  return 0;
}

static int write_out(const char *path, const kp_buf_t *b) {
  if (!path) return 0;
  if (!strcmp(path, "-")) {
    fwrite(kp_buf_str(b), 1, b->len, stdout);
    return 0;
  }
  if (kp_file_write_atomic(path, b->data ? b->data : (const uint8_t *)"", b->len, 0644) != KP_OK) {
    fprintf(stderr, "keepon remote: cannot write %s\n", path);
    return KP_EXIT_FAIL;
  }
  return 0;
}

/* keepon remote scan: a polite search of a CIDR list for infrastructure resolvers (src/remote/scan.c). */
static int cmd_scan(int argc, char **argv) {
  const char *cidrs = NULL, *ptr_res = NULL, *ctl_name = NULL, *ctl_answer = NULL, *nx_name = NULL, *optout = NULL;
  const char *out = "-", *geo_table = NULL, *asn_mmdb = NULL;
  bool lab = false;
  double host_rate = KP_RL_DEFAULT_HOST_RATE, as_rate = KP_RL_DEFAULT_AS_RATE, ptr_rate = 20, timeout = 3.0;
  long retries = 1, max_addrs = 65536;
  const kp_opt_t opts[] = {
      {"cidrs", 0, KP_OPT_STR, "FILE", "IPv4 prefixes / addresses to search, one per line (required)", &cidrs, 0, 0},
      {"ptr-resolver", 0, KP_OPT_STR, "ADDR", "OUR resolver for the reverse-DNS step (required)", &ptr_res, 0, 0},
      {"control-name", 0, KP_OPT_STR, "NAME", "a name every good resolver answers (required)", &ctl_name, 0, 0},
      {"control-answer", 0, KP_OPT_STR, "ADDR", "its address (required)", &ctl_answer, 0, 0},
      {"nx-name", 0, KP_OPT_STR, "NAME", "a name that does not exist: must be NXDOMAIN (required)", &nx_name, 0, 0},
      {"opt-out", 0, KP_OPT_STR, "FILE", "prefixes never to touch (added to the reserved ranges)", &optout, 0, 0},
      {"out", 'o', KP_OPT_STR, "FILE", "the kept resolvers as a --targets list (default '-')", &out, 0, 0},
      {"geo-table", 0, KP_OPT_STR, "FILE", "geo table for ASN / country", &geo_table, 0, 0},
      {"asn-mmdb", 0, KP_OPT_STR, "FILE", "ASN mmdb for the same", &asn_mmdb, 0, 0},
      {"rate", 0, KP_OPT_DOUBLE, "N", "queries per second per candidate (default 2)", &host_rate, 0.01, 1000},
      {"as-rate", 0, KP_OPT_DOUBLE, "N", "queries per second per AS (default 200)", &as_rate, 0.01, 100000},
      {"ptr-rate", 0, KP_OPT_DOUBLE, "N", "reverse-DNS queries per second to our resolver (default 20)", &ptr_rate, 0.01, 10000},
      {"timeout", 0, KP_OPT_DOUBLE, "S", "per try (default 3)", &timeout, 0.1, 60},
      {"retries", 0, KP_OPT_INT, "N", "re-sends of an unanswered query (default 1)", &retries, 0, 5},
      {"max-addrs", 0, KP_OPT_INT, "N", "refuse lists with more addresses (default 65536)", &max_addrs, 1, 1 << 24},
      {"lab", 0, KP_OPT_FLAG, NULL, "lab mode: only 198.18.0.0/15 is touched", &lab, 0, 0},
      {NULL, 0, 0, NULL, NULL, NULL, 0, 0}};
  kp_cmd_help_t help = {"keepon remote scan --cidrs FILE --ptr-resolver ADDR --control-name NAME --control-answer ADDR "
                        "--nx-name NAME [options]",
                        "Find infrastructure resolvers (Censored Planet's rule): reverse DNS through our resolver "
                        "first; only addresses named ns*/nameserver* are asked anything; kept when they answer the "
                        "control right and NXDOMAIN for a name that does not exist. See docs/remote.md."};
  char **pos = NULL;
  int npos = 0, rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  if (rc) return kp_opts_exit(rc);
  free(pos);
  kp_addr_t pa, ca;
  if (!cidrs || !ptr_res || !ctl_name || !ctl_answer || !nx_name || kp_addr_parse(ptr_res, &pa) != KP_OK ||
      kp_addr_parse(ctl_answer, &ca) != KP_OK) {
    kp_opts_help(stderr, &help, opts);
    return KP_EXIT_USAGE;
  }
  kp_buf_t cb, ob, lb;
  kp_buf_init(&cb, 0); kp_buf_init(&ob, 0); kp_buf_init(&lb, (size_t)256 << 20);
  kp_prefix_t *pv = NULL;
  size_t np = 0, bad = 0;
  kp_rmt_policy_t *pol = NULL;
  kp_rl_t *rl = NULL, *prl = NULL;
  kp_geo_t *geo = NULL;
  rc = KP_EXIT_USAGE;
  if (read_or_die("cidrs", cidrs, &cb)) goto done;
  if (kp_rmt_cidrs_parse(cb.data, cb.len, &pv, &np, &bad) != KP_OK) {
    fprintf(stderr, "keepon remote: %s: bad line %zu\n", cidrs, bad);
    goto done;
  }
  if (kp_rmt_policy_new(lab, &pol) != KP_OK) goto done;
  if (optout) {
    if (read_or_die("opt-out", optout, &ob)) goto done;
    if (kp_rmt_policy_optout(pol, ob.data, ob.len, &bad) != KP_OK) {
      fprintf(stderr, "keepon remote: %s: bad line %zu\n", optout, bad);
      goto done;
    }
  }
  if (kp_rmt_policy_refuse(pol, &pa)) {
    fprintf(stderr, "keepon remote: the PTR resolver %s is refused by the policy\n", ptr_res);
    goto done;
  }
  kp_rl_cfg_t rcfg = {.host_rate = host_rate, .host_burst = 1, .as_rate = as_rate, .as_burst = 1};
  kp_rl_cfg_t pcfg = {.host_rate = ptr_rate, .host_burst = 1, .as_rate = ptr_rate, .as_burst = 1};
  if (kp_rl_new(&rcfg, kp_clock_system(), &rl) != KP_OK || kp_rl_new(&pcfg, kp_clock_system(), &prl) != KP_OK) goto done;
  if (geo_table || asn_mmdb) {
    kp_geo_config_t gc = {.table = geo_table, .asn_mmdb = asn_mmdb};
    if (kp_geo_open(&gc, &geo) != KP_OK) {
      fprintf(stderr, "keepon remote: cannot open the geo data\n");
      goto done;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  kp_rmt_scan_cfg_t cfg = {.cidrs = pv, .ncidrs = np, .ptr_resolver = &pa, .ptr_rl = prl, .control_name = ctl_name,
                           .control_answer = &ca, .nx_name = nx_name, .policy = pol, .rl = rl, .geo = geo,
                           .timeout = timeout, .retries = (unsigned)retries, .max_addrs = (size_t)max_addrs};
  kp_rmt_scan_stats_t st;
  kp_status_t s = kp_rmt_scan_run(&cfg, kp_clock_system(), &lb, &st);
  if (s != KP_OK) {
    fprintf(stderr, "keepon remote scan: failed: %s (over --max-addrs, or not IPv4?)\n", kp_strstatus(s));
    rc = s == KP_ERR_INVAL ? KP_EXIT_USAGE : KP_EXIT_FAIL;
    goto done;
  }
  fprintf(stderr, "keepon remote scan: %zu addresses, %zu refused by policy, %zu without PTR, %zu not named as name "
                  "servers (never sent anything), %zu asked: %zu silent, %zu wildcard, %zu wrong, %zu kept, %.1f s\n",
          st.addrs, st.refused, st.no_ptr, st.not_infra, st.asked, st.silent, st.wildcard, st.wrong, st.kept,
          st.seconds);
  rc = write_out(out, &lb);
done:
  kp_buf_free(&cb); kp_buf_free(&ob); kp_buf_free(&lb);
  free(pv);
  kp_rmt_policy_free(pol);
  kp_rl_free(rl);
  kp_rl_free(prl);
  kp_geo_close(geo);
  return rc;
}

int kp_cmd_remote(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "scan")) return cmd_scan(argc - 1, argv + 1);
  if (argc < 2 || (strcmp(argv[1], "dns") && strcmp(argv[1], "http"))) {
    fprintf(stderr, "usage: keepon remote dns|http --targets FILE --names FILE [options] (--help)\n"
                    "       keepon remote scan --cidrs FILE --ptr-resolver ADDR ... (--help)\n");
    return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : KP_EXIT_USAGE;
  }
  bool dns = !strcmp(argv[1], "dns");
  const char *targets = NULL, *names = NULL, *controls = NULL, *control_resolvers = NULL, *optout = NULL;
  const char *out = NULL, *signals = NULL, *geo_table = NULL, *asn_mmdb = NULL, *ca_file = NULL;
  bool lab = false, no_cert = false;
  double host_rate = KP_RL_DEFAULT_HOST_RATE, as_rate = KP_RL_DEFAULT_AS_RATE, timeout = 3.0, window = 1.0;
  long parallel = 0, retries = 3, dns_retries = 1, port = 0, step = 3600;
  const kp_opt_t opts[] = {
      {"targets", 0, KP_OPT_STR, "FILE", "servers: 'ADDR resolver|echo|web [asn=N] [cc=CC]' per line (required)", &targets, 0, 0},
      {"names", 0, KP_OPT_STR, "FILE", "test names, one per line (required)", &names, 0, 0},
      {"controls", 0, KP_OPT_STR, "FILE", "http: control names (the first is sent to every server; required for http)", &controls, 0, 0},
      {"control-resolvers", 0, KP_OPT_STR, "FILE", "dns: control resolvers, one address per line (required for dns)", &control_resolvers, 0, 0},
      {"opt-out", 0, KP_OPT_STR, "FILE", "prefixes never to probe (added to the reserved ranges)", &optout, 0, 0},
      {"out", 'o', KP_OPT_STR, "FILE", "measurements (JSONL; '-' = stdout; default: not written)", &out, 0, 0},
      {"signals", 0, KP_OPT_STR, "FILE", "signal points (datasource remote-dns / remote-http)", &signals, 0, 0},
      {"geo-table", 0, KP_OPT_STR, "FILE", "geo table for ASN / country of servers and answers", &geo_table, 0, 0},
      {"asn-mmdb", 0, KP_OPT_STR, "FILE", "ASN mmdb for the same", &asn_mmdb, 0, 0},
      {"ca-file", 0, KP_OPT_STR, "FILE", "trust for the certificate check (default: system store)", &ca_file, 0, 0},
      {"rate", 0, KP_OPT_DOUBLE, "N", "requests per second per host (default 2)", &host_rate, 0.01, 1000},
      {"as-rate", 0, KP_OPT_DOUBLE, "N", "requests per second per AS (default 200)", &as_rate, 0.01, 100000},
      {"timeout", 0, KP_OPT_DOUBLE, "S", "per step (default 3)", &timeout, 0.1, 60},
      {"window", 0, KP_OPT_DOUBLE, "S", "dns: keep listening after the first answer (default 1)", &window, 0.05, 10},
      {"retries", 0, KP_OPT_INT, "N", "http: tries per name (default 3)", &retries, 1, 8},
      {"dns-retries", 0, KP_OPT_INT, "N", "dns: re-sends of a query unanswered after --timeout (default 1)", &dns_retries, 0, 5},
      {"parallel", 0, KP_OPT_INT, "N", "workers: http, and dns's certificate step (default 64 dns, 32 http)", &parallel, 1, 64},
      {"port", 0, KP_OPT_INT, "N", "dns: resolver port (default 53); http: echo port (default 7)", &port, 1, 65535},
      {"step", 0, KP_OPT_INT, "S", "signal bin (default 3600)", &step, 60, 86400},
      {"no-cert-check", 0, KP_OPT_FLAG, NULL, "dns: skip Satellite v2's HTTPS check of unmatched answers", &no_cert, 0, 0},
      {"lab", 0, KP_OPT_FLAG, NULL, "lab mode: only 198.18.0.0/15 and 2001:db8::/32 are probed", &lab, 0, 0},
      {NULL, 0, 0, NULL, NULL, NULL, 0, 0}};
  kp_cmd_help_t help = {dns ? "keepon remote dns --targets FILE --names FILE --control-resolvers FILE [options]"
                            : "keepon remote http --targets FILE --names FILE --controls FILE [options]",
                        "Measure from outside (Censored Planet's Satellite / Hyperquack). Only listed infrastructure "
                        "servers are touched, at a polite rate per host and per AS; see docs/remote.md."};
  char **pos = NULL;
  int npos = 0, rc = kp_opts_parse_alloc(&help, opts, argc - 1, argv + 1, &pos, &npos);
  if (rc) return kp_opts_exit(rc);
  free(pos);
  if (!targets || !names || (dns && !control_resolvers) || (!dns && !controls)) {
    kp_opts_help(stderr, &help, opts);
    return KP_EXIT_USAGE;
  }
  signal(SIGPIPE, SIG_IGN);
  kp_buf_t tb, nb, cb, ob, mb, sb, gb;
  kp_buf_init(&tb, 0); kp_buf_init(&nb, 0); kp_buf_init(&cb, 0); kp_buf_init(&ob, 0);
  kp_buf_init(&mb, (size_t)4 << 30); kp_buf_init(&sb, (size_t)256 << 20); kp_buf_init(&gb, (size_t)256 << 20);
  kp_rmt_target_t *tv = NULL;
  kp_rmt_name_t *nv = NULL, *cv = NULL;
  kp_addr_t *crv = NULL;
  size_t nt = 0, nn = 0, nc = 0, ncr = 0, bad = 0;
  kp_rmt_policy_t *pol = NULL;
  kp_rl_t *rl = NULL;
  kp_geo_t *geo = NULL;
  rc = KP_EXIT_USAGE;
  if (read_or_die("targets", targets, &tb) || read_or_die("names", names, &nb)) goto done;
  if (kp_rmt_targets_parse(tb.data, tb.len, &tv, &nt, &bad) != KP_OK) {
    fprintf(stderr, "keepon remote: %s: bad line %zu\n", targets, bad);
    goto done;
  }
  if (kp_rmt_names_parse(nb.data, nb.len, &nv, &nn, &bad) != KP_OK || nn == 0) {
    fprintf(stderr, "keepon remote: %s: bad line %zu (or no names)\n", names, bad);
    goto done;
  }
  const char *cpath = dns ? control_resolvers : controls;
  if (read_or_die("controls", cpath, &cb)) goto done;
  if (dns) { /* one address per line: the target parser with an implied role */
    kp_buf_t tmp;
    kp_buf_init(&tmp, (size_t)64 << 20);
    const char *p = kp_buf_str(&cb);
    while (*p) {
      const char *e = strchr(p, '\n');
      size_t l = e ? (size_t)(e - p) : strlen(p);
      const char *h = memchr(p, '#', l);
      size_t k = h ? (size_t)(h - p) : l;
      while (k && (p[k - 1] == ' ' || p[k - 1] == '\r')) k--;
      if (k && kp_buf_printf(&tmp, "%.*s resolver\n", (int)k, p) != KP_OK) break;
      p += l + (e ? 1 : 0);
    }
    kp_rmt_target_t *crt = NULL;
    kp_status_t s = kp_rmt_targets_parse(tmp.data, tmp.len, &crt, &ncr, &bad);
    kp_buf_free(&tmp);
    if (s != KP_OK || ncr == 0) {
      fprintf(stderr, "keepon remote: %s: bad control resolver list\n", cpath);
      goto done;
    }
    crv = calloc(ncr, sizeof *crv);
    for (size_t i = 0; crv && i < ncr; i++) crv[i] = crt[i].addr;
    free(crt);
    if (!crv) goto done;
  } else if (kp_rmt_names_parse(cb.data, cb.len, &cv, &nc, &bad) != KP_OK || nc == 0) {
    fprintf(stderr, "keepon remote: %s: bad line %zu (or no names)\n", cpath, bad);
    goto done;
  }
  if (kp_rmt_policy_new(lab, &pol) != KP_OK) goto done;
  if (optout) {
    if (read_or_die("opt-out", optout, &ob)) goto done;
    if (kp_rmt_policy_optout(pol, ob.data, ob.len, &bad) != KP_OK) {
      fprintf(stderr, "keepon remote: %s: bad line %zu\n", optout, bad);
      goto done;
    }
  }
  kp_rl_cfg_t rcfg = {.host_rate = host_rate, .host_burst = 1, .as_rate = as_rate, .as_burst = 1};
  if (kp_rl_new(&rcfg, kp_clock_system(), &rl) != KP_OK) goto done;
  if (geo_table || asn_mmdb) {
    kp_geo_config_t gc = {.table = geo_table, .asn_mmdb = asn_mmdb};
    if (kp_geo_open(&gc, &geo) != KP_OK) {
      fprintf(stderr, "keepon remote: cannot open the geo data\n");
      goto done;
    }
  }
  kp_rmt_cfg_t cfg = {.targets = tv, .ntargets = nt, .names = nv, .nnames = nn, .controls = cv, .ncontrols = nc,
                      .control_resolvers = crv, .ncontrol_resolvers = ncr, .port = (uint16_t)port, .policy = pol,
                      .rl = rl, .geo = geo, .ca_file = ca_file, .timeout = timeout, .window = window,
                      .retries = (unsigned)retries, .dns_retries = (unsigned)dns_retries, .parallel = (size_t)parallel, .lab = lab, .cert_check = !no_cert,
                      .software_version = KP_VERSION, .bin_step = step};
  kp_rmt_stats_t st;
  kp_status_t s = dns ? kp_rmt_dns_run(&cfg, kp_clock_system(), out ? &mb : NULL, &sb, signals ? &gb : NULL, &st)
                      : kp_rmt_http_run(&cfg, kp_clock_system(), out ? &mb : NULL, &sb, signals ? &gb : NULL, &st);
  if (s != KP_OK) {
    fprintf(stderr, "keepon remote: run failed: %s\n", kp_strstatus(s));
    rc = KP_EXIT_FAIL;
    goto done;
  }
  fwrite(kp_buf_str(&sb), 1, sb.len, stdout);
  fprintf(stderr, "keepon remote %s: %zu measured, %zu blocked, %zu no verdict, %zu target(s) refused by policy, %.1f s, %llu permits\n",
          argv[1], st.measured, st.blocked, st.no_verdict, st.refused, st.seconds, (unsigned long long)kp_rl_granted(rl));
  rc = write_out(out, &mb);
  if (!rc) rc = write_out(signals, &gb);
done:
  kp_buf_free(&tb); kp_buf_free(&nb); kp_buf_free(&cb); kp_buf_free(&ob);
  kp_buf_free(&mb); kp_buf_free(&sb); kp_buf_free(&gb);
  free(tv); free(nv); free(cv); free(crv);
  kp_rmt_policy_free(pol);
  kp_rl_free(rl);
  kp_geo_close(geo);
  return rc;
}
