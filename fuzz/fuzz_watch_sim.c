/* fuzz_watch_sim.c: the sim model parser (JSON -> model) without a base folder (no file I/O). */
#include <stddef.h>
#include <stdint.h>

#include "watch/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0; /* prefixes up to /8 expand to 65536 blocks: keep runs fast */
  kp_wsim_t *s = NULL;
  char err[128];
  if (kp_wsim_parse(data, size, NULL, &s, err, sizeof err) == KP_OK) {
    (void)kp_wsim_is_out(s, 0xC6120001u, kp_wsim_start(s) + 10);
    kp_wsim_free(s);
  }
  return 0;
}
