/*
 * bgp_impl.h: PRIVATE to src/bgp/ (not part of the module API, which is bgp.h).
 * The decoded views shared by the record decoders, the bgpdump formatter and
 * the element iterator.
 *
 * Reading rule ("lenient stream", the semantics bgpdump's output depends on):
 * a fixed-size field read past the end of its enclosing span yields the bytes
 * that exist followed by zeros, and leaves the cursor at the end of the span.
 * Every read is bounded by a kp_cur_t; nothing is ever read outside a record.
 * Structural damage that bgpdump cannot survive either (a prefix longer than
 * its address family, a peer index outside the table, a short ET header) is
 * reported as KP_ERR_INVAL and the whole record is skipped.
 */
#ifndef KP_BGP_IMPL_H
#define KP_BGP_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/cursor.h"
#include "bgp/bgp.h"

/* ---- lenient stream over kp_cur_t ---- */
static inline void kp_ms_get(kp_cur_t *c, void *dst, size_t n) {
  size_t left = c->len - c->off;
  if (left >= n) {
    memcpy(dst, c->p + c->off, n);
    c->off += n;
  } else {
    memcpy(dst, c->p + c->off, left);
    memset((uint8_t *)dst + left, 0, n - left);
    c->off = c->len;
  }
}
static inline uint8_t kp_ms_u8(kp_cur_t *c) {
  if (c->off < c->len) return c->p[c->off++];
  return 0;
}
static inline uint16_t kp_ms_u16(kp_cur_t *c) {
  if (c->len - c->off >= 2) {
    const uint8_t *p = c->p + c->off;
    c->off += 2;
    return (uint16_t)(p[0] << 8 | p[1]);
  }
  uint8_t b[2];
  kp_ms_get(c, b, 2);
  return (uint16_t)(b[0] << 8 | b[1]);
}
static inline uint32_t kp_ms_u32(kp_cur_t *c) {
  uint8_t b[4];
  if (c->len - c->off >= 4) {
    const uint8_t *p = c->p + c->off;
    c->off += 4;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  }
  kp_ms_get(c, b, 4);
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static inline uint32_t kp_ms_asn(kp_cur_t *c, uint8_t asn_len) {
  return asn_len == 4 ? kp_ms_u32(c) : kp_ms_u16(c);
}
/** Split off min(n, left) bytes as a sub-span and advance past them. */
static inline kp_cur_t kp_ms_sub(kp_cur_t *c, size_t n) {
  size_t left = c->len - c->off;
  if (n > left) n = left;
  kp_cur_t s = kp_cur_make(c->p + c->off, n);
  c->off += n;
  return s;
}

/* ---- NLRI walking ---- */
typedef struct kp_nlri_it {
  kp_cur_t c;
  uint8_t afi;   /* 1 or 2 */
  bool addpath;
} kp_nlri_it_t;

typedef struct kp_pfx {
  uint8_t afi, len;
  uint8_t addr[16]; /* host bits masked */
  uint32_t path_id;
} kp_pfx_t;

/** 1: a prefix; 0: end (a truncated last prefix ends the list, like bgpdump); -1: bad length. */
int kp_nlri_next(kp_nlri_it_t *it, kp_pfx_t *p);
/** KP_OK or KP_ERR_INVAL if any prefix length exceeds the address family. */
bool kp_nlri_valid(const uint8_t *p, size_t n, uint8_t afi, bool addpath);

/* ---- attributes ---- */
#define KP_ATTR_BIT(t) (1u << ((t) - 1))
enum {
  KP_ATTR_ORIGIN = 1, KP_ATTR_AS_PATH = 2, KP_ATTR_NEXT_HOP = 3, KP_ATTR_MED = 4,
  KP_ATTR_LOCAL_PREF = 5, KP_ATTR_ATOMIC_AGG = 6, KP_ATTR_AGGREGATOR = 7,
  KP_ATTR_COMMUNITIES = 8, KP_ATTR_MP_REACH = 14, KP_ATTR_MP_UNREACH = 15,
  KP_ATTR_AS4_PATH = 17, KP_ATTR_AS4_AGGREGATOR = 18, KP_ATTR_LARGE_COMM = 32,
};
#define KP_AS_TRANS 23456u

typedef struct kp_mp_nlri {
  uint8_t nh_len;
  uint8_t nh[16];
  uint8_t nh_local[16];
  const uint8_t *nlri;
  uint32_t nlri_len;
} kp_mp_nlri_t;

/* MP slots: afi 0..2 x safi 0..3 -> bit (afi * 4 + safi) */
#define KP_MP_SLOT(afi, safi) ((afi) * 4 + (safi))

typedef struct kp_bgp_attrs {
  uint32_t flag;        /* KP_ATTR_BIT(type) for every type <= 32 seen (bgpdump semantics) */
  uint8_t origin;       /* 255 when absent */
  uint8_t nexthop[4];   /* 255.255.255.255 when absent */
  uint32_t med, local_pref;
  uint32_t agg_as;
  uint8_t agg_addr[4];  /* 255.255.255.255 when absent */
  uint32_t new_agg_as;
  uint8_t new_agg_addr[4];
  bool has_new_agg;
  /* AS path actually in effect (after AS4 merging) and its ASN width */
  const uint8_t *path;
  uint32_t path_len;
  uint8_t path_asn_len;
  bool has_path;
  const uint8_t *as4path;
  uint32_t as4path_len;
  bool has_as4path;
  const uint8_t *comm;
  uint32_t comm_len;
  bool has_comm;
  const uint8_t *lcomm;
  uint32_t lcomm_len;
  uint16_t reach_mask, unreach_mask;
  kp_mp_nlri_t reach[12];
  kp_mp_nlri_t unreach[12];
  bool bad;             /* a printed NLRI list holds an impossible prefix length */
} kp_bgp_attrs_t;

struct kp_mrt_peer {
  uint8_t afi;
  uint8_t ip[16];
  uint32_t as;
};

struct kp_mrt_ctx {
  struct kp_mrt_peer *peers;
  uint32_t npeers, peers_cap;
  bool have_pit;
  const char *err;
  kp_bgp_attrs_t attrs;           /* scratch for the record being decoded */
  uint8_t merged[3 * 65536 + 8];  /* AS4 merge result (bounded by 2 x AS_PATH + AS4_PATH) */
  char commstr[8200];
  char tail[20000];               /* the shared end of a line: path..aggregator */
};

/** Parse an attribute block (2-byte total length first) from @p s. Fills c->attrs. */
void kp_attrs_parse(kp_mrt_ctx_t *c, kp_cur_t *s, uint8_t asn_len, bool addpath);
/** bgpdump's AS path text into out (cap bytes; cut with "..." past 7900 bytes, or
 * earlier when cap is smaller); returns its length. Never writes past out + cap. */
size_t kp_aspath_str(const uint8_t *p, uint32_t n, uint8_t asn_len, char *out, size_t cap);
/** Largest kp_aspath_str text (with its NUL) for any input and cap. */
#define KP_ASPATH_STR_MAX (8000 - 100 + 18)
/** bgpdump's community text (with its leading space) into out (>= 8200 bytes). */
size_t kp_comm_str(const uint8_t *p, uint32_t n, char *out);
/** Last AS of the last segment when it is a sequence, else 0. */
uint32_t kp_aspath_origin(const uint8_t *p, uint32_t n, uint8_t asn_len);

/* ---- decoded records ---- */
typedef struct kp_bgp_msg {
  uint8_t afi;          /* 1 or 2: of the peer addresses */
  uint8_t peer[16];     /* the first address of the record: the remote peer (also for LOCAL) */
  uint32_t peer_as;
  uint8_t shown[16];    /* the address bgpdump prints: the second one for LOCAL_ADDPATH (10, 11), */
  uint32_t shown_as;    /* which bgpdump 1.6 treats as received messages */
  bool local;           /* sent by the collector (subtypes 6, 7, 10, 11) */
  bool shown_local;     /* bgpdump's idea of it (6, 7 only): BGP4MP_LOCAL names */
  bool addpath;
  uint8_t asn_len;
  kp_cur_t withdrawn;   /* IPv4 NLRI */
  kp_cur_t announced;   /* IPv4 NLRI */
} kp_bgp_msg_t;

typedef struct kp_bgp_state {
  uint8_t afi;
  uint8_t peer[16];
  uint32_t peer_as;
  uint16_t old_state, new_state;
} kp_bgp_state_t;

/* Results of the decoders: OK = decoded, NOTFOUND = nothing to show, INVAL = corrupt. */
kp_status_t kp_bgp4mp_decode(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_bgp_msg_t *m, kp_bgp_state_t *st,
                             bool *is_state);
kp_status_t kp_mrtd_decode(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_bgp_msg_t *m, kp_bgp_state_t *st,
                           bool *is_state);
/** PEER_INDEX_TABLE into c->peers. */
kp_status_t kp_td2_peer_index(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r);

typedef struct kp_td2_rib {
  uint8_t afi;
  bool addpath;
  kp_pfx_t pfx;
  uint16_t count;
  kp_cur_t entries;   /* positioned at the first entry */
} kp_td2_rib_t;

typedef struct kp_td2_entry {
  const struct kp_mrt_peer *peer;
  uint32_t originated;
  uint32_t path_id;
} kp_td2_entry_t;

/** RIB_IPV4/IPV6 unicast (+ADD-PATH) header. NOTFOUND for subtypes bgpdump does not print. */
kp_status_t kp_td2_rib_decode(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_td2_rib_t *rib);
/** Next entry: fills *e and c->attrs. Returns INVAL for a peer index outside the table. */
kp_status_t kp_td2_entry_next(kp_mrt_ctx_t *c, kp_td2_rib_t *rib, kp_td2_entry_t *e);
/** RIB_GENERIC and multicast RIBs, for elements only: afi/safi + one NLRI. */
kp_status_t kp_td2_generic_decode(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_td2_rib_t *rib, uint16_t *safi);

typedef struct kp_td1 {
  uint8_t pfx[16];
  uint8_t mask;
  uint8_t peer[16];
  uint32_t peer_as;
  bool v6;            /* subtype 2 or 4 carry IPv6 addresses */
} kp_td1_t;
kp_status_t kp_td1_decode(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_td1_t *t);

/* ---- fast text ---- */
/** Decimal of v into p; returns chars written (<= 10). */
size_t kp_fmt_u32(char *p, uint32_t v);
/** inet_ntoa of 4 bytes; returns length (<= 15). */
size_t kp_fmt_v4(char *p, const uint8_t a[4]);
/** bgpdump's IPv6 text (longest zero run, even of one group; ::ffff:/:: v4 forms). */
size_t kp_fmt_v6(char *p, const uint8_t a[16]);

/* ---- visibility state (vis.c, vis_bin.c) ---- */
#define MAX_PEERS 4096
#define MAX_GAP_BINS 10000

typedef struct peer {
  uint8_t afi;
  uint8_t ip[16];
  uint32_t as;
  uint32_t n4;        /* IPv4 routes held */
  uint32_t last_seen;
  bool up;
} peer_t;

typedef struct region {
  char code[72];      /* "CC/Region" */
  uint32_t vis, upd;
} region_t;

typedef struct country {
  char cc[3];
  uint32_t *blocks;   /* /24 indexes (addr >> 8), sorted */
  uint32_t *region;   /* region index per block, UINT32_MAX = none */
  size_t n;
  uint32_t vis, upd;
} country_t;

typedef struct asn_ent {
  uint32_t as;        /* 0 = empty slot */
  uint32_t vis, upd;
} asn_ent_t;

typedef struct vrange {
  uint32_t lo, hi;    /* /24 indexes [lo, hi) */
  uint32_t origin;
} vrange_t;

struct kp_bgp_vis {
  kp_bgp_vis_config_t cfg;
  peer_t *peers;
  uint32_t npeers;
  uint32_t *peer_map;   /* open addressing: peer index + 1, 0 = empty */
  uint32_t peer_map_cap;
  /* prefix table */
  uint64_t *keys;       /* (addr << 8 | len) + 1, 0 = empty; open addressing */
  uint32_t *slot_of;    /* key index -> slot */
  uint32_t map_cap;
  uint32_t *p_addr;
  uint8_t *p_len;
  uint32_t *p_origin;
  uint64_t *bits;       /* nslots x W */
  uint32_t nslots, slots_cap, W;
  /* entities */
  country_t *countries;
  size_t ncountries;
  region_t *regions;
  size_t nregions, regions_cap;
  asn_ent_t *asns;
  uint32_t asn_cap, asn_count;
  /* bins */
  bool started;
  uint64_t bin_start;   /* 64-bit: bin arithmetic near 2^32 s must not wrap */
  /* scratch */
  vrange_t *vis;
  size_t nvis, vis_cap;
  uint64_t *stack;      /* 34 x W */
  uint64_t *full;       /* W: full-feed peers */
  uint32_t nfull, thr;
  kp_status_t err;
};

asn_ent_t *vis_asn_get(kp_bgp_vis_t *v, uint32_t as, bool add);
int vis_peer_get(kp_bgp_vis_t *v, const kp_bgp_elem_t *e);
long vis_slot_get(kp_bgp_vis_t *v, uint32_t addr, uint8_t len, bool add);
void vis_peer_clear(kp_bgp_vis_t *v, uint32_t pi);
int vis_cmp_u32(const void *a, const void *b);
uint32_t vis_region_id(kp_bgp_vis_t *v, const char *cc, const char *name);

#endif
