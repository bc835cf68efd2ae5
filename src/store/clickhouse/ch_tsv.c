/*
 * ch_tsv.c: ClickHouse's TabSeparated answer format, read row by row.
 *
 * A row is fields separated by '\t' and ended by '\n'; inside a field ClickHouse escapes
 * '\t' '\n' '\\' as \t \n \\ and may write \b \f \r \0 \' too. Unescaping only shrinks a
 * field, so it is done in place: the write index never passes the read index, and every
 * field gets its NUL where its separator (or the last escape's second byte) was. Any other
 * escaped byte stands for itself (ClickHouse's own reader does the same).
 * kp_ch_tsv_str writes a field the other way (external data, ch_http.c): \ \t \n \r
 * escaped, so a written row holds no CR and no bare separator.
 */
#include <string.h>

#include "base/cursor.h"
#include "store/clickhouse/ch_internal.h"

kp_status_t kp_ch_tsv_next(uint8_t *p, size_t n, size_t *off, kp_ch_row_t *row) {
  if (*off >= n) return KP_ERR_NOTFOUND;
  kp_cur_t c = kp_cur_make(p, n);
  if (!kp_cur_skip(&c, *off)) return KP_ERR_INVAL;
  row->ncol = 0;
  size_t w = c.off; /* write index into p, always <= c.off */
  size_t start = w;
  for (;;) {
    uint8_t ch;
    if (!kp_cur_u8(&c, &ch)) return KP_ERR_INVAL; /* a row must end in '\n' */
    if (ch == '\t' || ch == '\n') {
      if (row->ncol == KP_CH_MAX_COLS) return KP_ERR_INVAL;
      p[w] = 0; /* w < c.off: the separator's slot or earlier */
      row->col[row->ncol] = (char *)p + start;
      row->len[row->ncol] = w - start;
      row->ncol++;
      w = c.off;
      start = w;
      if (ch == '\n') break;
      continue;
    }
    if (ch == '\\') {
      uint8_t e;
      if (!kp_cur_u8(&c, &e)) return KP_ERR_INVAL;
      switch (e) {
      case 't': ch = '\t'; break;
      case 'n': ch = '\n'; break;
      case 'r': ch = '\r'; break;
      case 'b': ch = '\b'; break;
      case 'f': ch = '\f'; break;
      case '0': ch = 0; break;
      default: ch = e; break; /* \\ \' and anything else: the byte itself */
      }
    }
    p[w++] = ch;
  }
  *off = c.off;
  return KP_OK;
}

kp_status_t kp_ch_tsv_str(kp_buf_t *b, const char *v) {
  kp_status_t st = KP_OK;
  for (const char *p = v ? v : ""; *p && st == KP_OK; p++) {
    char e = *p == '\\' ? '\\' : *p == '\t' ? 't' : *p == '\n' ? 'n' : *p == '\r' ? 'r' : 0;
    st = e ? kp_buf_putc(b, '\\') : kp_buf_putc(b, *p);
    if (e && st == KP_OK) st = kp_buf_putc(b, e);
  }
  return st;
}
