/*
 * i18n.c: the report's messages in English, Russian and Kazakh.
 *
 * The texts are data (data/i18n/<lang>.tsv: KEY<TAB>TEXT lines, '#' comments),
 * compiled in at build time (src/report/CMakeLists.txt), so the binary needs no
 * data directory and a report is a pure function of its inputs. Keys are the
 * X-macro list of i18n_keys.h plus "country.<CC>" for each country of the name
 * table (export.c). A table is built per render: parse the language's file,
 * then fill any hole from English, then from the key itself (never NULL). The
 * report test runs kp_i18n_check on every shipped file, so a hole is a test
 * failure, not a silent English fallback.
 *
 * Templates hold positional placeholders {1}..{9}; kp_rep_fill substitutes
 * them (no printf format from data, so a translation cannot misuse varargs).
 * A translation must use exactly the placeholders English uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cursor.h"
#include "report/i18n_keys.h"
#include "report/internal.h"
#include "report/report.h"

#include "i18n_data.inc" /* en_tsv, ru_tsv, kk_tsv: NUL-terminated bytes of data/i18n/<lang>.tsv */

static const char *const key_names[] = {
#define KP_X_NAME(id, key) key,
    KP_I18N_KEYS(KP_X_NAME)
#undef KP_X_NAME
};

static const struct { const char *code; const unsigned char *tsv; size_t len; } langs[KP_LANG__COUNT] = {
    {"en", en_tsv, sizeof en_tsv - 1}, {"ru", ru_tsv, sizeof ru_tsv - 1}, {"kk", kk_tsv, sizeof kk_tsv - 1}};

const char *kp_lang_code(kp_lang_t l) { return (unsigned)l < KP_LANG__COUNT ? langs[l].code : "en"; }

int kp_lang_parse(const char *s, kp_lang_t *out) {
  for (int i = 0; i < KP_LANG__COUNT; i++)
    if (s && !strcmp(s, langs[i].code)) { *out = (kp_lang_t)i; return 0; }
  return -1;
}

kp_status_t kp_lang_data(kp_lang_t l, const void **p, size_t *n) {
  if ((unsigned)l >= KP_LANG__COUNT) return KP_ERR_INVAL;
  *p = langs[l].tsv;
  *n = langs[l].len;
  return KP_OK;
}

/* index of a key: 0..KP_M__COUNT-1 fixed keys, then one per country; -1 unknown */
static long key_index(const uint8_t *k, size_t n) {
  for (size_t i = 0; i < KP_M__COUNT; i++)
    if (strlen(key_names[i]) == n && !memcmp(key_names[i], k, n)) return (long)i;
  if (n == 10 && !memcmp(k, "country.", 8))
    for (size_t i = 0; kp_rep_country_at(i); i++)
      if (!memcmp(kp_rep_country_at(i), k + 8, 2)) return (long)(KP_M__COUNT + i);
  return -1;
}

static size_t nkeys(void) {
  size_t n = KP_M__COUNT;
  while (kp_rep_country_at(n - KP_M__COUNT)) n++;
  return n;
}

static void key_text(size_t i, char *out, size_t cap) {
  if (i < KP_M__COUNT) snprintf(out, cap, "%s", key_names[i]);
  else snprintf(out, cap, "country.%s", kp_rep_country_at(i - KP_M__COUNT));
}

typedef void (*line_fn)(void *ctx, size_t lineno, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn);

/* Splits TSV text into (key, text) pairs; a non-comment line without a TAB gets kn = SIZE_MAX. */
static void each_line(const void *p, size_t n, line_fn fn, void *ctx) {
  kp_cur_t c = kp_cur_make(p, n);
  const uint8_t *line;
  size_t len;
  for (size_t lineno = 1; kp_cur_line(&c, &line, &len); lineno++) {
    if (!len || line[0] == '#') continue;
    const uint8_t *tab = memchr(line, '\t', len);
    if (!tab) fn(ctx, lineno, line, SIZE_MAX, NULL, 0);
    else fn(ctx, lineno, line, (size_t)(tab - line), tab + 1, len - (size_t)(tab - line) - 1);
  }
}

struct kp_i18n {
  char **msg; /* nkeys() entries, each owned */
  size_t n;
};

static void load_line(void *ctx, size_t lineno, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn) {
  (void)lineno;
  kp_i18n_t *t = ctx;
  long i = kn == SIZE_MAX ? -1 : key_index(k, kn);
  if (i < 0 || (size_t)i >= t->n || t->msg[i]) return;
  if ((t->msg[i] = malloc(vn + 1))) {
    memcpy(t->msg[i], v, vn);
    t->msg[i][vn] = 0;
  }
}

kp_status_t kp_rep_i18n_load(kp_lang_t l, kp_i18n_t **out) {
  kp_i18n_t *t = calloc(1, sizeof *t);
  if (!t || (unsigned)l >= KP_LANG__COUNT || !(t->msg = calloc(t->n = nkeys(), sizeof *t->msg))) {
    free(t);
    return (unsigned)l >= KP_LANG__COUNT ? KP_ERR_INVAL : KP_ERR_NOMEM;
  }
  each_line(langs[l].tsv, langs[l].len, load_line, t);
  if (l != KP_LANG_EN) each_line(langs[KP_LANG_EN].tsv, langs[KP_LANG_EN].len, load_line, t);
  for (size_t i = 0; i < t->n; i++) {
    if (t->msg[i]) continue;
    char k[64];
    key_text(i, k, sizeof k);
    if (!(t->msg[i] = strdup(k))) { kp_rep_i18n_free(t); return KP_ERR_NOMEM; }
  }
  *out = t;
  return KP_OK;
}

void kp_rep_i18n_free(kp_i18n_t *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n; i++) free(t->msg[i]);
  free(t->msg);
  free(t);
}

const char *kp_rep_msg(const kp_i18n_t *t, int m) { return (size_t)m < t->n ? t->msg[m] : ""; }

const char *kp_rep_country(const kp_i18n_t *t, const char *cc) {
  for (size_t i = 0; cc && kp_rep_country_at(i); i++)
    if (!strcmp(kp_rep_country_at(i), cc)) return t->msg[KP_M__COUNT + i];
  return cc ? cc : "";
}

/* placeholder set of a template: bit k = {k} present */
static unsigned holes(const uint8_t *s, size_t n) {
  unsigned m = 0;
  for (size_t i = 0; i + 2 < n; i++)
    if (s[i] == '{' && s[i + 1] >= '1' && s[i + 1] <= '9' && s[i + 2] == '}') m |= 1u << (s[i + 1] - '0');
  return m;
}

kp_status_t kp_rep_fill(const char *tmpl, const char *const *args, size_t nargs, kp_status_t (*put)(void *, const char *, size_t),
                        void *ctx) {
  kp_status_t st = KP_OK;
  const char *s = tmpl, *lit = tmpl;
  for (; *s && st == KP_OK; s++) {
    if (s[0] != '{' || s[1] < '1' || s[1] > '9' || s[2] != '}') continue;
    size_t k = (size_t)(s[1] - '1');
    if (s > lit) st = put(ctx, lit, (size_t)(s - lit));
    if (st == KP_OK && k < nargs && args[k]) st = put(ctx, args[k], strlen(args[k]));
    s += 2;
    lit = s + 1;
  }
  if (st == KP_OK && s > lit) st = put(ctx, lit, (size_t)(s - lit));
  return st;
}

/* ---- the check the report test runs on every data/i18n file ---- */

typedef struct check {
  size_t n;
  unsigned char *seen;
  unsigned *want; /* English placeholder sets, NULL while checking English itself */
  unsigned *got;
  char *err;
  size_t cap, nerr;
} check_t;

static void complain(check_t *c, const char *one) {
  if (c->nerr++ >= 4) return; /* the first few are enough to fix the file */
  size_t l = strlen(c->err);
  if (l + 2 < c->cap) snprintf(c->err + l, c->cap - l, "%s%s", l ? "; " : "", one);
}

static void check_line(void *ctx, size_t lineno, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn) {
  check_t *c = ctx;
  char key[80], m[200];
  if (kn == SIZE_MAX) {
    snprintf(m, sizeof m, "line %zu has no TAB", lineno);
    complain(c, m);
    return;
  }
  snprintf(key, sizeof key, "%.*s", (int)(kn < 79 ? kn : 79), (const char *)k);
  long i = key_index(k, kn);
  if (i < 0 || c->seen[i]++) {
    snprintf(m, sizeof m, "%s key '%s' (line %zu)", i < 0 ? "unknown" : "duplicate", key, lineno);
    complain(c, m);
    return;
  }
  c->got[i] = holes(v, vn);
  if (!vn || (c->want && c->got[i] != c->want[i])) {
    snprintf(m, sizeof m, "'%s' (line %zu): %s", key, lineno, vn ? "other placeholders than English" : "empty text");
    complain(c, m);
  }
}

static kp_status_t check_run(const void *p, size_t n, unsigned *want, unsigned *got, char *err, size_t cap) {
  check_t c = {.n = nkeys(), .want = want, .got = got, .err = err, .cap = cap};
  if (cap) err[0] = 0;
  if (!(c.seen = calloc(c.n, 1))) return KP_ERR_NOMEM;
  each_line(p, n, check_line, &c);
  for (size_t i = 0; i < c.n; i++)
    if (!c.seen[i]) {
      char k[64];
      key_text(i, k, sizeof k);
      char m[96];
      snprintf(m, sizeof m, "missing key '%s'", k);
      complain(&c, m);
    }
  free(c.seen);
  return c.nerr ? KP_ERR_INVAL : KP_OK;
}

kp_status_t kp_i18n_check(const void *tsv, size_t n, char *err, size_t cap) {
  size_t nk = nkeys();
  unsigned *want = calloc(nk, sizeof *want), *got = calloc(nk, sizeof *got);
  kp_status_t st = want && got ? KP_OK : KP_ERR_NOMEM;
  char scratch[8];
  if (st == KP_OK) st = check_run(langs[KP_LANG_EN].tsv, langs[KP_LANG_EN].len, NULL, want, scratch, sizeof scratch);
  if (st == KP_OK || st == KP_ERR_INVAL) st = check_run(tsv, n, want, got, err, cap);
  free(want);
  free(got);
  return st;
}

size_t kp_i18n_key_count(void) { return nkeys(); }
