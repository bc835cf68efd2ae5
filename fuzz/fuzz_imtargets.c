/* fuzz_imtargets.c: the IM target-file parser; accepted files give bounded, well-formed targets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_targets_t *t = malloc(sizeof *t);
  if (!t) abort();
  char err[256];
  if (kp_targets_parse(data, size, t, err, sizeof err) == KP_OK) {
    if (t->napps == 0 || t->napps > KP_PROBE_MAX_APPS || t->control.ntargets == 0) abort();
    for (size_t a = 0; a < t->napps; a++) {
      if (t->app[a].ntargets == 0 || t->app[a].ntargets > KP_PROBE_MAX_TARGETS) abort();
      for (size_t i = 0; i < t->app[a].ntargets; i++) {
        const kp_target_t *x = &t->app[a].t[i];
        if (!x->host[0] || x->path[0] != '/' || (x->scheme != KP_SCHEME_DNS && x->port == 0)) abort();
        if (strcmp(x->method, "GET") != 0 && strcmp(x->method, "POST") != 0) abort();
      }
    }
  }
  free(t);
  return 0;
}
