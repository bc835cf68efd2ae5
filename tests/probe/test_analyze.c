/*
 * test_analyze.c: `keepon analyze` (kp_analyze_text / kp_analyze_one).
 *
 * 1. Every real OONI measurement in ../shared/data/ooni/real: keepon's
 *    verdict agrees with OONI's own status keys (ok <-> no anomaly; blocked
 *    or degraded <-> anomaly), except where the exception table below says
 *    why they must differ. An exception that no longer applies fails too.
 * 2. Real measurements edited to show censorship: one WhatsApp endpoint
 *    refused -> degraded, not blocked; all refused -> blocked, tcp_reset;
 *    Signal's handshakes answered by an unknown authority -> tls_mitm.
 * 3. Input shapes: pretty JSON, JSON array, JSONL with bad lines counted.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "kp_test.h"
#include "msmt/msmt.h"
#include "probe/probe.h"

static kp_targets_t *defaults(void) {
  static kp_targets_t *t;
  if (!t) {
    t = calloc(1, sizeof *t);
    size_t len;
    const char *def = kp_targets_default_json(&len);
    KP_ASSERT_OK(kp_targets_parse(def, len, t, NULL, 0));
  }
  return t;
}

static char *read_real(const char *name, size_t *n) {
  const char *shared = kp_test_shared();
  if (!shared) KP_SKIP("../shared/data absent: no real OONI measurements");
  char path[1024];
  snprintf(path, sizeof path, "%s/ooni/real/%s", shared, name);
  kp_buf_t b;
  kp_buf_init(&b, 64 << 20);
  if (kp_file_read(path, &b) != KP_OK) KP_SKIP("%s absent", path);
  *n = b.len;
  return (char *)b.data;
}

/*
 * Where keepon's verdict and OONI's status keys differ on real data, and why.
 * Each row is a rule on the measurement, not a file name.
 */
typedef struct exception {
  const char *test;
  const char *why;
  bool (*applies)(const kp_msmt_t *m);
} exception_t;

static bool old_whatsapp_web_status_code(const kp_msmt_t *m) {
  const char *v = kp_msmt_view(m)->test_version;
  const char *f = kp_json_str(kp_msmt_key(m, "whatsapp_web_failure"));
  return v && strncmp(v, "0.", 2) == 0 && atoi(v + 2) < 10 && f && strcmp(f, "http_unexpected_status_code") == 0;
}

static const exception_t exceptions[] = {
  {"whatsapp",
   "whatsapp < 0.10 failed whatsapp_web on any non-200 answer (http_unexpected_status_code; here web.whatsapp.com "
   "answered 400 with no network failure). OONI's current rule (whatsapp 0.11.0, ComputeWebStatus) and keepon judge "
   "only network failures, so keepon says ok",
   old_whatsapp_web_status_code},
};

KP_TEST(analyze_every_real_measurement_agrees_with_ooni) {
  const char *shared = kp_test_shared();
  if (!shared) KP_SKIP("../shared/data absent: no real OONI measurements");
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/ooni/real", shared);
  DIR *d = opendir(dir);
  if (!d) KP_SKIP("%s absent", dir);
  struct dirent *e;
  int n = 0, excepted = 0;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0 || strncmp(e->d_name, "fingerprints", 12) == 0) continue;
    size_t len;
    char *p = read_real(e->d_name, &len);
    kp_buf_t out;
    kp_buf_init(&out, 256 << 20);
    kp_analysis_t r;
    char err[256] = "";
    KP_ASSERT_MSG(kp_analyze_one(p, len, defaults(), &out, &r, err, sizeof err) == KP_OK, "%s: %s", e->d_name, err);
    /* the output is still a measurement the reader accepts, with keepon's keys */
    kp_msmt_t *m;
    KP_ASSERT_OK(kp_msmt_parse(out.data, out.len, &m, err, sizeof err));
    KP_ASSERT_STREQ(kp_json_str(kp_msmt_key(m, "keepon_verdict")), kp_verdict_name(r.verdict.verdict));
    KP_ASSERT(kp_msmt_key(m, "keepon_evidence") && kp_json_len(kp_msmt_key(m, "keepon_endpoints")) == r.nflows);
    kp_msmt_free(m);
    KP_ASSERT(r.nflows > 0);
    KP_ASSERT_MSG(r.ooni_anomaly >= 0, "%s: test %s has no OONI status rule", e->d_name, r.test_name);
    bool keepon_anomaly = r.verdict.verdict != KP_VERDICT_OK;
    kp_msmt_t *orig;
    KP_ASSERT_OK(kp_msmt_parse(p, len, &orig, NULL, 0));
    const exception_t *ex = NULL;
    for (size_t k = 0; k < sizeof exceptions / sizeof *exceptions; k++)
      if (strcmp(exceptions[k].test, r.test_name) == 0 && exceptions[k].applies(orig)) ex = &exceptions[k];
    if (ex) {
      KP_ASSERT_MSG(keepon_anomaly != (r.ooni_anomaly == 1), "%s: exception no longer needed: %s", e->d_name, ex->why);
      fprintf(stderr, "  %s: differs from OONI by rule: %s\n", e->d_name, ex->why);
      excepted++;
    } else {
      KP_ASSERT_MSG(keepon_anomaly == (r.ooni_anomaly == 1), "%s (%s): keepon %s (%s), OONI anomaly %d: %s", e->d_name,
                    r.test_name, kp_verdict_name(r.verdict.verdict), kp_tech_name(r.verdict.tech), r.ooni_anomaly,
                    r.verdict.evidence);
    }
    kp_msmt_free(orig);
    kp_buf_free(&out);
    free(p);
    n++;
  }
  closedir(d);
  KP_ASSERT(n >= 6);
  KP_ASSERT_EQ(excepted, 1);
}

/* Replace every occurrence of @p from by @p to (same JSON, edited). */
static char *edit(const char *s, const char *from, const char *to, int max) {
  size_t fl = strlen(from), tl = strlen(to), n = strlen(s);
  char *out = malloc(n * 2 + 1024), *o = out;
  int done = 0;
  for (const char *p = s; *p;) {
    if ((max < 0 || done < max) && strncmp(p, from, fl) == 0) {
      memcpy(o, to, tl);
      o += tl;
      p += fl;
      done++;
    } else {
      *o++ = *p++;
    }
  }
  *o = 0;
  return out;
}

static kp_analysis_t analyze(const char *s) {
  kp_buf_t out;
  kp_buf_init(&out, 64 << 20);
  kp_analysis_t r;
  char err[256] = "";
  KP_ASSERT_MSG(kp_analyze_one(s, strlen(s), defaults(), &out, &r, err, sizeof err) == KP_OK, "%s", err);
  kp_buf_free(&out);
  return r;
}

static const char OK_TCP[] = "\"status\":{\"failure\":null,\"success\":true}";
static const char REFUSED[] = "\"status\":{\"failure\":\"connection_refused\",\"success\":false}";

KP_TEST(analyze_whatsapp_one_endpoint_vs_all) {
  size_t n;
  char *p = read_real("whatsapp.json", &n);
  /* the first two connects (one endpoint's 5222, as recorded) refused */
  char *one = edit(p, OK_TCP, REFUSED, 2);
  kp_analysis_t r = analyze(one);
  KP_ASSERT_EQ(r.verdict.verdict, KP_VERDICT_DEGRADED);
  KP_ASSERT_EQ(r.verdict.tech, KP_TECH_NONE);
  KP_ASSERT(strstr(r.verdict.evidence, "tcp_reset"));
  /* every connect refused */
  char *all = edit(p, OK_TCP, REFUSED, -1);
  r = analyze(all);
  KP_ASSERT_EQ(r.verdict.verdict, KP_VERDICT_BLOCKED);
  KP_ASSERT_EQ(r.verdict.tech, KP_TECH_TCP_RESET);
  KP_ASSERT(r.verdict.n_tech >= 32);
  free(one);
  free(all);
  free(p);
}

KP_TEST(analyze_signal_unknown_authority_is_tls_mitm) {
  size_t n;
  char *p = read_real("signal_022.json", &n);
  /* what a probe without Signal's roots (or a MITM) records: every handshake fails verification */
  char *m = edit(p, "\"failure\":null,\"negotiated_protocol\"", "\"failure\":\"ssl_unknown_authority\",\"negotiated_protocol\"", -1);
  KP_ASSERT(strcmp(m, p) != 0);
  kp_analysis_t r = analyze(m);
  KP_ASSERT_EQ(r.verdict.verdict, KP_VERDICT_BLOCKED);
  KP_ASSERT_EQ(r.verdict.tech, KP_TECH_TLS_MITM);
  free(m);
  free(p);
}

KP_TEST(analyze_input_shapes_and_bad_lines) {
  size_t n;
  char *p = read_real("telegram_nourl.json", &n); /* pretty-printed, no request urls (miniooni 2019) */
  kp_buf_t out;
  kp_buf_init(&out, 64 << 20);
  kp_analyze_stats_t st;
  KP_ASSERT_OK(kp_analyze_text(p, n, defaults(), &out, &st));
  KP_ASSERT_EQ(st.measurements, 1);
  KP_ASSERT_EQ(st.bad, 0);
  KP_ASSERT(out.len && out.data[out.len - 1] == '\n' && memchr(out.data, '\n', out.len) == out.data + out.len - 1);
  /* JSONL: the analyzed line, garbage, a JSON object that is no measurement, the line again */
  kp_buf_t jl;
  kp_buf_init(&jl, 64 << 20);
  kp_buf_append(&jl, out.data, out.len);
  kp_buf_printf(&jl, "not json\n{\"test_name\":\"whatsapp\"}\n\n");
  kp_buf_append(&jl, out.data, out.len);
  kp_buf_t out2;
  kp_buf_init(&out2, 64 << 20);
  KP_ASSERT_OK(kp_analyze_text(jl.data, jl.len, defaults(), &out2, &st));
  KP_ASSERT_EQ(st.measurements, 2);
  KP_ASSERT_EQ(st.bad, 2);
  KP_ASSERT_EQ(st.first_bad_line, 2);
  /* re-analyzing our own output replaces keepon's keys instead of doubling them */
  const char *first = (const char *)out2.data;
  const char *k1 = strstr(first, "\"keepon_verdict\"");
  KP_ASSERT(k1 && (!strstr(k1 + 1, "\"keepon_verdict\"") || strstr(k1 + 1, "\"keepon_verdict\"") > strchr(first, '\n')));
  /* a JSON array of measurements */
  kp_buf_t arr;
  kp_buf_init(&arr, 64 << 20);
  kp_buf_printf(&arr, "[");
  kp_buf_append(&arr, out.data, out.len - 1);
  kp_buf_printf(&arr, ",");
  kp_buf_append(&arr, out.data, out.len - 1);
  kp_buf_printf(&arr, "]");
  out2.len = 0;
  KP_ASSERT_OK(kp_analyze_text(arr.data, arr.len, defaults(), &out2, &st));
  KP_ASSERT_EQ(st.measurements, 2);
  kp_buf_free(&arr);
  kp_buf_free(&jl);
  kp_buf_free(&out);
  kp_buf_free(&out2);
  free(p);
}
