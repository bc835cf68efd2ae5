/* test_labdns.c: the lab injector's pure packet functions (parse a query, forge the answer). */
#include <arpa/inet.h>

#include "kp_test.h"
#include "lab/lab.h"

/* Builds an IPv4 or IPv6 UDP DNS query for name/qtype into out; returns its length. */
static size_t build_query(int fam, const char *name, uint16_t qtype, uint16_t flags, uint8_t *out) {
  uint8_t dns[300];
  size_t n = 0;
  const uint8_t hdr[12] = {0xbe, 0xef, (uint8_t)(flags >> 8), (uint8_t)flags, 0, 1, 0, 0, 0, 0, 0, 0};
  memcpy(dns, hdr, 12);
  n = 12;
  const char *p = name;
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t l = dot ? (size_t)(dot - p) : strlen(p);
    dns[n++] = (uint8_t)l;
    memcpy(dns + n, p, l);
    n += l;
    p += l + (dot ? 1 : 0);
  }
  dns[n++] = 0;
  dns[n++] = (uint8_t)(qtype >> 8);
  dns[n++] = (uint8_t)qtype;
  dns[n++] = 0;
  dns[n++] = 1;
  size_t ip = fam == 4 ? 20 : 40, ulen = 8 + n;
  memset(out, 0, ip + ulen);
  if (fam == 4) {
    out[0] = 0x45;
    out[2] = (uint8_t)((ip + ulen) >> 8);
    out[3] = (uint8_t)(ip + ulen);
    out[8] = 64;
    out[9] = 17;
    inet_pton(AF_INET, "198.19.1.2", out + 12);
    inet_pton(AF_INET, "198.19.10.53", out + 16);
  } else {
    out[0] = 0x60;
    out[4] = (uint8_t)(ulen >> 8);
    out[5] = (uint8_t)ulen;
    out[6] = 17;
    out[7] = 64;
    inet_pton(AF_INET6, "2001:db8:1::2", out + 8);
    inet_pton(AF_INET6, "2001:db8:10::53", out + 24);
  }
  uint8_t *u = out + ip;
  u[0] = 0x9c; /* source port 40000 */
  u[1] = 0x40;
  u[3] = 53;
  u[4] = (uint8_t)(ulen >> 8);
  u[5] = (uint8_t)ulen;
  memcpy(u + 8, dns, n);
  KP_ASSERT_OK(kp_lab_pkt_fix_csum(out, ip + ulen));
  return ip + ulen;
}

static const uint8_t F4[4] = {198, 19, 66, 66};
static uint8_t F6[16];

KP_TEST(parse_v4_query) {
  uint8_t pkt[512];
  size_t len = build_query(4, "Web.WhatsApp.com", 1, 0x0100, pkt);
  kp_lab_dnsq_t q;
  KP_ASSERT_OK(kp_lab_dns_parse_query(pkt, len, &q));
  KP_ASSERT_EQ(q.family, 4);
  KP_ASSERT_STREQ(q.qname, "web.whatsapp.com");
  KP_ASSERT_EQ(q.id, 0xbeef);
  KP_ASSERT_EQ(q.sport, 40000);
  KP_ASSERT_EQ(q.dport, 53);
  KP_ASSERT_EQ(q.qtype, 1);
  KP_ASSERT_EQ(q.q_len, strlen("web.whatsapp.com") + 2 + 4);
}

KP_TEST(forge_a_and_aaaa) {
  inet_pton(AF_INET6, "2001:db8:66::66", F6);
  for (int fam = 4; fam <= 6; fam += 2) {
    for (int t = 0; t < 3; t++) {
      uint16_t qtype = t == 0 ? 1 : t == 1 ? 28 : 16;
      uint8_t pkt[512], out[KP_LAB_PKT_MAX];
      size_t len = build_query(fam, "e1.whatsapp.net", qtype, 0x0100, pkt), olen = 0;
      kp_lab_dnsq_t q, r;
      KP_ASSERT_OK(kp_lab_dns_parse_query(pkt, len, &q));
      KP_ASSERT_OK(kp_lab_dns_forge(&q, pkt, len, F4, F6, out, sizeof out, &olen));
      KP_ASSERT(kp_lab_pkt_csum_ok(out, olen));
      /* an answer is not a query: the parser must refuse it */
      KP_ASSERT_NE(kp_lab_dns_parse_query(out, olen, &r), KP_OK);
      size_t ip = fam == 4 ? 20 : 40, alen = fam == 4 ? 4 : 16;
      KP_ASSERT(memcmp(out + ip - 2 * alen, pkt + ip - alen, alen) == 0); /* from the resolver */
      KP_ASSERT(memcmp(out + ip - alen, pkt + ip - 2 * alen, alen) == 0); /* to the client */
      const uint8_t *d = out + ip + 8;
      KP_ASSERT_EQ(d[0] << 8 | d[1], 0xbeef);
      KP_ASSERT_EQ(d[2] & 0x80, 0x80);  /* QR */
      KP_ASSERT_EQ(d[2] & 0x01, 0x01);  /* RD copied */
      KP_ASSERT_EQ(d[3] & 0x0f, 0);     /* NOERROR */
      KP_ASSERT_EQ(d[7], t < 2 ? 1 : 0); /* ANCOUNT */
      if (t < 2) {
        size_t rdlen = t == 0 ? 4 : 16;
        KP_ASSERT(memcmp(out + olen - rdlen, t == 0 ? F4 : F6, rdlen) == 0);
      }
    }
  }
}

KP_TEST(every_truncation_rejected) {
  uint8_t pkt[512];
  for (int fam = 4; fam <= 6; fam += 2) {
    size_t len = build_query(fam, "chat.signal.org", 28, 0x0100, pkt);
    kp_lab_dnsq_t q;
    for (size_t cut = 0; cut < len; cut++) KP_ASSERT_NE(kp_lab_dns_parse_query(pkt, cut, &q), KP_OK);
    KP_ASSERT_OK(kp_lab_dns_parse_query(pkt, len, &q));
  }
}

KP_TEST(non_queries_rejected) {
  uint8_t pkt[512];
  kp_lab_dnsq_t q;
  size_t len = build_query(4, "example.org", 1, 0x8180, pkt); /* a response */
  KP_ASSERT_NE(kp_lab_dns_parse_query(pkt, len, &q), KP_OK);
  len = build_query(4, "example.org", 1, 0x2800, pkt); /* opcode UPDATE */
  KP_ASSERT_NE(kp_lab_dns_parse_query(pkt, len, &q), KP_OK);
  len = build_query(4, "example.org", 1, 0x0100, pkt);
  pkt[6] = 0x20; /* more fragments */
  KP_ASSERT_NE(kp_lab_dns_parse_query(pkt, len, &q), KP_OK);
  len = build_query(4, "example.org", 1, 0x0100, pkt);
  pkt[20 + 3] = 54; /* not port 53 */
  KP_ASSERT_NE(kp_lab_dns_parse_query(pkt, len, &q), KP_OK);
  len = build_query(6, "example.org", 1, 0x0100, pkt);
  pkt[6] = 0; /* hop-by-hop extension header */
  KP_ASSERT_NE(kp_lab_dns_parse_query(pkt, len, &q), KP_OK);
  len = build_query(4, "example.org", 1, 0x0100, pkt);
  pkt[20 + 8 + 12] = 0xc0; /* a compression pointer in the question */
  KP_ASSERT_NE(kp_lab_dns_parse_query(pkt, len, &q), KP_OK);
}

KP_TEST(name_match_exact) {
  const char *names[] = {"web.whatsapp.com", "E1.WhatsApp.net."};
  KP_ASSERT(kp_lab_name_in("web.whatsapp.com", names, 2));
  KP_ASSERT(kp_lab_name_in("e1.whatsapp.net", names, 2));
  KP_ASSERT(!kp_lab_name_in("xweb.whatsapp.com", names, 2));
  KP_ASSERT(!kp_lab_name_in("whatsapp.com", names, 2));
  KP_ASSERT(!kp_lab_name_in("e1.whatsapp.net.evil", names, 2));
  KP_ASSERT(kp_lab_name_in("a.web.whatsapp.com", names, 2)); /* a subdomain */
  KP_ASSERT(!kp_lab_name_in("", names, 2));
  const char *root[] = {""};
  KP_ASSERT(!kp_lab_name_in("example.org", root, 1)); /* an empty name matches nothing */
}

KP_TEST(fix_csum_repairs) {
  uint8_t pkt[512];
  for (int fam = 4; fam <= 6; fam += 2) {
    size_t len = build_query(fam, "example.org", 1, 0x0100, pkt);
    KP_ASSERT(kp_lab_pkt_csum_ok(pkt, len));
    pkt[len - 1] ^= 0x5a; /* payload changed, checksum stale */
    KP_ASSERT(!kp_lab_pkt_csum_ok(pkt, len));
    KP_ASSERT_OK(kp_lab_pkt_fix_csum(pkt, len));
    KP_ASSERT(kp_lab_pkt_csum_ok(pkt, len));
  }
}

KP_TEST(forge_small_buffer) {
  uint8_t pkt[512], out[40];
  size_t len = build_query(4, "example.org", 1, 0x0100, pkt), olen = 0;
  kp_lab_dnsq_t q;
  KP_ASSERT_OK(kp_lab_dns_parse_query(pkt, len, &q));
  KP_ASSERT_EQ(kp_lab_dns_forge(&q, pkt, len, F4, F6, out, sizeof out, &olen), KP_ERR_NOMEM);
}
