/*
 * fuzz_evtar.c: the ustar reader of evidence bundles over arbitrary bytes (a bundle is a file an
 * adversary may have touched). Whatever parses must write back to an archive that parses to
 * the same names and bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/evidence.h"
#include "evidence/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_ev_entry_t e[16], e2[16];
  size_t n = 0, n2 = 0;
  const char *why;
  if (kp_ev_tar_parse(data, size, e, 16, &n, &why) != KP_OK) return 0;
  kp_buf_t b;
  kp_buf_init(&b, 1 << 26);
  for (size_t i = 0; i < n; i++)
    if (kp_ev_tar_add(&b, e[i].name, e[i].data, e[i].len, 0) != KP_OK) goto out; /* a name ustar cannot split */
  if (kp_ev_tar_end(&b) != KP_OK) goto out;
  if (kp_ev_tar_parse(b.data, b.len, e2, 16, &n2, &why) != KP_OK || n2 != n) abort();
  for (size_t i = 0; i < n; i++)
    if (strcmp(e[i].name, e2[i].name) || e[i].len != e2[i].len || memcmp(e[i].data, e2[i].data, e[i].len)) abort();
out:
  kp_buf_free(&b);
  return 0;
}
