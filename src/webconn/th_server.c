/*
 * th_server.c: the test helper's listener (`keepon helper`).
 *
 * A TH request blocks for seconds (DNS, connects, a fetch), so the listener
 * gives each accepted connection its own thread, bounded by an in-flight cap
 * (beyond it the connection gets 503 at once, as oohelperd does). One request
 * per connection (Connection: close). Per connection:
 *
 *   accept ─(in flight >= cap)─> 503, close
 *     │
 *   read head (<= 16 KiB, 10 s) ─bad─> 400 / 431 / 408, close
 *     │ GET  -> 200 {} (health check)       other methods -> 405
 *     │ POST: no length -> 411, length > cap -> 413 (body never read)
 *   read body (30 s) ─> kp_wc_th_handle ─> 200 JSON ─> close
 *
 * Shutdown: run() returns after *stop is set and every thread has finished
 * (threads only touch their own connection and the atomic counter).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/log.h"
#include "webconn/webconn.h"

#define HEAD_MAX 16384

struct kp_wc_th_server {
  kp_wc_th_cfg_t cfg;
  int fd;
  uint16_t port;
  atomic_size_t inflight;
};

typedef struct conn {
  kp_wc_th_server_t *s;
  int fd;
} conn_t;

kp_status_t kp_wc_http_head_parse(const uint8_t *p, size_t n, size_t max, kp_wc_http_head_t *out) {
  memset(out, 0, sizeof *out);
  out->content_length = -1;
  size_t lim = n < max ? n : max;
  size_t end = 0;
  for (size_t i = 0; i + 3 < lim; i++)
    if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
      end = i + 4;
      break;
    }
  if (!end) return n >= max ? KP_ERR_RANGE : KP_ERR_TRUNC;
  out->head_len = end;
  /* request line */
  size_t i = 0, k = 0;
  while (i < end && p[i] != ' ' && k + 1 < sizeof out->method) {
    if (p[i] < 'A' || p[i] > 'Z') return KP_ERR_INVAL;
    out->method[k++] = (char)p[i++];
  }
  if (k == 0 || i >= end || p[i] != ' ') return KP_ERR_INVAL;
  i++;
  k = 0;
  while (i < end && p[i] != ' ' && p[i] != '\r') {
    if (k + 1 >= sizeof out->path || p[i] < 0x21 || p[i] > 0x7e) return KP_ERR_INVAL;
    out->path[k++] = (char)p[i++];
  }
  if (k == 0 || i + 10 > end || memcmp(p + i, " HTTP/1.", 8) != 0) return KP_ERR_INVAL;
  i += 8;
  if (p[i] != '0' && p[i] != '1') return KP_ERR_INVAL;
  i++;
  if (p[i] != '\r' || p[i + 1] != '\n') return KP_ERR_INVAL;
  i += 2;
  /* headers */
  while (i + 2 <= end && !(p[i] == '\r' && p[i + 1] == '\n')) {
    size_t ls = i;
    while (i + 1 < end && !(p[i] == '\r' && p[i + 1] == '\n')) i++;
    size_t le = i;
    i += 2;
    const uint8_t *colon = memchr(p + ls, ':', le - ls);
    if (!colon || colon == p + ls) return KP_ERR_INVAL;
    size_t nl = (size_t)(colon - (p + ls)), vs = nl + 1;
    while (ls + vs < le && (p[ls + vs] == ' ' || p[ls + vs] == '\t')) vs++;
    const char *name = (const char *)p + ls, *val = (const char *)p + ls + vs;
    size_t vl = le - ls - vs;
    if (nl == 14 && !strncasecmp(name, "content-length", 14)) {
      if (vl == 0 || vl > 12 || out->content_length >= 0) return KP_ERR_INVAL;
      int64_t v = 0;
      for (size_t j = 0; j < vl; j++) {
        if (val[j] < '0' || val[j] > '9') return KP_ERR_INVAL;
        v = v * 10 + (val[j] - '0');
      }
      out->content_length = v;
    } else if (nl == 17 && !strncasecmp(name, "transfer-encoding", 17)) {
      out->chunked = true;
    } else if (nl == 10 && !strncasecmp(name, "user-agent", 10)) {
      out->ooniprobe_ua = (vl >= 10 && !strncmp(val, "ooniprobe-", 10)) || (vl >= 7 && !strncmp(val, "keepon/", 7));
    }
  }
  return KP_OK;
}

static void reply(int fd, int status, const char *body, size_t n) {
  const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : status == 405 ? "Method Not Allowed"
                       : status == 408 ? "Request Timeout" : status == 411 ? "Length Required"
                       : status == 413 ? "Payload Too Large" : status == 431 ? "Request Header Fields Too Large"
                       : status == 503 ? "Service Unavailable" : "Internal Server Error";
  char head[256];
  int hl = snprintf(head, sizeof head,
                    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                    "Connection: close\r\n\r\n",
                    status, reason, n);
  const char *parts[2] = {head, body};
  size_t lens[2] = {(size_t)hl, n};
  for (int i = 0; i < 2; i++) {
    size_t off = 0;
    while (off < lens[i]) {
      ssize_t w = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL);
      if (w <= 0) return;
      off += (size_t)w;
    }
  }
}

static void reply_err(int fd, int status, const char *msg) {
  char b[128];
  int n = snprintf(b, sizeof b, "{\"error\":\"%s\"}", msg);
  reply(fd, status, b, (size_t)n);
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read until @p want bytes are in buf or the deadline passes. */
static int read_some(int fd, uint8_t *buf, size_t cap, size_t *len, int64_t deadline) {
  int ms = (int)(deadline - mono_ms());
  if (ms <= 0) return -1;
  struct pollfd pf = {.fd = fd, .events = POLLIN};
  if (poll(&pf, 1, ms) <= 0) return -1;
  ssize_t r = recv(fd, buf + *len, cap - *len, 0);
  if (r <= 0) return r == 0 ? 0 : (errno == EINTR || errno == EAGAIN ? 1 : -1);
  *len += (size_t)r;
  return 1;
}

static void *conn_main(void *arg) {
  conn_t *c = arg;
  kp_wc_th_server_t *s = c->s;
  int fd = c->fd;
  free(c);
  uint8_t *head = malloc(HEAD_MAX);
  uint8_t *body = NULL;
  kp_buf_t out;
  kp_buf_init(&out, (size_t)8 << 20);
  if (!head) goto done;
  size_t len = 0;
  kp_wc_http_head_t h;
  kp_status_t st = KP_ERR_TRUNC;
  int64_t deadline = mono_ms() + 10000;
  while (st == KP_ERR_TRUNC) {
    int r = read_some(fd, head, HEAD_MAX, &len, deadline);
    st = kp_wc_http_head_parse(head, len, HEAD_MAX, &h);
    if (st == KP_ERR_TRUNC && r <= 0) {
      if (r < 0) reply_err(fd, 408, "timeout");
      goto done;
    }
  }
  if (st == KP_ERR_RANGE) {
    reply_err(fd, 431, "head too large");
    goto done;
  }
  if (st != KP_OK) {
    reply_err(fd, 400, "malformed request");
    goto done;
  }
  if (!strcmp(h.method, "GET")) {
    reply(fd, 200, "{}", 2);
    goto done;
  }
  if (strcmp(h.method, "POST")) {
    reply_err(fd, 405, "method not allowed");
    goto done;
  }
  /* as oohelperd: clients that are not probes (ooniprobe-..., keepon/...) get half the budget */
  size_t icap = s->cfg.max_inflight ? s->cfg.max_inflight : 50;
  if (!h.ooniprobe_ua && atomic_load(&s->inflight) > (icap + 1) / 2) {
    reply_err(fd, 503, "too many requests in flight");
    goto done;
  }
  size_t cap = s->cfg.max_request ? s->cfg.max_request : KP_WC_TH_MAX_BODY;
  if (h.chunked || h.content_length < 0) {
    reply_err(fd, 411, "length required");
    goto done;
  }
  if ((uint64_t)h.content_length > cap) {
    reply_err(fd, 413, "request too large");
    goto done;
  }
  size_t blen = (size_t)h.content_length;
  body = malloc(blen ? blen : 1);
  if (!body) {
    reply_err(fd, 500, "out of memory");
    goto done;
  }
  size_t have = len - h.head_len < blen ? len - h.head_len : blen;
  memcpy(body, head + h.head_len, have);
  deadline = mono_ms() + 30000;
  while (have < blen) {
    int r = read_some(fd, body, blen, &have, deadline);
    if (r <= 0) {
      if (r < 0) reply_err(fd, 408, "timeout");
      goto done;
    }
  }
  int status = 500;
  kp_wc_th_handle(&s->cfg, body, blen, &out, &status);
  reply(fd, status, kp_buf_str(&out), out.len);
done:
  kp_buf_free(&out);
  free(body);
  free(head);
  close(fd);
  atomic_fetch_sub(&s->inflight, 1);
  return NULL;
}

kp_status_t kp_wc_th_server_new(const kp_wc_th_cfg_t *cfg, const char *listen_on, kp_wc_th_server_t **out) {
  char host[KP_ADDR_STRLEN + 2];
  uint16_t port;
  kp_addr_t a;
  if (kp_hostport_parse(listen_on, host, sizeof host, &port) != KP_OK || kp_addr_parse(host, &a) != KP_OK)
    return KP_ERR_INVAL;
  kp_wc_th_server_t *s = calloc(1, sizeof *s);
  if (!s) return KP_ERR_NOMEM;
  s->cfg = *cfg;
  struct sockaddr_storage ss;
  socklen_t sl = (socklen_t)kp_addr_sockaddr(&a, port, &ss);
  s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(s->fd, (struct sockaddr *)&ss, sl) != 0 || listen(s->fd, 256) != 0) {
    if (s->fd >= 0) close(s->fd);
    free(s);
    return KP_ERR_IO;
  }
  sl = sizeof ss;
  getsockname(s->fd, (struct sockaddr *)&ss, &sl);
  s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                          : ((struct sockaddr_in6 *)&ss)->sin6_port);
  *out = s;
  return KP_OK;
}

uint16_t kp_wc_th_server_port(const kp_wc_th_server_t *s) { return s->port; }

kp_status_t kp_wc_th_server_run(kp_wc_th_server_t *s, volatile int *stop) {
  size_t cap = s->cfg.max_inflight ? s->cfg.max_inflight : 50;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, (size_t)1 << 20);
  while (!*stop) {
    struct pollfd pf = {.fd = s->fd, .events = POLLIN};
    if (poll(&pf, 1, 200) <= 0) continue;
    int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (atomic_load(&s->inflight) >= cap) {
      reply_err(fd, 503, "too many requests in flight");
      close(fd);
      continue;
    }
    conn_t *c = malloc(sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    c->s = s;
    c->fd = fd;
    atomic_fetch_add(&s->inflight, 1);
    pthread_t t;
    if (pthread_create(&t, &attr, conn_main, c) != 0) {
      atomic_fetch_sub(&s->inflight, 1);
      reply_err(fd, 503, "no thread");
      close(fd);
      free(c);
    }
  }
  pthread_attr_destroy(&attr);
  while (atomic_load(&s->inflight) > 0) poll(NULL, 0, 20); /* every thread ends within its timeouts */
  return KP_OK;
}

void kp_wc_th_server_free(kp_wc_th_server_t *s) {
  if (!s) return;
  close(s->fd);
  free(s);
}
