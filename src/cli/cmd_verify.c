/*
 * cmd_verify.c: keepon verify FILE|DIR | --server URL
 * Check signatures and hash chains of an outbox (chain.log, or the folder holding it) or of
 * everything a collector stores from keepon probes. Prints one line per problem naming the
 * line and seq; exit 0 = intact, 3 = problems found, 1 = could not read, 2 = bad usage.
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
#include "httpc/httpc.h"
#include "outbox/outbox.h"

static void on_problem(void *ctx, size_t line, int64_t seq, const char *problem) {
  const char *what = ctx;
  if (seq >= 0) printf("%s line %zu (seq %lld): %s\n", what, line, (long long)seq, problem);
  else printf("%s line %zu: %s\n", what, line, problem);
}

int kp_cmd_verify(int argc, char **argv) {
  const char *server = NULL, *key_id = NULL;
  bool gaps = false;
  kp_cli_httpc_t hv = {0};
  const kp_opt_t opts[] = {
    {"server", 's', KP_OPT_STR, "URL", "verify what a collector stores (https://name[:port])", &server, 0, 0},
    {"key-id", 0, KP_OPT_STR, "ID", "with --server: only this probe key", &key_id, 0, 0},
    {"allow-gaps", 0, KP_OPT_FLAG, NULL, "with --server: records not uploaded yet are not a problem", &gaps, 0, 0},
    KP_CLI_HTTPC_OPTS(&hv),
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon verify FILE|DIR | --server URL [options]",
    "Check every record's content hash and Ed25519 signature and that each probe key's records\n"
    "form one unbroken chain (seq 1, 2, ...; each prev = the previous hash). Names the line and\n"
    "seq of every altered, deleted, reordered or torn record. Exit 3 when anything is wrong."};
  char **pos = NULL;
  int npos = 0, rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  if (rc) return kp_opts_exit(rc);
  if ((server && npos) || (!server && npos != 1)) {
    fprintf(stderr, "usage: %s\n", help.usage);
    free(pos);
    return KP_EXIT_USAGE;
  }
  kp_buf_t b;
  kp_buf_init(&b, (size_t)1 << 34);
  char what[4200];
  int ret = KP_EXIT_OK;
  if (server) {
    kp_httpc_t *http = kp_cli_httpc_new(&hv, 10000, 600000, (size_t)1 << 34);
    if (!http) {
      ret = KP_EXIT_USAGE;
      goto out;
    }
    /* the listing is paged (limit + offset): fetch pages until one is empty */
    size_t sl = strlen(server);
    while (sl && server[sl - 1] == '/') sl--;
    kp_buf_t url;
    kp_buf_init(&url, 8192);
    for (long long off = 0;;) {
      kp_buf_reset(&url);
      kp_buf_printf(&url, "%.*s/api/v1/keepon/records?limit=10000&offset=%lld%s%s", (int)sl, server, off,
                    key_id ? "&key_id=" : "", key_id ? key_id : "");
      kp_httpc_resp_t r;
      kp_httpc_resp_init(&r);
      kp_status_t st = kp_httpc_get(http, kp_buf_str(&url), &r);
      size_t lines = 0;
      if (st != KP_OK || r.status != 200) {
        fprintf(stderr, "keepon verify: cannot fetch records from %s: %s (HTTP %d)\n", server,
                st != KP_OK ? r.error : kp_strstatus(st), r.status);
        ret = st == KP_ERR_INVAL ? KP_EXIT_USAGE : KP_EXIT_FAIL;
      } else if (kp_buf_append(&b, r.body.data, r.body.len) != KP_OK) {
        fprintf(stderr, "keepon verify: the records from %s do not fit in memory\n", server);
        ret = KP_EXIT_FAIL;
      } else {
        for (size_t i = 0; i < r.body.len; i++) lines += r.body.data[i] == '\n';
      }
      kp_httpc_resp_free(&r);
      if (ret != KP_EXIT_OK || lines == 0) break;
      off += (long long)lines;
    }
    kp_httpc_free(http);
    kp_buf_free(&url);
    if (ret != KP_EXIT_OK) goto out;
    snprintf(what, sizeof what, "%s", server);
  } else {
    char file[4200];
    struct stat sb;
    if (stat(pos[0], &sb) == 0 && S_ISDIR(sb.st_mode)) snprintf(file, sizeof file, "%s/chain.log", pos[0]);
    else snprintf(file, sizeof file, "%s", pos[0]);
    if (kp_file_read(file, &b) != KP_OK) {
      fprintf(stderr, "keepon verify: cannot read %s\n", file);
      ret = KP_EXIT_USAGE;
      goto out;
    }
    snprintf(what, sizeof what, "%s", file);
  }
  size_t n = 0;
  kp_status_t st = kp_outbox_verify_bytes(b.data, b.len, server && gaps, on_problem, what, &n);
  if (st == KP_OK) printf("ok: %zu records, signatures and chains intact\n", n);
  else if (st == KP_ERR_PERM) {
    printf("FAILED: problems found among %zu verifiable records\n", n);
    ret = KP_EXIT_CHECK;
  } else {
    fprintf(stderr, "keepon verify: %s\n", kp_strstatus(st));
    ret = KP_EXIT_FAIL;
  }
out:
  kp_buf_free(&b);
  free(pos);
  return ret;
}
