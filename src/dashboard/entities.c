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
 * The tree is O(n²) in the entity count, fine for the hundreds a deployment has.
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

kp_status_t kp_dashboard_tree_json(const kp_dash_entity_t *v, size_t n, kp_buf_t *out) {
  kp_status_t st = KP_OK;
  const kp_dash_entity_t **u = NULL; /* unique entities, sorted by (type, code) */
  kp_dash_entity_t *synth = NULL;    /* countries only known through their children */
  char (*ccs)[3] = NULL;              /* storage for the synthetic countries' codes */
  size_t nu = 0, ns = 0;
  int64_t from = 0, until = 0;
  if (n) {
    u = calloc(2 * n, sizeof *u);
    synth = calloc(n, sizeof *synth);
    if (!u || !synth) {
      st = KP_ERR_NOMEM;
      goto done;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (!v[i].type || !v[i].code || !*v[i].code) continue;
    if (v[i].t_min > 0 && (from == 0 || v[i].t_min < from)) from = v[i].t_min;
    if (v[i].t_max > until) until = v[i].t_max;
    u[nu++] = &v[i];
  }
  /* countries named only as a child's cc get a synthetic node */
  ccs = calloc(nu + 1, sizeof *ccs);
  if (!ccs) {
    st = KP_ERR_NOMEM;
    goto done;
  }
  for (size_t i = 0; i < nu; i++) {
    char cc[3];
    country_of(u[i], cc);
    if (!cc[0] || is(u[i], "country")) continue;
    bool have = false;
    for (size_t j = 0; j < nu && !have; j++) have = is(u[j], "country") && strcmp(u[j]->code, cc) == 0;
    for (size_t j = 0; j < ns && !have; j++) have = strcmp(ccs[j], cc) == 0;
    if (have) continue;
    memcpy(ccs[ns], cc, 3);
    synth[ns] = (kp_dash_entity_t){.type = "country", .code = ccs[ns]};
    u[nu + ns] = &synth[ns];
    ns++;
  }
  nu += ns;
  if (nu) qsort(u, nu, sizeof *u, cmp_ent);
  /* drop duplicates (same type and code) */
  size_t k = 0;
  for (size_t i = 0; i < nu; i++)
    if (k == 0 || cmp_ent(&u[k - 1], &u[i]) != 0) u[k++] = u[i];
  nu = k;

  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_obj_begin(&w);
  if (from) kp_jw_kint(&w, "from", from);
  if (until) kp_jw_kint(&w, "until", until);
  kp_jw_key(&w, "entities");
  kp_jw_arr_begin(&w);
  for (size_t c = 0; c < nu; c++) {
    if (!is(u[c], "country")) continue;
    const char *cc = u[c]->code;
    leaf_begin(&w, u[c]);
    for (size_t r = 0; r < nu; r++) {
      char rc[3];
      country_of(u[r], rc);
      if (!is(u[r], "region") || strcmp(rc, cc) != 0) continue;
      leaf_begin(&w, u[r]);
      for (size_t a = 0; a < nu; a++) {
        char ac[3];
        country_of(u[a], ac);
        if (is(u[a], "asn") && strcmp(ac, cc) == 0 && strcmp(s_or(u[a]->region), u[r]->code) == 0) {
          leaf_begin(&w, u[a]);
          leaf_end(&w);
        }
      }
      leaf_end(&w);
    }
    for (size_t a = 0; a < nu; a++) {
      char ac[3];
      country_of(u[a], ac);
      if (!is(u[a], "asn") || strcmp(ac, cc) != 0) continue;
      bool in_region = false;
      for (size_t r = 0; r < nu && !in_region && *s_or(u[a]->region); r++) {
        char rc[3];
        country_of(u[r], rc);
        in_region = is(u[r], "region") && strcmp(rc, cc) == 0 && strcmp(u[r]->code, u[a]->region) == 0;
      }
      if (in_region) continue;
      leaf_begin(&w, u[a]);
      leaf_end(&w);
    }
    leaf_end(&w);
  }
  /* entities with no known country (and types without a place in the tree, e.g. domain) */
  for (size_t i = 0; i < nu; i++) {
    char cc[3];
    country_of(u[i], cc);
    if (cc[0] || (!is(u[i], "asn") && !is(u[i], "region"))) continue;
    leaf_begin(&w, u[i]);
    leaf_end(&w);
  }
  kp_jw_arr_end(&w);
  kp_jw_obj_end(&w);
  st = w.st;
done:
  free(ccs);
  free(synth);
  free(u);
  return st;
}
