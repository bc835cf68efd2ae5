/*
 * ch_store.c: the ClickHouse backend of store.h (kp_store_clickhouse_ops).
 *
 * URL: clickhouse://HOST:PORT/DB (one node) or
 *      clickhouse://HOST:PORT,HOST:PORT.../DB?cluster=NAME (a Distributed cluster; the first
 *      node is the entry node all reads and writes go through, every node gets the schema).
 *
 * put_batch, the collector's group commit (a batch is one INSERT of measurements):
 *   1. look the batch's content hashes up in msm_key (primary-key lookups) -> duplicates
 *      report the stored uid, as SQLite's UNIQUE index does; within the batch the first
 *      row of a hash wins. The hashes (and step 2's (key_id, seq)) go as HTTP external data
 *      (kp_ch_http_query_ext), never as an SQL literal list: max_query_size (256 KiB in 18.16)
 *      would bound the batch at ~3,900 hashes;
 *   2. signed rows: look (key_id, seq) up in chain (ch_chain.c) -> a slot holding this
 *      content is a duplicate (a retry), other content is KP_ERR_EXISTS (409 at the
 *      collector); dedup is per (key_id, hash), so a free slot is taken even when the bytes
 *      are stored already (by another key or an unsigned upload);
 *   3. one INSERT ... FORMAT JSONEachRow of the new rows with insert_distributed_sync=1, so
 *      the 2xx comes only after every shard wrote its part: then put_batch returns KP_OK and
 *      the collector acknowledges. Otherwise it retries twice (100 ms, 400 ms); before each
 *      retry it repeats step 1 for the rows it is about to send, so rows that did land (one
 *      shard took its part, another did not) are not written twice; it also looks them up
 *      in measurements itself, since a shard can commit its measurements part and fail (or
 *      die) before the view writes msm_key. If it still fails, put_batch fails and the
 *      collector answers 503 (it refuses; the probe's outbox retries later and the retry
 *      dedups by content hash). The hashes of every row it sent become suspect
 *      (ch_suspect.c): a later batch looks a suspect hash that msm_key lacks up in
 *      measurements (check_landed) and rewrites the missing msm_key row; the entry node's
 *      msm_suspect table keeps them for the next process, whose open resolves them.
 *   4. signed records whose bytes were known: their chain rows, one more INSERT into chain
 *      (kp_ch_chain_write), after step 3 so a chain row never points at bytes that did not
 *      land. If it fails, put_batch fails (503); the retry finds the slot still free and
 *      writes it then.
 *   Dedup is exact for one collector process (its batches are serial). Two collectors
 *   writing the same measurement at the same instant can both miss step 1; the rows then
 *   differ in measurement_uid and both are kept (ReplacingMergeTree only folds rows with the
 *   same ORDER BY key, which includes measurement_uid: that catches a re-sent identical row).
 *
 * Reads: plain SELECTs in ClickHouse SQL over the (Distributed) tables, answers in
 * TabSeparated (ch_tsv.c). Listing order is measurement_start_time DESC then ingest order
 * (ingest_seq, a per-store monotonic microsecond counter), which is SQLite's
 * (start_time DESC, rowid DESC). NULL strings of the store API are stored as '' (OONI's
 * convention) and read back as NULL; probe_asn is OONI's UInt32 ("AS" is added back).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/addr.h"
#include "base/json.h"
#include "base/log.h"
#include "store/clickhouse/ch_internal.h"
#include "store/store.h"

typedef kp_ch_store_t ch_store_t;

#define CH_ANS_CAP ((size_t)1 << 30)

/* ---------- URL ---------- */

static bool plain_name(const char *s, size_t n) {
  if (n == 0 || n >= 64) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

kp_status_t kp_ch_url_parse(const char *url, kp_ch_url_t *u) {
  memset(u, 0, sizeof *u);
  static const char pre[] = "clickhouse://";
  if (!url || strncmp(url, pre, sizeof pre - 1) != 0) return KP_ERR_INVAL;
  const char *p = url + sizeof pre - 1, *slash = strchr(p, '/');
  if (!slash) return KP_ERR_INVAL;
  while (p < slash) { /* HOST:PORT[,HOST:PORT...] */
    const char *comma = memchr(p, ',', (size_t)(slash - p));
    const char *e = comma ? comma : slash;
    char hp[96];
    if (u->nnodes == KP_CH_MAX_NODES || (size_t)(e - p) >= sizeof hp) return KP_ERR_INVAL;
    memcpy(hp, p, (size_t)(e - p));
    hp[e - p] = 0;
    if (kp_hostport_parse(hp, u->host[u->nnodes], sizeof u->host[0], &u->port[u->nnodes]) != KP_OK ||
        u->port[u->nnodes] == 0)
      return KP_ERR_INVAL;
    u->nnodes++;
    p = comma ? comma + 1 : slash;
    if (comma && p == slash) return KP_ERR_INVAL;
  }
  const char *db = slash + 1, *qm = strchr(db, '?');
  size_t dbn = qm ? (size_t)(qm - db) : strlen(db);
  if (!u->nnodes || !plain_name(db, dbn)) return KP_ERR_INVAL;
  memcpy(u->db, db, dbn);
  if (qm) {
    static const char cl[] = "cluster=";
    const char *c = qm + 1;
    if (strncmp(c, cl, sizeof cl - 1) != 0 || !plain_name(c + sizeof cl - 1, strlen(c + sizeof cl - 1)))
      return KP_ERR_INVAL;
    snprintf(u->cluster, sizeof u->cluster, "%s", c + sizeof cl - 1);
  }
  if (u->nnodes > 1 && !u->cluster[0]) return KP_ERR_INVAL; /* several nodes are a cluster */
  return KP_OK;
}

/* ---------- helpers ---------- */

uint64_t kp_ch_next_seq(ch_store_t *s) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
  s->last_seq = now > s->last_seq ? now : s->last_seq + 1;
  return s->last_seq;
}

kp_status_t kp_ch_q_str(kp_buf_t *b, const char *v) {
  kp_status_t st = kp_buf_putc(b, '\'');
  for (const char *p = v ? v : ""; *p && st == KP_OK; p++) {
    if (*p == '\\' || *p == '\'') st = kp_buf_putc(b, '\\');
    if (st == KP_OK) st = kp_buf_putc(b, *p);
  }
  if (st == KP_OK) st = kp_buf_putc(b, '\'');
  return st;
}

int64_t kp_ch_clamp_time(int64_t t) { return t < 0 ? 0 : t > 4294967295LL ? 4294967295LL : t; }

bool kp_ch_asn_num(const char *a, uint32_t *out) {
  if (!a || (a[0] != 'A' && a[0] != 'a') || (a[1] != 'S' && a[1] != 's') || !a[2]) return false;
  char *end;
  unsigned long long v = strtoull(a + 2, &end, 10);
  if (*end || v > 4294967295ULL || a[2] == '-' || a[2] == '+' || a[2] == ' ') return false;
  *out = (uint32_t)v;
  return true;
}

kp_status_t kp_ch_sql(kp_ch_store_t *s) {
  return kp_ch_http_post(s->node[0], "", s->sql.data, s->sql.len, &s->ans);
}

/* INSERT INTO db.table (cols) FORMAT JSONEachRow; the columns not named get their DEFAULT */
kp_status_t kp_ch_insert_as(ch_store_t *s, const char *table, const char *cols, const char *format, const kp_buf_t *rows) {
  char params[1024];
  int n = snprintf(params, sizeof params, "insert_distributed_sync=1&query=INSERT%%20INTO%%20%s.%s%%20(%s)%%20FORMAT%%20%s",
                   s->u.db, table, cols, format);
  if (n < 0 || (size_t)n >= sizeof params) return KP_ERR_INVAL;
  return kp_ch_http_post(s->node[0], params, rows->data, rows->len, &s->ans);
}

kp_status_t kp_ch_insert(ch_store_t *s, const char *table, const char *cols, const kp_buf_t *rows) {
  return kp_ch_insert_as(s, table, cols, "JSONEachRow", rows);
}

/* ---------- open / close ---------- */

static void ch_close(kp_store_t *b) {
  ch_store_t *s = (ch_store_t *)b;
  if (!s) return;
  if (s->suspect.pend.len && kp_ch_suspect_flush(s) != KP_OK)
    kp_log_warnx("store", "clickhouse: %zu byte(s) of suspect hashes could not be written to msm_suspect",
                 s->suspect.pend.len);
  for (size_t i = 0; i < KP_CH_MAX_NODES; i++) kp_ch_http_close(s->node[i]);
  kp_buf_free(&s->sql);
  kp_buf_free(&s->ans);
  kp_buf_free(&s->ext);
  kp_ch_suspect_free(&s->suspect);
  free(s);
}

static kp_status_t ch_open(const char *url, kp_store_t **out) {
  ch_store_t *s = calloc(1, sizeof *s);
  if (!s) return KP_ERR_NOMEM;
  s->base.ops = &kp_store_clickhouse_ops;
  kp_buf_init(&s->sql, (size_t)256 << 20);
  kp_buf_init(&s->ans, CH_ANS_CAP);
  kp_buf_init(&s->ext, (size_t)256 << 20);
  kp_buf_init(&s->suspect.pend, (size_t)4 << 20);
  kp_status_t st = kp_ch_url_parse(url, &s->u);
  if (st != KP_OK) kp_log_warnx("store", "bad ClickHouse URL (clickhouse://HOST:PORT[,HOST:PORT]/DB[?cluster=NAME])");
  for (size_t i = 0; st == KP_OK && i < s->u.nnodes; i++) st = kp_ch_http_open(s->u.host[i], s->u.port[i], &s->node[i]);
  if (st == KP_OK) st = kp_ch_migrate(s->node, &s->u, &s->version);
  if (st == KP_OK) st = kp_ch_suspect_resolve(s);
  if (st != KP_OK) {
    ch_close(&s->base);
    return st;
  }
  *out = &s->base;
  return KP_OK;
}

static int ch_schema_version(kp_store_t *b) { return ((ch_store_t *)b)->version; }

/* ---------- put ---------- */

typedef struct slot {
  const kp_store_msm_t *m;
  kp_store_put_result_t *r;
  size_t idx;      /* position in the batch */
  bool in_db;      /* its content hash is stored (r->uid holds the stored uid) */
  int slot_db;     /* signed: its (key_id, seq) is stored with 1 this content, -1 other content, 0 free */
  char slot_uid[96]; /* slot_db == 1: the uid the chain row points at */
  bool send;       /* its measurement row is to be inserted (a signed one brings its chain row) */
  bool took_slot;  /* signed: this row takes its (key_id, seq) in this batch */
  struct slot *src; /* signed, bytes known: the batch row sending them (NULL: stored before) */
  bool chain_row;  /* signed, bytes known: a chain row is written for it (kp_ch_chain_write) */
  bool sent;       /* its row was in some INSERT attempt of this batch */
} slot_t;

static int by_hash(const void *a, const void *b) {
  const slot_t *x = a, *y = b;
  int c = strcmp(x->m->content_hash, y->m->content_hash);
  return c ? c : (x->idx > y->idx) - (x->idx < y->idx); /* batch order within a hash */
}
static int hash_key(const void *key, const void *elem) {
  return strcmp(key, ((const slot_t *)elem)->m->content_hash);
}
/* the group of slots with content hash @p h in the sorted array: [*lo, *hi) */
static void group(slot_t *sl, size_t n, const char *h, slot_t **lo, slot_t **hi) {
  slot_t *hit = bsearch(h, sl, n, sizeof *sl, hash_key);
  *lo = *hi = hit;
  if (!hit) return;
  while (*lo > sl && strcmp((*lo)[-1].m->content_hash, h) == 0) (*lo)--;
  while (*hi < sl + n && strcmp((*hi)->m->content_hash, h) == 0) (*hi)++;
}

/* Slot x's content is stored under uid. First pass: a duplicate (in_db, the stored uid).
 * Retry: the row landed, ours (same uid) or a concurrent writer's, and is not sent again. */
static void found(slot_t *x, const char *uid, bool retry) {
  if (!retry) {
    x->in_db = true;
    snprintf(x->r->uid, sizeof x->r->uid, "%s", uid);
    return;
  }
  x->send = false;
  x->r->inserted = strcmp(x->m->uid, uid) == 0;
  if (!x->r->inserted) snprintf(x->r->uid, sizeof x->r->uid, "%s", uid);
  if (!x->r->inserted && x->took_slot) /* a signed record still takes its slot, over those bytes */
    x->chain_row = x->r->inserted = true;
}

/* Look up the content hashes of the slots selected by @p only_send (all slots at first; on a
 * retry only the ones still to send) in msm_key. First pass: a hit marks in_db with the
 * stored uid. Retry: a hit with the row's own uid is our own insert that landed. */
static kp_status_t check_hashes(ch_store_t *s, slot_t *sl, size_t n, bool retry) {
  kp_buf_reset(&s->ext); /* the hashes go as external table h: no SQL literal list (max_query_size) */
  kp_status_t st = KP_OK;
  const char *last = NULL;
  for (size_t i = 0; i < n && st == KP_OK; i++) {
    if (retry && !sl[i].send) continue;
    if (last && strcmp(sl[i].m->content_hash, last) == 0) continue; /* sorted by hash */
    last = sl[i].m->content_hash;
    if ((st = kp_ch_tsv_str(&s->ext, last)) == KP_OK) st = kp_buf_putc(&s->ext, '\n');
  }
  if (!last || st != KP_OK) return st;
  kp_buf_reset(&s->sql);
  st = kp_buf_printf(&s->sql,
                     "SELECT content_hash, measurement_uid FROM %s.msm_key"
                     " PREWHERE h64 IN (SELECT " KP_CH_KEY_OF("content_hash") " FROM h) WHERE content_hash IN h"
                     " ORDER BY content_hash, measurement_uid FORMAT TabSeparated",
                     s->u.db);
  if (st == KP_OK) st = kp_ch_http_query_ext(s->node[0], kp_buf_str(&s->sql), "h", "content_hash String", &s->ext, &s->ans);
  size_t off = 0;
  kp_ch_row_t row;
  while (st == KP_OK && (st = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &row)) == KP_OK) {
    if (row.ncol != 2) return KP_ERR_INVAL;
    slot_t *lo, *hi;
    group(sl, n, row.col[0], &lo, &hi);
    for (slot_t *x = lo; x && x < hi; x++) {
      if (retry ? x->send : !x->in_db) found(x, row.col[1], retry);
    }
  }
  return st == KP_ERR_NOTFOUND ? KP_OK : st;
}

/* The rows msm_key may not know although they are stored (ch_suspect.c): looked up in
 * measurements by (measurement_start_time, content_hash), the ORDER BY prefix, so an index
 * range. First pass: the slots not found in msm_key whose hash is suspect. Retry: every
 * slot still to send (the failed INSERT may have landed on a shard without its view's rows).
 * A hit counts as check_hashes's would, and its msm_key row is written again (best effort:
 * the hash stays suspect, so a failed repair is found the same way next time). */
static kp_status_t check_landed(ch_store_t *s, slot_t *sl, size_t n, bool retry) {
  kp_buf_reset(&s->ext);
  kp_status_t st = KP_OK;
  size_t k = 0;
  for (size_t i = 0; i < n && st == KP_OK; i++) {
    slot_t *x = &sl[i];
    if (retry ? !x->send : (x->in_db || !kp_ch_suspect_has(&s->suspect, x->m->content_hash))) continue;
    st = kp_buf_printf(&s->ext, "%lld\t", (long long)kp_ch_clamp_time(x->m->start_time));
    if (st == KP_OK) st = kp_ch_tsv_str(&s->ext, x->m->content_hash);
    if (st == KP_OK) st = kp_buf_putc(&s->ext, '\n');
    k++;
  }
  if (!k || st != KP_OK) return st;
  st = kp_ch_landed_query(s);
  size_t off = 0;
  kp_ch_row_t row;
  kp_buf_t fix;
  kp_buf_init(&fix, (size_t)64 << 20);
  while (st == KP_OK && (st = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &row)) == KP_OK) {
    if (row.ncol != 2) {
      st = KP_ERR_INVAL;
      break;
    }
    slot_t *lo, *hi;
    bool hit = false;
    group(sl, n, row.col[0], &lo, &hi);
    for (slot_t *x = lo; x && x < hi; x++) {
      if (retry ? !x->send : x->in_db) continue;
      hit = true;
      found(x, row.col[1], retry);
    }
    if (hit) { /* stays suspect: the repair below may fail, and is then found here again */
      kp_ch_suspect_mark(s, row.col[0], lo->m->start_time);
      kp_jw_t w;
      kp_jw_init(&w, &fix);
      kp_jw_obj_begin(&w);
      kp_jw_kstr(&w, "content_hash", row.col[0]);
      kp_jw_kstr(&w, "measurement_uid", row.col[1]);
      kp_jw_obj_end(&w);
      if (w.st != KP_OK || kp_buf_putc(&fix, '\n') != KP_OK) st = KP_ERR_NOMEM;
    }
  }
  if (st == KP_ERR_NOTFOUND) st = KP_OK;
  if (st == KP_OK && fix.len) (void)kp_ch_key_rewrite(s, &fix); /* hits were copied into fix first */
  kp_buf_free(&fix);
  return st;
}

kp_status_t kp_ch_landed_query(ch_store_t *s) {
  kp_buf_reset(&s->sql);
  kp_status_t st = kp_buf_printf(&s->sql,
                                 "SELECT content_hash, measurement_uid FROM %s.measurements WHERE (measurement_start_time,"
                                 " content_hash) IN (SELECT toDateTime(t), content_hash FROM h)"
                                 " ORDER BY content_hash, measurement_uid FORMAT TabSeparated",
                                 s->u.db);
  if (st == KP_OK)
    st = kp_ch_http_query_ext(s->node[0], kp_buf_str(&s->sql), "h", "t UInt32, content_hash String", &s->ext, &s->ans);
  return st;
}

kp_status_t kp_ch_key_rewrite(ch_store_t *s, const kp_buf_t *fix) {
  kp_log_warnx("store", "clickhouse: stored measurements without their msm_key rows (a failed batch): rewriting them");
  return kp_ch_insert(s, "msm_key", "content_hash,measurement_uid", fix); /* h64: DEFAULT */
}

/* signed rows: is their (key_id, seq) stored, with this content (the stored uid) or other
 * content? -> slot_db. Twins of one chain row (a re-written row) answer the same. */
static kp_status_t check_chain(ch_store_t *s, slot_t *sl, size_t n) {
  kp_buf_reset(&s->ext); /* (key_id, seq) as external table h, as in check_hashes */
  kp_status_t st = KP_OK;
  size_t k = 0;
  for (size_t i = 0; i < n && st == KP_OK; i++) {
    if (!sl[i].m->key_id) continue;
    k++;
    if ((st = kp_ch_tsv_str(&s->ext, sl[i].m->key_id)) == KP_OK)
      st = kp_buf_printf(&s->ext, "\t%lld\n", (long long)sl[i].m->seq);
  }
  if (!k || st != KP_OK) return st;
  kp_buf_reset(&s->sql);
  st = kp_buf_printf(&s->sql,
                     "SELECT key_id, seq, content_hash, measurement_uid FROM %s.chain WHERE (key_id, seq) IN h"
                     " ORDER BY ingest_seq FORMAT TabSeparated",
                     s->u.db);
  if (st == KP_OK)
    st = kp_ch_http_query_ext(s->node[0], kp_buf_str(&s->sql), "h", "key_id String, seq Int64", &s->ext, &s->ans);
  size_t off = 0;
  kp_ch_row_t row;
  while (st == KP_OK && (st = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &row)) == KP_OK) {
    if (row.ncol != 4) return KP_ERR_INVAL;
    long long seq = strtoll(row.col[1], NULL, 10);
    for (size_t i = 0; i < n; i++) { /* signed uploads come one per request: few rows */
      slot_t *x = &sl[i];
      if (!x->m->key_id || x->m->seq != seq || strcmp(x->m->key_id, row.col[0]) != 0 || x->slot_db == 1) continue;
      if (strcmp(x->m->content_hash, row.col[2]) == 0) {
        x->slot_db = 1;
        snprintf(x->slot_uid, sizeof x->slot_uid, "%s", row.col[3]);
      } else {
        x->slot_db = -1;
      }
    }
  }
  return st == KP_ERR_NOTFOUND ? KP_OK : st;
}

/* SQLite's row-by-row outcome, in batch order (by_idx[i] is the slot of batch row i).
 * Unsigned row: a known hash (stored, or sent earlier in the batch) is a duplicate; else
 * its measurement row is sent.
 * Signed row, dedup per (key_id, hash): its (key_id, seq) holding this content (stored, or
 * taken earlier in the batch) is a duplicate; holding other content is KP_ERR_EXISTS; else
 * the row takes the slot (inserted): with new bytes its measurement row is sent (chain_mv
 * adds the chain row), with known bytes only a chain row to those bytes is written. */
static void decide(slot_t *sl, size_t n, slot_t **by_idx) {
  for (size_t i = 0; i < n; i++) {
    slot_t *x = by_idx[i];
    x->send = x->took_slot = x->chain_row = false;
    x->src = NULL;
    x->r->inserted = false;
    slot_t *lo, *hi, *first = NULL; /* the batch row sending these bytes before this one */
    group(sl, n, x->m->content_hash, &lo, &hi);
    for (slot_t *y = lo; y < hi && !first; y++)
      if (y->idx < x->idx && y->send) first = y;
    if (x->m->key_id) {
      int slot = x->slot_db;
      const char *slot_uid = x->slot_uid;
      for (size_t j = 0; !slot && j < i; j++) {
        slot_t *y = by_idx[j];
        if (y->took_slot && y->m->seq == x->m->seq && strcmp(y->m->key_id, x->m->key_id) == 0) {
          slot = strcmp(y->m->content_hash, x->m->content_hash) == 0 ? 1 : -1;
          slot_uid = y->r->uid;
        }
      }
      if (slot == 1) { /* this key's record is here already: a retry */
        snprintf(x->r->uid, sizeof x->r->uid, "%s", slot_uid);
        continue;
      }
      if (slot == -1) {
        x->r->status = KP_ERR_EXISTS;
        continue;
      }
      x->took_slot = x->r->inserted = true;
      if (x->in_db) { /* r->uid holds the stored uid */
        x->chain_row = true;
      } else if (first) {
        x->chain_row = true;
        x->src = first;
        snprintf(x->r->uid, sizeof x->r->uid, "%s", first->m->uid);
      } else {
        x->send = true;
      }
      continue;
    }
    if (x->in_db) continue; /* duplicate, r->uid set */
    if (first) {
      snprintf(x->r->uid, sizeof x->r->uid, "%s", first->m->uid);
      continue;
    }
    x->send = true;
    x->r->inserted = true;
  }
}

#define MSM_COLS                                                                                     \
  "measurement_uid,report_id,input,probe_cc,probe_asn,test_name,measurement_start_time,anomaly,"     \
  "confirmed,msm_failure,domain,blocking_type,content_hash,recv_time,ingest_seq,key_id,pubkey,sig,"  \
  "prev_hash,seq,raw"
/* One measurements row in RowBinary, the columns of MSM_COLS in order: String is a LEB128
 * length then the bytes (raw travels as it came, no escaping on either side: JSONEachRow cost
 * the collector ~10% of its CPU in the escaper and ClickHouse its JSON reader), UInt8/UInt32/
 * UInt64/Int64 and DateTime (UInt32 seconds) little-endian. Every write is checked by
 * kp_buf_append against the buffer's cap; the first failure is kept in *st. */
static void rb_bytes(kp_buf_t *b, const void *p, size_t n, kp_status_t *st) {
  if (*st == KP_OK) *st = kp_buf_append(b, p, n);
}
static void rb_uint(kp_buf_t *b, uint64_t v, size_t width, kp_status_t *st) {
  uint8_t le[8];
  for (size_t i = 0; i < width; i++) le[i] = (uint8_t)(v >> (8 * i));
  rb_bytes(b, le, width, st);
}
static void rb_strn(kp_buf_t *b, const char *p, size_t n, kp_status_t *st) {
  uint8_t len[10];
  size_t k = 0;
  uint64_t v = n;
  do {
    len[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  rb_bytes(b, len, k, st);
  if (n) rb_bytes(b, p, n, st);
}
static void rb_str(kp_buf_t *b, const char *v, kp_status_t *st) { rb_strn(b, v ? v : "", v ? strlen(v) : 0, st); }

static kp_status_t row_rb(kp_buf_t *b, const kp_store_msm_t *m, uint64_t seq) {
  kp_status_t st = KP_OK;
  uint32_t asn = 0;
  (void)kp_ch_asn_num(m->probe_asn, &asn); /* the collector admits only AS<digits> */
  rb_str(b, m->uid, &st);
  rb_str(b, m->report_id, &st);
  rb_str(b, m->input, &st);
  rb_str(b, m->probe_cc, &st);
  rb_uint(b, asn, 4, &st);
  rb_str(b, m->test_name, &st);
  rb_uint(b, (uint64_t)kp_ch_clamp_time(m->start_time), 4, &st);
  rb_uint(b, m->anomaly ? 1 : 0, 1, &st);
  rb_uint(b, m->confirmed ? 1 : 0, 1, &st);
  rb_uint(b, m->failure ? 1 : 0, 1, &st);
  rb_str(b, m->domain, &st);
  rb_str(b, m->blocking_type, &st);
  rb_str(b, m->content_hash, &st);
  rb_uint(b, (uint64_t)kp_ch_clamp_time(m->recv_time), 4, &st);
  rb_uint(b, seq, 8, &st);
  rb_str(b, m->key_id, &st);
  rb_str(b, m->pubkey, &st);
  rb_str(b, m->sig, &st);
  rb_str(b, m->prev_hash, &st);
  rb_uint(b, (uint64_t)(m->key_id ? m->seq : -1), 8, &st);
  rb_strn(b, m->body ? m->body : "", m->body ? m->body_len : 0, &st);
  return st;
}

static kp_status_t ch_put_batch(kp_store_t *b, const kp_store_msm_t *m, size_t n, kp_store_put_result_t *res) {
  ch_store_t *s = (ch_store_t *)b;
  if (!n) return KP_OK;
  if (s->suspect.pend.len) (void)kp_ch_suspect_flush(s); /* an earlier batch's, not yet written */
  slot_t *sl = calloc(n, sizeof *sl), **by_idx = calloc(n, sizeof *by_idx);
  if (!sl || !by_idx) {
    free(sl);
    free(by_idx);
    return KP_ERR_NOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    memset(&res[i], 0, sizeof res[i]);
    snprintf(res[i].uid, sizeof res[i].uid, "%s", m[i].uid);
    sl[i] = (slot_t){.m = &m[i], .r = &res[i], .idx = i};
  }
  qsort(sl, n, sizeof *sl, by_hash);
  for (size_t i = 0; i < n; i++) by_idx[sl[i].idx] = &sl[i];
  kp_status_t st = check_hashes(s, sl, n, false);
  if (st == KP_OK) st = check_landed(s, sl, n, false);
  if (st == KP_OK) st = check_chain(s, sl, n);
  if (st == KP_OK) decide(sl, n, by_idx);
  kp_buf_t rows;
  kp_buf_init(&rows, (size_t)1 << 30);
  for (int attempt = 0; st == KP_OK; attempt++) {
    kp_buf_reset(&rows);
    size_t k = 0;
    for (size_t i = 0; i < n && st == KP_OK; i++) { /* batch order: ingest_seq is the insertion order */
      if (!by_idx[i]->send) continue;
      by_idx[i]->sent = true;
      st = row_rb(&rows, by_idx[i]->m, kp_ch_next_seq(s));
      k++;
    }
    if (st != KP_OK || !k) break;
    if ((st = kp_ch_insert_as(s, "measurements", MSM_COLS, "RowBinary", &rows)) == KP_OK) break;
    if (attempt == 2) break;
    struct timespec d = {0, attempt ? 400000000L : 100000000L};
    nanosleep(&d, NULL);
    st = check_hashes(s, sl, n, true); /* what did land stays landed */
    if (st == KP_OK) st = check_landed(s, sl, n, true); /* also where the view's rows did not */
  }
  kp_buf_free(&rows);
  if (st != KP_OK) /* some of these may have landed without their msm_key rows: ch_suspect.c */
    for (size_t i = 0; i < n; i++)
      if (sl[i].sent) kp_ch_suspect_mark(s, sl[i].m->content_hash, sl[i].m->start_time);
  if (s->suspect.pend.len) (void)kp_ch_suspect_flush(s); /* best effort: kept for the next batch */
  /* then the chain rows of signed records whose bytes are stored (or were just sent): after
   * the measurements, so a chain row never points at bytes that did not land */
  size_t nc = 0;
  for (size_t i = 0; i < n; i++) nc += by_idx[i]->chain_row;
  kp_ch_chain_new_t *cn = st == KP_OK && nc ? calloc(nc, sizeof *cn) : NULL;
  if (st == KP_OK && nc && !cn) st = KP_ERR_NOMEM;
  nc = 0;
  for (size_t i = 0; cn && i < n; i++) {
    slot_t *x = by_idx[i];
    if (!x->chain_row) continue;
    bool own = x->src && strcmp(x->src->r->uid, x->src->m->uid) == 0; /* the source landed as ours */
    if (x->src) snprintf(x->r->uid, sizeof x->r->uid, "%s", x->src->r->uid);
    cn[nc++] = (kp_ch_chain_new_t){.rec = x->m, .bytes = own ? x->src->m : NULL, .uid = x->r->uid};
  }
  if (cn) st = kp_ch_chain_write(s, cn, nc);
  free(cn);
  free(sl);
  free(by_idx);
  return st;
}

static kp_status_t ch_find_hash(kp_store_t *b, const char *hash, char uid[96]) {
  ch_store_t *s = (ch_store_t *)b;
  kp_buf_reset(&s->sql);
  kp_buf_t q;
  kp_buf_init(&q, 4096);
  kp_status_t st = kp_ch_q_str(&q, hash);
  if (st == KP_OK)
    st = kp_buf_printf(&s->sql, "SELECT measurement_uid FROM %s.msm_key PREWHERE h64 = " KP_CH_KEY_OF("%s")
                       " WHERE content_hash = %s", s->u.db, kp_buf_str(&q), kp_buf_str(&q));
  kp_buf_free(&q);
  if (st == KP_OK) st = kp_buf_puts(&s->sql, " ORDER BY measurement_uid LIMIT 1 FORMAT TabSeparated");
  if (st == KP_OK) st = kp_ch_sql(s);
  size_t off = 0;
  kp_ch_row_t row;
  if (st == KP_OK && (st = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &row)) == KP_OK)
    snprintf(uid, 96, "%s", row.col[0]);
  return st;
}

/* ---------- signals ---------- */

static kp_status_t ch_put_signals(kp_store_t *b, const kp_store_signal_t *sig, size_t n) {
  ch_store_t *s = (ch_store_t *)b;
  kp_buf_t rows;
  kp_buf_init(&rows, (size_t)1 << 30);
  kp_status_t st = KP_OK;
  for (size_t i = 0; i < n && st == KP_OK; i++) {
    const kp_store_signal_t *g = &sig[i];
    kp_jw_t w;
    kp_jw_init(&w, &rows);
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "entity_type", g->entity_type);
    kp_jw_kstr(&w, "entity_code", g->entity_code);
    kp_jw_kstr(&w, "datasource", g->datasource);
    kp_jw_kint(&w, "t", kp_ch_clamp_time(g->t));
    kp_jw_kint(&w, "step", g->step < 0 ? 0 : g->step > 4294967295LL ? 4294967295LL : g->step);
    double v = g->has_value ? g->value : 0;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits); /* exact: see ch_schema.c on value_bits */
    kp_jw_key(&w, "value_bits");
    kp_jw_uint(&w, bits);
    kp_jw_kint(&w, "has_value", g->has_value);
    kp_jw_key(&w, "ver");
    kp_jw_uint(&w, kp_ch_next_seq(s)); /* later in the batch wins, as INSERT OR REPLACE does */
    kp_jw_obj_end(&w);
    st = kp_buf_putc(&rows, '\n');
  }
  for (int attempt = 0; st == KP_OK && n; attempt++) { /* re-sending a point is harmless */
    if ((st = kp_ch_insert(s, "signals", "entity_type,entity_code,datasource,t,step,value_bits,has_value,ver", &rows)) == KP_OK || attempt == 2) break;
    struct timespec d = {0, attempt ? 400000000L : 100000000L};
    nanosleep(&d, NULL);
    st = KP_OK;
  }
  kp_buf_free(&rows);
  return st;
}

const kp_store_ops_t kp_store_clickhouse_ops = {
  .name = "clickhouse",
  .open = ch_open,
  .close = ch_close,
  .put_batch = ch_put_batch,
  .find_hash = ch_find_hash,
  .query = kp_ch_query_rows,
  .count = kp_ch_count_rows,
  .aggregate = kp_ch_aggregate_rows,
  .put_signals = ch_put_signals,
  .query_signals = kp_ch_query_signal_rows,
  .schema_version = ch_schema_version,
  .list_entities = kp_ch_list_entity_rows,
  .put_head = kp_ch_put_head,
  .query_heads = kp_ch_query_heads,
};
