/* fuzz_demo.c: the demo's readers of untrusted records: the time warp (any JSONL line), the
 * warp's anchor list (the same bytes; when they parse, the line is warped through them too), and
 * the truth check (the input split into truth, incidents and signals at the first two NUL bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "demo/demo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_buf_t out;
  kp_buf_init(&out, 1 << 24);
  kp_demo_warp_t w = {.real0 = 1e9, .sim0 = 1.64e9, .speed = 3};
  if (kp_demo_warp_line(&w, data, size, &out) == KP_OK) {
    kp_json_doc_t *d = NULL; /* the output is one JSON object and a newline */
    if (out.len < 1 || out.data[out.len - 1] != '\n' || kp_json_parse(out.data, out.len - 1, NULL, &d, NULL) != KP_OK) abort();
    kp_json_doc_free(d);
  }
  kp_demo_anchor_t *an = NULL;
  size_t nan = 0;
  if (kp_demo_anchors_parse(data, size, &an, &nan) == KP_OK) {
    for (size_t i = 1; i < nan; i++)
      if (an[i].real < an[i - 1].real || an[i].sim < an[i - 1].sim) abort(); /* sorted, as promised */
    w.anchors = an, w.nanchors = nan;
    kp_buf_reset(&out);
    static const char sig[] = "{\"type\":\"signal\",\"t\":1000000100,\"step\":1,\"value\":1}";
    if (kp_demo_warp_line(&w, sig, sizeof sig - 1, &out) != KP_OK) abort();
    free(an);
  }
  const uint8_t *z1 = memchr(data, 0, size);
  const uint8_t *z2 = z1 ? memchr(z1 + 1, 0, size - (size_t)(z1 + 1 - data)) : NULL;
  if (z1 && z2) {
    kp_demo_check_opts_t o = {.tolerance_s = 600, .require_techniques = true};
    size_t fails = 0;
    kp_buf_reset(&out);
    kp_demo_check(&o, data, (size_t)(z1 - data), z1 + 1, (size_t)(z2 - z1 - 1), z2 + 1, size - (size_t)(z2 + 1 - data),
                  &out, &fails);
  }
  kp_buf_free(&out);
  return 0;
}
