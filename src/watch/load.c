/*
 * load.c: file wrappers around the watch module's pure parsers (census, history, blocklist,
 * sim model). Every read is capped; a malformed file is reported with its line and rejected.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"
#include "watch/watch.h"

#define TAG "watch"
#define CAP ((size_t)1 << 31)

static kp_status_t slurp(const char *path, kp_buf_t *b) {
  kp_buf_init(b, CAP);
  kp_status_t st = kp_file_read(path, b);
  if (st != KP_OK) kp_log_error(TAG, "%s: %s", path, st == KP_ERR_IO || st == KP_ERR_NOTFOUND
                                                           ? strerror(errno) : kp_strstatus(st));
  return st;
}

kp_status_t kp_wuniv_load_census(kp_wuniv_t *u, const kp_wuniv_limits_t *lim, const char *path) {
  kp_buf_t b;
  kp_status_t st = slurp(path, &b);
  size_t line = 0;
  if (st == KP_OK) {
    st = kp_wuniv_parse_census(u, lim, kp_buf_str(&b), b.len, &line);
    if (st != KP_OK) kp_log_error(TAG, "%s:%zu: bad census line (%s)", path, line, kp_strstatus(st));
  }
  kp_buf_free(&b);
  return st;
}

kp_status_t kp_wuniv_load_history(kp_wuniv_t *u, const kp_wuniv_limits_t *lim, const char *path) {
  kp_buf_t b;
  kp_status_t st = slurp(path, &b);
  size_t line = 0;
  if (st == KP_OK) {
    st = kp_wuniv_parse_history(u, lim, kp_buf_str(&b), b.len, &line);
    if (st != KP_OK) kp_log_error(TAG, "%s:%zu: bad history line (%s)", path, line, kp_strstatus(st));
  }
  kp_buf_free(&b);
  return st;
}

kp_status_t kp_wblock_load(const char *path, kp_wblock_t **out) {
  kp_buf_t b;
  kp_status_t st = slurp(path, &b);
  size_t line = 0;
  if (st == KP_OK) {
    st = kp_wblock_parse(kp_buf_str(&b), b.len, out, &line);
    if (st != KP_OK) kp_log_error(TAG, "%s:%zu: bad blocklist line (%s)", path, line, kp_strstatus(st));
  }
  kp_buf_free(&b);
  return st;
}

kp_status_t kp_wsim_load(const char *path, kp_wsim_t **out, char *err, size_t errcap) {
  kp_buf_t b;
  kp_status_t st = slurp(path, &b);
  if (st == KP_OK) {
    char *dup = strdup(path);
    if (!dup) st = KP_ERR_NOMEM;
    else st = kp_wsim_parse(kp_buf_str(&b), b.len, dirname(dup), out, err, errcap);
    free(dup);
  } else if (err && errcap) {
    snprintf(err, errcap, "cannot read the model file");
  }
  kp_buf_free(&b);
  return st;
}
