/*
 * steps.c: DNS (UDP and system) and TCP connect steps, and the worker pool.
 *
 * UDP lookup state (per call):
 *   SENT --first answer for qtype--> ANSWERED(window_end = now + dns_window)
 *   all queries ANSWERED and now >= every window_end  -> done
 *   step deadline or global deadline                  -> done (unanswered = timeout)
 * Every datagram that parses as an answer to one of our queries is recorded;
 * answers after the first for the same query are marked `late` (this is how
 * an on-path injector that races the real resolver shows).
 *
 * Connect races all addresses at once with nonblocking sockets; attempts that
 * complete are recorded; the first success wins and pending attempts are
 * abandoned (not recorded, as OONI's sequential dialer never makes them).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/internal.h"

int64_t kp_net_deadline(const kp_net_t *n, double step_s) {
  int64_t now = kp_now_mono(n->clk);
  int64_t d = now + (int64_t)(step_s * 1e9);
  if (n->cfg->deadline_ns && n->cfg->deadline_ns < d) d = n->cfg->deadline_ns;
  return d;
}

int kp_net_ms_left(const kp_net_t *n, int64_t deadline) {
  int64_t left = deadline - kp_now_mono(n->clk);
  if (left <= 0) return 0;
  int64_t ms = (left + 999999) / 1000000;
  return ms > 600000 ? 600000 : (int)ms;
}

void kp_addrs_add(kp_addrs_t *s, const kp_addr_t *a) {
  for (size_t i = 0; i < s->n; i++)
    if (kp_addr_eq(&s->a[i], a)) return;
  if (s->n < KP_TRACE_MAX_ANSWERS) s->a[s->n++] = *a;
}

void kp_net_hostport(const kp_addr_t *a, uint16_t port, char *out) {
  char s[KP_ADDR_STRLEN];
  kp_addr_fmt(a, s);
  snprintf(out, KP_ADDR_STRLEN + 8, a->family == 6 ? "[%s]:%u" : "%s:%u", s, (unsigned)port);
}

/* ------------------------------------------------------------------ UDP DNS */

typedef struct uq {
  uint16_t qtype, id;
  int txid;
  bool answered;
  int64_t window_end;
  double t0;
  const char *failure; /* of the first answer */
} uq_t;

static const char *rcode_failure(int rcode) {
  switch (rcode) {
  case KP_DNS_NOERROR: return NULL;
  case KP_DNS_NXDOMAIN: return KP_FAIL_NXDOMAIN;
  case KP_DNS_REFUSED: return KP_FAIL_DNS_REFUSED;
  default: return KP_FAIL_DNS_SERVFAIL;
  }
}

/* the fields every recorded UDP query has, answered or not */
static void q_init(kp_q_t *r, const char *resolver, const char *host, int txid, uint16_t qtype) {
  memset(r, 0, sizeof *r);
  r->txid = txid;
  r->engine = "udp";
  snprintf(r->hostname, sizeof r->hostname, "%s", host);
  r->qtype = qtype == KP_DNS_A ? "A" : qtype == KP_DNS_PTR ? "PTR" : "AAAA";
  snprintf(r->resolver, sizeof r->resolver, "%s", resolver);
}

const char *kp_net_record_answer(kp_trace_t *tr, const char *resolver, const char *host, int txid, uint16_t qtype,
                                 double t0, const kp_dns_msg_t *m, bool late, kp_addrs_t *out, kp_addrs_t *lateout) {
  kp_q_t r;
  q_init(&r, resolver, host, txid, qtype);
  r.rcode = m->rcode;
  r.failure = rcode_failure(m->rcode);
  for (size_t i = 0; i < m->nanswers && r.nanswers < KP_TRACE_MAX_ANSWERS; i++) {
    if (m->an[i].type != qtype || qtype == KP_DNS_PTR) continue; /* PTR names: the caller's (kp_dnsq answer) */
    r.ans[r.nanswers] = m->an[i].addr;
    r.ttl[r.nanswers++] = m->an[i].ttl;
    if (!late) kp_addrs_add(out, &m->an[i].addr);
    else if (lateout) kp_addrs_add(lateout, &m->an[i].addr);
  }
  bool ptr = false;
  for (size_t i = 0; qtype == KP_DNS_PTR && i < m->nanswers; i++) ptr |= m->an[i].type == KP_DNS_PTR;
  if (!r.failure && r.nanswers == 0 && !ptr) r.failure = KP_FAIL_DNS_NODATA;
  r.t0 = t0;
  r.t = kp_trace_now(tr);
  r.late = late;
  kp_trace_add_query(tr, &r);
  return r.failure;
}

void kp_net_record_unanswered(kp_trace_t *tr, const char *resolver, const char *host, int txid, uint16_t qtype,
                              double t0, const char *failure) {
  kp_q_t r;
  q_init(&r, resolver, host, txid, qtype);
  r.rcode = -1;
  r.failure = failure;
  r.t0 = t0;
  r.t = kp_trace_now(tr);
  kp_trace_add_query(tr, &r);
}

const char *kp_net_lookup_failure(const char *const *qfail, size_t nq, size_t naddrs) {
  const char *first = NULL;
  for (size_t i = 0; i < nq; i++)
    if (!first && qfail[i]) first = qfail[i];
  /* NXDOMAIN wins over a missing AAAA: it is the answer about the name */
  for (size_t i = 0; i < nq; i++)
    if (qfail[i] && strcmp(qfail[i], KP_FAIL_NXDOMAIN) == 0) first = KP_FAIL_NXDOMAIN;
  const char *f = naddrs ? NULL : (first ? first : KP_FAIL_DNS_NODATA);
  if (f && strncmp(f, "unknown", 7) == 0) f = "unknown_failure";
  return f;
}

kp_status_t kp_net_resolve_udp(kp_net_t *n, const char *host, kp_addrs_t *out, kp_addrs_t *late,
                               const char **failure) {
  memset(out, 0, sizeof *out);
  if (late) memset(late, 0, sizeof *late);
  *failure = KP_FAIL_TIMEOUT;
  uq_t qs[2] = {{.qtype = KP_DNS_A}, {.qtype = KP_DNS_AAAA}};
  size_t nq = 2;
  struct sockaddr_storage ss;
  socklen_t sl = (socklen_t)kp_addr_sockaddr(&n->cfg->resolver, n->cfg->resolver_port ? n->cfg->resolver_port : 53, &ss);
  int64_t deadline = kp_net_deadline(n, n->cfg->dns_timeout);
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  char scratch[128];
  const char *sockfail = NULL;
  if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) != 0) sockfail = kp_net_failure_errno(errno, scratch, sizeof scratch);
  uint32_t rnd = (uint32_t)kp_now_mono(n->clk) ^ (uint32_t)(uintptr_t)out;
  for (size_t i = 0; i < nq; i++) {
    qs[i].txid = kp_trace_txid(n->trace);
    qs[i].id = (uint16_t)((rnd >> (i * 8)) * 2654435761u >> 16);
    qs[i].t0 = kp_trace_now(n->trace);
    uint8_t pkt[300];
    size_t len;
    if (kp_dns_build_query(host, qs[i].qtype, qs[i].id, pkt, sizeof pkt, &len) != KP_OK) {
      if (fd >= 0) close(fd);
      return KP_ERR_INVAL;
    }
    if (!sockfail && send(fd, pkt, len, 0) < 0) sockfail = kp_net_failure_errno(errno, scratch, sizeof scratch);
  }
  for (;;) {
    if (sockfail) break;
    bool all = true;
    int64_t wend = 0;
    for (size_t i = 0; i < nq; i++) {
      all = all && qs[i].answered;
      if (qs[i].answered && qs[i].window_end > wend) wend = qs[i].window_end;
    }
    int64_t until = deadline;
    if (all && wend < until) until = wend;
    int ms = kp_net_ms_left(n, until);
    if (ms == 0) break;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    int pr = poll(&pf, 1, ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue; /* loop re-checks the clock */
    uint8_t buf[4096];
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      if (errno == ECONNREFUSED) { /* ICMP port unreachable: no resolver there */
        sockfail = KP_FAIL_REFUSED;
        break;
      }
      continue;
    }
    kp_dns_msg_t *m = malloc(sizeof *m);
    if (!m) break;
    if (kp_dns_parse(buf, (size_t)got, m) == KP_OK && kp_dns_name_eq(m->qname, host)) {
      for (size_t i = 0; i < nq; i++) {
        if (m->id != qs[i].id || m->qtype != qs[i].qtype) continue;
        char rs[KP_ADDR_STRLEN + 8];
        kp_net_hostport(&n->cfg->resolver, n->cfg->resolver_port ? n->cfg->resolver_port : 53, rs);
        const char *f = kp_net_record_answer(n->trace, rs, host, qs[i].txid, qs[i].qtype, qs[i].t0, m,
                                             qs[i].answered, out, late);
        if (!qs[i].answered) qs[i].failure = f;
        if (!qs[i].answered) {
          qs[i].answered = true;
          qs[i].window_end = kp_now_mono(n->clk) + (int64_t)(n->cfg->dns_window * 1e9);
        }
      }
    }
    free(m);
  }
  if (fd >= 0) close(fd);
  const char *qf[2];
  for (size_t i = 0; i < nq; i++) {
    if (!qs[i].answered) {
      char rs[KP_ADDR_STRLEN + 8];
      kp_net_hostport(&n->cfg->resolver, n->cfg->resolver_port ? n->cfg->resolver_port : 53, rs);
      qs[i].failure = sockfail ? sockfail : KP_FAIL_TIMEOUT;
      kp_net_record_unanswered(n->trace, rs, host, qs[i].txid, qs[i].qtype, qs[i].t0, qs[i].failure);
    }
    qf[i] = qs[i].failure;
  }
  *failure = kp_net_lookup_failure(qf, nq, out->n);
  return KP_OK;
}

/* ------------------------------------------------------------- system DNS */

typedef struct gai_job {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int refs;
  bool done;
  int rc;
  struct addrinfo *res;
  char host[KP_DNS_NAME_MAX + 1];
} gai_job_t;

static void gai_unref(gai_job_t *j) {
  pthread_mutex_lock(&j->mu);
  int left = --j->refs;
  pthread_mutex_unlock(&j->mu);
  if (left == 0) {
    if (j->res) freeaddrinfo(j->res);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
  }
}

static void *gai_thread(void *arg) {
  gai_job_t *j = arg;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(j->host, NULL, &hints, &res);
  pthread_mutex_lock(&j->mu);
  j->rc = rc;
  j->res = res;
  j->done = true;
  pthread_cond_signal(&j->cv);
  pthread_mutex_unlock(&j->mu);
  gai_unref(j);
  return NULL;
}

static const char *gai_failure(int rc) {
  switch (rc) {
  case EAI_NONAME: return KP_FAIL_NXDOMAIN; /* as OONI's netxlite maps it */
#ifdef EAI_NODATA
  case EAI_NODATA: return KP_FAIL_DNS_NODATA;
#endif
  case EAI_AGAIN: return "dns_temporary_failure";
  case EAI_FAIL: return "dns_non_recoverable_failure";
  default: return "unknown_failure: getaddrinfo";
  }
}

kp_status_t kp_net_resolve_system(kp_net_t *n, const char *host, kp_addrs_t *out, const char **failure) {
  memset(out, 0, sizeof *out);
  kp_q_t r;
  memset(&r, 0, sizeof r);
  r.txid = kp_trace_txid(n->trace);
  r.engine = "getaddrinfo";
  r.qtype = "ANY";
  r.rcode = -1;
  snprintf(r.hostname, sizeof r.hostname, "%s", host);
  r.t0 = kp_trace_now(n->trace);
  gai_job_t *j = calloc(1, sizeof *j);
  if (!j) return KP_ERR_NOMEM;
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->cv, NULL);
  j->refs = 2;
  snprintf(j->host, sizeof j->host, "%s", host);
  pthread_t th;
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&th, &at, gai_thread, j) != 0) {
    pthread_attr_destroy(&at);
    j->refs = 1;
    gai_unref(j);
    return KP_ERR_NOMEM;
  }
  pthread_attr_destroy(&at);
  int64_t deadline = kp_net_deadline(n, n->cfg->dns_timeout);
  pthread_mutex_lock(&j->mu);
  while (!j->done) {
    int ms = kp_net_ms_left(n, deadline);
    if (ms == 0) break;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (int64_t)(ms < 50 ? ms : 50) * 1000000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&j->cv, &j->mu, &ts);
  }
  if (!j->done) {
    r.failure = KP_FAIL_TIMEOUT;
  } else if (j->rc != 0) {
    r.failure = gai_failure(j->rc);
  } else {
    for (struct addrinfo *ai = j->res; ai; ai = ai->ai_next) {
      kp_addr_t a = {0};
      if (ai->ai_family == AF_INET) {
        a.family = 4;
        memcpy(a.b, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
      } else if (ai->ai_family == AF_INET6) {
        a.family = 6;
        memcpy(a.b, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
      } else {
        continue;
      }
      kp_addrs_add(out, &a);
    }
    for (size_t i = 0; i < out->n; i++) r.ans[r.nanswers++] = out->a[i];
    if (!out->n) r.failure = KP_FAIL_DNS_NODATA;
  }
  pthread_mutex_unlock(&j->mu);
  gai_unref(j);
  r.t = kp_trace_now(n->trace);
  kp_trace_add_query(n->trace, &r);
  *failure = r.failure;
  return KP_OK;
}

/* ------------------------------------------------------------------ connect */

void kp_net_event(kp_net_t *n, int txid, const char *op, const char *address, const char *failure, int64_t bytes) {
  kp_nev_t e;
  memset(&e, 0, sizeof e);
  e.txid = txid;
  e.operation = op;
  if (address) snprintf(e.address, sizeof e.address, "%s", address);
  e.failure = failure;
  e.num_bytes = bytes;
  e.t = kp_trace_now(n->trace);
  kp_trace_add_event(n->trace, &e);
}

kp_status_t kp_net_connect(kp_net_t *n, const kp_addrs_t *addrs, uint16_t port, kp_conn_t **conn,
                           const char **failure) {
  *conn = NULL;
  *failure = KP_FAIL_TIMEOUT;
  size_t na = addrs->n;
  if (na == 0) return KP_ERR_INVAL;
  int fds[KP_TRACE_MAX_ANSWERS];
  int txids[KP_TRACE_MAX_ANSWERS];
  bool pending[KP_TRACE_MAX_ANSWERS];
  const char *fails[KP_TRACE_MAX_ANSWERS];
  char scratch[KP_TRACE_MAX_ANSWERS][96];
  double t0 = kp_trace_now(n->trace);
  int64_t deadline = kp_net_deadline(n, n->cfg->connect_timeout);
  int winner = -1;
  for (size_t i = 0; i < na; i++) {
    txids[i] = kp_trace_txid(n->trace);
    fails[i] = NULL;
    pending[i] = false;
    struct sockaddr_storage ss;
    socklen_t sl = (socklen_t)kp_addr_sockaddr(&addrs->a[i], port, &ss);
    fds[i] = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fds[i] < 0) {
      fails[i] = kp_net_failure_errno(errno, scratch[i], sizeof scratch[i]);
      continue;
    }
    if (connect(fds[i], (struct sockaddr *)&ss, sl) == 0) {
      pending[i] = false;
      if (winner < 0) winner = (int)i;
    } else if (errno == EINPROGRESS) {
      pending[i] = true;
    } else {
      fails[i] = kp_net_failure_errno(errno, scratch[i], sizeof scratch[i]);
    }
  }
  while (winner < 0) {
    struct pollfd pf[KP_TRACE_MAX_ANSWERS];
    size_t map[KP_TRACE_MAX_ANSWERS], np = 0;
    for (size_t i = 0; i < na; i++)
      if (pending[i]) {
        pf[np].fd = fds[i];
        pf[np].events = POLLOUT;
        pf[np].revents = 0;
        map[np++] = i;
      }
    if (np == 0) break;
    int ms = kp_net_ms_left(n, deadline);
    if (ms == 0) break;
    int pr = poll(pf, np, ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    for (size_t k = 0; k < np; k++) {
      if (!pf[k].revents) continue;
      size_t i = map[k];
      int err = 0;
      socklen_t el = sizeof err;
      getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &el);
      pending[i] = false;
      if (err == 0) {
        if (winner < 0) winner = (int)i;
      } else {
        fails[i] = kp_net_failure_errno(err, scratch[i], sizeof scratch[i]);
      }
    }
  }
  double t = kp_trace_now(n->trace);
  for (size_t i = 0; i < na; i++) {
    bool won = (int)i == winner;
    if (pending[i] && winner < 0) fails[i] = KP_FAIL_TIMEOUT; /* never completed */
    if (pending[i] && winner >= 0) { /* abandoned once another address answered */
      close(fds[i]);
      continue;
    }
    kp_tcp_t rec = {.txid = txids[i], .ip = addrs->a[i], .port = port, .failure = fails[i], .t0 = t0, .t = t};
    kp_trace_add_tcp(n->trace, &rec);
    char hp[KP_ADDR_STRLEN + 8];
    kp_net_hostport(&addrs->a[i], port, hp);
    kp_net_event(n, txids[i], "connect", hp, fails[i], -1);
    if (!won && fds[i] >= 0) close(fds[i]);
  }
  if (winner < 0) {
    *failure = KP_FAIL_TIMEOUT;
    for (size_t i = 0; i < na; i++)
      if (fails[i]) {
        *failure = fails[i];
        break;
      }
    if (strncmp(*failure, "unknown", 7) == 0) *failure = "unknown_failure";
    return KP_OK;
  }
  kp_conn_t *c = calloc(1, sizeof *c);
  if (!c) {
    close(fds[winner]);
    return KP_ERR_NOMEM;
  }
  c->fd = fds[winner];
  c->txid = txids[winner];
  c->peer = addrs->a[winner];
  c->port = port;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  *conn = c;
  *failure = NULL;
  return KP_OK;
}

const char *kp_conn_peer(const kp_conn_t *c, char *out) {
  kp_net_hostport(&c->peer, c->port, out);
  return out;
}

/* --------------------------------------------------------------------- pool */

typedef struct pool {
  pthread_mutex_t mu;
  size_t next, n;
  void (*fn)(void *, size_t);
  void *arg;
} pool_t;

static void *pool_worker(void *arg) {
  pool_t *p = arg;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    size_t i = p->next < p->n ? p->next++ : p->n;
    pthread_mutex_unlock(&p->mu);
    if (i >= p->n) return NULL;
    p->fn(p->arg, i);
  }
}

kp_status_t kp_net_run_pool(size_t n, size_t bound, void (*fn)(void *arg, size_t i), void *arg) {
  pool_t p = {.next = 0, .n = n, .fn = fn, .arg = arg};
  pthread_mutex_init(&p.mu, NULL);
  if (bound == 0) bound = 1;
  if (bound > 64) bound = 64;
  if (bound > n) bound = n;
  pthread_t th[64];
  size_t started = 0;
  for (; started < bound; started++)
    if (pthread_create(&th[started], NULL, pool_worker, &p) != 0) break;
  if (started == 0) pool_worker(&p); /* no threads available: run inline */
  for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
  pthread_mutex_destroy(&p.mu);
  return KP_OK;
}
