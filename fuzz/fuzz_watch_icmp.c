/* fuzz_watch_icmp.c: ICMP echo-reply parsing of raw-socket packets (untrusted network bytes). */
#include <stddef.h>
#include <stdint.h>

#include "watch/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_wreply_t r;
  if (size < 2) return 0;
  uint16_t id = (uint16_t)(data[0] << 8 | data[1]);
  (void)kp_wicmp_parse_reply(data + 2, size - 2, id, &r);
  return 0;
}
