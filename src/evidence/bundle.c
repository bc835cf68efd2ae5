/*
 * bundle.c: keepon evidence bundle INCIDENT (layout in evidence.h, docs/evidence.md).
 *
 * What "behind the incident" means (from the detector's incident JSON):
 *   window   [start_ts - margin, (end_ts, or now when ongoing) + margin)
 *   records  every signed record whose measurement has probe_cc = the incident's cc and a
 *            measurement_start_time in the window ("in_window" in custody.jsonl); the bundle
 *            carries the whole chain of each such key, so every link can be checked, and the
 *            key's signed head checkpoint when the source has one
 *   signals  points in the window of (country, cc) for every datasource, and of each event's
 *            (entity_type, entity_code, datasource)
 * Steps: gather -> write the files -> manifest -> RFC 3161 token over the manifest (checked
 * against the given anchor and our nonce before anything is written) -> one tar, written
 * atomically. Order of records: by key, then seq, as a chain reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/file.h"
#include "base/json.h"
#include "evidence/internal.h"
#include "httpc/httpc.h"
#include "store/store.h"

typedef struct ev_rec {
  char key_id[33];
  uint64_t seq;
  char hash[65];
  char *line; /* the record line, '\n'-terminated */
  size_t len;
  char measured[32], cc[8], uid[96];
  int64_t recv_time; /* -1: unknown (from files) */
  bool in_window;
} ev_rec_t;

typedef struct gather {
  ev_rec_t *r;
  size_t n, cap;
  kp_buf_t heads; /* head lines */
  kp_buf_t signals;
  size_t nsignals;
  kp_status_t st;
  /* selection */
  const char *cc;
  int64_t from, until;
} gather_t;

static kp_status_t add_rec(gather_t *g, const kp_outbox_rec_t *r, const char *uid, int64_t recv_time) {
  if (g->n == g->cap) {
    size_t nc = g->cap ? g->cap * 2 : 256;
    ev_rec_t *v = realloc(g->r, nc * sizeof *v);
    if (!v) return KP_ERR_NOMEM;
    g->r = v, g->cap = nc;
  }
  ev_rec_t *e = &g->r[g->n];
  memset(e, 0, sizeof *e);
  kp_buf_t b;
  kp_buf_init(&b, r->msm_len * 6 + 4096);
  kp_status_t st = kp_outbox_rec_write(r, &b);
  if (st != KP_OK) {
    kp_buf_free(&b);
    return st;
  }
  e->len = b.len;
  e->line = kp_buf_steal(&b);
  memcpy(e->key_id, r->key_id, 33);
  e->seq = r->seq;
  static const char hx[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) e->hash[2 * i] = hx[r->hash[i] >> 4], e->hash[2 * i + 1] = hx[r->hash[i] & 15];
  e->recv_time = recv_time;
  snprintf(e->uid, sizeof e->uid, "%s", uid ? uid : "");
  kp_json_doc_t *doc = NULL;
  if (kp_json_parse(r->msm, r->msm_len, NULL, &doc, NULL) == KP_OK) {
    const char *mst = kp_json_get_str(kp_json_root(doc), "measurement_start_time");
    const char *cc = kp_json_get_str(kp_json_root(doc), "probe_cc");
    snprintf(e->measured, sizeof e->measured, "%s", mst ? mst : "");
    snprintf(e->cc, sizeof e->cc, "%s", cc ? cc : "");
    time_t t;
    e->in_window = cc && mst && strcmp(cc, g->cc) == 0 && kp_time_parse(mst, &t) == 0 && t >= g->from && t < g->until;
  }
  kp_json_doc_free(doc);
  g->n++;
  return KP_OK;
}

/* a store row back into the record the probe signed */
static int store_row(void *ctx, const kp_store_msm_t *m) {
  gather_t *g = ctx;
  if (!m->key_id || m->seq < 1 || !m->pubkey || !m->sig || !m->prev_hash) return 0;
  kp_outbox_rec_t r = {.seq = (uint64_t)m->seq, .msm = m->body, .msm_len = m->body_len};
  snprintf(r.key_id, sizeof r.key_id, "%s", m->key_id);
  kp_buf_t t;
  kp_buf_init(&t, 1024);
  bool ok = kp_hex_decode(m->content_hash, 64, r.hash, 32) == KP_OK && kp_hex_decode(m->prev_hash, 64, r.prev, 32) == KP_OK &&
            kp_base64_decode(m->pubkey, strlen(m->pubkey), &t) == KP_OK && t.len == 32;
  if (ok) memcpy(r.pubkey, t.data, 32);
  kp_buf_reset(&t);
  ok = ok && kp_base64_decode(m->sig, strlen(m->sig), &t) == KP_OK && t.len == 64;
  if (ok) memcpy(r.sig, t.data, 64);
  kp_buf_free(&t);
  if (ok && (g->st = add_rec(g, &r, m->uid, m->recv_time)) != KP_OK) return 1;
  return 0;
}

static int store_head(void *ctx, const kp_store_head_t *sh) {
  gather_t *g = ctx;
  kp_outbox_head_t h = {.seq = (uint64_t)sh->seq};
  snprintf(h.key_id, sizeof h.key_id, "%s", sh->key_id);
  kp_buf_t t;
  kp_buf_init(&t, 1024);
  bool ok = kp_hex_decode(sh->head_hash, 64, h.hash, 32) == KP_OK &&
            kp_base64_decode(sh->pubkey, strlen(sh->pubkey), &t) == KP_OK && t.len == 32;
  if (ok) memcpy(h.pubkey, t.data, 32);
  kp_buf_reset(&t);
  ok = ok && kp_base64_decode(sh->sig, strlen(sh->sig), &t) == KP_OK && t.len == 64;
  if (ok) memcpy(h.sig, t.data, 64);
  kp_buf_free(&t);
  if (ok) g->st = kp_outbox_head_write(&h, &g->heads);
  return g->st != KP_OK;
}

static int store_signal(void *ctx, const kp_store_signal_t *s) {
  gather_t *g = ctx;
  kp_jw_t w;
  kp_jw_init(&w, &g->signals);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "type", "signal");
  kp_jw_kstr(&w, "entity_type", s->entity_type);
  kp_jw_kstr(&w, "entity_code", s->entity_code);
  kp_jw_kstr(&w, "datasource", s->datasource);
  kp_jw_kint(&w, "t", s->t);
  kp_jw_kint(&w, "step", s->step);
  if (s->has_value && s->value == (double)(int64_t)s->value && s->value > -9e15 && s->value < 9e15)
    kp_jw_kint(&w, "value", (int64_t)s->value); /* counts read as counts */
  else if (s->has_value) kp_jw_kdouble(&w, "value", s->value);
  else kp_jw_knull(&w, "value");
  kp_jw_obj_end(&w);
  kp_buf_putc(&g->signals, '\n');
  g->nsignals++;
  g->st = w.st;
  return g->st != KP_OK;
}

/* the entities whose signals are behind the incident */
typedef struct ent {
  const char *type, *code, *ds; /* ds NULL: every datasource */
} ent_t;

static size_t incident_entities(const kp_json_t *inc, const char *cc, ent_t *out, size_t max) {
  size_t n = 0;
  out[n++] = (ent_t){"country", cc, NULL};
  const kp_json_t *ev = kp_json_get(inc, "events");
  for (size_t i = 0; i < kp_json_len(ev) && n < max; i++) {
    const kp_json_t *e = kp_json_at(ev, i);
    ent_t x = {kp_json_get_str(e, "entity_type"), kp_json_get_str(e, "entity_code"), kp_json_get_str(e, "datasource")};
    if (!x.type || !x.code || !x.ds || (strcmp(x.type, "country") == 0 && strcmp(x.code, cc) == 0)) continue;
    bool dup = false;
    for (size_t j = 0; j < n && !dup; j++)
      dup = strcmp(out[j].type, x.type) == 0 && strcmp(out[j].code, x.code) == 0 && out[j].ds && strcmp(out[j].ds, x.ds) == 0;
    if (!dup) out[n++] = x;
  }
  return n;
}

static bool signal_wanted(const kp_json_t *o, const ent_t *ents, size_t ne, int64_t from, int64_t until) {
  const char *et = kp_json_get_str(o, "entity_type"), *ec = kp_json_get_str(o, "entity_code");
  const char *ds = kp_json_get_str(o, "datasource"), *type = kp_json_get_str(o, "type");
  int64_t t;
  if (!type || strcmp(type, "signal") != 0 || !et || !ec || !ds || !kp_json_get_int(o, "t", &t) || t < from || t >= until)
    return false;
  for (size_t i = 0; i < ne; i++)
    if (strcmp(ents[i].type, et) == 0 && strcmp(ents[i].code, ec) == 0 && (!ents[i].ds || strcmp(ents[i].ds, ds) == 0))
      return true;
  return false;
}

static kp_status_t gather_files(gather_t *g, const char *records, const char *signals, const ent_t *ents, size_t ne,
                                char *why, size_t cap) {
  kp_buf_t b;
  kp_buf_init(&b, (size_t)1 << 34);
  kp_status_t st = kp_file_read(records, &b);
  if (st != KP_OK) snprintf(why, cap, "cannot read %s", records);
  size_t line = 0;
  for (size_t off = 0; st == KP_OK && off < b.len;) {
    const uint8_t *p = b.data + off, *nl = memchr(p, '\n', b.len - off);
    size_t len = nl ? (size_t)(nl - p) : b.len - off;
    off += len + (nl ? 1 : 0);
    line++;
    if (!len) continue;
    kp_json_doc_t *doc;
    kp_outbox_rec_t r;
    kp_outbox_head_t h;
    const char *w;
    if (kp_outbox_rec_parse(p, len, &doc, &r, &w) == KP_OK) {
      st = add_rec(g, &r, NULL, -1);
      kp_json_doc_free(doc);
    } else if (kp_outbox_head_parse(p, len, &h, &w) == KP_OK) {
      st = kp_outbox_head_write(&h, &g->heads);
    } else {
      snprintf(why, cap, "%s line %zu is neither a keepon record nor a head checkpoint", records, line);
      st = KP_ERR_INVAL;
    }
  }
  kp_buf_free(&b);
  if (st != KP_OK || !signals) return st;
  kp_buf_init(&b, (size_t)1 << 32);
  if ((st = kp_file_read(signals, &b)) != KP_OK) snprintf(why, cap, "cannot read %s", signals);
  for (size_t off = 0; st == KP_OK && off < b.len;) {
    const uint8_t *p = b.data + off, *nl = memchr(p, '\n', b.len - off);
    size_t len = nl ? (size_t)(nl - p) : b.len - off;
    off += len + (nl ? 1 : 0);
    kp_json_doc_t *doc = NULL;
    if (len && kp_json_parse(p, len, NULL, &doc, NULL) == KP_OK &&
        signal_wanted(kp_json_root(doc), ents, ne, g->from, g->until)) {
      st = kp_buf_append(&g->signals, p, len);
      if (st == KP_OK) st = kp_buf_putc(&g->signals, '\n');
      g->nsignals++;
    }
    kp_json_doc_free(doc);
  }
  kp_buf_free(&b);
  return st;
}

static int by_key_seq(const void *a, const void *b) {
  const ev_rec_t *x = a, *y = b;
  int c = strcmp(x->key_id, y->key_id);
  if (c) return c;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void iso(int64_t t, char out[32]) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* the bundle's files in order; data owned here */
typedef struct ev_file {
  const char *name;
  kp_buf_t b;
} ev_file_t;
enum { F_README, F_INCIDENT, F_RECORDS, F_SIGNALS, F_CUSTODY, F_METHOD, F_N };
static const char *const file_names[F_N] = {"README.txt", "incident.json", "records.jsonl", "signals.jsonl",
                                            "custody.jsonl", "method.txt"};

kp_status_t kp_ev_bundle(const kp_ev_bundle_cfg_t *cfg, kp_ev_bundle_info_t *info, char *why, size_t cap) {
  memset(info, 0, sizeof *info);
  snprintf(why, cap, "%s", "");
  const kp_clock_t *clk = cfg->clock ? cfg->clock : kp_clock_system();
  int64_t now = kp_now_wall(clk) / 1000000000;
  int64_t margin = cfg->margin_s > 0 ? cfg->margin_s : 21600;
  gather_t g = {0};
  kp_buf_init(&g.heads, 64u << 20);
  kp_buf_init(&g.signals, (size_t)1 << 32);
  ev_file_t f[F_N];
  for (int i = 0; i < F_N; i++) f[i].name = file_names[i], kp_buf_init(&f[i].b, (size_t)1 << 34);
  kp_buf_t in, manifest, tsq, tsr, anchor, tar;
  kp_buf_init(&in, 256u << 20);
  kp_buf_init(&manifest, 1 << 20);
  kp_buf_init(&tsq, 1 << 16);
  kp_buf_init(&tsr, 1 << 20);
  kp_buf_init(&anchor, 1 << 20);
  kp_buf_init(&tar, (size_t)1 << 34);
  kp_json_doc_t *doc = NULL;
  kp_store_t *store = NULL;
  kp_status_t st = KP_OK;
  if (!cfg->incidents_path || !cfg->out_path || !cfg->tsa_url || !cfg->tsa_ca_path ||
      (!cfg->store_path && !cfg->records_path)) {
    snprintf(why, cap, "need the incidents file, a store or a records file, a TSA URL and its CA, and an output path");
    st = KP_ERR_INVAL;
    goto out;
  }
  /* ---- the incident ---- */
  if ((st = kp_file_read(cfg->incidents_path, &in)) != KP_OK || kp_json_parse(in.data, in.len, NULL, &doc, NULL) != KP_OK) {
    snprintf(why, cap, "%s: not readable JSON", cfg->incidents_path);
    st = KP_ERR_INVAL;
    goto out;
  }
  const kp_json_t *root = kp_json_root(doc), *inc = NULL;
  if (kp_json_is(root, KP_JSON_ARRAY)) {
    for (size_t i = 0; i < kp_json_len(root) && !inc; i++) {
      const char *id = kp_json_get_str(kp_json_at(root, i), "id");
      if (cfg->incident_id ? (id && strcmp(id, cfg->incident_id) == 0) : kp_json_len(root) == 1) inc = kp_json_at(root, i);
    }
  } else if (!cfg->incident_id || (kp_json_get_str(root, "id") && strcmp(kp_json_get_str(root, "id"), cfg->incident_id) == 0)) {
    inc = root;
  }
  const char *id = kp_json_get_str(inc, "id"), *cc = kp_json_get_str(inc, "cc");
  int64_t start, end;
  if (!inc || !id || !cc || !kp_json_get_int(inc, "start_ts", &start) || !kp_json_get_int(inc, "end_ts", &end)) {
    snprintf(why, cap, "%s: no incident %s with id, cc, start_ts and end_ts", cfg->incidents_path,
             cfg->incident_id ? cfg->incident_id : "(the file holds several; name one)");
    st = KP_ERR_NOTFOUND;
    goto out;
  }
  snprintf(info->id, sizeof info->id, "%s", id);
  for (char *p = info->id; *p; p++) /* a folder name on every system */
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
      *p = '_';
  if (info->id[0] == '.') info->id[0] = '_';
  bool ongoing = kp_json_truthy(kp_json_get(inc, "ongoing"));
  g.cc = cc;
  g.from = start - margin;
  g.until = (ongoing && now > end ? now : end) + margin;
  ent_t ents[64];
  size_t ne = incident_entities(inc, cc, ents, 64);
  /* ---- records, heads, signals ---- */
  if (cfg->store_path) {
    if ((st = kp_store_open(cfg->store_path, &store)) != KP_OK) {
      snprintf(why, cap, "cannot open the store %s", cfg->store_path);
      goto out;
    }
    kp_store_filter_t fl;
    kp_store_filter_init(&fl);
    fl.with_body = fl.order_seq = true;
    if ((st = kp_store_query(store, &fl, store_row, &g)) == KP_OK) st = g.st;
    if (st == KP_OK) {
      kp_status_t hs = kp_store_query_heads(store, NULL, store_head, &g);
      st = hs == KP_ERR_UNSUPPORTED ? g.st : (hs != KP_OK ? hs : g.st);
    }
    for (size_t i = 0; st == KP_OK && i < ne; i++)
      if ((st = kp_store_query_signals(store, ents[i].type, ents[i].code, ents[i].ds, g.from, g.until, store_signal, &g)) == KP_OK)
        st = g.st;
    if (st != KP_OK) snprintf(why, cap, "reading the store failed: %s", kp_strstatus(st));
  } else {
    st = gather_files(&g, cfg->records_path, cfg->signals_path, ents, ne, why, cap);
  }
  if (st != KP_OK) goto out;
  /* keys with a record behind the incident: their whole chains go in */
  qsort(g.r, g.n, sizeof *g.r, by_key_seq);
  for (size_t i = 0; i < g.n;) {
    size_t j = i;
    bool any = false;
    while (j < g.n && strcmp(g.r[j].key_id, g.r[i].key_id) == 0) any |= g.r[j++].in_window;
    if (any) {
      info->keys++;
      for (size_t k = i; k < j; k++) {
        if ((st = kp_buf_append(&f[F_RECORDS].b, g.r[k].line, g.r[k].len)) != KP_OK) goto out;
        info->records++;
        info->in_window += g.r[k].in_window;
      }
      /* that key's signed head, when the source kept one */
      for (size_t off = 0; off < g.heads.len;) {
        const uint8_t *p = g.heads.data + off, *nl = memchr(p, '\n', g.heads.len - off);
        size_t len = (size_t)(nl - p) + 1;
        off += len;
        kp_outbox_head_t h;
        const char *w;
        if (kp_outbox_head_parse(p, len - 1, &h, &w) == KP_OK && strcmp(h.key_id, g.r[i].key_id) == 0)
          st = kp_buf_append(&f[F_RECORDS].b, p, len);
      }
    } else {
      for (size_t k = i; k < j; k++) g.r[k].key_id[0] = 0; /* not selected */
    }
    i = j;
  }
  if (!info->in_window) {
    snprintf(why, cap, "no signed record of %s between the incident's start and end (with %lld s margin)", cc, (long long)margin);
    st = KP_ERR_NOTFOUND;
    goto out;
  }
  info->signals = g.nsignals;
  kp_buf_append(&f[F_SIGNALS].b, g.signals.data, g.signals.len);
  /* ---- incident, custody ---- */
  kp_jw_t w;
  kp_jw_init(&w, &f[F_INCIDENT].b);
  kp_jw_node(&w, inc);
  kp_buf_putc(&f[F_INCIDENT].b, '\n');
  char t_now[32], t_from[32], t_until[32], t_start[32], t_end[32];
  iso(now, t_now), iso(g.from, t_from), iso(g.until, t_until), iso(start, t_start), iso(end, t_end);
  kp_jw_init(&w, &f[F_CUSTODY].b);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "event", "bundle_created");
  kp_jw_kstr(&w, "time", t_now);
  kp_jw_kstr(&w, "software", cfg->software ? cfg->software : "keepon");
  kp_jw_kstr(&w, "incident", id);
  kp_jw_kstr(&w, "source", cfg->store_path ? "collector store" : "record and signal files");
  kp_jw_kstr(&w, "collector", cfg->collector);
  kp_jw_obj_end(&w);
  kp_buf_putc(&f[F_CUSTODY].b, '\n');
  for (size_t i = 0; i < g.n; i++) {
    const ev_rec_t *r = &g.r[i];
    if (!r->key_id[0]) continue;
    char t_recv[32];
    kp_jw_init(&w, &f[F_CUSTODY].b); /* one document per line */
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "event", "record");
    kp_jw_kstr(&w, "key_id", r->key_id);
    kp_jw_kint(&w, "seq", (int64_t)r->seq);
    kp_jw_kstr(&w, "hash", r->hash);
    kp_jw_kbool(&w, "in_window", r->in_window);
    kp_jw_kstr(&w, "measured", r->measured);
    if (r->recv_time >= 0) {
      iso(r->recv_time, t_recv);
      kp_jw_kstr(&w, "delivered", t_recv);
      kp_jw_kstr(&w, "collector", cfg->collector ? cfg->collector : "unnamed collector");
      kp_jw_kstr(&w, "verified_on_ingest", "Ed25519 signature, key id and content hash checked before storing");
      kp_jw_kstr(&w, "uid", r->uid);
    } else {
      kp_jw_knull(&w, "delivered");
      kp_jw_knull(&w, "collector");
    }
    kp_jw_obj_end(&w);
    kp_buf_putc(&f[F_CUSTODY].b, '\n');
  }
  /* ---- method and summary ---- */
  kp_buf_printf(&f[F_METHOD].b,
                "Method\n======\n"
                "Software: %s\n"
                "Measurements: taken by keepon probes (OONI data format). Each probe signs every measurement\n"
                "with its own Ed25519 key as it is written: the record binds SHA-256(measurement bytes), its\n"
                "position seq and the previous record's hash (a hash chain). The key is random, made on the\n"
                "probe's first run; its id is the first 16 bytes of SHA-256(public key), in hex.\n"
                "Head checkpoints: after each upload the probe signs \"my chain had N records ending in hash H\";\n"
                "a chain that ends early or differs at N is then visible.\n"
                "Selection: records of %s measured in [%s, %s) (the incident %s..%s plus %lld s either side);\n"
                "the whole chain of each probe key with such a record is included so every link can be checked.\n"
                "Signals: points of country %s (all datasources) and of each entity the detector's events name,\n"
                "over the same window, as stored by the collector.\n"
                "Detection: keepon detect (docs/detect.md); the incident JSON is its output, unchanged.\n"
                "Integrity: manifest.sha256 lists the SHA-256 of every file; manifest.tsr is an RFC 3161\n"
                "time-stamp token over manifest.sha256 from %s, so the files existed, unchanged, at the\n"
                "token's time.\n",
                cfg->software ? cfg->software : "keepon", cc, t_from, t_until, t_start, t_end, (long long)margin, cc,
                cfg->tsa_url);
  const char *type = kp_json_get_str(inc, "type"), *level = kp_json_get_str(inc, "level");
  kp_buf_printf(&f[F_README].b,
                "keepon evidence bundle %s\n\n"
                "What happened\n-------------\n"
                "keepon's detector found a %s (level: %s) in %s from %s to %s%s.\n",
                id, type ? type : "disruption", level ? level : "?", cc, t_start, t_end, ongoing ? " (still ongoing when bundled)" : "");
  const kp_json_t *fnd = kp_json_get(inc, "findings");
  for (size_t i = 0; i < kp_json_len(fnd); i++)
    if (kp_json_is(kp_json_at(fnd, i), KP_JSON_STRING)) kp_buf_printf(&f[F_README].b, "  - %s\n", kp_json_str(kp_json_at(fnd, i)));
  kp_buf_printf(&f[F_README].b,
                "\nWhat is inside\n--------------\n"
                "%zu measurements signed by %zu probe key(s), %zu of them taken in %s during the window, and\n"
                "%zu signal points (records.jsonl, signals.jsonl). custody.jsonl says for each measurement which\n"
                "probe key took it, when, when the collector received it and that the collector checked its\n"
                "signature. method.txt says how all of it was taken and selected.\n\n"
                "How to check it (offline; no need to trust the collector or keepon's operators)\n"
                "--------------------------------------------------------------------------\n"
                "  keepon verify bundle %s.tar --tsa-ca YOUR_COPY_OF_THE_TSA_CERT.pem\n"
                "or by hand, in this folder:\n"
                "  sha256sum -c manifest.sha256\n"
                "  openssl ts -verify -data manifest.sha256 -in manifest.tsr -CAfile YOUR_COPY_OF_THE_TSA_CERT.pem\n"
                "  keepon verify records.jsonl    (signatures, chain links, head checkpoints)\n"
                "Bundled %s.\n",
                info->records, info->keys, info->in_window, cc, info->signals, info->id, t_now);
  /* ---- manifest and time-stamp ---- */
  for (int i = 0; i < F_N; i++) {
    char hex[65];
    kp_sha256_hex(f[i].b.data, f[i].b.len, hex);
    kp_buf_printf(&manifest, "%s  %s\n", hex, f[i].name);
  }
  if ((st = kp_file_read(cfg->tsa_ca_path, &anchor)) != KP_OK) {
    snprintf(why, cap, "cannot read the TSA certificate %s", cfg->tsa_ca_path);
    goto out;
  }
  uint8_t nonce[8];
  if ((st = kp_ev_ts_query(manifest.data, manifest.len, &tsq, nonce)) != KP_OK) {
    snprintf(why, cap, "cannot build the time-stamp request");
    goto out;
  }
  /* the TSA request goes through the control-plane client (its proxy, CA store, UA) */
  if (!cfg->http) {
    st = KP_ERR_INVAL;
    snprintf(why, cap, "no HTTP client for the TSA request");
    goto out;
  }
  kp_httpc_resp_t hr;
  kp_httpc_resp_init(&hr);
  kp_httpc_req_t q = {.method = "POST", .url = cfg->tsa_url, .content_type = "application/timestamp-query",
                      .body = tsq.data, .body_len = tsq.len, .timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000};
  st = kp_httpc_do(cfg->http, &q, &hr);
  if (st != KP_OK || hr.status != 200) {
    snprintf(why, cap, "the TSA %s did not answer the time-stamp request: %s (HTTP %d)", cfg->tsa_url,
             st != KP_OK ? hr.error : "unexpected status", hr.status);
    if (st == KP_OK) st = KP_ERR_IO;
  } else {
    st = kp_buf_append(&tsr, hr.body.data, hr.body.len);
  }
  kp_httpc_resp_free(&hr);
  if (st != KP_OK) goto out;
  kp_ev_ts_info_t ti;
  char twhy[256];
  if ((st = kp_ev_ts_check(tsr.data, tsr.len, manifest.data, manifest.len, anchor.data, anchor.len, nonce, &ti, twhy,
                           sizeof twhy)) != KP_OK) {
    snprintf(why, cap, "the TSA's token is not acceptable: %s", twhy);
    goto out;
  }
  snprintf(info->ts_time, sizeof info->ts_time, "%s", ti.time);
  /* ---- the archive ---- */
  char name[512];
  for (int i = 0; st == KP_OK && i < F_N; i++) {
    snprintf(name, sizeof name, "%s/%s", info->id, f[i].name);
    st = kp_ev_tar_add(&tar, name, f[i].b.data, f[i].b.len, now);
  }
  snprintf(name, sizeof name, "%s/%s", info->id, KP_EV_MANIFEST);
  if (st == KP_OK) st = kp_ev_tar_add(&tar, name, manifest.data, manifest.len, now);
  snprintf(name, sizeof name, "%s/%s", info->id, KP_EV_TSR);
  if (st == KP_OK) st = kp_ev_tar_add(&tar, name, tsr.data, tsr.len, now);
  snprintf(name, sizeof name, "%s/%s", info->id, KP_EV_TSA_CA);
  if (st == KP_OK) st = kp_ev_tar_add(&tar, name, anchor.data, anchor.len, now);
  if (st == KP_OK) st = kp_ev_tar_end(&tar);
  if (st == KP_OK) st = kp_file_write_atomic(cfg->out_path, tar.data, tar.len, 0644);
  if (st != KP_OK) snprintf(why, cap, "cannot write %s: %s", cfg->out_path, kp_strstatus(st));
out:
  for (size_t i = 0; i < g.n; i++) free(g.r[i].line);
  free(g.r);
  kp_buf_free(&g.heads);
  kp_buf_free(&g.signals);
  for (int i = 0; i < F_N; i++) kp_buf_free(&f[i].b);
  kp_buf_free(&in);
  kp_buf_free(&manifest);
  kp_buf_free(&tsq);
  kp_buf_free(&tsr);
  kp_buf_free(&anchor);
  kp_buf_free(&tar);
  kp_json_doc_free(doc);
  kp_store_close(store);
  return st;
}
