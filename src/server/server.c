/*
 * server.c: the epoll loop and the per-connection state machine.
 *
 *            accept (conns < max_conns; else 503 + close)
 *               |
 *               v
 *   +------> READ_HEAD --head complete--> READ_BODY --body complete--+
 *   |           |  ^ (pipelined bytes       |                         |
 *   |           |  |  already buffered)     | timeout: 408, close     v
 *   |   timeout: 408 / malformed: 400 /     |                      DISPATCH
 *   |   too large: 431/413 -> WRITE+close   |                      /      \
 *   |                                       |            handler sync     resp->deferred
 *   |                                       |                  |              |
 *   |                                       |                  v              v
 *   +-- keep-alive <---- WRITE <------------+------------- (serialize) <- WAIT_COMMIT
 *                          |                                     (flush hook at the end of
 *                          +-- close requested / error -> CLOSED   the loop round completes it)
 *
 * Invariants: a connection in WAIT_COMMIT is not read from (EPOLLIN off) and
 * is never freed before the flush hook has run; every deadline is absolute
 * (monotonic ms) so a client trickling one byte at a time (slowloris) is cut
 * off when the head/body deadline passes, whatever it sends. The read buffer
 * is capped at max_head + max_body; a declared Content-Length above max_body
 * is answered 413 before any body byte is read.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/json.h"
#include "base/log.h"
#include "server/server.h"

typedef enum { ST_READ_HEAD, ST_READ_BODY, ST_WAIT_COMMIT, ST_WRITE } conn_state_t;

typedef struct conn {
  int fd;
  conn_state_t st;
  kp_buf_t in, out;
  size_t out_off;
  size_t head_len;
  kp_srv_req_t req;
  kp_srv_resp_t resp;
  bool close_after;
  bool eof;           /* the peer half-closed: answer what is buffered, then close */
  bool hup;           /* hung up while WAIT_COMMIT: out of epoll, freed when completed */
  kp_addr_t peer;
  int64_t deadline;   /* ms, monotonic; 0 = none */
  struct conn *next_deferred;
  struct conn *prev, *next; /* all connections */
} conn_t;

typedef struct route {
  char *method, *prefix;
  size_t plen;
  kp_srv_handler fn;
  void *ctx;
} route_t;

struct kp_srv {
  kp_srv_config_t cfg;
  int lfd, ep, wfd; /* wfd: eventfd kp_srv_wake writes (async deferred responses) */
  uint16_t port;
  route_t *routes;
  size_t nroutes;
  conn_t *conns;
  size_t nconns;
  conn_t *deferred;
  void (*flush)(void *);
  void *flush_ctx;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kp_srv_config_defaults(kp_srv_config_t *c) {
  memset(c, 0, sizeof *c);
  c->listen = "127.0.0.1:8080";
  c->max_conns = 512;
  c->max_head = 16 * 1024;
  c->max_body = 8u << 20;
  c->head_timeout_ms = 10000;
  c->body_timeout_ms = 30000;
  c->idle_timeout_ms = 30000;
  c->write_timeout_ms = 30000;
}

static const char *reason(int st) {
  switch (st) {
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 415: return "Unsupported Media Type";
  case 422: return "Unprocessable Content";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  case 505: return "HTTP Version Not Supported";
  default: return "Status";
  }
}

void kp_srv_error(kp_srv_resp_t *resp, int status, const char *msg) {
  resp->status = status;
  resp->content_type = "application/json";
  kp_buf_reset(&resp->body);
  kp_jw_t w;
  kp_jw_init(&w, &resp->body);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "error", msg);
  kp_jw_obj_end(&w);
  kp_buf_putc(&resp->body, '\n');
}

kp_status_t kp_srv_add_route(kp_srv_t *s, const char *method, const char *prefix, kp_srv_handler fn, void *ctx) {
  route_t *r = realloc(s->routes, (s->nroutes + 1) * sizeof *r);
  if (!r) return KP_ERR_NOMEM;
  s->routes = r;
  r = &s->routes[s->nroutes];
  r->method = strdup(method);
  r->prefix = strdup(prefix);
  if (!r->method || !r->prefix) {
    free(r->method), free(r->prefix);
    return KP_ERR_NOMEM;
  }
  r->plen = strlen(prefix);
  r->fn = fn;
  r->ctx = ctx;
  s->nroutes++;
  return KP_OK;
}

kp_status_t kp_srv_add_routes(kp_srv_t *s, const kp_srv_route_t *t, size_t n) {
  for (size_t i = 0; i < n; i++) {
    kp_status_t st = kp_srv_add_route(s, t[i].method, t[i].prefix, t[i].fn, t[i].ctx);
    if (st != KP_OK) return st;
  }
  return KP_OK;
}

void kp_srv_set_flush(kp_srv_t *s, void (*flush)(void *), void *ctx) {
  s->flush = flush;
  s->flush_ctx = ctx;
}

uint16_t kp_srv_port(const kp_srv_t *s) { return s->port; }

void kp_srv_wake(kp_srv_t *s) {
  uint64_t one = 1;
  ssize_t w = write(s->wfd, &one, sizeof one); /* EAGAIN: a wake is already pending */
  (void)w;
}

bool kp_srv_peer(const kp_srv_resp_t *resp, kp_addr_t *out) {
  const conn_t *c = resp ? resp->conn : NULL;
  if (!c || !c->peer.family) return false;
  *out = c->peer;
  return true;
}

kp_status_t kp_srv_create(const kp_srv_config_t *cfg, kp_srv_t **out) {
  char host[KP_ADDR_STRLEN];
  uint16_t port;
  kp_addr_t a;
  if (kp_hostport_parse(cfg->listen, host, sizeof host, &port) != KP_OK || kp_addr_parse(host, &a) != KP_OK)
    return KP_ERR_INVAL;
  kp_srv_t *s = calloc(1, sizeof *s);
  if (!s) return KP_ERR_NOMEM;
  s->cfg = *cfg;
  s->lfd = s->ep = s->wfd = -1;
  struct sockaddr_storage ss;
  socklen_t sl = (socklen_t)kp_addr_sockaddr(&a, port, &ss);
  s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(s->lfd, (struct sockaddr *)&ss, sl) != 0 || listen(s->lfd, 1024) != 0) {
    kp_log_warn("serve", "listen on %s", cfg->listen);
    kp_srv_destroy(s);
    return KP_ERR_IO;
  }
  sl = sizeof ss;
  getsockname(s->lfd, (struct sockaddr *)&ss, &sl);
  s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                          : ((struct sockaddr_in6 *)&ss)->sin6_port);
  s->ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (s->ep < 0 || epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev) != 0) {
    kp_srv_destroy(s);
    return KP_ERR_IO;
  }
  s->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &s->wfd};
  if (s->wfd < 0 || epoll_ctl(s->ep, EPOLL_CTL_ADD, s->wfd, &wev) != 0) {
    kp_srv_destroy(s);
    return KP_ERR_IO;
  }
  *out = s;
  return KP_OK;
}

static void conn_free(kp_srv_t *s, conn_t *c) {
  epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  kp_buf_free(&c->in);
  kp_buf_free(&c->out);
  kp_buf_free(&c->resp.body);
  kp_buf_free(&c->resp.headers);
  free(c);
  s->nconns--;
}

void kp_srv_destroy(kp_srv_t *s) {
  if (!s) return;
  while (s->conns) conn_free(s, s->conns);
  if (s->lfd >= 0) close(s->lfd);
  if (s->ep >= 0) close(s->ep);
  if (s->wfd >= 0) close(s->wfd);
  for (size_t i = 0; i < s->nroutes; i++) free(s->routes[i].method), free(s->routes[i].prefix);
  free(s->routes);
  free(s);
}

static void set_events(kp_srv_t *s, conn_t *c, uint32_t ev) {
  struct epoll_event e = {.events = ev, .data.ptr = c};
  epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void start_read(kp_srv_t *s, conn_t *c, bool fresh) {
  c->st = ST_READ_HEAD;
  /* a new request's head must complete within head_timeout of its first byte; an idle
   * keep-alive connection waits idle_timeout for that first byte */
  c->deadline = now_ms() + (fresh || c->in.len ? s->cfg.head_timeout_ms : s->cfg.idle_timeout_ms);
  set_events(s, c, EPOLLIN);
}

/* serialize c->resp into c->out and switch to WRITE */
static void begin_write(kp_srv_t *s, conn_t *c) {
  kp_srv_resp_t *r = &c->resp;
  if (r->status == 0) r->status = 500;
  if (c->eof) c->close_after = true;
  kp_buf_reset(&c->out);
  c->out_off = 0;
  kp_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n", r->status,
                reason(r->status), r->content_type ? r->content_type : "application/json", r->body.len,
                kp_buf_str(&r->headers), c->close_after ? "Connection: close\r\n" : "");
  kp_buf_append(&c->out, r->body.data ? r->body.data : (const uint8_t *)"", r->body.len);
  c->st = ST_WRITE;
  c->deadline = now_ms() + s->cfg.write_timeout_ms;
  set_events(s, c, EPOLLOUT);
}

static void respond_error(kp_srv_t *s, conn_t *c, int status, const char *msg) {
  kp_srv_error(&c->resp, status, msg);
  c->close_after = true;
  begin_write(s, c);
}

static const route_t *find_route(const kp_srv_t *s, const kp_srv_req_t *rq, bool *method_mismatch) {
  const route_t *best = NULL;
  *method_mismatch = false;
  for (size_t i = 0; i < s->nroutes; i++) {
    const route_t *r = &s->routes[i];
    if (rq->path.n < r->plen || memcmp(rq->path.p, r->prefix, r->plen) != 0) continue;
    if (rq->path.n > r->plen && r->prefix[r->plen - 1] != '/' && rq->path.p[r->plen] != '/') continue;
    if (strcmp(r->method, "*") != 0 && !kp_srv_slice_eq(rq->method, r->method)) {
      *method_mismatch = true;
      continue;
    }
    if (!best || r->plen > best->plen) best = r;
  }
  return best;
}

static void dispatch(kp_srv_t *s, conn_t *c) {
  kp_srv_resp_t *r = &c->resp;
  kp_buf_reset(&r->body);
  kp_buf_reset(&r->headers);
  r->status = 200;
  r->content_type = "application/json";
  r->deferred = false;
  r->async = false;
  r->conn = c;
  c->close_after = !c->req.keep_alive;
  bool mm;
  const route_t *rt = find_route(s, &c->req, &mm);
  if (!rt) {
    kp_srv_error(r, mm ? 405 : 404, mm ? "method not allowed" : "no such endpoint");
  } else if (rt->fn(rt->ctx, &c->req, r) != KP_OK) {
    if (r->status < 400) kp_srv_error(r, 500, "internal error");
  }
  if (r->deferred) {
    c->st = ST_WAIT_COMMIT;
    set_events(s, c, 0);
    c->next_deferred = s->deferred;
    s->deferred = c;
    return;
  }
  begin_write(s, c);
}

/* try to make progress on the buffered input: head, then body, then dispatch */
static void process_input(kp_srv_t *s, conn_t *c) {
  if (c->st == ST_READ_HEAD) {
    if (c->in.len == 0) return;
    kp_status_t st = kp_srv_parse_head(c->in.data, c->in.len, s->cfg.max_head, &c->req, &c->head_len);
    if (st == KP_ERR_TRUNC) return;
    if (st == KP_ERR_RANGE) return respond_error(s, c, 431, "request head too large");
    if (st == KP_ERR_UNSUPPORTED) return respond_error(s, c, 505, "only HTTP/1.0 and HTTP/1.1");
    if (st != KP_OK) return respond_error(s, c, 400, "malformed request");
    if (c->req.chunked) return respond_error(s, c, 411, "chunked bodies are not accepted; send Content-Length");
    if (c->req.content_length > (int64_t)s->cfg.max_body) return respond_error(s, c, 413, "body too large");
    c->st = ST_READ_BODY;
    c->deadline = now_ms() + s->cfg.body_timeout_ms;
  }
  if (c->st == ST_READ_BODY) {
    size_t need = c->head_len + (size_t)(c->req.content_length > 0 ? c->req.content_length : 0);
    if (c->in.len < need) return;
    /* the head's views were taken before the body arrived, and appending may have moved
     * c->in: parse the head again so every view points into the buffer as it is now (it does
     * not move again until the request is consumed after the write) */
    size_t hl;
    if (kp_srv_parse_head(c->in.data, c->in.len, s->cfg.max_head, &c->req, &hl) != KP_OK || hl != c->head_len)
      return respond_error(s, c, 500, "internal error");
    c->req.body = c->in.data + c->head_len;
    c->req.body_len = need - c->head_len;
    dispatch(s, c);
  }
}

static void on_readable(kp_srv_t *s, conn_t *c) {
  for (;;) {
    uint8_t tmp[16384];
    ssize_t n = read(c->fd, tmp, sizeof tmp);
    if (n > 0) {
      if (kp_buf_append(&c->in, tmp, (size_t)n) != KP_OK) return respond_error(s, c, 413, "request too large");
      if ((size_t)n < sizeof tmp) break;
      continue;
    }
    if (n == 0) { /* peer closed: a complete buffered request is still answered */
      c->eof = true;
      process_input(s, c);
      if (c->st == ST_READ_HEAD || c->st == ST_READ_BODY) conn_free(s, c); /* truncated: dropped */
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    conn_free(s, c);
    return;
  }
  if (c->st == ST_READ_HEAD && c->in.len && c->deadline - now_ms() > s->cfg.head_timeout_ms)
    c->deadline = now_ms() + s->cfg.head_timeout_ms; /* first byte after idle: head clock starts */
  process_input(s, c);
}

static void on_writable(kp_srv_t *s, conn_t *c) {
  while (c->out_off < c->out.len) {
    ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c->out_off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    conn_free(s, c);
    return;
  }
  if (c->close_after) {
    conn_free(s, c);
    return;
  }
  /* drop the finished request, keep pipelined bytes */
  size_t used = c->head_len + c->req.body_len;
  kp_buf_consume(&c->in, used);
  c->head_len = 0;
  memset(&c->req, 0, sizeof c->req);
  start_read(s, c, false);
  if (c->in.len) process_input(s, c);
}

static void on_accept(kp_srv_t *s) {
  for (;;) {
    struct sockaddr_storage pss;
    socklen_t psl = sizeof pss;
    int fd = accept4(s->lfd, (struct sockaddr *)&pss, &psl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return; /* EAGAIN, or EMFILE: retried on the next event */
    if (s->nconns >= s->cfg.max_conns) {
      static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 33\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
                                 "{\"error\":\"too many connections\"}\n";
      ssize_t w = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
      (void)w;
      close(fd);
      continue;
    }
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    if (pss.ss_family == AF_INET) {
      c->peer.family = 4;
      memcpy(c->peer.b, &((struct sockaddr_in *)&pss)->sin_addr, 4);
    } else if (pss.ss_family == AF_INET6) {
      c->peer.family = 6;
      memcpy(c->peer.b, &((struct sockaddr_in6 *)&pss)->sin6_addr, 16);
    }
    kp_buf_init(&c->in, s->cfg.max_head + s->cfg.max_body);
    kp_buf_init(&c->out, KP_BUF_DEFAULT_CAP);
    kp_buf_init(&c->resp.body, KP_BUF_DEFAULT_CAP);
    kp_buf_init(&c->resp.headers, 64 * 1024);
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      conn_free(s, c);
      continue;
    }
    start_read(s, c, true);
  }
}

static void sweep_timeouts(kp_srv_t *s) {
  int64_t now = now_ms();
  for (conn_t *c = s->conns, *nx; c; c = nx) {
    nx = c->next;
    if (c->st == ST_WAIT_COMMIT || !c->deadline || now < c->deadline) continue;
    if (c->st == ST_WRITE || (c->st == ST_READ_HEAD && c->in.len == 0)) conn_free(s, c);
    else respond_error(s, c, 408, "request timeout");
  }
}

kp_status_t kp_srv_run(kp_srv_t *s, volatile sig_atomic_t *stop) {
  struct epoll_event evs[256];
  int64_t last_sweep = now_ms();
  while (!*stop) {
    int n = epoll_wait(s->ep, evs, 256, 200);
    if (n < 0 && errno != EINTR) return KP_ERR_IO;
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (!c) {
        on_accept(s);
        continue;
      }
      if (evs[i].data.ptr == &s->wfd) {
        uint64_t v;
        ssize_t r = read(s->wfd, &v, sizeof v);
        (void)r;
        continue;
      }
      if (evs[i].events & (EPOLLERR | EPOLLHUP) && c->st != ST_WRITE) {
        if (c->st == ST_WAIT_COMMIT) { /* HUP is level-triggered: stop polling, free on completion */
          epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
          c->hup = true;
          continue;
        }
        conn_free(s, c);
        continue;
      }
      if (c->st == ST_WRITE) on_writable(s, c);
      else if (c->st == ST_READ_HEAD || c->st == ST_READ_BODY) on_readable(s, c);
    }
    conn_t *waiting = NULL; /* async responses not completed yet: kept for a later round */
    while (s->deferred) {
      if (s->flush) s->flush(s->flush_ctx);
      conn_t *list = s->deferred;
      s->deferred = NULL; /* pipelined requests deferred below join the next round */
      for (conn_t *c = list, *nx; c; c = nx) {
        nx = c->next_deferred;
        c->next_deferred = NULL;
        if (c->resp.deferred && c->resp.async) {
          c->next_deferred = waiting;
          waiting = c;
          continue;
        }
        if (c->resp.deferred) kp_srv_error(&c->resp, 500, "not completed"); /* flush hook contract broken */
        if (c->hup) {
          conn_free(s, c);
          continue;
        }
        begin_write(s, c);
        on_writable(s, c); /* most responses fit the socket buffer: skip a loop round */
      }
    }
    s->deferred = waiting;
    if (now_ms() - last_sweep >= 100) {
      sweep_timeouts(s);
      last_sweep = now_ms();
    }
  }
  return KP_OK;
}
