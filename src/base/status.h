/*
 * status.h: the one status type every fallible keepon function returns.
 *
 * A measurement that fails (timeout, reset, NXDOMAIN, a blocked target) is
 * DATA, recorded in the measurement; it is never a kp_status_t error. Only a
 * broken run (bad input, out of memory, I/O failure on our own files) is.
 */
#ifndef KP_BASE_STATUS_H
#define KP_BASE_STATUS_H

typedef enum kp_status {
  KP_OK = 0,
  KP_ERR_NOMEM,      /* allocation failed or a size cap was hit */
  KP_ERR_INVAL,      /* bad argument or malformed input */
  KP_ERR_TRUNC,      /* input ended before a complete item */
  KP_ERR_RANGE,      /* value out of the allowed range */
  KP_ERR_IO,         /* read/write/open failed; errno is meaningful */
  KP_ERR_NOTFOUND,   /* key, file or item absent */
  KP_ERR_EXISTS,     /* already present (duplicate) */
  KP_ERR_TIMEOUT,    /* our own operation ran out of time */
  KP_ERR_UNSUPPORTED,/* well-formed but not handled */
  KP_ERR_INTERNAL,   /* an invariant did not hold */
  KP_ERR_BUSY,       /* try again later */
  KP_ERR_PERM,       /* not allowed (privileges, signature) */
  KP_STATUS_COUNT
} kp_status_t;

/** @return a static English description of @p st; never NULL. */
const char *kp_strstatus(kp_status_t st);

/* Defensive checks that stay in release builds (after sqlite's ALWAYS/NEVER). */
#define KP_ALWAYS(x) (__builtin_expect(!!(x), 1))
#define KP_NEVER(x)  (__builtin_expect(!!(x), 0))

#endif
