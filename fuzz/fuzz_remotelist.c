/* fuzz_remotelist.c: src/remote's list parsers (servers, names, opt-out, scan CIDRs) and the scan's
 * PTR-name rule on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "remote/remote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_rmt_target_t *t = NULL;
  kp_rmt_name_t *nm = NULL;
  size_t n = 0, bad = 0;
  if (kp_rmt_targets_parse(data, size, &t, &n, &bad) == KP_OK) {
    for (size_t i = 0; i < n; i++)
      if (t[i].role < KP_RMT_RESOLVER || t[i].role > KP_RMT_WEB || (t[i].addr.family != 4 && t[i].addr.family != 6))
        __builtin_trap();
  }
  free(t);
  if (kp_rmt_names_parse(data, size, &nm, &n, &bad) == KP_OK) {
    for (size_t i = 0; i < n; i++)
      if (!nm[i].s[0] || strlen(nm[i].s) > KP_RMT_NAME_MAX) __builtin_trap();
  }
  free(nm);
  kp_rmt_policy_t *p = NULL;
  if (kp_rmt_policy_new(false, &p) == KP_OK) {
    kp_status_t st = kp_rmt_policy_optout(p, data, size, &bad);
    if (st != KP_OK && kp_rmt_policy_optouts(p) != 0) __builtin_trap(); /* all or nothing */
    kp_rmt_policy_free(p);
  }
  kp_prefix_t *pv = NULL;
  if (kp_rmt_cidrs_parse(data, size, &pv, &n, &bad) == KP_OK) {
    for (size_t i = 0; i < n; i++)
      if (pv[i].addr.family != 4 || pv[i].len > 32) __builtin_trap();
  } else if (pv || n) {
    __builtin_trap(); /* a rejected list hands back nothing */
  }
  free(pv);
  char name[300];
  size_t k = size < sizeof name - 1 ? size : sizeof name - 1;
  memcpy(name, data, k);
  name[k] = 0;
  if (kp_rmt_scan_infra_ptr(name) && strncmp(name, "ns", 2) != 0 && strncmp(name, "nameserver", 10) != 0)
    __builtin_trap();
  return 0;
}
