/*
 * sim.c: an in-process model of the Internet for keepon watch: blocks with availabilities,
 * packet loss and a schedule of outages, behind the same driver interface as icmp.
 *
 * Model (JSON, docs/watch.md "sim model"): blocks from prefixes or CIDR files, each /24 with
 * `hosts` responsive addresses answering each probe with probability `a` (or a per-block a
 * drawn uniformly from [a_min, a_max]), global `loss`, a reply delay `rtt_ms`, and outages
 * {prefixes | cidr, start, end} during which nothing in them answers. Times are Unix seconds or
 * strings (absolute UTC) or offsets in seconds after "start" when numbers below 1e9.
 *
 * Clock: virtual. mono = ns since model start, wall = start + mono. Time moves only in poll():
 * to the next reply's arrival or to the caller's deadline, so a 10-minute round costs only the
 * CPU of its probes ("a clock that runs faster than real time").
 * Per /24 the model keeps 7 bytes (address, a, hosts) plus a 256 KiB index by /16; the
 * responsive hosts are an affine
 * sequence off + step*i (step odd, from a hash of the block), so no host lists are stored.
 * Determinism: every decision draws from one seeded splitmix64 stream.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "base/addr.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/json.h"
#include "watch/watch.h"

typedef struct outage {
  kp_wblock_t *set;
  int64_t start, end; /* Unix seconds, [start, end) */
} outage_t;

typedef struct pending {
  int64_t t;
  uint32_t token, addr;
} pending_t;

struct kp_wsim {
  uint32_t *addr;
  uint16_t *a;
  uint8_t *h;         /* hosts - 1 */
  size_t n, cap;
  uint32_t *idx16;    /* idx16[x] = first block with address >> 16 >= x (65537 entries) */
  outage_t *out;
  size_t nout;
  double loss;
  int64_t rtt_ns;
  int64_t start;      /* Unix seconds */
  uint64_t rng;
  int64_t now;        /* virtual ns since start */
  pending_t *q;
  size_t qcap, qhead, qlen;
  uint64_t sent;
  kp_clock_t clock;
};


static uint64_t hash32(uint32_t x) {
  uint64_t s = x;
  return kp_splitmix64(&s);
}

/* responsive host octets: off + step * i (mod 256), i < hosts; step odd so they are distinct */
static void host_seq(uint32_t block, uint8_t *step, uint8_t *off) {
  uint64_t h = hash32(block);
  *step = (uint8_t)((h & 0xFF) | 1);
  *off = (uint8_t)(h >> 8);
}
static uint8_t inv_odd(uint8_t a) { /* inverse mod 256 by Newton's iteration */
  uint32_t x = a;
  for (int i = 0; i < 3; i++) x = (x * (2 - a * x)) & 0xFF;
  return (uint8_t)x;
}

void kp_wsim_free(kp_wsim_t *s) {
  if (!s) return;
  free(s->addr);
  free(s->a);
  free(s->h);
  free(s->idx16);
  for (size_t i = 0; i < s->nout; i++) kp_wblock_free(s->out[i].set);
  free(s->out);
  free(s->q);
  free(s);
}

static kp_status_t add_block(kp_wsim_t *s, uint32_t block, unsigned hosts, double a) {
  if (s->n >= ((size_t)1 << 24)) return KP_ERR_RANGE; /* more /24s than IPv4 has */
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 1024;
    uint32_t *na = realloc(s->addr, nc * sizeof *na);
    if (na) s->addr = na;
    uint16_t *nv = realloc(s->a, nc * sizeof *nv);
    if (nv) s->a = nv;
    uint8_t *nh = realloc(s->h, nc);
    if (nh) s->h = nh;
    if (!na || !nv || !nh) return KP_ERR_NOMEM;
    s->cap = nc;
  }
  s->addr[s->n] = block & 0xFFFFFF00u;
  s->a[s->n] = (uint16_t)lround(a * 10000.0);
  s->h[s->n] = (uint8_t)(hosts - 1);
  s->n++;
  return KP_OK;
}

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

static void err_set(char *err, size_t cap, const char *msg) {
  if (err && cap) snprintf(err, cap, "%s", msg);
}

/* time: number (absolute if >= 1e9, else offset from start) or UTC string */
static bool get_time(const kp_json_t *v, int64_t start, int64_t *out) {
  if (kp_json_is(v, KP_JSON_NUMBER)) {
    double d = kp_json_num(v);
    if (!(d >= 0 && d < 1e11)) return false;
    *out = d >= 1e9 ? (int64_t)d : start + (int64_t)d;
    return true;
  }
  const char *str = kp_json_str(v);
  time_t t;
  if (!str || kp_time_parse(str, &t) != 0) return false;
  *out = (int64_t)t;
  return true;
}

static kp_status_t read_rel(const char *base_dir, const char *file, kp_buf_t *b) {
  if (!base_dir) return KP_ERR_UNSUPPORTED; /* the pure parse (fuzzing) reads no files */
  char path[4096];
  if (file[0] == '/') snprintf(path, sizeof path, "%s", file);
  else snprintf(path, sizeof path, "%s/%s", base_dir, file);
  return kp_file_read(path, b);
}

/* blocks: [{"prefix"|"file", "hosts", "a" | "a_min"+"a_max"}] */
static kp_status_t parse_blocks(kp_wsim_t *s, const kp_json_t *arr, const char *base_dir,
                                char *err, size_t errcap) {
  for (size_t i = 0; i < kp_json_len(arr); i++) {
    const kp_json_t *o = kp_json_at(arr, i);
    int64_t hosts = 64;
    if (kp_json_get(o, "hosts") && !kp_json_get_int(o, "hosts", &hosts)) hosts = -1;
    if (hosts < 1 || hosts > 256) {
      err_set(err, errcap, "blocks[]: hosts must be 1..256");
      return KP_ERR_INVAL;
    }
    const kp_json_t *ja = kp_json_get(o, "a"), *jmin = kp_json_get(o, "a_min"),
                    *jmax = kp_json_get(o, "a_max");
    double amin = 0.8, amax = 0.8;
    if (ja) amin = amax = kp_json_num(ja);
    if (jmin && jmax) {
      amin = kp_json_num(jmin);
      amax = kp_json_num(jmax);
    }
    if (!(amin >= 0 && amax <= 1 && amin <= amax) ||
        (ja && !kp_json_is(ja, KP_JSON_NUMBER))) {
      err_set(err, errcap, "blocks[]: a (or a_min..a_max) must be in [0,1]");
      return KP_ERR_INVAL;
    }
    uint32_t *v = NULL;
    size_t nv = 0;
    kp_status_t st;
    const char *pfx = kp_json_get_str(o, "prefix"), *file = kp_json_get_str(o, "file");
    if (pfx) {
      kp_prefix_t p;
      if (kp_prefix_parse(pfx, &p) != KP_OK || p.addr.family != 4 || p.len < 8) {
        err_set(err, errcap, "blocks[]: prefix must be IPv4, /8 or longer");
        return KP_ERR_INVAL;
      }
      uint32_t net = kp_addr_v4_u32(&p.addr) & 0xFFFFFF00u;
      nv = p.len >= 24 ? 1 : (size_t)1 << (24 - p.len);
      v = malloc(nv * sizeof *v);
      if (!v) return KP_ERR_NOMEM;
      for (size_t k = 0; k < nv; k++) v[k] = net + (uint32_t)(k << 8);
    } else if (file) {
      char path[4096];
      if (!base_dir) return KP_ERR_UNSUPPORTED;
      if (file[0] == '/') snprintf(path, sizeof path, "%s", file);
      else snprintf(path, sizeof path, "%s/%s", base_dir, file);
      st = kp_geo_cidr_blocks(path, &v, &nv);
      if (st != KP_OK) {
        err_set(err, errcap, "blocks[]: cannot read the CIDR file");
        return st;
      }
    } else {
      err_set(err, errcap, "blocks[]: needs \"prefix\" or \"file\"");
      return KP_ERR_INVAL;
    }
    st = KP_OK;
    for (size_t k = 0; k < nv && st == KP_OK; k++) {
      double a = amin + (amax - amin) * kp_rand_unit(&s->rng);
      st = add_block(s, v[k], (unsigned)hosts, a);
    }
    free(v);
    if (st != KP_OK) return st;
  }
  return KP_OK;
}

static kp_status_t parse_outages(kp_wsim_t *s, const kp_json_t *arr, const char *base_dir,
                                 char *err, size_t errcap) {
  size_t n = kp_json_len(arr);
  s->out = calloc(n ? n : 1, sizeof *s->out);
  if (!s->out) return KP_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    const kp_json_t *o = kp_json_at(arr, i);
    outage_t *ou = &s->out[s->nout];
    if (!get_time(kp_json_get(o, "start"), s->start, &ou->start) ||
        !get_time(kp_json_get(o, "end"), s->start, &ou->end) || ou->end <= ou->start) {
      err_set(err, errcap, "outages[]: start/end missing or end <= start");
      return KP_ERR_INVAL;
    }
    kp_buf_t text;
    kp_buf_init(&text, (size_t)64 << 20);
    kp_status_t st = KP_OK;
    const kp_json_t *pf = kp_json_get(o, "prefixes");
    const char *file = kp_json_get_str(o, "cidr");
    if (kp_json_is(pf, KP_JSON_ARRAY)) {
      for (size_t k = 0; k < kp_json_len(pf) && st == KP_OK; k++) {
        const char *p = kp_json_str(kp_json_at(pf, k));
        if (!p || strchr(p, '\n') || strchr(p, '#')) st = KP_ERR_INVAL;
        else st = kp_buf_printf(&text, "%s\n", p);
      }
    } else if (file) {
      st = read_rel(base_dir, file, &text);
    } else {
      st = KP_ERR_INVAL;
    }
    size_t line;
    if (st == KP_OK) st = kp_wblock_parse(kp_buf_str(&text), text.len, &ou->set, &line);
    kp_buf_free(&text);
    if (st != KP_OK) {
      err_set(err, errcap, "outages[]: needs \"prefixes\" (IPv4 prefixes) or \"cidr\" (a file)");
      return st;
    }
    s->nout++;
  }
  return KP_OK;
}

static int64_t mono_ns(void *ctx) { return ((kp_wsim_t *)ctx)->now; }
static int64_t wall_ns(void *ctx) {
  kp_wsim_t *s = ctx;
  return s->start * 1000000000 + s->now;
}

kp_status_t kp_wsim_parse(const void *p, size_t n, const char *base_dir, kp_wsim_t **out,
                          char *err, size_t errcap) {
  *out = NULL;
  kp_json_doc_t *doc = NULL;
  kp_json_limits_t lim = {.max_depth = 16, .max_bytes = 0};
  kp_status_t st = kp_json_parse(p, n, &lim, &doc, NULL);
  if (st != KP_OK) {
    err_set(err, errcap, "not valid JSON");
    return st;
  }
  const kp_json_t *root = kp_json_root(doc);
  kp_wsim_t *s = calloc(1, sizeof *s);
  if (!s) {
    kp_json_doc_free(doc);
    return KP_ERR_NOMEM;
  }
  s->clock = (kp_clock_t){.mono_ns = mono_ns, .wall_ns = wall_ns, .ctx = s};
  st = KP_ERR_INVAL;
  int64_t seed = 1;
  if (!kp_json_is(root, KP_JSON_OBJECT)) {
    err_set(err, errcap, "the model must be a JSON object");
    goto done;
  }
  if (kp_json_get(root, "seed") && !kp_json_get_int(root, "seed", &seed)) {
    err_set(err, errcap, "seed must be an integer");
    goto done;
  }
  s->rng = (uint64_t)seed;
  s->start = 0;
  if (kp_json_get(root, "start") && !get_time(kp_json_get(root, "start"), 0, &s->start)) {
    err_set(err, errcap, "start must be a time");
    goto done;
  }
  s->loss = kp_json_get(root, "loss") ? kp_json_num(kp_json_get(root, "loss")) : 0.0;
  double rtt = kp_json_get(root, "rtt_ms") ? kp_json_num(kp_json_get(root, "rtt_ms")) : 20.0;
  if (!(s->loss >= 0 && s->loss <= 1) || !(rtt >= 0 && rtt <= 60000)) {
    err_set(err, errcap, "loss must be in [0,1] and rtt_ms in [0,60000]");
    goto done;
  }
  s->rtt_ns = (int64_t)(rtt * 1e6);
  const kp_json_t *blocks = kp_json_get(root, "blocks");
  if (!kp_json_is(blocks, KP_JSON_ARRAY) || kp_json_len(blocks) == 0) {
    err_set(err, errcap, "blocks must be a non-empty array");
    goto done;
  }
  st = parse_blocks(s, blocks, base_dir, err, errcap);
  if (st != KP_OK) goto done;
  const kp_json_t *outs = kp_json_get(root, "outages");
  if (outs && !kp_json_is(outs, KP_JSON_ARRAY)) {
    err_set(err, errcap, "outages must be an array");
    st = KP_ERR_INVAL;
    goto done;
  }
  st = parse_outages(s, outs, base_dir, err, errcap);
  if (st != KP_OK) goto done;
  /* sort blocks by address, first definition of a block wins */
  {
    uint64_t *key = malloc((s->n ? s->n : 1) * sizeof *key);
    if (!key) { st = KP_ERR_NOMEM; goto done; }
    for (size_t i = 0; i < s->n; i++)
      key[i] = (uint64_t)s->addr[i] << 32 | (uint64_t)i;
    qsort(key, s->n, sizeof *key, cmp_u64);
    uint32_t *na = malloc((s->n ? s->n : 1) * sizeof *na);
    uint16_t *nv = malloc((s->n ? s->n : 1) * sizeof *nv);
    uint8_t *nh = malloc(s->n ? s->n : 1);
    if (!na || !nv || !nh) {
      free(key); free(na); free(nv); free(nh);
      st = KP_ERR_NOMEM;
      goto done;
    }
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
      uint32_t j = (uint32_t)key[i];
      if (w > 0 && na[w - 1] == s->addr[j]) continue;
      na[w] = s->addr[j];
      nv[w] = s->a[j];
      nh[w] = s->h[j];
      w++;
    }
    free(key);
    free(s->addr); s->addr = na;
    free(s->a); s->a = nv;
    free(s->h); s->h = nh;
    s->n = s->cap = w;
  }
  s->qcap = 1024;
  s->q = malloc(s->qcap * sizeof *s->q);
  s->idx16 = malloc(65537 * sizeof *s->idx16);
  if (!s->q || !s->idx16) {
    st = KP_ERR_NOMEM;
    goto done;
  }
  for (size_t x = 0, i = 0; x <= 65536; x++) {
    while (i < s->n && (s->addr[i] >> 16) < x) i++;
    s->idx16[x] = (uint32_t)i;
  }
done:
  kp_json_doc_free(doc);
  if (st != KP_OK) {
    kp_wsim_free(s);
    return st;
  }
  *out = s;
  return KP_OK;
}

static size_t find(const kp_wsim_t *s, uint32_t addr) {
  uint32_t key = addr & 0xFFFFFF00u;
  size_t lo = s->idx16[addr >> 16], hi = s->idx16[(addr >> 16) + 1];
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->addr[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo < s->n && s->addr[lo] == key ? lo : SIZE_MAX;
}

static bool responsive(const kp_wsim_t *s, size_t i, uint8_t host) {
  uint8_t step, off;
  host_seq(s->addr[i], &step, &off);
  uint8_t k = (uint8_t)((uint8_t)(host - off) * inv_odd(step));
  return k <= s->h[i];
}

bool kp_wsim_is_out(const kp_wsim_t *s, uint32_t addr, int64_t t) {
  for (size_t k = 0; k < s->nout; k++)
    if (t >= s->out[k].start && t < s->out[k].end && kp_wblock_contains(s->out[k].set, addr))
      return true;
  return false;
}

int64_t kp_wsim_start(const kp_wsim_t *s) { return s->start; }
uint64_t kp_wsim_sent(const kp_wsim_t *s) { return s->sent; }

static kp_status_t q_push(kp_wsim_t *s, pending_t p) {
  if (s->qlen == s->qcap) {
    size_t nc = s->qcap * 2;
    pending_t *nq = malloc(nc * sizeof *nq);
    if (!nq) return KP_ERR_NOMEM;
    for (size_t i = 0; i < s->qlen; i++) nq[i] = s->q[(s->qhead + i) % s->qcap];
    free(s->q);
    s->q = nq;
    s->qcap = nc;
    s->qhead = 0;
  }
  s->q[(s->qhead + s->qlen) % s->qcap] = p;
  s->qlen++;
  return KP_OK;
}

static kp_status_t sim_send(void *ctx, uint32_t addr, uint32_t token) {
  kp_wsim_t *s = ctx;
  s->sent++;
  size_t i = find(s, addr);
  if (i == SIZE_MAX || !responsive(s, i, (uint8_t)addr)) return KP_OK;
  int64_t t = s->start + s->now / 1000000000;
  if (kp_wsim_is_out(s, addr, t)) return KP_OK;
  double p = s->a[i] / 10000.0 * (1.0 - s->loss);
  if (kp_rand_unit(&s->rng) >= p) return KP_OK;
  /* constant delay keeps the queue in arrival order */
  return q_push(s, (pending_t){.t = s->now + s->rtt_ns, .token = token, .addr = addr});
}

static size_t sim_poll(void *ctx, kp_wreply_t *out, size_t max, int64_t deadline) {
  kp_wsim_t *s = ctx;
  if (s->qlen && s->q[s->qhead].t <= deadline) {
    if (s->q[s->qhead].t > s->now) s->now = s->q[s->qhead].t;
  } else if (deadline > s->now) {
    s->now = deadline;
  }
  size_t k = 0;
  while (k < max && s->qlen && s->q[s->qhead].t <= s->now) {
    out[k].token = s->q[s->qhead].token;
    out[k].addr = s->q[s->qhead].addr;
    k++;
    s->qhead = (s->qhead + 1) % s->qcap;
    s->qlen--;
  }
  return k;
}

static const kp_clock_t *sim_clock(void *ctx) { return &((kp_wsim_t *)ctx)->clock; }
static void sim_close(void *ctx) { (void)ctx; /* the model is freed by kp_wsim_free */ }

static const kp_wdriver_ops_t sim_ops = {
    .name = "sim", .send = sim_send, .poll = sim_poll, .clock = sim_clock, .close = sim_close};

kp_wdriver_t kp_wsim_driver(kp_wsim_t *s) { return (kp_wdriver_t){.ops = &sim_ops, .ctx = s}; }

kp_status_t kp_wsim_universe(const kp_wsim_t *s, kp_wuniv_t *u, const kp_wuniv_limits_t *lim) {
  uint8_t hosts[256];
  for (size_t i = 0; i < s->n; i++) {
    uint8_t step, off;
    host_seq(s->addr[i], &step, &off);
    size_t nh = (size_t)s->h[i] + 1;
    for (size_t k = 0; k < nh; k++) hosts[k] = (uint8_t)(off + step * k);
    kp_status_t st = kp_wuniv_add(u, lim, s->addr[i], hosts, nh, s->a[i] / 10000.0);
    if (st != KP_OK) return st;
  }
  return KP_OK;
}

kp_status_t kp_wdriver_select(bool is_sim, bool dry_run, const kp_wicmp_config_t *ic, kp_wsim_t **model,
                              kp_wdriver_t *out) {
  if (is_sim) {
    if (!*model) return KP_ERR_INVAL;
    *out = kp_wsim_driver(*model);
    return KP_OK;
  }
  if (!dry_run) return kp_wicmp_open(ic, out);
  static const char silent[] = "{\"blocks\":[{\"prefix\":\"0.0.0.0/24\",\"hosts\":1,\"a\":0}]}";
  char err[128];
  kp_status_t st = kp_wsim_parse(silent, sizeof silent - 1, NULL, model, err, sizeof err);
  if (st == KP_OK) *out = kp_wsim_driver(*model);
  return st;
}
