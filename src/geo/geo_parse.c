/*
 * geo_parse.c: pure line parsers for CIDR lists, the keepon geo table and the ip-location-db
 * ASN range CSV. Lines are taken off a kp_cur_t into a bounded stack copy (KP_GEO_LINE_MAX),
 * split in place, and each field is validated before it reaches a row. A malformed line stops
 * the parse with KP_ERR_INVAL and its line number: partial input is never silently accepted.
 */
#include "geo/geo_parse.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/cursor.h"

/* Next line (without "\n" / "\r\n") into buf; false at end of input. */
static kp_status_t next_line(kp_cur_t *c, char *buf, size_t cap, bool *got) {
  *got = false;
  if (kp_cur_left(c) == 0) return KP_OK;
  size_t len = 0;
  uint8_t ch;
  while (kp_cur_u8(c, &ch)) {
    if (ch == '\n') break;
    if (len + 1 >= cap) return KP_ERR_RANGE;
    buf[len++] = (char)ch;
  }
  if (len > 0 && buf[len - 1] == '\r') len--;
  buf[len] = 0;
  if (memchr(buf, 0, len)) return KP_ERR_INVAL; /* embedded NUL */
  *got = true;
  return KP_OK;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
  return s;
}

static bool blank_or_comment(const char *s) { return *s == 0 || *s == '#'; }

/* IPv4 prefix (a bare address is a /32). Returns KP_ERR_UNSUPPORTED for IPv6. */
static kp_status_t parse_v4_prefix(const char *s, uint32_t *net, uint8_t *len) {
  kp_prefix_t p;
  if (strlen(s) > 60) return KP_ERR_INVAL;
  kp_status_t st = kp_prefix_parse(s, &p);
  if (st != KP_OK) return KP_ERR_INVAL;
  if (p.addr.family == 6) return KP_ERR_UNSUPPORTED;
  *net = kp_addr_v4_u32(&p.addr);
  *len = p.len;
  return KP_OK;
}

static bool parse_u32(const char *s, uint32_t *out) {
  if (*s == 0) return false;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    v = v * 10 + (uint64_t)(*s - '0');
    if (v > UINT32_MAX) return false;
  }
  *out = (uint32_t)v;
  return true;
}

static void copy_field(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) n = cap - 1;
  /* never cut a UTF-8 sequence in half */
  while (n > 0 && n < strlen(src) && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
  memcpy(dst, src, n);
  dst[n] = 0;
}

int kp_geo_csv_split(char *line, char **fields, int max) {
  int nf = 0;
  char *r = line, *w = line;
  for (;;) {
    if (nf == max) return -1;
    fields[nf++] = w;
    if (*r == '"') {
      r++;
      for (;;) {
        if (*r == 0) return -1; /* unterminated quote */
        if (*r == '"') {
          if (r[1] == '"') { *w++ = '"'; r += 2; continue; }
          r++;
          break;
        }
        *w++ = *r++;
      }
      if (*r != ',' && *r != 0) return -1;
    } else {
      while (*r && *r != ',') *w++ = *r++;
    }
    if (*r == 0) { *w = 0; return nf; }
    *w++ = 0;
    r++; /* the comma */
    /* w never overtakes r: each step writes at most what it read */
  }
}

/*
 * The line loop every format shares: take each line off the cursor, trim it, skip blank and
 * '#' lines, hand the rest to @p line_fn; the first failure stops the parse with its line
 * number (KP_ERR_UNSUPPORTED from line_fn means "not for us": the line is skipped).
 */
typedef kp_status_t (*line_fn_t)(void *state, char *s);

static kp_status_t each_line(const void *p, size_t n, line_fn_t line_fn, void *state, size_t *line_err) {
  kp_cur_t c = kp_cur_make(p, n);
  char line[KP_GEO_LINE_MAX];
  for (size_t lineno = 1;; lineno++) {
    bool got;
    kp_status_t st = next_line(&c, line, sizeof line, &got);
    if (st == KP_OK && !got) return KP_OK;
    if (st == KP_OK) {
      char *s = trim(line);
      if (blank_or_comment(s)) continue;
      st = line_fn(state, s);
      if (st == KP_ERR_UNSUPPORTED) continue;
    }
    if (st != KP_OK) {
      if (line_err) *line_err = lineno;
      return st;
    }
  }
}

typedef struct row_state {
  kp_geo_row_fn fn;
  void *ctx;
  bool seen_line; /* table: the header may only be the first non-comment line */
} row_state_t;

static kp_status_t cidr_line(void *state, char *s) {
  row_state_t *rs = state;
  char *hash = strchr(s, '#');
  if (hash) *hash = 0;
  s = trim(s);
  kp_geo_row_t row;
  memset(&row, 0, sizeof row);
  kp_status_t st = parse_v4_prefix(s, &row.net, &row.len); /* IPv6: UNSUPPORTED, skipped */
  return st == KP_OK ? rs->fn(rs->ctx, &row) : st;
}

kp_status_t kp_geo_parse_cidr(const void *p, size_t n, kp_geo_row_fn fn, void *ctx,
                              size_t *line_err) {
  row_state_t rs = {fn, ctx, false};
  return each_line(p, n, cidr_line, &rs, line_err);
}

static bool valid_cc(const char *s) {
  if (*s == 0) return true;
  return strlen(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

static kp_status_t table_line(void *state, char *s) {
  row_state_t *rs = state;
  bool header = !rs->seen_line && strncmp(s, "prefix,", 7) == 0;
  rs->seen_line = true;
  if (header) return KP_ERR_UNSUPPORTED;
  char *f[5];
  int nf = kp_geo_csv_split(s, f, 5);
  if (nf < 2) return KP_ERR_INVAL;
  kp_geo_row_t row;
  memset(&row, 0, sizeof row);
  kp_status_t st = parse_v4_prefix(trim(f[0]), &row.net, &row.len);
  if (st != KP_OK) return st; /* IPv6: UNSUPPORTED, skipped */
  char *cc = trim(f[1]);
  if (!valid_cc(cc)) return KP_ERR_INVAL;
  memcpy(row.cc, cc, strlen(cc) + 1);
  if (nf > 2) copy_field(row.region, sizeof row.region, trim(f[2]));
  if (nf > 3) {
    char *a = trim(f[3]);
    if (a[0] == 'A' && a[1] == 'S') a += 2;
    if (*a && !parse_u32(a, &row.asn)) return KP_ERR_INVAL;
  }
  if (nf > 4) copy_field(row.as_name, sizeof row.as_name, trim(f[4]));
  return rs->fn(rs->ctx, &row);
}

kp_status_t kp_geo_parse_table(const void *p, size_t n, kp_geo_row_fn fn, void *ctx,
                               size_t *line_err) {
  row_state_t rs = {fn, ctx, false};
  return each_line(p, n, table_line, &rs, line_err);
}

typedef struct asn_state {
  kp_geo_asn_fn fn;
  void *ctx;
} asn_state_t;

static kp_status_t asn_line(void *state, char *s) {
  asn_state_t *as = state;
  char *f[4];
  int nf = kp_geo_csv_split(s, f, 4);
  if (nf < 3) return KP_ERR_INVAL;
  if (strchr(f[0], ':')) return KP_ERR_UNSUPPORTED; /* IPv6 row */
  kp_addr_t a, b;
  if (kp_addr_parse(trim(f[0]), &a) != KP_OK || kp_addr_parse(trim(f[1]), &b) != KP_OK ||
      a.family != 4 || b.family != 4)
    return KP_ERR_INVAL;
  kp_geo_asn_range_t r;
  memset(&r, 0, sizeof r);
  r.first = kp_addr_v4_u32(&a);
  r.last = kp_addr_v4_u32(&b);
  if (r.last < r.first || !parse_u32(trim(f[2]), &r.asn)) return KP_ERR_INVAL;
  if (nf > 3) copy_field(r.as_name, sizeof r.as_name, trim(f[3]));
  return as->fn(as->ctx, &r);
}

kp_status_t kp_geo_parse_asn_csv(const void *p, size_t n, kp_geo_asn_fn fn, void *ctx,
                                 size_t *line_err) {
  asn_state_t as = {fn, ctx};
  return each_line(p, n, asn_line, &as, line_err);
}
