/*
 * blocklist.c: zmap-format blocklists (one IPv4 prefix or address per line, '#' comments,
 * blank lines). Parsed purely into sorted, merged [first, last] intervals; lookups are binary
 * searches. IPv6 lines are accepted and ignored (watch probes IPv4 only). A malformed line
 * rejects the whole file: a blocklist that is half-read would be a politeness bug.
 */
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/cursor.h"
#include "watch/watch.h"

typedef struct ival {
  uint32_t first, last;
} ival_t;

struct kp_wblock {
  ival_t *v;
  size_t n, cap;
};

static int cmp_ival(const void *a, const void *b) {
  uint32_t x = ((const ival_t *)a)->first, y = ((const ival_t *)b)->first;
  return x < y ? -1 : x > y;
}

void kp_wblock_free(kp_wblock_t *b) {
  if (!b) return;
  free(b->v);
  free(b);
}

static kp_status_t add(kp_wblock_t *b, uint32_t first, uint32_t last) {
  if (b->n == b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 64;
    ival_t *nv = realloc(b->v, nc * sizeof *nv);
    if (!nv) return KP_ERR_NOMEM;
    b->v = nv;
    b->cap = nc;
  }
  b->v[b->n++] = (ival_t){first, last};
  return KP_OK;
}

kp_status_t kp_wblock_parse(const void *p, size_t n, kp_wblock_t **out, size_t *line_err) {
  *out = NULL;
  kp_wblock_t *b = calloc(1, sizeof *b);
  if (!b) return KP_ERR_NOMEM;
  kp_cur_t c = kp_cur_make(p, n);
  size_t lineno = 0;
  kp_status_t st = KP_OK;
  while (st == KP_OK && kp_cur_left(&c) > 0) {
    char line[128];
    size_t len = 0;
    uint8_t ch;
    lineno++;
    bool too_long = false;
    while (kp_cur_u8(&c, &ch) && ch != '\n') {
      if (len + 1 < sizeof line) line[len++] = (char)ch;
      else too_long = true;
    }
    line[len] = 0;
    if (strlen(line) != len) { st = KP_ERR_INVAL; break; } /* embedded NUL */
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *s = line;
    while (*s == ' ' || *s == '\t') s++;
    size_t sl = strlen(s);
    while (sl > 0 && (s[sl - 1] == ' ' || s[sl - 1] == '\t' || s[sl - 1] == '\r')) s[--sl] = 0;
    if (too_long && !hash) { st = KP_ERR_RANGE; break; }
    if (*s == 0) continue;
    kp_prefix_t pf;
    if (kp_prefix_parse(s, &pf) != KP_OK) { st = KP_ERR_INVAL; break; }
    if (pf.addr.family != 4) continue;
    uint32_t net = kp_addr_v4_u32(&pf.addr);
    uint32_t last = pf.len == 0 ? UINT32_MAX : net | (uint32_t)((1ull << (32 - pf.len)) - 1);
    st = add(b, net, last);
  }
  if (st != KP_OK) {
    if (line_err) *line_err = lineno;
    kp_wblock_free(b);
    return st;
  }
  if (b->n) {
    qsort(b->v, b->n, sizeof *b->v, cmp_ival);
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++) {
      if (w > 0 && (b->v[w - 1].last == UINT32_MAX || b->v[i].first <= b->v[w - 1].last + 1)) {
        if (b->v[i].last > b->v[w - 1].last) b->v[w - 1].last = b->v[i].last;
      } else {
        b->v[w++] = b->v[i];
      }
    }
    b->n = w;
  }
  *out = b;
  return KP_OK;
}

/* index of the last interval with first <= addr, or SIZE_MAX */
static size_t floor_idx(const kp_wblock_t *b, uint32_t addr) {
  size_t lo = 0, hi = b->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (b->v[mid].first <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo == 0 ? SIZE_MAX : lo - 1;
}

bool kp_wblock_contains(const kp_wblock_t *b, uint32_t addr) {
  size_t i = floor_idx(b, addr);
  return i != SIZE_MAX && b->v[i].last >= addr;
}

bool kp_wblock_hits_block(const kp_wblock_t *b, uint32_t block) {
  uint32_t first = block & 0xFFFFFF00u, last = first | 0xFF;
  size_t i = floor_idx(b, last);
  return i != SIZE_MAX && b->v[i].last >= first;
}

bool kp_wblock_covers_block(const kp_wblock_t *b, uint32_t block) {
  uint32_t first = block & 0xFFFFFF00u;
  size_t i = floor_idx(b, first);
  return i != SIZE_MAX && b->v[i].last >= (first | 0xFF);
}
