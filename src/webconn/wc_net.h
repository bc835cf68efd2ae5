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
  size_t body_cap;          /* bytes of body kept per response */
  int max_redirects;        /* 10 as OONI */
  bool keep_partial;        /* keep a response whose body read failed after the head */
  bool keep_body;           /* copy the final body into the arena (fingerprints) */
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
  const uint8_t *body;      /* keep_body only; body_length bytes */
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

#endif
