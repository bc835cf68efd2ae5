/* test_base.c: cursor, buffer, JSON reader/writer, codecs, addresses, time, options. */
#include <dirent.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/codec.h"
#include "base/file.h"
#include "base/cursor.h"
#include "base/json.h"
#include "base/opts.h"
#include "base/rand.h"
#include "kp_test.h"

KP_TEST(cursor_bounds) {
  const uint8_t b[] = {0x12, 0x34, 0x56, 0x78, 0x9a};
  kp_cur_t c = kp_cur_make(b, sizeof b);
  uint32_t v32;
  uint16_t v16;
  KP_ASSERT(kp_cur_be32(&c, &v32));
  KP_ASSERT_EQ(v32, 0x12345678);
  KP_ASSERT(!kp_cur_be16(&c, &v16)); /* only one byte left */
  KP_ASSERT_EQ(c.off, 4);            /* failed fetch leaves the cursor alone */
  kp_cur_t sub;
  KP_ASSERT(!kp_cur_sub(&c, 2, &sub));
  KP_ASSERT(kp_cur_sub(&c, 1, &sub));
  KP_ASSERT_EQ(kp_cur_left(&sub), 1);
  KP_ASSERT_EQ(kp_cur_left(&c), 0);
}

/* Splits `in` (n bytes) with kp_cur_line and joins the lines as "[line]", so a test can
 * compare the whole split at once. */
static void split_lines(const char *in, size_t n, char *out, size_t cap) {
  kp_cur_t c = kp_cur_make(in, n);
  const uint8_t *l;
  size_t len, o = 0;
  out[0] = 0;
  while (kp_cur_line(&c, &l, &len)) {
    KP_ASSERT(l >= (const uint8_t *)in && l + len <= (const uint8_t *)in + n); /* borrowed, in bounds */
    KP_ASSERT(o + len + 3 <= cap);
    out[o++] = '[';
    memcpy(out + o, l, len);
    o += len;
    out[o++] = ']';
    out[o] = 0;
  }
  KP_ASSERT_EQ(kp_cur_left(&c), 0);
  KP_ASSERT(!kp_cur_line(&c, &l, &len)); /* and stays at the end */
}

KP_TEST(cursor_lines) {
  static const struct {
    const char *in, *want;
  } cases[] = {
      {"", ""},
      {"a", "[a]"},
      {"a\n", "[a]"},
      {"a\n\n", "[a][]"},
      {"\n", "[]"},
      {"a\r\nb\r\n", "[a][b]"},   /* CRLF reads as LF */
      {"a\r\r\n", "[a\r]"},       /* only one CR before the LF goes */
      {"a\rb\nc", "[a\rb][c]"},    /* a CR inside a line stays */
      {"\r", "[]"},                 /* a last line of a lone CR is empty */
      {"x\n\r\n y \n", "[x][][ y ]"}, /* blanks are the caller's */
  };
  char got[64];
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    split_lines(cases[i].in, strlen(cases[i].in), got, sizeof got);
    KP_ASSERT_MSG(strcmp(got, cases[i].want) == 0, "case %zu: got %s, want %s", i, got, cases[i].want);
  }
  /* a NUL is a byte like any other, and the cursor's length bounds the last line */
  split_lines("a\0b\nc\nzzz", 8, got, sizeof got);
  KP_ASSERT_EQ(memcmp(got, "[a\0b][c][zz]", 13), 0);
}

KP_TEST(buf_cap) {
  kp_buf_t b;
  kp_buf_init(&b, 10);
  KP_ASSERT_OK(kp_buf_puts(&b, "0123456789"));
  KP_ASSERT_EQ(kp_buf_putc(&b, 'x'), KP_ERR_NOMEM);
  KP_ASSERT_EQ(b.len, 10);
  kp_buf_consume(&b, 8);
  KP_ASSERT_STREQ(kp_buf_str(&b), "89");
  KP_ASSERT_OK(kp_buf_printf(&b, "%d", 42));
  KP_ASSERT_STREQ(kp_buf_str(&b), "8942");
  kp_buf_free(&b);
}

static kp_json_doc_t *parse(const char *s, kp_status_t want) {
  kp_json_doc_t *d = NULL;
  kp_status_t st = kp_json_parse(s, strlen(s), NULL, &d, NULL);
  KP_ASSERT_MSG(st == want, "parse(%s) = %s, want %s", s, kp_strstatus(st), kp_strstatus(want));
  return d;
}

KP_TEST(json_reads_values) {
  kp_json_doc_t *d = parse("{\"a\": [1, -2.5e1, true, null], \"s\": \"x\\u00e9\\ud83d\\ude00\\n\", \"n\": 9007199254740993}", KP_OK);
  const kp_json_t *r = kp_json_root(d);
  KP_ASSERT_EQ(kp_json_len(kp_json_get(r, "a")), 4);
  KP_ASSERT_NEAR(kp_json_num(kp_json_at(kp_json_get(r, "a"), 1)), -25.0, 1e-12);
  KP_ASSERT(kp_json_truthy(kp_json_at(kp_json_get(r, "a"), 2)));
  KP_ASSERT_STREQ(kp_json_get_str(r, "s"), "x\xc3\xa9\xf0\x9f\x98\x80\n");
  int64_t n;
  KP_ASSERT(kp_json_get_int(r, "n", &n));
  KP_ASSERT_EQ(n, 9007199254740993LL); /* exact, not through double */
  KP_ASSERT(kp_json_get(r, "missing") == NULL);
  KP_ASSERT(kp_json_get_str(kp_json_get(r, "missing"), "x") == NULL);
  kp_json_doc_free(d);
}

KP_TEST(json_rejects_bad_input) {
  parse("{\"a\":", KP_ERR_TRUNC);
  parse("[1,]", KP_ERR_INVAL);
  parse("01", KP_ERR_INVAL);
  parse("\"tab\there\"", KP_ERR_INVAL);
  parse("{} x", KP_ERR_INVAL);
  parse("tru", KP_ERR_TRUNC);
  char deep[400];
  memset(deep, '[', 200);
  memset(deep + 200, ']', 200);
  kp_json_doc_t *d = NULL;
  kp_json_limits_t lim = {.max_depth = 100};
  KP_ASSERT_EQ(kp_json_parse(deep, 400, &lim, &d, NULL), KP_ERR_RANGE);
}

KP_TEST(json_writer_roundtrip) {
  kp_buf_t b;
  kp_buf_init(&b, 0);
  kp_jw_t w;
  kp_jw_init(&w, &b);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "q", "a\"b\\c\x01");
  kp_jw_key(&w, "arr");
  kp_jw_arr_begin(&w);
  kp_jw_int(&w, -3);
  kp_jw_double(&w, 0.1);
  kp_jw_null(&w);
  kp_jw_arr_end(&w);
  kp_jw_key(&w, "bin");
  kp_jw_maybe_binary(&w, (const uint8_t *)"\xff\x00", 2);
  kp_jw_kstr(&w, "bad", "ok\xffz");
  kp_jw_obj_end(&w);
  KP_ASSERT_OK(w.st);
  KP_ASSERT_STREQ(kp_buf_str(&b), "{\"q\":\"a\\\"b\\\\c\\u0001\",\"arr\":[-3,0.1,null],"
                                  "\"bin\":{\"format\":\"base64\",\"data\":\"/wA=\"},\"bad\":\"ok\xef\xbf\xbdz\"}");
  kp_json_doc_t *d = parse(kp_buf_str(&b), KP_OK);
  KP_ASSERT_STREQ(kp_json_get_str(kp_json_get(kp_json_root(d), "bin"), "data"), "/wA=");
  kp_json_doc_free(d);
  kp_buf_free(&b);
}

/* The escaper copies runs of plain bytes in one append. Its reference: one
 * byte at a time, written out here independently of jsonw.c. */
static void ref_escape(kp_buf_t *o, const uint8_t *p, size_t n) {
  kp_buf_putc(o, '"');
  for (size_t i = 0; i < n;) {
    uint8_t c = p[i];
    size_t l = 1;
    if (c == '"') kp_buf_puts(o, "\\\"");
    else if (c == '\\') kp_buf_puts(o, "\\\\");
    else if (c == '\n') kp_buf_puts(o, "\\n");
    else if (c == '\r') kp_buf_puts(o, "\\r");
    else if (c == '\t') kp_buf_puts(o, "\\t");
    else if (c < 0x20 || c == 0x7f) kp_buf_printf(o, "\\u%04x", c);
    else if (c < 0x80) kp_buf_putc(o, (char)c);
    else {
      /* well-formed UTF-8 (RFC 3629 table 3-7), else U+FFFD for this byte */
      size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
      bool ok = len && len <= n - i;
      for (size_t k = 1; ok && k < len; k++) ok = (p[i + k] & 0xC0) == 0x80;
      if (ok && len >= 3) {
        uint8_t lo = 0x80, hi = 0xBF, c1 = p[i + 1];
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
        ok = c1 >= lo && c1 <= hi;
      }
      if (ok) { kp_buf_append(o, p + i, len); l = len; }
      else kp_buf_puts(o, "\xEF\xBF\xBD");
    }
    i += l;
  }
  kp_buf_putc(o, '"');
}

static void check_escape(const uint8_t *p, size_t n) {
  kp_buf_t a, b;
  kp_buf_init(&a, 0);
  kp_buf_init(&b, 0);
  kp_jw_t w;
  kp_jw_init(&w, &a);
  kp_jw_strn(&w, (const char *)p, n);
  KP_ASSERT_OK(w.st);
  ref_escape(&b, p, n);
  KP_ASSERT_EQ(a.len, b.len);
  KP_ASSERT(memcmp(a.data, b.data, a.len) == 0);
  /* Cap one byte short of the output: NOMEM, nothing written past the cap. */
  kp_buf_t c;
  kp_buf_init(&c, b.len - 1);
  kp_jw_init(&w, &c);
  kp_jw_strn(&w, (const char *)p, n);
  KP_ASSERT_EQ(w.st, KP_ERR_NOMEM);
  KP_ASSERT(c.len < b.len);
  KP_ASSERT(c.len == 0 || memcmp(c.data, b.data, c.len) == 0);
  kp_buf_free(&a);
  kp_buf_free(&b);
  kp_buf_free(&c);
}

KP_TEST(json_escape_runs) {
  /* A 700-byte plain run with each special put at every position. */
  static const char *specials[] = {"\"", "\\", "\n", "\r", "\t", "\x01", "\x1f", "\x7f", "\x00",
                                   "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\xc3",
                                   "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf",
                                   "\xe0\x80\xaf", "\xf0\x80\x80\x80", "\x80"};
  static const size_t slen[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 4, 1, 1, 2, 3, 4, 2, 3, 4, 1};
  uint8_t s[720];
  for (size_t k = 0; k < sizeof specials / sizeof *specials; k++) {
    for (size_t pos = 0; pos <= 64; pos++) {
      for (size_t i = 0; i < sizeof s; i++) s[i] = (uint8_t)('a' + i % 26);
      memcpy(s + pos, specials[k], slen[k]);
      check_escape(s, 64 + slen[k]);           /* special at start .. end */
      check_escape(s, pos + slen[k]);          /* special last, possibly cut */
      if (slen[k] > 1) check_escape(s, pos + 1); /* truncated sequence at the end */
    }
    for (size_t i = 0; i < sizeof s; i++) s[i] = (uint8_t)('a' + i % 26);
    memcpy(s + 350, specials[k], slen[k]);
    check_escape(s, 700);
  }
  /* Every byte value alone and doubled, and pseudo-random mixes. */
  for (int c = 0; c < 256; c++) {
    uint8_t two[2] = {(uint8_t)c, (uint8_t)c};
    check_escape(two, 1);
    check_escape(two, 2);
  }
  uint32_t x = 12345;
  for (int r = 0; r < 2000; r++) {
    size_t n = 1 + (size_t)(r % 97);
    for (size_t i = 0; i < n; i++) {
      x = x * 1103515245u + 12345u;
      uint8_t v = (uint8_t)(x >> 16);
      s[i] = (x >> 8) % 4 ? (uint8_t)('A' + v % 26) : v; /* mostly plain, some anything */
    }
    check_escape(s, n);
  }
  check_escape((const uint8_t *)"", 0);
}

/* issue 13: "probe_cc\u0000x" must not answer for "probe_cc", and a value
 * with \u0000 must not reach an indexed field truncated. */
KP_TEST(json_nul_in_keys_rejected_and_values_length_safe) {
  parse("{\"probe_cc\\u0000x\": \"IR\"}", KP_ERR_INVAL);
  parse("{\"a\": {\"\\u0000\": 1}}", KP_ERR_INVAL);
  kp_json_doc_t *d = parse("{\"probe_cc\": \"IR\\u0000DE\", \"b\": \"x\\u0000\"}", KP_OK);
  const kp_json_t *r = kp_json_root(d);
  KP_ASSERT(kp_json_get_str(r, "probe_cc") == NULL); /* not "IR" */
  KP_ASSERT(kp_json_cstr(kp_json_get(r, "b")) == NULL);
  KP_ASSERT_EQ(kp_json_strlen(kp_json_get(r, "probe_cc")), 5); /* the bytes stay available */
  KP_ASSERT(memcmp(kp_json_str(kp_json_get(r, "probe_cc")), "IR\0DE", 5) == 0);
  kp_json_doc_free(d);
  d = parse("{\"probe_cc\": \"IR\"}", KP_OK);
  KP_ASSERT_STREQ(kp_json_get_str(kp_json_root(d), "probe_cc"), "IR");
  kp_json_doc_free(d);
}

KP_TEST(json_duplicate_keys_rejected) {
  parse("{\"a\": 1, \"a\": 2}", KP_ERR_INVAL);
  parse("{\"a\": 1, \"b\": 2, \"c\": {\"x\": 1, \"y\": 2, \"x\": 3}}", KP_ERR_INVAL);
  parse("{\"a\\u0062\": 1, \"ab\": 2}", KP_ERR_INVAL); /* equal after unescaping */
  /* keys that are not UTF-8 (found by fuzz_json: both written back as U+FFFD, a duplicate) */
  parse("{\"\xfb\":[2],\"\xe7\":\"n\"}", KP_ERR_INVAL);
  parse("{\"\xed\xa0\x80\":1}", KP_ERR_INVAL);                  /* a UTF-8-encoded surrogate */
  kp_json_doc_free(parse("{\"caf\xc3\xa9\":\"\xfb\"}", KP_OK)); /* UTF-8 key; a value may hold any byte */
  kp_json_doc_free(parse("{\"a\": 1, \"b\": {\"a\": 2}, \"c\": [{\"a\": 3}, {\"a\": 4}]}", KP_OK));
  /* many distinct keys: accepted, and the duplicate check is not quadratic */
  kp_buf_t b;
  kp_buf_init(&b, 0);
  kp_buf_putc(&b, '{');
  for (int i = 0; i < 50000; i++) kp_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
  kp_buf_putc(&b, '}');
  kp_json_doc_t *d = parse(kp_buf_str(&b), KP_OK);
  int64_t v;
  KP_ASSERT(kp_json_get_int(kp_json_root(d), "k49999", &v) && v == 49999);
  kp_json_doc_free(d);
  b.data[--b.len] = 0; /* drop the closing brace and repeat the first key last */
  kp_buf_puts(&b, ",\"k0\":1}");
  parse(kp_buf_str(&b), KP_ERR_INVAL);
  kp_buf_free(&b);
}

/* Anything the reader accepts the writer re-emits, inside an envelope. */
KP_TEST(json_writer_depth_covers_reader_depth) {
  enum { D = KP_JSON_MAX_DEPTH + 1 }; /* containers at depths 0..KP_JSON_MAX_DEPTH */
  char deep[2 * (D + 1)];
  memset(deep, '[', D);
  memset(deep + D, ']', D);
  kp_json_doc_t *d = NULL;
  KP_ASSERT_OK(kp_json_parse(deep, 2 * D, NULL, &d, NULL));
  kp_buf_t b;
  kp_buf_init(&b, 0);
  kp_jw_t w;
  kp_jw_init(&w, &b);
  kp_jw_obj_begin(&w);
  kp_jw_key(&w, "envelope");
  kp_jw_obj_begin(&w);
  kp_jw_key(&w, "content");
  kp_jw_node(&w, kp_json_root(d));
  kp_jw_obj_end(&w);
  kp_jw_obj_end(&w);
  KP_ASSERT_OK(w.st);
  KP_ASSERT_EQ(b.len, 2 * D + 2 * 2 + strlen("\"envelope\":\"content\":"));
  kp_json_doc_free(d);
  kp_buf_free(&b);
  /* one deeper is the reader's refusal (a 400), whatever max_depth asks */
  char deeper[2 * (D + 1)];
  memset(deeper, '[', D + 1);
  memset(deeper + D + 1, ']', D + 1);
  kp_json_limits_t lim = {.max_depth = 100000};
  KP_ASSERT_EQ(kp_json_parse(deeper, 2 * (D + 1), &lim, &d, NULL), KP_ERR_RANGE);
  KP_ASSERT_EQ(kp_json_parse(deeper, 2 * (D + 1), NULL, &d, NULL), KP_ERR_RANGE);
}

KP_TEST(codec_vectors) {
  kp_buf_t b;
  kp_buf_init(&b, 0);
  KP_ASSERT_OK(kp_base64_encode((const uint8_t *)"foobar", 6, &b));
  KP_ASSERT_STREQ(kp_buf_str(&b), "Zm9vYmFy");
  kp_buf_reset(&b);
  KP_ASSERT_OK(kp_base64_decode("Zm9vYg==", 8, &b));
  KP_ASSERT_STREQ(kp_buf_str(&b), "foob");
  KP_ASSERT_EQ(kp_base64_decode("Zm9v!", 5, &b), KP_ERR_INVAL);
  char hx[65];
  kp_sha256_hex("abc", 3, hx);
  KP_ASSERT_STREQ(hx, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  kp_buf_free(&b);
}

KP_TEST(addr_prefix) {
  kp_prefix_t p;
  KP_ASSERT_OK(kp_prefix_parse("198.18.7.9/16", &p));
  char s[64];
  KP_ASSERT_STREQ(kp_prefix_fmt(&p, s), "198.18.0.0/16");
  kp_addr_t a;
  KP_ASSERT_OK(kp_addr_parse("198.18.200.1", &a));
  KP_ASSERT(kp_prefix_contains(&p, &a));
  KP_ASSERT_OK(kp_addr_parse("198.20.0.1", &a));
  KP_ASSERT(!kp_prefix_contains(&p, &a));
  KP_ASSERT_EQ(kp_prefix_parse("1.2.3.4/33", &p), KP_ERR_INVAL);
  KP_ASSERT_OK(kp_addr_parse("10.1.2.3", &a));
  KP_ASSERT(kp_addr_is_bogon(&a));
  KP_ASSERT_OK(kp_addr_parse("2001:db8::1", &a));
  KP_ASSERT(kp_addr_is_bogon(&a));
  KP_ASSERT_OK(kp_addr_parse("149.154.175.50", &a));
  KP_ASSERT(!kp_addr_is_bogon(&a));
  char host[64];
  uint16_t port;
  KP_ASSERT_OK(kp_hostport_parse("[2001:db8::1]:443", host, sizeof host, &port));
  KP_ASSERT_STREQ(host, "2001:db8::1");
  KP_ASSERT_EQ(port, 443);
  KP_ASSERT_EQ(kp_hostport_parse("2001:db8::1:443", host, sizeof host, &port), KP_ERR_INVAL);
}

KP_TEST(time_formats) {
  time_t t;
  KP_ASSERT_EQ(kp_time_parse("2022-01-05 10:30:00", &t), 0);
  KP_ASSERT_EQ(t, 1641378600);
  char s[21];
  kp_time_iso(t, s);
  KP_ASSERT_STREQ(s, "2022-01-05T10:30:00Z");
  KP_ASSERT_EQ(kp_time_parse("2022-01-05", &t), 0);
  KP_ASSERT_EQ(t, 1641340800);
  KP_ASSERT(kp_time_parse("2022-13-05", &t) != 0);
}

/* kp_time_parse reads the canonical shapes without sscanf; every other input
 * must get the answer the sscanf-only parser gave (reference below). */
static int ref_time_parse(const char *s, time_t *out) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  int y, mo, d, h = 0, mi = 0, se = 0, n = 0;
  char sep = 0;
  if (strlen(s) == 10) {
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) return -1;
  } else {
    if (sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &se, &n) != 7) return -1;
    if (sep != ' ' && sep != 'T') return -1;
    if (!(s[n] == 0 || (s[n] == 'Z' && s[n + 1] == 0))) return -1;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return -1;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  *out = timegm(&tm);
  return 0;
}

KP_TEST(time_parse_same_as_sscanf) {
  static const char *cases[] = {
      "2022-01-05 10:30:00", "2022-01-05T10:30:00", "2022-01-05T10:30:00Z", "2022-01-05 10:30:00Z",
      "2022-01-05", "1999-12-31 23:59:60", "2022-00-05", "2022-01-00", "2022-01-32", "2022-12-31 24:00:00",
      "2022-12-31 23:60:00", "2022-12-31 23:59:61", "2022-01-05X10:30:00", "2022-01-05 10:30:00ZZ",
      "2022-01-05 10:30:00z", "2022-1-5 1:2:3", " 2022-01-05", "+022-01-05", "-022-01-05 10:30:00",
      "2022-01-0a", "2022/01/05", "2022-01-05 10:30", "2022-01-05 10:30:0", "2022-01-05 10:30:000",
      "0000-01-01 00:00:00", "9999-12-31 23:59:59", "2022-01-05 1a:30:00", "2022-01- 5 10:30:00",
      "2022-01-05  0:30:00", "", "2022", "2022-01-05 10:30:00.123Z"};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    time_t a = 7, b = 7;
    int ra = kp_time_parse(cases[i], &a), rb = ref_time_parse(cases[i], &b);
    KP_ASSERT_EQ(ra, rb);
    if (ra == 0) KP_ASSERT_EQ((long long)a, (long long)b);
  }
  /* Every byte at every position of the canonical forms. */
  static const char *bases[] = {"2022-01-05 10:30:00", "2022-01-05T10:30:00Z", "2022-01-05"};
  for (size_t k = 0; k < 3; k++) {
    char s[24];
    size_t n = strlen(bases[k]);
    for (size_t pos = 0; pos < n; pos++) {
      for (int c = 1; c < 256; c++) {
        memcpy(s, bases[k], n + 1);
        s[pos] = (char)c;
        time_t a = 7, b = 7;
        int ra = kp_time_parse(s, &a), rb = ref_time_parse(s, &b);
        KP_ASSERT_EQ(ra, rb);
        if (ra == 0) KP_ASSERT_EQ((long long)a, (long long)b);
      }
    }
  }
}

KP_TEST(opts_table) {
  bool flag = false;
  const char *s = "def";
  long n = 5;
  kp_opt_t opts[] = {
    {.name = "flag", .kind = KP_OPT_FLAG, .help = "a flag", .dst = &flag},
    {.name = "str", .short_name = 's', .kind = KP_OPT_STR, .metavar = "S", .help = "a string", .dst = &s},
    {.name = "num", .kind = KP_OPT_INT, .metavar = "N", .help = "1..10", .dst = &n, .min = 1, .max = 10},
    {0},
  };
  kp_cmd_help_t h = {"t [options]", NULL};
  char *argv[] = {"t", "--flag", "pos1", "-s", "x", "--num=7", "pos2", NULL};
  char *pos[8];
  int npos;
  KP_ASSERT_EQ(kp_opts_parse(&h, opts, 7, argv, pos, &npos), 0);
  KP_ASSERT(flag);
  KP_ASSERT_STREQ(s, "x");
  KP_ASSERT_EQ(n, 7);
  KP_ASSERT_EQ(npos, 2);
  KP_ASSERT_STREQ(pos[1], "pos2");
  char *bad[] = {"t", "--num", "11", NULL};
  KP_ASSERT_EQ(kp_opts_parse(&h, opts, 3, bad, pos, &npos), 2);
  char *unk[] = {"t", "--nope", NULL};
  KP_ASSERT_EQ(kp_opts_parse(&h, opts, 2, unk, pos, &npos), 2);
}

KP_TEST(perm_visits_each_index_once) {
  uint64_t rng = 42;
  static const uint64_t sizes[] = {1, 2, 3, 256, 1000, 4096, 12587};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    uint64_t n = sizes[k];
    unsigned char *seen = calloc(n, 1);
    KP_ASSERT(seen);
    kp_perm_t p = kp_perm_make(&rng, n);
    size_t moved = 0;
    for (uint64_t i = 0; i < n; i++) {
      uint64_t j = kp_perm_at(&p, i);
      KP_ASSERT(j < n);
      KP_ASSERT_EQ(seen[j], 0);
      seen[j] = 1;
      moved += j != i;
    }
    if (n >= 256) KP_ASSERT(moved > n / 2); /* actually shuffled, not the identity */
    free(seen);
  }
  double u = kp_rand_unit(&rng);
  KP_ASSERT(u >= 0 && u < 1);
}

/* issue 13: a symlink planted at the old predictable tmp name ("<path>.tmp.<pid>")
 * was followed with O_TRUNC, overwriting its target. Now the name is random,
 * opened O_EXCL|O_NOFOLLOW, and nothing but <path> is written. */
KP_TEST(file_write_atomic_ignores_planted_tmp_symlink) {
  char dir[600], path[700], victim[700], planted[800];
  snprintf(dir, sizeof dir, "%s/atomic", kp_test_tmpdir());
  KP_ASSERT_OK(kp_mkdirs(dir, 0700));
  snprintf(path, sizeof path, "%s/state.json", dir);
  snprintf(victim, sizeof victim, "%s/victim", dir);
  snprintf(planted, sizeof planted, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(victim, "w");
  KP_ASSERT(f);
  fputs("precious", f);
  fclose(f);
  KP_ASSERT_EQ(symlink(victim, planted), 0);
  KP_ASSERT_OK(kp_file_write_atomic(path, "new", 3, 0600));
  kp_buf_t b;
  kp_buf_init(&b, 1 << 16);
  KP_ASSERT_OK(kp_file_read(victim, &b));
  KP_ASSERT_STREQ(kp_buf_str(&b), "precious");
  kp_buf_reset(&b);
  KP_ASSERT_OK(kp_file_read(path, &b));
  KP_ASSERT_STREQ(kp_buf_str(&b), "new");
  kp_buf_free(&b);
  /* only state.json, the victim and the planted link: no tmp file left behind */
  DIR *d = opendir(dir);
  KP_ASSERT(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  KP_ASSERT_EQ(n, 3);
}

/* issue 13: spreadsheet formula guard on every CSV cell */
KP_TEST(csv_cell_quotes_and_guards_formulas) {
  static const struct { const char *in, *want; } v[] = {
      {"plain", "plain"},
      {"a,b", "\"a,b\""},
      {"say \"hi\"", "\"say \"\"hi\"\"\""},
      {"=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""},
      {"+1", "\"'+1\""},
      {"-2+3", "\"'-2+3\""},
      {"@SUM(A1)", "\"'@SUM(A1)\""},
      {"\t=1", "\"'\t=1\""},
      {"\r=1", "\"'\r=1\""},
      {"  =1+1", "\"'  =1+1\""},
      {"a=b", "a=b"},
      {"", ""},
  };
  kp_buf_t b;
  kp_buf_init(&b, 1 << 16);
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    kp_buf_reset(&b);
    KP_ASSERT_OK(kp_csv_cell(&b, v[i].in));
    KP_ASSERT_STREQ(kp_buf_str(&b), v[i].want);
  }
  kp_buf_free(&b);
  kp_buf_init(&b, 4); /* the cap is reported, not silently cut */
  KP_ASSERT_EQ(kp_csv_cell(&b, "0123456789"), KP_ERR_NOMEM);
  kp_buf_free(&b);
}

/* issue 13: the state folder has no shared fallback and must be private */
KP_TEST(state_dir_env_has_no_tmp_fallback) {
  char d[256];
  KP_ASSERT_EQ(kp_state_dir_from_env(NULL, NULL, NULL, d, sizeof d), KP_ERR_NOTFOUND);
  KP_ASSERT_EQ(kp_state_dir_from_env("", "", "", d, sizeof d), KP_ERR_NOTFOUND);
  KP_ASSERT_EQ(kp_state_dir_from_env(NULL, "rel", "also-rel", d, sizeof d), KP_ERR_NOTFOUND);
  KP_ASSERT_OK(kp_state_dir_from_env(NULL, NULL, "/home/u", d, sizeof d));
  KP_ASSERT_STREQ(d, "/home/u/.local/share/keepon");
  KP_ASSERT_OK(kp_state_dir_from_env(NULL, "/x", "/home/u", d, sizeof d));
  KP_ASSERT_STREQ(d, "/x/keepon");
  KP_ASSERT_OK(kp_state_dir_from_env("/k", "/x", "/home/u", d, sizeof d));
  KP_ASSERT_STREQ(d, "/k");
  KP_ASSERT_EQ(kp_state_dir_from_env(NULL, NULL, "/home/u", d, 8), KP_ERR_RANGE);
}

KP_TEST(dir_private_creates_repairs_and_refuses) {
  char dir[600], sub[700], link[700], file[700];
  snprintf(dir, sizeof dir, "%s/priv", kp_test_tmpdir());
  snprintf(sub, sizeof sub, "%s/a/b", dir);
  bool rep = true;
  KP_ASSERT_OK(kp_dir_private(sub, &rep)); /* created 0700 */
  KP_ASSERT(!rep);
  struct stat st;
  KP_ASSERT_EQ(stat(sub, &st), 0);
  KP_ASSERT_EQ(st.st_mode & 0777, 0700);
  KP_ASSERT_EQ(chmod(sub, 0755), 0); /* readable by others: repaired */
  KP_ASSERT_OK(kp_dir_private(sub, &rep));
  KP_ASSERT(rep);
  KP_ASSERT_EQ(stat(sub, &st), 0);
  KP_ASSERT_EQ(st.st_mode & 0777, 0700);
  KP_ASSERT_OK(kp_dir_private(sub, &rep)); /* already private: untouched */
  KP_ASSERT(!rep);
  snprintf(link, sizeof link, "%s/link", dir); /* a symlink is refused, even to a private folder */
  KP_ASSERT_EQ(symlink(sub, link), 0);
  KP_ASSERT_EQ(kp_dir_private(link, &rep), KP_ERR_PERM);
  snprintf(file, sizeof file, "%s/file", dir);
  FILE *f = fopen(file, "w");
  KP_ASSERT(f);
  fclose(f);
  KP_ASSERT_EQ(kp_dir_private(file, &rep), KP_ERR_PERM);
  /* a folder of another owner: only testable as root (chown) */
  if (geteuid() == 0) {
    char other[700];
    snprintf(other, sizeof other, "%s/other", dir);
    KP_ASSERT_EQ(mkdir(other, 0700), 0);
    KP_ASSERT_EQ(chown(other, 65534, 65534), 0);
    KP_ASSERT_EQ(kp_dir_private(other, &rep), KP_ERR_PERM);
  }
}

/* Local scope is never a measurement target, whatever an allow list says (issue 13.2): every
 * range of the list, its edges and the first address outside, in v4 and v4-mapped v6. */
KP_TEST(addr_local_scope_edges) {
  static const char *const in[] = {"0.0.0.0", "0.255.255.255", "127.0.0.1", "127.255.255.255",
                                   "169.254.0.0", "169.254.169.254", "169.254.255.255", "224.0.0.1",
                                   "239.255.255.255", "255.255.255.255", "::", "::1", "fe80::1",
                                   "ff02::1", "::ffff:169.254.169.254", "::ffff:127.0.0.1"};
  static const char *const out[] = {"1.0.0.0", "126.255.255.255", "128.0.0.0", "169.253.255.255",
                                    "169.255.0.0", "223.255.255.255", "240.0.0.0", "198.18.0.1",
                                    "10.0.0.1", "2001:db8::1", "fec0::1", "::ffff:149.154.175.50"};
  kp_addr_t a;
  for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
    KP_ASSERT_OK(kp_addr_parse(in[i], &a));
    KP_ASSERT_MSG(kp_addr_is_local_scope(&a), "%s should be local scope", in[i]);
  }
  for (size_t i = 0; i < sizeof out / sizeof *out; i++) {
    KP_ASSERT_OK(kp_addr_parse(out[i], &a));
    KP_ASSERT_MSG(!kp_addr_is_local_scope(&a), "%s should not be local scope", out[i]);
  }
}
