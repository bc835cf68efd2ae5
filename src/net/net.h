/*
 * net.h: keepon's network measurement engine (the one header of src/net/).
 *
 * Three layers:
 *  1. Pure parsers over untrusted bytes (kp_cur_t, no I/O): DNS wire format,
 *     TLS records, HTTP/1.1 responses. Fuzzed (fuzz/fuzz_{dns,tls,http}.c).
 *  2. A trace (kp_trace_t): a thread-safe, capped collector of OONI archival
 *     events (df-002 queries, df-005 tcp_connect, df-006 tls_handshakes,
 *     df-001 requests, df-008 network_events), timed in seconds since the
 *     measurement started, each with a transaction_id. It is both the typed
 *     evidence the analysis reads and what the JSON writer emits.
 *  3. Steps (URL-getter style) on a context: resolve over UDP / through the
 *     system, connect, TLS handshake, HTTP round trip. A step that fails
 *     (timeout, reset, NXDOMAIN) records the OONI df-007 failure string and
 *     still returns KP_OK: failures are data. Every blocking wait is bounded
 *     by the step timeout AND the context's global deadline.
 * Plus a bounded worker pool to run independent flows concurrently.
 * Callers must ignore SIGPIPE (OpenSSL writes to sockets with write(2)).
 */
#ifndef KP_NET_NET_H
#define KP_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/status.h"
#include "base/ua.h" /* KP_BROWSER_UA */

/* ------------------------------------------------------------------ failures */
/* df-007 failure strings (the ones keepon emits). */
#define KP_FAIL_REFUSED "connection_refused"
#define KP_FAIL_RESET "connection_reset"
#define KP_FAIL_TIMEOUT "generic_timeout_error"
#define KP_FAIL_HOST_UNREACH "host_unreachable"
#define KP_FAIL_NET_UNREACH "network_unreachable"
#define KP_FAIL_NXDOMAIN "dns_nxdomain_error"
#define KP_FAIL_DNS_NODATA "dns_no_answer"
#define KP_FAIL_DNS_REFUSED "dns_refused_error"
#define KP_FAIL_DNS_SERVFAIL "dns_server_misbehaving"
#define KP_FAIL_EOF "eof_error"
#define KP_FAIL_SSL_AUTHORITY "ssl_unknown_authority"
#define KP_FAIL_SSL_HOSTNAME "ssl_invalid_hostname"
#define KP_FAIL_SSL_CERT "ssl_invalid_certificate"
#define KP_FAIL_SSL_GENERIC "ssl_failed_handshake"
#define KP_FAIL_HTTP_BAD "http_invalid_response"

/** errno -> df-007 string ("unknown_failure: <strerror>" in @p scratch for the rest). */
const char *kp_net_failure_errno(int err, char *scratch, size_t cap);
/** True for the failure strings that name a certificate problem (ssl_invalid_*, ssl_unknown_*). */
bool kp_net_failure_is_cert(const char *failure);

/* ---------------------------------------------------------------- DNS wire */
enum { KP_DNS_A = 1, KP_DNS_CNAME = 5, KP_DNS_PTR = 12, KP_DNS_AAAA = 28 };
enum { KP_DNS_NOERROR = 0, KP_DNS_SERVFAIL = 2, KP_DNS_NXDOMAIN = 3, KP_DNS_REFUSED = 5 };
#define KP_DNS_NAME_MAX 255
#define KP_DNS_MAX_ANSWERS 32

typedef struct kp_dns_rr { /* one parsed answer record; transparent */
  uint16_t type;           /* KP_DNS_A / AAAA / CNAME / PTR (others are skipped) */
  uint32_t ttl;
  kp_addr_t addr;          /* A / AAAA */
  char target[KP_DNS_NAME_MAX + 1]; /* CNAME / PTR target, dotted */
} kp_dns_rr_t;

typedef struct kp_dns_msg { /* a parsed response; transparent, embed it */
  uint16_t id;
  uint16_t flags;
  uint8_t rcode;
  uint16_t qtype;
  char qname[KP_DNS_NAME_MAX + 1]; /* dotted, lower case, no trailing dot */
  size_t nanswers;
  kp_dns_rr_t an[KP_DNS_MAX_ANSWERS];
} kp_dns_msg_t;

/** Build a recursive query for @p name (dotted) into out[cap]. */
kp_status_t kp_dns_build_query(const char *name, uint16_t qtype, uint16_t id, uint8_t *out, size_t cap,
                               size_t *len);
/**
 * Parse a DNS response (pure). Names may be compressed; pointers must point
 * strictly backwards (so no loop is possible) and names are capped at 255.
 * @return KP_OK, KP_ERR_TRUNC, KP_ERR_INVAL (not a response / malformed)
 */
kp_status_t kp_dns_parse(const uint8_t *p, size_t n, kp_dns_msg_t *out);
/** Case-insensitive name equality, ignoring one trailing dot. */
bool kp_dns_name_eq(const char *a, const char *b);

/* -------------------------------------------------------------- TLS records */
typedef struct kp_tls_info { /* what a run of TLS records shows; transparent */
  size_t nrecords;
  uint8_t first_type;      /* 20 ccs, 21 alert, 22 handshake, 23 data */
  uint16_t record_version;
  bool client_hello;
  char sni[KP_DNS_NAME_MAX + 1]; /* from a ClientHello's server_name */
  bool server_hello;
  uint16_t version;        /* ServerHello legacy_version or supported_versions */
  uint16_t cipher;
  bool alert;
  uint8_t alert_level, alert_desc;
} kp_tls_info_t;

/**
 * Parse TLS records (pure): record headers, the first handshake message of a
 * record (ClientHello SNI, ServerHello version and cipher) and alerts.
 * Stops at the first incomplete record (KP_ERR_TRUNC if none was complete).
 */
kp_status_t kp_tls_parse(const uint8_t *p, size_t n, kp_tls_info_t *out);

/* ---------------------------------------------------------- HTTP response */
#define KP_HTTP_MAX_HEADERS 64
typedef struct kp_http_hdr { /* offsets into the parsed buffer */
  size_t name_off, name_len, value_off, value_len;
} kp_http_hdr_t;

typedef struct kp_http_resp { /* transparent */
  int minor;               /* HTTP/1.<minor> */
  int status;
  size_t reason_off, reason_len;
  size_t nheaders;
  kp_http_hdr_t h[KP_HTTP_MAX_HEADERS];
  size_t head_len;         /* bytes of status line + headers + CRLF */
  bool chunked;
  int64_t content_length;  /* -1 when absent */
  bool body_truncated;     /* body_cap was hit */
  size_t wire_len;         /* bytes of the message consumed so far */
} kp_http_resp_t;

/**
 * Parse an HTTP/1.x response from p[0..n) (pure). The de-chunked body,
 * capped at @p body_cap bytes, is appended to @p body (reset first).
 * @param eof  the peer closed: a body without length ends here
 * @return KP_OK complete (or cap reached: body_truncated), KP_ERR_TRUNC need
 *         more bytes, KP_ERR_INVAL malformed
 */
kp_status_t kp_http_parse(const uint8_t *p, size_t n, bool eof, size_t body_cap, kp_http_resp_t *r,
                          kp_buf_t *body);
/** Header value by case-insensitive name (first match) as pointer+len into p, or NULL. */
const char *kp_http_header(const kp_http_resp_t *r, const uint8_t *p, const char *name, size_t *len);

/* -------------------------------------------------------------------- trace */
#define KP_TRACE_MAX_ANSWERS 16
#define KP_TRACE_MAX_CERTS 8
#define KP_TRACE_EVENTS_PER_CONN 64 /* as OONI's NetworkEventBufferSize */

typedef struct kp_q { /* one DNS lookup (df-002); transparent, read-only */
  int txid;
  const char *engine;      /* "udp" or "getaddrinfo" */
  char hostname[KP_DNS_NAME_MAX + 1];
  const char *qtype;       /* "A", "AAAA", "ANY" */
  char resolver[KP_ADDR_STRLEN + 8];
  const char *failure;     /* static string or NULL */
  int rcode;               /* -1 when not applicable */
  size_t nanswers;
  kp_addr_t ans[KP_TRACE_MAX_ANSWERS];
  uint32_t ttl[KP_TRACE_MAX_ANSWERS];
  double t0, t;
  bool late;               /* a duplicate/late UDP answer (x_dns_duplicate_responses) */
} kp_q_t;

typedef struct kp_tcp { /* df-005 */
  int txid;
  kp_addr_t ip;
  uint16_t port;
  const char *failure;
  double t0, t;
} kp_tcp_t;

typedef struct kp_tlsobs { /* df-006 */
  int txid;
  char address[KP_ADDR_STRLEN + 8];
  char server_name[KP_DNS_NAME_MAX + 1];
  const char *failure;
  char cipher[64];
  char version[16];
  char alpn[16];
  long verify_result;      /* X509_V_OK (0) or the error; -1 not reached */
  kp_tls_info_t server;    /* what the first bytes from the server were (kp_tls_parse) */
  size_t server_bytes;     /* bytes captured from the server during the handshake (<= 4096) */
  bool server_not_tls;     /* the server (or a middlebox) answered with bytes that are not TLS */
  size_t ncerts;
  uint8_t *cert[KP_TRACE_MAX_CERTS]; /* DER, owned by the trace */
  size_t cert_len[KP_TRACE_MAX_CERTS];
  double t0, t;
} kp_tlsobs_t;

typedef struct kp_httpobs { /* df-001 */
  int txid;
  const char *method;
  char url[512];
  char host[KP_DNS_NAME_MAX + 1];
  const char *failure;
  int status;              /* 0 when no response */
  kp_buf_t head;           /* raw response head (status line + headers) */
  kp_buf_t body;           /* capped body */
  bool body_truncated;
  uint64_t bytes_received; /* on the wire */
  double t0, t;
  double t_first_byte;     /* 0 when none */
} kp_httpobs_t;

typedef struct kp_nev { /* df-008 */
  int txid;
  const char *operation;   /* connect, read, write, tls_handshake_start, tls_handshake_done */
  char address[KP_ADDR_STRLEN + 8];
  const char *failure;
  int64_t num_bytes;
  double t;
} kp_nev_t;

typedef struct kp_trace kp_trace_t;

/** A trace whose t=0 is "now" on @p clk (borrowed; must outlive the trace). */
kp_status_t kp_trace_new(const kp_clock_t *clk, kp_trace_t **out);
void kp_trace_free(kp_trace_t *t);
/** Seconds since the trace started. */
double kp_trace_now(const kp_trace_t *t);
int kp_trace_txid(kp_trace_t *t);
/* Record (copies; thread-safe). Over the caps, records are counted, not kept. */
void kp_trace_add_query(kp_trace_t *t, const kp_q_t *q);
void kp_trace_add_tcp(kp_trace_t *t, const kp_tcp_t *c);
void kp_trace_add_tls(kp_trace_t *t, kp_tlsobs_t *h);   /* takes the certs */
void kp_trace_add_http(kp_trace_t *t, kp_httpobs_t *r); /* takes the buffers */
void kp_trace_add_event(kp_trace_t *t, const kp_nev_t *e);
/* Read-only views (call after the workers are done). */
size_t kp_trace_queries(const kp_trace_t *t, const kp_q_t **out);
size_t kp_trace_tcps(const kp_trace_t *t, const kp_tcp_t **out);
size_t kp_trace_tlss(const kp_trace_t *t, const kp_tlsobs_t **out);
size_t kp_trace_https(const kp_trace_t *t, const kp_httpobs_t **out);
/**
 * Write the OONI event lists as members of the open object @p w:
 * queries, x_dns_duplicate_responses, tcp_connect, tls_handshakes, requests,
 * network_events. Transaction ids are kept so lists can be joined.
 */
void kp_trace_write(const kp_trace_t *t, kp_jw_t *w);

/* -------------------------------------------------------------------- steps */
/* A common browser's User-Agent (the one OONI's probe sends): nothing on the wire names keepon.
 * One string for measurements and control-plane requests alike (base/ua.h owns it). */
#define KP_NET_USER_AGENT KP_BROWSER_UA

typedef struct kp_net_cfg { /* caller-owned configuration; transparent */
  kp_addr_t resolver;      /* DNS-over-UDP server */
  uint16_t resolver_port;  /* 0 = 53 */
  const char *ca_file;     /* NULL = system store */
  const char *extra_roots_pem; /* PEM roots trusted IN ADDITION to ca_file/the store (Signal's), or NULL */
  const char *user_agent;  /* HTTP User-Agent; NULL = KP_NET_USER_AGENT */
  double dns_timeout, connect_timeout, tls_timeout, http_timeout; /* seconds */
  double dns_window;       /* keep collecting UDP answers this long after the first */
  int64_t deadline_ns;     /* global deadline on the context's clock (0 = none) */
  size_t body_cap;         /* HTTP body bytes kept (0 = 1 MiB) */
} kp_net_cfg_t;

typedef struct kp_net kp_net_t;

/** A step context; @p cfg, @p clk and @p trace are borrowed. Builds the TLS context once. */
kp_status_t kp_net_new(const kp_net_cfg_t *cfg, const kp_clock_t *clk, kp_trace_t *trace, kp_net_t **out);
void kp_net_free(kp_net_t *n);

/** Addresses a lookup produced (deduplicated, order kept). */
typedef struct kp_addrs {
  size_t n;
  kp_addr_t a[KP_TRACE_MAX_ANSWERS];
} kp_addrs_t;
void kp_addrs_add(kp_addrs_t *s, const kp_addr_t *a);

/**
 * Resolve A and AAAA over UDP (one socket, both queries), keeping late and
 * duplicate answers for cfg->dns_window after the first. Each answer message
 * is recorded; @p out gets the FIRST answer of each query type, @p late
 * (optional) the addresses of every later answer.
 * @p failure: NULL if any address came back, else the first query's failure.
 */
kp_status_t kp_net_resolve_udp(kp_net_t *n, const char *host, kp_addrs_t *out, kp_addrs_t *late,
                               const char **failure);
/** getaddrinfo (run on a helper thread so the deadline holds). */
kp_status_t kp_net_resolve_system(kp_net_t *n, const char *host, kp_addrs_t *out, const char **failure);

/** A connected stream, optionally wrapped in TLS. Opaque. */
typedef struct kp_conn kp_conn_t;
/**
 * Connect to every address in @p addrs on @p port at once (nonblocking),
 * recording each attempt; keep the first that succeeds (in order of @p addrs
 * among those that succeeded), close the others.
 * @param[out] conn NULL when none connected; @p failure the first failure.
 */
kp_status_t kp_net_connect(kp_net_t *n, const kp_addrs_t *addrs, uint16_t port, kp_conn_t **conn,
                           const char **failure);
/**
 * Verify a peer chain (DER, leaf first) for @p host against the context's trust
 * (ca_file or the system store, plus extra_roots_pem) as of @p at (Unix
 * seconds; 0 = now): the same store and failure mapping the handshake uses.
 * @p failure: NULL when it verifies, else ssl_unknown_authority /
 * ssl_invalid_hostname / ssl_invalid_certificate. @p code: OpenSSL's (optional).
 */
kp_status_t kp_net_verify_chain(kp_net_t *n, const uint8_t *const *der, const size_t *len, size_t ncerts,
                                const char *host, int64_t at, const char **failure, long *code);
/** TLS handshake with SNI @p sni and ALPN http/1.1; a certificate that does not verify is a failure. */
kp_status_t kp_net_tls(kp_net_t *n, kp_conn_t *c, const char *sni, const char **failure);
typedef struct kp_http_req {
  const char *method;      /* "GET" / "POST" */
  const char *url;         /* for the record */
  const char *host;        /* Host header */
  const char *path;
  size_t body_cap;         /* bytes of body to read (0 = cfg->body_cap) */
  size_t keep_cap;         /* bytes of body kept in the record (0 = 64 KiB) */
  double max_seconds;      /* stop reading after this long (0 = http_timeout) */
} kp_http_req_t;
/**
 * One HTTP/1.1 round trip on @p c (Connection: close). Records a request
 * event. @p obs_out (optional) receives status, bytes and timing.
 */
typedef struct kp_http_result {
  int status;
  uint64_t bytes;          /* body bytes received */
  uint64_t wire_bytes;     /* bytes read from the connection (head + body, after TLS) */
  double seconds;          /* request written .. last byte */
  bool complete;
  const char *failure;
  size_t head_len;         /* first bytes of the body, for blockpage patterns */
  char head[1024];
} kp_http_result_t;
kp_status_t kp_net_http(kp_net_t *n, kp_conn_t *c, const kp_http_req_t *req, kp_http_result_t *res);
/**
 * A raw exchange on @p c (cleartext or TLS; for echo servers, Hyperquack): write req[0..len),
 * then read into got[0..cap) until @p want bytes came, the peer closed, or @p seconds passed.
 * Records the write and each read as network events. @p have: bytes read.
 * @p failure: NULL (want reached or the peer closed) or the df-007 failure (connection_reset,
 * generic_timeout_error, ...).
 */
kp_status_t kp_net_exchange(kp_net_t *n, kp_conn_t *c, const void *req, size_t len, void *got, size_t cap, size_t want,
                            double seconds, size_t *have, const char **failure);
void kp_conn_close(kp_conn_t *c);
/** Remote address of a connection as "ip:port" / "[ip]:port" into out[KP_ADDR_STRLEN + 8]. */
const char *kp_conn_peer(const kp_conn_t *c, char *out);

/* ------------------------------------------------------ many UDP lookups at once */
/*
 * kp_dnsq_t: asynchronous A+AAAA lookups over one unconnected UDP socket per family, many
 * outstanding at once (for `keepon remote dns`: thousands of resolvers). Each lookup records
 * its wire events into its own trace exactly as kp_net_resolve_udp does (one df-002 entry per
 * answer message, later answers marked late, unanswered queries as timeouts), so the two are
 * interchangeable for the analysis. A datagram counts for a query only when its source address
 * and port are the resolver's, its id is the query's and its question (qname, qtype) is the
 * query's; anything else is dropped unrecorded, as a connected socket would. The caller drives
 * it: kp_dnsq_step polls at most max_wait_ms and fires due timers on the injectable clock.
 */
typedef struct kp_dnsq kp_dnsq_t;
typedef struct kp_dnsq_cfg { /* caller-owned; transparent */
  double timeout;          /* per try, seconds (0 = 3) */
  unsigned retries;        /* extra tries of queries still unanswered at a try's end */
  double window;           /* keep listening this long after each query's first answer (0 = 1) */
  /* a retry may be sent only when admit() returns 0; else it waits the returned ns (NULL = always) */
  int64_t (*admit)(void *ctx, const kp_addr_t *resolver, void *tag);
  void *admit_ctx;
  /* a lookup is over: @p failure as kp_net_resolve_udp's; the trace is the caller's again */
  void (*done)(void *ctx, void *tag, const kp_addrs_t *out, const kp_addrs_t *late, const char *failure);
  void *done_ctx;
  /* optional: every matched answer message (first and late), before it is recorded (ctx = done_ctx) */
  void (*answer)(void *ctx, void *tag, const kp_dns_msg_t *m, bool late);
} kp_dnsq_cfg_t;
kp_status_t kp_dnsq_new(const kp_dnsq_cfg_t *cfg, const kp_clock_t *clk, kp_dnsq_t **out);
/** Frees without calling done for lookups still outstanding. */
void kp_dnsq_free(kp_dnsq_t *q);
/** Send A and AAAA for @p name to @p resolver:@p port (0 = 53) now; @p trace is borrowed until done. */
kp_status_t kp_dnsq_submit(kp_dnsq_t *q, const kp_addr_t *resolver, uint16_t port, const char *name,
                           kp_trace_t *trace, void *tag);
/** The same with one query of @p qtype (KP_DNS_A, KP_DNS_AAAA, KP_DNS_PTR) instead of A + AAAA. */
kp_status_t kp_dnsq_submit_one(kp_dnsq_t *q, const kp_addr_t *resolver, uint16_t port, const char *name,
                               uint16_t qtype, kp_trace_t *trace, void *tag);
/** Read what arrived (waiting at most @p max_wait_ms, less when a timer is due first), fire due timers. */
kp_status_t kp_dnsq_step(kp_dnsq_t *q, int max_wait_ms);
size_t kp_dnsq_inflight(const kp_dnsq_t *q);
/** Datagrams dropped because they matched no outstanding query (wrong source, id or question). */
uint64_t kp_dnsq_unmatched(const kp_dnsq_t *q);

/* --------------------------------------------------------------------- pool */
/** Run fn(arg[i]) for i < n on at most @p bound threads; returns when all are done. */
kp_status_t kp_net_run_pool(size_t n, size_t bound, void (*fn)(void *arg, size_t i), void *arg);

#endif
