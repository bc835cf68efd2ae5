#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

kp_status_t kp_file_read(const char *path, kp_buf_t *out) {
  int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? KP_ERR_NOTFOUND : KP_ERR_IO;
  kp_status_t st = KP_OK;
  for (;;) {
    if ((st = kp_buf_reserve(out, 65536)) != KP_OK) {
      /* allow a file that fits exactly under the cap */
      if ((st = kp_buf_reserve(out, 1)) != KP_OK) break;
    }
    size_t room = out->alloc - out->len - 1;
    ssize_t r = read(fd, out->data + out->len, room);
    if (r < 0) {
      if (errno == EINTR) continue;
      st = KP_ERR_IO;
      break;
    }
    if (r == 0) break;
    out->len += (size_t)r;
    out->data[out->len] = 0;
  }
  if (fd != 0) close(fd);
  return st;
}

kp_status_t kp_fsync_dir_of(const char *path) {
  char *dup = strdup(path);
  if (!dup) return KP_ERR_NOMEM;
  int dfd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(dup);
  if (dfd < 0) return KP_ERR_IO;
  int rc = fsync(dfd);
  close(dfd);
  return rc == 0 ? KP_OK : KP_ERR_IO;
}

/* Atomic replace: write a temporary file beside @p path, fsync, rename over.
 * The temporary name is "<path>.tmp.<16 random hex>" from getrandom(), opened
 * O_CREAT|O_EXCL|O_NOFOLLOW: in a folder another user can write, a planted
 * file or symlink at a guessable name (the old "<path>.tmp.<pid>") can neither
 * be truncated nor followed to overwrite its target; a collision is retried. */
kp_status_t kp_file_write_atomic(const char *path, const void *p, size_t n, int mode) {
  char tmp[4096];
  int fd = -1;
  for (int attempt = 0; attempt < 8 && fd < 0; attempt++) {
    uint8_t rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) return KP_ERR_IO;
    char hex[17];
    for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%s", path, hex) >= sizeof tmp) return KP_ERR_RANGE;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno != EEXIST) return KP_ERR_IO;
  }
  if (fd < 0) return KP_ERR_IO;
  const uint8_t *q = p;
  size_t left = n;
  while (left) {
    ssize_t w = write(fd, q, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      close(fd);
      unlink(tmp);
      return KP_ERR_IO;
    }
    q += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(tmp);
    return KP_ERR_IO;
  }
  if (rename(tmp, path) != 0) {
    unlink(tmp);
    return KP_ERR_IO;
  }
  return kp_fsync_dir_of(path);
}

kp_status_t kp_mkdirs(const char *path, int mode) {
  char tmp[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof tmp) return KP_ERR_INVAL;
  memcpy(tmp, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (tmp[i] == '/' || tmp[i] == 0) {
      char save = tmp[i];
      tmp[i] = 0;
      if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST) return KP_ERR_IO;
      tmp[i] = save;
    }
  }
  return KP_OK;
}

kp_status_t kp_dir_private(const char *path, bool *repaired) {
  *repaired = false;
  struct stat st;
  if (lstat(path, &st) != 0) {
    if (errno != ENOENT) return KP_ERR_IO;
    kp_status_t rc = kp_mkdirs(path, 0700);
    if (rc != KP_OK) return rc;
    if (lstat(path, &st) != 0) return KP_ERR_IO;
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) return KP_ERR_PERM;
  if (st.st_mode & 077) {
    /* open without following, then fix through the descriptor: no race with a swap to a symlink */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return KP_ERR_IO;
    struct stat st2;
    int ok = fstat(fd, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_dev == st.st_dev &&
             st2.st_uid == geteuid() && fchmod(fd, st2.st_mode & 0700) == 0;
    close(fd);
    if (!ok) return KP_ERR_IO;
    *repaired = true;
  }
  return KP_OK;
}

kp_status_t kp_state_dir_from_env(const char *keepon_home, const char *xdg, const char *home, char *out,
                                  size_t cap) {
  int n;
  if (keepon_home && *keepon_home) n = snprintf(out, cap, "%s", keepon_home);
  else if (xdg && *xdg == '/') n = snprintf(out, cap, "%s/keepon", xdg);
  else if (home && *home == '/') n = snprintf(out, cap, "%s/.local/share/keepon", home);
  else return KP_ERR_NOTFOUND;
  if (n < 0 || (size_t)n >= cap) return KP_ERR_RANGE;
  return KP_OK;
}
