/* fuzz_httpstatus.c: the webhook client's reply status-line parser. */
#include <stdint.h>
#include <stdlib.h>

#include "detect/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int code = -1;
  if (kp_http_status_parse(data, size, &code) == KP_OK && (code < 100 || code > 999)) abort();
  return 0;
}
