/*
 * ch_suspect.c: content hashes whose measurement may be stored without its msm_key row.
 *
 * Why: on a cluster an INSERT into the Distributed measurements table can fail after a shard
 * committed its measurements_local part but before the materialized view wrote the same rows
 * into that shard's msm_key_local (a shard killed in between, the view's table broken). The
 * batch answers 503, the probe retries, and the retry's msm_key lookup misses the rows that
 * did land: they would be stored twice. So put_batch remembers the hashes of every row it sent
 * in a batch that failed, and a later batch looks those (and only those) up in measurements
 * itself, by (measurement_start_time, content_hash), an index range (ch_store.c).
 *
 * The set: open addressing over a fixed table of KP_CH_SUSPECT_SLOTS hex hashes, never
 * shrinking. Invariant: every hash of a row sent in a failed batch is either in the table or
 * `all` is set (the table filled up; then every miss is looked up in measurements: slower,
 * still exact).
 *
 * Across processes: the set alone dies with the collector, and a retry reaching the next
 * process would be looked up in msm_key only, storing such a row twice. So every new suspect
 * is also written, with its measurement_start_time, to msm_suspect on the entry node (a
 * plain local table on every node, migration 7; only node[0]'s is used): at the end of the
 * batch that found it, or, when the entry node refused (the usual reason the batch failed),
 * at the start of every later batch and at close. The next process's open reads the table,
 * looks its hashes up in measurements, rewrites the msm_key rows of the stored ones (a row
 * written twice is folded by the engine and ignored by the lookups), and only then deletes
 * the rows it read (ALTER DELETE WHERE id <= the newest read, so a suspect another process
 * adds meanwhile stays). If that fails it loads them into its own set instead, and the next
 * open tries again.
 *
 *   suspect lifetime:  row sent in a failed batch --> in the set + pending
 *                      pending --(INSERT msm_suspect ok)--> persisted
 *                      persisted --(a later open: looked up, msm_key rewritten)--> forgotten
 *                      persisted --(a later open fails the lookup)--> in that process's set
 *
 * Not covered: a suspect still pending (the entry node refused every write) when the process
 * ends, or past the 4 MiB pending buffer (warned once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "store/clickhouse/ch_internal.h"

static size_t slot_of(const char *h) {
  uint64_t x = 1469598103934665603ULL; /* FNV-1a */
  for (; *h; h++) x = (x ^ (uint8_t)*h) * 1099511628211ULL;
  return (size_t)(x & (KP_CH_SUSPECT_SLOTS - 1));
}

bool kp_ch_suspect_add(kp_ch_suspect_t *s, const char *hash) {
  if (s->all) return true;
  size_t len = strlen(hash);
  if (!s->tab && !(s->tab = calloc(KP_CH_SUSPECT_SLOTS, sizeof *s->tab))) len = sizeof s->tab[0];
  if (len >= sizeof s->tab[0] || s->n >= KP_CH_SUSPECT_SLOTS / 2) { /* cannot keep it: check all */
    s->all = true;
    return true;
  }
  for (size_t i = slot_of(hash);; i = (i + 1) & (KP_CH_SUSPECT_SLOTS - 1)) {
    if (!s->tab[i][0]) {
      memcpy(s->tab[i], hash, len + 1);
      s->n++;
      return true;
    }
    if (strcmp(s->tab[i], hash) == 0) return false;
  }
}

bool kp_ch_suspect_has(const kp_ch_suspect_t *s, const char *hash) {
  if (s->all) return true;
  if (!s->tab) return false;
  for (size_t i = slot_of(hash);; i = (i + 1) & (KP_CH_SUSPECT_SLOTS - 1)) {
    if (!s->tab[i][0]) return false;
    if (strcmp(s->tab[i], hash) == 0) return true;
  }
}

void kp_ch_suspect_free(kp_ch_suspect_t *s) {
  free(s->tab);
  kp_buf_free(&s->pend);
  memset(s, 0, sizeof *s);
}

/* ---------- msm_suspect: the set across processes ---------- */

void kp_ch_suspect_mark(kp_ch_store_t *s, const char *hash, int64_t t) {
  if (!kp_ch_suspect_add(&s->suspect, hash)) return; /* pending or persisted already */
  kp_buf_t *p = &s->suspect.pend;
  size_t keep = p->len;
  kp_status_t st = kp_buf_printf(p, "%llu\t", (unsigned long long)kp_ch_next_seq(s));
  if (st == KP_OK) st = kp_ch_tsv_str(p, hash);
  if (st == KP_OK) st = kp_buf_printf(p, "\t%lld\n", (long long)kp_ch_clamp_time(t));
  if (st != KP_OK) {
    p->len = keep; /* no half row */
    if (!s->suspect.lost)
      kp_log_warnx("store", "clickhouse: too many suspect hashes pending for msm_suspect; the newest are "
                            "kept in this process only");
    s->suspect.lost = true;
  }
}

kp_status_t kp_ch_suspect_flush(kp_ch_store_t *s) {
  kp_buf_t *p = &s->suspect.pend;
  if (!p->len) return KP_OK;
  kp_status_t st = kp_ch_insert_as(s, "msm_suspect", "id,content_hash,t", "TabSeparated", p);
  if (st == KP_OK) kp_buf_reset(p);
  return st;
}

/* one page of msm_suspect after id @p after: ext gets "t\thash" lines, the set their hashes
 * only when @p load; *n rows, *last the newest id */
static kp_status_t read_page(kp_ch_store_t *s, uint64_t after, size_t page, bool load, size_t *n, uint64_t *last) {
  kp_buf_reset(&s->sql);
  kp_status_t st = kp_buf_printf(&s->sql,
                                 "SELECT id, t, content_hash FROM %s.msm_suspect WHERE id > %llu ORDER BY id LIMIT %zu"
                                 " FORMAT TabSeparated",
                                 s->u.db, (unsigned long long)after, page);
  if (st == KP_OK) st = kp_ch_sql(s);
  kp_buf_reset(&s->ext);
  *n = 0;
  size_t off = 0;
  kp_ch_row_t row;
  while (st == KP_OK && (st = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &row)) == KP_OK) {
    char *end;
    unsigned long long id = row.ncol == 3 ? strtoull(row.col[0], &end, 10) : 0;
    if (row.ncol != 3 || *end || id < after) return KP_ERR_INVAL;
    *last = id;
    (*n)++;
    if (load) {
      (void)kp_ch_suspect_add(&s->suspect, row.col[2]);
      continue;
    }
    st = kp_buf_printf(&s->ext, "%s\t", row.col[1]);
    if (st == KP_OK) st = kp_ch_tsv_str(&s->ext, row.col[2]);
    if (st == KP_OK) st = kp_buf_putc(&s->ext, '\n');
  }
  return st == KP_ERR_NOTFOUND ? KP_OK : st;
}

/* the suspects in s->ext: the stored ones get their msm_key rows again; *stored counted */
static kp_status_t repair(kp_ch_store_t *s, size_t *stored) {
  kp_status_t st = kp_ch_landed_query(s);
  kp_buf_t fix;
  kp_buf_init(&fix, (size_t)64 << 20);
  size_t off = 0;
  kp_ch_row_t row;
  while (st == KP_OK && (st = kp_ch_tsv_next(s->ans.data, s->ans.len, &off, &row)) == KP_OK) {
    if (row.ncol != 2) {
      st = KP_ERR_INVAL;
      break;
    }
    kp_jw_t w;
    kp_jw_init(&w, &fix);
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "content_hash", row.col[0]);
    kp_jw_kstr(&w, "measurement_uid", row.col[1]);
    kp_jw_obj_end(&w);
    if (w.st != KP_OK || kp_buf_putc(&fix, '\n') != KP_OK) st = KP_ERR_NOMEM;
    (*stored)++;
  }
  if (st == KP_ERR_NOTFOUND) st = KP_OK;
  if (st == KP_OK && fix.len) st = kp_ch_key_rewrite(s, &fix);
  kp_buf_free(&fix);
  return st;
}

kp_status_t kp_ch_suspect_resolve(kp_ch_store_t *s) {
  enum { PAGE = 8192 };
  uint64_t after = 0;
  size_t n = 0, total = 0, stored = 0;
  kp_status_t st;
  do { /* pages by id: the deletes below are mutations, applied later */
    uint64_t last = after;
    st = read_page(s, after, PAGE, false, &n, &last);
    if (st == KP_OK && n) st = repair(s, &stored);
    if (st != KP_OK) break;
    total += n;
    after = last;
  } while (n == PAGE);
  if (st == KP_OK && total) {
    kp_buf_reset(&s->sql);
    st = kp_buf_printf(&s->sql, "ALTER TABLE %s.msm_suspect DELETE WHERE id <= %llu", s->u.db,
                       (unsigned long long)after);
    if (st == KP_OK) st = kp_ch_sql(s);
    if (st == KP_OK)
      kp_log_warnx("store", "clickhouse: %zu suspect hash(es) left by an earlier run checked: %zu stored, "
                            "their msm_key rows rewritten", total, stored);
  }
  if (st == KP_OK) return KP_OK;
  /* could not be resolved now: this process looks them up with its batches, the next open again */
  after = 0;
  total = 0;
  kp_status_t lst;
  do {
    uint64_t last = after;
    lst = read_page(s, after, PAGE, true, &n, &last);
    total += n;
    after = last;
  } while (lst == KP_OK && n == PAGE);
  if (lst != KP_OK) return lst; /* msm_suspect unreadable: the store is not usable either */
  kp_log_warnx("store", "clickhouse: %zu suspect hash(es) left by an earlier run could not be checked now (%s): "
                        "kept, and looked up with the batches that carry them", total, kp_strstatus(st));
  return KP_OK;
}
