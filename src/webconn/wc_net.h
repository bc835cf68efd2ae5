/*
 * wc_net.h: webconn's internal interface to src/net (not part of webconn.h,
 * so that users of the pure layers do not depend on the network engine).
 * Shared by the test helper (th_*.c) and the probe (probe*.c).
 */
#ifndef KP_WEBCONN_WC_NET_H
#define KP_WEBCONN_WC_NET_H

#include "net/net.h"
#include "webconn/webconn.h"

typedef struct kp_wc_fetch_cfg {
  const kp_net_cfg_t *net;  /* borrowed */
  size_t body_cap;          /* bytes of body read per response (length is counted up to it) */
  size_t keep_cap;          /* bytes of body kept for title / fingerprints (0 = 64 KiB) */
  int max_redirects;        /* 10 as OONI */
  bool keep_partial;        /* keep a response whose body read failed after the head */
  bool keep_body;           /* copy the final body into the arena (fingerprints) */
  const kp_wc_dest_t *dest; /* the helper: every hop's addresses and the connected peer must pass
                               kp_wc_dest_refuse, else failure KP_WC_FAIL_DEST; NULL (the probe): none */
} kp_wc_fetch_cfg_t;

typedef struct kp_wc_fetch {
  const char *failure;      /* NULL: a final response (or a redirect without Location) */
  bool dns_failed, tls_failed;
  int status;
  int64_t body_length;
  bool body_truncated;
  const char *hdr_keys[KP_WC_MAX_HDRS];
  const char *hdr_values[KP_WC_MAX_HDRS];
  size_t nhdr;
  const char *title;
  const char *location;
  const char *final_url;
  const uint8_t *body;      /* keep_body only; body_kept bytes */
  size_t body_kept;
  char endpoint[KP_ADDR_STRLEN + 8];
  int hops;
} kp_wc_fetch_t;

/** GET @p url following redirects (see fetch.c). @p first_addrs: addresses for hop 0 (may be NULL). */
kp_status_t kp_wc_fetch(const kp_wc_fetch_cfg_t *cfg, const char *url, const kp_addrs_t *first_addrs,
                        kp_arena_t *a, kp_wc_fetch_t *out);
/** Connect to ip:port and, when @p sni, TLS-handshake. Failures "" on success. */
kp_status_t kp_wc_probe_endpoint(const kp_net_cfg_t *ncfg, const char *ip, int port, const char *sni,
                                 const char **tcp_failure, const char **tls_failure);
/** The request path (with query) of an http(s) URL ("/" when empty). */
kp_status_t kp_wc_url_path(const char *url, char *out, size_t cap);
/** Resolve a Location against @p base (absolute, //host, /path, relative). */
kp_status_t kp_wc_url_join(const char *base, const char *loc, char *out, size_t cap);

/** Call @p cb for each "Name: value" line of a raw response head (bounded: 128 lines). */
void kp_wc_head_scan(const uint8_t *p, size_t n, void (*cb)(void *, const char *, size_t, const char *, size_t),
                     void *ctx);
/**
 * True when the system's nameserver (/etc/resolv.conf) answers @p host with
 * NOERROR and no address: glibc reports that as EAI_NONAME, like NXDOMAIN.
 */
bool kp_wc_system_says_nodata(const kp_net_cfg_t *cfg, const char *host);
/** First value of header @p name in a raw response head (bounded scan). */
bool kp_wc_head_value(const uint8_t *head, size_t n, const char *name, char *out, size_t cap);

struct kp_httpc_opts;
/**
 * POST @p req to the helper at @p helper ("https://NAME[:PORT]/path" or http://) through
 * the control-plane client made from @p http_opts (NULL = defaults: system CAs, no proxy;
 * timeouts and body cap are set here) and return the 200 response body in @p body_out.
 * @p failure: NULL on success, else why the control failed (data, not error).
 * @return KP_ERR_INVAL for a helper URL we cannot use, KP_ERR_NOMEM
 */
kp_status_t kp_wc_th_query(const char *helper, const struct kp_httpc_opts *http_opts, const kp_wc_threq_t *req,
                           double timeout, kp_buf_t *body_out, const char **failure);

#endif
