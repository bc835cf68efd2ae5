/* test_guard.c: the request guard's pure checks (src/server/guard.c). */
#include <string.h>

#include "kp_test.h"
#include "server/server.h"

static kp_srv_slice_t sl(const char *s) { return (kp_srv_slice_t){s, s ? strlen(s) : 0}; }

KP_TEST(host_allow_list) {
  const char *l = "localhost,127.0.0.1,::1";
  KP_ASSERT(kp_srv_host_allowed(l, sl("localhost")));
  KP_ASSERT(kp_srv_host_allowed(l, sl("LOCALHOST:8080")));
  KP_ASSERT(kp_srv_host_allowed(l, sl("127.0.0.1:1")));
  KP_ASSERT(kp_srv_host_allowed(l, sl("[::1]:8080")));
  KP_ASSERT(kp_srv_host_allowed(l, sl("localhost.")));
  KP_ASSERT(!kp_srv_host_allowed(l, sl("evil.example")));
  KP_ASSERT(!kp_srv_host_allowed(l, sl("localhost.evil.example")));
  KP_ASSERT(!kp_srv_host_allowed(l, sl("127.0.0.10")));
  KP_ASSERT(!kp_srv_host_allowed(l, sl("[::1")));
  KP_ASSERT(!kp_srv_host_allowed(l, sl("")));
  KP_ASSERT(!kp_srv_host_allowed(l, (kp_srv_slice_t){NULL, 0}));
  KP_ASSERT(kp_srv_host_allowed("a.example, b.example", sl("b.example:443")));
  KP_ASSERT(kp_srv_host_allowed("*", sl("anything")));
  KP_ASSERT(kp_srv_host_allowed("*", sl(":80")));          /* any means any, with or without a name */
  KP_ASSERT(kp_srv_host_allowed("a.example, *", sl(":80"))); /* the same with "*" in a list */
  KP_ASSERT(!kp_srv_host_allowed("a.example", sl(":80")));
  KP_ASSERT(!kp_srv_host_allowed("", sl("a.example")));
  KP_ASSERT(kp_srv_host_allowed(NULL, sl("anything")));
}

KP_TEST(origin_same_as_host) {
  KP_ASSERT(kp_srv_origin_same(sl("http://localhost:8080"), sl("localhost:8080")));
  KP_ASSERT(kp_srv_origin_same(sl("https://c.example"), sl("c.example:443")));
  KP_ASSERT(kp_srv_origin_same(sl("http://c.example:80"), sl("c.example")));
  KP_ASSERT(!kp_srv_origin_same(sl("http://evil.example"), sl("localhost:8080")));
  KP_ASSERT(!kp_srv_origin_same(sl("http://localhost:8081"), sl("localhost:8080")));
  KP_ASSERT(!kp_srv_origin_same(sl("null"), sl("localhost")));
  KP_ASSERT(!kp_srv_origin_same(sl("http://localhost.evil"), sl("localhost")));
  KP_ASSERT(!kp_srv_origin_same(sl("http://"), sl("")));
}

KP_TEST(bearer_token) {
  const char *t = "0123456789abcdef";
  KP_ASSERT(kp_srv_bearer_ok(t, sl("Bearer 0123456789abcdef")));
  KP_ASSERT(kp_srv_bearer_ok(t, sl("bearer 0123456789abcdef")));
  KP_ASSERT(!kp_srv_bearer_ok(t, sl("Bearer 0123456789abcde")));
  KP_ASSERT(!kp_srv_bearer_ok(t, sl("Bearer 0123456789abcdeF")));
  KP_ASSERT(!kp_srv_bearer_ok(t, sl("Bearer 0123456789abcdef0")));
  KP_ASSERT(!kp_srv_bearer_ok(t, sl("Basic 0123456789abcdef")));
  KP_ASSERT(!kp_srv_bearer_ok(t, sl("Bearer ")));
  KP_ASSERT(!kp_srv_bearer_ok(NULL, sl("Bearer x")));
  KP_ASSERT(!kp_srv_bearer_ok("", sl("Bearer ")));
}
