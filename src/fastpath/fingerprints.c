/*
 * fingerprints.c: OONI's blockpage/DNS fingerprint table and its matching.
 *
 * Parsing goes through kp_json_parse (the tables are files a user may swap).
 * Matching follows OONI's fastpath exactly (so flags agree with Explorer):
 *  - DNS: an answer's ipv4, else hostname, else ipv6 equals a DNS pattern;
 *  - body: every body fingerprint is a plain substring search, whatever its
 *    pattern_type (OONI does not run the 14 "regexp" ones as regexps either);
 *    a base64 body is decoded first; a malformed base64 body makes the whole
 *    measurement a failure (OONI's binascii.Error path);
 *  - headers: header names compared case-insensitively; "full" = equality,
 *    "prefix" = starts-with (base64 values decoded); "contains" is not used
 *    by OONI for headers and is not used here.
 * Invariant: the table owns every string; entries are immutable after parse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/codec.h"
#include "base/file.h"
#include "fastpath/fp_internal.h"

static char *dupn(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

/* "AU,DE ,zz" -> "AU,DE" (upper-cased, blanks and ZZ dropped), like OONI's extract_expected_countries */
static char *norm_countries(const char *s) {
  size_t n = s ? strlen(s) : 0;
  char *out = malloc(n + 2);
  if (!out) return NULL;
  size_t o = 0;
  const char *p = s ? s : "";
  while (*p) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char cc[8];
    size_t k = 0;
    for (size_t i = 0; i < len && k < sizeof cc - 1; i++) {
      char ch = p[i];
      if (ch == ' ' || ch == '\t') continue;
      if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 32);
      cc[k++] = ch;
    }
    cc[k] = 0;
    if (k > 0 && strcmp(cc, "ZZ") != 0) {
      if (o) out[o++] = ',';
      memcpy(out + o, cc, k);
      o += k;
    }
    p = e ? e + 1 : p + len;
  }
  out[o] = 0;
  return out;
}

static kp_status_t parse_table(const void *p, size_t n, bool http, kp_fp_db_t *db) {
  kp_json_doc_t *doc = NULL;
  kp_status_t st = kp_json_parse(p, n, NULL, &doc, NULL);
  if (st != KP_OK) return st;
  const kp_json_t *root = kp_json_root(doc);
  if (!kp_json_is(root, KP_JSON_ARRAY)) {
    st = KP_ERR_INVAL;
    goto out;
  }
  size_t cnt = kp_json_len(root);
  kp_fp_t *grown = realloc(db->fps, (db->n + cnt + 1) * sizeof *grown);
  if (!grown) {
    st = KP_ERR_NOMEM;
    goto out;
  }
  db->fps = grown;
  for (size_t i = 0; i < cnt; i++) {
    const kp_json_t *e = kp_json_at(root, i);
    const char *name = kp_json_get_str(e, "name");
    const char *scope = kp_json_get_str(e, "scope");
    const char *loc = kp_json_get_str(e, "location_found");
    const char *ptype = kp_json_get_str(e, "pattern_type");
    const kp_json_t *pat = kp_json_get(e, "pattern");
    if (!name || !scope || !loc || !kp_json_is(pat, KP_JSON_STRING)) continue; /* skip odd rows */
    kp_fp_t f = {0};
    if (!http && strcmp(loc, "dns") == 0) f.loc = KP_FP_DNS;
    else if (http && strcmp(loc, "body") == 0) f.loc = KP_FP_BODY;
    else if (http && strncmp(loc, "header.", 7) == 0 && loc[7]) f.loc = KP_FP_HEADER;
    else continue;
    f.ptype = !ptype ? KP_FP_OTHER : strcmp(ptype, "full") == 0 ? KP_FP_FULL
            : strcmp(ptype, "prefix") == 0 ? KP_FP_PREFIX : KP_FP_OTHER;
    f.name = dupn(name, strlen(name));
    f.scope = dupn(scope, strlen(scope));
    f.header = f.loc == KP_FP_HEADER ? dupn(loc + 7, strlen(loc + 7)) : NULL;
    f.pattern_len = kp_json_strlen(pat);
    f.pattern = dupn(kp_json_str(pat), f.pattern_len);
    f.countries = norm_countries(kp_json_get_str(e, "expected_countries"));
    if (!f.name || !f.scope || !f.pattern || !f.countries || (f.loc == KP_FP_HEADER && !f.header)) {
      free(f.name), free(f.scope), free(f.header), free(f.pattern), free(f.countries);
      st = KP_ERR_NOMEM;
      goto out;
    }
    db->fps[db->n++] = f;
  }
out:
  kp_json_doc_free(doc);
  return st;
}

kp_status_t kp_fp_db_parse(const void *dns, size_t dns_n, const void *http, size_t http_n,
                           kp_fp_db_t **out) {
  kp_fp_db_t *db = calloc(1, sizeof *db);
  if (!db) return KP_ERR_NOMEM;
  kp_status_t st = parse_table(dns, dns_n, false, db);
  if (st == KP_OK) st = parse_table(http, http_n, true, db);
  if (st != KP_OK) {
    kp_fp_db_free(db);
    return st;
  }
  *out = db;
  return KP_OK;
}

kp_status_t kp_fp_db_load_dir(const char *dir, kp_fp_db_t **out) {
  kp_buf_t a, b;
  kp_buf_init(&a, 16u << 20);
  kp_buf_init(&b, 16u << 20);
  char path[4096];
  snprintf(path, sizeof path, "%s/fingerprints_dns.json", dir);
  kp_status_t st = kp_file_read(path, &a);
  if (st == KP_OK) {
    snprintf(path, sizeof path, "%s/fingerprints_http.json", dir);
    st = kp_file_read(path, &b);
  }
  if (st == KP_OK) st = kp_fp_db_parse(a.data, a.len, b.data, b.len, out);
  kp_buf_free(&a);
  kp_buf_free(&b);
  return st;
}

void kp_fp_db_free(kp_fp_db_t *db) {
  if (!db) return;
  for (size_t i = 0; i < db->n; i++) {
    kp_fp_t *f = &db->fps[i];
    free(f->name), free(f->scope), free(f->header), free(f->pattern), free(f->countries);
  }
  free(db->fps);
  free(db);
}

size_t kp_fp_db_count(const kp_fp_db_t *db) { return db ? db->n : 0; }

bool kp_fp_confirms(const kp_fp_t *f, const char *probe_cc) {
  if (strcmp(probe_cc, "ZZ") != 0 && probe_cc[0]) {
    size_t cl = strlen(probe_cc);
    for (const char *p = f->countries; *p;) {
      const char *e = strchr(p, ',');
      size_t len = e ? (size_t)(e - p) : strlen(p);
      if (len == cl && memcmp(p, probe_cc, cl) == 0) return true;
      p += len + (e ? 1 : 0);
    }
  }
  return strcmp(f->scope, "isp") == 0 || strcmp(f->scope, "nat") == 0;
}

static bool add_match(kp_fp_match_t *m, const kp_fp_t *f) {
  if (m->n < KP_FP_MAX_MATCHES) m->fp[m->n++] = f;
  return true;
}

static void match_dns(const kp_fp_db_t *db, const kp_json_t *tk, kp_fp_match_t *m) {
  const kp_json_t *qs = kp_json_get(tk, "queries");
  for (size_t i = 0; i < kp_json_len(qs) && kp_json_is(qs, KP_JSON_ARRAY); i++) {
    const kp_json_t *ans = kp_json_get(kp_json_at(qs, i), "answers");
    if (!kp_json_is(ans, KP_JSON_ARRAY)) continue;
    for (size_t j = 0; j < kp_json_len(ans); j++) {
      const kp_json_t *a = kp_json_at(ans, j);
      const kp_json_t *v = kp_json_get(a, "ipv4");
      if (!v) v = kp_json_get(a, "hostname");
      if (!v) v = kp_json_get(a, "ipv6");
      if (!kp_json_is(v, KP_JSON_STRING)) continue;
      for (size_t k = 0; k < db->n; k++) {
        const kp_fp_t *f = &db->fps[k];
        if (f->loc == KP_FP_DNS && f->pattern_len == kp_json_strlen(v) &&
            memcmp(f->pattern, kp_json_str(v), f->pattern_len) == 0)
          add_match(m, f);
      }
    }
  }
}

/* header value by lower-cased name from a {"Name":"value"} map; base64 values decoded into tmp */
static const kp_json_t *header_get(const kp_json_t *hdrs, const char *lname) {
  for (size_t i = 0; i < kp_json_len(hdrs); i++)
    if (strcasecmp(kp_json_key_at(hdrs, i), lname) == 0) return kp_json_at(hdrs, i);
  return NULL;
}

/* Python's base64.b64decode (OONI's fastpath) drops characters outside the alphabet, then wants
 * a multiple of 4: "aGk" raises binascii.Error (incorrect padding) where a lenient decoder reads "hi". */
static bool py_b64_padded(const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=')
      k++;
  }
  return k % 4 == 0;
}

static bool match_http(const kp_fp_db_t *db, const kp_json_t *resp, kp_fp_match_t *m) {
  const kp_json_t *body = kp_json_get(resp, "body");
  const char *b = NULL;
  size_t bn = 0;
  kp_buf_t dec;
  kp_buf_init(&dec, 64u << 20);
  bool ok = true;
  if (kp_json_is(body, KP_JSON_OBJECT)) {
    const char *fmt = kp_json_get_str(body, "format");
    const kp_json_t *data = kp_json_get(body, "data");
    if (fmt && strcmp(fmt, "base64") == 0 && kp_json_is(data, KP_JSON_STRING)) {
      if (!py_b64_padded(kp_json_str(data), kp_json_strlen(data)) ||
          kp_base64_decode(kp_json_str(data), kp_json_strlen(data), &dec) != KP_OK) {
        ok = false; /* OONI: binascii.Error -> accuracy 0, no matches */
        goto out;
      }
      b = (const char *)dec.data, bn = dec.len;
    }
  } else if (kp_json_is(body, KP_JSON_STRING)) {
    b = kp_json_str(body), bn = kp_json_strlen(body);
  }
  if (b)
    for (size_t k = 0; k < db->n; k++) {
      const kp_fp_t *f = &db->fps[k];
      if (f->loc == KP_FP_BODY && f->pattern_len && memmem(b, bn, f->pattern, f->pattern_len))
        add_match(m, f);
    }
  const kp_json_t *hdrs = kp_json_get(resp, "headers");
  if (kp_json_is(hdrs, KP_JSON_OBJECT) && kp_json_len(hdrs))
    for (size_t k = 0; k < db->n; k++) {
      const kp_fp_t *f = &db->fps[k];
      if (f->loc != KP_FP_HEADER) continue;
      const kp_json_t *v = header_get(hdrs, f->header);
      if (f->ptype == KP_FP_FULL) {
        if (kp_json_is(v, KP_JSON_STRING) && kp_json_strlen(v) == f->pattern_len &&
            memcmp(kp_json_str(v), f->pattern, f->pattern_len) == 0)
          add_match(m, f);
      } else if (f->ptype == KP_FP_PREFIX) {
        const char *s = NULL;
        size_t sn = 0;
        kp_buf_t hv;
        kp_buf_init(&hv, 1u << 20);
        if (kp_json_is(v, KP_JSON_STRING)) s = kp_json_str(v), sn = kp_json_strlen(v);
        else if (kp_json_is(v, KP_JSON_OBJECT) && kp_json_get_str(v, "format") &&
                 strcmp(kp_json_get_str(v, "format"), "base64") == 0) {
          const kp_json_t *d = kp_json_get(v, "data");
          if (kp_json_is(d, KP_JSON_STRING) &&
              kp_base64_decode(kp_json_str(d), kp_json_strlen(d), &hv) == KP_OK)
            s = (const char *)hv.data, sn = hv.len; /* latin1 bytes; patterns are ASCII */
        }
        if (s && sn >= f->pattern_len && memcmp(s, f->pattern, f->pattern_len) == 0) add_match(m, f);
        kp_buf_free(&hv);
      }
    }
out:
  kp_buf_free(&dec);
  return ok;
}

bool kp_fp_match(const kp_fp_db_t *db, const kp_json_t *tk, kp_fp_match_t *m) {
  m->n = 0;
  if (!db) return true;
  match_dns(db, tk, m);
  const kp_json_t *reqs = kp_json_get(tk, "requests");
  if (!kp_json_is(reqs, KP_JSON_ARRAY)) return true;
  for (size_t i = 0; i < kp_json_len(reqs); i++) {
    const kp_json_t *resp = kp_json_get(kp_json_at(reqs, i), "response");
    if (!kp_json_is(resp, KP_JSON_OBJECT)) continue;
    if (!match_http(db, resp, m)) {
      m->n = 0;
      return false;
    }
  }
  return true;
}
