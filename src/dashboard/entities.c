/*
 * entities.c: the drill-down tree of GET /api/v1/entities (pure, no I/O).
 *
 * Input: a flat list of entities (duplicates allowed). Output:
 *   {"from":T,"until":T,"entities":[{"type":"country","code":"KZ","children":[
 *       {"type":"region","code":"KZ/Almaty","name":"Almaty","children":[{"type":"asn",...}]},
 *       {"type":"asn","code":"AS9198","children":[]}]}]}
 * Placement rules: a region belongs to its cc, else to the "CC/" prefix of its code; an asn
 * belongs to its region when that region exists under its country, else directly to its
 * country; entities without a country are listed at top level after the countries. Every
 * level is sorted by code; from/until span every known t_min/t_max (omitted when unknown).
 * O(n log n): one sort per level key and binary searches (the tree used to be O(n²): 30,000
 * posted entities blocked the server's loop for 7 s per GET).
 * Paging: the tree's nodes in pre-order (country, its regions each followed by their ASNs,
 * its other ASNs; then the orphans) are numbered 0..count-1; a page is the range
 * [offset, offset + limit) written as a tree, its first node inside its ancestors (repeated
 * from the page before, at most two). Merging the pages by (type, code) at each level gives
 * the whole tree: kept pages never split a node, only a node's children list.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "dashboard/dashboard.h"

static const char *s_or(const char *s) { return s ? s : ""; }

/* the country an entity belongs to, into cc[3]; "" if unknown */
static void country_of(const kp_dash_entity_t *e, char cc[3]) {
  cc[0] = 0;
  const char *c = s_or(e->cc);
  if (strcmp(s_or(e->type), "country") == 0) c = s_or(e->code);
  else if (!*c && strcmp(s_or(e->type), "region") == 0 && strlen(s_or(e->code)) > 3 && e->code[2] == '/')
    c = e->code;
  if (strlen(c) >= 2) {
    cc[0] = c[0];
    cc[1] = c[1];
    cc[2] = 0;
  }
}

static int cmp_ent(const void *a, const void *b) {
  const kp_dash_entity_t *x = *(const kp_dash_entity_t *const *)a, *y = *(const kp_dash_entity_t *const *)b;
  int c = strcmp(s_or(x->type), s_or(y->type));
  return c ? c : strcmp(s_or(x->code), s_or(y->code));
}

static bool is(const kp_dash_entity_t *e, const char *type) { return strcmp(s_or(e->type), type) == 0; }

static void leaf_begin(kp_jw_t *w, const kp_dash_entity_t *e) {
  kp_jw_obj_begin(w);
  kp_jw_kstr(w, "type", e->type);
  kp_jw_kstr(w, "code", e->code);
  if (is(e, "region")) {
    const char *slash = strchr(s_or(e->code), '/');
    kp_jw_kstr(w, "name", slash ? slash + 1 : e->code);
  }
  kp_jw_key(w, "children");
  kp_jw_arr_begin(w);
}
static void leaf_end(kp_jw_t *w) {
  kp_jw_arr_end(w);
  kp_jw_obj_end(w);
}

typedef struct item {
  const kp_dash_entity_t *e;
  char cc[3];
} item_t;

static int cmp_item_code(const void *a, const void *b) { /* (cc, code) */
  const item_t *x = a, *y = b;
  int c = strcmp(x->cc, y->cc);
  return c ? c : strcmp(s_or(x->e->code), s_or(y->e->code));
}
static int cmp_item_region(const void *a, const void *b) { /* (cc, region, code) */
  const item_t *x = a, *y = b;
  int c = strcmp(x->cc, y->cc);
  if (!c) c = strcmp(s_or(x->e->region), s_or(y->e->region));
  return c ? c : strcmp(s_or(x->e->code), s_or(y->e->code));
}

/* first index in v[0..n) whose key >= (cc, k2) under the ordering of cmp (k2 NULL: cc only) */
static size_t lower(const item_t *v, size_t n, const char *cc, const char *k2, bool by_region) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(v[mid].cc, cc);
    if (!c && k2) c = strcmp(by_region ? s_or(v[mid].e->region) : s_or(v[mid].e->code), k2);
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static bool region_exists(const item_t *regs, size_t nr, const char *cc, const char *code) {
  size_t i = lower(regs, nr, cc, code, false);
  return i < nr && strcmp(regs[i].cc, cc) == 0 && strcmp(s_or(regs[i].e->code), code) == 0;
}

static int cmp_cc(const void *a, const void *b) { return strcmp(a, b); }

typedef struct node {
  const kp_dash_entity_t *e;
  int depth; /* 0 country (or a top-level orphan), 1 region or an ASN under its country, 2 ASN in a region */
} node_t;

kp_status_t kp_dashboard_tree_json(const kp_dash_entity_t *v, size_t n, kp_buf_t *out) {
  return kp_dashboard_tree_json_page(v, n, NULL, out);
}

kp_status_t kp_dashboard_tree_json_page(const kp_dash_entity_t *v, size_t n, kp_dash_page_t *pg, kp_buf_t *out) {
  kp_status_t st = KP_OK;
  node_t *nodes = NULL;
  const kp_dash_entity_t **u = NULL; /* unique entities, sorted by (type, code) */
  kp_dash_entity_t *synth = NULL;    /* countries only known through their children */
  char (*ccs)[3] = NULL;             /* storage for the synthetic countries' codes */
  item_t *regs = NULL, *asn_r = NULL, *asn_c = NULL;
  size_t nu = 0, ns = 0, nr = 0, na = 0;
  int64_t from = 0, until = 0;
  u = calloc(2 * n + 1, sizeof *u);
  synth = calloc(n + 1, sizeof *synth);
  ccs = calloc(n + 1, sizeof *ccs);
  regs = calloc(n + 1, sizeof *regs);
  asn_r = calloc(n + 1, sizeof *asn_r);
  asn_c = calloc(n + 1, sizeof *asn_c);
  nodes = calloc(2 * n + 1, sizeof *nodes);
  if (!u || !synth || !ccs || !regs || !asn_r || !asn_c || !nodes) {
    st = KP_ERR_NOMEM;
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    if (!v[i].type || !v[i].code || !*v[i].code) continue;
    if (v[i].t_min > 0 && (from == 0 || v[i].t_min < from)) from = v[i].t_min;
    if (v[i].t_max > until) until = v[i].t_max;
    u[nu++] = &v[i];
  }
  if (nu) qsort(u, nu, sizeof *u, cmp_ent);
  size_t k = 0; /* drop duplicates (same type and code) */
  for (size_t i = 0; i < nu; i++)
    if (k == 0 || cmp_ent(&u[k - 1], &u[i]) != 0) u[k++] = u[i];
  nu = k;
  /* countries named only as a child's cc get a synthetic node: collect, sort, dedup, and
   * keep those no real country has (the real ones are a sorted run of u) */
  size_t c0 = nu, c1 = nu;
  for (size_t i = 0; i < nu; i++)
    if (is(u[i], "country")) {
      if (c0 == nu) c0 = i;
      c1 = i + 1;
    }
  for (size_t i = 0; i < nu; i++) {
    char cc[3];
    country_of(u[i], cc);
    if (cc[0] && !is(u[i], "country")) memcpy(ccs[ns++], cc, 3);
  }
  if (ns) qsort(ccs, ns, sizeof *ccs, cmp_cc);
  size_t nsyn = 0;
  for (size_t i = 0; i < ns; i++) {
    if (i && strcmp(ccs[i], ccs[i - 1]) == 0) continue;
    kp_dash_entity_t key = {.type = "country", .code = ccs[i]};
    const kp_dash_entity_t *kp = &key;
    if (c0 < c1 && bsearch(&kp, u + c0, c1 - c0, sizeof *u, cmp_ent)) continue;
    memmove(ccs[nsyn], ccs[i], 3);
    synth[nsyn] = (kp_dash_entity_t){.type = "country", .code = ccs[nsyn]};
    nsyn++;
  }
  for (size_t i = 0; i < nsyn; i++) u[nu + i] = &synth[i];
  nu += nsyn;
  if (nu) qsort(u, nu, sizeof *u, cmp_ent);
  for (size_t i = 0; i < nu; i++) {
    item_t it = {.e = u[i]};
    country_of(u[i], it.cc);
    if (is(u[i], "region") && it.cc[0]) regs[nr++] = it;
    if (is(u[i], "asn") && it.cc[0]) asn_r[na] = asn_c[na] = it, na++;
  }
  if (nr) qsort(regs, nr, sizeof *regs, cmp_item_code);
  if (na) qsort(asn_r, na, sizeof *asn_r, cmp_item_region), qsort(asn_c, na, sizeof *asn_c, cmp_item_code);

  /* the tree in pre-order, each node with its depth: the page is a range of it */
  size_t nn = 0;
  for (size_t c = 0; c < nu; c++) {
    if (!is(u[c], "country")) continue;
    char cc[3] = "";
    if (strlen(u[c]->code) == 2) memcpy(cc, u[c]->code, 3); /* a malformed country code owns no children */
    nodes[nn++] = (node_t){u[c], 0};
    for (size_t r = cc[0] ? lower(regs, nr, cc, NULL, false) : nr; r < nr && strcmp(regs[r].cc, cc) == 0; r++) {
      nodes[nn++] = (node_t){regs[r].e, 1};
      const char *rcode = regs[r].e->code;
      for (size_t a = lower(asn_r, na, cc, rcode, true);
           a < na && strcmp(asn_r[a].cc, cc) == 0 && strcmp(s_or(asn_r[a].e->region), rcode) == 0; a++)
        nodes[nn++] = (node_t){asn_r[a].e, 2};
    }
    for (size_t a = cc[0] ? lower(asn_c, na, cc, NULL, false) : na; a < na && strcmp(asn_c[a].cc, cc) == 0; a++) {
      const char *reg = s_or(asn_c[a].e->region);
      if (*reg && region_exists(regs, nr, cc, reg)) continue;
      nodes[nn++] = (node_t){asn_c[a].e, 1};
    }
  }
  /* entities with no known country (and types without a place in the tree, e.g. domain) */
  for (size_t i = 0; i < nu; i++) {
    char cc[3];
    country_of(u[i], cc);
    if (cc[0] || (!is(u[i], "asn") && !is(u[i], "region"))) continue;
    nodes[nn++] = (node_t){u[i], 0};
  }
  size_t lo = pg ? (size_t)(pg->offset < (int64_t)nn ? pg->offset : (int64_t)nn) : 0;
  size_t hi = pg && pg->limit > 0 && (size_t)pg->limit < nn - lo ? lo + (size_t)pg->limit : nn;
  if (pg) {
    pg->count = (int64_t)nn;
    pg->next_offset = hi < nn ? (int64_t)hi : -1;
  }

  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_obj_begin(&w);
  if (from) kp_jw_kint(&w, "from", from);
  if (until) kp_jw_kint(&w, "until", until);
  kp_jw_key(&w, "entities");
  kp_jw_arr_begin(&w);
  int open = 0;
  if (lo < hi && nodes[lo].depth > 0) { /* the page's first node inside its ancestors */
    size_t anc[2];
    int na2 = 0, d = nodes[lo].depth;
    for (size_t i = lo; i-- > 0 && d > 0;)
      if (nodes[i].depth < d) anc[na2++] = i, d = nodes[i].depth;
    while (na2 > 0) leaf_begin(&w, nodes[anc[--na2]].e), open++;
  }
  for (size_t i = lo; i < hi; i++) {
    while (open > nodes[i].depth) leaf_end(&w), open--;
    leaf_begin(&w, nodes[i].e);
    open++;
  }
  while (open > 0) leaf_end(&w), open--;
  kp_jw_arr_end(&w);
  if (pg) {
    kp_jw_key(&w, "metadata");
    kp_jw_obj_begin(&w);
    kp_jw_kint(&w, "count", pg->count);
    kp_jw_kint(&w, "limit", pg->limit);
    kp_jw_kint(&w, "offset", pg->offset);
    if (pg->next_offset >= 0) kp_jw_kint(&w, "next_offset", pg->next_offset);
    kp_jw_obj_end(&w);
  }
  kp_jw_obj_end(&w);
  st = w.st;
done:
  free(nodes);
  free(asn_c);
  free(asn_r);
  free(regs);
  free(ccs);
  free(synth);
  free(u);
  return st;
}
