/*
 * inject.c: the lab's on-path DNS injector (I/O around the pure functions of labdns.c).
 *
 * Setup: the censor's firewall drops the client's UDP queries for the target names in FORWARD
 * (lab/censor.sh); this process taps the client-facing interface with an AF_PACKET socket, which
 * sees every incoming frame before netfilter does.
 *
 * Per captured packet (PACKET_HOST only, i.e. sent by the client to the censor's MAC):
 *
 *   not a DNS query / not a target name --> ignored (the kernel forwards it as usual)
 *   target query --> forged answer sent NOW through a raw socket (spoofed from the resolver)
 *                --> original query queued, re-sent at now + delay_ms through a raw socket
 *                    (locally generated: OUTPUT, not FORWARD, so the drop rule does not see it)
 *
 * The queue is bounded (QMAX); when full the oldest entry is released early. On stop every held
 * query is released, so no query the client made is lost by stopping the injector.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "lab/lab.h"

#define QMAX 64
#define TAG "lab-inject"

typedef struct held {
  int64_t due_ns;
  size_t len;
  uint8_t pkt[KP_LAB_PKT_MAX];
} held_t;

typedef struct injector {
  const kp_lab_inject_cfg_t *cfg;
  int tap, raw4, raw6;
  held_t q[QMAX]; /* FIFO: equal delays keep deadlines in order */
  size_t head, count;
  unsigned long seen, forged, released;
} injector_t;

/* Send a complete IP packet (header included) toward its destination address. */
static void send_ip(injector_t *in, const uint8_t *pkt, size_t len) {
  ssize_t n;
  if ((pkt[0] >> 4) == 4) {
    struct sockaddr_in sa = {.sin_family = AF_INET};
    memcpy(&sa.sin_addr, pkt + 16, 4);
    n = sendto(in->raw4, pkt, len, 0, (struct sockaddr *)&sa, sizeof sa);
  } else {
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
    memcpy(&sa.sin6_addr, pkt + 24, 16);
    n = sendto(in->raw6, pkt, len, 0, (struct sockaddr *)&sa, sizeof sa);
  }
  if (n < 0) kp_log_warn(TAG, "sendto");
}

static void release_head(injector_t *in) {
  held_t *h = &in->q[in->head];
  send_ip(in, h->pkt, h->len);
  in->head = (in->head + 1) % QMAX;
  in->count--;
  in->released++;
}

static void hold(injector_t *in, const uint8_t *pkt, size_t len, int64_t now) {
  if (in->count == QMAX) release_head(in);
  held_t *h = &in->q[(in->head + in->count) % QMAX];
  h->due_ns = now + (int64_t)in->cfg->delay_ms * 1000000;
  h->len = len;
  memcpy(h->pkt, pkt, len);
  kp_lab_pkt_fix_csum(h->pkt, h->len); /* parsed as UDP already: cannot fail */
  in->count++;
}

static void on_packet(injector_t *in, const uint8_t *pkt, size_t len) {
  kp_lab_dnsq_t q;
  if (len > KP_LAB_PKT_MAX || kp_lab_dns_parse_query(pkt, len, &q) != KP_OK) return;
  in->seen++;
  if (!kp_lab_name_in(q.qname, in->cfg->names, in->cfg->nnames)) return;
  uint8_t out[KP_LAB_PKT_MAX];
  size_t olen;
  if (kp_lab_dns_forge(&q, pkt, len, in->cfg->forge4, in->cfg->forge6, out, sizeof out, &olen) == KP_OK) {
    send_ip(in, out, olen);
    in->forged++;
  }
  hold(in, pkt, len, kp_now_mono(in->cfg->clock));
  kp_log_debug(TAG, "query %s id %u type %u: forged, true query held %d ms", q.qname, q.id, q.qtype,
               in->cfg->delay_ms);
}

static kp_status_t open_sockets(injector_t *in) {
  unsigned ifx = if_nametoindex(in->cfg->iface);
  if (!ifx) {
    kp_log_warn(TAG, "interface %s", in->cfg->iface);
    return KP_ERR_NOTFOUND;
  }
  in->tap = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
  in->raw4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);  /* implies IP_HDRINCL */
  in->raw6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW); /* implies IPV6_HDRINCL */
  if (in->tap < 0 || in->raw4 < 0 || in->raw6 < 0) {
    kp_log_warn(TAG, "socket (needs CAP_NET_RAW)");
    return errno == EPERM || errno == EACCES ? KP_ERR_PERM : KP_ERR_IO;
  }
  struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)ifx};
  if (bind(in->tap, (struct sockaddr *)&ll, sizeof ll) < 0) {
    kp_log_warn(TAG, "bind %s", in->cfg->iface);
    return KP_ERR_IO;
  }
  return KP_OK;
}

static void drain_tap(injector_t *in) {
  uint8_t buf[KP_LAB_PKT_MAX + 64];
  for (int i = 0; i < 256; i++) {
    struct sockaddr_ll from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(in->tap, buf, sizeof buf, MSG_TRUNC, (struct sockaddr *)&from, &fl);
    if (n < 0) return; /* EAGAIN: drained */
    if (from.sll_pkttype != PACKET_HOST) continue;
    if ((size_t)n > sizeof buf) continue; /* truncated: not a query we forge */
    uint16_t proto = ntohs(from.sll_protocol);
    if (proto != ETH_P_IP && proto != ETH_P_IPV6) continue;
    on_packet(in, buf, (size_t)n);
  }
}

kp_status_t kp_lab_inject_run(const kp_lab_inject_cfg_t *cfg) {
  if (!cfg || !cfg->iface || !cfg->stop || !cfg->clock || !cfg->names || cfg->nnames == 0 ||
      cfg->delay_ms < 0 || cfg->delay_ms > 5000)
    return KP_ERR_INVAL;
  injector_t *in = calloc(1, sizeof *in); /* ~100 KB of held packets: not on the stack */
  if (!in) return KP_ERR_NOMEM;
  in->cfg = cfg;
  in->tap = in->raw4 = in->raw6 = -1;
  kp_status_t st = open_sockets(in);
  if (st == KP_OK) {
    if (cfg->on_ready) cfg->on_ready(cfg->ctx);
    while (!*cfg->stop) {
      int64_t now = kp_now_mono(cfg->clock);
      while (in->count && in->q[in->head].due_ns <= now) release_head(in);
      int timeout = 200; /* also bounds how late a stop request is seen */
      if (in->count) {
        int64_t ms = (in->q[in->head].due_ns - now + 999999) / 1000000;
        if (ms < timeout) timeout = (int)ms;
      }
      struct pollfd pfd = {.fd = in->tap, .events = POLLIN};
      int r = poll(&pfd, 1, timeout);
      if (r < 0 && errno != EINTR) {
        kp_log_warn(TAG, "poll");
        st = KP_ERR_IO;
        break;
      }
      if (r > 0) drain_tap(in);
    }
    while (in->count) release_head(in);
    kp_log_info(TAG, "%lu queries seen, %lu forged, %lu released", in->seen, in->forged, in->released);
  }
  if (in->tap >= 0) close(in->tap);
  if (in->raw4 >= 0) close(in->raw4);
  if (in->raw6 >= 0) close(in->raw6);
  free(in);
  return st;
}
