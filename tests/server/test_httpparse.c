/*
 * test_httpparse.c: the pure request-head parser (server) and response-head parser (client):
 * framing, keep-alive rules, smuggling shapes, caps, truncation, query decoding.
 */
#include <string.h>

#include "kp_test.h"
#include "outbox/outbox.h"
#include "server/server.h"

static kp_status_t parse(const char *s, kp_srv_req_t *r, size_t *hl) {
  return kp_srv_parse_head((const uint8_t *)s, strlen(s), 16384, r, hl);
}

KP_TEST(request_basic_and_pipelined) {
  const char *s = "POST /report/abc?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                  "Content-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\n\r\n";
  kp_srv_req_t r;
  size_t hl;
  KP_ASSERT_OK(parse(s, &r, &hl));
  KP_ASSERT(kp_srv_slice_eq(r.method, "POST"));
  KP_ASSERT(kp_srv_slice_eq(r.path, "/report/abc"));
  KP_ASSERT(kp_srv_slice_eq(r.query, "x=1"));
  KP_ASSERT_EQ(r.content_length, 2);
  KP_ASSERT(r.keep_alive);
  KP_ASSERT(kp_srv_slice_ieq(kp_srv_header(&r, "CONTENT-TYPE"), "application/json"));
  KP_ASSERT_EQ(memcmp(s + hl, "{}GET", 5), 0); /* head ends exactly before the body */
}

KP_TEST(request_truncated_at_every_byte) {
  const char *s = "GET /api/v1/measurements?probe_cc=KZ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  kp_srv_req_t r;
  size_t hl;
  for (size_t n = 0; n < strlen(s); n++)
    KP_ASSERT_EQ(kp_srv_parse_head((const uint8_t *)s, n, 16384, &r, &hl), KP_ERR_TRUNC);
  KP_ASSERT_OK(parse(s, &r, &hl));
  KP_ASSERT(!r.keep_alive);
  KP_ASSERT_EQ(r.content_length, -1);
}

KP_TEST(request_rejects_malformed_and_smuggling) {
  kp_srv_req_t r;
  size_t hl;
  KP_ASSERT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", &r, &hl), KP_ERR_INVAL);
  KP_ASSERT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", &r, &hl), KP_ERR_INVAL);
  KP_ASSERT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &r, &hl), KP_ERR_INVAL);
  KP_ASSERT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", &r, &hl), KP_ERR_INVAL);
  KP_ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n", &r, &hl), KP_ERR_INVAL);          /* space before ':' */
  KP_ASSERT_EQ(parse("GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", &r, &hl), KP_ERR_INVAL);    /* obs-fold */
  KP_ASSERT_EQ(parse("GET / HTTP/1.1\nHost: a\r\n\r\n", &r, &hl), KP_ERR_INVAL);              /* bare LF */
  KP_ASSERT_EQ(parse("GET http://a/ HTTP/1.1\r\n\r\n", &r, &hl), KP_ERR_INVAL);                /* absolute form */
  KP_ASSERT_EQ(parse("GET  / HTTP/1.1\r\n\r\n", &r, &hl), KP_ERR_INVAL);
  KP_ASSERT_EQ(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &r, &hl), KP_ERR_INVAL);
  KP_ASSERT_EQ(parse("GET / HTTP/2.0\r\n\r\n", &r, &hl), KP_ERR_UNSUPPORTED);
  KP_ASSERT_EQ(parse("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", &r, &hl), KP_ERR_INVAL);
  KP_ASSERT_OK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r, &hl));
  KP_ASSERT(r.chunked); /* the server answers 411 */
  KP_ASSERT_OK(parse("GET / HTTP/1.0\r\n\r\n", &r, &hl));
  KP_ASSERT(!r.keep_alive); /* 1.0 default */
}

KP_TEST(request_caps) {
  char big[20000];
  memset(big, 'a', sizeof big);
  memcpy(big, "GET /", 5);
  kp_srv_req_t r;
  size_t hl;
  KP_ASSERT_EQ(kp_srv_parse_head((const uint8_t *)big, sizeof big, 16384, &r, &hl), KP_ERR_RANGE);
  char many[8192];
  size_t o = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
  for (int i = 0; i < KP_SRV_MAX_HEADERS + 1; i++) o += (size_t)snprintf(many + o, sizeof many - o, "X-%d: v\r\n", i);
  snprintf(many + o, sizeof many - o, "\r\n");
  KP_ASSERT_EQ(parse(many, &r, &hl), KP_ERR_RANGE);
}

KP_TEST(query_decoding) {
  kp_srv_slice_t q = {"a=1&input=https%3A%2F%2Fx.org%2F&sp=a+b&bad=%zz&e", 0};
  q.n = strlen(q.p);
  char v[64];
  KP_ASSERT(kp_srv_query_get(q, "input", v, sizeof v));
  KP_ASSERT_STREQ(v, "https://x.org/");
  KP_ASSERT(kp_srv_query_get(q, "sp", v, sizeof v));
  KP_ASSERT_STREQ(v, "a b");
  KP_ASSERT(!kp_srv_query_get(q, "bad", v, sizeof v));
  KP_ASSERT(kp_srv_query_get(q, "e", v, sizeof v));
  KP_ASSERT_STREQ(v, "");
  KP_ASSERT(!kp_srv_query_get(q, "missing", v, sizeof v));
  KP_ASSERT(!kp_srv_query_get(q, "input", v, 5)); /* does not fit */
}

static const char *page(const char *qs, long long *limit, long long *offset) {
  kp_srv_slice_t q = {qs, strlen(qs)};
  return kp_srv_page_query(q, 100, limit, offset);
}

KP_TEST(page_query_limits_and_offsets) {
  long long l = -1, o = -1;
  KP_ASSERT(page("", &l, &o) == NULL);
  KP_ASSERT_EQ(l, 100); /* the caller's default */
  KP_ASSERT_EQ(o, 0);
  KP_ASSERT(page("x=1&limit=10000&offset=12345678901", &l, &o) == NULL);
  KP_ASSERT_EQ(l, 10000);
  KP_ASSERT_EQ(o, 12345678901LL);
  KP_ASSERT(page("limit=1&offset=0", &l, &o) == NULL);
  KP_ASSERT_EQ(l, 1);
  KP_ASSERT(page("limit=%35", &l, &o) == NULL); /* escapes decode before the check */
  KP_ASSERT_EQ(l, 5);
  /* present but bad is an error, never the default */
  const char *bad_limits[] = {"limit=0", "limit=10001", "limit=", "limit", "limit=-5", "limit=+5",
                              "limit=5x", "limit= 5", "limit=%zz", "limit=1e3",
                              "limit=99999999999999999999999999999999"};
  for (size_t i = 0; i < sizeof bad_limits / sizeof *bad_limits; i++)
    KP_ASSERT_STREQ(page(bad_limits[i], &l, &o), "limit");
  const char *bad_offsets[] = {"offset=-1", "offset=", "offset=1.5", "offset=9223372036854775808",
                               "limit=5&offset=0x10"};
  for (size_t i = 0; i < sizeof bad_offsets / sizeof *bad_offsets; i++)
    KP_ASSERT_STREQ(page(bad_offsets[i], &l, &o), "offset");
  KP_ASSERT_STREQ(page("offset=-1&limit=0", &l, &o), "limit"); /* limit is checked first */
}
