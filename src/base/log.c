#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static kp_log_level_t g_level = KP_LOG_WARN;
static const char *const names[] = {"error", "warning", "info", "debug", "trace"};

void kp_log_set_level(kp_log_level_t lvl) { g_level = lvl; }
kp_log_level_t kp_log_get_level(void) { return g_level; }

__attribute__((format(printf, 4, 0))) static void vlog(kp_log_level_t lvl, const char *tag, int err, const char *fmt, va_list ap) {
  if (lvl > g_level) return;
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (err) {
    char eb[128];
    fprintf(stderr, "keepon[%s] %s: %s: %s\n", tag, names[lvl], msg, strerror_r(err, eb, sizeof eb));
  } else {
    fprintf(stderr, "keepon[%s] %s: %s\n", tag, names[lvl], msg);
  }
}

void kp_log(kp_log_level_t lvl, const char *tag, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(lvl, tag, 0, fmt, ap);
  va_end(ap);
}

void kp_log_warn(const char *tag, const char *fmt, ...) {
  int err = errno;
  va_list ap;
  va_start(ap, fmt);
  vlog(KP_LOG_WARN, tag, err, fmt, ap);
  va_end(ap);
}
