/* fuzz_watch_census.c: census (JSON Lines) and ANT history parsers into a universe. */
#include <stddef.h>
#include <stdint.h>

#include "watch/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_wuniv_limits_t lim = {.min_hosts = 1, .min_avail = 0.01};
  size_t line;
  for (int mode = 0; mode < 2; mode++) {
    kp_wuniv_t *u = NULL;
    if (kp_wuniv_create(&u) != KP_OK) return 0;
    kp_status_t st = mode ? kp_wuniv_parse_history(u, &lim, data, size, &line)
                          : kp_wuniv_parse_census(u, &lim, data, size, &line);
    if (st == KP_OK && kp_wuniv_seal(u, NULL, "ZZ", 1) == KP_OK) {
      for (size_t i = 0; i < kp_wuniv_count(u); i++) {
        const uint8_t *h;
        if (kp_wuniv_hosts(u, i, &h) == 0) __builtin_trap();
        if (kp_wuniv_find(u, kp_wuniv_block(u, i) | 7) != i) __builtin_trap();
      }
    }
    kp_wuniv_free(u);
  }
  return 0;
}
