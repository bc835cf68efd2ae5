/* commitq.h: the collector's commit pipeline (module-private to src/server; see commitq.c). */
#ifndef KP_SERVER_COMMITQ_H
#define KP_SERVER_COMMITQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct kp_cq kp_cq_t;

/* One measurement's outcome, called on the loop thread by kp_cq_pump / kp_cq_drain, exactly once
 * per kp_cq_add: batch_st != KP_OK means the batch was not stored (answer 503); else r is its
 * put result (inserted, duplicate, or r->status KP_ERR_EXISTS). */
typedef void (*kp_cq_done_fn)(void *ctx, void *tag, kp_status_t batch_st, const kp_store_put_result_t *r);

typedef struct kp_cq_config {
  kp_store_t *store;              /* used by the commit thread only (its own handle) */
  size_t max_items;               /* gathering cap, measurements (default 8192) */
  size_t max_bytes;               /* gathering cap, sum of body_len (default 64 MiB) */
  void (*wake)(void *ctx);        /* called by the commit thread when a batch is DONE */
  void *wake_ctx;
  uint64_t (*now_ms)(void *ctx);  /* clock for commit timings (NULL: CLOCK_MONOTONIC) */
  void *clock_ctx;
} kp_cq_config_t;

typedef struct kp_cq_stats {
  uint64_t batches, items, failed_batches;
  size_t max_batch, last_batch;
  uint64_t last_commit_ms, max_commit_ms;
} kp_cq_stats_t;

kp_status_t kp_cq_new(const kp_cq_config_t *cfg, kp_cq_t **out);
/** Stop the commit thread (after finishing a batch in commit; its results are delivered to
 *  @p done). Items still gathering are delivered with KP_ERR_IO (not stored). */
void kp_cq_free(kp_cq_t *q, kp_cq_done_fn done, void *ctx);
/** Would one more item of @p body_len exceed the gathering caps? */
bool kp_cq_full(const kp_cq_t *q, size_t body_len);
/** Gather @p m (strings borrowed until @p tag's done call). KP_ERR_RANGE when full. */
kp_status_t kp_cq_add(kp_cq_t *q, const kp_store_msm_t *m, void *tag);
/** Loop thread, never blocks: deliver a DONE batch, then hand the gathered items to the commit
 *  thread if it is idle. @return items delivered. */
size_t kp_cq_pump(kp_cq_t *q, kp_cq_done_fn done, void *ctx);
/** Loop thread, blocks: commit and deliver everything added so far. */
void kp_cq_drain(kp_cq_t *q, kp_cq_done_fn done, void *ctx);
/** Items gathering + in commit + done but not delivered. */
size_t kp_cq_waiting(const kp_cq_t *q);
void kp_cq_stats(const kp_cq_t *q, kp_cq_stats_t *out);

#endif
