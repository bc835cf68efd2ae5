/*
 * th.c: the Web Connectivity test-helper protocol (OONI oohelperd), pure.
 *
 * Request (probe -> TH, POST /):
 *   {"http_request": URL, "http_request_headers": {name: [value, ...]},
 *    "tcp_connect": ["ip:port", ...], "x_quic_enabled": bool}
 * Response (TH -> probe):
 *   {"tcp_connect": {ep: {status, failure}}, "tls_handshake": {ep: {server_name,
 *    status, failure}}, "quic_handshake": {}, "http_request": {body_length,
 *    discovered_h3_endpoint, failure, title, headers, status_code},
 *    "http3_request": null, "dns": {failure, addrs}, "ip_info": {ip: {asn, flags}}}
 *
 * Parsing treats the body as hostile: size cap before parsing, JSON depth and
 * arena caps, every member type-checked, endpoints re-validated as literal
 * ip:port (so the TH never connects to a name the probe chose), and all kept
 * strings copied into the caller's arena so the JSON document can be freed.
 */
#include <stdio.h>
#include <string.h>

#include "base/addr.h"
#include "webconn/webconn.h"

static const char *adup(kp_arena_t *a, const char *s) {
  return kp_arena_strndup(a, s, strlen(s));
}

kp_status_t kp_wc_threq_parse(const void *body, size_t n, kp_arena_t *a, kp_wc_threq_t *out) {
  if (!body || !a || !out) return KP_ERR_INVAL;
  memset(out, 0, sizeof *out);
  if (n > KP_WC_TH_MAX_BODY) return KP_ERR_RANGE;
  kp_json_doc_t *doc = NULL;
  kp_json_limits_t lim = {.max_depth = 16, .max_bytes = 16 * n + 65536};
  kp_status_t st = kp_json_parse(body, n, &lim, &doc, NULL);
  if (st != KP_OK) return st == KP_ERR_NOMEM ? KP_ERR_NOMEM : KP_ERR_INVAL;
  const kp_json_t *root = kp_json_root(doc);
  st = KP_ERR_INVAL;
  const char *url = kp_json_get_str(root, "http_request");
  char scheme[8], host[256];
  int port;
  if (!url || kp_json_strlen(kp_json_get(root, "http_request")) != strlen(url) ||
      kp_wc_url_split(url, scheme, sizeof scheme, host, sizeof host, &port) != KP_OK)
    goto done;
  for (const char *p = url; *p; p++) /* URLs are ASCII (IDNA hosts arrive as punycode) */
    if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) goto done;
  st = KP_ERR_NOMEM;
  if (!(out->url = adup(a, url))) goto done;
  const kp_json_t *hd = kp_json_get(root, "http_request_headers");
  for (size_t i = 0; i < kp_json_len(hd) && out->nhdr < KP_WC_TH_MAX_HEADERS; i++) {
    const char *k = kp_json_key_at(hd, i);
    const kp_json_t *v = kp_json_at(hd, i);
    const char *first = kp_json_is(v, KP_JSON_ARRAY) ? kp_json_str(kp_json_at(v, 0)) : kp_json_str(v);
    if (!k || !first || !*k) continue;
    /* header names/values end up in a request line: refuse control characters */
    bool bad = false;
    for (const char *p = k; *p; p++) bad = bad || (unsigned char)*p <= ' ' || *p == ':';
    for (const char *p = first; *p; p++) bad = bad || (*p == '\r' || *p == '\n');
    if (bad) continue;
    if (!(out->hdr_names[out->nhdr] = adup(a, k)) || !(out->hdr_values[out->nhdr] = adup(a, first)))
      goto done;
    out->nhdr++;
  }
  const kp_json_t *tc = kp_json_get(root, "tcp_connect");
  for (size_t i = 0; i < kp_json_len(tc) && out->nendpoints < KP_WC_TH_MAX_ENDPOINTS; i++) {
    const char *ep = kp_json_str(kp_json_at(tc, i));
    char h[KP_ADDR_STRLEN + 2];
    uint16_t p;
    kp_addr_t ad;
    if (!ep || strlen(ep) > KP_ADDR_STRLEN + 8 || kp_hostport_parse(ep, h, sizeof h, &p) != KP_OK ||
        p == 0 || kp_addr_parse(h, &ad) != KP_OK)
      continue;
    char canon[KP_ADDR_STRLEN + 8], f[KP_ADDR_STRLEN];
    kp_addr_fmt(&ad, f);
    snprintf(canon, sizeof canon, ad.family == 6 ? "[%s]:%u" : "%s:%u", f, (unsigned)p);
    bool seen = false;
    for (size_t k = 0; k < out->nendpoints && !seen; k++) seen = !strcmp(out->endpoints[k], canon);
    if (seen) continue;
    if (!(out->endpoints[out->nendpoints] = adup(a, canon))) goto done;
    out->nendpoints++;
  }
  out->quic = kp_json_truthy(kp_json_get(root, "x_quic_enabled"));
  st = KP_OK;
done:
  kp_json_doc_free(doc);
  return st;
}

void kp_wc_threq_write(kp_jw_t *w, const kp_wc_threq_t *req) {
  kp_jw_obj_begin(w);
  kp_jw_kstr(w, "http_request", req->url);
  kp_jw_key(w, "http_request_headers");
  kp_jw_obj_begin(w);
  for (size_t i = 0; i < req->nhdr; i++) {
    kp_jw_key(w, req->hdr_names[i]);
    kp_jw_arr_begin(w);
    kp_jw_str(w, req->hdr_values[i]);
    kp_jw_arr_end(w);
  }
  kp_jw_obj_end(w);
  kp_jw_key(w, "tcp_connect");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < req->nendpoints; i++) kp_jw_str(w, req->endpoints[i]);
  kp_jw_arr_end(w);
  kp_jw_kbool(w, "x_quic_enabled", req->quic);
  kp_jw_obj_end(w);
}

static void kfail(kp_jw_t *w, const char *f) {
  if (f && *f) kp_jw_kstr(w, "failure", f);
  else kp_jw_knull(w, "failure");
}

static bool ep_ip(const char *ep, char *ip, size_t cap) {
  uint16_t p;
  return kp_hostport_parse(ep, ip, cap, &p) == KP_OK;
}

void kp_wc_thresp_write(kp_jw_t *w, const kp_wc_ctl_t *c, const char *const *probe_addrs,
                        size_t nprobe, const kp_wc_opts_t *opts, kp_wc_asn_fn asn_of, void *asn_ctx) {
  kp_jw_obj_begin(w);
  kp_jw_key(w, "tcp_connect");
  kp_jw_obj_begin(w);
  for (size_t i = 0; i < c->ntcp; i++) {
    kp_jw_key(w, c->tcp[i].endpoint);
    kp_jw_obj_begin(w);
    kp_jw_kbool(w, "status", !(c->tcp[i].failure && *c->tcp[i].failure));
    kfail(w, c->tcp[i].failure);
    kp_jw_obj_end(w);
  }
  kp_jw_obj_end(w);
  kp_jw_key(w, "tls_handshake");
  kp_jw_obj_begin(w);
  for (size_t i = 0; i < c->ntls; i++) {
    kp_jw_key(w, c->tls[i].endpoint);
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "server_name", c->tls[i].server_name ? c->tls[i].server_name : "");
    kp_jw_kbool(w, "status", !(c->tls[i].failure && *c->tls[i].failure));
    kfail(w, c->tls[i].failure);
    kp_jw_obj_end(w);
  }
  kp_jw_obj_end(w);
  kp_jw_key(w, "quic_handshake");
  kp_jw_obj_begin(w);
  kp_jw_obj_end(w);
  bool hok = !(c->http_failure && *c->http_failure);
  kp_jw_key(w, "http_request");
  kp_jw_obj_begin(w);
  kp_jw_kint(w, "body_length", hok ? c->body_length : -1);
  kp_jw_kstr(w, "discovered_h3_endpoint", "");
  kfail(w, c->http_failure);
  kp_jw_kstr(w, "title", hok && c->title ? c->title : "");
  kp_jw_key(w, "headers");
  kp_jw_obj_begin(w);
  for (size_t i = 0; hok && i < c->nhdr; i++)
    kp_jw_kstr(w, c->hdr_keys[i], c->hdr_values[i] ? c->hdr_values[i] : "");
  kp_jw_obj_end(w);
  kp_jw_kint(w, "status_code", hok ? c->status : -1);
  kp_jw_obj_end(w);
  kp_jw_knull(w, "http3_request");
  kp_jw_key(w, "dns");
  kp_jw_obj_begin(w);
  kfail(w, c->dns_failure);
  kp_jw_key(w, "addrs");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < c->ndns; i++) kp_jw_str(w, c->dns_addrs[i]);
  kp_jw_arr_end(w);
  kp_jw_obj_end(w);
  /* ip_info: every address either side knows */
  const char *ips[KP_WC_MAX_ADDRS * 2];
  size_t nips = 0;
  for (size_t i = 0; i < nprobe + c->ndns && nips < sizeof ips / sizeof *ips; i++) {
    const char *ip = i < nprobe ? probe_addrs[i] : c->dns_addrs[i - nprobe];
    bool seen = false;
    for (size_t k = 0; k < nips && !seen; k++) seen = !strcmp(ips[k], ip);
    if (!seen) ips[nips++] = ip;
  }
  kp_jw_key(w, "ip_info");
  kp_jw_obj_begin(w);
  for (size_t i = 0; i < nips; i++) {
    int64_t flags = 0, asn = 0;
    for (size_t k = 0; k < nprobe; k++) flags |= strcmp(probe_addrs[k], ips[i]) ? 0 : KP_WC_IPINFO_PROBE;
    for (size_t k = 0; k < c->ndns; k++)
      if (!strcmp(c->dns_addrs[k], ips[i])) {
        flags |= KP_WC_IPINFO_TH;
        asn = c->ip_asn[k];
      }
    if (asn_of) asn = asn_of(asn_ctx, ips[i]);
    if (kp_wc_is_bogon(ips[i], opts)) flags |= KP_WC_IPINFO_BOGON;
    for (size_t k = 0; k < c->ntls; k++) {
      char ip[KP_ADDR_STRLEN + 2];
      if (ep_ip(c->tls[k].endpoint, ip, sizeof ip) && !strcmp(ip, ips[i]) &&
          !(c->tls[k].failure && *c->tls[k].failure))
        flags |= KP_WC_IPINFO_VALID;
    }
    kp_jw_key(w, ips[i]);
    kp_jw_obj_begin(w);
    kp_jw_kint(w, "asn", asn);
    kp_jw_kint(w, "flags", flags);
    kp_jw_obj_end(w);
  }
  kp_jw_obj_end(w);
  kp_jw_obj_end(w);
}

kp_status_t kp_wc_th_plan(const kp_wc_threq_t *req, const char *const *th_addrs, size_t nth,
                          const kp_wc_dest_t *dest, kp_arena_t *a, const char **eps, size_t cap,
                          size_t *neps) {
  char scheme[8], host[256];
  int port;
  *neps = 0;
  if (kp_wc_url_split(req->url, scheme, sizeof scheme, host, sizeof host, &port) != KP_OK)
    return KP_ERR_INVAL;
  int ports[2], np = 0;
  if (port) ports[np++] = port;
  else if (!strcmp(scheme, "https")) ports[np++] = 443;
  else ports[np++] = 80, ports[np++] = 443;
  for (size_t i = 0; i < req->nendpoints + nth; i++) {
    char ip[KP_ADDR_STRLEN + 2];
    if (i < req->nendpoints) {
      if (!ep_ip(req->endpoints[i], ip, sizeof ip)) continue;
    } else {
      snprintf(ip, sizeof ip, "%s", th_addrs[i - req->nendpoints]);
    }
    kp_addr_t ad;
    if (kp_addr_parse(ip, &ad) != KP_OK || kp_wc_dest_refuse(dest, &ad)) continue; /* as oohelperd skips bogons */
    for (int k = 0; k < np; k++) {
      char ep[KP_ADDR_STRLEN + 8];
      snprintf(ep, sizeof ep, ad.family == 6 ? "[%s]:%d" : "%s:%d", ip, ports[k]);
      bool seen = false;
      for (size_t j = 0; j < *neps && !seen; j++) seen = !strcmp(eps[j], ep);
      if (seen) continue;
      if (*neps >= cap) return KP_OK; /* capped: extra endpoints are not measured */
      if (!(eps[*neps] = adup(a, ep))) return KP_ERR_NOMEM;
      (*neps)++;
    }
  }
  return KP_OK;
}
