/*
 * addr.h: IPv4/IPv6 addresses and prefixes, parsed and formatted without I/O.
 */
#ifndef KP_BASE_ADDR_H
#define KP_BASE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

#define KP_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

typedef struct kp_addr {
  uint8_t family;   /* 4 or 6; 0 = unset */
  uint8_t b[16];    /* network order; IPv4 uses b[0..3] */
} kp_addr_t;

typedef struct kp_prefix {
  kp_addr_t addr;   /* host bits are zero */
  uint8_t len;
} kp_prefix_t;

kp_status_t kp_addr_parse(const char *s, kp_addr_t *out);
/** Formats into out[KP_ADDR_STRLEN]; returns out. */
const char *kp_addr_fmt(const kp_addr_t *a, char *out);
bool kp_addr_eq(const kp_addr_t *a, const kp_addr_t *b);
kp_addr_t kp_addr_v4(uint32_t host_order);
uint32_t kp_addr_v4_u32(const kp_addr_t *a); /* host order */
/** "a.b.c.d/len" or "x::/len"; host bits are cleared. */
kp_status_t kp_prefix_parse(const char *s, kp_prefix_t *out);
const char *kp_prefix_fmt(const kp_prefix_t *p, char *out /* [KP_ADDR_STRLEN + 4] */);
bool kp_prefix_contains(const kp_prefix_t *p, const kp_addr_t *a);
/** Bogon per OONI (private, loopback, link-local, CGN, multicast, reserved...). */
bool kp_addr_is_bogon(const kp_addr_t *a);
/**
 * Public unicast: not an OONI bogon, and (IPv6) no IPv4-compatible, site-local or
 * local-use NAT64 address, nor one embedding a bogon IPv4 (mapped, NAT64, 6to4,
 * Teredo). The destination rule of the test helper (see webconn's kp_wc_dest_refuse).
 */
bool kp_addr_is_public(const kp_addr_t *a);
/** Loopback, unspecified, link-local, multicast or broadcast, also when embedded in IPv6. */
bool kp_addr_is_local_scope(const kp_addr_t *a);
/** The IPv4 addresses an IPv6 address embeds (mapped, compatible, NAT64, 6to4: 1; Teredo: 2). */
size_t kp_addr_embedded_v4(const kp_addr_t *a, kp_addr_t out[2]);
struct sockaddr_storage;
/** Fill @p ss with @p a and @p port; @return the sockaddr length to pass to bind/connect. */
unsigned kp_addr_sockaddr(const kp_addr_t *a, uint16_t port, struct sockaddr_storage *ss);
/** Parse "host:port", "[v6]:port" or "v4:port". */
kp_status_t kp_hostport_parse(const char *s, char *host, size_t host_cap, uint16_t *port);

#endif
