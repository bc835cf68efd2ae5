/*
 * text.c: the fast number and address formatting behind `bgp dump`.
 * No locale, no printf: lookup tables and memcpy. Output matches bgpdump's
 * own formatters (inet_ntoa for IPv4; its fmt_ipv6, which compresses the
 * longest run of zero groups even when it is a single group).
 */
#include <string.h>

#include "bgp/bgp_impl.h"

static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

size_t kp_fmt_u32(char *p, uint32_t v) {
  char tmp[12];
  char *e = tmp + sizeof tmp, *q = e;
  while (v >= 100) {
    uint32_t r = v % 100;
    v /= 100;
    q -= 2;
    memcpy(q, digits2 + 2 * r, 2);
  }
  if (v >= 10) {
    q -= 2;
    memcpy(q, digits2 + 2 * v, 2);
  } else {
    *--q = (char)('0' + v);
  }
  size_t n = (size_t)(e - q);
  memcpy(p, q, n);
  return n;
}

/* "0".."255" with their lengths */
static struct {
  char s[3];
  uint8_t n;
} octets[256];
static int octets_ready;

static void octets_init(void) {
  for (int i = 0; i < 256; i++) {
    char b[4];
    size_t n = kp_fmt_u32(b, (uint32_t)i);
    memcpy(octets[i].s, b, n);
    octets[i].n = (uint8_t)n;
  }
  __atomic_store_n(&octets_ready, 1, __ATOMIC_RELEASE);
}

size_t kp_fmt_v4(char *p, const uint8_t a[4]) {
  if (!__atomic_load_n(&octets_ready, __ATOMIC_ACQUIRE)) octets_init();
  size_t n = 0;
  for (int i = 0; i < 4; i++) {
    memcpy(p + n, octets[a[i]].s, 3);
    n += octets[a[i]].n;
    p[n++] = '.';
  }
  return n - 1;
}

size_t kp_fmt_v6(char *p, const uint8_t a[16]) {
  static const char hex[] = "0123456789abcdef";
  bool first96 = true;
  for (int i = 0; i < 10; i++)
    if (a[i]) first96 = false;
  if (first96) {
    bool mapped = a[10] == 0xff && a[11] == 0xff;
    uint32_t last = (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 | a[15];
    bool compat = a[10] == 0 && a[11] == 0 && last > 1;
    if (mapped || compat) {
      size_t n = 0;
      memcpy(p, mapped ? "::ffff:" : "::", mapped ? 7 : 2);
      n = mapped ? 7 : 2;
      return n + kp_fmt_v4(p + n, a + 12);
    }
  }
  int zr[8];
  int run = 0;
  for (int i = 7; i >= 0; i--) {
    if (a[2 * i] == 0 && a[2 * i + 1] == 0) run++;
    else run = 0;
    zr[i] = run;
  }
  int k = -1, best = 0;
  for (int i = 0; i < 8; i++)
    if (zr[i] > best) best = zr[i], k = i;
  size_t n = 0;
  for (int i = 0; i < 8; i++) {
    if (i == k) {
      if (i == 0) p[n++] = ':';
      p[n++] = ':';
      i += best - 1;
      continue;
    }
    unsigned v = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    if (v >= 0x1000) p[n++] = hex[v >> 12];
    if (v >= 0x100) p[n++] = hex[(v >> 8) & 15];
    if (v >= 0x10) p[n++] = hex[(v >> 4) & 15];
    p[n++] = hex[v & 15];
    if (i != 7) p[n++] = ':';
  }
  return n;
}
