/* fuzz_access.c: keepon's table of networks (ASN -> mobile|fixed). Invariants: a parsed table
 * has distinct non-zero ASNs with a known access type, and each looks itself up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "reach/reach.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static kp_access_table_t t;
  char err[128];
  if (kp_access_parse(data, size, &t, err, sizeof err) != KP_OK) return 0;
  for (size_t i = 0; i < t.n; i++) {
    char asn[16];
    snprintf(asn, sizeof asn, "AS%u", (unsigned)t.row[i].asn);
    if (!t.row[i].asn || t.row[i].access == KP_ACCESS_UNKNOWN || kp_access_lookup(&t, asn) != t.row[i].access) abort();
  }
  return 0;
}
