/* defaults.c: the compiled-in copies of data/targets/im.json and data/roots/signal.pem
 * (generated includes, see CMakeLists.txt). */
#include "probe/probe.h"

#include "im_targets.inc"
#include "signal_roots.inc"

const char *kp_targets_default_json(size_t *len) {
  *len = sizeof im_json - 1;
  return (const char *)im_json;
}

const char *kp_probe_signal_roots_pem(void) { return (const char *)signal_pem; }
