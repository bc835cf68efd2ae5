/*
 * test_fastpath_unit.c: every scoring case of OONI's fastpath unit tests
 * (ooni/backend fastpath/fastpath/tests/test_unit.py, read at HEAD of the
 * mirror) for the tests keepon scores, ported as C cases. OONI's fixtures
 * are not shipped: each case is rebuilt as the smallest measurement that
 * carries what the fixture's verdict depends on (the keys printed in the
 * comment), and asserts OONI's expected flags (anomaly = blocking_general >
 * 0.5, failure = accuracy < 0.5, confirmed). Cases for tests keepon does not
 * score (http_header_field_manipulation, meek_fronted_requests_test,
 * http_requests, http_invalid_request_line, YAML normalisation, s3feeder)
 * are out of scope: keepon marks those test names failure (unsupported).
 */
#include <string.h>

#include "base/json.h"
#include "fastpath/fastpath.h"
#include "kp_test.h"

static kp_fp_db_t *db(void) {
  static kp_fp_db_t *d;
  if (!d) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/data/fingerprints", kp_test_src());
    KP_ASSERT_OK(kp_fp_db_load_dir(dir, &d));
  }
  return d;
}

static kp_fastpath_flags_t score(const char *json) {
  kp_json_doc_t *doc = NULL;
  KP_ASSERT_MSG(kp_json_parse(json, strlen(json), NULL, &doc, NULL) == KP_OK, "bad JSON: %s", json);
  kp_fastpath_flags_t f;
  kp_fastpath_score(kp_json_root(doc), db(), 0, &f);
  kp_json_doc_free(doc);
  return f;
}

#define ENV(test, cc) "{\"report_id\":\"r\",\"probe_cc\":\"" cc "\",\"probe_asn\":\"AS1\",\"test_name\":\"" test "\","
#define EXPECT(f, anom, fail, conf, general)                                                                  \
  do {                                                                                                         \
    KP_ASSERT_EQ((f).anomaly, anom);                                                                           \
    KP_ASSERT_EQ((f).failure, fail);                                                                           \
    KP_ASSERT_EQ((f).confirmed, conf);                                                                         \
    KP_ASSERT_NEAR((f).blocking_general, general, 1e-9);                                                       \
  } while (0)

/* test_score_web_connectivity_dns_ir_fingerprint / test_bug_backend352: IR, blocking dns, an answer
 * 10.10.34.36 (ooni.ir_10dot10_ipv4_1, scope nat) -> country 1.0 + general 1.0 = 2.0, confirmed */
KP_TEST(unit_wc_dns_ir_fingerprint) {
  kp_fastpath_flags_t f = score(ENV("web_connectivity", "IR") "\"test_keys\":{\"blocking\":\"dns\",\"accessible\":false,"
                                "\"http_experiment_failure\":\"connect_error\","
                                "\"queries\":[{\"answers\":[{\"ipv4\":\"10.10.34.36\"}]}],"
                                "\"requests\":[{\"failure\":\"connect_error\",\"response\":null}]}}");
  EXPECT(f, 1, 0, 1, 2.0);
  KP_ASSERT_STREQ(f.blocking_type, "dns");
  KP_ASSERT_STREQ(f.fingerprint, "ooni.ir_10dot10_ipv4_1");
}

/* test_score_measurement_simple / test_bug_various_keys_missing / test_bug_test_keys_None:
 * web_connectivity with empty test_keys -> accuracy 0, general 0 */
KP_TEST(unit_wc_empty_test_keys) {
  EXPECT(score(ENV("web_connectivity", "IE") "\"test_keys\":{}}"), 0, 1, 0, 0.0);
  EXPECT(score(ENV("web_connectivity", "US") "\"test_keys\":null}"), 0, 1, 0, 0.0);
}

/* test_score_measurement_confirmed: IT, blocking false, body "GdF Stop Page" -> country 1.0, confirmed */
KP_TEST(unit_wc_confirmed_body) {
  kp_fastpath_flags_t f = score(ENV("web_connectivity", "IT") "\"test_keys\":{\"blocking\":false,\"accessible\":true,"
                                "\"requests\":[{\"response\":{\"body\":\"GdF Stop Page\"}}]}}");
  EXPECT(f, 1, 0, 1, 1.0);
  KP_ASSERT_STREQ(f.blocking_type, "");
}

/* test_is_confirmed: a fingerprint confirms for its expected country (never ZZ), and one of scope
 * isp/nat confirms whatever the countries. OONI builds the fingerprints in the test; so does this. */
static bool confirmed_with(const char *scope, const char *countries, const char *cc) {
  char dns[512], m[512];
  snprintf(dns, sizeof dns,
           "[{\"confidence_no_fp\":5,\"expected_countries\":\"%s\",\"location_found\":\"dns\",\"name\":\"t_1\","
           "\"other_names\":\"\",\"pattern\":\"192.0.2.7\",\"pattern_type\":\"full\",\"scope\":\"%s\"}]",
           countries, scope);
  kp_fp_db_t *d = NULL;
  KP_ASSERT_OK(kp_fp_db_parse(dns, strlen(dns), "[]", 2, &d));
  snprintf(m, sizeof m, ENV("web_connectivity", "%s") "\"test_keys\":{\"blocking\":\"dns\",\"accessible\":false,"
           "\"queries\":[{\"answers\":[{\"ipv4\":\"192.0.2.7\"}]}]}}", cc);
  kp_json_doc_t *doc = NULL;
  KP_ASSERT_OK(kp_json_parse(m, strlen(m), NULL, &doc, NULL));
  kp_fastpath_flags_t f;
  kp_fastpath_score(kp_json_root(doc), d, 0, &f);
  kp_json_doc_free(doc);
  kp_fp_db_free(d);
  return f.confirmed;
}

KP_TEST(unit_is_confirmed) {
  KP_ASSERT(confirmed_with("bogus", "IT", "IT"));
  KP_ASSERT(!confirmed_with("bogus", "FR", "IT"));
  KP_ASSERT(!confirmed_with("bogus", "ZZ", "ZZ"));
  KP_ASSERT(confirmed_with("nat", "", "IT"));
  KP_ASSERT(confirmed_with("isp", "FR", "IT"));
}

/* test_score_web_connectivity_odd_hdr: CN, blocking dns, a header whose value is a nested object,
 * http_experiment_failure http_invalid_redirect_url -> general 1.0, type dns, not failure */
KP_TEST(unit_wc_odd_header) {
  kp_fastpath_flags_t f = score(ENV("web_connectivity", "CN") "\"test_keys\":{\"blocking\":\"dns\",\"accessible\":false,"
                                "\"http_experiment_failure\":\"http_invalid_redirect_url\",\"title_match\":null,"
                                "\"requests\":[{\"response\":{\"headers\":{\"X\":{\"a\":{\"b\":1}}},\"body\":\"\"}}]}}");
  EXPECT(f, 1, 0, 0, 1.0);
  KP_ASSERT_STREQ(f.blocking_type, "dns");
}

/* test_score_web_connectivity_no_body: IT, blocking false, accessible true, the ONLY failure is
 * http_experiment_failure (ssl_error: certificate verify failed), response without a body ->
 * all zero, and no failure flag: an http_experiment_failure alone does not make a failure */
KP_TEST(unit_wc_only_http_experiment_failure_is_not_failure) {
  kp_fastpath_flags_t f = score(ENV("web_connectivity", "IT") "\"test_keys\":{\"blocking\":false,\"accessible\":true,"
                                "\"dns_consistency\":\"consistent\",\"http_experiment_failure\":\"ssl_error: error:"
                                "14007086:SSL routines:CONNECT_CR_CERT:certificate verify failed\",\"body_proportion\":0,"
                                "\"requests\":[{\"failure\":\"ssl_error\",\"response\":{\"headers\":{}}}]}}");
  EXPECT(f, 0, 0, 0, 0.0);
  /* the same with the modern failure strings, and with http-failure blocking: anomaly, still no failure */
  f = score(ENV("web_connectivity", "KZ") "\"test_keys\":{\"blocking\":\"http-failure\",\"accessible\":false,"
            "\"http_experiment_failure\":\"connection_reset\",\"requests\":[{\"failure\":\"connection_reset\"}]}}");
  EXPECT(f, 1, 0, 0, 1.0);
  /* ... but an unknown_failure there is a failure (test_bug_backend351: ascii codec error) */
  f = score(ENV("web_connectivity", "NL") "\"test_keys\":{\"blocking\":\"http-failure\",\"accessible\":false,"
            "\"http_experiment_failure\":\"unknown_failure 'ascii' codec can't decode byte 0xd9\",\"requests\":[]}}");
  EXPECT(f, 1, 1, 0, 1.0);
}

/* test_score_web_connectivity_b64_incorrect: a base64 body with bad padding -> scored, failure */
KP_TEST(unit_wc_b64_incorrect) {
  kp_fastpath_flags_t f = score(ENV("web_connectivity", "US") "\"test_keys\":{\"blocking\":false,\"accessible\":true,"
                                "\"requests\":[{\"response\":{\"body\":{\"format\":\"base64\",\"data\":\"aGk\"}}}]}}");
  KP_ASSERT(f.failure); /* Python's b64decode: "aGk" is incorrect padding (binascii.Error) */
  f = score(ENV("web_connectivity", "MY") "\"test_keys\":{\"blocking\":false,\"accessible\":true,"
            "\"requests\":[{\"response\":{\"body\":{\"format\":\"base64\",\"data\":\"aGk=\"}}}]}}");
  KP_ASSERT(!f.failure);
}

/* test_score_web_connectivity_bug_610 / _2: blocking null and accessible null with no fingerprint
 * (TM: control_failure connection_refused + generic_timeout_error; IR: ssl_invalid_certificate) */
KP_TEST(unit_wc_bug_610) {
  EXPECT(score(ENV("web_connectivity", "TM") "\"test_keys\":{\"blocking\":null,\"accessible\":null,"
               "\"control_failure\":\"connection_refused\",\"http_experiment_failure\":\"generic_timeout_error\"}}"),
         0, 1, 0, 0.0);
  EXPECT(score(ENV("web_connectivity", "IR") "\"test_keys\":{\"blocking\":null,\"accessible\":null,"
               "\"dns_consistency\":\"consistent\",\"http_experiment_failure\":\"ssl_invalid_certificate\"}}"),
         0, 1, 0, 0.0);
}

/* test_bug_requests_None: requests null, blocking dns, NXDOMAIN -> general 1.0, no traceback */
KP_TEST(unit_wc_requests_none) {
  kp_fastpath_flags_t f = score(ENV("web_connectivity", "SK") "\"test_keys\":{\"blocking\":\"dns\",\"accessible\":false,"
                                "\"dns_experiment_failure\":\"dns_nxdomain_error\",\"requests\":null,\"tcp_connect\":null,"
                                "\"queries\":[{\"answers\":null},{\"answers\":[]}]}}");
  EXPECT(f, 1, 0, 0, 1.0);
}

/* test_score_whatsapp_failure: the real whatsapp.json (0.9.0; web answered 400) is not an anomaly
 * for the fastpath: registration, endpoints and web all accessible (requests without failures) */
KP_TEST(unit_whatsapp_failure) {
  EXPECT(score(ENV("whatsapp", "IE") "\"test_keys\":{\"whatsapp_web_status\":\"blocked\",\"whatsapp_web_failure\":"
               "\"http_unexpected_status_code\",\"registration_server_status\":\"ok\",\"whatsapp_endpoints_status\":\"ok\","
               "\"requests\":[{\"request\":{\"url\":\"https://web.whatsapp.com/\"},\"failure\":null},"
               "{\"request\":{\"url\":\"http://web.whatsapp.com/\"},\"failure\":null},"
               "{\"request\":{\"url\":\"https://v.whatsapp.net/v2/register\"},\"failure\":null}],"
               "\"tcp_connect\":[{\"status\":{\"success\":true}}]}}"),
         0, 0, 0, 0.0);
}

/* test_score_measurement_telegram_nourl: requests without request.url -> scores_failed */
KP_TEST(unit_telegram_nourl) {
  EXPECT(score(ENV("telegram", "IT") "\"test_keys\":{\"telegram_web_status\":\"ok\",\"telegram_tcp_blocking\":false,"
               "\"telegram_http_blocking\":false,\"tcp_connect\":[{\"status\":{\"success\":true}}],"
               "\"requests\":[{\"failure\":null,\"request\":{\"headers\":{\"Host\":\"149.154.171.5:443\"}}}]}}"),
         0, 1, 0, 0.0);
}

/* test_score_vanilla_tor: progress 5, no "Bootstrapped 100%" in the logs -> 1 - 5*0.004 = 0.98;
 * test_score_vanilla_tor_ok: progress 100 -> 0 */
KP_TEST(unit_vanilla_tor) {
  EXPECT(score(ENV("vanilla_tor", "CN") "\"test_keys\":{\"tor_progress\":5,\"failure\":\"generic_timeout_error\","
               "\"tor_logs\":[\"Bootstrapped 5% (conn): Connecting to a relay\",\"x\"]}}"),
         1, 0, 0, 0.98);
  EXPECT(score(ENV("vanilla_tor", "BR") "\"test_keys\":{\"tor_progress\":100,\"failure\":null,"
               "\"tor_logs\":[\"Bootstrapped 100% (done): Done\"]}}"),
         0, 0, 0, 0.0);
}

/* test_score_tor: targets as a dict, all reachable -> 0; test_score_tor_list: targets as a list
 * (early experimental) -> accuracy 0 */
KP_TEST(unit_tor) {
  EXPECT(score(ENV("tor", "IT") "\"test_keys\":{\"targets\":{\"a\":{\"failure\":null,\"network_events\":[],"
               "\"target_protocol\":\"obfs4\"},\"b\":{\"failure\":null,\"network_events\":[],\"target_protocol\":\"dir_port\"}}}}"),
         0, 0, 0, 0.0);
  EXPECT(score(ENV("tor", "IT") "\"test_keys\":{\"targets\":[{\"failure\":null},{\"failure\":null}]}}"), 0, 1, 0, 0.0);
}

/* test_score_dash_no_keys: dash without test_keys -> accuracy 0 */
KP_TEST(unit_dash_no_keys) { EXPECT(score(ENV("dash", "IT") "\"x\":1}"), 0, 1, 0, 0.0); }

/* test_score_riseupvpn: neutral scores (api_status blocked is not scored) */
KP_TEST(unit_riseupvpn) {
  EXPECT(score(ENV("riseupvpn", "AF") "\"test_keys\":{\"api_status\":\"blocked\",\"failure\":null}}"), 0, 0, 0, 0.0);
}

/* test_score_signal_2627 / test_score_signal_679: signal versions that reported false blocks
 * (probe#2627, backend#679) -> accuracy 0; signal_022 (0.2.2, ok) -> 0 */
#define SIG(ver, start, engine, status, failure)                                                           \
  ENV("signal", "IT") "\"test_version\":\"" ver "\",\"measurement_start_time\":\"" start "\","                 \
  "\"annotations\":{\"engine_version\":\"" engine "\"},\"test_keys\":{\"failed_operation\":null,"             \
  "\"failure\":null,\"signal_backend_status\":\"" status "\",\"signal_backend_failure\":" failure "}}"
KP_TEST(unit_signal) {
  /* signal_2627: 0.2.0 after 2022-10-19 (old roots, probe#2627): accuracy 0, scored before the status */
  EXPECT(score(SIG("0.2.0", "2022-10-27 00:03:16", "3.14.1", "blocked", "\"ssl_unknown_authority\"")), 0, 1, 0, 0.0);
  /* signal_022: 0.2.2, ok */
  EXPECT(score(SIG("0.2.2", "2022-11-18 10:44:20", "3.16.5", "ok", "null")), 0, 0, 0, 0.0);
  /* signal_679: engine < 3.17.2 after 2023-05-02 (backend#679) */
  EXPECT(score(SIG("0.2.2", "2023-05-30 18:08:35", "3.17.1", "blocked", "\"android_dns_cache_no_data\"")), 0, 1, 0,
         0.0); /* OONI returns before the status: no blocking score */
  /* missing failure / failed_operation keys -> accuracy 0 (tk.get(..., True)) */
  EXPECT(score(ENV("signal", "IT") "\"test_version\":\"0.2.5\",\"measurement_start_time\":\"2025-01-01 00:00:00\","
               "\"test_keys\":{\"signal_backend_status\":\"ok\"}}"),
         0, 1, 0, 0.0);
}

/* test_score_stunreachability / _fail: failure null -> 0; a failure (endpoint missing) -> 1.0 */
KP_TEST(unit_stunreachability) {
  EXPECT(score(ENV("stunreachability", "IT") "\"test_keys\":{\"endpoint\":\"stun.l.google.com:19302\",\"failure\":null}}"),
         0, 0, 0, 0.0);
  EXPECT(score(ENV("stunreachability", "IT") "\"test_keys\":{\"failure\":\"boo\"}}"), 1, 0, 0, 1.0);
}

/* test_score_torsf / torsf2 / torsf383: failure -> 1.0; bootstrapped -> 0; ooniprobe-android 3.8.3
 * (a known-broken release) -> accuracy 0 */
KP_TEST(unit_torsf) {
  EXPECT(score(ENV("torsf", "IT") "\"software_name\":\"miniooni\",\"software_version\":\"3.11.0-alpha\","
               "\"test_keys\":{\"bootstrap_time\":0,\"failure\":\"generic_timeout_error\"}}"),
         1, 0, 0, 1.0);
  EXPECT(score(ENV("torsf", "IT") "\"software_name\":\"miniooni\",\"software_version\":\"3.11.0-alpha\","
               "\"test_keys\":{\"bootstrap_time\":78.98,\"failure\":null}}"),
         0, 0, 0, 0.0);
  EXPECT(score(ENV("torsf", "TH") "\"software_name\":\"ooniprobe-android-unattended\",\"software_version\":\"3.8.3\","
               "\"test_keys\":{\"bootstrap_time\":0,\"failure\":\"generic_timeout_error\"}}"),
         0, 1, 0, 0.0);
}

/* test_score_openvpn: success true -> 0 */
KP_TEST(unit_openvpn) {
  EXPECT(score(ENV("openvpn", "RO") "\"test_keys\":{\"success\":true,\"failure\":null,\"bootstrap_time\":1.56}}"), 0, 0,
         0, 0.0);
}

/* test_score_browser_web / _error: result ok -> 0; result error -> 1.0 */
KP_TEST(unit_browser_web) {
  EXPECT(score(ENV("browser_web", "CA") "\"test_keys\":{\"result\":\"ok\",\"load_time_ms\":357.4}}"), 0, 0, 0, 0.0);
  EXPECT(score(ENV("browser_web", "CA") "\"test_keys\":{\"result\":\"error\",\"load_time_ms\":680}}"), 1, 0, 0, 1.0);
}

/* anomaly is blocking_general > 0.5, strictly (fastpath's core.py): telegram with one of two TCP
 * connects failing and its HTTP requests fine scores exactly 0.5, which is not an anomaly; a
 * third failing connect (2/3 + 0) is. Pins the threshold on both sides (issue 13.7). accuracy
 * is only ever 0 or 1, so failure = accuracy < 0.5 has no boundary case to pin. */
KP_TEST(unit_anomaly_threshold_strict) {
#define TG_KEYS(tcp)                                                                                  \
  ENV("telegram", "IT") "\"test_keys\":{\"telegram_web_status\":\"ok\",\"telegram_tcp_blocking\":false," \
  "\"telegram_http_blocking\":false,\"tcp_connect\":[" tcp "],"                                     \
  "\"requests\":[{\"failure\":null,\"request\":{\"url\":\"http://149.154.171.5/\"}}]}}"
  kp_fastpath_flags_t f = score(TG_KEYS("{\"status\":{\"success\":true}},{\"status\":{\"success\":false}}"));
  KP_ASSERT_NEAR(f.blocking_general, 0.5, 1e-12);
  KP_ASSERT_EQ(f.anomaly, 0);
  f = score(TG_KEYS("{\"status\":{\"success\":true}},{\"status\":{\"success\":false}},{\"status\":{\"success\":false}}"));
  KP_ASSERT_NEAR(f.blocking_general, 2.0 / 3.0, 1e-12);
  KP_ASSERT_EQ(f.anomaly, 1);
#undef TG_KEYS
}
