/*
 * classify.c: the technique decision table.
 *
 * Per flow (kp_an_flow_tech), first matching row wins:
 *
 *  | # | facts                                                              | technique      |
 *  |---|--------------------------------------------------------------------|----------------|
 *  | 1 | name NXDOMAIN (UDP or system resolver) while the control resolves  | dns_nxdomain   |
 *  | 2 | a query got two answers: the first unexpected, a later expected    | dns_injected   |
 *  | 3 | every first answer outside the app's networks (or bogon when the   | dns_forged     |
 *  |   | target file lists none) AND the flow then failed (a genuine        |                |
 *  |   | address that verifies TLS clears it: stale network lists happen)   |                |
 *  | 4 | download: bytes flowed but goodput < min_kbps, and either the read  | throttled      |
 *  |   | window cut it or it carried >= 64 KiB (a tiny body's rate is only   |                |
 *  |   | its round-trip time: a 176-byte blockpage is not a slow download)  |                |
 *  | 5 | HTTP answered 451, or the body matched a blockpage pattern         | http_blockpage |
 *  | 6 | TLS handshake completed but the certificate did not verify         | tls_mitm       |
 *  | 7 | TCP ok, TLS handshake reset (or cut with EOF)                      | tls_sni_reset  |
 *  | 8 | TCP ok, TLS handshake timed out                                    | tls_sni_drop   |
 *  | 9 | TCP connect refused or reset                                       | tcp_reset      |
 *  |10 | TCP connect timed out or unreachable, DNS fine                     | ip_blackhole   |
 *  |   | anything else failing                                              | none (failed)  |
 *
 * blockpage_only flows (plain-HTTP checks) only ever yield row 5 and never
 * count toward reachability: a missing plain-HTTP service is not blocking.
 *
 * Per app (kp_an_classify): the agreement rule. One flow's failure on the
 * real Internet is often just a flaky server; a campaigner publishing
 * "blocked" must be able to stand on it. So:
 *  - network_down (checked first) when the control target did not connect
 *    (whatever its DNS did) and no counting flow of the app reached a host:
 *    nothing gets through, so the app's own failures say nothing about
 *    targeted blocking. DNS is not required to fail too: in a national cut
 *    the domestic (or on-path) resolver often keeps answering from its cache
 *    or its own uplink while nothing is routed (the kz2022 demo's cut did
 *    exactly this, and every app read ip_blackhole, Signal dns_forged). For
 *    the same reason an answered DNS-only flow does not show a route: only a
 *    flow whose TCP connect completed, or was refused/reset (an answer came
 *    back: a cut drops, it does not answer), does. So a control refused with
 *    the app refused too is tcp_reset, not network_down. The probe's control
 *    must be a target a cut also takes away (example.org, abroad); a censor
 *    that blackholes the control as well as the app is read as a cut.
 *    Otherwise the agreement rule below decides.
 *  - a technique T AGREES when
 *      (a) a whole role shows it: every counting flow of one role (the
 *          app's services: whatsapp endpoint / registration / web, telegram
 *          dc / web, signal backend, ...; plain-HTTP checks are the role
 *          http_check and can only agree on http_blockpage) has outcome T; or
 *      (b) a strict majority of the app's counting flows has outcome T.
 *    The app's technique is the highest-precedence (table order) agreeing T;
 *    n = counting flows showing it (plus blockpage checks for http_blockpage).
 *  - failures that agree on nothing (say 2 of WhatsApp's 32 endpoint
 *    connects refused, or one reset and one timeout) name no technique: the
 *    app is DEGRADED and the evidence lists the failing flows with what each
 *    showed. Never BLOCKED on scattered failures.
 *  - verdict: a technique -> BLOCKED; else any counting flow failed ->
 *    DEGRADED; else OK.
 *  Single-flow roles (whatsapp registration, web) agree on their one flow:
 *  that service is then unreachable the same way OONI's own key says
 *  ("registration_server_status": "blocked").
 * OONI's own keys are computed elsewhere (probe) with OONI's semantics; this
 * table is keepon's addition and never changes them.
 */
#include <stdio.h>
#include <string.h>

#include "analysis/analysis.h"

static const char *const names[KP_TECH_COUNT] = {
  [KP_TECH_NONE] = "none",
  [KP_TECH_NETWORK_DOWN] = "network_down",
  [KP_TECH_DNS_NXDOMAIN] = "dns_nxdomain",
  [KP_TECH_DNS_INJECTED] = "dns_injected",
  [KP_TECH_DNS_FORGED] = "dns_forged",
  [KP_TECH_THROTTLED] = "throttled",
  [KP_TECH_HTTP_BLOCKPAGE] = "http_blockpage",
  [KP_TECH_TLS_MITM] = "tls_mitm",
  [KP_TECH_TLS_SNI_RESET] = "tls_sni_reset",
  [KP_TECH_TLS_SNI_DROP] = "tls_sni_drop",
  [KP_TECH_TCP_RESET] = "tcp_reset",
  [KP_TECH_IP_BLACKHOLE] = "ip_blackhole",
};

const char *kp_tech_name(kp_tech_t t) { return (unsigned)t < KP_TECH_COUNT ? names[t] : "none"; }

kp_status_t kp_tech_parse(const char *s, kp_tech_t *out) {
  for (int i = 0; i < KP_TECH_COUNT; i++)
    if (s && strcmp(s, names[i]) == 0) {
      *out = (kp_tech_t)i;
      return KP_OK;
    }
  return KP_ERR_NOTFOUND;
}

const char *kp_verdict_name(kp_verdict_t v) {
  return v == KP_VERDICT_BLOCKED ? "blocked" : v == KP_VERDICT_DEGRADED ? "degraded" : "ok";
}

bool kp_an_addr_expected(const kp_prefix_t *nets, size_t nnets, const kp_addr_t *a) {
  if (nnets == 0) return !kp_addr_is_bogon(a);
  for (size_t i = 0; i < nnets; i++)
    if (kp_prefix_contains(&nets[i], a)) return true;
  return false;
}

static bool is(const char *f, const char *s) { return f && strcmp(f, s) == 0; }

bool kp_an_flow_ok(const kp_an_flow_t *f) {
  if (f->resolved_name && f->dns_failure && f->sys_failure) return false;
  if (f->connect_tried && f->connect_failure) return false;
  if (f->tls_tried && f->tls_failure) return false;
  if (f->http_tried && f->http_failure) return false;
  if (f->connect_tried == false && f->resolved_name == false) return false; /* nothing ran */
  return true;
}

static double kbps(const kp_an_flow_t *f) {
  double s = f->seconds > 1e-6 ? f->seconds : 1e-6;
  return (double)f->bytes * 8.0 / 1000.0 / s;
}

kp_tech_t kp_an_flow_tech(const kp_an_flow_t *f, const kp_an_control_t *ctl) {
  bool http_blockpage = f->http_tried && (f->http_status == 451 || f->blockpage_match);
  if (f->blockpage_only) return http_blockpage ? KP_TECH_HTTP_BLOCKPAGE : KP_TECH_NONE;
  if (f->resolved_name) {
    bool nx = is(f->dns_failure, "dns_nxdomain_error") || is(f->sys_failure, "dns_nxdomain_error");
    if (nx && ctl->dns_ok) return KP_TECH_DNS_NXDOMAIN;
    if (f->dns_injected) return KP_TECH_DNS_INJECTED;
    bool failed_after = (f->connect_tried && f->connect_failure) || (f->tls_tried && f->tls_failure) ||
                        (f->http_tried && f->http_failure && !f->http_status) || http_blockpage;
    if (f->dns_unexpected && failed_after) return KP_TECH_DNS_FORGED;
  }
  if (f->download && f->http_tried && f->bytes > 0 && (f->cut || f->bytes >= 65536) && kbps(f) < f->min_kbps)
    return KP_TECH_THROTTLED;
  if (http_blockpage) return KP_TECH_HTTP_BLOCKPAGE;
  if (f->tls_tried && f->tls_failure) {
    if (is(f->tls_failure, "ssl_unknown_authority") || is(f->tls_failure, "ssl_invalid_hostname") ||
        is(f->tls_failure, "ssl_invalid_certificate"))
      return KP_TECH_TLS_MITM;
    if (is(f->tls_failure, "connection_reset") || is(f->tls_failure, "eof_error")) return KP_TECH_TLS_SNI_RESET;
    if (is(f->tls_failure, "generic_timeout_error")) return KP_TECH_TLS_SNI_DROP;
    return KP_TECH_NONE;
  }
  if (f->connect_tried && f->connect_failure) {
    if (is(f->connect_failure, "connection_refused") || is(f->connect_failure, "connection_reset"))
      return KP_TECH_TCP_RESET;
    if (is(f->connect_failure, "generic_timeout_error") || is(f->connect_failure, "host_unreachable") ||
        is(f->connect_failure, "network_unreachable"))
      return KP_TECH_IP_BLACKHOLE;
  }
  return KP_TECH_NONE;
}

static void describe(const kp_an_flow_t *f, kp_tech_t t, char *out, size_t cap) {
  const char *n = f->name ? f->name : "?";
  switch (t) {
  case KP_TECH_DNS_NXDOMAIN: snprintf(out, cap, "%s: NXDOMAIN while the control name resolves", n); break;
  case KP_TECH_DNS_INJECTED: snprintf(out, cap, "%s: first DNS answer unexpected, a later answer expected", n); break;
  case KP_TECH_DNS_FORGED:
    snprintf(out, cap, "%s: DNS answers outside the app's networks, then %s", n,
             f->connect_failure ? f->connect_failure : f->tls_failure ? f->tls_failure : "the flow failed");
    break;
  case KP_TECH_THROTTLED:
    snprintf(out, cap, "%s: %llu bytes in %.2f s = %.1f kbit/s < %.0f kbit/s", n, (unsigned long long)f->bytes,
             f->seconds, kbps(f), f->min_kbps);
    break;
  case KP_TECH_HTTP_BLOCKPAGE:
    snprintf(out, cap, "%s: HTTP %d%s", n, f->http_status, f->blockpage_match ? " with a blockpage body" : "");
    break;
  case KP_TECH_TLS_MITM: snprintf(out, cap, "%s: TLS completed, certificate: %s", n, f->tls_failure); break;
  case KP_TECH_TLS_SNI_RESET:
  case KP_TECH_TLS_SNI_DROP:
    snprintf(out, cap, "%s: TCP connected, TLS handshake %s", n, f->tls_failure);
    break;
  case KP_TECH_TCP_RESET:
  case KP_TECH_IP_BLACKHOLE: snprintf(out, cap, "%s: TCP connect %s, DNS fine", n, f->connect_failure); break;
  default: snprintf(out, cap, "%s", n); break;
  }
}

static const char *role_of(const kp_an_flow_t *f) {
  return f->blockpage_only ? "http_check" : f->role ? f->role : "";
}

/* What a failed flow showed, for the DEGRADED list. */
static const char *failure_of(const kp_an_flow_t *f) {
  return f->dns_failure && f->sys_failure ? f->dns_failure
         : f->connect_failure             ? f->connect_failure
         : f->tls_failure                 ? f->tls_failure
         : f->http_failure                ? f->http_failure
                                          : "failed";
}

/* Did the flow reach a host? Its TCP connect completed, or was refused/reset: either way an
 * answer came back over the network (a national cut drops, it does not answer). A DNS answer
 * alone does not count: the resolver may be inside the cut with a cache or its own uplink. */
static bool routed(const kp_an_flow_t *f) {
  return f->connect_tried &&
         (!f->connect_failure || is(f->connect_failure, "connection_refused") || is(f->connect_failure, "connection_reset"));
}

/* Does technique t agree over a whole role, or over a strict majority? (rule above) */
static bool agrees(const kp_an_flow_t *flows, const kp_tech_t *tech, size_t n, size_t n_counting, kp_tech_t t,
                   bool *by_role) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++)
    if (flows[i].counts && !flows[i].blockpage_only && tech[i] == t) count++;
  *by_role = false;
  if (count * 2 > n_counting) return true;
  for (size_t i = 0; i < n; i++) {
    if (tech[i] != t || (!flows[i].counts && !flows[i].blockpage_only)) continue;
    const char *role = role_of(&flows[i]);
    bool all = true;
    for (size_t k = 0; k < n && all; k++) {
      const kp_an_flow_t *g = &flows[k];
      if ((!g->counts && !g->blockpage_only) || strcmp(role_of(g), role) != 0) continue;
      if (tech[k] != t) all = false;
    }
    if (all) {
      *by_role = true;
      return true;
    }
  }
  return false;
}

kp_status_t kp_an_classify(const kp_an_flow_t *flows, size_t n, const kp_an_control_t *ctl, kp_an_result_t *out,
                           kp_tech_t *outcome) {
  memset(out, 0, sizeof *out);
  if (!ctl || (n && !flows)) return KP_ERR_INVAL;
  kp_tech_t stack_tech[128];
  kp_tech_t *tech = outcome ? outcome : n <= 128 ? stack_tech : NULL;
  if (n && !tech) return KP_ERR_INVAL;
  for (size_t i = 0; i < n; i++) {
    const kp_an_flow_t *f = &flows[i];
    tech[i] = kp_an_flow_tech(f, ctl);
    if (f->counts && !f->blockpage_only) {
      out->n_counting++;
      if (kp_an_flow_ok(f) && tech[i] == KP_TECH_NONE) out->n_ok++;
      else out->n_failed++;
    }
  }
  kp_tech_t best = KP_TECH_NONE;
  /* network_down (rule above): the control did not connect and no counting flow reached a host */
  size_t n_routed = 0;
  for (size_t i = 0; i < n; i++)
    if (flows[i].counts && !flows[i].blockpage_only && routed(&flows[i])) n_routed++;
  bool control_down = !ctl->reach_ok;
  if (control_down && n_routed == 0 && out->n_counting > 0) {
    best = KP_TECH_NETWORK_DOWN;
    for (size_t i = 0; i < n; i++) tech[i] = kp_an_flow_ok(&flows[i]) ? KP_TECH_NONE : KP_TECH_NETWORK_DOWN;
  } else {
    for (int t = KP_TECH_NETWORK_DOWN + 1; t < KP_TECH_COUNT && best == KP_TECH_NONE; t++)
      if (agrees(flows, tech, n, out->n_counting, (kp_tech_t)t, &out->by_role)) best = (kp_tech_t)t;
  }
  out->tech = best;
  out->reachable_fraction = out->n_counting ? (double)out->n_ok / (double)out->n_counting : 0.0;
  size_t best_i = n;
  for (size_t i = 0; i < n; i++) {
    if (!flows[i].counts && !(best == KP_TECH_HTTP_BLOCKPAGE && flows[i].blockpage_only)) continue;
    if (tech[i] == best && best != KP_TECH_NONE) {
      out->n_tech++;
      if (best_i == n) best_i = i;
    }
  }
  if (best == KP_TECH_NETWORK_DOWN) {
    snprintf(out->evidence, sizeof out->evidence, "control target did not connect and no app flow reached a host (%zu/%zu failed)",
             out->n_failed, out->n_counting);
  } else if (best != KP_TECH_NONE) {
    describe(&flows[best_i], best, out->evidence, sizeof out->evidence);
  } else if (out->n_failed) {
    /* no agreement: list the failing flows (as many as fit) with what each showed */
    size_t len = (size_t)snprintf(out->evidence, sizeof out->evidence, "%zu/%zu flows failed, no technique agrees:",
                                  out->n_failed, out->n_counting);
    size_t listed = 0;
    for (size_t i = 0; i < n && len < sizeof out->evidence; i++) {
      const kp_an_flow_t *f = &flows[i];
      if (!f->counts || f->blockpage_only || (kp_an_flow_ok(f) && tech[i] == KP_TECH_NONE)) continue;
      char item[320];
      int k = snprintf(item, sizeof item, "%s %s %s", listed ? ";" : "", f->name ? f->name : "?",
                       tech[i] != KP_TECH_NONE ? kp_tech_name(tech[i]) : failure_of(f));
      if (k < 0 || len + (size_t)k + 16 >= sizeof out->evidence) {
        snprintf(out->evidence + len, sizeof out->evidence - len, "; +%zu more", out->n_failed - listed);
        break;
      }
      memcpy(out->evidence + len, item, (size_t)k + 1);
      len += (size_t)k;
      listed++;
    }
  }
  out->verdict = best != KP_TECH_NONE ? KP_VERDICT_BLOCKED
                 : out->n_ok < out->n_counting ? KP_VERDICT_DEGRADED
                                               : KP_VERDICT_OK;
  return KP_OK;
}
