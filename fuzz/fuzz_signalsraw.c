/* fuzz_signalsraw.c: the signals/raw (IODA envelope) reader used by `keepon detect --server`. */
#include <stdint.h>
#include <stdlib.h>

#include "detect/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_sigset_t *s = NULL;
  if (kp_sigset_new(3600, &s) != KP_OK) return 0;
  size_t pts = 0, bad = 0;
  if (kp_signals_raw_parse(data, size, "KZ", s, &pts, &bad) == KP_OK) {
    (void)kp_sigset_finalize(s);
    if (pts && !kp_sigset_count(s)) abort(); /* accepted points must land in a series */
  }
  kp_sigset_free(s);
  return 0;
}
