/* fuzz_analyze.c: `keepon analyze` over any bytes: JSON, arrays, JSONL; the output is JSONL of measurements. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msmt/msmt.h"
#include "probe/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static kp_targets_t *tg;
  if (!tg) {
    tg = calloc(1, sizeof *tg);
    size_t len;
    const char *def = kp_targets_default_json(&len);
    if (!tg || kp_targets_parse(def, len, tg, NULL, 0) != KP_OK) abort();
  }
  kp_buf_t out;
  kp_buf_init(&out, (size_t)64 << 20);
  kp_analyze_stats_t st;
  if (kp_analyze_text(data, size, tg, &out, &st) == KP_OK) {
    /* every line written is a measurement the reader accepts */
    size_t lines = 0;
    for (size_t off = 0; off < out.len;) {
      const uint8_t *nl = memchr(out.data + off, '\n', out.len - off);
      if (!nl) abort();
      kp_msmt_t *m = NULL;
      if (kp_msmt_parse(out.data + off, (size_t)(nl - (out.data + off)), &m, NULL, 0) != KP_OK) abort();
      kp_msmt_free(m);
      lines++;
      off = (size_t)(nl - out.data) + 1;
    }
    if (lines != st.measurements) abort();
  }
  kp_buf_free(&out);
  return 0;
}
