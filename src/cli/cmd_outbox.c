/*
 * cmd_outbox.c: keepon outbox [list|add FILE...|path]
 *   list (default)  what is pending (and, with --all, what was delivered and its uid)
 *   add FILE...     append measurements (a JSON object per file, or JSON Lines) to the outbox,
 *                   signed and chained; used by tests and to import measurements taken elsewhere
 *   path            print the outbox folder
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "outbox/outbox.h"

typedef struct list_ctx {
  bool all;
  size_t pending, delivered;
} list_ctx_t;

static int list_cb(void *ctx, const kp_outbox_rec_t *r, const char *uid) {
  list_ctx_t *l = ctx;
  if (uid) l->delivered++;
  else l->pending++;
  if (uid && !l->all) return 0;
  kp_json_doc_t *doc = NULL;
  const char *tn = "?", *mst = "?", *cc = "?", *input = NULL;
  if (kp_json_parse(r->msm, r->msm_len, NULL, &doc, NULL) == KP_OK) {
    const kp_json_t *m = kp_json_root(doc);
    tn = kp_json_get_str(m, "test_name") ? kp_json_get_str(m, "test_name") : "?";
    mst = kp_json_get_str(m, "measurement_start_time") ? kp_json_get_str(m, "measurement_start_time") : "?";
    cc = kp_json_get_str(m, "probe_cc") ? kp_json_get_str(m, "probe_cc") : "?";
    input = kp_json_get_str(m, "input");
  }
  printf("%6llu  %-9s  %s  %-2s  %-18s %s%s\n", (unsigned long long)r->seq, uid ? "delivered" : "pending", mst,
         cc, tn, input ? input : "", uid ? "" : "");
  if (uid) printf("        uid %s\n", uid);
  kp_json_doc_free(doc);
  return 0;
}

static int add_file(kp_outbox_t *ob, const char *path, size_t *added) {
  kp_buf_t b;
  kp_buf_init(&b, (size_t)256 << 20);
  if (kp_file_read(path, &b) != KP_OK) {
    fprintf(stderr, "keepon outbox add: cannot read %s\n", path);
    kp_buf_free(&b);
    return KP_EXIT_USAGE;
  }
  /* validate everything first so nothing is half-added */
  kp_json_doc_t *doc = NULL;
  bool single = kp_json_parse(b.data, b.len, NULL, &doc, NULL) == KP_OK && kp_json_is(kp_json_root(doc), KP_JSON_OBJECT);
  kp_json_doc_free(doc);
  int ret = KP_EXIT_OK;
  for (int pass = 0; pass < 2 && ret == KP_EXIT_OK; pass++) {
    size_t line = 0;
    for (size_t off = 0; off < b.len;) {
      const uint8_t *p = b.data + off, *nl = single ? NULL : memchr(p, '\n', b.len - off);
      size_t len = nl ? (size_t)(nl - p) : b.len - off;
      off += len + (nl ? 1 : 0);
      line++;
      while (len && (p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\n')) len--;
      if (len == 0) continue;
      if (pass == 0) {
        if (kp_json_parse(p, len, NULL, &doc, NULL) != KP_OK || !kp_json_is(kp_json_root(doc), KP_JSON_OBJECT)) {
          fprintf(stderr, "keepon outbox add: %s line %zu: not a JSON object; nothing added\n", path, line);
          ret = KP_EXIT_USAGE;
        }
        kp_json_doc_free(doc);
        if (ret != KP_EXIT_OK) break;
      } else {
        kp_status_t st = kp_outbox_append(ob, (const char *)p, len, NULL);
        if (st != KP_OK) {
          fprintf(stderr, "keepon outbox add: %s: %s\n", path, kp_strstatus(st));
          ret = KP_EXIT_FAIL;
          break;
        }
        (*added)++;
      }
    }
  }
  kp_buf_free(&b);
  return ret;
}

int kp_cmd_outbox(int argc, char **argv) {
  const char *dir = NULL;
  bool all = false;
  const kp_opt_t opts[] = {
    {"outbox", 0, KP_OPT_STR, "DIR", "outbox folder (default <state>/outbox)", &dir, 0, 0},
    {"all", 'a', KP_OPT_FLAG, NULL, "list delivered records too", &all, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon outbox [list|add FILE...|path] [options]",
    "The probe's outbox: every measurement is signed, hash-chained and fsync'd here before\n"
    "anything else happens to it, and stays until a collector has it. 'list' shows what is\n"
    "pending; 'add' appends measurement files (one JSON object, or JSON Lines)."};
  char **pos = NULL;
  int npos = 0, rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  if (rc) return kp_opts_exit(rc);
  const char *sub = npos ? pos[0] : "list";
  char dbuf[4096];
  if (!dir) {
    const char *state = kp_cli_state_dir();
    if (!state) return KP_EXIT_FAIL;
    snprintf(dbuf, sizeof dbuf, "%s/outbox", state);
    dir = dbuf;
  }
  int ret = KP_EXIT_OK;
  if (strcmp(sub, "path") == 0) {
    printf("%s\n", dir);
    goto out;
  }
  if (strcmp(sub, "list") != 0 && strcmp(sub, "add") != 0) {
    fprintf(stderr, "keepon outbox: unknown subcommand '%s'\nusage: %s\n", sub, help.usage);
    ret = KP_EXIT_USAGE;
    goto out;
  }
  if (strcmp(sub, "add") == 0 && npos < 2) {
    fprintf(stderr, "usage: keepon outbox add FILE...\n");
    ret = KP_EXIT_USAGE;
    goto out;
  }
  kp_outbox_t *ob = NULL;
  kp_status_t st = kp_outbox_open(dir, &ob);
  if (st != KP_OK) {
    fprintf(stderr, "keepon outbox: cannot open %s: %s\n", dir, kp_strstatus(st));
    ret = KP_EXIT_FAIL;
    goto out;
  }
  if (kp_outbox_recovered_bytes(ob))
    fprintf(stderr, "keepon outbox: cut an incomplete last record (%zu bytes, a torn write)\n",
            kp_outbox_recovered_bytes(ob));
  if (strcmp(sub, "add") == 0) {
    kp_cli_privacy_notice();
    size_t added = 0;
    for (int i = 1; i < npos && ret == KP_EXIT_OK; i++) ret = add_file(ob, pos[i], &added);
    fprintf(stderr, "keepon outbox: added %zu measurement(s); head seq %llu, %zu pending\n", added,
            (unsigned long long)kp_outbox_head_seq(ob), kp_outbox_pending(ob));
  } else {
    list_ctx_t l = {.all = all};
    printf("outbox %s  key %s\n", dir, kp_outbox_key_id_str(ob));
    kp_outbox_list(ob, list_cb, &l);
    printf("%zu pending, %zu delivered\n", l.pending, l.delivered);
  }
  kp_outbox_close(ob);
out:
  free(pos);
  return ret;
}
