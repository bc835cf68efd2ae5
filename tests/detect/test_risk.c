/*
 * test_risk.c: early warning ("shutdown risk"). Synthetic worlds go through
 * detection and incident merging; the alerts must name their precursors, and the
 * rule's thresholds (7-day lookback for "no outage yet" and "new" DNS tampering,
 * 24 h gap) each have a case that fails when they change.
 */
#include <stdio.h>
#include <string.h>

#include "base/codec.h"
#include "base/json.h"
#include "detect/detect.h"
#include "kp_test.h"

static int64_t ts(int d, int h, int m) { return 1640995200LL + (d - 1) * 86400LL + h * 3600 + m * 60; }

typedef struct world {
  kp_sigset_t *s;
  kp_event_list_t ev;
  kp_incset_t *is;
  kp_risk_list_t r;
  int k;
} world_t;

/* country ping-slash24 over days [1, days], down (national cut) in [c0, c1) when c1 > c0 */
static void ping(world_t *w, int days, int64_t c0, int64_t c1) {
  for (int64_t t = ts(1, 0, 0); t < ts(days + 1, 0, 0); t += 600) {
    kp_signal_point_t p = {0};
    snprintf(p.entity_type, sizeof p.entity_type, "country");
    snprintf(p.entity_code, sizeof p.entity_code, "KZ");
    snprintf(p.datasource, sizeof p.datasource, "ping-slash24");
    p.t = t;
    p.step = 600;
    p.value = t >= c0 && t < c1 ? 300 + t / 600 % 7 : 9000 + (t / 600 * 37) % 200;
    p.has_value = true;
    KP_ASSERT_OK(kp_sigset_add_point(w->s, &p));
  }
}

/* measurements of @p test every 15 min over days [d0, d1), failing with @p tech from @p f0 to @p f1 */
static void msm(world_t *w, const char *test, int d0, int d1, int64_t f0, int64_t f1, const char *tech) {
  for (int64_t t = ts(d0, 0, 0); t < ts(d1, 0, 0); t += 900) {
    kp_msm_t m = {0};
    snprintf(m.test_name, sizeof m.test_name, "%s", test);
    memcpy(m.cc, "KZ", 3);
    snprintf(m.asn, sizeof m.asn, "AS9198");
    m.t = t;
    m.failed = t >= f0 && t < f1;
    snprintf(m.uid, sizeof m.uid, "u%06d_%s", ++w->k, test);
    kp_sha256_hex(m.uid, strlen(m.uid), m.sha256);
    if (m.failed) snprintf(m.technique, sizeof m.technique, "%s", tech);
    KP_ASSERT_OK(kp_sigset_add_msm(w->s, &m));
  }
}

static void start(world_t *w) {
  memset(w, 0, sizeof *w);
  KP_ASSERT_OK(kp_sigset_new(3600, &w->s));
}

static void run(world_t *w, const kp_risk_params_t *p) {
  KP_ASSERT_OK(kp_sigset_finalize(w->s));
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  KP_ASSERT_OK(kp_detect_run(&c, w->s, &w->ev));
  KP_ASSERT_OK(kp_incidents_merge(&c, w->s, &w->ev, &w->is));
  kp_risk_params_t d;
  kp_risk_params_default(&d);
  KP_ASSERT_OK(kp_risk_assess(p ? p : &d, w->is, &w->r));
}

static void end(world_t *w) {
  kp_risks_free(&w->r);
  kp_incset_free(w->is);
  kp_events_free(&w->ev);
  kp_sigset_free(w->s);
}

static const kp_incident_t *find_type(const kp_incset_t *is, kp_inc_type_t t) {
  for (size_t i = 0; i < kp_incset_count(is); i++)
    if (kp_incset_at(is, i)->type == t) return kp_incset_at(is, i);
  return NULL;
}

/* Kazakhstan 2022: WhatsApp, Telegram, Signal blocked from Jan 4 14:30 (Telegram by DNS), the
 * national cut on Jan 5 11:00. One alert, before the cut, naming both precursors. */
KP_TEST(kazakhstan_apps_blocked_a_day_before_the_cut) {
  world_t w;
  start(&w);
  ping(&w, 11, ts(5, 11, 0), ts(10, 0, 0));
  msm(&w, "whatsapp", 1, 5, ts(4, 14, 30), ts(99, 0, 0), "tcp-reset");
  msm(&w, "telegram", 1, 5, ts(4, 14, 30), ts(99, 0, 0), "dns-hijack");
  msm(&w, "signal", 1, 5, ts(4, 14, 30), ts(99, 0, 0), "tcp-reset");
  run(&w, NULL);
  const kp_incident_t *svc = find_type(w.is, KP_INC_SERVICE), *net = find_type(w.is, KP_INC_FULL);
  KP_ASSERT(svc && net);
  KP_ASSERT_EQ(w.r.n, 1);
  const kp_risk_t *r = &w.r.v[0];
  KP_ASSERT_STREQ(r->cc, "KZ");
  KP_ASSERT_EQ(r->start, svc->start);
  KP_ASSERT(r->start < ts(5, 0, 0) && r->start >= ts(4, 14, 0)); /* Jan 4, before the cut */
  KP_ASSERT_EQ(r->precursors, KP_PRE_APPS | KP_PRE_DNS);
  KP_ASSERT_EQ(r->first, KP_PRE_APPS);
  KP_ASSERT_STREQ(r->services, "signal, telegram, whatsapp");
  KP_ASSERT_STREQ(r->incidents, svc->id);
  KP_ASSERT_STREQ(r->outage, net->id);
  KP_ASSERT_EQ(r->lead_s, net->start - svc->start);
  KP_ASSERT(r->lead_s >= 20 * 3600 && r->lead_s <= 21 * 3600);
  KP_ASSERT(r->end <= net->start);
  /* the JSON names the level and every precursor */
  kp_buf_t b;
  kp_buf_init(&b, 1 << 16);
  kp_jw_t jw;
  kp_jw_init(&jw, &b);
  kp_risk_json(r, &jw);
  KP_ASSERT_OK(jw.st);
  const char *j = kp_buf_str(&b);
  KP_ASSERT(strstr(j, "\"level\":\"shutdown risk\""));
  KP_ASSERT(strstr(j, "\"precursors\":[\"messaging apps blocked\",\"new DNS tampering\"]"));
  KP_ASSERT(strstr(j, "\"first\":\"messaging apps blocked\""));
  KP_ASSERT(strstr(j, "\"followed_by\":\"KZ-net-"));
  KP_ASSERT(strstr(j, "\"services\":[\"signal\",\"telegram\",\"whatsapp\"]"));
  KP_ASSERT(!strncmp(j, "{\"id\":\"KZ-risk-20220104T1400Z\",\"type\":\"shutdown risk\",", 52));
  kp_buf_free(&b);
  end(&w);
}

/* a country already in (or just out of) a national outage gets no risk alert: the lookback is 7 d */
KP_TEST(no_risk_while_a_national_outage_is_recent) {
  for (int k = 0; k < 2; k++) {
    /* the cut: Jan 2 00:00-06:00; the apps block: 6 days after its end (k=0) or 8 (k=1) */
    int day = k == 0 ? 8 : 10;
    world_t w;
    start(&w);
    ping(&w, 14, ts(2, 0, 0), ts(2, 6, 0));
    msm(&w, "whatsapp", 3, 15, ts(day, 6, 0), ts(99, 0, 0), "tcp-reset");
    run(&w, NULL);
    KP_ASSERT(find_type(w.is, KP_INC_FULL) && find_type(w.is, KP_INC_SERVICE));
    KP_ASSERT_MSG(w.r.n == (size_t)k, "block %d days after the cut: %zu alerts", day - 2, w.r.n);
    if (k) {
      KP_ASSERT_EQ(w.r.v[0].precursors, KP_PRE_APPS);
      KP_ASSERT_STREQ(w.r.v[0].outage, ""); /* nothing followed */
    }
    end(&w);
  }
  /* the same world with a 10-day lookback: the 8-day case is quiet too */
  world_t w;
  start(&w);
  ping(&w, 14, ts(2, 0, 0), ts(2, 6, 0));
  msm(&w, "whatsapp", 3, 15, ts(10, 6, 0), ts(99, 0, 0), "tcp-reset");
  kp_risk_params_t p;
  kp_risk_params_default(&p);
  KP_ASSERT_EQ(p.lookback_s, 7 * 86400);
  KP_ASSERT_EQ(p.gap_s, 24 * 3600);
  p.lookback_s = 10 * 86400;
  run(&w, &p);
  KP_ASSERT_EQ(w.r.n, 0);
  end(&w);
  /* the lookback's edge is inclusive: an outage that ended exactly lookback before the block
   * still counts as recent; one second further back it does not */
  start(&w);
  ping(&w, 14, ts(2, 0, 0), ts(2, 6, 0));
  msm(&w, "whatsapp", 3, 15, ts(10, 6, 0), ts(99, 0, 0), "tcp-reset");
  run(&w, NULL);
  int64_t edge = find_type(w.is, KP_INC_SERVICE)->start - find_type(w.is, KP_INC_FULL)->end;
  end(&w);
  KP_ASSERT(edge > 7 * 86400);
  for (int k = 0; k < 2; k++) {
    start(&w);
    ping(&w, 14, ts(2, 0, 0), ts(2, 6, 0));
    msm(&w, "whatsapp", 3, 15, ts(10, 6, 0), ts(99, 0, 0), "tcp-reset");
    p.lookback_s = edge - k;
    run(&w, &p);
    KP_ASSERT_MSG(w.r.n == (size_t)k, "lookback edge %+d s: %zu alerts", -k, w.r.n);
    end(&w);
  }
}

/* throttling alone is a precursor; a blocked website (not a messaging app) is not */
KP_TEST(throttling_fires_a_website_does_not) {
  world_t w;
  start(&w);
  ping(&w, 8, 0, 0);
  msm(&w, "whatsapp", 1, 9, ts(5, 6, 0), ts(99, 0, 0), "throttled");
  run(&w, NULL);
  KP_ASSERT(find_type(w.is, KP_INC_THROTTLING));
  KP_ASSERT_EQ(w.r.n, 1);
  KP_ASSERT_EQ(w.r.v[0].precursors, KP_PRE_THROTTLING);
  KP_ASSERT_EQ(w.r.v[0].first, KP_PRE_THROTTLING);
  KP_ASSERT_STREQ(kp_precursor_name(w.r.v[0].first), "throttling");
  end(&w);
  start(&w);
  ping(&w, 8, 0, 0);
  msm(&w, "web_connectivity", 1, 9, ts(5, 6, 0), ts(99, 0, 0), "tcp-reset");
  run(&w, NULL);
  KP_ASSERT(kp_incset_count(w.is) >= 1);
  KP_ASSERT_EQ(w.r.n, 0);
  end(&w);
}

/* DNS tampering fires when new; the same tampering again within 7 days does not fire again,
 * and two precursors more than 24 h apart are two alerts */
KP_TEST(dns_tampering_only_when_new_and_the_gap) {
  world_t w;
  start(&w);
  ping(&w, 14, 0, 0);
  msm(&w, "web_connectivity", 1, 15, ts(4, 0, 0), ts(4, 12, 0), "dns-hijack");
  msm(&w, "facebook_messenger", 1, 15, ts(6, 0, 0), ts(6, 6, 0), "dns-hijack");
  run(&w, NULL);
  size_t dnsinc = 0;
  for (size_t i = 0; i < kp_incset_count(w.is); i++) {
    const kp_incident_t *c = kp_incset_at(w.is, i);
    for (size_t t = 0; t < c->ntechniques; t++) dnsinc += !strcmp(c->techniques[t].name, "dns-hijack");
  }
  KP_ASSERT_EQ(dnsinc, 2);
  /* Jan 4: new DNS tampering; Jan 6: messaging app blocked, its DNS no longer new; > 24 h apart */
  KP_ASSERT_EQ(w.r.n, 2);
  KP_ASSERT_EQ(w.r.v[0].precursors, KP_PRE_DNS);
  KP_ASSERT_EQ(w.r.v[1].precursors, KP_PRE_APPS);
  KP_ASSERT_STREQ(w.r.v[1].services, "facebook_messenger");
  end(&w);
  /* with a 36 h gap they are one alert, first precursor DNS */
  start(&w);
  ping(&w, 14, 0, 0);
  msm(&w, "web_connectivity", 1, 15, ts(4, 0, 0), ts(4, 12, 0), "dns-hijack");
  msm(&w, "facebook_messenger", 1, 15, ts(6, 0, 0), ts(6, 6, 0), "dns-hijack");
  kp_risk_params_t p;
  kp_risk_params_default(&p);
  p.gap_s = 36 * 3600;
  run(&w, &p);
  KP_ASSERT_EQ(w.r.n, 1);
  KP_ASSERT_EQ(w.r.v[0].precursors, KP_PRE_DNS | KP_PRE_APPS);
  KP_ASSERT_EQ(w.r.v[0].first, KP_PRE_DNS);
  end(&w);
}

/* The alert stream (webhook, --alerts) carries the early warning: a "risk" alert the round the
 * apps are blocked, before any outage alert; when the cut comes, the outage's "open" and one
 * "risk-followed" naming it; nothing more while nothing changes. */
static size_t count_in(const char *h, const char *n) {
  size_t c = 0;
  for (const char *p = h; (p = strstr(p, n)); p++) c++;
  return c;
}

KP_TEST(risk_alerts_ride_the_alert_stream) {
  kp_alert_state_t *st;
  KP_ASSERT_OK(kp_alert_state_new(&st));
  kp_buf_t out;
  kp_buf_init(&out, 1 << 20);
  size_t n;
  /* round 1: data up to Jan 5 06:00 — apps blocked since Jan 4 14:30, no cut yet */
  world_t w;
  start(&w);
  ping(&w, 4, 0, 0);
  msm(&w, "whatsapp", 1, 5, ts(4, 14, 30), ts(99, 0, 0), "tcp-reset");
  msm(&w, "telegram", 1, 5, ts(4, 14, 30), ts(99, 0, 0), "tcp-reset");
  run(&w, NULL);
  KP_ASSERT_OK(kp_alerts_diff(st, w.is, &out, &n));
  const char *j = kp_buf_str(&out);
  KP_ASSERT_EQ(count_in(j, "\"alert\":\"risk\""), 1);
  KP_ASSERT_EQ(count_in(j, "\"alert\":\"risk-followed\""), 0);
  KP_ASSERT(strstr(j, "\"level\":\"shutdown risk\",\"risk\":{\"id\":\"KZ-risk-"));
  KP_ASSERT(strstr(j, "\"first\":\"messaging apps blocked\""));
  KP_ASSERT(strstr(j, "\"followed_by\":null"));
  KP_ASSERT_EQ(count_in(j, "KZ-net-"), 0);
  size_t first_round = n;
  KP_ASSERT(first_round >= 2); /* the service incident's "open" and the risk */
  kp_buf_reset(&out);
  KP_ASSERT_OK(kp_alerts_diff(st, w.is, &out, &n)); /* same set: silence */
  KP_ASSERT_EQ(n, 0);
  end(&w);
  /* round 2: the week's data — the national cut from Jan 5 11:00 follows the risk */
  start(&w);
  ping(&w, 11, ts(5, 11, 0), ts(10, 0, 0));
  msm(&w, "whatsapp", 1, 5, ts(4, 14, 30), ts(99, 0, 0), "tcp-reset");
  msm(&w, "telegram", 1, 5, ts(4, 14, 30), ts(99, 0, 0), "tcp-reset");
  run(&w, NULL);
  kp_buf_reset(&out);
  KP_ASSERT_OK(kp_alerts_diff(st, w.is, &out, &n));
  j = kp_buf_str(&out);
  KP_ASSERT_EQ(count_in(j, "\"alert\":\"risk\""), 0);
  KP_ASSERT_EQ(count_in(j, "\"alert\":\"risk-followed\""), 1);
  KP_ASSERT(strstr(j, "\"followed_by\":\"KZ-net-"));
  KP_ASSERT(strstr(j, "\"alert\":\"open\"")); /* the outage itself */
  kp_buf_reset(&out);
  KP_ASSERT_OK(kp_alerts_diff(st, w.is, &out, &n));
  KP_ASSERT_EQ(n, 0);
  end(&w);
  kp_buf_free(&out);
  kp_alert_state_free(st);
}
