/*
 * fuzz_uploadbatch.c: the collector's batch answer as the uploader reads it (untrusted: it
 * decides which records count as delivered). Invariants: an accepted answer has exactly n
 * results, every status in 100..599, every 200 carries a uid without blanks under 128 chars.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outbox/outbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  enum { MAXN = 8 };
  int status[MAXN];
  char uid[MAXN][128];
  bool dup[MAXN];
  int accepted = 0;
  for (size_t n = 1; n <= MAXN; n++) {
    if (kp_upload_parse_batch(data, size, n, status, uid, dup) != KP_OK) continue;
    if (++accepted > 1) abort(); /* only one count can match */
    for (size_t i = 0; i < n; i++) {
      if (status[i] < 100 || status[i] > 599) abort();
      size_t ul = strnlen(uid[i], 128);
      if (ul >= 128) abort();
      if (status[i] == 200 && (ul == 0 || strpbrk(uid[i], " \n\r"))) abort();
    }
  }
  return 0;
}
