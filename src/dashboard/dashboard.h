/*
 * dashboard.h: keepon's web dashboard (docs/dashboard.md).
 *
 * The page (web/, embedded into the binary at build time) draws, per entity, the signals over
 * time with detected incidents shaded, the incident list, an app × time blocking matrix, and a
 * map-free drill-down country → region → ASN. It reads three JSON APIs:
 *   GET  /api/v1/signals/raw/TYPE/CODE   IODA-shaped series (served by the server module)
 *   GET  /api/v1/entities                the entity tree + data time range     (this module)
 *                                        paged: ?limit=N (1..10000, default 1000 nodes)&offset=K
 *   POST /api/v1/entities                add entity metadata: [{type, code, cc, region, from, until}]
 *   GET  /api/v1/incidents               detect's incidents                     (this module)
 *                                        paged: ?limit=N (1..10000, default 1000)&offset=K; a page
 *                                        also ends past 1 MiB. Every paged answer carries
 *                                        "metadata": {count, limit, offset, next_offset} and the
 *                                        server adds X-Next-Offset when more follow.
 *   POST /api/v1/incidents               replace the incidents (body: detect's JSON array,
 *                                        {"incidents":[...]} or JSONL)          (this module)
 * plus "/" (the page) and "/assets/<file>".
 *
 * The module is independent of the HTTP server: kp_dashboard_handle() maps a request
 * (method, path, query, body) to a response; kp_dashboard_mount() adapts it to the server's
 * route API. Entities come from a caller-supplied lister (the store), from kp_dashboard_note()
 * and from the posted incidents (their cc, regions and asns).
 *
 * Thread safety: a kp_dashboard_t is used from one thread (the server's event loop).
 */
#ifndef KP_DASHBOARD_DASHBOARD_H
#define KP_DASHBOARD_DASHBOARD_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

typedef struct kp_dashboard kp_dashboard_t;

/** One known entity. cc: its country ("" = unknown or itself a country); region: for an asn,
 *  the region code it belongs to ("" = directly under the country). t_min/t_max: data range
 *  (0 = unknown). */
typedef struct kp_dash_entity {
  const char *type; /* "country", "region", "asn" (others are ignored by the tree) */
  const char *code; /* "KZ", "KZ/Almaty", "AS9198" */
  const char *cc;
  const char *region;
  int64_t t_min, t_max;
} kp_dash_entity_t;

typedef void (*kp_dash_entity_fn)(void *cb_ctx, const kp_dash_entity_t *e);

typedef struct kp_dashboard_config {
  /** Folder where the posted incidents persist (incidents.json); NULL = memory only. */
  const char *state_dir;
  /** Optional: calls @p fn once per entity the store knows, on every GET /api/v1/entities. */
  kp_status_t (*list_entities)(void *ctx, kp_dash_entity_fn fn, void *cb_ctx);
  void *list_ctx;
} kp_dashboard_config_t;

kp_status_t kp_dashboard_new(const kp_dashboard_config_t *cfg, kp_dashboard_t **out);
void kp_dashboard_free(kp_dashboard_t *d);

/** Remember an entity (copied). Duplicates widen the known time range. */
kp_status_t kp_dashboard_note(kp_dashboard_t *d, const kp_dash_entity_t *e);

/** A request as the dashboard sees it (all borrowed; query without '?', may be NULL). */
typedef struct kp_dash_req {
  const char *method;
  const char *path;
  const char *query;
  const void *body;
  size_t body_len;
} kp_dash_req_t;

/** The response. For static assets body stays empty and static_body points into the binary. */
typedef struct kp_dash_resp {
  int status;
  const char *content_type; /* static string */
  kp_buf_t body;            /* initialised by kp_dashboard_handle; caller frees */
  const void *static_body;
  size_t static_len;
  int64_t next_offset;      /* a paged listing with more to follow: the next page's offset, else -1 */
} kp_dash_resp_t;

/**
 * Serve one request.
 * @return KP_OK with @p resp filled (any HTTP status, errors as JSON {"error":...}),
 *         KP_ERR_NOTFOUND when @p req->path is not a dashboard route (resp untouched),
 *         KP_ERR_NOMEM.
 */
kp_status_t kp_dashboard_handle(kp_dashboard_t *d, const kp_dash_req_t *req, kp_dash_resp_t *resp);

/** Route prefixes/paths the dashboard answers (NULL-terminated), for route registration. */
extern const char *const kp_dashboard_routes[];

/** Embedded asset for a URL path ("/" = the page), or NULL. */
kp_status_t kp_dashboard_asset(const char *path, const void **data, size_t *len,
                               const char **content_type);

struct kp_srv;
struct kp_store;
/**
 * Mount the dashboard's routes on keepon's HTTP server (after kp_collector_mount, which serves
 * /api/v1/signals/raw/...). @p state_dir: where posted incidents persist (NULL = memory only).
 * The dashboard must outlive the server loop; free it with kp_dashboard_free() after.
 */
kp_status_t kp_dashboard_mount(struct kp_srv *srv, struct kp_store *store, const char *state_dir,
                               kp_dashboard_t **out);

/* Pure helpers (unit tests). */
/** The tree JSON of GET /api/v1/entities over @p n entities (every node, no metadata). */
kp_status_t kp_dashboard_tree_json(const kp_dash_entity_t *v, size_t n, kp_buf_t *out);
/** A page of a listing: in limit (> 0) and offset; out count (all nodes / items) and
 *  next_offset (-1: this is the last page). */
typedef struct kp_dash_page {
  int64_t limit, offset;
  int64_t count, next_offset;
} kp_dash_page_t;
/** One page of the tree (entities.c: nodes in pre-order, the page's first node inside its
 *  ancestors), with "metadata": {count, limit, offset[, next_offset]}. */
kp_status_t kp_dashboard_tree_json_page(const kp_dash_entity_t *v, size_t n, kp_dash_page_t *pg, kp_buf_t *out);
/** Normalise an incidents upload (array, {"incidents":[...]} or JSONL) into a JSON array. */
kp_status_t kp_dashboard_incidents_parse(const void *p, size_t n, kp_buf_t *out, size_t *count);

#endif
