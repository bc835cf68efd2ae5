/*
 * list.c: the reach list (TSV) through the bounded cursor. Pure.
 *
 * Each line is split on TAB into at most 5 fields, each copied only after its length is checked
 * against the destination. Names and hosts are printable ASCII without spaces; a port is
 * 1..65535. A line that breaks any rule fails the whole list (a probe must not silently test
 * less than it was given).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/cursor.h"
#include "reach/reach.h"

#include "reach_list.inc" /* kz_tsv[]: data/domestic/kz.tsv, compiled in */

const char *kp_reach_default_list(size_t *len) {
  *len = sizeof kz_tsv - 1;
  return (const char *)kz_tsv;
}

#define FIELD_MAX 256

typedef struct field {
  const uint8_t *p;
  size_t n;
} field_t;

static bool printable(field_t f) {
  for (size_t i = 0; i < f.n; i++)
    if (f.p[i] <= ' ' || f.p[i] >= 0x7f) return false;
  return f.n > 0;
}

static bool copy(char *dst, size_t cap, field_t f) {
  if (f.n >= cap || !printable(f)) return false;
  memcpy(dst, f.p, f.n);
  dst[f.n] = 0;
  return true;
}

static bool is(field_t f, const char *s) { return f.n == strlen(s) && memcmp(f.p, s, f.n) == 0; }

/* "host", "host:port", "[v6]:port" or a bare v6 address into host/port (port kept when absent) */
static bool hostport(const char *s, char *host, size_t cap, uint16_t *port) {
  kp_addr_t a;
  if (kp_addr_parse(s, &a) == KP_OK || !strchr(s, ':')) {
    if (strlen(s) >= cap) return false;
    memcpy(host, s, strlen(s) + 1);
    return true;
  }
  uint16_t p = 0;
  if (kp_hostport_parse(s, host, cap, &p) != KP_OK || p == 0) return false;
  *port = p;
  return true;
}

static kp_status_t bad(char *err, size_t cap, size_t line, const char *why) {
  if (err && cap) snprintf(err, cap, "line %zu: %s", line, why);
  return KP_ERR_INVAL;
}

static kp_status_t parse_line(field_t *f, size_t nf, kp_reach_target_t *t, char *err, size_t cap, size_t line) {
  memset(t, 0, sizeof *t);
  if (nf < 4) return bad(err, cap, line, "want SCOPE KIND NAME TARGET [ARG]");
  if (is(f[0], "domestic")) t->scope = KP_REACH_DOMESTIC;
  else if (is(f[0], "foreign")) t->scope = KP_REACH_FOREIGN;
  else if (is(f[0], "port")) t->scope = KP_REACH_PORT;
  else return bad(err, cap, line, "scope is domestic, foreign or port");
  if (is(f[1], "tcp")) t->kind = KP_REACH_TCP;
  else if (is(f[1], "dns")) t->kind = KP_REACH_DNS;
  else if (is(f[1], "https")) t->kind = KP_REACH_HTTPS;
  else return bad(err, cap, line, "kind is tcp, dns or https");
  if (!copy(t->name, sizeof t->name, f[2])) return bad(err, cap, line, "bad name (printable, no space, < 64 bytes)");
  char tgt[FIELD_MAX];
  if (!copy(tgt, sizeof tgt, f[3])) return bad(err, cap, line, "bad target");
  t->port = t->kind == KP_REACH_DNS ? 53 : t->kind == KP_REACH_HTTPS ? 443 : 0;
  if (!hostport(tgt, t->host, sizeof t->host, &t->port)) return bad(err, cap, line, "bad host[:port]");
  if (t->kind == KP_REACH_TCP && t->port == 0) return bad(err, cap, line, "tcp needs host:port");
  kp_addr_t a;
  if (t->kind == KP_REACH_DNS && kp_addr_parse(t->host, &a) != KP_OK) return bad(err, cap, line, "dns needs a resolver IP");
  if (nf >= 5 && !copy(t->query, sizeof t->query, f[4])) return bad(err, cap, line, "bad argument");
  if (t->kind == KP_REACH_DNS && !t->query[0]) return bad(err, cap, line, "dns needs the name to ask");
  if (t->kind == KP_REACH_HTTPS && !t->query[0]) strcpy(t->query, "/");
  if (t->kind == KP_REACH_HTTPS && t->query[0] != '/') return bad(err, cap, line, "https path starts with /");
  if (t->kind == KP_REACH_TCP && nf >= 5) return bad(err, cap, line, "tcp takes no argument");
  return KP_OK;
}

kp_status_t kp_reach_list_parse(const void *p, size_t n, kp_reach_list_t *out, char *err, size_t cap) {
  memset(out, 0, sizeof *out);
  if (err && cap) err[0] = 0;
  kp_cur_t c = kp_cur_make(p, n);
  size_t line = 0;
  const uint8_t *s;
  size_t len;
  while (kp_cur_line(&c, &s, &len)) {
    line++;
    if (len == 0 || s[0] == '#') continue;
    field_t f[5];
    size_t nf = 0, a = 0;
    for (size_t i = 0; i <= len; i++) {
      if (i < len && s[i] != '\t') continue;
      if (nf == 5) return bad(err, cap, line, "more than 5 fields");
      f[nf++] = (field_t){s + a, i - a};
      a = i + 1;
    }
    if (out->n == KP_REACH_MAX) return bad(err, cap, line, "more than 64 entries");
    kp_status_t st = parse_line(f, nf, &out->t[out->n], err, cap, line);
    if (st != KP_OK) return st;
    out->n++;
  }
  if (!out->n) return bad(err, cap, line, "no entry");
  return KP_OK;
}
