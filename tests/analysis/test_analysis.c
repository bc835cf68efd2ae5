/*
 * test_analysis.c: the technique decision table, row by row, from facts.
 * Each case builds an app whose flows show one censorship pattern and
 * checks the app's technique, verdict, n/m and that clean apps stay OK.
 */
#include <stdio.h>
#include <string.h>

#include "analysis/analysis.h"
#include "kp_test.h"

static const kp_an_control_t CTL_OK = {.dns_ok = true, .reach_ok = true};

/* A healthy HTTPS flow, resolved by name. */
static kp_an_flow_t ok_flow(const char *name) {
  kp_an_flow_t f = {.name = name, .counts = true, .resolved_name = true, .connect_tried = true, .tls_tried = true,
                    .http_tried = true, .http_status = 200, .bytes = 100, .seconds = 0.01};
  return f;
}

static kp_an_result_t classify(kp_an_flow_t *f, size_t n, const kp_an_control_t *ctl, kp_tech_t *out) {
  kp_an_result_t r;
  KP_ASSERT_OK(kp_an_classify(f, n, ctl, &r, out));
  return r;
}

KP_TEST(clean_app_is_ok) {
  kp_an_flow_t f[3] = {ok_flow("a"), ok_flow("b"), ok_flow("c")};
  f[2].blockpage_only = true; /* a failed plain-HTTP check alone is not blocking */
  f[2].counts = false;
  f[2].http_failure = "connection_refused";
  f[2].http_status = 0;
  kp_tech_t o[3];
  kp_an_result_t r = classify(f, 3, &CTL_OK, o);
  KP_ASSERT_EQ(r.tech, KP_TECH_NONE);
  KP_ASSERT_EQ(r.verdict, KP_VERDICT_OK);
  KP_ASSERT_EQ(r.n_counting, 2);
  KP_ASSERT_NEAR(r.reachable_fraction, 1.0, 1e-9);
}

typedef void (*mutate_fn)(kp_an_flow_t *f);
static void m_nx(kp_an_flow_t *f) { f->dns_failure = f->sys_failure = "dns_nxdomain_error"; f->connect_tried = f->tls_tried = f->http_tried = false; }
static void m_inj(kp_an_flow_t *f) { f->dns_injected = true; f->dns_unexpected = true; f->connect_failure = "generic_timeout_error"; f->tls_tried = f->http_tried = false; }
static void m_forged(kp_an_flow_t *f) { f->dns_unexpected = true; f->connect_failure = "host_unreachable"; f->tls_tried = f->http_tried = false; }
static void m_throttle(kp_an_flow_t *f) { f->download = true; f->min_kbps = 2000; f->bytes = 16000; f->seconds = 2.0; f->cut = true; f->http_failure = NULL; }
static void m_blockpage(kp_an_flow_t *f) { f->tls_tried = false; f->http_status = 451; }
static void m_mitm(kp_an_flow_t *f) { f->tls_failure = "ssl_unknown_authority"; f->http_tried = false; }
static void m_snireset(kp_an_flow_t *f) { f->tls_failure = "connection_reset"; f->http_tried = false; }
static void m_snidrop(kp_an_flow_t *f) { f->tls_failure = "generic_timeout_error"; f->http_tried = false; }
static void m_reset(kp_an_flow_t *f) { f->connect_failure = "connection_refused"; f->tls_tried = f->http_tried = false; }
static void m_hole(kp_an_flow_t *f) { f->connect_failure = "generic_timeout_error"; f->tls_tried = f->http_tried = false; }

KP_TEST(each_technique_yields_its_key) {
  static const struct { mutate_fn fn; kp_tech_t want; } cases[] = {
    {m_nx, KP_TECH_DNS_NXDOMAIN},     {m_inj, KP_TECH_DNS_INJECTED},     {m_forged, KP_TECH_DNS_FORGED},
    {m_throttle, KP_TECH_THROTTLED},  {m_blockpage, KP_TECH_HTTP_BLOCKPAGE}, {m_mitm, KP_TECH_TLS_MITM},
    {m_snireset, KP_TECH_TLS_SNI_RESET}, {m_snidrop, KP_TECH_TLS_SNI_DROP}, {m_reset, KP_TECH_TCP_RESET},
    {m_hole, KP_TECH_IP_BLACKHOLE},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    kp_an_flow_t f[4] = {ok_flow("a"), ok_flow("b"), ok_flow("c"), ok_flow("d")};
    f[0].role = f[3].role = "endpoint";
    f[1].role = f[2].role = "web"; /* the whole role "web" shows the technique: it agrees */
    cases[c].fn(&f[1]);
    cases[c].fn(&f[2]);
    kp_tech_t o[4];
    kp_an_result_t r = classify(f, 4, &CTL_OK, o);
    KP_ASSERT_MSG(r.tech == cases[c].want, "case %zu: got %s want %s", c, kp_tech_name(r.tech),
                  kp_tech_name(cases[c].want));
    KP_ASSERT_EQ(r.verdict, KP_VERDICT_BLOCKED);
    KP_ASSERT_EQ(r.n_tech, 2);
    KP_ASSERT_EQ(o[0], KP_TECH_NONE);
    KP_ASSERT_EQ(o[1], cases[c].want);
    KP_ASSERT(r.evidence[0] != 0);
    kp_tech_t back;
    KP_ASSERT_OK(kp_tech_parse(kp_tech_name(cases[c].want), &back));
    KP_ASSERT_EQ(back, cases[c].want);
  }
}

KP_TEST(precedence_and_guards) {
  /* DNS explains later failures: forged answers + connect timeouts is dns_forged, not ip_blackhole */
  kp_an_flow_t f[2] = {ok_flow("a"), ok_flow("b")};
  m_hole(&f[0]);
  m_hole(&f[1]);
  f[1].dns_unexpected = true;
  KP_ASSERT_EQ(kp_an_flow_tech(&f[1], &CTL_OK), KP_TECH_DNS_FORGED);
  /* ... and over an app: one forged + one blackholed flow agree on nothing (1/2 is no majority) */
  KP_ASSERT_EQ(classify(f, 2, &CTL_OK, NULL).verdict, KP_VERDICT_DEGRADED);
  f[0].dns_unexpected = true;
  KP_ASSERT_EQ(classify(f, 2, &CTL_OK, NULL).tech, KP_TECH_DNS_FORGED);
  /* unexpected answers whose TLS verifies are genuine (stale network list): not forged */
  kp_an_flow_t g = ok_flow("g");
  g.dns_unexpected = true;
  KP_ASSERT_EQ(classify(&g, 1, &CTL_OK, NULL).verdict, KP_VERDICT_OK);
  /* NXDOMAIN while the control does not resolve either is not dns_nxdomain */
  kp_an_flow_t h = ok_flow("h");
  m_nx(&h);
  kp_an_control_t ctl_dns_bad = {.dns_ok = false, .reach_ok = true};
  kp_an_result_t r = classify(&h, 1, &ctl_dns_bad, NULL);
  KP_ASSERT_EQ(r.tech, KP_TECH_NONE);
  KP_ASSERT_EQ(r.verdict, KP_VERDICT_DEGRADED);
  /* a fast download is not throttled */
  kp_an_flow_t d = ok_flow("d");
  m_throttle(&d);
  d.seconds = 0.01;
  KP_ASSERT_EQ(classify(&d, 1, &CTL_OK, NULL).tech, KP_TECH_NONE);
  /* a tiny complete body (a blockpage on the download URL) says nothing about rate: it is the 451 */
  d.cut = false;
  d.bytes = 176;
  d.seconds = 0.004;
  d.http_status = 451;
  KP_ASSERT_EQ(classify(&d, 1, &CTL_OK, NULL).tech, KP_TECH_HTTP_BLOCKPAGE);
  /* a large complete transfer that was slow is throttled even without the cut */
  d.http_status = 200;
  d.bytes = 262144;
  d.seconds = 30;
  KP_ASSERT_EQ(classify(&d, 1, &CTL_OK, NULL).tech, KP_TECH_THROTTLED);
  /* ... from 64 KiB on: below, a slow complete body is too small to say anything about rate */
  d.bytes = 65536;
  KP_ASSERT_EQ(classify(&d, 1, &CTL_OK, NULL).tech, KP_TECH_THROTTLED);
  d.bytes = 65535;
  KP_ASSERT_EQ(classify(&d, 1, &CTL_OK, NULL).tech, KP_TECH_NONE);
  /* a blockpage-only check answering 200 is fine; 451 is a blockpage */
  kp_an_flow_t b = ok_flow("b");
  b.blockpage_only = true;
  b.counts = false;
  KP_ASSERT_EQ(kp_an_flow_tech(&b, &CTL_OK), KP_TECH_NONE);
  b.blockpage_match = true;
  KP_ASSERT_EQ(kp_an_flow_tech(&b, &CTL_OK), KP_TECH_HTTP_BLOCKPAGE);
  /* an unexplained failure (e.g. HTTP eof on TLS) is DEGRADED, not BLOCKED */
  kp_an_flow_t u[2] = {ok_flow("a"), ok_flow("b")};
  u[1].http_failure = "eof_error";
  r = classify(u, 2, &CTL_OK, NULL);
  KP_ASSERT_EQ(r.verdict, KP_VERDICT_DEGRADED);
  KP_ASSERT_NEAR(r.reachable_fraction, 0.5, 1e-9);
}

KP_TEST(network_down_needs_control_down) {
  kp_an_flow_t f[3] = {ok_flow("a"), ok_flow("b"), ok_flow("c")};
  for (int i = 0; i < 3; i++) {
    f[i].dns_failure = f[i].sys_failure = "generic_timeout_error";
    f[i].connect_tried = f[i].tls_tried = f[i].http_tried = false;
  }
  kp_an_control_t down = {.dns_ok = false, .reach_ok = false};
  kp_tech_t o[3];
  kp_an_result_t r = classify(f, 3, &down, o);
  KP_ASSERT_EQ(r.tech, KP_TECH_NETWORK_DOWN);
  KP_ASSERT_EQ(r.n_tech, 3);
  KP_ASSERT_EQ(o[2], KP_TECH_NETWORK_DOWN);
  /* same failures with a working control: not a shutdown, and DNS timeouts are no technique */
  r = classify(f, 3, &CTL_OK, NULL);
  KP_ASSERT_EQ(r.tech, KP_TECH_NONE);
  KP_ASSERT_EQ(r.verdict, KP_VERDICT_DEGRADED);
  /* control down but the app works: the app is not network_down */
  kp_an_flow_t g = ok_flow("g");
  KP_ASSERT_EQ(classify(&g, 1, &down, NULL).verdict, KP_VERDICT_OK);
}

/* A national cut with the resolver still answering (cached, domestic, or the censor's own): the
 * control resolves but does not connect, the app's connects time out -> network_down, not
 * ip_blackhole; with DNS-only flows that answered (Signal's uptime lookup, Messenger's stun) too. */
KP_TEST(network_down_with_dns_still_answering) {
  kp_an_flow_t f[3] = {ok_flow("a"), ok_flow("b"), {.name = "dnslookup://stun", .counts = true, .resolved_name = true}};
  for (int i = 0; i < 2; i++) m_hole(&f[i]);
  kp_an_control_t cut = {.dns_ok = true, .reach_ok = false};
  kp_tech_t o[3];
  kp_an_result_t r = classify(f, 2, &cut, NULL);
  KP_ASSERT_EQ(r.tech, KP_TECH_NETWORK_DOWN);
  KP_ASSERT_STREQ(r.evidence, "control target did not connect and no app flow reached a host (2/2 failed)");
  /* the same flows with the control reachable: a targeted IP blackhole */
  KP_ASSERT_EQ(classify(f, 2, &CTL_OK, NULL).tech, KP_TECH_IP_BLACKHOLE);
  /* the answered DNS-only flow shows no route: still network_down, and that flow itself is fine */
  KP_ASSERT(kp_an_flow_ok(&f[2]));
  r = classify(f, 3, &cut, o);
  KP_ASSERT_EQ(r.tech, KP_TECH_NETWORK_DOWN);
  KP_ASSERT_EQ(o[0], KP_TECH_NETWORK_DOWN);
  KP_ASSERT_EQ(o[2], KP_TECH_NONE);
  /* Signal in the demo's cut: forged answers, then timeouts (dns_forged per flow), plus the
   * answered lookup: the cut, not dns_forged */
  kp_an_flow_t g[3] = {ok_flow("a"), ok_flow("b"), f[2]};
  for (int i = 0; i < 2; i++) m_forged(&g[i]), g[i].connect_failure = "generic_timeout_error";
  KP_ASSERT_EQ(classify(g, 3, &CTL_OK, NULL).tech, KP_TECH_DNS_FORGED);
  KP_ASSERT_EQ(classify(g, 3, &cut, NULL).tech, KP_TECH_NETWORK_DOWN);
}

/* With the control down, any flow that reached a host means something is routed: a connect that
 * completed (even if TLS then failed) or one that was refused (an answer came back). Then the
 * agreement rule decides, and a control that was refused is no cut. */
KP_TEST(network_down_needs_no_route) {
  kp_an_control_t cut = {.dns_ok = true, .reach_ok = false};
  kp_an_flow_t f[3] = {ok_flow("a"), ok_flow("b"), ok_flow("c")};
  for (int i = 0; i < 3; i++) m_hole(&f[i]);
  KP_ASSERT_EQ(classify(f, 3, &cut, NULL).tech, KP_TECH_NETWORK_DOWN);
  f[2] = ok_flow("c"); /* one connected and worked */
  kp_an_result_t r = classify(f, 3, &cut, NULL);
  KP_ASSERT(r.tech != KP_TECH_NETWORK_DOWN);
  KP_ASSERT_EQ(r.tech, KP_TECH_IP_BLACKHOLE); /* 2 of 3 agree */
  m_snireset(&f[2]); /* connected, TLS reset: routed too */
  KP_ASSERT(classify(f, 3, &cut, NULL).tech != KP_TECH_NETWORK_DOWN);
  for (int i = 0; i < 3; i++) m_reset(&f[i]); /* every connect refused, control refused too */
  r = classify(f, 3, &cut, NULL);
  KP_ASSERT_EQ(r.tech, KP_TECH_TCP_RESET);
  KP_ASSERT_EQ(r.n_tech, 3);
}

KP_TEST(expected_networks) {
  kp_prefix_t nets[2];
  KP_ASSERT_OK(kp_prefix_parse("198.19.12.0/24", &nets[0]));
  KP_ASSERT_OK(kp_prefix_parse("2001:db8:12::/48", &nets[1]));
  kp_addr_t a;
  kp_addr_parse("198.19.12.7", &a);
  KP_ASSERT(kp_an_addr_expected(nets, 2, &a));
  kp_addr_parse("198.19.66.66", &a);
  KP_ASSERT(!kp_an_addr_expected(nets, 2, &a));
  kp_addr_parse("2001:db8:12::1", &a);
  KP_ASSERT(kp_an_addr_expected(nets, 2, &a));
  /* no list: bogons are unexpected, public addresses are fine */
  kp_addr_parse("10.10.34.34", &a);
  KP_ASSERT(!kp_an_addr_expected(NULL, 0, &a));
  kp_addr_parse("157.240.1.1", &a);
  KP_ASSERT(kp_an_addr_expected(NULL, 0, &a));
  kp_tech_t t;
  KP_ASSERT_EQ(kp_tech_parse("nonsense", &t), KP_ERR_NOTFOUND);
}

/* WhatsApp-shaped app: 32 endpoint flows, registration, web. */
static size_t whatsapp_like(kp_an_flow_t *f) {
  static char names[32][48];
  size_t n = 0;
  for (int i = 0; i < 32; i++) {
    snprintf(names[i], sizeof names[i], "tcpconnect://e%d.whatsapp.net:%d", i / 2 + 1, i % 2 ? 5222 : 443);
    f[n] = ok_flow(names[i]);
    f[n].tls_tried = f[n].http_tried = false;
    f[n++].role = "endpoint";
  }
  f[n] = ok_flow("https://v.whatsapp.net/v2/register");
  f[n++].role = "registration";
  f[n] = ok_flow("https://web.whatsapp.com/");
  f[n++].role = "web";
  return n;
}

KP_TEST(agreement_one_endpoint_reset_is_degraded_not_blocked) {
  kp_an_flow_t f[40];
  size_t n = whatsapp_like(f);
  m_reset(&f[4]); /* e3.whatsapp.net:443 */
  m_reset(&f[5]); /* e3.whatsapp.net:5222 */
  kp_tech_t o[40];
  kp_an_result_t r = classify(f, n, &CTL_OK, o);
  KP_ASSERT_EQ(r.verdict, KP_VERDICT_DEGRADED);
  KP_ASSERT_EQ(r.tech, KP_TECH_NONE);
  KP_ASSERT_EQ(r.n_failed, 2);
  KP_ASSERT_EQ(o[4], KP_TECH_TCP_RESET); /* the flow still says what it showed */
  KP_ASSERT(strstr(r.evidence, "e3.whatsapp.net:443 tcp_reset") && strstr(r.evidence, "e3.whatsapp.net:5222"));
  KP_ASSERT(strstr(r.evidence, "2/34 flows failed"));
}

KP_TEST(agreement_all_endpoints_reset_is_blocked) {
  kp_an_flow_t f[40];
  size_t n = whatsapp_like(f);
  for (int i = 0; i < 32; i++) m_reset(&f[i]);
  kp_an_result_t r = classify(f, n, &CTL_OK, NULL);
  KP_ASSERT_EQ(r.verdict, KP_VERDICT_BLOCKED);
  KP_ASSERT_EQ(r.tech, KP_TECH_TCP_RESET);
  KP_ASSERT_EQ(r.n_tech, 32);
  KP_ASSERT(r.by_role || r.n_tech * 2 > r.n_counting);
  /* all but one endpoint: no whole role, but 31/34 is a majority */
  f[0] = ok_flow("e1");
  f[0].role = "endpoint";
  f[0].tls_tried = f[0].http_tried = false;
  r = classify(f, n, &CTL_OK, NULL);
  KP_ASSERT_EQ(r.tech, KP_TECH_TCP_RESET);
  KP_ASSERT(!r.by_role);
}

KP_TEST(agreement_thresholds) {
  /* majority is strict: exactly half of the flows is not a majority */
  kp_an_flow_t f[4] = {ok_flow("a"), ok_flow("b"), ok_flow("c"), ok_flow("d")};
  for (int i = 0; i < 4; i++) f[i].role = i < 3 ? "x" : "y";
  m_reset(&f[0]);
  m_reset(&f[1]);
  KP_ASSERT_EQ(classify(f, 4, &CTL_OK, NULL).verdict, KP_VERDICT_DEGRADED);
  m_reset(&f[2]); /* 3/4: majority (and the whole role x) */
  kp_an_result_t r = classify(f, 4, &CTL_OK, NULL);
  KP_ASSERT_EQ(r.tech, KP_TECH_TCP_RESET);
  /* a whole role agrees even as a minority: role y (1 of 4 flows) all timed out */
  kp_an_flow_t g[4] = {ok_flow("a"), ok_flow("b"), ok_flow("c"), ok_flow("d")};
  for (int i = 0; i < 4; i++) g[i].role = i < 3 ? "x" : "y";
  m_hole(&g[3]);
  r = classify(g, 4, &CTL_OK, NULL);
  KP_ASSERT_EQ(r.tech, KP_TECH_IP_BLACKHOLE);
  KP_ASSERT(r.by_role);
  /* a role with mixed techniques does not agree: one reset, one timeout in role y */
  kp_an_flow_t h[4] = {ok_flow("a"), ok_flow("b"), ok_flow("c"), ok_flow("d")};
  for (int i = 0; i < 4; i++) h[i].role = i < 2 ? "x" : "y";
  m_reset(&h[2]);
  m_hole(&h[3]);
  r = classify(h, 4, &CTL_OK, NULL);
  KP_ASSERT_EQ(r.verdict, KP_VERDICT_DEGRADED);
  KP_ASSERT(strstr(r.evidence, "tcp_reset") && strstr(r.evidence, "ip_blackhole"));
  /* the evidence list stays bounded with many failures */
  kp_an_flow_t many[40];
  size_t n = whatsapp_like(many);
  for (int i = 0; i < 32; i += 2) m_reset(&many[i]);
  for (int i = 1; i < 32; i += 4) m_hole(&many[i]);
  r = classify(many, n, &CTL_OK, NULL);
  KP_ASSERT_EQ(r.verdict, KP_VERDICT_DEGRADED);
  KP_ASSERT(strlen(r.evidence) < KP_AN_EVIDENCE_MAX && strstr(r.evidence, "more"));
}
