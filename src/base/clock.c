#include "base/clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int64_t sys_mono(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t sys_wall(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const kp_clock_t g_system = {.mono_ns = sys_mono, .wall_ns = sys_wall, .ctx = NULL};

const kp_clock_t *kp_clock_system(void) { return &g_system; }

static int64_t manual_now(void *ctx) { return ((kp_clock_manual_t *)ctx)->now_ns; }

void kp_clock_manual_init(kp_clock_manual_t *m, int64_t start_ns) {
  m->now_ns = start_ns;
  m->clock.mono_ns = manual_now;
  m->clock.wall_ns = manual_now;
  m->clock.ctx = m;
}

void kp_time_ooni(time_t t, char out[20]) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 20, "%Y-%m-%d %H:%M:%S", &tm);
}

void kp_time_iso(time_t t, char out[21]) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int dig2(const char *p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

/*
 * The shapes OONI and keepon write: "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS",
 * "YYYY-MM-DDTHH:MM:SS" and either with a trailing 'Z', every field all
 * digits. On these sscanf below reads the same values; anything else (signs,
 * spaces, short fields) still goes through sscanf, so what is accepted and
 * rejected does not change.
 */
static bool canonical_time(const char *s, size_t len) {
  static const char shape[] = "dddd-dd-dd?dd:dd:dd";
  if (len != 10 && len != 19 && !(len == 20 && s[19] == 'Z')) return false;
  size_t m = len == 10 ? 10 : 19;
  for (size_t i = 0; i < m; i++) {
    char c = s[i];
    if (shape[i] == 'd') {
      if (c < '0' || c > '9') return false;
    } else if (shape[i] == '?') {
      if (c != ' ' && c != 'T') return false;
    } else if (c != shape[i]) return false;
  }
  return true;
}

int kp_time_parse(const char *s, time_t *out) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  int y, mo, d, h = 0, mi = 0, se = 0, n = 0;
  char sep = 0;
  size_t len = strlen(s);
  if (canonical_time(s, len)) {
    /* Same fields sscanf would read from this exact shape; no vfscanf per request. */
    y = dig2(s) * 100 + dig2(s + 2);
    mo = dig2(s + 5);
    d = dig2(s + 8);
    if (len > 10) {
      h = dig2(s + 11);
      mi = dig2(s + 14);
      se = dig2(s + 17);
    }
  } else if (len == 10) {
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) return -1;
  } else {
    if (sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &se, &n) != 7) return -1;
    if (sep != ' ' && sep != 'T') return -1;
    if (!(s[n] == 0 || (s[n] == 'Z' && s[n + 1] == 0))) return -1;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return -1;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  *out = timegm(&tm);
  return 0;
}
