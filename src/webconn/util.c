/*
 * util.c: small pure helpers shared by the analysis, the TH and the probe:
 * bogon test with the lab exemption, http(s) URL splitting, HTML <title>.
 */
#include <stdio.h>
#include <string.h>

#include "base/addr.h"
#include "webconn/webconn.h"

bool kp_wc_is_bogon(const char *ip, const kp_wc_opts_t *opts) {
  kp_addr_t a;
  if (!ip || kp_addr_parse(ip, &a) != KP_OK) return false;
  if (opts && opts->lab) {
    /* The lab's ranges are OONI bogons; --lab makes them ordinary. */
    kp_prefix_t p4, p6;
    if (kp_prefix_parse("198.18.0.0/15", &p4) == KP_OK && kp_prefix_contains(&p4, &a)) return false;
    if (kp_prefix_parse("2001:db8::/32", &p6) == KP_OK && kp_prefix_contains(&p6, &a)) return false;
  }
  return kp_addr_is_bogon(&a);
}

static int lc(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

kp_status_t kp_wc_url_split(const char *url, char *scheme, size_t scap, char *host, size_t hcap,
                            int *port) {
  if (!url || !scheme || !host || !port || scap < 6 || hcap < 2) return KP_ERR_INVAL;
  const char *p;
  if (!strncmp(url, "http://", 7)) {
    snprintf(scheme, scap, "http");
    p = url + 7;
  } else if (!strncmp(url, "https://", 8)) {
    snprintf(scheme, scap, "https");
    p = url + 8;
  } else {
    return KP_ERR_INVAL;
  }
  size_t alen = strcspn(p, "/?#");
  const char *at = memchr(p, '@', alen); /* drop userinfo */
  if (at) {
    alen -= (size_t)(at + 1 - p);
    p = at + 1;
  }
  const char *hs = p, *he;
  const char *portp = NULL;
  if (*p == '[') {
    const char *rb = memchr(p, ']', alen);
    if (!rb) return KP_ERR_INVAL;
    hs = p + 1;
    he = rb;
    if (rb + 1 < p + alen) {
      if (rb[1] != ':') return KP_ERR_INVAL;
      portp = rb + 2;
    }
  } else {
    const char *colon = memchr(p, ':', alen);
    he = colon ? colon : p + alen;
    if (colon) portp = colon + 1;
  }
  size_t hl = (size_t)(he - hs);
  if (hl == 0 || hl >= hcap) return KP_ERR_INVAL;
  for (size_t i = 0; i < hl; i++) host[i] = (char)lc((unsigned char)hs[i]);
  host[hl] = 0;
  *port = 0;
  if (portp) {
    long v = 0;
    const char *q = portp;
    if (q >= p + alen) return KP_ERR_INVAL;
    for (; q < p + alen; q++) {
      if (*q < '0' || *q > '9') return KP_ERR_INVAL;
      v = v * 10 + (*q - '0');
      if (v > 65535) return KP_ERR_INVAL;
    }
    if (v == 0) return KP_ERR_INVAL;
    *port = (int)v;
  }
  return KP_OK;
}

/* Case-insensitive "<title>" ... up to 512 bytes without '<' ... "</title>". */
size_t kp_wc_title(const uint8_t *b, size_t n, char *out, size_t cap) {
  static const char open[] = "<title>", close[] = "</title>";
  if (cap) out[0] = 0;
  for (size_t i = 0; i + 7 <= n; i++) {
    size_t k = 0;
    while (k < 7 && lc(b[i + k]) == open[k]) k++;
    if (k < 7) continue;
    size_t s = i + 7, e = s;
    while (e < n && b[e] != '<' && b[e] != 0 && e - s < 512) e++; /* a NUL ends no C title */
    if (e == s || e + 8 > n) continue;
    size_t m = 0;
    while (m < 8 && lc(b[e + m]) == close[m]) m++;
    if (m < 8) continue;
    size_t len = e - s;
    if (cap == 0) return len;
    if (len >= cap) len = cap - 1;
    memcpy(out, b + s, len);
    out[len] = 0;
    return len;
  }
  return 0;
}

/* ---- the helper's destination rule (see webconn.h) ---- */

static bool own_match(const kp_wc_dest_t *d, const kp_addr_t *a) {
  kp_addr_t e[3];
  size_t n = 1;
  e[0] = *a;
  n += kp_addr_embedded_v4(a, e + 1);
  for (size_t k = 0; k < n; k++)
    for (size_t i = 0; i < d->nown; i++)
      if (kp_addr_eq(&d->own[i], &e[k])) return true;
  return false;
}

const char *kp_wc_dest_refuse(const kp_wc_dest_t *d, const kp_addr_t *a) {
  if (!a || kp_addr_is_local_scope(a)) return KP_WC_FAIL_DEST;
  if (d && (d->own_full || own_match(d, a))) return KP_WC_FAIL_DEST; /* fail closed past the cap */
  for (size_t i = 0; d && i < d->nallow; i++)
    if (kp_prefix_contains(&d->allow[i], a)) return NULL;
  return kp_addr_is_public(a) ? NULL : KP_WC_FAIL_DEST;
}

kp_status_t kp_wc_dest_allow_parse(const char *list, kp_wc_dest_t *d) {
  /* points of the local-scope ranges: a prefix containing one would reopen them */
  static const char *const probes[] = {"0.0.0.0", "127.0.0.1", "169.254.169.254", "224.0.0.1",
                                       "255.255.255.255", "::", "::1", "fe80::1", "ff02::1"};
  const char *p = list;
  if (!p || !*p) return KP_ERR_INVAL;
  while (*p) {
    size_t n = strcspn(p, ",");
    char item[64];
    if (n == 0 || n >= sizeof item) return KP_ERR_INVAL;
    memcpy(item, p, n);
    item[n] = 0;
    kp_prefix_t pf;
    if (kp_prefix_parse(item, &pf) != KP_OK || kp_addr_is_local_scope(&pf.addr)) return KP_ERR_INVAL;
    for (size_t i = 0; i < sizeof probes / sizeof *probes; i++) {
      kp_addr_t x;
      if (kp_addr_parse(probes[i], &x) == KP_OK && kp_prefix_contains(&pf, &x)) return KP_ERR_INVAL;
    }
    if (d->nallow >= KP_WC_DEST_MAX_ALLOW) return KP_ERR_RANGE;
    d->allow[d->nallow++] = pf;
    p += n;
    if (*p == ',' && !*++p) return KP_ERR_INVAL; /* a trailing comma is a typo, not "nothing more" */
  }
  return KP_OK;
}

void kp_wc_dest_add_own(kp_wc_dest_t *d, const kp_addr_t *a) {
  for (size_t i = 0; i < d->nown; i++)
    if (kp_addr_eq(&d->own[i], a)) return;
  if (d->nown < KP_WC_DEST_MAX_OWN) d->own[d->nown++] = *a;
  else d->own_full = true;
}
