/*
 * test_chain.c: what the evidence chain must notice beyond single records (issue 13 items 5, 7).
 *  - a record whose prev does not match the record before it (same key, signed correctly) is
 *    named: turning off verify's prev-hash check makes this fail
 *  - a dropped tail is found from the outbox's signed head and from acked.log; a collector
 *    export with allow_gaps still reports gaps below a signed head checkpoint
 *  - a checkpoint that names another record at its seq (chain replaced) is found
 *  - pinned keys: a chain re-signed under a fresh key is flagged
 *  - N processes appending at once get seqs 1..N, one chain, each record once
 */
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/codec.h"
#include "base/file.h"
#include "kp_test.h"
#include "outbox/outbox.h"

static const char *msm(int i) {
  static char b[256];
  snprintf(b, sizeof b,
           "{\"probe_cc\":\"KZ\",\"probe_asn\":\"AS9198\",\"test_name\":\"signal\","
           "\"measurement_start_time\":\"2022-01-05 10:%02d:00\",\"test_keys\":{\"i\":%d}}",
           i % 60, i);
  return b;
}

static void outdir(const char *name, char dir[4096]) { snprintf(dir, 4096, "%s/%s", kp_test_tmpdir(), name); }

static kp_outbox_t *fresh(const char *name, int n) {
  char dir[4096];
  outdir(name, dir);
  kp_outbox_t *ob = NULL;
  KP_ASSERT_OK(kp_outbox_open(dir, &ob));
  for (int i = 1; i <= n; i++) {
    const char *m = msm(i);
    KP_ASSERT_OK(kp_outbox_append(ob, m, strlen(m), NULL));
  }
  return ob;
}

typedef struct probs {
  char text[16][256];
  int64_t seq[16];
  int n;
} probs_t;
static void collect(void *ctx, size_t line, int64_t seq, const char *p) {
  (void)line;
  probs_t *ps = ctx;
  if (ps->n < 16) {
    snprintf(ps->text[ps->n], sizeof ps->text[0], "%s", p);
    ps->seq[ps->n] = seq;
  }
  ps->n++;
}
static bool has(const probs_t *ps, const char *needle) {
  for (int i = 0; i < ps->n && i < 16; i++)
    if (strstr(ps->text[i], needle)) return true;
  return false;
}

static void read_all(const char *path, kp_buf_t *b) {
  kp_buf_init(b, 64u << 20);
  KP_ASSERT_OK(kp_file_read(path, b));
}

/* signs a record line with @p sk as seq with the given prev */
static void signed_line(const uint8_t sk[64], const uint8_t pk[32], uint64_t seq, const uint8_t prev[32],
                        const char *m, kp_buf_t *out, uint8_t hash_out[32]) {
  kp_outbox_rec_t r = {.seq = seq, .msm = m, .msm_len = strlen(m)};
  memcpy(r.prev, prev, 32);
  kp_sha256(m, strlen(m), r.hash);
  memcpy(r.pubkey, pk, 32);
  kp_outbox_key_id(pk, r.key_id);
  uint8_t msg[72];
  for (int i = 0; i < 8; i++) msg[i] = (uint8_t)(seq >> (56 - 8 * i));
  memcpy(msg + 8, r.prev, 32);
  memcpy(msg + 40, r.hash, 32);
  crypto_sign_detached(r.sig, NULL, msg, sizeof msg, sk);
  KP_ASSERT_OK(kp_outbox_rec_write(&r, out));
  if (hash_out) memcpy(hash_out, r.hash, 32);
}

KP_TEST(prev_mismatch_same_key_is_named) {
  KP_ASSERT(sodium_init() >= 0);
  uint8_t pk[32], sk[64], h1[32], h2[32];
  crypto_sign_keypair(pk, sk);
  static const uint8_t zero[32];
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  signed_line(sk, pk, 1, zero, msm(1), &b, h1);
  signed_line(sk, pk, 2, h1, msm(2), &b, h2);
  /* seq 3 properly signed by the same key, but chained to record 1 instead of record 2 */
  signed_line(sk, pk, 3, h1, msm(3), &b, NULL);
  probs_t ps = {0};
  KP_ASSERT_EQ(kp_outbox_verify_bytes(b.data, b.len, false, collect, &ps, NULL), KP_ERR_PERM);
  KP_ASSERT_EQ(ps.n, 1);
  KP_ASSERT(has(&ps, "prev hash does not match record seq 2"));
  KP_ASSERT_EQ(ps.seq[0], 3);
  kp_buf_free(&b);
}

/* The first record of a chain must have an all-zero prev: a chain that starts at seq 1 but links
 * to some earlier record (its true start cut off and renumbered) is named. */
KP_TEST(first_record_prev_must_be_zero) {
  KP_ASSERT(sodium_init() >= 0);
  uint8_t pk[32], sk[64], h1[32], other[32];
  crypto_sign_keypair(pk, sk);
  memset(other, 0x5a, sizeof other);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  signed_line(sk, pk, 1, other, msm(1), &b, h1);
  signed_line(sk, pk, 2, h1, msm(2), &b, NULL);
  probs_t ps = {0};
  KP_ASSERT_EQ(kp_outbox_verify_bytes(b.data, b.len, false, collect, &ps, NULL), KP_ERR_PERM);
  KP_ASSERT_EQ(ps.n, 1);
  KP_ASSERT_EQ(ps.seq[0], 1);
  KP_ASSERT(has(&ps, "prev is not zero"));
  kp_buf_free(&b);
}

static void truncate_lines(const char *path, int keep) {
  kp_buf_t b;
  read_all(path, &b);
  size_t off = 0;
  for (int i = 0; i < keep; i++) off = (size_t)((uint8_t *)memchr(b.data + off, '\n', b.len - off) - b.data) + 1;
  KP_ASSERT_EQ(truncate(path, (off_t)off), 0);
  kp_buf_free(&b);
}

static kp_status_t verify_dir(const char *dir, probs_t *ps) {
  char path[4200];
  snprintf(path, sizeof path, "%s/chain.log", dir);
  kp_buf_t b;
  read_all(path, &b);
  kp_outbox_expect_t ex;
  KP_ASSERT_OK(kp_outbox_expect_load(dir, &ex));
  kp_outbox_verify_opts_t o = {.acked = ex.acked, .nacked = ex.nacked};
  if (ex.has_head) o.heads = &ex.head, o.nheads = 1, o.acked_key = ex.head.key_id;
  memset(ps, 0, sizeof *ps);
  kp_status_t st = kp_outbox_verify(b.data, b.len, &o, collect, ps, NULL);
  kp_outbox_expect_free(&ex);
  kp_buf_free(&b);
  return st;
}

KP_TEST(dropped_tail_found_by_signed_head) {
  kp_outbox_t *ob = fresh("tail", 5);
  char dir[4096];
  outdir("tail", dir);
  kp_outbox_close(ob);
  probs_t ps;
  KP_ASSERT_OK(verify_dir(dir, &ps));
  char path[4200];
  snprintf(path, sizeof path, "%s/chain.log", dir);
  truncate_lines(path, 3);
  KP_ASSERT_EQ(verify_dir(dir, &ps), KP_ERR_PERM);
  KP_ASSERT(has(&ps, "records seq 4..5"));
  KP_ASSERT(has(&ps, "tail was dropped"));
}

KP_TEST(dropped_tail_found_by_acked_log) {
  kp_outbox_t *ob = fresh("acked", 5);
  for (uint64_t s = 1; s <= 5; s++) KP_ASSERT_OK(kp_outbox_mark_delivered(ob, s, "uid"));
  char dir[4096], path[4200];
  outdir("acked", dir);
  kp_outbox_close(ob);
  snprintf(path, sizeof path, "%s/head", dir);
  KP_ASSERT_EQ(unlink(path), 0); /* no head: acked.log alone must notice */
  snprintf(path, sizeof path, "%s/chain.log", dir);
  truncate_lines(path, 4);
  probs_t ps;
  KP_ASSERT_EQ(verify_dir(dir, &ps), KP_ERR_PERM);
  KP_ASSERT_EQ(ps.n, 1);
  KP_ASSERT(has(&ps, "record seq 5 was acknowledged by the collector"));
}

KP_TEST(collector_export_gap_below_head) {
  kp_outbox_t *ob = fresh("gap", 4);
  kp_outbox_head_t h;
  KP_ASSERT_OK(kp_outbox_checkpoint(ob, false, &h));
  KP_ASSERT_EQ(h.seq, 4);
  kp_buf_t b;
  read_all(kp_outbox_chain_path(ob), &b);
  /* drop line 2 (seq 2) as a collector that lost a row would */
  size_t s2 = (size_t)((uint8_t *)memchr(b.data, '\n', b.len) - b.data) + 1;
  size_t e2 = (size_t)((uint8_t *)memchr(b.data + s2, '\n', b.len - s2) - b.data) + 1;
  memmove(b.data + s2, b.data + e2, b.len - e2);
  b.len -= e2 - s2;
  probs_t ps = {0};
  /* without a head, allow_gaps excuses it (records not uploaded yet) */
  KP_ASSERT_OK(kp_outbox_verify_bytes(b.data, b.len, true, collect, &ps, NULL));
  /* with the signed head appended (as /api/v1/keepon/heads gives it) it is a deletion */
  KP_ASSERT_OK(kp_outbox_head_write(&h, &b));
  KP_ASSERT_EQ(kp_outbox_verify_bytes(b.data, b.len, true, collect, &ps, NULL), KP_ERR_PERM);
  KP_ASSERT(has(&ps, "record seq 2 is missing"));
  /* a head altered to claim more than was signed does not verify */
  kp_outbox_head_t bad = h;
  bad.seq = 9;
  kp_buf_t l;
  kp_buf_init(&l, 4096);
  KP_ASSERT_OK(kp_outbox_head_write(&bad, &l));
  memset(&ps, 0, sizeof ps);
  KP_ASSERT_EQ(kp_outbox_verify_bytes(l.data, l.len, true, collect, &ps, NULL), KP_ERR_PERM);
  KP_ASSERT(has(&ps, "head checkpoint: signature does not verify"));
  kp_buf_free(&l);
  kp_buf_free(&b);
  kp_outbox_close(ob);
}

KP_TEST(checkpoint_names_other_record) {
  kp_outbox_t *ob = fresh("fork", 3);
  kp_outbox_head_t h;
  KP_ASSERT_OK(kp_outbox_checkpoint(ob, false, &h));
  kp_outbox_close(ob);
  /* a second outbox with another key is not the point: the same key signs another chain */
  char dir[4096], kp[4200];
  outdir("fork", dir);
  snprintf(kp, sizeof kp, "%s/key", dir);
  kp_buf_t key;
  read_all(kp, &key);
  uint8_t pk[32];
  crypto_sign_ed25519_sk_to_pk(pk, key.data);
  static const uint8_t zero[32];
  uint8_t h1[32], h2[32];
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  signed_line(key.data, pk, 1, zero, msm(1), &b, h1);
  signed_line(key.data, pk, 2, h1, msm(2), &b, h2);
  signed_line(key.data, pk, 3, h2, msm(33), &b, NULL); /* seq 3 replaced */
  KP_ASSERT_OK(kp_outbox_head_write(&h, &b));
  probs_t ps = {0};
  KP_ASSERT_EQ(kp_outbox_verify_bytes(b.data, b.len, false, collect, &ps, NULL), KP_ERR_PERM);
  KP_ASSERT_EQ(ps.n, 1);
  KP_ASSERT(has(&ps, "not the one the signed head checkpoint names"));
  kp_buf_free(&b);
  kp_buf_free(&key);
}

KP_TEST(pinned_keys_flag_a_fresh_key) {
  kp_outbox_t *a = fresh("pinA", 2), *z = fresh("pinZ", 2);
  char (*pins)[33] = malloc(sizeof *pins);
  memcpy(pins[0], kp_outbox_key_id_str(a), 33);
  kp_outbox_verify_opts_t o = {.trusted = pins, .ntrusted = 1};
  kp_buf_t b;
  read_all(kp_outbox_chain_path(a), &b);
  probs_t ps = {0};
  KP_ASSERT_OK(kp_outbox_verify(b.data, b.len, &o, collect, &ps, NULL));
  kp_buf_free(&b);
  read_all(kp_outbox_chain_path(z), &b); /* intact chain, but under a key nobody pinned */
  KP_ASSERT_OK(kp_outbox_verify_bytes(b.data, b.len, false, collect, &ps, NULL));
  KP_ASSERT_EQ(kp_outbox_verify(b.data, b.len, &o, collect, &ps, NULL), KP_ERR_PERM);
  KP_ASSERT(has(&ps, "is not one of the pinned keys"));
  kp_buf_free(&b);
  free(pins);
  kp_outbox_close(a);
  kp_outbox_close(z);
  char path[4200], dir[4096];
  outdir("pins.txt", dir);
  snprintf(path, sizeof path, "%s", dir);
  KP_ASSERT_OK(kp_file_write_atomic(path, "# pinned\nnot-a-key\n", 19, 0600));
  size_t n = 9;
  KP_ASSERT_EQ(kp_outbox_load_key_ids(path, &pins, &n), KP_ERR_INVAL); /* a typo pins nothing silently */
  KP_ASSERT_EQ(n, 0);
}

KP_TEST(parallel_appends_take_distinct_seqs) {
  enum { N = 24 };
  char dir[4096];
  outdir("par", dir);
  kp_outbox_t *ob = NULL; /* no key yet: the children also race to make it */
  pid_t kids[N];
  for (int i = 0; i < N; i++) {
    kids[i] = fork();
    KP_ASSERT(kids[i] >= 0);
    if (kids[i] == 0) {
      kp_outbox_t *c = NULL;
      if (kp_outbox_open(dir, &c) != KP_OK) _exit(2);
      const char *m = msm(100 + i);
      kp_status_t st = kp_outbox_append(c, m, strlen(m), NULL);
      kp_outbox_close(c);
      _exit(st == KP_OK ? 0 : 3);
    }
  }
  for (int i = 0; i < N; i++) {
    int ws = 0;
    KP_ASSERT_EQ(waitpid(kids[i], &ws, 0), kids[i]);
    KP_ASSERT(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  }
  probs_t ps;
  KP_ASSERT_OK(verify_dir(dir, &ps));
  KP_ASSERT_OK(kp_outbox_open(dir, &ob));
  KP_ASSERT_EQ(kp_outbox_head_seq(ob), N);
  KP_ASSERT_EQ(kp_outbox_pending(ob), N);
  kp_outbox_close(ob);
}
