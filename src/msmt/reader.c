/*
 * reader.c: the OONI measurement readers (see msmt.h): strict view and lenient meta.
 * Pure: bytes in, DOM + typed view out. Every field is type-checked before
 * it is exposed; the view's strings point into the document.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "msmt/msmt.h"

struct kp_msmt {
  kp_json_doc_t *doc;
  const kp_json_t *root;
  kp_msmt_view_t v;
};

static bool all(const char *s, size_t n, int (*pred)(int)) {
  for (size_t i = 0; i < n; i++)
    if (!s[i] || !pred((unsigned char)s[i])) return false;
  return true;
}
static int is_lower_alnum(int c) { return (c >= 'a' && c <= 'z') || isdigit(c); }

bool kp_msmt_report_id_valid(const char *s) {
  if (!s || strlen(s) < 18) return false;
  /* YYYYMMDDThhmmssZ_ */
  if (!all(s, 8, isdigit) || s[8] != 'T' || !all(s + 9, 6, isdigit) || s[15] != 'Z' || s[16] != '_') return false;
  const char *r = s + 17;
  if (r[0] == 'A' && r[1] == 'S' && isdigit((unsigned char)r[2])) { /* legacy: AS<asn>_<50 alnum> */
    const char *u = strchr(r, '_');
    return u && all(r + 2, (size_t)(u - r - 2), isdigit) && strlen(u + 1) == 50 && all(u + 1, 50, isalnum);
  }
  /* <test>_<CC>_<asn>_n1_<16 alnum> */
  const char *u1 = strchr(r, '_');
  if (!u1 || u1 == r || !all(r, (size_t)(u1 - r), is_lower_alnum)) return false;
  const char *cc = u1 + 1;
  if (!all(cc, 2, isupper) || cc[2] != '_') return false;
  const char *asn = cc + 3;
  const char *u3 = strchr(asn, '_');
  if (!u3 || u3 == asn || !all(asn, (size_t)(u3 - asn), isdigit)) return false;
  if (u3[1] != 'n' || !isdigit((unsigned char)u3[2]) || u3[3] != '_') return false;
  const char *tail = u3 + 4;
  return strlen(tail) == 16 && all(tail, 16, isalnum);
}

static kp_status_t bad(char *err, size_t cap, const char *what, const char *field) {
  if (err && cap) snprintf(err, cap, "%s: %s", field, what);
  return KP_ERR_INVAL;
}

static size_t list_len(const kp_json_t *tk, const char *key) {
  const kp_json_t *a = kp_json_get(tk, key);
  return kp_json_is(a, KP_JSON_ARRAY) ? kp_json_len(a) : 0;
}

kp_status_t kp_msmt_parse(const void *p, size_t n, kp_msmt_t **out, char *err, size_t cap) {
  *out = NULL;
  kp_msmt_t *m = calloc(1, sizeof *m);
  if (!m) return KP_ERR_NOMEM;
  size_t off = 0;
  kp_json_limits_t lim = {.max_depth = 64, .max_bytes = 0};
  kp_status_t st = kp_json_parse(p, n, &lim, &m->doc, &off);
  if (st != KP_OK) {
    if (err && cap) snprintf(err, cap, "not valid JSON (%s at byte %zu)", kp_strstatus(st), off);
    free(m);
    return st == KP_ERR_NOMEM ? st : KP_ERR_INVAL;
  }
  const kp_json_t *root = kp_json_root(m->doc);
  root = kp_msmt_unwrap(root);
  m->root = root;
  kp_msmt_view_t *v = &m->v;
  st = KP_OK;
  if (!kp_json_is(root, KP_JSON_OBJECT)) { st = bad(err, cap, "not an object", "measurement"); goto out; }
#define REQ_STR(field)                                                                   \
  do {                                                                                   \
    v->field = kp_json_get_str(root, #field);                                            \
    if (!v->field || !*v->field) { st = bad(err, cap, "missing or not a string", #field); goto out; } \
  } while (0)
  REQ_STR(report_id);
  REQ_STR(probe_cc);
  REQ_STR(probe_asn);
  REQ_STR(test_name);
  REQ_STR(test_version);
  REQ_STR(software_name);
  REQ_STR(software_version);
  REQ_STR(data_format_version);
#undef REQ_STR
  if (!kp_msmt_report_id_valid(v->report_id)) { st = bad(err, cap, "not in OONI's shape", "report_id"); goto out; }
  if (strlen(v->probe_cc) != 2 || !all(v->probe_cc, 2, isupper)) { st = bad(err, cap, "not a country code", "probe_cc"); goto out; }
  if (strncmp(v->probe_asn, "AS", 2) != 0 || !v->probe_asn[2] || !all(v->probe_asn + 2, strlen(v->probe_asn + 2), isdigit) ||
      strlen(v->probe_asn) > 12) {
    st = bad(err, cap, "not AS<digits>", "probe_asn");
    goto out;
  }
  v->asn = (uint32_t)strtoul(v->probe_asn + 2, NULL, 10);
  for (const char *c = v->test_name; *c; c++)
    if (!(is_lower_alnum((unsigned char)*c) || *c == '_')) { st = bad(err, cap, "not snake_case", "test_name"); goto out; }
  const char *mst = kp_json_get_str(root, "measurement_start_time");
  const char *tst = kp_json_get_str(root, "test_start_time");
  if (!mst || strlen(mst) != 19 || kp_time_parse(mst, &v->measurement_start) != 0) {
    st = bad(err, cap, "missing or not 'YYYY-MM-DD hh:mm:ss'", "measurement_start_time");
    goto out;
  }
  if (!tst || strlen(tst) != 19 || kp_time_parse(tst, &v->test_start) != 0) {
    st = bad(err, cap, "missing or not 'YYYY-MM-DD hh:mm:ss'", "test_start_time");
    goto out;
  }
  v->test_keys = kp_json_get(root, "test_keys");
  if (!kp_json_is(v->test_keys, KP_JSON_OBJECT)) { st = bad(err, cap, "missing or not an object", "test_keys"); goto out; }
  const kp_json_t *rt = kp_json_get(root, "test_runtime");
  v->test_runtime = kp_json_is(rt, KP_JSON_NUMBER) ? kp_json_num(rt) : -1;
  v->probe_ip = kp_json_get_str(root, "probe_ip");
  v->probe_network_name = kp_json_get_str(root, "probe_network_name");
  v->resolver_ip = kp_json_get_str(root, "resolver_ip");
  v->input = kp_json_get_str(root, "input");
  v->annotations = kp_json_get(root, "annotations");
  v->nqueries = list_len(v->test_keys, "queries");
  v->ntcp_connect = list_len(v->test_keys, "tcp_connect");
  v->ntls_handshakes = list_len(v->test_keys, "tls_handshakes");
  v->nrequests = list_len(v->test_keys, "requests");
  v->nnetwork_events = list_len(v->test_keys, "network_events");
out:
  if (st != KP_OK) {
    kp_msmt_free(m);
    return st;
  }
  *out = m;
  return KP_OK;
}

void kp_msmt_free(kp_msmt_t *m) {
  if (!m) return;
  kp_json_doc_free(m->doc);
  free(m);
}

const kp_msmt_view_t *kp_msmt_view(const kp_msmt_t *m) { return &m->v; }
const kp_json_t *kp_msmt_root(const kp_msmt_t *m) { return m->root; }
const kp_json_t *kp_msmt_key(const kp_msmt_t *m, const char *key) { return kp_json_get(m->v.test_keys, key); }

static const kp_json_t *entry(const kp_msmt_t *m, const char *list, size_t i) {
  const kp_json_t *a = kp_json_get(m->v.test_keys, list);
  if (!kp_json_is(a, KP_JSON_ARRAY) || i >= kp_json_len(a)) return NULL;
  const kp_json_t *e = kp_json_at(a, i);
  return kp_json_is(e, KP_JSON_OBJECT) ? e : NULL;
}

kp_status_t kp_msmt_tcp(const kp_msmt_t *m, size_t i, kp_msmt_tcp_t *o) {
  memset(o, 0, sizeof *o);
  const kp_json_t *e = entry(m, "tcp_connect", i);
  if (!e) return KP_ERR_NOTFOUND;
  o->ip = kp_json_get_str(e, "ip");
  int64_t port = 0;
  kp_json_get_int(e, "port", &port);
  o->port = port >= 0 && port <= 65535 ? (int)port : 0;
  const kp_json_t *s = kp_json_get(e, "status");
  o->success = kp_json_truthy(kp_json_get(s, "success"));
  o->failure = kp_json_get_str(s, "failure");
  o->t = kp_json_num(kp_json_get(e, "t"));
  return o->ip ? KP_OK : KP_ERR_INVAL;
}

kp_status_t kp_msmt_query(const kp_msmt_t *m, size_t i, kp_msmt_query_t *o) {
  memset(o, 0, sizeof *o);
  const kp_json_t *e = entry(m, "queries", i);
  if (!e) return KP_ERR_NOTFOUND;
  o->hostname = kp_json_get_str(e, "hostname");
  o->engine = kp_json_get_str(e, "engine");
  o->query_type = kp_json_get_str(e, "query_type");
  o->failure = kp_json_get_str(e, "failure");
  o->t = kp_json_num(kp_json_get(e, "t"));
  const kp_json_t *ans = kp_json_get(e, "answers");
  for (size_t k = 0; kp_json_is(ans, KP_JSON_ARRAY) && k < kp_json_len(ans) && o->nanswers < 16; k++) {
    const kp_json_t *a = kp_json_at(ans, k);
    const char *s = kp_json_get_str(a, "ipv4");
    if (!s) s = kp_json_get_str(a, "ipv6");
    if (!s) s = kp_json_get_str(a, "hostname");
    if (s) o->answer[o->nanswers++] = s;
  }
  return o->hostname ? KP_OK : KP_ERR_INVAL;
}

kp_status_t kp_msmt_request(const kp_msmt_t *m, size_t i, kp_msmt_request_t *o) {
  memset(o, 0, sizeof *o);
  const kp_json_t *e = entry(m, "requests", i);
  if (!e) return KP_ERR_NOTFOUND;
  const kp_json_t *rq = kp_json_get(e, "request");
  const kp_json_t *rs = kp_json_get(e, "response");
  o->url = kp_json_get_str(rq, "url");
  o->method = kp_json_get_str(rq, "method");
  o->failure = kp_json_get_str(e, "failure");
  int64_t code = 0;
  if (kp_json_get_int(rs, "code", &code) && code >= 0 && code < 1000) o->status = (int)code;
  o->body = kp_json_get(rs, "body");
  return KP_OK;
}

kp_status_t kp_msmt_tls(const kp_msmt_t *m, size_t i, kp_msmt_tls_t *o) {
  memset(o, 0, sizeof *o);
  const kp_json_t *e = entry(m, "tls_handshakes", i);
  if (!e) return KP_ERR_NOTFOUND;
  o->address = kp_json_get_str(e, "address");
  o->server_name = kp_json_get_str(e, "server_name");
  o->failure = kp_json_get_str(e, "failure");
  o->ncerts = kp_json_len(kp_json_get(e, "peer_certificates"));
  return KP_OK;
}

const kp_json_t *kp_msmt_unwrap(const kp_json_t *root) {
  const kp_json_t *content = kp_json_get(root, "content");
  if (kp_json_is(content, KP_JSON_OBJECT) && (kp_json_get_str(root, "format") || !kp_json_get(root, "test_name")))
    return content;
  return root;
}

/* a string member without an embedded NUL (which would make it read as a shorter string), else NULL */
static const char *clean_str(const kp_json_t *m, const char *key) {
  const kp_json_t *v = kp_json_get(m, key);
  const char *s = kp_json_str(v);
  return s && strlen(s) == kp_json_strlen(v) ? s : NULL;
}

bool kp_msmt_meta(const kp_json_t *m, kp_msmt_meta_t *o) {
  memset(o, 0, sizeof *o);
  o->start = -1;
  if (!kp_json_is(m, KP_JSON_OBJECT)) return false;
  o->report_id = clean_str(m, "report_id");
  o->probe_cc = clean_str(m, "probe_cc");
  o->probe_asn = clean_str(m, "probe_asn");
  o->test_name = clean_str(m, "test_name");
  o->input = clean_str(m, "input");
  o->measurement_uid = clean_str(m, "measurement_uid");
  o->measurement_start_time = clean_str(m, "measurement_start_time");
  const kp_json_t *an = kp_json_get(m, "annotations");
  if (kp_json_is(an, KP_JSON_OBJECT)) o->network_type = clean_str(an, "network_type");
  time_t t;
  if (o->measurement_start_time && kp_time_parse(o->measurement_start_time, &t) == 0) o->start = t;
  const kp_json_t *tk = kp_json_get(m, "test_keys");
  o->test_keys = kp_json_is(tk, KP_JSON_OBJECT) ? tk : NULL;
  return true;
}
