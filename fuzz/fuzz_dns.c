/* fuzz_dns.c: DNS response parser; a parsed message's names stay within bounds and re-parse is stable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_dns_msg_t *m = malloc(sizeof *m), *m2 = malloc(sizeof *m2);
  if (!m || !m2) abort();
  if (kp_dns_parse(data, size, m) == KP_OK) {
    if (strlen(m->qname) > KP_DNS_NAME_MAX || m->nanswers > KP_DNS_MAX_ANSWERS) abort();
    for (size_t i = 0; i < m->nanswers; i++)
      if (strlen(m->an[i].target) > KP_DNS_NAME_MAX) abort();
    /* pure: the same bytes give the same result */
    if (kp_dns_parse(data, size, m2) != KP_OK || m2->nanswers != m->nanswers || strcmp(m2->qname, m->qname) != 0)
      abort();
    /* a query for the parsed name must build when the name is non-empty and short enough */
    uint8_t q[300];
    size_t ql;
    if (m->qname[0] && kp_dns_build_query(m->qname, KP_DNS_A, 1, q, sizeof q, &ql) == KP_OK && ql > sizeof q) abort();
  }
  free(m);
  free(m2);
  return 0;
}
