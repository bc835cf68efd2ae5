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
