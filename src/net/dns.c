/*
 * dns.c: DNS wire format (RFC 1035, RFC 3596), pure functions.
 *
 * Invariants: every byte is read through kp_cur_t; a decoded name never
 * exceeds 255 characters; a compression pointer must point strictly before
 * the label that holds it, so following pointers always moves backwards and
 * a loop is impossible (the hop counter is a second guard).
 */
#include <ctype.h>
#include <string.h>

#include "base/cursor.h"
#include "net/net.h"

kp_status_t kp_dns_build_query(const char *name, uint16_t qtype, uint16_t id, uint8_t *out, size_t cap,
                               size_t *len) {
  size_t nl = strlen(name);
  if (nl > 0 && name[nl - 1] == '.') nl--;
  if (nl == 0 || nl > 253) return KP_ERR_INVAL;
  size_t need = 12 + nl + 2 + 4;
  if (cap < need) return KP_ERR_NOMEM;
  uint8_t *p = out;
  *p++ = (uint8_t)(id >> 8);
  *p++ = (uint8_t)id;
  *p++ = 0x01; /* RD */
  *p++ = 0x00;
  *p++ = 0; *p++ = 1; /* QDCOUNT */
  memset(p, 0, 6);
  p += 6;
  size_t i = 0;
  while (i < nl) {
    size_t j = i;
    while (j < nl && name[j] != '.') j++;
    size_t l = j - i;
    if (l == 0 || l > 63) return KP_ERR_INVAL;
    *p++ = (uint8_t)l;
    memcpy(p, name + i, l);
    p += l;
    i = j + 1;
  }
  *p++ = 0;
  *p++ = (uint8_t)(qtype >> 8);
  *p++ = (uint8_t)qtype;
  *p++ = 0;
  *p++ = 1; /* IN */
  *len = (size_t)(p - out);
  return KP_OK;
}

/* Read a possibly compressed name at the cursor into out[256]; advances past it. */
static kp_status_t read_name(kp_cur_t *c, char *out) {
  size_t olen = 0, pos = c->off, hops = 0;
  bool jumped = false;
  size_t after = 0;
  for (;;) {
    kp_cur_t at = kp_cur_make(c->p, c->len);
    at.off = pos;
    uint8_t l;
    if (!kp_cur_u8(&at, &l)) return KP_ERR_TRUNC;
    if ((l & 0xC0) == 0xC0) {
      uint8_t lo;
      if (!kp_cur_u8(&at, &lo)) return KP_ERR_TRUNC;
      size_t target = ((size_t)(l & 0x3F) << 8) | lo;
      if (target >= pos || ++hops > 64) return KP_ERR_INVAL; /* forward or self pointer: loop risk */
      if (!jumped) after = at.off;
      jumped = true;
      pos = target;
      continue;
    }
    if (l & 0xC0) return KP_ERR_INVAL; /* 0x40/0x80: extended labels, unsupported */
    if (l == 0) {
      if (!jumped) after = at.off;
      break;
    }
    const uint8_t *lab;
    if (!kp_cur_borrow(&at, &lab, l)) return KP_ERR_TRUNC;
    if (olen + (olen ? 1 : 0) + l > KP_DNS_NAME_MAX) return KP_ERR_INVAL;
    if (olen) out[olen++] = '.';
    for (size_t i = 0; i < l; i++) out[olen++] = (char)tolower(lab[i]);
    pos = at.off;
  }
  out[olen] = 0;
  c->off = after;
  return KP_OK;
}

kp_status_t kp_dns_parse(const uint8_t *p, size_t n, kp_dns_msg_t *m) {
  memset(m, 0, sizeof *m);
  kp_cur_t c = kp_cur_make(p, n);
  uint16_t qd, an, ns, ar;
  if (!kp_cur_be16(&c, &m->id) || !kp_cur_be16(&c, &m->flags) || !kp_cur_be16(&c, &qd) ||
      !kp_cur_be16(&c, &an) || !kp_cur_be16(&c, &ns) || !kp_cur_be16(&c, &ar))
    return KP_ERR_TRUNC;
  (void)ns;
  (void)ar;
  if (!(m->flags & 0x8000)) return KP_ERR_INVAL; /* QR must be set */
  m->rcode = (uint8_t)(m->flags & 0x0F);
  if (qd > 1) return KP_ERR_INVAL;
  if (qd == 1) {
    kp_status_t st = read_name(&c, m->qname);
    if (st != KP_OK) return st;
    uint16_t qclass;
    if (!kp_cur_be16(&c, &m->qtype) || !kp_cur_be16(&c, &qclass)) return KP_ERR_TRUNC;
  }
  for (uint16_t i = 0; i < an; i++) {
    char owner[KP_DNS_NAME_MAX + 1];
    kp_status_t st = read_name(&c, owner);
    if (st != KP_OK) return st;
    uint16_t type, klass, rdlen;
    uint32_t ttl;
    if (!kp_cur_be16(&c, &type) || !kp_cur_be16(&c, &klass) || !kp_cur_be32(&c, &ttl) ||
        !kp_cur_be16(&c, &rdlen))
      return KP_ERR_TRUNC;
    size_t rd_start = c.off;
    kp_cur_t rd;
    if (!kp_cur_sub(&c, rdlen, &rd)) return KP_ERR_TRUNC;
    if (m->nanswers >= KP_DNS_MAX_ANSWERS) continue;
    kp_dns_rr_t *rr = &m->an[m->nanswers];
    memset(rr, 0, sizeof *rr);
    rr->type = type;
    rr->ttl = ttl;
    if (type == KP_DNS_A) {
      if (rdlen != 4) return KP_ERR_INVAL;
      rr->addr.family = 4;
      kp_cur_bytes(&rd, rr->addr.b, 4);
    } else if (type == KP_DNS_AAAA) {
      if (rdlen != 16) return KP_ERR_INVAL;
      rr->addr.family = 6;
      kp_cur_bytes(&rd, rr->addr.b, 16);
    } else if (type == KP_DNS_CNAME || type == KP_DNS_PTR) {
      /* the target may point back into the whole message: parse with the full cursor */
      kp_cur_t full = kp_cur_make(p, rd_start + rdlen);
      full.off = rd_start;
      st = read_name(&full, rr->target);
      if (st != KP_OK) return st == KP_ERR_TRUNC ? KP_ERR_INVAL : st;
    } else {
      continue;
    }
    m->nanswers++;
  }
  return KP_OK;
}

bool kp_dns_name_eq(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la && a[la - 1] == '.') la--;
  if (lb && b[lb - 1] == '.') lb--;
  if (la != lb) return false;
  for (size_t i = 0; i < la; i++)
    if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return false;
  return true;
}
