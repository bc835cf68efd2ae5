/*
 * cmd_probe_web.c: `keepon probe web [URL ...] [--list CSV] [--helper URL]
 * [--parallel N] [--output FILE]` (dispatched from cmd_probe.c).
 *
 * Order: options -> every input validated (URLs, list file, resolver, helper,
 * CA and fingerprint files, output folder) so bad input exits 2 with nothing
 * written -> privacy notice -> URLs measured by a bounded pool, each
 * measurement appended to FILE.part as it completes (memory stays bounded by
 * the pool, not the list) -> progress on a TTY -> rename to FILE -> summary.
 *
 * This file is the command's front end and is the only part of webconn that
 * prints (stdout: the summary; stderr: progress and errors).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/cursor.h"
#include "base/file.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "fastpath/fastpath.h"
#include "httpc/httpc.h"
#include "locate/locate.h"
#include "reach/reach.h"
#include "webconn/wc_net.h"

#define MAX_URLS 100000
#define MAX_LIST_BYTES ((size_t)16 << 20)

typedef struct job {
  const kp_wc_probe_cfg_t *cfg;
  char **urls;
  size_t n;
  FILE *out;
  pthread_mutex_t mu;
  size_t done, blocked, confirmed, failed, write_errors;
  size_t by_block[6];
  size_t by_tech[16];
  const char *tech_name[16];
  bool tty;
  int64_t t0, last_print;
  kp_wc_summary_t *sums; /* per URL, for the table */
} job_t;

static int64_t mono_ms(void) { return kp_now_mono(kp_clock_system()) / 1000000; }

static void progress(job_t *j, bool final) {
  int64_t now = mono_ms();
  if (!j->tty || (!final && now - j->last_print < 200)) return;
  j->last_print = now;
  double secs = (double)(now - j->t0) / 1000.0;
  fprintf(stderr, "\r%zu/%zu done, %zu blocked, %zu confirmed, %.1f URL/s   %s", j->done, j->n, j->blocked,
          j->confirmed, secs > 0 ? (double)j->done / secs : 0.0, final ? "\n" : "");
  fflush(stderr);
}

static void one(void *arg, size_t i) {
  job_t *j = arg;
  kp_buf_t line;
  kp_buf_init(&line, (size_t)64 << 20);
  kp_wc_summary_t s;
  kp_status_t st = kp_wc_probe_url(j->cfg, j->urls[i], &line, &s);
  pthread_mutex_lock(&j->mu);
  if (st == KP_OK) {
    if (fwrite(line.data, 1, line.len, j->out) != line.len || fputc('\n', j->out) == EOF) j->write_errors++;
    j->by_block[s.keys.blocking]++;
    bool blocked = s.keys.blocking >= KP_WC_BLOCK_DNS;
    j->blocked += blocked;
    j->confirmed += s.confirmed;
    if (s.technique) {
      for (size_t k = 0; k < 16; k++) {
        if (!j->tech_name[k]) j->tech_name[k] = s.technique;
        if (!strcmp(j->tech_name[k], s.technique)) {
          j->by_tech[k]++;
          break;
        }
      }
    }
  } else {
    j->failed++;
    memset(&s, 0, sizeof s);
  }
  j->sums[i] = s;
  j->done++;
  progress(j, false);
  pthread_mutex_unlock(&j->mu);
  kp_buf_free(&line);
}

static int usage_rc(int printed) {
  (void)printed;
  fputc('\n', stderr);
  return KP_EXIT_USAGE;
}
#define usage(...) usage_rc(fprintf(stderr, "keepon probe web: " __VA_ARGS__))

static bool valid_url(const char *u) {
  char s[8], h[256];
  int p;
  if (strlen(u) >= 1000 || kp_wc_url_split(u, s, sizeof s, h, sizeof h, &p) != KP_OK) return false;
  for (const char *c = u; *c; c++)
    if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) return false;
  return true;
}

/* Citizen Lab CSV: first column is the URL; a header line starting "url," is skipped. */
static int read_list(const char *path, char ***urls, size_t *n, size_t *cap) {
  kp_buf_t b;
  kp_buf_init(&b, MAX_LIST_BYTES);
  if (kp_file_read(path, &b) != KP_OK) {
    kp_buf_free(&b);
    return usage("cannot read list '%s' (or it is over 16 MiB)", path);
  }
  kp_cur_t c = kp_cur_make(b.data, b.len);
  const uint8_t *l;
  size_t len, lineno = 0;
  while (kp_cur_line(&c, &l, &len)) {
    lineno++;
    size_t f = 0;
    const char *q = (const char *)l;
    if (len && *q == '"') q++, len--;
    while (f < len && q[f] != ',' && q[f] != '"' && q[f] != '\r') f++;
    if (f && !(lineno == 1 && f == 3 && !strncmp(q, "url", 3))) {
      char *u = strndup(q, f);
      if (!u || !valid_url(u)) {
        char msg[64];
        snprintf(msg, sizeof msg, "%zu", lineno);
        free(u);
        kp_buf_free(&b);
        fprintf(stderr, "keepon probe web: %s line %s: not an http(s) URL\n", path, msg);
        return KP_EXIT_USAGE;
      }
      if (*n >= MAX_URLS) {
        free(u);
        kp_buf_free(&b);
        return usage("too many URLs (max 100000)");
      }
      if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        char **nu = realloc(*urls, *cap * sizeof *nu);
        if (!nu) {
          free(u);
          kp_buf_free(&b);
          return KP_EXIT_FAIL;
        }
        *urls = nu;
      }
      (*urls)[(*n)++] = u;
    }
  }
  kp_buf_free(&b);
  return 0;
}

static void summary(const job_t *j, double secs) {
  static const char *const names[6] = {"null (no verdict)", "false (accessible)", "dns", "tcp_ip", "http-failure",
                                       "http-diff"};
  printf("\nWeb Connectivity: %zu URLs in %.1f s (%.1f URL/s)\n", j->n, secs, secs > 0 ? (double)j->n / secs : 0.0);
  printf("%-22s %8s\n", "blocking", "URLs");
  for (int b = 0; b < 6; b++) printf("%-22s %8zu\n", names[b], j->by_block[b]);
  printf("%-22s %8zu\n", "confirmed (fingerprint)", j->confirmed);
  if (j->failed) printf("%-22s %8zu\n", "not measured (error)", j->failed);
  bool any = false;
  for (size_t k = 0; k < 16 && j->tech_name[k]; k++) {
    if (!any) printf("\n%-22s %8s\n", "technique", "URLs");
    any = true;
    printf("%-22s %8zu\n", j->tech_name[k], j->by_tech[k]);
  }
  size_t shown = 0;
  for (size_t i = 0; i < j->n && shown < 40; i++) {
    const kp_wc_summary_t *s = &j->sums[i];
    if (s->keys.blocking < KP_WC_BLOCK_DNS) continue;
    if (!shown++) printf("\n%-50s %-13s %-16s %s\n", "blocked URL", "blocking", "technique", "confirmed");
    printf("%-50.50s %-13s %-16s %s\n", j->urls[i], kp_wc_blocking_str(s->keys.blocking),
           s->technique ? s->technique : "-", s->confirmed ? s->fingerprint : "");
  }
  if (j->blocked > shown) printf("... and %zu more (see the JSONL)\n", j->blocked - shown);
}

int kp_cmd_probe_web(int argc, char **argv) {
  const char *list = NULL, *helper = NULL, *output = NULL, *resolver = "8.8.8.8", *ca_file = NULL;
  const char *fpdir = NULL, *cc = NULL, *asn = NULL; /* NULL: looked up (src/locate) */
  const char *acc_type = NULL; /* --access-type, else the located ASN's row (kp_access_resolve) */
  kp_cli_locate_t lv = {0};
  const char *outbox_dir = NULL, *collector = getenv("KEEPON_COLLECTOR");
  bool no_outbox = false;
  long parallel = 24;
  double step = 10, url_timeout = 60;
  bool lab = false;
  const char *th_proxy = getenv("KEEPON_PROXY"), *th_ca = getenv("KEEPON_CA_FILE");
  const kp_opt_t opts[] = {
    {"list", 'l', KP_OPT_STR, "CSV", "Citizen Lab test list (first column: url)", &list, 0, 0},
    {"helper", 'H', KP_OPT_STR, "URL", "test helper, https://NAME[:PORT]/ (a `keepon helper`); no control without it",
     &helper, 0, 0},
    {"proxy", 0, KP_OPT_STR, "URL", "control request only: socks5h://HOST:PORT or http://HOST:PORT (measurements go direct)",
     &th_proxy, 0, 0},
    {"helper-ca-file", 0, KP_OPT_STR, "PEM", "trust these CAs for the helper instead of the system store", &th_ca, 0, 0},
    {"parallel", 'j', KP_OPT_INT, "N", "URLs measured at once (default 24)", &parallel, 1, 64},
    {"output", 'o', KP_OPT_STR, "FILE", "JSONL output (default <state>/measurements/web-<time>.jsonl)", &output, 0, 0},
    {"resolver", 'r', KP_OPT_STR, "ADDR", "the DNS-over-UDP resolver besides the system one (default 8.8.8.8)",
     &resolver, 0, 0},
    {"ca-file", 0, KP_OPT_STR, "FILE", "trust these CA certificates instead of the system store", &ca_file, 0, 0},
    {"fingerprints", 0, KP_OPT_STR, "DIR", "OONI fingerprint files (default <data>/fingerprints)", &fpdir, 0, 0},
    {"timeout", 0, KP_OPT_DOUBLE, "S", "timeout of each DNS/TCP/TLS/HTTP step (default 10)", &step, 0.1, 120},
    {"url-timeout", 0, KP_OPT_DOUBLE, "S", "budget for one URL (default 60)", &url_timeout, 1, 600},
    {"lab", 0, KP_OPT_FLAG, NULL, "treat 198.18.0.0/15 and 2001:db8::/32 as routable (netns lab)", &lab, 0, 0},
    {"probe-cc", 0, KP_OPT_STR, "CC", "country code to record (default: looked up, else ZZ)", &cc, 0, 0},
    {"probe-asn", 0, KP_OPT_STR, "ASN", "network to record (default: looked up, else AS0)", &asn, 0, 0},
    {"access-type", 0, KP_OPT_STR, "T", "the probe's access: mobile or fixed (default: the ASN's row of data/access/kz.tsv, else not written)", &access, 0, 0},
    KP_CLI_LOCATE_OPTS(&lv),
    {"outbox", 0, KP_OPT_STR, "DIR", "signed outbox folder (default <state>/outbox)", &outbox_dir, 0, 0},
    {"no-outbox", 0, KP_OPT_FLAG, NULL, "do not keep the measurements in the outbox", &no_outbox, 0, 0},
    {"collector", 'c', KP_OPT_STR, "URL", "upload to this collector after the run (default $KEEPON_COLLECTOR)",
     &collector, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon probe web [URL ...] [--list CSV] [--helper URL] [--parallel N] [--output FILE]",
    "Runs OONI's Web Connectivity test on each URL: DNS (system resolver and one UDP resolver), TCP and TLS "
    "to every address, HTTP with up to 10 redirects, the control request to a test helper, then OONI's v0.5 "
    "analysis (blocking, accessible, dns_consistency, http-diff keys, x_* flags) plus keepon's technique; "
    "fingerprints mark a result confirmed. Progress on a terminal, a summary table at the end, JSONL out.",
  };
  if (argc > MAX_URLS) return usage("too many arguments");
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  char **urls = NULL;
  size_t n = 0, cap = 0;
  kp_fp_db_t *fp = NULL;
  FILE *out = NULL;
  char outpath[4096] = "", part[4200] = "";
  int rc = KP_EXIT_USAGE, npos = 0;
  if (!pos) return KP_EXIT_FAIL;
  int r = kp_opts_parse(&help, opts, argc, argv, pos, &npos);
  if (r) {
    rc = r == 1 ? KP_EXIT_OK : KP_EXIT_USAGE;
    goto done;
  }
  for (int i = 0; i < npos; i++) {
    if (!valid_url(pos[i])) {
      rc = usage("'%s' is not an http(s) URL", pos[i]);
      goto done;
    }
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nu = realloc(urls, cap * sizeof *nu);
      if (!nu) goto done;
      urls = nu;
    }
    urls[n++] = strdup(pos[i]);
  }
  if (list && (rc = read_list(list, &urls, &n, &cap)) != 0) goto done;
  rc = KP_EXIT_USAGE;
  if (!n) {
    usage("no URL given (arguments or --list)");
    goto done;
  }
  if (kp_access_resolve(acc_type, NULL, &acc_type) != KP_OK) {
    usage("--access-type is mobile or fixed");
    goto done;
  }
  kp_addr_t ra;
  char rh[64];
  uint16_t rp;
  if (kp_addr_parse(resolver, &ra) != KP_OK &&
      (kp_hostport_parse(resolver, rh, sizeof rh, &rp) != KP_OK || kp_addr_parse(rh, &ra) != KP_OK)) {
    usage("--resolver wants an IP address or IP:port, got '%s'", resolver);
    goto done;
  }
  if (helper) {
    char s[8], h[256];
    int p;
    if (kp_wc_url_split(helper, s, sizeof s, h, sizeof h, &p) != KP_OK || (strcmp(s, "http") && strcmp(s, "https"))) {
      usage("--helper wants https://NAME[:PORT]/ (or http://), got '%s'", helper);
      goto done;
    }
  }
  {
    kp_httpc_opts_t chk = {.proxy = th_proxy, .ca_file = th_ca};
    kp_httpc_t *hc = NULL;
    if (kp_httpc_new(&chk, &hc) != KP_OK) {
      usage("bad --proxy or --helper-ca-file (%s, %s)", th_proxy ? th_proxy : "none", th_ca ? th_ca : "system");
      goto done;
    }
    kp_httpc_free(hc);
  }
  if (ca_file && access(ca_file, R_OK) != 0) {
    usage("cannot read --ca-file %s", ca_file);
    goto done;
  }
  char fpbuf[4096];
  if (!fpdir) {
    snprintf(fpbuf, sizeof fpbuf, "%s/fingerprints", kp_cli_data_dir());
    fpdir = fpbuf;
    if (kp_fp_db_load_dir(fpdir, &fp) != KP_OK) fp = NULL; /* optional when defaulted */
  } else if (kp_fp_db_load_dir(fpdir, &fp) != KP_OK) {
    usage("cannot load fingerprints from %s", fpdir);
    goto done;
  }
  if (output) {
    snprintf(outpath, sizeof outpath, "%s", output);
  } else if (!kp_cli_measurement_path("keepon probe web", "web", outpath, sizeof outpath)) {
    rc = KP_EXIT_FAIL;
    goto done;
  }
  snprintf(part, sizeof part, "%s.part", outpath);
  out = fopen(part, "w");
  if (!out) {
    fprintf(stderr, "keepon probe web: cannot write %s: %s\n", part, strerror(errno));
    part[0] = 0;
    goto done;
  }
  kp_cli_where_t where;
  kp_locate_result_t located; /* its probe address is never used */
  if ((rc = kp_cli_locate(&lv, resolver, cc, asn, NULL, &where, &located)) != KP_EXIT_OK) goto done;
  if (!acc_type) kp_access_resolve(NULL, where.asn, &acc_type);
  kp_cli_privacy_notice();
  kp_httpc_opts_t th_http = {.proxy = th_proxy, .ca_file = th_ca};
  kp_wc_probe_cfg_t cfg = {.resolver = resolver, .ca_file = ca_file, .helper = helper, .helper_http = &th_http, .step_timeout = step,
                           .url_timeout = url_timeout, .opts = {.lab = lab}, .probe_cc = where.cc, .probe_asn = where.asn,
                           .probe_network_name = where.network_name, .resolver_seen = where.resolver_ip,
                           .resolver_asn = where.resolver_asn, .software_version = KP_VERSION, .access_type = acc_type, .fp = fp};
  job_t j = {.cfg = &cfg, .urls = urls, .n = n, .out = out, .tty = isatty(2), .t0 = mono_ms()};
  j.sums = calloc(n, sizeof *j.sums);
  if (!j.sums) {
    rc = KP_EXIT_FAIL;
    goto done;
  }
  pthread_mutex_init(&j.mu, NULL);
  kp_net_run_pool(n, (size_t)parallel, one, &j);
  pthread_mutex_destroy(&j.mu);
  progress(&j, true);
  bool ok = fflush(out) == 0 && fsync(fileno(out)) == 0 && !j.write_errors;
  fclose(out);
  out = NULL;
  if (ok && !no_outbox) { /* as `probe im`: in the signed outbox before the output file exists */
    kp_buf_t jl;
    kp_buf_init(&jl, (size_t)1 << 30);
    ok = kp_file_read(part, &jl) == KP_OK && kp_cli_keep_in_outbox(outbox_dir, &jl) == KP_EXIT_OK;
    kp_buf_free(&jl);
  }
  if (!ok || rename(part, outpath) != 0) {
    fprintf(stderr, "keepon probe web: cannot write %s\n", outpath);
    rc = KP_EXIT_FAIL;
    free(j.sums);
    goto done;
  }
  part[0] = 0;
  summary(&j, (double)(mono_ms() - j.t0) / 1000.0);
  printf("\nmeasurements: %s\n", outpath);
  if (!no_outbox && collector && *collector) kp_cli_upload_pending(outbox_dir, collector);
  free(j.sums);
  rc = j.failed == n ? KP_EXIT_FAIL : KP_EXIT_OK;
done:
  if (out) fclose(out);
  if (part[0]) unlink(part);
  kp_fp_db_free(fp);
  for (size_t i = 0; i < n; i++) free(urls[i]);
  free(urls);
  free(pos);
  return rc;
}
