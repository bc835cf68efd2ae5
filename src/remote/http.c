/*
 * http.c: `keepon remote http`, Hyperquack's method over src/net.
 *
 * For each listed server (policy-checked) and each test name, per protocol of its role:
 *   echo (port 7)  send an HTTP request whose Host is the name; an echo server returns the bytes
 *                  exactly; a censor on the path resets, drops, or answers with other bytes.
 *   web  (80)      GET / with Host: name          (kp_net_connect + kp_net_http)
 *        (443)     TLS with SNI = name, then GET  (kp_net_tls: a certificate for another name is
 *                  a failure of the handshake; recorded as cert_ok = false with the response)
 * Each is tried cfg->retries times for the name and for the control name (cfg->controls[0]) on
 * the same server, every try behind a permit (host and AS); kp_rmt_http_verdict decides.
 * The echo step is src/net's raw exchange (kp_net_exchange), recorded in the trace like the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msmt/msmt.h"
#include "net/net.h"
#include "remote/internal.h"

#define MAX_TRIES 8

typedef struct hjob {
  const kp_rmt_cfg_t *cfg;
  const kp_clock_t *clk;
  kp_rmt_target_t *targets;
  kp_rmt_row_t *rows;  /* ntargets * nnames * 2 (echo: one proto; web: http, https) */
  kp_status_t st;
} hjob_t;

static uint64_t fnv(const void *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ull;
  return h;
}

static kp_rmt_out_t classify(const char *f) {
  if (!f) return KP_RMT_O_OK;
  if (!strcmp(f, KP_FAIL_RESET)) return KP_RMT_O_RESET;
  if (!strcmp(f, KP_FAIL_TIMEOUT)) return KP_RMT_O_TIMEOUT;
  return KP_RMT_O_OTHER;
}

static void echo_try(kp_net_t *n, kp_conn_t *c, const char *name, double to, kp_rmt_try_t *t) {
  char req[512], got[512];
  int len = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", name);
  size_t have = 0;
  const char *f = NULL;
  kp_net_exchange(n, c, req, (size_t)len, got, sizeof got, (size_t)len, to, &have, &f);
  t->out = classify(f);
  if (f) return;
  t->body_len = have;
  t->body_hash = fnv(got, have);
  t->echo_exact = have == (size_t)len && !memcmp(got, req, have);
}

/* One try of @p name on the server: connect, [TLS], request. Recorded in @p n's trace. */
static void one_try(hjob_t *j, kp_net_t *n, const kp_rmt_target_t *t, kp_rmt_proto_t proto, const char *name,
                    kp_rmt_try_t *out) {
  const kp_rmt_cfg_t *cfg = j->cfg;
  memset(out, 0, sizeof *out);
  kp_rl_wait(cfg->rl, &t->addr, t->asn);
  kp_addrs_t one = {.n = 1};
  one.a[0] = t->addr;
  uint16_t port = proto == KP_RMT_P_ECHO ? 7 : proto == KP_RMT_P_HTTP ? 80 : 443;
  if (cfg->port && proto == KP_RMT_P_ECHO) port = cfg->port;
  kp_conn_t *c = NULL;
  const char *f = NULL;
  kp_net_connect(n, &one, port, &c, &f);
  if (!c) {
    out->out = classify(f);
    return;
  }
  double to = cfg->timeout > 0 ? cfg->timeout : 3.0;
  if (proto == KP_RMT_P_ECHO) {
    echo_try(n, c, name, to, out);
    kp_conn_close(c);
    return;
  }
  if (proto == KP_RMT_P_HTTPS) {
    kp_net_tls(n, c, name, &f);
    if (f && !kp_net_failure_is_cert(f)) {
      out->out = classify(f);
      kp_conn_close(c);
      return;
    }
    out->cert_ok = f == NULL;
    if (f) { /* another name's certificate: what a blockpage over TLS looks like; no request sent */
      out->out = KP_RMT_O_OK;
      out->status = -1;
      kp_conn_close(c);
      return;
    }
  }
  char url[300];
  snprintf(url, sizeof url, "%s://%s/", proto == KP_RMT_P_HTTPS ? "https" : "http", name);
  kp_http_req_t rq = {.method = "GET", .url = url, .host = name, .path = "/", .body_cap = 65536};
  kp_http_result_t res;
  kp_net_http(n, c, &rq, &res);
  kp_conn_close(c);
  out->out = classify(res.failure);
  if (res.failure && res.status) out->out = KP_RMT_O_OK; /* a response came: compare it */
  out->status = res.status;
  out->body_len = (size_t)res.bytes;
  out->body_hash = fnv(res.head, res.head_len);
}

static const char *const OUT_NAME[] = {"ok", "reset", "timeout", "other"};
static const char *const PROTO_NAME[] = {"echo", "http", "https"};

static void write_tries(kp_jw_t *w, const char *key, const kp_rmt_try_t *t, size_t n) {
  kp_jw_key(w, key);
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < n; i++) {
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "outcome", OUT_NAME[t[i].out]);
    kp_jw_kint(w, "status", t[i].status);
    kp_jw_kint(w, "body_length", (int64_t)t[i].body_len);
    kp_jw_kbool(w, "cert_ok", t[i].cert_ok);
    kp_jw_kbool(w, "echo_exact", t[i].echo_exact);
    kp_jw_obj_end(w);
  }
  kp_jw_arr_end(w);
}

static void measure_one(void *arg, size_t idx) {
  hjob_t *j = arg;
  const kp_rmt_cfg_t *cfg = j->cfg;
  size_t ti = idx / (cfg->nnames * 2), rest = idx % (cfg->nnames * 2), ni = rest / 2;
  kp_rmt_target_t *t = &j->targets[ti];
  kp_rmt_row_t *row = &j->rows[idx];
  row->t = t;
  kp_buf_init(&row->json, 4 << 20);
  kp_rmt_proto_t proto;
  if (t->role == KP_RMT_ECHO) {
    if (rest % 2) return;
    proto = KP_RMT_P_ECHO;
  } else if (t->role == KP_RMT_WEB) {
    proto = rest % 2 ? KP_RMT_P_HTTPS : KP_RMT_P_HTTP;
  } else {
    return;
  }
  if (kp_rmt_policy_refuse(cfg->policy, &t->addr)) return;
  const char *name = cfg->names[ni].s, *ctl = cfg->controls[0].s;
  kp_net_cfg_t nc;
  memset(&nc, 0, sizeof nc);
  nc.ca_file = cfg->ca_file;
  nc.connect_timeout = nc.tls_timeout = nc.http_timeout = nc.dns_timeout = cfg->timeout > 0 ? cfg->timeout : 3.0;
  kp_trace_t *tr = NULL;
  kp_net_t *n = NULL;
  if (kp_trace_new(j->clk, &tr) != KP_OK || kp_net_new(&nc, j->clk, tr, &n) != KP_OK) {
    kp_trace_free(tr);
    j->st = KP_ERR_NOMEM;
    return;
  }
  int64_t wall = kp_now_wall(j->clk), t0 = kp_now_mono(j->clk);
  size_t nt = cfg->retries ? cfg->retries : 3;
  if (nt > MAX_TRIES) nt = MAX_TRIES;
  kp_rmt_try_t tt[MAX_TRIES], ct[MAX_TRIES];
  size_t ntt = 0, nct = 0;
  /* control first; then the name, stopping at the first try that looks like the control */
  for (size_t i = 0; i < nt; i++) {
    one_try(j, n, t, proto, ctl, &ct[nct++]);
    if (ct[nct - 1].out == KP_RMT_O_OK) break;
  }
  for (size_t i = 0; i < nt; i++) {
    one_try(j, n, t, proto, name, &tt[ntt++]);
    kp_rmt_verdict_t v = kp_rmt_http_verdict(proto, tt, ntt, ct, nct);
    if (!strcmp(v.verdict, "ok") || !strcmp(v.reason, "control-failure")) break;
  }
  kp_rmt_verdict_t v = kp_rmt_http_verdict(proto, tt, ntt, ct, nct);
  row->verdict = v.verdict;
  row->technique = v.technique;
  row->wall_s = wall / 1000000000;
  kp_jw_t w;
  kp_jw_init(&w, &row->json);
  if (kp_rmt_head(&w, "keepon_remote_http", t, name, cfg->software_version, wall) != KP_OK) goto done;
  char s[KP_ADDR_STRLEN];
  kp_jw_key(&w, "test_keys");
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "server", kp_addr_fmt(&t->addr, s));
  kp_jw_kint(&w, "server_asn", t->asn);
  kp_jw_kstr(&w, "protocol", PROTO_NAME[proto]);
  kp_jw_kstr(&w, "control_name", ctl);
  write_tries(&w, "tries", tt, ntt);
  write_tries(&w, "control_tries", ct, nct);
  kp_trace_write(tr, &w);
  kp_jw_kstr(&w, "keepon_verdict", v.verdict);
  kp_jw_kstr(&w, "keepon_technique", v.technique);
  kp_jw_kstr(&w, "keepon_reason", v.reason);
  kp_jw_kbool(&w, "keepon_failed", !strcmp(v.verdict, "blocked"));
  kp_jw_obj_end(&w);
  kp_msmt_write_tail(&w, &(kp_msmt_env_t){.test_name = "keepon_remote_http", .test_version = "0.1.0",
                                          .start_wall_ns = wall},
                     (double)(kp_now_mono(j->clk) - t0) / 1e9);
done:
  if (w.st != KP_OK) {
    j->st = w.st;
    row->verdict = NULL;
  }
  kp_net_free(n);
  kp_trace_free(tr);
}

kp_status_t kp_rmt_http_run(const kp_rmt_cfg_t *cfg, const kp_clock_t *clk, kp_buf_t *msmts, kp_buf_t *summary,
                            kp_buf_t *signals, kp_rmt_stats_t *st) {
  memset(st, 0, sizeof *st);
  if (!cfg->policy || !cfg->rl || cfg->nnames == 0 || cfg->ncontrols == 0) return KP_ERR_INVAL;
  int64_t t0 = kp_now_mono(clk);
  hjob_t j = {.cfg = cfg, .clk = clk, .st = KP_OK};
  size_t total = cfg->ntargets * cfg->nnames * 2;
  j.targets = calloc(cfg->ntargets ? cfg->ntargets : 1, sizeof *j.targets);
  j.rows = calloc(total ? total : 1, sizeof *j.rows);
  kp_status_t rc = KP_ERR_NOMEM;
  if (!j.targets || !j.rows) goto out;
  for (size_t i = 0; i < cfg->ntargets; i++) {
    j.targets[i] = cfg->targets[i];
    kp_rmt_locate(cfg, &j.targets[i].addr, &j.targets[i].asn, j.targets[i].cc);
    if (cfg->targets[i].role != KP_RMT_RESOLVER && kp_rmt_policy_refuse(cfg->policy, &cfg->targets[i].addr))
      st->refused++;
  }
  kp_net_run_pool(total, cfg->parallel ? cfg->parallel : 32, measure_one, &j);
  rc = j.st;
  size_t refused = st->refused;
  if (rc == KP_OK) rc = kp_rmt_emit(cfg, "remote-http", j.rows, total, msmts, summary, signals, st);
  st->refused = refused;
  st->seconds = (double)(kp_now_mono(clk) - t0) / 1e9;
out:
  if (j.rows)
    for (size_t i = 0; i < total; i++) kp_buf_free(&j.rows[i].json);
  free(j.rows);
  free(j.targets);
  return rc;
}
