#include "base/status.h"

static const char *const kp_status_names[KP_STATUS_COUNT] = {
  [KP_OK] = "ok",
  [KP_ERR_NOMEM] = "out of memory or size cap reached",
  [KP_ERR_INVAL] = "invalid argument or malformed input",
  [KP_ERR_TRUNC] = "truncated input",
  [KP_ERR_RANGE] = "value out of range",
  [KP_ERR_IO] = "I/O error",
  [KP_ERR_NOTFOUND] = "not found",
  [KP_ERR_EXISTS] = "already exists",
  [KP_ERR_TIMEOUT] = "timed out",
  [KP_ERR_UNSUPPORTED] = "unsupported",
  [KP_ERR_INTERNAL] = "internal error",
  [KP_ERR_BUSY] = "busy",
  [KP_ERR_PERM] = "not permitted",
};

const char *kp_strstatus(kp_status_t st) {
  if ((unsigned)st >= KP_STATUS_COUNT || !kp_status_names[st]) return "unknown status";
  return kp_status_names[st];
}
