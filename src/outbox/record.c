/*
 * record.c: outbox record lines: parse, check, write, and chain verification.
 *
 * Pure functions over bytes (kp_json_parse for the line, libsodium for the
 * signature). A record binds its measurement bytes (hash), its position
 * (seq) and its predecessor (prev) under one Ed25519 signature, so:
 *   altered measurement  -> hash mismatch
 *   altered hash/seq/prev -> signature fails
 *   deleted record        -> a seq is missing and the next prev does not chain
 *   reordered records     -> seq goes backwards in file order
 * verify reports each with the line and seq it concerns.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "outbox/outbox.h"
#include "outbox/outbox_internal.h"

static const char altered_msg[] = "content hash does not match the measurement: the measurement was altered";
#define KP_OUTBOX_WHY_ALTERED altered_msg

void kp_outbox_key_id(const uint8_t pk[32], char out[33]) {
  uint8_t h[32];
  kp_sha256(pk, 32, h);
  static const char hx[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) out[2 * i] = hx[h[i] >> 4], out[2 * i + 1] = hx[h[i] & 15];
  out[32] = 0;
}

bool kp_outbox_field_hex32(const kp_json_t *o, const char *k, uint8_t out[32]) {
  const kp_json_t *v = kp_json_get(o, k);
  return kp_json_is(v, KP_JSON_STRING) && kp_json_strlen(v) == 64 &&
         kp_hex_decode(kp_json_str(v), 64, out, 32) == KP_OK;
}

bool kp_outbox_field_b64(const kp_json_t *o, const char *k, uint8_t *out, size_t want) {
  const kp_json_t *v = kp_json_get(o, k);
  if (!kp_json_is(v, KP_JSON_STRING) || kp_json_strlen(v) > 128) return false;
  kp_buf_t b;
  kp_buf_init(&b, 256);
  bool ok = kp_base64_decode(kp_json_str(v), kp_json_strlen(v), &b) == KP_OK && b.len == want;
  if (ok) memcpy(out, b.data, want);
  kp_buf_free(&b);
  return ok;
}

kp_status_t kp_outbox_rec_parse(const void *line, size_t n, kp_json_doc_t **docp, kp_outbox_rec_t *rec,
                                const char **why) {
  memset(rec, 0, sizeof *rec);
  *docp = NULL;
  kp_json_doc_t *doc = NULL;
  if (kp_json_parse(line, n, NULL, &doc, NULL) != KP_OK) {
    *why = "not valid JSON";
    return KP_ERR_INVAL;
  }
  const kp_json_t *o = kp_json_root(doc);
  int64_t seq;
  const kp_json_t *msm = kp_json_get(o, "msm");
  const char *kid = kp_json_get_str(o, "key_id");
  *why = NULL;
  if (!kp_json_is(o, KP_JSON_OBJECT)) *why = "not a JSON object";
  else if (!kp_json_get_int(o, "seq", &seq) || seq < 1) *why = "missing or invalid seq";
  else if (!kp_outbox_field_hex32(o, "prev", rec->prev)) *why = "missing or invalid prev hash";
  else if (!kp_outbox_field_hex32(o, "hash", rec->hash)) *why = "missing or invalid content hash";
  else if (!kp_outbox_field_b64(o, "sig", rec->sig, 64)) *why = "missing or invalid signature";
  else if (!kp_outbox_field_b64(o, "pubkey", rec->pubkey, 32)) *why = "missing or invalid public key";
  else if (!kid || strlen(kid) != 32 || strspn(kid, "0123456789abcdef") != 32) *why = "missing or invalid key_id";
  else if (!kp_json_is(msm, KP_JSON_STRING)) *why = "missing measurement";
  else if (!kp_utf8_valid((const uint8_t *)kp_json_str(msm), kp_json_strlen(msm)))
    *why = "measurement is not valid UTF-8";
  if (*why) {
    kp_json_doc_free(doc);
    return KP_ERR_INVAL;
  }
  rec->seq = (uint64_t)seq;
  memcpy(rec->key_id, kid, 33);
  rec->msm = kp_json_str(msm);
  rec->msm_len = kp_json_strlen(msm);
  *docp = doc;
  return KP_OK;
}

static void sig_message(const kp_outbox_rec_t *r, uint8_t m[72]) {
  for (int i = 0; i < 8; i++) m[i] = (uint8_t)(r->seq >> (56 - 8 * i));
  memcpy(m + 8, r->prev, 32);
  memcpy(m + 40, r->hash, 32);
}

kp_status_t kp_outbox_rec_check(const kp_outbox_rec_t *r, const char **why) {
  char kid[33];
  kp_outbox_key_id(r->pubkey, kid);
  if (strcmp(kid, r->key_id) != 0) {
    *why = "key_id does not belong to the public key";
    return KP_ERR_PERM;
  }
  uint8_t m[72];
  sig_message(r, m);
  if (sodium_init() < 0 || crypto_sign_verify_detached(r->sig, m, sizeof m, r->pubkey) != 0) {
    *why = "signature does not verify: seq, prev or hash was altered, or a foreign key signed it";
    return KP_ERR_PERM;
  }
  /* last: with a valid signature the envelope (seq, prev, hash) is authentic, so a hash
   * mismatch means exactly that the measurement bytes were altered */
  uint8_t h[32];
  kp_sha256(r->msm, r->msm_len, h);
  if (memcmp(h, r->hash, 32) != 0) {
    *why = KP_OUTBOX_WHY_ALTERED;
    return KP_ERR_PERM;
  }
  return KP_OK;
}

kp_status_t kp_outbox_rec_write(const kp_outbox_rec_t *r, kp_buf_t *out) {
  char prev[65], hash[65];
  static const char hx[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    prev[2 * i] = hx[r->prev[i] >> 4], prev[2 * i + 1] = hx[r->prev[i] & 15];
    hash[2 * i] = hx[r->hash[i] >> 4], hash[2 * i + 1] = hx[r->hash[i] & 15];
  }
  prev[64] = hash[64] = 0;
  kp_buf_t sig, pk;
  kp_buf_init(&sig, 256);
  kp_buf_init(&pk, 256);
  kp_base64_encode(r->sig, 64, &sig);
  kp_base64_encode(r->pubkey, 32, &pk);
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_obj_begin(&w);
  kp_jw_kint(&w, "seq", (int64_t)r->seq);
  kp_jw_kstr(&w, "prev", prev);
  kp_jw_kstr(&w, "hash", hash);
  kp_jw_kstr(&w, "key_id", r->key_id);
  kp_jw_kstr(&w, "pubkey", kp_buf_str(&pk));
  kp_jw_kstr(&w, "sig", kp_buf_str(&sig));
  kp_jw_key(&w, "msm");
  kp_jw_strn(&w, r->msm, r->msm_len);
  kp_jw_obj_end(&w);
  kp_buf_free(&sig);
  kp_buf_free(&pk);
  if (w.st != KP_OK) return w.st;
  return kp_buf_putc(out, '\n');
}

/* ---- chain verification ---- */
typedef struct entry {
  size_t line;
  uint64_t seq;
  size_t key;
  uint8_t hash[32], prev[32];
} entry_t;

static int by_key_seq(const void *a, const void *b) {
  const entry_t *x = *(entry_t *const *)a, *y = *(entry_t *const *)b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
  return x->line < y->line ? -1 : x->line > y->line;
}

static void problem(kp_outbox_problem_cb cb, void *ctx, size_t *np, size_t line, int64_t seq, const char *fmt,
                    ...) __attribute__((format(printf, 6, 7)));
static void problem(kp_outbox_problem_cb cb, void *ctx, size_t *np, size_t line, int64_t seq, const char *fmt,
                    ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  (*np)++;
  if (cb) cb(ctx, line, seq, msg);
}

static bool trusted(const kp_outbox_verify_opts_t *o, const char *kid) {
  if (!o->ntrusted) return true;
  for (size_t i = 0; i < o->ntrusted; i++)
    if (strcmp(o->trusted[i], kid) == 0) return true;
  return false;
}

typedef struct keyinfo {
  char id[33];
  bool has_head;
  kp_outbox_head_t head; /* the highest verified checkpoint */
  size_t head_line;      /* 0: from opts */
} keyinfo_t;

static size_t key_index(keyinfo_t **keys, size_t *nkeys, const char *kid) {
  for (size_t k = 0; k < *nkeys; k++)
    if (strcmp((*keys)[k].id, kid) == 0) return k;
  keyinfo_t *g = realloc(*keys, (*nkeys + 1) * sizeof *g);
  if (!g) return SIZE_MAX;
  *keys = g;
  memset(&g[*nkeys], 0, sizeof *g);
  memcpy(g[*nkeys].id, kid, 33);
  return (*nkeys)++;
}

/* a verified checkpoint: keep the highest per key; two different hashes at one seq is a fork */
static void add_head(keyinfo_t *ki, const kp_outbox_head_t *h, size_t line, kp_outbox_problem_cb cb, void *ctx,
                     size_t *np) {
  if (ki->has_head && ki->head.seq == h->seq && memcmp(ki->head.hash, h->hash, 32) != 0)
    problem(cb, ctx, np, line, (int64_t)h->seq, "two signed head checkpoints at seq %llu name different records: forked chain",
            (unsigned long long)h->seq);
  if (!ki->has_head || h->seq > ki->head.seq) {
    ki->head = *h;
    ki->head_line = line;
    ki->has_head = true;
  }
}

static const entry_t *find_seq(entry_t **ord, size_t ne, size_t key, uint64_t seq) {
  size_t lo = 0, hi = ne;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const entry_t *e = ord[mid];
    if (e->key < key || (e->key == key && e->seq < seq)) lo = mid + 1;
    else hi = mid;
  }
  return lo < ne && ord[lo]->key == key && ord[lo]->seq == seq ? ord[lo] : NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

kp_status_t kp_outbox_verify_bytes(const uint8_t *p, size_t n, bool allow_gaps, kp_outbox_problem_cb cb,
                                   void *ctx, size_t *nrecords) {
  kp_outbox_verify_opts_t o = {.allow_gaps = allow_gaps};
  return kp_outbox_verify(p, n, &o, cb, ctx, nrecords);
}

kp_status_t kp_outbox_verify(const uint8_t *p, size_t n, const kp_outbox_verify_opts_t *o, kp_outbox_problem_cb cb,
                             void *ctx, size_t *nrecords) {
  entry_t *es = NULL;
  entry_t **ord = NULL;
  size_t ne = 0, cap = 0, np = 0;
  keyinfo_t *keys = NULL;
  size_t nkeys = 0;
  kp_status_t ret = KP_OK;
  size_t line = 0;
  const char *why;
  for (size_t i = 0; i < o->nheads; i++) {
    if (kp_outbox_head_check(&o->heads[i], &why) != KP_OK) {
      problem(cb, ctx, &np, 0, (int64_t)o->heads[i].seq, "%s", why);
      continue;
    }
    size_t k = key_index(&keys, &nkeys, o->heads[i].key_id);
    if (k == SIZE_MAX) {
      ret = KP_ERR_NOMEM;
      goto out;
    }
    add_head(&keys[k], &o->heads[i], 0, cb, ctx, &np);
  }
  for (size_t off = 0; off < n;) {
    line++;
    const uint8_t *nl = memchr(p + off, '\n', n - off);
    size_t len = nl ? (size_t)(nl - (p + off)) : n - off;
    const uint8_t *lp = p + off;
    off += len + (nl ? 1 : 0);
    if (!nl) {
      problem(cb, ctx, &np, line, -1, "incomplete last record (no end of line): a torn write");
      break;
    }
    if (len == 0) {
      problem(cb, ctx, &np, line, -1, "empty line");
      continue;
    }
    kp_json_doc_t *doc;
    kp_outbox_rec_t r;
    if (kp_outbox_rec_parse(lp, len, &doc, &r, &why) != KP_OK) {
      kp_outbox_head_t h;
      const char *hwhy;
      if (kp_outbox_head_parse(lp, len, &h, &hwhy) != KP_OK) {
        problem(cb, ctx, &np, line, -1, "not a valid record: %s", why);
        continue;
      }
      if (kp_outbox_head_check(&h, &hwhy) != KP_OK) {
        problem(cb, ctx, &np, line, (int64_t)h.seq, "%s", hwhy);
        continue;
      }
      size_t k = key_index(&keys, &nkeys, h.key_id);
      if (k == SIZE_MAX) {
        ret = KP_ERR_NOMEM;
        goto out;
      }
      add_head(&keys[k], &h, line, cb, ctx, &np);
      continue;
    }
    if (kp_outbox_rec_check(&r, &why) != KP_OK) {
      problem(cb, ctx, &np, line, (int64_t)r.seq, "%s", why);
      if (why != KP_OUTBOX_WHY_ALTERED) { /* envelope untrusted: keep it out of the chain */
        kp_json_doc_free(doc);
        continue;
      }
    }
    size_t k = key_index(&keys, &nkeys, r.key_id);
    if (k == SIZE_MAX) {
      kp_json_doc_free(doc);
      ret = KP_ERR_NOMEM;
      goto out;
    }
    if (ne == cap) {
      cap = cap ? cap * 2 : 256;
      entry_t *g = realloc(es, cap * sizeof *g);
      if (!g) {
        kp_json_doc_free(doc);
        ret = KP_ERR_NOMEM;
        goto out;
      }
      es = g;
    }
    entry_t *e = &es[ne++];
    e->line = line, e->seq = r.seq, e->key = k;
    memcpy(e->hash, r.hash, 32);
    memcpy(e->prev, r.prev, 32);
    kp_json_doc_free(doc);
  }
  /* pinned keys: one problem per foreign key, at its first line */
  for (size_t k = 0; k < nkeys; k++) {
    if (trusted(o, keys[k].id)) continue;
    size_t first = keys[k].has_head ? keys[k].head_line : 0;
    for (size_t i = 0; i < ne; i++)
      if (es[i].key == k) {
        first = es[i].line;
        break;
      }
    problem(cb, ctx, &np, first, -1, "key %s is not one of the pinned keys: records under it are not trusted",
            keys[k].id);
  }
  /* order in the file: seq must increase per key */
  for (size_t k = 0; k < nkeys; k++) {
    const entry_t *last = NULL;
    for (size_t i = 0; i < ne; i++) {
      if (es[i].key != k) continue;
      if (last && es[i].seq == last->seq)
        problem(cb, ctx, &np, es[i].line, (int64_t)es[i].seq, "seq %llu appears twice (also line %zu)",
                (unsigned long long)es[i].seq, last->line);
      else if (last && es[i].seq < last->seq)
        problem(cb, ctx, &np, es[i].line, (int64_t)es[i].seq,
                "out of order: seq %llu comes after seq %llu (line %zu): records reordered",
                (unsigned long long)es[i].seq, (unsigned long long)last->seq, last->line);
      if (!last || es[i].seq > last->seq) last = &es[i];
    }
  }
  /* by seq: gaps and hash links */
  ord = malloc((ne ? ne : 1) * sizeof *ord);
  if (!ord) {
    ret = KP_ERR_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < ne; i++) ord[i] = &es[i];
  qsort(ord, ne, sizeof *ord, by_key_seq);
  static const uint8_t zero[32];
  for (size_t i = 0; i < ne; i++) {
    const entry_t *e = ord[i], *b = i && ord[i - 1]->key == e->key ? ord[i - 1] : NULL;
    if (b && b->seq == e->seq) continue; /* duplicate, reported above */
    uint64_t expect = b ? b->seq + 1 : 1;
    /* a gap is excused (collector exports) only above the key's signed head: below it the
     * probe certified that the records existed */
    uint64_t certified = keys[e->key].has_head ? keys[e->key].head.seq : 0;
    if (e->seq > expect && (!o->allow_gaps || expect <= certified)) {
      if (e->seq - expect == 1)
        problem(cb, ctx, &np, e->line, (int64_t)e->seq, "record seq %llu is missing before this one: deleted",
                (unsigned long long)expect);
      else
        problem(cb, ctx, &np, e->line, (int64_t)e->seq, "records seq %llu..%llu are missing before this one: deleted",
                (unsigned long long)expect, (unsigned long long)e->seq - 1);
    }
    if (e->seq == 1 && memcmp(e->prev, zero, 32) != 0)
      problem(cb, ctx, &np, e->line, 1, "first record does not start the chain (prev is not zero)");
    if (b && b->seq + 1 == e->seq && memcmp(e->prev, b->hash, 32) != 0)
      problem(cb, ctx, &np, e->line, (int64_t)e->seq, "prev hash does not match record seq %llu (line %zu): chain broken",
              (unsigned long long)b->seq, b->line);
  }
  /* signed heads: the chain must reach each key's checkpoint and agree with it */
  for (size_t k = 0; k < nkeys; k++) {
    if (!keys[k].has_head || keys[k].head.seq == 0) continue;
    const kp_outbox_head_t *h = &keys[k].head;
    uint64_t last = 0;
    for (size_t i = 0; i < ne; i++)
      if (ord[i]->key == k && ord[i]->seq > last) last = ord[i]->seq;
    const entry_t *at = find_seq(ord, ne, k, h->seq);
    if (last < h->seq)
      problem(cb, ctx, &np, keys[k].head_line, (int64_t)h->seq,
              "records seq %llu..%llu of key %s are missing at the end: the tail was dropped (signed head checkpoint at seq %llu)",
              (unsigned long long)last + 1, (unsigned long long)h->seq, keys[k].id, (unsigned long long)h->seq);
    else if (at && memcmp(at->hash, h->hash, 32) != 0)
      problem(cb, ctx, &np, at->line, (int64_t)h->seq,
              "record seq %llu is not the one the signed head checkpoint names: chain replaced", (unsigned long long)h->seq);
  }
  /* acknowledged by a collector: must be present */
  if (o->nacked) {
    size_t k = SIZE_MAX;
    if (o->acked_key) {
      for (size_t j = 0; j < nkeys; j++)
        if (strcmp(keys[j].id, o->acked_key) == 0) k = j;
    } else if (nkeys == 1) {
      k = 0;
    } else if (nkeys > 1) {
      problem(cb, ctx, &np, 0, -1, "acknowledged seqs given but the input holds %zu keys and none was named", nkeys);
      goto done;
    }
    uint64_t *acked = malloc(o->nacked * sizeof *acked);
    if (!acked) {
      ret = KP_ERR_NOMEM;
      goto out;
    }
    memcpy(acked, o->acked, o->nacked * sizeof *acked);
    qsort(acked, o->nacked, sizeof *acked, cmp_u64);
    for (size_t i = 0; i < o->nacked;) {
      if ((i && acked[i] == acked[i - 1]) || (k != SIZE_MAX && find_seq(ord, ne, k, acked[i]))) {
        i++;
        continue;
      }
      size_t j = i; /* a run of missing consecutive seqs is one problem */
      while (j + 1 < o->nacked && acked[j + 1] == acked[j] + 1 && !(k != SIZE_MAX && find_seq(ord, ne, k, acked[j + 1])))
        j++;
      if (i == j)
        problem(cb, ctx, &np, 0, (int64_t)acked[i], "record seq %llu was acknowledged by the collector (acked.log) but is missing",
                (unsigned long long)acked[i]);
      else
        problem(cb, ctx, &np, 0, (int64_t)acked[i],
                "records seq %llu..%llu were acknowledged by the collector (acked.log) but are missing",
                (unsigned long long)acked[i], (unsigned long long)acked[j]);
      i = j + 1;
    }
    free(acked);
  }
done:
out:
  free(ord);
  free(es);
  free(keys);
  if (nrecords) *nrecords = ne;
  if (ret == KP_OK && np) ret = KP_ERR_PERM;
  return ret;
}
