/*
 * cmd_verify.c: keepon verify FILE|DIR | --server URL | bundle FILE
 * Check signatures and hash chains of an outbox (chain.log, or the folder holding it) or of
 * everything a collector stores from keepon probes, or an evidence bundle (src/evidence).
 * Prints one line per problem naming the line and seq; exit 0 = intact, 3 = problems found,
 * 1 = could not read, 2 = bad usage.
 *
 * Beyond the chain itself: an outbox folder's signed head (<dir>/head) and acked.log say what
 * must be there (a dropped tail, records the collector acknowledged); --server also reads the
 * collector's kept head checkpoints; --outbox DIR with --server checks that every record DIR's
 * acked.log lists is on the server; --trusted-keys pins the keys.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "evidence/evidence.h"
#include "httpc/httpc.h"
#include "outbox/outbox.h"

static void on_problem(void *ctx, size_t line, int64_t seq, const char *problem) {
  const char *what = ctx;
  if (line == 0 && seq >= 0) printf("%s (seq %lld): %s\n", what, (long long)seq, problem);
  else if (line == 0) printf("%s: %s\n", what, problem);
  else if (seq >= 0) printf("%s line %zu (seq %lld): %s\n", what, line, (long long)seq, problem);
  else printf("%s line %zu: %s\n", what, line, problem);
}

static int verify_bundle(int argc, char **argv) {
  const char *tsa_ca = NULL;
  const kp_opt_t opts[] = {
    {"tsa-ca", 0, KP_OPT_STR, "FILE", "trust anchor for the RFC 3161 timestamp (default: the bundle's own TSA certificate, reported as unpinned)", &tsa_ca, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {"keepon verify bundle FILE [--tsa-ca FILE]",
                              "Check an evidence bundle offline: every SHA-256 in the manifest, every record's\n"
                              "signature and chain link, the head checkpoints, and the RFC 3161 timestamp on the\n"
                              "manifest. Exit 3 when anything is wrong."};
  char **pos = NULL;
  int npos = 0, rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  if (rc) return kp_opts_exit(rc);
  if (npos != 1) {
    fprintf(stderr, "usage: %s\n", help.usage);
    free(pos);
    return KP_EXIT_USAGE;
  }
  kp_ev_verify_report_t rep;
  kp_status_t st = kp_ev_verify_bundle(pos[0], tsa_ca, on_problem, pos[0], &rep);
  int ret = KP_EXIT_OK;
  if (st == KP_OK) {
    printf("ok: %zu files, %zu records of %zu key(s), %zu signal points; timestamp %s by %s%s\n", rep.files,
           rep.records, rep.keys, rep.signals, rep.ts_time, rep.tsa_name,
           rep.tsa_pinned ? "" : " (TSA certificate taken from the bundle: pass --tsa-ca to pin it)");
  } else if (st == KP_ERR_PERM) {
    printf("FAILED: the bundle does not verify\n");
    ret = KP_EXIT_CHECK;
  } else {
    fprintf(stderr, "keepon verify bundle: %s: %s\n", pos[0], kp_strstatus(st));
    ret = KP_EXIT_FAIL;
  }
  free(pos);
  return ret;
}

/* GET SERVER PREFIX/WHAT?limit=10000&offset=K[&key_id=] page after page, appending every line
 * to @p b until a page comes back empty; with @p absent_ok a 404 is an empty listing */
static int fetch_paged(kp_httpc_t *http, const char *server, const char *prefix, const char *what, const char *key_id,
                       bool absent_ok, kp_buf_t *b) {
  size_t sl = strlen(server);
  while (sl && server[sl - 1] == '/') sl--;
  kp_buf_t url;
  kp_buf_init(&url, 8192);
  int ret = KP_EXIT_OK;
  for (long long off = 0;;) {
    kp_buf_reset(&url);
    kp_buf_printf(&url, "%.*s%s/%s?limit=10000&offset=%lld%s%s", (int)sl, server, prefix, what, off,
                  key_id ? "&key_id=" : "", key_id ? key_id : "");
    kp_httpc_resp_t r;
    kp_httpc_resp_init(&r);
    kp_status_t st = kp_httpc_get(http, kp_buf_str(&url), &r);
    size_t lines = 0;
    if (st != KP_OK || (r.status != 200 && !(absent_ok && r.status == 404))) {
      fprintf(stderr, "keepon verify: cannot fetch %s from %s: %s (HTTP %d)\n", what, server,
              st != KP_OK ? r.error : "unexpected status", r.status);
      ret = st == KP_ERR_INVAL ? KP_EXIT_USAGE : KP_EXIT_FAIL;
    } else if (r.status == 200 && kp_buf_append(b, r.body.data, r.body.len) != KP_OK) {
      fprintf(stderr, "keepon verify: the %s from %s do not fit in memory\n", what, server);
      ret = KP_EXIT_FAIL;
    } else if (r.status == 200) {
      for (size_t i = 0; i < r.body.len; i++) lines += r.body.data[i] == '\n';
    }
    kp_httpc_resp_free(&r);
    if (ret != KP_EXIT_OK || lines == 0) break;
    off += (long long)lines;
  }
  kp_buf_free(&url);
  return ret;
}

int kp_cmd_verify(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "bundle") == 0) return verify_bundle(argc - 1, argv + 1);
  const char *server = NULL, *key_id = NULL, *outbox = NULL, *trusted = NULL;
  const char *prefix = getenv("KEEPON_COLLECTOR_PREFIX");
  bool gaps = false;
  kp_cli_httpc_t hv = {0};
  const kp_opt_t opts[] = {
    {"server", 's', KP_OPT_STR, "URL", "verify what a collector stores (https://name[:port])", &server, 0, 0},
    {"key-id", 0, KP_OPT_STR, "ID", "with --server: only this probe key", &key_id, 0, 0},
    {"allow-gaps", 0, KP_OPT_FLAG, NULL, "with --server: records not uploaded yet are not a problem (below a signed head they still are)", &gaps, 0, 0},
    {"outbox", 0, KP_OPT_STR, "DIR", "with --server: every record DIR's acked.log lists must be on the server", &outbox, 0, 0},
    {"trusted-keys", 0, KP_OPT_STR, "FILE", "only these key ids (one a line) are trusted", &trusted, 0, 0},
    {"path-prefix", 0, KP_OPT_STR, "PATH", "with --server: the collector's route prefix (default /api/v1/keepon, as upload)", &prefix, 0, 0},
    KP_CLI_HTTPC_OPTS(&hv),
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon verify FILE|DIR | --server URL [options] | bundle FILE",
    "Check every record's content hash and Ed25519 signature and that each probe key's records\n"
    "form one unbroken chain (seq 1, 2, ...; each prev = the previous hash) reaching its signed\n"
    "head checkpoint; records a collector acknowledged (acked.log) must be present. Names the\n"
    "line and seq of every altered, deleted, reordered or torn record. Exit 3 when anything is wrong."};
  char **pos = NULL;
  int npos = 0, rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  if (rc) return kp_opts_exit(rc);
  if ((server && npos) || (!server && npos != 1) || (outbox && !server)) {
    fprintf(stderr, "usage: %s\n", help.usage);
    free(pos);
    return KP_EXIT_USAGE;
  }
  if (!prefix || !*prefix) prefix = KP_UPLOAD_DEFAULT_PREFIX;
  if (prefix[0] != '/' || strlen(prefix) > 200 || strpbrk(prefix, "?#% ")) {
    fprintf(stderr, "keepon verify: --path-prefix wants a path like /v1, got '%s'\n", prefix);
    free(pos);
    return KP_EXIT_USAGE;
  }
  kp_buf_t b;
  kp_buf_init(&b, (size_t)1 << 34);
  char what[4200];
  int ret = KP_EXIT_OK;
  kp_outbox_expect_t ex = {0};
  kp_outbox_verify_opts_t vo = {.allow_gaps = server && gaps};
  const char *exdir = outbox;
  if (trusted && kp_outbox_load_key_ids(trusted, &vo.trusted, &vo.ntrusted) != KP_OK) {
    fprintf(stderr, "keepon verify: %s: not a list of key ids (32 hex digits a line)\n", trusted);
    ret = KP_EXIT_USAGE;
    goto out;
  }
  if (server) {
    kp_httpc_t *http = kp_cli_httpc_new(&hv, 10000, 600000, (size_t)1 << 34);
    if (!http) {
      ret = KP_EXIT_USAGE;
      goto out;
    }
    /* the records, then the collector's kept checkpoints (an older collector has no heads
     * route: 404, nothing to add), both paged the same way */
    ret = fetch_paged(http, server, prefix, "records", key_id, false, &b);
    if (ret == KP_EXIT_OK) ret = fetch_paged(http, server, prefix, "heads", key_id, true, &b);
    kp_httpc_free(http);
    if (ret != KP_EXIT_OK) goto out;
    snprintf(what, sizeof what, "%s", server);
  } else {
    char file[4200];
    struct stat sb;
    if (stat(pos[0], &sb) == 0 && S_ISDIR(sb.st_mode)) {
      snprintf(file, sizeof file, "%s/chain.log", pos[0]);
      exdir = pos[0];
    } else snprintf(file, sizeof file, "%s", pos[0]);
    if (kp_file_read(file, &b) != KP_OK) {
      fprintf(stderr, "keepon verify: cannot read %s\n", file);
      ret = KP_EXIT_USAGE;
      goto out;
    }
    snprintf(what, sizeof what, "%s", file);
  }
  if (exdir) {
    if (kp_outbox_expect_load(exdir, &ex) != KP_OK) {
      fprintf(stderr, "keepon verify: cannot read the head and acked.log of %s\n", exdir);
      ret = KP_EXIT_FAIL;
      goto out;
    }
    if (ex.head_problem) printf("%s/head: not a head checkpoint: %s\n", exdir, ex.head_problem);
    if (ex.has_head) {
      /* the outbox's own head also covers records not delivered yet: a check of the outbox,
       * not of the server; against the server only the acknowledged ones count */
      if (!server) vo.heads = &ex.head, vo.nheads = 1;
      vo.acked_key = ex.head.key_id;
    }
    if (!vo.acked_key) vo.acked_key = key_id; /* an outbox without a head file: --key-id names it */
    vo.acked = ex.acked, vo.nacked = ex.nacked;
  }
  size_t n = 0;
  kp_status_t st = kp_outbox_verify(b.data, b.len, &vo, on_problem, what, &n);
  if (st == KP_OK && ex.head_problem) st = KP_ERR_PERM;
  if (st == KP_OK) printf("ok: %zu records, signatures and chains intact\n", n);
  else if (st == KP_ERR_PERM) {
    printf("FAILED: problems found among %zu verifiable records\n", n);
    ret = KP_EXIT_CHECK;
  } else {
    fprintf(stderr, "keepon verify: %s\n", kp_strstatus(st));
    ret = KP_EXIT_FAIL;
  }
out:
  kp_outbox_expect_free(&ex);
  free(vo.trusted);
  kp_buf_free(&b);
  free(pos);
  return ret;
}
