/*
 * labdns.c: pure packet functions of the lab's DNS injector (see lab.h).
 *
 * Parsing goes through one bounded cursor over the captured bytes: the IP header's total
 * length bounds the UDP sub-cursor, UDP's length bounds the DNS sub-cursor, so no read can pass
 * the packet even when length fields lie. Forging writes through a bounded writer (w_*) that
 * fails once instead of overrunning `cap`.
 */
#include <string.h>

#include "base/cursor.h"
#include "lab/lab.h"

#define IPPROTO_UDP_ 17
#define DNS_PORT 53

/* ---- parsing ------------------------------------------------------------------------------- */

static kp_status_t parse_ip(kp_cur_t *c, kp_lab_dnsq_t *q, kp_cur_t *l4) {
  uint8_t vb;
  if (!kp_cur_peek(c, &vb)) return KP_ERR_TRUNC;
  if ((vb >> 4) == 4) {
    uint8_t vihl, tos, ttl, proto;
    uint16_t tot, ident, frag, csum;
    if (!kp_cur_u8(c, &vihl) || !kp_cur_u8(c, &tos) || !kp_cur_be16(c, &tot) || !kp_cur_be16(c, &ident) ||
        !kp_cur_be16(c, &frag) || !kp_cur_u8(c, &ttl) || !kp_cur_u8(c, &proto) || !kp_cur_be16(c, &csum) ||
        !kp_cur_bytes(c, q->src, 4) || !kp_cur_bytes(c, q->dst, 4))
      return KP_ERR_TRUNC;
    size_t ihl = (size_t)(vihl & 0x0f) * 4;
    if (ihl < 20 || tot < ihl) return KP_ERR_INVAL;
    if (tot > c->len) return KP_ERR_TRUNC;
    if ((frag & 0x3fff) != 0) return KP_ERR_UNSUPPORTED; /* a fragment (MF or offset) */
    if (proto != IPPROTO_UDP_) return KP_ERR_UNSUPPORTED;
    if (!kp_cur_skip(c, ihl - 20)) return KP_ERR_TRUNC;
    if (!kp_cur_sub(c, (size_t)tot - ihl, l4)) return KP_ERR_TRUNC;
    q->family = 4;
    return KP_OK;
  }
  if ((vb >> 4) == 6) {
    uint32_t vtcfl;
    uint16_t plen;
    uint8_t nh, hops;
    if (!kp_cur_be32(c, &vtcfl) || !kp_cur_be16(c, &plen) || !kp_cur_u8(c, &nh) || !kp_cur_u8(c, &hops) ||
        !kp_cur_bytes(c, q->src, 16) || !kp_cur_bytes(c, q->dst, 16))
      return KP_ERR_TRUNC;
    if (nh != IPPROTO_UDP_) return KP_ERR_UNSUPPORTED; /* extension headers are not followed */
    if (!kp_cur_sub(c, plen, l4)) return KP_ERR_TRUNC;
    q->family = 6;
    return KP_OK;
  }
  return KP_ERR_INVAL;
}

/* The question name: uncompressed labels, lower-cased into q->qname. */
static kp_status_t parse_qname(kp_cur_t *c, kp_lab_dnsq_t *q) {
  size_t n = 0;
  for (;;) {
    uint8_t l;
    if (!kp_cur_u8(c, &l)) return KP_ERR_TRUNC;
    if (l == 0) break;
    if (l > 63) return KP_ERR_UNSUPPORTED; /* a pointer (0xc0) or a reserved label type */
    const uint8_t *lab;
    if (!kp_cur_borrow(c, &lab, l)) return KP_ERR_TRUNC;
    if (n + (n ? 1u : 0u) + l >= sizeof q->qname) return KP_ERR_RANGE;
    if (n) q->qname[n++] = '.';
    for (uint8_t i = 0; i < l; i++) {
      uint8_t ch = lab[i];
      if (ch == '.' || ch == 0) return KP_ERR_INVAL; /* would make the dotted form ambiguous */
      q->qname[n++] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
    }
  }
  q->qname[n] = 0;
  return KP_OK;
}

kp_status_t kp_lab_dns_parse_query(const uint8_t *pkt, size_t len, kp_lab_dnsq_t *q) {
  if (!pkt || !q) return KP_ERR_INVAL;
  memset(q, 0, sizeof *q);
  kp_cur_t c = kp_cur_make(pkt, len), l4, dns;
  kp_status_t st = parse_ip(&c, q, &l4);
  if (st != KP_OK) return st;
  uint16_t ulen, csum;
  if (!kp_cur_be16(&l4, &q->sport) || !kp_cur_be16(&l4, &q->dport) || !kp_cur_be16(&l4, &ulen) ||
      !kp_cur_be16(&l4, &csum))
    return KP_ERR_TRUNC;
  if (q->dport != DNS_PORT) return KP_ERR_UNSUPPORTED;
  if (ulen < 8) return KP_ERR_INVAL;
  if (!kp_cur_sub(&l4, (size_t)ulen - 8, &dns)) return KP_ERR_TRUNC;
  uint16_t qd, an, ns, ar;
  if (!kp_cur_be16(&dns, &q->id) || !kp_cur_be16(&dns, &q->flags) || !kp_cur_be16(&dns, &qd) ||
      !kp_cur_be16(&dns, &an) || !kp_cur_be16(&dns, &ns) || !kp_cur_be16(&dns, &ar))
    return KP_ERR_TRUNC;
  if (q->flags & 0x8000) return KP_ERR_UNSUPPORTED;          /* a response */
  if (((q->flags >> 11) & 0xf) != 0) return KP_ERR_UNSUPPORTED; /* not a standard QUERY */
  if (qd != 1) return KP_ERR_UNSUPPORTED;
  /* absolute offset of the question inside pkt: dns.p points into pkt */
  q->q_off = (size_t)(kp_cur_ptr(&dns) - pkt);
  size_t start = kp_cur_tag(&dns);
  st = parse_qname(&dns, q);
  if (st != KP_OK) return st;
  if (!kp_cur_be16(&dns, &q->qtype) || !kp_cur_be16(&dns, &q->qclass)) return KP_ERR_TRUNC;
  q->q_len = kp_cur_tag(&dns) - start;
  return KP_OK;
}

bool kp_lab_name_in(const char *qname, const char *const *names, size_t n) {
  if (!qname) return false;
  size_t ql = strlen(qname);
  for (size_t i = 0; i < n; i++) {
    const char *s = names[i];
    if (!s) continue;
    size_t sl = strlen(s);
    if (sl && s[sl - 1] == '.') sl--;
    if (sl == 0 || sl > ql) continue;
    /* the name itself or a subdomain: the tail matches and starts at a label boundary */
    size_t off = ql - sl;
    if (off && qname[off - 1] != '.') continue;
    size_t k = 0;
    for (; k < sl; k++) {
      char a = qname[off + k], b = s[k];
      if (b >= 'A' && b <= 'Z') b = (char)(b + 32);
      if (a != b) break;
    }
    if (k == sl) return true;
  }
  return false;
}

/* ---- checksums ----------------------------------------------------------------------------- */

static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += (uint32_t)p[i] << 8 | p[i + 1];
  if (n & 1) acc += (uint32_t)p[n - 1] << 8;
  return acc;
}
static uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}
/* UDP checksum over the pseudo header (addresses of alen bytes each) and the datagram */
static uint16_t udp_csum(const uint8_t *src, const uint8_t *dst, size_t alen, const uint8_t *udp, size_t ulen) {
  uint32_t acc = sum16(0, src, alen);
  acc = sum16(acc, dst, alen);
  acc += IPPROTO_UDP_;
  acc += (uint32_t)ulen; /* <= 0xffff here */
  acc = sum16(acc, udp, ulen);
  return fold(acc);
}

bool kp_lab_pkt_csum_ok(const uint8_t *pkt, size_t len) {
  if (!pkt || len < 1) return false;
  if ((pkt[0] >> 4) == 4) {
    if (len < 28) return false;
    size_t ihl = (size_t)(pkt[0] & 0xf) * 4;
    size_t tot = (size_t)pkt[2] << 8 | pkt[3];
    if (ihl < 20 || tot > len || tot < ihl + 8 || pkt[9] != IPPROTO_UDP_) return false;
    if (fold(sum16(0, pkt, ihl)) != 0) return false;
    const uint8_t *u = pkt + ihl;
    size_t ulen = (size_t)u[4] << 8 | u[5];
    if (ulen < 8 || ulen > tot - ihl) return false;
    if (u[6] == 0 && u[7] == 0) return true; /* no UDP checksum (allowed over IPv4) */
    return udp_csum(pkt + 12, pkt + 16, 4, u, ulen) == 0;
  }
  if ((pkt[0] >> 4) == 6) {
    if (len < 48 || pkt[6] != IPPROTO_UDP_) return false;
    size_t plen = (size_t)pkt[4] << 8 | pkt[5];
    if (plen < 8 || plen > len - 40) return false;
    const uint8_t *u = pkt + 40;
    size_t ulen = (size_t)u[4] << 8 | u[5];
    if (ulen != plen) return false;
    return udp_csum(pkt + 8, pkt + 24, 16, u, ulen) == 0;
  }
  return false;
}

static void put16(uint8_t *p, size_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

kp_status_t kp_lab_pkt_fix_csum(uint8_t *pkt, size_t len) {
  if (!pkt || len < 1) return KP_ERR_INVAL;
  uint8_t *u;
  size_t ulen;
  if ((pkt[0] >> 4) == 4) {
    size_t ihl = (size_t)(pkt[0] & 0xf) * 4;
    if (len < 28 || ihl < 20 || pkt[9] != IPPROTO_UDP_) return KP_ERR_INVAL;
    size_t tot = (size_t)pkt[2] << 8 | pkt[3];
    if (tot > len || tot < ihl + 8) return KP_ERR_INVAL;
    u = pkt + ihl;
    ulen = (size_t)u[4] << 8 | u[5];
    if (ulen < 8 || ulen > tot - ihl) return KP_ERR_INVAL;
    pkt[10] = pkt[11] = 0;
    put16(pkt + 10, fold(sum16(0, pkt, ihl)));
    u[6] = u[7] = 0;
    put16(u + 6, udp_csum(pkt + 12, pkt + 16, 4, u, ulen));
  } else if ((pkt[0] >> 4) == 6) {
    if (len < 48 || pkt[6] != IPPROTO_UDP_) return KP_ERR_INVAL;
    size_t plen = (size_t)pkt[4] << 8 | pkt[5];
    if (plen < 8 || plen > len - 40) return KP_ERR_INVAL;
    u = pkt + 40;
    ulen = (size_t)u[4] << 8 | u[5];
    if (ulen != plen) return KP_ERR_INVAL;
    u[6] = u[7] = 0;
    put16(u + 6, udp_csum(pkt + 8, pkt + 24, 16, u, ulen));
  } else {
    return KP_ERR_INVAL;
  }
  if (u[6] == 0 && u[7] == 0) u[6] = u[7] = 0xff;
  return KP_OK;
}

/* ---- forging ------------------------------------------------------------------------------- */

typedef struct w {
  uint8_t *p;
  size_t cap, len;
  bool ok;
} w_t;
static void w_bytes(w_t *w, const void *b, size_t n) {
  if (!w->ok || n > w->cap - w->len) { w->ok = false; return; }
  memcpy(w->p + w->len, b, n);
  w->len += n;
}
static void w_u8(w_t *w, uint8_t v) { w_bytes(w, &v, 1); }
static void w_be16(w_t *w, uint16_t v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  w_bytes(w, b, 2);
}
static void w_be32(w_t *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  w_bytes(w, b, 4);
}
kp_status_t kp_lab_dns_forge(const kp_lab_dnsq_t *q, const uint8_t *pkt, size_t len,
                             const uint8_t forge4[4], const uint8_t forge6[16], uint8_t *out,
                             size_t cap, size_t *outlen) {
  if (!q || !pkt || !out || !outlen || !forge4 || !forge6) return KP_ERR_INVAL;
  if (q->family != 4 && q->family != 6) return KP_ERR_INVAL;
  if (q->q_len < 5 || q->q_off > len || q->q_len > len - q->q_off) return KP_ERR_INVAL;
  const bool in = q->qclass == 1;
  const bool a = in && q->qtype == 1, aaaa = in && q->qtype == 28;
  const size_t iphl = q->family == 4 ? 20 : 40, alen = q->family == 4 ? 4 : 16;
  w_t w = {out, cap, 0, true};

  /* IP header; lengths and checksums are patched once the size is known */
  if (q->family == 4) {
    w_u8(&w, 0x45); w_u8(&w, 0); w_be16(&w, 0); w_be16(&w, 0); w_be16(&w, 0x4000);
    w_u8(&w, 64); w_u8(&w, IPPROTO_UDP_); w_be16(&w, 0);
  } else {
    w_be32(&w, 0x60000000u); w_be16(&w, 0); w_u8(&w, IPPROTO_UDP_); w_u8(&w, 64);
  }
  w_bytes(&w, q->dst, alen); /* from the server the client asked */
  w_bytes(&w, q->src, alen);
  /* UDP */
  w_be16(&w, q->dport); w_be16(&w, q->sport); w_be16(&w, 0); w_be16(&w, 0);
  /* DNS: same ID, QR|RD(copied)|RA, NOERROR */
  w_be16(&w, q->id);
  w_be16(&w, (uint16_t)(0x8080 | (q->flags & 0x0100)));
  w_be16(&w, 1); w_be16(&w, (a || aaaa) ? 1 : 0); w_be16(&w, 0); w_be16(&w, 0);
  w_bytes(&w, pkt + q->q_off, q->q_len);
  if (a || aaaa) {
    w_be16(&w, 0xc00c); /* the question's name */
    w_be16(&w, q->qtype); w_be16(&w, 1); w_be32(&w, 300);
    w_be16(&w, a ? 4 : 16);
    w_bytes(&w, a ? forge4 : forge6, a ? 4 : 16);
  }
  if (!w.ok || w.len > 0xffff) return KP_ERR_NOMEM;

  const size_t ulen = w.len - iphl;
  uint8_t *udp = out + iphl;
  put16(udp + 4, ulen);
  if (q->family == 4) {
    put16(out + 2, w.len);
    put16(out + 10, fold(sum16(0, out, 20)));
    put16(udp + 6, udp_csum(out + 12, out + 16, 4, udp, ulen));
  } else {
    put16(out + 4, ulen);
    put16(udp + 6, udp_csum(out + 8, out + 24, 16, udp, ulen));
  }
  /* a computed checksum of 0 is sent as 0xffff (RFC 768) */
  if (udp[6] == 0 && udp[7] == 0) udp[6] = udp[7] = 0xff;
  *outlen = w.len;
  return KP_OK;
}
