/*
 * th_measure.c: what the test helper does for one request, from its own
 * (uncensored) vantage, mirroring oohelperd:
 *   1. resolve the URL's host with the system resolver (NXDOMAIN reported as
 *      "dns_name_error", no addresses as an empty list, other errors as
 *      "dns_server_failure");
 *   2. plan endpoints = probe's ∪ TH's addresses minus what the destination
 *      rule refuses (kp_wc_dest_refuse: non-public, the helper's own
 *      addresses; --allow-net exempts test ranges) on the URL's ports; connect
 *      to each in parallel, and TLS-handshake (SNI = URL host) on 443 / the
 *      https port;
 *   3. GET the URL following up to 10 redirects, the same rule applied to
 *      every hop's addresses and to the connected peer; report status, body
 *      length (capped), title and headers of the final response.
 * All steps time out (cfg->step_timeout, cfg->total_timeout); failures are
 * data in the response, never errors of the helper.
 */
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "geo/geo.h"
#include "webconn/wc_net.h"

typedef struct ep_job {
  const kp_net_cfg_t *ncfg;
  const char *ep;
  const char *sni; /* NULL: no TLS on this port */
  const char *tcp_failure, *tls_failure;
} ep_job_t;

static void run_ep(void *arg, size_t i) {
  ep_job_t *j = &((ep_job_t *)arg)[i];
  char ip[KP_ADDR_STRLEN + 2];
  uint16_t port = 0;
  if (kp_hostport_parse(j->ep, ip, sizeof ip, &port) != KP_OK) {
    j->tcp_failure = "unknown_failure: bad endpoint";
    return;
  }
  if (kp_wc_probe_endpoint(j->ncfg, ip, port, j->sni, &j->tcp_failure, &j->tls_failure) != KP_OK &&
      !j->tcp_failure)
    j->tcp_failure = "unknown_failure: internal";
}

static kp_status_t measure(const kp_wc_th_cfg_t *cfg, const kp_net_cfg_t *ncfgp, const kp_wc_dest_t *dest,
                           const kp_wc_threq_t *req, const char *host, const char *scheme, int port,
                           kp_arena_t *a, kp_wc_ctl_t *out);

static const char *dns_fail_th(const char *f) {
  if (!f) return "";
  if (!strcmp(f, KP_FAIL_NXDOMAIN)) return "dns_name_error";
  if (!strcmp(f, KP_FAIL_DNS_NODATA)) return "";
  return "dns_server_failure";
}

/* The host's interface addresses right now (I/O): a request naming one of them would reach
 * services of the helper's own machine. getifaddrs failing fails closed. */
static void add_interface_addrs(kp_wc_dest_t *d) {
  struct ifaddrs *ifa = NULL;
  if (getifaddrs(&ifa) != 0) {
    d->own_full = true;
    return;
  }
  for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    kp_addr_t a = {0};
    if (i->ifa_addr->sa_family == AF_INET) {
      a.family = 4;
      memcpy(a.b, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      a.family = 6;
      memcpy(a.b, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    kp_wc_dest_add_own(d, &a);
  }
  freeifaddrs(ifa);
}

kp_status_t kp_wc_th_measure(const kp_wc_th_cfg_t *cfg, const kp_wc_threq_t *req, kp_arena_t *a,
                             kp_wc_ctl_t *out) {
  memset(out, 0, sizeof *out);
  char scheme[8], host[256];
  int port;
  if (kp_wc_url_split(req->url, scheme, sizeof scheme, host, sizeof host, &port) != KP_OK)
    return KP_ERR_INVAL;
  double step = cfg->step_timeout > 0 ? cfg->step_timeout : 10;
  double total = cfg->total_timeout > 0 ? cfg->total_timeout : 30;
  kp_net_cfg_t ncfg = {.ca_file = cfg->ca_file, .dns_timeout = step, .connect_timeout = step,
                       .tls_timeout = step, .http_timeout = step,
                       .deadline_ns = kp_now_mono(kp_clock_system()) + (int64_t)(total * 1e9),
                       .body_cap = cfg->body_cap ? cfg->body_cap : (size_t)16 << 20};
  out->present = true;
  out->url = req->url;
  kp_wc_dest_t *dest = malloc(sizeof *dest);
  if (!dest) return KP_ERR_NOMEM;
  *dest = cfg->dest;
  add_interface_addrs(dest);
  kp_status_t st = measure(cfg, &ncfg, dest, req, host, scheme, port, a, out);
  free(dest);
  return st;
}

static kp_status_t measure(const kp_wc_th_cfg_t *cfg, const kp_net_cfg_t *ncfgp, const kp_wc_dest_t *dest,
                           const kp_wc_threq_t *req, const char *host, const char *scheme, int port,
                           kp_arena_t *a, kp_wc_ctl_t *out) {
  kp_net_cfg_t ncfg = *ncfgp;

  /* 1. DNS */
  kp_addrs_t addrs = {0};
  kp_addr_t lit;
  if (kp_addr_parse(host, &lit) == KP_OK) {
    kp_addrs_add(&addrs, &lit);
    out->dns_failure = "";
  } else {
    kp_trace_t *tr = NULL;
    kp_net_t *net = NULL;
    kp_status_t st = kp_trace_new(kp_clock_system(), &tr);
    if (st == KP_OK) st = kp_net_new(&ncfg, kp_clock_system(), tr, &net);
    const char *df = NULL;
    if (st == KP_OK) kp_net_resolve_system(net, host, &addrs, &df);
    kp_net_free(net);
    kp_trace_free(tr);
    if (st != KP_OK) return st;
    out->dns_failure = addrs.n ? "" : dns_fail_th(df);
    if (!addrs.n && df && !strcmp(df, KP_FAIL_NXDOMAIN) && kp_wc_system_says_nodata(&ncfg, host))
      out->dns_failure = ""; /* a name without addresses: no failure, empty list (as oohelperd) */
  }
  const char *th_addrs[KP_WC_MAX_ADDRS];
  for (size_t i = 0; i < addrs.n && out->ndns < KP_WC_MAX_ADDRS; i++) {
    char buf[KP_ADDR_STRLEN];
    kp_addr_fmt(&addrs.a[i], buf);
    th_addrs[out->ndns] = out->dns_addrs[out->ndns] = kp_arena_strndup(a, buf, strlen(buf));
    if (!out->dns_addrs[out->ndns]) return KP_ERR_NOMEM;
    out->ndns++;
  }

  /* 2. endpoints */
  const char *eps[KP_WC_MAX_CTL_EPS];
  size_t neps = 0;
  kp_status_t st = kp_wc_th_plan(req, th_addrs, out->ndns, dest, a, eps, KP_WC_MAX_CTL_EPS, &neps);
  if (st != KP_OK) return st;
  ep_job_t *jobs = calloc(neps ? neps : 1, sizeof *jobs);
  if (!jobs) return KP_ERR_NOMEM;
  int tls_port = port ? (!strcmp(scheme, "https") ? port : 0) : 443;
  for (size_t i = 0; i < neps; i++) {
    const char *c = strrchr(eps[i], ':');
    jobs[i].ncfg = &ncfg;
    jobs[i].ep = eps[i];
    jobs[i].sni = (c && atoi(c + 1) == tls_port) ? host : NULL;
  }
  kp_net_run_pool(neps, 8, run_ep, jobs);
  for (size_t i = 0; i < neps; i++) {
    out->tcp[out->ntcp].endpoint = eps[i];
    out->tcp[out->ntcp++].failure = jobs[i].tcp_failure ? jobs[i].tcp_failure : KP_FAIL_TIMEOUT;
    if (jobs[i].sni && jobs[i].tls_failure) {
      out->tls[out->ntls].endpoint = eps[i];
      out->tls[out->ntls].server_name = kp_arena_strndup(a, host, strlen(host));
      out->tls[out->ntls++].failure = jobs[i].tls_failure;
    }
  }
  free(jobs);

  /* 3. GET with redirects */
  kp_wc_fetch_cfg_t fc = {.net = &ncfg, .body_cap = ncfg.body_cap, .max_redirects = 10,
                          .keep_partial = false, .dest = dest};
  kp_wc_fetch_t *f = calloc(1, sizeof *f);
  if (!f) return KP_ERR_NOMEM;
  if (!out->ndns) {
    out->http_failure = "dns_lookup_error";
  } else {
    st = kp_wc_fetch(&fc, req->url, &addrs, a, f);
    if (st != KP_OK) {
      free(f);
      return st;
    }
    out->http_failure = f->failure ? f->failure : "";
    out->status = f->failure ? -1 : f->status;
    out->body_length = f->failure ? -1 : f->body_length;
    out->title = f->title ? f->title : "";
    out->nhdr = f->failure ? 0 : f->nhdr;
    for (size_t i = 0; i < out->nhdr; i++) {
      out->hdr_keys[i] = f->hdr_keys[i];
      out->hdr_values[i] = f->hdr_values[i];
    }
  }
  free(f);
  return KP_OK;
}

static int64_t geo_asn(void *ctx, const char *ip) {
  kp_addr_t a;
  kp_geo_info_t gi;
  if (kp_addr_parse(ip, &a) != KP_OK || kp_geo_lookup(ctx, &a, &gi) != KP_OK) return 0;
  return gi.asn;
}

void kp_wc_th_handle(const kp_wc_th_cfg_t *cfg, const void *body, size_t n, kp_buf_t *out,
                     int *http_status) {
  kp_buf_reset(out);
  size_t cap = cfg->max_request ? cfg->max_request : KP_WC_TH_MAX_BODY;
  if (n > cap) {
    *http_status = 413;
    kp_buf_puts(out, "{\"error\":\"request too large\"}");
    return;
  }
  kp_arena_t *a = kp_arena_create((size_t)8 << 20);
  kp_wc_threq_t *req = calloc(1, sizeof *req);
  kp_wc_ctl_t *ctl = calloc(1, sizeof *ctl);
  if (!a || !req || !ctl) {
    *http_status = 500;
    kp_buf_puts(out, "{\"error\":\"out of memory\"}");
    goto done;
  }
  kp_status_t st = kp_wc_threq_parse(body, n, a, req);
  if (st != KP_OK) {
    *http_status = st == KP_ERR_NOMEM ? 500 : 400;
    kp_buf_puts(out, "{\"error\":\"malformed request\"}");
    goto done;
  }
  if (kp_wc_th_measure(cfg, req, a, ctl) != KP_OK) {
    *http_status = 500;
    kp_buf_puts(out, "{\"error\":\"measurement failed\"}");
    goto done;
  }
  const char *probe[KP_WC_TH_MAX_ENDPOINTS];
  char ips[KP_WC_TH_MAX_ENDPOINTS][KP_ADDR_STRLEN + 2];
  size_t np = 0;
  for (size_t i = 0; i < req->nendpoints; i++) {
    uint16_t p;
    if (kp_hostport_parse(req->endpoints[i], ips[np], sizeof ips[np], &p) == KP_OK) {
      probe[np] = ips[np];
      np++;
    }
  }
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_wc_thresp_write(&w, ctl, probe, np, &cfg->opts, cfg->geo ? geo_asn : NULL, (void *)cfg->geo);
  *http_status = w.st == KP_OK ? 200 : 500;
done:
  free(req);
  free(ctl);
  kp_arena_destroy(a);
}
