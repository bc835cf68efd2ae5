/* fuzz_json.c: JSON reader; parsed documents must re-serialize and re-parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_json_doc_t *doc = NULL;
  kp_json_limits_t lim = {.max_depth = 64, .max_bytes = 1 << 24};
  if (kp_json_parse(data, size, &lim, &doc, NULL) != KP_OK) return 0;
  kp_buf_t b;
  kp_buf_init(&b, 1 << 26);
  kp_jw_t w;
  kp_jw_init(&w, &b);
  kp_jw_node(&w, kp_json_root(doc));
  if (w.st == KP_OK) {
    kp_json_doc_t *doc2 = NULL;
    if (kp_json_parse(b.data, b.len, &lim, &doc2, NULL) != KP_OK) abort();
    kp_json_doc_free(doc2);
  }
  kp_buf_free(&b);
  kp_json_doc_free(doc);
  return 0;
}
