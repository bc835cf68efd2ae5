/* fuzz_threq.c: the helper's HTTP head parser, the TH request parser (untrusted
 * POST body), its writer and the endpoint plan; a parsed request must re-serialize and re-parse identically. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webconn/webconn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_wc_http_head_t h; /* the helper's request-head parser sees the same bytes first */
  if (kp_wc_http_head_parse(data, size, 16384, &h) == KP_OK && (h.head_len > size || h.head_len < 16)) abort();
  kp_arena_t *a = kp_arena_create(1 << 24);
  if (!a) return 0;
  kp_wc_threq_t req, again;
  if (kp_wc_threq_parse(data, size, a, &req) == KP_OK) {
    kp_buf_t b;
    kp_buf_init(&b, 1 << 24);
    kp_jw_t w;
    kp_jw_init(&w, &b);
    kp_wc_threq_write(&w, &req);
    if (w.st == KP_OK) {
      if (kp_wc_threq_parse(b.data, b.len, a, &again) != KP_OK) abort();
      if (again.nendpoints != req.nendpoints || strcmp(again.url, req.url)) abort();
    }
    const char *th[2] = {"93.184.216.34", "198.19.11.13"};
    const char *eps[64];
    size_t n = 0;
    kp_wc_opts_t lab = {.lab = true};
    (void)kp_wc_th_plan(&req, th, 2, &lab, a, eps, 64, &n);
    if (n > 64) abort();
    kp_buf_free(&b);
  }
  kp_arena_destroy(a);
  return 0;
}
