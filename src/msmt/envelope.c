/*
 * envelope.c: the df-000 envelope writer, the report id and the backend's field rules.
 *
 * Key order is OONI's model.Measurement (alphabetical): head = annotations ..
 * software_version, then the caller's test_keys (and extras), tail = test_name ..
 * test_version. The privacy defaults are applied here and nowhere else.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/clock.h"
#include "msmt/msmt.h"

#define KP_MSMT_DFV "0.2.0"

const char *kp_msmt_probe_ip(const char *explicit_ip) { return explicit_ip && *explicit_ip ? explicit_ip : "127.0.0.1"; }

void kp_msmt_squash(const char *tn, char *out, size_t cap) {
  size_t o = 0;
  for (; tn && *tn && o + 1 < cap; tn++)
    if (*tn != '_') out[o++] = *tn;
  if (cap) out[o] = 0;
}

kp_status_t kp_msmt_report_id(int64_t wall_ns, const char *test, const char *cc, const char *asn, char *out,
                              size_t cap) {
  static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  time_t t = (time_t)(wall_ns / 1000000000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
  unsigned char rnd[16];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) return KP_ERR_IO;
  char tail[17];
  for (int i = 0; i < 16; i++) tail[i] = alpha[rnd[i] % (sizeof alpha - 1)];
  tail[16] = 0;
  const char *digits = asn && (asn[0] == 'A' || asn[0] == 'a') ? asn + 2 : asn;
  char name[64];
  kp_msmt_squash(test ? test : "", name, sizeof name);
  int n = snprintf(out, cap, "%s_%s_%s_%s_n1_%s", ts, name, cc ? cc : "ZZ", digits && *digits ? digits : "0", tail);
  return n > 0 && (size_t)n < cap ? KP_OK : KP_ERR_NOMEM;
}

bool kp_msmt_valid_cc(const char *s) {
  if (!s || strlen(s) != 2) return false;
  for (int i = 0; i < 2; i++)
    if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))) return false;
  return true;
}

bool kp_msmt_valid_asn(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n < 3 || n > 12 || strncmp(s, "AS", 2) != 0) return false;
  if (s[2] == '0' && n > 3) return false;
  for (size_t i = 2; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

bool kp_msmt_valid_test_name(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n < 2 || n > 30) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || (s[i] >= '0' && s[i] <= '9'))) return false;
  return true;
}

bool kp_msmt_unattributed(const char *cc, const char *asn) {
  return !cc || !asn || strcmp(cc, "ZZ") == 0 || strcmp(asn, "AS0") == 0;
}

/* YYYYMMDDThhmmssZ_<tn>_<CC>_<asn>_n<digits>_<rand>: exactly six '_'-separated parts */
bool kp_msmt_report_id_parse(const char *s, size_t n, kp_msmt_rid_t *out) {
  const char *part[6];
  size_t len[6], k = 0;
  const char *p = s, *end = s + n;
  while (k < 6) {
    const char *u = memchr(p, '_', (size_t)(end - p));
    part[k] = p;
    len[k] = (size_t)((u ? u : end) - p);
    k++;
    if (!u) break;
    p = u + 1;
  }
  if (k != 6 || part[5] + len[5] != end) return false; /* no seventh part */
  char ts[17];
  if (len[0] != 16) return false;
  memcpy(ts, part[0], 16);
  ts[16] = 0;
  struct tm tm = {0};
  char *e = strptime(ts, "%Y%m%dT%H%M%SZ", &tm);
  if (!e || *e) return false;
  if (len[1] < 2 || len[1] >= sizeof out->tn || len[2] != 2 || len[3] < 1 || len[3] > 10 || len[4] < 2 ||
      part[4][0] != 'n' || len[5] < 1 || len[5] > 64)
    return false;
  memcpy(out->tn, part[1], len[1]);
  out->tn[len[1]] = 0;
  memcpy(out->cc, part[2], 2);
  out->cc[2] = 0;
  out->asn[0] = 'A', out->asn[1] = 'S';
  memcpy(out->asn + 2, part[3], len[3]);
  out->asn[2 + len[3]] = 0;
  for (size_t i = 1; i < len[4]; i++)
    if (part[4][i] < '0' || part[4][i] > '9') return false;
  for (size_t i = 0; i < len[5]; i++) {
    char ch = part[5][i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
          ch == '+' || ch == '/' || ch == '='))
      return false;
  }
  return kp_msmt_valid_cc(out->cc) && kp_msmt_valid_asn(out->asn);
}

kp_status_t kp_msmt_write_head(kp_jw_t *w, const kp_msmt_env_t *e) {
  char rid[128], start[20];
  const char *cc = e->probe_cc ? e->probe_cc : "ZZ", *asn = e->probe_asn ? e->probe_asn : "AS0";
  const char *ver = e->software_version ? e->software_version : "0";
  if (e->report_id) snprintf(rid, sizeof rid, "%s", e->report_id);
  else if (kp_msmt_report_id(e->start_wall_ns, e->test_name, cc, asn, rid, sizeof rid) != KP_OK)
    return KP_ERR_IO;
  kp_time_ooni((time_t)(e->start_wall_ns / 1000000000), start);
  kp_jw_obj_begin(w);
  kp_jw_key(w, "annotations");
  kp_jw_obj_begin(w);
  kp_jw_kstr(w, "engine_name", "keepon");
  kp_jw_kstr(w, "engine_version", ver);
  kp_jw_kstr(w, "platform", "linux");
  kp_jw_obj_end(w);
  kp_jw_kstr(w, "data_format_version", KP_MSMT_DFV);
  kp_jw_key(w, "extensions");
  kp_jw_obj_begin(w);
  static const char *const ext[] = {"dnst", "httpt", "netevents", "tcpconnect", "tlshandshake"};
  for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) kp_jw_kint(w, ext[i], 0);
  if (e->ext_tunnel) kp_jw_kint(w, "tunnel", 0);
  kp_jw_obj_end(w);
  if (e->input) kp_jw_kstr(w, "input", e->input);
  else kp_jw_knull(w, "input");
  kp_jw_kstr(w, "measurement_start_time", start);
  kp_jw_kstr(w, "probe_asn", asn);
  kp_jw_kstr(w, "probe_cc", cc);
  kp_jw_kstr(w, "probe_ip", kp_msmt_probe_ip(e->probe_ip));
  kp_jw_kstr(w, "probe_network_name", e->probe_network_name ? e->probe_network_name : "");
  kp_jw_kstr(w, "report_id", rid);
  kp_jw_kstr(w, "resolver_asn", e->resolver_asn ? e->resolver_asn : "AS0");
  kp_jw_kstr(w, "resolver_ip", e->resolver_ip ? e->resolver_ip : "");
  kp_jw_kstr(w, "resolver_network_name", "");
  kp_jw_kstr(w, "software_name", "keepon");
  kp_jw_kstr(w, "software_version", ver);
  return w->st;
}

void kp_msmt_write_tail(kp_jw_t *w, const kp_msmt_env_t *e, double runtime) {
  char start[20];
  kp_time_ooni((time_t)(e->start_wall_ns / 1000000000), start);
  kp_jw_kstr(w, "test_name", e->test_name);
  if (runtime >= 0) kp_jw_kdouble(w, "test_runtime", runtime);
  kp_jw_kstr(w, "test_start_time", start);
  kp_jw_kstr(w, "test_version", e->test_version);
  kp_jw_obj_end(w);
}
