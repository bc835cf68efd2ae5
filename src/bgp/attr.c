/*
 * attr.c: BGP UPDATE path attributes (RFC 4271, 4760, 6793, 1997, 8092) and
 * NLRI lists, decoded into kp_bgp_attrs_t without allocation.
 *
 * Invariants:
 *  - every pointer stored in kp_bgp_attrs_t points into the record body (or
 *    into ctx->merged after AS4 merging) and every length is bounded by it;
 *  - an attribute whose length runs past the block is ignored (its flag bit
 *    is not set), as bgpdump does; a repeated attribute replaces the earlier one;
 *  - AS_PATH + AS4_PATH merging follows RFC 6793 section 4.2.3 the way
 *    bgpdump 1.6 implements it, including its quirks (an AGGREGATOR that is
 *    not AS_TRANS while AS4_AGGREGATOR is present stops the merge; the
 *    leading part is taken from the first AS_PATH segment).
 */
#include <string.h>

#include "bgp/bgp_impl.h"

int kp_nlri_next(kp_nlri_it_t *it, kp_pfx_t *p) {
  kp_cur_t *c = &it->c;
  if (c->off >= c->len) return 0;
  p->path_id = it->addpath ? kp_ms_u32(c) : 0;
  uint8_t len = kp_ms_u8(c);
  unsigned nb = (len + 7u) / 8u;
  if (c->len - c->off < nb) {
    c->off = c->len;
    return 0;
  }
  unsigned maxbits = it->afi == 1 ? 32 : 128;
  if (len > maxbits) return -1;
  p->afi = it->afi;
  p->len = len;
  memset(p->addr, 0, 16);
  memcpy(p->addr, c->p + c->off, nb);
  if (len & 7) p->addr[nb - 1] &= (uint8_t)(0xFFu << (8 - (len & 7)));
  c->off += nb;
  return 1;
}

bool kp_nlri_valid(const uint8_t *p, size_t n, uint8_t afi, bool addpath) {
  kp_nlri_it_t it = {kp_cur_make(p, n), afi, addpath};
  kp_pfx_t x;
  int r;
  while ((r = kp_nlri_next(&it, &x)) == 1) {
  }
  return r == 0;
}

/* ---- AS paths ---- */

/* Segment count as bgpdump counts it (sets count 1); -1 when malformed. */
static long aspath_count(const uint8_t *p, uint32_t n, uint8_t asn_len) {
  long count = 0;
  uint32_t off = 0;
  while (off < n) {
    if (n - off < 2) return -1;
    uint8_t type = p[off], len = p[off + 1];
    if (type < 1 || type > 4) return -1;
    if ((uint32_t)len * asn_len + 2 > n - off) return -1;
    count += (type == 2 || type == 3) ? len : 1;
    off += 2u + (uint32_t)len * asn_len;
  }
  return count;
}

static const char seg_open[5] = {' ', '{', ' ', '(', '['};
static const char seg_close[5] = {' ', '}', ' ', ')', ']'};

/* bgpdump's AS path text, with every write bounded by @p cap.
 *
 * bgpdump 1.6 stops with "..." once the text passes 8000 - 100 bytes, but
 * checks only after an AS number: segment delimiters ("}{", ") (", ...) are
 * written unchecked, so a path of empty segments (2 bytes each on the wire,
 * 2 or 3 bytes of text) ran past its buffer. Here the same "..." cut is also
 * taken at every segment boundary, before anything is written. Worst case
 * between two checks: 3 delimiter bytes, then a separator and 10 digits, then
 * "..." + NUL, so limit + 18 <= cap keeps every write inside @p out. Output
 * is unchanged from bgpdump's for every path bgpdump itself handles. */
enum { ASPATH_BGPDUMP_LIMIT = 8000 - 100, ASPATH_WORST_STEP = 18 };

size_t kp_aspath_str(const uint8_t *p, uint32_t n, uint8_t asn_len, char *out, size_t cap) {
  static const char err[] = "! Error !";
  if (cap < sizeof err + ASPATH_WORST_STEP) {
    if (cap) out[0] = 0;
    return 0;
  }
  size_t limit = cap - ASPATH_WORST_STEP < ASPATH_BGPDUMP_LIMIT ? cap - ASPATH_WORST_STEP : ASPATH_BGPDUMP_LIMIT;
  size_t pos = 0;
  uint8_t prev = 2;
  bool space = false;
  uint32_t off = 0;
  int last = -1;
  while (off < n) {
    if (n - off < 2) goto bad;
    uint8_t type = p[off], len = p[off + 1];
    if (type < 1 || type > 4) goto bad;
    if ((uint32_t)len * asn_len + 2 > n - off) goto bad;
    if (pos > limit) goto cut; /* only empty segments since the last check */
    if (prev != 2) out[pos++] = seg_close[prev];
    if (space) out[pos++] = ' ';
    if (type != 2) out[pos++] = seg_open[type];
    space = false;
    const uint8_t *q = p + off + 2;
    char sep = (type == 1 || type == 4) ? ',' : ' ';
    for (unsigned i = 0; i < len; i++) {
      if (space) out[pos++] = sep;
      else space = true;
      uint32_t asn = asn_len == 4 ? ((uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3])
                                  : (uint32_t)(q[0] << 8 | q[1]);
      q += asn_len;
      pos += kp_fmt_u32(out + pos, asn);
      if (pos > limit) goto cut;
    }
    prev = type;
    last = type;
    off += 2u + (uint32_t)len * asn_len;
  }
  if (last > 0 && last != 2) out[pos++] = seg_close[last];
  out[pos] = 0;
  return pos;
cut:
  memcpy(out + pos, "...", 4);
  return pos + 3;
bad:
  memcpy(out, err, sizeof err);
  return sizeof err - 1;
}

uint32_t kp_aspath_origin(const uint8_t *p, uint32_t n, uint8_t asn_len) {
  uint32_t off = 0, origin = 0;
  while (off < n) {
    if (n - off < 2) return 0;
    uint8_t type = p[off], len = p[off + 1];
    if ((uint32_t)len * asn_len + 2 > n - off) return 0;
    if ((type == 2 || type == 3) && len > 0) {
      const uint8_t *q = p + off + 2 + (uint32_t)(len - 1) * asn_len;
      origin = asn_len == 4 ? ((uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3])
                            : (uint32_t)(q[0] << 8 | q[1]);
    } else {
      origin = 0;
    }
    off += 2u + (uint32_t)len * asn_len;
  }
  return origin;
}

/* RFC 6793 merge, bgpdump flavour: the leading (count(AS_PATH) - count(AS4_PATH))
 * ASes are taken from AS_PATH's first segment (widened to 4 bytes), then
 * AS4_PATH is appended verbatim. Result in c->merged. */
static void as4_merge(kp_mrt_ctx_t *c) {
  kp_bgp_attrs_t *a = &c->attrs;
  long old_count = aspath_count(a->path, a->path_len, 2);
  long new_count = aspath_count(a->as4path, a->as4path_len, 4);
  if (old_count < 0) old_count = 0;
  if (new_count < 0) new_count = 0;
  if (old_count < new_count) return;
  long target = old_count - new_count;
  uint8_t *m = c->merged;
  uint32_t mlen = 0;
  long mcount = 0;
  if (target > 0 && a->path_len >= 2) {
    uint8_t type = a->path[0], len = a->path[1];
    if ((uint32_t)len * 2 + 2 <= a->path_len) {
      /* each copy is at most 2 + 255 * 4 bytes; stop when no progress or out of room */
      while (mcount < target && mlen + 2 + 255u * 4 <= sizeof c->merged - 65536) {
        long step = (type == 1 || type == 4) ? 1 : len;
        if (step == 0) break;
        uint8_t *seg = m + mlen;
        seg[0] = type;
        seg[1] = len;
        for (unsigned i = 0; i < len; i++) {
          seg[2 + 4 * i] = 0;
          seg[3 + 4 * i] = 0;
          seg[4 + 4 * i] = a->path[2 + 2 * i];
          seg[5 + 4 * i] = a->path[3 + 2 * i];
        }
        mlen += 2u + 4u * len;
        mcount += step;
        if (!(type == 1 || type == 4) && mcount > target) {
          long over = mcount - target;
          seg[1] = (uint8_t)(len - over);
          mlen -= (uint32_t)over * 4;
        }
      }
    }
  }
  if (a->as4path_len > sizeof c->merged - mlen) return;
  memcpy(m + mlen, a->as4path, a->as4path_len);
  mlen += a->as4path_len;
  a->path = m;
  a->path_len = mlen;
  a->path_asn_len = 4;
}

static void mp_reach(kp_bgp_attrs_t *a, kp_cur_t *s, bool addpath, const uint8_t *after, const uint8_t *limit) {
  /* bgpdump looks at the first byte even for an empty attribute (then it is the
   * next byte of the block); non-zero means RFC 6396 4.3.4's abbreviated form. */
  uint8_t first = 0;
  if (s->len > 0) first = s->p[0];
  else if (after < limit) first = *after;
  uint16_t afi;
  uint8_t safi;
  if (first != 0) {
    afi = 2;
    safi = 1;
  } else {
    afi = kp_ms_u16(s);
    safi = kp_ms_u8(s);
    if (afi > 2 || safi > 3) return;
  }
  unsigned slot = KP_MP_SLOT(afi, safi);
  if (a->reach_mask & (1u << slot)) return;
  a->reach_mask |= (uint16_t)(1u << slot);
  kp_mp_nlri_t *mp = &a->reach[slot];
  memset(mp, 0, sizeof *mp);
  mp->nh_len = kp_ms_u8(s);
  if (afi == 1 && mp->nh_len != 16 && mp->nh_len != 32) {
    kp_ms_get(s, mp->nh, 4);
  } else {
    kp_ms_get(s, mp->nh, 16);
    if (mp->nh_len == 32) kp_ms_get(s, mp->nh_local, 16);
  }
  if (first != 0) return;
  uint8_t snpa = kp_ms_u8(s);
  for (; snpa > 0; snpa--) (void)kp_ms_sub(s, kp_ms_u8(s));
  mp->nlri = s->p + s->off;
  mp->nlri_len = (uint32_t)(s->len - s->off);
  if ((afi == 1 || afi == 2) && safi >= 1 && !kp_nlri_valid(mp->nlri, mp->nlri_len, (uint8_t)afi, addpath))
    a->bad = true;
}

static void mp_unreach(kp_bgp_attrs_t *a, kp_cur_t *s, bool addpath) {
  uint16_t afi = kp_ms_u16(s);
  uint8_t safi = kp_ms_u8(s);
  if (afi > 2 || safi > 3) return;
  unsigned slot = KP_MP_SLOT(afi, safi);
  if (a->unreach_mask & (1u << slot)) return;
  a->unreach_mask |= (uint16_t)(1u << slot);
  kp_mp_nlri_t *mp = &a->unreach[slot];
  mp->nh_len = 0;
  mp->nlri = s->p + s->off;
  mp->nlri_len = (uint32_t)(s->len - s->off);
  if ((afi == 1 || afi == 2) && safi >= 1 && !kp_nlri_valid(mp->nlri, mp->nlri_len, (uint8_t)afi, addpath))
    a->bad = true;
}

void kp_attrs_parse(kp_mrt_ctx_t *c, kp_cur_t *s, uint8_t asn_len, bool addpath) {
  kp_bgp_attrs_t *a = &c->attrs;
  a->flag = 0;
  a->origin = 255;
  memset(a->nexthop, 255, 4);
  a->med = a->local_pref = 0;
  a->agg_as = 0;
  memset(a->agg_addr, 255, 4);
  a->has_new_agg = false;
  a->has_path = a->has_as4path = a->has_comm = false;
  a->path = a->as4path = a->comm = a->lcomm = NULL;
  a->path_len = a->as4path_len = a->comm_len = a->lcomm_len = 0;
  a->path_asn_len = asn_len;
  a->lcomm_len = 0;
  a->reach_mask = a->unreach_mask = 0;
  a->bad = false;

  uint16_t total = kp_ms_u16(s);
  kp_cur_t blk = kp_ms_sub(s, total);
  while (blk.off < blk.len) {
    uint8_t flags = kp_ms_u8(&blk);
    uint8_t type = kp_ms_u8(&blk);
    uint16_t len = (flags & 0x10) ? kp_ms_u16(&blk) : kp_ms_u8(&blk);
    kp_cur_t v = kp_ms_sub(&blk, len);
    if (v.len != len) break; /* truncated attribute: ignored, block ends */
    if (type >= 1 && type <= 32) a->flag |= KP_ATTR_BIT(type);
    switch (type) {
    case KP_ATTR_ORIGIN: a->origin = kp_ms_u8(&v); break;
    case KP_ATTR_AS_PATH:
      a->has_path = true;
      a->path = v.p;
      a->path_len = len;
      a->path_asn_len = asn_len;
      break;
    case KP_ATTR_NEXT_HOP: kp_ms_get(&v, a->nexthop, 4); break;
    case KP_ATTR_MED: a->med = kp_ms_u32(&v); break;
    case KP_ATTR_LOCAL_PREF: a->local_pref = kp_ms_u32(&v); break;
    case KP_ATTR_AGGREGATOR:
      a->agg_as = kp_ms_asn(&v, asn_len);
      kp_ms_get(&v, a->agg_addr, 4);
      break;
    case KP_ATTR_COMMUNITIES:
      a->has_comm = true;
      a->comm = v.p;
      a->comm_len = len;
      break;
    case KP_ATTR_MP_REACH: mp_reach(a, &v, addpath, blk.p + blk.off, blk.p + blk.len); break;
    case KP_ATTR_MP_UNREACH: mp_unreach(a, &v, addpath); break;
    case KP_ATTR_AS4_PATH:
      a->has_as4path = true;
      a->as4path = v.p;
      a->as4path_len = len;
      break;
    case KP_ATTR_AS4_AGGREGATOR:
      a->has_new_agg = true;
      a->new_agg_as = kp_ms_u32(&v);
      kp_ms_get(&v, a->new_agg_addr, 4);
      break;
    case KP_ATTR_LARGE_COMM:
      a->lcomm = v.p;
      a->lcomm_len = len;
      break;
    default: break;
    }
  }

  /* AS4 transition (RFC 6793 4.2.3), only for 2-byte sessions */
  if (asn_len == 4) return;
  if ((a->flag & KP_ATTR_BIT(KP_ATTR_AGGREGATOR)) && (a->flag & KP_ATTR_BIT(KP_ATTR_AS4_AGGREGATOR))) {
    if (a->agg_as != KP_AS_TRANS) return;
    a->agg_as = a->new_agg_as;
    memcpy(a->agg_addr, a->new_agg_addr, 4);
  }
  if (!a->has_as4path || !a->has_path) return;
  as4_merge(c);
}

/* ---- communities ---- */
size_t kp_comm_str(const uint8_t *p, uint32_t n, char *out) {
  enum { CAP = 8192 };
  size_t pos = 0;
  for (uint32_t i = 0; i + 4 <= n; i += 4) {
    uint32_t v = (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 | (uint32_t)p[i + 2] << 8 | p[i + 3];
    const char *name = NULL;
    size_t nl = 0;
    if (v == 0xFFFFFF01u) name = " no-export", nl = 10;
    else if (v == 0xFFFFFF02u) name = " no-advertise", nl = 13;
    else if (v == 0xFFFFFF03u) name = " local-AS", nl = 9;
    if (name) {
      if (pos + nl >= CAP) continue; /* bgpdump's strlcat refuses what does not fit */
      memcpy(out + pos, name, nl);
      pos += nl;
    } else {
      char tmp[16];
      size_t t = 0;
      tmp[t++] = ' ';
      t += kp_fmt_u32(tmp + t, v >> 16);
      tmp[t++] = ':';
      t += kp_fmt_u32(tmp + t, v & 0xFFFF);
      if (pos + t > CAP - 1) t = CAP - 1 - pos; /* snprintf truncation */
      memcpy(out + pos, tmp, t);
      pos += t;
    }
  }
  out[pos] = 0;
  return pos;
}
