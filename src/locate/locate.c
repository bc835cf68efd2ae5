/*
 * locate.c: the I/O side of locate.h — STUN over UDP, IP lookup over the control-plane
 * client, the whoami lookup, and the state machine that ties them to src/geo.
 * Sockets are connected UDP sockets (only the server we asked can answer) with poll()
 * deadlines; a STUN request is sent again once halfway through its timeout (RFC 5389 7.2.1
 * retransmits; one repeat is enough for a measurement that will try the next server).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "base/log.h"
#include "geo/geo.h"
#include "httpc/httpc.h"
#include "locate/locate.h"
#include "net/net.h"

const char *const kp_locate_default_stun[] = {"stun.l.google.com:19302", "stun.ekiga.net:3478", NULL};
const char *const kp_locate_default_urls[] = {"https://www.cloudflare.com/cdn-cgi/trace",
                                              "https://geoip.ubuntu.com/lookup", NULL};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "host:port" or "[v6]:port" -> host, port strings. */
static kp_status_t split_hostport(const char *hp, char *host, size_t hcap, char *port, size_t pcap) {
  const char *colon;
  size_t hl;
  if (hp[0] == '[') {
    const char *rb = strchr(hp, ']');
    if (!rb || rb[1] != ':') return KP_ERR_INVAL;
    hp++;
    hl = (size_t)(rb - hp);
    colon = rb + 1;
  } else {
    colon = strrchr(hp, ':');
    if (!colon) return KP_ERR_INVAL;
    hl = (size_t)(colon - hp);
  }
  size_t pl = strlen(colon + 1);
  if (!hl || hl >= hcap || !pl || pl >= pcap || strspn(colon + 1, "0123456789") != pl) return KP_ERR_INVAL;
  memcpy(host, hp, hl);
  host[hl] = 0;
  memcpy(port, colon + 1, pl + 1);
  return KP_OK;
}

/* Send @p q (again at half time) and wait for the answer; fd is connected. @p acc says, per
 * datagram: KP_OK done; KP_ERR_INVAL / KP_ERR_TRUNC not ours or garbage, keep waiting (a
 * spoofed datagram must not end the exchange); anything else: done with that status (an
 * error response or an NXDOMAIN is an answer, waiting longer would not change it). */
typedef kp_status_t (*accept_fn)(void *ctx, const uint8_t *p, size_t n);
static kp_status_t exchange(int fd, const uint8_t *q, size_t qn, int timeout_ms, accept_fn acc, void *ctx) {
  int64_t start = now_ms(), deadline = start + timeout_ms;
  bool resent = false;
  if (send(fd, q, qn, 0) < 0) return KP_ERR_IO;
  for (;;) {
    int64_t t = now_ms();
    if (t >= deadline) return KP_ERR_TIMEOUT;
    int64_t wake = resent ? deadline : start + timeout_ms / 2;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r = poll(&pfd, 1, (int)(wake > t ? wake - t : 0));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return KP_ERR_IO;
    if (r == 0) {
      if (!resent) {
        resent = true;
        if (send(fd, q, qn, 0) < 0) return KP_ERR_IO;
      }
      continue;
    }
    uint8_t buf[1500];
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return KP_ERR_IO; /* ICMP unreachable shows up here on a connected socket */
    }
    kp_status_t st = acc(ctx, buf, (size_t)got);
    if (st != KP_ERR_INVAL && st != KP_ERR_TRUNC) return st;
  }
}

static int udp_connect(const struct sockaddr *sa, socklen_t len) {
  int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, sa, len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

typedef struct stun_ctx {
  uint8_t txid[12];
  kp_stun_mapped_t *out;
  kp_status_t last;
} stun_ctx_t;

static kp_status_t stun_accept(void *ctx, const uint8_t *p, size_t n) {
  stun_ctx_t *s = ctx;
  s->last = kp_stun_parse_response(p, n, s->txid, s->out);
  return s->last;
}

kp_status_t kp_locate_stun(const char *hostport, int timeout_ms, kp_stun_mapped_t *out) {
  char host[256], port[8];
  if (!hostport || !out || split_hostport(hostport, host, sizeof host, port, sizeof port) != KP_OK) return KP_ERR_INVAL;
  if (timeout_ms <= 0) timeout_ms = 3000;
  struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_family = AF_UNSPEC}, *ai = NULL;
  if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) return KP_ERR_NOTFOUND;
  kp_status_t st = KP_ERR_IO;
  for (struct addrinfo *a = ai; a; a = a->ai_next) {
    int fd = udp_connect(a->ai_addr, a->ai_addrlen);
    if (fd < 0) continue;
    stun_ctx_t ctx = {.out = out, .last = KP_ERR_TIMEOUT};
    if (getrandom(ctx.txid, sizeof ctx.txid, 0) != (ssize_t)sizeof ctx.txid) {
      close(fd);
      st = KP_ERR_IO;
      break;
    }
    uint8_t q[KP_STUN_HDR];
    size_t qn;
    st = kp_stun_binding_request(ctx.txid, q, sizeof q, &qn);
    if (st == KP_OK) st = exchange(fd, q, qn, timeout_ms, stun_accept, &ctx);
    close(fd);
    if (st == KP_OK) break;
    kp_log_debug("locate", "stun %s: %s", hostport, kp_strstatus(st));
  }
  freeaddrinfo(ai);
  return st;
}

typedef struct dns_ctx {
  uint16_t id;
  kp_addr_t *out;
} dns_ctx_t;

static kp_status_t dns_accept(void *ctx, const uint8_t *p, size_t n) {
  dns_ctx_t *d = ctx;
  static __thread kp_dns_msg_t m; /* ~9 KB: off the stack */
  if (kp_dns_parse(p, n, &m) != KP_OK || m.id != d->id) return KP_ERR_INVAL;
  for (size_t i = 0; i < m.nanswers; i++)
    if (m.an[i].type == 1 /* A */ || m.an[i].type == 28 /* AAAA */) {
      *d->out = m.an[i].addr;
      return KP_OK;
    }
  return KP_ERR_NOTFOUND;
}

kp_status_t kp_locate_whoami(const kp_addr_t *resolver, uint16_t port, const char *name, int timeout_ms,
                             kp_addr_t *out) {
  if (!resolver || !name || !*name || !out || (resolver->family != 4 && resolver->family != 6)) return KP_ERR_INVAL;
  if (timeout_ms <= 0) timeout_ms = 3000;
  struct sockaddr_storage ss = {0};
  socklen_t sl;
  if (resolver->family == 4) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port ? port : 53);
    memcpy(&s4->sin_addr, resolver->b, 4);
    sl = sizeof *s4;
  } else {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port ? port : 53);
    memcpy(&s6->sin6_addr, resolver->b, 16);
    sl = sizeof *s6;
  }
  dns_ctx_t ctx = {.out = out};
  if (getrandom(&ctx.id, sizeof ctx.id, 0) != (ssize_t)sizeof ctx.id) return KP_ERR_IO;
  uint8_t q[512];
  size_t qn;
  kp_status_t st = kp_dns_build_query(name, 1, ctx.id, q, sizeof q, &qn);
  if (st != KP_OK) return st;
  int fd = udp_connect((struct sockaddr *)&ss, sl);
  if (fd < 0) return KP_ERR_IO;
  st = exchange(fd, q, qn, timeout_ms, dns_accept, &ctx);
  close(fd);
  return st;
}

static void map(const kp_geo_t *g, const kp_addr_t *a, char *cc, uint32_t *asn, char *name, size_t ncap) {
  kp_geo_info_t gi;
  if (!g || kp_geo_lookup(g, a, &gi) != KP_OK) return;
  if (cc) snprintf(cc, 3, "%s", gi.cc);
  *asn = gi.asn;
  snprintf(name, ncap, "%s", gi.as_name);
}

kp_status_t kp_locate(const kp_locate_cfg_t *cfg, kp_locate_result_t *out) {
  if (!cfg || !out) return KP_ERR_INVAL;
  memset(out, 0, sizeof *out);
  int step = cfg->timeout_ms > 0 ? cfg->timeout_ms : 3000, tmo = step;
  int64_t end = now_ms() + (cfg->budget_ms > 0 ? cfg->budget_ms : 6000);
#define LEFT() ((tmo = (int)(end - now_ms() < step ? end - now_ms() : step)) > 0)
  const char *const *stun = cfg->stun ? cfg->stun : kp_locate_default_stun;
  for (size_t i = 0; !out->found && stun[i] && LEFT(); i++) {
    kp_stun_mapped_t m;
    if (kp_locate_stun(stun[i], tmo, &m) == KP_OK) {
      out->found = true;
      out->probe_addr = m.addr;
      snprintf(out->method, sizeof out->method, "stun %s", stun[i]);
    }
  }
  const char *const *urls = cfg->urls ? cfg->urls : kp_locate_default_urls;
  for (size_t i = 0; !out->found && cfg->http && urls[i] && LEFT(); i++) {
    kp_httpc_resp_t r;
    kp_httpc_resp_init(&r);
    kp_httpc_req_t req = {.url = urls[i], .timeout_ms = tmo};
    if (kp_httpc_do(cfg->http, &req, &r) == KP_OK && r.status == 200 &&
        kp_locate_parse_ip_body(r.body.data, r.body.len, &out->probe_addr) == KP_OK) {
      out->found = true;
      snprintf(out->method, sizeof out->method, "https %s", urls[i]);
    }
    kp_httpc_resp_free(&r);
  }
  if (out->found) map(cfg->geo, &out->probe_addr, out->cc, &out->asn, out->network_name, sizeof out->network_name);

  const char *who = cfg->whoami ? cfg->whoami : KP_LOCATE_WHOAMI_DEFAULT;
  if (cfg->resolver.family == 4 || cfg->resolver.family == 6) {
    kp_addr_t ra = cfg->resolver;
    /* whoami keeps at least 1 s of its own: the measurement asks this resolver anyway */
    if (!LEFT()) tmo = 1000;
    if (*who && kp_locate_whoami(&cfg->resolver, cfg->resolver_port, who, tmo, &ra) == KP_OK) out->resolver_found = true;
    kp_addr_fmt(&ra, out->resolver_ip);
    map(cfg->geo, &ra, NULL, &out->resolver_asn, out->resolver_network_name, sizeof out->resolver_network_name);
  }
#undef LEFT
  return KP_OK;
}
