/*
 * server.h: keepon's HTTP/1.1 server, its pure request parser, and the
 * collector / query / signals routes mounted on it.
 *
 * Threading: one thread, one epoll loop, nonblocking sockets. Writes to the
 * store are group-committed by the loop itself (see kp_srv_set_flush): a
 * handler may defer its response; after each round of ready events the loop
 * calls the flush hook once, which commits every queued record in one
 * transaction and completes the deferred responses, so a 2xx leaves only
 * after its data is durable. SQLite allows one writer anyway, so a worker
 * pool would add locking without adding write throughput.
 *
 * Pluggable routes: a const table (kp_srv_add_routes) or one at a time
 * (kp_srv_add_route): method ("*" = any), path prefix, handler(ctx, req, resp).
 * The longest matching prefix wins; a prefix matches the path itself or the
 * path followed by '/' or '?' (so "/report" matches "/report/ID").
 */
#ifndef KP_SERVER_SERVER_H
#define KP_SERVER_SERVER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

/* ---- request parser (pure: bytes in, views out, no I/O) ---- */
#define KP_SRV_MAX_HEADERS 64

typedef struct kp_srv_slice {
  const char *p; /* borrowed from the input buffer; not NUL-terminated */
  size_t n;
} kp_srv_slice_t;

typedef struct kp_srv_req {
  kp_srv_slice_t method, target, path, query;
  int version_minor;                 /* HTTP/1.x */
  kp_srv_slice_t hname[KP_SRV_MAX_HEADERS], hvalue[KP_SRV_MAX_HEADERS];
  size_t nheaders;
  int64_t content_length;            /* -1 when absent */
  bool keep_alive;
  bool chunked;                      /* Transfer-Encoding: chunked (rejected with 411) */
  const uint8_t *body;               /* set by the server once the body is complete */
  size_t body_len;
} kp_srv_req_t;

/**
 * Parse the request head (request line + headers) at the start of p..n.
 * @param max_head cap on the head size (431 beyond it)
 * @param[out] head_len bytes of the head including the blank line
 * @return KP_OK complete; KP_ERR_TRUNC need more bytes; KP_ERR_INVAL malformed;
 *         KP_ERR_RANGE head too large or too many headers; KP_ERR_UNSUPPORTED not HTTP/1.x
 */
kp_status_t kp_srv_parse_head(const uint8_t *p, size_t n, size_t max_head, kp_srv_req_t *req,
                               size_t *head_len);
/** Header value by case-insensitive name (first one), or NULL slice (p == NULL). */
kp_srv_slice_t kp_srv_header(const kp_srv_req_t *req, const char *name);
bool kp_srv_slice_eq(kp_srv_slice_t s, const char *lit);
bool kp_srv_slice_ieq(kp_srv_slice_t s, const char *lit);
/**
 * Query parameter @p name, percent-decoded into out[cap] (NUL-terminated).
 * @return true when present (and fits); a value with bad escapes is absent.
 */
bool kp_srv_query_get(kp_srv_slice_t query, const char *name, char *out, size_t cap);
/**
 * The paging parameters every listing takes: limit (1..10000, @p def_limit when absent) and
 * offset (>= 0, 0 when absent), decimal digits only. A parameter that is present but empty, too
 * long, badly escaped or out of range is bad, never silently the default. Pure.
 * @return NULL when both are good, else the name of the first bad one ("limit" or "offset").
 */
const char *kp_srv_page_query(kp_srv_slice_t query, long long def_limit, long long *limit,
                              long long *offset);

/* ---- server ---- */
typedef struct kp_srv_resp {
  int status;
  size_t page_bytes;         /* soft size for listings: stop adding rows past it, give a cursor */
  const char *content_type;  /* default application/json */
  kp_buf_t body;
  kp_buf_t headers;          /* extra "Name: value\r\n" lines */
  bool deferred;             /* set by a handler: completed by the flush hook */
  bool async;                /* with deferred: the flush hook may leave it deferred; it completes on a
                                later round (call kp_srv_wake from any thread to run the hook). The
                                request (and req->body) stays valid and unread until then. */
  void *conn;                /* server-private */
} kp_srv_resp_t;

typedef kp_status_t (*kp_srv_handler)(void *ctx, const kp_srv_req_t *req, kp_srv_resp_t *resp);

/* Route flags. Every request that is not GET/HEAD is a write; a write needs the admin token
 * (Authorization: Bearer) and a JSON Content-Type unless its route is KP_SRV_OPEN_WRITE (OONI's
 * upload routes and keepon's signed submit: anyone may upload, as to OONI's collector). */
#define KP_SRV_OPEN_WRITE 1u

typedef struct kp_srv_route {
  const char *method;        /* "GET", "POST", "*"; a GET route answers HEAD too (no body) */
  const char *prefix;
  kp_srv_handler fn;
  void *ctx;
  unsigned flags;            /* KP_SRV_OPEN_WRITE or 0 */
} kp_srv_route_t;

typedef struct kp_srv_config {
  const char *listen;        /* "ADDR:PORT" ("[v6]:port"); port 0 = ephemeral */
  size_t max_conns;          /* beyond it new connections get 503 and are closed */
  size_t max_head;           /* request head cap (bytes) */
  size_t max_body;           /* Content-Length cap (413 beyond) */
  int head_timeout_ms;       /* whole head must arrive within (slowloris) */
  int body_timeout_ms;       /* whole body must arrive within */
  int idle_timeout_ms;       /* keep-alive idle */
  int write_timeout_ms;
  size_t max_conns_per_addr; /* per client address (IPv6: per /64); beyond it 503 + close */
  size_t max_resp;           /* hard cap of one response body (500 beyond; listings page first) */
  size_t page_bytes;         /* soft size listings fill before giving a next cursor */
  size_t out_budget;         /* response bytes buffered over all connections; beyond it 503 */
  const char *admin_token;   /* Bearer token for writes (not OPEN_WRITE); NULL: such writes 403 */
  const char *allowed_hosts; /* comma list of Host names (port ignored); "*" any; NULL: derived
                                from listen (loopback listen: localhost,127.0.0.1,::1; else any) */
  const char *tls_cert, *tls_key; /* PEM files; both set: HTTPS only on this listener */
} kp_srv_config_t;
void kp_srv_config_defaults(kp_srv_config_t *c);

typedef struct kp_srv kp_srv_t;

kp_status_t kp_srv_create(const kp_srv_config_t *cfg, kp_srv_t **out);
void kp_srv_destroy(kp_srv_t *s);
/** Bound port (useful with port 0). */
uint16_t kp_srv_port(const kp_srv_t *s);
kp_status_t kp_srv_add_route(kp_srv_t *s, const char *method, const char *prefix, kp_srv_handler fn, void *ctx);
kp_status_t kp_srv_add_route_flags(kp_srv_t *s, const char *method, const char *prefix, kp_srv_handler fn,
                                   void *ctx, unsigned flags);
kp_status_t kp_srv_add_routes(kp_srv_t *s, const kp_srv_route_t *table, size_t n);
/** Reload the TLS certificate and key from the configured paths; on failure the old pair stays.
 *  Established connections keep the context they started with; the listener is not touched. */
kp_status_t kp_srv_tls_reload(kp_srv_t *s);
/** kp_srv_run calls kp_srv_tls_reload when *flag becomes non-zero (then clears it): SIGHUP. */
void kp_srv_watch_reload(kp_srv_t *s, volatile sig_atomic_t *flag);
/** Connections open now (tests). */
size_t kp_srv_nconns(const kp_srv_t *s);
/** The group-commit hook: called after each loop round when a response is deferred. */
void kp_srv_set_flush(kp_srv_t *s, void (*flush)(void *ctx), void *ctx);
/** Thread-safe: wake the loop so the flush hook runs (completes async deferred responses). */
void kp_srv_wake(kp_srv_t *s);
struct kp_addr;
/** The client address of the connection @p resp answers. */
bool kp_srv_peer(const kp_srv_resp_t *resp, struct kp_addr *out);
/** Serve until *stop becomes non-zero. With TLS the caller must ignore SIGPIPE (OpenSSL writes
 *  with write(2), not send(MSG_NOSIGNAL)); `keepon serve` does. */
kp_status_t kp_srv_run(kp_srv_t *s, volatile sig_atomic_t *stop);
/* ---- request guard (guard.c; pure) ---- */
/** Is the Host header value (name[:port], [v6]:port) in the comma list (case-insensitive, "*" any)? */
bool kp_srv_host_allowed(const char *list, kp_srv_slice_t host);
/** Does Origin ("scheme://host[:port]") name the same authority as the Host header? */
bool kp_srv_origin_same(kp_srv_slice_t origin, kp_srv_slice_t host);
/** "Bearer <token>" equal to @p token (SHA-256 of both compared in constant time). */
bool kp_srv_bearer_ok(const char *token, kp_srv_slice_t authorization);
/**
 * Check one request before its handler: Host allowed (421), then for writes: Origin same as Host
 * and no cross-site Sec-Fetch-Site (403), and unless @p flags has KP_SRV_OPEN_WRITE: the admin
 * token (401; 403 when none is configured) and a JSON Content-Type (415).
 * @return true to run the handler; false with @p resp holding the refusal.
 */
bool kp_srv_guard(const kp_srv_config_t *cfg, const kp_srv_req_t *req, unsigned flags, kp_srv_resp_t *resp);
/** Security headers sent on every response (CSP, nosniff, frame-ancestors, referrer). */
extern const char kp_srv_security_headers[];

/** Write a JSON error body {"error": msg} with @p status. */
void kp_srv_error(kp_srv_resp_t *resp, int status, const char *msg);

/* ---- collector (OONI protocol + keepon signed path + query + signals) ---- */
struct kp_store;
struct kp_fp_db;
typedef struct kp_collector kp_collector_t;
typedef struct kp_collector_config {
  size_t max_batch;          /* records per group commit (default 512; pipelined: 8192) */
  /* a second handle on the same store, used only by the collector's commit thread: set, batches
   * are committed while the next one gathers (pipelined group commit, commitq.c); NULL: the
   * loop commits each round itself. Borrowed; close it after kp_collector_free. */
  struct kp_store *commit_store;
  const char *trusted_keys;  /* file of pinned keepon key ids, one a line (NULL: any key) */
  /* where keepon's own routes (submit, batch, records, head, heads) live: NULL or "" =
   * "/api/v1/keepon"; e.g. "/v1" moves them there, and /api/v1/keepon/... then answers 404, so
   * neither the path on the wire nor an active probe of the server names keepon. "/" + at most
   * 100 of [A-Za-z0-9._~/-], no trailing '/' (KP_ERR_INVAL otherwise). */
  const char *keepon_prefix;
} kp_collector_config_t;
/** Mount the routes on @p srv; the collector borrows store and fingerprints. */
kp_status_t kp_collector_mount(kp_srv_t *srv, struct kp_store *store, const struct kp_fp_db *fp,
                               const kp_collector_config_t *cfg, kp_collector_t **out);
void kp_collector_free(kp_collector_t *c);

/* ---- OONI probe services (probe_services.c): what a stock OONI Probe calls first ---- */
typedef struct kp_ps kp_ps_t;
typedef struct kp_ps_config {
  const char *const *th;  /* web_connectivity test helper URLs to hand out */
  size_t nth;
  const char *public_url; /* this collector as probes reach it (GET /api/v1/collectors); NULL = none */
  const char *test_list;  /* file of "url[,category_code]" lines for check-in and test-list/urls */
} kp_ps_config_t;
/** Mount check-in, test-helpers, collectors, test-list/urls, register, login on @p srv. */
kp_status_t kp_ps_mount(kp_srv_t *srv, const kp_ps_config_t *cfg, kp_ps_t **out);
void kp_ps_free(kp_ps_t *ps);

/** Store and answer everything queued now (the server calls it; also call it before exit). */
void kp_collector_flush(void *collector);

#endif
