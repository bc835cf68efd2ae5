/* fuzz_reachlist.c: the reach list parser (any bytes) and the reach windows reader (the same
 * bytes as JSONL measurements). Invariants: a parsed list has 1..KP_REACH_MAX entries, each with
 * a NUL-terminated name and host and a port where the kind needs one; windows are in time order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reach/reach.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static kp_reach_list_t l;
  char err[128];
  if (kp_reach_list_parse(data, size, &l, err, sizeof err) == KP_OK) {
    if (!l.n || l.n > KP_REACH_MAX) abort();
    for (size_t i = 0; i < l.n; i++) {
      const kp_reach_target_t *t = &l.t[i];
      if (memchr(t->name, 0, sizeof t->name) == NULL || memchr(t->host, 0, sizeof t->host) == NULL) abort();
      if (!t->name[0] || !t->host[0] || (t->kind == KP_REACH_TCP && t->port == 0)) abort();
    }
  } else if (memchr(err, 0, sizeof err) == NULL) {
    abort();
  }
  kp_reach_windows_t w;
  if (kp_reach_windows(data, size, NULL, &w) == KP_OK) {
    for (size_t i = 1; i < w.n; i++)
      if (w.v[i].start < w.v[i - 1].end) abort();
    kp_buf_t out;
    kp_buf_init(&out, 1 << 24);
    if (kp_reach_windows_json(&w, &out) != KP_OK) abort();
    kp_buf_free(&out);
    kp_reach_windows_free(&w);
  }
  return 0;
}
