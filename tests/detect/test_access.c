/* test_access.c: mobile and fixed apart (src/detect/access.c, series.c's access split). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "detect/detect.h"
#include "kp_test.h"

#define T0 1641254400LL /* 2022-01-04 00:00 UTC */
#define H 3600

/* one whatsapp measurement line; @p access NULL = no keepon_access_type; @p ann = annotations */
static const char *line(int64_t t, const char *asn, const char *access, bool down, const char *ann) {
  static char buf[1024];
  char ts[20], acc[64] = "";
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
  if (access) snprintf(acc, sizeof acc, ",\"keepon_access_type\":\"%s\"", access);
  snprintf(buf, sizeof buf,
           "{\"test_name\":\"whatsapp\",\"probe_cc\":\"KZ\",\"probe_asn\":\"%s\",\"measurement_start_time\":\"%s\","
           "\"report_id\":\"r-%s-%lld\",\"annotations\":%s,\"test_keys\":{\"keepon_verdict\":\"%s\","
           "\"keepon_technique\":%s%s}}\n",
           asn, ts, asn, (long long)t, ann ? ann : "{}", down ? "network_down" : "ok",
           down ? "\"network_down\"" : "null", acc);
  return buf;
}

/* 96 hours: the country's ping-slash24 down in [d0, d1); a mobile probe (AS29355) whose network
 * is down from m0 to the end when @p mobile_cut, a fixed one (AS9198) down in [d0, d1), each
 * measuring every hour; @p with_access false writes the same lines without keepon_access_type */
typedef struct world { kp_sigset_t *s; kp_event_list_t ev; kp_incset_t *is; } world_t;
static const int64_t m0 = T0 + 14 * H + 1800, d0 = T0 + 34 * H + 1800, d1 = T0 + 41 * H;

static void build(world_t *w, bool with_access, bool mobile_cut) {
  KP_ASSERT_OK(kp_sigset_new(3 * H, &w->s));
  for (int i = 0; i < 96 * 6; i++) {
    kp_signal_point_t p = {.step = 600, .has_value = true};
    strcpy(p.entity_type, "country"), strcpy(p.entity_code, "KZ"), strcpy(p.datasource, "ping-slash24");
    p.t = T0 + (int64_t)i * 600;
    p.value = p.t >= d0 && p.t < d1 ? 0 : 10000 + i % 5;
    KP_ASSERT_OK(kp_sigset_add_point(w->s, &p));
  }
  kp_read_stats_t st = {0};
  for (int h = 0; h < 96; h++) {
    int64_t t = T0 + h * H + 900;
    bool fdown = t >= d0 && t < d1, mdown = mobile_cut ? t >= m0 : fdown;
    const char *l = line(t, "AS29355", with_access ? "mobile" : NULL, mdown, NULL);
    KP_ASSERT_OK(kp_sigset_add_jsonl(w->s, l, strlen(l), &st));
    l = line(t + 60, "AS9198", with_access ? "fixed" : NULL, fdown, NULL);
    KP_ASSERT_OK(kp_sigset_add_jsonl(w->s, l, strlen(l), &st));
  }
  KP_ASSERT_EQ(st.bad, 0);
  KP_ASSERT_EQ(st.measurements, 192);
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  c.active.history = c.bgp.history = (kp_span_t){12 * 3600, false};
  KP_ASSERT_OK(kp_sigset_finalize(w->s));
  memset(&w->ev, 0, sizeof w->ev);
  KP_ASSERT_OK(kp_detect_run(&c, w->s, &w->ev));
  KP_ASSERT_OK(kp_incidents_merge(&c, w->s, &w->ev, &w->is));
}
static void done(world_t *w) {
  kp_incset_free(w->is);
  kp_events_free(&w->ev);
  kp_sigset_free(w->s);
}

KP_TEST(access_from_keys_and_annotations) {
  kp_msm_t m;
  const char *l = line(T0, "AS9198", "fixed", false, NULL);
  KP_ASSERT_OK(kp_msm_parse(l, strlen(l), &m));
  KP_ASSERT_STREQ(m.access, "fixed");
  KP_ASSERT(!m.net_down);
  l = line(T0, "AS9198", NULL, true, "{\"network_type\":\"mobile\"}"); /* OONI Probe on mobile data */
  KP_ASSERT(kp_msm_parse(l, strlen(l), &m) == KP_ERR_NOTFOUND);   /* network_down: no verdict */
  KP_ASSERT_STREQ(m.access, "mobile");
  KP_ASSERT(m.net_down);
  l = line(T0, "AS9198", "fixed", false, "{\"network_type\":\"mobile\"}"); /* the probe's own key wins */
  KP_ASSERT_OK(kp_msm_parse(l, strlen(l), &m));
  KP_ASSERT_STREQ(m.access, "fixed");
  l = line(T0, "AS9198", NULL, false, "{\"network_type\":\"wifi\"}"); /* Wi-Fi may be a hotspot: unknown */
  KP_ASSERT_OK(kp_msm_parse(l, strlen(l), &m));
  KP_ASSERT_STREQ(m.access, "");
  l = line(T0, "AS9198", "cable", false, NULL);
  KP_ASSERT_OK(kp_msm_parse(l, strlen(l), &m));
  KP_ASSERT_STREQ(m.access, "");
}

/* The split adds series; the country's series, events and incidents stay what they were. */
KP_TEST(access_split_leaves_country_totals) {
  world_t a, b;
  build(&a, true, true);
  build(&b, false, true);
  const kp_series_t *x = kp_sigset_find(a.s, "country", "KZ", "probe-whatsapp");
  const kp_series_t *y = kp_sigset_find(b.s, "country", "KZ", "probe-whatsapp");
  KP_ASSERT(x && y);
  KP_ASSERT_EQ(x->n, y->n);
  KP_ASSERT_EQ(x->t0, y->t0);
  int64_t nx = 0;
  for (size_t i = 0; i < x->n; i++) {
    KP_ASSERT_EQ(x->cnt[i], y->cnt[i]);
    nx += x->cnt[i];
  }
  /* network_down runs carry no verdict: 96 - 6 fixed-down runs + the 15 mobile runs before m0 */
  KP_ASSERT_EQ(nx, (96 - 6) + 15);
  KP_ASSERT_EQ(a.ev.n, b.ev.n);
  KP_ASSERT_EQ(kp_incset_count(a.is), kp_incset_count(b.is));
  KP_ASSERT(kp_sigset_find(b.s, "access", "KZ/mobile", KP_ACCESS_DS) == NULL);
  const kp_series_t *mob = kp_sigset_find(a.s, "access", "KZ/mobile", KP_ACCESS_DS);
  KP_ASSERT(mob && mob->step == H); /* hourly even though probe bins are 3 h */
  KP_ASSERT_STREQ(mob->cc, "KZ");
  KP_ASSERT(kp_sigset_find(a.s, "access", "KZ/fixed", "probe-whatsapp") != NULL);
  /* the split goes out with the converted probe points */
  kp_buf_t o;
  kp_buf_init(&o, 1 << 20);
  KP_ASSERT_OK(kp_sigset_write_probe_points(a.s, &o));
  KP_ASSERT(strstr(kp_buf_str(&o), "\"entity_type\":\"access\",\"entity_code\":\"KZ/mobile\",\"datasource\":\"access-down\""));
  kp_buf_free(&o);
  done(&a);
  done(&b);
}

KP_TEST(access_summaries_name_when_each_went_down) {
  world_t w;
  build(&w, true, true);
  kp_access_summary_t s[4];
  KP_ASSERT_EQ(kp_access_summaries(w.s, "KZ", s, 4), 2);
  KP_ASSERT_STREQ(s[0].access, "mobile");
  KP_ASSERT_EQ(s[0].first_down, m0 + 1800); /* its hour: the first run after the 14:30 cut, 15:15 */
  KP_ASSERT_EQ(s[0].nperiods, 1);
  KP_ASSERT_EQ(s[0].periods[0].end, T0 + 96 * H);
  KP_ASSERT_EQ(s[0].measurements, 96);
  KP_ASSERT_EQ(s[0].down_measurements, 96 - 15);
  KP_ASSERT_STREQ(s[1].access, "fixed");
  KP_ASSERT_EQ(s[1].first_down, d0 + 1800); /* 10:30 cut, first fixed run 11:16 */
  KP_ASSERT_EQ(s[1].nperiods, 1);
  KP_ASSERT_EQ(s[1].periods[0].end, d1);
  KP_ASSERT_EQ(kp_access_summaries(w.s, "UZ", s, 4), 0);
  KP_ASSERT_EQ(kp_access_summaries(w.s, "KZ", s, 1), 1); /* capped */
  done(&w);
}

static const kp_incident_t *national(const kp_incset_t *is) {
  for (size_t i = 0; i < kp_incset_count(is); i++)
    if (kp_incset_at(is, i)->type == KP_INC_FULL) return kp_incset_at(is, i);
  return NULL;
}

KP_TEST(incident_says_which_access_it_affects) {
  world_t w;
  build(&w, true, true); /* mobile already down: the cut hits both */
  const kp_incident_t *inc = national(w.is);
  KP_ASSERT(inc);
  KP_ASSERT_EQ(inc->access_affected, KP_ACCESS_BIT_MOBILE | KP_ACCESS_BIT_FIXED);
  KP_ASSERT_STREQ(kp_access_label_name(inc->access_affected, inc->access_measured), "both");
  kp_buf_t j;
  kp_buf_init(&j, 1 << 20);
  KP_ASSERT_OK(kp_incidents_json(w.is, &j));
  KP_ASSERT(strstr(kp_buf_str(&j), "\"access\":{\"label\":\"both\",\"affected\":[\"mobile\",\"fixed\"],"
                                   "\"measured\":[\"mobile\",\"fixed\"]}"));
  kp_buf_free(&j);
  done(&w);
  build(&w, true, false); /* mobile down only with fixed: still both */
  inc = national(w.is);
  KP_ASSERT(inc && !strcmp(kp_access_label_name(inc->access_affected, inc->access_measured), "both"));
  done(&w);
  build(&w, false, true); /* no split known: no label, no key */
  inc = national(w.is);
  KP_ASSERT(inc && inc->access_measured == 0 && inc->access_affected == 0);
  kp_buf_init(&j, 1 << 20);
  KP_ASSERT_OK(kp_incidents_json(w.is, &j));
  KP_ASSERT(!strstr(kp_buf_str(&j), "\"access\""));
  kp_buf_free(&j);
  done(&w);
  KP_ASSERT_STREQ(kp_access_label_name(KP_ACCESS_BIT_MOBILE, KP_ACCESS_BIT_MOBILE | KP_ACCESS_BIT_FIXED), "mobile_only");
  KP_ASSERT_STREQ(kp_access_label_name(KP_ACCESS_BIT_FIXED, KP_ACCESS_BIT_MOBILE | KP_ACCESS_BIT_FIXED), "fixed_only");
  KP_ASSERT_STREQ(kp_access_label_name(KP_ACCESS_BIT_MOBILE, KP_ACCESS_BIT_MOBILE), "mobile");
  KP_ASSERT(kp_access_label_name(0, KP_ACCESS_BIT_MOBILE) == NULL);
}

/* A cut only the fixed probe saw (mobile measured fine through it): "fixed_only". */
KP_TEST(incident_fixed_only_when_mobile_measured_up) {
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(H, &s));
  for (int i = 0; i < 96 * 6; i++) {
    kp_signal_point_t p = {.step = 600, .has_value = true};
    strcpy(p.entity_type, "country"), strcpy(p.entity_code, "KZ"), strcpy(p.datasource, "ping-slash24");
    p.t = T0 + (int64_t)i * 600;
    p.value = p.t >= d0 && p.t < d1 ? 0 : 10000 + i % 5;
    KP_ASSERT_OK(kp_sigset_add_point(s, &p));
  }
  kp_read_stats_t st = {0};
  for (int h = 0; h < 96; h++) {
    int64_t t = T0 + h * H + 900;
    const char *l = line(t, "AS29355", "mobile", false, NULL);
    KP_ASSERT_OK(kp_sigset_add_jsonl(s, l, strlen(l), &st));
    l = line(t, "AS9198", "fixed", t >= d0 && t < d1, NULL);
    KP_ASSERT_OK(kp_sigset_add_jsonl(s, l, strlen(l), &st));
  }
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  c.active.history = c.bgp.history = (kp_span_t){12 * 3600, false};
  KP_ASSERT_OK(kp_sigset_finalize(s));
  kp_event_list_t ev = {0};
  KP_ASSERT_OK(kp_detect_run(&c, s, &ev));
  kp_incset_t *is;
  KP_ASSERT_OK(kp_incidents_merge(&c, s, &ev, &is));
  const kp_incident_t *inc = national(is);
  KP_ASSERT(inc);
  KP_ASSERT_EQ(inc->access_affected, KP_ACCESS_BIT_FIXED);
  KP_ASSERT_EQ(inc->access_measured, KP_ACCESS_BIT_MOBILE | KP_ACCESS_BIT_FIXED);
  KP_ASSERT_STREQ(kp_access_label_name(inc->access_affected, inc->access_measured), "fixed_only");
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);
}

/* Apps blocked from m0 on the fixed line; mobile either loses its network 2 h later (no verdict on
 * the apps: the block is "fixed", mobile not measured) or stays up and unblocked ("fixed_only"). */
static const char *blocked_line(int64_t t, const char *asn, const char *access) {
  static char buf[1024];
  char ts[20];
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
  snprintf(buf, sizeof buf,
           "{\"test_name\":\"whatsapp\",\"probe_cc\":\"KZ\",\"probe_asn\":\"%s\",\"measurement_start_time\":\"%s\","
           "\"report_id\":\"b-%s-%lld\",\"test_keys\":{\"keepon_verdict\":\"blocked\",\"keepon_technique\":"
           "\"tls_sni_reset\",\"keepon_access_type\":\"%s\"}}\n",
           asn, ts, asn, (long long)t, access);
  return buf;
}

static const char *service_label(bool mobile_down) {
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(H, &s));
  kp_read_stats_t st = {0};
  for (int h = 0; h < 96; h++) {
    int64_t t = T0 + h * H + 900;
    const char *l = t >= m0 ? blocked_line(t, "AS9198", "fixed") : line(t, "AS9198", "fixed", false, NULL);
    KP_ASSERT_OK(kp_sigset_add_jsonl(s, l, strlen(l), &st));
    l = line(t + 60, "AS29355", "mobile", mobile_down && t >= m0 + 2 * H, NULL); /* measured up inside it first */
    KP_ASSERT_OK(kp_sigset_add_jsonl(s, l, strlen(l), &st));
  }
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  KP_ASSERT_OK(kp_sigset_finalize(s));
  kp_event_list_t ev = {0};
  KP_ASSERT_OK(kp_detect_run(&c, s, &ev));
  kp_incset_t *is;
  KP_ASSERT_OK(kp_incidents_merge(&c, s, &ev, &is));
  const char *r = "none";
  for (size_t i = 0; i < kp_incset_count(is); i++) {
    const kp_incident_t *x = kp_incset_at(is, i);
    if (x->type != KP_INC_SERVICE) continue;
    const char *l = kp_access_label_name(x->access_affected, x->access_measured);
    r = l ? l : "unknown";
  }
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);
  return r;
}

KP_TEST(service_incident_access_label) {
  KP_ASSERT_STREQ(service_label(true), "fixed");       /* mobile had no network: not measured */
  KP_ASSERT_STREQ(service_label(false), "fixed_only"); /* mobile measured the app fine */
}
