/*
 * sqlite_store.c: the embedded SQLite backend of store.h.
 *
 * Durability: journal_mode=WAL with synchronous=FULL, so every COMMIT fsyncs
 * the WAL before it returns; a batch is one transaction (group commit). After
 * kill -9 or power loss every committed batch is present; a batch that did not
 * commit is absent as a whole (the server has not acknowledged any of it).
 * Checkpoints run automatically (wal_autocheckpoint, 1000 pages); a
 * checkpoint copies WAL pages that are already durable, so it never weakens
 * the guarantee.
 *
 * Schema: versioned migrations in `schema_migrations`; each migration runs in
 * its own transaction together with the row recording it, so a crash during
 * an upgrade leaves the previous version intact. Dedup is a UNIQUE index on
 * content_hash; a keepon chain position (key_id, seq) is unique too.
 *
 * keepon chains (migration 3): `chain` holds one row per (key_id, seq), each
 * pointing at its measurement by content_hash. The measurement bytes are stored
 * once, but every key that signed them keeps its own chain position: a record
 * key B uploads whose bytes key A stored first is a new row for B (dedup is per
 * (key_id, hash)), so B's chain has no holes. `chain_heads` keeps per key the
 * highest signed head checkpoint whose records 1..seq are all in `chain`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/buf.h"
#include "base/log.h"
#include "store/store.h"

typedef struct sq_store {
  kp_store_t base; /* first */
  sqlite3 *db;
  sqlite3_stmt *ins, *find, *ins_sig, *chain_get, *chain_ins;
} sq_store_t;

static const char *const migrations[] = {
  /* 1: measurements with fastpath flags and the keepon chain columns */
  "CREATE TABLE measurements("
  " id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, content_hash TEXT NOT NULL UNIQUE,"
  " report_id TEXT, probe_cc TEXT NOT NULL, probe_asn TEXT NOT NULL, test_name TEXT NOT NULL,"
  " input TEXT, domain TEXT, start_time INTEGER NOT NULL, recv_time INTEGER NOT NULL,"
  " anomaly INTEGER NOT NULL, confirmed INTEGER NOT NULL, failure INTEGER NOT NULL,"
  " blocking_type TEXT NOT NULL DEFAULT '',"
  " key_id TEXT, pubkey TEXT, sig TEXT, prev_hash TEXT, seq INTEGER, body BLOB NOT NULL);"
  "CREATE INDEX m_time ON measurements(start_time);"
  "CREATE INDEX m_cc_time ON measurements(probe_cc, start_time);"
  "CREATE INDEX m_asn_time ON measurements(probe_asn, start_time);"
  "CREATE INDEX m_test_time ON measurements(test_name, start_time);"
  "CREATE INDEX m_domain ON measurements(domain);"
  "CREATE INDEX m_input ON measurements(input);"
  "CREATE UNIQUE INDEX m_chain ON measurements(key_id, seq) WHERE key_id IS NOT NULL;",
  /* 2: signal points (docs/formats.md) */
  "CREATE TABLE signals(entity_type TEXT NOT NULL, entity_code TEXT NOT NULL,"
  " datasource TEXT NOT NULL, t INTEGER NOT NULL, step INTEGER NOT NULL, value REAL,"
  " PRIMARY KEY(entity_type, entity_code, datasource, t)) WITHOUT ROWID;",
  /* 3: keepon chains apart from the measurement bytes (dedup per (key_id, hash)), signed heads */
  "CREATE TABLE chain(key_id TEXT NOT NULL, seq INTEGER NOT NULL, content_hash TEXT NOT NULL,"
  " prev_hash TEXT, pubkey TEXT, sig TEXT, uid TEXT NOT NULL,"
  " recv_time INTEGER NOT NULL, PRIMARY KEY(key_id, seq)) WITHOUT ROWID;"
  "CREATE INDEX chain_hash ON chain(content_hash);"
  "INSERT INTO chain SELECT key_id, seq, content_hash, prev_hash, pubkey, sig, uid, recv_time"
  " FROM measurements WHERE key_id IS NOT NULL AND seq IS NOT NULL;"
  "CREATE TABLE chain_heads(key_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, head_hash TEXT NOT NULL,"
  " pubkey TEXT NOT NULL, sig TEXT NOT NULL, recv_time INTEGER NOT NULL) WITHOUT ROWID;",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof *migrations))

static kp_status_t sqerr(sq_store_t *s, const char *what) {
  kp_log_warnx("store", "%s: %s", what, sqlite3_errmsg(s->db));
  return KP_ERR_IO;
}

static int user_version(sq_store_t *s) {
  sqlite3_stmt *st = NULL;
  int v = 0;
  if (sqlite3_prepare_v2(s->db, "SELECT COALESCE(MAX(version),0) FROM schema_migrations", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

static kp_status_t migrate(sq_store_t *s) {
  if (sqlite3_exec(s->db, "CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY,"
                          " applied_at INTEGER NOT NULL)", NULL, NULL, NULL) != SQLITE_OK)
    return sqerr(s, "schema_migrations");
  int v = user_version(s);
  if (v > N_MIGRATIONS) {
    kp_log_warnx("store", "database schema %d is newer than this keepon (%d)", v, N_MIGRATIONS);
    return KP_ERR_UNSUPPORTED;
  }
  for (int i = v; i < N_MIGRATIONS; i++) {
    char rec[128];
    snprintf(rec, sizeof rec, "INSERT INTO schema_migrations VALUES(%d, strftime('%%s','now'));", i + 1);
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return sqerr(s, "begin");
    if (sqlite3_exec(s->db, migrations[i], NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, rec, NULL, NULL, NULL) != SQLITE_OK) {
      kp_status_t st = sqerr(s, "migration");
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      return st;
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) return sqerr(s, "commit");
  }
  return KP_OK;
}

static void sq_close(kp_store_t *b) {
  sq_store_t *s = (sq_store_t *)b;
  if (!s) return;
  sqlite3_finalize(s->ins);
  sqlite3_finalize(s->find);
  sqlite3_finalize(s->ins_sig);
  sqlite3_finalize(s->chain_get);
  sqlite3_finalize(s->chain_ins);
  sqlite3_close(s->db);
  free(s);
}

static kp_status_t sq_open(const char *path, kp_store_t **out) {
  sq_store_t *s = calloc(1, sizeof *s);
  if (!s) return KP_ERR_NOMEM;
  s->base.ops = &kp_store_sqlite_ops;
  kp_status_t st = KP_OK;
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
      SQLITE_OK) {
    st = sqerr(s, path);
    goto fail;
  }
  sqlite3_busy_timeout(s->db, 5000);
  if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL,
                   NULL, NULL) != SQLITE_OK) {
    st = sqerr(s, "pragmas");
    goto fail;
  }
  if ((st = migrate(s)) != KP_OK) goto fail;
  if (sqlite3_prepare_v2(s->db,
                         "INSERT INTO measurements(uid,content_hash,report_id,probe_cc,probe_asn,test_name,input,"
                         "domain,start_time,recv_time,anomaly,confirmed,failure,blocking_type,key_id,pubkey,sig,"
                         "prev_hash,seq,body) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         -1, &s->ins, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(s->db, "SELECT uid FROM measurements WHERE content_hash=?", -1, &s->find, NULL) !=
          SQLITE_OK ||
      sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO signals VALUES(?,?,?,?,?,?)", -1, &s->ins_sig, NULL) !=
          SQLITE_OK ||
      sqlite3_prepare_v2(s->db, "SELECT content_hash, uid FROM chain WHERE key_id=? AND seq=?", -1, &s->chain_get,
                         NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(s->db, "INSERT INTO chain VALUES(?,?,?,?,?,?,?,?)", -1, &s->chain_ins, NULL) != SQLITE_OK) {
    st = sqerr(s, "prepare");
    goto fail;
  }
  *out = &s->base;
  return KP_OK;
fail:
  sq_close(&s->base);
  return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
  if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, i);
}

static kp_status_t sq_find_hash(kp_store_t *b, const char *hash, char uid[96]) {
  sq_store_t *s = (sq_store_t *)b;
  sqlite3_reset(s->find);
  sqlite3_bind_text(s->find, 1, hash, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(s->find);
  kp_status_t st = KP_ERR_NOTFOUND;
  if (rc == SQLITE_ROW) {
    snprintf(uid, 96, "%s", (const char *)sqlite3_column_text(s->find, 0));
    st = KP_OK;
  } else if (rc != SQLITE_DONE) {
    st = sqerr(s, "find");
  }
  sqlite3_reset(s->find);
  return st;
}

/* chain position (key_id, seq): 1 = holds this hash (uid set), 0 = free, -1 = holds another */
static int chain_slot(sq_store_t *s, const kp_store_msm_t *r, char uid[96], kp_status_t *st) {
  sqlite3_stmt *q = s->chain_get;
  sqlite3_reset(q);
  bind_text(q, 1, r->key_id);
  sqlite3_bind_int64(q, 2, r->seq);
  int rc = sqlite3_step(q), ret = 0;
  *st = KP_OK;
  if (rc == SQLITE_ROW) {
    ret = strcmp((const char *)sqlite3_column_text(q, 0), r->content_hash) == 0 ? 1 : -1;
    if (ret == 1) snprintf(uid, 96, "%s", (const char *)sqlite3_column_text(q, 1));
  } else if (rc != SQLITE_DONE) {
    *st = sqerr(s, "chain lookup");
  }
  sqlite3_reset(q);
  return ret;
}

/* one measurement row (INSERT of s->ins); the sqlite3_step result. A record without a key has
 * no chain columns (seq NULL) */
static int insert_row(sq_store_t *s, const kp_store_msm_t *r) {
  sqlite3_stmt *q = s->ins;
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  bind_text(q, 1, r->uid);
  bind_text(q, 2, r->content_hash);
  bind_text(q, 3, r->report_id);
  bind_text(q, 4, r->probe_cc);
  bind_text(q, 5, r->probe_asn);
  bind_text(q, 6, r->test_name);
  bind_text(q, 7, r->input);
  bind_text(q, 8, r->domain);
  sqlite3_bind_int64(q, 9, r->start_time);
  sqlite3_bind_int64(q, 10, r->recv_time);
  sqlite3_bind_int(q, 11, r->anomaly);
  sqlite3_bind_int(q, 12, r->confirmed);
  sqlite3_bind_int(q, 13, r->failure);
  bind_text(q, 14, r->blocking_type ? r->blocking_type : "");
  bind_text(q, 15, r->key_id);
  bind_text(q, 16, r->pubkey);
  bind_text(q, 17, r->sig);
  bind_text(q, 18, r->prev_hash);
  if (r->key_id) sqlite3_bind_int64(q, 19, r->seq);
  else sqlite3_bind_null(q, 19);
  sqlite3_bind_blob(q, 20, r->body, (int)r->body_len, SQLITE_STATIC);
  int rc = sqlite3_step(q);
  sqlite3_reset(q);
  return rc;
}

/* one keepon record: the measurement row once per content hash (the first signer's chain
 * columns kept there for compatibility), the chain row once per (key_id, seq) */
static kp_status_t put_chain(sq_store_t *s, const kp_store_msm_t *r, kp_store_put_result_t *o) {
  kp_status_t st;
  int slot = chain_slot(s, r, o->uid, &st);
  if (st != KP_OK) return st;
  if (slot == 1) return KP_OK; /* this key's record is already here: a retry */
  if (slot == -1) {
    o->status = KP_ERR_EXISTS;
    return KP_OK;
  }
  sqlite3_stmt *q;
  int rc = insert_row(s, r);
  if (rc == SQLITE_DONE) snprintf(o->uid, sizeof o->uid, "%s", r->uid);
  else if ((rc & 0xff) != SQLITE_CONSTRAINT) return sqerr(s, "insert");
  else if (sq_find_hash(&s->base, r->content_hash, o->uid) != KP_OK) /* bytes stored before, any path */
    return sqerr(s, "chain: measurement row");
  q = s->chain_ins;
  sqlite3_reset(q);
  bind_text(q, 1, r->key_id);
  sqlite3_bind_int64(q, 2, r->seq);
  bind_text(q, 3, r->content_hash);
  bind_text(q, 4, r->prev_hash);
  bind_text(q, 5, r->pubkey);
  bind_text(q, 6, r->sig);
  bind_text(q, 7, o->uid);
  sqlite3_bind_int64(q, 8, r->recv_time);
  rc = sqlite3_step(q);
  sqlite3_reset(q);
  if (rc != SQLITE_DONE) return sqerr(s, "chain insert");
  o->inserted = true;
  return KP_OK;
}

static kp_status_t sq_put_batch(kp_store_t *b, const kp_store_msm_t *m, size_t n, kp_store_put_result_t *res) {
  sq_store_t *s = (sq_store_t *)b;
  if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return sqerr(s, "begin");
  for (size_t i = 0; i < n; i++) {
    const kp_store_msm_t *r = &m[i];
    kp_store_put_result_t *o = &res[i];
    memset(o, 0, sizeof *o);
    if (r->key_id) {
      kp_status_t st = put_chain(s, r, o);
      if (st != KP_OK) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return st;
      }
      continue;
    }
    int rc = insert_row(s, r);
    if (rc == SQLITE_DONE) {
      o->inserted = true;
      snprintf(o->uid, sizeof o->uid, "%s", r->uid);
    } else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      if (sq_find_hash(b, r->content_hash, o->uid) == KP_OK) o->status = KP_OK; /* duplicate */
      else o->status = KP_ERR_EXISTS;                                         /* chain slot taken */
    } else {
      kp_status_t st = sqerr(s, "insert");
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      return st;
    }
  }
  if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    kp_status_t st = sqerr(s, "commit");
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
  }
  return KP_OK;
}

/* WHERE clause for a filter; binds collected in order */
typedef struct where {
  kp_buf_t sql;
  const char *txt[8];
  int ntxt;
  int64_t num[2];
  int nnum;
  int order[10]; /* 0 = txt, 1 = num */
  int nord;
} where_t;

static void w_text(where_t *w, const char *clause, const char *v) {
  if (!v) return;
  kp_buf_puts(&w->sql, w->nord ? " AND " : " WHERE ");
  kp_buf_puts(&w->sql, clause);
  w->txt[w->ntxt++] = v;
  w->order[w->nord++] = 0;
}
static void w_num(where_t *w, const char *clause, int64_t v) {
  kp_buf_puts(&w->sql, w->nord ? " AND " : " WHERE ");
  kp_buf_puts(&w->sql, clause);
  w->num[w->nnum++] = v;
  w->order[w->nord++] = 1;
}
static void build_where_q(where_t *w, const kp_store_filter_t *f, bool chain);
static void w_flag(where_t *w, const char *col, int v) {
  if (v < 0) return;
  kp_buf_printf(&w->sql, "%s%s=%d", w->nord || w->sql.len ? " AND " : " WHERE ", col, v ? 1 : 0);
}

static void build_where(where_t *w, const kp_store_filter_t *f) {
  build_where_q(w, f, false);
}
static void build_where_q(where_t *w, const kp_store_filter_t *f, bool chain) {
  kp_buf_init(&w->sql, 4096);
  w->ntxt = w->nnum = w->nord = 0;
  w_text(w, "probe_cc=?", f->probe_cc);
  w_text(w, "probe_asn=?", f->probe_asn);
  w_text(w, "test_name=?", f->test_name);
  w_text(w, "input=?", f->input);
  w_text(w, "domain=?", f->domain);
  w_text(w, chain ? "c.key_id=?" : "key_id=?", f->key_id);
  if (f->since) w_num(w, "start_time>=?", f->since);
  if (f->until) w_num(w, "start_time<?", f->until);
  w_flag(w, "anomaly", f->anomaly);
  w_flag(w, "confirmed", f->confirmed);
  w_flag(w, "failure", f->failure);
  if (f->keyed_only || f->order_seq) /* chain order: keepon records only (the chain table's rows) */
    kp_buf_printf(&w->sql, "%s%s IS NOT NULL", w->nord || w->sql.len ? " AND " : " WHERE ", chain ? "c.key_id" : "key_id");
}

static void bind_where(sqlite3_stmt *st, const where_t *w) {
  int ti = 0, ni = 0;
  for (int i = 0; i < w->nord; i++) {
    if (w->order[i] == 0) sqlite3_bind_text(st, i + 1, w->txt[ti++], -1, SQLITE_TRANSIENT);
    else sqlite3_bind_int64(st, i + 1, w->num[ni++]);
  }
}

static const char *col_text(sqlite3_stmt *st, int i) { return (const char *)sqlite3_column_text(st, i); }

static kp_status_t sq_query(kp_store_t *b, const kp_store_filter_t *f, kp_store_msm_cb cb, void *ctx) {
  sq_store_t *s = (sq_store_t *)b;
  where_t w;
  build_where_q(&w, f, f->order_seq);
  kp_buf_t q;
  kp_buf_init(&q, 8192);
  if (f->order_seq) /* keepon chains: one row per (key_id, seq), bytes from the measurement */
    kp_buf_printf(&q,
                  "SELECT c.uid,c.content_hash,report_id,probe_cc,probe_asn,test_name,input,domain,start_time,"
                  "c.recv_time,anomaly,confirmed,failure,blocking_type,c.key_id,c.pubkey,c.sig,c.prev_hash,c.seq,%s "
                  "FROM chain c JOIN measurements m ON m.content_hash=c.content_hash%s ORDER BY c.key_id, c.seq "
                  "LIMIT %lld OFFSET %lld",
                  f->with_body ? "body" : "NULL", kp_buf_str(&w.sql), (long long)(f->limit > 0 ? f->limit : -1),
                  (long long)(f->offset > 0 ? f->offset : 0));
  else
  kp_buf_printf(&q,
                "SELECT uid,content_hash,report_id,probe_cc,probe_asn,test_name,input,domain,start_time,"
                "recv_time,anomaly,confirmed,failure,blocking_type,key_id,pubkey,sig,prev_hash,seq,%s "
                "FROM measurements%s ORDER BY %s LIMIT %lld OFFSET %lld",
                f->with_body ? "body" : "NULL", kp_buf_str(&w.sql),
                "start_time DESC, id DESC",
                (long long)(f->limit > 0 ? f->limit : -1), (long long)(f->offset > 0 ? f->offset : 0));
  sqlite3_stmt *st = NULL;
  kp_status_t ret = KP_OK;
  if (sqlite3_prepare_v2(s->db, kp_buf_str(&q), -1, &st, NULL) != SQLITE_OK) {
    ret = sqerr(s, "query");
    goto out;
  }
  bind_where(st, &w);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    kp_store_msm_t m = {
      .uid = col_text(st, 0), .content_hash = col_text(st, 1), .report_id = col_text(st, 2),
      .probe_cc = col_text(st, 3), .probe_asn = col_text(st, 4), .test_name = col_text(st, 5),
      .input = col_text(st, 6), .domain = col_text(st, 7), .start_time = sqlite3_column_int64(st, 8),
      .recv_time = sqlite3_column_int64(st, 9), .anomaly = sqlite3_column_int(st, 10),
      .confirmed = sqlite3_column_int(st, 11), .failure = sqlite3_column_int(st, 12),
      .blocking_type = col_text(st, 13), .key_id = col_text(st, 14), .pubkey = col_text(st, 15),
      .sig = col_text(st, 16), .prev_hash = col_text(st, 17),
      .seq = sqlite3_column_type(st, 18) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 18),
      .body = sqlite3_column_blob(st, 19), .body_len = (size_t)sqlite3_column_bytes(st, 19)};
    if (cb(ctx, &m) != 0) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) ret = sqerr(s, "query step");
out:
  sqlite3_finalize(st);
  kp_buf_free(&q);
  kp_buf_free(&w.sql);
  return ret;
}

static kp_status_t sq_count(kp_store_t *b, const kp_store_filter_t *f, int64_t *out) {
  sq_store_t *s = (sq_store_t *)b;
  where_t w;
  build_where(&w, f);
  kp_buf_t q;
  kp_buf_init(&q, 8192);
  kp_buf_printf(&q, "SELECT COUNT(*) FROM measurements%s", kp_buf_str(&w.sql));
  sqlite3_stmt *st = NULL;
  kp_status_t ret = KP_OK;
  if (sqlite3_prepare_v2(s->db, kp_buf_str(&q), -1, &st, NULL) != SQLITE_OK) ret = sqerr(s, "count");
  else {
    bind_where(st, &w);
    if (sqlite3_step(st) == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
    else ret = sqerr(s, "count step");
  }
  sqlite3_finalize(st);
  kp_buf_free(&q);
  kp_buf_free(&w.sql);
  return ret;
}

/* SQL expression of an axis (names validated by kp_store_axis_valid) */
static const char *axis_expr(const char *axis, const char *grain) {
  if (!axis) return "NULL";
  if (strcmp(axis, "measurement_start_day") == 0) {
    if (grain && strcmp(grain, "hour") == 0) return "strftime('%Y-%m-%dT%H:00:00Z',start_time,'unixepoch')";
    if (grain && strcmp(grain, "week") == 0) return "date(start_time,'unixepoch','-6 days','weekday 1')";
    if (grain && strcmp(grain, "month") == 0) return "strftime('%Y-%m-01',start_time,'unixepoch')";
    if (grain && strcmp(grain, "year") == 0) return "strftime('%Y-01-01',start_time,'unixepoch')";
    return "date(start_time,'unixepoch')";
  }
  static const char *const cols[] = {"probe_cc", "probe_asn", "test_name", "domain", "input", "blocking_type"};
  for (size_t i = 0; i < sizeof cols / sizeof *cols; i++)
    if (strcmp(axis, cols[i]) == 0) return cols[i];
  return "NULL";
}

bool kp_store_axis_valid(const char *name) {
  static const char *const ok[] = {"measurement_start_day", "probe_cc", "probe_asn", "test_name",
                                   "domain", "input", "blocking_type"};
  for (size_t i = 0; name && i < sizeof ok / sizeof *ok; i++)
    if (strcmp(name, ok[i]) == 0) return true;
  return false;
}

static kp_status_t sq_aggregate(kp_store_t *b, const kp_store_filter_t *f, const kp_store_agg_t *a,
                                kp_store_agg_cb cb, void *ctx) {
  sq_store_t *s = (sq_store_t *)b;
  if ((a->axis_x && !kp_store_axis_valid(a->axis_x)) || (a->axis_y && !kp_store_axis_valid(a->axis_y)))
    return KP_ERR_INVAL;
  where_t w;
  build_where(&w, f);
  const char *x = axis_expr(a->axis_x, a->time_grain), *y = axis_expr(a->axis_y, a->time_grain);
  kp_buf_t q;
  kp_buf_init(&q, 8192);
  /* OONI's definitions: anomaly excludes confirmed and failed, confirmed excludes failed */
  kp_buf_printf(&q,
                "SELECT %s AS ax, %s AS ay,"
                " SUM(anomaly=1 AND confirmed=0 AND failure=0), SUM(confirmed=1 AND failure=0),"
                " SUM(failure=1), SUM(anomaly=0 AND confirmed=0 AND failure=0), COUNT(*)"
                " FROM measurements%s GROUP BY ax, ay ORDER BY ax, ay",
                x, y, kp_buf_str(&w.sql));
  sqlite3_stmt *st = NULL;
  kp_status_t ret = KP_OK;
  if (sqlite3_prepare_v2(s->db, kp_buf_str(&q), -1, &st, NULL) != SQLITE_OK) {
    ret = sqerr(s, "aggregate");
    goto out;
  }
  bind_where(st, &w);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    kp_store_agg_row_t r = {
      .x = a->axis_x ? (col_text(st, 0) ? col_text(st, 0) : "") : NULL,
      .y = a->axis_y ? (col_text(st, 1) ? col_text(st, 1) : "") : NULL,
      .anomaly_count = sqlite3_column_int64(st, 2), .confirmed_count = sqlite3_column_int64(st, 3),
      .failure_count = sqlite3_column_int64(st, 4), .ok_count = sqlite3_column_int64(st, 5),
      .measurement_count = sqlite3_column_int64(st, 6)};
    if (r.measurement_count == 0) continue; /* the empty aggregate of an empty table */
    if (cb(ctx, &r) != 0) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) ret = sqerr(s, "aggregate step");
out:
  sqlite3_finalize(st);
  kp_buf_free(&q);
  kp_buf_free(&w.sql);
  return ret;
}

static kp_status_t sq_put_signals(kp_store_t *b, const kp_store_signal_t *sig, size_t n) {
  sq_store_t *s = (sq_store_t *)b;
  if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return sqerr(s, "begin");
  for (size_t i = 0; i < n; i++) {
    sqlite3_stmt *q = s->ins_sig;
    sqlite3_reset(q);
    bind_text(q, 1, sig[i].entity_type);
    bind_text(q, 2, sig[i].entity_code);
    bind_text(q, 3, sig[i].datasource);
    sqlite3_bind_int64(q, 4, sig[i].t);
    sqlite3_bind_int64(q, 5, sig[i].step);
    if (sig[i].has_value) sqlite3_bind_double(q, 6, sig[i].value);
    else sqlite3_bind_null(q, 6);
    if (sqlite3_step(q) != SQLITE_DONE) {
      kp_status_t st = sqerr(s, "signal insert");
      sqlite3_reset(q);
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      return st;
    }
  }
  sqlite3_reset(s->ins_sig);
  if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    kp_status_t st = sqerr(s, "commit");
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
  }
  return KP_OK;
}

static kp_status_t sq_query_signals(kp_store_t *b, const char *et, const char *ec, const char *ds, int64_t from,
                                    int64_t until, kp_store_signal_cb cb, void *ctx) {
  sq_store_t *s = (sq_store_t *)b;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT entity_type,entity_code,datasource,t,step,value FROM signals WHERE entity_type=?"
                         " AND entity_code=? AND (?3 IS NULL OR datasource=?3) AND t>=? AND t<?"
                         " ORDER BY datasource, t",
                         -1, &st, NULL) != SQLITE_OK)
    return sqerr(s, "signals query");
  bind_text(st, 1, et);
  bind_text(st, 2, ec);
  bind_text(st, 3, ds);
  sqlite3_bind_int64(st, 4, from);
  sqlite3_bind_int64(st, 5, until);
  int rc;
  kp_status_t ret = KP_OK;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    kp_store_signal_t g = {.entity_type = col_text(st, 0), .entity_code = col_text(st, 1),
                           .datasource = col_text(st, 2), .t = sqlite3_column_int64(st, 3),
                           .step = sqlite3_column_int64(st, 4),
                           .has_value = sqlite3_column_type(st, 5) != SQLITE_NULL,
                           .value = sqlite3_column_double(st, 5)};
    if (cb(ctx, &g) != 0) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) ret = sqerr(s, "signals step");
  sqlite3_finalize(st);
  return ret;
}

static kp_status_t sq_list_entities(kp_store_t *b, kp_store_entity_cb cb, void *ctx) {
  sq_store_t *s = (sq_store_t *)b;
  sqlite3_stmt *st = NULL;
  /* the primary key (entity_type, entity_code, ...) serves the GROUP BY without a sort */
  if (sqlite3_prepare_v2(s->db,
                         "SELECT entity_type, entity_code, MIN(t), MAX(t + step) FROM signals"
                         " GROUP BY entity_type, entity_code",
                         -1, &st, NULL) != SQLITE_OK)
    return sqerr(s, "entities query");
  int rc;
  kp_status_t ret = KP_OK;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    kp_store_entity_t e = {.entity_type = col_text(st, 0), .entity_code = col_text(st, 1),
                           .t_min = sqlite3_column_int64(st, 2), .t_max = sqlite3_column_int64(st, 3)};
    if (cb(ctx, &e) != 0) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) ret = sqerr(s, "entities step");
  sqlite3_finalize(st);
  return ret;
}

static int sq_schema_version(kp_store_t *b) { return user_version((sq_store_t *)b); }

/* a head is kept only when the chain holds records 1..seq and record seq has its hash; a
 * lower head than the one kept is accepted and changes nothing (heads only move forward) */
static kp_status_t sq_put_head(kp_store_t *b, const kp_store_head_t *h) {
  sq_store_t *s = (sq_store_t *)b;
  sqlite3_stmt *q = NULL;
  kp_status_t ret = KP_OK;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT COUNT(*), SUM(seq=?2 AND content_hash=?3) FROM chain WHERE key_id=?1 AND seq<=?2",
                         -1, &q, NULL) != SQLITE_OK)
    return sqerr(s, "head check");
  bind_text(q, 1, h->key_id);
  sqlite3_bind_int64(q, 2, h->seq);
  bind_text(q, 3, h->head_hash);
  if (sqlite3_step(q) != SQLITE_ROW) ret = sqerr(s, "head check step");
  else if (sqlite3_column_int64(q, 0) != h->seq) ret = KP_ERR_NOTFOUND;
  else if (sqlite3_column_int64(q, 1) != 1) ret = KP_ERR_EXISTS;
  sqlite3_finalize(q);
  if (ret != KP_OK) return ret;
  if (sqlite3_prepare_v2(s->db,
                         "INSERT INTO chain_heads VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(key_id) DO UPDATE SET"
                         " seq=excluded.seq, head_hash=excluded.head_hash, pubkey=excluded.pubkey,"
                         " sig=excluded.sig, recv_time=excluded.recv_time WHERE excluded.seq > chain_heads.seq",
                         -1, &q, NULL) != SQLITE_OK)
    return sqerr(s, "head put");
  bind_text(q, 1, h->key_id);
  sqlite3_bind_int64(q, 2, h->seq);
  bind_text(q, 3, h->head_hash);
  bind_text(q, 4, h->pubkey);
  bind_text(q, 5, h->sig);
  sqlite3_bind_int64(q, 6, h->recv_time);
  if (sqlite3_step(q) != SQLITE_DONE) ret = sqerr(s, "head put step");
  sqlite3_finalize(q);
  return ret;
}

static kp_status_t sq_query_heads(kp_store_t *b, const char *key_id, kp_store_head_cb cb, void *ctx) {
  sq_store_t *s = (sq_store_t *)b;
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT key_id, seq, head_hash, pubkey, sig, recv_time FROM chain_heads"
                         " WHERE ?1 IS NULL OR key_id=?1 ORDER BY key_id",
                         -1, &q, NULL) != SQLITE_OK)
    return sqerr(s, "heads");
  bind_text(q, 1, key_id);
  int rc;
  kp_status_t ret = KP_OK;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    kp_store_head_t h = {.key_id = col_text(q, 0), .seq = sqlite3_column_int64(q, 1), .head_hash = col_text(q, 2),
                         .pubkey = col_text(q, 3), .sig = col_text(q, 4), .recv_time = sqlite3_column_int64(q, 5)};
    if (cb(ctx, &h) != 0) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) ret = sqerr(s, "heads step");
  sqlite3_finalize(q);
  return ret;
}

const kp_store_ops_t kp_store_sqlite_ops = {
  .name = "sqlite",
  .open = sq_open,
  .close = sq_close,
  .put_batch = sq_put_batch,
  .find_hash = sq_find_hash,
  .query = sq_query,
  .count = sq_count,
  .aggregate = sq_aggregate,
  .put_signals = sq_put_signals,
  .query_signals = sq_query_signals,
  .schema_version = sq_schema_version,
  .list_entities = sq_list_entities,
  .put_head = sq_put_head,
  .query_heads = sq_query_heads,
};
