/* fuzz_geo_table.c: the keepon geo table parser (CSV) on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "geo/geo_parse.h"

static kp_status_t row(void *ctx, const kp_geo_row_t *r) {
  (void)ctx;
  if (r->len > 32 || strlen(r->region) >= sizeof r->region || strlen(r->cc) > 2)
    return KP_ERR_INTERNAL;
  return KP_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t line;
  if (kp_geo_parse_table(data, size, row, NULL, &line) == KP_ERR_INTERNAL) __builtin_trap();
  return 0;
}
