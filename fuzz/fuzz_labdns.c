/* fuzz_labdns.c: the lab injector's packet parser and forger. A parsed query must forge into a
 * packet whose checksums verify and that echoes the query's ID and ports; fixing checksums of any
 * accepted UDP packet must make them verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lab/lab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_lab_dnsq_t q;
  if (kp_lab_dns_parse_query(data, size, &q) == KP_OK) {
    if (strlen(q.qname) >= sizeof q.qname) abort();
    if (q.q_off + q.q_len > size) abort();
    static const uint8_t f4[4] = {198, 19, 66, 66};
    static const uint8_t f6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x66, [15] = 0x66};
    uint8_t out[KP_LAB_PKT_MAX];
    size_t olen = 0;
    if (kp_lab_dns_forge(&q, data, size, f4, f6, out, sizeof out, &olen) == KP_OK) {
      if (olen > sizeof out || !kp_lab_pkt_csum_ok(out, olen)) abort();
      size_t l4 = q.family == 4 ? 20 : 40;
      if (((size_t)out[l4] << 8 | out[l4 + 1]) != q.dport) abort();
      if (((size_t)out[l4 + 8] << 8 | out[l4 + 9]) != q.id) abort();
    }
    const char *names[] = {q.qname};
    if (q.qname[0] && !kp_lab_name_in(q.qname, names, 1)) abort();
  }
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  if (size) memcpy(copy, data, size);
  if (kp_lab_pkt_fix_csum(copy, size) == KP_OK && !kp_lab_pkt_csum_ok(copy, size)) abort();
  free(copy);
  return 0;
}
