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
/* UDP lookup records shared by kp_net_resolve_udp and kp_dnsq (one df-002 entry each). */
/** Record one answer message to query (txid, qtype, t0); its addresses go to @p out (first) or
 *  @p lateout (late). @return the message's df-007 failure or NULL. */
const char *kp_net_record_answer(kp_trace_t *tr, const char *resolver, const char *host, int txid, uint16_t qtype,
                                 double t0, const kp_dns_msg_t *m, bool late, kp_addrs_t *out, kp_addrs_t *lateout);
void kp_net_record_unanswered(kp_trace_t *tr, const char *resolver, const char *host, int txid, uint16_t qtype,
                              double t0, const char *failure);
/** A lookup's failure from its queries' (first answer's or timeout) failures and address count. */
const char *kp_net_lookup_failure(const char *const *qfail, size_t nq, size_t naddrs);
void kp_net_event(kp_net_t *n, int txid, const char *op, const char *address, const char *failure, int64_t bytes);

#endif
