/*
 * lab.h: the C parts of the censorship lab (docs/lab.md): the on-path DNS injector that
 * `keepon lab censor dns_injected on` runs inside the censor namespace.
 *
 * The packet functions are pure (no I/O): they parse a captured IPv4/IPv6 UDP DNS query through
 * a bounded cursor and build the forged answer a GFW-style injector sends. The runner
 * (kp_lab_inject_run) does the I/O: it taps the censor's client-facing interface, answers target
 * queries at once with a forged response spoofed from the resolver, and re-sends the original
 * query (which the censor's firewall dropped) after a delay, so the client receives the forged
 * answer first and the true one later, both with the query's ID.
 */
#ifndef KP_LAB_LAB_H
#define KP_LAB_LAB_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/status.h"

#define KP_LAB_QNAME_MAX 254 /* dotted, without the trailing dot, plus NUL */
#define KP_LAB_PKT_MAX 1500

/* A parsed DNS query packet. Public so callers can keep it on the stack. */
typedef struct kp_lab_dnsq {
  int family;                   /* 4 or 6 */
  uint8_t src[16], dst[16];     /* network order; 4 bytes used for IPv4 */
  uint16_t sport, dport;        /* dport is 53 */
  uint16_t id, flags;           /* DNS header */
  uint16_t qtype, qclass;
  char qname[KP_LAB_QNAME_MAX]; /* lower case, dotted, no trailing dot ("" = root) */
  size_t q_off, q_len;          /* the question (name, type, class) inside the packet */
} kp_lab_dnsq_t;

/**
 * Parse one IP packet (no link header) as a standard DNS query over UDP to port 53 with one
 * question. Fragments, IPv6 extension headers, compressed or over-long names and responses are
 * rejected. @return KP_OK, KP_ERR_TRUNC or KP_ERR_INVAL/KP_ERR_UNSUPPORTED (not a query we handle)
 */
kp_status_t kp_lab_dns_parse_query(const uint8_t *pkt, size_t len, kp_lab_dnsq_t *q);

/**
 * Build the forged answer to @p q (parsed from @p pkt, @p len) as a full IP packet from the
 * queried server to the client, checksums filled: A queries get @p forge4, AAAA queries get
 * @p forge6 (TTL 300), other types an empty NOERROR answer.
 * @return KP_OK, KP_ERR_NOMEM when @p cap is too small, KP_ERR_INVAL if @p q does not fit @p pkt
 */
kp_status_t kp_lab_dns_forge(const kp_lab_dnsq_t *q, const uint8_t *pkt, size_t len,
                             const uint8_t forge4[4], const uint8_t forge6[16], uint8_t *out,
                             size_t cap, size_t *outlen);

/** True when @p pkt is an IPv4 or IPv6 UDP packet whose IP and UDP checksums verify. */
bool kp_lab_pkt_csum_ok(const uint8_t *pkt, size_t len);

/**
 * Recompute the IPv4 header and UDP checksums of an IPv4/IPv6 UDP packet in place. Needed before
 * re-sending a captured packet: on veths the sender leaves the UDP checksum to offload
 * (CHECKSUM_PARTIAL), so the captured field holds only the pseudo-header sum.
 * @return KP_OK, KP_ERR_INVAL if @p pkt is not a well-formed UDP packet
 */
kp_status_t kp_lab_pkt_fix_csum(uint8_t *pkt, size_t len);

/**
 * True when @p qname is one of @p names or a subdomain of one (ASCII case-insensitive, trailing
 * dot ignored), like the censor's string match on the name's wire form and dnsmasq's --address.
 */
bool kp_lab_name_in(const char *qname, const char *const *names, size_t n);

typedef struct kp_lab_inject_cfg {
  const char *iface;            /* the censor's client-facing interface, e.g. "cen-cl" */
  int delay_ms;                 /* how long the true query is held back (0..5000) */
  uint8_t forge4[4], forge6[16];
  const char *const *names;     /* target names; queries for other names are ignored */
  size_t nnames;
  const volatile sig_atomic_t *stop; /* run until *stop != 0 */
  const kp_clock_t *clock;
  void (*on_ready)(void *ctx);  /* called once the tap is open */
  void *ctx;
} kp_lab_inject_cfg_t;

/**
 * Run the injector until *cfg->stop. Needs CAP_NET_RAW. Held queries are released when it stops.
 * @return KP_OK on a requested stop, KP_ERR_IO / KP_ERR_INVAL / KP_ERR_PERM on setup failure
 */
kp_status_t kp_lab_inject_run(const kp_lab_inject_cfg_t *cfg);

#endif
