/*
 * probe_run.c: one Web Connectivity measurement (v0.5 flow, simplified).
 *
 *   for depth d = 0 .. 10 (redirect hops):
 *     DNS: system resolver ("getaddrinfo", tagged classic) and one UDP
 *          resolver (late/duplicate answers kept for 500 ms)
 *     d == 0: control request to the helper with every address x port;
 *             addresses only the TH knows get extra (non-classic) flows
 *     every address (system ones first, loopback skipped):
 *          TCP on the URL's port (+TLS for https) -> fetch_body=true;
 *          the first that connects does the GET (body cap 1<<19)
 *          http:// without explicit port: also TCP+TLS on 443,
 *          fetch_body=false (validates the address with the SNI)
 *     a 3xx with Location goes to depth d+1; at depth 10 it is a failure
 *   then: OONI event lists (tagged depth=N, fetch_body=, classic) -> the
 *   archival reader -> kp_wc_analyze -> test keys + keepon_technique;
 *   fingerprints (fastpath) decide keepon_confirmed.
 *
 * One URL runs on one thread with its own trace and net context, steps in
 * sequence; the caller runs URLs in parallel. Memory per URL is bounded by
 * the trace caps, the body cap and the arena.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "analysis/analysis.h"
#include "fastpath/fastpath.h"
#include "probe/probe.h"
#include "httpc/httpc.h"
#include "msmt/msmt.h"
#include "webconn/wc_net.h"

#define MAX_TAGGED 512

typedef struct tag {
  int txid;
  int depth;
  int fetch_body; /* -1 n/a */
  bool classic;
} tag_t;

typedef struct run {
  const kp_wc_probe_cfg_t *cfg;
  kp_trace_t *tr;
  kp_net_t *net;
  kp_net_cfg_t ncfg;
  tag_t qtag[MAX_TAGGED]; /* by query index */
  size_t nqtag;
  tag_t etag[MAX_TAGGED]; /* by tcp txid */
  size_t netag;
  int over_q;             /* query (index) whose failure we override, -1 none */
  const char *over_q_failure;
  int over_txid;          /* request whose failure we override */
  const char *over_failure;
  kp_buf_t ctl_body;
  const char *control_failure;
  kp_wc_threq_t req;
  char resolver_ip[KP_ADDR_STRLEN];
} run_t;

static void tag_queries(run_t *r, size_t from, int depth, bool classic) {
  const kp_q_t *qs = NULL;
  size_t n = kp_trace_queries(r->tr, &qs);
  for (size_t i = from; i < n && r->nqtag < MAX_TAGGED; i++)
    r->qtag[r->nqtag++] = (tag_t){.txid = (int)i, .depth = depth, .fetch_body = -1, .classic = classic};
}

static size_t nqueries(run_t *r) {
  const kp_q_t *qs = NULL;
  return kp_trace_queries(r->tr, &qs);
}

static void tag_last_tcp(run_t *r, int depth, int fetch_body, bool classic) {
  const kp_tcp_t *ts = NULL;
  size_t n = kp_trace_tcps(r->tr, &ts);
  if (n && r->netag < MAX_TAGGED)
    r->etag[r->netag++] = (tag_t){.txid = ts[n - 1].txid, .depth = depth, .fetch_body = fetch_body,
                                  .classic = classic};
}

/*
 * glibc's getaddrinfo reports "name exists, no address" (NOERROR/NODATA) as
 * EAI_NONAME, like NXDOMAIN; OONI's getaddrinfo tells them apart. So when the
 * system lookup says NXDOMAIN we ask the system's nameserver once more (not
 * recorded) and relabel the lookup dns_no_answer if that is what it says.
 */
static void refine_gai_nxdomain(run_t *r, size_t qidx, const char *host) {
  const kp_q_t *qs = NULL;
  size_t n = kp_trace_queries(r->tr, &qs);
  if (qidx >= n || !qs[qidx].failure || strcmp(qs[qidx].failure, KP_FAIL_NXDOMAIN)) return;
  if (kp_wc_system_says_nodata(&r->ncfg, host)) {
    r->over_q = (int)qidx;
    r->over_q_failure = KP_FAIL_DNS_NODATA;
  }
}

static bool is_loopback(const kp_addr_t *a) {
  return (a->family == 4 && a->b[0] == 127) ||
         (a->family == 6 && !memcmp(a->b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16));
}

/* One endpoint flow; returns true when it fetched (and fills status/location). */
static bool flow(run_t *r, kp_arena_t *a, const char *url, const char *host, bool https, const kp_addr_t *ad,
                 int port, int depth, bool fetch, bool classic, int *status, char *loc, size_t loccap) {
  kp_addrs_t one = {0};
  kp_addrs_add(&one, ad);
  kp_conn_t *c = NULL;
  const char *fail = NULL;
  kp_net_connect(r->net, &one, (uint16_t)port, &c, &fail);
  tag_last_tcp(r, depth, fetch ? 1 : 0, classic);
  if (!c) return false;
  bool ok = true;
  if (https || !fetch) {
    fail = NULL;
    kp_net_tls(r->net, c, host, &fail);
    ok = fail == NULL;
  }
  bool fetched = false;
  if (ok && fetch && status) {
    char path[1024];
    if (kp_wc_url_path(url, path, sizeof path) == KP_OK) {
      kp_http_req_t req = {.method = "GET", .url = url, .host = host, .path = path, .body_cap = (size_t)1 << 19,
                           .keep_cap = (size_t)1 << 19};
      kp_http_result_t res;
      kp_net_http(r->net, c, &req, &res);
      fetched = true;
      *status = res.failure ? 0 : res.status;
      const kp_httpobs_t *hs = NULL;
      size_t nh = kp_trace_https(r->tr, &hs);
      loc[0] = 0;
      if (nh && !res.failure) kp_wc_head_value(hs[nh - 1].head.data, hs[nh - 1].head.len, "location", loc, loccap);
      (void)a;
    }
  }
  kp_conn_close(c);
  return fetched;
}

static void measure(run_t *r, const char *input, kp_arena_t *a) {
  char cur[1024];
  snprintf(cur, sizeof cur, "%s", input);
  for (int depth = 0; depth <= 10; depth++) {
    char scheme[8], host[256];
    int port;
    if (kp_wc_url_split(cur, scheme, sizeof scheme, host, sizeof host, &port) != KP_OK) return;
    bool https = !strcmp(scheme, "https");
    int fport = port ? port : (https ? 443 : 80);
    kp_addrs_t sys = {0}, udp = {0}, late = {0}, all = {0};
    kp_addr_t lit;
    /* getaddrinfo also for a literal: it answers at once, and the classic
     * analysis needs a system lookup to root the endpoints in */
    size_t q0 = nqueries(r);
    const char *f = NULL;
    kp_net_resolve_system(r->net, host, &sys, &f);
    tag_queries(r, q0, depth, true);
    if (!sys.n && r->over_q < 0 && r->cfg->emulate_gai_failure) {
      r->over_q = (int)q0;
      r->over_q_failure = r->cfg->emulate_gai_failure;
    } else if (!sys.n && r->over_q < 0) {
      refine_gai_nxdomain(r, q0, host);
    }
    if (kp_addr_parse(host, &lit) == KP_OK) {
      kp_addrs_add(&sys, &lit);
    } else {
      q0 = nqueries(r);
      kp_net_resolve_udp(r->net, host, &udp, &late, &f);
      tag_queries(r, q0, depth, false);
    }
    for (size_t i = 0; i < sys.n; i++) kp_addrs_add(&all, &sys.a[i]);
    size_t nsys = all.n;
    for (size_t i = 0; i < udp.n; i++) kp_addrs_add(&all, &udp.a[i]);
    if (depth == 0 && r->cfg->helper) {
      kp_wc_threq_t *q = &r->req;
      q->url = kp_arena_strndup(a, cur, strlen(cur));
      q->hdr_names[0] = "User-Agent";
      q->hdr_values[0] = KP_NET_USER_AGENT; /* the UA the probe itself sends: the control fetches as it does */
      q->hdr_names[1] = "Accept";
      q->hdr_values[1] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
      q->nhdr = 2;
      for (size_t i = 0; i < all.n && q->nendpoints + 2 <= KP_WC_TH_MAX_ENDPOINTS; i++) {
        char ip[KP_ADDR_STRLEN], ep[KP_ADDR_STRLEN + 8];
        kp_addr_fmt(&all.a[i], ip);
        int ports[2] = {fport, (!https && !port) ? 443 : 0};
        for (int k = 0; k < 2; k++) {
          if (!ports[k]) continue;
          snprintf(ep, sizeof ep, all.a[i].family == 6 ? "[%s]:%d" : "%s:%d", ip, ports[k]);
          q->endpoints[q->nendpoints++] = kp_arena_strndup(a, ep, strlen(ep));
        }
      }
      kp_status_t st = kp_wc_th_query(r->cfg->helper, r->cfg->helper_http, q, r->cfg->control_timeout > 0 ? r->cfg->control_timeout : 30,
                                      &r->ctl_body, &r->control_failure);
      if (st != KP_OK && !r->control_failure) r->control_failure = "unknown_failure: control request";
      if (!r->control_failure) { /* TH-only addresses get extra flows */
        kp_json_doc_t *doc = NULL;
        kp_json_limits_t lim = {0};
        if (kp_json_parse(r->ctl_body.data, r->ctl_body.len, &lim, &doc, NULL) == KP_OK) {
          const kp_json_t *ad = kp_json_get(kp_json_get(kp_json_root(doc), "dns"), "addrs");
          for (size_t i = 0; i < kp_json_len(ad); i++) {
            kp_addr_t x;
            const char *s = kp_json_str(kp_json_at(ad, i));
            if (s && kp_addr_parse(s, &x) == KP_OK && !kp_wc_is_bogon(s, &r->cfg->opts)) kp_addrs_add(&all, &x);
          }
        } else {
          r->control_failure = "unknown_failure: control response is not JSON";
        }
        kp_json_doc_free(doc);
      }
    }
    bool fetched = false;
    int status = 0;
    char loc[1024] = "";
    for (size_t i = 0; i < all.n; i++) {
      if (is_loopback(&all.a[i])) continue;
      bool classic = i < nsys;
      if (flow(r, a, cur, host, https, &all.a[i], fport, depth, true, classic, fetched ? NULL : &status, loc,
               sizeof loc))
        fetched = true;
      if (!https && !port) flow(r, a, cur, host, true, &all.a[i], 443, depth, false, classic, NULL, NULL, 0);
    }
    bool redirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    if (!fetched || !redirect || !loc[0]) return;
    const kp_httpobs_t *hs = NULL;
    size_t nh = kp_trace_https(r->tr, &hs);
    char next[1024];
    if (depth == 10) {
      r->over_txid = nh ? hs[nh - 1].txid : -1;
      r->over_failure = "unknown_failure: stopped after too many redirects";
      return;
    }
    if (kp_wc_url_join(cur, loc, next, sizeof next) != KP_OK) {
      r->over_txid = nh ? hs[nh - 1].txid : -1;
      r->over_failure = "http_invalid_redirect_location_host";
      return;
    }
    snprintf(cur, sizeof cur, "%s", next);
  }
}

static const tag_t *find_etag(const run_t *r, int txid) {
  for (size_t i = 0; i < r->netag; i++)
    if (r->etag[i].txid == txid) return &r->etag[i];
  return NULL;
}

static void write_tags(kp_jw_t *w, const tag_t *t) {
  kp_jw_key(w, "tags");
  kp_jw_arr_begin(w);
  if (t) {
    char b[32];
    if (t->classic) kp_jw_str(w, "classic");
    if (t->fetch_body >= 0) kp_jw_str(w, "tcptls_experiment");
    snprintf(b, sizeof b, "depth=%d", t->depth);
    kp_jw_str(w, b);
    if (t->fetch_body >= 0) kp_jw_str(w, t->fetch_body ? "fetch_body=true" : "fetch_body=false");
  }
  kp_jw_arr_end(w);
}

typedef struct hw {
  kp_jw_t *w;
  int mode; /* 0 headers_list, 1 headers (first value per name) */
  const char *seen[KP_WC_MAX_HDRS];
  size_t nseen;
} hw_t;

static void emit_hdr(void *ctx, const char *name, size_t nl, const char *val, size_t vl) {
  hw_t *h = ctx;
  if (nl >= 128) return;
  char key[128];
  memcpy(key, name, nl);
  key[nl] = 0;
  if (h->mode == 0) {
    kp_jw_arr_begin(h->w);
    kp_jw_str(h->w, key);
    kp_jw_strn(h->w, val, vl);
    kp_jw_arr_end(h->w);
    return;
  }
  for (size_t i = 0; i < h->nseen; i++)
    if (strlen(h->seen[i]) == nl && !strncasecmp(h->seen[i], name, nl)) return;
  if (h->nseen >= KP_WC_MAX_HDRS) return;
  h->seen[h->nseen++] = name; /* points into the trace's head: lives through the call */
  kp_jw_key(h->w, key);
  kp_jw_strn(h->w, val, vl);
}

/* A response object with headers re-read from the recorded head (the raw
 * bytes are authoritative; see the report about src/net's head re-parse). */
static void copy_response(const run_t *r, kp_jw_t *w, const kp_json_t *resp, int64_t tx) {
  const kp_httpobs_t *hs = NULL;
  size_t nh = kp_trace_https(r->tr, &hs);
  const kp_httpobs_t *o = NULL;
  for (size_t i = 0; i < nh; i++)
    if (hs[i].txid == tx) o = &hs[i];
  kp_jw_obj_begin(w);
  for (size_t k = 0; k < kp_json_len(resp); k++) {
    const char *name = kp_json_key_at(resp, k);
    if (o && (!strcmp(name, "headers") || !strcmp(name, "headers_list"))) continue;
    kp_jw_key(w, name);
    kp_jw_node(w, kp_json_at(resp, k));
  }
  if (o) {
    const uint8_t *head = o->head.data ? o->head.data : (const uint8_t *)"";
    hw_t h = {.w = w, .mode = 0};
    kp_jw_key(w, "headers_list");
    kp_jw_arr_begin(w);
    kp_wc_head_scan(head, o->head.len, emit_hdr, &h);
    kp_jw_arr_end(w);
    h.mode = 1;
    kp_jw_key(w, "headers");
    kp_jw_obj_begin(w);
    kp_wc_head_scan(head, o->head.len, emit_hdr, &h);
    kp_jw_obj_end(w);
  }
  kp_jw_obj_end(w);
}

/* Copy one event list, replacing tags (and an overridden request failure). */
static void copy_list(const run_t *r, kp_jw_t *w, const kp_json_t *tk, const char *key, bool by_index) {
  const kp_json_t *l = kp_json_get(tk, key);
  kp_jw_key(w, key);
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < kp_json_len(l); i++) {
    const kp_json_t *e = kp_json_at(l, i);
    int64_t tx = 0;
    kp_json_get_int(e, "transaction_id", &tx);
    const tag_t *t = NULL;
    if (by_index) {
      for (size_t k = 0; k < r->nqtag && !t; k++)
        if (r->qtag[k].txid == (int)i) t = &r->qtag[k];
    } else {
      t = find_etag(r, (int)tx);
    }
    kp_jw_obj_begin(w);
    for (size_t k = 0; k < kp_json_len(e); k++) {
      const char *name = kp_json_key_at(e, k);
      if (!strcmp(name, "tags")) continue;
      kp_jw_key(w, name);
      if (!strcmp(name, "failure") && by_index && (int)i == r->over_q && r->over_q_failure)
        kp_jw_str(w, r->over_q_failure);
      else if (!strcmp(name, "failure") && !strcmp(key, "requests") && tx == r->over_txid && r->over_failure)
        kp_jw_str(w, r->over_failure);
      else if (!strcmp(name, "response") && !strcmp(key, "requests"))
        copy_response(r, w, kp_json_at(e, k), tx);
      else
        kp_jw_node(w, kp_json_at(e, k));
    }
    write_tags(w, t);
    kp_jw_obj_end(w);
  }
  kp_jw_arr_end(w);
}

static const char *technique(const kp_wc_keys_t *k, const kp_json_t *tk) {
  const char *fail = k->http_experiment_failure ? k->http_experiment_failure : "";
  switch (k->blocking) {
  case KP_WC_BLOCK_DNS:
    if (k->dns_experiment_failure && !strcmp(k->dns_experiment_failure, KP_FAIL_NXDOMAIN))
      return kp_tech_name(KP_TECH_DNS_NXDOMAIN);
    if (kp_json_len(kp_json_get(tk, "x_dns_duplicate_responses"))) return kp_tech_name(KP_TECH_DNS_INJECTED);
    return kp_tech_name(KP_TECH_DNS_FORGED);
  case KP_WC_BLOCK_TCP_IP:
    return kp_tech_name(strstr(fail, "timeout") ? KP_TECH_IP_BLACKHOLE : KP_TECH_TCP_RESET);
  case KP_WC_BLOCK_HTTP_DIFF: return kp_tech_name(KP_TECH_HTTP_BLOCKPAGE);
  case KP_WC_BLOCK_HTTP_FAILURE:
    if (!strncmp(fail, "ssl_", 4)) return kp_tech_name(KP_TECH_TLS_MITM);
    if (k->x_blocking_flags & KP_WC_BF_TLS)
      return kp_tech_name(strstr(fail, "timeout") ? KP_TECH_TLS_SNI_DROP : KP_TECH_TLS_SNI_RESET);
    return kp_tech_name(strstr(fail, "timeout") ? KP_TECH_IP_BLACKHOLE : KP_TECH_TCP_RESET);
  default: return NULL;
  }
}

/* the envelope (src/msmt) of one web_connectivity measurement; test_helpers is this test's extra key */
static kp_msmt_env_t wc_env(const kp_wc_probe_cfg_t *cfg, const char *url, int64_t wall_ns, const char *resolver_ip) {
  return (kp_msmt_env_t){.test_name = "web_connectivity", .test_version = "0.5.28", .input = url,
                         .probe_cc = cfg->probe_cc, .probe_asn = cfg->probe_asn,
                         .probe_network_name = cfg->probe_network_name, .probe_ip = cfg->probe_ip,
                         .resolver_ip = cfg->resolver_seen && *cfg->resolver_seen ? cfg->resolver_seen : resolver_ip,
                         .resolver_asn = cfg->resolver_asn, .software_version = cfg->software_version, .start_wall_ns = wall_ns};
}

static void write_test_helpers(const kp_wc_probe_cfg_t *cfg, kp_jw_t *w) {
  kp_jw_key(w, "test_helpers");
  kp_jw_obj_begin(w);
  kp_jw_key(w, "backend");
  kp_jw_obj_begin(w);
  kp_jw_kstr(w, "address", cfg->helper ? cfg->helper : "");
  kp_jw_kstr(w, "type", "http");
  kp_jw_obj_end(w);
  kp_jw_obj_end(w);
}

kp_status_t kp_wc_probe_url(const kp_wc_probe_cfg_t *cfg, const char *url, kp_buf_t *line, kp_wc_summary_t *sum) {
  memset(sum, 0, sizeof *sum);
  char scheme[8], host[256];
  int port;
  if (kp_wc_url_split(url, scheme, sizeof scheme, host, sizeof host, &port) != KP_OK) return KP_ERR_INVAL;
  run_t *r = calloc(1, sizeof *r);
  kp_arena_t *a = kp_arena_create((size_t)16 << 20);
  kp_wc_obs_t *o = malloc(sizeof *o);
  kp_buf_t ev, tkb;
  kp_buf_init(&ev, (size_t)32 << 20);
  kp_buf_init(&tkb, (size_t)32 << 20);
  kp_json_doc_t *evdoc = NULL, *ctldoc = NULL;
  kp_status_t st = KP_ERR_NOMEM;
  if (!r || !a || !o) goto out;
  r->cfg = cfg;
  r->over_txid = -1;
  r->over_q = -1;
  kp_buf_init(&r->ctl_body, (size_t)4 << 20);
  int64_t wall = kp_now_wall(kp_clock_system()), t0 = kp_now_mono(kp_clock_system());
  r->ncfg = (kp_net_cfg_t){.ca_file = cfg->ca_file, .dns_timeout = cfg->step_timeout, .connect_timeout = cfg->step_timeout,
                           .tls_timeout = cfg->step_timeout, .http_timeout = cfg->step_timeout,
                           .dns_window = cfg->dns_window > 0 ? cfg->dns_window : 0.5,
                           .deadline_ns = t0 + (int64_t)(cfg->url_timeout * 1e9), .body_cap = (size_t)1 << 19};
  char rh[KP_ADDR_STRLEN + 2];
  uint16_t rport = 53;
  if (kp_addr_parse(cfg->resolver, &r->ncfg.resolver) != KP_OK &&
      (kp_hostport_parse(cfg->resolver, rh, sizeof rh, &rport) != KP_OK || kp_addr_parse(rh, &r->ncfg.resolver) != KP_OK)) {
    st = KP_ERR_INVAL;
    goto out;
  }
  r->ncfg.resolver_port = rport;
  kp_addr_fmt(&r->ncfg.resolver, r->resolver_ip);
  if ((st = kp_trace_new(kp_clock_system(), &r->tr)) != KP_OK) goto out;
  if ((st = kp_net_new(&r->ncfg, kp_clock_system(), r->tr, &r->net)) != KP_OK) goto out;
  if (!cfg->helper) r->control_failure = "unknown_failure: no test helper";
  measure(r, url, a);
  double runtime = (double)(kp_now_mono(kp_clock_system()) - t0) / 1e9;

  /* events as OONI lists, tagged */
  kp_jw_t w;
  kp_jw_init(&w, &ev);
  kp_jw_obj_begin(&w);
  kp_trace_write(r->tr, &w);
  kp_jw_obj_end(&w);
  kp_json_limits_t lim = {.max_depth = 64, .max_bytes = 0};
  if ((st = w.st) != KP_OK || (st = kp_json_parse(ev.data, ev.len, &lim, &evdoc, NULL)) != KP_OK) goto out;
  const kp_json_t *evr = kp_json_root(evdoc);
  kp_jw_init(&w, &tkb);
  kp_jw_obj_begin(&w);
  copy_list(r, &w, evr, "queries", true);
  kp_jw_key(&w, "x_dns_duplicate_responses");
  kp_jw_node(&w, kp_json_get(evr, "x_dns_duplicate_responses"));
  copy_list(r, &w, evr, "tcp_connect", false);
  copy_list(r, &w, evr, "tls_handshakes", false);
  copy_list(r, &w, evr, "requests", false);
  copy_list(r, &w, evr, "network_events", false);
  kp_jw_key(&w, "x_control_request");
  if (r->req.url) kp_wc_threq_write(&w, &r->req);
  else kp_jw_null(&w);
  kp_jw_key(&w, "control");
  bool have_ctl = !r->control_failure &&
                  kp_json_parse(r->ctl_body.data, r->ctl_body.len, &lim, &ctldoc, NULL) == KP_OK;
  if (have_ctl) kp_jw_node(&w, kp_json_root(ctldoc));
  else kp_jw_null(&w);
  kp_jw_obj_end(&w);
  if ((st = w.st) != KP_OK) goto out;
  kp_json_doc_free(evdoc);
  evdoc = NULL;
  if ((st = kp_json_parse(tkb.data, tkb.len, &lim, &evdoc, NULL)) != KP_OK) goto out;
  const kp_json_t *tk = kp_json_root(evdoc);
  if ((st = kp_wc_obs_from_archival(tk, a, o)) != KP_OK) goto out;
  kp_wc_keys_t k;
  if ((st = kp_wc_analyze(o, &cfg->opts, &k)) != KP_OK) goto out;
  const char *tech = technique(&k, tk);

  /* the measurement, written twice: the fingerprint check reads the first copy (same report id) */
  kp_msmt_env_t env = wc_env(cfg, url, wall, r->resolver_ip);
  char rid[128];
  if ((st = kp_msmt_report_id(wall, env.test_name, env.probe_cc, env.probe_asn, rid, sizeof rid)) != KP_OK) goto out;
  env.report_id = rid;
  for (int pass = 0; pass < 2; pass++) {
    kp_buf_t *dst = pass == 0 ? &ev : line;
    kp_buf_reset(dst);
    kp_jw_init(&w, dst);
    if ((st = kp_msmt_write_head(&w, &env)) != KP_OK) goto out;
    kp_jw_key(&w, "test_keys");
    kp_jw_obj_begin(&w);
    for (size_t i = 0; i < kp_json_len(tk); i++) {
      kp_jw_key(&w, kp_json_key_at(tk, i));
      kp_jw_node(&w, kp_json_at(tk, i));
    }
    kp_jw_kstr(&w, "agent", "redirect");
    /* OONI: the resolver as the whoami lookup saw it (sess.ResolverIP()), as resolver_ip */
    kp_jw_kstr(&w, "client_resolver", env.resolver_ip);
    kp_jw_knull(&w, "retries");
    kp_jw_knull(&w, "socksproxy");
    kp_jw_kstr(&w, "control_failure", r->control_failure);
    kp_wc_keys_write(&w, &k);
    kp_jw_kstr(&w, "keepon_technique", tech);
    if (cfg->access_type) kp_jw_kstr(&w, "keepon_access_type", cfg->access_type);
    if (pass == 1) {
      kp_jw_kbool(&w, "keepon_confirmed", sum->confirmed);
      kp_jw_kstr(&w, "keepon_fingerprint", sum->fingerprint[0] ? sum->fingerprint : NULL);
    }
    kp_jw_obj_end(&w);
    write_test_helpers(cfg, &w);
    kp_msmt_write_tail(&w, &env, runtime);
    if ((st = w.st) != KP_OK) goto out;
    if (pass == 0) {
      kp_json_doc_t *m = NULL;
      if (cfg->fp && kp_json_parse(ev.data, ev.len, &lim, &m, NULL) == KP_OK) {
        kp_fastpath_flags_t fl;
        kp_fastpath_score(kp_json_root(m), cfg->fp, 0, &fl);
        sum->confirmed = fl.confirmed;
        snprintf(sum->fingerprint, sizeof sum->fingerprint, "%s", fl.fingerprint);
      }
      kp_json_doc_free(m);
    }
  }
  sum->keys = k;
  sum->keys.dns_experiment_failure = sum->keys.http_experiment_failure = NULL; /* point into freed docs */
  sum->keys.dns_consistency = k.dns_consistency; /* static strings */
  sum->technique = tech;
  sum->control_failed = r->control_failure != NULL;
  st = KP_OK;
out:
  kp_json_doc_free(evdoc);
  kp_json_doc_free(ctldoc);
  if (r) {
    kp_net_free(r->net);
    kp_trace_free(r->tr);
    kp_buf_free(&r->ctl_body);
  }
  free(r);
  free(o);
  kp_arena_destroy(a);
  kp_buf_free(&ev);
  kp_buf_free(&tkb);
  return st;
}
