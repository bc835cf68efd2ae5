/*
 * test_im_keys.c: OONI's facebook_messenger keys (probe-cli fbmessenger.go,
 * ComputeEndpointStatus) from flow results, and the test table's wiring.
 */
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "kp_test.h"
#include "probe/probe.h"

static kp_target_t tg[8];

static kp_json_doc_t *keys(kp_im_app_result_t *r) {
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  kp_jw_t w;
  kp_jw_init(&w, &b);
  kp_jw_obj_begin(&w);
  kp_im_test_find("facebook_messenger")->write_keys(r, &w);
  kp_jw_obj_end(&w);
  KP_ASSERT_OK(w.st);
  kp_json_doc_t *d;
  KP_ASSERT_OK(kp_json_parse(b.data, b.len, NULL, &d, NULL));
  kp_buf_free(&b);
  return d;
}

static kp_im_app_result_t *fb(int asn_state) {
  static kp_im_app_result_t r;
  memset(&r, 0, sizeof r);
  const char *urls[] = {"dnslookup://stun.fbsbx.com", "tcpconnect://b-api.facebook.com:443",
                        "tcpconnect://edge-mqtt.facebook.com:443"};
  const char *svc[] = {"stun", "b_api", "edge"};
  for (int i = 0; i < 3; i++) {
    KP_ASSERT_OK(kp_target_url_parse(urls[i], &tg[i]));
    snprintf(tg[i].svc, sizeof tg[i].svc, "%s", svc[i]);
    r.flow[i].target = &tg[i];
    r.flow[i].asn_consistent = asn_state;
    r.flow[i].connect_ok = i > 0;
  }
  r.nflows = 3;
  return &r;
}

static kp_json_type_t ty(kp_json_doc_t *d, const char *k) {
  const kp_json_t *v = kp_json_get(kp_json_root(d), k);
  KP_ASSERT_MSG(v != NULL, "key %s missing", k);
  return kp_json_type(v);
}

KP_TEST(fbmessenger_keys_follow_ooni) {
  /* all answers in AS32934, connects fine */
  kp_json_doc_t *d = keys(fb(1));
  KP_ASSERT_EQ(ty(d, "facebook_b_api_dns_consistent"), KP_JSON_TRUE);
  KP_ASSERT_EQ(ty(d, "facebook_b_api_reachable"), KP_JSON_TRUE);
  KP_ASSERT_EQ(ty(d, "facebook_stun_dns_consistent"), KP_JSON_TRUE);
  KP_ASSERT_EQ(ty(d, "facebook_stun_reachable"), KP_JSON_NULL); /* a lookup: OONI ignores reachability */
  KP_ASSERT_EQ(ty(d, "facebook_dns_blocking"), KP_JSON_FALSE);
  KP_ASSERT_EQ(ty(d, "facebook_tcp_blocking"), KP_JSON_FALSE);
  KP_ASSERT_STREQ(kp_json_get_str(kp_json_root(d), "x_dns_consistency"), "asn");
  kp_json_doc_free(d);
  /* one answer outside AS32934: inconsistent, reachable null, dns_blocking */
  kp_im_app_result_t *r = fb(1);
  r->flow[2].asn_consistent = 0;
  d = keys(r);
  KP_ASSERT_EQ(ty(d, "facebook_edge_dns_consistent"), KP_JSON_FALSE);
  KP_ASSERT_EQ(ty(d, "facebook_edge_reachable"), KP_JSON_NULL);
  KP_ASSERT_EQ(ty(d, "facebook_dns_blocking"), KP_JSON_TRUE);
  KP_ASSERT_EQ(ty(d, "facebook_tcp_blocking"), KP_JSON_FALSE);
  kp_json_doc_free(d);
  /* a failed connect: reachable false, tcp_blocking */
  r = fb(1);
  r->flow[1].connect_ok = false;
  r->flow[1].failure = "connection_refused";
  r->flow[1].failed_operation = "connect";
  d = keys(r);
  KP_ASSERT_EQ(ty(d, "facebook_b_api_reachable"), KP_JSON_FALSE);
  KP_ASSERT_EQ(ty(d, "facebook_tcp_blocking"), KP_JSON_TRUE);
  kp_json_doc_free(d);
  /* a failed lookup: inconsistent whatever the database says */
  r = fb(-1);
  r->flow[1].failure = "dns_nxdomain_error";
  r->flow[1].failed_operation = "resolve";
  d = keys(r);
  KP_ASSERT_EQ(ty(d, "facebook_b_api_dns_consistent"), KP_JSON_FALSE);
  KP_ASSERT_EQ(ty(d, "facebook_dns_blocking"), KP_JSON_TRUE);
  /* no ASN database: consistency not judged (null) and said so; reachability still measured */
  KP_ASSERT_EQ(ty(d, "facebook_edge_dns_consistent"), KP_JSON_NULL);
  KP_ASSERT_EQ(ty(d, "facebook_edge_reachable"), KP_JSON_TRUE);
  KP_ASSERT(strncmp(kp_json_get_str(kp_json_root(d), "x_dns_consistency"), "skipped", 7) == 0);
  kp_json_doc_free(d);
  KP_ASSERT_EQ(kp_im_test_find("facebook_messenger")->dns_asn, 32934);
  KP_ASSERT_EQ(kp_im_test_find("whatsapp")->dns_asn, 0);
}

KP_TEST(default_targets_measure_facebook_as_ooni) {
  kp_targets_t *t = calloc(1, sizeof *t);
  size_t len;
  const char *def = kp_targets_default_json(&len);
  KP_ASSERT_OK(kp_targets_parse(def, len, t, NULL, 0));
  const kp_app_targets_t *a = kp_targets_app(t, "facebook_messenger");
  size_t tcp = 0, dns = 0;
  for (size_t i = 0; i < a->ntargets; i++) {
    KP_ASSERT(a->t[i].scheme == KP_SCHEME_TCP || a->t[i].scheme == KP_SCHEME_DNS); /* no TLS, as OONI */
    tcp += a->t[i].scheme == KP_SCHEME_TCP;
    dns += a->t[i].scheme == KP_SCHEME_DNS;
  }
  KP_ASSERT_EQ(tcp, 6);
  KP_ASSERT_EQ(dns, 1);
  free(t);
}
