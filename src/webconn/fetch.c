/*
 * fetch.c: network steps shared by the test helper and the probe, on top of
 * src/net: "GET a URL following redirects" and "connect (+TLS) one endpoint".
 *
 * A fetch walks hops (state per hop):
 *
 *   resolve host ─fail─> done(failure)            (IP literal: no lookup)
 *      │ok
 *   connect first address that answers ─fail─> done(failure)
 *      │ok
 *   TLS (https, SNI=host, verified) ─fail─> done(failure)
 *      │ok
 *   GET path ─fail─> done(failure)
 *      │status 3xx + Location, hops < max      │otherwise
 *      └────────────> next hop                 └─> done(final response)
 *
 * With cfg->dest (the helper) a hop is refused (KP_WC_FAIL_DEST) when any
 * address its host resolves to fails kp_wc_dest_refuse (as oohelperd's
 * bogon-refusing resolver), and the peer the socket actually connected to is
 * checked again before a byte is sent. Hosts are never re-resolved between
 * the check and the connect: the checked addresses are the ones dialled.
 *
 * Every step is bounded by the net context's per-step timeouts and global
 * deadline. Response heads are re-read from the trace with a bounded line
 * scanner (no I/O, caps on line and header counts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cursor.h"
#include "net/net.h"
#include "webconn/wc_net.h"

kp_status_t kp_wc_url_path(const char *url, char *out, size_t cap) {
  const char *p = strstr(url, "://");
  if (!p || cap < 2) return KP_ERR_INVAL;
  p += 3;
  p += strcspn(p, "/?#");
  size_t n = strcspn(p, "#");
  if (n == 0) {
    snprintf(out, cap, "/");
    return KP_OK;
  }
  if (n + 2 > cap) return KP_ERR_RANGE;
  if (*p == '?') {
    out[0] = '/';
    memcpy(out + 1, p, n);
    out[n + 1] = 0;
  } else {
    memcpy(out, p, n);
    out[n] = 0;
  }
  return KP_OK;
}

kp_status_t kp_wc_url_join(const char *base, const char *loc, char *out, size_t cap) {
  char scheme[8], host[256];
  int port;
  /* a Location goes into our next request line: printable ASCII only */
  for (const char *c = loc; *c; c++)
    if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) return KP_ERR_INVAL;
  if (!*loc) return KP_ERR_INVAL;
  if (!strncmp(loc, "http://", 7) || !strncmp(loc, "https://", 8)) {
    if (kp_wc_url_split(loc, scheme, sizeof scheme, host, sizeof host, &port) != KP_OK)
      return KP_ERR_INVAL;
    return snprintf(out, cap, "%s", loc) < (int)cap ? KP_OK : KP_ERR_RANGE;
  }
  if (kp_wc_url_split(base, scheme, sizeof scheme, host, sizeof host, &port) != KP_OK)
    return KP_ERR_INVAL;
  char auth[300];
  if (strchr(host, ':'))
    snprintf(auth, sizeof auth, port ? "[%s]:%d" : "[%s]", host, port);
  else
    snprintf(auth, sizeof auth, port ? "%s:%d" : "%s", host, port);
  int w;
  if (!strncmp(loc, "//", 2)) {
    w = snprintf(out, cap, "%s:%s", scheme, loc);
    if (w >= (int)cap) return KP_ERR_RANGE;
    return kp_wc_url_split(out, scheme, sizeof scheme, host, sizeof host, &port) == KP_OK
               ? KP_OK : KP_ERR_INVAL;
  }
  if (loc[0] == '/') {
    w = snprintf(out, cap, "%s://%s%s", scheme, auth, loc);
  } else {
    char path[1024];
    if (kp_wc_url_path(base, path, sizeof path) != KP_OK) return KP_ERR_INVAL;
    path[strcspn(path, "?")] = 0;
    char *slash = strrchr(path, '/');
    if (slash) slash[1] = 0;
    w = snprintf(out, cap, "%s://%s%s%s", scheme, auth, path, loc);
  }
  return w < (int)cap ? KP_OK : KP_ERR_RANGE;
}

/* Scan a raw response head for header lines; calls back per header. */
void kp_wc_head_scan(const uint8_t *p, size_t n, void (*cb)(void *, const char *, size_t, const char *, size_t),
                      void *ctx) {
  kp_cur_t c = kp_cur_make(p, n);
  const uint8_t *l;
  size_t len;
  for (size_t lines = 0; lines < 128 && kp_cur_line(&c, &l, &len); lines++) {
    if (lines == 0) continue; /* the status line */
    if (len == 0) break;      /* the end of the head */
    const uint8_t *colon = memchr(l, ':', len);
    if (colon && colon > l) {
      size_t nl = (size_t)(colon - l), vs = nl + 1;
      while (vs < len && (l[vs] == ' ' || l[vs] == '\t')) vs++;
      cb(ctx, (const char *)l, nl, (const char *)l + vs, len - vs);
    }
  }
}

typedef struct find_ctx {
  const char *name;
  char *out;
  size_t cap;
  bool found;
} find_ctx_t;

static void find_hdr(void *vctx, const char *name, size_t nl, const char *val, size_t vl) {
  find_ctx_t *c = vctx;
  if (c->found || strlen(c->name) != nl || strncasecmp(c->name, name, nl) || vl >= c->cap) return;
  memcpy(c->out, val, vl);
  c->out[vl] = 0;
  c->found = true;
}

bool kp_wc_head_value(const uint8_t *head, size_t n, const char *name, char *out, size_t cap) {
  find_ctx_t c = {name, out, cap, false};
  if (cap) out[0] = 0;
  kp_wc_head_scan(head, n, find_hdr, &c);
  return c.found;
}

typedef struct hdr_ctx {
  kp_arena_t *a;
  kp_wc_fetch_t *f;
} hdr_ctx_t;

static void keep_hdr(void *vctx, const char *name, size_t nl, const char *val, size_t vl) {
  hdr_ctx_t *c = vctx;
  kp_wc_fetch_t *f = c->f;
  if (nl >= 128 || vl >= 4096) return;
  if (nl == 8 && !strncasecmp(name, "location", 8))
    f->location = kp_arena_strndup(c->a, val, vl);
  if (f->nhdr >= KP_WC_MAX_HDRS) return;
  for (size_t i = 0; i < f->nhdr; i++) /* first value of each name, as OONI's map keeps */
    if (strlen(f->hdr_keys[i]) == nl && !strncasecmp(f->hdr_keys[i], name, nl)) return;
  const char *k = kp_arena_strndup(c->a, name, nl), *v = kp_arena_strndup(c->a, val, vl);
  if (!k || !v) return;
  f->hdr_keys[f->nhdr] = k;
  f->hdr_values[f->nhdr++] = v;
}

/* One hop: connect + (TLS) + GET. Fills f->failure or the response fields. */
static void one_hop(kp_net_t *net, kp_trace_t *tr, const char *url, const kp_addrs_t *addrs,
                    const kp_wc_fetch_cfg_t *cfg, kp_arena_t *a, kp_wc_fetch_t *f) {
  char scheme[8], host[256], path[1024];
  int port;
  kp_wc_url_split(url, scheme, sizeof scheme, host, sizeof host, &port);
  bool tls = !strcmp(scheme, "https");
  if (!port) port = tls ? 443 : 80;
  if (kp_wc_url_path(url, path, sizeof path) != KP_OK) {
    f->failure = "unknown_failure: bad url";
    return;
  }
  kp_conn_t *c = NULL;
  const char *fail = NULL;
  kp_net_connect(net, addrs, (uint16_t)port, &c, &fail);
  if (!c) {
    f->failure = fail ? fail : KP_FAIL_TIMEOUT;
    return;
  }
  kp_conn_peer(c, f->endpoint);
  if (cfg->dest) {
    char pip[KP_ADDR_STRLEN + 2];
    uint16_t pp;
    kp_addr_t pa;
    if (kp_hostport_parse(f->endpoint, pip, sizeof pip, &pp) != KP_OK || kp_addr_parse(pip, &pa) != KP_OK ||
        kp_wc_dest_refuse(cfg->dest, &pa)) {
      f->failure = KP_WC_FAIL_DEST;
      kp_conn_close(c);
      return;
    }
  }
  if (tls) {
    fail = NULL;
    kp_net_tls(net, c, host, &fail);
    if (fail) {
      f->failure = fail;
      f->tls_failed = true;
      kp_conn_close(c);
      return;
    }
  }
  kp_http_req_t req = {.method = "GET", .url = url, .host = host, .path = path,
                       .body_cap = cfg->body_cap, .keep_cap = cfg->keep_cap};
  kp_http_result_t res;
  kp_net_http(net, c, &req, &res);
  kp_conn_close(c);
  const kp_httpobs_t *hs = NULL;
  size_t nh = kp_trace_https(tr, &hs);
  const kp_httpobs_t *o = nh ? &hs[nh - 1] : NULL;
  f->status = res.status;
  if (res.failure && !(o && o->status > 0 && cfg->keep_partial)) {
    f->failure = res.failure;
    return;
  }
  f->failure = NULL;
  f->nhdr = 0;
  f->location = NULL;
  if (o) {
    hdr_ctx_t hc = {a, f};
    kp_wc_head_scan(o->head.data ? o->head.data : (const uint8_t *)"", o->head.len, keep_hdr, &hc);
    f->body_length = (int64_t)res.bytes; /* read (up to body_cap); o->body keeps keep_cap */
    f->body_truncated = o->body_truncated;
    char title[520];
    kp_wc_title(o->body.data ? o->body.data : (const uint8_t *)"", o->body.len, title, sizeof title);
    f->title = kp_arena_strndup(a, title, strlen(title));
    if (cfg->keep_body && o->body.len) {
      f->body = (const uint8_t *)kp_arena_strndup(a, (const char *)o->body.data, o->body.len);
      f->body_kept = f->body ? o->body.len : 0;
    }
  }
  if (res.failure) f->failure = res.failure;
}

kp_status_t kp_wc_fetch(const kp_wc_fetch_cfg_t *cfg, const char *url, const kp_addrs_t *first_addrs,
                        kp_arena_t *a, kp_wc_fetch_t *f) {
  memset(f, 0, sizeof *f);
  f->title = "";
  kp_trace_t *tr = NULL;
  kp_net_t *net = NULL;
  kp_status_t st = kp_trace_new(kp_clock_system(), &tr);
  if (st != KP_OK) return st;
  st = kp_net_new(cfg->net, kp_clock_system(), tr, &net);
  if (st != KP_OK) goto out;
  char cur[1024];
  snprintf(cur, sizeof cur, "%s", url);
  for (int hop = 0;; hop++) {
    f->hops = hop + 1;
    f->final_url = kp_arena_strndup(a, cur, strlen(cur));
    char scheme[8], host[256];
    int port;
    if (kp_wc_url_split(cur, scheme, sizeof scheme, host, sizeof host, &port) != KP_OK) {
      f->failure = "unknown_failure: bad url";
      break;
    }
    kp_addrs_t addrs = {0};
    kp_addr_t lit;
    if (kp_addr_parse(host, &lit) == KP_OK) {
      kp_addrs_add(&addrs, &lit);
    } else if (hop == 0 && first_addrs && first_addrs->n) {
      addrs = *first_addrs;
    } else {
      const char *df = NULL;
      kp_net_resolve_system(net, host, &addrs, &df);
      if (!addrs.n) {
        f->failure = "dns_lookup_error";
        f->dns_failed = true;
        break;
      }
    }
    bool refused = false;
    for (size_t i = 0; cfg->dest && i < addrs.n && !refused; i++) refused = kp_wc_dest_refuse(cfg->dest, &addrs.a[i]) != NULL;
    if (refused) {
      f->failure = KP_WC_FAIL_DEST;
      break;
    }
    one_hop(net, tr, cur, &addrs, cfg, a, f);
    if (f->failure) break;
    bool redirect = f->status == 301 || f->status == 302 || f->status == 303 || f->status == 307 ||
                    f->status == 308;
    if (!redirect || !f->location) break;
    if (hop + 1 > cfg->max_redirects) {
      f->failure = "unknown_failure: stopped after too many redirects";
      break;
    }
    char next[1024];
    if (kp_wc_url_join(cur, f->location, next, sizeof next) != KP_OK) {
      f->failure = "http_invalid_redirect_location_host";
      break;
    }
    snprintf(cur, sizeof cur, "%s", next);
  }
out:
  kp_net_free(net);
  kp_trace_free(tr);
  return st;
}

kp_status_t kp_wc_probe_endpoint(const kp_net_cfg_t *ncfg, const char *ip, int port, const char *sni,
                                 const char **tcp_failure, const char **tls_failure) {
  *tcp_failure = NULL;
  if (tls_failure) *tls_failure = NULL;
  kp_addrs_t addrs = {0};
  kp_addr_t ad;
  if (kp_addr_parse(ip, &ad) != KP_OK) return KP_ERR_INVAL;
  kp_addrs_add(&addrs, &ad);
  kp_trace_t *tr = NULL;
  kp_net_t *net = NULL;
  kp_status_t st = kp_trace_new(kp_clock_system(), &tr);
  if (st != KP_OK) return st;
  st = kp_net_new(ncfg, kp_clock_system(), tr, &net);
  if (st == KP_OK) {
    kp_conn_t *c = NULL;
    const char *fail = NULL;
    kp_net_connect(net, &addrs, (uint16_t)port, &c, &fail);
    *tcp_failure = c ? "" : (fail ? fail : KP_FAIL_TIMEOUT);
    if (c && sni && tls_failure) {
      fail = NULL;
      kp_net_tls(net, c, sni, &fail);
      *tls_failure = fail ? fail : "";
    }
    if (c) kp_conn_close(c);
  }
  kp_net_free(net);
  kp_trace_free(tr);
  return st;
}

/* The first "nameserver" of /etc/resolv.conf (what getaddrinfo asked); bounded line scan. */
static bool system_nameserver(kp_addr_t *out) {
  FILE *f = fopen("/etc/resolv.conf", "r");
  if (!f) return false;
  char line[256];
  bool ok = false;
  while (!ok && fgets(line, sizeof line, f)) {
    if (strncmp(line, "nameserver", 10) || (line[10] != ' ' && line[10] != '\t')) continue;
    char *p = line + 10;
    p += strspn(p, " \t");
    p[strcspn(p, " \t\r\n")] = 0;
    ok = kp_addr_parse(p, out) == KP_OK;
  }
  fclose(f);
  return ok;
}

bool kp_wc_system_says_nodata(const kp_net_cfg_t *cfg, const char *host) {
  kp_net_cfg_t c = *cfg;
  if (!system_nameserver(&c.resolver)) return false;
  c.resolver_port = 53;
  c.dns_window = 0;
  kp_trace_t *t = NULL;
  kp_net_t *net = NULL;
  bool nodata = false;
  if (kp_trace_new(kp_clock_system(), &t) == KP_OK && kp_net_new(&c, kp_clock_system(), t, &net) == KP_OK) {
    kp_addrs_t a = {0};
    const char *f = NULL;
    kp_net_resolve_udp(net, host, &a, NULL, &f);
    const kp_q_t *q = NULL;
    size_t n = kp_trace_queries(t, &q);
    nodata = n > 0;
    for (size_t i = 0; i < n; i++) nodata = nodata && q[i].rcode == 0 && q[i].nanswers == 0;
  }
  kp_net_free(net);
  kp_trace_free(t);
  return nodata;
}
