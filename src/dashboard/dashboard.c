/*
 * dashboard.c: the dashboard's routes, independent of the HTTP server (see dashboard.h).
 *
 * State: the entity registry (noted entities + those named by incidents; owned copies) and
 * the current incidents (one JSON array text, replaced as a whole by each POST: detect
 * re-derives every incident on each run, so the newest upload is the truth). With a
 * state_dir the array persists in <state_dir>/dashboard-incidents.json (written atomically)
 * and is reloaded by kp_dashboard_new().
 * Uploads are untrusted: parsed with kp_json_parse under caps, re-serialised by kp_jw_node.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "dashboard/assets.h"
#include "dashboard/dashboard.h"

#define DASH_MAX_ENTITIES 200000
#define DASH_MAX_INCIDENTS 100000
#define DASH_MAX_UPLOAD ((size_t)32 << 20)
#define DASH_PAGE_DEFAULT 1000
#define DASH_PAGE_MAX 10000
#define DASH_PAGE_BYTES ((size_t)1 << 20) /* an incidents page also ends past this */

typedef struct ent {
  char *type, *code, *cc, *region;
  int64_t t_min, t_max;
} ent_t;

/* the registry: entities in insertion order plus an open-addressing index (type, code) ->
 * position + 1 (0 = empty slot), at most half full; a note is O(1) expected, not a scan */
typedef struct reg {
  ent_t *v;
  size_t n, cap;
  size_t *idx;
  size_t nidx; /* slots, a power of two */
} reg_t;

static size_t ent_hash(const char *type, const char *code) {
  uint64_t h = 1469598103934665603ull;
  for (const char *p = type; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  h = (h ^ 0xff) * 1099511628211ull;
  for (const char *p = code; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  return (size_t)h;
}

static kp_status_t reg_reindex(reg_t *r, size_t slots) {
  size_t *idx = calloc(slots, sizeof *idx);
  if (!idx) return KP_ERR_NOMEM;
  for (size_t i = 0; i < r->n; i++) {
    size_t h = ent_hash(r->v[i].type, r->v[i].code) & (slots - 1);
    while (idx[h]) h = (h + 1) & (slots - 1);
    idx[h] = i + 1;
  }
  free(r->idx);
  r->idx = idx;
  r->nidx = slots;
  return KP_OK;
}

/* the slot holding (type, code), or the empty slot where it would go */
static size_t *reg_slot(reg_t *r, const char *type, const char *code) {
  size_t h = ent_hash(type, code) & (r->nidx - 1);
  for (;; h = (h + 1) & (r->nidx - 1)) {
    size_t i = r->idx[h];
    if (!i || (strcmp(r->v[i - 1].type, type) == 0 && strcmp(r->v[i - 1].code, code) == 0)) return &r->idx[h];
  }
}

struct kp_dashboard {
  kp_dashboard_config_t cfg;
  char *state_path; /* NULL = memory only */
  reg_t reg;
  kp_buf_t incidents; /* a JSON array */
  size_t *inc_at;     /* element i of the array is incidents.data[inc_at[2i] .. + inc_at[2i+1]) */
  size_t ninc;
};

const char *const kp_dashboard_routes[] = {"/", "/index.html", "/assets/", "/api/v1/entities",
                                           "/api/v1/incidents", NULL};

static void reg_free(reg_t *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->v[i].type);
    free(r->v[i].code);
    free(r->v[i].cc);
    free(r->v[i].region);
  }
  free(r->v);
  free(r->idx);
  *r = (reg_t){0};
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

static kp_status_t reg_note(reg_t *r, const kp_dash_entity_t *e) {
  if (!e->type || !e->code || !*e->code) return KP_ERR_INVAL;
  if ((r->n + 1) * 2 > r->nidx && reg_reindex(r, r->nidx ? r->nidx * 2 : 128) != KP_OK) return KP_ERR_NOMEM;
  size_t *slot = reg_slot(r, e->type, e->code);
  if (*slot) {
    ent_t *x = &r->v[*slot - 1];
    if (e->t_min > 0 && (x->t_min == 0 || e->t_min < x->t_min)) x->t_min = e->t_min;
    if (e->t_max > x->t_max) x->t_max = e->t_max;
    if (!*x->cc && e->cc && *e->cc) {
      char *c = strdup(e->cc);
      if (!c) return KP_ERR_NOMEM;
      free(x->cc);
      x->cc = c;
    }
    if (!*x->region && e->region && *e->region) {
      char *c = strdup(e->region);
      if (!c) return KP_ERR_NOMEM;
      free(x->region);
      x->region = c;
    }
    return KP_OK;
  }
  if (r->n >= DASH_MAX_ENTITIES) return KP_ERR_NOMEM;
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 64;
    ent_t *v = realloc(r->v, cap * sizeof *v);
    if (!v) return KP_ERR_NOMEM;
    r->v = v;
    r->cap = cap;
  }
  ent_t x = {dup_or_empty(e->type), dup_or_empty(e->code), dup_or_empty(e->cc), dup_or_empty(e->region),
             e->t_min, e->t_max};
  if (!x.type || !x.code || !x.cc || !x.region) {
    free(x.type);
    free(x.code);
    free(x.cc);
    free(x.region);
    return KP_ERR_NOMEM;
  }
  r->v[r->n++] = x;
  *slot = r->n;
  return KP_OK;
}

kp_status_t kp_dashboard_note(kp_dashboard_t *d, const kp_dash_entity_t *e) { return reg_note(&d->reg, e); }

/* entities named by incidents (detect's record: cc, regions[], asns[], start, end) */
static void note_incident_entities(reg_t *r, const kp_json_t *inc) {
  const char *cc = kp_json_get_str(inc, "cc");
  int64_t t0 = 0, t1 = 0;
  kp_json_get_int(inc, "start", &t0);
  kp_json_get_int(inc, "end", &t1);
  if (cc && strlen(cc) == 2) reg_note(r, &(kp_dash_entity_t){.type = "country", .code = cc, .t_min = t0, .t_max = t1});
  static const char *const lists[][2] = {{"regions", "region"}, {"asns", "asn"}};
  for (size_t l = 0; l < 2; l++) {
    const kp_json_t *a = kp_json_get(inc, lists[l][0]);
    for (size_t i = 0; i < kp_json_len(a) && kp_json_is(a, KP_JSON_ARRAY); i++) {
      const char *code = kp_json_str(kp_json_at(a, i));
      if (code && *code) reg_note(r, &(kp_dash_entity_t){.type = lists[l][1], .code = code, .cc = cc});
    }
  }
}

static kp_status_t append_incident(kp_jw_t *w, const kp_json_t *v, size_t *count) {
  if (!kp_json_is(v, KP_JSON_OBJECT)) return KP_ERR_INVAL;
  if (*count >= DASH_MAX_INCIDENTS) return KP_ERR_RANGE;
  kp_jw_node(w, v);
  (*count)++;
  return w->st;
}

kp_status_t kp_dashboard_incidents_parse(const void *p, size_t n, kp_buf_t *out, size_t *count) {
  *count = 0;
  if (n > DASH_MAX_UPLOAD) return KP_ERR_RANGE;
  kp_buf_t tmp;
  kp_buf_init(&tmp, DASH_MAX_UPLOAD * 2);
  kp_jw_t w;
  kp_jw_init(&w, &tmp);
  kp_jw_arr_begin(&w);
  kp_status_t st = KP_OK;
  kp_json_doc_t *doc = NULL;
  if (kp_json_parse(p, n, NULL, &doc, NULL) == KP_OK) {
    const kp_json_t *root = kp_json_root(doc);
    if (kp_json_is(root, KP_JSON_OBJECT) && kp_json_is(kp_json_get(root, "incidents"), KP_JSON_ARRAY))
      root = kp_json_get(root, "incidents");
    if (kp_json_is(root, KP_JSON_ARRAY)) {
      for (size_t i = 0; i < kp_json_len(root) && st == KP_OK; i++) st = append_incident(&w, kp_json_at(root, i), count);
    } else {
      st = append_incident(&w, root, count); /* one object: a one-line JSONL */
    }
    kp_json_doc_free(doc);
  } else {
    /* JSONL: every non-blank line one incident object */
    const char *s = p, *end = s + n;
    while (s < end && st == KP_OK) {
      const char *nl = memchr(s, '\n', (size_t)(end - s));
      const char *le = nl ? nl : end;
      const char *a = s;
      while (a < le && (*a == ' ' || *a == '\t' || *a == '\r')) a++;
      if (a < le) {
        st = kp_json_parse(a, (size_t)(le - a), NULL, &doc, NULL);
        if (st == KP_OK) st = append_incident(&w, kp_json_root(doc), count);
        kp_json_doc_free(doc);
        doc = NULL;
      }
      s = nl ? nl + 1 : end;
    }
  }
  kp_jw_arr_end(&w);
  if (st == KP_OK) st = w.st;
  if (st == KP_OK) st = kp_buf_append(out, tmp.data, tmp.len);
  kp_buf_free(&tmp);
  return st;
}

/* replace the incidents with a parsed, normalised array and learn their entities; each
 * element is re-serialised on its own so a page is a range of them (inc_at) */
static kp_status_t set_incidents(kp_dashboard_t *d, const kp_buf_t *arr) {
  kp_json_doc_t *doc = NULL;
  kp_status_t st = kp_json_parse(arr->data, arr->len, NULL, &doc, NULL);
  if (st != KP_OK) return st;
  const kp_json_t *root = kp_json_root(doc);
  size_t n = kp_json_len(root);
  size_t *at = calloc(2 * n + 1, sizeof *at);
  if (!at) st = KP_ERR_NOMEM;
  kp_buf_reset(&d->incidents);
  kp_jw_t w;
  kp_jw_init(&w, &d->incidents);
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < n && st == KP_OK; i++) {
    note_incident_entities(&d->reg, kp_json_at(root, i));
    size_t before = d->incidents.len + (i ? 1 : 0); /* after the ',' the writer puts first */
    kp_jw_node(&w, kp_json_at(root, i));
    at[2 * i] = before, at[2 * i + 1] = d->incidents.len - before;
    st = w.st;
  }
  kp_jw_arr_end(&w);
  if (st == KP_OK) st = w.st;
  kp_json_doc_free(doc);
  free(d->inc_at);
  d->inc_at = st == KP_OK ? at : NULL;
  d->ninc = st == KP_OK ? n : 0;
  if (st != KP_OK) {
    free(at);
    kp_buf_reset(&d->incidents);
    (void)kp_buf_puts(&d->incidents, "[]");
  }
  return st;
}

kp_status_t kp_dashboard_new(const kp_dashboard_config_t *cfg, kp_dashboard_t **out) {
  kp_dashboard_t *d = calloc(1, sizeof *d);
  if (!d) return KP_ERR_NOMEM;
  if (cfg) d->cfg = *cfg;
  kp_buf_init(&d->incidents, DASH_MAX_UPLOAD * 2);
  kp_status_t st = kp_buf_puts(&d->incidents, "[]");
  if (st == KP_OK && cfg && cfg->state_dir) {
    kp_buf_t path;
    kp_buf_init(&path, 4096);
    st = kp_buf_printf(&path, "%s/dashboard-incidents.json", cfg->state_dir);
    d->state_path = kp_buf_steal(&path);
    kp_buf_t saved;
    kp_buf_init(&saved, DASH_MAX_UPLOAD * 2);
    if (st == KP_OK && d->state_path && kp_file_read(d->state_path, &saved) == KP_OK) {
      kp_buf_t arr;
      kp_buf_init(&arr, DASH_MAX_UPLOAD * 2);
      size_t cnt;
      if (kp_dashboard_incidents_parse(saved.data, saved.len, &arr, &cnt) == KP_OK) st = set_incidents(d, &arr);
      else kp_log_warnx("dashboard", "ignoring unreadable %s", d->state_path);
      kp_buf_free(&arr);
    }
    kp_buf_free(&saved);
  }
  if (st != KP_OK) {
    kp_dashboard_free(d);
    return st;
  }
  *out = d;
  return KP_OK;
}

void kp_dashboard_free(kp_dashboard_t *d) {
  if (!d) return;
  reg_free(&d->reg);
  kp_buf_free(&d->incidents);
  free(d->inc_at);
  free(d->state_path);
  free(d);
}

kp_status_t kp_dashboard_asset(const char *path, const void **data, size_t *len, const char **content_type) {
  if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) path = "/assets/index.html";
  for (const kp_dash_asset_t *a = kp_dash_assets; a->path; a++) {
    if (strcmp(a->path, path) != 0) continue;
    *data = a->data;
    *len = a->len;
    *content_type = a->content_type;
    return KP_OK;
  }
  return KP_ERR_NOTFOUND;
}

static void on_listed(void *ctx, const kp_dash_entity_t *e) { (void)reg_note(ctx, e); }

static kp_status_t entities_json(kp_dashboard_t *d, kp_dash_page_t *pg, kp_buf_t *out) {
  kp_status_t st = KP_OK;
  if (d->cfg.list_entities) {
    st = d->cfg.list_entities(d->cfg.list_ctx, on_listed, &d->reg);
    if (st != KP_OK) kp_log_warnx("dashboard", "listing entities: %s", kp_strstatus(st));
  }
  kp_dash_entity_t *v = d->reg.n ? calloc(d->reg.n, sizeof *v) : NULL;
  if (d->reg.n && !v) return KP_ERR_NOMEM;
  for (size_t i = 0; i < d->reg.n; i++) {
    const ent_t *x = &d->reg.v[i];
    v[i] = (kp_dash_entity_t){x->type, x->code, x->cc, x->region, x->t_min, x->t_max};
  }
  st = kp_dashboard_tree_json_page(v, d->reg.n, pg, out);
  free(v);
  return st;
}

/* limit/offset from a query string (no '?'); digits only. false: a bad value */
static bool page_params(const char *q, kp_dash_page_t *pg) {
  *pg = (kp_dash_page_t){.limit = DASH_PAGE_DEFAULT, .next_offset = -1};
  for (const char *p = q ? q : ""; *p;) {
    const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
    int64_t *dst = strncmp(p, "limit=", 6) == 0 ? &pg->limit : strncmp(p, "offset=", 7) == 0 ? &pg->offset : NULL;
    if (dst) {
      const char *v = strchr(p, '=') + 1;
      int64_t x = 0;
      if (v == end || end - v > 12) return false;
      for (const char *c = v; c < end; c++) {
        if (*c < '0' || *c > '9') return false;
        x = x * 10 + (*c - '0');
      }
      *dst = x;
    }
    p = amp ? amp + 1 : end;
  }
  return pg->limit >= 1 && pg->limit <= DASH_PAGE_MAX;
}

/* {"incidents":[page],"metadata":{...}}: [offset, offset + limit), also ending after the
 * element that passes DASH_PAGE_BYTES (at least one element per page) */
static kp_status_t incidents_json(kp_dashboard_t *d, kp_dash_page_t *pg, kp_buf_t *out) {
  size_t lo = pg->offset < (int64_t)d->ninc ? (size_t)pg->offset : d->ninc, hi = lo, bytes = 0;
  while (hi < d->ninc && hi - lo < (size_t)pg->limit && (hi == lo || bytes < DASH_PAGE_BYTES))
    bytes += d->inc_at[2 * hi + 1], hi++;
  pg->count = (int64_t)d->ninc;
  pg->next_offset = hi < d->ninc ? (int64_t)hi : -1;
  kp_status_t st = kp_buf_puts(out, "{\"incidents\":[");
  for (size_t i = lo; i < hi && st == KP_OK; i++) {
    if (i > lo) st = kp_buf_putc(out, ',');
    if (st == KP_OK) st = kp_buf_append(out, d->incidents.data + d->inc_at[2 * i], d->inc_at[2 * i + 1]);
  }
  if (st == KP_OK) st = kp_buf_puts(out, "],");
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_key(&w, "metadata");
  kp_jw_obj_begin(&w);
  kp_jw_kint(&w, "count", pg->count);
  kp_jw_kint(&w, "limit", pg->limit);
  kp_jw_kint(&w, "offset", pg->offset);
  if (pg->next_offset >= 0) kp_jw_kint(&w, "next_offset", pg->next_offset);
  kp_jw_obj_end(&w);
  if (st == KP_OK) st = w.st;
  if (st == KP_OK) st = kp_buf_putc(out, '}');
  return st;
}

/* POST /api/v1/entities: metadata no signal carries (an ASN's country and region) */
static kp_status_t entities_post(kp_dashboard_t *d, const void *p, size_t n, size_t *count) {
  *count = 0;
  if (n > DASH_MAX_UPLOAD) return KP_ERR_RANGE;
  kp_json_doc_t *doc = NULL;
  kp_status_t st = kp_json_parse(p, n, NULL, &doc, NULL);
  if (st != KP_OK) return st;
  const kp_json_t *root = kp_json_root(doc);
  if (kp_json_is(root, KP_JSON_OBJECT)) root = kp_json_get(root, "entities");
  if (!kp_json_is(root, KP_JSON_ARRAY)) st = KP_ERR_INVAL;
  for (size_t i = 0; st == KP_OK && i < kp_json_len(root); i++) {
    const kp_json_t *o = kp_json_at(root, i);
    kp_dash_entity_t e = {.type = kp_json_get_str(o, "type"), .code = kp_json_get_str(o, "code"),
                          .cc = kp_json_get_str(o, "cc"), .region = kp_json_get_str(o, "region")};
    kp_json_get_int(o, "from", &e.t_min);
    kp_json_get_int(o, "until", &e.t_max);
    if (!e.type || !e.code || !*e.code) {
      st = KP_ERR_INVAL;
      break;
    }
    st = reg_note(&d->reg, &e);
    if (st == KP_OK) (*count)++;
  }
  kp_json_doc_free(doc);
  return st;
}

static kp_status_t json_error(kp_dash_resp_t *r, int status, const char *msg) {
  r->status = status;
  r->content_type = "application/json";
  kp_jw_t w;
  kp_jw_init(&w, &r->body);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "error", msg);
  kp_jw_obj_end(&w);
  return w.st;
}

kp_status_t kp_dashboard_handle(kp_dashboard_t *d, const kp_dash_req_t *req, kp_dash_resp_t *r) {
  const char *path = req->path ? req->path : "";
  const char *method = req->method ? req->method : "GET";
  bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  bool asset = strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0 || strncmp(path, "/assets/", 8) == 0;
  bool ents = strcmp(path, "/api/v1/entities") == 0, incs = strcmp(path, "/api/v1/incidents") == 0;
  if (!asset && !ents && !incs) return KP_ERR_NOTFOUND;
  *r = (kp_dash_resp_t){.status = 200, .content_type = "application/json", .next_offset = -1};
  kp_buf_init(&r->body, DASH_MAX_UPLOAD * 4);
  if (asset) {
    if (!get) return json_error(r, 405, "method not allowed");
    if (kp_dashboard_asset(path, &r->static_body, &r->static_len, &r->content_type) != KP_OK) {
      r->content_type = "application/json";
      return json_error(r, 404, "no such asset");
    }
    return KP_OK;
  }
  kp_dash_page_t pg;
  if (get && !page_params(req->query, &pg))
    return json_error(r, 400, "invalid paging: limit is 1..10000, offset a number");
  if (ents) {
    if (get) {
      kp_status_t st = entities_json(d, &pg, &r->body);
      r->next_offset = pg.next_offset;
      return st;
    }
    if (strcmp(method, "POST") != 0) return json_error(r, 405, "method not allowed");
    size_t cnt = 0;
    kp_status_t st = entities_post(d, req->body, req->body_len, &cnt);
    if (st == KP_ERR_NOMEM) return st;
    if (st != KP_OK) return json_error(r, 400, "body is not a JSON array of {type, code, cc, region, from, until} objects");
    kp_jw_t w;
    kp_jw_init(&w, &r->body);
    kp_jw_obj_begin(&w);
    kp_jw_kint(&w, "stored", (int64_t)cnt);
    kp_jw_obj_end(&w);
    return w.st;
  }
  if (get) {
    kp_status_t st = incidents_json(d, &pg, &r->body);
    r->next_offset = pg.next_offset;
    return st;
  }
  if (strcmp(method, "POST") != 0) return json_error(r, 405, "method not allowed");
  kp_buf_t arr;
  kp_buf_init(&arr, DASH_MAX_UPLOAD * 2);
  size_t cnt = 0;
  kp_status_t st = kp_dashboard_incidents_parse(req->body, req->body_len, &arr, &cnt);
  if (st == KP_ERR_NOMEM) goto out;
  if (st != KP_OK) {
    st = json_error(r, 400, "body is not a JSON array of incidents, {\"incidents\":[...]} or JSONL");
    goto out;
  }
  if (d->state_path) {
    st = kp_file_write_atomic(d->state_path, arr.data, arr.len, 0600);
    if (st != KP_OK) {
      st = json_error(r, 500, "cannot persist the incidents");
      goto out;
    }
  }
  st = set_incidents(d, &arr);
  if (st != KP_OK) goto out;
  kp_jw_t w;
  kp_jw_init(&w, &r->body);
  kp_jw_obj_begin(&w);
  kp_jw_kint(&w, "stored", (int64_t)cnt);
  kp_jw_obj_end(&w);
  st = w.st;
out:
  kp_buf_free(&arr);
  return st;
}
