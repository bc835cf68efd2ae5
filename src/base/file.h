/*
 * file.h: whole-file reads with a cap, and crash-safe writes.
 *
 * kp_file_write_atomic: write to "<path>.tmp.<random hex>" (O_EXCL, O_NOFOLLOW), fsync, rename over
 * <path>, fsync the directory. After a crash either the old or the new
 * contents exist, never a torn file; nothing half-written is left under <path>.
 */
#ifndef KP_BASE_FILE_H
#define KP_BASE_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"

/** Read all of @p path ("-" = stdin) into @p out (appends; honours out->cap_limit). */
kp_status_t kp_file_read(const char *path, kp_buf_t *out);
kp_status_t kp_file_write_atomic(const char *path, const void *p, size_t n, int mode);
/** mkdir -p with @p mode for created folders. */
kp_status_t kp_mkdirs(const char *path, int mode);
/**
 * Make @p path a private folder: created 0700 (with its parents) when absent;
 * when present it must be a real directory (not a symlink) owned by the
 * effective user, and group/other permission bits are removed (repaired to
 * 0700, *repaired set). KP_ERR_PERM when it belongs to someone else or is not
 * a directory; KP_ERR_IO when it cannot be created or fixed.
 */
kp_status_t kp_dir_private(const char *path, bool *repaired);
/**
 * The state folder from the environment, without I/O: $KEEPON_HOME, else
 * $XDG_DATA_HOME/keepon, else $HOME/.local/share/keepon (values must be
 * absolute). KP_ERR_NOTFOUND when none is set: there is no shared fallback
 * such as /tmp, where another user could pre-create the folder.
 */
kp_status_t kp_state_dir_from_env(const char *keepon_home, const char *xdg, const char *home, char *out,
                                  size_t cap);
/** fsync the directory holding @p path. */
kp_status_t kp_fsync_dir_of(const char *path);

#endif
