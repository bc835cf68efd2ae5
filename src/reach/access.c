/*
 * access.c: keepon's table of networks, ASN -> mobile | fixed (data/access/kz.tsv, compiled
 * in). Pure, through the bounded cursor. A network not in the table is unknown: nothing is
 * guessed from its name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cursor.h"
#include "reach/reach.h"

#include "access_kz.inc" /* access_kz_tsv[] */

const char *kp_access_default_table(size_t *len) {
  *len = sizeof access_kz_tsv - 1;
  return (const char *)access_kz_tsv;
}

static kp_status_t bad(char *err, size_t cap, size_t line, const char *why) {
  if (err && cap) snprintf(err, cap, "line %zu: %s", line, why);
  return KP_ERR_INVAL;
}

kp_status_t kp_access_parse(const void *p, size_t n, kp_access_table_t *out, char *err, size_t cap) {
  memset(out, 0, sizeof *out);
  if (err && cap) err[0] = 0;
  kp_cur_t c = kp_cur_make(p, n);
  size_t line = 0;
  const uint8_t *s;
  size_t len;
  while (kp_cur_line(&c, &s, &len)) {
    line++;
    if (len == 0 || s[0] == '#') continue;
    /* field 1: AS<digits> (1..10 digits, < 2^32); field 2: mobile|fixed; the rest is text */
    size_t i = 0;
    if (len < 3 || s[0] != 'A' || s[1] != 'S') return bad(err, cap, line, "want ASn<TAB>mobile|fixed");
    uint64_t asn = 0;
    for (i = 2; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
      if (i - 2 >= 10) return bad(err, cap, line, "ASN too long");
      asn = asn * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 2 || asn == 0 || asn > 0xffffffffu) return bad(err, cap, line, "bad ASN");
    if (i >= len || s[i] != '\t') return bad(err, cap, line, "want ASn<TAB>mobile|fixed");
    i++;
    size_t k = i;
    while (k < len && s[k] != '\t') k++;
    kp_access_t a;
    if (k - i == 6 && !memcmp(s + i, "mobile", 6)) a = KP_ACCESS_MOBILE;
    else if (k - i == 5 && !memcmp(s + i, "fixed", 5)) a = KP_ACCESS_FIXED;
    else return bad(err, cap, line, "access type is mobile or fixed");
    for (size_t j = 0; j < out->n; j++)
      if (out->row[j].asn == (uint32_t)asn) return bad(err, cap, line, "ASN listed twice");
    if (out->n == KP_ACCESS_MAX) return bad(err, cap, line, "too many networks");
    out->row[out->n].asn = (uint32_t)asn;
    out->row[out->n].access = a;
    out->n++;
  }
  return KP_OK;
}

kp_access_t kp_access_lookup(const kp_access_table_t *t, const char *asn) {
  if (!asn || strncmp(asn, "AS", 2) || !asn[2] || strlen(asn) > 12) return KP_ACCESS_UNKNOWN;
  char *end;
  unsigned long long v = strtoull(asn + 2, &end, 10);
  if (*end || v == 0 || v > 0xffffffffull) return KP_ACCESS_UNKNOWN;
  for (size_t i = 0; i < t->n; i++)
    if (t->row[i].asn == (uint32_t)v) return t->row[i].access;
  return KP_ACCESS_UNKNOWN;
}

const char *kp_access_name(kp_access_t a) {
  return a == KP_ACCESS_MOBILE ? "mobile" : a == KP_ACCESS_FIXED ? "fixed" : "unknown";
}

kp_status_t kp_access_resolve(const char *flag, const char *asn, const char **out) {
  *out = NULL;
  if (flag) {
    if (strcmp(flag, "mobile") && strcmp(flag, "fixed")) return KP_ERR_INVAL;
    *out = !strcmp(flag, "mobile") ? "mobile" : "fixed";
    return KP_OK;
  }
  if (!asn) return KP_OK;
  static kp_access_table_t t; /* parsed once: the table is compiled in and never changes */
  static int parsed;          /* 0 not yet, 1 ok, -1 failed (test_access keeps the table valid) */
  if (!parsed) {
    size_t n;
    const char *p = kp_access_default_table(&n);
    parsed = kp_access_parse(p, n, &t, NULL, 0) == KP_OK ? 1 : -1;
  }
  kp_access_t a = parsed > 0 ? kp_access_lookup(&t, asn) : KP_ACCESS_UNKNOWN;
  if (a != KP_ACCESS_UNKNOWN) *out = kp_access_name(a);
  return KP_OK;
}
