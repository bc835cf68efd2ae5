/*
 * lists.c: the files remote measurement reads (pure, over untrusted bytes, kp_cur_t):
 * server lists, domain lists and the opt-out list, and the policy that refuses addresses.
 *
 * Each file is split into lines through one cursor; a line over KP_RMT_LINE_MAX bytes or a
 * malformed entry rejects the whole file with its 1-based line number (a half-read opt-out
 * list would probe someone who asked not to be). Fields are separated by spaces or tabs.
 * Policy order: outside-lab (lab mode: only 198.18.0.0/15, 2001:db8::/32) / reserved (not
 * public unicast), then opt-out (any listed prefix containing the address).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cursor.h"
#include "remote/remote.h"

#define KP_RMT_LINE_MAX 512
#define KP_RMT_LIST_MAX 1000000

/* Next line into line[KP_RMT_LINE_MAX + 1] (CR and comments stripped, trimmed); false at the end.
 * *too_long when the line did not fit. */
static bool next_line(kp_cur_t *c, char *line, bool *too_long) {
  *too_long = false;
  if (kp_cur_left(c) == 0) return false;
  size_t k = 0;
  uint8_t ch;
  bool comment = false;
  while (kp_cur_u8(c, &ch) && ch != '\n') {
    if (ch == '#') comment = true;
    if (comment || ch == '\r') continue;
    if (k >= KP_RMT_LINE_MAX) { *too_long = true; continue; }
    line[k++] = (ch == '\t') ? ' ' : (char)ch;
  }
  while (k && line[k - 1] == ' ') k--;
  line[k] = 0;
  size_t s = 0;
  while (line[s] == ' ') s++;
  if (s) memmove(line, line + s, k - s + 1);
  return true;
}

/* Split on spaces: up to @p max fields (pointers into line). */
static size_t fields(char *line, char **f, size_t max) {
  size_t n = 0;
  char *p = line;
  while (*p) {
    while (*p == ' ') p++;
    if (!*p) break;
    if (n == max) return max + 1;
    f[n++] = p;
    while (*p && *p != ' ') p++;
    if (*p) *p++ = 0;
  }
  return n;
}

static bool printable(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) return false;
  return true;
}

kp_status_t kp_rmt_targets_parse(const void *bytes, size_t n, kp_rmt_target_t **out, size_t *count, size_t *bad_line) {
  *out = NULL;
  *count = 0;
  *bad_line = 0;
  kp_cur_t c = kp_cur_make(bytes, n);
  char line[KP_RMT_LINE_MAX + 1];
  bool tl;
  size_t lineno = 0, cap = 0;
  kp_rmt_target_t *v = NULL;
  kp_status_t st = KP_OK;
  while (next_line(&c, line, &tl)) {
    lineno++;
    if (tl || !printable(line)) goto bad;
    if (!line[0]) continue;
    char *f[8];
    size_t nf = fields(line, f, 6);
    if (nf < 2 || nf > 4) goto bad;
    kp_rmt_target_t t;
    memset(&t, 0, sizeof t);
    if (kp_addr_parse(f[0], &t.addr) != KP_OK) goto bad;
    if (!strcmp(f[1], "resolver")) t.role = KP_RMT_RESOLVER;
    else if (!strcmp(f[1], "echo")) t.role = KP_RMT_ECHO;
    else if (!strcmp(f[1], "web")) t.role = KP_RMT_WEB;
    else goto bad;
    for (size_t i = 2; i < nf; i++) {
      if (!strncmp(f[i], "asn=", 4)) {
        const char *d = f[i] + 4;
        if ((d[0] == 'A' || d[0] == 'a') && (d[1] == 'S' || d[1] == 's')) d += 2;
        if (!*d || strlen(d) > 10 || *d == '0') goto bad;
        uint64_t a = 0;
        for (; *d; d++) {
          if (*d < '0' || *d > '9') goto bad;
          a = a * 10 + (uint64_t)(*d - '0');
        }
        if (a > UINT32_MAX) goto bad;
        t.asn = (uint32_t)a;
      } else if (!strncmp(f[i], "cc=", 3) && strlen(f[i]) == 5 && f[i][3] >= 'A' && f[i][3] <= 'Z' &&
                 f[i][4] >= 'A' && f[i][4] <= 'Z') {
        memcpy(t.cc, f[i] + 3, 3);
      } else {
        goto bad;
      }
    }
    if (*count == KP_RMT_LIST_MAX) { st = KP_ERR_RANGE; goto fail; }
    if (*count == cap) {
      size_t nc = cap ? cap * 2 : 64;
      kp_rmt_target_t *nv = realloc(v, nc * sizeof *nv);
      if (!nv) { st = KP_ERR_NOMEM; goto fail; }
      v = nv;
      cap = nc;
    }
    v[(*count)++] = t;
  }
  *out = v;
  return KP_OK;
bad:
  *bad_line = lineno;
  st = KP_ERR_INVAL;
fail:
  free(v);
  *count = 0;
  return st;
}

static bool name_ok(char *s) {
  size_t n = strlen(s);
  if (n && s[n - 1] == '.') s[--n] = 0;
  if (n == 0 || n > KP_RMT_NAME_MAX || s[0] == '.' || s[0] == '-') return false;
  size_t label = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch >= 'A' && ch <= 'Z') s[i] = ch = (char)(ch + 32);
    if (ch == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')) return false;
    if (++label > 63) return false;
  }
  return label > 0;
}

kp_status_t kp_rmt_names_parse(const void *bytes, size_t n, kp_rmt_name_t **out, size_t *count, size_t *bad_line) {
  *out = NULL;
  *count = 0;
  *bad_line = 0;
  kp_cur_t c = kp_cur_make(bytes, n);
  char line[KP_RMT_LINE_MAX + 1];
  bool tl;
  size_t lineno = 0, cap = 0;
  kp_rmt_name_t *v = NULL;
  kp_status_t st = KP_OK;
  while (next_line(&c, line, &tl)) {
    lineno++;
    if (tl) goto bad;
    if (!line[0]) continue;
    if (strchr(line, ' ') || !name_ok(line)) goto bad;
    if (*count == KP_RMT_LIST_MAX) { st = KP_ERR_RANGE; goto fail; }
    if (*count == cap) {
      size_t nc = cap ? cap * 2 : 64;
      kp_rmt_name_t *nv = realloc(v, nc * sizeof *nv);
      if (!nv) { st = KP_ERR_NOMEM; goto fail; }
      v = nv;
      cap = nc;
    }
    snprintf(v[*count].s, sizeof v[*count].s, "%s", line);
    (*count)++;
  }
  *out = v;
  return KP_OK;
bad:
  *bad_line = lineno;
  st = KP_ERR_INVAL;
fail:
  free(v);
  *count = 0;
  return st;
}

/* ------------------------------------------------------------------ policy */

struct kp_rmt_policy {
  bool lab;
  kp_prefix_t *opt;
  size_t nopt, cap;
};

kp_status_t kp_rmt_policy_new(bool lab, kp_rmt_policy_t **out) {
  *out = calloc(1, sizeof **out);
  if (!*out) return KP_ERR_NOMEM;
  (*out)->lab = lab;
  return KP_OK;
}

void kp_rmt_policy_free(kp_rmt_policy_t *p) {
  if (!p) return;
  free(p->opt);
  free(p);
}

kp_status_t kp_rmt_policy_optout(kp_rmt_policy_t *p, const void *bytes, size_t n, size_t *bad_line) {
  *bad_line = 0;
  kp_cur_t c = kp_cur_make(bytes, n);
  char line[KP_RMT_LINE_MAX + 1];
  bool tl;
  size_t lineno = 0, start = p->nopt;
  while (next_line(&c, line, &tl)) {
    lineno++;
    if (tl) goto bad;
    if (!line[0]) continue;
    kp_prefix_t pf;
    if (strchr(line, '/')) {
      if (kp_prefix_parse(line, &pf) != KP_OK) goto bad;
    } else {
      if (kp_addr_parse(line, &pf.addr) != KP_OK) goto bad;
      pf.len = pf.addr.family == 4 ? 32 : 128;
    }
    if (p->nopt == p->cap) {
      size_t nc = p->cap ? p->cap * 2 : 64;
      if (nc > KP_RMT_LIST_MAX) goto bad;
      kp_prefix_t *nv = realloc(p->opt, nc * sizeof *nv);
      if (!nv) { p->nopt = start; return KP_ERR_NOMEM; }
      p->opt = nv;
      p->cap = nc;
    }
    p->opt[p->nopt++] = pf;
  }
  return KP_OK;
bad:
  p->nopt = start; /* all or nothing */
  *bad_line = lineno;
  return KP_ERR_INVAL;
}

size_t kp_rmt_policy_optouts(const kp_rmt_policy_t *p) { return p->nopt; }

kp_status_t kp_rmt_cidrs_parse(const void *bytes, size_t n, kp_prefix_t **out, size_t *count, size_t *bad_line) {
  *out = NULL;
  *count = 0;
  *bad_line = 0;
  kp_cur_t c = kp_cur_make(bytes, n);
  char line[KP_RMT_LINE_MAX + 1];
  bool tl;
  size_t lineno = 0, cap = 0;
  kp_prefix_t *v = NULL;
  while (next_line(&c, line, &tl)) {
    lineno++;
    if (tl) goto bad;
    if (!line[0]) continue;
    kp_prefix_t pf;
    if (strchr(line, '/')) {
      if (kp_prefix_parse(line, &pf) != KP_OK) goto bad;
    } else {
      if (kp_addr_parse(line, &pf.addr) != KP_OK) goto bad;
      pf.len = 32;
    }
    if (pf.addr.family != 4) goto bad;
    if (*count == cap) {
      size_t nc = cap ? cap * 2 : 64;
      if (nc > KP_RMT_LIST_MAX) goto bad;
      kp_prefix_t *nv = realloc(v, nc * sizeof *nv);
      if (!nv) { free(v); *count = 0; return KP_ERR_NOMEM; }
      v = nv;
      cap = nc;
    }
    v[(*count)++] = pf;
  }
  *out = v;
  return KP_OK;
bad:
  free(v);
  *count = 0;
  *bad_line = lineno;
  return KP_ERR_INVAL;
}

static bool in_lab(const kp_addr_t *a) {
  if (a->family == 4) return a->b[0] == 198 && (a->b[1] & 0xfe) == 18;
  return a->family == 6 && a->b[0] == 0x20 && a->b[1] == 0x01 && a->b[2] == 0x0d && a->b[3] == 0xb8;
}

const char *kp_rmt_policy_refuse(const kp_rmt_policy_t *p, const kp_addr_t *a) {
  if (p->lab) {
    if (!in_lab(a)) return "outside-lab";
  } else if (!kp_addr_is_public(a)) {
    return "reserved";
  }
  for (size_t i = 0; i < p->nopt; i++)
    if (kp_prefix_contains(&p->opt[i], a)) return "opt-out";
  return NULL;
}
