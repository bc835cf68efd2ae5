/*
 * test_dnsq.c: kp_dnsq (many outstanding UDP lookups on one socket) against responders on
 * loopback that this test drives by hand, on a manual clock: what counts as an answer
 * (source address and port, id, question), late / injected answers racing the real one, the
 * window, timeouts and admitted retries, ICMP refused, and many lookups in flight at once.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kp_test.h"
#include "net/net.h"

typedef struct res { int ndone; kp_addrs_t out, late; const char *fail; } res_t;

static void on_done(void *ctx, void *tag, const kp_addrs_t *out, const kp_addrs_t *late, const char *fail) {
  res_t *r = tag ? tag : ctx;
  r->ndone++;
  r->out = *out;
  r->late = *late;
  r->fail = fail;
}

static int udp_bound(uint16_t *port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int big = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  KP_ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  *port = ntohs(a.sin_port);
  return fd;
}

/* One query off the responder socket: its id, qtype, bytes and sender. */
typedef struct qin { uint16_t id, qtype; uint8_t b[512]; size_t n; struct sockaddr_storage from; socklen_t fl; } qin_t;
static bool srv_recv(int fd, qin_t *q, int ms) {
  struct pollfd pf = {.fd = fd, .events = POLLIN};
  if (poll(&pf, 1, ms) <= 0) return false;
  q->fl = sizeof q->from;
  ssize_t n = recvfrom(fd, q->b, sizeof q->b, 0, (struct sockaddr *)&q->from, &q->fl);
  if (n < 17) return false;
  q->n = (size_t)n;
  q->id = (uint16_t)(q->b[0] << 8 | q->b[1]);
  q->qtype = (uint16_t)(q->b[n - 4] << 8 | q->b[n - 3]);
  return true;
}

/* A response for (name, qtype, id) from socket fd to q's sender, with one A record v4 (0 = none). */
static void reply(int fd, const qin_t *q, const char *name, uint16_t qtype, uint16_t id, uint32_t v4) {
  uint8_t r[600];
  size_t len;
  KP_ASSERT_OK(kp_dns_build_query(name, qtype, id, r, sizeof r, &len));
  r[2] = 0x81;
  r[3] = 0x80;
  if (v4) {
    r[7] = 1;
    uint8_t an[] = {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, (uint8_t)(v4 >> 24), (uint8_t)(v4 >> 16),
                    (uint8_t)(v4 >> 8), (uint8_t)v4};
    memcpy(r + len, an, sizeof an);
    len += sizeof an;
  }
  sendto(fd, r, len, 0, (const struct sockaddr *)&q->from, q->fl);
}

static void steps(kp_dnsq_t *dq, int n) {
  for (int i = 0; i < n; i++) kp_dnsq_step(dq, 20);
}

KP_TEST(dnsq_matches_source_id_question_and_keeps_the_racing_answer) {
  kp_clock_manual_t m;
  kp_clock_manual_init(&m, 1000000000LL);
  uint16_t port, oport;
  int fd = udp_bound(&port), other = udp_bound(&oport);
  res_t r = {0};
  kp_dnsq_cfg_t c = {.timeout = 3, .window = 1, .done = on_done, .done_ctx = &r};
  kp_dnsq_t *dq;
  KP_ASSERT_OK(kp_dnsq_new(&c, &m.clock, &dq));
  kp_trace_t *tr;
  KP_ASSERT_OK(kp_trace_new(&m.clock, &tr));
  kp_addr_t lo = kp_addr_v4(0x7f000001u);
  KP_ASSERT_OK(kp_dnsq_submit(dq, &lo, port, "a.example", tr, NULL));
  KP_ASSERT_EQ(kp_dnsq_inflight(dq), 1);
  qin_t qa = {0}, qq = {0}, q6 = {0};
  for (int i = 0; i < 2; i++) {
    KP_ASSERT(srv_recv(fd, &qq, 1000));
    if (qq.qtype == KP_DNS_A) qa = qq;
    else q6 = qq;
  }
  KP_ASSERT(qa.n && q6.n);
  reply(other, &qa, "a.example", KP_DNS_A, qa.id, 0xC6120909u);        /* wrong source port */
  reply(fd, &qa, "a.example", KP_DNS_A, (uint16_t)(qa.id + 1), 0xC6120909u); /* wrong id */
  reply(fd, &qa, "b.example", KP_DNS_A, qa.id, 0xC6120909u);           /* wrong question name */
  reply(fd, &qa, "a.example", KP_DNS_AAAA, qa.id, 0);                  /* wrong question type */
  reply(fd, &qa, "a.example", KP_DNS_A, qa.id, 0xC6124242u);           /* the injector, first */
  reply(fd, &qa, "A.Example", KP_DNS_A, qa.id, 0xC6120101u);           /* the real one, late */
  reply(fd, &q6, "a.example", KP_DNS_AAAA, q6.id, 0);                  /* no AAAA */
  for (int i = 0; i < 50 && kp_dnsq_unmatched(dq) < 4; i++) kp_dnsq_step(dq, 20);
  steps(dq, 3);
  KP_ASSERT_EQ(kp_dnsq_unmatched(dq), 4);
  KP_ASSERT_EQ(r.ndone, 0); /* both answered; the window is still open */
  m.now_ns += 999000000;
  kp_dnsq_step(dq, 0);
  KP_ASSERT_EQ(r.ndone, 0);
  m.now_ns += 2000000;
  kp_dnsq_step(dq, 0);
  KP_ASSERT_EQ(r.ndone, 1);
  KP_ASSERT_EQ(kp_dnsq_inflight(dq), 0);
  char s[KP_ADDR_STRLEN];
  KP_ASSERT(r.fail == NULL);
  KP_ASSERT_EQ(r.out.n, 1);
  KP_ASSERT_STREQ(kp_addr_fmt(&r.out.a[0], s), "198.18.66.66");
  KP_ASSERT_EQ(r.late.n, 1);
  KP_ASSERT_STREQ(kp_addr_fmt(&r.late.a[0], s), "198.18.1.1");
  const kp_q_t *qs;
  size_t nq = kp_trace_queries(tr, &qs), nlate = 0, nodata = 0;
  for (size_t i = 0; i < nq; i++) {
    nlate += qs[i].late;
    nodata += qs[i].failure && !strcmp(qs[i].failure, KP_FAIL_DNS_NODATA);
    KP_ASSERT_STREQ(qs[i].engine, "udp");
  }
  KP_ASSERT_EQ(nq, 3); /* A first, A late, AAAA without data: as kp_net_resolve_udp records */
  KP_ASSERT_EQ(nlate, 1);
  KP_ASSERT_EQ(nodata, 1);
  kp_trace_free(tr);
  kp_dnsq_free(dq);
  close(fd);
  close(other);
}

typedef struct adm { int calls; int64_t first_wait; } adm_t;
static int64_t admit(void *ctx, const kp_addr_t *res, void *tag) {
  adm_t *a = ctx;
  return a->calls++ == 0 ? a->first_wait : 0;
}

KP_TEST(dnsq_timeout_retries_only_when_admitted) {
  kp_clock_manual_t m;
  kp_clock_manual_init(&m, 0);
  uint16_t port;
  int fd = udp_bound(&port);
  res_t r = {0};
  adm_t ad = {.first_wait = 500000000};
  kp_dnsq_cfg_t c = {.timeout = 3, .retries = 1, .window = 1, .admit = admit, .admit_ctx = &ad, .done = on_done,
                     .done_ctx = &r};
  kp_dnsq_t *dq;
  KP_ASSERT_OK(kp_dnsq_new(&c, &m.clock, &dq));
  kp_trace_t *tr;
  KP_ASSERT_OK(kp_trace_new(&m.clock, &tr));
  kp_addr_t lo = kp_addr_v4(0x7f000001u);
  KP_ASSERT_OK(kp_dnsq_submit(dq, &lo, port, "t.example", tr, &r));
  qin_t q1[2], q2;
  KP_ASSERT(srv_recv(fd, &q1[0], 1000) && srv_recv(fd, &q1[1], 1000));
  m.now_ns += 2999999999LL;
  kp_dnsq_step(dq, 0);
  KP_ASSERT_EQ(ad.calls, 0); /* not yet timed out */
  m.now_ns += 1;
  kp_dnsq_step(dq, 0);
  KP_ASSERT_EQ(ad.calls, 1); /* timed out, retry refused a permit for 0.5 s: nothing sent */
  KP_ASSERT(!srv_recv(fd, &q2, 50));
  KP_ASSERT_EQ(r.ndone, 0);
  m.now_ns += 499999999;
  kp_dnsq_step(dq, 0);
  KP_ASSERT_EQ(ad.calls, 1);
  m.now_ns += 1;
  kp_dnsq_step(dq, 0);
  KP_ASSERT_EQ(ad.calls, 2);
  qin_t r2[2];
  KP_ASSERT(srv_recv(fd, &r2[0], 1000) && srv_recv(fd, &r2[1], 1000)); /* both re-sent */
  /* the first try's ids are no longer ours (unless redrawn the same, 1 in 65536) */
  for (int i = 0; i < 2; i++)
    if (q1[i].id != r2[0].id && q1[i].id != r2[1].id) reply(fd, &q1[i], "t.example", q1[i].qtype, q1[i].id, 0xC6120101u);
  steps(dq, 3);
  KP_ASSERT_EQ(r.ndone, 0);
  KP_ASSERT_EQ(r.out.n, 0);
  m.now_ns += 3000000000LL;
  kp_dnsq_step(dq, 0);
  KP_ASSERT_EQ(r.ndone, 1);
  KP_ASSERT_STREQ(r.fail, KP_FAIL_TIMEOUT);
  const kp_q_t *qs;
  KP_ASSERT_EQ(kp_trace_queries(tr, &qs), 2);
  KP_ASSERT_STREQ(qs[0].failure, KP_FAIL_TIMEOUT);
  KP_ASSERT(qs[0].t0 == 0.0 && qs[0].t > 6.4); /* one record per query, from its first send */
  kp_trace_free(tr);
  kp_dnsq_free(dq);
  close(fd);
}

KP_TEST(dnsq_icmp_refused_ends_the_lookup) {
  kp_clock_manual_t m;
  kp_clock_manual_init(&m, 0);
  uint16_t port;
  close(udp_bound(&port)); /* nothing listens there now: the kernel answers port unreachable */
  res_t r = {0};
  kp_dnsq_cfg_t c = {.timeout = 3, .done = on_done, .done_ctx = &r};
  kp_dnsq_t *dq;
  KP_ASSERT_OK(kp_dnsq_new(&c, &m.clock, &dq));
  kp_trace_t *tr;
  KP_ASSERT_OK(kp_trace_new(&m.clock, &tr));
  kp_addr_t lo = kp_addr_v4(0x7f000001u);
  KP_ASSERT_OK(kp_dnsq_submit(dq, &lo, port, "r.example", tr, NULL));
  for (int i = 0; i < 50 && !r.ndone; i++) kp_dnsq_step(dq, 20);
  KP_ASSERT_EQ(r.ndone, 1);
  KP_ASSERT_STREQ(r.fail, KP_FAIL_REFUSED);
  kp_trace_free(tr);
  kp_dnsq_free(dq);
}

KP_TEST(dnsq_many_in_flight_each_gets_its_own_answer) {
  enum { N = 300 };
  kp_clock_manual_t m;
  kp_clock_manual_init(&m, 0);
  uint16_t port;
  int fd = udp_bound(&port);
  static res_t r[N];
  static kp_trace_t *tr[N];
  memset(r, 0, sizeof r);
  kp_dnsq_cfg_t c = {.timeout = 3, .window = 0.5, .done = on_done};
  kp_dnsq_t *dq;
  KP_ASSERT_OK(kp_dnsq_new(&c, &m.clock, &dq));
  kp_addr_t lo = kp_addr_v4(0x7f000001u);
  char name[32];
  for (int i = 0; i < N; i++) {
    KP_ASSERT_OK(kp_trace_new(&m.clock, &tr[i]));
    snprintf(name, sizeof name, "n%03d.example", i);
    KP_ASSERT_OK(kp_dnsq_submit(dq, &lo, port, name, tr[i], &r[i]));
  }
  KP_ASSERT_EQ(kp_dnsq_inflight(dq), N);
  static qin_t q[2 * N];
  int got = 0;
  while (got < 2 * N && srv_recv(fd, &q[got], 500)) got++;
  KP_ASSERT_EQ(got, 2 * N);
  for (int k = got - 1; k >= 0; k--) { /* answered in reverse order of sending */
    int i = (q[k].b[14] - '0') * 100 + (q[k].b[15] - '0') * 10 + (q[k].b[16] - '0');
    snprintf(name, sizeof name, "n%03d.example", i);
    reply(fd, &q[k], name, q[k].qtype, q[k].id, q[k].qtype == KP_DNS_A ? 0xC6120000u + (uint32_t)i : 0);
    if (k % 64 == 0) kp_dnsq_step(dq, 0);
  }
  steps(dq, 10);
  m.now_ns += 600000000;
  kp_dnsq_step(dq, 0);
  KP_ASSERT_EQ(kp_dnsq_inflight(dq), 0);
  KP_ASSERT_EQ(kp_dnsq_unmatched(dq), 0);
  for (int i = 0; i < N; i++) {
    KP_ASSERT_EQ(r[i].ndone, 1);
    KP_ASSERT_EQ(r[i].out.n, 1);
    KP_ASSERT_EQ(kp_addr_v4_u32(&r[i].out.a[0]), 0xC6120000u + (uint32_t)i);
    kp_trace_free(tr[i]);
  }
  kp_dnsq_free(dq);
  close(fd);
}

KP_TEST(dns_parse_ptr_and_dnsq_one_query) {
  /* a PTR response (pointer into the question): its target is kept like a CNAME's */
  static const uint8_t msg[] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
                                2, '1', '0', 3, '2', '0', '0', 2, '1', '8', 3, '1', '9', '8', 7, 'i', 'n', '-', 'a', 'd',
                                'd', 'r', 4, 'a', 'r', 'p', 'a', 0, 0, 12, 0, 1,
                                0xC0, 12, 0, 12, 0, 1, 0, 0, 0, 60, 0, 14, 3, 'n', 's', '1', 3, 'i', 's', 'p', 4, 't',
                                'e', 's', 't', 0};
  kp_dns_msg_t m;
  KP_ASSERT_OK(kp_dns_parse(msg, sizeof msg, &m));
  KP_ASSERT_EQ(m.qtype, KP_DNS_PTR);
  KP_ASSERT_EQ(m.nanswers, 1);
  KP_ASSERT_EQ(m.an[0].type, KP_DNS_PTR);
  KP_ASSERT_STREQ(m.an[0].target, "ns1.isp.test");
  /* kp_dnsq_submit_one sends exactly one query of that type; a PTR answer is not "no data" */
  kp_clock_manual_t mc;
  kp_clock_manual_init(&mc, 0);
  uint16_t port;
  int fd = udp_bound(&port);
  res_t r = {0};
  kp_dnsq_cfg_t c = {.timeout = 3, .window = 0.1, .done = on_done, .done_ctx = &r};
  kp_dnsq_t *dq;
  KP_ASSERT_OK(kp_dnsq_new(&c, &mc.clock, &dq));
  kp_trace_t *tr;
  KP_ASSERT_OK(kp_trace_new(&mc.clock, &tr));
  kp_addr_t lo = kp_addr_v4(0x7f000001u);
  KP_ASSERT(kp_dnsq_submit_one(dq, &lo, port, "x.example", KP_DNS_CNAME, tr, &r) == KP_ERR_INVAL);
  KP_ASSERT_OK(kp_dnsq_submit_one(dq, &lo, port, "10.200.18.198.in-addr.arpa", KP_DNS_PTR, tr, &r));
  qin_t q, q2;
  KP_ASSERT(srv_recv(fd, &q, 1000));
  KP_ASSERT_EQ(q.qtype, KP_DNS_PTR);
  KP_ASSERT(!srv_recv(fd, &q2, 50)); /* no AAAA companion */
  uint8_t resp[sizeof msg];
  memcpy(resp, msg, sizeof msg);
  resp[0] = (uint8_t)(q.id >> 8);
  resp[1] = (uint8_t)q.id;
  sendto(fd, resp, sizeof resp, 0, (struct sockaddr *)&q.from, q.fl);
  for (int i = 0; i < 50 && kp_dnsq_unmatched(dq) == 0 && !r.ndone; i++) {
    kp_dnsq_step(dq, 20);
    mc.now_ns += 20000000;
  }
  for (int i = 0; i < 10 && !r.ndone; i++) {
    mc.now_ns += 100000000;
    kp_dnsq_step(dq, 0);
  }
  KP_ASSERT_EQ(r.ndone, 1);
  KP_ASSERT(r.fail == NULL);
  const kp_q_t *qs;
  KP_ASSERT_EQ(kp_trace_queries(tr, &qs), 1);
  KP_ASSERT_STREQ(qs[0].qtype, "PTR");
  KP_ASSERT(qs[0].failure == NULL);
  kp_trace_free(tr);
  kp_dnsq_free(dq);
  close(fd);
}
