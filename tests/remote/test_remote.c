/*
 * test_remote.c: src/remote's pure parts: the rate limiter's exact cap (injected clock), the
 * policy (reserved ranges, lab mode, opt-out), the list parsers, and Satellite's / Hyperquack's
 * decisions, each threshold with a case on both sides.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kp_test.h"
#include "net/net.h"
#include "remote/internal.h"
#include "remote/remote.h"

static kp_addr_t A(const char *s) {
  kp_addr_t a;
  KP_ASSERT(kp_addr_parse(s, &a) == KP_OK);
  return a;
}

static void manual_sleep(void *ctx, int64_t ns) { ((kp_clock_manual_t *)ctx)->now_ns += ns; }

/* grants for one key over [0, W) stepping the clock by `tick` ns */
static uint64_t grants_over(kp_rl_t *rl, kp_clock_manual_t *m, const kp_addr_t *h, uint32_t asn, int64_t W, int64_t tick) {
  uint64_t g = 0;
  int64_t end = m->now_ns + W;
  for (; m->now_ns < end; m->now_ns += tick)
    while (kp_rl_try(rl, h, asn) == 0) g++;
  return g;
}

KP_TEST(ratelimit_cap_is_exact) {
  kp_clock_manual_t m;
  kp_clock_manual_init(&m, 1000000000LL);
  kp_rl_cfg_t c = {.host_rate = 2, .host_burst = 3, .as_rate = 1000, .as_burst = 1000};
  kp_rl_t *rl;
  KP_ASSERT(kp_rl_new(&c, &m.clock, &rl) == KP_OK);
  kp_addr_t h = A("198.18.1.1");
  /* 10 s at 2/s, burst 3, clock read every 1 ms on [0, 10 s): burst + floor((W - 1 ms) / 0.5 s) */
  uint64_t g = grants_over(rl, &m, &h, 64500, 10000000000LL, 1000000);
  KP_ASSERT_MSG(g == 3 + 19, "granted %llu", (unsigned long long)g);
  /* at the window's end the next token is due; after it, the wait is one interval, to the ns */
  KP_ASSERT(kp_rl_try(rl, &h, 64500) == 0);
  int64_t w = kp_rl_try(rl, &h, 64500);
  KP_ASSERT_MSG(w == 500000000, "wait %lld", (long long)w);
  m.now_ns += w - 1;
  KP_ASSERT(kp_rl_try(rl, &h, 64500) > 0);
  m.now_ns += 1;
  KP_ASSERT(kp_rl_try(rl, &h, 64500) == 0);
  kp_rl_free(rl);
}

KP_TEST(ratelimit_as_cap_binds_across_hosts) {
  kp_clock_manual_t m;
  kp_clock_manual_init(&m, 0);
  kp_rl_cfg_t c = {.host_rate = 100, .host_burst = 1, .as_rate = 10, .as_burst = 1};
  kp_rl_t *rl;
  KP_ASSERT(kp_rl_new(&c, &m.clock, &rl) == KP_OK);
  uint64_t g = 0;
  for (int64_t t = 0; t < 1000000000LL; t += 1000000, m.now_ns = t)
    for (int i = 0; i < 50; i++) {
      kp_addr_t h = kp_addr_v4(0xC6120000u + (uint32_t)i);
      if (kp_rl_try(rl, &h, 7) == 0) g++;
    }
  KP_ASSERT_MSG(g == 10, "AS cap 10/s over 1 s of 50 hosts: %llu", (unsigned long long)g);
  /* another AS is not charged */
  kp_addr_t h = A("198.18.9.9");
  KP_ASSERT(kp_rl_try(rl, &h, 8) == 0);
  /* a refusal by the AS charges no host: host 198.18.0.1 may go as soon as the AS allows */
  KP_ASSERT(kp_rl_granted(rl) == 11);
  kp_rl_free(rl);
}

/* The scheduler that feeds kp_dnsq: every job handed out once, in order, only under a permit,
 * never closer than the host's or the AS's interval, and no slower than the binding cap. */
KP_TEST(sched_hands_out_at_exactly_the_cap) {
  kp_clock_manual_t m;
  kp_clock_manual_init(&m, 0);
  kp_rl_cfg_t c = {.host_rate = 2, .host_burst = 1, .as_rate = 5, .as_burst = 1};
  kp_rl_t *rl;
  KP_ASSERT(kp_rl_new(&c, &m.clock, &rl) == KP_OK);
  enum { NH = 7, PER = 10 };
  kp_addr_t addr[NH];
  uint32_t asn[NH] = {1, 1, 1, 1, 2, 2, 3};
  bool skip[NH] = {false, false, false, false, false, false, true}; /* refused: gets nothing */
  for (int i = 0; i < NH; i++) addr[i] = kp_addr_v4(0xC6120100u + (uint32_t)i);
  kp_rmt_sched_t s;
  KP_ASSERT(kp_rmt_sched_init(&s, rl, addr, asn, skip, NH, PER, m.now_ns) == KP_OK);
  int64_t last_h[NH], last_as[4], end = 0;
  size_t next[NH] = {0}, total = 0;
  for (int i = 0; i < NH; i++) last_h[i] = INT64_MIN / 2;
  for (int i = 0; i < 4; i++) last_as[i] = INT64_MIN / 2;
  for (;;) {
    size_t h, k;
    int64_t w = 0;
    int r = kp_rmt_sched_next(&s, m.now_ns, &h, &k, &w);
    if (r < 0) break;
    if (r == 0) {
      KP_ASSERT(w > 0);
      m.now_ns += w; /* sleep exactly as long as asked */
      continue;
    }
    KP_ASSERT(!skip[h]);
    KP_ASSERT_EQ(k, next[h]++);
    KP_ASSERT_MSG(m.now_ns - last_h[h] >= 500000000, "host %zu twice within %lld ns", h,
                  (long long)(m.now_ns - last_h[h]));
    KP_ASSERT_MSG(m.now_ns - last_as[asn[h]] >= 200000000, "AS %u twice within %lld ns", asn[h],
                  (long long)(m.now_ns - last_as[asn[h]]));
    if (getenv("SCHED_TRACE")) fprintf(stderr, "%lld h%zu k%zu\n", (long long)m.now_ns, h, k);
    last_h[h] = last_as[asn[h]] = end = m.now_ns;
    total++;
  }
  KP_ASSERT_EQ(total, 60);
  for (int i = 0; i < 6; i++) KP_ASSERT_EQ(next[i], PER);
  KP_ASSERT_EQ(kp_rl_granted(rl), 60); /* no permit taken that was not handed out */
  /* AS 1: 40 jobs at 5/s (its hosts could do 8/s) -> the last at 39 x 200 ms; AS 2: 2/s per host */
  KP_ASSERT_MSG(end == 7800000000LL, "last grant at %lld ns", (long long)end);
  KP_ASSERT_EQ(last_h[4], 4500000000LL);
  kp_rmt_sched_free(&s);
  kp_rl_free(rl);
}

KP_TEST(scan_infra_rule_and_cidrs) {
  KP_ASSERT(kp_rmt_scan_infra_ptr("ns1.isp.kz"));
  KP_ASSERT(kp_rmt_scan_infra_ptr("ns.isp.kz"));
  KP_ASSERT(kp_rmt_scan_infra_ptr("nameserver2.telecom.kz"));
  KP_ASSERT(kp_rmt_scan_infra_ptr("nameserver.kz"));
  KP_ASSERT(!kp_rmt_scan_infra_ptr("dsl-13.pool.isp.kz"));  /* an end-user line */
  KP_ASSERT(!kp_rmt_scan_infra_ptr("nsa1.isp.kz"));         /* ns must be the whole label (with digits) */
  KP_ASSERT(!kp_rmt_scan_infra_ptr("ns1-dyn.pool.kz"));
  KP_ASSERT(!kp_rmt_scan_infra_ptr("host.ns1.isp.kz"));     /* the first label decides */
  KP_ASSERT(!kp_rmt_scan_infra_ptr("ns1."));
  KP_ASSERT(!kp_rmt_scan_infra_ptr("ns1"));
  KP_ASSERT(!kp_rmt_scan_infra_ptr(""));
  const char ok[] = "# list\n198.18.200.8/29\n198.18.1.1 # one\n\n";
  kp_prefix_t *v = NULL;
  size_t n = 0, bad = 0;
  KP_ASSERT(kp_rmt_cidrs_parse(ok, sizeof ok - 1, &v, &n, &bad) == KP_OK);
  KP_ASSERT_EQ(n, 2);
  KP_ASSERT_EQ(v[0].len, 29);
  KP_ASSERT_EQ(v[1].len, 32);
  free(v);
  const char v6[] = "198.18.0.0/24\n2001:db8::/64\n";
  KP_ASSERT(kp_rmt_cidrs_parse(v6, sizeof v6 - 1, &v, &n, &bad) == KP_ERR_INVAL);
  KP_ASSERT_EQ(bad, 2);
  KP_ASSERT(v == NULL && n == 0);
  const char junk[] = "198.18.0.0/24\n198.18.0.0/33\n";
  KP_ASSERT(kp_rmt_cidrs_parse(junk, sizeof junk - 1, &v, &n, &bad) == KP_ERR_INVAL);
  KP_ASSERT_EQ(bad, 2);
}

KP_TEST(ratelimit_wait_uses_injected_sleep) {
  kp_clock_manual_t m;
  kp_clock_manual_init(&m, 0);
  kp_rl_cfg_t c = {.host_rate = 4, .host_burst = 1, .as_rate = 1000, .as_burst = 1, .sleep = manual_sleep, .sleep_ctx = &m};
  kp_rl_t *rl;
  KP_ASSERT(kp_rl_new(&c, &m.clock, &rl) == KP_OK);
  kp_addr_t h = A("198.18.1.1");
  for (int i = 0; i < 9; i++) kp_rl_wait(rl, &h, 1);
  KP_ASSERT_MSG(m.now_ns == 2000000000LL, "9 permits at 4/s end at 2 s, not %lld", (long long)m.now_ns);
  kp_rl_free(rl);
  kp_rl_cfg_t badc = {.host_rate = 0, .host_burst = 1, .as_rate = 1, .as_burst = 1};
  KP_ASSERT(kp_rl_new(&badc, &m.clock, &rl) == KP_ERR_INVAL);
}

KP_TEST(policy_refuses_reserved_lab_and_optout) {
  kp_rmt_policy_t *p;
  KP_ASSERT(kp_rmt_policy_new(false, &p) == KP_OK);
  kp_addr_t a = A("10.1.2.3"), b = A("192.168.0.1"), c = A("8.8.8.8"), d = A("198.18.0.5"), e = A("127.0.0.1");
  KP_ASSERT(!strcmp(kp_rmt_policy_refuse(p, &a), "reserved"));
  KP_ASSERT(!strcmp(kp_rmt_policy_refuse(p, &b), "reserved"));
  KP_ASSERT(!strcmp(kp_rmt_policy_refuse(p, &d), "reserved"));
  KP_ASSERT(!strcmp(kp_rmt_policy_refuse(p, &e), "reserved"));
  KP_ASSERT(kp_rmt_policy_refuse(p, &c) == NULL);
  const char *oo = "# asked not to be probed\n8.8.8.0/24\n\n1.1.1.1 # one host\n";
  size_t bad;
  KP_ASSERT(kp_rmt_policy_optout(p, oo, strlen(oo), &bad) == KP_OK);
  KP_ASSERT(kp_rmt_policy_optouts(p) == 2);
  KP_ASSERT(!strcmp(kp_rmt_policy_refuse(p, &c), "opt-out"));
  kp_addr_t f = A("1.1.1.1"), g = A("1.1.1.2"), h = A("8.8.9.1");
  KP_ASSERT(!strcmp(kp_rmt_policy_refuse(p, &f), "opt-out"));
  KP_ASSERT(kp_rmt_policy_refuse(p, &g) == NULL);
  KP_ASSERT(kp_rmt_policy_refuse(p, &h) == NULL);
  const char *broken = "9.9.9.0/24\nnot-an-address\n";
  KP_ASSERT(kp_rmt_policy_optout(p, broken, strlen(broken), &bad) == KP_ERR_INVAL && bad == 2);
  KP_ASSERT(kp_rmt_policy_optouts(p) == 2); /* all or nothing */
  kp_rmt_policy_free(p);
  KP_ASSERT(kp_rmt_policy_new(true, &p) == KP_OK);
  kp_addr_t i = A("198.19.255.1"), j = A("198.20.0.1"), k = A("2001:db8::7");
  KP_ASSERT(kp_rmt_policy_refuse(p, &d) == NULL && kp_rmt_policy_refuse(p, &i) == NULL && kp_rmt_policy_refuse(p, &k) == NULL);
  KP_ASSERT(!strcmp(kp_rmt_policy_refuse(p, &j), "outside-lab"));
  KP_ASSERT(!strcmp(kp_rmt_policy_refuse(p, &c), "outside-lab"));
  kp_rmt_policy_free(p);
}

KP_TEST(lists_parse_and_reject) {
  const char *t = "# resolvers\n198.18.5.1 resolver asn=64501 cc=KZ\n198.18.6.1\tweb asn=AS64502\n2001:db8::1 echo\n";
  kp_rmt_target_t *v;
  size_t n, bad;
  KP_ASSERT(kp_rmt_targets_parse(t, strlen(t), &v, &n, &bad) == KP_OK && n == 3);
  KP_ASSERT(v[0].role == KP_RMT_RESOLVER && v[0].asn == 64501 && !strcmp(v[0].cc, "KZ"));
  KP_ASSERT(v[1].role == KP_RMT_WEB && v[1].asn == 64502 && v[1].cc[0] == 0);
  KP_ASSERT(v[2].role == KP_RMT_ECHO && v[2].addr.family == 6);
  free(v);
  const char *cases[] = {"198.18.5.1\n", "198.18.5.1 router\n", "198.18.5.1 resolver asn=0\n",
                         "198.18.5.1 resolver asn=4294967296\n", "198.18.5.1 resolver cc=kz\n", "x resolver\n",
                         "198.18.5.1 resolver color=red\n"};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    KP_ASSERT_MSG(kp_rmt_targets_parse(cases[i], strlen(cases[i]), &v, &n, &bad) == KP_ERR_INVAL && bad == 1, "case %zu", i);
  }
  const char *ok4 = "198.18.5.1 resolver asn=4294967295\n";
  KP_ASSERT(kp_rmt_targets_parse(ok4, strlen(ok4), &v, &n, &bad) == KP_OK && v[0].asn == 4294967295u);
  free(v);
  char longl[700];
  memset(longl, 'a', sizeof longl - 1);
  longl[sizeof longl - 1] = 0;
  KP_ASSERT(kp_rmt_names_parse(longl, strlen(longl), (kp_rmt_name_t **)&v, &n, &bad) == KP_ERR_INVAL);
  const char *names = "Example.COM.\n# c\n\nsub.blocked.test\n";
  kp_rmt_name_t *nv;
  KP_ASSERT(kp_rmt_names_parse(names, strlen(names), &nv, &n, &bad) == KP_OK && n == 2);
  KP_ASSERT(!strcmp(nv[0].s, "example.com") && !strcmp(nv[1].s, "sub.blocked.test"));
  free(nv);
  const char *badn[] = {"a..b\n", "-a.b\n", "a b\n", "a/b\n"};
  for (size_t i = 0; i < 4; i++) KP_ASSERT(kp_rmt_names_parse(badn[i], strlen(badn[i]), &nv, &n, &bad) == KP_ERR_INVAL);
}

static kp_rmt_control_t ctl1(void) {
  kp_rmt_control_t c;
  memset(&c, 0, sizeof c);
  c.n = 1;
  c.a[0] = A("93.184.216.34");
  c.nasn = 1;
  c.asn[0] = 15133;
  return c;
}

static kp_rmt_answer_t ans1(const char *ip, uint32_t asn) {
  kp_rmt_answer_t a;
  memset(&a, 0, sizeof a);
  a.n = 1;
  a.a[0] = A(ip);
  a.asn[0] = asn;
  a.cert[0] = -1;
  return a;
}

KP_TEST(dns_verdicts) {
  kp_rmt_control_t c = ctl1();
  kp_rmt_answer_t a = ans1("93.184.216.34", 15133);
  kp_rmt_verdict_t v = kp_rmt_dns_verdict(&a, &c, false);
  KP_ASSERT(!strcmp(v.verdict, "ok") && !strcmp(v.reason, "address"));
  a = ans1("93.184.216.99", 15133); /* same AS (a CDN's other address) */
  v = kp_rmt_dns_verdict(&a, &c, false);
  KP_ASSERT(!strcmp(v.verdict, "ok") && !strcmp(v.reason, "asn"));
  a = ans1("5.6.7.8", 64999);
  v = kp_rmt_dns_verdict(&a, &c, false);
  KP_ASSERT(!strcmp(v.verdict, "blocked") && !strcmp(v.technique, KP_RMT_DNS_FORGED));
  a.cert[0] = 1; /* Satellite v2: a valid certificate for the name makes it ok */
  v = kp_rmt_dns_verdict(&a, &c, false);
  KP_ASSERT(!strcmp(v.verdict, "ok") && !strcmp(v.reason, "cert"));
  a = ans1("10.10.34.35", 0); /* a private answer never matches, even with a "valid" cert */
  a.cert[0] = 1;
  v = kp_rmt_dns_verdict(&a, &c, false);
  KP_ASSERT(!strcmp(v.technique, KP_RMT_DNS_FORGED));
  /* nothing but the address to compare (no ASN on the answer, no cert step): untagged */
  a = ans1("5.6.7.8", 0);
  v = kp_rmt_dns_verdict(&a, &c, false);
  KP_ASSERT(!strcmp(v.verdict, "no_verdict") && !strcmp(v.reason, "untagged"));
  a.cert[0] = 0; /* the cert step ran and found no valid certificate: forged */
  KP_ASSERT(!strcmp(kp_rmt_dns_verdict(&a, &c, false).technique, KP_RMT_DNS_FORGED));
  a = ans1("5.6.7.8", 64999); /* an ASN, but the control has none (no geo for it): untagged */
  kp_rmt_control_t noasn = c;
  noasn.nasn = 0;
  KP_ASSERT(!strcmp(kp_rmt_dns_verdict(&a, &noasn, false).reason, "untagged"));
  a = ans1("127.0.0.1", 0); /* a non-public answer is forged on its face, tags or not */
  KP_ASSERT(!strcmp(kp_rmt_dns_verdict(&a, &c, false).technique, KP_RMT_DNS_FORGED));
  /* injection: the forged answer first, the real one late */
  a = ans1("5.6.7.8", 64999);
  a.nlate = 1;
  a.late[0] = A("93.184.216.34");
  a.late_asn[0] = 15133;
  v = kp_rmt_dns_verdict(&a, &c, false);
  KP_ASSERT(!strcmp(v.technique, KP_RMT_DNS_INJECTED));
  /* the real one first, a different unmatched one late: still injection */
  a = ans1("93.184.216.34", 15133);
  a.nlate = 1;
  a.late[0] = A("5.6.7.8");
  v = kp_rmt_dns_verdict(&a, &c, false);
  KP_ASSERT(!strcmp(v.technique, KP_RMT_DNS_INJECTED));
  /* a plain duplicate is not */
  a.late[0] = A("93.184.216.34");
  v = kp_rmt_dns_verdict(&a, &c, false);
  KP_ASSERT(!strcmp(v.verdict, "ok"));
  memset(&a, 0, sizeof a);
  a.failure = KP_FAIL_NXDOMAIN;
  KP_ASSERT(!strcmp(kp_rmt_dns_verdict(&a, &c, false).technique, KP_RMT_DNS_NXDOMAIN));
  a.failure = KP_FAIL_DNS_SERVFAIL;
  KP_ASSERT(!strcmp(kp_rmt_dns_verdict(&a, &c, false).technique, KP_RMT_DNS_SERVFAIL));
  a.failure = KP_FAIL_DNS_REFUSED;
  KP_ASSERT(!strcmp(kp_rmt_dns_verdict(&a, &c, false).technique, KP_RMT_DNS_SERVFAIL));
  a.failure = KP_FAIL_TIMEOUT;
  KP_ASSERT(!strcmp(kp_rmt_dns_verdict(&a, &c, false).technique, KP_RMT_DNS_TIMEOUT));
  /* nothing listens on the resolver's port 53 (or no route to it): nothing said about the name */
  static const char *const unreach[] = {KP_FAIL_REFUSED, KP_FAIL_HOST_UNREACH, KP_FAIL_NET_UNREACH};
  for (size_t i = 0; i < 3; i++) {
    a.failure = unreach[i];
    v = kp_rmt_dns_verdict(&a, &c, false);
    KP_ASSERT(!strcmp(v.verdict, "no_verdict") && v.technique == NULL && !strcmp(v.reason, "resolver-unreachable"));
  }
  a.failure = KP_FAIL_TIMEOUT;
  /* no control: no verdict, whatever the resolver said */
  kp_rmt_control_t none;
  memset(&none, 0, sizeof none);
  v = kp_rmt_dns_verdict(&a, &none, false);
  KP_ASSERT(!strcmp(v.verdict, "no_verdict") && v.technique == NULL);
  none.nxdomain = true;
  KP_ASSERT(!strcmp(kp_rmt_dns_verdict(&a, &none, false).reason, "control-nxdomain"));
  /* lab mode: 198.18/15 answers can match */
  kp_rmt_control_t lc;
  memset(&lc, 0, sizeof lc);
  lc.n = 1;
  lc.a[0] = A("198.18.2.10");
  a = ans1("198.18.2.10", 0);
  KP_ASSERT(!strcmp(kp_rmt_dns_verdict(&a, &lc, true).verdict, "ok"));
  KP_ASSERT(!strcmp(kp_rmt_dns_verdict(&a, &lc, false).verdict, "blocked"));
}

static kp_rmt_try_t web(int status, size_t len) {
  kp_rmt_try_t t;
  memset(&t, 0, sizeof t);
  t.out = KP_RMT_O_OK;
  t.status = status;
  t.body_len = len;
  t.cert_ok = true;
  return t;
}

KP_TEST(http_verdicts) {
  kp_rmt_try_t c[1] = {web(200, 1000)};
  kp_rmt_try_t t[3] = {web(200, 1000), web(200, 1000), web(200, 1000)};
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_HTTP, t, 3, c, 1).verdict, "ok"));
  /* body length tolerance: 30 % of the larger is like, 31 % is not */
  t[0] = web(200, 700);
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_HTTP, t, 1, c, 1).verdict, "ok"));
  t[0] = web(200, 690);
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_HTTP, t, 1, c, 1).technique, KP_RMT_HTTP_BLOCKPAGE));
  t[0] = web(403, 1000);
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_HTTP, t, 1, c, 1).technique, KP_RMT_HTTP_BLOCKPAGE));
  /* retries: one reset among oks is noise (ok); all resets are blocking */
  kp_rmt_try_t r;
  memset(&r, 0, sizeof r);
  r.out = KP_RMT_O_RESET;
  kp_rmt_try_t mix[3] = {r, r, web(200, 1000)};
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_HTTP, mix, 3, c, 1).verdict, "ok"));
  kp_rmt_try_t allr[3] = {r, r, r};
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_HTTP, allr, 3, c, 1).technique, KP_RMT_HTTP_RESET));
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_HTTPS, allr, 3, c, 1).technique, KP_RMT_TLS_RESET));
  kp_rmt_try_t to = r;
  to.out = KP_RMT_O_TIMEOUT;
  kp_rmt_try_t mixed[2] = {r, to};
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_HTTP, mixed, 2, c, 1).verdict, "no_verdict"));
  kp_rmt_try_t allt[2] = {to, to};
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_ECHO, allt, 2, c, 1).verdict, "no_verdict")); /* control did not echo */
  /* the control must have worked */
  kp_rmt_try_t cf[1] = {to};
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_HTTP, allr, 3, cf, 1).reason, "control-failure"));
  /* https: a certificate that does not verify while the control's does */
  kp_rmt_try_t bad = web(-1, 0);
  bad.cert_ok = false;
  kp_rmt_try_t hc[1] = {web(200, 1000)};
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_HTTPS, &bad, 1, hc, 1).technique, KP_RMT_TLS_BLOCKPAGE));
  /* echo: exact bytes are ok, others altered */
  kp_rmt_try_t e = web(0, 40);
  e.echo_exact = true;
  kp_rmt_try_t ec[1] = {e};
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_ECHO, &e, 1, ec, 1).verdict, "ok"));
  kp_rmt_try_t ea = e;
  ea.echo_exact = false;
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_ECHO, &ea, 1, ec, 1).technique, KP_RMT_ECHO_ALTERED));
  KP_ASSERT(!strcmp(kp_rmt_http_verdict(KP_RMT_P_ECHO, allt, 2, ec, 1).technique, KP_RMT_ECHO_TIMEOUT));
}
