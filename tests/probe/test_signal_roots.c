/*
 * test_signal_roots.c: Signal's chains verify with keepon's TLS verification
 * code (kp_net_verify_chain, the store kp_net_new builds) once Signal's two
 * public roots are added, and do not verify without them.
 *
 * Real data: ../shared/data/ooni/real/signal_022.json (OONI signal 0.2.2,
 * 2022-11-18, IT): every tls_handshakes[] entry keeps the peer chain as
 * base64 DER. Each is checked at the measurement's own time (the leaves
 * have expired since), for its server_name.
 */
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/file.h"
#include "base/json.h"
#include "kp_test.h"
#include "net/net.h"
#include "msmt/msmt.h"
#include "probe/probe.h"

typedef struct chains {
  size_t n;
  char host[8][256];
  size_t ncerts[8];
  kp_buf_t der[8][4];
  int64_t at;
} chains_t;

static void load_chains(chains_t *c) {
  const char *shared = kp_test_shared();
  if (!shared) KP_SKIP("../shared/data absent: the real Signal chains are not available");
  char path[1024];
  snprintf(path, sizeof path, "%s/ooni/real/signal_022.json", shared);
  kp_buf_t b;
  kp_buf_init(&b, 8 << 20);
  if (kp_file_read(path, &b) != KP_OK) KP_SKIP("%s absent", path);
  kp_msmt_t *m = NULL;
  KP_ASSERT_OK(kp_msmt_parse(b.data, b.len, &m, NULL, 0));
  c->at = (int64_t)kp_msmt_view(m)->measurement_start;
  const kp_json_t *hs = kp_msmt_key(m, "tls_handshakes");
  KP_ASSERT(kp_json_len(hs) >= 4);
  memset(c->ncerts, 0, sizeof c->ncerts);
  for (size_t i = 0; i < kp_json_len(hs) && c->n < 8; i++) {
    const kp_json_t *h = kp_json_at(hs, i);
    const kp_json_t *pc = kp_json_get(h, "peer_certificates");
    snprintf(c->host[c->n], sizeof c->host[0], "%s", kp_json_get_str(h, "server_name"));
    for (size_t k = 0; k < kp_json_len(pc) && k < 4; k++) {
      const char *d = kp_json_get_str(kp_json_at(pc, k), "data");
      KP_ASSERT(d);
      kp_buf_init(&c->der[c->n][k], 1 << 16);
      KP_ASSERT_OK(kp_base64_decode(d, strlen(d), &c->der[c->n][k]));
      c->ncerts[c->n]++;
    }
    KP_ASSERT(c->ncerts[c->n] >= 1);
    c->n++;
  }
  kp_msmt_free(m);
  kp_buf_free(&b);
}

static size_t verify_all(chains_t *c, const char *extra, const char *ca_file, const char **why) {
  kp_net_cfg_t cfg = {.ca_file = ca_file, .extra_roots_pem = extra};
  kp_net_t *n = NULL;
  KP_ASSERT_OK(kp_net_new(&cfg, kp_clock_system(), NULL, &n));
  size_t ok = 0;
  for (size_t i = 0; i < c->n; i++) {
    const uint8_t *der[4];
    size_t len[4];
    for (size_t k = 0; k < c->ncerts[i]; k++) {
      der[k] = c->der[i][k].data;
      len[k] = c->der[i][k].len;
    }
    const char *f = NULL;
    long code;
    KP_ASSERT_OK(kp_net_verify_chain(n, der, len, c->ncerts[i], c->host[i], c->at, &f, &code));
    if (!f) ok++;
    else *why = f;
  }
  kp_net_free(n);
  return ok;
}

KP_TEST(signal_real_chains_verify_with_signal_roots) {
  chains_t c = {0};
  load_chains(&c);
  const char *why = NULL;
  size_t ok = verify_all(&c, kp_probe_signal_roots_pem(), NULL, &why);
  KP_ASSERT_MSG(ok == c.n, "%zu/%zu chains verified with Signal's roots (%s)", ok, c.n, why ? why : "");
}

KP_TEST(signal_real_chains_fail_without_signal_roots) {
  chains_t c = {0};
  load_chains(&c);
  const char *why = NULL;
  /* the system store alone: no store holds "Signal Messenger, LLC" */
  size_t ok = verify_all(&c, NULL, NULL, &why);
  KP_ASSERT_EQ(ok, 0);
  KP_ASSERT_STREQ(why, "ssl_unknown_authority");
}

KP_TEST(signal_real_chains_checked_at_measurement_time_and_name) {
  chains_t c = {0};
  load_chains(&c);
  const char *why = NULL;
  int64_t at = c.at;
  c.at = 0; /* today: the 2022 leaves have expired */
  size_t ok = verify_all(&c, kp_probe_signal_roots_pem(), NULL, &why);
  KP_ASSERT_EQ(ok, 0);
  KP_ASSERT_STREQ(why, "ssl_invalid_certificate");
  c.at = at;
  for (size_t i = 0; i < c.n; i++) snprintf(c.host[i], sizeof c.host[i], "example.org");
  ok = verify_all(&c, kp_probe_signal_roots_pem(), NULL, &why);
  KP_ASSERT_EQ(ok, 0);
  KP_ASSERT_STREQ(why, "ssl_invalid_hostname");
}

KP_TEST(signal_roots_only_for_signal) {
  /* the test table gives Signal (and no other app) the extra roots */
  for (size_t i = 0; i < kp_im_ntests; i++) {
    bool sig = strcmp(kp_im_tests[i].name, "signal") == 0;
    KP_ASSERT_EQ(kp_im_tests[i].extra_roots != NULL, sig);
  }
  const char *pem = kp_im_test_find("signal")->extra_roots();
  KP_ASSERT(strstr(pem, "BEGIN CERTIFICATE") && strstr(strstr(pem, "END CERTIFICATE"), "BEGIN CERTIFICATE"));
  /* a malformed extra root is a setup error, not a silent no-op */
  kp_net_cfg_t cfg = {.extra_roots_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"};
  kp_net_t *n = NULL;
  KP_ASSERT_EQ(kp_net_new(&cfg, kp_clock_system(), NULL, &n), KP_ERR_INVAL);
}
