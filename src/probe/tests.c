/*
 * tests.c: the four IM tests as one const table, each with OONI's own result
 * keys computed with OONI's semantics (docs/probe.md cites the rules):
 *  - whatsapp (ts-018): endpoints "ok" as soon as any endpoint connect worked;
 *    a host is listed in whatsapp_endpoints_blocked once all its endpoint
 *    connects failed; registration/web "ok" iff the GET had no failure (the
 *    status code is ignored); whatsapp_endpoints_dns_inconsistent is always [].
 *  - telegram (ts-020): tcp_blocking = every DC flow failed at connect;
 *    http_blocking = no DC POST succeeded; web "blocked" on any failure.
 *  - signal (ts-029): backend "blocked" if any backend GET failed, failure =
 *    the last failure seen (flow order).
 *  - facebook_messenger (ts-019): TCP connects only; per service
 *    dns_consistent by the answers' ASN (32934, via the geo database) and
 *    reachable (TCP connect); aggregates dns/tcp_blocking (rule below).
 */
#include <stdio.h>
#include <string.h>

#include "probe/probe.h"

static bool role_is(const kp_flow_result_t *f, const char *role) { return strcmp(f->target->role, role) == 0; }

static void status_pair(kp_jw_t *w, const char *status_key, const char *failure_key, const kp_im_app_result_t *r,
                        const char *role) {
  const char *fail = NULL;
  bool seen = false;
  for (size_t i = 0; i < r->nflows; i++)
    if (role_is(&r->flow[i], role)) {
      seen = true;
      if (r->flow[i].failure) fail = r->flow[i].failure;
    }
  kp_jw_kstr(w, status_key, !seen ? NULL : fail ? "blocked" : "ok");
  kp_jw_kstr(w, failure_key, fail);
}

static void whatsapp_keys(const kp_im_app_result_t *r, kp_jw_t *w) {
  bool any_ok = false;
  kp_jw_key(w, "whatsapp_endpoints_blocked");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < r->nflows; i++) {
    const kp_flow_result_t *f = &r->flow[i];
    if (!role_is(f, "endpoint")) continue;
    if (f->connect_ok) any_ok = true;
    bool first = true, all_failed = true;
    for (size_t k = 0; k < r->nflows; k++) {
      const kp_flow_result_t *g = &r->flow[k];
      if (!role_is(g, "endpoint") || strcmp(g->target->host, f->target->host) != 0) continue;
      if (k < i) first = false;
      if (g->connect_ok) all_failed = false;
    }
    if (first && all_failed) kp_jw_str(w, f->target->host);
  }
  kp_jw_arr_end(w);
  kp_jw_key(w, "whatsapp_endpoints_dns_inconsistent");
  kp_jw_arr_begin(w);
  kp_jw_arr_end(w);
  kp_jw_kstr(w, "whatsapp_endpoints_status", any_ok ? "ok" : "blocked");
  status_pair(w, "registration_server_status", "registration_server_failure", r, "registration");
  status_pair(w, "whatsapp_web_status", "whatsapp_web_failure", r, "web");
}

static void telegram_keys(const kp_im_app_result_t *r, kp_jw_t *w) {
  bool tcp_blocking = true, http_blocking = true;
  for (size_t i = 0; i < r->nflows; i++) {
    const kp_flow_result_t *f = &r->flow[i];
    if (!role_is(f, "dc")) continue;
    if (!f->failure) tcp_blocking = http_blocking = false;
    else if (!f->failed_operation || strcmp(f->failed_operation, "connect") != 0) tcp_blocking = false;
  }
  kp_jw_kbool(w, "telegram_http_blocking", http_blocking);
  kp_jw_kbool(w, "telegram_tcp_blocking", tcp_blocking);
  status_pair(w, "telegram_web_status", "telegram_web_failure", r, "web");
}

static void signal_keys(const kp_im_app_result_t *r, kp_jw_t *w) {
  status_pair(w, "signal_backend_status", "signal_backend_failure", r, "backend");
}

/*
 * OONI's fbmessenger (ComputeEndpointStatus), per service, in this order:
 *   resolve failed                    -> dns_consistent false, reachable null, dns_blocking
 *   some answer's ASN is not 32934    -> dns_consistent false, reachable null, dns_blocking
 *   otherwise dns_consistent true; connect failed -> reachable false, tcp_blocking; else true.
 * stun is a DNS lookup only: facebook_stun_reachable is always null (OONI ignores it).
 * Without an ASN database the ASN step cannot be done: dns_consistent is null
 * (not judged, x_dns_consistency says so) and reachable still follows the connect.
 */
static void fbmessenger_keys(const kp_im_app_result_t *r, kp_jw_t *w) {
  bool dns_blocking = false, tcp_blocking = false, skipped = false;
  for (size_t i = 0; i < r->nflows; i++) {
    const kp_flow_result_t *f = &r->flow[i];
    if (!f->target->svc[0]) continue;
    char dkey[96], rkey[96];
    snprintf(dkey, sizeof dkey, "facebook_%s_dns_consistent", f->target->svc);
    snprintf(rkey, sizeof rkey, "facebook_%s_reachable", f->target->svc);
    bool resolve_failed = f->failed_operation && strcmp(f->failed_operation, "resolve") == 0;
    if (resolve_failed || f->asn_consistent == 0) {
      dns_blocking = true;
      kp_jw_kbool(w, dkey, false);
      kp_jw_knull(w, rkey);
      continue;
    }
    if (f->asn_consistent < 0) {
      skipped = true;
      kp_jw_knull(w, dkey);
    } else {
      kp_jw_kbool(w, dkey, true);
    }
    if (f->target->scheme == KP_SCHEME_DNS) {
      kp_jw_knull(w, rkey);
      continue;
    }
    bool connect_failed = f->failed_operation && strcmp(f->failed_operation, "connect") == 0;
    if (connect_failed) tcp_blocking = true;
    kp_jw_kbool(w, rkey, !connect_failed);
  }
  kp_jw_kbool(w, "facebook_dns_blocking", dns_blocking);
  kp_jw_kbool(w, "facebook_tcp_blocking", tcp_blocking);
  kp_jw_kstr(w, "x_dns_consistency",
             skipped ? "skipped: no ASN database (pass --asn-mmdb or --geo; keepon_technique judges DNS by the target networks)"
                     : "asn");
}

const kp_im_test_t kp_im_tests[] = {
  {.name = "whatsapp", .version = "0.11.0", .write_keys = whatsapp_keys},
  {.name = "telegram", .version = "0.3.1", .write_keys = telegram_keys},
  /* Signal's servers chain to Signal's own roots, which no system store holds (OONI adds them too) */
  {.name = "signal", .version = "0.2.5", .write_keys = signal_keys, .extra_roots = kp_probe_signal_roots_pem},
  {.name = "facebook_messenger", .version = "0.2.1", .write_keys = fbmessenger_keys, .dns_asn = 32934},
};
const size_t kp_im_ntests = sizeof kp_im_tests / sizeof *kp_im_tests;

const kp_im_test_t *kp_im_test_find(const char *name) {
  for (size_t i = 0; i < kp_im_ntests; i++)
    if (strcmp(kp_im_tests[i].name, name) == 0) return &kp_im_tests[i];
  return NULL;
}
