/*
 * store.h: the collector's storage behind one interface.
 *
 * A backend is a const kp_store_ops_t table (designated initializers); the
 * only one today is SQLite (src/store/sqlite/, WAL, versioned migrations).
 * kp_store_* are thin dispatchers over store->ops, so the server never sees
 * the backend. The second backend is ClickHouse (src/store/clickhouse/, over its HTTP
 * interface, optionally a Distributed cluster); both keep the contract below.
 *
 * Durability contract: kp_store_put_batch() returns only after every record
 * of the batch is durable (one transaction, committed with fsync), so a
 * caller may acknowledge each record afterwards (group commit).
 * Dedup: records are unique by content_hash; putting a known hash stores
 * nothing and reports the existing uid. keepon records (key_id set) are unique
 * by (key_id, seq): a known hash under a new key is a new chain position that
 * shares the stored bytes (inserted = true).
 */
#ifndef KP_STORE_STORE_H
#define KP_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/buf.h"
#include "base/status.h"

typedef struct kp_store kp_store_t;

/** One measurement row. Strings are borrowed for put, owned by the store for callbacks. */
typedef struct kp_store_msm {
  const char *uid;           /* OONI shape: <recvtime>_<CC>_<testname>_<sha512/16> */
  const char *content_hash;  /* hex SHA-256 of the measurement bytes: the dedup key */
  const char *report_id;
  const char *probe_cc, *probe_asn, *test_name;
  const char *input, *domain;   /* may be NULL */
  int64_t start_time;        /* measurement_start_time, Unix seconds */
  int64_t recv_time;
  bool anomaly, confirmed, failure;
  const char *blocking_type; /* "" when none */
  /* keepon's signed path (NULL / -1 for third-party OONI uploads) */
  const char *key_id, *pubkey, *sig, *prev_hash;
  int64_t seq;
  const char *body;          /* the measurement JSON */
  size_t body_len;
} kp_store_msm_t;

typedef struct kp_store_put_result {
  kp_status_t status;        /* KP_OK (inserted or duplicate), KP_ERR_EXISTS: its (key_id, seq)
                                chain position already holds different content */
  bool inserted;             /* false: a duplicate; uid holds the stored one */
  char uid[96];
} kp_store_put_result_t;

typedef struct kp_store_filter {
  const char *probe_cc, *probe_asn, *test_name, *input, *domain, *key_id;
  int64_t since, until;      /* 0 = unbounded; [since, until) on start_time */
  int anomaly, confirmed, failure; /* -1 any, 0/1 */
  int64_t limit, offset;     /* limit 0 = no limit */
  bool with_body;
  bool order_seq;            /* keepon chain order (key_id, seq) instead of start_time desc; lists (and
                                counts) keepon records only, as keyed_only does */
  bool keyed_only;           /* only keepon records (key_id IS NOT NULL) */
} kp_store_filter_t;
void kp_store_filter_init(kp_store_filter_t *f);

typedef int (*kp_store_msm_cb)(void *ctx, const kp_store_msm_t *m);

/* Aggregation like OONI's /api/v1/aggregation. Axis names: measurement_start_day,
 * probe_cc, probe_asn, test_name, domain, input, blocking_type (NULL = none). */
typedef struct kp_store_agg_row {
  const char *x, *y;         /* axis values (NULL when the axis is unused) */
  int64_t anomaly_count, confirmed_count, failure_count, ok_count, measurement_count;
} kp_store_agg_row_t;
typedef int (*kp_store_agg_cb)(void *ctx, const kp_store_agg_row_t *r);
typedef struct kp_store_agg {
  const char *axis_x, *axis_y;
  const char *time_grain;    /* hour, day, week, month, year (for measurement_start_day) */
} kp_store_agg_t;

/** Signal point (docs/formats.md). */
typedef struct kp_store_signal {
  const char *entity_type, *entity_code, *datasource;
  int64_t t, step;
  double value;
  bool has_value;            /* false: JSON null (no data) */
} kp_store_signal_t;
typedef int (*kp_store_signal_cb)(void *ctx, const kp_store_signal_t *s);

/** An entity that has signal points, with the time range they cover ([t_min, t_max)). */
typedef struct kp_store_entity {
  const char *entity_type, *entity_code; /* borrowed for the callback's duration */
  int64_t t_min, t_max;
} kp_store_entity_t;
typedef int (*kp_store_entity_cb)(void *ctx, const kp_store_entity_t *e);

/** A keepon signed head checkpoint as the collector keeps it (hex hash, base64 key and sig). */
typedef struct kp_store_head {
  const char *key_id, *head_hash, *pubkey, *sig;
  int64_t seq, recv_time;
} kp_store_head_t;
typedef int (*kp_store_head_cb)(void *ctx, const kp_store_head_t *h);

typedef struct kp_store_ops {
  const char *name;
  kp_status_t (*open)(const char *path, kp_store_t **out);
  void (*close)(kp_store_t *s);
  kp_status_t (*put_batch)(kp_store_t *s, const kp_store_msm_t *m, size_t n, kp_store_put_result_t *res);
  kp_status_t (*find_hash)(kp_store_t *s, const char *content_hash, char uid[96]);
  kp_status_t (*query)(kp_store_t *s, const kp_store_filter_t *f, kp_store_msm_cb cb, void *ctx);
  kp_status_t (*count)(kp_store_t *s, const kp_store_filter_t *f, int64_t *out);
  kp_status_t (*aggregate)(kp_store_t *s, const kp_store_filter_t *f, const kp_store_agg_t *a,
                           kp_store_agg_cb cb, void *ctx);
  kp_status_t (*put_signals)(kp_store_t *s, const kp_store_signal_t *sig, size_t n);
  kp_status_t (*query_signals)(kp_store_t *s, const char *entity_type, const char *entity_code,
                               const char *datasource, int64_t from, int64_t until,
                               kp_store_signal_cb cb, void *ctx);
  int (*schema_version)(kp_store_t *s);
  /** Every (entity_type, entity_code) with signals; a callback returning non-zero stops. */
  kp_status_t (*list_entities)(kp_store_t *s, kp_store_entity_cb cb, void *ctx);
  /** Keep a head checkpoint (optional op). KP_ERR_NOTFOUND: records 1..seq are not all stored;
   *  KP_ERR_EXISTS: the stored record at seq has another hash. A lower seq changes nothing. */
  kp_status_t (*put_head)(kp_store_t *s, const kp_store_head_t *h);
  /** The kept head of @p key_id (NULL: every key). Optional op. */
  kp_status_t (*query_heads)(kp_store_t *s, const char *key_id, kp_store_head_cb cb, void *ctx);
} kp_store_ops_t;

/** Every store starts with this header (backends embed it first). */
struct kp_store {
  const kp_store_ops_t *ops;
};

extern const kp_store_ops_t kp_store_sqlite_ops;
extern const kp_store_ops_t kp_store_clickhouse_ops; /* src/store/clickhouse/, docs/store.md */

/** Open by URL: "sqlite:PATH" or a plain PATH (SQLite), or
 *  "clickhouse://HOST:PORT[,HOST:PORT...]/DB[?cluster=NAME]" (ClickHouse's HTTP interface). */
kp_status_t kp_store_open(const char *path, kp_store_t **out);
void kp_store_close(kp_store_t *s);
kp_status_t kp_store_put_batch(kp_store_t *s, const kp_store_msm_t *m, size_t n, kp_store_put_result_t *res);
kp_status_t kp_store_find_hash(kp_store_t *s, const char *content_hash, char uid[96]);
kp_status_t kp_store_query(kp_store_t *s, const kp_store_filter_t *f, kp_store_msm_cb cb, void *ctx);
kp_status_t kp_store_count(kp_store_t *s, const kp_store_filter_t *f, int64_t *out);
kp_status_t kp_store_aggregate(kp_store_t *s, const kp_store_filter_t *f, const kp_store_agg_t *a,
                               kp_store_agg_cb cb, void *ctx);
kp_status_t kp_store_put_signals(kp_store_t *s, const kp_store_signal_t *sig, size_t n);
kp_status_t kp_store_query_signals(kp_store_t *s, const char *entity_type, const char *entity_code,
                                   const char *datasource, int64_t from, int64_t until,
                                   kp_store_signal_cb cb, void *ctx);
int kp_store_schema_version(kp_store_t *s);
kp_status_t kp_store_list_entities(kp_store_t *s, kp_store_entity_cb cb, void *ctx);
kp_status_t kp_store_put_head(kp_store_t *s, const kp_store_head_t *h);
kp_status_t kp_store_query_heads(kp_store_t *s, const char *key_id, kp_store_head_cb cb, void *ctx);

/** Is @p name a valid aggregation axis? */
bool kp_store_axis_valid(const char *name);

#endif
