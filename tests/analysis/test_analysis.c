/*
 * test_analysis.c: the technique decision table, row by row, from facts.
 * Each case builds an app whose flows show one censorship pattern and
 * checks the app's technique, verdict, n/m and that clean apps stay OK.
 */
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
  m_forged(&f[1]);
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
