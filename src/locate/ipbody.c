/*
 * ipbody.c: the address in an IP-lookup service's answer (pure). Accepted shapes, tried in
 * this order: a Cloudflare cdn-cgi/trace "key=value" line "ip=ADDR"; an Ubuntu geoip XML
 * "<Ip>ADDR</Ip>"; a whole body that is one address with surrounding blanks. Anything else,
 * or an address that does not parse, is KP_ERR_NOTFOUND.
 */
#include <string.h>

#include "base/cursor.h"
#include "locate/locate.h"

static bool blank(uint8_t ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

/* Parse [s, s+n) as an address, blanks trimmed. */
static kp_status_t addr_of(const uint8_t *s, size_t n, kp_addr_t *out) {
  while (n && blank(*s)) s++, n--;
  while (n && blank(s[n - 1])) n--;
  char tmp[KP_ADDR_STRLEN];
  if (n == 0 || n >= sizeof tmp) return KP_ERR_NOTFOUND; /* length checked before the copy */
  memcpy(tmp, s, n);
  tmp[n] = 0;
  if (memchr(tmp, 0, n)) return KP_ERR_NOTFOUND;
  return kp_addr_parse(tmp, out) == KP_OK ? KP_OK : KP_ERR_NOTFOUND;
}

/* Offset of needle in the cursor's rest, or SIZE_MAX. */
static size_t find(const kp_cur_t *c, const char *needle) {
  size_t nl = strlen(needle), left = kp_cur_left(c);
  const uint8_t *p = kp_cur_ptr(c);
  for (size_t i = 0; nl <= left && i <= left - nl; i++)
    if (memcmp(p + i, needle, nl) == 0) return i;
  return SIZE_MAX;
}

kp_status_t kp_locate_parse_ip_body(const uint8_t *p, size_t n, kp_addr_t *out) {
  if (!out || (!p && n)) return KP_ERR_INVAL;
  if (!p) return KP_ERR_NOTFOUND;
  /* 1. trace lines */
  kp_cur_t c = kp_cur_make(p, n);
  const uint8_t *line;
  size_t ll;
  while (kp_cur_line(&c, &line, &ll)) {
    if (ll >= 3 && memcmp(line, "ip=", 3) == 0) return addr_of(line + 3, ll - 3, out);
  }
  /* 2. <Ip>...</Ip> */
  c = kp_cur_make(p, n);
  size_t at = find(&c, "<Ip>");
  if (at != SIZE_MAX && kp_cur_skip(&c, at + 4)) {
    size_t end = find(&c, "</Ip>");
    if (end != SIZE_MAX) return addr_of(kp_cur_ptr(&c), end, out);
    return KP_ERR_NOTFOUND;
  }
  /* 3. a bare address */
  return addr_of(p, n, out);
}
