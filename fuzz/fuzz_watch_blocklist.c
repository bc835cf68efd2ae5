/* fuzz_watch_blocklist.c: zmap-format blocklist parser; lookups must agree with each other. */
#include <stddef.h>
#include <stdint.h>

#include "watch/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_wblock_t *b = NULL;
  size_t line;
  if (kp_wblock_parse(data, size, &b, &line) != KP_OK) return 0;
  for (uint32_t blk = 0; blk < 64; blk++) {
    uint32_t a = blk * 0x04000000u;
    if (kp_wblock_covers_block(b, a) && !kp_wblock_hits_block(b, a)) __builtin_trap();
    if (kp_wblock_contains(b, a) && !kp_wblock_hits_block(b, a)) __builtin_trap();
  }
  kp_wblock_free(b);
  return 0;
}
