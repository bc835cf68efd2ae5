/* test_incidents.c: input parsing, the measurement converter, incident merging, alerts and the webhook. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/json.h"
#include "detect/detect.h"
#include "httpc/httpc.h"
#include "kp_test.h"

#define T0 1641254400LL /* 2022-01-04 00:00 UTC */

KP_TEST(signal_parse_accepts_and_rejects) {
  kp_signal_point_t p;
  const char *ok = "{\"type\":\"signal\",\"entity_type\":\"asn\",\"entity_code\":\"AS9198\",\"datasource\":"
                   "\"ping-slash24\",\"t\":1641378600,\"step\":600,\"value\":9123,\"cc\":\"KZ\",\"down\":3}";
  KP_ASSERT_OK(kp_signal_parse(ok, strlen(ok), &p));
  KP_ASSERT_STREQ(p.entity_code, "AS9198");
  KP_ASSERT_STREQ(p.cc, "KZ");
  KP_ASSERT_EQ(p.t, 1641378600);
  KP_ASSERT(p.has_value && p.value == 9123);
  const char *null_v = "{\"type\":\"signal\",\"entity_type\":\"region\",\"entity_code\":\"KZ/Almaty\",\"datasource\":"
                       "\"bgp\",\"t\":0,\"step\":300,\"value\":null}";
  KP_ASSERT_OK(kp_signal_parse(null_v, strlen(null_v), &p));
  KP_ASSERT(!p.has_value);
  KP_ASSERT_STREQ(p.cc, "KZ");
  const char *bad[] = {
      "{\"type\":\"signal\"}",
      "{\"type\":\"signal\",\"entity_type\":\"country\",\"entity_code\":\"KZ\",\"datasource\":\"bgp\",\"t\":1,\"step\":0,\"value\":1}",
      "{\"type\":\"signal\",\"entity_type\":\"country\",\"entity_code\":\"KZ\",\"datasource\":\"bgp\",\"t\":1,\"step\":300,\"value\":\"x\"}",
      "{\"type\":\"signal\",\"entity_type\":\"country\",\"entity_code\":\"K\\\"Z\",\"datasource\":\"bgp\",\"t\":1,\"step\":300,\"value\":1}",
      "[1,2]", "{\"type\":\"signal\",", ""};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    KP_ASSERT_MSG(kp_signal_parse(bad[i], strlen(bad[i]), &p) != KP_OK, "accepted bad[%zu]", i);
}

static char *msm(const char *test, const char *cc, const char *asn, int64_t t, const char *tk, const char *input) {
  static char buf[2048];
  char ts[20];
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
  snprintf(buf, sizeof buf,
           "{\"test_name\":\"%s\",\"probe_cc\":\"%s\",\"probe_asn\":\"%s\",\"measurement_start_time\":\"%s\","
           "\"report_id\":\"r-%s-%lld\",\"input\":%s,\"test_keys\":%s}\n",
           test, cc, asn, ts, test, (long long)t, input ? input : "null", tk);
  return buf;
}

KP_TEST(measurement_failure_rules) {
  kp_msm_t m;
  char *s = msm("whatsapp", "KZ", "AS9198", T0, "{\"whatsapp_endpoints_status\":\"blocked\"}", NULL);
  KP_ASSERT_OK(kp_msm_parse(s, strlen(s), &m));
  KP_ASSERT(m.failed);
  KP_ASSERT_STREQ(m.asn, "AS9198");
  KP_ASSERT_EQ(m.t, T0);
  KP_ASSERT_EQ(strlen(m.sha256), 64);
  s = msm("telegram", "KZ", "AS9198", T0, "{\"telegram_tcp_blocking\":false,\"telegram_http_blocking\":false,\"telegram_web_status\":\"ok\"}", NULL);
  KP_ASSERT_OK(kp_msm_parse(s, strlen(s), &m));
  KP_ASSERT(!m.failed);
  s = msm("signal", "KZ", "AS9198", T0, "{\"signal_backend_status\":\"ok\",\"keepon_failed\":true,\"keepon_technique\":\"throttled\"}", NULL);
  KP_ASSERT_OK(kp_msm_parse(s, strlen(s), &m));
  KP_ASSERT(m.failed);
  KP_ASSERT_STREQ(m.technique, "throttled");
  s = msm("web_connectivity", "KZ", "AS9198", T0, "{\"blocking\":\"dns\"}", "\"https://WWW.Example.org/x\"");
  KP_ASSERT_OK(kp_msm_parse(s, strlen(s), &m));
  KP_ASSERT(m.failed);
  KP_ASSERT_STREQ(m.domain, "www.example.org");
  KP_ASSERT_STREQ(m.technique, "dns");
  s = msm("web_connectivity", "KZ", "AS9198", T0, "{\"blocking\":null}", "\"https://example.org/\"");
  KP_ASSERT_EQ(kp_msm_parse(s, strlen(s), &m), KP_ERR_NOTFOUND);
  /* keepon's own keys (docs/probe.md) win over OONI's */
  s = msm("telegram", "KZ", "AS9198", T0, "{\"telegram_tcp_blocking\":false,\"keepon_verdict\":\"blocked\",\"keepon_technique\":\"tls_sni_reset\"}", NULL);
  KP_ASSERT_OK(kp_msm_parse(s, strlen(s), &m));
  KP_ASSERT(m.failed);
  KP_ASSERT_STREQ(m.technique, "tls_sni_reset");
  s = msm("whatsapp", "KZ", "AS9198", T0, "{\"whatsapp_endpoints_status\":\"blocked\",\"keepon_verdict\":\"ok\"}", NULL);
  KP_ASSERT_OK(kp_msm_parse(s, strlen(s), &m));
  KP_ASSERT(!m.failed);
  char wrapped[2200];
  s = msm("signal", "KZ", "AS9198", T0, "{\"keepon_verdict\":\"blocked\",\"keepon_technique\":\"tcp_reset\"}", NULL);
  snprintf(wrapped, sizeof wrapped, "{\"format\":\"json\",\"content\":%.*s}", (int)strlen(s) - 1, s);
  KP_ASSERT_OK(kp_msm_parse(wrapped, strlen(wrapped), &m)); /* collector upload body */
  KP_ASSERT(m.failed && !strcmp(m.test_name, "signal"));
  s = msm("signal", "KZ", "AS9198", T0, "{\"keepon_verdict\":\"blocked\",\"keepon_technique\":\"network_down\"}", NULL);
  KP_ASSERT_EQ(kp_msm_parse(s, strlen(s), &m), KP_ERR_NOTFOUND); /* says nothing about the service */
}

KP_TEST(default_country_for_entities_without_one) {
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  kp_sigset_set_default_cc(s, "KZ");
  const char *l = "{\"type\":\"signal\",\"entity_type\":\"asn\",\"entity_code\":\"AS48503\",\"datasource\":\"ping-slash24\",\"t\":0,\"step\":600,\"value\":3}\n"
                  "{\"type\":\"signal\",\"entity_type\":\"asn\",\"entity_code\":\"AS1\",\"datasource\":\"bgp\",\"t\":0,\"step\":600,\"value\":3,\"cc\":\"UZ\"}\n";
  kp_read_stats_t st = {0};
  KP_ASSERT_OK(kp_sigset_add_jsonl(s, l, strlen(l), &st));
  KP_ASSERT_OK(kp_sigset_finalize(s));
  KP_ASSERT_STREQ(kp_sigset_find(s, "asn", "AS48503", "ping-slash24")->cc, "KZ");
  KP_ASSERT_STREQ(kp_sigset_find(s, "asn", "AS1", "bgp")->cc, "UZ"); /* a known country stays */
  kp_sigset_free(s);
}

KP_TEST(real_ooni_measurements) {
  const char *sh = kp_test_shared();
  if (!sh) KP_SKIP("shared data absent");
  const struct { const char *file; const char *test; bool failed; } cases[] = {
      {"whatsapp.json", "whatsapp", false}, {"telegram_nourl.json", "telegram", false},
      {"signal_022.json", "signal", false}, {"report1.json", "web_connectivity", false}};
  for (size_t i = 0; i < 4; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/ooni/real/%s", sh, cases[i].file);
    kp_buf_t b;
    kp_buf_init(&b, 1 << 24);
    KP_ASSERT_OK(kp_file_read(path, &b));
    kp_msm_t m;
    KP_ASSERT_OK(kp_msm_parse(b.data, b.len, &m));
    KP_ASSERT_STREQ(m.test_name, cases[i].test);
    KP_ASSERT_EQ(m.failed, cases[i].failed);
    KP_ASSERT(m.uid[0] && m.t > 1500000000);
    kp_buf_free(&b);
  }
}

KP_TEST(jsonl_reader_counts_bad_lines_and_converts_measurements) {
  kp_buf_t in;
  kp_buf_init(&in, 1 << 20);
  kp_buf_puts(&in, "{\"type\":\"signal\",\"entity_type\":\"country\",\"entity_code\":\"KZ\",\"datasource\":\"bgp\",\"t\":0,\"step\":300,\"value\":5}\n");
  kp_buf_puts(&in, "not json\n\n");
  for (int i = 0; i < 4; i++) /* 3 of 4 fail, in one hour bin; two techniques */
    kp_buf_puts(&in, msm("whatsapp", "KZ", "AS9198", T0 + 60 * i,
                         i == 0 ? "{\"whatsapp_endpoints_status\":\"ok\"}"
                                : i == 1 ? "{\"whatsapp_endpoints_status\":\"blocked\",\"technique\":\"tcp-reset\"}"
                                         : "{\"whatsapp_endpoints_status\":\"blocked\",\"technique\":\"dns-hijack\"}",
                         NULL));
  kp_buf_puts(&in, "{\"test_name\":\"whatsapp\"}\n");
  kp_buf_puts(&in, msm("whatsapp", "KZ", "AS9198", T0 + 7200, "{\"whatsapp_endpoints_status\":\"ok\"}", NULL));
  in.len--; /* last line without newline */
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  kp_read_stats_t st = {0};
  KP_ASSERT_OK(kp_sigset_add_jsonl(s, in.data, in.len, &st));
  KP_ASSERT_EQ(st.signals, 1);
  KP_ASSERT_EQ(st.measurements, 5);
  KP_ASSERT_EQ(st.bad, 2);
  KP_ASSERT_EQ(st.first_bad[0], 2);
  KP_ASSERT_EQ(st.first_bad[1], 8);
  KP_ASSERT_OK(kp_sigset_finalize(s));
  const kp_series_t *c = kp_sigset_find(s, "country", "KZ", "probe-whatsapp");
  const kp_series_t *a = kp_sigset_find(s, "asn", "AS9198", "probe-whatsapp");
  KP_ASSERT(c && a);
  KP_ASSERT_STREQ(a->cc, "KZ");
  KP_ASSERT_EQ(c->n, 3);
  KP_ASSERT_NEAR(c->v[0], 750, 1e-9);
  KP_ASSERT(isnan(c->v[1]));
  KP_ASSERT_NEAR(c->v[2], 0, 1e-9);
  KP_ASSERT_EQ(c->cnt[0], 4);
  KP_ASSERT_EQ(c->ntech, 2);
  KP_ASSERT_EQ(c->nev, 3);
  /* the converter's output reads back to the same series */
  kp_buf_t pts;
  kp_buf_init(&pts, 1 << 20);
  KP_ASSERT_OK(kp_sigset_write_probe_points(s, &pts));
  KP_ASSERT(strstr(kp_buf_str(&pts), "\"value\":750,\"n\":4,\"cc\":\"KZ\",\"techniques\":{\"dns-hijack\":2,\"tcp-reset\":1}"));
  kp_sigset_t *s2;
  KP_ASSERT_OK(kp_sigset_new(3600, &s2));
  kp_read_stats_t st2 = {0};
  KP_ASSERT_OK(kp_sigset_add_jsonl(s2, pts.data, pts.len, &st2));
  KP_ASSERT_OK(kp_sigset_finalize(s2));
  const kp_series_t *c2 = kp_sigset_find(s2, "country", "KZ", "probe-whatsapp");
  KP_ASSERT(c2 && c2->n == 3 && c2->v[0] == 750 && c2->cnt[0] == 4 && c2->ntech == 2);
  /* IODA-shaped signals/raw */
  kp_buf_t raw;
  kp_buf_init(&raw, 1 << 20);
  KP_ASSERT_OK(kp_sigset_signals_raw(s, "country", "KZ", "probe-whatsapp", T0, T0 + 3 * 3600, &raw));
  KP_ASSERT(strstr(kp_buf_str(&raw), "\"values\":[750,null,0]"));
  kp_buf_free(&raw);
  kp_buf_free(&pts);
  kp_buf_free(&in);
  kp_sigset_free(s2);
  kp_sigset_free(s);
}

/* ---- merging: a synthetic world ---- */

static void series(kp_sigset_t *s, const char *et, const char *code, const char *ds, const char *cc, size_t n,
                   int64_t step, double base, int64_t down0, int64_t down1, double down_v) {
  for (size_t i = 0; i < n; i++) {
    kp_signal_point_t p = {0};
    snprintf(p.entity_type, sizeof p.entity_type, "%s", et);
    snprintf(p.entity_code, sizeof p.entity_code, "%s", code);
    snprintf(p.datasource, sizeof p.datasource, "%s", ds);
    if (cc) memcpy(p.cc, cc, 3);
    p.t = T0 + (int64_t)i * step;
    p.step = step;
    p.has_value = true;
    p.value = p.t >= down0 && p.t < down1 ? down_v : base + (double)(i % 5);
    KP_ASSERT_OK(kp_sigset_add_point(s, &p));
  }
}

static kp_detect_cfg_t test_cfg(void) {
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  c.active.history = c.bgp.history = (kp_span_t){12 * 3600, false};
  return c;
}

static kp_incset_t *merge(kp_sigset_t *s, kp_event_list_t *ev) {
  kp_detect_cfg_t c = test_cfg();
  KP_ASSERT_OK(kp_sigset_finalize(s));
  memset(ev, 0, sizeof *ev);
  KP_ASSERT_OK(kp_detect_run(&c, s, ev));
  kp_incset_t *is;
  KP_ASSERT_OK(kp_incidents_merge(&c, s, ev, &is));
  return is;
}

static bool has(const char *const *v, size_t n, const char *x) {
  for (size_t i = 0; i < n; i++)
    if (strstr(v[i], x)) return true;
  return false;
}

KP_TEST(merge_full_shutdown_bgp_visible) {
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  int64_t d0 = T0 + 86400, d1 = T0 + 86400 + 6 * 3600;
  series(s, "country", "KZ", "ping-slash24", NULL, 288, 600, 9000, d0, d1, 400);
  series(s, "country", "KZ", "bgp", NULL, 576, 300, 12000, 0, 0, 0);         /* BGP unchanged */
  series(s, "asn", "AS9198", "ping-slash24", "KZ", 288, 600, 5000, d0 + 600, d1, 100);
  series(s, "country", "UZ", "ping-slash24", NULL, 288, 600, 3000, 0, 0, 0); /* elsewhere: quiet */
  series(s, "country", "KZ", "bgp-updates", NULL, 288, 600, 20, d0 - 600, d0, 400); /* burst 10 min before */
  kp_event_list_t ev;
  kp_incset_t *is = merge(s, &ev);
  if (kp_incset_count(is) != 1) {
    kp_buf_t j;
    kp_buf_init(&j, 1 << 20);
    kp_incidents_json(is, &j);
    fprintf(stderr, "%s\n", kp_buf_str(&j));
  }
  KP_ASSERT_EQ(kp_incset_count(is), 1);
  const kp_incident_t *inc = kp_incset_at(is, 0);
  KP_ASSERT_STREQ(inc->cc, "KZ");
  KP_ASSERT_EQ(inc->type, KP_INC_FULL);
  KP_ASSERT_EQ(inc->level, KP_LVL_CRITICAL);
  KP_ASSERT_EQ(inc->start, d0);
  KP_ASSERT_EQ(inc->end, d1);
  KP_ASSERT_EQ(inc->nevents, 2);
  KP_ASSERT(inc->nasns == 1 && !strcmp(inc->asns[0], "AS9198"));
  KP_ASSERT(has(inc->findings, inc->nfindings, "BGP visible, traffic down (country KZ)"));
  KP_ASSERT(has(inc->findings, inc->nfindings, "BGP update spike at 2022-01-04 23:50 UTC (400 updates, day median 22)"));
  KP_ASSERT(!inc->ongoing);
  KP_ASSERT(inc->nevidence >= 1 && !strcmp(inc->evidence[0].kind, "signal"));
  double conf_one = inc->confidence;
  KP_ASSERT_EQ(inc->nsources, 1);
  KP_ASSERT_NEAR(conf_one, 0.60, 1e-9); /* ping-slash24's weight */
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);

  /* the same outage seen by BGP as well: more agreeing sources, higher confidence, no finding */
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  series(s, "country", "KZ", "ping-slash24", NULL, 288, 600, 9000, d0, d1, 400);
  series(s, "country", "KZ", "bgp", NULL, 576, 300, 12000, d0, d1, 2000);
  is = merge(s, &ev);
  KP_ASSERT_EQ(kp_incset_count(is), 1);
  inc = kp_incset_at(is, 0);
  KP_ASSERT(inc->confidence > conf_one);
  KP_ASSERT_NEAR(inc->confidence, 0.76, 1e-9); /* 1 - (1 - .6)(1 - .4) */
  KP_ASSERT(!has(inc->findings, inc->nfindings, "BGP visible"));
  KP_ASSERT(!has(inc->findings, inc->nfindings, "update spike"));
  KP_ASSERT_EQ(inc->nsources, 2);
  KP_ASSERT(inc->score > 0);
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);
}

/* The BGP update spike finding: a bin > 5x the day's median and at least median + 10, both
 * edges (issue 13.7). Day medians: 22 (base 20, +0..4) where 5x rules; 2 (base 0) where +10 does. */
static bool spike_found(double base, double burst) {
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  int64_t d0 = T0 + 86400, d1 = T0 + 86400 + 6 * 3600;
  series(s, "country", "KZ", "ping-slash24", NULL, 288, 600, 9000, d0, d1, 400);
  series(s, "country", "KZ", "bgp", NULL, 576, 300, 12000, 0, 0, 0);
  series(s, "country", "KZ", "bgp-updates", NULL, 288, 600, base, d0 - 600, d0, burst);
  kp_event_list_t ev;
  kp_incset_t *is = merge(s, &ev);
  KP_ASSERT_EQ(kp_incset_count(is), 1);
  const kp_incident_t *inc = kp_incset_at(is, 0);
  bool found = has(inc->findings, inc->nfindings, "BGP update spike");
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);
  return found;
}

KP_TEST(bgp_update_spike_edges) {
  KP_ASSERT(!spike_found(20, 110)); /* = 5 x 22 */
  KP_ASSERT(spike_found(20, 111));
  KP_ASSERT(!spike_found(0, 11)); /* > 5 x 2 but < 2 + 10 */
  KP_ASSERT(spike_found(0, 12));
}

static bool kz_down(int64_t t) { /* the published Kazakhstan windows (anchors §0) */
  static const int w[5][4] = {{5, 1050, 5, 1320}, {6, 630, 6, 840}, {7, 150, 7, 360}, {8, 150, 8, 600}, {9, 150, 9, 360}};
  int64_t day0 = 1640995200LL; /* 2022-01-01 */
  if (t < day0 + 4 * 86400 + 11 * 3600 || t >= day0 + 10 * 86400 + 2 * 3600 + 900) return false;
  for (int i = 0; i < 5; i++)
    if (t >= day0 + (w[i][0] - 1) * 86400LL + w[i][1] * 60 && t < day0 + (w[i][2] - 1) * 86400LL + w[i][3] * 60) return false;
  return true;
}

KP_TEST(merge_curfew_keeps_an_earlier_regional_outage_apart) {
  /* Jan 5 03:10-05:20 one region goes dark (the country dips to warning level), then the
   * national curfew-style blackout from 11:00: two incidents, not one starting at 03:10 */
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  int64_t r0 = T0 + 86400 + 3 * 3600 + 600, r1 = T0 + 86400 + 5 * 3600 + 1200;
  for (int64_t t = T0 - 2 * 86400; t < T0 + 8 * 86400; t += 600) {
    int64_t i = t / 600;
    bool nat = kz_down(t), reg = t >= r0 && t < r1;
    kp_signal_point_t p = {.t = t, .step = 600, .has_value = true};
    snprintf(p.entity_type, sizeof p.entity_type, "country");
    snprintf(p.entity_code, sizeof p.entity_code, "KZ");
    snprintf(p.datasource, sizeof p.datasource, "ping-slash24");
    p.value = nat ? 200 : reg ? 6500 : 9000 + (double)(i % 5);
    KP_ASSERT_OK(kp_sigset_add_point(s, &p));
    snprintf(p.entity_type, sizeof p.entity_type, "region");
    snprintf(p.entity_code, sizeof p.entity_code, "KZ/R3");
    p.value = nat || reg ? 5 : 2500 + (double)(i % 3);
    KP_ASSERT_OK(kp_sigset_add_point(s, &p));
  }
  kp_event_list_t ev;
  kp_incset_t *is = merge(s, &ev);
  KP_ASSERT_EQ(kp_incset_count(is), 2);
  const kp_incident_t *a = kp_incset_at(is, 0), *b = kp_incset_at(is, 1);
  KP_ASSERT_EQ(a->type, KP_INC_REGIONAL);
  KP_ASSERT_EQ(a->start, r0);
  KP_ASSERT_EQ(a->end, r1);
  KP_ASSERT_EQ(b->type, KP_INC_FULL);
  KP_ASSERT(b->curfew);
  KP_ASSERT_EQ(b->start, T0 + 86400 + 11 * 3600);
  KP_ASSERT_EQ(b->nwindows, 6);
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);
}

KP_TEST(merge_regional_and_per_network) {
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  int64_t d0 = T0 + 86400;
  series(s, "country", "KZ", "ping-slash24", NULL, 288, 600, 9000, 0, 0, 0);
  series(s, "region", "KZ/Almaty", "ping-slash24", NULL, 288, 600, 2000, d0, d0 + 7200, 10);
  series(s, "asn", "AS48503", "ping-slash24", "KZ", 288, 600, 800, d0 + 40000, d0 + 50000, 10);
  kp_event_list_t ev;
  kp_incset_t *is = merge(s, &ev);
  KP_ASSERT_EQ(kp_incset_count(is), 2);
  KP_ASSERT_EQ(kp_incset_at(is, 0)->type, KP_INC_REGIONAL);
  KP_ASSERT_STREQ(kp_incset_at(is, 0)->regions[0], "KZ/Almaty");
  KP_ASSERT_EQ(kp_incset_at(is, 1)->type, KP_INC_NETWORK);
  KP_ASSERT_STREQ(kp_incset_at(is, 1)->asns[0], "AS48503");
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);
}

/* measurements in no time order (the demo appends probe runs as files, not by time): the same
 * technique in one bin twice, with another bin's measurement between them, is one key once in the
 * points written (a duplicate key made serve refuse the whole batch) */
KP_TEST(probe_points_one_key_per_technique_out_of_order) {
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  const int64_t at[] = {T0 + 60, T0 + 3600 + 60, T0 + 120, T0 + 180};
  const char *tech[] = {"ip_blackhole", "throttled", "ip_blackhole", "throttled"};
  for (int i = 0; i < 4; i++) {
    kp_msm_t m = {0};
    snprintf(m.test_name, sizeof m.test_name, "facebook_messenger");
    memcpy(m.cc, "KZ", 3);
    snprintf(m.asn, sizeof m.asn, "AS9198");
    m.t = at[i];
    snprintf(m.uid, sizeof m.uid, "uid-ooo-%d", i);
    memset(m.sha256, 'a', 64);
    m.failed = true;
    snprintf(m.technique, sizeof m.technique, "%s", tech[i]);
    KP_ASSERT_OK(kp_sigset_add_msm(s, &m));
  }
  KP_ASSERT_OK(kp_sigset_finalize(s));
  const kp_series_t *c = kp_sigset_find(s, "country", "KZ", "probe-facebook_messenger");
  KP_ASSERT(c);
  KP_ASSERT_EQ(c->ntech, 3); /* bin 0: ip_blackhole 2, throttled 1; bin 1: throttled 1 */
  kp_buf_t pts;
  kp_buf_init(&pts, 1 << 20);
  KP_ASSERT_OK(kp_sigset_write_probe_points(s, &pts));
  KP_ASSERT(strstr(kp_buf_str(&pts), "\"techniques\":{\"ip_blackhole\":2,\"throttled\":1}"));
  kp_buf_free(&pts);
  kp_sigset_free(s);
}

static void add_msms(kp_sigset_t *s, const char *test, int64_t from, int hours, double fail_from, int64_t f0,
                     int64_t f1, const char *tech) {
  for (int h = 0; h < hours; h++)
    for (int k = 0; k < 4; k++) {
      kp_msm_t m = {0};
      snprintf(m.test_name, sizeof m.test_name, "%s", test);
      memcpy(m.cc, "KZ", 3);
      snprintf(m.asn, sizeof m.asn, "AS9198");
      m.t = from + h * 3600 + k * 600;
      snprintf(m.uid, sizeof m.uid, "uid-%s-%d-%d", test, h, k);
      memset(m.sha256, 'a', 64);
      m.failed = m.t >= f0 && m.t < f1 && k < (int)(fail_from * 4);
      if (m.failed && tech) snprintf(m.technique, sizeof m.technique, "%s", tech);
      KP_ASSERT_OK(kp_sigset_add_msm(s, &m));
    }
}

KP_TEST(merge_service_blocking_and_throttling) {
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  int64_t b0 = T0 + 30 * 3600, b1 = T0 + 60 * 3600;
  series(s, "country", "KZ", "ping-slash24", NULL, 600, 600, 9000, 0, 0, 0); /* network up */
  add_msms(s, "whatsapp", T0, 96, 1.0, b0, b1, "tcp-reset");
  add_msms(s, "telegram", T0, 96, 1.0, b0 + 3600, b1, "dns-hijack");
  kp_event_list_t ev;
  kp_incset_t *is = merge(s, &ev);
  KP_ASSERT_EQ(kp_incset_count(is), 1);
  const kp_incident_t *inc = kp_incset_at(is, 0);
  KP_ASSERT_EQ(inc->type, KP_INC_SERVICE);
  KP_ASSERT_EQ(inc->start, b0);
  KP_ASSERT_EQ(inc->end, b1);
  KP_ASSERT_EQ(inc->nservices, 2);
  KP_ASSERT_STREQ(inc->services[0], "telegram");
  KP_ASSERT_STREQ(inc->services[1], "whatsapp");
  KP_ASSERT_EQ(inc->ntechniques, 2);
  KP_ASSERT_STREQ(inc->techniques[0].name, "tcp-reset"); /* 30 h × 4 vs 29 h × 4 */
  KP_ASSERT_EQ(inc->techniques[0].count, 120);
  /* per service: each app keeps its own technique, nothing crosses over */
  KP_ASSERT_EQ(inc->nservice_techniques, 2);
  for (size_t i = 0; i < inc->nservice_techniques; i++) {
    const char *svc = inc->service_techniques[i].service, *t = inc->service_techniques[i].name;
    KP_ASSERT_MSG(!strcmp(svc, "whatsapp") ? !strcmp(t, "tcp-reset") && inc->service_techniques[i].count == 120
                                           : !strcmp(svc, "telegram") && !strcmp(t, "dns-hijack") &&
                                                 inc->service_techniques[i].count == 116,
                  "unexpected %s: %s x%lld", svc, t, (long long)inc->service_techniques[i].count);
  }
  KP_ASSERT(has(inc->findings, inc->nfindings, "network up while services failed"));
  KP_ASSERT(inc->nevidence > 0 && !strcmp(inc->evidence[0].kind, "measurement") && strlen(inc->evidence[0].hash) == 64);
  KP_ASSERT_EQ(inc->nasns, 1);
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);

  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  add_msms(s, "signal", T0, 96, 0.75, b0, b1, "throttled");
  is = merge(s, &ev);
  KP_ASSERT_EQ(kp_incset_count(is), 1);
  KP_ASSERT_EQ(kp_incset_at(is, 0)->type, KP_INC_THROTTLING);
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);

  /* one throttled app among blocked ones: service blocking, the throttling kept per service */
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  add_msms(s, "whatsapp", T0, 96, 1.0, b0, b1, "tcp-reset");
  add_msms(s, "signal", T0, 96, 1.0, b0, b1, "throttled");
  is = merge(s, &ev);
  KP_ASSERT_EQ(kp_incset_count(is), 1);
  inc = kp_incset_at(is, 0);
  KP_ASSERT_EQ(inc->type, KP_INC_SERVICE);
  bool sig_throttled = false;
  for (size_t i = 0; i < inc->nservice_techniques; i++)
    sig_throttled |= !strcmp(inc->service_techniques[i].service, "signal") &&
                     !strcmp(inc->service_techniques[i].name, "throttled");
  KP_ASSERT(sig_throttled);
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);
}

/* ---- alerts ---- */

static size_t count_str(const char *h, const char *n) {
  size_t c = 0;
  for (const char *p = h; (p = strstr(p, n)); p++) c++;
  return c;
}

KP_TEST(alerts_open_level_close) {
  kp_alert_state_t *st;
  KP_ASSERT_OK(kp_alert_state_new(&st));
  kp_buf_t out;
  kp_buf_init(&out, 1 << 20);
  size_t n;
  int64_t d0 = T0 + 86400;
  /* run 1: the outage is ongoing at warning level */
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  series(s, "country", "KZ", "ping-slash24", NULL, 150, 600, 9000, d0, d0 + 86400, 6000);
  kp_event_list_t ev;
  kp_incset_t *is = merge(s, &ev);
  KP_ASSERT_EQ(kp_incset_count(is), 1);
  KP_ASSERT(kp_incset_at(is, 0)->ongoing);
  KP_ASSERT_OK(kp_alerts_diff(st, is, &out, &n));
  KP_ASSERT_EQ(n, 1);
  KP_ASSERT(strstr(kp_buf_str(&out), "\"alert\":\"open\",\"level\":\"warning\""));
  kp_buf_reset(&out);
  KP_ASSERT_OK(kp_alerts_diff(st, is, &out, &n)); /* nothing changed */
  KP_ASSERT_EQ(n, 0);
  kp_incset_free(is);
  kp_events_free(&ev);
  /* run 2: more data, it deepens to critical; run 3: it ends */
  series(s, "country", "KZ", "ping-slash24", NULL, 160, 600, 9000, d0, d0 + 86400, 2000);
  is = merge(s, &ev);
  KP_ASSERT_OK(kp_alerts_diff(st, is, &out, &n));
  KP_ASSERT_EQ(n, 1);
  KP_ASSERT(strstr(kp_buf_str(&out), "\"alert\":\"level\",\"level\":\"critical\""));
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_buf_reset(&out);
  series(s, "country", "KZ", "ping-slash24", NULL, 200, 600, 9000, d0, d0 + 5 * 3600, 2000);
  is = merge(s, &ev);
  KP_ASSERT_OK(kp_alerts_diff(st, is, &out, &n));
  KP_ASSERT_EQ(n, 1);
  KP_ASSERT_EQ(count_str(kp_buf_str(&out), "\"alert\":\"close\""), 1);
  kp_incset_free(is);
  kp_events_free(&ev);
  /* run 4: later data continues the same outage to the end: it opens again */
  kp_buf_reset(&out);
  series(s, "country", "KZ", "ping-slash24", NULL, 220, 600, 9000, d0, d0 + 100 * 3600, 2000);
  is = merge(s, &ev);
  KP_ASSERT_OK(kp_alerts_diff(st, is, &out, &n));
  KP_ASSERT_EQ(n, 1);
  KP_ASSERT(strstr(kp_buf_str(&out), "\"alert\":\"open\""));
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);
  kp_buf_free(&out);
  kp_alert_state_free(st);
}

/* ---- webhook: a receiver on 127.0.0.1 in a child process ---- */

KP_TEST(webhook_posts_json) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  KP_ASSERT(bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 4) == 0);
  socklen_t al = sizeof a;
  getsockname(ls, (struct sockaddr *)&a, &al);
  char got[256];
  snprintf(got, sizeof got, "%s/got", kp_test_tmpdir());
  pid_t pid = fork();
  if (pid == 0) {
    for (int k = 0; k < 2; k++) { /* first request 200, second 500 */
      int c = accept(ls, NULL, NULL);
      char req[4096];
      size_t n = 0;
      ssize_t r;
      while (n < sizeof req && (r = recv(c, req + n, sizeof req - n, 0)) > 0) {
        n += (size_t)r;
        char *body = memmem(req, n, "\r\n\r\n", 4);
        if (body && strstr(req, "Content-Length: 13") && (size_t)(body + 4 - req) + 13 <= n) break;
      }
      if (k == 0) kp_file_write_atomic(got, req, n, 0600);
      const char *resp = k == 0 ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" : "HTTP/1.1 500 Oops\r\n\r\n";
      send(c, resp, strlen(resp), 0);
      close(c);
    }
    _exit(0);
  }
  close(ls);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", ntohs(a.sin_port));
  int code;
  kp_httpc_t *http = NULL;
  KP_ASSERT_OK(kp_httpc_new(NULL, &http));
  KP_ASSERT_OK(kp_webhook_post(http, url, "{\"alert\":\"x\"}", 13, 3000, &code));
  KP_ASSERT_EQ(code, 200);
  KP_ASSERT_EQ(kp_webhook_post(http, url, "{\"alert\":\"y\"}", 13, 3000, &code), KP_ERR_PERM);
  KP_ASSERT_EQ(code, 500);
  int wst;
  waitpid(pid, &wst, 0);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 16);
  KP_ASSERT_OK(kp_file_read(got, &b));
  KP_ASSERT(strncmp(kp_buf_str(&b), "POST /hook HTTP/1.1\r\n", 21) == 0);
  KP_ASSERT(strstr(kp_buf_str(&b), "Content-Type: application/json\r\n"));
  KP_ASSERT(strstr(kp_buf_str(&b), "\r\n\r\n{\"alert\":\"x\"}"));
  kp_buf_free(&b);
  /* refused connection and bad URLs are errors, not crashes */
  KP_ASSERT_EQ(kp_webhook_post(http, url, "{}", 2, 500, &code), KP_ERR_IO); /* refused */
  KP_ASSERT_EQ(code, 0);
  KP_ASSERT_EQ(kp_webhook_post(http, "ftp://127.0.0.1/", "{}", 2, 500, &code), KP_ERR_INVAL);
  kp_httpc_free(http);
}

/* ---- signals/raw from a server ---- */

static const char raw_doc[] =
    "{\"type\":\"signals\",\"metadata\":{},\"data\":[[{\"entityType\":\"asn\",\"entityCode\":\"AS9198\","
    "\"datasource\":\"ping-slash24\",\"from\":1641340800,\"until\":1641343200,\"step\":600,"
    "\"values\":[100,null,98,97]},{\"entityType\":\"asn\",\"entityCode\":\"AS9198\",\"datasource\":\"bgp\","
    "\"from\":-5,\"step\":600,\"values\":[1]},{\"entityType\":\"asn\"}]]}\n";

KP_TEST(signals_raw_parse) {
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  size_t pts, bad;
  KP_ASSERT_OK(kp_signals_raw_parse(raw_doc, strlen(raw_doc), "KZ", s, &pts, &bad));
  KP_ASSERT_EQ(pts, 3);
  KP_ASSERT_EQ(bad, 2);
  KP_ASSERT_OK(kp_sigset_finalize(s));
  const kp_series_t *a = kp_sigset_find(s, "asn", "AS9198", "ping-slash24");
  KP_ASSERT(a && a->n == 4 && a->v[0] == 100 && isnan(a->v[1]) && a->v[3] == 97 && !strcmp(a->cc, "KZ"));
  KP_ASSERT_EQ(kp_signals_raw_parse("{\"data\":3}", 10, NULL, s, &pts, &bad), KP_ERR_INVAL);
  KP_ASSERT(kp_signals_raw_parse("{\"data\":[", 9, NULL, s, &pts, &bad) != KP_OK);
  /* our own signals/raw output parses back */
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  KP_ASSERT_OK(kp_sigset_signals_raw(s, "asn", "AS9198", NULL, 0, 1641343200, &b));
  /* IODA's v2 envelope, from its definition (ioda-api src/Response/Envelope.php, fields in
   * declaration order; signals/raw request parameters from src/Controller/SignalsController.php),
   * and IODA's asn codes: the bare number (its default entity name is "AS<n>") */
  const char *env = kp_buf_str(&b);
  static const char want[] = "{\"type\":\"signals\",\"metadata\":{\"requestTime\":\"2022-01-05T00:40:00+00:00\","
                             "\"responseTime\":\"2022-01-05T00:40:00+00:00\"},\"requestParameters\":{\"from\":0,"
                             "\"until\":1641343200,\"datasource\":null,\"sourceParams\":null,\"maxPoints\":null},"
                             "\"error\":null,\"perf\":null,\"data\":[[{\"entityType\":\"asn\",\"entityCode\":\"9198\","
                             "\"entityName\":\"AS9198\",";
  KP_ASSERT_MSG(!strncmp(env, want, strlen(want)), "envelope: %.400s", env);
  KP_ASSERT(strstr(env, "]],\"copyright\":\"") && !strstr(env, "\"entityCode\":\"AS9198\""));
  kp_sigset_t *s2;
  KP_ASSERT_OK(kp_sigset_new(3600, &s2));
  KP_ASSERT_OK(kp_signals_raw_parse(b.data, b.len, "KZ", s2, &pts, &bad));
  KP_ASSERT_EQ(pts, 3);
  KP_ASSERT_OK(kp_sigset_finalize(s2)); /* read back under keepon's own code */
  KP_ASSERT(kp_sigset_find(s2, "asn", "AS9198", "ping-slash24") && !kp_sigset_find(s2, "asn", "9198", "ping-slash24"));
  kp_buf_free(&b);
  kp_sigset_free(s2);
  kp_sigset_free(s);
}

KP_TEST(signals_fetch_from_a_server) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  KP_ASSERT(bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 4) == 0);
  socklen_t al = sizeof a;
  getsockname(ls, (struct sockaddr *)&a, &al);
  char got[256];
  snprintf(got, sizeof got, "%s/req", kp_test_tmpdir());
  pid_t pid = fork();
  if (pid == 0) {
    int c = accept(ls, NULL, NULL);
    char req[4096];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof req && (r = recv(c, req + n, sizeof req - n, 0)) > 0) {
      n += (size_t)r;
      if (memmem(req, n, "\r\n\r\n", 4)) break;
    }
    kp_file_write_atomic(got, req, n, 0600);
    char resp[2048];
    int k = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(raw_doc), raw_doc);
    send(c, resp, (size_t)k, 0);
    close(c);
    _exit(0);
  }
  close(ls);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  size_t pts = 0;
  kp_httpc_t *http = NULL;
  KP_ASSERT_OK(kp_httpc_new(NULL, &http));
  KP_ASSERT_OK(kp_signals_fetch(http, url, "region", "KZ/Almaty city", 1641340800, 1641343200, "KZ", 3000, s, &pts));
  KP_ASSERT_EQ(pts, 3);
  kp_httpc_free(http);
  int wst;
  waitpid(pid, &wst, 0);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 16);
  KP_ASSERT_OK(kp_file_read(got, &b));
  KP_ASSERT(strncmp(kp_buf_str(&b), "GET /api/v1/signals/raw/region/KZ%2FAlmaty%20city?from=1641340800&until=1641343200 HTTP/1.1\r\n", 93) == 0);
  kp_buf_free(&b);
  kp_sigset_free(s);
}

/* Full vs partial shutdown (item 8): the share of the country's baseline blocks down at the
 * deepest bin against KP_INC_FULL_SHARE (0.90). Baseline ≈ 10,002 up blocks (median of
 * 10000 + i % 5); 950 still up = 90.5 % down -> full, 1,050 up = 89.5 % -> partial, so moving
 * the threshold by 0.005 either way fails one side. A third of the blocks up -> partial. */
static const kp_incident_t *national(double still_up, kp_sigset_t **s, kp_event_list_t *ev, kp_incset_t **is) {
  KP_ASSERT_OK(kp_sigset_new(3600, s));
  series(*s, "country", "KZ", "ping-slash24", NULL, 288, 600, 10000, T0 + 86400, T0 + 86400 + 6 * 3600, still_up);
  *is = merge(*s, ev);
  KP_ASSERT_EQ(kp_incset_count(*is), 1);
  return kp_incset_at(*is, 0);
}

KP_TEST(full_vs_partial_shutdown_boundary) {
  static const struct { double up; kp_inc_type_t type; double share; } cases[] = {
      {0, KP_INC_FULL, 1.0},
      {950, KP_INC_FULL, 0.905},
      {1050, KP_INC_PARTIAL, 0.895},
      {1000, KP_INC_FULL, 0.900},    /* 90.0 % down: full (>= KP_INC_FULL_SHARE) */
      {1101, KP_INC_PARTIAL, 0.890}, /* 89 % down: partial */
      {3334, KP_INC_PARTIAL, 0.667}, /* a third of the blocks stay up: IODA's partial */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    kp_sigset_t *s;
    kp_event_list_t ev;
    kp_incset_t *is;
    const kp_incident_t *inc = national(cases[i].up, &s, &ev, &is);
    KP_ASSERT_MSG(inc->type == cases[i].type, "%.0f up: %s", cases[i].up, kp_inc_type_name(inc->type));
    KP_ASSERT_NEAR(inc->down_share, cases[i].share, 0.001);
    KP_ASSERT_EQ(inc->level, KP_LVL_CRITICAL);
    kp_buf_t j;
    kp_buf_init(&j, 1 << 16);
    KP_ASSERT_OK(kp_incidents_json(is, &j));
    KP_ASSERT(strstr(kp_buf_str(&j), cases[i].type == KP_INC_FULL ? "\"type\":\"full shutdown\""
                                                                   : "\"type\":\"partial shutdown\""));
    KP_ASSERT(strstr(kp_buf_str(&j), "\"down_share\":"));
    kp_buf_free(&j);
    kp_incset_free(is);
    kp_events_free(&ev);
    kp_sigset_free(s);
  }
  KP_ASSERT_STREQ(kp_inc_type_name(KP_INC_PARTIAL), "partial shutdown");
}

/* A cut is not an app block (item 7): whatsapp is reset from b0 (a real block) and, inside the
 * national cut [d0, d1), its connects time out (ip_blackhole as a probe without a working
 * control would say). Only the reset counts as the service's technique; the cut's failures are
 * "unreachable during the shutdown". */
KP_TEST(service_failures_inside_cut_are_not_a_technique) {
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  int64_t b0 = T0 + 30 * 3600, b1 = T0 + 80 * 3600, d0 = T0 + 40 * 3600, d1 = T0 + 46 * 3600;
  series(s, "country", "KZ", "ping-slash24", NULL, 600, 600, 10000, d0, d1, 0);
  int64_t in_cut = 0, reset = 0;
  for (int h = 0; h < 96; h++)
    for (int k = 0; k < 4; k++) {
      kp_msm_t m = {0};
      snprintf(m.test_name, sizeof m.test_name, "whatsapp");
      memcpy(m.cc, "KZ", 3);
      snprintf(m.asn, sizeof m.asn, "AS9198");
      m.t = T0 + h * 3600 + k * 600;
      snprintf(m.uid, sizeof m.uid, "uid-%d-%d", h, k);
      memset(m.sha256, 'a', 64);
      m.failed = m.t >= b0 && m.t < b1;
      bool cut = m.t >= d0 && m.t < d1;
      if (m.failed) snprintf(m.technique, sizeof m.technique, "%s", cut ? "ip_blackhole" : "tcp_reset");
      if (m.failed) *(cut ? &in_cut : &reset) += 1;
      KP_ASSERT_OK(kp_sigset_add_msm(s, &m));
    }
  kp_event_list_t ev;
  kp_incset_t *is = merge(s, &ev);
  KP_ASSERT_EQ(kp_incset_count(is), 2);
  const kp_incident_t *net = NULL, *svc = NULL;
  for (size_t i = 0; i < 2; i++) {
    const kp_incident_t *x = kp_incset_at(is, i);
    if (x->type == KP_INC_SERVICE) svc = x;
    else net = x;
  }
  KP_ASSERT(net && svc);
  KP_ASSERT_EQ(net->type, KP_INC_FULL);
  KP_ASSERT_EQ(net->start, d0);
  KP_ASSERT_EQ(in_cut, 24);
  KP_ASSERT_EQ(svc->unreachable, in_cut);
  KP_ASSERT_STREQ(svc->unreachable_in, net->id);
  KP_ASSERT_EQ(svc->ntechniques, 1);
  KP_ASSERT_STREQ(svc->techniques[0].name, "tcp_reset");
  KP_ASSERT_EQ(svc->techniques[0].count, reset);
  for (size_t i = 0; i < svc->nservice_techniques; i++)
    KP_ASSERT(strcmp(svc->service_techniques[i].name, "ip_blackhole") != 0);
  KP_ASSERT(has(svc->findings, svc->nfindings, "24 failed measurement(s) unreachable during the shutdown"));
  kp_buf_t j;
  kp_buf_init(&j, 1 << 20);
  KP_ASSERT_OK(kp_incidents_json(is, &j));
  KP_ASSERT(strstr(kp_buf_str(&j), "\"unreachable_during_shutdown\":24"));
  KP_ASSERT(!strstr(kp_buf_str(&j), "\"ip_blackhole\""));
  kp_buf_free(&j);
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);
}
