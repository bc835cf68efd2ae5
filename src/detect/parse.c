/*
 * parse.c: the two untrusted inputs of detect, one JSONL line at a time.
 *
 * kp_signal_parse: a signal point (docs/formats.md) plus the extra keys detect
 * understands ("cc", "n", "techniques"). kp_msm_parse: an OONI-format
 * measurement reduced to (test, cc, asn, time, failed?, technique, uid, hash).
 *
 * Both are pure: kp_json_parse with a depth and byte cap, then bounded copies
 * into fixed-size fields (a too-long string makes the line invalid rather than
 * being truncated silently into another entity's name).
 *
 * Failure rules when keepon's own keys are absent (OONI's keys, docs/detect.md):
 *   whatsapp    endpoints or registration server "blocked"
 *   telegram    telegram_tcp_blocking | telegram_http_blocking | web "blocked"
 *   signal      signal_backend_status == "blocked"
 *   facebook_messenger  facebook_tcp_blocking | facebook_dns_blocking
 *   web_connectivity    blocking is a string (dns, tcp_ip, http-diff, http-failure);
 *                       blocking null = no verdict (KP_ERR_NOTFOUND, not counted)
 * keepon's keys override (docs/probe.md): test_keys.keepon_verdict (blocked and
 * degraded = failed, ok = not), test_keys.keepon_failed (bool), technique from
 * test_keys.keepon_technique or test_keys.technique. keepon_technique
 * "network_down" is no verdict on the service (the network itself was down).
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/codec.h"
#include "base/json.h"
#include "detect/detect.h"
#include "msmt/msmt.h"

static bool copy_str(char *dst, size_t cap, const kp_json_t *v) {
  const char *s = kp_json_str(v);
  if (!s) return false;
  size_t n = kp_json_strlen(v);
  if (n >= cap || memchr(s, 0, n)) return false;
  memcpy(dst, s, n);
  dst[n] = 0;
  return true;
}

static bool copy_cstr(char *dst, size_t cap, const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (!s || n >= cap) return false;
  memcpy(dst, s, n + 1);
  return true;
}

static kp_status_t parse_doc(const void *p, size_t n, kp_json_doc_t **doc) {
  if (n > KP_DET_LINE_MAX) return KP_ERR_RANGE;
  kp_json_limits_t lim = {.max_depth = 32, .max_bytes = 16 * n + 65536};
  kp_status_t st = kp_json_parse(p, n, &lim, doc, NULL);
  if (st != KP_OK) return st;
  if (!kp_json_is(kp_json_root(*doc), KP_JSON_OBJECT)) {
    kp_json_doc_free(*doc);
    *doc = NULL;
    return KP_ERR_INVAL;
  }
  return KP_OK;
}

static bool plain_name(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\') return false;
  return true;
}

kp_status_t kp_signal_parse(const void *p, size_t n, kp_signal_point_t *out) {
  memset(out, 0, sizeof *out);
  kp_json_doc_t *doc = NULL;
  kp_status_t st = parse_doc(p, n, &doc);
  if (st != KP_OK) return st;
  const kp_json_t *r = kp_json_root(doc);
  st = KP_ERR_INVAL;
  const char *type = kp_json_get_str(r, "type");
  if (!type || strcmp(type, "signal") != 0) goto out;
  if (!copy_str(out->entity_type, sizeof out->entity_type, kp_json_get(r, "entity_type")) ||
      !copy_str(out->entity_code, sizeof out->entity_code, kp_json_get(r, "entity_code")) ||
      !copy_str(out->datasource, sizeof out->datasource, kp_json_get(r, "datasource")))
    goto out;
  if (!plain_name(out->entity_type) || !plain_name(out->entity_code) || !plain_name(out->datasource))
    goto out;
  if (!kp_json_get_int(r, "t", &out->t) || !kp_json_get_int(r, "step", &out->step)) goto out;
  /* bins from 1970 to 2100, steps from 1 s to 1 day */
  if (out->t < 0 || out->t > 4102444800LL || out->step < 1 || out->step > 86400) goto out;
  const kp_json_t *v = kp_json_get(r, "value");
  if (kp_json_is(v, KP_JSON_NUMBER)) {
    out->value = kp_json_num(v);
    if (!isfinite(out->value)) goto out;
    out->has_value = true;
  } else if (!kp_json_is(v, KP_JSON_NULL)) {
    goto out;
  }
  const kp_json_t *cc = kp_json_get(r, "cc");
  if (cc && (!copy_str(out->cc, sizeof out->cc, cc) || strlen(out->cc) != 2)) goto out;
  if (strcmp(out->entity_type, "country") == 0 && strlen(out->entity_code) == 2)
    memcpy(out->cc, out->entity_code, 3);
  if ((!strcmp(out->entity_type, "region") || !strcmp(out->entity_type, "access")) && out->entity_code[2] == '/' &&
      !out->cc[0]) {
    memcpy(out->cc, out->entity_code, 2);
    out->cc[2] = 0;
  }
  int64_t cnt;
  if (kp_json_get_int(r, "n", &cnt) && cnt >= 0 && cnt < ((int64_t)1 << 40)) out->n = cnt;
  const kp_json_t *tech = kp_json_get(r, "techniques");
  if (kp_json_is(tech, KP_JSON_OBJECT)) {
    for (size_t i = 0; i < kp_json_len(tech) && out->ntech < 8; i++) {
      const char *k = kp_json_key_at(tech, i);
      int64_t c;
      if (!k || strlen(k) >= KP_DET_TECH_MAX || !plain_name(k)) continue;
      if (!kp_json_int(kp_json_at(tech, i), &c) || c < 0 || c > ((int64_t)1 << 40)) continue;
      strcpy(out->tech[out->ntech].name, k);
      out->tech[out->ntech++].count = c;
    }
  }
  st = KP_OK;
out:
  kp_json_doc_free(doc);
  return st;
}

static bool is_blocked_str(const kp_json_t *obj, const char *key) {
  const char *s = kp_json_get_str(obj, key);
  return s && strcmp(s, "blocked") == 0;
}

/* host of "scheme://host[:port]/..." into dst; false when absent or too long */
static bool url_host(const char *url, char *dst, size_t cap) {
  const char *h = strstr(url, "://");
  if (!h) return false;
  h += 3;
  size_t n = strcspn(h, "/:?#");
  if (n == 0 || n >= cap) return false;
  for (size_t i = 0; i < n; i++) {
    char c = h[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c == '[' || c == ']'))
      return false;
    dst[i] = c;
  }
  dst[n] = 0;
  return true;
}

kp_status_t kp_msm_parse(const void *p, size_t n, kp_msm_t *out) {
  memset(out, 0, sizeof *out);
  kp_json_doc_t *doc = NULL;
  kp_status_t st = parse_doc(p, n, &doc);
  if (st != KP_OK) return st;
  kp_msmt_meta_t mm; /* the envelope, read by src/msmt; a collector body is unwrapped there */
  kp_msmt_meta(kp_msmt_unwrap(kp_json_root(doc)), &mm);
  const kp_json_t *tk = mm.test_keys;
  st = KP_ERR_INVAL;
  if (!copy_cstr(out->test_name, sizeof out->test_name, mm.test_name) || !plain_name(out->test_name) || !tk) goto out;
  if (!copy_cstr(out->cc, sizeof out->cc, mm.probe_cc) || strlen(out->cc) != 2 || !plain_name(out->cc)) goto out;
  if (!copy_cstr(out->asn, sizeof out->asn, mm.probe_asn) || strncmp(out->asn, "AS", 2) != 0 || !plain_name(out->asn))
    out->asn[0] = 0;
  if (mm.start < 0) goto out;
  out->t = (int64_t)mm.start;
  if (!copy_cstr(out->uid, sizeof out->uid, mm.measurement_uid) || !plain_name(out->uid))
    if (!copy_cstr(out->uid, sizeof out->uid, mm.report_id) || !plain_name(out->uid)) out->uid[0] = 0;
  kp_sha256_hex(p, n, out->sha256);

  const char *tn = out->test_name;
  bool verdict = true;
  if (strcmp(tn, "whatsapp") == 0) {
    out->failed = is_blocked_str(tk, "whatsapp_endpoints_status") || is_blocked_str(tk, "registration_server_status");
  } else if (strcmp(tn, "telegram") == 0) {
    out->failed = kp_json_truthy(kp_json_get(tk, "telegram_tcp_blocking")) ||
                  kp_json_truthy(kp_json_get(tk, "telegram_http_blocking")) ||
                  is_blocked_str(tk, "telegram_web_status");
  } else if (strcmp(tn, "signal") == 0) {
    out->failed = is_blocked_str(tk, "signal_backend_status");
  } else if (strcmp(tn, "facebook_messenger") == 0) {
    out->failed = kp_json_truthy(kp_json_get(tk, "facebook_tcp_blocking")) ||
                  kp_json_truthy(kp_json_get(tk, "facebook_dns_blocking"));
  } else if (strcmp(tn, "web_connectivity") == 0) {
    const kp_json_t *b = kp_json_get(tk, "blocking");
    const char *input = mm.input;
    if (!input || !url_host(input, out->domain, sizeof out->domain)) goto out;
    if (kp_json_is(b, KP_JSON_STRING)) {
      out->failed = true;
      copy_str(out->technique, sizeof out->technique, b);
    } else if (!kp_json_is(b, KP_JSON_FALSE)) {
      verdict = false;
    }
  } else {
    verdict = false;
  }
  /* keepon's own verdict (docs/probe.md): blocked and degraded fail; network_down says
   * nothing about the service (the whole network was gone), so it is no verdict */
  const char *kv = kp_json_get_str(tk, "keepon_verdict");
  if (kv && (!strcmp(kv, "blocked") || !strcmp(kv, "degraded") || !strcmp(kv, "ok"))) {
    out->failed = strcmp(kv, "ok") != 0;
    verdict = true;
  }
  const kp_json_t *kf = kp_json_get(tk, "keepon_failed");
  if (kp_json_is(kf, KP_JSON_TRUE) || kp_json_is(kf, KP_JSON_FALSE)) {
    out->failed = kp_json_truthy(kf);
    verdict = true;
  }
  const kp_json_t *kt = kp_json_get(tk, "keepon_technique");
  if (!kt) kt = kp_json_get(tk, "technique");
  if (kp_json_is(kt, KP_JSON_STRING)) {
    char tmp[KP_DET_TECH_MAX];
    if (copy_str(tmp, sizeof tmp, kt) && plain_name(tmp)) strcpy(out->technique, tmp);
  }
  if (out->technique[0] && !plain_name(out->technique)) out->technique[0] = 0;
  if (!strcmp(out->technique, "network_down")) verdict = false, out->net_down = true;
  const char *at = kp_json_get_str(tk, "keepon_access_type");
  if (at && (!strcmp(at, "mobile") || !strcmp(at, "fixed"))) strcpy(out->access, at);
  else if (!at && mm.network_type && !strcmp(mm.network_type, "mobile")) strcpy(out->access, "mobile");
  st = verdict ? KP_OK : KP_ERR_NOTFOUND;
out:
  kp_json_doc_free(doc);
  return st;
}
