/*
 * test_fastpath.c: the flags OONI's fastpath gives the real measurements in
 * ../shared/data/ooni/real/, derived from OONI's rules (core.py) and from
 * OONI's own unit tests over the same files (fastpath/tests/test_unit.py).
 * Plus synthetic cases for each rule that could regress.
 */
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/json.h"
#include "fastpath/fastpath.h"
#include "kp_test.h"

static kp_fp_db_t *load_db(void) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/data/fingerprints", kp_test_src());
  kp_fp_db_t *db = NULL;
  KP_ASSERT_OK(kp_fp_db_load_dir(dir, &db));
  KP_ASSERT(kp_fp_db_count(db) > 1800); /* 150 DNS + 1,699 HTTP rows */
  return db;
}

static void score_file(const char *name, kp_fastpath_flags_t *f) {
  const char *sh = kp_test_shared();
  if (!sh) KP_SKIP("../shared/data absent");
  char path[4096];
  snprintf(path, sizeof path, "%s/ooni/real/%s", sh, name);
  kp_buf_t b;
  kp_buf_init(&b, 64u << 20);
  KP_ASSERT_OK(kp_file_read(path, &b));
  kp_json_doc_t *doc = NULL;
  KP_ASSERT_OK(kp_json_parse(b.data, b.len, NULL, &doc, NULL));
  kp_fp_db_t *db = load_db();
  /* recv_time 0: as OONI's unit tests call score_measurement() directly */
  kp_fastpath_score(kp_json_root(doc), db, 0, f);
  kp_fp_db_free(db);
  kp_json_doc_free(doc);
  kp_buf_free(&b);
}

static void score_text(const char *json, kp_fastpath_flags_t *f, time_t recv) {
  kp_json_doc_t *doc = NULL;
  KP_ASSERT_OK(kp_json_parse(json, strlen(json), NULL, &doc, NULL));
  kp_fp_db_t *db = load_db();
  kp_fastpath_score(kp_json_root(doc), db, recv, f);
  kp_fp_db_free(db);
  kp_json_doc_free(doc);
}

/* ID 2025, web_connectivity 0.4.3: archive.org redirects (Location header) to the Indonesian
 * blockpage lamanlabuh.aduankonten.id; fingerprint ooni.id_lamanlabuh_kominfo (scope nat,
 * expected ID) matches -> OONI: confirmed, blocking_country 1.0 so blocking_general 1.0
 * -> anomaly; the probe said blocking=false so accuracy stays -> not failure. */
KP_TEST(real_id_webconnectivity_confirmed) {
  kp_fastpath_flags_t f;
  score_file("20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3.json", &f);
  KP_ASSERT(f.confirmed);
  KP_ASSERT(f.anomaly);
  KP_ASSERT(!f.failure);
  KP_ASSERT_STREQ(f.fingerprint, "ooni.id_lamanlabuh_kominfo");
  KP_ASSERT_STREQ(f.blocking_type, "");
}

/* report1.json / report1blocked.json: US 2019, blocking=false, accessible=true; they differ
 * only in an "Age" response header, which no fingerprint covers -> OONI: ok (all false). */
KP_TEST(real_report1_ok) {
  kp_fastpath_flags_t f;
  score_file("report1.json", &f);
  KP_ASSERT(!f.anomaly && !f.confirmed && !f.failure && !f.discard);
  score_file("report1blocked.json", &f);
  KP_ASSERT(!f.anomaly && !f.confirmed && !f.failure && !f.discard);
}

/* signal_022: IT 2022-11-18, test_version 0.2.2 (not < 0.2.2 after 2022-10-19, and the
 * <= 0.2.3 rule starts 2023-11-07), failure/failed_operation null, backend status ok ->
 * OONI (test_score_signal_2627, second half): neutral scores -> all false. */
KP_TEST(real_signal_022_ok) {
  kp_fastpath_flags_t f;
  score_file("signal_022.json", &f);
  KP_ASSERT(!f.anomaly && !f.confirmed && !f.failure);
}

/* telegram_nourl: a request without request.url -> OONI treats it as a client bug:
 * scores_failed (accuracy 0, blocking 0) -> failure, not anomaly. */
KP_TEST(real_telegram_nourl_failure) {
  kp_fastpath_flags_t f;
  score_file("telegram_nourl.json", &f);
  KP_ASSERT(f.failure);
  KP_ASSERT(!f.anomaly && !f.confirmed);
}

/* whatsapp: IE 2022-12, the probe says whatsapp_web_status "blocked" (it expected a 302),
 * but OONI recomputes from the events: web and registration requests have failure null and
 * TCP endpoints connect -> test_score_whatsapp_failure: blocking_general 0 -> all false. */
KP_TEST(real_whatsapp_recomputed_ok) {
  kp_fastpath_flags_t f;
  score_file("whatsapp.json", &f);
  KP_ASSERT(!f.anomaly && !f.confirmed && !f.failure);
}

/* Receive-time rule: received more than a year after the start -> failure. */
KP_TEST(receive_time_rule) {
  kp_fastpath_flags_t f;
  const char *m = "{\"report_id\":\"x\",\"probe_cc\":\"IT\",\"probe_asn\":\"AS1\",\"test_name\":\"signal\","
                  "\"test_version\":\"0.2.5\",\"measurement_start_time\":\"2024-01-01 00:00:00\","
                  "\"annotations\":{\"engine_version\":\"3.20.0\"},"
                  "\"test_keys\":{\"failure\":null,\"failed_operation\":null,\"signal_backend_status\":\"blocked\"}}";
  time_t start;
  KP_ASSERT_EQ(kp_time_parse("2024-01-01 00:00:00", &start), 0);
  score_text(m, &f, start + 60);
  KP_ASSERT(f.anomaly && !f.failure);
  score_text(m, &f, start + 400 * 86400);
  KP_ASSERT(f.anomaly && f.failure);
  score_text(m, &f, start - 7200);
  KP_ASSERT(f.failure);
}

KP_TEST(signal_known_broken_versions) {
  kp_fastpath_flags_t f;
  char m[1024];
#define FMT "{\"report_id\":\"x\",\"probe_cc\":\"IT\",\"probe_asn\":\"AS1\",\"test_name\":\"signal\"," \
                    "\"test_version\":\"%s\",\"measurement_start_time\":\"%s\"," \
                    "\"annotations\":{\"engine_version\":\"3.20.0\"}," \
                    "\"test_keys\":{\"failure\":null,\"failed_operation\":null,\"signal_backend_status\":\"ok\"}}"
  snprintf(m, sizeof m, FMT, "0.2.1", "2022-10-20 00:00:00");
  score_text(m, &f, 0);
  KP_ASSERT(f.failure);
  snprintf(m, sizeof m, FMT, "0.2.1", "2022-10-18 00:00:00");
  score_text(m, &f, 0);
  KP_ASSERT(!f.failure);
  snprintf(m, sizeof m, FMT, "0.2.3", "2023-11-08 00:00:00");
  score_text(m, &f, 0);
  KP_ASSERT(f.failure);
  snprintf(m, sizeof m, FMT, "0.2.5", "2023-11-08 00:00:00");
  score_text(m, &f, 0);
  KP_ASSERT(!f.failure && !f.anomaly);
  snprintf(m, sizeof m, FMT, "0.2.4", "2020-01-01 00:00:00");
  score_text(m, &f, 0);
  KP_ASSERT(f.failure);
}

KP_TEST(web_connectivity_rules) {
  kp_fastpath_flags_t f;
  /* DNS fingerprint of a national scope (ooni.tr_6, 195.175.254.2) -> confirmed */
  score_text("{\"report_id\":\"x\",\"probe_cc\":\"TR\",\"test_name\":\"web_connectivity\",\"test_keys\":{"
             "\"blocking\":\"dns\",\"accessible\":false,\"queries\":[{\"answers\":[{\"ipv4\":\"195.175.254.2\"}]}]}}",
             &f, 0);
  KP_ASSERT(f.confirmed && f.anomaly && !f.failure);
  KP_ASSERT_STREQ(f.blocking_type, "dns");
  /* body fingerprint GdF Stop Page (IT) with blocking=false -> confirmed + anomaly */
  score_text("{\"report_id\":\"x\",\"probe_cc\":\"IT\",\"test_name\":\"web_connectivity\",\"test_keys\":{"
             "\"blocking\":false,\"accessible\":true,\"requests\":[{\"response\":{\"body\":\"GdF Stop Page\"}}]}}",
             &f, 0);
  KP_ASSERT(f.confirmed && f.anomaly && !f.failure);
  /* blocking null and no fingerprint -> failure (backend#610) */
  score_text("{\"report_id\":\"x\",\"probe_cc\":\"US\",\"test_name\":\"web_connectivity\",\"test_keys\":{"
             "\"blocking\":null,\"accessible\":null}}", &f, 0);
  KP_ASSERT(f.failure && !f.anomaly);
  /* tcp_ip blocking -> anomaly, blocking_type kept */
  score_text("{\"report_id\":\"x\",\"probe_cc\":\"US\",\"test_name\":\"web_connectivity\",\"test_keys\":{"
             "\"blocking\":\"tcp_ip\",\"accessible\":false}}", &f, 0);
  KP_ASSERT(f.anomaly && !f.failure && !f.confirmed);
  KP_ASSERT_STREQ(f.blocking_type, "tcp_ip");
  /* unknown_failure anywhere -> failure */
  score_text("{\"report_id\":\"x\",\"probe_cc\":\"US\",\"test_name\":\"web_connectivity\",\"test_keys\":{"
             "\"blocking\":false,\"accessible\":true,\"http_experiment_failure\":\"unknown_failure: x\"}}", &f, 0);
  KP_ASSERT(f.failure);
  /* ZZ / AS0 / no report_id are discarded */
  score_text("{\"report_id\":\"x\",\"probe_cc\":\"ZZ\",\"test_name\":\"web_connectivity\",\"test_keys\":{}}", &f, 0);
  KP_ASSERT(f.discard);
  score_text("{\"probe_cc\":\"IT\",\"test_name\":\"web_connectivity\",\"test_keys\":{}}", &f, 0);
  KP_ASSERT(f.discard);
}

KP_TEST(telegram_and_whatsapp_rules) {
  kp_fastpath_flags_t f;
  /* 2 of 2 DC endpoints unreachable (1.0) + no HTTP (0.5) -> anomaly */
  score_text("{\"report_id\":\"x\",\"probe_cc\":\"IT\",\"test_name\":\"telegram\",\"test_keys\":{"
             "\"tcp_connect\":[{\"status\":{\"success\":false}},{\"status\":{\"success\":false}}],"
             "\"requests\":[]}}", &f, 0);
  KP_ASSERT(f.anomaly && !f.failure);
  /* all reachable, web ok -> 0 */
  score_text("{\"report_id\":\"x\",\"probe_cc\":\"IT\",\"test_name\":\"telegram\",\"test_keys\":{"
             "\"telegram_web_status\":\"ok\",\"tcp_connect\":[{\"status\":{\"success\":true}}],"
             "\"requests\":[{\"request\":{\"url\":\"http://149.154.175.50/\"},\"failure\":null}]}}", &f, 0);
  KP_ASSERT(!f.anomaly && !f.failure);
  /* whatsapp: registration failed -> anomaly; no requests -> failure */
  score_text("{\"report_id\":\"x\",\"probe_cc\":\"IT\",\"test_name\":\"whatsapp\",\"test_keys\":{\"requests\":["
             "{\"request\":{\"url\":\"https://web.whatsapp.com/\"},\"failure\":null},"
             "{\"request\":{\"url\":\"https://v.whatsapp.net/v2/register\"},\"failure\":\"connection_reset\"}]}}",
             &f, 0);
  KP_ASSERT(f.anomaly && !f.failure);
  score_text("{\"report_id\":\"x\",\"probe_cc\":\"IT\",\"test_name\":\"whatsapp\",\"test_keys\":{\"requests\":[]}}",
             &f, 0);
  KP_ASSERT(f.failure && !f.anomaly);
  /* fb messenger: two false keys -> 1.0 */
  score_text("{\"report_id\":\"x\",\"probe_cc\":\"IT\",\"test_name\":\"facebook_messenger\",\"test_keys\":{"
             "\"facebook_edge_reachable\":false,\"facebook_star_reachable\":false}}", &f, 0);
  KP_ASSERT(f.anomaly);
  /* tor: 1 blocked of 4 -> 0.25 */
  score_text("{\"report_id\":\"x\",\"probe_cc\":\"IT\",\"test_name\":\"tor\",\"test_keys\":{\"targets\":{"
             "\"a\":{\"failure\":\"x\",\"network_events\":[]},\"b\":{\"failure\":null,\"network_events\":[]},"
             "\"c\":{\"failure\":null,\"network_events\":[]},\"d\":{\"failure\":null,\"network_events\":[]}}}}",
             &f, 0);
  KP_ASSERT(!f.anomaly && !f.failure);
  KP_ASSERT_NEAR(f.blocking_general, 0.25, 1e-9);
}
