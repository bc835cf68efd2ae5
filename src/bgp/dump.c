/*
 * dump.c: `bgpdump -m` output, byte for byte (bgpdump 1.6, including the
 * fixed NLRI trailing-bit masking).
 *
 * Speed: a line is head + prefix + tail. The head (format, time, type, peer)
 * and the tail (path .. aggregator) are built once per message or RIB entry;
 * each prefix then costs one prefix format and two memcpy. Output goes into
 * the caller's kp_buf_t; on a corrupt record it is rolled back to its length
 * on entry, so a record is either printed whole or not at all.
 *
 * Field quirks kept on purpose (scripts depend on them): LOCAL_PREF/MED are
 * 0 when absent and printed signed for MP IPv4 announcements; the community
 * field of MRTD type-5 lines is glued to MED; a missing ORIGIN prints
 * INCOMPLETE, a missing NEXT_HOP 255.255.255.255; the peer of a LOCAL IPv4
 * session's IPv6 withdrawal is printed as an IPv6 address.
 */
#include <string.h>

#include "bgp/bgp_impl.h"

typedef struct line {
  char head[160];
  size_t hl;
  const char *tail;
  size_t tl;
} line_t;

static size_t put_time(char *p, const kp_mrt_rec_t *r, bool et) {
  size_t n = kp_fmt_u32(p, r->ts);
  if (et) {
    char d[12];
    size_t k = kp_fmt_u32(d, r->usec);
    p[n++] = '.';
    for (size_t z = k; z < 6; z++) p[n++] = '0';
    memcpy(p + n, d, k);
    n += k;
  }
  return n;
}

static inline size_t put_str(char *p, const char *s) {
  size_t n = strlen(s);
  memcpy(p, s, n);
  return n;
}

static size_t put_i32(char *p, uint32_t v) {
  if (v & 0x80000000u) {
    p[0] = '-';
    return 1 + kp_fmt_u32(p + 1, (uint32_t)(0u - v));
  }
  return kp_fmt_u32(p, v);
}

/* Bound of the tail: the AS path text (KP_ASPATH_STR_MAX, cut by kp_aspath_str),
 * the community text (kp_comm_str stops at sizeof commstr - 1) and TAIL_FIXED for
 * everything else: 9 '|' and '\n', "INCOMPLETE", a next hop (< NH_MAX), two signed
 * 32-bit numbers, "NAG", the aggregator "4294967295 255.255.255.255". The static
 * assertion makes the fixed-size writes below safe for every input. */
enum { NH_MAX = 48, TAIL_FIXED = 10 + 10 + NH_MAX + 2 * 11 + 3 + 26 };
_Static_assert(sizeof(((kp_mrt_ctx_t *)0)->tail) >=
                   KP_ASPATH_STR_MAX + sizeof(((kp_mrt_ctx_t *)0)->commstr) + TAIL_FIXED,
               "tail holds the longest path + communities + fixed fields");

/* Tail "path|origin|nexthop|lp|med|comm|AG|agg|\n" (or MRTD's variant). */
static size_t build_tail(kp_mrt_ctx_t *c, const char *nh, size_t nhl, bool signed_lp, bool mrtd) {
  const kp_bgp_attrs_t *a = &c->attrs;
  char *p = c->tail;
  size_t n = 0;
  if (nhl > NH_MAX) nhl = NH_MAX;
  if (a->has_path) n += kp_aspath_str(a->path, a->path_len, a->path_asn_len, p, KP_ASPATH_STR_MAX);
  p[n++] = '|';
  n += put_str(p + n, a->origin == 0 ? "IGP" : a->origin == 1 ? "EGP" : "INCOMPLETE");
  p[n++] = '|';
  memcpy(p + n, nh, nhl);
  n += nhl;
  p[n++] = '|';
  uint32_t lp = (a->flag & KP_ATTR_BIT(KP_ATTR_LOCAL_PREF)) ? a->local_pref : 0;
  uint32_t med = (a->flag & KP_ATTR_BIT(KP_ATTR_MED)) ? a->med : 0;
  n += signed_lp ? put_i32(p + n, lp) : kp_fmt_u32(p + n, lp);
  p[n++] = '|';
  n += signed_lp ? put_i32(p + n, med) : kp_fmt_u32(p + n, med);
  if (!mrtd) p[n++] = '|';
  if (a->flag & KP_ATTR_BIT(KP_ATTR_COMMUNITIES)) {
    size_t k = kp_comm_str(a->comm, a->comm_len, c->commstr);
    if (k > 0) {
      memcpy(p + n, c->commstr + 1, k - 1);
      n += k - 1;
    }
  }
  p[n++] = '|';
  n += put_str(p + n, (a->flag & KP_ATTR_BIT(KP_ATTR_ATOMIC_AGG)) ? "AG" : "NAG");
  p[n++] = '|';
  static const uint8_t none[4] = {255, 255, 255, 255};
  if (memcmp(a->agg_addr, none, 4) != 0) {
    n += kp_fmt_u32(p + n, a->agg_as);
    p[n++] = ' ';
    n += kp_fmt_v4(p + n, a->agg_addr);
  }
  p[n++] = '|';
  p[n++] = '\n';
  return n;
}

static inline size_t put_addr(char *p, uint8_t afi, const uint8_t *a) {
  return afi == 2 ? kp_fmt_v6(p, a) : kp_fmt_v4(p, a);
}

/* Emit one line per prefix of @p nlri. announce: "pfx|[pid|]tail"; else "pfx[|pid]\n".
 * @p addr_override: print this address instead of each prefix's (MRTD withdrawals:
 * bgpdump's two inet_ntoa() calls in one printf share a static buffer, so the
 * peer address appears where the prefix should be). */
static kp_status_t emit_list(kp_buf_t *out, const line_t *ln, const uint8_t *nlri, size_t nlen, uint8_t afi,
                             bool addpath, bool announce, uint64_t *lines, const uint8_t *addr_override) {
  kp_nlri_it_t it = {kp_cur_make(nlri, nlen), afi, addpath};
  kp_pfx_t x;
  while (kp_nlri_next(&it, &x) == 1) {
    size_t need = ln->hl + ln->tl + 80;
    if (out->alloc - out->len <= need) {
      kp_status_t st = kp_buf_reserve(out, need < 65536 ? 65536 : need);
      if (st != KP_OK) return st;
    }
    char *p = (char *)out->data + out->len;
    size_t n = ln->hl;
    memcpy(p, ln->head, n);
    n += put_addr(p + n, afi, addr_override ? addr_override : x.addr);
    p[n++] = '/';
    n += kp_fmt_u32(p + n, x.len);
    if (announce) {
      p[n++] = '|';
      if (addpath) {
        n += kp_fmt_u32(p + n, x.path_id);
        p[n++] = '|';
      }
      memcpy(p + n, ln->tail, ln->tl);
      n += ln->tl;
    } else {
      if (addpath) {
        p[n++] = '|';
        n += kp_fmt_u32(p + n, x.path_id);
      }
      p[n++] = '\n';
    }
    out->len += n;
    (*lines)++;
  }
  return KP_OK;
}

static const char *bgp4mp_name(bool et, bool local, bool ap) {
  static const char *names[8] = {"BGP4MP",    "BGP4MP_AP",    "BGP4MP_LOCAL",    "BGP4MP_LOCAL_AP",
                                 "BGP4MP_ET", "BGP4MP_ET_AP", "BGP4MP_ET_LOCAL", "BGP4MP_ET_LOCAL_AP"};
  return names[(et ? 4 : 0) | (local ? 2 : 0) | (ap ? 1 : 0)];
}

static size_t make_head(char *h, const char *fmt, const char *ts, size_t tsl, char kind, const char *peer,
                        size_t pl, uint32_t as) {
  size_t n = put_str(h, fmt);
  h[n++] = '|';
  memcpy(h + n, ts, tsl);
  n += tsl;
  h[n++] = '|';
  h[n++] = kind;
  h[n++] = '|';
  memcpy(h + n, peer, pl);
  n += pl;
  h[n++] = '|';
  n += kp_fmt_u32(h + n, as);
  h[n++] = '|';
  return n;
}

static kp_status_t dump_update(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, const kp_bgp_msg_t *m, kp_buf_t *out,
                               uint64_t *lines, bool mrtd) {
  const kp_bgp_attrs_t *a = &c->attrs;
  char ts[32];
  size_t tsl = put_time(ts, r, r->type == KP_MRT_BGP4MP_ET);
  const char *fmt = mrtd ? "BGP" : bgp4mp_name(r->type == KP_MRT_BGP4MP_ET, m->shown_local, m->addpath);
  char peer4[48], peer6[48];
  size_t p4 = put_addr(peer4, m->afi, m->shown);
  size_t p6 = (m->afi == 2 || m->shown_local) ? kp_fmt_v6(peer6, m->shown) : kp_fmt_v4(peer6, m->shown);
  line_t ln;
  kp_status_t st;

  /* withdrawals: plain, then MP (IPv4 u/m/um, IPv6 u/m/um) */
  ln.hl = make_head(ln.head, fmt, ts, tsl, 'W', peer4, p4, m->shown_as);
  ln.tail = NULL;
  ln.tl = 0;
  st = emit_list(out, &ln, m->withdrawn.p, m->withdrawn.len, 1, m->addpath, false, lines, mrtd ? m->shown : NULL);
  if (st != KP_OK) return st;
  if (a->unreach_mask) {
    for (int afi = 1; afi <= 2; afi++) {
      if (afi == 2) ln.hl = make_head(ln.head, fmt, ts, tsl, 'W', peer6, p6, m->shown_as);
      for (int safi = 1; safi <= 3; safi++) {
        unsigned slot = KP_MP_SLOT(afi, safi);
        if (!(a->unreach_mask & (1u << slot))) continue;
        const kp_mp_nlri_t *mp = &a->unreach[slot];
        st = emit_list(out, &ln, mp->nlri, mp->nlri_len, (uint8_t)afi, m->addpath, false, lines, NULL);
        if (st != KP_OK) return st;
      }
    }
  }
  /* announcements */
  bool any = m->announced.len > 0 || a->reach_mask;
  if (!any) return KP_OK;
  char nh[48];
  ln.hl = make_head(ln.head, fmt, ts, tsl, 'A', peer4, p4, m->shown_as);
  if (m->announced.len > 0) {
    ln.tl = build_tail(c, nh, kp_fmt_v4(nh, a->nexthop), false, mrtd);
    ln.tail = c->tail;
    if ((st = emit_list(out, &ln, m->announced.p, m->announced.len, 1, m->addpath, true, lines, NULL)) != KP_OK)
      return st;
  }
  if (mrtd) return KP_OK;
  for (int afi = 1; afi <= 2; afi++) {
    if (afi == 2) {
      size_t pl = m->afi == 2 ? kp_fmt_v6(peer6, m->shown) : kp_fmt_v4(peer6, m->shown);
      ln.hl = make_head(ln.head, fmt, ts, tsl, 'A', peer6, pl, m->shown_as);
    }
    for (int safi = 1; safi <= 3; safi++) {
      unsigned slot = KP_MP_SLOT(afi, safi);
      if (!(a->reach_mask & (1u << slot))) continue;
      const kp_mp_nlri_t *mp = &a->reach[slot];
      if (mp->nlri_len == 0) continue;
      size_t nhl = afi == 1 ? kp_fmt_v4(nh, mp->nh) : kp_fmt_v6(nh, mp->nh);
      ln.tl = build_tail(c, nh, nhl, afi == 1, false);
      ln.tail = c->tail;
      st = emit_list(out, &ln, mp->nlri, mp->nlri_len, (uint8_t)afi, m->addpath, true, lines, NULL);
      if (st != KP_OK) return st;
    }
  }
  return KP_OK;
}

static kp_status_t dump_state(const kp_mrt_rec_t *r, const kp_bgp_state_t *s, const char *fmt, kp_buf_t *out,
                              uint64_t *lines) {
  kp_status_t st = kp_buf_reserve(out, 256);
  if (st != KP_OK) return st;
  char *p = (char *)out->data + out->len;
  size_t n = put_str(p, fmt);
  p[n++] = '|';
  n += put_time(p + n, r, r->type == KP_MRT_BGP4MP_ET);
  memcpy(p + n, "|STATE|", 7);
  n += 7;
  n += put_addr(p + n, s->afi, s->peer);
  p[n++] = '|';
  n += kp_fmt_u32(p + n, s->peer_as);
  p[n++] = '|';
  n += kp_fmt_u32(p + n, s->old_state);
  p[n++] = '|';
  n += kp_fmt_u32(p + n, s->new_state);
  p[n++] = '\n';
  out->len += n;
  (*lines)++;
  return KP_OK;
}

/* One RIB line; the caller has built c->attrs for this entry. */
static kp_status_t dump_rib_line(kp_mrt_ctx_t *c, kp_buf_t *out, const char *head, size_t hl, uint8_t peer_afi,
                                 const uint8_t *peer, uint32_t peer_as, const char *pfx, size_t pfl, bool addpath,
                                 uint32_t path_id, bool td2) {
  const kp_bgp_attrs_t *a = &c->attrs;
  char nh[48];
  size_t nhl;
  const kp_mp_nlri_t *mp = NULL;
  if (a->flag & KP_ATTR_BIT(KP_ATTR_MP_REACH)) {
    if (a->reach_mask & (1u << KP_MP_SLOT(2, 1))) mp = &a->reach[KP_MP_SLOT(2, 1)];
    else if (td2 && (a->reach_mask & (1u << KP_MP_SLOT(1, 1)))) mp = &a->reach[KP_MP_SLOT(1, 1)];
  }
  /* TABLE_DUMP_V2 prints the MP next hop by its length (IPv4 or IPv6, RFC 5549); TABLE_DUMP only an IPv6 one */
  if (mp && td2 && mp->nh_len == 4) nhl = kp_fmt_v4(nh, mp->nh);
  else if (mp && (!td2 || mp->nh_len == 16 || mp->nh_len == 32)) nhl = kp_fmt_v6(nh, mp->nh);
  else nhl = kp_fmt_v4(nh, a->nexthop);
  size_t tl = build_tail(c, nh, nhl, false, false);
  size_t need = hl + tl + 128;
  if (out->alloc - out->len <= need) {
    kp_status_t st = kp_buf_reserve(out, need < 65536 ? 65536 : need);
    if (st != KP_OK) return st;
  }
  char *p = (char *)out->data + out->len;
  size_t n = hl;
  memcpy(p, head, hl);
  n += put_addr(p + n, peer_afi, peer);
  p[n++] = '|';
  n += kp_fmt_u32(p + n, peer_as);
  p[n++] = '|';
  memcpy(p + n, pfx, pfl);
  n += pfl;
  if (addpath) {
    n += kp_fmt_u32(p + n, path_id);
    p[n++] = '|';
  }
  memcpy(p + n, c->tail, tl);
  n += tl;
  out->len += n;
  return KP_OK;
}

static kp_status_t dump_td2(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_buf_t *out, uint64_t *lines) {
  if (r->subtype == 1) return kp_td2_peer_index(c, r);
  kp_td2_rib_t rib;
  kp_status_t st = kp_td2_rib_decode(c, r, &rib);
  if (st == KP_ERR_NOTFOUND) return KP_OK;
  if (st != KP_OK) return st;
  char head[64];
  size_t hl = put_str(head, rib.addpath ? "TABLE_DUMP2_AP|" : "TABLE_DUMP2|");
  hl += put_time(head + hl, r, false);
  memcpy(head + hl, "|B|", 3);
  hl += 3;
  char pfx[64];
  size_t pfl = put_addr(pfx, rib.afi, rib.pfx.addr);
  pfx[pfl++] = '/';
  pfl += kp_fmt_u32(pfx + pfl, rib.pfx.len);
  pfx[pfl++] = '|';
  for (uint32_t i = 0; i < rib.count; i++) {
    kp_td2_entry_t e;
    if ((st = kp_td2_entry_next(c, &rib, &e)) != KP_OK) return st;
    st = dump_rib_line(c, out, head, hl, e.peer->afi, e.peer->ip, e.peer->as, pfx, pfl, rib.addpath, e.path_id, true);
    if (st != KP_OK) return st;
    (*lines)++;
  }
  return KP_OK;
}

static kp_status_t dump_td1(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_buf_t *out, uint64_t *lines) {
  kp_td1_t t;
  kp_status_t st = kp_td1_decode(c, r, &t);
  if (st == KP_ERR_NOTFOUND) return KP_OK;
  if (st != KP_OK) return st;
  /* bgpdump prints IPv6 text only for subtype 2 (AFI_IP6); subtype 4 shows the first 4 bytes */
  uint8_t afi = r->subtype == 2 ? 2 : 1;
  char head[64];
  size_t hl = put_str(head, "TABLE_DUMP|");
  hl += put_time(head + hl, r, false);
  memcpy(head + hl, "|B|", 3);
  hl += 3;
  char pfx[64];
  size_t pfl = put_addr(pfx, afi, t.pfx);
  pfx[pfl++] = '/';
  pfl += kp_fmt_u32(pfx + pfl, t.mask);
  pfx[pfl++] = '|';
  st = dump_rib_line(c, out, head, hl, afi, t.peer, t.peer_as, pfx, pfl, false, 0, false);
  if (st == KP_OK) (*lines)++;
  return st;
}

kp_status_t kp_bgp_dump_record(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_buf_t *out, uint64_t *lines) {
  size_t mark = out->len;
  uint64_t nl = 0;
  kp_status_t st = KP_OK;
  c->err = NULL;
  switch (r->type) {
  case KP_MRT_TABLE_DUMP_V2: st = dump_td2(c, r, out, &nl); break;
  case KP_MRT_TABLE_DUMP: st = dump_td1(c, r, out, &nl); break;
  case KP_MRT_BGP4MP:
  case KP_MRT_BGP4MP_ET:
  case KP_MRT_BGP: {
    kp_bgp_msg_t m;
    kp_bgp_state_t s;
    bool is_state;
    bool mrtd = r->type == KP_MRT_BGP;
    st = mrtd ? kp_mrtd_decode(c, r, &m, &s, &is_state) : kp_bgp4mp_decode(c, r, &m, &s, &is_state);
    if (st == KP_ERR_NOTFOUND) {
      st = KP_OK;
    } else if (st == KP_OK) {
      if (is_state)
        st = dump_state(r, &s, mrtd ? "BGP" : r->type == KP_MRT_BGP4MP_ET ? "BGP4MP_ET" : "BGP4MP", out, &nl);
      else
        st = dump_update(c, r, &m, out, &nl, mrtd);
    }
    break;
  }
  default: break; /* other MRT types: bgpdump prints nothing */
  }
  if (st != KP_OK) {
    out->len = mark;
    if (out->data) out->data[mark] = 0;
    if (!c->err) c->err = kp_strstatus(st);
    return st;
  }
  if (out->data) out->data[out->len] = 0;
  *lines += nl;
  return KP_OK;
}
