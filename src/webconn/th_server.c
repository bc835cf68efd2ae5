/*
 * th_server.c: the test helper's listener (`keepon helper`) on kp_srv, the
 * one server module (its request parser, limits and timeouts: src/server).
 *
 * A TH request blocks for seconds (DNS, connects, a fetch), so the epoll loop
 * never measures: the route defers the response (async) and hands the request
 * to a worker thread; the worker measures, queues its answer and wakes the
 * loop; the loop's flush hook completes the response. Per request:
 *
 *   kp_srv: head/body limits, timeouts, 400/408/411/413/431 (src/server)
 *     │ GET/HEAD -> 200 {} (health check)      other methods -> 405
 *     │ POST:
 *   admit ─(in flight >= cap, or > cap/2 for a client that is not a probe,
 *     │     or this client's address already has per_client in flight)─> 503
 *     │ ok: resp deferred+async, job -> worker thread
 *   worker: kp_wc_th_handle ─> done queue ─> kp_srv_wake
 *   loop, flush hook: done jobs -> responses (200 JSON), client slot freed
 *
 * Fairness: the per-client cap keys IPv4 by address and IPv6 by /64 (one
 * subscriber), so one client holding its share of slow requests leaves the
 * rest of the budget to others; idle or slow sockets hold no measurement slot
 * at all (kp_srv only reads them).
 *
 * Threads: the loop thread owns the client table and every kp_srv object;
 * workers touch only their job (body borrowed from the deferred request,
 * which kp_srv keeps unread and alive until completion) and the done queue
 * (mutex). Shutdown: run() returns after *stop is set, the loop has stopped,
 * and every worker has finished (each bounded by the measurement timeouts).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/log.h"
#include "server/server.h"
#include "webconn/webconn.h"

typedef struct client {
  kp_addr_t key; /* v4 address or v6 /64 */
  size_t inflight;
} client_t;

typedef struct job {
  kp_wc_th_server_t *s;
  kp_srv_resp_t *resp;
  const uint8_t *body;
  size_t len;
  kp_addr_t key;
  kp_buf_t out;
  int status;
  struct job *next;
} job_t;

struct kp_wc_th_server {
  kp_wc_th_cfg_t cfg;
  kp_srv_t *srv;
  size_t cap, per_client;
  size_t inflight;        /* loop thread only */
  client_t *clients;      /* loop thread only: addresses with requests in flight */
  size_t nclients;
  pthread_mutex_t mu;     /* guards done and running */
  pthread_cond_t cv;
  job_t *done;
  size_t running;         /* worker threads alive */
};

static client_t *client_get(kp_wc_th_server_t *s, const kp_addr_t *key, bool create) {
  for (size_t i = 0; i < s->nclients; i++)
    if (kp_addr_eq(&s->clients[i].key, key)) return &s->clients[i];
  if (!create) return NULL;
  client_t *c = &s->clients[s->nclients++]; /* nclients <= inflight <= cap: the table has cap slots */
  c->key = *key;
  c->inflight = 0;
  return c;
}

static void client_release(kp_wc_th_server_t *s, const kp_addr_t *key) {
  client_t *c = client_get(s, key, false);
  if (c && --c->inflight == 0) *c = s->clients[--s->nclients];
  s->inflight--;
}

kp_addr_t kp_wc_th_client_key(const kp_addr_t *peer) {
  kp_addr_t a = *peer;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (a.family == 6 && !memcmp(a.b, mapped, 12)) { /* a dual-stack listener's IPv4 client */
    kp_addr_t v = {.family = 4};
    memcpy(v.b, a.b + 12, 4);
    return v;
  }
  if (a.family == 6) memset(a.b + 8, 0, 8); /* one subscriber holds a /64 */
  return a;
}

static kp_addr_t client_key(const kp_srv_resp_t *resp) {
  kp_addr_t a = {0};
  if (!kp_srv_peer(resp, &a)) return a; /* unknown peers share one key */
  return kp_wc_th_client_key(&a);
}

static void *worker(void *arg) {
  job_t *j = arg;
  kp_wc_th_server_t *s = j->s;
  kp_wc_th_handle(&s->cfg, j->body, j->len, &j->out, &j->status);
  pthread_mutex_lock(&s->mu);
  j->next = s->done;
  s->done = j;
  s->running--;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  kp_srv_wake(s->srv);
  return NULL;
}

/* flush hook (loop thread): complete every finished job's response */
static void complete(void *ctx) {
  kp_wc_th_server_t *s = ctx;
  pthread_mutex_lock(&s->mu);
  job_t *list = s->done;
  s->done = NULL;
  pthread_mutex_unlock(&s->mu);
  for (job_t *j = list, *nx; j; j = nx) {
    nx = j->next;
    kp_srv_resp_t *r = j->resp;
    r->status = j->status;
    r->content_type = "application/json";
    kp_buf_reset(&r->body);
    if (kp_buf_append(&r->body, j->out.data ? j->out.data : (const uint8_t *)"", j->out.len) != KP_OK)
      kp_srv_error(r, 500, "response too large");
    r->deferred = false;
    client_release(s, &j->key);
    kp_buf_free(&j->out);
    free(j);
  }
}

static bool is_probe_ua(const kp_srv_req_t *req) {
  kp_srv_slice_t ua = kp_srv_header(req, "user-agent");
  return ua.p && ((ua.n >= 10 && !memcmp(ua.p, "ooniprobe-", 10)) || (ua.n >= 7 && !memcmp(ua.p, "keepon/", 7)));
}

static kp_status_t on_request(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp) {
  kp_wc_th_server_t *s = ctx;
  if (kp_srv_slice_eq(req->method, "GET") || kp_srv_slice_eq(req->method, "HEAD")) {
    kp_buf_puts(&resp->body, "{}");
    return KP_OK;
  }
  if (!kp_srv_slice_eq(req->method, "POST")) {
    kp_srv_error(resp, 405, "method not allowed");
    return KP_OK;
  }
  if (req->content_length < 0) {
    kp_srv_error(resp, 411, "length required");
    return KP_OK;
  }
  /* as oohelperd: clients that are not probes (ooniprobe-..., keepon/...) get half the budget */
  kp_addr_t key = client_key(resp);
  client_t *c = client_get(s, &key, false);
  if (s->inflight >= s->cap || (!is_probe_ua(req) && s->inflight >= (s->cap + 1) / 2) ||
      (c && c->inflight >= s->per_client)) {
    kp_srv_error(resp, 503, "too many requests in flight");
    kp_buf_puts(&resp->headers, "Retry-After: 1\r\n");
    return KP_OK;
  }
  job_t *j = calloc(1, sizeof *j);
  if (!j) {
    kp_srv_error(resp, 503, "out of memory");
    return KP_OK;
  }
  j->s = s;
  j->resp = resp;
  j->body = req->body ? req->body : (const uint8_t *)"";
  j->len = req->body_len;
  j->key = key;
  j->status = 500;
  kp_buf_init(&j->out, (size_t)8 << 20);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, (size_t)1 << 20);
  pthread_mutex_lock(&s->mu);
  s->running++;
  pthread_t t;
  int rc = pthread_create(&t, &attr, worker, j);
  if (rc != 0) s->running--;
  pthread_mutex_unlock(&s->mu);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    kp_buf_free(&j->out);
    free(j);
    kp_srv_error(resp, 503, "no worker");
    return KP_OK;
  }
  client_get(s, &key, true)->inflight++;
  s->inflight++;
  resp->deferred = true;
  resp->async = true;
  return KP_OK;
}

kp_status_t kp_wc_th_server_new(const kp_wc_th_cfg_t *cfg, const char *listen_on, kp_wc_th_server_t **out) {
  kp_wc_th_server_t *s = calloc(1, sizeof *s);
  if (!s) return KP_ERR_NOMEM;
  s->cfg = *cfg;
  s->cap = cfg->max_inflight ? cfg->max_inflight : 50;
  s->per_client = cfg->max_per_client ? cfg->max_per_client : (s->cap + 4) / 5;
  s->clients = calloc(s->cap, sizeof *s->clients);
  kp_srv_config_t sc;
  kp_srv_config_defaults(&sc);
  sc.listen = listen_on;
  sc.max_body = cfg->max_request ? cfg->max_request : KP_WC_TH_MAX_BODY;
  sc.max_conns = cfg->max_conns ? cfg->max_conns : 4096;
  kp_status_t st = s->clients ? kp_srv_create(&sc, &s->srv) : KP_ERR_NOMEM;
  /* the TH protocol is a public, unauthenticated POST (as oohelperd's): an open write */
  const kp_srv_route_t route = {.method = "*", .prefix = "/", .fn = on_request, .ctx = s, .flags = KP_SRV_OPEN_WRITE};
  if (st == KP_OK) st = kp_srv_add_routes(s->srv, &route, 1);
  if (st != KP_OK) {
    kp_srv_destroy(s->srv);
    free(s->clients);
    free(s);
    return st;
  }
  kp_srv_set_flush(s->srv, complete, s);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  /* the listener's own address is never a destination (interfaces are added per request) */
  char host[KP_ADDR_STRLEN + 2];
  uint16_t port;
  kp_addr_t la;
  if (kp_hostport_parse(listen_on, host, sizeof host, &port) == KP_OK && kp_addr_parse(host, &la) == KP_OK)
    kp_wc_dest_add_own(&s->cfg.dest, &la);
  *out = s;
  return KP_OK;
}

uint16_t kp_wc_th_server_port(const kp_wc_th_server_t *s) { return kp_srv_port(s->srv); }

kp_status_t kp_wc_th_server_run(kp_wc_th_server_t *s, volatile sig_atomic_t *stop) {
  kp_status_t st = kp_srv_run(s->srv, stop);
  pthread_mutex_lock(&s->mu);
  while (s->running > 0) pthread_cond_wait(&s->cv, &s->mu); /* each worker ends within its timeouts */
  pthread_mutex_unlock(&s->mu);
  complete(s); /* free finished jobs; their connections are closed by kp_srv_destroy */
  return st;
}

void kp_wc_th_server_free(kp_wc_th_server_t *s) {
  if (!s) return;
  kp_srv_destroy(s->srv);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s->clients);
  free(s);
}
