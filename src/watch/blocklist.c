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

/* sort and merge overlapping or adjacent intervals */
static void normalize(kp_wblock_t *b) {
  if (!b->n) return;
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
  normalize(b);
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

static const char reserved_v4[] =
    "0.0.0.0/8\n10.0.0.0/8\n100.64.0.0/10\n127.0.0.0/8\n169.254.0.0/16\n172.16.0.0/12\n"
    "192.0.0.0/24\n192.0.2.0/24\n192.88.99.0/24\n192.168.0.0/16\n198.18.0.0/15\n"
    "198.51.100.0/24\n203.0.113.0/24\n224.0.0.0/4\n240.0.0.0/4\n";

/* Remove [first, last] from every interval of @p b (sorted, merged; stays so). */
static kp_status_t subtract(kp_wblock_t *b, uint32_t first, uint32_t last) {
  for (size_t i = 0; i < b->n; i++) {
    ival_t v = b->v[i];
    if (v.last < first || v.first > last) continue;
    bool left = v.first < first, right = v.last > last;
    if (left && right) { /* split: keep the left part here, insert the right part after it */
      b->v[i].last = first - 1;
      if (add(b, last + 1, v.last) != KP_OK) return KP_ERR_NOMEM;
      memmove(b->v + i + 2, b->v + i + 1, (b->n - i - 2) * sizeof *b->v);
      b->v[i + 1] = (ival_t){last + 1, v.last};
      i++;
    } else if (left) {
      b->v[i].last = first - 1;
    } else if (right) {
      b->v[i].first = last + 1;
    } else {
      memmove(b->v + i, b->v + i + 1, (b->n - i - 1) * sizeof *b->v);
      b->n--;
      i--;
    }
  }
  return KP_OK;
}

kp_status_t kp_wblock_with_reserved(kp_wblock_t **bl, const char *allow) {
  kp_wblock_t *r = NULL;
  kp_status_t st = kp_wblock_parse(reserved_v4, sizeof reserved_v4 - 1, &r, NULL);
  if (st != KP_OK) return st;
  for (const char *a = allow; st == KP_OK && a && *a;) {
    size_t k = strcspn(a, ",");
    char one[64];
    kp_prefix_t pf;
    if (k == 0 || k >= sizeof one) {
      st = KP_ERR_INVAL;
      break;
    }
    memcpy(one, a, k);
    one[k] = 0;
    a += k + (a[k] == ',');
    if (kp_prefix_parse(one, &pf) != KP_OK || pf.addr.family != 4) {
      st = KP_ERR_INVAL;
      break;
    }
    uint32_t net = kp_addr_v4_u32(&pf.addr);
    st = subtract(r, net, pf.len == 0 ? UINT32_MAX : net | (uint32_t)((1ull << (32 - pf.len)) - 1));
  }
  for (size_t i = 0; st == KP_OK && *bl && i < (*bl)->n; i++) st = add(r, (*bl)->v[i].first, (*bl)->v[i].last);
  if (st != KP_OK) {
    kp_wblock_free(r);
    return st;
  }
  normalize(r);
  kp_wblock_free(*bl);
  *bl = r;
  return KP_OK;
}
