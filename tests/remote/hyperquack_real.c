/*
 * hyperquack_real.c: kp_rmt_http_verdict over REAL Hyperquack v2 measurements, against what
 * Censored Planet decided for them (`anomaly`, `controls_failed`, `stateful_block`).
 *
 * Source: github.com/censoredplanet/censoredplanet-analysis at commit
 * 31830c6efaa32c448810a8f6a9734bdfd61cdaf1, pipeline/e2e_test_data/
 *   Quack-http_v2/http_results_v2.json   (HTTP,  2021-04-26, rows 1-4)
 *   Quack-https_v2/https_results_v2.json (HTTPS, rows 1-4)
 *   Quack-echo_v2/echo_results_v2.json   (echo,  rows 1-4)
 * Transcribed by hand (values, not code). Each row is a control try, the test tries, and a
 * control try after; `matches_template` says whether a try looked like the server's template.
 *
 * Transcription: a try that matched the template is keepon's control try itself; a try that did
 * not is written as recorded (status line, body length; echo: the bytes that came back were not
 * the bytes sent; "i/o timeout" is a timeout; a local error on the measuring host, "bind:
 * address already in use", is KP_RMT_O_OTHER, which is what keepon's runner would record). The
 * rows store a response only when it differs from the template, so the template's own status
 * and length are not known: the control try is a stand-in (status 200, empty body) that the
 * recorded mismatches differ from. These cases therefore test the decision over tries (all
 * failed one way, one looked like the control, the control failed), not the comparison of one
 * response with another.
 */
#include <stdio.h>
#include <string.h>

#include "kp_test.h"
#include "remote/remote.h"

typedef enum cp { CP_OK, CP_ANOMALY, CP_NONE } cp_t;
typedef struct hcase {
  const char *src, *what;
  cp_t cp;
  kp_rmt_proto_t proto;
  const char *tries;          /* one letter a try: m matched, d differs (see st/len), t timeout, o other (local) */
  int st; size_t len;         /* the recorded mismatching response (web) */
  bool ctl_failed;            /* the control try did not match the template */
  const char *verdict, *technique;
  const char *differs;        /* NULL = agrees with cp */
} hcase_t;

static const hcase_t cases[] = {
    {"http_results_v2.json:1", "34.120.75.87 104.com.tw, all matched", CP_OK, KP_RMT_P_HTTP, "m", 0, 0, false, "ok", NULL, NULL},
    {"http_results_v2.json:2", "35.190.118.167 104.com.tw, all matched", CP_OK, KP_RMT_P_HTTP, "m", 0, 0, false, "ok", NULL, NULL},
    /* 4 x "403 Forbidden", a 964-byte page titled "无法访问" (cannot be accessed), Server ADM */
    {"http_results_v2.json:3", "106.75.249.55 104.com.tw, 403 blockpage x4, controls fine -> anomaly", CP_ANOMALY,
     KP_RMT_P_HTTP, "dddd", 403, 964, false, "blocked", KP_RMT_HTTP_BLOCKPAGE, NULL},
    {"http_results_v2.json:4", "167.207.140.67 1337x.to, 503 (1395 bytes) x4, controls fine -> anomaly", CP_ANOMALY,
     KP_RMT_P_HTTP, "dddd", 503, 1395, false, "blocked", KP_RMT_HTTP_BLOCKPAGE, NULL},
    {"https_results_v2.json:1", "23.66.189.158 104.com.tw, all matched", CP_OK, KP_RMT_P_HTTPS, "m", 0, 0, false, "ok", NULL, NULL},
    {"https_results_v2.json:2", "130.63.74.51 104.com.tw, all matched", CP_OK, KP_RMT_P_HTTPS, "m", 0, 0, false, "ok", NULL, NULL},
    /* the first try differed (200 OK, 43016 bytes), the retry matched: noise, not blocking */
    {"https_results_v2.json:3", "111.198.172.139 104.com.tw, one mismatch then a match -> no anomaly", CP_OK,
     KP_RMT_P_HTTPS, "dm", 200, 43016, false, "ok", NULL, NULL},
    /* the control did not match the template; no test try was made */
    {"https_results_v2.json:4", "195.88.106.3 4genderjustice.org, control failed", CP_NONE, KP_RMT_P_HTTPS, "", 0, 0, true,
     "no_verdict", NULL, NULL},
    {"echo_results_v2.json:1", "216.152.23.1 104.com.tw, all matched", CP_OK, KP_RMT_P_ECHO, "m", 0, 0, false, "ok", NULL, NULL},
    {"echo_results_v2.json:2", "66.225.36.76 104.com.tw, all matched", CP_OK, KP_RMT_P_ECHO, "m", 0, 0, false, "ok", NULL, NULL},
    /* 3 tries answered by an injected "403 Forbidden" page titled "非法阻断" instead of the echo;
     * the 4th failed on the MEASURING host (bind: address already in use); stateful_block.
     * keepon wants every try to fail one way, and a local error is not told apart. */
    {"echo_results_v2.json:3", "139.159.212.25 104.com.tw, injected 403 x3 + a local bind error -> anomaly", CP_ANOMALY,
     KP_RMT_P_ECHO, "dddo", 0, 0, false, "no_verdict", NULL, "a local error try makes keepon's tries inconsistent"},
    {"echo_results_v2.json:4", "213.140.112.241 xhamster.com, i/o timeout x4, controls fine -> anomaly", CP_ANOMALY,
     KP_RMT_P_ECHO, "tttt", 0, 0, false, "blocked", KP_RMT_ECHO_TIMEOUT, NULL},
};

static kp_rmt_try_t control(kp_rmt_proto_t proto, bool failed) {
  kp_rmt_try_t t;
  memset(&t, 0, sizeof t);
  t.out = failed ? KP_RMT_O_OTHER : KP_RMT_O_OK;
  t.status = proto == KP_RMT_P_ECHO ? 0 : 200;
  t.cert_ok = proto == KP_RMT_P_HTTPS;
  t.echo_exact = proto == KP_RMT_P_ECHO;
  return t;
}

KP_TEST(hyperquack_real_rows) {
  size_t n = sizeof cases / sizeof cases[0], agree = 0, differ = 0;
  for (size_t i = 0; i < n; i++) {
    const hcase_t *c = &cases[i];
    kp_rmt_try_t ctl = control(c->proto, c->ctl_failed), tries[8];
    size_t nt = 0;
    for (const char *p = c->tries; *p; p++) {
      kp_rmt_try_t t = control(c->proto, false);
      if (*p == 'd') {
        t.status = c->st;
        t.body_len = c->len;
        t.echo_exact = false;
      } else if (*p == 't') {
        memset(&t, 0, sizeof t);
        t.out = KP_RMT_O_TIMEOUT;
      } else if (*p == 'o') {
        memset(&t, 0, sizeof t);
        t.out = KP_RMT_O_OTHER;
      }
      tries[nt++] = t;
    }
    kp_rmt_verdict_t v = kp_rmt_http_verdict(c->proto, tries, nt, &ctl, 1);
    KP_ASSERT_MSG(!strcmp(v.verdict, c->verdict), "%s (%s): keepon %s/%s (%s), expected %s", c->src, c->what, v.verdict,
                  v.technique ? v.technique : "-", v.reason ? v.reason : "-", c->verdict);
    KP_ASSERT_MSG(c->technique ? v.technique && !strcmp(v.technique, c->technique) : v.technique == NULL,
                  "%s: technique %s, expected %s", c->src, v.technique ? v.technique : "-", c->technique ? c->technique : "-");
    const char *cpv = c->cp == CP_OK ? "ok" : c->cp == CP_ANOMALY ? "blocked" : "no_verdict";
    bool same = !strcmp(v.verdict, cpv);
    KP_ASSERT_MSG(same == (c->differs == NULL), "%s: keepon %s, CP %s, marked %s", c->src, v.verdict, cpv,
                  c->differs ? c->differs : "agreeing");
    if (same) agree++;
    else differ++;
  }
  fprintf(stderr, "hyperquack_real: %zu real rows, %zu agree with Censored Planet, %zu differ (docs/remote.md)\n", n,
          agree, differ);
  KP_ASSERT_EQ(agree + differ, n);
}
