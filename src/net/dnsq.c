/*
 * dnsq.c: many UDP lookups at once (kp_dnsq_t), for remote measurement at scale.
 *
 * One unconnected UDP socket per address family (opened on first use) carries every query.
 * Outstanding queries sit in a hash keyed by (resolver address, resolver port, DNS id); the id
 * is drawn at random and redrawn until no outstanding query to that resolver:port has it, so
 * the key is unique. A datagram is an answer only when its source (address, port) and id find a
 * query AND its question is that query's (qname, qtype); else it is counted in `unmatched` and
 * dropped without a record, exactly what a connected socket plus kp_net_resolve_udp's checks
 * would do. ICMP port-unreachable comes back through IP_RECVERR / IPV6_RECVERR: the error
 * queue returns the original query, whose id and destination find the lookup (connection_refused,
 * as the connected socket of kp_net_resolve_udp reports it).
 *
 * Lookup state (A and AAAA queries sent together; due = the lookup's next timer):
 *   SENT(try k, deadline = send + timeout)
 *     --first answer of a query--> that query ANSWERED, window_end = now + window
 *     --every query ANSWERED--> due = min(deadline, max window_end)
 *     --due, all ANSWERED or k == 1 + retries--> DONE (unanswered queries recorded as timeouts)
 *     --due, some unanswered, tries left--> ADMIT: admit() == 0 ? resend the unanswered ones
 *          under new ids, SENT(try k+1) : due = now + admit's wait (ADMIT again then)
 *   send error / ICMP refused --> DONE with that failure for the unanswered queries.
 * Answers after a query's first are recorded as late (an injector racing the real resolver)
 * until the lookup is DONE; an answer to a retried query's old id is dropped (unmatched).
 * Timers: a binary min-heap of lookups by due, each lookup knowing its heap index, so moving
 * a due time is one sift. All times are on the injected clock.
 */
#include <errno.h>
#include <time.h> /* before linux/errqueue.h, which uses struct timespec */
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/internal.h"

#define NBUCKETS 16384u
#define MAX_READS_PER_STEP 4096

typedef struct lookup lookup_t;
typedef struct query {
  lookup_t *lk;
  uint16_t qtype, id;
  int txid;
  bool answered, hashed;
  int64_t window_end;
  double t0;
  const char *failure;   /* of the first answer / the timeout */
  struct query *next;    /* hash chain */
} query_t;

struct lookup {
  kp_addr_t res;
  uint16_t port;
  char name[KP_DNS_NAME_MAX + 1];
  char resstr[KP_ADDR_STRLEN + 8];
  kp_trace_t *tr;
  void *tag;
  query_t q[2];
  int nq;                /* 2: A + AAAA; 1: one query of q[0].qtype */
  unsigned tries;
  int64_t deadline, due;
  size_t hi;             /* heap index */
  const char *sockfail;
  kp_addrs_t out, late;
};

struct kp_dnsq {
  kp_dnsq_cfg_t cfg;
  const kp_clock_t *clk;
  int64_t timeout_ns, window_ns;
  int fd4, fd6;
  query_t *bucket[NBUCKETS];
  lookup_t **heap;
  size_t n, cap;
  uint64_t rnd, unmatched;
  kp_dns_msg_t msg;      /* parse scratch */
  char scratch[128];
};

/* ------------------------------------------------------------------- helpers */

static uint32_t hkey(const kp_addr_t *a, uint16_t port, uint16_t id) {
  uint32_t h = 2166136261u ^ a->family;
  for (int i = 0; i < 16; i++) h = (h ^ a->b[i]) * 16777619u;
  h = (h ^ port) * 16777619u;
  h = (h ^ id) * 16777619u;
  return h & (NBUCKETS - 1);
}

static uint16_t rnd16(kp_dnsq_t *q) { /* xorshift64*, seeded from getrandom */
  q->rnd ^= q->rnd >> 12;
  q->rnd ^= q->rnd << 25;
  q->rnd ^= q->rnd >> 27;
  return (uint16_t)((q->rnd * 2685821657736338717ull) >> 48);
}

static query_t *find(kp_dnsq_t *q, const kp_addr_t *a, uint16_t port, uint16_t id, query_t ***link) {
  query_t **pp = &q->bucket[hkey(a, port, id)];
  for (; *pp; pp = &(*pp)->next) {
    query_t *x = *pp;
    if (x->id == id && x->lk->port == port && kp_addr_eq(&x->lk->res, a)) {
      if (link) *link = pp;
      return x;
    }
  }
  return NULL;
}

static void unhash(kp_dnsq_t *q, query_t *x) {
  query_t **pp;
  if (x->hashed && find(q, &x->lk->res, x->lk->port, x->id, &pp) == x) *pp = x->next;
  x->hashed = false;
}

static void hash_new_id(kp_dnsq_t *q, query_t *x) {
  do x->id = rnd16(q);
  while (find(q, &x->lk->res, x->lk->port, x->id, NULL));
  query_t **b = &q->bucket[hkey(&x->lk->res, x->lk->port, x->id)];
  x->next = *b;
  *b = x;
  x->hashed = true;
}

/* heap of lookups by due */
static void hswap(kp_dnsq_t *q, size_t i, size_t j) {
  lookup_t *t = q->heap[i];
  q->heap[i] = q->heap[j];
  q->heap[j] = t;
  q->heap[i]->hi = i;
  q->heap[j]->hi = j;
}
static void sift(kp_dnsq_t *q, size_t i) {
  while (i > 0 && q->heap[(i - 1) / 2]->due > q->heap[i]->due) {
    hswap(q, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < q->n && q->heap[l]->due < q->heap[m]->due) m = l;
    if (r < q->n && q->heap[r]->due < q->heap[m]->due) m = r;
    if (m == i) return;
    hswap(q, i, m);
    i = m;
  }
}
static void set_due(kp_dnsq_t *q, lookup_t *lk, int64_t due) {
  lk->due = due;
  sift(q, lk->hi);
}
static void heap_remove(kp_dnsq_t *q, lookup_t *lk) {
  size_t i = lk->hi;
  q->n--;
  if (i != q->n) {
    q->heap[i] = q->heap[q->n];
    q->heap[i]->hi = i;
    sift(q, i);
  }
}

static int sock_for(kp_dnsq_t *q, int family) {
  int *fd = family == 6 ? &q->fd6 : &q->fd4;
  if (*fd >= 0) return *fd;
  int s = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  int on = 1, big = 4 << 20;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  if (family == 6) setsockopt(s, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
  else setsockopt(s, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  *fd = s;
  return s;
}

static kp_status_t from_sockaddr(const struct sockaddr_storage *ss, kp_addr_t *a, uint16_t *port) {
  memset(a, 0, sizeof *a);
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
    a->family = 4;
    memcpy(a->b, &s4->sin_addr, 4);
    *port = ntohs(s4->sin_port);
    return KP_OK;
  }
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
    a->family = 6;
    memcpy(a->b, &s6->sin6_addr, 16);
    *port = ntohs(s6->sin6_port);
    return KP_OK;
  }
  return KP_ERR_INVAL;
}

/* ----------------------------------------------------------------- lifecycle */

kp_status_t kp_dnsq_new(const kp_dnsq_cfg_t *cfg, const kp_clock_t *clk, kp_dnsq_t **out) {
  *out = NULL;
  if (!cfg || !cfg->done || !clk || cfg->timeout < 0 || cfg->window < 0) return KP_ERR_INVAL;
  kp_dnsq_t *q = calloc(1, sizeof *q);
  if (!q) return KP_ERR_NOMEM;
  q->cfg = *cfg;
  q->clk = clk;
  q->timeout_ns = (int64_t)((cfg->timeout > 0 ? cfg->timeout : 3.0) * 1e9);
  q->window_ns = (int64_t)((cfg->window > 0 ? cfg->window : 1.0) * 1e9);
  q->fd4 = q->fd6 = -1;
  if (getrandom(&q->rnd, sizeof q->rnd, 0) != sizeof q->rnd) q->rnd = (uint64_t)kp_now_mono(clk);
  q->rnd |= 1;
  *out = q;
  return KP_OK;
}

void kp_dnsq_free(kp_dnsq_t *q) {
  if (!q) return;
  for (size_t i = 0; i < q->n; i++) free(q->heap[i]);
  free(q->heap);
  if (q->fd4 >= 0) close(q->fd4);
  if (q->fd6 >= 0) close(q->fd6);
  free(q);
}

size_t kp_dnsq_inflight(const kp_dnsq_t *q) { return q->n; }
uint64_t kp_dnsq_unmatched(const kp_dnsq_t *q) { return q->unmatched; }

/* Send query x of its lookup under a fresh id; a failure to send ends the lookup (sockfail). */
static void send_query(kp_dnsq_t *q, query_t *x) {
  lookup_t *lk = x->lk;
  unhash(q, x);
  hash_new_id(q, x);
  uint8_t pkt[300];
  size_t len = 0;
  kp_dns_build_query(lk->name, x->qtype, x->id, pkt, sizeof pkt, &len); /* name checked at submit */
  int fd = sock_for(q, lk->res.family);
  struct sockaddr_storage ss;
  socklen_t sl = (socklen_t)kp_addr_sockaddr(&lk->res, lk->port, &ss);
  if (fd < 0 || sendto(fd, pkt, len, 0, (struct sockaddr *)&ss, sl) < 0)
    lk->sockfail = kp_net_failure_errno(errno, q->scratch, sizeof q->scratch);
}

static kp_status_t submit(kp_dnsq_t *q, const kp_addr_t *resolver, uint16_t port, const char *name, uint16_t qtype,
                          kp_trace_t *trace, void *tag) {
  uint8_t probe[300];
  size_t plen;
  if (kp_dns_build_query(name, KP_DNS_A, 0, probe, sizeof probe, &plen) != KP_OK) return KP_ERR_INVAL;
  if (q->n == q->cap) {
    size_t nc = q->cap ? q->cap * 2 : 256;
    lookup_t **nh = realloc(q->heap, nc * sizeof *nh);
    if (!nh) return KP_ERR_NOMEM;
    q->heap = nh;
    q->cap = nc;
  }
  lookup_t *lk = calloc(1, sizeof *lk);
  if (!lk) return KP_ERR_NOMEM;
  lk->res = *resolver;
  lk->port = port ? port : 53;
  snprintf(lk->name, sizeof lk->name, "%s", name);
  kp_net_hostport(resolver, lk->port, lk->resstr);
  lk->tr = trace;
  lk->tag = tag;
  lk->tries = 1;
  lk->nq = qtype ? 1 : 2;
  int64_t now = kp_now_mono(q->clk);
  lk->deadline = now + q->timeout_ns;
  lk->hi = q->n;
  lk->due = lk->deadline;
  q->heap[q->n++] = lk;
  sift(q, lk->hi);
  for (int i = 0; i < lk->nq; i++) {
    query_t *x = &lk->q[i];
    x->lk = lk;
    x->qtype = qtype ? qtype : i == 0 ? KP_DNS_A : KP_DNS_AAAA;
    x->txid = kp_trace_txid(trace);
    x->t0 = kp_trace_now(trace);
    if (!lk->sockfail) send_query(q, x);
  }
  if (lk->sockfail) set_due(q, lk, now); /* finished at the next step, as a failure */
  return KP_OK;
}

kp_status_t kp_dnsq_submit(kp_dnsq_t *q, const kp_addr_t *resolver, uint16_t port, const char *name,
                           kp_trace_t *trace, void *tag) {
  return submit(q, resolver, port, name, 0, trace, tag);
}

kp_status_t kp_dnsq_submit_one(kp_dnsq_t *q, const kp_addr_t *resolver, uint16_t port, const char *name,
                               uint16_t qtype, kp_trace_t *trace, void *tag) {
  if (qtype != KP_DNS_A && qtype != KP_DNS_AAAA && qtype != KP_DNS_PTR) return KP_ERR_INVAL;
  return submit(q, resolver, port, name, qtype, trace, tag);
}

static void finish(kp_dnsq_t *q, lookup_t *lk) {
  const char *qf[2];
  for (int i = 0; i < lk->nq; i++) {
    query_t *x = &lk->q[i];
    unhash(q, x);
    if (!x->answered) {
      x->failure = lk->sockfail ? lk->sockfail : KP_FAIL_TIMEOUT;
      kp_net_record_unanswered(lk->tr, lk->resstr, lk->name, x->txid, x->qtype, x->t0, x->failure);
    }
    qf[i] = x->failure;
  }
  heap_remove(q, lk);
  /* a PTR lookup has names, not addresses: "no addresses" is not its failure */
  size_t nout = lk->nq == 1 && lk->q[0].qtype == KP_DNS_PTR && !qf[0] ? 1 : lk->out.n;
  q->cfg.done(q->cfg.done_ctx, lk->tag, &lk->out, &lk->late, kp_net_lookup_failure(qf, (size_t)lk->nq, nout));
  free(lk);
}

static bool all_answered(const lookup_t *lk) {
  for (int i = 0; i < lk->nq; i++)
    if (!lk->q[i].answered) return false;
  return true;
}

static void on_due(kp_dnsq_t *q, lookup_t *lk, int64_t now) {
  bool all = all_answered(lk);
  if (lk->sockfail || all || lk->tries > q->cfg.retries) {
    finish(q, lk);
    return;
  }
  if (now < lk->deadline) { /* answered ones' windows ended but not every query answered */
    set_due(q, lk, lk->deadline);
    return;
  }
  int64_t wait = q->cfg.admit ? q->cfg.admit(q->cfg.admit_ctx, &lk->res, lk->tag) : 0;
  if (wait > 0) {
    set_due(q, lk, now + wait);
    return;
  }
  lk->tries++;
  lk->deadline = now + q->timeout_ns;
  for (int i = 0; i < lk->nq && !lk->sockfail; i++)
    if (!lk->q[i].answered) send_query(q, &lk->q[i]);
  set_due(q, lk, lk->sockfail ? now : lk->deadline);
}

/* a lookup's due after an answer: every query answered -> its windows (bounded by the deadline) */
static void after_answer(kp_dnsq_t *q, lookup_t *lk) {
  if (!all_answered(lk)) return;
  int64_t w = lk->q[0].window_end;
  if (lk->nq == 2 && lk->q[1].window_end > w) w = lk->q[1].window_end;
  set_due(q, lk, w < lk->deadline ? w : lk->deadline);
}

static void on_datagram(kp_dnsq_t *q, const uint8_t *p, size_t n, const struct sockaddr_storage *from) {
  kp_addr_t a;
  uint16_t port;
  if (from_sockaddr(from, &a, &port) != KP_OK || kp_dns_parse(p, n, &q->msg) != KP_OK) {
    q->unmatched++;
    return;
  }
  query_t *x = find(q, &a, port, q->msg.id, NULL);
  if (!x || x->qtype != q->msg.qtype || !kp_dns_name_eq(q->msg.qname, x->lk->name)) {
    q->unmatched++;
    return;
  }
  lookup_t *lk = x->lk;
  if (q->cfg.answer) q->cfg.answer(q->cfg.done_ctx, lk->tag, &q->msg, x->answered);
  const char *f = kp_net_record_answer(lk->tr, lk->resstr, lk->name, x->txid, x->qtype, x->t0, &q->msg, x->answered,
                                       &lk->out, &lk->late);
  if (x->answered) return;
  x->answered = true;
  x->failure = f;
  x->window_end = kp_now_mono(q->clk) + q->window_ns;
  after_answer(q, lk);
}

/* The error queue gives back the query that drew an ICMP error, addressed to its destination. */
static void on_error(kp_dnsq_t *q, int fd) {
  for (int k = 0; k < MAX_READS_PER_STEP; k++) {
    uint8_t buf[512], ctl[512];
    struct sockaddr_storage dst;
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh = {.msg_name = &dst, .msg_namelen = sizeof dst, .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = ctl, .msg_controllen = sizeof ctl};
    ssize_t got = recvmsg(fd, &mh, MSG_ERRQUEUE);
    if (got < 0) return;
    int err = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
      if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
        struct sock_extended_err ee;
        memcpy(&ee, CMSG_DATA(c), sizeof ee);
        err = (int)ee.ee_errno;
      }
    kp_addr_t a;
    uint16_t port;
    if (got < 2 || from_sockaddr(&dst, &a, &port) != KP_OK) continue;
    query_t *x = find(q, &a, port, (uint16_t)(buf[0] << 8 | buf[1]), NULL);
    if (!x || x->lk->sockfail) continue;
    x->lk->sockfail = err == ECONNREFUSED ? KP_FAIL_REFUSED : kp_net_failure_errno(err, q->scratch, sizeof q->scratch);
    set_due(q, x->lk, kp_now_mono(q->clk));
  }
}

kp_status_t kp_dnsq_step(kp_dnsq_t *q, int max_wait_ms) {
  int ms = max_wait_ms < 0 ? 0 : max_wait_ms;
  if (q->n) {
    int64_t left = q->heap[0]->due - kp_now_mono(q->clk);
    int64_t lm = left <= 0 ? 0 : (left + 999999) / 1000000;
    if (lm < ms) ms = (int)lm;
  }
  struct pollfd pf[2];
  int np = 0;
  if (q->fd4 >= 0) pf[np++] = (struct pollfd){.fd = q->fd4, .events = POLLIN};
  if (q->fd6 >= 0) pf[np++] = (struct pollfd){.fd = q->fd6, .events = POLLIN};
  int pr = np ? poll(pf, (nfds_t)np, ms) : 0;
  if (!np && ms > 0) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  for (int i = 0; pr > 0 && i < np; i++) {
    if (pf[i].revents & POLLERR) on_error(q, pf[i].fd);
    if (!(pf[i].revents & POLLIN)) continue;
    for (int k = 0; k < MAX_READS_PER_STEP; k++) {
      uint8_t buf[4096];
      struct sockaddr_storage from;
      socklen_t fl = sizeof from;
      ssize_t got = recvfrom(pf[i].fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
      if (got < 0) {
        if (errno == EINTR) continue;
        break; /* EAGAIN, or an error that the error queue explains */
      }
      on_datagram(q, buf, (size_t)got, &from);
    }
    on_error(q, pf[i].fd);
  }
  int64_t now = kp_now_mono(q->clk);
  while (q->n && q->heap[0]->due <= now) on_due(q, q->heap[0], now);
  return KP_OK;
}
