/*
 * verdict.c: Satellite's and Hyperquack's decisions, pure (no I/O).
 *
 * DNS (one resolver, one name, against the union of the control resolvers):
 *   control failed (no address, not NXDOMAIN everywhere)  -> no_verdict control-failure
 *   control NXDOMAIN everywhere                           -> no_verdict control-nxdomain
 *   resolver unreachable (ICMP port / host / network      -> no_verdict resolver-unreachable
 *        unreachable: nothing answers on its port 53, so nothing was said about the name;
 *        Satellite's connect_error, not an anomaly)
 *   first answer timed out                                -> blocked dns-timeout
 *   NXDOMAIN                                              -> blocked dns-nxdomain
 *   SERVFAIL / REFUSED / no answer                        -> blocked dns-servfail
 *   first answer matches (address, else ASN, else cert)   -> ok, unless a later answer to the
 *        same query differs and does not match            -> blocked dns-injected
 *   first answer matches nothing, a later one does        -> blocked dns-injected (the forged
 *        answer won the race, the real one came after)
 *   first answer matches nothing, but nothing beyond the  -> no_verdict untagged
 *        address could be compared: no answer address has an ASN (or the control has none)
 *        and none went through the cert step (--no-cert-check, or refused by the policy).
 *        Satellite's conservative rule (no tags on the answer or the control: no anomaly);
 *        a CDN's other address would otherwise read as forged.
 *   first answer matches nothing                          -> blocked dns-forged
 * A non-public answer never matches (outside the lab: the lab's own addresses are 198.18/15).
 * HTTP: see remote.h (every test try must fail the same way; one control success needed).
 */
#include <math.h>
#include <string.h>

#include "net/net.h"
#include "remote/remote.h"

static const kp_rmt_verdict_t NV_CTL = {"no_verdict", NULL, "control-failure"};

bool kp_rmt_dns_matches(const kp_rmt_control_t *ctl, const kp_addr_t *a, uint32_t asn, bool lab) {
  if (!lab && !kp_addr_is_public(a)) return false;
  for (size_t i = 0; i < ctl->n; i++)
    if (kp_addr_eq(&ctl->a[i], a)) return true;
  if (asn)
    for (size_t i = 0; i < ctl->nasn; i++)
      if (ctl->asn[i] == asn) return true;
  return false;
}

/* How the first answer compares: 2 address/ASN, 1 certificate, 0 nothing. */
static int first_match(const kp_rmt_answer_t *ans, const kp_rmt_control_t *ctl, bool lab, const char **why) {
  for (size_t i = 0; i < ans->n; i++)
    if (kp_rmt_dns_matches(ctl, &ans->a[i], ans->asn[i], lab)) {
      bool byaddr = false;
      for (size_t j = 0; j < ctl->n; j++) byaddr |= kp_addr_eq(&ctl->a[j], &ans->a[i]);
      *why = byaddr ? "address" : "asn";
      return 2;
    }
  for (size_t i = 0; i < ans->n; i++)
    if (ans->cert[i] == 1 && (lab || kp_addr_is_public(&ans->a[i]))) {
      *why = "cert";
      return 1;
    }
  *why = "no-match";
  return 0;
}

/* Only the address could be compared: a first answer with no usable ASN (its own, or the
 * control's) and no certificate result. A non-public address is never untagged: it is forged
 * on its face (CP's ip.invalid). */
static bool untagged(const kp_rmt_answer_t *ans, const kp_rmt_control_t *ctl, bool lab) {
  bool asn = false;
  for (size_t i = 0; i < ans->n; i++) {
    if (!lab && !kp_addr_is_public(&ans->a[i])) return false;
    if (ans->cert[i] != -1) return false;
    asn |= ans->asn[i] != 0;
  }
  return ans->n > 0 && (!asn || ctl->nasn == 0);
}

kp_rmt_verdict_t kp_rmt_dns_verdict(const kp_rmt_answer_t *ans, const kp_rmt_control_t *ctl, bool lab) {
  kp_rmt_verdict_t v = {"blocked", NULL, NULL};
  if (ctl->n == 0) {
    if (ctl->nxdomain) return (kp_rmt_verdict_t){"no_verdict", NULL, "control-nxdomain"};
    return NV_CTL;
  }
  if (ans->failure) {
    if (!strcmp(ans->failure, KP_FAIL_REFUSED) || !strcmp(ans->failure, KP_FAIL_HOST_UNREACH) ||
        !strcmp(ans->failure, KP_FAIL_NET_UNREACH))
      return (kp_rmt_verdict_t){"no_verdict", NULL, "resolver-unreachable"};
    if (!strcmp(ans->failure, KP_FAIL_TIMEOUT)) v.technique = KP_RMT_DNS_TIMEOUT, v.reason = "timeout";
    else if (!strcmp(ans->failure, KP_FAIL_NXDOMAIN)) v.technique = KP_RMT_DNS_NXDOMAIN, v.reason = "nxdomain";
    else v.technique = KP_RMT_DNS_SERVFAIL, v.reason = ans->failure;
    return v;
  }
  const char *why;
  int m = first_match(ans, ctl, lab, &why);
  bool late_diff = false, late_match = false;
  for (size_t i = 0; i < ans->nlate; i++) {
    bool same = false;
    for (size_t j = 0; j < ans->n; j++) same |= kp_addr_eq(&ans->late[i], &ans->a[j]);
    if (same) continue; /* a plain duplicate */
    late_diff = true;
    late_match |= kp_rmt_dns_matches(ctl, &ans->late[i], ans->late_asn[i], lab);
  }
  if (m > 0) {
    if (late_diff && !late_match) return (kp_rmt_verdict_t){"blocked", KP_RMT_DNS_INJECTED, "late-differs"};
    return (kp_rmt_verdict_t){"ok", NULL, why};
  }
  if (late_match) return (kp_rmt_verdict_t){"blocked", KP_RMT_DNS_INJECTED, "raced"};
  if (untagged(ans, ctl, lab)) return (kp_rmt_verdict_t){"no_verdict", NULL, "untagged"};
  return (kp_rmt_verdict_t){"blocked", KP_RMT_DNS_FORGED, why};
}

/* Does a try look like the control's successful try @p c? */
static bool like(kp_rmt_proto_t proto, const kp_rmt_try_t *t, const kp_rmt_try_t *c) {
  if (t->out != KP_RMT_O_OK) return false;
  switch (proto) {
  case KP_RMT_P_ECHO: return t->echo_exact;
  case KP_RMT_P_HTTPS:
    if (c->cert_ok && !t->cert_ok) return false;
    /* fallthrough */
  case KP_RMT_P_HTTP: {
    if (t->status != c->status) return false;
    double a = (double)t->body_len, b = (double)c->body_len;
    double big = a > b ? a : b;
    return big == 0 || fabs(a - b) / big <= KP_RMT_BODY_TOLERANCE;
  }
  }
  return false;
}

kp_rmt_verdict_t kp_rmt_http_verdict(kp_rmt_proto_t proto, const kp_rmt_try_t *tries, size_t n,
                                     const kp_rmt_try_t *ctl, size_t nc) {
  const kp_rmt_try_t *good = NULL;
  for (size_t i = 0; i < nc && !good; i++)
    if (ctl[i].out == KP_RMT_O_OK && (proto != KP_RMT_P_ECHO || ctl[i].echo_exact)) good = &ctl[i];
  if (!good || n == 0) return NV_CTL;
  size_t reset = 0, timeout = 0, differ = 0;
  for (size_t i = 0; i < n; i++) {
    if (like(proto, &tries[i], good)) return (kp_rmt_verdict_t){"ok", NULL, "like-control"};
    if (tries[i].out == KP_RMT_O_RESET) reset++;
    else if (tries[i].out == KP_RMT_O_TIMEOUT) timeout++;
    else if (tries[i].out == KP_RMT_O_OK) differ++;
  }
  static const char *const tech[3][3] = {
      {KP_RMT_ECHO_RESET, KP_RMT_ECHO_TIMEOUT, KP_RMT_ECHO_ALTERED},
      {KP_RMT_HTTP_RESET, KP_RMT_HTTP_TIMEOUT, KP_RMT_HTTP_BLOCKPAGE},
      {KP_RMT_TLS_RESET, KP_RMT_TLS_TIMEOUT, KP_RMT_TLS_BLOCKPAGE},
  };
  int k = reset == n ? 0 : timeout == n ? 1 : differ == n ? 2 : -1;
  if (k < 0) /* failed, but not one way (or refused / eof): noise, not a named technique */
    return (kp_rmt_verdict_t){"no_verdict", NULL, "inconsistent"};
  return (kp_rmt_verdict_t){"blocked", tech[proto][k], k == 0 ? "reset" : k == 1 ? "timeout" : "differs"};
}
