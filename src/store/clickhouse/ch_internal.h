/*
 * ch_internal.h: the pieces of the ClickHouse backend (one module, seven files):
 *   ch_http.c    the ONE function that talks HTTP to ClickHouse, through the project's
 *                control-plane client (src/httpc, keep-alive): nothing else here knows HTTP.
 *   ch_tsv.c     the TabSeparated answer reader (bounded cursor, pure, fuzzed)
 *   ch_schema.c  versioned migrations, single node or a Distributed cluster
 *   ch_store.c   the kp_store_ops_t table, URL, open, put_batch, signals
 *   ch_query.c   reads (listing, counts, aggregation, signals, entities)
 *   ch_chain.c   keepon chains: chain rows per (key_id, seq), chain-order listing, heads
 *   ch_suspect.c rows a failed batch may have stored without their msm_key rows
 */
#ifndef KP_STORE_CH_INTERNAL_H
#define KP_STORE_CH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

/* ---- HTTP (ch_http.c) ---- */
typedef struct kp_ch_http kp_ch_http_t;
kp_status_t kp_ch_http_open(const char *host, uint16_t port, kp_ch_http_t **out);
void kp_ch_http_close(kp_ch_http_t *h);
/**
 * POST @p body to http://host:port/?@p params. KP_OK only for a 2xx (the answer in @p out);
 * KP_ERR_IO for a transport failure or a non-2xx (ClickHouse's error text in @p out when it
 * sent one). @p out is reset first.
 */
kp_status_t kp_ch_http_post(kp_ch_http_t *h, const char *params, const void *body, size_t n, kp_buf_t *out);
/**
 * Run the query @p sql with one external table @p name (plain name) whose columns are
 * @p structure ("content_hash String, seq Int64") and whose rows are @p tsv (TabSeparated,
 * values escaped with kp_ch_tsv_str): the SQL names it as `IN name` or `FROM name`. As
 * kp_ch_http_post otherwise; KP_ERR_INVAL only when no boundary could be found.
 */
kp_status_t kp_ch_http_query_ext(kp_ch_http_t *h, const char *sql, const char *name, const char *structure,
                                 const kp_buf_t *tsv, kp_buf_t *out);

/* ---- TabSeparated answers (ch_tsv.c) ---- */
#define KP_CH_MAX_COLS 24
typedef struct kp_ch_row {
  size_t ncol;
  char *col[KP_CH_MAX_COLS]; /* NUL-terminated, unescaped in place inside the answer */
  size_t len[KP_CH_MAX_COLS];
} kp_ch_row_t;
/**
 * Read the next row of a TabSeparated answer at *@p off in p[0..n), unescaping it in place
 * (\t \n \\ \' \0 \b \f \r; an unescaped field is never longer than its text). Returns
 * KP_OK with a row, KP_ERR_NOTFOUND at the end, KP_ERR_INVAL for a row with more than
 * KP_CH_MAX_COLS fields or a line that does not end in '\n'.
 */
kp_status_t kp_ch_tsv_next(uint8_t *p, size_t n, size_t *off, kp_ch_row_t *row);
/** Append @p v (NULL -> "") as one TabSeparated field: \\ \t \n \r escaped. */
kp_status_t kp_ch_tsv_str(kp_buf_t *b, const char *v);

/* ---- the dedup index's key (migration 6, ch_schema.c) ----
 * msm_key is ordered by a 64-bit prefix of the content hash, computed by ClickHouse from the
 * hash itself (msm_key's DEFAULT, its view, and the lookups' subquery over the external table
 * all use this one expression, so the key agrees whatever bytes a hash holds; the lookups then
 * compare the whole hash). */
#define KP_CH_KEY_OF(col) "reinterpretAsUInt64(reverse(unhex(substring(" col ", 1, 16))))"

/* ---- store URL (ch_store.c) ---- */
#define KP_CH_MAX_NODES 8
typedef struct kp_ch_url {
  char db[64];
  char cluster[64];          /* "" = one node */
  size_t nnodes;
  char host[KP_CH_MAX_NODES][64];
  uint16_t port[KP_CH_MAX_NODES]; /* HTTP ports */
} kp_ch_url_t;
/** clickhouse://HOST:PORT[,HOST:PORT...]/DB[?cluster=NAME]; names [A-Za-z0-9_]. */
kp_status_t kp_ch_url_parse(const char *url, kp_ch_url_t *u);

/* ---- the store (ch_store.c: open, put, signals; ch_query.c: reads) ---- */
#include "store/store.h"
/* hashes of rows sent in a failed batch (ch_suspect.c: why, and its invariant) */
#define KP_CH_SUSPECT_SLOTS ((size_t)1 << 16)
typedef struct kp_ch_suspect {
  char (*tab)[72]; /* KP_CH_SUSPECT_SLOTS hex hashes, "" = free */
  size_t n;
  bool all;        /* the table filled up: every hash counts as suspect */
  kp_buf_t pend;   /* rows for msm_suspect not yet written: "id\thash\tt\n" (TabSeparated) */
  bool lost;       /* pend overflowed: some suspects live in this process only (warned once) */
} kp_ch_suspect_t;
/** Add @p hash; true when it was not in the set yet (or the set holds everything). */
bool kp_ch_suspect_add(kp_ch_suspect_t *s, const char *hash);
bool kp_ch_suspect_has(const kp_ch_suspect_t *s, const char *hash);
void kp_ch_suspect_free(kp_ch_suspect_t *s);
typedef struct kp_ch_store {
  kp_store_t base; /* first */
  kp_ch_url_t u;
  kp_ch_http_t *node[KP_CH_MAX_NODES]; /* node[0]: the entry node */
  int version;
  uint64_t last_seq;  /* ingest_seq / signal ver: monotonic microseconds */
  kp_buf_t sql, ans;  /* the request being built, the last answer */
  kp_buf_t ext;       /* an external table being built (kp_ch_http_query_ext) */
  kp_ch_suspect_t suspect; /* ch_suspect.c */
} kp_ch_store_t;
/** Mark @p hash (a row of measurement_start_time @p t) suspect, in memory and, through
 *  kp_ch_suspect_flush, in the entry node's msm_suspect table (ch_suspect.c). */
void kp_ch_suspect_mark(kp_ch_store_t *s, const char *hash, int64_t t);
/** Write the pending suspects into msm_suspect; kept for the next call when that fails. */
kp_status_t kp_ch_suspect_flush(kp_ch_store_t *s);
/** At open: the suspects an earlier process left in msm_suspect, looked up in measurements;
 *  the stored ones get their msm_key rows again, then the table forgets them. When that
 *  cannot be done now, they are loaded into this process's set instead. */
kp_status_t kp_ch_suspect_resolve(kp_ch_store_t *s);
/** s->ext holds "t\thash" lines: SELECT content_hash, measurement_uid of the measurements
 *  stored with those (measurement_start_time, content_hash), answer in s->ans. */
kp_status_t kp_ch_landed_query(kp_ch_store_t *s);
/** INSERT the JSONEachRow (content_hash, measurement_uid) rows of @p fix into msm_key. */
kp_status_t kp_ch_key_rewrite(kp_ch_store_t *s, const kp_buf_t *fix);
/** Run s->sql on the entry node; the answer in s->ans. */
kp_status_t kp_ch_sql(kp_ch_store_t *s);
/** Append a ClickHouse string literal '...' (\ and ' escaped; NULL -> ''). */
kp_status_t kp_ch_q_str(kp_buf_t *b, const char *v);
/** Unix seconds into DateTime's range [0, 2^32). */
int64_t kp_ch_clamp_time(int64_t t);
/** "AS123" -> 123; false for anything else. */
bool kp_ch_asn_num(const char *a, uint32_t *out);

/** Next ingest_seq / version: monotonic microseconds, per store. */
uint64_t kp_ch_next_seq(kp_ch_store_t *s);
/** INSERT INTO db.@p table (@p cols) FORMAT JSONEachRow @p rows, insert_distributed_sync=1. */
kp_status_t kp_ch_insert(kp_ch_store_t *s, const char *table, const char *cols, const kp_buf_t *rows);
/** The same in @p format ("RowBinary" for measurements: ch_store.c's row_rb). */
kp_status_t kp_ch_insert_as(kp_ch_store_t *s, const char *table, const char *cols, const char *format,
                            const kp_buf_t *rows);
/** Append " WHERE ..." for @p f (columns present in measurements and in chain). */
kp_status_t kp_ch_build_where(kp_buf_t *b, const kp_store_filter_t *f);

/** A chain row to write for a signed record whose bytes are stored already (ch_chain.c). */
typedef struct kp_ch_chain_new {
  const kp_store_msm_t *rec;   /* the record: key_id, seq, content_hash, prev_hash, pubkey, sig, recv_time */
  const kp_store_msm_t *bytes; /* the batch row that sends those bytes, or NULL: stored before */
  const char *uid;             /* the stored measurement's uid */
} kp_ch_chain_new_t;
/** Write chain rows; the stored measurement's index columns are fetched by uid (or taken from
 *  ->bytes). KP_ERR_IO also when a uid is not stored. */
kp_status_t kp_ch_chain_write(kp_ch_store_t *s, const kp_ch_chain_new_t *c, size_t n);
/** The order_seq listing: one row per (key_id, seq) from chain, bodies by uid. */
kp_status_t kp_ch_query_chain_rows(kp_store_t *b, const kp_store_filter_t *f, kp_store_msm_cb cb, void *ctx);
kp_status_t kp_ch_put_head(kp_store_t *b, const kp_store_head_t *h);
kp_status_t kp_ch_query_heads(kp_store_t *b, const char *key_id, kp_store_head_cb cb, void *ctx);

kp_status_t kp_ch_query_rows(kp_store_t *b, const kp_store_filter_t *f, kp_store_msm_cb cb, void *ctx);
kp_status_t kp_ch_count_rows(kp_store_t *b, const kp_store_filter_t *f, int64_t *out);
kp_status_t kp_ch_aggregate_rows(kp_store_t *b, const kp_store_filter_t *f, const kp_store_agg_t *a,
                                 kp_store_agg_cb cb, void *ctx);
kp_status_t kp_ch_query_signal_rows(kp_store_t *b, const char *et, const char *ec, const char *ds, int64_t from,
                                    int64_t until, kp_store_signal_cb cb, void *ctx);
kp_status_t kp_ch_list_entity_rows(kp_store_t *b, kp_store_entity_cb cb, void *ctx);

/* ---- migrations (ch_schema.c) ---- */
/** Bring every node of @p u to the newest schema; @p version gets the entry node's. */
kp_status_t kp_ch_migrate(kp_ch_http_t **nodes, const kp_ch_url_t *u, int *version);
/** Number of migrations this build knows. */
int kp_ch_schema_newest(void);

#endif
