/*
 * webconn.h: Web Connectivity (OONI ts-017, v0.5 "classic" analysis) and the
 * Web Connectivity test-helper (TH) protocol.
 *
 * Three layers, each usable alone:
 *  1. Observations -> test keys (kp_wc_analyze): a pure function over what a
 *     probe saw (DNS lookups, one record per TCP endpoint with its TLS and HTTP
 *     results, the control answer). It reproduces OONI's minipipeline
 *     semantics: the "classic" keys (dns_consistency, blocking, accessible,
 *     http-diff metrics) from getaddrinfo-rooted observations with
 *     fetch_body=true, the x_* flags from every observation.
 *  2. Archival JSON <-> observations (kp_wc_obs_from_archival): reads the
 *     test_keys of an OONI web_connectivity measurement (queries, tcp_connect,
 *     tls_handshakes, requests, x_control_request, control).
 *  3. TH protocol: request parse/write, response parse/write (pure).
 *
 * Observation structs are transparent because probes and tests fill them;
 * every string they point to is borrowed (typically from an arena) and must
 * outlive the analysis call. Optional strings use NULL for "not measured";
 * a failure string of "" means success, as in OONI's optional.Some("").
 */
#ifndef KP_WEBCONN_WEBCONN_H
#define KP_WEBCONN_WEBCONN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/arena.h"
#include "base/json.h"
#include "base/status.h"

/* Caps that bound one measurement's observation set (bounded memory). */
#define KP_WC_MAX_DNS 64
#define KP_WC_MAX_EPS 128
#define KP_WC_MAX_ADDRS 32
#define KP_WC_MAX_HDRS 64
#define KP_WC_MAX_CTL_EPS 64
#define KP_WC_MAX_ASNS 64

/** One DNS lookup (A and AAAA of one lookup share txid, as in OONI). */
typedef struct kp_wc_dns {
  int64_t txid;          /* > 0 */
  int depth;             /* redirect depth, -1 when unknown */
  const char *engine;    /* "getaddrinfo", "udp", "doh", ... */
  const char *domain;
  const char *qtype;     /* "A", "AAAA", "ANY" */
  const char *failure;   /* NULL on success */
  const char *addrs[KP_WC_MAX_ADDRS];
  size_t naddrs;
} kp_wc_dns_t;

/** One TCP endpoint transaction: connect, then maybe TLS, then maybe HTTP. */
typedef struct kp_wc_ep {
  int64_t txid;          /* > 0, unique among endpoints and distinct from DNS txids */
  int depth;             /* -1 unknown */
  int fetch_body;        /* -1 unknown, 0 connectivity check, 1 web fetch */
  const char *ip;
  int port;
  const char *tcp_failure;  /* "" ok */
  const char *tls_failure;  /* NULL: no TLS attempted */
  const char *tls_sni;
  const char *http_failure; /* NULL: no HTTP round trip */
  const char *http_url;
  int64_t status;
  int64_t body_length;
  bool body_truncated;
  const char *hdr_keys[KP_WC_MAX_HDRS];
  size_t nhdr;
  const char *title;     /* "" when none */
  const char *location;  /* NULL when none */
} kp_wc_ep_t;

typedef struct kp_wc_ctl_tcp {
  const char *endpoint;  /* "ip:port" / "[v6]:port" */
  const char *failure;   /* "" ok */
} kp_wc_ctl_tcp_t;

typedef struct kp_wc_ctl_tls {
  const char *endpoint;
  const char *server_name;
  const char *failure;   /* "" ok */
} kp_wc_ctl_tls_t;

/** The TH answer (and the URL the probe asked about). */
typedef struct kp_wc_ctl {
  bool present;
  const char *url;        /* x_control_request.http_request */
  const char *dns_failure;/* "" ok */
  const char *dns_addrs[KP_WC_MAX_ADDRS];
  size_t ndns;
  kp_wc_ctl_tcp_t tcp[KP_WC_MAX_CTL_EPS];
  size_t ntcp;
  kp_wc_ctl_tls_t tls[KP_WC_MAX_CTL_EPS];
  size_t ntls;
  const char *http_failure; /* "" ok */
  int64_t status;
  int64_t body_length;
  const char *hdr_keys[KP_WC_MAX_HDRS];
  const char *hdr_values[KP_WC_MAX_HDRS]; /* may be NULL (analysis needs names only) */
  size_t nhdr;
  const char *title;
  int64_t ip_asn[KP_WC_MAX_ADDRS];         /* TH writer only: ASN of dns_addrs[i] (0 unknown) */
} kp_wc_ctl_t;

typedef struct kp_wc_ipasn {
  const char *ip;
  int64_t asn;
} kp_wc_ipasn_t;

/** Everything one measurement observed. */
typedef struct kp_wc_obs {
  kp_wc_dns_t dns[KP_WC_MAX_DNS];
  size_t ndns;
  kp_wc_ep_t eps[KP_WC_MAX_EPS];
  size_t neps;
  kp_wc_ctl_t ctl;
  kp_wc_ipasn_t asns[KP_WC_MAX_ASNS]; /* known ASNs; absent = unknown */
  size_t nasns;
} kp_wc_obs_t;

typedef struct kp_wc_opts {
  /* Treat 198.18.0.0/15 and 2001:db8::/32 as routable (the netns lab uses
   * them; OONI counts them as bogons). Off by default. */
  bool lab;
} kp_wc_opts_t;

/* Tri-state values of the test keys. */
typedef enum { KP_WC_NULL = 0, KP_WC_FALSE, KP_WC_TRUE } kp_wc_tri_t;

typedef enum {
  KP_WC_BLOCK_NULL = 0,
  KP_WC_BLOCK_FALSE,
  KP_WC_BLOCK_DNS,
  KP_WC_BLOCK_TCP_IP,
  KP_WC_BLOCK_HTTP_FAILURE,
  KP_WC_BLOCK_HTTP_DIFF,
} kp_wc_blocking_t;

/* x_blocking_flags, x_dns_flags, x_null_null_flags bits (OONI values). */
#define KP_WC_BF_DNS 1
#define KP_WC_BF_TCPIP 2
#define KP_WC_BF_TLS 4
#define KP_WC_BF_HTTP_FAILURE 8
#define KP_WC_BF_HTTP_DIFF 16
#define KP_WC_BF_SUCCESS 32
#define KP_WC_DF_BOGON 1
#define KP_WC_DF_UNEXPECTED_FAILURE 2
#define KP_WC_DF_UNEXPECTED_ADDRS 4
#define KP_WC_NN_DNS 1
#define KP_WC_NN_TCP 2
#define KP_WC_NN_TLS 4
#define KP_WC_NN_HTTPS_NO_TH 8
#define KP_WC_NN_GHOST_DNS 16

/** The v0.5 analysis keys. Strings point into the observations (or are static). */
typedef struct kp_wc_keys {
  const char *dns_experiment_failure;  /* NULL = null */
  const char *http_experiment_failure; /* NULL = null */
  const char *dns_consistency;         /* "consistent" | "inconsistent" | NULL */
  bool has_body_proportion;
  double body_proportion;              /* 0 when absent, as OONI writes it */
  kp_wc_tri_t body_length_match, status_code_match, headers_match, title_match;
  kp_wc_blocking_t blocking;
  kp_wc_tri_t accessible;
  int64_t x_blocking_flags, x_dns_flags, x_null_null_flags;
} kp_wc_keys_t;

/**
 * Run OONI's v0.5 classic analysis over @p obs.
 * @return KP_OK, KP_ERR_NOMEM (internal cap), KP_ERR_INVAL (NULL args)
 */
kp_status_t kp_wc_analyze(const kp_wc_obs_t *obs, const kp_wc_opts_t *opts, kp_wc_keys_t *out);

/** "dns", "tcp_ip", "http-failure", "http-diff" or NULL (for null/false). */
const char *kp_wc_blocking_str(kp_wc_blocking_t b);

/** Write the analysis keys as members of the current JSON object. */
void kp_wc_keys_write(kp_jw_t *w, const kp_wc_keys_t *k);

/** The <title> of an HTML body as OONI extracts it (case-insensitive, <= 512 chars, no '<'). */
size_t kp_wc_title(const uint8_t *body, size_t n, char *out, size_t cap);

/**
 * Fill @p out from the test_keys object of an OONI web_connectivity
 * measurement (queries, tcp_connect, tls_handshakes, requests,
 * x_control_request, control). Strings are borrowed from @p tk's document or
 * copied into @p a. Entries beyond the caps are dropped (KP_ERR_RANGE is not
 * returned for that; the analysis is then over a prefix).
 */
kp_status_t kp_wc_obs_from_archival(const kp_json_t *tk, kp_arena_t *a, kp_wc_obs_t *out);

/** Read a TH response object (the `control` key) into @p ctl. */
kp_status_t kp_wc_ctl_from_json(const kp_json_t *control, const char *url, kp_arena_t *a,
                                kp_wc_ctl_t *ctl);

/* ---- TH protocol ---- */

#define KP_WC_TH_MAX_BODY ((size_t)16 << 20) /* request bodies above are rejected */
#define KP_WC_TH_MAX_ENDPOINTS 64
#define KP_WC_TH_MAX_HEADERS 32

typedef struct kp_wc_threq {
  const char *url;                       /* http_request */
  const char *hdr_names[KP_WC_TH_MAX_HEADERS];
  const char *hdr_values[KP_WC_TH_MAX_HEADERS]; /* first value of each */
  size_t nhdr;
  const char *endpoints[KP_WC_TH_MAX_ENDPOINTS]; /* tcp_connect, validated ip:port */
  size_t nendpoints;
  bool quic;                              /* x_quic_enabled */
} kp_wc_threq_t;

/**
 * Parse a TH request body (untrusted). Endpoints that are not literal
 * "ip:port" are dropped; the URL must be http(s) with a host.
 * @return KP_OK, KP_ERR_INVAL, KP_ERR_RANGE (too large), KP_ERR_NOMEM
 */
kp_status_t kp_wc_threq_parse(const void *body, size_t n, kp_arena_t *a, kp_wc_threq_t *out);

/** Serialize a TH request (what a probe POSTs). */
void kp_wc_threq_write(kp_jw_t *w, const kp_wc_threq_t *req);

/** ip_info flags (OONI). */
#define KP_WC_IPINFO_PROBE 1
#define KP_WC_IPINFO_TH 2
#define KP_WC_IPINFO_BOGON 4
#define KP_WC_IPINFO_VALID 8

/** ASN of @p ip (0 unknown), e.g. from src/geo. */
typedef int64_t (*kp_wc_asn_fn)(void *ctx, const char *ip);
/**
 * Serialize a TH response from @p ctl: dns, tcp_connect, tls_handshake,
 * quic_handshake, http_request, http3_request, ip_info. @p probe_addrs are
 * the addresses the probe sent (for ip_info flags). ip_info.<ip>.asn: from
 * @p asn_of for every address (probe's and TH's), as oohelperd's geoipx
 * lookup; with @p asn_of NULL, ctl->ip_asn for the TH's addresses, else 0.
 */
void kp_wc_thresp_write(kp_jw_t *w, const kp_wc_ctl_t *ctl, const char *const *probe_addrs,
                        size_t nprobe, const kp_wc_opts_t *opts, kp_wc_asn_fn asn_of, void *asn_ctx);

/* ---- the helper's destination rule (SSRF defence; docs/security.md) ----
 *
 * Every address the helper would connect to (TCP step, each HTTP hop after
 * resolution, and the peer actually connected) goes through
 * kp_wc_dest_refuse, in this order:
 *   1. local scope (loopback, 0.0.0.0/8, ::, link-local incl. 169.254.169.254,
 *      multicast, broadcast; also embedded in IPv6)     -> refused, always
 *   2. one of the helper's own addresses (interfaces, listener) -> refused
 *   3. inside an --allow-net prefix (test-only, never default) -> allowed
 *   4. kp_addr_is_public                                -> allowed, else refused
 * Ports are not restricted (as oohelperd): the address decides.
 */
#define KP_WC_FAIL_DEST "dns_bogon_error" /* what oohelperd's bogon-refusing resolver reports */
#define KP_WC_DEST_MAX_ALLOW 8
#define KP_WC_DEST_MAX_OWN 256
typedef struct kp_wc_dest {
  kp_prefix_t allow[KP_WC_DEST_MAX_ALLOW]; /* --allow-net: reserved ranges a lab uses */
  size_t nallow;
  kp_addr_t own[KP_WC_DEST_MAX_OWN];       /* the helper's own addresses */
  size_t nown;
  bool own_full;                           /* more own addresses than fit: refuse everything */
} kp_wc_dest_t;

/** NULL when the helper may connect to @p a, else KP_WC_FAIL_DEST. @p d NULL = no exemptions. */
const char *kp_wc_dest_refuse(const kp_wc_dest_t *d, const kp_addr_t *a);
/**
 * Add the comma-separated prefixes of @p list to d->allow. A prefix touching
 * local scope (0.0.0.0/8, loopback, link-local, multicast, ::, ::1) is refused.
 * @return KP_OK, KP_ERR_INVAL (bad or refused prefix), KP_ERR_RANGE (too many)
 */
kp_status_t kp_wc_dest_allow_parse(const char *list, kp_wc_dest_t *d);
/** Add @p a to d->own (deduplicated; past the cap own_full is set and every address is refused). */
void kp_wc_dest_add_own(kp_wc_dest_t *d, const kp_addr_t *a);

/**
 * The TH's measurement plan for @p req: the union of the probe's addresses
 * and @p th_addrs, minus those kp_wc_dest_refuse refuses, each on the URL's
 * port (explicit port, else 443 for https, else 80 and 443).
 * @param[out] eps   "ip:port" strings allocated in @p a
 */
kp_status_t kp_wc_th_plan(const kp_wc_threq_t *req, const char *const *th_addrs, size_t nth,
                          const kp_wc_dest_t *dest, kp_arena_t *a, const char **eps,
                          size_t cap, size_t *neps);

/* ---- the test helper (network side; see th_measure.c, th_server.c) ---- */

struct kp_geo;
typedef struct kp_wc_th_cfg {
  kp_wc_opts_t opts;        /* opts.lab: ip_info's bogon flag treats the lab ranges as routable */
  kp_wc_dest_t dest;        /* allow list and fixed own addresses (the listener); each request
                               adds the host's interface addresses (getifaddrs) to a copy */
  const struct kp_geo *geo; /* ip_info.asn lookups (NULL: every asn is 0) */
  const char *ca_file;      /* NULL = system store */
  double step_timeout;      /* per DNS / connect / TLS / HTTP step, seconds (0 = 10) */
  double total_timeout;     /* whole measurement (0 = 30) */
  size_t body_cap;          /* fetched body bytes kept (0 = 16 MiB) */
  size_t max_inflight;      /* requests measured at once; more get 503 (0 = 50) */
  size_t max_per_client;    /* of those, per client address (IPv6: per /64) (0 = max_inflight / 5) */
  size_t max_conns;         /* open connections (kp_srv's cap) (0 = 4096) */
  size_t max_request;       /* request body cap; more get 413 (0 = 16 MiB) */
} kp_wc_th_cfg_t;

/** Measure @p req from this vantage (DNS, TCP/TLS to the plan, GET with redirects). */
kp_status_t kp_wc_th_measure(const kp_wc_th_cfg_t *cfg, const kp_wc_threq_t *req, kp_arena_t *a,
                             kp_wc_ctl_t *out);

/**
 * One TH request body -> response body and HTTP status (200, or 400 for a
 * malformed request, 413 too large, 500 internal). Never fails the process.
 */
void kp_wc_th_handle(const kp_wc_th_cfg_t *cfg, const void *body, size_t n, kp_buf_t *out,
                     int *http_status);

typedef struct kp_wc_th_server kp_wc_th_server_t;
/** Listen on "ADDR:PORT" / "[v6]:PORT" (port 0 = ephemeral), on kp_srv (see th_server.c). */
kp_status_t kp_wc_th_server_new(const kp_wc_th_cfg_t *cfg, const char *listen, kp_wc_th_server_t **out);
uint16_t kp_wc_th_server_port(const kp_wc_th_server_t *s);
/** Serve until *stop != 0 (checked at least every 200 ms); then waits for requests in flight. */
kp_status_t kp_wc_th_server_run(kp_wc_th_server_t *s, volatile sig_atomic_t *stop);
void kp_wc_th_server_free(kp_wc_th_server_t *s);
/** The per-client cap's key for a peer: IPv4 (also ::ffff:-mapped) by address, IPv6 by /64. */
kp_addr_t kp_wc_th_client_key(const kp_addr_t *peer);

/** True when @p ip is a bogon, honouring opts->lab. Non-addresses are not bogons. */
bool kp_wc_is_bogon(const char *ip, const kp_wc_opts_t *opts);

/** Split an http(s) URL: scheme ("http"/"https"), host (no brackets), port (0 if absent). */
kp_status_t kp_wc_url_split(const char *url, char *scheme, size_t scap, char *host, size_t hcap,
                            int *port);

/* ---- the probe: `keepon probe web` ---- */

struct kp_fp_db;
struct kp_httpc_opts;
typedef struct kp_wc_probe_cfg {
  const char *resolver;        /* the one DNS-over-UDP resolver: "ip" or "ip:port" */
  const char *ca_file;         /* NULL = system store */
  const char *helper;          /* "https://NAME[:PORT]/" or http:// (NULL: no control) */
  const struct kp_httpc_opts *helper_http; /* control-plane client options (proxy, CA); NULL = defaults */
  double step_timeout;         /* DNS / TCP / TLS / HTTP step, seconds */
  double url_timeout;          /* whole measurement of one URL */
  double control_timeout;      /* the control request (0 = 30) */
  double dns_window;           /* keep late/duplicate UDP answers this long (0 = 0.5 s, as OONI) */
  const char *emulate_gai_failure; /* QA only: record any getaddrinfo failure as this string
                                      (emulates Android's EAI_NODATA wrapper); NULL normally */
  kp_wc_opts_t opts;
  const char *probe_cc, *probe_asn, *probe_network_name, *probe_ip, *software_version;
  const char *resolver_seen, *resolver_asn; /* whoami lookup (src/locate); NULL = configured / AS0 */
  const char *access_type;     /* test_keys.keepon_access_type: "mobile" / "fixed", NULL = unknown (not written) */
  const struct kp_fp_db *fp;   /* fingerprints (NULL: none confirm) */
} kp_wc_probe_cfg_t;

typedef struct kp_wc_summary {
  kp_wc_keys_t keys;           /* failure strings cleared (they died with the run) */
  const char *technique;       /* keepon technique key or NULL */
  bool confirmed;              /* a fingerprint matched (OONI fastpath rule) */
  char fingerprint[64];
  bool control_failed;
} kp_wc_summary_t;

/** Measure one URL; appends one measurement (compact JSON, no newline) to @p line. */
kp_status_t kp_wc_probe_url(const kp_wc_probe_cfg_t *cfg, const char *url, kp_buf_t *line, kp_wc_summary_t *sum);


/* ---- OONI QA scenarios (shared/data/ooni/qa/scenarios.json format) ---- */

/**
 * Rebuild observations from a scenario's `measured.detail` (OONI's own run).
 * @param[out] control_failure the run's control_failure (borrowed), may be NULL
 */
kp_status_t kp_wc_qa_replay_obs(const kp_json_t *scenario, kp_arena_t *a, kp_wc_obs_t *o,
                                const char **control_failure);

/**
 * Compare @p k with `expect_effective` on the v0.5 compared fields.
 * @return true when all match; else @p msg = "FIELD expected X got Y".
 */
bool kp_wc_qa_compare(const kp_json_t *scenario, const kp_wc_keys_t *k,
                      const char *control_failure, char *msg, size_t cap);

/**
 * Read the analysis keys back from a measurement's test_keys (our own or
 * OONI's). Strings are borrowed from @p tk. @p control_failure may be NULL.
 */
kp_status_t kp_wc_keys_from_json(const kp_json_t *tk, kp_wc_keys_t *k, const char **control_failure);

#endif
