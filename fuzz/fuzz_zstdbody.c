/*
 * fuzz_zstdbody.c: the collector's request-body inflation (kp_ps_inflate: Content-Encoding zstd,
 * as OONI's backend accepts). The input is the body of a POST with `Content-Encoding: zstd`.
 * Invariants: the inflated size never passes KP_PS_MAX_INFLATE (a zstd bomb is 413, not memory),
 * every failure carries its HTTP status (400 malformed/truncated, 413 too large), success none,
 * and the verdict is a pure function of the bytes (same twice).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/collector_internal.h"
#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kp_status_t inflate_once(const uint8_t *data, size_t size, kp_buf_t *out, int *hs) {
  static const char head[] = "POST /report/x HTTP/1.1\r\nHost: c\r\nContent-Encoding: zstd\r\n\r\n";
  kp_srv_req_t req;
  size_t hl = 0;
  if (kp_srv_parse_head((const uint8_t *)head, sizeof head - 1, 4096, &req, &hl) != KP_OK) abort();
  req.body = data, req.body_len = size;
  kp_buf_init(out, KP_PS_MAX_INFLATE + 65536);
  return kp_ps_inflate(&req, out, hs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_buf_t a, b;
  int hs = 0, hs2 = 0;
  kp_status_t st = inflate_once(data, size, &a, &hs);
  if (a.len > KP_PS_MAX_INFLATE) abort();
  if (st == KP_OK && hs != 0) abort();
  if (st == KP_ERR_INVAL && hs != 400) abort();
  if (st == KP_ERR_RANGE && hs != 413) abort();
  if (size < 4096) { /* determinism, on the small inputs (a bomb costs 16 MiB each time) */
    kp_status_t st2 = inflate_once(data, size, &b, &hs2);
    if (st2 != st || hs2 != hs || b.len != a.len || (a.len && memcmp(a.data, b.data, a.len) != 0)) abort();
    kp_buf_free(&b);
  }
  kp_buf_free(&a);
  return 0;
}
