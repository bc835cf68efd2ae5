/*
 * universe.c: the blocks keepon watch probes, their E(b) and A(E(b)), and entities.
 *
 * Layout (structure of arrays, so the per-block cost is explicit):
 *   addr[i]  u32  network address of the /24 (host order), sorted after seal
 *   hoff[i]  u32  offset of E(b) in the shared host pool (one byte per host octet)
 *   nh[i]    u8   |E(b)| - 1
 *   avail[i] u16  A(E(b)) * 10000
 *   tuple[i] u32  index of the block's (country, region, asn) entity tuple
 * = 15 bytes per block + |E(b)| pool bytes. Entities and tuples are interned once.
 * Invariants after kp_wuniv_seal(): addr strictly increasing, every E(b) non-empty, no
 * duplicate host in an E(b), and each E(b) shuffled (Trinocular probes it round-robin).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "base/addr.h"
#include "base/cursor.h"
#include "base/json.h"
#include "watch/watch.h"

typedef struct ent {
  char type[8];
  char *code;
} ent_t;

struct kp_wuniv {
  uint32_t *addr, *hoff, *tuple;
  uint8_t *nh;
  uint16_t *avail;
  size_t n, cap, rejected;
  uint8_t *pool;
  size_t pool_len, pool_cap;
  ent_t *ent;
  size_t nent, capent;
  uint32_t (*tup)[3];
  size_t ntup, captup;
};

kp_status_t kp_wuniv_create(kp_wuniv_t **out) {
  *out = calloc(1, sizeof **out);
  return *out ? KP_OK : KP_ERR_NOMEM;
}

void kp_wuniv_free(kp_wuniv_t *u) {
  if (!u) return;
  free(u->addr);
  free(u->hoff);
  free(u->tuple);
  free(u->nh);
  free(u->avail);
  free(u->pool);
  for (size_t i = 0; i < u->nent; i++) free(u->ent[i].code);
  free(u->ent);
  free(u->tup);
  free(u);
}

static kp_status_t grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return KP_OK;
  size_t nc = *cap ? *cap : 256;
  while (nc < need) nc *= 2;
  void *np = realloc(*p, nc * elem);
  if (!np) return KP_ERR_NOMEM;
  *p = np;
  *cap = nc;
  return KP_OK;
}

kp_status_t kp_wuniv_add(kp_wuniv_t *u, const kp_wuniv_limits_t *lim, uint32_t block,
                         const uint8_t *hosts, size_t nhosts, double avail) {
  unsigned min_hosts = lim && lim->min_hosts ? lim->min_hosts : 15;
  double min_avail = lim && lim->min_avail > 0 ? lim->min_avail : 0.1;
  if (nhosts == 0 || nhosts > 256 || !(avail >= 0 && avail <= 1)) return KP_ERR_INVAL;
  /* dedupe hosts (they are octets, so a bitmap) */
  uint8_t seen[32] = {0}, uniq[256];
  size_t nu = 0;
  for (size_t i = 0; i < nhosts; i++) {
    if (seen[hosts[i] >> 3] & (1u << (hosts[i] & 7))) continue;
    seen[hosts[i] >> 3] |= (uint8_t)(1u << (hosts[i] & 7));
    uniq[nu++] = hosts[i];
  }
  if (nu < min_hosts || avail < min_avail) {
    u->rejected++;
    return KP_OK;
  }
  if (u->n == u->cap) {
    size_t nc = u->cap ? u->cap * 2 : 1024;
    uint32_t *a = realloc(u->addr, nc * sizeof *a);
    if (a) u->addr = a;
    uint32_t *h = realloc(u->hoff, nc * sizeof *h);
    if (h) u->hoff = h;
    uint8_t *n8 = realloc(u->nh, nc);
    if (n8) u->nh = n8;
    uint16_t *av = realloc(u->avail, nc * sizeof *av);
    if (av) u->avail = av;
    if (!a || !h || !n8 || !av) return KP_ERR_NOMEM;
    u->cap = nc;
  }
  if (u->pool_len + nu > UINT32_MAX) return KP_ERR_NOMEM;
  kp_status_t st = grow((void **)&u->pool, &u->pool_cap, u->pool_len + nu, 1);
  if (st != KP_OK) return st;
  memcpy(u->pool + u->pool_len, uniq, nu);
  u->addr[u->n] = block & 0xFFFFFF00u;
  u->hoff[u->n] = (uint32_t)u->pool_len;
  u->nh[u->n] = (uint8_t)(nu - 1);
  u->avail[u->n] = (uint16_t)lround(avail * 10000.0);
  u->pool_len += nu;
  u->n++;
  return KP_OK;
}

size_t kp_wuniv_count(const kp_wuniv_t *u) { return u->n; }
size_t kp_wuniv_rejected(const kp_wuniv_t *u) { return u->rejected; }
uint32_t kp_wuniv_block(const kp_wuniv_t *u, size_t i) { return u->addr[i]; }
double kp_wuniv_avail(const kp_wuniv_t *u, size_t i) { return u->avail[i] / 10000.0; }
size_t kp_wuniv_hosts(const kp_wuniv_t *u, size_t i, const uint8_t **hosts) {
  *hosts = u->pool + u->hoff[i];
  return (size_t)u->nh[i] + 1;
}

size_t kp_wuniv_find(const kp_wuniv_t *u, uint32_t addr) {
  uint32_t key = addr & 0xFFFFFF00u;
  size_t lo = 0, hi = u->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (u->addr[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo < u->n && u->addr[lo] == key ? lo : SIZE_MAX;
}

size_t kp_wuniv_nentities(const kp_wuniv_t *u) { return u->nent; }
const char *kp_wuniv_entity(const kp_wuniv_t *u, size_t id, const char **type) {
  *type = u->ent[id].type;
  return u->ent[id].code;
}
uint32_t kp_wuniv_tuple(const kp_wuniv_t *u, size_t i) { return u->tuple ? u->tuple[i] : 0; }
size_t kp_wuniv_ntuples(const kp_wuniv_t *u) { return u->ntup; }
void kp_wuniv_tuple_ids(const kp_wuniv_t *u, uint32_t t, uint32_t ids[3]) {
  memcpy(ids, u->tup[t], sizeof u->tup[t]);
}

void kp_wuniv_memory(const kp_wuniv_t *u, size_t *per_block_bytes, size_t *pool_bytes) {
  *per_block_bytes = sizeof u->addr[0] + sizeof u->hoff[0] + sizeof u->nh[0] +
                     sizeof u->avail[0] + sizeof u->tuple[0];
  *pool_bytes = u->pool_len;
}

/* Entities are few (countries, regions, ASNs): a linear intern with a last-hit cache is
 * enough for the tuples, which are interned through a small open-addressing table. */
static kp_status_t ent_intern(kp_wuniv_t *u, const char *type, const char *code, uint32_t *id) {
  for (size_t i = u->nent; i-- > 0;)
    if (strcmp(u->ent[i].type, type) == 0 && strcmp(u->ent[i].code, code) == 0) {
      *id = (uint32_t)i;
      return KP_OK;
    }
  kp_status_t st = grow((void **)&u->ent, &u->capent, u->nent + 1, sizeof *u->ent);
  if (st != KP_OK) return st;
  ent_t *e = &u->ent[u->nent];
  snprintf(e->type, sizeof e->type, "%s", type);
  e->code = strdup(code);
  if (!e->code) return KP_ERR_NOMEM;
  *id = (uint32_t)u->nent++;
  return KP_OK;
}

typedef struct tup_key {
  char cc[3];
  char region[64];
  uint32_t asn;
} tup_key_t;

static kp_status_t tuple_of(kp_wuniv_t *u, const tup_key_t *k, uint32_t *out) {
  uint32_t ids[3] = {UINT32_MAX, UINT32_MAX, UINT32_MAX};
  kp_status_t st = KP_OK;
  char code[96];
  if (k->cc[0]) st = ent_intern(u, "country", k->cc, &ids[0]);
  if (st == KP_OK && k->cc[0] && k->region[0]) {
    snprintf(code, sizeof code, "%s/%s", k->cc, k->region);
    st = ent_intern(u, "region", code, &ids[1]);
  }
  if (st == KP_OK && k->asn) {
    snprintf(code, sizeof code, "AS%u", (unsigned)k->asn);
    st = ent_intern(u, "asn", code, &ids[2]);
  }
  if (st != KP_OK) return st;
  for (size_t t = 0; t < u->ntup; t++)
    if (memcmp(u->tup[t], ids, sizeof ids) == 0) {
      *out = (uint32_t)t;
      return KP_OK;
    }
  st = grow((void **)&u->tup, &u->captup, u->ntup + 1, sizeof *u->tup);
  if (st != KP_OK) return st;
  memcpy(u->tup[u->ntup], ids, sizeof ids);
  *out = (uint32_t)u->ntup++;
  return KP_OK;
}

static int cmp_idx(const void *a, const void *b, void *ctx) {
  const uint32_t *addr = ctx;
  uint32_t x = addr[*(const uint32_t *)a], y = addr[*(const uint32_t *)b];
  return x < y ? -1 : x > y;
}

/* qsort_r is a GNU extension; a tiny heap sort keeps this portable C17. */
static void sort_idx(uint32_t *idx, size_t n, const uint32_t *addr) {
  for (size_t start = n / 2; start-- > 0;) {
    size_t root = start;
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
      if (child + 1 < n && cmp_idx(&idx[child], &idx[child + 1], (void *)addr) < 0) child++;
      if (cmp_idx(&idx[root], &idx[child], (void *)addr) >= 0) break;
      uint32_t t = idx[root]; idx[root] = idx[child]; idx[child] = t;
    }
  }
  for (size_t end = n; end-- > 1;) {
    uint32_t t = idx[0]; idx[0] = idx[end]; idx[end] = t;
    size_t root = 0;
    for (size_t child; (child = 2 * root + 1) < end; root = child) {
      if (child + 1 < end && cmp_idx(&idx[child], &idx[child + 1], (void *)addr) < 0) child++;
      if (cmp_idx(&idx[root], &idx[child], (void *)addr) >= 0) break;
      t = idx[root]; idx[root] = idx[child]; idx[child] = t;
    }
  }
}

kp_status_t kp_wuniv_seal(kp_wuniv_t *u, const kp_geo_t *geo, const char *default_cc,
                          uint64_t seed) {
  size_t n = u->n;
  uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
  uint32_t *a2 = malloc((n ? n : 1) * sizeof *a2), *h2 = malloc((n ? n : 1) * sizeof *h2);
  uint8_t *n2 = malloc(n ? n : 1);
  uint16_t *v2 = malloc((n ? n : 1) * sizeof *v2);
  free(u->tuple);
  u->tuple = malloc((n ? n : 1) * sizeof *u->tuple);
  kp_status_t st = (idx && a2 && h2 && n2 && v2 && u->tuple) ? KP_OK : KP_ERR_NOMEM;
  if (st == KP_OK) {
    for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
    sort_idx(idx, n, u->addr);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
      uint32_t j = idx[i];
      if (w > 0 && a2[w - 1] == u->addr[j]) continue; /* duplicate block: first one wins */
      a2[w] = u->addr[j];
      h2[w] = u->hoff[j];
      n2[w] = u->nh[j];
      v2[w] = u->avail[j];
      w++;
    }
    u->rejected += n - w;
    free(u->addr); u->addr = a2; a2 = NULL;
    free(u->hoff); u->hoff = h2; h2 = NULL;
    free(u->nh); u->nh = n2; n2 = NULL;
    free(u->avail); u->avail = v2; v2 = NULL;
    u->n = w;
    uint64_t rng = seed ^ 0x756E6976ull;
    for (size_t i = 0; i < w; i++) { /* Fisher-Yates per E(b) */
      uint8_t *h = u->pool + u->hoff[i];
      for (size_t k = u->nh[i]; k > 0; k--) {
        size_t r = kp_splitmix64(&rng) % (k + 1);
        uint8_t t = h[k]; h[k] = h[r]; h[r] = t;
      }
    }
    tup_key_t last;
    uint32_t last_t = UINT32_MAX;
    for (size_t i = 0; i < w && st == KP_OK; i++) {
      tup_key_t k;
      memset(&k, 0, sizeof k);
      kp_geo_info_t info;
      kp_addr_t ad = kp_addr_v4(u->addr[i] | 1);
      if (geo && kp_geo_lookup(geo, &ad, &info) == KP_OK) {
        memcpy(k.cc, info.cc, 3);
        memcpy(k.region, info.region, sizeof k.region);
        k.asn = info.asn;
      }
      if (!k.cc[0] && default_cc && strlen(default_cc) == 2) {
        k.cc[0] = (char)(default_cc[0] & ~0x20);
        k.cc[1] = (char)(default_cc[1] & ~0x20);
      }
      if (last_t != UINT32_MAX && memcmp(&k, &last, sizeof k) == 0) {
        u->tuple[i] = last_t;
        continue;
      }
      st = tuple_of(u, &k, &u->tuple[i]);
      last = k;
      last_t = u->tuple[i];
    }
  }
  free(idx);
  free(a2);
  free(h2);
  free(n2);
  free(v2);
  return st;
}

/* ---- census files ---- */

kp_status_t kp_wuniv_census_line(kp_buf_t *out, uint32_t block, const uint8_t *hosts,
                                 size_t nhosts, double avail) {
  kp_jw_t w;
  kp_jw_init(&w, out);
  char a[KP_ADDR_STRLEN], pfx[KP_ADDR_STRLEN + 8];
  kp_addr_t ad = kp_addr_v4(block & 0xFFFFFF00u);
  snprintf(pfx, sizeof pfx, "%s/24", kp_addr_fmt(&ad, a));
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "block", pfx);
  kp_jw_key(&w, "a");
  kp_jw_fixed(&w, avail, 4);
  kp_jw_key(&w, "hosts");
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < nhosts; i++) kp_jw_uint(&w, hosts[i]);
  kp_jw_arr_end(&w);
  kp_jw_obj_end(&w);
  if (w.st == KP_OK) return kp_buf_putc(out, '\n');
  return w.st;
}

static kp_status_t census_obj(kp_wuniv_t *u, const kp_wuniv_limits_t *lim, const kp_json_t *o) {
  const char *b = kp_json_get_str(o, "block");
  const kp_json_t *a = kp_json_get(o, "a");
  const kp_json_t *hs = kp_json_get(o, "hosts");
  if (!b || !kp_json_is(a, KP_JSON_NUMBER) || !kp_json_is(hs, KP_JSON_ARRAY)) return KP_ERR_INVAL;
  kp_prefix_t p;
  if (kp_prefix_parse(b, &p) != KP_OK || p.addr.family != 4 || p.len != 24) return KP_ERR_INVAL;
  double av = kp_json_num(a);
  if (!(av >= 0 && av <= 1)) return KP_ERR_INVAL;
  size_t nh = kp_json_len(hs);
  if (nh == 0 || nh > 256) return KP_ERR_INVAL;
  uint8_t hosts[256];
  for (size_t i = 0; i < nh; i++) {
    int64_t v;
    if (!kp_json_int(kp_json_at(hs, i), &v) || v < 0 || v > 255) return KP_ERR_INVAL;
    hosts[i] = (uint8_t)v;
  }
  return kp_wuniv_add(u, lim, kp_addr_v4_u32(&p.addr), hosts, nh, av);
}

kp_status_t kp_wuniv_parse_census(kp_wuniv_t *u, const kp_wuniv_limits_t *lim, const void *p,
                                  size_t n, size_t *line_err) {
  kp_cur_t c = kp_cur_make(p, n);
  const uint8_t *line;
  size_t len, lineno = 0;
  kp_json_limits_t jl = {.max_depth = 4, .max_bytes = 1 << 20};
  while (kp_cur_line(&c, &line, &len)) {
    lineno++;
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t')) k++;
    if (k == len || line[k] == '#') continue;
    kp_json_doc_t *doc = NULL;
    kp_status_t st = len > 8192 ? KP_ERR_RANGE : kp_json_parse(line, len, &jl, &doc, NULL);
    if (st == KP_OK) st = census_obj(u, lim, kp_json_root(doc));
    kp_json_doc_free(doc);
    if (st != KP_OK) {
      if (line_err) *line_err = lineno;
      return st;
    }
  }
  return KP_OK;
}

static int hexval(uint8_t ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* "hex" token -> value (at most 16 hex digits); advances *p. */
static bool hex_token(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  while (*p < end && (**p == ' ' || **p == '\t')) (*p)++;
  size_t nd = 0;
  *v = 0;
  while (*p < end && hexval(**p) >= 0) {
    if (++nd > 16) return false;
    *v = *v << 4 | (uint64_t)hexval(**p);
    (*p)++;
  }
  return nd > 0 && (*p == end || **p == ' ' || **p == '\t');
}

static void skip_token(const uint8_t **p, const uint8_t *end) {
  while (*p < end && (**p == ' ' || **p == '\t')) (*p)++;
  while (*p < end && **p != ' ' && **p != '\t') (*p)++;
}

typedef struct hist_acc {
  uint32_t block;
  uint8_t hosts[256];
  size_t n;
  double sum;
} hist_acc_t;

static kp_status_t hist_flush(kp_wuniv_t *u, const kp_wuniv_limits_t *lim, hist_acc_t *h) {
  kp_status_t st = KP_OK;
  if (h->n) st = kp_wuniv_add(u, lim, h->block, h->hosts, h->n, h->sum / (double)h->n);
  h->n = 0;
  h->sum = 0;
  return st;
}

kp_status_t kp_wuniv_parse_history(kp_wuniv_t *u, const kp_wuniv_limits_t *lim, const void *p,
                                   size_t n, size_t *line_err) {
  kp_cur_t c = kp_cur_make(p, n);
  const uint8_t *line;
  size_t len, lineno = 0;
  hist_acc_t h = {.block = 0, .n = 0};
  kp_status_t st = KP_OK;
  while (st == KP_OK && kp_cur_line(&c, &line, &len)) {
    lineno++;
    const uint8_t *q = line, *end = line + len;
    while (q < end && (*q == ' ' || *q == '\t')) q++;
    if (q == end || *q == '#') continue;
    uint64_t ip, hist;
    if (!hex_token(&q, end, &ip) || ip > UINT32_MAX) { st = KP_ERR_INVAL; break; }
    skip_token(&q, end); /* dotted form, redundant */
    if (!hex_token(&q, end, &hist)) { st = KP_ERR_INVAL; break; }
    if (hist == 0) continue; /* never responded: not in E(b) */
    uint32_t blk = (uint32_t)ip & 0xFFFFFF00u;
    if (h.n && blk != h.block) st = hist_flush(u, lim, &h);
    if (h.n == 0) h.block = blk;
    if (h.n < 256) {
      h.hosts[h.n++] = (uint8_t)ip;
      h.sum += __builtin_popcountll(hist & 0xF) / 4.0;
    }
  }
  if (st == KP_OK) st = hist_flush(u, lim, &h);
  if (st != KP_OK && line_err) *line_err = lineno;
  return st;
}

size_t kp_wuniv_restrict(kp_wuniv_t *u, const uint32_t *allowed, size_t n) {
  size_t w = 0;
  for (size_t i = 0; i < u->n; i++) {
    uint32_t key = u->addr[i];
    size_t lo = 0, hi = n;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (allowed[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    if (lo == n || allowed[lo] != key) continue; /* outside the given universe */
    u->addr[w] = u->addr[i];
    u->hoff[w] = u->hoff[i];
    u->nh[w] = u->nh[i];
    u->avail[w] = u->avail[i];
    w++;
  }
  size_t dropped = u->n - w;
  u->n = w;
  return dropped;
}
