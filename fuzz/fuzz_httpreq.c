/*
 * fuzz_httpreq.c: the server's request-head parser. Invariants checked: every view lies inside
 * the input, the head length never exceeds the input, the parse is a pure function (same
 * verdict twice), and query decoding of the parsed query never overflows its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(kp_srv_slice_t s, const uint8_t *p, size_t n) {
  if (s.n && ((const uint8_t *)s.p < p || (const uint8_t *)s.p + s.n > p + n)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_srv_req_t r, r2;
  size_t hl = 0, hl2 = 0;
  kp_status_t st = kp_srv_parse_head(data, size, 4096, &r, &hl);
  kp_status_t st2 = kp_srv_parse_head(data, size, 4096, &r2, &hl2);
  if (st != st2) abort();
  if (st != KP_OK) return 0;
  if (hl > size || hl != hl2) abort();
  inside(r.method, data, size);
  inside(r.path, data, size);
  inside(r.query, data, size);
  for (size_t i = 0; i < r.nheaders; i++) {
    inside(r.hname[i], data, size);
    inside(r.hvalue[i], data, size);
  }
  char v[32];
  (void)kp_srv_query_get(r.query, "probe_cc", v, sizeof v);
  (void)kp_srv_query_get(r.query, "", v, sizeof v);
  (void)kp_srv_header(&r, "content-type");
  return 0;
}
