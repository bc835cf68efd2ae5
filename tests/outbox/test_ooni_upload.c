/* test_ooni_upload.c: the pure pieces of the OONI-protocol uploader (report template and key,
 * submit body with the channel's report id), as probe-cli's NewReportTemplate/SubmitMeasurement. */
#include <string.h>

#include "kp_test.h"
#include "outbox/outbox.h"

static const char M[] = "{\"probe_cc\":\"KZ\",\"probe_asn\":\"AS9198\",\"software_name\":\"keepon\","
                        "\"software_version\":\"0.1\",\"test_name\":\"signal\",\"test_start_time\":\"2022-01-05 10:00:00\","
                        "\"test_version\":\"0.2.0\",\"report_id\":\"old\",\"test_keys\":{\"a\":1}}";

static kp_json_doc_t *doc_of(const char *s) {
  kp_json_doc_t *d = NULL;
  return kp_json_parse(s, strlen(s), NULL, &d, NULL) == KP_OK ? d : NULL;
}

KP_TEST(template_and_key) {
  kp_json_doc_t *d = doc_of(M);
  KP_ASSERT(d != NULL);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 16);
  char k1[65], k2[65];
  KP_ASSERT_OK(kp_ooni_report_template(kp_json_root(d), &b, k1));
  kp_buf_putc(&b, 0);
  const char *s = (const char *)b.data;
  KP_ASSERT(strstr(s, "\"data_format_version\":\"0.2.0\"") && strstr(s, "\"format\":\"json\"") &&
            strstr(s, "\"test_start_time\":\"2022-01-05 10:00:00\"") && !strstr(s, "report_id"));
  kp_buf_reset(&b);
  KP_ASSERT_OK(kp_ooni_report_template(kp_json_root(d), &b, k2));
  KP_ASSERT_STREQ(k1, k2); /* the same template, the same report */
  kp_json_doc_free(d);
  char other[sizeof M];
  memcpy(other, M, sizeof M);
  memcpy(strstr(other, "10:00:00"), "10:00:01", 8);
  d = doc_of(other);
  kp_buf_reset(&b);
  KP_ASSERT_OK(kp_ooni_report_template(kp_json_root(d), &b, k2));
  KP_ASSERT(strcmp(k1, k2) != 0); /* another test_start_time: another report, as CanSubmit */
  kp_json_doc_free(d);
  d = doc_of("{\"probe_cc\":\"KZ\"}");
  kp_buf_reset(&b);
  KP_ASSERT(kp_ooni_report_template(kp_json_root(d), &b, k2) != KP_OK);
  kp_json_doc_free(d);
  kp_buf_free(&b);
}

KP_TEST(submit_body_sets_report_id) {
  kp_json_doc_t *d = doc_of(M);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 16);
  KP_ASSERT_OK(kp_ooni_submit_body(kp_json_root(d), "RID", &b));
  kp_json_doc_t *o = NULL;
  KP_ASSERT_OK(kp_json_parse(b.data, b.len, NULL, &o, NULL));
  const kp_json_t *c = kp_json_get(kp_json_root(o), "content");
  KP_ASSERT_STREQ(kp_json_get_str(kp_json_root(o), "format"), "json");
  KP_ASSERT_STREQ(kp_json_get_str(c, "report_id"), "RID");
  KP_ASSERT_STREQ(kp_json_get_str(c, "probe_cc"), "KZ");
  KP_ASSERT(kp_json_get(kp_json_get(c, "test_keys"), "a") != NULL);
  kp_json_doc_free(o);
  kp_json_doc_free(d);
  d = doc_of("{\"probe_cc\":\"KZ\"}"); /* no report_id: added */
  kp_buf_reset(&b);
  KP_ASSERT_OK(kp_ooni_submit_body(kp_json_root(d), "RID", &b));
  KP_ASSERT(kp_json_parse(b.data, b.len, NULL, &o, NULL) == KP_OK);
  KP_ASSERT_STREQ(kp_json_get_str(kp_json_get(kp_json_root(o), "content"), "report_id"), "RID");
  kp_json_doc_free(o);
  kp_json_doc_free(d);
  kp_buf_free(&b);
}
