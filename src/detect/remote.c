/*
 * remote.c: signals from a keepon server (`keepon serve`) instead of files.
 *
 * GET {base}/api/v1/signals/raw/{type}/{code}?from=&until= returns IODA's
 * envelope: {"type":"signals", ..., "data":[[{entityType, entityCode,
 * datasource, from, step, values[...]}, ...]]}. kp_signals_raw_parse turns it
 * into signal points (a pure function over untrusted bytes: kp_json_parse with
 * caps; a series with a bad field is skipped and counted, values beyond
 * KP_RAW_MAX_VALUES per series are ignored). kp_signals_fetch does the request
 * through the control-plane client (src/httpc: https by name, proxy) and feeds the parser.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/ioda.h"
#include "base/json.h"
#include "detect/detect.h"
#include "detect/internal.h"

#define KP_RAW_MAX_VALUES 4000000

static bool cp(char *dst, size_t cap, const char *s) {
  if (!s || !*s || strlen(s) >= cap) return false;
  for (const char *c = s; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == '"' || *c == '\\') return false;
  strcpy(dst, s);
  return true;
}

kp_status_t kp_signals_raw_parse(const void *p, size_t n, const char *cc, kp_sigset_t *s, size_t *points,
                                 size_t *bad) {
  *points = 0;
  *bad = 0;
  kp_json_doc_t *doc = NULL;
  kp_json_limits_t lim = {.max_depth = 16, .max_bytes = 16 * n + 65536};
  kp_status_t st = kp_json_parse(p, n, &lim, &doc, NULL);
  if (st != KP_OK) return st == KP_ERR_NOMEM ? st : KP_ERR_INVAL;
  const kp_json_t *data = kp_json_get(kp_json_root(doc), "data");
  st = KP_ERR_INVAL;
  if (!kp_json_is(data, KP_JSON_ARRAY)) goto out;
  st = KP_OK;
  for (size_t i = 0; i < kp_json_len(data) && st == KP_OK; i++) {
    const kp_json_t *list = kp_json_at(data, i);
    for (size_t j = 0; j < kp_json_len(list) && st == KP_OK; j++) {
      const kp_json_t *se = kp_json_at(list, j);
      const kp_json_t *vals = kp_json_get(se, "values");
      kp_signal_point_t pt;
      memset(&pt, 0, sizeof pt);
      int64_t from, step;
      if (!kp_json_is(se, KP_JSON_OBJECT) || !kp_json_is(vals, KP_JSON_ARRAY) ||
          !cp(pt.entity_type, sizeof pt.entity_type, kp_json_get_str(se, "entityType")) ||
          !cp(pt.entity_code, sizeof pt.entity_code, kp_json_get_str(se, "entityCode")) ||
          !cp(pt.datasource, sizeof pt.datasource, kp_json_get_str(se, "datasource")) ||
          !kp_json_get_int(se, "from", &from) || !kp_json_get_int(se, "step", &step) || from < 0 ||
          from > 4102444800LL || step < 1 || step > 86400) {
        (*bad)++;
        continue;
      }
      char code[KP_DET_CODE_MAX]; /* IODA writes asn codes as the bare number: keepon's is "AS9198" */
      if (kp_ioda_code_in(pt.entity_type, pt.entity_code, code, sizeof code) != 0) {
        (*bad)++;
        continue;
      }
      memcpy(pt.entity_code, code, sizeof code);
      if (cc && strlen(cc) == 2) memcpy(pt.cc, cc, 3);
      pt.step = step;
      for (size_t k = 0; k < kp_json_len(vals) && k < KP_RAW_MAX_VALUES; k++) {
        const kp_json_t *v = kp_json_at(vals, k);
        if (!kp_json_is(v, KP_JSON_NUMBER) || !isfinite(kp_json_num(v))) continue; /* null: no data */
        pt.t = from + (int64_t)k * step;
        if (pt.t > 4102444800LL) break;
        pt.value = kp_json_num(v);
        pt.has_value = true;
        if ((st = kp_sigset_add_point(s, &pt)) != KP_OK) break;
        (*points)++;
      }
    }
  }
out:
  kp_json_doc_free(doc);
  return st;
}

/* RFC 3986 unreserved characters stay, everything else is %XX */
static void pct(kp_buf_t *o, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~')
      kp_buf_putc(o, (char)c);
    else
      kp_buf_printf(o, "%%%02X", c);
  }
}

kp_status_t kp_signals_fetch(kp_httpc_t *http, const char *base, const char *etype, const char *code, int64_t from, int64_t until,
                             const char *cc, int timeout_ms, kp_sigset_t *s, size_t *points) {
  kp_buf_t url;
  kp_buf_init(&url, 4096);
  kp_httpc_resp_t r;
  kp_httpc_resp_init(&r);
  size_t bl = strlen(base);
  while (bl && base[bl - 1] == '/') bl--;
  kp_buf_append(&url, base, bl);
  kp_buf_puts(&url, "/api/v1/signals/raw/");
  pct(&url, etype);
  kp_buf_putc(&url, '/');
  pct(&url, code);
  kp_status_t st = kp_buf_printf(&url, "?from=%lld&until=%lld", (long long)from, (long long)until);
  size_t bad = 0;
  kp_httpc_req_t q = {.method = "GET", .url = kp_buf_str(&url), .timeout_ms = timeout_ms};
  if (st == KP_OK) st = kp_httpc_do(http, &q, &r);
  if (st == KP_OK && r.status != 200) st = r.status == 404 ? KP_ERR_NOTFOUND : KP_ERR_PERM;
  if (st == KP_OK) st = kp_signals_raw_parse(r.body.data, r.body.len, cc, s, points, &bad);
  kp_buf_free(&url);
  kp_httpc_resp_free(&r);
  return st;
}
