/*
 * geo.c: address -> country / region / ASN from CIDR lists, a keepon geo table, MaxMind-format
 * databases (libmaxminddb) and the ip-location-db ASN range CSV.
 *
 * Layout (immutable after kp_geo_open, hence thread-safe for lookups):
 *   pfx[]   every CIDR-list and geo-table prefix, sorted by key = (net << 6 | len). A lookup
 *           probes lengths 32..0 with a binary search each (longest prefix first) and fills
 *           each still-empty field from the first entry that has it ("first answer wins").
 *   strs    one string pool (region and AS names); entries hold offsets, 0 = none.
 *   asn[]   ASN ranges (sorted, from the range CSV), binary searched.
 *   city/asn_db   MMDB_s handles, consulted last for fields still empty.
 * An --asn-mmdb path ending in ".csv" is read as the ip-location-db range CSV, because the
 * registry build of @ip-location-db ships the ASN data only as CSV (scripts/geodata.sh).
 */
#include "geo/geo.h"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/log.h"
#include "geo/geo_parse.h"

#define TAG "geo"
#define GEO_FILE_CAP ((size_t)256 << 20)

typedef struct pfx_entry {
  uint64_t key;        /* net << 6 | len */
  char cc[2];
  uint32_t region;     /* offset into strs, 0 = none */
  uint32_t asn;
  uint32_t as_name;    /* offset into strs, 0 = none */
} pfx_entry_t;

typedef struct asn_entry {
  uint32_t first, last, asn, as_name;
} asn_entry_t;

struct kp_geo {
  pfx_entry_t *pfx;
  size_t npfx, cappfx;
  asn_entry_t *asn;
  size_t nasn, capasn;
  kp_buf_t strs;
  MMDB_s city, asndb;
  bool has_city, has_asndb;
};

static uint64_t mkkey(uint32_t net, uint8_t len) { return ((uint64_t)net << 6) | len; }
static uint32_t mask_of(unsigned len) { return len == 0 ? 0 : 0xFFFFFFFFu << (32 - len); }

static kp_status_t intern(kp_geo_t *g, const char *s, uint32_t *off) {
  *off = 0;
  if (!s || !*s) return KP_OK;
  if (g->strs.len > UINT32_MAX - 256) return KP_ERR_NOMEM;
  *off = (uint32_t)g->strs.len;
  return kp_buf_append(&g->strs, s, strlen(s) + 1);
}

static kp_status_t add_row(void *ctx, const kp_geo_row_t *row) {
  kp_geo_t *g = ctx;
  if (g->npfx == g->cappfx) {
    size_t nc = g->cappfx ? g->cappfx * 2 : 1024;
    pfx_entry_t *np = realloc(g->pfx, nc * sizeof *np);
    if (!np) return KP_ERR_NOMEM;
    g->pfx = np;
    g->cappfx = nc;
  }
  pfx_entry_t *e = &g->pfx[g->npfx];
  memset(e, 0, sizeof *e);
  e->key = mkkey(row->net & mask_of(row->len), row->len);
  memcpy(e->cc, row->cc, 2);
  e->asn = row->asn;
  kp_status_t st = intern(g, row->region, &e->region);
  if (st == KP_OK) st = intern(g, row->as_name, &e->as_name);
  if (st == KP_OK) g->npfx++;
  return st;
}

typedef struct cidr_ctx {
  kp_geo_t *g;
  char cc[3];
} cidr_ctx_t;

static kp_status_t add_cidr_row(void *ctx, const kp_geo_row_t *row) {
  cidr_ctx_t *c = ctx;
  kp_geo_row_t r = *row;
  memcpy(r.cc, c->cc, 3);
  return add_row(c->g, &r);
}

static kp_status_t add_asn(void *ctx, const kp_geo_asn_range_t *r) {
  kp_geo_t *g = ctx;
  if (g->nasn == g->capasn) {
    size_t nc = g->capasn ? g->capasn * 2 : 4096;
    asn_entry_t *na = realloc(g->asn, nc * sizeof *na);
    if (!na) return KP_ERR_NOMEM;
    g->asn = na;
    g->capasn = nc;
  }
  asn_entry_t *e = &g->asn[g->nasn];
  e->first = r->first;
  e->last = r->last;
  e->asn = r->asn;
  kp_status_t st = intern(g, r->as_name, &e->as_name);
  if (st == KP_OK) g->nasn++;
  return st;
}

static int cmp_pfx(const void *a, const void *b) {
  uint64_t x = ((const pfx_entry_t *)a)->key, y = ((const pfx_entry_t *)b)->key;
  return x < y ? -1 : x > y;
}
static int cmp_asn(const void *a, const void *b) {
  uint32_t x = ((const asn_entry_t *)a)->first, y = ((const asn_entry_t *)b)->first;
  return x < y ? -1 : x > y;
}

/* "<dir>/kz.cidr" -> "KZ"; false when the name is not two letters + ".cidr". */
static bool cc_from_path(const char *path, char cc[3]) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  if (strlen(base) != 7 || strcmp(base + 2, ".cidr") != 0) return false;
  for (int i = 0; i < 2; i++) {
    char ch = base[i];
    if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
    if (ch < 'A' || ch > 'Z') return false;
    cc[i] = ch;
  }
  cc[2] = 0;
  return true;
}


static kp_status_t load_file(const char *path, kp_status_t (*parse)(const void *, size_t, void *),
                             void *ctx) {
  kp_buf_t b;
  kp_buf_init(&b, GEO_FILE_CAP);
  kp_status_t st = kp_file_read(path, &b);
  if (st != KP_OK) {
    kp_log_warn(TAG, "%s", path);
  } else {
    st = parse(b.data ? b.data : (const uint8_t *)"", b.len, ctx);
    if (st != KP_OK) kp_log_error(TAG, "%s: %s", path, kp_strstatus(st));
  }
  kp_buf_free(&b);
  return st;
}

static kp_status_t parse_cidr_cb(const void *p, size_t n, void *ctx) {
  size_t line = 0;
  kp_status_t st = kp_geo_parse_cidr(p, n, add_cidr_row, ctx, &line);
  if (st != KP_OK) kp_log_error(TAG, "CIDR list: bad line %zu", line);
  return st;
}
static kp_status_t parse_table_cb(const void *p, size_t n, void *ctx) {
  size_t line = 0;
  kp_status_t st = kp_geo_parse_table(p, n, add_row, ctx, &line);
  if (st != KP_OK) kp_log_error(TAG, "geo table: bad line %zu", line);
  return st;
}
static kp_status_t parse_asn_cb(const void *p, size_t n, void *ctx) {
  size_t line = 0;
  kp_status_t st = kp_geo_parse_asn_csv(p, n, add_asn, ctx, &line);
  if (st != KP_OK) kp_log_error(TAG, "ASN CSV: bad line %zu", line);
  return st;
}

static bool ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

static kp_status_t open_mmdb(const char *path, MMDB_s *db) {
  int rc = MMDB_open(path, MMDB_MODE_MMAP, db);
  if (rc != MMDB_SUCCESS) {
    kp_log_error(TAG, "%s: %s", path, MMDB_strerror(rc));
    return rc == MMDB_FILE_OPEN_ERROR ? KP_ERR_IO : KP_ERR_INVAL;
  }
  return KP_OK;
}

kp_status_t kp_geo_open(const kp_geo_config_t *cfg, kp_geo_t **out) {
  *out = NULL;
  kp_geo_t *g = calloc(1, sizeof *g);
  if (!g) return KP_ERR_NOMEM;
  kp_buf_init(&g->strs, (size_t)1 << 31);
  kp_status_t st = kp_buf_putc(&g->strs, 0); /* offset 0 = no string */
  for (size_t i = 0; st == KP_OK && cfg->cidr_files && cfg->cidr_files[i]; i++) {
    cidr_ctx_t c = {.g = g};
    if (!cc_from_path(cfg->cidr_files[i], c.cc)) {
      kp_log_error(TAG, "%s: a CIDR list must be named <cc>.cidr", cfg->cidr_files[i]);
      st = KP_ERR_INVAL;
      break;
    }
    st = load_file(cfg->cidr_files[i], parse_cidr_cb, &c);
  }
  if (st == KP_OK && cfg->table) st = load_file(cfg->table, parse_table_cb, g);
  if (st == KP_OK && cfg->city_mmdb) {
    st = open_mmdb(cfg->city_mmdb, &g->city);
    g->has_city = st == KP_OK;
  }
  if (st == KP_OK && cfg->asn_mmdb) {
    if (ends_with(cfg->asn_mmdb, ".csv")) {
      st = load_file(cfg->asn_mmdb, parse_asn_cb, g);
    } else {
      st = open_mmdb(cfg->asn_mmdb, &g->asndb);
      g->has_asndb = st == KP_OK;
    }
  }
  if (st != KP_OK) {
    kp_geo_close(g);
    return st;
  }
  if (g->npfx) qsort(g->pfx, g->npfx, sizeof *g->pfx, cmp_pfx);
  if (g->nasn) qsort(g->asn, g->nasn, sizeof *g->asn, cmp_asn);
  *out = g;
  return KP_OK;
}

void kp_geo_close(kp_geo_t *g) {
  if (!g) return;
  if (g->has_city) MMDB_close(&g->city);
  if (g->has_asndb) MMDB_close(&g->asndb);
  free(g->pfx);
  free(g->asn);
  kp_buf_free(&g->strs);
  free(g);
}

/* First entry with exactly this key (entries with equal keys keep file order: qsort is not
 * stable, so ties are resolved by scanning all equal keys). */
static size_t find_key(const kp_geo_t *g, uint64_t key, size_t *count) {
  size_t lo = 0, hi = g->npfx;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (g->pfx[mid].key < key) lo = mid + 1;
    else hi = mid;
  }
  size_t n = 0;
  while (lo + n < g->npfx && g->pfx[lo + n].key == key) n++;
  *count = n;
  return lo;
}

static void copy_str(char *dst, size_t cap, const char *src, size_t srclen) {
  if (srclen >= cap) srclen = cap - 1;
  memcpy(dst, src, srclen);
  dst[srclen] = 0;
}

static void mmdb_str(MMDB_entry_s *e, char *dst, size_t cap, const char *const *path) {
  MMDB_entry_data_s d;
  if (MMDB_aget_value(e, &d, path) == MMDB_SUCCESS && d.has_data &&
      d.type == MMDB_DATA_TYPE_UTF8_STRING)
    copy_str(dst, cap, d.utf8_string, d.data_size);
}

static MMDB_lookup_result_s mmdb_lookup_v4(const MMDB_s *db, uint32_t ip) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(ip);
  int err = 0;
  MMDB_lookup_result_s r = MMDB_lookup_sockaddr(db, (const struct sockaddr *)&sa, &err);
  if (err != MMDB_SUCCESS) r.found_entry = false;
  return r;
}

static void city_fields(MMDB_entry_s *e, kp_geo_info_t *out) {
  static const char *const cc1[] = {"country_code", NULL};
  static const char *const cc2[] = {"country", "iso_code", NULL};
  static const char *const rg1[] = {"state1", NULL};
  static const char *const rg2[] = {"subdivisions", "0", "names", "en", NULL};
  if (!out->cc[0]) mmdb_str(e, out->cc, sizeof out->cc, cc1);
  if (!out->cc[0]) mmdb_str(e, out->cc, sizeof out->cc, cc2);
  if (!out->region[0]) mmdb_str(e, out->region, sizeof out->region, rg1);
  if (!out->region[0]) mmdb_str(e, out->region, sizeof out->region, rg2);
}

kp_status_t kp_geo_lookup(const kp_geo_t *g, const kp_addr_t *a, kp_geo_info_t *out) {
  memset(out, 0, sizeof *out);
  if (a->family != 4) return KP_ERR_NOTFOUND; /* the sources here are IPv4 */
  uint32_t ip = kp_addr_v4_u32(a);
  const char *strs = (const char *)g->strs.data;
  for (int len = 32; len >= 0 && g->npfx; len--) {
    size_t cnt;
    size_t i = find_key(g, mkkey(ip & mask_of((unsigned)len), (uint8_t)len), &cnt);
    for (size_t k = i; k < i + cnt; k++) {
      const pfx_entry_t *e = &g->pfx[k];
      if (!out->cc[0] && e->cc[0]) { out->cc[0] = e->cc[0]; out->cc[1] = e->cc[1]; }
      if (!out->region[0] && e->region)
        copy_str(out->region, sizeof out->region, strs + e->region, strlen(strs + e->region));
      if (!out->asn && e->asn) out->asn = e->asn;
      if (!out->as_name[0] && e->as_name)
        copy_str(out->as_name, sizeof out->as_name, strs + e->as_name, strlen(strs + e->as_name));
    }
  }
  if (g->nasn && !out->asn) {
    size_t lo = 0, hi = g->nasn;
    while (lo < hi) { /* last range with first <= ip */
      size_t mid = lo + (hi - lo) / 2;
      if (g->asn[mid].first <= ip) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && g->asn[lo - 1].last >= ip) {
      out->asn = g->asn[lo - 1].asn;
      if (!out->as_name[0] && g->asn[lo - 1].as_name) {
        const char *s = strs + g->asn[lo - 1].as_name;
        copy_str(out->as_name, sizeof out->as_name, s, strlen(s));
      }
    }
  }
  if (g->has_city && (!out->cc[0] || !out->region[0])) {
    MMDB_lookup_result_s r = mmdb_lookup_v4(&g->city, ip);
    if (r.found_entry) city_fields(&r.entry, out);
  }
  if (g->has_asndb && !out->asn) {
    MMDB_lookup_result_s r = mmdb_lookup_v4(&g->asndb, ip);
    if (r.found_entry) {
      MMDB_entry_data_s d;
      static const char *const an[] = {"autonomous_system_number", NULL};
      static const char *const ao[] = {"autonomous_system_organization", NULL};
      if (MMDB_aget_value(&r.entry, &d, an) == MMDB_SUCCESS && d.has_data &&
          d.type == MMDB_DATA_TYPE_UINT32)
        out->asn = d.uint32;
      if (!out->as_name[0]) mmdb_str(&r.entry, out->as_name, sizeof out->as_name, ao);
    }
  }
  return (out->cc[0] || out->region[0] || out->asn || out->as_name[0]) ? KP_OK
                                                                        : KP_ERR_NOTFOUND;
}

/* ---- /24 enumeration ---- */

typedef struct blocks_acc {
  uint32_t *v;
  size_t n, cap;
} blocks_acc_t;

static kp_status_t acc_range(blocks_acc_t *acc, uint32_t net, unsigned len) {
  uint32_t first = net & 0xFFFFFF00u;
  uint64_t count = len >= 24 ? 1 : (uint64_t)1 << (24 - len);
  if (acc->n + count > ((size_t)1 << 24) + 16) return KP_ERR_RANGE;
  if (acc->n + count > acc->cap) {
    size_t nc = acc->cap ? acc->cap : 1024;
    while (nc < acc->n + count) nc *= 2;
    uint32_t *nv = realloc(acc->v, nc * sizeof *nv);
    if (!nv) return KP_ERR_NOMEM;
    acc->v = nv;
    acc->cap = nc;
  }
  for (uint64_t i = 0; i < count; i++) acc->v[acc->n++] = first + (uint32_t)(i << 8);
  return KP_OK;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void acc_finish(blocks_acc_t *acc, uint32_t **blocks, size_t *n) {
  if (acc->n) qsort(acc->v, acc->n, sizeof *acc->v, cmp_u32);
  size_t w = 0;
  for (size_t i = 0; i < acc->n; i++)
    if (w == 0 || acc->v[w - 1] != acc->v[i]) acc->v[w++] = acc->v[i];
  *blocks = acc->v;
  *n = w;
}

static kp_status_t acc_row(void *ctx, const kp_geo_row_t *row) {
  return acc_range(ctx, row->net & mask_of(row->len), row->len);
}

kp_status_t kp_geo_cidr_blocks(const char *path, uint32_t **blocks, size_t *n) {
  *blocks = NULL;
  *n = 0;
  kp_buf_t b;
  kp_buf_init(&b, GEO_FILE_CAP);
  blocks_acc_t acc = {0};
  size_t line = 0;
  kp_status_t st = kp_file_read(path, &b);
  if (st == KP_OK) {
    st = kp_geo_parse_cidr(b.data ? b.data : (const uint8_t *)"", b.len, acc_row, &acc, &line);
    if (st != KP_OK) kp_log_error(TAG, "%s:%zu: %s", path, line, kp_strstatus(st));
  } else {
    kp_log_warn(TAG, "%s", path);
  }
  kp_buf_free(&b);
  if (st != KP_OK) {
    free(acc.v);
    return st;
  }
  acc_finish(&acc, blocks, n);
  return KP_OK;
}

/* Walk the IPv4 part of an MMDB search tree down to /24 granularity; a data record at depth d
 * covers 2^(24-d) blocks; deeper splits are resolved by a lookup of the block's first address. */
typedef struct walk {
  const kp_geo_t *g;
  const char *cc;
  blocks_acc_t *acc;
} walk_t;

static bool entry_is_cc(walk_t *w, MMDB_entry_s *e) {
  kp_geo_info_t info;
  memset(&info, 0, sizeof info);
  city_fields(e, &info);
  return info.cc[0] == w->cc[0] && info.cc[1] == w->cc[1];
}

static kp_status_t walk_node(walk_t *w, uint32_t node, uint32_t net, unsigned depth) {
  if (depth == 24) {
    MMDB_lookup_result_s r = mmdb_lookup_v4(&w->g->city, net);
    if (r.found_entry && entry_is_cc(w, &r.entry)) return acc_range(w->acc, net, 24);
    return KP_OK;
  }
  MMDB_search_node_s sn;
  if (MMDB_read_node(&w->g->city, node, &sn) != MMDB_SUCCESS) return KP_ERR_INVAL;
  for (int side = 0; side < 2; side++) {
    uint8_t type = side ? sn.right_record_type : sn.left_record_type;
    uint64_t rec = side ? sn.right_record : sn.left_record;
    uint32_t sub = net | (side ? (uint32_t)1 << (31 - depth) : 0);
    kp_status_t st = KP_OK;
    if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
      st = walk_node(w, (uint32_t)rec, sub, depth + 1);
    } else if (type == MMDB_RECORD_TYPE_DATA) {
      MMDB_entry_s e = side ? sn.right_record_entry : sn.left_record_entry;
      if (entry_is_cc(w, &e)) st = acc_range(w->acc, sub, depth + 1);
    }
    if (st != KP_OK) return st;
  }
  return KP_OK;
}

kp_status_t kp_geo_country_blocks(const kp_geo_t *g, const char *cc, uint32_t **blocks,
                                  size_t *n) {
  *blocks = NULL;
  *n = 0;
  if (!cc || strlen(cc) != 2) return KP_ERR_INVAL;
  char up[3] = {(char)(cc[0] & ~0x20), (char)(cc[1] & ~0x20), 0};
  blocks_acc_t acc = {0};
  kp_status_t st = KP_OK;
  for (size_t i = 0; st == KP_OK && i < g->npfx; i++) {
    const pfx_entry_t *e = &g->pfx[i];
    if (e->cc[0] == up[0] && e->cc[1] == up[1])
      st = acc_range(&acc, (uint32_t)(e->key >> 6), (unsigned)(e->key & 63));
  }
  if (st == KP_OK && acc.n == 0 && g->has_city) {
    walk_t w = {.g = g, .cc = up, .acc = &acc};
    uint32_t node = 0;
    /* IPv6 trees keep IPv4 under ::/96; follow 96 left branches */
    if (g->city.metadata.ip_version == 6) {
      for (int i = 0; i < 96 && st == KP_OK; i++) {
        MMDB_search_node_s sn;
        if (MMDB_read_node(&g->city, node, &sn) != MMDB_SUCCESS ||
            sn.left_record_type != MMDB_RECORD_TYPE_SEARCH_NODE)
          st = KP_ERR_NOTFOUND;
        else
          node = (uint32_t)sn.left_record;
      }
    }
    if (st == KP_OK) st = walk_node(&w, node, 0, 0);
  }
  if (st != KP_OK) {
    free(acc.v);
    return st;
  }
  acc_finish(&acc, blocks, n);
  return acc.n ? KP_OK : KP_ERR_NOTFOUND;
}
