/*
 * fastpath.c: per-test scoring, the same rules as OONI's fastpath core.py.
 *
 * Each score_<test>() fills a scores_t the way OONI's score_* fills its dict:
 * five blocking_<locality> numbers (general, global, country, isp, local),
 * accuracy (absent = 1.0), confirmed, blocking_type. kp_fastpath_score()
 * then applies OONI's process_measurement(): discard rules (no report_id,
 * CC ZZ, AS0), the receive-time sanity rule, and the three thresholds.
 *
 * Python's g_or(d, k, default) ("value unless missing or null") is gor();
 * tests OONI does not know are failures ("Unsupported test name").
 * Not reproduced: http_header_field_manipulation, http_invalid_request_line,
 * meek_fronted_requests_test, http_requests (legacy tests: scored as failure).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "fastpath/fp_internal.h"
#include "msmt/msmt.h"

typedef struct scores {
  double general, global, country, isp, local;
  double accuracy;
  bool confirmed;
  const char *blocking_type;
  const char *fp_name;
} scores_t;

static const kp_json_t *gor(const kp_json_t *o, const char *k) {
  const kp_json_t *v = kp_json_get(o, k);
  return kp_json_type(v) == KP_JSON_NULL ? NULL : v;
}
static bool is_null_or_missing(const kp_json_t *o, const char *k) { return gor(o, k) == NULL; }
static bool streq(const kp_json_t *v, const char *s) {
  return kp_json_is(v, KP_JSON_STRING) && strcmp(kp_json_str(v), s) == 0;
}
/* Python truthiness of a JSON value (missing counts as @p missing) */
static bool truthy(const kp_json_t *v, bool missing) {
  if (!v) return missing;
  switch (kp_json_type(v)) {
  case KP_JSON_NULL: case KP_JSON_FALSE: return false;
  case KP_JSON_TRUE: return true;
  case KP_JSON_NUMBER: return kp_json_num(v) != 0;
  case KP_JSON_STRING: return kp_json_strlen(v) > 0;
  default: return kp_json_len(v) > 0;
  }
}

/* any *_failure key of test_keys starting with "unknown_failure" */
static bool unknown_failure(const kp_json_t *tk) {
  for (size_t i = 0; i < kp_json_len(tk) && kp_json_is(tk, KP_JSON_OBJECT); i++) {
    const char *k = kp_json_key_at(tk, i);
    size_t kl = strlen(k);
    if (kl < 8 || strcmp(k + kl - 8, "_failure") != 0) continue;
    const char *v = kp_json_str(kp_json_at(tk, i));
    if (v && strncmp(v, "unknown_failure", 15) == 0) return true;
  }
  return false;
}

static void tcp_counts(const kp_json_t *tk, int *ok, int *bad) {
  *ok = *bad = 0;
  const kp_json_t *tc = gor(tk, "tcp_connect");
  for (size_t i = 0; kp_json_is(tc, KP_JSON_ARRAY) && i < kp_json_len(tc); i++) {
    const kp_json_t *s = gor(gor(kp_json_at(tc, i), "status"), "success");
    if (kp_json_type(s) == KP_JSON_TRUE) (*ok)++;
    else if (kp_json_type(s) == KP_JSON_FALSE) (*bad)++;
  }
}

static void score_web_connectivity(const kp_json_t *msm, const kp_fp_db_t *db, scores_t *s) {
  const kp_json_t *tk = gor(msm, "test_keys");
  if (!tk) {
    s->accuracy = 0;
    return;
  }
  kp_fp_match_t m;
  bool b64ok = kp_fp_match(db, tk, &m);
  char cc[8] = "ZZ";
  kp_msmt_meta_t mm;
  kp_msmt_meta(msm, &mm);
  const char *pcc = mm.probe_cc;
  if (pcc) {
    snprintf(cc, sizeof cc, "%s", pcc);
    for (char *p = cc; *p; p++)
      if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 32);
  }
  for (size_t i = 0; i < m.n; i++) {
    const kp_fp_t *f = m.fp[i];
    if (!kp_fp_confirms(f, cc)) continue;
    if (strcmp(f->scope, "inst") == 0) s->local = 1.0;
    else if (strcmp(f->scope, "isp") == 0) s->isp = 1.0;
    else if (strcmp(f->scope, "nat") == 0) s->country = 1.0;
    else s->general = 1.0;
    s->confirmed = true;
    if (!s->fp_name) s->fp_name = f->name;
  }
  const kp_json_t *tm = kp_json_get(tk, "title_match");
  if (tm && kp_json_type(tm) != KP_JSON_TRUE && kp_json_type(tm) != KP_JSON_FALSE &&
      kp_json_type(tm) != KP_JSON_NULL) {
    s->accuracy = 0;
    goto done;
  }
  const kp_json_t *blk = gor(tk, "blocking");
  static const char *types[] = {"tcp_ip", "dns", "http-diff", "http-failure"};
  bool handled = false;
  for (size_t i = 0; i < 4 && kp_json_is(blk, KP_JSON_STRING); i++)
    if (strcmp(kp_json_str(blk), types[i]) == 0) {
      s->general = 1.0;
      s->blocking_type = types[i];
      handled = true;
    }
  if (!handled) {
    if (kp_json_type(blk) == KP_JSON_FALSE || (kp_json_is(blk, KP_JSON_NUMBER) && kp_json_num(blk) == 0)) {
      /* ok */
    } else if (!blk) {
      if (m.n == 0) s->accuracy = 0; /* backend#610: broken unless a fingerprint matched */
    } else {
      s->accuracy = 0; /* unexpected value for blocking */
    }
  }
  if (unknown_failure(tk)) s->accuracy = 0;
  s->general += s->country + s->global + s->isp + s->local;
  {
    const kp_json_t *acc = kp_json_get(tk, "accessible");
    if (acc && kp_json_type(acc) == KP_JSON_NULL && m.n == 0) s->accuracy = 0;
  }
done:
  if (!b64ok) s->accuracy = 0; /* binascii.Error: scored without matches, then failure */
}

static void score_telegram(const kp_json_t *msm, scores_t *s) {
  const kp_json_t *tk = gor(msm, "test_keys");
  const kp_json_t *ws = kp_json_get(tk, "telegram_web_status");
  bool web_blocking = streq(ws, "blocked");
  int ok, bad;
  tcp_counts(tk, &ok, &bad);
  int hs = 0, hf = 0;
  const kp_json_t *reqs = gor(tk, "requests");
  for (size_t i = 0; kp_json_is(reqs, KP_JSON_ARRAY) && i < kp_json_len(reqs); i++) {
    const kp_json_t *r = kp_json_at(reqs, i);
    const kp_json_t *url = kp_json_get(kp_json_get(r, "request"), "url");
    const kp_json_t *fail = kp_json_get(r, "failure");
    if (!url || !fail) { /* client bug (OONI: KeyError) */
      memset(s, 0, sizeof *s);
      s->accuracy = 0;
      return;
    }
    if (streq(url, "https://web.telegram.org/") || streq(url, "http://web.telegram.org/")) continue;
    if (kp_json_type(fail) == KP_JSON_NULL) hs++;
    else hf++;
  }
  double v = ok + bad > 0 ? (double)bad / (ok + bad) : 0.5;
  v += hs + hf > 0 ? (double)hf / (hs + hf) : 0.5;
  if (web_blocking) v += 1;
  s->general = v;
}

static void score_whatsapp(const kp_json_t *msm, scores_t *s) {
  const kp_json_t *tk = gor(msm, "test_keys");
  if (unknown_failure(tk)) s->accuracy = 0;
  const char *wf = kp_json_str(kp_json_get(tk, "whatsapp_web_failure"));
  if (wf && strstr(wf, "unknown_failure 'ascii' co")) {
    s->accuracy = 0;
    return;
  }
  const kp_json_t *reqs = kp_json_get(tk, "requests");
  if (!truthy(reqs, false) || !kp_json_is(reqs, KP_JSON_ARRAY)) {
    s->accuracy = 0;
    return;
  }
  int web = -1, reg = -1; /* -1 unknown, 0 no, 1 yes */
  for (size_t i = 0; i < kp_json_len(reqs); i++) {
    const kp_json_t *b = kp_json_at(reqs, i);
    const kp_json_t *url = kp_json_get(kp_json_get(b, "request"), "url");
    const kp_json_t *f = kp_json_get(b, "failure");
    if (streq(url, "https://web.whatsapp.com/"))
      web = f && (kp_json_type(f) == KP_JSON_NULL || kp_json_type(f) == KP_JSON_FALSE ||
                  (kp_json_is(f, KP_JSON_STRING) && kp_json_strlen(f) == 0));
    else if (streq(url, "https://v.whatsapp.net/v2/register"))
      reg = !f || kp_json_type(f) == KP_JSON_NULL;
  }
  if (web < 0 || reg < 0) {
    s->accuracy = 0;
    return;
  }
  if (!web || !reg) {
    s->general = 1.0;
    return;
  }
  int ok, bad;
  tcp_counts(tk, &ok, &bad);
  if (!ok && !bad) s->accuracy = 0;
  else if (ok == 0) s->general = 1.0;
}

/* "a.b.c[suffix]" -> comparable key; a suffix makes it a pre-release (sorts before). -1 = bad */
static double version_key(const char *v) {
  if (!v) return -1;
  long part[3] = {0, 0, 0};
  const char *p = v;
  int i = 0;
  for (; i < 3; i++) {
    if (*p < '0' || *p > '9') break;
    char *end;
    part[i] = strtol(p, &end, 10);
    p = end;
    if (*p != '.') {
      i++;
      break;
    }
    p++;
  }
  if (i == 0) return -1;
  double k = (double)part[0] * 1e12 + (double)part[1] * 1e6 + (double)part[2];
  return *p ? k - 0.5 : k;
}

static void score_signal(const kp_json_t *msm, scores_t *s) {
  const kp_json_t *tk = gor(msm, "test_keys");
  if (truthy(kp_json_get(tk, "failed_operation"), true) || truthy(kp_json_get(tk, "failure"), true))
    s->accuracy = 0;
  const kp_json_t *tvn = gor(msm, "test_version");
  const char *tv = tvn ? kp_json_str(tvn) : "0.0.0";
  const char *mst = kp_json_str(kp_json_get(msm, "measurement_start_time"));
  time_t start;
  if (!mst || strlen(mst) != 19 || kp_time_parse(mst, &start) != 0) {
    s->accuracy = 0;
    return;
  }
  double k = version_key(tv);
  const char *ev = kp_json_str(gor(gor(msm, "annotations"), "engine_version"));
  double ek = version_key(ev ? ev : "0.0.0");
  if (k < 0 || ek < 0) {
    s->accuracy = 0;
    return;
  }
  if (strcmp(tv, "0.2.4") == 0) { /* probe#2636 */
    s->accuracy = 0;
    return;
  }
  if (k <= version_key("0.2.3") && start >= 1699315200 /* 2023-11-07 */) { /* probe#2627 */
    s->accuracy = 0;
    return;
  }
  if (k < version_key("0.2.2") && start >= 1666137600 /* 2022-10-19 */) {
    s->accuracy = 0;
    return;
  }
  if (ek < version_key("3.17.2") && start >= 1682985600 /* 2023-05-02 */) { /* backend#679 */
    s->accuracy = 0;
    return;
  }
  const kp_json_t *st = kp_json_get(tk, "signal_backend_status");
  if (streq(st, "ok")) return;
  if (streq(st, "blocked")) s->general = 1.0;
  else s->accuracy = 0;
}

static void score_fbmessenger(const kp_json_t *msm, scores_t *s) {
  const kp_json_t *tk = gor(msm, "test_keys");
  static const char *cons[] = {
    "facebook_b_api_dns_consistent", "facebook_b_api_reachable", "facebook_b_graph_dns_consistent",
    "facebook_b_graph_reachable", "facebook_edge_dns_consistent", "facebook_edge_reachable",
    "facebook_external_cdn_dns_consistent", "facebook_external_cdn_reachable",
    "facebook_scontent_cdn_dns_consistent", "facebook_scontent_cdn_reachable",
    "facebook_star_dns_consistent", "facebook_star_reachable", "facebook_stun_dns_consistent"};
  static const char *trues[] = {
    "facebook_b_api_dns_consistent", "facebook_b_api_reachable", "facebook_b_graph_dns_consistent",
    "facebook_b_graph_reachable", "facebook_dns_blocking", "facebook_edge_dns_consistent",
    "facebook_edge_reachable", "facebook_star_dns_consistent", "facebook_star_reachable",
    "facebook_stun_dns_consistent"};
  bool all_true = true;
  for (size_t i = 0; i < sizeof trues / sizeof *trues; i++)
    if (kp_json_type(kp_json_get(tk, trues[i])) != KP_JSON_TRUE || !kp_json_get(tk, trues[i])) all_true = false;
  const kp_json_t *tcpb = kp_json_get(tk, "facebook_tcp_blocking");
  if (all_true && tcpb && kp_json_type(tcpb) == KP_JSON_FALSE) return; /* OONI's dns_blocking workaround */
  double v = 0;
  for (size_t i = 0; i < sizeof cons / sizeof *cons; i++) {
    const kp_json_t *x = kp_json_get(tk, cons[i]);
    if (x && kp_json_type(x) == KP_JSON_FALSE) v += 0.5;
  }
  static const char *anom[] = {"facebook_tcp_blocking", "facebook_dns_blocking"};
  for (size_t i = 0; i < 2; i++) {
    const kp_json_t *x = kp_json_get(tk, anom[i]);
    if (x && kp_json_type(x) == KP_JSON_TRUE) v += 0.5;
  }
  s->general = v;
}

static void score_tor(const kp_json_t *msm, scores_t *s) {
  const kp_json_t *t = kp_json_get(gor(msm, "test_keys"), "targets");
  if (!truthy(t, false) || !kp_json_is(t, KP_JSON_OBJECT)) { /* missing, or an early list */
    s->accuracy = 0;
    return;
  }
  int blocked = 0, okc = 0;
  for (size_t i = 0; i < kp_json_len(t); i++) {
    const kp_json_t *d = kp_json_at(t, i);
    const kp_json_t *f = kp_json_get(d, "failure");
    if (!f || !kp_json_get(d, "network_events")) {
      s->accuracy = 0;
      return;
    }
    if (kp_json_type(f) == KP_JSON_FALSE) continue; /* did not run */
    if (kp_json_type(f) == KP_JSON_NULL) okc++;
    else blocked++;
  }
  if (blocked + okc) s->general = (double)blocked / (blocked + okc);
  else s->accuracy = 0;
}

static void score_vanilla_tor(const kp_json_t *msm, scores_t *s) {
  const kp_json_t *tk = gor(msm, "test_keys");
  const kp_json_t *logs = gor(tk, "tor_logs");
  if (!truthy(logs, false)) logs = gor(tk, "tor_log");
  if (!logs) {
    s->accuracy = 0;
    return;
  }
  const char *l = kp_json_str(logs);
  if (l && (strstr(l, "Bootstrapped 100%: Done") || strstr(l, "Bootstrapped 100% (done): Done"))) return;
  double prog = kp_json_num(kp_json_get(tk, "tor_progress"));
  prog = fmin(100, fmax(0, prog));
  if (prog == 100) return;
  s->general = 1.0 - prog * 0.004;
}

static void score_simple_failure(const kp_json_t *msm, const char *test, scores_t *s) {
  const kp_json_t *tk = gor(msm, "test_keys");
  const kp_json_t *f = kp_json_get(tk, "failure");
  if (strcmp(test, "psiphon") == 0) {
    if (!f || kp_json_type(f) == KP_JSON_NULL) {
      const kp_json_t *bt = kp_json_get(tk, "bootstrap_time");
      if (!bt || kp_json_num(bt) == 0) s->accuracy = 0;
    } else {
      s->general = 1.0;
    }
    if (!kp_json_get(msm, "resolver_ip")) s->accuracy = 0;
    return;
  }
  if (strcmp(test, "torsf") == 0) {
    const char *sn = kp_json_str(kp_json_get(msm, "software_name"));
    const char *sv = kp_json_str(kp_json_get(msm, "software_version"));
    if (sv && sn && strcmp(sv, "3.8.3") == 0 && strncmp(sn, "ooniprobe-android", 17) == 0) {
      s->accuracy = 0;
      return;
    }
  }
  if (truthy(f, false)) s->general = 1.0; /* stunreachability, torsf */
}

static void score_other(const kp_json_t *msm, const char *tn, scores_t *s) {
  const kp_json_t *tk = gor(msm, "test_keys");
  if (strcmp(tn, "openvpn") == 0) {
    const kp_json_t *ok = gor(tk, "success");
    if (kp_json_type(ok) == KP_JSON_FALSE) s->general = 1.0;
    else if (!ok) s->accuracy = 0;
  } else if (strcmp(tn, "browser_web") == 0) {
    const kp_json_t *r = gor(tk, "result");
    if (streq(r, "error")) s->general = 1.0;
    else if (!streq(r, "ok")) s->accuracy = 0;
  } else if (strcmp(tn, "tcp_connect") == 0) {
    const kp_json_t *c = kp_json_get(tk, "connection");
    if (streq(c, "success")) return;
    s->general = (streq(c, "generic_timeout_error") || streq(c, "connection_refused_error") ||
                  streq(c, "connect_error") || streq(c, "tcp_timed_out_error")) ? 0.8 : 1.0;
  } else if (strcmp(tn, "dash") == 0) {
    if (!tk || kp_json_len(tk) == 0) {
      s->accuracy = 0;
      return;
    }
    const kp_json_t *f = kp_json_get(tk, "failure");
    if (!f || kp_json_type(f) == KP_JSON_NULL) return;
    static const char *soft[] = {"connection_aborted", "json_parse_error", "eof_error",
                                 "json_processing_error", "http_request_failed", "connect_error",
                                 "generic_timeout_error", "broken_pipe", "connection_refused"};
    const char *fs = kp_json_str(f);
    bool known = fs && strstr(fs, "ssl_error");
    for (size_t i = 0; fs && i < sizeof soft / sizeof *soft; i++)
      if (strcmp(fs, soft[i]) == 0) known = true;
    if (known) s->general = 0.1;
    s->accuracy = 0;
  }
  /* dns_consistency, ndt, riseupvpn: OONI returns neutral scores */
}

void kp_fastpath_score(const kp_json_t *msm, const kp_fp_db_t *db, time_t recv_time,
                       kp_fastpath_flags_t *out) {
  memset(out, 0, sizeof *out);
  scores_t s = {.accuracy = 1.0};
  kp_msmt_meta_t mm;
  kp_msmt_meta(msm, &mm);
  const char *cc = mm.probe_cc, *asn = mm.probe_asn;
  if (is_null_or_missing(msm, "report_id") || (cc && strcasecmp(cc, "ZZ") == 0) ||
      (asn && strcasecmp(asn, "AS0") == 0))
    out->discard = true;
  const char *tn = mm.test_name;
  if (!tn) s.accuracy = 0;
  else if (strcmp(tn, "web_connectivity") == 0) score_web_connectivity(msm, db, &s);
  else if (strcmp(tn, "telegram") == 0) score_telegram(msm, &s);
  else if (strcmp(tn, "whatsapp") == 0) score_whatsapp(msm, &s);
  else if (strcmp(tn, "signal") == 0) score_signal(msm, &s);
  else if (strcmp(tn, "facebook_messenger") == 0) score_fbmessenger(msm, &s);
  else if (strcmp(tn, "tor") == 0) score_tor(msm, &s);
  else if (strcmp(tn, "vanilla_tor") == 0) score_vanilla_tor(msm, &s);
  else if (strcmp(tn, "psiphon") == 0 || strcmp(tn, "stunreachability") == 0 || strcmp(tn, "torsf") == 0)
    score_simple_failure(msm, tn, &s);
  else if (strcmp(tn, "openvpn") == 0 || strcmp(tn, "browser_web") == 0 || strcmp(tn, "tcp_connect") == 0 ||
           strcmp(tn, "dash") == 0 || strcmp(tn, "dns_consistency") == 0 || strcmp(tn, "ndt") == 0 ||
           strcmp(tn, "riseupvpn") == 0)
    score_other(msm, tn, &s);
  else s.accuracy = 0; /* unsupported test name */

  if (recv_time > 0) { /* flag_measurements_with_wrong_date */
    const char *mst = kp_json_str(kp_json_get(msm, "measurement_start_time"));
    time_t start;
    if (mst && strlen(mst) == 19 && kp_time_parse(mst, &start) == 0) {
      double delta = difftime(recv_time, start);
      if (delta < -3600 || delta > 31536000) s.accuracy = 0;
    }
  }
  out->blocking_general = s.general;
  out->accuracy = s.accuracy;
  out->anomaly = s.general > 0.5;
  out->failure = s.accuracy < 0.5;
  out->confirmed = s.confirmed;
  if (s.blocking_type) snprintf(out->blocking_type, sizeof out->blocking_type, "%s", s.blocking_type);
  if (s.fp_name) snprintf(out->fingerprint, sizeof out->fingerprint, "%s", s.fp_name);
}
