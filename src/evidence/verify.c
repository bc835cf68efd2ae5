/*
 * verify.c: keepon verify bundle FILE — every check an investigator needs, offline.
 *
 *   archive    ustar parse (tar.c): regular files under one top folder, safe names
 *   manifest   every listed file present with that SHA-256; every file listed (except the
 *              manifest, its token and the TSA certificate, which the token covers or anchors)
 *   token      RFC 3161 over the manifest bytes, checked against --tsa-ca (pinned) or the
 *              bundle's tsa-ca.pem (reported as not pinned)
 *   records    signatures, content hashes, chain links, head checkpoints (kp_outbox_verify)
 *   custody    each custody record line names a record that is in records.jsonl with that
 *              hash, and each record has one
 *   signals, incident: parse as JSON (their bytes are covered by the manifest)
 * Each problem is reported; verification goes on after one, so the list is complete.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/json.h"
#include "evidence/internal.h"

#define MAX_FILES 64

typedef struct vctx {
  kp_outbox_problem_cb cb;
  void *ctx;
  size_t np;
  const char *file; /* for prefixed record problems */
} vctx_t;

static void prob(vctx_t *v, size_t line, int64_t seq, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void prob(vctx_t *v, size_t line, int64_t seq, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  v->np++;
  if (v->cb) v->cb(v->ctx, line, seq, msg);
}

static void rec_problem(void *ctx, size_t line, int64_t seq, const char *p) {
  vctx_t *v = ctx;
  prob(v, line, seq, "%s: %s", v->file, p);
}

static const kp_ev_entry_t *find(const kp_ev_entry_t *e, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(e[i].name, name) == 0) return &e[i];
  return NULL;
}

/* a folder unpacked from a bundle: its regular files as entries (data owned by bufs) */
static kp_status_t read_dir(const char *dir, kp_ev_entry_t *e, kp_buf_t *bufs, size_t *n) {
  DIR *d = opendir(dir);
  if (!d) return KP_ERR_NOTFOUND;
  struct dirent *de;
  kp_status_t st = KP_OK;
  *n = 0;
  while (st == KP_OK && (de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
    if (*n == MAX_FILES) {
      st = KP_ERR_RANGE;
      break;
    }
    kp_buf_init(&bufs[*n], (size_t)1 << 34);
    if ((st = kp_file_read(path, &bufs[*n])) != KP_OK) {
      kp_buf_free(&bufs[*n]);
      break;
    }
    snprintf(e[*n].name, sizeof e[*n].name, "%s", de->d_name);
    e[*n].data = bufs[*n].data, e[*n].len = bufs[*n].len;
    (*n)++;
  }
  closedir(d);
  return st;
}

typedef struct rkey {
  char key_id[33], hash[65];
  uint64_t seq;
  bool custody;
} rkey_t;

static void check_custody(vctx_t *v, const kp_ev_entry_t *rec, const kp_ev_entry_t *cus, kp_ev_verify_report_t *rep) {
  rkey_t *rk = NULL;
  size_t nr = 0, cap = 0;
  char keys[64][33];
  size_t nkeys = 0;
  for (size_t off = 0; rec && off < rec->len;) {
    const uint8_t *p = rec->data + off, *nl = memchr(p, '\n', rec->len - off);
    size_t len = nl ? (size_t)(nl - p) : rec->len - off;
    off += len + (nl ? 1 : 0);
    kp_json_doc_t *doc;
    kp_outbox_rec_t r;
    const char *why;
    if (!len || kp_outbox_rec_parse(p, len, &doc, &r, &why) != KP_OK) continue;
    if (nr == cap) {
      cap = cap ? cap * 2 : 256;
      rkey_t *g = realloc(rk, cap * sizeof *g);
      if (!g) {
        kp_json_doc_free(doc);
        break;
      }
      rk = g;
    }
    rkey_t *k = &rk[nr++];
    memset(k, 0, sizeof *k);
    memcpy(k->key_id, r.key_id, 33);
    k->seq = r.seq;
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) k->hash[2 * i] = hx[r.hash[i] >> 4], k->hash[2 * i + 1] = hx[r.hash[i] & 15];
    k->hash[64] = 0;
    bool seen = false;
    for (size_t i = 0; i < nkeys && !seen; i++) seen = strcmp(keys[i], r.key_id) == 0;
    if (!seen && nkeys < 64) memcpy(keys[nkeys++], r.key_id, 33);
    kp_json_doc_free(doc);
  }
  rep->keys = nkeys;
  size_t line = 0;
  bool created = false;
  for (size_t off = 0; cus && off < cus->len;) {
    const uint8_t *p = cus->data + off, *nl = memchr(p, '\n', cus->len - off);
    size_t len = nl ? (size_t)(nl - p) : cus->len - off;
    off += len + (nl ? 1 : 0);
    line++;
    if (!len) continue;
    kp_json_doc_t *doc = NULL;
    if (kp_json_parse(p, len, NULL, &doc, NULL) != KP_OK) {
      prob(v, line, -1, "custody.jsonl: not JSON");
      continue;
    }
    const kp_json_t *o = kp_json_root(doc);
    const char *ev = kp_json_get_str(o, "event"), *kid = kp_json_get_str(o, "key_id"), *h = kp_json_get_str(o, "hash");
    int64_t seq = -1;
    if (ev && strcmp(ev, "bundle_created") == 0) created = true;
    else if (ev && strcmp(ev, "record") == 0) {
      kp_json_get_int(o, "seq", &seq);
      rkey_t *m = NULL;
      for (size_t i = 0; i < nr && !m; i++)
        if (kid && strcmp(rk[i].key_id, kid) == 0 && (int64_t)rk[i].seq == seq) m = &rk[i];
      if (!m) prob(v, line, seq, "custody.jsonl: names a record (key %s) that records.jsonl does not hold", kid ? kid : "?");
      else if (!h || strcmp(h, m->hash) != 0)
        prob(v, line, seq, "custody.jsonl: the hash differs from the record's in records.jsonl");
      else if (m->custody) prob(v, line, seq, "custody.jsonl: a second custody line for one record");
      else m->custody = true;
    } else prob(v, line, -1, "custody.jsonl: unknown event");
    kp_json_doc_free(doc);
  }
  if (cus && !created) prob(v, 0, -1, "custody.jsonl: no bundle_created line (who made the bundle, when, with what)");
  for (size_t i = 0; i < nr; i++)
    if (!rk[i].custody) prob(v, 0, (int64_t)rk[i].seq, "records.jsonl: record of key %s has no custody line", rk[i].key_id);
  free(rk);
}

kp_status_t kp_ev_verify_bundle(const char *path, const char *tsa_ca, kp_outbox_problem_cb cb, void *ctx,
                                kp_ev_verify_report_t *rep) {
  memset(rep, 0, sizeof *rep);
  vctx_t v = {.cb = cb, .ctx = ctx};
  kp_ev_entry_t *e = calloc(MAX_FILES, sizeof *e);
  kp_buf_t *bufs = calloc(MAX_FILES, sizeof *bufs);
  kp_buf_t tar, anchor;
  kp_buf_init(&tar, (size_t)1 << 34);
  kp_buf_init(&anchor, 1 << 20);
  size_t n = 0, nbufs = 0;
  kp_status_t st = e && bufs ? KP_OK : KP_ERR_NOMEM;
  struct stat sb;
  if (st != KP_OK) goto out;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    st = read_dir(path, e, bufs, &n);
    nbufs = n;
    if (st != KP_OK) goto out;
  } else {
    if ((st = kp_file_read(path, &tar)) != KP_OK) goto out;
    const char *why;
    if (kp_ev_tar_parse(tar.data, tar.len, e, MAX_FILES, &n, &why) != KP_OK) {
      prob(&v, 0, -1, "not a readable bundle archive: %s", why);
      goto out;
    }
    /* one top folder; names inside it */
    const char *slash = n ? strchr(e[0].name, '/') : NULL;
    size_t tl = slash ? (size_t)(slash - e[0].name) + 1 : 0;
    char top[256];
    memcpy(top, e[0].name, tl);
    top[tl] = 0;
    for (size_t i = 0; i < n; i++) {
      if (!tl || strncmp(e[i].name, top, tl) != 0 || strchr(e[i].name + tl, '/')) {
        prob(&v, 0, -1, "archive member %s is outside the bundle's one folder", e[i].name);
        continue;
      }
      memmove(e[i].name, e[i].name + tl, strlen(e[i].name + tl) + 1);
    }
  }
  rep->files = n;
  /* ---- manifest ---- */
  const kp_ev_entry_t *man = find(e, n, KP_EV_MANIFEST);
  if (!man) {
    prob(&v, 0, -1, "no %s: nothing says what the bundle should hold", KP_EV_MANIFEST);
    goto out;
  }
  bool listed[MAX_FILES] = {0};
  size_t line = 0;
  for (size_t off = 0; off < man->len;) {
    const uint8_t *p = man->data + off, *nl = memchr(p, '\n', man->len - off);
    size_t len = nl ? (size_t)(nl - p) : man->len - off;
    off += len + (nl ? 1 : 0);
    line++;
    char name[256];
    if (len < 67 || len - 66 >= sizeof name || p[64] != ' ' || p[65] != ' ' || strspn((const char *)p, "0123456789abcdef") < 64) {
      prob(&v, line, -1, "%s: not a \"<sha256>  <file>\" line", KP_EV_MANIFEST);
      continue;
    }
    memcpy(name, p + 66, len - 66);
    name[len - 66] = 0;
    const kp_ev_entry_t *f = find(e, n, name);
    if (!f) {
      prob(&v, line, -1, "%s is listed in the manifest but missing from the bundle", name);
      continue;
    }
    listed[f - e] = true;
    char hex[65];
    kp_sha256_hex(f->data, f->len, hex);
    if (memcmp(hex, p, 64) != 0) prob(&v, line, -1, "%s: SHA-256 differs from the manifest: the file was altered", name);
  }
  static const char *const required[] = {"README.txt", "incident.json", "records.jsonl", "signals.jsonl", "custody.jsonl",
                                         "method.txt"};
  for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
    const kp_ev_entry_t *f = find(e, n, required[i]);
    if (!f || !listed[f - e]) prob(&v, 0, -1, "%s is not in the manifest", required[i]);
  }
  for (size_t i = 0; i < n; i++)
    if (!listed[i] && strcmp(e[i].name, KP_EV_MANIFEST) != 0 && strcmp(e[i].name, KP_EV_TSR) != 0 &&
        strcmp(e[i].name, KP_EV_TSA_CA) != 0 && find(e, n, e[i].name) == &e[i]) {
      bool req = false;
      for (size_t k = 0; k < sizeof required / sizeof *required; k++) req |= strcmp(required[k], e[i].name) == 0;
      if (!req) prob(&v, 0, -1, "%s is in the bundle but not in the manifest", e[i].name);
    }
  /* ---- time-stamp ---- */
  const kp_ev_entry_t *tsr = find(e, n, KP_EV_TSR), *own = find(e, n, KP_EV_TSA_CA);
  const uint8_t *ap = NULL;
  size_t al = 0;
  if (tsa_ca) {
    if (kp_file_read(tsa_ca, &anchor) != KP_OK) {
      st = KP_ERR_NOTFOUND;
      goto out;
    }
    ap = anchor.data, al = anchor.len;
    rep->tsa_pinned = true;
  } else if (own) {
    ap = own->data, al = own->len;
  }
  if (!tsr) prob(&v, 0, -1, "no RFC 3161 time-stamp (%s)", KP_EV_TSR);
  else if (!ap) prob(&v, 0, -1, "no TSA certificate to check the time-stamp against (give --tsa-ca)");
  else {
    kp_ev_ts_info_t ti;
    char why[320];
    if (kp_ev_ts_check(tsr->data, tsr->len, man->data, man->len, ap, al, NULL, &ti, why, sizeof why) != KP_OK)
      prob(&v, 0, -1, "%s: %s", KP_EV_TSR, why);
    else {
      snprintf(rep->ts_time, sizeof rep->ts_time, "%s", ti.time);
      snprintf(rep->tsa_name, sizeof rep->tsa_name, "%s", ti.tsa);
    }
  }
  /* ---- records, custody, signals, incident ---- */
  const kp_ev_entry_t *rec = find(e, n, "records.jsonl"), *cus = find(e, n, "custody.jsonl");
  if (rec) {
    v.file = "records.jsonl";
    kp_outbox_verify_opts_t o = {0};
    kp_status_t rs = kp_outbox_verify(rec->data, rec->len, &o, rec_problem, &v, &rep->records);
    if (rs != KP_OK && rs != KP_ERR_PERM) {
      st = rs;
      goto out;
    }
  }
  check_custody(&v, rec, cus, rep);
  const kp_ev_entry_t *sg = find(e, n, "signals.jsonl");
  line = 0;
  for (size_t off = 0; sg && off < sg->len;) {
    const uint8_t *p = sg->data + off, *nl = memchr(p, '\n', sg->len - off);
    size_t len = nl ? (size_t)(nl - p) : sg->len - off;
    off += len + (nl ? 1 : 0);
    line++;
    kp_json_doc_t *doc = NULL;
    if (len && (kp_json_parse(p, len, NULL, &doc, NULL) != KP_OK || !kp_json_get_str(kp_json_root(doc), "entity_code")))
      prob(&v, line, -1, "signals.jsonl: not a signal point");
    else if (len)
      rep->signals++;
    kp_json_doc_free(doc);
  }
  const kp_ev_entry_t *inc = find(e, n, "incident.json");
  kp_json_doc_t *idoc = NULL;
  if (inc && (kp_json_parse(inc->data, inc->len, NULL, &idoc, NULL) != KP_OK || !kp_json_get_str(kp_json_root(idoc), "id")))
    prob(&v, 0, -1, "incident.json: not an incident");
  kp_json_doc_free(idoc);
out:
  for (size_t i = 0; bufs && i < nbufs; i++) kp_buf_free(&bufs[i]);
  free(bufs);
  free(e);
  kp_buf_free(&tar);
  kp_buf_free(&anchor);
  if (st == KP_OK && v.np) st = KP_ERR_PERM;
  return st;
}
