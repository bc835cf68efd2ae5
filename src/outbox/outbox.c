/*
 * outbox.c: the outbox folder: key, chain.log, acked.log (format in outbox.h).
 *
 * Crash safety: a record is written with one write() on an O_APPEND file and
 * fsync'd before append returns; the folder is fsync'd when a file is created.
 * A crash mid-write can only leave an incomplete last line, which open()
 * truncates (and reports via kp_outbox_recovered_bytes). A failed write is
 * rolled back with ftruncate to the previous length so the file never keeps a
 * partial record. acked.log is written the same way; a torn last line there is
 * ignored and cut (its record simply stays pending and is re-sent, which the
 * collector deduplicates).
 * Invariant: head_seq/head_hash are those of the last complete, parseable
 * record of chain.log (0 / zeros when empty) as of chain_size bytes.
 *
 * Concurrency (several processes on one outbox): every change happens under
 * flock(LOCK_EX) on <dir>/lock:
 *   open:   lock -> load or make the key, cut torn tail, load head and acked -> unlock
 *   append: lock -> if chain.log is no longer chain_size bytes, another process
 *           appended: reload the head -> sign seq head+1 -> write, fsync -> unlock
 *   close:  (after appends) lock -> reload the head if another process appended ->
 *           rewrite <dir>/head (atomic) -> unlock
 * <dir>/head is written once per open/close, not per record (one atomic write
 * costs as much as several appends); after a crash it may lag the chain, never
 * lead it, so it can only under-claim.
 *   mark:   lock -> append to acked.log -> unlock
 * so two writers never sign the same seq, and no process cuts a line that
 * another is still writing (a torn tail can only be a crashed writer's).
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/codec.h"
#include "base/file.h"
#include "base/log.h"
#include "outbox/outbox.h"

struct kp_outbox {
  char dir[3072], chain_path[3200], acked_path[3200];
  int fd, afd, lockfd;
  size_t chain_size; /* bytes of chain.log the head was read from */
  bool head_dirty;   /* appended since <dir>/head was last written */
  uint8_t sk[64], pk[32];
  char key_id[33];
  uint64_t head_seq;
  uint8_t head_hash[32];
  char **uid;      /* uid[seq] when delivered, else NULL */
  size_t uid_cap;
  size_t ndelivered;
  size_t recovered;
};

static kp_status_t load_key(kp_outbox_t *ob) {
  char path[3200];
  snprintf(path, sizeof path, "%s/key", ob->dir);
  kp_buf_t b;
  kp_buf_init(&b, 1024);
  kp_status_t st = kp_file_read(path, &b);
  if (st == KP_OK) {
    if (b.len != 64) {
      kp_log_warnx("outbox", "%s: not an Ed25519 secret key (%zu bytes)", path, b.len);
      st = KP_ERR_INVAL;
    } else {
      memcpy(ob->sk, b.data, 64);
      crypto_sign_ed25519_sk_to_pk(ob->pk, ob->sk);
    }
  } else if (st == KP_ERR_NOTFOUND || errno == ENOENT) {
    /* first run: a fresh random key, unrelated to the person or the machine */
    crypto_sign_keypair(ob->pk, ob->sk);
    st = kp_file_write_atomic(path, ob->sk, 64, 0600);
  }
  kp_buf_free(&b);
  if (st == KP_OK) kp_outbox_key_id(ob->pk, ob->key_id);
  return st;
}

/* cut an incomplete last line; @return bytes cut */
static kp_status_t cut_torn_tail(int fd, const kp_buf_t *b, size_t *cut) {
  *cut = 0;
  if (b->len == 0 || b->data[b->len - 1] == '\n') return KP_OK;
  size_t keep = b->len;
  while (keep && b->data[keep - 1] != '\n') keep--;
  if (ftruncate(fd, (off_t)keep) != 0 || fsync(fd) != 0) return KP_ERR_IO;
  *cut = b->len - keep;
  return KP_OK;
}

static kp_status_t set_uid(kp_outbox_t *ob, uint64_t seq, const char *uid) {
  if (seq >= ob->uid_cap) {
    size_t nc = ob->uid_cap ? ob->uid_cap : 1024;
    while (nc <= seq) nc *= 2;
    char **g = realloc(ob->uid, nc * sizeof *g);
    if (!g) return KP_ERR_NOMEM;
    memset(g + ob->uid_cap, 0, (nc - ob->uid_cap) * sizeof *g);
    ob->uid = g;
    ob->uid_cap = nc;
  }
  if (ob->uid[seq]) return KP_OK;
  ob->uid[seq] = strdup(uid);
  if (!ob->uid[seq]) return KP_ERR_NOMEM;
  ob->ndelivered++;
  return KP_OK;
}

static kp_status_t load_chain(kp_outbox_t *ob) {
  kp_buf_t b;
  kp_buf_init(&b, (size_t)1 << 34);
  kp_status_t st = kp_file_read(ob->chain_path, &b);
  if (st != KP_OK) goto out;
  if ((st = cut_torn_tail(ob->fd, &b, &ob->recovered)) != KP_OK) goto out;
  if (ob->recovered) kp_log_warnx("outbox", "cut a torn last record (%zu bytes) from %s", ob->recovered, ob->chain_path);
  size_t end = b.len - ob->recovered;
  ob->chain_size = end;
  ob->head_seq = 0;
  memset(ob->head_hash, 0, 32);
  /* the head is the last parseable record */
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && b.data[start - 1] != '\n') start--;
    kp_json_doc_t *doc;
    kp_outbox_rec_t r;
    const char *why;
    if (kp_outbox_rec_parse(b.data + start, end - 1 - start, &doc, &r, &why) == KP_OK) {
      ob->head_seq = r.seq;
      memcpy(ob->head_hash, r.hash, 32);
      kp_json_doc_free(doc);
      break;
    }
    end = start;
  }
out:
  kp_buf_free(&b);
  return st;
}

static kp_status_t load_acked(kp_outbox_t *ob) {
  kp_buf_t b;
  kp_buf_init(&b, (size_t)1 << 32);
  kp_status_t st = kp_file_read(ob->acked_path, &b);
  size_t cut = 0;
  if (st == KP_OK) st = cut_torn_tail(ob->afd, &b, &cut);
  for (size_t off = 0; st == KP_OK && off < b.len - cut;) {
    const uint8_t *nl = memchr(b.data + off, '\n', b.len - cut - off);
    if (!nl) break;
    char line[160];
    size_t len = (size_t)(nl - (b.data + off));
    if (len < sizeof line) {
      memcpy(line, b.data + off, len);
      line[len] = 0;
      unsigned long long seq;
      char uid[128];
      if (sscanf(line, "%llu %127s", &seq, uid) == 2 && seq > 0 && seq < ((uint64_t)1 << 40))
        st = set_uid(ob, seq, uid);
    }
    off += len + 1;
  }
  kp_buf_free(&b);
  return st;
}

static kp_status_t write_head(kp_outbox_t *ob);

static kp_status_t lock_ob(kp_outbox_t *ob) {
  while (flock(ob->lockfd, LOCK_EX) != 0)
    if (errno != EINTR) return KP_ERR_IO;
  return KP_OK;
}
static void unlock_ob(kp_outbox_t *ob) { flock(ob->lockfd, LOCK_UN); }

kp_status_t kp_outbox_open(const char *dir, kp_outbox_t **out) {
  if (sodium_init() < 0) return KP_ERR_INTERNAL;
  kp_outbox_t *ob = calloc(1, sizeof *ob);
  if (!ob) return KP_ERR_NOMEM;
  ob->fd = ob->afd = ob->lockfd = -1;
  snprintf(ob->dir, sizeof ob->dir, "%s", dir);
  snprintf(ob->chain_path, sizeof ob->chain_path, "%s/chain.log", dir);
  snprintf(ob->acked_path, sizeof ob->acked_path, "%s/acked.log", dir);
  kp_status_t st = kp_mkdirs(dir, 0700);
  if (st != KP_OK) goto fail;
  /* locked from here: two first runs must not each make a key */
  char lpath[3200];
  snprintf(lpath, sizeof lpath, "%s/lock", dir);
  ob->lockfd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (ob->lockfd < 0 || lock_ob(ob) != KP_OK) {
    kp_log_warn("outbox", "lock %s", lpath);
    st = KP_ERR_IO;
    goto fail;
  }
  if ((st = load_key(ob)) != KP_OK) goto fail;
  struct stat sb;
  bool fresh = stat(ob->chain_path, &sb) != 0;
  ob->fd = open(ob->chain_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  ob->afd = open(ob->acked_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (ob->fd < 0 || ob->afd < 0) {
    kp_log_warn("outbox", "open %s", dir);
    st = KP_ERR_IO;
    goto fail;
  }
  if (fresh && (st = kp_fsync_dir_of(ob->chain_path)) != KP_OK) goto fail;
  if ((st = load_chain(ob)) != KP_OK || (st = load_acked(ob)) != KP_OK) goto fail;
  unlock_ob(ob);
  *out = ob;
  return KP_OK;
fail:
  kp_outbox_close(ob);
  return st;
}

void kp_outbox_close(kp_outbox_t *ob) {
  if (!ob) return;
  if (ob->head_dirty && lock_ob(ob) == KP_OK) { /* the newest head any process appended */
    struct stat sb;
    if (fstat(ob->fd, &sb) == 0 && ((size_t)sb.st_size == ob->chain_size || load_chain(ob) == KP_OK) &&
        write_head(ob) != KP_OK)
      kp_log_warn("outbox", "writing %s/head", ob->dir);
    unlock_ob(ob);
  }
  if (ob->fd >= 0) close(ob->fd);
  if (ob->afd >= 0) close(ob->afd);
  if (ob->lockfd >= 0) close(ob->lockfd); /* also releases a lock still held on failure */
  for (size_t i = 0; i < ob->uid_cap; i++) free(ob->uid[i]);
  free(ob->uid);
  sodium_memzero(ob->sk, sizeof ob->sk);
  free(ob);
}

const char *kp_outbox_key_id_str(const kp_outbox_t *ob) { return ob->key_id; }
const char *kp_outbox_chain_path(const kp_outbox_t *ob) { return ob->chain_path; }
size_t kp_outbox_recovered_bytes(const kp_outbox_t *ob) { return ob->recovered; }
uint64_t kp_outbox_head_seq(const kp_outbox_t *ob) { return ob->head_seq; }

static kp_status_t append_durable(int fd, const void *p, size_t n) {
  off_t before = lseek(fd, 0, SEEK_END);
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, (const uint8_t *)p + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (before >= 0 && ftruncate(fd, before) != 0) kp_log_warn("outbox", "rollback");
      return KP_ERR_IO;
    }
    done += (size_t)w;
  }
  return fdatasync(fd) == 0 ? KP_OK : KP_ERR_IO;
}

kp_status_t kp_outbox_append(kp_outbox_t *ob, const char *msm, size_t n, uint64_t *seq) {
  kp_json_doc_t *doc = NULL;
  /* valid UTF-8 (RFC 8259): the record stores the bytes inside a JSON string, which must
   * round-trip exactly or the content hash would no longer match */
  if (!kp_utf8_valid((const uint8_t *)msm, n) || kp_json_parse(msm, n, NULL, &doc, NULL) != KP_OK ||
      !kp_json_is(kp_json_root(doc), KP_JSON_OBJECT)) {
    kp_json_doc_free(doc);
    return KP_ERR_INVAL;
  }
  kp_json_doc_free(doc);
  kp_status_t st = lock_ob(ob);
  if (st != KP_OK) return st;
  struct stat sb;
  if (fstat(ob->fd, &sb) != 0) st = KP_ERR_IO;
  else if ((size_t)sb.st_size != ob->chain_size) st = load_chain(ob); /* another process appended */
  if (st != KP_OK) {
    unlock_ob(ob);
    return st;
  }
  kp_outbox_rec_t r = {.seq = ob->head_seq + 1, .msm = msm, .msm_len = n};
  memcpy(r.prev, ob->head_hash, 32);
  kp_sha256(msm, n, r.hash);
  memcpy(r.pubkey, ob->pk, 32);
  memcpy(r.key_id, ob->key_id, 33);
  uint8_t m[72];
  for (int i = 0; i < 8; i++) m[i] = (uint8_t)(r.seq >> (56 - 8 * i));
  memcpy(m + 8, r.prev, 32);
  memcpy(m + 40, r.hash, 32);
  crypto_sign_detached(r.sig, NULL, m, sizeof m, ob->sk);
  kp_buf_t line;
  kp_buf_init(&line, n * 6 + 4096);
  st = kp_outbox_rec_write(&r, &line);
  if (st == KP_OK) st = append_durable(ob->fd, line.data, line.len);
  if (st == KP_OK) {
    ob->chain_size += line.len;
    ob->head_seq = r.seq;
    memcpy(ob->head_hash, r.hash, 32);
    if (seq) *seq = r.seq;
    ob->head_dirty = true;
  }
  kp_buf_free(&line);
  unlock_ob(ob);
  return st;
}

/* <dir>/head: the checkpoint of the current head (records are durable before, so the head
 * file never names a record chain.log lacks) */
static kp_status_t write_head(kp_outbox_t *ob) {
  kp_outbox_head_t h;
  kp_outbox_head_sign(ob->sk, ob->pk, ob->head_seq, ob->head_hash, &h);
  kp_buf_t b;
  kp_buf_init(&b, 4096);
  kp_status_t st = kp_outbox_head_write(&h, &b);
  char path[3200];
  snprintf(path, sizeof path, "%s/head", ob->dir);
  if (st == KP_OK) st = kp_file_write_atomic(path, b.data, b.len, 0600);
  kp_buf_free(&b);
  return st;
}

typedef struct find_ctx {
  uint64_t seq;
  uint8_t hash[32];
  bool found;
} find_ctx_t;
static int find_cb(void *ctx, const kp_outbox_rec_t *r, const char *uid) {
  (void)uid;
  find_ctx_t *f = ctx;
  if (r->seq != f->seq) return 0;
  memcpy(f->hash, r->hash, 32);
  f->found = true;
  return 1;
}

kp_status_t kp_outbox_checkpoint(kp_outbox_t *ob, bool delivered_only, kp_outbox_head_t *h) {
  uint64_t s = ob->head_seq;
  if (delivered_only) {
    s = 0;
    while (s < ob->head_seq && s + 1 < ob->uid_cap && ob->uid[s + 1]) s++;
  }
  find_ctx_t f = {.seq = s, .found = s == 0};
  if (s == ob->head_seq) {
    memcpy(f.hash, ob->head_hash, 32);
    f.found = true;
  } else {
    kp_status_t st = kp_outbox_list(ob, find_cb, &f);
    if (st != KP_OK) return st;
  }
  if (!f.found) return KP_ERR_NOTFOUND;
  kp_outbox_head_sign(ob->sk, ob->pk, s, f.hash, h);
  return KP_OK;
}

kp_status_t kp_outbox_list(kp_outbox_t *ob, kp_outbox_list_cb cb, void *ctx) {
  kp_buf_t b;
  kp_buf_init(&b, (size_t)1 << 34);
  kp_status_t st = kp_file_read(ob->chain_path, &b);
  for (size_t off = 0; st == KP_OK && off < b.len;) {
    const uint8_t *nl = memchr(b.data + off, '\n', b.len - off);
    if (!nl) break; /* a torn tail appeared after open: not a record */
    size_t len = (size_t)(nl - (b.data + off));
    kp_json_doc_t *doc;
    kp_outbox_rec_t r;
    const char *why;
    if (kp_outbox_rec_parse(b.data + off, len, &doc, &r, &why) == KP_OK) {
      const char *uid = r.seq < ob->uid_cap ? ob->uid[r.seq] : NULL;
      int stop = cb(ctx, &r, uid);
      kp_json_doc_free(doc);
      if (stop) break;
    }
    off += len + 1;
  }
  kp_buf_free(&b);
  return st;
}

size_t kp_outbox_pending(kp_outbox_t *ob) {
  return ob->head_seq > ob->ndelivered ? (size_t)(ob->head_seq - ob->ndelivered) : 0;
}

kp_status_t kp_outbox_mark_delivered(kp_outbox_t *ob, uint64_t seq, const char *uid) {
  if (seq < ob->uid_cap && ob->uid[seq]) return KP_OK;
  char line[256];
  int n = snprintf(line, sizeof line, "%llu %s\n", (unsigned long long)seq, uid);
  if (n < 0 || (size_t)n >= sizeof line || strchr(uid, ' ') || strchr(uid, '\n')) return KP_ERR_INVAL;
  kp_status_t st = lock_ob(ob);
  if (st != KP_OK) return st;
  st = append_durable(ob->afd, line, (size_t)n);
  unlock_ob(ob);
  if (st == KP_OK) st = set_uid(ob, seq, uid);
  return st;
}

kp_status_t kp_outbox_mark_delivered_many(kp_outbox_t *ob, const uint64_t *seq, const char *const *uid, size_t n) {
  kp_buf_t b;
  kp_buf_init(&b, n * 160 + 1);
  kp_status_t st = KP_OK;
  for (size_t i = 0; i < n && st == KP_OK; i++) {
    if (seq[i] < ob->uid_cap && ob->uid[seq[i]]) continue;
    if (!*uid[i] || strlen(uid[i]) > 128 || strpbrk(uid[i], " \n")) st = KP_ERR_INVAL;
    else st = kp_buf_printf(&b, "%llu %s\n", (unsigned long long)seq[i], uid[i]);
  }
  if (st == KP_OK && b.len && (st = lock_ob(ob)) == KP_OK) { /* same flock as every other writer */
    st = append_durable(ob->afd, b.data, b.len); /* one fdatasync per batch */
    unlock_ob(ob);
  }
  for (size_t i = 0; i < n && st == KP_OK && b.len; i++) st = set_uid(ob, seq[i], uid[i]);
  kp_buf_free(&b);
  return st;
}
