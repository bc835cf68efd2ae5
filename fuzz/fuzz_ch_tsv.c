/* fuzz_ch_tsv.c: ClickHouse TabSeparated answers (src/store/clickhouse/ch_tsv.c): every row's
 * fields stay inside the answer, are NUL-terminated at their length, the offset only grows,
 * and the same bytes give the same rows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/clickhouse/ch_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(uint8_t *p, size_t n, uint8_t *sum) {
  size_t off = 0, rows = 0;
  kp_ch_row_t r;
  while (kp_ch_tsv_next(p, n, &off, &r) == KP_OK) {
    if (off > n || r.ncol == 0 || r.ncol > KP_CH_MAX_COLS) abort();
    for (size_t i = 0; i < r.ncol; i++) {
      const uint8_t *c = (const uint8_t *)r.col[i];
      if (c < p || c + r.len[i] >= p + n + 1 || c + r.len[i] > p + off || c[r.len[i]] != 0) abort();
      for (size_t k = 0; k < r.len[i]; k++) *sum += c[k];
    }
    rows++;
  }
  return rows;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *a = malloc(size + 1), *b = malloc(size + 1);
  if (!a || !b) abort();
  memcpy(a, data, size);
  memcpy(b, data, size);
  uint8_t s1 = 0, s2 = 0;
  if (walk(a, size, &s1) != walk(b, size, &s2) || s1 != s2) abort();
  free(a);
  free(b);
  return 0;
}
