/*
 * tar.c: the POSIX ustar subset a bundle needs: regular files in one folder.
 *
 * Writer: 512-byte header (name split into prefix/name at a '/', octal fields, checksum), data
 * padded to 512, two zero blocks at the end; mode 0644, uid/gid 0, fixed mtime, so the same
 * bundle contents give the same bytes. GNU tar, bsdtar and Python's tarfile read it.
 * Reader: pure, over a kp_cur_t; refuses anything but regular files, unterminated or unsafe
 * names, bad checksums, sizes past the end. An archive is evidence an adversary may have
 * touched, so every length is checked before use.
 */
#include <stdio.h>
#include <string.h>

#include "base/cursor.h"
#include "evidence/internal.h"

#define BLK 512

static void octal(char *f, size_t w, uint64_t v) { /* w-1 digits and NUL */
  f[w - 1] = 0;
  for (size_t i = w - 1; i-- > 0;) {
    f[i] = (char)('0' + (v & 7));
    v >>= 3;
  }
}

kp_status_t kp_ev_tar_add(kp_buf_t *out, const char *name, const void *data, size_t n, int64_t mtime) {
  size_t nl = strlen(name);
  uint8_t h[BLK];
  memset(h, 0, sizeof h);
  if (nl <= 100) memcpy(h, name, nl);
  else { /* prefix (<=155) '/' name (<=100) */
    const char *cut = NULL;
    for (const char *s = name; *s; s++)
      if (*s == '/' && (size_t)(s - name) <= 155 && nl - (size_t)(s - name) - 1 <= 100) cut = s;
    if (!cut) return KP_ERR_RANGE;
    memcpy(h, cut + 1, nl - (size_t)(cut - name) - 1);
    memcpy(h + 345, name, (size_t)(cut - name));
  }
  if ((uint64_t)n >= ((uint64_t)1 << 33) || mtime < 0) return KP_ERR_RANGE;
  octal((char *)h + 100, 8, 0644);
  octal((char *)h + 108, 8, 0);
  octal((char *)h + 116, 8, 0);
  octal((char *)h + 124, 12, n);
  octal((char *)h + 136, 12, (uint64_t)mtime);
  memset(h + 148, ' ', 8);
  h[156] = '0';
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  unsigned sum = 0;
  for (size_t i = 0; i < BLK; i++) sum += h[i];
  octal((char *)h + 148, 7, sum);
  h[155] = ' ';
  static const uint8_t zero[BLK];
  kp_status_t st = kp_buf_append(out, h, BLK);
  if (st == KP_OK && n) st = kp_buf_append(out, data, n);
  if (st == KP_OK && n % BLK) st = kp_buf_append(out, zero, BLK - n % BLK);
  return st;
}

kp_status_t kp_ev_tar_end(kp_buf_t *out) {
  static const uint8_t zero[2 * BLK];
  return kp_buf_append(out, zero, sizeof zero);
}

/* a NUL-terminated (or full-width) field, no NUL inside the used part */
static size_t field_len(const uint8_t *f, size_t w) {
  size_t i = 0;
  while (i < w && f[i]) i++;
  return i;
}

static bool parse_octal(const uint8_t *f, size_t w, uint64_t *v) {
  size_t i = 0;
  while (i < w && f[i] == ' ') i++;
  uint64_t x = 0;
  size_t digits = 0;
  for (; i < w && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
    if (x >> 60) return false;
    x = x * 8 + (uint64_t)(f[i] - '0');
  }
  for (; i < w; i++)
    if (f[i] != 0 && f[i] != ' ') return false;
  *v = x;
  return digits > 0;
}

static bool safe_name(const char *s) {
  if (!*s || *s == '/') return false;
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == '\\') return false;
  for (const char *p = s; (p = strstr(p, "..")) != NULL; p += 2)
    if ((p == s || p[-1] == '/') && (p[2] == 0 || p[2] == '/')) return false;
  return true;
}

kp_status_t kp_ev_tar_parse(const uint8_t *p, size_t n, kp_ev_entry_t *out, size_t max, size_t *count,
                            const char **why) {
  kp_cur_t c = kp_cur_make(p, n);
  *count = 0;
  *why = NULL;
  for (;;) {
    const uint8_t *h;
    if (!kp_cur_borrow(&c, &h, BLK)) {
      *why = "archive ends without its two zero blocks";
      return KP_ERR_INVAL;
    }
    size_t z = 0;
    while (z < BLK && h[z] == 0) z++;
    if (z == BLK) return KP_OK; /* end of archive (one zero block is enough to stop) */
    uint64_t sum, size;
    if (!parse_octal(h + 148, 8, &sum) || !parse_octal(h + 124, 12, &size)) {
      *why = "a header field is not octal";
      return KP_ERR_INVAL;
    }
    unsigned calc = 0;
    for (size_t i = 0; i < BLK; i++) calc += (i >= 148 && i < 156) ? ' ' : h[i];
    if (calc != sum) {
      *why = "a header checksum does not match: the archive was altered or is damaged";
      return KP_ERR_INVAL;
    }
    if (h[156] != '0' && h[156] != 0) {
      *why = "the archive holds something other than regular files";
      return KP_ERR_INVAL;
    }
    if (*count == max) {
      *why = "too many files in the archive";
      return KP_ERR_INVAL;
    }
    kp_ev_entry_t *e = &out[*count];
    size_t nl = field_len(h, 100), pl = memcmp(h + 257, "ustar", 5) == 0 ? field_len(h + 345, 155) : 0;
    if (pl + 1 + nl >= sizeof e->name) {
      *why = "a file name is too long";
      return KP_ERR_INVAL;
    }
    size_t o = 0;
    if (pl) {
      memcpy(e->name, h + 345, pl);
      e->name[pl] = '/';
      o = pl + 1;
    }
    memcpy(e->name + o, h, nl);
    e->name[o + nl] = 0;
    if (!safe_name(e->name)) {
      *why = "a file name is unsafe (absolute, '..', or control characters)";
      return KP_ERR_INVAL;
    }
    if (size > kp_cur_left(&c) || !kp_cur_borrow(&c, &e->data, (size_t)size)) {
      *why = "a file runs past the end of the archive: truncated";
      return KP_ERR_INVAL;
    }
    e->len = (size_t)size;
    size_t pad = (size_t)((BLK - size % BLK) % BLK);
    if (!kp_cur_skip(&c, pad)) {
      *why = "the archive is truncated inside a file's padding";
      return KP_ERR_INVAL;
    }
    for (size_t i = 0; i < *count; i++)
      if (strcmp(out[i].name, e->name) == 0) {
        *why = "a file name appears twice in the archive";
        return KP_ERR_INVAL;
      }
    (*count)++;
  }
}
