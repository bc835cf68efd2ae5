/*
 * head.c: signed head checkpoints, and what an outbox folder says must exist.
 *
 * A checkpoint is one line
 *   {"type":"head","key_id":HEX32,"seq":N,"hash":HEX64,"pubkey":B64,"sig":B64}
 * with sig = Ed25519 over "keepon-head-v1" (14 bytes) || be64(seq) || hash. The prefix keeps a
 * checkpoint signature from ever verifying as a record signature (records sign 72 bytes without
 * it) and vice versa. seq 0 with a zero hash is the head of an empty chain.
 *
 * Why: a record chain proves what it contains, not that nothing follows. The key signs "my chain
 * had N records ending in hash H"; anyone holding that line can tell a chain that ends before N
 * (tail dropped) or holds a different record N (chain replaced) from an intact one.
 * Where checkpoints live: <outbox>/head (rewritten atomically on close after appends), the
 * collector's chain_heads table (one per key, the highest seq it was sent after an upload run),
 * and inside evidence bundles.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/file.h"
#include "outbox/outbox.h"
#include "outbox/outbox_internal.h"

static const char head_tag[] = "keepon-head-v1";
#define HEAD_TAG_LEN (sizeof head_tag - 1)
#define HEAD_MSG_LEN (HEAD_TAG_LEN + 8 + 32)

static void head_message(const kp_outbox_head_t *h, uint8_t m[HEAD_MSG_LEN]) {
  memcpy(m, head_tag, HEAD_TAG_LEN);
  for (int i = 0; i < 8; i++) m[HEAD_TAG_LEN + i] = (uint8_t)(h->seq >> (56 - 8 * i));
  memcpy(m + HEAD_TAG_LEN + 8, h->hash, 32);
}

void kp_outbox_head_sign(const uint8_t sk[64], const uint8_t pk[32], uint64_t seq, const uint8_t hash[32],
                         kp_outbox_head_t *h) {
  memset(h, 0, sizeof *h);
  h->seq = seq;
  memcpy(h->hash, hash, 32);
  memcpy(h->pubkey, pk, 32);
  kp_outbox_key_id(pk, h->key_id);
  uint8_t m[HEAD_MSG_LEN];
  head_message(h, m);
  crypto_sign_detached(h->sig, NULL, m, sizeof m, sk);
}

kp_status_t kp_outbox_head_parse(const void *line, size_t n, kp_outbox_head_t *h, const char **why) {
  memset(h, 0, sizeof *h);
  kp_json_doc_t *doc = NULL;
  if (kp_json_parse(line, n, NULL, &doc, NULL) != KP_OK) {
    *why = "not valid JSON";
    return KP_ERR_INVAL;
  }
  const kp_json_t *o = kp_json_root(doc);
  const char *type = kp_json_get_str(o, "type"), *kid = kp_json_get_str(o, "key_id");
  int64_t seq = -1;
  *why = NULL;
  if (!kp_json_is(o, KP_JSON_OBJECT) || !type || strcmp(type, "head") != 0) *why = "not a head checkpoint";
  else if (!kp_json_get_int(o, "seq", &seq) || seq < 0) *why = "missing or invalid seq";
  else if (!kp_outbox_field_hex32(o, "hash", h->hash)) *why = "missing or invalid head hash";
  else if (!kp_outbox_field_b64(o, "sig", h->sig, 64)) *why = "missing or invalid signature";
  else if (!kp_outbox_field_b64(o, "pubkey", h->pubkey, 32)) *why = "missing or invalid public key";
  else if (!kid || strlen(kid) != 32 || strspn(kid, "0123456789abcdef") != 32) *why = "missing or invalid key_id";
  if (!*why) {
    h->seq = (uint64_t)seq;
    memcpy(h->key_id, kid, 33);
  }
  kp_json_doc_free(doc);
  return *why ? KP_ERR_INVAL : KP_OK;
}

kp_status_t kp_outbox_head_check(const kp_outbox_head_t *h, const char **why) {
  char kid[33];
  kp_outbox_key_id(h->pubkey, kid);
  if (strcmp(kid, h->key_id) != 0) {
    *why = "head checkpoint: key_id does not belong to the public key";
    return KP_ERR_PERM;
  }
  static const uint8_t zero[32];
  if (h->seq == 0 && memcmp(h->hash, zero, 32) != 0) {
    *why = "head checkpoint: an empty chain (seq 0) must have a zero hash";
    return KP_ERR_PERM;
  }
  uint8_t m[HEAD_MSG_LEN];
  head_message(h, m);
  if (sodium_init() < 0 || crypto_sign_verify_detached(h->sig, m, sizeof m, h->pubkey) != 0) {
    *why = "head checkpoint: signature does not verify (seq or hash altered, or a foreign key signed it)";
    return KP_ERR_PERM;
  }
  return KP_OK;
}

kp_status_t kp_outbox_head_write(const kp_outbox_head_t *h, kp_buf_t *out) {
  char hash[65];
  static const char hx[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) hash[2 * i] = hx[h->hash[i] >> 4], hash[2 * i + 1] = hx[h->hash[i] & 15];
  hash[64] = 0;
  kp_buf_t sig, pk;
  kp_buf_init(&sig, 256);
  kp_buf_init(&pk, 256);
  kp_base64_encode(h->sig, 64, &sig);
  kp_base64_encode(h->pubkey, 32, &pk);
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "type", "head");
  kp_jw_kstr(&w, "key_id", h->key_id);
  kp_jw_kint(&w, "seq", (int64_t)h->seq);
  kp_jw_kstr(&w, "hash", hash);
  kp_jw_kstr(&w, "pubkey", kp_buf_str(&pk));
  kp_jw_kstr(&w, "sig", kp_buf_str(&sig));
  kp_jw_obj_end(&w);
  kp_buf_free(&sig);
  kp_buf_free(&pk);
  if (w.st != KP_OK) return w.st;
  return kp_buf_putc(out, '\n');
}

void kp_outbox_expect_free(kp_outbox_expect_t *e) {
  if (!e) return;
  free(e->acked);
  memset(e, 0, sizeof *e);
}

/* acked.log: "seq uid\n" lines; a torn last line (no '\n') is not a claim */
static kp_status_t read_acked(const char *path, kp_outbox_expect_t *e) {
  kp_buf_t b;
  kp_buf_init(&b, (size_t)1 << 32);
  kp_status_t st = kp_file_read(path, &b);
  if (st != KP_OK) {
    kp_buf_free(&b);
    return KP_OK; /* no acked.log: nothing was acknowledged */
  }
  size_t cap = 0;
  for (size_t off = 0; off < b.len;) {
    const uint8_t *nl = memchr(b.data + off, '\n', b.len - off);
    if (!nl) break;
    size_t len = (size_t)(nl - (b.data + off));
    char line[160];
    if (len < sizeof line) {
      memcpy(line, b.data + off, len);
      line[len] = 0;
      unsigned long long seq;
      char uid[128];
      if (sscanf(line, "%llu %127s", &seq, uid) == 2 && seq > 0 && seq < ((uint64_t)1 << 40)) {
        if (e->nacked == cap) {
          cap = cap ? cap * 2 : 256;
          uint64_t *g = realloc(e->acked, cap * sizeof *g);
          if (!g) {
            st = KP_ERR_NOMEM;
            break;
          }
          e->acked = g;
        }
        e->acked[e->nacked++] = seq;
      }
    }
    off += len + 1;
  }
  kp_buf_free(&b);
  return st;
}

kp_status_t kp_outbox_expect_load(const char *dir, kp_outbox_expect_t *e) {
  memset(e, 0, sizeof *e);
  char path[4200];
  snprintf(path, sizeof path, "%s/head", dir);
  kp_buf_t b;
  kp_buf_init(&b, 4096);
  if (kp_file_read(path, &b) == KP_OK) {
    const char *why;
    size_t n = b.len;
    while (n && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r')) n--;
    if (kp_outbox_head_parse(b.data, n, &e->head, &why) == KP_OK) e->has_head = true;
    else e->head_problem = why;
  }
  kp_buf_free(&b);
  snprintf(path, sizeof path, "%s/acked.log", dir);
  return read_acked(path, e);
}

kp_status_t kp_outbox_load_key_ids(const char *path, char (**ids)[33], size_t *n) {
  *ids = NULL;
  *n = 0;
  kp_buf_t b;
  kp_buf_init(&b, 16u << 20);
  kp_status_t st = kp_file_read(path, &b);
  size_t cap = 0, lineno = 0;
  for (size_t off = 0; st == KP_OK && off < b.len;) {
    const uint8_t *p = b.data + off, *nl = memchr(p, '\n', b.len - off);
    size_t len = nl ? (size_t)(nl - p) : b.len - off;
    off += len + (nl ? 1 : 0);
    lineno++;
    while (len && (p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
    while (len && (*p == ' ' || *p == '\t')) p++, len--;
    if (len == 0 || *p == '#') continue;
    if (len != 32 || strspn((const char *)p, "0123456789abcdef") < 32) {
      st = KP_ERR_INVAL; /* a typo must not silently pin nothing */
      break;
    }
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      char(*g)[33] = realloc(*ids, cap * sizeof *g);
      if (!g) {
        st = KP_ERR_NOMEM;
        break;
      }
      *ids = g;
    }
    memcpy((*ids)[*n], p, 32);
    (*ids)[(*n)++][32] = 0;
  }
  kp_buf_free(&b);
  if (st == KP_OK && *n == 0) st = KP_ERR_INVAL; /* an empty pin list would refuse everything */
  if (st != KP_OK) {
    free(*ids);
    *ids = NULL;
    *n = 0;
  }
  return st;
}
