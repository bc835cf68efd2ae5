/* test_demo.c: the kz2022 schedule, the time warp and the truth check. */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/json.h"
#include "demo/demo.h"
#include "kp_test.h"

#define JAN(d, h, m) ((int64_t)1640995200 + ((int64_t)(d) - 1) * 86400 + (int64_t)(h) * 3600 + (int64_t)(m) * 60)

static kp_json_doc_t *parse(const void *p, size_t n) {
  kp_json_doc_t *d = NULL;
  KP_ASSERT_MSG(kp_json_parse(p, n, NULL, &d, NULL) == KP_OK, "not JSON: %.*s", (int)n, (const char *)p);
  return d;
}

KP_TEST(span_parse) {
  kp_demo_span_t s;
  KP_ASSERT(kp_demo_span_parse("4-11", &s) == KP_OK);
  KP_ASSERT_EQ(s.sim_start, JAN(4, 12, 0));
  KP_ASSERT_EQ(s.sim_end, JAN(11, 6, 0));
  KP_ASSERT(kp_demo_span_parse("6", &s) == KP_OK);
  KP_ASSERT_EQ(s.sim_start, JAN(6, 0, 0));
  KP_ASSERT_EQ(s.sim_end, JAN(7, 0, 0));
  const char *bad[] = {"", "3-5", "5-4", "4-12", "4-", "x", "4-6x"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) KP_ASSERT_MSG(kp_demo_span_parse(bad[i], &s) != KP_OK, "%s", bad[i]);
}

KP_TEST(truth_full_week) {
  kp_demo_span_t s;
  KP_ASSERT(kp_demo_span_parse("4-11", &s) == KP_OK);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  KP_ASSERT(kp_demo_truth(&s, 10, &b) == KP_OK);
  kp_json_doc_t *d = parse(b.data, b.len);
  const kp_json_t *outs = kp_json_get(kp_json_root(d), "outages");
  /* the cut plus five connectivity windows = six down windows, restoration Jan 11 02:15 */
  KP_ASSERT_EQ(kp_json_len(outs), 6);
  int64_t a = 0, e = 0;
  KP_ASSERT(kp_json_get_int(kp_json_at(outs, 0), "start", &a) && a == JAN(5, 10, 30));
  KP_ASSERT(kp_json_get_int(kp_json_at(outs, 5), "end", &e) && e == JAN(11, 2, 15));
  /* each down window ends where a connectivity window of the README starts */
  int64_t e0 = 0, a1 = 0;
  KP_ASSERT(kp_json_get_int(kp_json_at(outs, 0), "end", &e0) && e0 == JAN(5, 17, 30));
  KP_ASSERT(kp_json_get_int(kp_json_at(outs, 1), "start", &a1) && a1 == JAN(5, 22, 0));
  KP_ASSERT_EQ(kp_json_len(kp_json_get(kp_json_root(d), "blocking")), 4);
  const kp_json_t *spikes = kp_json_get(kp_json_root(d), "bgp_update_spikes");
  KP_ASSERT_EQ(kp_json_len(spikes), 1);
  KP_ASSERT(kp_json_int(kp_json_at(spikes, 0), &a) && a == JAN(5, 10, 45));
  kp_json_doc_free(d);
  kp_buf_free(&b);
}

KP_TEST(actions_timed_and_clipped) {
  kp_demo_span_t s;
  KP_ASSERT(kp_demo_span_parse("6-7", &s) == KP_OK); /* starts inside a down window, apps blocked */
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  KP_ASSERT(kp_demo_actions(&s, 2, &b) == KP_OK);
  const char *p = kp_buf_str(&b);
  size_t lines = 0, at0 = 0;
  double last = -1;
  for (const char *l = p; *l;) {
    const char *nl = strchr(l, '\n');
    KP_ASSERT(nl);
    kp_json_doc_t *d = parse(l, (size_t)(nl - l));
    const kp_json_t *o = kp_json_root(d);
    double at = kp_json_num(kp_json_get(o, "at"));
    int64_t sim = 0;
    KP_ASSERT(kp_json_get_int(o, "sim", &sim));
    KP_ASSERT(at >= last);                                   /* in time order */
    KP_ASSERT_MSG(at * 1800 == (double)(sim - s.sim_start), "at %g sim %lld", at, (long long)sim); /* 2 s/hour */
    if (at == 0) {
      at0++;
      KP_ASSERT(kp_json_truthy(kp_json_get(o, "on")));      /* states in force at the start */
    }
    last = at;
    lines++;
    kp_json_doc_free(d);
    l = nl + 1;
  }
  /* at 0: 4 app rules + the outage in force since Jan 5 22:00 + the mobile cut since Jan 4
     14:30; then off 10:30, on 14:00 (Jan 6), off 02:30, on 06:00 (Jan 7) */
  KP_ASSERT_EQ(at0, 6);
  KP_ASSERT_EQ(lines, 10);
  KP_ASSERT(strstr(p, "\"sim\":1641427200,\"at\":0.00,\"action\":\"mobile\",\"on\":true"));
  kp_buf_free(&b);
}

static const char *warp_msm_at(const kp_demo_warp_t *w, const char *when, kp_buf_t *b, char out[32]) {
  char line[160];
  snprintf(line, sizeof line, "{\"test_name\":\"whatsapp\",\"measurement_start_time\":\"%s\"}", when);
  kp_buf_reset(b);
  if (kp_demo_warp_line(w, line, strlen(line), b) != KP_OK) return "";
  kp_json_doc_t *d = parse(b->data, b->len);
  snprintf(out, 32, "%s", kp_json_get_str(kp_json_root(d), "measurement_start_time"));
  kp_json_doc_free(d);
  return out;
}

/* a late action pins the clock: the 03:00 action was due 3 s after real0 but took effect at 5 s;
 * the clock runs nominally up to it, pauses one second before 03:00 while it is late, and runs on
 * from 03:00 at the moment it took effect */
KP_TEST(warp_anchors_pause_for_late_actions) {
  const char *txt = "\n1795829515 1641351600\n\n1795829520.5 1641351600\n";
  kp_demo_anchor_t *an = NULL;
  size_t n = 0;
  KP_ASSERT_OK(kp_demo_anchors_parse(txt, strlen(txt), &an, &n));
  KP_ASSERT_EQ(n, 2);
  KP_ASSERT(an[1].real == 1795829520.5 && an[1].sim == (double)JAN(5, 3, 0));
  free(an);
  /* real 1795829510 = 2026-11-28 01:31:50 */
  kp_demo_anchor_t a[] = {{1795829515, (double)JAN(5, 3, 0)}, {1795829520, (double)JAN(5, 6, 0)}};
  kp_demo_warp_t w = {.real0 = 1795829510, .sim0 = JAN(5, 0, 0), .speed = 1, .anchors = a, .nanchors = 2};
  kp_buf_t b;
  kp_buf_init(&b, 1 << 16);
  char s[32];
  KP_ASSERT_STREQ(warp_msm_at(&w, "2026-11-28 01:31:52", &b, s), "2022-01-05 02:00:00"); /* nominal */
  KP_ASSERT_STREQ(warp_msm_at(&w, "2026-11-28 01:31:54", &b, s), "2022-01-05 02:59:59"); /* paused */
  KP_ASSERT_STREQ(warp_msm_at(&w, "2026-11-28 01:31:55", &b, s), "2022-01-05 03:00:00"); /* took effect */
  KP_ASSERT_STREQ(warp_msm_at(&w, "2026-11-28 01:31:57", &b, s), "2022-01-05 05:00:00");
  KP_ASSERT_STREQ(warp_msm_at(&w, "2026-11-28 01:32:00", &b, s), "2022-01-05 06:00:00"); /* second anchor */
  KP_ASSERT_STREQ(warp_msm_at(&w, "2026-11-28 01:32:02", &b, s), "2022-01-05 08:00:00"); /* after the last */
  w.nanchors = 0; /* the same record without anchors: nominal */
  KP_ASSERT_STREQ(warp_msm_at(&w, "2026-11-28 01:31:54", &b, s), "2022-01-05 04:00:00");
  kp_buf_free(&b);
  const char *bad[] = {"1795829515 1641351600\n1795829514 1641351700\n", "1795829515 1641351600\n1795829516 1641351500\n",
                       "1795829515\n", "x y\n", "1795829515 1641351600 junk\n", "-1 5\n"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    an = NULL;
    KP_ASSERT_EQ(kp_demo_anchors_parse(bad[i], strlen(bad[i]), &an, &n), KP_ERR_INVAL);
    KP_ASSERT(an == NULL);
  }
}

KP_TEST(warp_signal_and_measurement) {
  kp_demo_warp_t w = {.real0 = 1000, .sim0 = JAN(4, 12, 0), .speed = 10}; /* 10 s = 1 h */
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  const char *sig = "{\"type\":\"signal\",\"entity_type\":\"country\",\"entity_code\":\"KZ\",\"datasource\":\"ping-slash24\","
                    "\"t\":1030,\"step\":3,\"value\":64,\"down\":0}";
  KP_ASSERT(kp_demo_warp_line(&w, sig, strlen(sig), &b) == KP_OK);
  kp_json_doc_t *d = parse(b.data, b.len);
  int64_t t = 0, step = 0, v = 0;
  KP_ASSERT(kp_json_get_int(kp_json_root(d), "t", &t) && t == JAN(4, 15, 0)); /* 30 s real = 3 h, on the grid */
  KP_ASSERT(kp_json_get_int(kp_json_root(d), "step", &step) && step == 1080);
  KP_ASSERT(kp_json_get_int(kp_json_root(d), "value", &v) && v == 64);
  KP_ASSERT(kp_json_get(kp_json_root(d), "down"));
  kp_json_doc_free(d);
  kp_buf_reset(&b);
  /* a point off its 3 s grid (real 1041: 14760 s after sim0) is snapped down to the
     simulated grid point sim0 + n x 1080 (n = 13) */
  const char *late = "{\"type\":\"signal\",\"t\":1041,\"step\":3,\"value\":1}";
  KP_ASSERT(kp_demo_warp_line(&w, late, strlen(late), &b) == KP_OK);
  d = parse(b.data, b.len);
  KP_ASSERT(kp_json_get_int(kp_json_root(d), "t", &t) && (t - JAN(4, 12, 0)) % 1080 == 0);
  KP_ASSERT_EQ(t, JAN(4, 12, 0) + 13 * 1080);
  kp_json_doc_free(d);
  kp_buf_reset(&b);
  /* real 1795829510 = 2026-11-28 01:31:50 */
  kp_demo_warp_t w2 = {.real0 = 1795829510, .sim0 = JAN(5, 0, 0), .speed = 1};
  const char *msm = "{\"test_name\":\"whatsapp\",\"measurement_start_time\":\"2026-11-28 01:31:55\",\"test_keys\":{\"t\":5}}";
  KP_ASSERT(kp_demo_warp_line(&w2, msm, strlen(msm), &b) == KP_OK);
  d = parse(b.data, b.len);
  KP_ASSERT_STREQ(kp_json_get_str(kp_json_root(d), "measurement_start_time"), "2022-01-05 05:00:00");
  int64_t inner = 0;
  KP_ASSERT(kp_json_get_int(kp_json_get(kp_json_root(d), "test_keys"), "t", &inner) && inner == 5); /* nested: untouched */
  kp_json_doc_free(d);
  KP_ASSERT(kp_demo_warp_line(&w, "[1]", 3, &b) == KP_ERR_INVAL);
  KP_ASSERT(kp_demo_warp_line(&w, "{", 1, &b) == KP_ERR_INVAL);
  kp_buf_free(&b);
}

/* a truth with two down windows and two apps, and signals to match */
static const char *TRUTH =
  "{\"cc\":\"KZ\",\"sim_start\":0,\"sim_end\":100000,"
  "\"blocking\":[{\"app\":\"whatsapp\",\"technique\":\"tls_sni_reset\"},{\"app\":\"facebook_messenger\",\"technique\":\"throttled\"}],"
  "\"outages\":[{\"start\":20000,\"end\":30000},{\"start\":50000,\"end\":100000,\"clipped_end\":true}]}";

static void signals(kp_buf_t *b, bool bgp_drop) {
  for (int64_t t = 0; t < 100000; t += 1000) {
    bool down = (t >= 20000 && t < 30000) || t >= 50000;
    kp_buf_printf(b, "{\"type\":\"signal\",\"entity_type\":\"country\",\"entity_code\":\"KZ\",\"datasource\":\"ping-slash24\",\"t\":%lld,\"step\":1000,\"value\":%d}\n",
                  (long long)t, down ? 0 : 60);
    kp_buf_printf(b, "{\"type\":\"signal\",\"entity_type\":\"country\",\"entity_code\":\"KZ\",\"datasource\":\"bgp\",\"t\":%lld,\"step\":1000,\"value\":%d}\n",
                  (long long)t, bgp_drop && down ? 10 : 64);
  }
}

static size_t run_check(const char *inc, bool bgp_drop, int64_t tol, kp_buf_t *log) {
  kp_buf_t sig;
  kp_buf_init(&sig, 1 << 22);
  signals(&sig, bgp_drop);
  kp_demo_check_opts_t o = {.tolerance_s = tol, .require_techniques = true, .require_throttling = true};
  size_t fails = 99;
  kp_buf_reset(log);
  KP_ASSERT(kp_demo_check(&o, TRUTH, strlen(TRUTH), inc, strlen(inc), sig.data, sig.len, log, &fails) == KP_OK);
  kp_buf_free(&sig);
  return fails;
}

KP_TEST(check_bgp_update_spike) {
  const char *truth = "{\"cc\":\"KZ\",\"sim_start\":0,\"sim_end\":10000,\"bgp_update_spikes\":[5500]}";
  kp_buf_t log, sig;
  kp_buf_init(&log, 1 << 20);
  kp_buf_init(&sig, 1 << 20);
  for (int with = 0; with < 2; with++) {
    kp_buf_reset(&sig);
    for (int64_t t = 0; t < 10000; t += 1000)
      kp_buf_printf(&sig, "{\"type\":\"signal\",\"entity_type\":\"country\",\"entity_code\":\"KZ\",\"datasource\":\"%s\",\"t\":%lld,\"step\":1000,\"value\":%d}\n",
                    t == 5000 ? "bgp-updates" : "bgp", (long long)t, t == 5000 ? (with ? 32 : 0) : 64);
    kp_buf_printf(&sig, "{\"type\":\"signal\",\"entity_type\":\"country\",\"entity_code\":\"KZ\",\"datasource\":\"bgp-updates\",\"t\":9000,\"step\":1000,\"value\":2}\n");
    kp_demo_check_opts_t o = {.tolerance_s = 600};
    size_t fails = 99;
    kp_buf_reset(&log);
    KP_ASSERT(kp_demo_check(&o, truth, strlen(truth), "[]", 2, sig.data, sig.len, &log, &fails) == KP_OK);
    KP_ASSERT_MSG(fails == (with ? 0u : 1u), "with=%d: %s", with, kp_buf_str(&log));
    KP_ASSERT(strstr(kp_buf_str(&log), with ? "ok   bgp update spike seen" : "FAIL no bgp update spike"));
  }
  kp_buf_free(&sig);
  kp_buf_free(&log);
}

KP_TEST(check_matches_and_mismatches) {
  kp_buf_t log;
  kp_buf_init(&log, 1 << 20);
  /* detect's shape: a curfew incident with windows (ISO), a service incident with a technique map */
  const char *good =
    "[{\"id\":\"o\",\"type\":\"full shutdown\",\"start_ts\":19500,\"end_ts\":100000,\"windows\":["
    "{\"start\":\"1970-01-01T05:25:00Z\",\"end\":\"1970-01-01T08:20:00Z\"},{\"start\":\"1970-01-01T13:50:00Z\",\"end\":\"1970-01-02T03:46:40Z\"}]},"
    "{\"id\":\"s\",\"type\":\"service blocking\",\"start_ts\":5000,\"end_ts\":90000,\"services\":[\"whatsapp\"],\"techniques\":{\"tls_sni_reset\":3}},"
    "{\"id\":\"t\",\"type\":\"throttling\",\"start_ts\":5000,\"end_ts\":90000,\"services\":[\"facebook_messenger\"],\"techniques\":{\"throttled\":2}}]";
  KP_ASSERT_MSG(run_check(good, false, 600, &log) == 0, "%s", kp_buf_str(&log));
  /* the same with a tighter tolerance: the 500 s early start of window 1 fails */
  KP_ASSERT_MSG(run_check(good, false, 300, &log) == 1, "%s", kp_buf_str(&log));
  KP_ASSERT(strstr(kp_buf_str(&log), "FAIL outage 1970-01-01T05:33:20Z"));
  /* BGP dropping with active probing is a failure (the point of the demo is that it does not) */
  KP_ASSERT_MSG(run_check(good, true, 600, &log) == 1, "%s", kp_buf_str(&log));
  KP_ASSERT(strstr(kp_buf_str(&log), "FAIL bgp changed"));
  /* a missing window, a wrong technique and an unnamed app */
  const char *bad =
    "[{\"id\":\"o\",\"type\":\"full shutdown\",\"start_ts\":20000,\"end_ts\":30000,\"windows\":[]},"
    "{\"id\":\"s\",\"type\":\"service blocking\",\"start_ts\":5000,\"end_ts\":90000,\"services\":[\"whatsapp\"],\"techniques\":{\"dns_forged\":3}}]";
  KP_ASSERT_MSG(run_check(bad, false, 600, &log) == 3, "%s", kp_buf_str(&log));
  KP_ASSERT(strstr(kp_buf_str(&log), "not detected"));
  KP_ASSERT(strstr(kp_buf_str(&log), "technique not named"));
  KP_ASSERT(strstr(kp_buf_str(&log), "no incident names the app"));
  /* a cut read as an app block: ip_blackhole, which the truth never injected, in the service
   * incident's techniques (report.md's table) or in one app's service_techniques fails */
  const char *hole[] = {
    "{\"id\":\"s\",\"type\":\"service blocking\",\"start_ts\":5000,\"end_ts\":90000,\"services\":[\"whatsapp\"],"
    "\"techniques\":{\"ip_blackhole\":5,\"tls_sni_reset\":3}}",
    "{\"id\":\"s\",\"type\":\"service blocking\",\"start_ts\":5000,\"end_ts\":90000,\"services\":[\"whatsapp\"],"
    "\"techniques\":{\"tls_sni_reset\":3},\"service_techniques\":{\"whatsapp\":{\"tls_sni_reset\":3,\"ip_blackhole\":1}}}"};
  for (size_t i = 0; i < 2; i++) {
    char incs[2048];
    snprintf(incs, sizeof incs,
             "[{\"id\":\"o\",\"type\":\"full shutdown\",\"start_ts\":19500,\"end_ts\":100000,\"windows\":["
             "{\"start\":\"1970-01-01T05:25:00Z\",\"end\":\"1970-01-01T08:20:00Z\"},{\"start\":\"1970-01-01T13:50:00Z\",\"end\":\"1970-01-02T03:46:40Z\"}]},"
             "%s,{\"id\":\"t\",\"type\":\"throttling\",\"start_ts\":5000,\"end_ts\":90000,\"services\":[\"facebook_messenger\"],\"techniques\":{\"throttled\":2}}]",
             hole[i]);
    KP_ASSERT_MSG(run_check(incs, false, 600, &log) == 1, "case %zu: %s", i, kp_buf_str(&log));
    KP_ASSERT(strstr(kp_buf_str(&log), "FAIL s names ip_blackhole"));
  }
  KP_ASSERT_MSG(run_check(good, false, 600, &log) == 0, "%s", kp_buf_str(&log));
  KP_ASSERT(strstr(kp_buf_str(&log), "ok   no app technique ip_blackhole from the cut windows"));
  kp_buf_free(&log);
}

/* what stayed reachable: the truth names the whitelist window and its allow list; the check
 * passes on the right class and list, and fails on a wrong class, a wrong list or no data */
static const char *reach_m(char *b, size_t cap, int64_t t, const char *cls, const char *worked) {
  char ts[21];
  kp_time_ooni((time_t)t, ts);
  char tg[512] = "";
  size_t n = 0;
  const char *names[] = {"kaspi.kz", "egov.kz", "homebank.kz", "resolver", "tcp/179", "tcp/3785"};
  for (size_t i = 0; i < 6; i++)
    n += (size_t)snprintf(tg + n, sizeof tg - n, "%s{\"name\":\"%s\",\"ok\":%s}", i ? "," : "", names[i],
                          strstr(worked, names[i]) ? "true" : "false");
  snprintf(b, cap,
           "{\"test_name\":\"keepon_reach\",\"probe_cc\":\"KZ\",\"measurement_start_time\":\"%s\","
           "\"test_keys\":{\"keepon_reach\":{\"class\":\"%s\",\"targets\":[%s]}}}\n", ts, cls, tg);
  return b;
}

KP_TEST(reach_truth_and_check) {
  kp_demo_span_t s;
  KP_ASSERT_OK(kp_demo_span_parse("4-6", &s));
  kp_buf_t t, a, m, log;
  kp_buf_init(&t, 1 << 20);
  kp_buf_init(&a, 1 << 20);
  kp_buf_init(&m, 1 << 20);
  kp_buf_init(&log, 1 << 20);
  KP_ASSERT_OK(kp_demo_truth(&s, 1, &t));
  KP_ASSERT_OK(kp_demo_actions(&s, 1, &a));
  /* Jan 5 22:00 .. Jan 6 10:30 is the whitelist window; the others are full cuts with the holes */
  KP_ASSERT(strstr(kp_buf_str(&t), "{\"start\":1641420000,\"end\":1641465000,\"class\":\"whitelist\",\"worked\":[\"kaspi.kz\",\"egov.kz\",\"resolver\",\"tcp/179\",\"tcp/3785\"]}"));
  KP_ASSERT(strstr(kp_buf_str(&t), "\"class\":\"full_cut\",\"worked\":[\"resolver\",\"tcp/179\",\"tcp/3785\"]"));
  KP_ASSERT(strstr(kp_buf_str(&a), "\"sim\":1641420000,\"at\":34.00,\"action\":\"outage\",\"on\":true,\"allow\":\"198.19.9.1 198.19.9.2 198.19.10.53 tcp:179 tcp:3785\""));
  KP_ASSERT(strstr(kp_buf_str(&a), "\"action\":\"outage\",\"on\":true,\"allow\":\"tcp:179 tcp:3785\""));
  kp_demo_check_opts_t o = {.tolerance_s = 3960};
  char b[2048];
  int64_t w0 = 1641420000, w1 = 1641465000, c0 = 1641378600, c1 = 1641403800; /* whitelist; Jan 5 10:30-17:30 */
  for (int64_t x = w0 - 1800; x < w1 + 1800; x += 3600)
    kp_buf_puts(&m, reach_m(b, sizeof b, x, x < w0 + 1000 ? "full_cut" : "whitelist", x < w0 + 1000 ? "resolver tcp/179 tcp/3785" : "kaspi.kz egov.kz resolver tcp/179 tcp/3785"));
  for (int64_t x = c0; x < c1; x += 3600) kp_buf_puts(&m, reach_m(b, sizeof b, x, "full_cut", "resolver tcp/179 tcp/3785"));
  for (int64_t x = 1641470400; x < 1641513600; x += 3600) kp_buf_puts(&m, reach_m(b, sizeof b, x, "full_cut", "resolver tcp/179 tcp/3785"));
  size_t f = 99;
  KP_ASSERT_OK(kp_demo_check_reach(&o, t.data, t.len, m.data, m.len, &log, &f));
  KP_ASSERT_MSG(f == 0, "%s", kp_buf_str(&log));
  KP_ASSERT(strstr(kp_buf_str(&log), "ok   reach 2022-01-05T22:00:00Z .. 2022-01-06T10:30:00Z: whitelist, what stayed reachable: kaspi.kz egov.kz resolver tcp/179 tcp/3785"));
  /* the whitelist read as a full cut inside the core: fails */
  kp_buf_t m2;
  kp_buf_init(&m2, 1 << 20);
  kp_buf_puts(&m2, kp_buf_str(&m));
  kp_buf_puts(&m2, reach_m(b, sizeof b, w0 + 6 * 3600 + 60, "full_cut", "tcp/179"));
  kp_buf_reset(&log);
  KP_ASSERT_OK(kp_demo_check_reach(&o, t.data, t.len, m2.data, m2.len, &log, &f));
  KP_ASSERT_EQ(f, 1u);
  KP_ASSERT(strstr(kp_buf_str(&log), "reads full_cut, the truth is whitelist"));
  /* a service that answered in one run only is not "stayed reachable"; one missing fails */
  kp_buf_reset(&m2);
  for (int64_t x = w0 + 5000; x < w1 - 5000; x += 3600) kp_buf_puts(&m2, reach_m(b, sizeof b, x, "whitelist", "kaspi.kz resolver tcp/179 tcp/3785"));
  kp_buf_reset(&log);
  KP_ASSERT_OK(kp_demo_check_reach(&o, t.data, t.len, m2.data, m2.len, &log, &f));
  KP_ASSERT(f >= 1u);
  KP_ASSERT(strstr(kp_buf_str(&log), "FAIL reach 2022-01-05T22:00:00Z .. 2022-01-06T10:30:00Z: whitelist, but what worked was [kaspi.kz resolver tcp/179 tcp/3785]"));
  /* no measurement at all: every window fails */
  kp_buf_reset(&log);
  KP_ASSERT_OK(kp_demo_check_reach(&o, t.data, t.len, "", 0, &log, &f));
  KP_ASSERT_EQ(f, 3u);
  kp_buf_free(&m2);
  kp_buf_free(&t);
  kp_buf_free(&a);
  kp_buf_free(&m);
  kp_buf_free(&log);
}

/* one whatsapp run of an access type: network down or ok */
static const char *im_m(char *b, size_t cap, int64_t t, const char *access, bool down) {
  char ts[21];
  kp_time_ooni((time_t)t, ts);
  snprintf(b, cap,
           "{\"test_name\":\"whatsapp\",\"probe_cc\":\"KZ\",\"probe_asn\":\"AS1\",\"measurement_start_time\":\"%s\","
           "\"report_id\":\"r%lld%s\",\"test_keys\":{\"keepon_verdict\":\"%s\",\"keepon_technique\":%s,"
           "\"keepon_access_type\":\"%s\"}}\n",
           ts, (long long)t, access, down ? "network_down" : "ok", down ? "\"network_down\"" : "null", access);
  return b;
}

/* Mobile and fixed apart: mobile down from @p m0, fixed from @p f0 (runs every 2 h from Jan 4
 * 12:00); @p label is the shutdown incident's access label */
static size_t access_check(int64_t m0, int64_t f0, const char *label, kp_buf_t *log) {
  kp_demo_span_t s;
  KP_ASSERT_OK(kp_demo_span_parse("4-6", &s));
  kp_buf_t t, m;
  kp_buf_init(&t, 1 << 20);
  kp_buf_init(&m, 1 << 20);
  KP_ASSERT_OK(kp_demo_truth(&s, 1, &t));
  char b[1024], inc[512];
  for (int64_t x = s.sim_start + 600; x < s.sim_end; x += 7200) {
    kp_buf_puts(&m, im_m(b, sizeof b, x, "mobile", x >= m0));
    kp_buf_puts(&m, im_m(b, sizeof b, x + 60, "fixed", x >= f0));
  }
  snprintf(inc, sizeof inc,
           "[{\"id\":\"KZ-net-1\",\"cc\":\"KZ\",\"type\":\"full shutdown\",\"access\":{\"label\":\"%s\"}},"
           "{\"id\":\"KZ-svc-1\",\"cc\":\"KZ\",\"type\":\"service blocking\"}]",
           label);
  kp_demo_check_opts_t o = {.tolerance_s = 3960};
  size_t f = 99;
  kp_buf_reset(log);
  KP_ASSERT_OK(kp_demo_check_access(&o, t.data, t.len, m.data, m.len, inc, strlen(inc), log, &f));
  kp_buf_free(&t);
  kp_buf_free(&m);
  return f;
}

KP_TEST(access_truth_and_check) {
  kp_demo_span_t s;
  KP_ASSERT_OK(kp_demo_span_parse("4-6", &s));
  kp_buf_t t, log;
  kp_buf_init(&t, 1 << 20);
  kp_buf_init(&log, 1 << 20);
  KP_ASSERT_OK(kp_demo_truth(&s, 1, &t));
  const int64_t M0 = 1641306600, F0 = 1641378600; /* Jan 4 14:30, Jan 5 10:30 */
  KP_ASSERT(strstr(kp_buf_str(&t), "\"access\":[{\"type\":\"mobile\",\"down_from\":1641306600,\"clipped_start\":false},"
                                   "{\"type\":\"fixed\",\"down_from\":1641378600,\"clipped_start\":false}]"));
  kp_buf_free(&t);
  KP_ASSERT_EQ(access_check(M0, F0, "both", &log), 0);
  KP_ASSERT(strstr(kp_buf_str(&log), "ok   access mobile: network down from 2022-01-04T16:00:00Z"));
  KP_ASSERT(strstr(kp_buf_str(&log), "ok   access fixed: network down from 2022-01-05T12:00:00Z"));
  KP_ASSERT(strstr(kp_buf_str(&log), "ok   access: mobile went down 20 h before fixed (truth 20 h)"));
  KP_ASSERT(strstr(kp_buf_str(&log), "ok   access: incident KZ-net-1 (full shutdown) affects both"));
  /* mobile going with fixed: too late (20 h > 8 h bin + tolerance) and not first */
  KP_ASSERT_EQ(access_check(F0, F0, "both", &log), 2);
  KP_ASSERT(strstr(kp_buf_str(&log), "FAIL access: the truth has mobile down before fixed"));
  /* 4 h late is inside one probe bin; 12 h late is not */
  KP_ASSERT_EQ(access_check(M0 + 4 * 3600, F0, "both", &log), 0);
  KP_ASSERT_EQ(access_check(M0 + 14 * 3600, F0, "both", &log), 1);
  /* the shutdown must say both were down */
  KP_ASSERT_EQ(access_check(M0, F0, "fixed_only", &log), 1);
  KP_ASSERT(strstr(kp_buf_str(&log), "FAIL access: incident KZ-net-1 (full shutdown) is labelled fixed_only, want both"));
  /* a mobile probe that never went down */
  KP_ASSERT_EQ(access_check(INT64_MAX, F0, "both", &log), 2);
  kp_buf_free(&log);
}
