/*
 * elems.c: records -> elements (RIB entries, announcements, withdrawals,
 * state changes) for analysis, and the parsing context's lifetime.
 *
 * Unicast IPv4/IPv6 only (SAFI 1 and the MP "unicast+multicast" SAFI 3 are
 * counted as unicast; SAFI 2 multicast is skipped). A corrupt record
 * delivers nothing: the whole record is validated before the first callback.
 */
#include <stdlib.h>
#include <string.h>

#include "bgp/bgp_impl.h"

kp_status_t kp_mrt_ctx_new(kp_mrt_ctx_t **out) {
  *out = calloc(1, sizeof **out);
  return *out ? KP_OK : KP_ERR_NOMEM;
}

void kp_mrt_ctx_free(kp_mrt_ctx_t *c) {
  if (!c) return;
  free(c->peers);
  free(c);
}

void kp_mrt_ctx_reset(kp_mrt_ctx_t *c) {
  c->npeers = 0;
  c->have_pit = false;
}

const char *kp_mrt_ctx_error(const kp_mrt_ctx_t *c) { return c->err ? c->err : "no error"; }

static uint32_t origin_of(const kp_bgp_attrs_t *a) {
  return a->has_path ? kp_aspath_origin(a->path, a->path_len, a->path_asn_len) : 0;
}

static int each(kp_bgp_elem_t *e, const uint8_t *nlri, size_t n, uint8_t afi, bool addpath, kp_bgp_elem_fn fn,
                void *arg) {
  kp_nlri_it_t it = {kp_cur_make(nlri, n), afi, addpath};
  kp_pfx_t x;
  while (kp_nlri_next(&it, &x) == 1) {
    e->afi = afi;
    e->plen = x.len;
    memcpy(e->prefix, x.addr, 16);
    e->path_id = x.path_id;
    if (fn(arg, e)) return 1;
  }
  return 0;
}

static kp_status_t elems_update(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, const kp_bgp_msg_t *m, kp_bgp_elem_fn fn,
                                void *arg) {
  const kp_bgp_attrs_t *a = &c->attrs;
  kp_bgp_elem_t e;
  memset(&e, 0, sizeof e);
  e.ts = r->ts;
  e.peer_afi = m->afi;
  memcpy(e.peer_ip, m->peer, 16);
  e.peer_as = m->peer_as;
  e.type = KP_BGP_WITHDRAW;
  if (each(&e, m->withdrawn.p, m->withdrawn.len, 1, m->addpath, fn, arg)) return KP_OK;
  for (int afi = 1; afi <= 2; afi++)
    for (int safi = 1; safi <= 3; safi += 2) {
      unsigned slot = KP_MP_SLOT(afi, safi);
      if (!(a->unreach_mask & (1u << slot))) continue;
      if (each(&e, a->unreach[slot].nlri, a->unreach[slot].nlri_len, (uint8_t)afi, m->addpath, fn, arg))
        return KP_OK;
    }
  e.type = KP_BGP_ANNOUNCE;
  e.origin_as = origin_of(a);
  if (each(&e, m->announced.p, m->announced.len, 1, m->addpath, fn, arg)) return KP_OK;
  for (int afi = 1; afi <= 2; afi++)
    for (int safi = 1; safi <= 3; safi += 2) {
      unsigned slot = KP_MP_SLOT(afi, safi);
      if (!(a->reach_mask & (1u << slot))) continue;
      if (each(&e, a->reach[slot].nlri, a->reach[slot].nlri_len, (uint8_t)afi, m->addpath, fn, arg)) return KP_OK;
    }
  return KP_OK;
}

static kp_status_t elems_td2(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_bgp_elem_fn fn, void *arg) {
  if (r->subtype == 1) return kp_td2_peer_index(c, r);
  kp_td2_rib_t rib;
  uint16_t safi = 1;
  kp_status_t st = kp_td2_rib_decode(c, r, &rib);
  if (st == KP_ERR_NOTFOUND) st = kp_td2_generic_decode(c, r, &rib, &safi);
  if (st == KP_ERR_NOTFOUND) return KP_OK;
  if (st != KP_OK) return st;
  if (safi != 1) return KP_OK; /* multicast */
  /* validate every entry first so a corrupt record delivers nothing */
  kp_td2_rib_t probe = rib;
  kp_td2_entry_t e;
  for (uint32_t i = 0; i < rib.count; i++)
    if ((st = kp_td2_entry_next(c, &probe, &e)) != KP_OK) return st;
  kp_bgp_elem_t el;
  memset(&el, 0, sizeof el);
  el.type = KP_BGP_RIB;
  el.ts = r->ts;
  el.afi = rib.afi;
  el.plen = rib.pfx.len;
  memcpy(el.prefix, rib.pfx.addr, 16);
  if (el.plen & 7) el.prefix[el.plen / 8] &= (uint8_t)(0xFFu << (8 - (el.plen & 7)));
  for (uint32_t i = 0; i < rib.count; i++) {
    (void)kp_td2_entry_next(c, &rib, &e);
    el.peer_afi = e.peer->afi;
    memcpy(el.peer_ip, e.peer->ip, 16);
    el.peer_as = e.peer->as;
    el.path_id = e.path_id;
    el.origin_as = origin_of(&c->attrs);
    if (fn(arg, &el)) break;
  }
  return KP_OK;
}

kp_status_t kp_bgp_elems(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_bgp_elem_fn fn, void *arg) {
  c->err = NULL;
  kp_status_t st = KP_OK;
  switch (r->type) {
  case KP_MRT_TABLE_DUMP_V2: st = elems_td2(c, r, fn, arg); break;
  case KP_MRT_TABLE_DUMP: {
    kp_td1_t t;
    st = kp_td1_decode(c, r, &t);
    if (st == KP_ERR_NOTFOUND) return KP_OK;
    if (st != KP_OK) break;
    kp_bgp_elem_t e;
    memset(&e, 0, sizeof e);
    e.type = KP_BGP_RIB;
    e.ts = r->ts;
    e.afi = e.peer_afi = t.v6 ? 2 : 1;
    memcpy(e.peer_ip, t.peer, 16);
    e.peer_as = t.peer_as;
    e.plen = t.mask;
    memcpy(e.prefix, t.pfx, 16);
    /* clear host bits */
    for (unsigned i = 0; i < 16; i++) {
      unsigned lo = i * 8;
      if (lo >= e.plen) e.prefix[i] = 0;
      else if (e.plen - lo < 8) e.prefix[i] &= (uint8_t)(0xFFu << (8 - (e.plen - lo)));
    }
    e.origin_as = origin_of(&c->attrs);
    fn(arg, &e);
    break;
  }
  case KP_MRT_BGP4MP:
  case KP_MRT_BGP4MP_ET:
  case KP_MRT_BGP: {
    kp_bgp_msg_t m;
    kp_bgp_state_t s;
    bool is_state;
    st = r->type == KP_MRT_BGP ? kp_mrtd_decode(c, r, &m, &s, &is_state) : kp_bgp4mp_decode(c, r, &m, &s, &is_state);
    if (st == KP_ERR_NOTFOUND) return KP_OK;
    if (st != KP_OK) break;
    if (!is_state && m.local) return KP_OK; /* sent by the collector: not the peer's routes */
    if (is_state) {
      kp_bgp_elem_t e;
      memset(&e, 0, sizeof e);
      e.type = KP_BGP_STATE;
      e.ts = r->ts;
      e.peer_afi = s.afi;
      memcpy(e.peer_ip, s.peer, 16);
      e.peer_as = s.peer_as;
      e.old_state = s.old_state;
      e.new_state = s.new_state;
      fn(arg, &e);
      return KP_OK;
    }
    st = elems_update(c, r, &m, fn, arg);
    break;
  }
  default: break;
  }
  if (st != KP_OK && !c->err) c->err = kp_strstatus(st);
  return st;
}
