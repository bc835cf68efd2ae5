/* common.c: state folder, data folder and the first-run privacy notice. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "cli/cli.h"

/* The state folder holds unsent measurements (who measured what, where): it
 * must be private. No /tmp fallback when HOME is unset (another user could
 * own or pre-create it); an existing folder of another owner is refused, one
 * with group/other bits is repaired to 0700. NULL (after one clear message on
 * stderr) when no safe folder is available. */
const char *kp_cli_state_dir(void) {
  static char dir[PATH_MAX];
  static bool failed;
  if (dir[0]) return dir;
  if (failed) return NULL;
  char d[PATH_MAX];
  kp_status_t st = kp_state_dir_from_env(getenv("KEEPON_HOME"), getenv("XDG_DATA_HOME"), getenv("HOME"), d, sizeof d);
  if (st != KP_OK) {
    failed = true;
    fprintf(stderr, "keepon: no state folder: set HOME (or KEEPON_HOME / XDG_DATA_HOME) to an absolute path\n");
    return NULL;
  }
  bool repaired = false;
  st = kp_dir_private(d, &repaired);
  if (st != KP_OK) {
    failed = true;
    fprintf(stderr, "keepon: state folder %s is not usable: %s\n", d,
            st == KP_ERR_PERM ? "not a directory owned by you (refusing to use it)" : strerror(errno));
    return NULL;
  }
  if (repaired) fprintf(stderr, "keepon: state folder %s was readable by others; permissions set to 0700\n", d);
  memcpy(dir, d, sizeof dir);
  return dir;
}

const char *kp_cli_data_dir(void) {
  static char dir[PATH_MAX];
  if (dir[0]) return dir;
  const char *e = getenv("KEEPON_DATA");
  if (e && *e) {
    snprintf(dir, sizeof dir, "%s", e);
    return dir;
  }
  /* the source tree's data/ next to the binary's build folder, else the install prefix */
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    for (int up = 0; up < 4; up++) {
      char cand[PATH_MAX + 32];
      snprintf(cand, sizeof cand, "%s/data/targets", exe);
      struct stat st;
      if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode)) {
        if ((size_t)snprintf(dir, sizeof dir, "%.*s/data", PATH_MAX - 8, exe) < sizeof dir) return dir;
        dir[0] = 0;
      }
      slash = strrchr(exe, '/');
      if (!slash) break;
      *slash = 0;
    }
  }
  snprintf(dir, sizeof dir, "%s", KP_DATA_INSTALL_DIR);
  return dir;
}

void kp_cli_privacy_notice(void) {
  char marker[PATH_MAX + 32];
  const char *state = kp_cli_state_dir();
  /* no usable state folder (the refusal was printed): nothing can record the notice, so it is
   * shown, as on every run where it cannot be recorded */
  int fd = -1;
  if (state) {
    snprintf(marker, sizeof marker, "%s/.privacy-notice-shown", state);
    fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  if (fd < 0 && errno == EEXIST) return; /* recorded as shown before */
  /* a marker we cannot create (state folder unwritable, missing): not recorded, so shown every time */
  bool recorded = fd >= 0 && close(fd) == 0;
  fprintf(stderr,
          "keepon: privacy notice (%s)\n"
          "  keepon stores and sends nothing that identifies you by default: no IP address\n"
          "  (probe_ip is written as 127.0.0.1), no host name, no user name. It records the\n"
          "  country and network (ASN) you give it, and what it measured. --with-probe-ip\n"
          "  adds your address only when you ask. Measurements stay in %s\n"
          "  until you upload them. In some places running a probe is dangerous: think first.\n",
          recorded ? "shown once" : "shown every run: the state folder cannot record it",
          state ? state : "the state folder (none usable now)");
}

bool kp_cli_measurement_path(const char *cmd, const char *kind, char *out, size_t cap) {
  char dir[PATH_MAX];
  const char *state = kp_cli_state_dir();
  if (!state) return false;
  int w = snprintf(dir, sizeof dir, "%s/measurements", state);
  if (w < 0 || (size_t)w >= sizeof dir || kp_mkdirs(dir, 0700) != KP_OK) {
    fprintf(stderr, "%s: cannot create %s/measurements\n", cmd, state);
    return false;
  }
  char ts[21];
  kp_time_iso(time(NULL), ts);
  w = snprintf(out, cap, "%s/%s-%s.jsonl", dir, kind, ts);
  if (w < 0 || (size_t)w >= cap) {
    fprintf(stderr, "%s: the path under %s is too long\n", cmd, dir);
    return false;
  }
  return true;
}
