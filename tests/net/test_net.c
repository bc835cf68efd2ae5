/*
 * test_net.c: the pure parsers (DNS, TLS records, HTTP) and the steps on
 * loopback: UDP DNS with a duplicate (injected-style) answer, TCP refused,
 * HTTP round trip, TLS with an untrusted / trusted / wrong-name certificate,
 * TLS reset and TLS stall. Servers are threads on 127.0.0.1 in this process.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kp_test.h"
#include "net/net.h"

/* ------------------------------------------------------------------ DNS */

/* A response for example.org A with two answers: one with a compressed owner, one CNAME. */
static size_t build_response(uint8_t *b, uint16_t id, uint8_t rcode) {
  size_t q;
  if (kp_dns_build_query("example.org", KP_DNS_A, id, b, 512, &q) != KP_OK) return 0;
  b[2] = 0x81;
  b[3] = (uint8_t)(0x80 | rcode);
  b[7] = 2; /* ANCOUNT */
  uint8_t an[] = {0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, 'w', 'w', 'w', 0xC0, 12, /* CNAME www.example.org */
                  0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4, 198, 19, 11, 13};
  memcpy(b + q, an, sizeof an);
  return q + sizeof an;
}

KP_TEST(dns_roundtrip) {
  uint8_t b[512];
  size_t n = build_response(b, 0x1234, 0);
  KP_ASSERT(n > 0);
  kp_dns_msg_t m;
  KP_ASSERT_OK(kp_dns_parse(b, n, &m));
  KP_ASSERT_EQ(m.id, 0x1234);
  KP_ASSERT_EQ(m.qtype, KP_DNS_A);
  KP_ASSERT_STREQ(m.qname, "example.org");
  KP_ASSERT_EQ(m.nanswers, 2);
  KP_ASSERT_EQ(m.an[0].type, KP_DNS_CNAME);
  KP_ASSERT_STREQ(m.an[0].target, "www.example.org");
  char s[KP_ADDR_STRLEN];
  KP_ASSERT_STREQ(kp_addr_fmt(&m.an[1].addr, s), "198.19.11.13");
  KP_ASSERT_EQ(m.an[1].ttl, 256);
  /* every truncation fails cleanly */
  for (size_t k = 0; k < n; k++) KP_ASSERT_NE(kp_dns_parse(b, k, &m), KP_OK);
}

KP_TEST(dns_rejects_loops_and_bad_input) {
  uint8_t b[512];
  size_t n = build_response(b, 7, 3);
  kp_dns_msg_t m;
  KP_ASSERT_OK(kp_dns_parse(b, n, &m));
  KP_ASSERT_EQ(m.rcode, KP_DNS_NXDOMAIN);
  /* answer owner pointing at itself */
  size_t q;
  KP_ASSERT_OK(kp_dns_build_query("a.b", KP_DNS_A, 1, b, sizeof b, &q));
  b[2] |= 0x80;
  b[7] = 1;
  uint8_t self[] = {0xC0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4};
  self[1] = (uint8_t)q;
  memcpy(b + q, self, sizeof self);
  KP_ASSERT_EQ(kp_dns_parse(b, q + sizeof self, &m), KP_ERR_INVAL);
  /* forward pointer */
  self[1] = (uint8_t)(q + 4);
  memcpy(b + q, self, sizeof self);
  KP_ASSERT_EQ(kp_dns_parse(b, q + sizeof self, &m), KP_ERR_INVAL);
  /* a query (QR clear) is not a response */
  KP_ASSERT_OK(kp_dns_build_query("a.b", KP_DNS_A, 1, b, sizeof b, &q));
  KP_ASSERT_EQ(kp_dns_parse(b, q, &m), KP_ERR_INVAL);
  /* names too long / labels too long are refused when building */
  char big[300];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  KP_ASSERT_NE(kp_dns_build_query(big, KP_DNS_A, 1, b, sizeof b, &q), KP_OK);
  KP_ASSERT(kp_dns_name_eq("Example.ORG.", "example.org"));
  KP_ASSERT(!kp_dns_name_eq("example.org", "example.com"));
}

/* ------------------------------------------------------------------ HTTP */

static kp_status_t parse_str(const char *s, bool eof, size_t cap, kp_http_resp_t *r, kp_buf_t *body) {
  return kp_http_parse((const uint8_t *)s, strlen(s), eof, cap, r, body);
}

KP_TEST(http_parse_framing) {
  kp_http_resp_t r;
  kp_buf_t body;
  kp_buf_init(&body, 1 << 20);
  const char *cl = "HTTP/1.1 451 Unavailable For Legal Reasons\r\nContent-Length: 5\r\nX-A: b \r\n\r\nhello";
  KP_ASSERT_OK(parse_str(cl, false, 100, &r, &body));
  KP_ASSERT_EQ(r.status, 451);
  KP_ASSERT_STREQ(kp_buf_str(&body), "hello");
  size_t vl;
  const char *v = kp_http_header(&r, (const uint8_t *)cl, "x-a", &vl);
  KP_ASSERT(v && vl == 1 && v[0] == 'b');
  /* short body: need more, or malformed at EOF */
  KP_ASSERT_EQ(parse_str("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, 100, &r, &body), KP_ERR_TRUNC);
  KP_ASSERT_EQ(parse_str("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true, 100, &r, &body), KP_ERR_INVAL);
  /* chunked with extension and trailer */
  const char *ch = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n";
  KP_ASSERT_OK(parse_str(ch, false, 100, &r, &body));
  KP_ASSERT_STREQ(kp_buf_str(&body), "abcde");
  KP_ASSERT(r.chunked);
  /* body cap: complete with truncation */
  KP_ASSERT_OK(parse_str(ch, false, 4, &r, &body));
  KP_ASSERT(r.body_truncated);
  KP_ASSERT_EQ(body.len, 4);
  /* close-delimited */
  KP_ASSERT_EQ(parse_str("HTTP/1.0 200 OK\r\n\r\nxyz", false, 100, &r, &body), KP_ERR_TRUNC);
  KP_ASSERT_OK(parse_str("HTTP/1.0 200 OK\r\n\r\nxyz", true, 100, &r, &body));
  KP_ASSERT_STREQ(kp_buf_str(&body), "xyz");
  /* 204 has no body; malformed lines are refused */
  KP_ASSERT_OK(parse_str("HTTP/1.1 204 No Content\r\n\r\n", false, 100, &r, &body));
  KP_ASSERT_EQ(parse_str("HTTP/1.1 20x OK\r\n\r\n", true, 100, &r, &body), KP_ERR_INVAL);
  KP_ASSERT_EQ(parse_str("SSH-2.0-OpenSSH\r\n\r\n", true, 100, &r, &body), KP_ERR_INVAL);
  KP_ASSERT_EQ(parse_str("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", true, 100, &r, &body),
               KP_ERR_INVAL);
  KP_ASSERT_EQ(parse_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true, 100, &r, &body),
               KP_ERR_INVAL);
  kp_buf_free(&body);
}

/* ------------------------------------------------------------- TLS records */

static X509 *make_cert(EVP_PKEY **key, const char *name) {
  *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, *key);
  X509_NAME *nm = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0);
  X509_set_issuer_name(x, nm);
  char san[300];
  snprintf(san, sizeof san, "DNS:%s", name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
  X509_sign(x, *key, EVP_sha256());
  return x;
}

KP_TEST(tls_records_clienthello_serverhello) {
  EVP_PKEY *key;
  X509 *cert = make_cert(&key, "localhost");
  SSL_CTX *cctx = SSL_CTX_new(TLS_client_method()), *sctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(sctx, cert);
  SSL_CTX_use_PrivateKey(sctx, key);
  SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
  BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
  BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
  SSL_set_bio(c, c_in, c_out);
  SSL_set_bio(s, s_in, s_out);
  SSL_set_tlsext_host_name(c, "web.whatsapp.com");
  SSL_set_connect_state(c);
  SSL_set_accept_state(s);
  KP_ASSERT(SSL_do_handshake(c) <= 0);
  uint8_t buf[16384];
  int n = BIO_read(c_out, buf, sizeof buf);
  KP_ASSERT(n > 0);
  kp_tls_info_t ti;
  KP_ASSERT_OK(kp_tls_parse(buf, (size_t)n, &ti));
  KP_ASSERT(ti.client_hello);
  KP_ASSERT_STREQ(ti.sni, "web.whatsapp.com");
  KP_ASSERT_EQ(ti.first_type, 22);
  /* the server's answer: a ServerHello choosing TLS 1.3 */
  BIO_write(s_in, buf, n);
  SSL_do_handshake(s);
  n = BIO_read(s_out, buf, sizeof buf);
  KP_ASSERT(n > 0);
  KP_ASSERT_OK(kp_tls_parse(buf, (size_t)n, &ti));
  KP_ASSERT(ti.server_hello);
  KP_ASSERT_EQ(ti.version, 0x0304);
  KP_ASSERT(ti.cipher != 0);
  /* every prefix parses or reports truncation, never more */
  for (int k = 0; k < n; k++) (void)kp_tls_parse(buf, (size_t)k, &ti);
  KP_ASSERT_EQ(kp_tls_parse(buf, 3, &ti), KP_ERR_TRUNC);
  /* an alert record */
  const uint8_t alert[] = {21, 3, 3, 0, 2, 2, 40};
  KP_ASSERT_OK(kp_tls_parse(alert, sizeof alert, &ti));
  KP_ASSERT(ti.alert && ti.alert_level == 2 && ti.alert_desc == 40);
  const uint8_t http[] = "HTTP/1.1 200 OK\r\n";
  KP_ASSERT_EQ(kp_tls_parse(http, sizeof http - 1, &ti), KP_ERR_INVAL);
  SSL_free(c);
  SSL_free(s);
  SSL_CTX_free(cctx);
  SSL_CTX_free(sctx);
  X509_free(cert);
  EVP_PKEY_free(key);
}

/* ------------------------------------------------------- loopback servers */

typedef enum { SRV_HTTP, SRV_TLS_HTTP, SRV_RESET_AFTER_HELLO, SRV_STALL, SRV_PLAIN_REPLY } srv_mode_t;

typedef struct srv {
  int lfd;
  uint16_t port;
  srv_mode_t mode;
  SSL_CTX *sctx;
  pthread_t th;
  char got[4096];          /* SRV_HTTP: the request as it arrived */
} srv_t;

static void *srv_main(void *arg) {
  srv_t *s = arg;
  int fd = accept(s->lfd, NULL, NULL);
  if (fd < 0) return NULL;
  char buf[4096];
  if (s->mode == SRV_HTTP) {
    ssize_t g = recv(fd, s->got, sizeof s->got - 1, 0);
    s->got[g > 0 ? g : 0] = 0;
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world";
    (void)!send(fd, resp, strlen(resp), 0);
  } else if (s->mode == SRV_TLS_HTTP) {
    SSL *ssl = SSL_new(s->sctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      int n = SSL_read(ssl, buf, sizeof buf);
      (void)n;
      const char *resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ntls!\r\n0\r\n\r\n";
      SSL_write(ssl, resp, (int)strlen(resp));
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
  } else if (s->mode == SRV_PLAIN_REPLY) { /* a middlebox answering the ClientHello in cleartext */
    (void)!recv(fd, buf, sizeof buf, 0);
    const char *resp = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    (void)!send(fd, resp, strlen(resp), MSG_NOSIGNAL);
  } else if (s->mode == SRV_RESET_AFTER_HELLO) {
    (void)!recv(fd, buf, sizeof buf, 0);
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  } else {
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    poll(&pf, 1, 3000);
    (void)!recv(fd, buf, sizeof buf, 0);
    poll(&pf, 1, 3000);
  }
  close(fd);
  return NULL;
}

static void srv_start(srv_t *s, srv_mode_t mode, SSL_CTX *sctx) {
  memset(s, 0, sizeof *s);
  s->mode = mode;
  s->sctx = sctx;
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  KP_ASSERT_OK(bind(s->lfd, (struct sockaddr *)&a, sizeof a));
  socklen_t l = sizeof a;
  getsockname(s->lfd, (struct sockaddr *)&a, &l);
  s->port = ntohs(a.sin_port);
  KP_ASSERT_OK(listen(s->lfd, 4));
  pthread_create(&s->th, NULL, srv_main, s);
}

static void srv_stop(srv_t *s) {
  shutdown(s->lfd, SHUT_RDWR);
  pthread_join(s->th, NULL);
  close(s->lfd);
}

typedef struct env {
  kp_net_cfg_t cfg;
  kp_trace_t *trace;
  kp_net_t *net;
  kp_addrs_t lo;
} env_t;

static void env_init(env_t *e, const char *ca_file) {
  memset(e, 0, sizeof *e);
  kp_addr_parse("127.0.0.1", &e->cfg.resolver);
  e->cfg.ca_file = ca_file;
  e->cfg.dns_timeout = e->cfg.connect_timeout = e->cfg.tls_timeout = e->cfg.http_timeout = 1.0;
  e->cfg.dns_window = 0.3;
  KP_ASSERT_OK(kp_trace_new(kp_clock_system(), &e->trace));
  KP_ASSERT_OK(kp_net_new(&e->cfg, kp_clock_system(), e->trace, &e->net));
  kp_addr_t a;
  kp_addr_parse("127.0.0.1", &a);
  kp_addrs_add(&e->lo, &a);
}

static void env_free(env_t *e) {
  kp_net_free(e->net);
  kp_trace_free(e->trace);
}

KP_TEST(connect_refused_and_http) {
  env_t e;
  env_init(&e, NULL);
  /* a port nobody listens on: bind, learn the port, close */
  int tmp = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(tmp, (struct sockaddr *)&a, sizeof a);
  socklen_t l = sizeof a;
  getsockname(tmp, (struct sockaddr *)&a, &l);
  close(tmp);
  kp_conn_t *c;
  const char *f;
  KP_ASSERT_OK(kp_net_connect(e.net, &e.lo, ntohs(a.sin_port), &c, &f));
  KP_ASSERT(c == NULL);
  KP_ASSERT_STREQ(f, KP_FAIL_REFUSED);

  srv_t s;
  srv_start(&s, SRV_HTTP, NULL);
  KP_ASSERT_OK(kp_net_connect(e.net, &e.lo, s.port, &c, &f));
  KP_ASSERT(c != NULL && f == NULL);
  kp_http_req_t req = {.method = "GET", .url = "http://x/", .host = "x", .path = "/"};
  kp_http_result_t hr;
  KP_ASSERT_OK(kp_net_http(e.net, c, &req, &hr));
  KP_ASSERT(hr.failure == NULL);
  KP_ASSERT_EQ(hr.status, 200);
  KP_ASSERT_EQ(hr.bytes, 11);
  KP_ASSERT(hr.head_len == 11 && memcmp(hr.head, "hello world", 11) == 0);
  kp_conn_close(c);
  srv_stop(&s);
  /* on the wire: a common browser's User-Agent, nothing that names keepon */
  KP_ASSERT(strstr(s.got, "\r\nUser-Agent: " KP_NET_USER_AGENT "\r\n") != NULL);
  KP_ASSERT(strstr(s.got, "keepon") == NULL);
  const kp_tcp_t *tcps;
  KP_ASSERT_EQ(kp_trace_tcps(e.trace, &tcps), 2);
  KP_ASSERT_STREQ(tcps[0].failure, KP_FAIL_REFUSED);
  KP_ASSERT(tcps[1].failure == NULL && tcps[1].t >= tcps[1].t0);
  /* the JSON has the OONI lists and parses */
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  kp_jw_t w;
  kp_jw_init(&w, &b);
  kp_jw_obj_begin(&w);
  kp_trace_write(e.trace, &w);
  kp_jw_obj_end(&w);
  KP_ASSERT_OK(w.st);
  kp_json_doc_t *doc;
  KP_ASSERT_OK(kp_json_parse(b.data, b.len, NULL, &doc, NULL));
  const kp_json_t *req0 = kp_json_at(kp_json_get(kp_json_root(doc), "requests"), 0);
  KP_ASSERT_EQ(kp_json_num(kp_json_get(kp_json_get(req0, "response"), "code")), 200);
  KP_ASSERT_STREQ(kp_json_get_str(kp_json_get(req0, "response"), "body"), "hello world");
  KP_ASSERT_EQ(kp_json_len(kp_json_get(kp_json_get(req0, "response"), "headers_list")), 2);
  KP_ASSERT_STREQ(kp_json_get_str(kp_json_get(kp_json_get(req0, "response"), "headers"), "Content-Length"), "11");
  KP_ASSERT(kp_json_len(kp_json_get(kp_json_root(doc), "network_events")) >= 3);
  kp_json_doc_free(doc);
  kp_buf_free(&b);
  env_free(&e);
}

static const char *tls_once(const char *ca_file, const char *sni, srv_mode_t mode, SSL_CTX *sctx, int *status) {
  env_t e;
  env_init(&e, ca_file);
  srv_t s;
  srv_start(&s, mode, sctx);
  kp_conn_t *c;
  const char *f;
  KP_ASSERT_OK(kp_net_connect(e.net, &e.lo, s.port, &c, &f));
  KP_ASSERT(c != NULL);
  KP_ASSERT_OK(kp_net_tls(e.net, c, sni, &f));
  *status = 0;
  if (!f) {
    kp_http_req_t req = {.method = "GET", .url = "https://localhost/", .host = sni, .path = "/"};
    kp_http_result_t hr;
    KP_ASSERT_OK(kp_net_http(e.net, c, &req, &hr));
    KP_ASSERT(hr.failure == NULL);
    *status = hr.status;
    KP_ASSERT(hr.head_len == 4 && memcmp(hr.head, "tls!", 4) == 0);
  }
  const kp_tlsobs_t *h;
  KP_ASSERT_EQ(kp_trace_tlss(e.trace, &h), 1);
  if (mode == SRV_TLS_HTTP) {
    KP_ASSERT_EQ(h[0].ncerts, 1); /* chain kept even when it does not verify */
    KP_ASSERT(h[0].server.server_hello && !h[0].server_not_tls); /* the record parser saw the ServerHello */
  }
  if (mode == SRV_PLAIN_REPLY) KP_ASSERT(h[0].server_not_tls && h[0].server_bytes > 0);
  kp_conn_close(c);
  srv_stop(&s);
  env_free(&e);
  return f;
}

KP_TEST(tls_verify_reset_stall) {
  signal(SIGPIPE, SIG_IGN); /* OpenSSL writes with write(): a peer that hung up must not kill us */
  EVP_PKEY *key;
  X509 *cert = make_cert(&key, "localhost");
  SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(sctx, cert);
  SSL_CTX_use_PrivateKey(sctx, key);
  char ca[512];
  snprintf(ca, sizeof ca, "%s/ca.pem", kp_test_tmpdir());
  FILE *fp = fopen(ca, "w");
  PEM_write_X509(fp, cert);
  fclose(fp);
  int status;
  /* no CA: the system store does not know our self-signed cert */
  KP_ASSERT_STREQ(tls_once(NULL, "localhost", SRV_TLS_HTTP, sctx, &status), KP_FAIL_SSL_AUTHORITY);
  /* trusted, right name: HTTP over TLS works */
  KP_ASSERT(tls_once(ca, "localhost", SRV_TLS_HTTP, sctx, &status) == NULL);
  KP_ASSERT_EQ(status, 200);
  /* trusted, wrong name */
  KP_ASSERT_STREQ(tls_once(ca, "web.whatsapp.com", SRV_TLS_HTTP, sctx, &status), KP_FAIL_SSL_HOSTNAME);
  /* RST right after the ClientHello */
  KP_ASSERT_STREQ(tls_once(ca, "localhost", SRV_RESET_AFTER_HELLO, NULL, &status), KP_FAIL_RESET);
  /* cleartext bytes in answer to the ClientHello: a handshake failure, and the parser says "not TLS" */
  KP_ASSERT_STREQ(tls_once(ca, "localhost", SRV_PLAIN_REPLY, NULL, &status), KP_FAIL_SSL_GENERIC);
  /* silence after the ClientHello */
  KP_ASSERT_STREQ(tls_once(ca, "localhost", SRV_STALL, NULL, &status), KP_FAIL_TIMEOUT);
  SSL_CTX_free(sctx);
  X509_free(cert);
  EVP_PKEY_free(key);
}

/* ------------------------------------------------------------- UDP DNS */

typedef struct dnssrv {
  int fd;
  uint16_t port;
  pthread_t th;
} dnssrv_t;

/* Answers each query twice: first 198.19.66.66 at once, then 198.19.12.1 100 ms later (an injector's race). */
static void *dns_main(void *arg) {
  dnssrv_t *d = arg;
  for (int served = 0; served < 2;) {
    uint8_t q[512];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    struct pollfd pf = {.fd = d->fd, .events = POLLIN};
    if (poll(&pf, 1, 2000) <= 0) break;
    ssize_t n = recvfrom(d->fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
    if (n < 12) continue;
    uint16_t qtype = (uint16_t)(q[n - 4] << 8 | q[n - 3]);
    for (int k = 0; k < 2; k++) {
      uint8_t r[600];
      memcpy(r, q, (size_t)n);
      r[2] = 0x81;
      r[3] = 0x80;
      size_t len = (size_t)n;
      if (qtype == KP_DNS_A) {
        r[7] = 1;
        uint8_t an[] = {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 19, 0, 0};
        an[14] = k == 0 ? 66 : 12;
        an[15] = k == 0 ? 66 : 1;
        memcpy(r + len, an, sizeof an);
        len += sizeof an;
      }
      if (k == 1) usleep(100000);
      sendto(d->fd, r, len, 0, (struct sockaddr *)&from, fl);
    }
    served++;
  }
  return NULL;
}

KP_TEST(udp_dns_keeps_late_answers) {
  dnssrv_t d;
  d.fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  KP_ASSERT_OK(bind(d.fd, (struct sockaddr *)&a, sizeof a));
  socklen_t l = sizeof a;
  getsockname(d.fd, (struct sockaddr *)&a, &l);
  d.port = ntohs(a.sin_port);
  pthread_create(&d.th, NULL, dns_main, &d);
  env_t e;
  env_init(&e, NULL);
  e.cfg.resolver_port = d.port;
  kp_addrs_t first, late;
  const char *f;
  KP_ASSERT_OK(kp_net_resolve_udp(e.net, "e1.whatsapp.net", &first, &late, &f));
  KP_ASSERT_MSG(f == NULL, "udp lookup failed: %s", f);
  char s[KP_ADDR_STRLEN];
  KP_ASSERT_EQ(first.n, 1);
  KP_ASSERT_STREQ(kp_addr_fmt(&first.a[0], s), "198.19.66.66");
  KP_ASSERT_EQ(late.n, 1);
  KP_ASSERT_STREQ(kp_addr_fmt(&late.a[0], s), "198.19.12.1");
  const kp_q_t *qs;
  size_t nq = kp_trace_queries(e.trace, &qs), nlate = 0;
  for (size_t i = 0; i < nq; i++) nlate += qs[i].late;
  KP_ASSERT_EQ(nq, 4);   /* A, AAAA, and each one's duplicate */
  KP_ASSERT_EQ(nlate, 2);
  pthread_join(d.th, NULL);
  close(d.fd);
  env_free(&e);
}

KP_TEST(udp_dns_timeout_respects_deadline) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0); /* bound, never answers */
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(fd, (struct sockaddr *)&a, sizeof a);
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  env_t e;
  env_init(&e, NULL);
  e.cfg.resolver_port = ntohs(a.sin_port);
  e.cfg.dns_timeout = 10;
  e.cfg.deadline_ns = kp_now_mono(kp_clock_system()) + 300000000; /* the global deadline wins */
  kp_addrs_t first;
  const char *f;
  int64_t t0 = kp_now_mono(kp_clock_system());
  KP_ASSERT_OK(kp_net_resolve_udp(e.net, "example.org", &first, NULL, &f));
  double took = (double)(kp_now_mono(kp_clock_system()) - t0) / 1e9;
  KP_ASSERT_STREQ(f, KP_FAIL_TIMEOUT);
  KP_ASSERT(took < 1.0);
  close(fd);
  env_free(&e);
}

KP_TEST(failure_strings) {
  char scratch[64];
  KP_ASSERT_STREQ(kp_net_failure_errno(ECONNREFUSED, scratch, sizeof scratch), "connection_refused");
  KP_ASSERT_STREQ(kp_net_failure_errno(ECONNRESET, scratch, sizeof scratch), "connection_reset");
  KP_ASSERT_STREQ(kp_net_failure_errno(ETIMEDOUT, scratch, sizeof scratch), "generic_timeout_error");
  KP_ASSERT_STREQ(kp_net_failure_errno(EHOSTUNREACH, scratch, sizeof scratch), "host_unreachable");
  KP_ASSERT(strncmp(kp_net_failure_errno(EDOM, scratch, sizeof scratch), "unknown_failure: ", 17) == 0);
  KP_ASSERT(kp_net_failure_is_cert("ssl_unknown_authority"));
  KP_ASSERT(!kp_net_failure_is_cert("connection_reset"));
}
