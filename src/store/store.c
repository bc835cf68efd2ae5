/*
 * store.c: backend selection and the kp_store_* dispatchers over store->ops.
 * "sqlite:PATH" or a plain PATH selects SQLite; "clickhouse://..." selects ClickHouse.
 */
#include "store/store.h"

#include <string.h>

void kp_store_filter_init(kp_store_filter_t *f) {
  memset(f, 0, sizeof *f);
  f->anomaly = f->confirmed = f->failure = -1;
}

kp_status_t kp_store_open(const char *path, kp_store_t **out) {
  if (!path || !*path) return KP_ERR_INVAL;
  if (strncmp(path, "clickhouse://", 13) == 0) return kp_store_clickhouse_ops.open(path, out);
  if (strncmp(path, "sqlite:", 7) == 0) path += 7;
  return kp_store_sqlite_ops.open(path, out);
}

void kp_store_close(kp_store_t *s) {
  if (s) s->ops->close(s);
}
kp_status_t kp_store_put_batch(kp_store_t *s, const kp_store_msm_t *m, size_t n, kp_store_put_result_t *res) {
  return s->ops->put_batch(s, m, n, res);
}
kp_status_t kp_store_find_hash(kp_store_t *s, const char *h, char uid[96]) { return s->ops->find_hash(s, h, uid); }
kp_status_t kp_store_query(kp_store_t *s, const kp_store_filter_t *f, kp_store_msm_cb cb, void *ctx) {
  return s->ops->query(s, f, cb, ctx);
}
kp_status_t kp_store_count(kp_store_t *s, const kp_store_filter_t *f, int64_t *out) {
  return s->ops->count(s, f, out);
}
kp_status_t kp_store_aggregate(kp_store_t *s, const kp_store_filter_t *f, const kp_store_agg_t *a,
                               kp_store_agg_cb cb, void *ctx) {
  return s->ops->aggregate(s, f, a, cb, ctx);
}
kp_status_t kp_store_put_signals(kp_store_t *s, const kp_store_signal_t *sig, size_t n) {
  return s->ops->put_signals(s, sig, n);
}
kp_status_t kp_store_query_signals(kp_store_t *s, const char *et, const char *ec, const char *ds, int64_t from,
                                   int64_t until, kp_store_signal_cb cb, void *ctx) {
  return s->ops->query_signals(s, et, ec, ds, from, until, cb, ctx);
}
int kp_store_schema_version(kp_store_t *s) { return s->ops->schema_version(s); }

kp_status_t kp_store_list_entities(kp_store_t *s, kp_store_entity_cb cb, void *ctx) {
  if (!s->ops->list_entities) return KP_ERR_UNSUPPORTED;
  return s->ops->list_entities(s, cb, ctx);
}
kp_status_t kp_store_put_head(kp_store_t *s, const kp_store_head_t *h) {
  if (!s->ops->put_head) return KP_ERR_UNSUPPORTED;
  return s->ops->put_head(s, h);
}
kp_status_t kp_store_query_heads(kp_store_t *s, const char *key_id, kp_store_head_cb cb, void *ctx) {
  if (!s->ops->query_heads) return KP_ERR_UNSUPPORTED;
  return s->ops->query_heads(s, key_id, cb, ctx);
}
