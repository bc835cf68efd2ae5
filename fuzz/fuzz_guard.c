/*
 * fuzz_guard.c: the server's request guard (src/server/guard.c): Host allow-list, Origin /
 * Sec-Fetch-Site on writes, the bearer token, the JSON Content-Type. Untrusted header values
 * arrive as slices into the request (not NUL-terminated): each is copied into its own
 * exact-size heap block, so a read past a value is a sanitizer report.
 *
 * Input: byte 0 flags (bit 0: no allowed list, bit 1: the route is KP_SRV_OPEN_WRITE, bit 2:
 * no admin token), then '\n'-separated fields: allowed list, Host, Origin, Sec-Fetch-Site,
 * method, Authorization, Content-Type, admin token; a missing field is an absent header.
 *
 * Invariants (abort on a break):
 *   - a Host outside the list is 421 and never reaches the handler; an allowed GET/HEAD passes;
 *   - a write whose Origin names another authority, or that is cross-site, is 403;
 *   - a refused request never passes, a passing one carries no status; twice the same verdict;
 *   - Host matching ignores ASCII case; "*" and no list allow any Host; adding a list entry
 *     never refuses a Host the list allowed;
 *   - "scheme://" + Host is the same origin as Host (any non-empty Host, any case swap);
 *   - "Bearer " + token passes the token check (a token not starting with a space).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NF 8
enum { F_LIST, F_HOST, F_ORIGIN, F_SITE, F_METHOD, F_AUTH, F_CTYPE, F_TOKEN };

static char *dup_exact(const uint8_t *p, size_t n) { /* no terminator: overreads are caught */
  char *c = malloc(n ? n : 1);
  if (!c) abort();
  if (n) memcpy(c, p, n);
  return c;
}
static char *dup_cstr(const uint8_t *p, size_t n) {
  char *c = malloc(n + 1);
  if (!c) abort();
  memcpy(c, p, n);
  c[n] = 0;
  return c;
}

static bool guard_once(const kp_srv_config_t *cfg, const kp_srv_req_t *req, unsigned flags, int *status) {
  kp_srv_resp_t resp;
  memset(&resp, 0, sizeof resp);
  kp_buf_init(&resp.body, 1 << 16);
  kp_buf_init(&resp.headers, 1 << 12);
  bool ok = kp_srv_guard(cfg, req, flags, &resp);
  *status = resp.status;
  kp_buf_free(&resp.body);
  kp_buf_free(&resp.headers);
  return ok;
}

static void swapcase(char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')) s[i] ^= 0x20;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  unsigned fl = data[0];
  const uint8_t *f[NF] = {0};
  size_t fn[NF] = {0}, nf = 0;
  for (size_t i = 1, start = 1; i <= size && nf < NF; i++)
    if (i == size || data[i] == '\n') {
      f[nf] = data + start, fn[nf] = i - start, nf++;
      start = i + 1;
    }
  bool has[NF];
  for (size_t i = 0; i < NF; i++) has[i] = i < nf;
  char *list = has[F_LIST] && !(fl & 1) ? dup_cstr(f[F_LIST], fn[F_LIST]) : NULL;
  char *token = has[F_TOKEN] && !(fl & 4) ? dup_cstr(f[F_TOKEN], fn[F_TOKEN]) : NULL;
  if ((list && strlen(list) != fn[F_LIST]) || (token && strlen(token) != fn[F_TOKEN])) { /* a NUL inside */
    free(list);
    free(token);
    return 0;
  }
  static const char *const names[NF] = {NULL, "Host", "Origin", "Sec-Fetch-Site", NULL, "Authorization", "Content-Type"};
  char *val[NF] = {0};
  kp_srv_req_t req;
  memset(&req, 0, sizeof req);
  char *method = has[F_METHOD] ? dup_exact(f[F_METHOD], fn[F_METHOD]) : dup_exact((const uint8_t *)"POST", 4);
  req.method = (kp_srv_slice_t){method, has[F_METHOD] ? fn[F_METHOD] : 4};
  for (size_t i = F_HOST; i <= F_CTYPE; i++) {
    if (!names[i] || !has[i]) continue;
    val[i] = dup_exact(f[i], fn[i]);
    req.hname[req.nheaders] = (kp_srv_slice_t){names[i], strlen(names[i])};
    req.hvalue[req.nheaders] = (kp_srv_slice_t){val[i], fn[i]};
    req.nheaders++;
  }
  kp_srv_config_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.allowed_hosts = list;
  cfg.admin_token = token;
  unsigned flags = fl & 2 ? KP_SRV_OPEN_WRITE : 0;
  kp_srv_slice_t host = has[F_HOST] ? (kp_srv_slice_t){val[F_HOST], fn[F_HOST]} : (kp_srv_slice_t){NULL, 0};
  kp_srv_slice_t origin = has[F_ORIGIN] ? (kp_srv_slice_t){val[F_ORIGIN], fn[F_ORIGIN]} : (kp_srv_slice_t){NULL, 0};

  int st1, st2;
  bool ok = guard_once(&cfg, &req, flags, &st1), ok2 = guard_once(&cfg, &req, flags, &st2);
  if (ok != ok2 || st1 != st2) abort();
  if (ok != (st1 == 0)) abort(); /* a refusal always has its status, a pass none */
  bool allowed = kp_srv_host_allowed(list, host);
  bool write = !kp_srv_slice_eq(req.method, "GET") && !kp_srv_slice_eq(req.method, "HEAD");
  if (!allowed && (ok || st1 != 421)) abort();
  if (allowed && !write && !ok) abort();
  if (allowed && write && origin.p && !kp_srv_origin_same(origin, host) && (ok || st1 != 403)) abort();
  if (allowed && write && has[F_SITE] && kp_srv_slice_ieq((kp_srv_slice_t){val[F_SITE], fn[F_SITE]}, "cross-site") &&
      (ok || st1 != 403))
    abort();
  if (!kp_srv_host_allowed(NULL, host) || !kp_srv_host_allowed("*", host)) abort();

  /* case, a wider list */
  if (host.p) {
    char *sw = dup_exact(f[F_HOST], fn[F_HOST]);
    swapcase(sw, fn[F_HOST]);
    if (kp_srv_host_allowed(list, (kp_srv_slice_t){sw, fn[F_HOST]}) != allowed) abort();
    free(sw);
    if (list && allowed) {
      size_t ln = strlen(list);
      char *wide = malloc(ln + 16);
      if (!wide) abort();
      memcpy(wide, "zz.invalid,", 11);
      memcpy(wide + 11, list, ln + 1);
      if (!kp_srv_host_allowed(wide, host)) abort();
      free(wide);
    }
    /* scheme://Host is Host's own origin, in any case */
    if (fn[F_HOST] > 0) {
      static const char *const schemes[] = {"http://", "https://"};
      for (size_t k = 0; k < 2; k++) {
        size_t sl = strlen(schemes[k]), on = sl + fn[F_HOST];
        char *o = malloc(on);
        if (!o) abort();
        memcpy(o, schemes[k], sl);
        memcpy(o + sl, f[F_HOST], fn[F_HOST]);
        if (!kp_srv_origin_same((kp_srv_slice_t){o, on}, host)) abort();
        swapcase(o, on);
        if (!kp_srv_origin_same((kp_srv_slice_t){o, on}, host)) abort();
        free(o);
      }
    }
  }
  /* the token */
  if (token && *token && token[0] != ' ') {
    size_t tl = strlen(token);
    char *az = malloc(7 + tl);
    if (!az) abort();
    memcpy(az, "Bearer ", 7);
    memcpy(az + 7, token, tl);
    if (!kp_srv_bearer_ok(token, (kp_srv_slice_t){az, 7 + tl})) abort();
    if (tl > 1 && kp_srv_bearer_ok(token, (kp_srv_slice_t){az, 6 + tl})) abort(); /* one byte short */
    free(az);
  }
  for (size_t i = 0; i < NF; i++) free(val[i]);
  free(method);
  free(list);
  free(token);
  return 0;
}
