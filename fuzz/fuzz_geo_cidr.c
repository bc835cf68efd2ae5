/* fuzz_geo_cidr.c: the CIDR-list and ip-location-db ASN CSV parsers on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "geo/geo_parse.h"

static kp_status_t row(void *ctx, const kp_geo_row_t *r) {
  (void)ctx;
  return r->len > 32 ? KP_ERR_INTERNAL : KP_OK;
}
static kp_status_t rng(void *ctx, const kp_geo_asn_range_t *r) {
  (void)ctx;
  return r->last < r->first ? KP_ERR_INTERNAL : KP_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t line;
  if (kp_geo_parse_cidr(data, size, row, NULL, &line) == KP_ERR_INTERNAL) __builtin_trap();
  if (kp_geo_parse_asn_csv(data, size, rng, NULL, &line) == KP_ERR_INTERNAL) __builtin_trap();
  return 0;
}
