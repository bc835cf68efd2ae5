/*
 * file.h: whole-file reads with a cap, and crash-safe writes.
 *
 * kp_file_write_atomic: write to "<path>.tmp.<random hex>" (O_EXCL, O_NOFOLLOW), fsync, rename over
 * <path>, fsync the directory. After a crash either the old or the new
 * contents exist, never a torn file; nothing half-written is left under <path>.
 */
#ifndef KP_BASE_FILE_H
#define KP_BASE_FILE_H

#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"

/** Read all of @p path ("-" = stdin) into @p out (appends; honours out->cap_limit). */
kp_status_t kp_file_read(const char *path, kp_buf_t *out);
kp_status_t kp_file_write_atomic(const char *path, const void *p, size_t n, int mode);
/** mkdir -p with @p mode for created folders. */
kp_status_t kp_mkdirs(const char *path, int mode);
/** fsync the directory holding @p path. */
kp_status_t kp_fsync_dir_of(const char *path);

#endif
