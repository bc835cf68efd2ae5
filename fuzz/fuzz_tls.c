/* fuzz_tls.c: TLS record parser; results stay within bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_tls_info_t ti;
  kp_status_t st = kp_tls_parse(data, size, &ti);
  if (st == KP_OK && ti.nrecords == 0) abort();
  if (strlen(ti.sni) > KP_DNS_NAME_MAX) abort();
  if (st == KP_OK && ti.nrecords > size / 5) abort(); /* every record has a 5-byte header */
  return 0;
}
