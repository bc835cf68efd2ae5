/* collector_internal.h: state shared by collector.c (ingest) and api.c (queries); module-private. */
#ifndef KP_SERVER_COLLECTOR_INTERNAL_H
#define KP_SERVER_COLLECTOR_INTERNAL_H

#include "fastpath/fastpath.h"
#include "server/server.h"
#include "store/store.h"

typedef struct pending {
  kp_store_msm_t m;
  char *strs;             /* owns every string m points to */
  char *body;
  kp_srv_resp_t *resp;
} pending_t;

struct kp_collector {
  kp_srv_t *srv;
  kp_store_t *store;
  const kp_fp_db_t *fp;
  size_t max_batch;
  pending_t **pend;            /* synchronous mode's queue */
  size_t npend;
  struct kp_cq *cq;            /* pipelined mode (commitq.c), else NULL */
  bool failed_logged;
  uint64_t stored, duplicates; /* counters for logs */
  char (*trusted)[33];         /* pinned keepon key ids (keepon.c); none = any key */
  size_t ntrusted;
  char kroute[5][128];
  struct kp_vview *vview;       /* many watch vantages (watchapi.c) */         /* keepon's routes under kp_collector_config_t.keepon_prefix */
};


/* a queued measurement's response from its batch status and put result: 503 when the batch
 * was not stored, 409 for a chain slot holding other bytes, else 200 {measurement_uid[,duplicate]} */
void kp_collector_answer(kp_srv_resp_t *r, kp_status_t st, const kp_store_put_result_t *res);

kp_status_t kp_api_measurements(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp);
kp_status_t kp_api_aggregation(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp);
kp_status_t kp_api_signals_raw(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp);
kp_status_t kp_api_signals_post(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp);
kp_status_t kp_api_keepon_records(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp);
/* watchapi.c: vantages' block states, merged */
kp_status_t kp_api_watch_blocks_post(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp);
kp_status_t kp_api_watch_blocks_get(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp);
kp_status_t kp_api_watch_faults(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp);
/* keepon.c: head checkpoints and pinned keys */
kp_status_t kp_api_keepon_head_post(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp);
kp_status_t kp_api_keepon_heads(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp);
bool kp_collector_key_trusted(const kp_collector_t *c, const char *key_id);
kp_status_t kp_collector_load_trusted(kp_collector_t *c, const char *path);
/** true when the request's Content-Type is application/json (parameters allowed) or absent-tolerant=false */
bool kp_api_is_json_ctype(const kp_srv_req_t *req, const char *want);
/** limit/offset of a listing (kp_srv_page_query, default limit @p def_limit); false after a 400
 * naming the bad parameter, so every listing refuses a bad page the same way */
bool kp_api_page(const kp_srv_req_t *req, kp_srv_resp_t *resp, long long def_limit, long long *limit,
                 long long *offset);

/* a request body as sent (identity) or inflated (Content-Encoding: zstd, at most KP_PS_MAX_INFLATE
 * bytes) into out; on failure *http_status is the answer (400 corrupt, 413 too large, 415 other) */
#define KP_PS_MAX_INFLATE ((size_t)16 << 20)
kp_status_t kp_ps_inflate(const kp_srv_req_t *req, kp_buf_t *out, int *http_status);

#endif
