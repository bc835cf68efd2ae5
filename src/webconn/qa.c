/*
 * qa.c: OONI's Web Connectivity QA scenarios (shared/data/ooni/qa format).
 *
 * kp_wc_qa_compare: compare test keys with a scenario's `expect_effective`
 *   on the fields `expect_compared_fields["v0.5"]` lists (an omitted field
 *   counts as null, or 0 when numeric, as the file documents).
 * kp_wc_qa_replay_obs: rebuild an observation set from the scenario's
 *   `measured.detail` (OONI's own v0.5 run, summarised): this validates the
 *   analysis independently of any network.
 *
 * The summary drops transaction ids, tags and probe-side response headers and
 * titles; the replay re-derives them as follows (documented assumptions):
 *  - DNS: one transaction per (engine, resolver, hostname, depth), so A and
 *    AAAA share an id as in OONI (probe#2624).
 *  - Redirect hops: the HTTP requests oldest first are depths 0..n; a final
 *    3xx without failure adds one more hop for its Location.
 *  - An endpoint's depth: the k-th connect to ip:port gets the k-th hop whose
 *    host resolved to ip (any engine) and whose scheme uses that port (http
 *    hops also TLS-check 443). fetch_body = the port is the hop's own.
 *  - The k-th TLS handshake of ip:port belongs to its k-th successful connect.
 *  - Probe header names and title: from a DPI-spoofed response when a
 *    spoof_http_response rule targets the endpoint; else from the scenario's
 *    per-client server behaviour; else the server's page, i.e. the same as
 *    the control's. Header names of the environment's pages are the example
 *    page's (Alt-Svc, Content-Length, Content-Type, Date).
 *  - A body the summary blanked (body_length null) was truncated.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webconn/webconn.h"

static const char *const page_headers[] = {"Alt-Svc", "Content-Length", "Content-Type", "Date"};
static const char *const v05_fields[] = {
    "dns_experiment_failure", "http_experiment_failure", "control_failure", "dns_consistency",
    "body_length_match", "body_proportion", "status_code_match", "headers_match", "title_match",
    "x_dns_flags", "x_blocking_flags", "x_null_null_flags", "accessible", "blocking"};

typedef struct hop {
  char url[512];
  char scheme[8];
  char host[256];
  int port; /* effective */
} hop_t;

static void hop_set(hop_t *h, const char *url) {
  snprintf(h->url, sizeof h->url, "%s", url);
  int port = 0;
  if (kp_wc_url_split(url, h->scheme, sizeof h->scheme, h->host, sizeof h->host, &port) != KP_OK) {
    h->host[0] = 0;
    snprintf(h->scheme, sizeof h->scheme, "http");
  }
  h->port = port ? port : (!strcmp(h->scheme, "https") ? 443 : 80);
}

static bool host_resolves(const kp_wc_obs_t *o, const char *host, const char *ip) {
  if (!strcmp(host, ip)) return true;
  for (size_t i = 0; i < o->ndns; i++) {
    if (!o->dns[i].domain || strcmp(o->dns[i].domain, host)) continue;
    for (size_t k = 0; k < o->dns[i].naddrs; k++)
      if (!strcmp(o->dns[i].addrs[k], ip)) return true;
  }
  return false;
}

static void split_ep(const char *ep, char *ip, size_t cap, int *port) {
  const char *c = strrchr(ep, ':');
  *port = c ? atoi(c + 1) : 0;
  size_t n = c ? (size_t)(c - ep) : strlen(ep);
  if (n && ep[0] == '[') ep++, n -= 2;
  if (n >= cap) n = cap - 1;
  memcpy(ip, ep, n);
  ip[n] = 0;
}

static const char *adup(kp_arena_t *a, const char *s) {
  return s ? kp_arena_strndup(a, s, strlen(s)) : NULL;
}

static void replay_dns(const kp_json_t *qs, kp_wc_obs_t *o) {
  for (size_t i = 0; i < kp_json_len(qs) && o->ndns < KP_WC_MAX_DNS; i++) {
    const kp_json_t *q = kp_json_at(qs, i);
    kp_wc_dns_t *d = &o->dns[o->ndns];
    memset(d, 0, sizeof *d);
    d->engine = kp_json_get_str(q, "engine");
    d->domain = kp_json_get_str(q, "hostname");
    d->qtype = kp_json_get_str(q, "qtype");
    d->failure = kp_json_get_str(q, "failure");
    int64_t depth = 0;
    kp_json_get_int(q, "depth", &depth);
    d->depth = (int)depth;
    const char *res = kp_json_get_str(q, "resolver");
    d->txid = (int64_t)o->ndns + 1;
    for (size_t k = 0; k < o->ndns; k++) { /* same lookup, other qtype: same txid */
      const kp_wc_dns_t *p = &o->dns[k];
      const char *pres = kp_json_get_str(kp_json_at(qs, k), "resolver");
      if (p->depth == d->depth && p->engine && d->engine && !strcmp(p->engine, d->engine) &&
          p->domain && d->domain && !strcmp(p->domain, d->domain) && pres && res &&
          !strcmp(pres, res)) {
        d->txid = p->txid;
        break;
      }
    }
    const kp_json_t *ans = kp_json_get(q, "answers");
    for (size_t k = 0; k < kp_json_len(ans) && d->naddrs < KP_WC_MAX_ADDRS; k++) {
      const char *s = kp_json_str(kp_json_at(ans, k));
      if (s && strncmp(s, "CNAME:", 6)) d->addrs[d->naddrs++] = s;
    }
    o->ndns++;
  }
}

/* Probe-side header names and title for a successful response (see top). */
static void probe_page(const kp_json_t *net, const char *ep, kp_wc_ep_t *e, const kp_wc_ctl_t *ctl) {
  const kp_json_t *dpi = kp_json_get(net, "dpi");
  for (size_t i = 0; i < kp_json_len(dpi); i++) {
    const kp_json_t *r = kp_json_at(dpi, i);
    const char *rule = kp_json_get_str(r, "rule"), *dst = kp_json_get_str(r, "dst");
    if (!rule || strcmp(rule, "spoof_http_response_on_payload_string") || !dst || strcmp(dst, ep))
      continue;
    const kp_json_t *resp = kp_json_get(r, "response");
    const char *t = kp_json_get_str(resp, "title");
    e->title = t ? t : "";
    const kp_json_t *h = kp_json_get(resp, "headers");
    e->nhdr = 0;
    for (size_t k = 0; k < kp_json_len(h) && e->nhdr < KP_WC_MAX_HDRS; k++) {
      const char *name = kp_json_str(kp_json_at(h, k));
      if (name) e->hdr_keys[e->nhdr++] = name;
    }
    return;
  }
  const kp_json_t *sb = kp_json_get(net, "server_behavior");
  for (size_t i = 0; i < kp_json_len(sb); i++) {
    const char *k = kp_json_key_at(sb, i);
    if (k && !strncmp(k, "to_client_ip", 12)) {
      const char *t = kp_json_get_str(kp_json_at(sb, i), "title");
      e->title = t ? t : "";
      goto headers;
    }
  }
  e->title = ctl->present && ctl->title ? ctl->title : "";
headers:
  e->nhdr = 0;
  for (size_t k = 0; k < sizeof page_headers / sizeof *page_headers; k++)
    e->hdr_keys[e->nhdr++] = page_headers[k];
}

static void replay_ctl(const kp_json_t *c, const char *url, kp_wc_ctl_t *ctl) {
  memset(ctl, 0, sizeof *ctl);
  if (!kp_json_is(c, KP_JSON_OBJECT)) return;
  ctl->present = true;
  ctl->url = url;
  const kp_json_t *dns = kp_json_get(c, "dns");
  const char *f = kp_json_get_str(dns, "failure");
  ctl->dns_failure = f ? f : "";
  const kp_json_t *ad = kp_json_get(dns, "addrs");
  for (size_t i = 0; i < kp_json_len(ad) && ctl->ndns < KP_WC_MAX_ADDRS; i++)
    if (kp_json_str(kp_json_at(ad, i))) ctl->dns_addrs[ctl->ndns++] = kp_json_str(kp_json_at(ad, i));
  const kp_json_t *tcp = kp_json_get(c, "tcp_connect");
  for (size_t i = 0; i < kp_json_len(tcp) && ctl->ntcp < KP_WC_MAX_CTL_EPS; i++) {
    const char *r = kp_json_str(kp_json_at(tcp, i));
    ctl->tcp[ctl->ntcp].endpoint = kp_json_key_at(tcp, i);
    ctl->tcp[ctl->ntcp++].failure = (r && strcmp(r, "ok")) ? r : "";
  }
  const kp_json_t *tls = kp_json_get(c, "tls_handshake");
  for (size_t i = 0; i < kp_json_len(tls) && ctl->ntls < KP_WC_MAX_CTL_EPS; i++) {
    const kp_json_t *v = kp_json_at(tls, i);
    const char *r = kp_json_get_str(v, "result");
    ctl->tls[ctl->ntls].endpoint = kp_json_key_at(tls, i);
    ctl->tls[ctl->ntls].server_name = kp_json_get_str(v, "sni");
    ctl->tls[ctl->ntls++].failure = (r && strcmp(r, "ok")) ? r : "";
  }
  const kp_json_t *h = kp_json_get(c, "http_request");
  f = kp_json_get_str(h, "failure");
  ctl->http_failure = f ? f : "";
  ctl->status = -1;
  ctl->body_length = -1;
  kp_json_get_int(h, "status_code", &ctl->status);
  kp_json_get_int(h, "body_length", &ctl->body_length);
  ctl->title = kp_json_get_str(h, "title");
  if (!ctl->title) ctl->title = "";
  if (!*ctl->http_failure)
    for (size_t k = 0; k < sizeof page_headers / sizeof *page_headers; k++)
      ctl->hdr_keys[ctl->nhdr++] = page_headers[k];
}

kp_status_t kp_wc_qa_replay_obs(const kp_json_t *sc, kp_arena_t *a, kp_wc_obs_t *o,
                                const char **control_failure) {
  if (!sc || !a || !o) return KP_ERR_INVAL;
  memset(o, 0, sizeof *o);
  const kp_json_t *m = kp_json_get(sc, "measured");
  const kp_json_t *det = kp_json_get(m, "detail");
  const char *input = kp_json_get_str(sc, "input");
  if (!kp_json_is(det, KP_JSON_OBJECT) || !input) return KP_ERR_INVAL;
  if (control_failure) *control_failure = kp_json_get_str(kp_json_get(m, "test_keys"), "control_failure");
  replay_dns(kp_json_get(det, "dns_queries"), o);

  /* hops, oldest first */
  enum { MAXHOPS = 16 };
  hop_t *hops = kp_arena_alloc(a, sizeof(hop_t) * MAXHOPS);
  if (!hops) return KP_ERR_NOMEM;
  size_t nh = 0;
  const kp_json_t *reqs = kp_json_get(det, "http_requests");
  size_t nreq = kp_json_len(reqs);
  for (size_t i = nreq; i-- > 0 && nh < MAXHOPS;) hop_set(&hops[nh++], kp_json_get_str(kp_json_at(reqs, i), "url") ? kp_json_get_str(kp_json_at(reqs, i), "url") : input);
  if (nh == 0) hop_set(&hops[nh++], input);
  if (nreq) {
    const kp_json_t *last = kp_json_at(reqs, 0);
    int64_t st = 0;
    kp_json_get_int(last, "status_code", &st);
    const char *loc = kp_json_get_str(last, "location");
    if (!kp_json_get_str(last, "failure") && st / 100 == 3 && loc && nh < MAXHOPS) {
      char abs[512];
      if (loc[0] == '/')
        snprintf(abs, sizeof abs, "%s://%s%s", hops[nh - 1].scheme, hops[nh - 1].host, loc);
      else
        snprintf(abs, sizeof abs, "%s", loc);
      hop_set(&hops[nh++], abs);
    }
  }
  /* the URL the control was asked about: the first hop (IDNA-converted by the probe) */
  const char *ctl_url = adup(a, hops[0].url);
  replay_ctl(kp_json_get(det, "control"), ctl_url, &o->ctl);

  /* endpoints */
  const kp_json_t *tcp = kp_json_get(det, "tcp_connect");
  int64_t txid = 1000;
  for (size_t i = 0; i < kp_json_len(tcp) && o->neps < KP_WC_MAX_EPS; i++) {
    const kp_json_t *t = kp_json_at(tcp, i);
    const char *ep = kp_json_get_str(t, "endpoint");
    if (!ep) continue;
    char ip[64];
    int port;
    split_ep(ep, ip, sizeof ip, &port);
    size_t occ = 0;
    for (size_t k = 0; k < i; k++) {
      const char *pe = kp_json_get_str(kp_json_at(tcp, k), "endpoint");
      occ += pe && !strcmp(pe, ep);
    }
    int cand[MAXHOPS];
    size_t nc = 0;
    for (size_t h = 0; h < nh; h++) {
      bool port_ok = port == hops[h].port || (!strcmp(hops[h].scheme, "http") && port == 443);
      if (port_ok && host_resolves(o, hops[h].host, ip)) cand[nc++] = (int)h;
    }
    int depth = nc ? cand[occ < nc ? occ : nc - 1] : 0;
    kp_wc_ep_t *e = &o->eps[o->neps++];
    memset(e, 0, sizeof *e);
    e->txid = ++txid;
    e->ip = adup(a, ip);
    e->port = port;
    e->depth = depth;
    e->fetch_body = port == hops[depth].port;
    const char *f = kp_json_get_str(t, "failure");
    e->tcp_failure = f ? f : "";
    e->title = "";
  }
  /* TLS: k-th handshake of an endpoint -> its k-th successful connect */
  const kp_json_t *tls = kp_json_get(det, "tls_handshakes");
  for (size_t i = 0; i < kp_json_len(tls); i++) {
    const kp_json_t *t = kp_json_at(tls, i);
    const char *ep = kp_json_get_str(t, "endpoint");
    if (!ep) continue;
    char ip[64];
    int port;
    split_ep(ep, ip, sizeof ip, &port);
    for (size_t k = 0; k < o->neps; k++) {
      kp_wc_ep_t *e = &o->eps[k];
      if (strcmp(e->ip, ip) || e->port != port || *e->tcp_failure || e->tls_failure) continue;
      const char *f = kp_json_get_str(t, "failure");
      e->tls_failure = f ? f : "";
      e->tls_sni = kp_json_get_str(t, "sni");
      break;
    }
  }
  /* HTTP: hop d's request -> the fetch_body endpoint at depth d */
  for (size_t i = nreq; i-- > 0;) {
    const kp_json_t *r = kp_json_at(reqs, i);
    int depth = (int)(nreq - 1 - i);
    const char *ep = kp_json_get_str(r, "endpoint");
    if (!ep) continue;
    char ip[64];
    int port;
    split_ep(ep, ip, sizeof ip, &port);
    for (size_t k = 0; k < o->neps; k++) {
      kp_wc_ep_t *e = &o->eps[k];
      if (strcmp(e->ip, ip) || e->port != port || e->depth != depth || e->http_failure) continue;
      const char *f = kp_json_get_str(r, "failure");
      e->http_failure = f ? f : "";
      e->http_url = kp_json_get_str(r, "url");
      kp_json_get_int(r, "status_code", &e->status);
      int64_t bl = 0;
      if (kp_json_get_int(r, "body_length", &bl)) {
        e->body_length = bl;
      } else {
        e->body_length = 1 << 19;
        e->body_truncated = true;
      }
      e->location = kp_json_get_str(r, "location");
      if (!*e->http_failure) probe_page(kp_json_get(sc, "network"), ep, e, &o->ctl);
      if (e->body_truncated) e->title = "";
      break;
    }
  }
  return KP_OK;
}

static void fmt_key(char *out, size_t cap, const char *field, const kp_wc_keys_t *k,
                    const char *control_failure) {
  const char *s = NULL;
  int tri = -1;
  if (!strcmp(field, "dns_experiment_failure")) s = k->dns_experiment_failure;
  else if (!strcmp(field, "http_experiment_failure")) s = k->http_experiment_failure;
  else if (!strcmp(field, "control_failure")) s = control_failure;
  else if (!strcmp(field, "dns_consistency")) s = k->dns_consistency;
  else if (!strcmp(field, "body_length_match")) tri = (int)k->body_length_match;
  else if (!strcmp(field, "status_code_match")) tri = (int)k->status_code_match;
  else if (!strcmp(field, "headers_match")) tri = (int)k->headers_match;
  else if (!strcmp(field, "title_match")) tri = (int)k->title_match;
  else if (!strcmp(field, "accessible")) tri = (int)k->accessible;
  else if (!strcmp(field, "body_proportion")) {
    snprintf(out, cap, "%.6g", k->body_proportion);
    return;
  } else if (!strcmp(field, "x_dns_flags")) {
    snprintf(out, cap, "%lld", (long long)k->x_dns_flags);
    return;
  } else if (!strcmp(field, "x_blocking_flags")) {
    snprintf(out, cap, "%lld", (long long)k->x_blocking_flags);
    return;
  } else if (!strcmp(field, "x_null_null_flags")) {
    snprintf(out, cap, "%lld", (long long)k->x_null_null_flags);
    return;
  } else if (!strcmp(field, "blocking")) {
    const char *b = kp_wc_blocking_str(k->blocking);
    snprintf(out, cap, "%s", b ? b : (k->blocking == KP_WC_BLOCK_FALSE ? "false" : "null"));
    return;
  } else {
    snprintf(out, cap, "?");
    return;
  }
  if (tri >= 0)
    snprintf(out, cap, "%s", tri == KP_WC_NULL ? "null" : tri == KP_WC_TRUE ? "true" : "false");
  else
    snprintf(out, cap, "%s", s ? s : "null");
}

static void fmt_expect(char *out, size_t cap, const char *field, const kp_json_t *v) {
  switch (kp_json_type(v)) {
  case KP_JSON_NULL:
    if (!strncmp(field, "x_", 2) || !strcmp(field, "body_proportion"))
      snprintf(out, cap, "0");
    else
      snprintf(out, cap, "null");
    break;
  case KP_JSON_TRUE: snprintf(out, cap, "true"); break;
  case KP_JSON_FALSE: snprintf(out, cap, "false"); break;
  case KP_JSON_NUMBER: snprintf(out, cap, "%.6g", kp_json_num(v)); break;
  case KP_JSON_STRING: snprintf(out, cap, "%s", kp_json_str(v)); break;
  default: snprintf(out, cap, "?"); break;
  }
}

bool kp_wc_qa_compare(const kp_json_t *sc, const kp_wc_keys_t *k, const char *control_failure,
                      char *msg, size_t cap) {
  const kp_json_t *exp = kp_json_get(sc, "expect_effective");
  const kp_json_t *fields = kp_json_get(kp_json_get(sc, "expect_compared_fields"), "v0.5");
  size_t n = fields ? kp_json_len(fields) : sizeof v05_fields / sizeof *v05_fields;
  if (cap) msg[0] = 0;
  for (size_t i = 0; i < n; i++) {
    const char *f = fields ? kp_json_str(kp_json_at(fields, i)) : v05_fields[i];
    if (!f) continue;
    char want[256], got[256];
    fmt_expect(want, sizeof want, f, kp_json_get(exp, f));
    fmt_key(got, sizeof got, f, k, control_failure);
    bool same = !strcmp(want, got);
    if (!same && !strcmp(f, "body_proportion"))
      same = fabs(kp_json_num(kp_json_get(exp, f)) - k->body_proportion) < 1e-9;
    if (!same) {
      snprintf(msg, cap, "%s expected %s got %s", f, want, got);
      return false;
    }
  }
  return true;
}

static kp_wc_tri_t tri_of(const kp_json_t *v) {
  return kp_json_is(v, KP_JSON_TRUE) ? KP_WC_TRUE : kp_json_is(v, KP_JSON_FALSE) ? KP_WC_FALSE : KP_WC_NULL;
}

kp_status_t kp_wc_keys_from_json(const kp_json_t *tk, kp_wc_keys_t *k, const char **control_failure) {
  memset(k, 0, sizeof *k);
  if (!kp_json_is(tk, KP_JSON_OBJECT)) return KP_ERR_INVAL;
  k->dns_experiment_failure = kp_json_get_str(tk, "dns_experiment_failure");
  k->http_experiment_failure = kp_json_get_str(tk, "http_experiment_failure");
  k->dns_consistency = kp_json_get_str(tk, "dns_consistency");
  k->body_proportion = kp_json_num(kp_json_get(tk, "body_proportion"));
  k->body_length_match = tri_of(kp_json_get(tk, "body_length_match"));
  k->status_code_match = tri_of(kp_json_get(tk, "status_code_match"));
  k->headers_match = tri_of(kp_json_get(tk, "headers_match"));
  k->title_match = tri_of(kp_json_get(tk, "title_match"));
  k->accessible = tri_of(kp_json_get(tk, "accessible"));
  const kp_json_t *b = kp_json_get(tk, "blocking");
  const char *bs = kp_json_str(b);
  if (kp_json_is(b, KP_JSON_FALSE)) k->blocking = KP_WC_BLOCK_FALSE;
  else if (bs && !strcmp(bs, "dns")) k->blocking = KP_WC_BLOCK_DNS;
  else if (bs && !strcmp(bs, "tcp_ip")) k->blocking = KP_WC_BLOCK_TCP_IP;
  else if (bs && !strcmp(bs, "http-failure")) k->blocking = KP_WC_BLOCK_HTTP_FAILURE;
  else if (bs && !strcmp(bs, "http-diff")) k->blocking = KP_WC_BLOCK_HTTP_DIFF;
  else k->blocking = KP_WC_BLOCK_NULL;
  kp_json_get_int(tk, "x_blocking_flags", &k->x_blocking_flags);
  kp_json_get_int(tk, "x_dns_flags", &k->x_dns_flags);
  kp_json_get_int(tk, "x_null_null_flags", &k->x_null_null_flags);
  if (control_failure) *control_failure = kp_json_get_str(tk, "control_failure");
  return KP_OK;
}
