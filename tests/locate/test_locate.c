/* test_locate.c: the STUN codec against RFC 5769's sample responses (typed in from the RFC),
 * malformed variants of them, the IP-lookup body parser, and kp_locate() end to end against
 * a STUN responder on loopback mapped with a geo table. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "geo/geo.h"
#include "kp_test.h"
#include "locate/locate.h"

static const uint8_t txid5769[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

/* RFC 5769 2.2: IPv4 response, XOR-MAPPED-ADDRESS 192.0.2.1:32853 */
static const uint8_t v4resp[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};
/* RFC 5769 2.3: IPv6 response, XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853 */
static const uint8_t v6resp[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static const char *fmt(const kp_addr_t *a) {
  static char b[KP_ADDR_STRLEN];
  return kp_addr_fmt(a, b);
}

KP_TEST(rfc5769_ipv4_response) {
  kp_stun_mapped_t m;
  KP_ASSERT_OK(kp_stun_parse_response(v4resp, sizeof v4resp, txid5769, &m));
  KP_ASSERT_STREQ(fmt(&m.addr), "192.0.2.1");
  KP_ASSERT_EQ(m.port, 32853);
  KP_ASSERT(m.xored);
  KP_ASSERT(m.fingerprint); /* the CRC in the RFC matches: the bytes above are typed right */
}

KP_TEST(rfc5769_ipv6_response) {
  kp_stun_mapped_t m;
  KP_ASSERT_OK(kp_stun_parse_response(v6resp, sizeof v6resp, txid5769, &m));
  KP_ASSERT_STREQ(fmt(&m.addr), "2001:db8:1234:5678:11:2233:4455:6677");
  KP_ASSERT_EQ(m.port, 32853);
  KP_ASSERT(m.fingerprint);
}

KP_TEST(other_transaction_rejected) {
  uint8_t id[12];
  memcpy(id, txid5769, 12);
  id[11] ^= 1;
  kp_stun_mapped_t m;
  KP_ASSERT_EQ(kp_stun_parse_response(v4resp, sizeof v4resp, id, &m), KP_ERR_INVAL);
}

KP_TEST(corrupt_bytes_fail_fingerprint_or_shape) {
  uint8_t b[sizeof v4resp];
  kp_stun_mapped_t m;
  /* a flipped bit in the SOFTWARE value: shape still fine, FINGERPRINT catches it */
  memcpy(b, v4resp, sizeof b);
  b[25] ^= 0x01;
  KP_ASSERT_EQ(kp_stun_parse_response(b, sizeof b, txid5769, &m), KP_ERR_INVAL);
  /* bad magic */
  memcpy(b, v4resp, sizeof b);
  b[4] = 0;
  KP_ASSERT_EQ(kp_stun_parse_response(b, sizeof b, txid5769, &m), KP_ERR_INVAL);
  /* truncated datagram */
  KP_ASSERT_EQ(kp_stun_parse_response(v4resp, sizeof v4resp - 4, txid5769, &m), KP_ERR_TRUNC);
  KP_ASSERT_EQ(kp_stun_parse_response(v4resp, 19, txid5769, &m), KP_ERR_TRUNC);
  /* XOR-MAPPED-ADDRESS length 8 -> 12: the value no longer matches its family */
  memcpy(b, v4resp, sizeof b);
  b[39] = 12;
  KP_ASSERT_EQ(kp_stun_parse_response(b, sizeof b, txid5769, &m), KP_ERR_INVAL);
  /* an attribute running past the message */
  memcpy(b, v4resp, sizeof b);
  b[23] = 0xff;
  KP_ASSERT_EQ(kp_stun_parse_response(b, sizeof b, txid5769, &m), KP_ERR_INVAL);
  /* unknown family */
  memcpy(b, v4resp, sizeof b);
  b[41] = 3;
  KP_ASSERT_EQ(kp_stun_parse_response(b, sizeof b, txid5769, &m), KP_ERR_INVAL);
  /* an error response header whose body is missing is short, not an error response */
  memcpy(b, v4resp, sizeof b);
  b[1] = 0x11;
  KP_ASSERT_EQ(kp_stun_parse_response(b, 20, txid5769, &m), KP_ERR_TRUNC); /* length says 60 but 0 follow */
}

/* Build a success response by hand: header + attributes. */
static size_t build(uint8_t *b, uint16_t type, const uint8_t *attrs, size_t alen) {
  b[0] = (uint8_t)(type >> 8), b[1] = (uint8_t)type, b[2] = (uint8_t)(alen >> 8), b[3] = (uint8_t)alen;
  b[4] = 0x21, b[5] = 0x12, b[6] = 0xa4, b[7] = 0x42;
  memcpy(b + 8, txid5769, 12);
  memcpy(b + 20, attrs, alen);
  return 20 + alen;
}

KP_TEST(mapped_address_fallback_and_xor_precedence) {
  uint8_t b[128];
  kp_stun_mapped_t m;
  const uint8_t mapped[] = {0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x0d, 0x96, 198, 18, 7, 9};
  KP_ASSERT_OK(kp_stun_parse_response(b, build(b, 0x0101, mapped, sizeof mapped), txid5769, &m));
  KP_ASSERT_STREQ(fmt(&m.addr), "198.18.7.9");
  KP_ASSERT_EQ(m.port, 3478);
  KP_ASSERT(!m.xored);
  KP_ASSERT(!m.fingerprint);
  /* MAPPED first, XOR-MAPPED (192.0.2.1 from the RFC) after: XOR wins */
  uint8_t both[24];
  memcpy(both, mapped, 12);
  memcpy(both + 12, v4resp + 36, 12);
  KP_ASSERT_OK(kp_stun_parse_response(b, build(b, 0x0101, both, sizeof both), txid5769, &m));
  KP_ASSERT_STREQ(fmt(&m.addr), "192.0.2.1");
  KP_ASSERT(m.xored);
  /* no address attribute at all */
  KP_ASSERT_EQ(kp_stun_parse_response(b, build(b, 0x0101, v4resp + 20, 16), txid5769, &m), KP_ERR_NOTFOUND);
  /* Binding error response */
  KP_ASSERT_EQ(kp_stun_parse_response(b, build(b, 0x0111, v4resp + 20, 16), txid5769, &m), KP_ERR_PERM);
  /* a request is not a response */
  KP_ASSERT_EQ(kp_stun_parse_response(b, build(b, 0x0001, mapped, sizeof mapped), txid5769, &m), KP_ERR_INVAL);
  /* trailing bytes after the message */
  size_t n = build(b, 0x0101, mapped, sizeof mapped);
  b[n] = 0;
  KP_ASSERT_EQ(kp_stun_parse_response(b, n + 1, txid5769, &m), KP_ERR_INVAL);
}

KP_TEST(binding_request_encoding) {
  uint8_t q[32];
  size_t n;
  KP_ASSERT_EQ(kp_stun_binding_request(txid5769, q, 19, &n), KP_ERR_RANGE);
  KP_ASSERT_OK(kp_stun_binding_request(txid5769, q, sizeof q, &n));
  KP_ASSERT_EQ(n, 20);
  const uint8_t want[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7,
                            0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
  KP_ASSERT(memcmp(q, want, 20) == 0);
}

static kp_status_t body(const char *s, char *out) {
  kp_addr_t a;
  kp_status_t st = kp_locate_parse_ip_body((const uint8_t *)s, strlen(s), &a);
  if (st == KP_OK) kp_addr_fmt(&a, out);
  return st;
}

KP_TEST(ip_lookup_bodies) {
  char got[KP_ADDR_STRLEN];
  KP_ASSERT_OK(body("fl=12f1\nh=www.cloudflare.com\nip=198.18.3.4\nts=1.2\nvisit_scheme=https\n", got));
  KP_ASSERT_STREQ(got, "198.18.3.4");
  KP_ASSERT_OK(body("fl=1\r\nip=2001:db8::7\r\n", got));
  KP_ASSERT_STREQ(got, "2001:db8::7");
  KP_ASSERT_OK(body("<Response><Ip>198.18.9.1</Ip><Status>OK</Status></Response>", got));
  KP_ASSERT_STREQ(got, "198.18.9.1");
  KP_ASSERT_OK(body("  198.18.0.1\n", got));
  KP_ASSERT_STREQ(got, "198.18.0.1");
  KP_ASSERT_EQ(body("zip=198.18.0.1\n", got), KP_ERR_NOTFOUND); /* only a line starting "ip=" */
  KP_ASSERT_EQ(body("ip=not-an-address\n", got), KP_ERR_NOTFOUND);
  KP_ASSERT_EQ(body("<Ip>198.18.0.1", got), KP_ERR_NOTFOUND);
  KP_ASSERT_EQ(body("<html>blocked</html>", got), KP_ERR_NOTFOUND);
  KP_ASSERT_EQ(body("", got), KP_ERR_NOTFOUND);
  char longline[200];
  memset(longline, '1', sizeof longline - 1);
  longline[sizeof longline - 1] = 0;
  KP_ASSERT_EQ(body(longline, got), KP_ERR_NOTFOUND);
}

/* A one-shot STUN responder on 127.0.0.1: answers the first request with XOR-MAPPED-ADDRESS
 * 198.18.44.5 (what a server behind a NAT would see), so the client and geo step are real. */
typedef struct responder {
  int fd;
  int answers;
} responder_t;

static void *respond(void *arg) {
  responder_t *r = arg;
  uint8_t q[64];
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  ssize_t n = recvfrom(r->fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
  if (n != 20) return NULL;
  uint8_t b[64];
  uint8_t attr[12] = {0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0, 0, 198, 18, 44, 5};
  uint16_t port = (uint16_t)(ntohs(from.sin_port) ^ 0x2112);
  attr[6] = (uint8_t)(port >> 8), attr[7] = (uint8_t)port;
  const uint8_t mc[4] = {0x21, 0x12, 0xa4, 0x42};
  for (int i = 0; i < 4; i++) attr[8 + i] ^= mc[i];
  b[0] = 0x01, b[1] = 0x01, b[2] = 0, b[3] = 12;
  memcpy(b + 4, q + 4, 16);
  memcpy(b + 20, attr, 12);
  if (sendto(r->fd, b, 32, 0, (struct sockaddr *)&from, fl) == 32) r->answers++;
  return NULL;
}

KP_TEST(locate_end_to_end_on_loopback) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  KP_ASSERT(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  KP_ASSERT(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  socklen_t sl = sizeof sa;
  KP_ASSERT(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
  responder_t r = {.fd = fd};
  pthread_t th;
  KP_ASSERT(pthread_create(&th, NULL, respond, &r) == 0);

  char tbl[] = "/tmp/kp-locate-geo-XXXXXX";
  int tfd = mkstemp(tbl);
  KP_ASSERT(tfd >= 0);
  const char *rows = "prefix,cc,region,asn,as_name\n198.18.44.0/24,KZ,,9198,JSC Kazakhtelecom\n";
  KP_ASSERT(write(tfd, rows, strlen(rows)) == (ssize_t)strlen(rows));
  close(tfd);
  kp_geo_t *g;
  kp_geo_config_t gc = {.table = tbl};
  KP_ASSERT_OK(kp_geo_open(&gc, &g));

  char first[64], good[64];
  snprintf(first, sizeof first, "127.0.0.1:%u", 1u); /* nothing listens: refused, next server */
  snprintf(good, sizeof good, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
  const char *stun[] = {first, good, NULL};
  const char *none[] = {NULL};
  kp_locate_cfg_t cfg = {.stun = stun, .urls = none, .geo = g, .timeout_ms = 2000};
  kp_locate_result_t res;
  KP_ASSERT_OK(kp_locate(&cfg, &res));
  pthread_join(th, NULL);
  KP_ASSERT_EQ(r.answers, 1);
  KP_ASSERT(res.found);
  KP_ASSERT_STREQ(fmt(&res.probe_addr), "198.18.44.5");
  KP_ASSERT_STREQ(res.cc, "KZ");
  KP_ASSERT_EQ(res.asn, 9198);
  KP_ASSERT_STREQ(res.network_name, "JSC Kazakhtelecom");
  KP_ASSERT(strstr(res.method, good) != NULL);
  KP_ASSERT_STREQ(res.resolver_ip, ""); /* no resolver configured */

  /* nothing answers: nothing found, nothing mapped */
  const char *dead[] = {first, NULL};
  cfg.stun = dead;
  cfg.timeout_ms = 300;
  KP_ASSERT_OK(kp_locate(&cfg, &res));
  KP_ASSERT(!res.found);
  KP_ASSERT_STREQ(res.cc, "");
  KP_ASSERT_EQ(res.asn, 0);
  kp_geo_close(g);
  unlink(tbl);
  close(fd);
}


/* The budget bounds the whole lookup: five silent servers at 1 s each finish within ~1.5 s. */
KP_TEST(locate_budget_bounds_silent_servers) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  KP_ASSERT(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  KP_ASSERT(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  socklen_t sl = sizeof sa;
  KP_ASSERT(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
  char hp[64];
  snprintf(hp, sizeof hp, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port)); /* bound, never answers */
  const char *stun[] = {hp, hp, hp, hp, hp, NULL}, *none[] = {NULL};
  kp_locate_cfg_t cfg = {.stun = stun, .urls = none, .timeout_ms = 1000, .budget_ms = 1500};
  kp_locate_result_t res;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  KP_ASSERT_OK(kp_locate(&cfg, &res));
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  KP_ASSERT(!res.found);
  KP_ASSERT_MSG(s >= 1.4 && s < 2.2, "took %.2f s, want ~1.5", s);
  close(fd);
}
