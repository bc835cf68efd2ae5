/*
 * vpost.c: a vantage's block-state post (JSON Lines), parsed and written. The parser is pure
 * and takes hostile bytes (the collector's POST /api/v1/watch/blocks body): every line goes
 * through kp_json_parse with a depth cap; counts, lengths and indexes are checked before use.
 *
 *   line 1  {"type":"vantage","vantage":ID,"t":UNIX,"step":S,"entities":["country/KZ",...]}
 *   line k  {"block":"a.b.c.0/24","state":"up"|"down"|"uncertain","e":[i,...]}   (0..3 indexes)
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/addr.h"
#include "base/cursor.h"
#include "base/json.h"
#include "watch/watch.h"

bool kp_vantage_id_ok(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > KP_VANTAGE_ID_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return false;
  }
  return true;
}

void kp_vpost_free(kp_vpost_t *v) {
  if (!v) return;
  for (size_t i = 0; i < v->nentities; i++) free(v->entities[i]);
  free(v->entities);
  free(v->blocks);
  free(v);
}

/* "country/KZ", "region/KZ/Almaty", "asn/AS9198": a known type, a printable code of 1..128 */
static bool entity_ok(const char *s, size_t n) {
  static const char *const types[] = {"country/", "region/", "asn/"};
  size_t tl = 0;
  for (size_t i = 0; i < 3 && !tl; i++)
    if (n > strlen(types[i]) && !strncmp(s, types[i], strlen(types[i]))) tl = strlen(types[i]);
  if (!tl || n - tl > 128) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
  return true;
}

static bool parse_block(const char *s, size_t n, uint32_t *out) {
  char tmp[24];
  if (!s || n < 10 || n >= sizeof tmp || strcmp(s + n - 3, "/24")) return false;
  memcpy(tmp, s, n - 3);
  tmp[n - 3] = 0;
  kp_addr_t a;
  if (kp_addr_parse(tmp, &a) != KP_OK || a.family != 4) return false;
  uint32_t b = kp_addr_v4_u32(&a);
  if (b & 0xff) return false;
  *out = b;
  return true;
}

static int parse_state(const char *s) {
  if (!s) return -1;
  if (!strcmp(s, "up")) return KP_TRI_UP;
  if (!strcmp(s, "down")) return KP_TRI_DOWN;
  if (!strcmp(s, "uncertain")) return KP_TRI_UNCERTAIN;
  return -1;
}

static kp_status_t header(kp_vpost_t *v, const kp_json_t *o, char *why, size_t cap) {
  const char *type = kp_json_get_str(o, "type"), *id = kp_json_get_str(o, "vantage");
  const kp_json_t *ents = kp_json_get(o, "entities");
  if (!type || strcmp(type, "vantage")) return snprintf(why, cap, "the first line must be {\"type\":\"vantage\",...}"), KP_ERR_INVAL;
  if (!kp_vantage_id_ok(id)) return snprintf(why, cap, "vantage must be 1-32 of [A-Za-z0-9._-]"), KP_ERR_INVAL;
  if (!kp_json_get_int(o, "t", &v->t) || v->t < 0 || v->t > 32503680000LL) return snprintf(why, cap, "invalid t"), KP_ERR_INVAL;
  if (!kp_json_get_int(o, "step", &v->step) || v->step < 1 || v->step > 86400) return snprintf(why, cap, "invalid step"), KP_ERR_INVAL;
  if (ents && !kp_json_is(ents, KP_JSON_ARRAY)) return snprintf(why, cap, "entities must be an array"), KP_ERR_INVAL;
  size_t ne = kp_json_len(ents);
  if (ne > KP_VPOST_MAX_ENTITIES) return snprintf(why, cap, "too many entities"), KP_ERR_INVAL;
  snprintf(v->vantage, sizeof v->vantage, "%s", id);
  if (ne && !(v->entities = calloc(ne, sizeof *v->entities))) return KP_ERR_NOMEM;
  for (size_t i = 0; i < ne; i++) {
    const kp_json_t *e = kp_json_at(ents, i);
    const char *s = kp_json_str(e);
    size_t n = kp_json_strlen(e);
    if (!kp_json_is(e, KP_JSON_STRING) || !s || memchr(s, 0, n) || !entity_ok(s, n))
      return snprintf(why, cap, "entity %zu: must be country/CODE, region/CODE or asn/CODE", i), KP_ERR_INVAL;
    if (!(v->entities[i] = strndup(s, n))) return KP_ERR_NOMEM;
    v->nentities = i + 1;
  }
  return KP_OK;
}

static kp_status_t block_line(kp_vpost_t *v, const kp_json_t *o, size_t *cap, char *why, size_t wcap) {
  const kp_json_t *b = kp_json_get(o, "block"), *e = kp_json_get(o, "e");
  uint32_t blk;
  int st = parse_state(kp_json_get_str(o, "state"));
  if (!kp_json_is(b, KP_JSON_STRING) || !parse_block(kp_json_str(b), kp_json_strlen(b), &blk))
    return snprintf(why, wcap, "block must be \"a.b.c.0/24\""), KP_ERR_INVAL;
  if (st < 0) return snprintf(why, wcap, "state must be up, down or uncertain"), KP_ERR_INVAL;
  if (e && (!kp_json_is(e, KP_JSON_ARRAY) || kp_json_len(e) > 3))
    return snprintf(why, wcap, "e must be an array of at most 3 entity indexes"), KP_ERR_INVAL;
  if (v->nblocks == KP_VPOST_MAX_BLOCKS) return snprintf(why, wcap, "too many blocks"), KP_ERR_INVAL;
  if (v->nblocks == *cap) {
    size_t nc = *cap ? *cap * 2 : 256;
    kp_vpost_block_t *g = realloc(v->blocks, nc * sizeof *g);
    if (!g) return KP_ERR_NOMEM;
    v->blocks = g;
    *cap = nc;
  }
  kp_vpost_block_t *r = &v->blocks[v->nblocks];
  r->block = blk;
  r->state = (uint8_t)st;
  r->e[0] = r->e[1] = r->e[2] = UINT32_MAX;
  for (size_t i = 0; i < kp_json_len(e); i++) {
    int64_t x;
    if (!kp_json_int(kp_json_at(e, i), &x) || x < 0 || (uint64_t)x >= v->nentities)
      return snprintf(why, wcap, "e[%zu] is not an index into entities", i), KP_ERR_INVAL;
    r->e[i] = (uint32_t)x;
  }
  v->nblocks++;
  return KP_OK;
}

kp_status_t kp_vpost_parse(const void *p, size_t n, kp_vpost_t **out, char *err, size_t errcap) {
  if (!out || (!p && n)) return KP_ERR_INVAL;
  *out = NULL;
  kp_vpost_t *v = calloc(1, sizeof *v);
  if (!v) return KP_ERR_NOMEM;
  size_t line = 0, cap = 0;
  bool have_header = false;
  kp_status_t st = KP_OK;
  char why[128] = "";
  kp_json_limits_t lim = {.max_depth = 4};
  kp_cur_t cur = kp_cur_make(p, n);
  const uint8_t *l;
  size_t len;
  while (st == KP_OK && kp_cur_line(&cur, &l, &len)) {
    line++;
    while (len && (l[len - 1] == '\r' || l[len - 1] == ' ')) len--;
    if (len == 0) continue;
    kp_json_doc_t *d = NULL;
    if (kp_json_parse(l, len, &lim, &d, NULL) != KP_OK) {
      snprintf(why, sizeof why, "malformed JSON");
      st = KP_ERR_INVAL;
      break;
    }
    const kp_json_t *o = kp_json_root(d);
    if (!kp_json_is(o, KP_JSON_OBJECT)) {
      snprintf(why, sizeof why, "not an object");
      st = KP_ERR_INVAL;
    } else if (!have_header) {
      st = header(v, o, why, sizeof why);
      have_header = true;
    } else {
      st = block_line(v, o, &cap, why, sizeof why);
    }
    kp_json_doc_free(d);
  }
  if (st == KP_OK && !have_header) {
    snprintf(why, sizeof why, "empty post");
    st = KP_ERR_INVAL;
    line = 1;
  }
  if (st != KP_OK) {
    if (err && errcap) snprintf(err, errcap, "line %zu: %s", line, why[0] ? why : kp_strstatus(st));
    kp_vpost_free(v);
    return st;
  }
  *out = v;
  return KP_OK;
}

void kp_vpost_header(kp_buf_t *out, const char *vantage, int64_t t, int64_t step,
                     const char *const *entities, size_t n) {
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "type", "vantage");
  kp_jw_kstr(&w, "vantage", vantage);
  kp_jw_kint(&w, "t", t);
  kp_jw_kint(&w, "step", step);
  kp_jw_key(&w, "entities");
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < n; i++) kp_jw_str(&w, entities[i]);
  kp_jw_arr_end(&w);
  kp_jw_obj_end(&w);
  kp_buf_putc(out, '\n');
}

void kp_vpost_block_line(kp_buf_t *out, uint32_t block, kp_tri_state_t st, const uint32_t e[3]) {
  char a[KP_ADDR_STRLEN];
  kp_addr_t ad = kp_addr_v4(block);
  kp_buf_printf(out, "{\"block\":\"%s/24\",\"state\":\"%s\",\"e\":[", kp_addr_fmt(&ad, a), kp_tri_state_name(st));
  bool first = true;
  for (int i = 0; i < 3; i++) {
    if (e[i] == UINT32_MAX) continue;
    kp_buf_printf(out, "%s%u", first ? "" : ",", e[i]);
    first = false;
  }
  kp_buf_puts(out, "]}\n");
}
