/* fuzz_i18n.c: the translation-file checker (src/report/i18n.c, data/i18n/<lang>.tsv). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  kp_status_t st = kp_i18n_check(data, size, err, sizeof err);
  if (st != KP_OK && st != KP_ERR_INVAL && st != KP_ERR_NOMEM) abort();
  if (st == KP_ERR_INVAL && !err[0]) abort(); /* a refusal always says why */
  if (memchr(err, 0, sizeof err) == NULL) abort();
  return 0;
}
