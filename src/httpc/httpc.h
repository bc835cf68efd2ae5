/*
 * httpc.h: THE control-plane HTTP client (libcurl). Everything keepon sends that is not a
 * measurement goes through it: outbox upload, test-helper queries, `detect --server`,
 * webhooks, `verify --server`, OONI probe-services. Measurement HTTP stays in src/net
 * (it must record wire bytes and OONI events).
 *
 * One kp_httpc_t owns one libcurl easy handle and so one connection cache: consecutive
 * requests to the same origin reuse one kept-alive connection (and its TLS session), which is
 * what makes batched uploads fast. A client is NOT thread-safe; use one per thread.
 *
 * Defaults chosen for probes in danger (docs/transport.md):
 *  - certificates and host names are always verified (system store, or opts.ca_file);
 *    there is no switch to turn verification off;
 *  - the User-Agent is a common browser's (KP_HTTPC_DEFAULT_UA); nothing names keepon;
 *  - the proxy is only what opts.proxy says: "socks5h://HOST:PORT" (names resolved by the
 *    proxy: Tor), "socks5://", "http://HOST:PORT" (CONNECT); environment variables
 *    (http_proxy, ALL_PROXY, ...) are ignored so a run is reproducible;
 *  - only http:// and https:// URLs; redirects are not followed (a 3xx is a response);
 *  - no "Expect: 100-continue" round trip, no compression negotiated.
 *
 * Results: a request that got an HTTP response returns KP_OK whatever the status (the caller
 * decides what 4xx/5xx mean); one that did not returns an error status and sets resp->fail:
 *   KP_ERR_INVAL    bad URL / unsupported scheme        (KP_HTTPC_FAIL_URL)
 *   KP_ERR_TIMEOUT  connect or total timeout            (KP_HTTPC_FAIL_TIMEOUT)
 *   KP_ERR_RANGE    response body over the cap          (KP_HTTPC_FAIL_TOO_LARGE)
 *   KP_ERR_PERM     certificate / host name not valid   (KP_HTTPC_FAIL_CERT)
 *   KP_ERR_IO       DNS, refused, reset, TLS, proxy     (the other KP_HTTPC_FAIL_*)
 *   KP_ERR_NOMEM    allocation
 * Library code: never exits, never prints (debug logs through base/log.h, tag "httpc").
 */
#ifndef KP_HTTPC_HTTPC_H
#define KP_HTTPC_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "base/ua.h"

/* A current desktop browser's User-Agent (base/ua.h): what most HTTPS clients on a network send. */
#define KP_HTTPC_DEFAULT_UA KP_BROWSER_UA

typedef struct kp_httpc kp_httpc_t;

typedef struct kp_httpc_opts {
  const char *ca_file;            /* PEM CA bundle to trust instead of the system store; NULL = system */
  const char *proxy;              /* NULL/"" = direct; "socks5h://h:p", "socks5://h:p", "http://h:p" */
  int connect_timeout_ms;         /* TCP+TLS(+proxy) setup; 0 = 10000 */
  int timeout_ms;                 /* whole request incl. body; 0 = 30000 (a request may override) */
  const char *user_agent;         /* NULL = KP_HTTPC_DEFAULT_UA */
  const char *const *headers;     /* NULL-terminated "Name: value" lines sent on every request */
  const char *const *resolve;     /* NULL-terminated "host:port:addr" pins (curl --resolve): tests, or a
                                     collector whose name must not be looked up on this network */
  size_t max_body;                /* response body cap in bytes; 0 = 16 MiB */
} kp_httpc_opts_t;

/** Validates the options (proxy scheme, readable ca_file). KP_ERR_INVAL on bad options. */
kp_status_t kp_httpc_new(const kp_httpc_opts_t *opts, kp_httpc_t **out);
void kp_httpc_free(kp_httpc_t *c);

typedef struct kp_httpc_req {
  const char *method;             /* NULL = "GET" with no body, "POST" with one */
  const char *url;                /* absolute http:// or https:// URL, host by name or literal */
  const char *const *headers;     /* NULL-terminated extra "Name: value" lines for this request */
  const char *content_type;       /* with a body; NULL = "application/json" */
  const void *body;               /* NULL = no body */
  size_t body_len;
  int timeout_ms;                 /* 0 = the client's */
} kp_httpc_req_t;

typedef enum kp_httpc_fail {
  KP_HTTPC_FAIL_NONE = 0,         /* a response arrived */
  KP_HTTPC_FAIL_URL,              /* malformed URL or scheme other than http/https */
  KP_HTTPC_FAIL_DNS,              /* host (or proxy) name did not resolve */
  KP_HTTPC_FAIL_REFUSED,          /* TCP connect refused / unreachable */
  KP_HTTPC_FAIL_TIMEOUT,          /* connect or total timeout */
  KP_HTTPC_FAIL_RESET,            /* connection reset / closed before a full response */
  KP_HTTPC_FAIL_TLS,              /* TLS handshake failed (alert, protocol) */
  KP_HTTPC_FAIL_CERT,             /* certificate chain or host name not valid */
  KP_HTTPC_FAIL_PROXY,            /* the proxy refused or failed the tunnel */
  KP_HTTPC_FAIL_TOO_LARGE,        /* response body over max_body */
  KP_HTTPC_FAIL_OTHER,
} kp_httpc_fail_t;

typedef struct kp_httpc_resp {
  int status;                     /* final HTTP status, 0 when no response */
  kp_buf_t body;                  /* the response body (capped by opts.max_body) */
  kp_buf_t headers;               /* the final response's field lines, "Name: value\r\n" as received */
  kp_httpc_fail_t fail;           /* why there is no response */
  char error[256];                /* libcurl's sentence for a failure ("" otherwise) */
  bool reused;                    /* sent on an already open connection (keep-alive) */
  int64_t total_us;               /* request duration */
} kp_httpc_resp_t;

void kp_httpc_resp_init(kp_httpc_resp_t *r);
void kp_httpc_resp_free(kp_httpc_resp_t *r);

/**
 * Send one request and wait for the whole response (blocking, bounded by the timeouts).
 * @p resp must be initialised; it is reset first, so one resp can serve many requests.
 * @return KP_OK when a response arrived (any status) — see the table above otherwise.
 */
kp_status_t kp_httpc_do(kp_httpc_t *c, const kp_httpc_req_t *req, kp_httpc_resp_t *resp);

/** Shorthands: GET @p url / POST @p body (application/json unless @p ctype). */
kp_status_t kp_httpc_get(kp_httpc_t *c, const char *url, kp_httpc_resp_t *resp);
kp_status_t kp_httpc_post(kp_httpc_t *c, const char *url, const char *ctype, const void *body, size_t n,
                          kp_httpc_resp_t *resp);

/**
 * Value of response header @p name (case-insensitive, first occurrence, surrounding blanks
 * trimmed) copied into @p out as a C string. Pure over resp->headers.
 * @return true when present and it fitted in @p cap.
 */
bool kp_httpc_resp_header(const kp_httpc_resp_t *r, const char *name, char *out, size_t cap);

/** OONI-style failure string for a failure ("generic_timeout_error", "connection_refused",
 *  "connection_reset", "dns_lookup_error", "ssl_invalid_certificate", ...); NULL for NONE. */
const char *kp_httpc_fail_name(kp_httpc_fail_t f);

/**
 * Is a transport outcome worth retrying later? true for no response (except URL and
 * TOO_LARGE), for 408, 425, 429 and for 5xx; false for any other status.
 */
bool kp_httpc_retryable(kp_status_t st, const kp_httpc_resp_t *resp);

/* ---- retry backoff: exponential with "full jitter" (AWS architecture blog) ----
 * Attempt k (0-based) waits uniform[0, min(cap, base * 2^k)] ms, so many probes coming back
 * online at once spread out instead of hammering the collector together. */
typedef struct kp_backoff {
  int base_ms;                    /* 0 = 500 */
  int cap_ms;                     /* 0 = 60000 */
  uint32_t rng;                   /* xorshift32 state; 0 is replaced by a fixed odd seed */
} kp_backoff_t;

/** The wait before retry @p k (0-based); advances b->rng. Pure given the state. */
int kp_backoff_ms(kp_backoff_t *b, int k);

/** Is @p url https? (scheme compared case-insensitively) */
bool kp_httpc_is_https(const char *url);

#endif
