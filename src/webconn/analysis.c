/*
 * analysis.c: OONI Web Connectivity v0.5 "classic" analysis over observations.
 *
 * Pipeline (mirrors OONI's minipipeline, re-derived from its documented
 * semantics):
 *
 *   kp_wc_obs_t ──ingest──> container (records: DNS failures, DNS successes
 *        (one per resolved address), endpoints) ──xref control──> container
 *        ├── full container ──metrics──> x_blocking_flags, x_dns_flags,
 *        │                                 x_null_null_flags
 *        └── classic filter (getaddrinfo lookups, endpoints on their
 *            addresses with fetch_body=true) ──metrics + linear walk──>
 *            dns_consistency, dns_experiment_failure, http-diff keys,
 *            blocking, accessible, http_experiment_failure
 *
 * A record is one "web observation": a DNS lookup that resolved one address,
 * or an endpoint carrying the DNS data of the lookup that first found its
 * address. Its `type` is the furthest step reached (DNS < TCP < TLS < HTTP)
 * and `failure` the failure of that step. Optional values are NULL pointers or
 * -1 integers. Invariant: every record lives in one malloc'd block freed at
 * the end of kp_wc_analyze; nothing is retained.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "webconn/webconn.h"

static const char *const common_headers[] = {
    "date",          "content-type", "server",       "cache-control",   "vary",
    "set-cookie",    "location",     "expires",      "x-powered-by",    "content-encoding",
    "last-modified", "accept-ranges", "pragma",      "x-frame-options", "etag",
    "x-content-type-options", "age", "via",          "p3p",             "x-xss-protection",
    "content-language", "cf-ray",   "strict-transport-security", "link", "x-varnish",
};

enum { T_DNS = 0, T_TCP = 1, T_TLS = 2, T_HTTP = 3 };

typedef struct rec {
  int type;
  const char *failure;
  int64_t txid;
  /* DNS part */
  int64_t dns_txid; /* 0 = none */
  const kp_wc_dns_t *dns;
  const char *dns_domain, *dns_failure;
  /* address part */
  const char *ip;
  int bogon; /* -1 none */
  /* endpoint part */
  const kp_wc_ep_t *ep;
  char epaddr[KP_ADDR_STRLEN + 8];
  const char *tcp_failure, *tls_failure, *http_failure;
  int is_final; /* -1 none */
  int depth, fetch_body;
  /* control part */
  const char *ctl_dns_domain, *ctl_dns_failure;
  bool ctl_dns_addrs;
  const char *ctl_tcp_failure, *ctl_tls_failure, *ctl_http_failure;
} rec_t;

#define MAX_RECS (KP_WC_MAX_DNS * KP_WC_MAX_ADDRS + KP_WC_MAX_DNS + KP_WC_MAX_EPS)

typedef struct cont {
  rec_t *dnsf[KP_WC_MAX_DNS];
  size_t ndnsf;
  rec_t *dnss[KP_WC_MAX_DNS * KP_WC_MAX_ADDRS];
  size_t ndnss;
  rec_t *eps[KP_WC_MAX_EPS];
  size_t neps;
} cont_t;

typedef struct set {
  int64_t v[MAX_RECS];
  size_t n;
} set_t;

typedef struct wa {
  set_t dns_success, dns_bogon, dns_invalid, dns_valid, dns_invalid_c, dns_valid_c;
  set_t dns_unexpected, dns_unexplained, dns_expected;
  set_t tcp_expected, tcp_unexpected, tcp_unexplained;
  set_t tls_expected, tls_unexpected, tls_unexplained;
  set_t http_unexpected, http_unexplained;
  const char *dns_exp_failure;
  int64_t fin_tls_noctl, fin_tcp_noctl, fin_tls_ctl, fin_tcp_ctl; /* 0 = none */
  bool has_bp, has_scm, has_hdr, has_title;
  double bp;
  bool scm;
  size_t hdr_common, title_diff;
  rec_t *linear[MAX_RECS];
  size_t nlinear;
} wa_t;

typedef struct work {
  rec_t recs[MAX_RECS];
  size_t nrecs;
  cont_t full, classic;
  wa_t wfull, wclassic;
} work_t;

static bool set_has(const set_t *s, int64_t v) {
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i] == v) return true;
  return false;
}
static void set_add(set_t *s, int64_t v) {
  if (!set_has(s, v) && s->n < MAX_RECS) s->v[s->n++] = v;
}
static void set_del(set_t *s, int64_t v) {
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i] == v) {
      s->v[i] = s->v[--s->n];
      return;
    }
}

static bool is_gai(const char *engine) {
  return engine && (!strcmp(engine, "getaddrinfo") || !strcmp(engine, "golang_net_resolver") ||
                    !strcmp(engine, "system"));
}
static bool failed(const char *f) { return f && *f; }
static bool okv(const char *f) { return f && !*f; }

static int64_t asn_of(const kp_wc_obs_t *o, const char *ip) {
  for (size_t i = 0; i < o->nasns; i++)
    if (o->asns[i].ip && !strcmp(o->asns[i].ip, ip)) return o->asns[i].asn;
  return 0;
}

static void fmt_ep(char *out, size_t cap, const char *ip, int port) {
  if (strchr(ip, ':'))
    snprintf(out, cap, "[%s]:%d", ip, port);
  else
    snprintf(out, cap, "%s:%d", ip, port);
}

/* ---- ingest ---- */

static rec_t *new_rec(work_t *w) {
  if (w->nrecs >= MAX_RECS) return NULL;
  rec_t *r = &w->recs[w->nrecs++];
  memset(r, 0, sizeof *r);
  r->bogon = -1;
  r->is_final = -1;
  r->depth = -1;
  r->fetch_body = -1;
  return r;
}

static rec_t *known_ip(const cont_t *c, const char *ip) {
  for (size_t i = 0; i < c->ndnss; i++)
    if (!strcmp(c->dnss[i]->ip, ip)) return c->dnss[i];
  return NULL;
}

static kp_status_t ingest(work_t *w, const kp_wc_obs_t *o, const kp_wc_opts_t *opts) {
  cont_t *c = &w->full;
  for (size_t i = 0; i < o->ndns; i++) {
    const kp_wc_dns_t *d = &o->dns[i];
    if (!d->failure) continue;
    rec_t *r = new_rec(w);
    if (!r) return KP_ERR_NOMEM;
    r->type = T_DNS;
    r->failure = r->dns_failure = d->failure;
    r->txid = r->dns_txid = d->txid;
    r->dns = d;
    r->dns_domain = d->domain;
    r->depth = d->depth;
    c->dnsf[c->ndnsf++] = r;
  }
  for (size_t i = 0; i < o->ndns; i++) {
    const kp_wc_dns_t *d = &o->dns[i];
    if (d->failure) continue;
    for (size_t j = 0; j < d->naddrs; j++) {
      bool dup = false; /* a lookup's addresses form a set */
      for (size_t k = 0; k < j; k++) dup = dup || !strcmp(d->addrs[k], d->addrs[j]);
      if (dup) continue;
      rec_t *r = new_rec(w);
      if (!r) return KP_ERR_NOMEM;
      r->type = T_DNS;
      r->failure = NULL;
      r->txid = r->dns_txid = d->txid;
      r->dns = d;
      r->dns_domain = d->domain;
      r->dns_failure = "";
      r->ip = d->addrs[j];
      r->bogon = kp_wc_is_bogon(r->ip, opts);
      r->depth = d->depth;
      c->dnss[c->ndnss++] = r;
    }
  }
  for (size_t i = 0; i < o->neps; i++) {
    const kp_wc_ep_t *e = &o->eps[i];
    if (!e->ip || !e->tcp_failure) continue;
    rec_t *base = known_ip(c, e->ip);
    rec_t *r = new_rec(w);
    if (!r) return KP_ERR_NOMEM;
    if (base) {
      r->dns_txid = base->dns_txid;
      r->dns = base->dns;
      r->dns_domain = base->dns_domain;
      r->dns_failure = base->dns_failure;
    }
    r->ip = e->ip;
    r->bogon = kp_wc_is_bogon(e->ip, opts);
    r->ep = e;
    r->txid = e->txid;
    fmt_ep(r->epaddr, sizeof r->epaddr, e->ip, e->port);
    r->type = T_TCP;
    r->failure = r->tcp_failure = e->tcp_failure;
    r->depth = e->depth;
    r->fetch_body = e->fetch_body;
    if (e->tls_failure) {
      r->type = T_TLS;
      r->failure = r->tls_failure = e->tls_failure;
    }
    if (e->http_failure) {
      r->type = T_HTTP;
      r->failure = r->http_failure = e->http_failure;
      if (!*e->http_failure) {
        int64_t k = e->status / 100;
        r->is_final = (k == 2 || k == 4 || k == 5);
      }
    }
    c->eps[c->neps++] = r;
  }
  return KP_OK;
}

static void xref_control(cont_t *c, const kp_wc_ctl_t *ctl) {
  char scheme[8], host[256];
  int port;
  if (!ctl->present || !ctl->url ||
      kp_wc_url_split(ctl->url, scheme, sizeof scheme, host, sizeof host, &port) != KP_OK)
    return;
  const char *dnsf = ctl->dns_failure ? ctl->dns_failure : "";
  rec_t **lists[2] = {c->dnsf, c->dnss};
  size_t ns[2] = {c->ndnsf, c->ndnss};
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; i < ns[l]; i++) {
      rec_t *r = lists[l][i];
      if (!r->dns_domain || strcmp(r->dns_domain, host)) continue;
      r->ctl_dns_domain = r->dns_domain;
      r->ctl_dns_failure = dnsf;
      r->ctl_dns_addrs = !*dnsf;
    }
  /* The TH's final-response outcome is the expectation for every observation,
   * including lookups made while following redirects (no DNS control there). */
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; i < ns[l]; i++) lists[l][i]->ctl_http_failure = ctl->http_failure ? ctl->http_failure : "";
  for (size_t i = 0; i < c->neps; i++) {
    rec_t *r = c->eps[i];
    bool th_has = false;
    for (size_t k = 0; k < ctl->ndns; k++) th_has = th_has || !strcmp(ctl->dns_addrs[k], r->ip);
    if (!r->dns_domain && th_has) {
      r->ctl_dns_domain = ctl->url;
      r->ctl_dns_failure = dnsf;
      r->ctl_dns_addrs = true;
    } else if (r->dns_domain && !strcmp(r->dns_domain, host)) {
      r->ctl_dns_domain = r->dns_domain;
      r->ctl_dns_failure = dnsf;
      r->ctl_dns_addrs = !*dnsf;
    }
    for (size_t k = 0; k < ctl->ntcp; k++)
      if (!strcmp(ctl->tcp[k].endpoint, r->epaddr))
        r->ctl_tcp_failure = ctl->tcp[k].failure ? ctl->tcp[k].failure : "";
    if (r->ep->tls_failure && r->ep->tls_sni)
      for (size_t k = 0; k < ctl->ntls; k++)
        if (!strcmp(ctl->tls[k].endpoint, r->epaddr) && ctl->tls[k].server_name &&
            !strcmp(ctl->tls[k].server_name, r->ep->tls_sni))
          r->ctl_tls_failure = ctl->tls[k].failure ? ctl->tls[k].failure : "";
    r->ctl_http_failure = ctl->http_failure ? ctl->http_failure : "";
  }
}

static void classic_filter(const cont_t *in, cont_t *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < in->ndnsf; i++)
    if (is_gai(in->dnsf[i]->dns->engine)) out->dnsf[out->ndnsf++] = in->dnsf[i];
  for (size_t i = 0; i < in->ndnss; i++)
    if (is_gai(in->dnss[i]->dns->engine)) out->dnss[out->ndnss++] = in->dnss[i];
  for (size_t i = 0; i < in->neps; i++)
    if (known_ip(out, in->eps[i]->ip) && in->eps[i]->fetch_body == 1)
      out->eps[out->neps++] = in->eps[i];
}

/* ---- metrics ---- */

static bool ip_in_list(const char *ip, const char *const *l, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(l[i], ip)) return true;
  return false;
}

/* A lookup is valid when it shares an address, or a known ASN, with the TH. */
static bool lookup_valid(const kp_wc_obs_t *o, const kp_wc_dns_t *d) {
  for (size_t i = 0; i < d->naddrs; i++)
    if (ip_in_list(d->addrs[i], o->ctl.dns_addrs, o->ctl.ndns)) return true;
  for (size_t i = 0; i < d->naddrs; i++) {
    int64_t a = asn_of(o, d->addrs[i]);
    if (a <= 0) continue;
    for (size_t k = 0; k < o->ctl.ndns; k++)
      if (asn_of(o, o->ctl.dns_addrs[k]) == a) return true;
  }
  return false;
}

static void dns_success_metrics(wa_t *wa, const cont_t *c, const kp_wc_obs_t *o) {
  set_t *seen = calloc(1, sizeof *seen);
  if (!seen) return;
  for (size_t i = 0; i < c->ndnss; i++) {
    rec_t *r = c->dnss[i];
    if (set_has(seen, r->dns_txid)) continue;
    set_add(seen, r->dns_txid);
    if (r->depth != 0) continue;
    set_add(&wa->dns_success, r->dns_txid);
    if (r->bogon == 1) set_add(&wa->dns_bogon, r->dns_txid);
    if (!r->ctl_dns_addrs) continue;
    bool v = lookup_valid(o, r->dns);
    set_add(v ? &wa->dns_valid : &wa->dns_invalid, r->dns_txid);
    set_add(v ? &wa->dns_valid_c : &wa->dns_invalid_c, r->dns_txid);
  }
  for (size_t i = 0; i < c->neps; i++) {
    rec_t *r = c->eps[i];
    if (!okv(r->tls_failure) || r->dns_txid <= 0) continue;
    set_del(&wa->dns_invalid, r->dns_txid);
    set_add(&wa->dns_valid, r->dns_txid);
  }
  free(seen);
}

static void dns_failure_metrics(wa_t *wa, const cont_t *c, const kp_wc_ctl_t *ctl) {
  set_t *seen = calloc(1, sizeof *seen);
  if (!seen) return;
  for (size_t i = 0; i < c->ndnsf; i++) {
    rec_t *r = c->dnsf[i];
    if (set_has(seen, r->dns_txid)) continue;
    set_add(seen, r->dns_txid);
    if (r->dns->engine && !strcmp(r->dns->engine, "doh")) continue; /* DoH says nothing of the URL */
    if (r->dns->qtype && !strcmp(r->dns->qtype, "AAAA") && !strcmp(r->dns_failure, "dns_no_answer"))
      continue;
    if (r->depth != 0) {
      if (failed(r->dns_failure)) set_add(&wa->dns_unexplained, r->dns_txid);
      continue;
    }
    if (failed(r->dns_failure) && !wa->dns_exp_failure) wa->dns_exp_failure = r->dns_failure;
    if (!r->ctl_dns_failure) continue;
    if (failed(r->dns_failure) && failed(r->ctl_dns_failure)) {
      set_add(&wa->dns_expected, r->dns_txid);
      continue;
    }
    if (failed(r->ctl_dns_failure)) continue;
    if (failed(r->dns_failure)) {
      /* probe dns_no_answer vs a TH that resolved nothing: the same outcome */
      if (!strcmp(r->dns_failure, "dns_no_answer") && r->ctl_dns_addrs && ctl->ndns == 0) {
        set_add(&wa->dns_expected, r->dns_txid);
        continue;
      }
      set_add(&wa->dns_unexpected, r->dns_txid);
    }
  }
  free(seen);
}

static bool misconfigured_v6(const rec_t *r) {
  return strchr(r->ip, ':') && r->tcp_failure &&
         (!strcmp(r->tcp_failure, "host_unreachable") || !strcmp(r->tcp_failure, "network_unreachable"));
}

static void ep_metrics(wa_t *wa, const cont_t *c) {
  for (size_t i = 0; i < c->neps; i++) {
    rec_t *r = c->eps[i];
    /* TCP */
    if (r->depth != 0) {
      if (!misconfigured_v6(r) && failed(r->tcp_failure)) set_add(&wa->tcp_unexplained, r->txid);
    } else if (r->ctl_tcp_failure) {
      if (failed(r->tcp_failure) && failed(r->ctl_tcp_failure))
        set_add(&wa->tcp_expected, r->txid);
      else if (!failed(r->ctl_tcp_failure) && failed(r->tcp_failure) && !misconfigured_v6(r))
        set_add(&wa->tcp_unexpected, r->txid);
    }
    /* TLS */
    if (r->tls_failure) {
      if (r->depth != 0) {
        if (failed(r->tls_failure)) set_add(&wa->tls_unexplained, r->txid);
      } else if (r->ctl_tls_failure) {
        if (failed(r->tls_failure) && failed(r->ctl_tls_failure))
          set_add(&wa->tls_expected, r->txid);
        else if (!failed(r->ctl_tls_failure) && failed(r->tls_failure))
          set_add(&wa->tls_unexpected, r->txid);
      }
    }
    /* HTTP (the control is about the final response, so any depth) */
    if (r->http_failure) {
      if (!r->ctl_http_failure) {
        if (failed(r->http_failure)) set_add(&wa->http_unexplained, r->txid);
      } else if (!failed(r->ctl_http_failure) && failed(r->http_failure)) {
        set_add(&wa->http_unexpected, r->txid);
      }
    }
  }
}

static bool header_common(const char *k) {
  for (size_t i = 0; i < sizeof common_headers / sizeof *common_headers; i++)
    if (!strcmp(common_headers[i], k)) return true;
  return false;
}

static void lower(char *dst, size_t cap, const char *s) {
  size_t i = 0;
  for (; s[i] && i + 1 < cap; i++) dst[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
  dst[i] = 0;
}

/* Number of uncommon header names (case-insensitive) present on both sides. */
static size_t headers_intersection(const char *const *a, size_t na, const char *const *b, size_t nb) {
  size_t n = 0;
  char ka[128], kb[128], prev[128];
  for (size_t i = 0; i < na; i++) {
    lower(ka, sizeof ka, a[i]);
    if (header_common(ka)) continue;
    bool dup = false;
    for (size_t j = 0; j < i && !dup; j++) {
      lower(prev, sizeof prev, a[j]);
      dup = !strcmp(prev, ka);
    }
    if (dup) continue;
    for (size_t j = 0; j < nb; j++) {
      lower(kb, sizeof kb, b[j]);
      if (!strcmp(ka, kb)) {
        n++;
        break;
      }
    }
  }
  return n;
}

/* Does title @p t contain the (lowercased) word @p w as a space-separated word? */
static bool title_has_word(const char *t, const char *w) {
  char word[600];
  const char *p = t;
  for (;;) {
    const char *sp = strchr(p, ' ');
    size_t n = sp ? (size_t)(sp - p) : strlen(p);
    if (n < sizeof word) {
      memcpy(word, p, n);
      word[n] = 0;
      char lw[600];
      lower(lw, sizeof lw, word);
      if (!strcmp(lw, w)) return true;
    }
    if (!sp) return false;
    p = sp + 1;
  }
}

/* Count long words (>= 5 bytes) in one title but not in the other. */
static size_t title_diff_side(const char *a, const char *b) {
  size_t n = 0;
  const char *p = a;
  char word[600], lw[600];
  for (;;) {
    const char *sp = strchr(p, ' ');
    size_t len = sp ? (size_t)(sp - p) : strlen(p);
    if (len >= 5 && len < sizeof word) {
      memcpy(word, p, len);
      word[len] = 0;
      lower(lw, sizeof lw, word);
      if (!title_has_word(b, lw)) n++;
    }
    if (!sp) return n;
    p = sp + 1;
  }
}

static void final_response(wa_t *wa, const cont_t *c, const kp_wc_ctl_t *ctl) {
  for (size_t i = 0; i < c->neps; i++) {
    rec_t *r = c->eps[i];
    if (r->is_final != 1) continue;
    const kp_wc_ep_t *e = r->ep;
    if (!r->ctl_http_failure) {
      if (okv(r->tls_failure))
        wa->fin_tls_noctl = r->txid;
      else
        wa->fin_tcp_noctl = r->txid;
      return;
    }
    if (r->tls_failure)
      wa->fin_tls_ctl = r->txid;
    else
      wa->fin_tcp_ctl = r->txid;
    bool ctl_ok = !failed(r->ctl_http_failure);
    int64_t cbl = ctl_ok ? ctl->body_length : 0, cst = ctl_ok ? ctl->status : 0;
    if (e->body_length > 0 && !e->body_truncated && cbl > 0) {
      wa->has_bp = true;
      wa->bp = e->body_length >= cbl ? (double)cbl / (double)e->body_length
                                     : (double)e->body_length / (double)cbl;
    }
    if (e->status > 0 && cst > 0) {
      bool good = e->status == cst;
      if (good || cst / 100 == 2) {
        wa->has_scm = true;
        wa->scm = good;
      }
    }
    if (cst > 0) {
      wa->has_hdr = true;
      wa->hdr_common = headers_intersection(e->hdr_keys, e->nhdr, ctl->hdr_keys, ctl->nhdr);
      wa->has_title = true;
      const char *pt = e->title ? e->title : "", *ct = ctl->title ? ctl->title : "";
      wa->title_diff = title_diff_side(pt, ct) + title_diff_side(ct, pt);
    }
    return;
  }
}

static void analyze_cont(wa_t *wa, const cont_t *c, const kp_wc_obs_t *o) {
  dns_success_metrics(wa, c, o);
  dns_failure_metrics(wa, c, &o->ctl);
  ep_metrics(wa, c);
  final_response(wa, c, &o->ctl);
}

/* Deepest redirect first; within a depth HTTP > TLS > TCP > DNS; successes
 * ("" sorts first) before failures; NULL failure sorts as "unknown_failure";
 * then larger txid first. Insertion sort keeps it stable. */
static int lin_cmp(const rec_t *a, const rec_t *b) {
  if (a->depth != b->depth) return a->depth > b->depth ? -1 : 1;
  if (a->type != b->type) return a->type > b->type ? -1 : 1;
  const char *fa = a->failure ? a->failure : "unknown_failure";
  const char *fb = b->failure ? b->failure : "unknown_failure";
  int s = strcmp(fa, fb);
  if (s) return s;
  if (a->txid != b->txid) return a->txid > b->txid ? -1 : 1;
  return 0;
}

static void linearize(wa_t *wa, const cont_t *c) {
  size_t n = 0;
  for (size_t i = 0; i < c->ndnsf; i++) wa->linear[n++] = c->dnsf[i];
  for (size_t i = 0; i < c->ndnss; i++) wa->linear[n++] = c->dnss[i];
  for (size_t i = 0; i < c->neps; i++) wa->linear[n++] = c->eps[i];
  for (size_t i = 1; i < n; i++) {
    rec_t *x = wa->linear[i];
    size_t j = i;
    while (j > 0 && lin_cmp(wa->linear[j - 1], x) > 0) {
      wa->linear[j] = wa->linear[j - 1];
      j--;
    }
    wa->linear[j] = x;
  }
  wa->nlinear = n;
}

/* ---- test keys ---- */

static bool inconsistent(const kp_wc_keys_t *k) {
  return k->dns_consistency && !strcmp(k->dns_consistency, "inconsistent");
}
static void set_false(kp_wc_keys_t *k) {
  k->blocking = KP_WC_BLOCK_FALSE;
  k->accessible = KP_WC_TRUE;
}
static void set_nil(kp_wc_keys_t *k) {
  if (inconsistent(k)) {
    k->blocking = KP_WC_BLOCK_DNS;
    k->accessible = KP_WC_FALSE;
  } else {
    k->blocking = KP_WC_BLOCK_NULL;
    k->accessible = KP_WC_NULL;
  }
}
static void set_str(kp_wc_keys_t *k, kp_wc_blocking_t b) {
  k->blocking = inconsistent(k) ? KP_WC_BLOCK_DNS : b;
  k->accessible = KP_WC_FALSE;
}
static void set_down(kp_wc_keys_t *k) {
  k->blocking = inconsistent(k) ? KP_WC_BLOCK_DNS : KP_WC_BLOCK_FALSE;
  k->accessible = KP_WC_FALSE;
}

static bool http_diff(const kp_wc_keys_t *k) {
  if (k->status_code_match != KP_WC_TRUE) return true;
  return !(k->body_length_match == KP_WC_TRUE || k->headers_match == KP_WC_TRUE ||
           k->title_match == KP_WC_TRUE);
}

static bool is_loopback(const char *ip) {
  return ip && (!strncmp(ip, "127.", 4) || !strcmp(ip, "::1"));
}

/* One step of the walk; returns true when the verdict is decided. */
static bool walk_step(const rec_t *e, const kp_wc_ctl_t *ctl_obs, kp_wc_keys_t *k) {
  if (e->is_final == 1) {
    if (okv(e->tls_failure)) set_false(k);
    else if (!e->ctl_http_failure) set_nil(k);
    else if (!http_diff(k)) set_false(k);
    else set_str(k, KP_WC_BLOCK_HTTP_DIFF);
    return true;
  }
  if (e->type == T_DNS && !e->failure && is_loopback(e->ip) && e->ctl_dns_addrs) {
    /* the probe resolved loopback: censorship when the TH found real addresses */
    bool th_real = false;
    for (size_t i = 0; i < ctl_obs->ndns; i++) th_real = th_real || !is_loopback(ctl_obs->dns_addrs[i]);
    if (th_real) set_str(k, KP_WC_BLOCK_DNS);
    else set_down(k);
    return true;
  }
  if (!failed(e->failure)) return false;
  if (e->type == T_DNS && !strcmp(e->failure, "dns_no_answer") && okv(e->ctl_dns_failure) &&
      ctl_obs->ndns == 0) {
    set_down(k); /* no addresses for anyone: the site is down, nothing failed on our side */
    return true;
  }
  const char *ctl = NULL;
  kp_wc_blocking_t verdict;
  bool missing_is_false = false;
  switch (e->type) {
  case T_HTTP:
    if (!e->ctl_http_failure) set_nil(k);
    else if (failed(e->ctl_http_failure)) set_down(k);
    else set_str(k, KP_WC_BLOCK_HTTP_FAILURE);
    k->http_experiment_failure = e->failure;
    return true;
  case T_TLS: ctl = e->ctl_tls_failure; verdict = KP_WC_BLOCK_HTTP_FAILURE; break;
  case T_TCP: ctl = e->ctl_tcp_failure; verdict = KP_WC_BLOCK_TCP_IP; break;
  default:
    ctl = e->ctl_dns_failure;
    verdict = KP_WC_BLOCK_DNS;
    missing_is_false = true;
    break;
  }
  if (!ctl) {
    if (!e->ctl_http_failure) {
      if (missing_is_false) set_false(k);
      else set_nil(k);
    } else {
      set_str(k, e->type == T_DNS ? KP_WC_BLOCK_DNS : KP_WC_BLOCK_HTTP_FAILURE);
    }
  } else if (failed(ctl)) {
    set_down(k);
  } else {
    set_str(k, verdict);
  }
  k->http_experiment_failure = e->failure;
  return true;
}

static void ext_flags(const wa_t *a, const kp_wc_obs_t *o, kp_wc_keys_t *k) {
  /* a bogon alone is not blocking: a misconfigured site resolves to one for everyone */
  if (a->dns_bogon.n) k->x_dns_flags |= KP_WC_DF_BOGON;
  if (a->dns_unexpected.n)
    k->x_blocking_flags |= KP_WC_BF_DNS, k->x_dns_flags |= KP_WC_DF_UNEXPECTED_FAILURE;
  if (a->dns_invalid.n)
    k->x_blocking_flags |= KP_WC_BF_DNS, k->x_dns_flags |= KP_WC_DF_UNEXPECTED_ADDRS;
  if (a->tcp_unexpected.n) k->x_blocking_flags |= KP_WC_BF_TCPIP;
  if (a->tls_unexpected.n) k->x_blocking_flags |= KP_WC_BF_TLS;
  if (a->http_unexpected.n) k->x_blocking_flags |= KP_WC_BF_HTTP_FAILURE;
  bool have_final = a->fin_tcp_noctl || a->fin_tls_noctl || a->fin_tls_ctl || a->fin_tcp_ctl;
  if (a->fin_tcp_noctl) {
    /* no control to compare a cleartext response with: no verdict */
  } else if (a->fin_tls_noctl) {
    k->x_null_null_flags |= KP_WC_NN_HTTPS_NO_TH;
    k->x_blocking_flags |= KP_WC_BF_SUCCESS;
  } else if (a->fin_tls_ctl) {
    k->x_blocking_flags |= KP_WC_BF_SUCCESS;
  } else if (a->fin_tcp_ctl) {
    kp_wc_keys_t t = {0};
    t.body_length_match = a->has_bp ? (a->bp > 0.7 ? KP_WC_TRUE : KP_WC_FALSE) : KP_WC_NULL;
    t.status_code_match = a->has_scm ? (a->scm ? KP_WC_TRUE : KP_WC_FALSE) : KP_WC_NULL;
    t.headers_match = a->has_hdr ? (a->hdr_common ? KP_WC_TRUE : KP_WC_FALSE) : KP_WC_NULL;
    t.title_match = a->has_title ? (a->title_diff ? KP_WC_FALSE : KP_WC_TRUE) : KP_WC_NULL;
    k->x_blocking_flags |= http_diff(&t) ? KP_WC_BF_HTTP_DIFF : KP_WC_BF_SUCCESS;
  }
  /* failures during redirects, explained by a TH that fetched the page */
  if (!have_final && o->ctl.present && o->ctl.http_failure && !*o->ctl.http_failure) {
    if (a->dns_unexplained.n) k->x_blocking_flags |= KP_WC_BF_DNS;
    if (a->tcp_unexplained.n) k->x_blocking_flags |= KP_WC_BF_TCPIP;
    if (a->tls_unexplained.n) k->x_blocking_flags |= KP_WC_BF_TLS;
    if (a->http_unexplained.n) k->x_blocking_flags |= KP_WC_BF_HTTP_FAILURE;
  }
  if (a->dns_expected.n) k->x_null_null_flags |= KP_WC_NN_DNS;
  if (a->tcp_expected.n) k->x_null_null_flags |= KP_WC_NN_TCP;
  if (a->tls_expected.n) k->x_null_null_flags |= KP_WC_NN_TLS;
  if (o->ctl.present && o->ctl.ndns == 0 && a->dns_success.n)
    k->x_null_null_flags |= KP_WC_NN_GHOST_DNS;
}

kp_status_t kp_wc_analyze(const kp_wc_obs_t *obs, const kp_wc_opts_t *opts, kp_wc_keys_t *out) {
  if (!obs || !out) return KP_ERR_INVAL;
  kp_wc_opts_t dflt = {0};
  if (!opts) opts = &dflt;
  memset(out, 0, sizeof *out);
  if (obs->ndns > KP_WC_MAX_DNS || obs->neps > KP_WC_MAX_EPS) return KP_ERR_RANGE;
  work_t *w = calloc(1, sizeof *w);
  if (!w) return KP_ERR_NOMEM;
  kp_status_t st = ingest(w, obs, opts);
  if (st != KP_OK) goto done;
  xref_control(&w->full, &obs->ctl);
  classic_filter(&w->full, &w->classic);

  /* extended flags over every observation */
  analyze_cont(&w->wfull, &w->full, obs);
  ext_flags(&w->wfull, obs, out);

  /* classic keys */
  wa_t *a = &w->wclassic;
  analyze_cont(a, &w->classic, obs);
  linearize(a, &w->classic);
  bool ctl_expect = obs->ctl.present;
  if (!a->dns_unexpected.n && !a->dns_invalid_c.n && (a->dns_valid_c.n || a->dns_expected.n))
    out->dns_consistency = "consistent";
  else if (a->dns_invalid_c.n || a->dns_unexpected.n ||
           (a->dns_success.n && ctl_expect && obs->ctl.ndns == 0))
    out->dns_consistency = "inconsistent";
  out->dns_experiment_failure = a->dns_exp_failure;
  out->has_body_proportion = a->has_bp;
  out->body_proportion = a->has_bp ? a->bp : 0;
  out->body_length_match = a->has_bp ? (a->bp > 0.7 ? KP_WC_TRUE : KP_WC_FALSE) : KP_WC_NULL;
  out->status_code_match = a->has_scm ? (a->scm ? KP_WC_TRUE : KP_WC_FALSE) : KP_WC_NULL;
  out->headers_match = a->has_hdr ? (a->hdr_common ? KP_WC_TRUE : KP_WC_FALSE) : KP_WC_NULL;
  out->title_match = a->has_title ? (a->title_diff ? KP_WC_FALSE : KP_WC_TRUE) : KP_WC_NULL;
  for (size_t i = 0; i < a->nlinear; i++)
    if (walk_step(a->linear[i], &obs->ctl, out)) break;
done:
  free(w);
  return st;
}

const char *kp_wc_blocking_str(kp_wc_blocking_t b) {
  switch (b) {
  case KP_WC_BLOCK_DNS: return "dns";
  case KP_WC_BLOCK_TCP_IP: return "tcp_ip";
  case KP_WC_BLOCK_HTTP_FAILURE: return "http-failure";
  case KP_WC_BLOCK_HTTP_DIFF: return "http-diff";
  default: return NULL;
  }
}

static void ktri(kp_jw_t *w, const char *key, kp_wc_tri_t t) {
  if (t == KP_WC_NULL) kp_jw_knull(w, key);
  else kp_jw_kbool(w, key, t == KP_WC_TRUE);
}

void kp_wc_keys_write(kp_jw_t *w, const kp_wc_keys_t *k) {
  kp_jw_kstr(w, "dns_experiment_failure", k->dns_experiment_failure);
  kp_jw_kstr(w, "dns_consistency", k->dns_consistency);
  kp_jw_kstr(w, "http_experiment_failure", k->http_experiment_failure);
  kp_jw_kdouble(w, "body_proportion", k->body_proportion);
  ktri(w, "body_length_match", k->body_length_match);
  ktri(w, "status_code_match", k->status_code_match);
  ktri(w, "headers_match", k->headers_match);
  ktri(w, "title_match", k->title_match);
  kp_jw_key(w, "blocking");
  if (k->blocking == KP_WC_BLOCK_NULL) kp_jw_null(w);
  else if (k->blocking == KP_WC_BLOCK_FALSE) kp_jw_bool(w, false);
  else kp_jw_str(w, kp_wc_blocking_str(k->blocking));
  ktri(w, "accessible", k->accessible);
  kp_jw_kint(w, "x_blocking_flags", k->x_blocking_flags);
  kp_jw_kint(w, "x_dns_flags", k->x_dns_flags);
  kp_jw_kint(w, "x_null_null_flags", k->x_null_null_flags);
}
