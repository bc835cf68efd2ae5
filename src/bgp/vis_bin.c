/*
 * vis_bin.c: applying elements to the visibility state and closing bins
 * (the second half of vis.c, which documents the model and the state diagram).
 *
 * Simplifications, documented in docs/bgp.md: ADD-PATH path ids collapse into
 * one route per peer and prefix; IPv6 routes only feed the update counts.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bgp/bgp.h"
#include "bgp/bgp_impl.h"
#include "geo/geo.h"

static country_t *country_of(kp_bgp_vis_t *v, const kp_geo_info_t *gi) {
  for (size_t i = 0; i < v->ncountries; i++)
    if (v->countries[i].cc[0] == gi->cc[0] && v->countries[i].cc[1] == gi->cc[1]) return &v->countries[i];
  return NULL;
}

static void count_update(kp_bgp_vis_t *v, const kp_bgp_elem_t *e, uint32_t origin) {
  if (v->cfg.per_asn) {
    asn_ent_t *a = vis_asn_get(v, origin, true);
    if (a) a->upd++;
  }
  if (!v->cfg.geo || !v->ncountries) return;
  kp_addr_t a = {.family = e->afi == 1 ? 4 : 6};
  memcpy(a.b, e->prefix, 16);
  kp_geo_info_t gi;
  if (kp_geo_lookup(v->cfg.geo, &a, &gi) != KP_OK || !gi.cc[0]) return;
  country_t *c = country_of(v, &gi);
  if (!c) return;
  c->upd++;
  if (v->cfg.per_region && gi.region[0]) {
    uint32_t r = vis_region_id(v, c->cc, gi.region);
    if (r != UINT32_MAX) v->regions[r].upd++;
  }
}

static void apply(kp_bgp_vis_t *v, const kp_bgp_elem_t *e) {
  int pi = vis_peer_get(v, e);
  if (pi < 0) return;
  peer_t *p = &v->peers[pi];
  p->last_seen = e->ts;
  if (e->type == KP_BGP_STATE) {
    if (e->new_state == 6) {
      p->up = true;
    } else if (p->up || e->old_state == 6) {
      p->up = false;
      vis_peer_clear(v, (uint32_t)pi);
    }
    return;
  }
  uint32_t w = (uint32_t)pi / 64;
  uint64_t bit = 1ULL << ((uint32_t)pi % 64);
  if (e->type == KP_BGP_RIB || e->type == KP_BGP_ANNOUNCE) {
    p->up = true;
    if (e->type == KP_BGP_ANNOUNCE) count_update(v, e, e->origin_as);
    if (e->afi != 1) return;
    uint32_t addr = (uint32_t)e->prefix[0] << 24 | (uint32_t)e->prefix[1] << 16 | (uint32_t)e->prefix[2] << 8 | e->prefix[3];
    long s = vis_slot_get(v, addr, e->plen, true);
    if (s < 0) {
      v->err = KP_ERR_NOMEM;
      return;
    }
    uint64_t *b = &v->bits[(size_t)s * v->W + w];
    if (!(*b & bit)) {
      *b |= bit;
      p->n4++;
    }
    if (e->origin_as) v->p_origin[s] = e->origin_as;
    if (v->cfg.per_asn) (void)vis_asn_get(v, e->origin_as, true);
  } else if (e->type == KP_BGP_WITHDRAW) {
    uint32_t origin = 0;
    if (e->afi == 1) {
      uint32_t addr = (uint32_t)e->prefix[0] << 24 | (uint32_t)e->prefix[1] << 16 | (uint32_t)e->prefix[2] << 8 | e->prefix[3];
      long s = vis_slot_get(v, addr, e->plen, false);
      if (s >= 0) {
        origin = v->p_origin[s];
        uint64_t *b = &v->bits[(size_t)s * v->W + w];
        if (*b & bit) {
          *b &= ~bit;
          p->n4--;
        }
      }
    }
    count_update(v, e, origin);
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void add_range(kp_bgp_vis_t *v, uint32_t lo, uint32_t hi, const uint64_t *u, uint32_t origin) {
  if (lo >= hi || v->nfull == 0) return;
  uint32_t cnt = 0;
  for (uint32_t i = 0; i < v->W; i++) cnt += (uint32_t)__builtin_popcountll(u[i] & v->full[i]);
  if (cnt < v->thr) return;
  if (v->nvis > 0 && v->vis[v->nvis - 1].hi == lo && v->vis[v->nvis - 1].origin == origin) {
    v->vis[v->nvis - 1].hi = hi;
    return;
  }
  if (v->nvis == v->vis_cap) {
    size_t nc = v->vis_cap ? v->vis_cap * 2 : 4096;
    vrange_t *n = realloc(v->vis, sizeof *n * nc);
    if (!n) {
      v->err = KP_ERR_NOMEM;
      return;
    }
    v->vis = n, v->vis_cap = nc;
  }
  v->vis[v->nvis++] = (vrange_t){lo, hi, origin};
}

/* Prefixes sorted by (address, length) nest as a tree; walk it with the union
 * of the peer sets along the path, emitting the /24 ranges not covered by a child. */
static void walk(kp_bgp_vis_t *v, const uint64_t *keys, size_t n, size_t *i, uint32_t lo, uint32_t hi, int depth,
                 uint32_t origin) {
  const uint64_t *u = v->stack + (size_t)depth * v->W;
  uint32_t cur = lo;
  while (*i < n) {
    uint64_t k = keys[*i];
    uint32_t addr = (uint32_t)(k >> 32), len = (uint32_t)(k >> 26) & 63, slot = (uint32_t)(k & ((1u << 26) - 1));
    uint32_t s = addr >> 8, e = s + (1u << (24 - len));
    if (s >= hi) break;
    (*i)++;
    if (s < cur) continue; /* cannot happen for a proper tree; defensive */
    add_range(v, cur, s, u, origin);
    uint64_t *child = v->stack + (size_t)(depth + 1) * v->W;
    const uint64_t *pb = v->bits + (size_t)slot * v->W;
    for (uint32_t w = 0; w < v->W; w++) child[w] = u[w] | pb[w];
    uint32_t o = v->p_origin[slot] ? v->p_origin[slot] : origin;
    if (depth + 1 < 33) walk(v, keys, n, i, s, e, depth + 1, o);
    cur = e;
  }
  add_range(v, cur, hi, u, origin);
}

static void emit(kp_buf_t *out, const char *etype, const char *code, const char *ds, uint32_t t, uint32_t step,
                 long value, uint32_t nfull) {
  if (value < 0)
    kp_buf_printf(out,
                  "{\"type\":\"signal\",\"entity_type\":\"%s\",\"entity_code\":\"%s\",\"datasource\":\"%s\","
                  "\"t\":%u,\"step\":%u,\"value\":null,\"full_feed_peers\":%u}\n",
                  etype, code, ds, t, step, nfull);
  else
    kp_buf_printf(out,
                  "{\"type\":\"signal\",\"entity_type\":\"%s\",\"entity_code\":\"%s\",\"datasource\":\"%s\","
                  "\"t\":%u,\"step\":%u,\"value\":%ld,\"full_feed_peers\":%u}\n",
                  etype, code, ds, t, step, value, nfull);
}

static kp_status_t close_bin(kp_bgp_vis_t *v, kp_buf_t *out) {
  uint32_t t = (uint32_t)v->bin_start;
  uint64_t end = v->bin_start + v->cfg.bin;
  /* full-feed peers at the end of the bin */
  memset(v->full, 0, v->W * 8);
  v->nfull = 0;
  for (uint32_t i = 0; i < v->npeers; i++) {
    peer_t *p = &v->peers[i];
    bool stale = v->cfg.stale_after && (uint64_t)p->last_seen + v->cfg.stale_after < end;
    if (p->up && !stale && p->n4 >= v->cfg.full_feed_min) {
      v->full[i / 64] |= 1ULL << (i % 64);
      v->nfull++;
    }
  }
  v->thr = (uint32_t)ceil(v->cfg.vis_frac * v->nfull);
  if (v->thr == 0) v->thr = 1;
  v->nvis = 0;
  if (v->nfull > 0) {
    uint64_t *keys = malloc(sizeof *keys * (v->nslots ? v->nslots : 1));
    if (!keys) return KP_ERR_NOMEM;
    size_t n = 0;
    for (uint32_t s = 0; s < v->nslots; s++) {
      if (v->p_len[s] > 24) continue;
      const uint64_t *pb = v->bits + (size_t)s * v->W;
      bool any = false;
      for (uint32_t w = 0; w < v->W; w++)
        if (pb[w] & v->full[w]) any = true;
      if (any) keys[n++] = (uint64_t)v->p_addr[s] << 32 | (uint64_t)v->p_len[s] << 26 | s;
    }
    qsort(keys, n, sizeof *keys, cmp_u64);
    memset(v->stack, 0, v->W * 8);
    size_t i = 0;
    walk(v, keys, n, &i, 0, 1u << 24, 0, 0);
    free(keys);
  }
  bool nodata = v->nfull == 0;
  /* per country / region */
  for (size_t r = 0; r < v->nregions; r++) v->regions[r].vis = 0;
  for (size_t ci = 0; ci < v->ncountries; ci++) {
    country_t *c = &v->countries[ci];
    c->vis = 0;
    size_t j = 0;
    for (size_t k = 0; k < c->n; k++) {
      uint32_t b = c->blocks[k];
      while (j < v->nvis && v->vis[j].hi <= b) j++;
      if (j < v->nvis && v->vis[j].lo <= b) {
        c->vis++;
        if (c->region && c->region[k] != UINT32_MAX) v->regions[c->region[k]].vis++;
      }
    }
  }
  /* per origin AS */
  if (v->cfg.per_asn) {
    for (uint32_t i = 0; i < v->asn_cap; i++) v->asns[i].vis = 0;
    for (size_t j = 0; j < v->nvis; j++) {
      asn_ent_t *a = vis_asn_get(v, v->vis[j].origin, false);
      if (a) a->vis += v->vis[j].hi - v->vis[j].lo;
    }
  }
  uint32_t step = v->cfg.bin;
  if (v->cfg.per_country)
    for (size_t ci = 0; ci < v->ncountries; ci++) {
      country_t *c = &v->countries[ci];
      emit(out, "country", c->cc, "bgp", t, step, nodata ? -1 : (long)c->vis, v->nfull);
      emit(out, "country", c->cc, "bgp-updates", t, step, c->upd, v->nfull);
      c->upd = 0;
    }
  if (v->cfg.per_region)
    for (size_t r = 0; r < v->nregions; r++) {
      emit(out, "region", v->regions[r].code, "bgp", t, step, nodata ? -1 : (long)v->regions[r].vis, v->nfull);
      emit(out, "region", v->regions[r].code, "bgp-updates", t, step, v->regions[r].upd, v->nfull);
      v->regions[r].upd = 0;
    }
  if (v->cfg.per_asn) {
    /* ascending ASN order for stable output */
    uint32_t *list = malloc(sizeof *list * (v->asn_count ? v->asn_count : 1));
    if (!list) return KP_ERR_NOMEM;
    size_t n = 0;
    for (uint32_t i = 0; i < v->asn_cap; i++)
      if (v->asns[i].as) list[n++] = v->asns[i].as;
    qsort(list, n, sizeof *list, vis_cmp_u32);
    for (size_t i = 0; i < n; i++) {
      asn_ent_t *a = vis_asn_get(v, list[i], false);
      char code[16];
      snprintf(code, sizeof code, "AS%u", a->as);
      emit(out, "asn", code, "bgp", t, step, nodata ? -1 : (long)a->vis, v->nfull);
      emit(out, "asn", code, "bgp-updates", t, step, a->upd, v->nfull);
      a->upd = 0;
    }
    free(list);
  }
  return v->err;
}

kp_status_t kp_bgp_vis_add(kp_bgp_vis_t *v, const kp_bgp_elem_t *e, kp_buf_t *out) {
  uint64_t bin = v->cfg.bin;
  if (!v->started) {
    v->started = true;
    v->bin_start = e->ts - e->ts % bin;
  }
  if (e->ts >= v->bin_start + bin) {
    uint32_t gaps = 0;
    while (e->ts >= v->bin_start + bin) {
      kp_status_t st = close_bin(v, out);
      if (st != KP_OK) return st;
      v->bin_start += bin;
      if (++gaps >= MAX_GAP_BINS) v->bin_start = e->ts - e->ts % bin;
    }
  }
  /* elements older than the open bin (out of order input) are applied to it */
  apply(v, e);
  return v->err;
}

kp_status_t kp_bgp_vis_flush(kp_bgp_vis_t *v, kp_buf_t *out) {
  if (!v->started) return KP_OK;
  kp_status_t st = close_bin(v, out);
  v->bin_start += v->cfg.bin;
  return st;
}
