/*
 * json.c: strict JSON reader into an arena-owned DOM.
 *
 * Design: recursive descent over a kp_cur_t with an explicit depth cap, so
 * stack use is bounded by max_depth frames. Children of an array/object are
 * gathered in a heap vector (freed on every path) and then copied into the
 * arena as one block, so lookups are O(n) over a flat array and the document
 * frees in one call. Strings are unescaped into the arena; \u0000 is kept and
 * the length is recorded.
 *
 * Strictness (issue 13): an object key holding \u0000 or bytes that are not UTF-8, and an
 * object with the same key twice, are syntax errors (KP_ERR_INVAL). Lookups are by C string, so
 * "probe_cc\u0000x" would otherwise answer for "probe_cc", and a duplicate
 * would let two readers of one document (this one takes the first, most take
 * the last) see different values. Duplicates are found by sorting the key
 * pointers of each object (O(n log n), no quadratic input). A string *value*
 * may hold \u0000 (OONI bodies can); kp_json_str gives its bytes with
 * kp_json_strlen, while the C-string accessors (kp_json_cstr, kp_json_get_str)
 * return NULL for it, so an indexed field is never silently truncated.
 * Depth is capped at KP_JSON_MAX_DEPTH whatever the caller asks, which the
 * writer's KP_JW_MAX_DEPTH exceeds: anything read can be written back.
 */
#include "base/json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/cursor.h"

struct kp_json {
  kp_json_type_t type;
  size_t n; /* string length or child count */
  union {
    double num;
    const char *str;
    const kp_json_t **items;
  } u;
  const char *text;  /* numbers: original text */
  const char **keys; /* objects */
};

struct kp_json_doc {
  kp_arena_t *arena;
  const kp_json_t *root;
};

typedef struct parser {
  kp_cur_t c;
  kp_arena_t *arena;
  size_t max_depth;
  kp_status_t st;
} parser_t;

static void skip_ws(parser_t *ps) {
  while (kp_cur_left(&ps->c)) {
    uint8_t ch = *kp_cur_ptr(&ps->c);
    if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') break;
    ps->c.off++;
  }
}

static kp_json_t *fail(parser_t *ps, kp_status_t st) {
  if (ps->st == KP_OK) ps->st = st;
  return NULL;
}

static kp_json_t *new_node(parser_t *ps, kp_json_type_t t) {
  kp_json_t *v = kp_arena_alloc(ps->arena, sizeof *v);
  if (!v) return fail(ps, KP_ERR_NOMEM);
  memset(v, 0, sizeof *v);
  v->type = t;
  return v;
}

static bool match_lit(parser_t *ps, const char *lit) {
  size_t n = strlen(lit);
  if (kp_cur_left(&ps->c) < n) {
    /* a prefix of the literal at the end of input is truncation */
    if (memcmp(kp_cur_ptr(&ps->c), lit, kp_cur_left(&ps->c)) == 0) fail(ps, KP_ERR_TRUNC);
    return false;
  }
  if (memcmp(kp_cur_ptr(&ps->c), lit, n) != 0) return false;
  ps->c.off += n;
  return true;
}

static int hexval(uint8_t ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static bool read_hex4(parser_t *ps, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    uint8_t ch;
    if (!kp_cur_u8(&ps->c, &ch)) return fail(ps, KP_ERR_TRUNC), false;
    int h = hexval(ch);
    if (h < 0) return fail(ps, KP_ERR_INVAL), false;
    v = (v << 4) | (unsigned)h;
  }
  *out = v;
  return true;
}

static size_t put_utf8(char *d, unsigned cp) {
  if (cp < 0x80) { d[0] = (char)cp; return 1; }
  if (cp < 0x800) { d[0] = (char)(0xC0 | (cp >> 6)); d[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
  if (cp < 0x10000) {
    d[0] = (char)(0xE0 | (cp >> 12)); d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[2] = (char)(0x80 | (cp & 0x3F)); return 3;
  }
  d[0] = (char)(0xF0 | (cp >> 18)); d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  d[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); d[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Reads a string body after the opening quote. Output is never longer than input. */
static const char *parse_string_raw(parser_t *ps, size_t *len) {
  size_t start = ps->c.off, end = start;
  bool esc = false;
  /* find the closing quote to size the output */
  for (;;) {
    if (end >= ps->c.len) return fail(ps, KP_ERR_TRUNC), NULL;
    uint8_t ch = ps->c.p[end];
    if (ch == '"') break;
    if (ch < 0x20) return fail(ps, KP_ERR_INVAL), NULL;
    if (ch == '\\') { esc = true; end++; if (end >= ps->c.len) return fail(ps, KP_ERR_TRUNC), NULL; }
    end++;
  }
  size_t cap = end - start;
  char *out = kp_arena_alloc(ps->arena, cap + 1);
  if (!out) return fail(ps, KP_ERR_NOMEM), NULL;
  if (!esc) {
    memcpy(out, ps->c.p + start, cap);
    out[cap] = 0;
    ps->c.off = end + 1;
    *len = cap;
    return out;
  }
  size_t o = 0;
  while (ps->c.off < end) {
    uint8_t ch = ps->c.p[ps->c.off++];
    if (ch != '\\') { out[o++] = (char)ch; continue; }
    uint8_t e = ps->c.p[ps->c.off++];
    switch (e) {
    case '"': out[o++] = '"'; break;
    case '\\': out[o++] = '\\'; break;
    case '/': out[o++] = '/'; break;
    case 'b': out[o++] = '\b'; break;
    case 'f': out[o++] = '\f'; break;
    case 'n': out[o++] = '\n'; break;
    case 'r': out[o++] = '\r'; break;
    case 't': out[o++] = '\t'; break;
    case 'u': {
      unsigned cp;
      if (!read_hex4(ps, &cp)) return NULL;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned lo;
        size_t tag = ps->c.off;
        if (ps->c.off + 6 <= end && ps->c.p[ps->c.off] == '\\' && ps->c.p[ps->c.off + 1] == 'u') {
          ps->c.off += 2;
          if (!read_hex4(ps, &lo)) return NULL;
          if (lo >= 0xDC00 && lo <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          else { ps->c.off = tag; cp = 0xFFFD; }
        } else {
          cp = 0xFFFD;
        }
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        cp = 0xFFFD;
      }
      /* \uXXXX is 6 input bytes, at most 4 output bytes: fits in cap */
      o += put_utf8(out + o, cp);
      break;
    }
    default: return fail(ps, KP_ERR_INVAL), NULL;
    }
    if (ps->c.off > end) return fail(ps, KP_ERR_INVAL), NULL;
  }
  out[o] = 0;
  ps->c.off = end + 1;
  *len = o;
  return out;
}

static kp_json_t *parse_number(parser_t *ps) {
  size_t s = ps->c.off, i = s, n = ps->c.len;
  const uint8_t *p = ps->c.p;
  if (i < n && p[i] == '-') i++;
  if (i >= n) return fail(ps, KP_ERR_TRUNC);
  if (p[i] == '0') i++;
  else if (p[i] >= '1' && p[i] <= '9') while (i < n && p[i] >= '0' && p[i] <= '9') i++;
  else return fail(ps, KP_ERR_INVAL);
  if (i < n && p[i] == '.') {
    i++;
    if (i >= n) return fail(ps, KP_ERR_TRUNC);
    if (!(p[i] >= '0' && p[i] <= '9')) return fail(ps, KP_ERR_INVAL);
    while (i < n && p[i] >= '0' && p[i] <= '9') i++;
  }
  if (i < n && (p[i] == 'e' || p[i] == 'E')) {
    i++;
    if (i < n && (p[i] == '+' || p[i] == '-')) i++;
    if (i >= n) return fail(ps, KP_ERR_TRUNC);
    if (!(p[i] >= '0' && p[i] <= '9')) return fail(ps, KP_ERR_INVAL);
    while (i < n && p[i] >= '0' && p[i] <= '9') i++;
  }
  kp_json_t *v = new_node(ps, KP_JSON_NUMBER);
  if (!v) return NULL;
  char *t = kp_arena_strndup(ps->arena, (const char *)p + s, i - s);
  if (!t) return fail(ps, KP_ERR_NOMEM);
  v->text = t;
  v->u.num = strtod(t, NULL);
  ps->c.off = i;
  return v;
}

static kp_json_t *parse_value(parser_t *ps, size_t depth);

typedef struct vec {
  const kp_json_t **items;
  const char **keys;
  size_t n, cap;
} vec_t;

static bool vec_push(vec_t *v, const char *key, const kp_json_t *item) {
  if (v->n == v->cap) {
    size_t nc = v->cap ? v->cap * 2 : 8;
    const kp_json_t **ni = realloc(v->items, nc * sizeof *ni);
    if (!ni) return false;
    v->items = ni;
    const char **nk = realloc(v->keys, nc * sizeof *nk);
    if (!nk) return false;
    v->keys = nk;
    v->cap = nc;
  }
  v->items[v->n] = item;
  v->keys[v->n] = key;
  v->n++;
  return true;
}

static int key_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* true when two keys of @p v are equal (keys hold no NUL: see parse_container) */
static bool has_duplicate_key(parser_t *ps, const vec_t *v) {
  if (v->n < 2) return false;
  const char **k = malloc(v->n * sizeof *k);
  if (!k) return fail(ps, KP_ERR_NOMEM), true;
  memcpy(k, v->keys, v->n * sizeof *k);
  qsort(k, v->n, sizeof *k, key_cmp);
  bool dup = false;
  for (size_t i = 1; i < v->n && !dup; i++) dup = strcmp(k[i - 1], k[i]) == 0;
  free(k);
  if (dup) fail(ps, KP_ERR_INVAL);
  return dup;
}

static kp_json_t *finish_container(parser_t *ps, kp_json_type_t t, vec_t *v) {
  if (t == KP_JSON_OBJECT && has_duplicate_key(ps, v)) return NULL;
  kp_json_t *node = new_node(ps, t);
  if (!node) return NULL;
  node->n = v->n;
  if (v->n) {
    const kp_json_t **items = kp_arena_alloc(ps->arena, v->n * sizeof *items);
    if (!items) return fail(ps, KP_ERR_NOMEM);
    memcpy(items, v->items, v->n * sizeof *items);
    node->u.items = items;
    if (t == KP_JSON_OBJECT) {
      const char **keys = kp_arena_alloc(ps->arena, v->n * sizeof *keys);
      if (!keys) return fail(ps, KP_ERR_NOMEM);
      memcpy(keys, v->keys, v->n * sizeof *keys);
      node->keys = keys;
    }
  }
  return node;
}

static kp_json_t *parse_container(parser_t *ps, size_t depth, bool is_obj) {
  vec_t v = {0};
  kp_json_t *res = NULL;
  uint8_t close = is_obj ? '}' : ']';
  skip_ws(ps);
  uint8_t ch;
  if (!kp_cur_peek(&ps->c, &ch)) { fail(ps, KP_ERR_TRUNC); goto done; }
  if (ch == close) {
    ps->c.off++;
    res = finish_container(ps, is_obj ? KP_JSON_OBJECT : KP_JSON_ARRAY, &v);
    goto done;
  }
  for (;;) {
    const char *key = NULL;
    if (is_obj) {
      skip_ws(ps);
      if (!kp_cur_u8(&ps->c, &ch)) { fail(ps, KP_ERR_TRUNC); goto done; }
      if (ch != '"') { fail(ps, KP_ERR_INVAL); goto done; }
      size_t klen;
      key = parse_string_raw(ps, &klen);
      if (!key) goto done;
      if (strlen(key) != klen) { fail(ps, KP_ERR_INVAL); goto done; } /* \u0000 in a key */
      /* a key that is not UTF-8: the writer would write it as U+FFFD, so two distinct keys could
         come back as one (a duplicate) and a lookup by its UTF-8 spelling would miss it */
      if (!kp_utf8_valid((const uint8_t *)key, klen)) { fail(ps, KP_ERR_INVAL); goto done; }
      skip_ws(ps);
      if (!kp_cur_u8(&ps->c, &ch)) { fail(ps, KP_ERR_TRUNC); goto done; }
      if (ch != ':') { fail(ps, KP_ERR_INVAL); goto done; }
    }
    kp_json_t *item = parse_value(ps, depth + 1);
    if (!item) goto done;
    if (!vec_push(&v, key, item)) { fail(ps, KP_ERR_NOMEM); goto done; }
    skip_ws(ps);
    if (!kp_cur_u8(&ps->c, &ch)) { fail(ps, KP_ERR_TRUNC); goto done; }
    if (ch == ',') continue;
    if (ch == close) break;
    fail(ps, KP_ERR_INVAL);
    goto done;
  }
  res = finish_container(ps, is_obj ? KP_JSON_OBJECT : KP_JSON_ARRAY, &v);
done:
  free(v.items);
  free(v.keys);
  return res;
}

static kp_json_t *parse_value(parser_t *ps, size_t depth) {
  if (depth > ps->max_depth) return fail(ps, KP_ERR_RANGE);
  skip_ws(ps);
  uint8_t ch;
  if (!kp_cur_peek(&ps->c, &ch)) return fail(ps, KP_ERR_TRUNC);
  switch (ch) {
  case '{': ps->c.off++; return parse_container(ps, depth, true);
  case '[': ps->c.off++; return parse_container(ps, depth, false);
  case '"': {
    ps->c.off++;
    size_t len;
    const char *s = parse_string_raw(ps, &len);
    if (!s) return NULL;
    kp_json_t *v = new_node(ps, KP_JSON_STRING);
    if (!v) return NULL;
    v->u.str = s;
    v->n = len;
    return v;
  }
  case 't': if (match_lit(ps, "true")) return new_node(ps, KP_JSON_TRUE); break;
  case 'f': if (match_lit(ps, "false")) return new_node(ps, KP_JSON_FALSE); break;
  case 'n': if (match_lit(ps, "null")) return new_node(ps, KP_JSON_NULL); break;
  default:
    if (ch == '-' || (ch >= '0' && ch <= '9')) return parse_number(ps);
  }
  return fail(ps, KP_ERR_INVAL);
}

kp_status_t kp_json_parse(const void *p, size_t n, const kp_json_limits_t *lim,
                          kp_json_doc_t **out, size_t *err_off) {
  *out = NULL;
  size_t cap = lim && lim->max_bytes ? lim->max_bytes : (n > SIZE_MAX / 32 ? SIZE_MAX / 2 : n * 16 + 65536);
  parser_t ps = {.c = kp_cur_make(p, n), .max_depth = KP_JSON_MAX_DEPTH};
  if (lim && lim->max_depth && lim->max_depth < KP_JSON_MAX_DEPTH) ps.max_depth = lim->max_depth;
  ps.arena = kp_arena_create(cap);
  if (!ps.arena) return KP_ERR_NOMEM;
  kp_json_t *root = parse_value(&ps, 0);
  if (root) {
    skip_ws(&ps);
    if (kp_cur_left(&ps.c)) fail(&ps, KP_ERR_INVAL);
  }
  if (ps.st != KP_OK || !root) {
    if (err_off) *err_off = ps.c.off;
    kp_arena_destroy(ps.arena);
    return ps.st != KP_OK ? ps.st : KP_ERR_INVAL;
  }
  kp_json_doc_t *doc = kp_arena_alloc(ps.arena, sizeof *doc);
  if (!doc) {
    kp_arena_destroy(ps.arena);
    return KP_ERR_NOMEM;
  }
  doc->arena = ps.arena;
  doc->root = root;
  *out = doc;
  return KP_OK;
}

void kp_json_doc_free(kp_json_doc_t *doc) {
  if (doc) kp_arena_destroy(doc->arena); /* doc itself lives in the arena */
}

const kp_json_t *kp_json_root(const kp_json_doc_t *doc) { return doc ? doc->root : NULL; }
kp_json_type_t kp_json_type(const kp_json_t *v) { return v ? v->type : KP_JSON_NULL; }
bool kp_json_is(const kp_json_t *v, kp_json_type_t t) { return v && v->type == t; }

const kp_json_t *kp_json_get(const kp_json_t *obj, const char *key) {
  if (!obj || obj->type != KP_JSON_OBJECT) return NULL;
  for (size_t i = 0; i < obj->n; i++)
    if (strcmp(obj->keys[i], key) == 0) return obj->u.items[i];
  return NULL;
}

size_t kp_json_len(const kp_json_t *v) {
  return v && (v->type == KP_JSON_ARRAY || v->type == KP_JSON_OBJECT) ? v->n : 0;
}

const kp_json_t *kp_json_at(const kp_json_t *v, size_t i) {
  if (!v || (v->type != KP_JSON_ARRAY && v->type != KP_JSON_OBJECT) || i >= v->n) return NULL;
  return v->u.items[i];
}

const char *kp_json_key_at(const kp_json_t *obj, size_t i) {
  if (!obj || obj->type != KP_JSON_OBJECT || i >= obj->n) return NULL;
  return obj->keys[i];
}

const char *kp_json_str(const kp_json_t *v) { return v && v->type == KP_JSON_STRING ? v->u.str : NULL; }
size_t kp_json_strlen(const kp_json_t *v) { return v && v->type == KP_JSON_STRING ? v->n : 0; }
double kp_json_num(const kp_json_t *v) { return v && v->type == KP_JSON_NUMBER ? v->u.num : 0; }
const char *kp_json_numtext(const kp_json_t *v) { return v && v->type == KP_JSON_NUMBER ? v->text : NULL; }
bool kp_json_truthy(const kp_json_t *v) { return v && v->type == KP_JSON_TRUE; }

bool kp_json_int(const kp_json_t *v, int64_t *out) {
  if (!v || v->type != KP_JSON_NUMBER) return false;
  if (!strpbrk(v->text, ".eE")) {
    errno = 0;
    char *end;
    long long x = strtoll(v->text, &end, 10);
    if (errno || *end) return false;
    *out = x;
    return true;
  }
  double d = v->u.num;
  if (!isfinite(d) || d != floor(d) || d < -9.2e18 || d > 9.2e18) return false;
  *out = (int64_t)d;
  return true;
}

const char *kp_json_cstr(const kp_json_t *v) {
  if (!v || v->type != KP_JSON_STRING || strlen(v->u.str) != v->n) return NULL;
  return v->u.str;
}

const char *kp_json_get_str(const kp_json_t *obj, const char *key) {
  return kp_json_cstr(kp_json_get(obj, key));
}

bool kp_json_get_int(const kp_json_t *obj, const char *key, int64_t *out) {
  return kp_json_int(kp_json_get(obj, key), out);
}
