/*
 * mount.c: the dashboard on keepon's HTTP server (server/server.h route API).
 *
 * One adapter handler serves every dashboard route: it copies the request's method and path
 * into NUL-terminated strings, calls kp_dashboard_handle() and moves the answer into the
 * server's response (static assets are copied: they are small, and the server owns its body).
 * Routes: GET "/" (the longest-prefix rule makes it the fallback for unknown paths, which get
 * a JSON 404), GET "/assets/", any method on "/api/v1/entities" and "/api/v1/incidents".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/dashboard.h"
#include "server/server.h"
#include "store/store.h"

static kp_status_t on_request(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_dashboard_t *d = ctx;
  char method[16], path[1024], query[1024];
  if (req->method.n >= sizeof method || req->path.n >= sizeof path || req->query.n >= sizeof query) {
    kp_srv_error(resp, 414, "path too long");
    return KP_OK;
  }
  memcpy(method, req->method.p, req->method.n);
  method[req->method.n] = 0;
  memcpy(path, req->path.p, req->path.n);
  path[req->path.n] = 0;
  if (req->query.n) memcpy(query, req->query.p, req->query.n);
  query[req->query.n] = 0;
  kp_dash_req_t rq = {.method = method, .path = path, .query = query, .body = req->body,
                      .body_len = req->body ? req->body_len : 0};
  kp_dash_resp_t rs;
  kp_status_t st = kp_dashboard_handle(d, &rq, &rs);
  if (st == KP_ERR_NOTFOUND) {
    kp_srv_error(resp, 404, "not found");
    return KP_OK;
  }
  if (st != KP_OK) return st;
  resp->status = rs.status;
  resp->content_type = rs.content_type;
  kp_buf_reset(&resp->body);
  if (rs.static_body) st = kp_buf_append(&resp->body, rs.static_body, rs.static_len);
  else st = kp_buf_append(&resp->body, rs.body.data ? (const void *)rs.body.data : "", rs.body.len);
  if (st == KP_OK && rs.static_body) st = kp_buf_puts(&resp->headers, "Cache-Control: no-cache\r\n");
  if (st == KP_OK && rs.next_offset >= 0)
    st = kp_buf_printf(&resp->headers, "X-Next-Offset: %lld\r\n", (long long)rs.next_offset);
  kp_buf_free(&rs.body);
  return st;
}

/* store entity -> dashboard entity: a region code "CC/Name" names its country; an ASN's
 * country and region come only from metadata posted to /api/v1/entities */
typedef struct list_ctx {
  kp_dash_entity_fn fn;
  void *cb_ctx;
} list_ctx_t;

static int on_store_entity(void *ctx, const kp_store_entity_t *e) {
  list_ctx_t *l = ctx;
  char cc[3] = "";
  if (strcmp(e->entity_type, "region") == 0 && strlen(e->entity_code) > 3 && e->entity_code[2] == '/')
    memcpy(cc, e->entity_code, 2);
  kp_dash_entity_t d = {.type = e->entity_type, .code = e->entity_code, .cc = cc, .region = "",
                        .t_min = e->t_min, .t_max = e->t_max};
  l->fn(l->cb_ctx, &d);
  return 0;
}

static kp_status_t list_store_entities(void *ctx, kp_dash_entity_fn fn, void *cb_ctx) {
  list_ctx_t l = {fn, cb_ctx};
  return kp_store_list_entities(ctx, on_store_entity, &l);
}

kp_status_t kp_dashboard_mount(struct kp_srv *srv, struct kp_store *store, const char *state_dir,
                               kp_dashboard_t **out) {
  kp_dashboard_config_t cfg = {.state_dir = state_dir,
                               .list_entities = store ? list_store_entities : NULL,
                               .list_ctx = store};
  kp_dashboard_t *d = NULL;
  kp_status_t st = kp_dashboard_new(&cfg, &d);
  if (st != KP_OK) return st;
  const kp_srv_route_t routes[] = {
    {.method = "GET", .prefix = "/", .fn = on_request, .ctx = d},
    {.method = "GET", .prefix = "/assets/", .fn = on_request, .ctx = d},
    {.method = "*", .prefix = "/api/v1/entities", .fn = on_request, .ctx = d},
    {.method = "*", .prefix = "/api/v1/incidents", .fn = on_request, .ctx = d},
  };
  st = kp_srv_add_routes(srv, routes, sizeof routes / sizeof *routes);
  if (st != KP_OK) {
    kp_dashboard_free(d);
    return st;
  }
  *out = d;
  return KP_OK;
}
