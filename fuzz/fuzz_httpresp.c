/* fuzz_httpresp.c: the uploader's response-head parser: bounded, deterministic, sane results. */
#include <stdint.h>
#include <stdlib.h>

#include "outbox/outbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_outbox_resp_head_t h;
  size_t hl = 0;
  kp_status_t st = kp_outbox_parse_resp_head(data, size, 4096, &h, &hl);
  if (st == KP_OK && (hl > size || h.status < 100 || h.status > 999 || (h.chunked && h.content_length >= 0)))
    abort();
  return 0;
}
