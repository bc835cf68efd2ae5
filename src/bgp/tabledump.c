/*
 * tabledump.c: TABLE_DUMP (type 12) and TABLE_DUMP_V2 (type 13, RFC 6396
 * 4.3, ADD-PATH subtypes of RFC 8050) records.
 *
 * The PEER_INDEX_TABLE lives in the ctx until the next one (or a reset); a
 * RIB record before any table, or naming a peer index outside it, is corrupt.
 * Like bgpdump, a view name of 255 bytes or more is not skipped (the peer
 * entries are then read from where it starts).
 */
#include <stdlib.h>
#include <string.h>

#include "bgp/bgp_impl.h"

kp_status_t kp_td2_peer_index(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r) {
  kp_cur_t s = kp_cur_make(r->body, r->len);
  (void)kp_ms_u32(&s); /* collector BGP id */
  uint16_t vlen = kp_ms_u16(&s);
  if (vlen + 1 <= 255) (void)kp_ms_sub(&s, vlen);
  uint16_t n = kp_ms_u16(&s);
  if (n > c->peers_cap) {
    struct kp_mrt_peer *np = realloc(c->peers, sizeof *np * n);
    if (!np) return KP_ERR_NOMEM;
    c->peers = np;
    c->peers_cap = n;
  }
  c->have_pit = false;
  for (uint32_t i = 0; i < n; i++) {
    struct kp_mrt_peer *p = &c->peers[i];
    if (s.off >= s.len) {
      c->npeers = 0;
      c->err = "PEER_INDEX_TABLE shorter than its peer count";
      return KP_ERR_INVAL;
    }
    uint8_t type = kp_ms_u8(&s);
    (void)kp_ms_u32(&s); /* peer BGP id */
    memset(p->ip, 0, 16);
    p->afi = (type & 1) ? 2 : 1;
    kp_ms_get(&s, p->ip, p->afi == 2 ? 16 : 4);
    p->as = (type & 2) ? kp_ms_u32(&s) : kp_ms_u16(&s);
  }
  c->npeers = n;
  c->have_pit = true;
  return KP_OK;
}

static kp_status_t rib_prefix(kp_mrt_ctx_t *c, kp_cur_t *s, kp_td2_rib_t *rib) {
  uint8_t len = kp_ms_u8(s);
  unsigned max = rib->afi == 1 ? 32 : 128;
  if (len > max) {
    c->err = "bad prefix length";
    return KP_ERR_INVAL;
  }
  unsigned nb = (len + 7u) / 8u;
  rib->pfx.afi = rib->afi;
  rib->pfx.len = len;
  rib->pfx.path_id = 0;
  memset(rib->pfx.addr, 0, 16);
  kp_ms_get(s, rib->pfx.addr, nb); /* host bits kept: bgpdump prints RIB prefixes as stored */
  return KP_OK;
}

kp_status_t kp_td2_rib_decode(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_td2_rib_t *rib) {
  switch (r->subtype) {
  case 2: rib->afi = 1, rib->addpath = false; break;
  case 4: rib->afi = 2, rib->addpath = false; break;
  case 8: rib->afi = 1, rib->addpath = true; break;
  case 10: rib->afi = 2, rib->addpath = true; break;
  default: return KP_ERR_NOTFOUND;
  }
  if (!c->have_pit) {
    c->err = "RIB record before any PEER_INDEX_TABLE";
    return KP_ERR_INVAL;
  }
  kp_cur_t s = kp_cur_make(r->body, r->len);
  (void)kp_ms_u32(&s); /* sequence */
  kp_status_t st = rib_prefix(c, &s, rib);
  if (st != KP_OK) return st;
  rib->count = kp_ms_u16(&s);
  rib->entries = s;
  return KP_OK;
}

kp_status_t kp_td2_entry_next(kp_mrt_ctx_t *c, kp_td2_rib_t *rib, kp_td2_entry_t *e) {
  kp_cur_t *s = &rib->entries;
  if (s->off >= s->len) { /* bgpdump would invent zero-filled entries here */
    c->err = "RIB entry count larger than the record";
    return KP_ERR_INVAL;
  }
  uint16_t idx = kp_ms_u16(s);
  if (idx >= c->npeers) {
    c->err = "peer index outside the PEER_INDEX_TABLE";
    return KP_ERR_INVAL;
  }
  e->peer = &c->peers[idx];
  e->originated = kp_ms_u32(s);
  e->path_id = rib->addpath ? kp_ms_u32(s) : 0;
  kp_attrs_parse(c, s, 4, rib->addpath);
  if (c->attrs.bad) {
    c->err = "bad prefix length in MP attribute";
    return KP_ERR_INVAL;
  }
  return KP_OK;
}

kp_status_t kp_td2_generic_decode(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_td2_rib_t *rib, uint16_t *safi) {
  if (!c->have_pit) {
    c->err = "RIB record before any PEER_INDEX_TABLE";
    return KP_ERR_INVAL;
  }
  kp_cur_t s = kp_cur_make(r->body, r->len);
  (void)kp_ms_u32(&s);
  switch (r->subtype) {
  case 3: rib->afi = 1, rib->addpath = false, *safi = 2; break;
  case 5: rib->afi = 2, rib->addpath = false, *safi = 2; break;
  case 9: rib->afi = 1, rib->addpath = true, *safi = 2; break;
  case 11: rib->afi = 2, rib->addpath = true, *safi = 2; break;
  case 6:
  case 12: {
    uint16_t afi = kp_ms_u16(&s);
    *safi = kp_ms_u8(&s);
    if (afi != 1 && afi != 2) return KP_ERR_NOTFOUND;
    if (*safi != 1 && *safi != 2) return KP_ERR_NOTFOUND;
    rib->afi = (uint8_t)afi;
    rib->addpath = r->subtype == 12;
    break;
  }
  default: return KP_ERR_NOTFOUND;
  }
  kp_status_t st = rib_prefix(c, &s, rib);
  if (st != KP_OK) return st;
  rib->count = kp_ms_u16(&s);
  rib->entries = s;
  return KP_OK;
}

kp_status_t kp_td1_decode(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_td1_t *t) {
  if (r->subtype < 1 || r->subtype > 4) return KP_ERR_NOTFOUND;
  t->v6 = r->subtype == 2 || r->subtype == 4;
  uint8_t asn_len = r->subtype >= 3 ? 4 : 2;
  kp_cur_t s = kp_cur_make(r->body, r->len);
  (void)kp_ms_u16(&s); /* view */
  (void)kp_ms_u16(&s); /* sequence */
  memset(t->pfx, 0, 16);
  kp_ms_get(&s, t->pfx, t->v6 ? 16 : 4);
  t->mask = kp_ms_u8(&s);
  if (t->mask > (t->v6 ? 128 : 32)) {
    c->err = "bad prefix length";
    return KP_ERR_INVAL;
  }
  (void)kp_ms_u8(&s);  /* status */
  (void)kp_ms_u32(&s); /* originated */
  memset(t->peer, 0, 16);
  kp_ms_get(&s, t->peer, t->v6 ? 16 : 4);
  t->peer_as = kp_ms_asn(&s, asn_len);
  kp_attrs_parse(c, &s, asn_len, false);
  if (c->attrs.bad) {
    c->err = "bad prefix length in MP attribute";
    return KP_ERR_INVAL;
  }
  return KP_OK;
}
