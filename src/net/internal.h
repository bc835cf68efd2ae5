/*
 * internal.h: what the src/net/ files share (not part of the module's API).
 */
#ifndef KP_NET_INTERNAL_H
#define KP_NET_INTERNAL_H

#include <openssl/ssl.h>
#include <sys/socket.h>

#include "net/net.h"

struct kp_net {
  const kp_net_cfg_t *cfg;
  const kp_clock_t *clk;
  kp_trace_t *trace;
  SSL_CTX *ssl;
};

struct kp_conn {
  int fd;
  SSL *ssl;     /* NULL for cleartext */
  int txid;
  kp_addr_t peer;
  uint16_t port;
};

/** Absolute deadline for a step of @p step_s seconds, never past cfg->deadline_ns. */
int64_t kp_net_deadline(const kp_net_t *n, double step_s);
/** Milliseconds left until @p deadline (0 when passed). */
int kp_net_ms_left(const kp_net_t *n, int64_t deadline);
void kp_net_hostport(const kp_addr_t *a, uint16_t port, char *out /* [KP_ADDR_STRLEN + 8] */);
void kp_net_event(kp_net_t *n, int txid, const char *op, const char *address, const char *failure, int64_t bytes);

#endif
