/*
 * archival.c: OONI web_connectivity test_keys (df-001/002/005/006 event
 * lists, x_control_request, control) -> kp_wc_obs_t.
 *
 * Pure: reads a parsed JSON tree (untrusted shape: every member may be missing
 * or of the wrong type) and fills fixed-capacity arrays; entries past a cap
 * are dropped. TLS handshakes and HTTP round trips attach to the TCP connect
 * with the same transaction_id, as OONI's minipipeline does; events whose
 * transaction has no TCP connect are ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "webconn/webconn.h"

static const char *fail_str(const kp_json_t *v) {
  const char *s = kp_json_str(v);
  return s ? s : "";
}

static int tag_depth(const kp_json_t *tags) {
  for (size_t i = 0; i < kp_json_len(tags); i++) {
    const char *t = kp_json_str(kp_json_at(tags, i));
    if (t && !strncmp(t, "depth=", 6)) return atoi(t + 6);
  }
  return -1;
}

static int tag_fetch_body(const kp_json_t *tags) {
  for (size_t i = 0; i < kp_json_len(tags); i++) {
    const char *t = kp_json_str(kp_json_at(tags, i));
    if (t && !strcmp(t, "fetch_body=true")) return 1;
    if (t && !strcmp(t, "fetch_body=false")) return 0;
  }
  return -1;
}

static void add_asn(kp_wc_obs_t *o, const char *ip, int64_t asn) {
  if (!ip || asn <= 0 || o->nasns >= KP_WC_MAX_ASNS) return;
  for (size_t i = 0; i < o->nasns; i++)
    if (!strcmp(o->asns[i].ip, ip)) return;
  o->asns[o->nasns].ip = ip;
  o->asns[o->nasns++].asn = asn;
}

static void read_queries(const kp_json_t *qs, kp_wc_obs_t *o) {
  for (size_t i = 0; i < kp_json_len(qs) && o->ndns < KP_WC_MAX_DNS; i++) {
    const kp_json_t *q = kp_json_at(qs, i);
    if (!kp_json_is(q, KP_JSON_OBJECT)) continue;
    kp_wc_dns_t *d = &o->dns[o->ndns];
    memset(d, 0, sizeof *d);
    int64_t tx = 0;
    kp_json_get_int(q, "transaction_id", &tx);
    d->txid = tx > 0 ? tx : (int64_t)(1000000 + o->ndns);
    d->depth = tag_depth(kp_json_get(q, "tags"));
    d->engine = kp_json_get_str(q, "engine");
    d->domain = kp_json_get_str(q, "hostname");
    d->qtype = kp_json_get_str(q, "query_type");
    d->failure = kp_json_get_str(q, "failure");
    if (!d->domain) continue;
    const kp_json_t *ans = kp_json_get(q, "answers");
    for (size_t k = 0; k < kp_json_len(ans) && d->naddrs < KP_WC_MAX_ADDRS; k++) {
      const kp_json_t *a = kp_json_at(ans, k);
      const char *ip = kp_json_get_str(a, "ipv4");
      if (!ip) ip = kp_json_get_str(a, "ipv6");
      if (!ip) continue;
      d->addrs[d->naddrs++] = ip;
      int64_t asn = 0;
      if (kp_json_get_int(a, "asn", &asn)) add_asn(o, ip, asn);
    }
    o->ndns++;
  }
}

static kp_wc_ep_t *ep_by_tx(kp_wc_obs_t *o, int64_t tx) {
  for (size_t i = 0; i < o->neps; i++)
    if (o->eps[i].txid == tx) return &o->eps[i];
  return NULL;
}

/* MaybeBinaryData body -> (bytes, len); base64 bodies are decoded into @p a. */
static const uint8_t *body_bytes(const kp_json_t *v, kp_arena_t *a, size_t *len) {
  *len = 0;
  if (kp_json_is(v, KP_JSON_STRING)) {
    *len = kp_json_strlen(v);
    return (const uint8_t *)kp_json_str(v);
  }
  const char *data = kp_json_get_str(v, "data");
  if (!data) return NULL;
  kp_buf_t b;
  kp_buf_init(&b, KP_WC_TH_MAX_BODY);
  const uint8_t *out = NULL;
  if (kp_base64_decode(data, strlen(data), &b) == KP_OK && b.len) {
    char *copy = kp_arena_strndup(a, (const char *)b.data, b.len);
    if (copy) {
      out = (const uint8_t *)copy;
      *len = b.len;
    }
  }
  kp_buf_free(&b);
  return out;
}

static void header_keys(const kp_json_t *hdrs, const char **keys, size_t *n) {
  *n = 0;
  for (size_t i = 0; i < kp_json_len(hdrs) && *n < KP_WC_MAX_HDRS; i++) {
    const char *k = kp_json_key_at(hdrs, i);
    if (k) keys[(*n)++] = k;
  }
}

static bool kp_wc_ieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    int x = (*a >= 'A' && *a <= 'Z') ? *a + 32 : *a, y = (*b >= 'A' && *b <= 'Z') ? *b + 32 : *b;
    if (x != y) return false;
  }
  return *a == *b;
}

static const char *header_value(const kp_json_t *hdrs, const char *name) {
  for (size_t i = 0; i < kp_json_len(hdrs); i++) {
    const char *k = kp_json_key_at(hdrs, i);
    if (k && kp_wc_ieq(k, name)) return kp_json_str(kp_json_at(hdrs, i));
  }
  return NULL;
}

static void read_requests(const kp_json_t *rs, kp_arena_t *a, kp_wc_obs_t *o) {
  for (size_t i = 0; i < kp_json_len(rs); i++) {
    const kp_json_t *r = kp_json_at(rs, i);
    int64_t tx = 0;
    if (!kp_json_get_int(r, "transaction_id", &tx)) continue;
    kp_wc_ep_t *e = ep_by_tx(o, tx);
    if (!e) continue;
    const kp_json_t *req = kp_json_get(r, "request"), *resp = kp_json_get(r, "response");
    e->http_failure = fail_str(kp_json_get(r, "failure"));
    e->http_url = kp_json_get_str(req, "url");
    if (*e->http_failure) continue;
    kp_json_get_int(resp, "code", &e->status);
    size_t blen = 0;
    const uint8_t *body = body_bytes(kp_json_get(resp, "body"), a, &blen);
    e->body_length = (int64_t)blen;
    e->body_truncated = kp_json_truthy(kp_json_get(resp, "body_is_truncated"));
    const kp_json_t *hdrs = kp_json_get(resp, "headers");
    header_keys(hdrs, e->hdr_keys, &e->nhdr);
    e->location = header_value(hdrs, "Location");
    char title[520];
    kp_wc_title(body, body ? blen : 0, title, sizeof title);
    e->title = kp_arena_strndup(a, title, strlen(title));
    if (!e->title) e->title = "";
  }
}

kp_status_t kp_wc_ctl_from_json(const kp_json_t *c, const char *url, kp_arena_t *a,
                                kp_wc_ctl_t *ctl) {
  (void)a;
  memset(ctl, 0, sizeof *ctl);
  if (!kp_json_is(c, KP_JSON_OBJECT)) return KP_ERR_INVAL;
  ctl->present = true;
  ctl->url = url;
  const kp_json_t *dns = kp_json_get(c, "dns");
  ctl->dns_failure = fail_str(kp_json_get(dns, "failure"));
  const kp_json_t *addrs = kp_json_get(dns, "addrs");
  for (size_t i = 0; i < kp_json_len(addrs) && ctl->ndns < KP_WC_MAX_ADDRS; i++) {
    const char *s = kp_json_str(kp_json_at(addrs, i));
    if (s) ctl->dns_addrs[ctl->ndns++] = s;
  }
  const kp_json_t *tcp = kp_json_get(c, "tcp_connect");
  for (size_t i = 0; i < kp_json_len(tcp) && ctl->ntcp < KP_WC_MAX_CTL_EPS; i++) {
    const kp_json_t *v = kp_json_at(tcp, i);
    const char *k = kp_json_key_at(tcp, i);
    if (!k || !kp_json_is(v, KP_JSON_OBJECT)) continue;
    ctl->tcp[ctl->ntcp].endpoint = k;
    ctl->tcp[ctl->ntcp++].failure = fail_str(kp_json_get(v, "failure"));
  }
  const kp_json_t *tls = kp_json_get(c, "tls_handshake");
  for (size_t i = 0; i < kp_json_len(tls) && ctl->ntls < KP_WC_MAX_CTL_EPS; i++) {
    const kp_json_t *v = kp_json_at(tls, i);
    const char *k = kp_json_key_at(tls, i);
    if (!k || !kp_json_is(v, KP_JSON_OBJECT)) continue;
    ctl->tls[ctl->ntls].endpoint = k;
    ctl->tls[ctl->ntls].server_name = kp_json_get_str(v, "server_name");
    ctl->tls[ctl->ntls++].failure = fail_str(kp_json_get(v, "failure"));
  }
  const kp_json_t *h = kp_json_get(c, "http_request");
  ctl->http_failure = h ? fail_str(kp_json_get(h, "failure")) : "unknown_failure";
  ctl->status = -1;
  ctl->body_length = -1;
  kp_json_get_int(h, "status_code", &ctl->status);
  kp_json_get_int(h, "body_length", &ctl->body_length);
  const kp_json_t *hh = kp_json_get(h, "headers");
  header_keys(hh, ctl->hdr_keys, &ctl->nhdr);
  for (size_t i = 0; i < ctl->nhdr; i++) ctl->hdr_values[i] = kp_json_str(kp_json_at(hh, i));
  ctl->title = kp_json_get_str(h, "title");
  if (!ctl->title) ctl->title = "";
  return KP_OK;
}

kp_status_t kp_wc_obs_from_archival(const kp_json_t *tk, kp_arena_t *a, kp_wc_obs_t *o) {
  if (!o || !a) return KP_ERR_INVAL;
  memset(o, 0, sizeof *o);
  if (!kp_json_is(tk, KP_JSON_OBJECT)) return KP_ERR_INVAL;
  read_queries(kp_json_get(tk, "queries"), o);
  const kp_json_t *tcp = kp_json_get(tk, "tcp_connect");
  for (size_t i = 0; i < kp_json_len(tcp) && o->neps < KP_WC_MAX_EPS; i++) {
    const kp_json_t *t = kp_json_at(tcp, i);
    int64_t tx = 0, port = 0;
    const char *ip = kp_json_get_str(t, "ip");
    if (!ip || !kp_json_get_int(t, "transaction_id", &tx) || !kp_json_get_int(t, "port", &port))
      continue;
    if (port <= 0 || port > 65535 || ep_by_tx(o, tx)) continue;
    kp_wc_ep_t *e = &o->eps[o->neps++];
    memset(e, 0, sizeof *e);
    e->txid = tx;
    e->ip = ip;
    e->port = (int)port;
    e->tcp_failure = fail_str(kp_json_get(kp_json_get(t, "status"), "failure"));
    e->depth = tag_depth(kp_json_get(t, "tags"));
    e->fetch_body = tag_fetch_body(kp_json_get(t, "tags"));
    e->title = "";
  }
  const kp_json_t *tls = kp_json_get(tk, "tls_handshakes");
  for (size_t i = 0; i < kp_json_len(tls); i++) {
    const kp_json_t *t = kp_json_at(tls, i);
    int64_t tx = 0;
    if (!kp_json_get_int(t, "transaction_id", &tx)) continue;
    kp_wc_ep_t *e = ep_by_tx(o, tx);
    if (!e) continue;
    e->tls_failure = fail_str(kp_json_get(t, "failure"));
    e->tls_sni = kp_json_get_str(t, "server_name");
  }
  read_requests(kp_json_get(tk, "requests"), a, o);
  const kp_json_t *ctl = kp_json_get(tk, "control");
  const char *url = kp_json_get_str(kp_json_get(tk, "x_control_request"), "http_request");
  if (kp_json_is(ctl, KP_JSON_OBJECT) && url) kp_wc_ctl_from_json(ctl, url, a, &o->ctl);
  /* the TH's ip_info carries ASNs for addresses the probe did not map */
  const kp_json_t *ipi = kp_json_get(ctl, "ip_info");
  for (size_t i = 0; i < kp_json_len(ipi); i++) {
    int64_t asn = 0;
    if (kp_json_get_int(kp_json_at(ipi, i), "asn", &asn)) add_asn(o, kp_json_key_at(ipi, i), asn);
  }
  return KP_OK;
}
