/* fuzz_threq.c: the TH request parser (untrusted POST body; the HTTP head is kp_srv's, fuzzed there),
 * its writer and the endpoint plan; a parsed request must re-serialize and re-parse identically. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webconn/webconn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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
    kp_wc_dest_t lab = {0};
    if (kp_wc_dest_allow_parse("198.18.0.0/15", &lab) != KP_OK) abort();
    (void)kp_wc_th_plan(&req, th, 2, &lab, a, eps, 64, &n);
    if (n > 64) abort();
    for (size_t i = 0; i < n; i++) { /* nothing planned is refused by the destination rule */
      char ip[KP_ADDR_STRLEN + 2];
      uint16_t port;
      kp_addr_t ad;
      if (kp_hostport_parse(eps[i], ip, sizeof ip, &port) != KP_OK || kp_addr_parse(ip, &ad) != KP_OK ||
          kp_wc_dest_refuse(&lab, &ad))
        abort();
    }
    kp_buf_free(&b);
  }
  kp_arena_destroy(a);
  return 0;
}
