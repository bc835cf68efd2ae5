/*
 * vis.c: the BGP visibility signal (after IODA's routingtables plugin).
 *
 * State: one table of IPv4 prefixes; each prefix holds a bitset of the peers
 * currently announcing it and the origin AS of its latest announcement. Per
 * peer: its IPv4 route count (full-feed when >= full_feed_min) and liveness.
 *
 * Peer state diagram (driven by elements):
 *   unknown --RIB/ANNOUNCE--> up --STATE(leave Established)--> down (routes cleared)
 *   down --STATE(enter Established)/ANNOUNCE--> up
 *   up --silent for stale_after s--> stale (kept, but not counted as full-feed)
 *
 * Bins: elements arrive in time order; when one falls past the current bin,
 * every finished bin is closed with the state at its end: a /24 is visible
 * when the union of the peer sets of all prefixes covering it holds at least
 * vis_frac of the full-feed peers. Visible /24s are counted per tracked
 * country (its CIDR /24 universe from geo), per region (geo lookup of each
 * tracked /24, done once at start) and per origin AS (of the most specific
 * covering prefix). Announcements and withdrawals are counted per entity too.
 * Output: signal points (docs/formats.md), datasources "bgp" and "bgp-updates".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bgp/bgp.h"
#include "bgp/bgp_impl.h"
#include "geo/geo.h"

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

/* ---- ASN table ---- */
asn_ent_t *vis_asn_get(kp_bgp_vis_t *v, uint32_t as, bool add) {
  if (as == 0) return NULL;
  if (v->cfg.asns) {
    bool ok = false;
    for (size_t i = 0; i < v->cfg.nasns; i++)
      if (v->cfg.asns[i] == as) ok = true;
    if (!ok) return NULL;
  }
  if (add && (v->asn_count + 1) * 2 > v->asn_cap) {
    uint32_t ncap = v->asn_cap ? v->asn_cap * 2 : 1024;
    asn_ent_t *n = calloc(ncap, sizeof *n);
    if (!n) {
      v->err = KP_ERR_NOMEM;
      return NULL;
    }
    for (uint32_t i = 0; i < v->asn_cap; i++) {
      if (!v->asns[i].as) continue;
      uint32_t h = (uint32_t)mix64(v->asns[i].as) & (ncap - 1);
      while (n[h].as) h = (h + 1) & (ncap - 1);
      n[h] = v->asns[i];
    }
    free(v->asns);
    v->asns = n;
    v->asn_cap = ncap;
  }
  if (!v->asn_cap) return NULL;
  uint32_t h = (uint32_t)mix64(as) & (v->asn_cap - 1);
  while (v->asns[h].as) {
    if (v->asns[h].as == as) return &v->asns[h];
    h = (h + 1) & (v->asn_cap - 1);
  }
  if (!add) return NULL;
  v->asns[h].as = as;
  v->asn_count++;
  return &v->asns[h];
}

/* ---- peers ---- */
static uint64_t peer_hash(const kp_bgp_elem_t *e) {
  uint64_t h = e->peer_afi * 1000003ULL ^ e->peer_as;
  for (int i = 0; i < 16; i++) h = h * 131 + e->peer_ip[i];
  return mix64(h);
}

int vis_peer_get(kp_bgp_vis_t *v, const kp_bgp_elem_t *e) {
  uint32_t h = (uint32_t)peer_hash(e) & (v->peer_map_cap - 1);
  while (v->peer_map[h]) {
    peer_t *p = &v->peers[v->peer_map[h] - 1];
    if (p->afi == e->peer_afi && p->as == e->peer_as && memcmp(p->ip, e->peer_ip, 16) == 0)
      return (int)v->peer_map[h] - 1;
    h = (h + 1) & (v->peer_map_cap - 1);
  }
  if (v->npeers >= MAX_PEERS) return -1;
  uint32_t idx = v->npeers;
  if (idx >= v->W * 64) { /* widen every bitset */
    uint32_t nw = v->W * 2;
    uint64_t *nb = calloc((size_t)(v->slots_cap ? v->slots_cap : 1) * nw, sizeof *nb);
    uint64_t *ns = calloc((size_t)34 * nw, sizeof *ns);
    uint64_t *nf = calloc(nw, sizeof *nf);
    if (!nb || !ns || !nf) {
      free(nb), free(ns), free(nf);
      v->err = KP_ERR_NOMEM;
      return -1;
    }
    for (uint32_t s = 0; s < v->nslots; s++) memcpy(nb + (size_t)s * nw, v->bits + (size_t)s * v->W, v->W * 8);
    free(v->bits), free(v->stack), free(v->full);
    v->bits = nb, v->stack = ns, v->full = nf;
    v->W = nw;
  }
  peer_t *p = &v->peers[idx];
  memset(p, 0, sizeof *p);
  p->afi = e->peer_afi;
  memcpy(p->ip, e->peer_ip, 16);
  p->as = e->peer_as;
  v->peer_map[h] = idx + 1;
  v->npeers++;
  return (int)idx;
}

/* ---- prefixes ---- */
static kp_status_t map_grow(kp_bgp_vis_t *v) {
  uint32_t ncap = v->map_cap ? v->map_cap * 2 : 1 << 11;
  uint64_t *nk = calloc(ncap, sizeof *nk);
  uint32_t *ns = malloc(sizeof *ns * ncap);
  if (!nk || !ns) {
    free(nk), free(ns);
    return KP_ERR_NOMEM;
  }
  for (uint32_t i = 0; i < v->map_cap; i++) {
    if (!v->keys[i]) continue;
    uint32_t h = (uint32_t)mix64(v->keys[i]) & (ncap - 1);
    while (nk[h]) h = (h + 1) & (ncap - 1);
    nk[h] = v->keys[i];
    ns[h] = v->slot_of[i];
  }
  free(v->keys), free(v->slot_of);
  v->keys = nk, v->slot_of = ns, v->map_cap = ncap;
  return KP_OK;
}

static kp_status_t slots_grow(kp_bgp_vis_t *v) {
  uint32_t ncap = v->slots_cap ? v->slots_cap * 2 : 1 << 10;
  uint32_t *a = realloc(v->p_addr, sizeof *a * ncap);
  if (a) v->p_addr = a;
  uint8_t *l = realloc(v->p_len, ncap);
  if (l) v->p_len = l;
  uint32_t *o = realloc(v->p_origin, sizeof *o * ncap);
  if (o) v->p_origin = o;
  uint64_t *b = realloc(v->bits, (size_t)ncap * v->W * 8);
  if (b) v->bits = b;
  if (!a || !l || !o || !b) return KP_ERR_NOMEM;
  v->slots_cap = ncap;
  return KP_OK;
}

/* slot of addr/len, created when @p add; -1 if absent or out of memory */
long vis_slot_get(kp_bgp_vis_t *v, uint32_t addr, uint8_t len, bool add) {
  uint64_t key = ((uint64_t)addr << 8 | len) + 1;
  if (add && (uint64_t)(v->nslots + 1) * 2 > v->map_cap && map_grow(v) != KP_OK) return -1;
  if (!v->map_cap) return -1;
  uint32_t h = (uint32_t)mix64(key) & (v->map_cap - 1);
  while (v->keys[h]) {
    if (v->keys[h] == key) return v->slot_of[h];
    h = (h + 1) & (v->map_cap - 1);
  }
  if (!add) return -1;
  if (v->nslots == v->slots_cap && slots_grow(v) != KP_OK) return -1;
  uint32_t s = v->nslots++;
  v->keys[h] = key;
  v->slot_of[h] = s;
  v->p_addr[s] = addr;
  v->p_len[s] = len;
  v->p_origin[s] = 0;
  memset(v->bits + (size_t)s * v->W, 0, v->W * 8);
  return s;
}

void vis_peer_clear(kp_bgp_vis_t *v, uint32_t pi) {
  uint32_t w = pi / 64;
  uint64_t m = ~(1ULL << (pi % 64));
  for (uint32_t s = 0; s < v->nslots; s++) v->bits[(size_t)s * v->W + w] &= m;
  v->peers[pi].n4 = 0;
}

/* ---- setup ---- */
int vis_cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

uint32_t vis_region_id(kp_bgp_vis_t *v, const char *cc, const char *name) {
  char code[72];
  snprintf(code, sizeof code, "%s/%s", cc, name);
  for (size_t i = 0; i < v->nregions; i++)
    if (strcmp(v->regions[i].code, code) == 0) return (uint32_t)i;
  if (v->nregions == v->regions_cap) {
    size_t nc = v->regions_cap ? v->regions_cap * 2 : 64;
    region_t *n = realloc(v->regions, sizeof *n * nc);
    if (!n) return UINT32_MAX;
    v->regions = n, v->regions_cap = nc;
  }
  region_t *r = &v->regions[v->nregions];
  memset(r, 0, sizeof *r);
  memcpy(r->code, code, sizeof code);
  return (uint32_t)v->nregions++;
}

static kp_status_t load_countries(kp_bgp_vis_t *v) {
  size_t n = 0;
  while (v->cfg.countries && v->cfg.countries[n]) n++;
  if (!n || !v->cfg.geo) return KP_OK;
  v->countries = calloc(n, sizeof *v->countries);
  if (!v->countries) return KP_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    country_t *c = &v->countries[i];
    const char *cc = v->cfg.countries[i];
    c->cc[0] = (char)(cc[0] & ~0x20), c->cc[1] = cc[0] ? (char)(cc[1] & ~0x20) : 0;
    v->ncountries++;
    uint32_t *blocks = NULL;
    size_t nb = 0;
    kp_status_t st = kp_geo_country_blocks(v->cfg.geo, c->cc, &blocks, &nb);
    if (st == KP_ERR_NOTFOUND) continue;
    if (st != KP_OK) return st;
    for (size_t k = 0; k < nb; k++) blocks[k] >>= 8;
    qsort(blocks, nb, sizeof *blocks, vis_cmp_u32);
    c->blocks = blocks;
    c->n = nb;
    if (!v->cfg.per_region) continue;
    c->region = malloc(sizeof *c->region * (nb ? nb : 1));
    if (!c->region) return KP_ERR_NOMEM;
    for (size_t k = 0; k < nb; k++) {
      kp_addr_t a = kp_addr_v4(blocks[k] << 8);
      kp_geo_info_t gi;
      c->region[k] = UINT32_MAX;
      if (kp_geo_lookup(v->cfg.geo, &a, &gi) == KP_OK && gi.region[0]) c->region[k] = vis_region_id(v, c->cc, gi.region);
    }
  }
  return KP_OK;
}

kp_status_t kp_bgp_vis_new(const kp_bgp_vis_config_t *cfg, kp_bgp_vis_t **out) {
  *out = NULL;
  kp_bgp_vis_t *v = calloc(1, sizeof *v);
  if (!v) return KP_ERR_NOMEM;
  v->cfg = *cfg;
  if (!v->cfg.bin) v->cfg.bin = 300;
  if (!v->cfg.full_feed_min) v->cfg.full_feed_min = 400000;
  if (v->cfg.vis_frac <= 0 || v->cfg.vis_frac > 1) v->cfg.vis_frac = 0.5;
  v->W = 1;
  v->peer_map_cap = 2 * MAX_PEERS;
  v->peers = calloc(MAX_PEERS, sizeof *v->peers);
  v->peer_map = calloc(v->peer_map_cap, sizeof *v->peer_map);
  v->stack = calloc(34, sizeof *v->stack);
  v->full = calloc(1, sizeof *v->full);
  kp_status_t st = KP_ERR_NOMEM;
  if (v->peers && v->peer_map && v->stack && v->full && slots_grow(v) == KP_OK && map_grow(v) == KP_OK)
    st = load_countries(v);
  if (st != KP_OK) {
    kp_bgp_vis_free(v);
    return st;
  }
  *out = v;
  return KP_OK;
}

void kp_bgp_vis_free(kp_bgp_vis_t *v) {
  if (!v) return;
  for (size_t i = 0; i < v->ncountries; i++) free(v->countries[i].blocks), free(v->countries[i].region);
  free(v->countries), free(v->regions), free(v->asns);
  free(v->peers), free(v->peer_map), free(v->keys), free(v->slot_of);
  free(v->p_addr), free(v->p_len), free(v->p_origin), free(v->bits);
  free(v->vis), free(v->stack), free(v->full);
  free(v);
}

void kp_bgp_vis_stats(const kp_bgp_vis_t *v, size_t *peers, size_t *full_feed) {
  *peers = v->npeers;
  size_t f = 0;
  for (uint32_t i = 0; i < v->npeers; i++)
    if (v->peers[i].up && v->peers[i].n4 >= v->cfg.full_feed_min) f++;
  *full_feed = f;
}
