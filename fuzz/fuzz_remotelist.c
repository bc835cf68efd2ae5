/* fuzz_remotelist.c: src/remote's list parsers (servers, names, opt-out) on arbitrary bytes. */
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
  return 0;
}
