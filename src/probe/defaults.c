/* defaults.c: the compiled-in copy of data/targets/im.json (generated include, see CMakeLists.txt). */
#include "probe/probe.h"

#include "im_targets.inc"

const char *kp_targets_default_json(size_t *len) {
  *len = sizeof im_json - 1;
  return (const char *)im_json;
}
