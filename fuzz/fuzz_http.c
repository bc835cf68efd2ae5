/*
 * fuzz_http.c: HTTP response parser. Invariants checked: header offsets lie
 * inside the input, the body never exceeds the cap, and a message that parsed
 * complete without EOF still parses complete with EOF.
 */
#include <stdint.h>
#include <stdlib.h>

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_http_resp_t r;
  kp_buf_t body;
  kp_buf_init(&body, 1 << 20);
  size_t cap = size ? data[0] * 16u : 0;
  kp_status_t st = kp_http_parse(data, size, false, cap, &r, &body);
  if (st == KP_OK) {
    if (body.len > cap || r.head_len > size || r.wire_len > size) abort();
    for (size_t i = 0; i < r.nheaders; i++)
      if (r.h[i].name_off + r.h[i].name_len > size || r.h[i].value_off + r.h[i].value_len > size) abort();
    size_t len1 = body.len;
    if (kp_http_parse(data, size, true, cap, &r, &body) != KP_OK || body.len != len1) abort();
  }
  (void)kp_http_parse(data, size, true, cap, &r, &body);
  kp_buf_free(&body);
  return 0;
}
