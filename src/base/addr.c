#include "base/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kp_status_t kp_addr_parse(const char *s, kp_addr_t *out) {
  memset(out, 0, sizeof *out);
  if (inet_pton(AF_INET, s, out->b) == 1) {
    out->family = 4;
    return KP_OK;
  }
  if (inet_pton(AF_INET6, s, out->b) == 1) {
    out->family = 6;
    return KP_OK;
  }
  return KP_ERR_INVAL;
}

const char *kp_addr_fmt(const kp_addr_t *a, char *out) {
  if (a->family == 4) inet_ntop(AF_INET, a->b, out, KP_ADDR_STRLEN);
  else if (a->family == 6) inet_ntop(AF_INET6, a->b, out, KP_ADDR_STRLEN);
  else snprintf(out, KP_ADDR_STRLEN, "?");
  return out;
}

bool kp_addr_eq(const kp_addr_t *a, const kp_addr_t *b) {
  if (a->family != b->family) return false;
  return memcmp(a->b, b->b, a->family == 4 ? 4 : 16) == 0;
}

kp_addr_t kp_addr_v4(uint32_t h) {
  kp_addr_t a = {.family = 4};
  a.b[0] = (uint8_t)(h >> 24);
  a.b[1] = (uint8_t)(h >> 16);
  a.b[2] = (uint8_t)(h >> 8);
  a.b[3] = (uint8_t)h;
  return a;
}

uint32_t kp_addr_v4_u32(const kp_addr_t *a) {
  return ((uint32_t)a->b[0] << 24) | ((uint32_t)a->b[1] << 16) | ((uint32_t)a->b[2] << 8) | a->b[3];
}

static void clear_host_bits(kp_addr_t *a, unsigned len) {
  unsigned total = a->family == 4 ? 32 : 128;
  for (unsigned bit = len; bit < total; bit++) a->b[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
}

kp_status_t kp_prefix_parse(const char *s, kp_prefix_t *out) {
  char tmp[64];
  const char *slash = strchr(s, '/');
  size_t n = slash ? (size_t)(slash - s) : strlen(s);
  if (n >= sizeof tmp) return KP_ERR_INVAL;
  memcpy(tmp, s, n);
  tmp[n] = 0;
  kp_status_t st = kp_addr_parse(tmp, &out->addr);
  if (st != KP_OK) return st;
  unsigned max = out->addr.family == 4 ? 32 : 128;
  unsigned len = max;
  if (slash) {
    char *end;
    unsigned long v = strtoul(slash + 1, &end, 10);
    if (end == slash + 1 || *end || v > max) return KP_ERR_INVAL;
    len = (unsigned)v;
  }
  out->len = (uint8_t)len;
  clear_host_bits(&out->addr, len);
  return KP_OK;
}

const char *kp_prefix_fmt(const kp_prefix_t *p, char *out) {
  char a[KP_ADDR_STRLEN];
  snprintf(out, KP_ADDR_STRLEN + 4, "%s/%u", kp_addr_fmt(&p->addr, a), p->len);
  return out;
}

bool kp_prefix_contains(const kp_prefix_t *p, const kp_addr_t *a) {
  if (p->addr.family != a->family) return false;
  for (unsigned bit = 0; bit < p->len; bit++) {
    uint8_t m = (uint8_t)(0x80u >> (bit % 8));
    if ((p->addr.b[bit / 8] & m) != (a->b[bit / 8] & m)) return false;
  }
  return true;
}

bool kp_addr_is_bogon(const kp_addr_t *a) {
  static const char *const v4[] = {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
                                   "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
                                   "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
                                   "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
                                   "255.255.255.255/32"};
  static const char *const v6[] = {"::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "100::/64",
                                   "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8"};
  const char *const *list = a->family == 4 ? v4 : v6;
  size_t n = a->family == 4 ? sizeof v4 / sizeof *v4 : sizeof v6 / sizeof *v6;
  for (size_t i = 0; i < n; i++) {
    kp_prefix_t p;
    if (kp_prefix_parse(list[i], &p) == KP_OK && kp_prefix_contains(&p, a)) return true;
  }
  return false;
}

kp_status_t kp_hostport_parse(const char *s, char *host, size_t host_cap, uint16_t *port) {
  const char *colon;
  const char *hs = s;
  size_t hl;
  if (*s == '[') {
    const char *rb = strchr(s, ']');
    if (!rb || rb[1] != ':') return KP_ERR_INVAL;
    hs = s + 1;
    hl = (size_t)(rb - hs);
    colon = rb + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon) return KP_ERR_INVAL;
    hl = (size_t)(colon - s);
    if (memchr(s, ':', hl)) return KP_ERR_INVAL; /* bare IPv6 needs brackets */
  }
  if (hl == 0 || hl >= host_cap) return KP_ERR_INVAL;
  char *end;
  unsigned long p = strtoul(colon + 1, &end, 10);
  if (end == colon + 1 || *end || p > 65535) return KP_ERR_INVAL;
  memcpy(host, hs, hl);
  host[hl] = 0;
  *port = (uint16_t)p;
  return KP_OK;
}

unsigned kp_addr_sockaddr(const kp_addr_t *a, uint16_t port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (a->family == 4) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    memcpy(&s4->sin_addr, a->b, 4);
    return sizeof *s4;
  }
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
  s6->sin6_family = AF_INET6;
  s6->sin6_port = htons(port);
  memcpy(&s6->sin6_addr, a->b, 16);
  return sizeof *s6;
}

/*
 * The "may a server of ours connect here" rule (kp_addr_is_public). One place,
 * so the test helper's TCP step, its HTTP fetch and every redirect hop agree.
 *
 *   IPv4:  public  <=>  not an OONI bogon (kp_addr_is_bogon's v4 list).
 *   IPv6:  public  <=>  not an OONI bogon, not ::/96 (IPv4-compatible),
 *                       not fec0::/10 (site-local), not 64:ff9b:1::/48
 *                       (local-use NAT64, RFC 8215), and every IPv4 address
 *                       it embeds is public:
 *                         ::ffff:a.b.c.d      mapped          (bits 96..127)
 *                         64:ff9b::a.b.c.d    NAT64 RFC 6052  (bits 96..127)
 *                         2002:AABB:CCDD::    6to4            (bits 16..47)
 *                         2001:0:S:S::~C      Teredo server S (bits 32..63),
 *                                             client ~C       (bits 96..127)
 * Mapped, NAT64 and Teredo are bogons as a whole already; decoding them too
 * keeps the rule right if that list is ever narrowed to OONI's exact one.
 */
static kp_addr_t v4_at(const uint8_t *b, bool invert) {
  kp_addr_t v = {.family = 4};
  for (int i = 0; i < 4; i++) v.b[i] = invert ? (uint8_t)~b[i] : b[i];
  return v;
}

size_t kp_addr_embedded_v4(const kp_addr_t *a, kp_addr_t out[2]) {
  if (a->family != 6) return 0;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  static const uint8_t compat[12] = {0};
  const uint8_t *b = a->b;
  if (!memcmp(b, mapped, 12) || !memcmp(b, nat64, 12) || !memcmp(b, compat, 12)) {
    out[0] = v4_at(b + 12, false);
    return 1;
  }
  if (b[0] == 0x20 && b[1] == 0x02) { /* 6to4 */
    out[0] = v4_at(b + 2, false);
    return 1;
  }
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) { /* Teredo */
    out[0] = v4_at(b + 4, false);
    out[1] = v4_at(b + 12, true);
    return 2;
  }
  return 0;
}

bool kp_addr_is_public(const kp_addr_t *a) {
  if (a->family != 4 && a->family != 6) return false;
  if (kp_addr_is_bogon(a)) return false;
  if (a->family == 6) {
    static const char *const extra[] = {"::/96", "fec0::/10", "64:ff9b:1::/48"};
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
      kp_prefix_t p;
      if (kp_prefix_parse(extra[i], &p) == KP_OK && kp_prefix_contains(&p, a)) return false;
    }
    kp_addr_t v4[2];
    size_t n = kp_addr_embedded_v4(a, v4);
    for (size_t i = 0; i < n; i++)
      if (kp_addr_is_bogon(&v4[i])) return false;
  }
  return true;
}

bool kp_addr_is_local_scope(const kp_addr_t *a) {
  /* loopback, unspecified/"this network", link-local (incl. 169.254.169.254), multicast,
   * broadcast: never a measurement target, whatever an allow list says */
  static const char *const v4[] = {"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4",
                                   "255.255.255.255/32"};
  static const char *const v6[] = {"::/128", "::1/128", "fe80::/10", "ff00::/8"};
  kp_addr_t e[3];
  size_t n = 0;
  if (a->family == 4) e[n++] = *a;
  else if (a->family == 6) {
    e[n++] = *a;
    n += kp_addr_embedded_v4(a, e + 1);
  } else {
    return true;
  }
  for (size_t k = 0; k < n; k++) {
    const char *const *list = e[k].family == 4 ? v4 : v6;
    size_t m = e[k].family == 4 ? sizeof v4 / sizeof *v4 : sizeof v6 / sizeof *v6;
    for (size_t i = 0; i < m; i++) {
      kp_prefix_t p;
      if (kp_prefix_parse(list[i], &p) == KP_OK && kp_prefix_contains(&p, &e[k])) return true;
    }
  }
  return false;
}
