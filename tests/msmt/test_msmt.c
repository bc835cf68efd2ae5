/*
 * test_msmt.c: src/msmt -- the envelope writer (privacy defaults, key set), the report
 * id (minted shape, parse, consistency parts), the backend's field rules and the
 * lenient reader, incl. a real OONI measurement from ../shared/data when present.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "kp_test.h"
#include "msmt/msmt.h"

/* write a minimal measurement with @p e and parse it back strictly */
static kp_msmt_t *roundtrip(const kp_msmt_env_t *e, kp_buf_t *b) {
  kp_buf_init(b, 1 << 20);
  kp_jw_t w;
  kp_jw_init(&w, b);
  if (kp_msmt_write_head(&w, e) != KP_OK) return NULL;
  kp_jw_key(&w, "test_keys");
  kp_jw_obj_begin(&w);
  kp_jw_obj_end(&w);
  kp_msmt_write_tail(&w, e, 1.5);
  if (w.st != KP_OK) return NULL;
  kp_msmt_t *m = NULL;
  char err[128];
  if (kp_msmt_parse(b->data, b->len, &m, err, sizeof err) != KP_OK) fprintf(stderr, "parse: %s\n", err);
  return m;
}

KP_TEST(writer_privacy_defaults) {
  kp_msmt_env_t e = {.test_name = "signal", .test_version = "0.2.5", .probe_cc = "IT", .probe_asn = "AS137",
                     .start_wall_ns = 1700000000LL * 1000000000LL};
  kp_buf_t b;
  kp_msmt_t *m = roundtrip(&e, &b);
  KP_ASSERT(m != NULL);
  const kp_msmt_view_t *v = kp_msmt_view(m);
  KP_ASSERT_STREQ(v->probe_ip, "127.0.0.1"); /* no --with-probe-ip: never the real address */
  KP_ASSERT_STREQ(v->probe_network_name, "");
  KP_ASSERT_STREQ(v->software_name, "keepon");
  KP_ASSERT_STREQ(v->data_format_version, "0.2.0");
  KP_ASSERT(v->input == NULL);
  KP_ASSERT_EQ((long long)v->measurement_start, 1700000000LL);
  KP_ASSERT_NEAR(v->test_runtime, 1.5, 1e-9);
  KP_ASSERT(kp_msmt_report_id_valid(v->report_id));
  KP_ASSERT(strstr(v->report_id, "_signal_IT_137_n1_") != NULL);
  /* no host name anywhere: annotations carry only engine and platform */
  const kp_json_t *an = v->annotations;
  KP_ASSERT_EQ(kp_json_len(an), 3);
  KP_ASSERT(strstr((const char *)b.data, "hostname") == NULL);
  kp_msmt_free(m);
  kp_buf_free(&b);
  /* explicit probe ip is written as given */
  e.probe_ip = "198.18.0.7";
  e.input = "https://example.org/";
  m = roundtrip(&e, &b);
  KP_ASSERT(m != NULL);
  KP_ASSERT_STREQ(kp_msmt_view(m)->probe_ip, "198.18.0.7");
  KP_ASSERT_STREQ(kp_msmt_view(m)->input, "https://example.org/");
  kp_msmt_free(m);
  kp_buf_free(&b);
  KP_ASSERT_STREQ(kp_msmt_probe_ip(NULL), "127.0.0.1");
  KP_ASSERT_STREQ(kp_msmt_probe_ip(""), "127.0.0.1");
}

/* resolver_ip/resolver_asn come from the caller (src/locate's whoami answer), AS0 by default;
 * extensions.tunnel only for the tests that declare it (urlgetter-based IM tests) */
KP_TEST(writer_resolver_and_tunnel) {
  kp_msmt_env_t e = {.test_name = "signal", .test_version = "0.2.5", .start_wall_ns = 1};
  kp_buf_t b;
  kp_msmt_t *m = roundtrip(&e, &b);
  KP_ASSERT(m != NULL);
  KP_ASSERT(strstr((const char *)b.data, "\"resolver_asn\":\"AS0\"") != NULL);
  KP_ASSERT(strstr((const char *)b.data, "\"tunnel\"") == NULL);
  kp_msmt_free(m);
  kp_buf_free(&b);
  e.resolver_ip = "198.18.0.53";
  e.resolver_asn = "AS64500";
  e.ext_tunnel = true;
  m = roundtrip(&e, &b);
  KP_ASSERT(m != NULL);
  KP_ASSERT(strstr((const char *)b.data, "\"resolver_asn\":\"AS64500\"") != NULL);
  KP_ASSERT(strstr((const char *)b.data, "\"resolver_ip\":\"198.18.0.53\"") != NULL);
  KP_ASSERT(strstr((const char *)b.data, "\"tunnel\":0") != NULL);
  kp_msmt_free(m);
  kp_buf_free(&b);
}

KP_TEST(writer_unknown_network_is_unattributed) {
  kp_msmt_env_t e = {.test_name = "web_connectivity", .test_version = "0.5.28", .start_wall_ns = 1};
  kp_buf_t b;
  kp_msmt_t *m = roundtrip(&e, &b);
  KP_ASSERT(m != NULL);
  const kp_msmt_view_t *v = kp_msmt_view(m);
  KP_ASSERT_STREQ(v->probe_cc, "ZZ");
  KP_ASSERT_STREQ(v->probe_asn, "AS0");
  KP_ASSERT(kp_msmt_unattributed(v->probe_cc, v->probe_asn));
  KP_ASSERT(strstr(v->report_id, "_webconnectivity_ZZ_0_n1_") != NULL);
  kp_msmt_free(m);
  kp_buf_free(&b);
  /* a given report id is kept (a measurement written twice keeps one id) */
  e.report_id = "20231114T221320Z_webconnectivity_ZZ_0_n1_abcdefghijklmnop";
  m = roundtrip(&e, &b);
  KP_ASSERT(m != NULL);
  KP_ASSERT_STREQ(kp_msmt_view(m)->report_id, e.report_id);
  kp_msmt_free(m);
  kp_buf_free(&b);
}

KP_TEST(report_id_mint_and_parse) {
  char id[128], id2[128];
  KP_ASSERT_OK(kp_msmt_report_id(1700000000LL * 1000000000LL, "facebook_messenger", "KZ", "AS9198", id, sizeof id));
  KP_ASSERT(strncmp(id, "20231114T221320Z_facebookmessenger_KZ_9198_n1_", 46) == 0);
  KP_ASSERT_EQ(strlen(id), 46 + 16);
  KP_ASSERT_OK(kp_msmt_report_id(1700000000LL * 1000000000LL, "facebook_messenger", "KZ", "AS9198", id2, sizeof id2));
  KP_ASSERT(strcmp(id, id2) != 0); /* random tail */
  kp_msmt_rid_t r;
  KP_ASSERT(kp_msmt_report_id_parse(id, strlen(id), &r));
  KP_ASSERT_STREQ(r.tn, "facebookmessenger");
  KP_ASSERT_STREQ(r.cc, "KZ");
  KP_ASSERT_STREQ(r.asn, "AS9198");
  char small[40];
  KP_ASSERT(kp_msmt_report_id(0, "signal", "KZ", "AS1", small, sizeof small) != KP_OK); /* bounded */
  static const char *const bad[] = {
      "20231114T221320Z_signal_KZ_9198_n1",             /* five parts */
      "20231114T221320Z_signal_KZ_9198_n1_ab_cd",       /* seven */
      "20231114T221320X_signal_KZ_9198_n1_abcd",        /* time */
      "20231114T221320Z_signal_kz_9198_n1_abcd",        /* cc case */
      "20231114T221320Z_signal_KZ_09198_n1_abcd",       /* leading zero */
      "20231114T221320Z_signal_KZ_9198_x1_abcd",        /* n<digits> */
      "20231114T221320Z_signal_KZ_9198_n1_ab!d",        /* tail alphabet */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    KP_ASSERT_MSG(!kp_msmt_report_id_parse(bad[i], strlen(bad[i]), &r), "%s", bad[i]);
}

KP_TEST(field_rules) {
  KP_ASSERT(kp_msmt_valid_cc("IT") && kp_msmt_valid_cc("ZZ") && !kp_msmt_valid_cc("it") && !kp_msmt_valid_cc("ITA"));
  KP_ASSERT(kp_msmt_valid_asn("AS0") && kp_msmt_valid_asn("AS137") && !kp_msmt_valid_asn("AS0137") &&
            !kp_msmt_valid_asn("137") && !kp_msmt_valid_asn("AS12345678901"));
  KP_ASSERT(kp_msmt_valid_asn("AS1234567890")); /* 12 chars: the cap is the boundary */
  KP_ASSERT(kp_msmt_valid_test_name("web_connectivity") && !kp_msmt_valid_test_name("W") &&
            !kp_msmt_valid_test_name("a234567890123456789012345678901") && kp_msmt_valid_test_name("a23456789012345678901234567890"));
  KP_ASSERT(kp_msmt_unattributed("ZZ", "AS1") && kp_msmt_unattributed("IT", "AS0") && !kp_msmt_unattributed("IT", "AS1"));
  char sq[8];
  kp_msmt_squash("a_b_cdefghij", sq, sizeof sq);
  KP_ASSERT_STREQ(sq, "abcdefg"); /* bounded */
}

KP_TEST(meta_lenient_and_unwrap) {
  static const char body[] = "{\"format\":\"json\",\"content\":{\"probe_cc\":\"IT\",\"probe_asn\":7,"
                             "\"test_name\":\"signal\",\"measurement_start_time\":\"2023-11-14 22:13:20\","
                             "\"report_id\":\"I\\u0000T\",\"test_keys\":[]}}";
  kp_json_doc_t *d = NULL;
  KP_ASSERT_OK(kp_json_parse(body, sizeof body - 1, NULL, &d, NULL));
  kp_msmt_meta_t mm;
  KP_ASSERT(kp_msmt_meta(kp_msmt_unwrap(kp_json_root(d)), &mm));
  KP_ASSERT_STREQ(mm.probe_cc, "IT");
  KP_ASSERT(mm.probe_asn == NULL);  /* not a string */
  KP_ASSERT(mm.report_id == NULL);  /* embedded NUL */
  KP_ASSERT(mm.test_keys == NULL);  /* not an object */
  KP_ASSERT_EQ((long long)mm.start, 1700000000LL);
  KP_ASSERT(!kp_msmt_meta(kp_json_get(kp_json_root(d), "format"), &mm));
  kp_json_doc_free(d);
}

KP_TEST(real_ooni_measurement) {
  const char *sh = kp_test_shared();
  if (!sh) KP_SKIP("../shared/data absent");
  char full[4096];
  snprintf(full, sizeof full, "%s/ooni/real/20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3.json", sh);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 22);
  KP_ASSERT_OK(kp_file_read(full, &b));
  kp_msmt_t *m = NULL;
  char err[128] = "";
  KP_ASSERT_MSG(kp_msmt_parse(b.data, b.len, &m, err, sizeof err) == KP_OK, "%s", err);
  const kp_msmt_view_t *v = kp_msmt_view(m);
  KP_ASSERT_STREQ(v->probe_cc, "ID");
  KP_ASSERT_STREQ(v->test_name, "web_connectivity");
  kp_msmt_rid_t r;
  KP_ASSERT(kp_msmt_report_id_parse(v->report_id, strlen(v->report_id), &r));
  KP_ASSERT_STREQ(r.cc, v->probe_cc);
  KP_ASSERT_STREQ(r.asn, v->probe_asn);
  kp_msmt_free(m);
  kp_buf_free(&b);
}
