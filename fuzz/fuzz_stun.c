/* fuzz_stun.c: the STUN Binding response parser and the IP-lookup body parser on arbitrary
 * bytes. The transaction id is taken from the input itself (bytes 8..19) so the fuzzer can
 * reach past the id check; a parsed address must have a family of 4 or 6. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "locate/locate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t txid[12] = {0};
  if (size >= 20) memcpy(txid, data + 8, 12);
  kp_stun_mapped_t m;
  if (kp_stun_parse_response(data, size, txid, &m) == KP_OK && m.addr.family != 4 && m.addr.family != 6)
    __builtin_trap();
  kp_addr_t a;
  if (kp_locate_parse_ip_body(data, size, &a) == KP_OK && a.family != 4 && a.family != 6) __builtin_trap();
  return 0;
}
