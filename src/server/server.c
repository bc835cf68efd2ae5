/*
 * server.c: the epoll loop and the per-connection state machine.
 *
 *   accept (conns < max_conns and this address < max_conns_per_addr; else 503 + close)
 *      |
 *      |  TLS listener                        plain listener
 *      v                                          |
 *   TLS_HANDSHAKE --SSL_accept done--------------+|
 *      | WANT_READ: EPOLLIN, WANT_WRITE: EPOLLOUT ||
 *      | deadline head_timeout / error: close     vv
 *   +------> READ_HEAD --head complete--> READ_BODY --body complete--+
 *   |           |  ^ (pipelined bytes       |                         |
 *   |           |  |  already buffered)     | timeout: 408, close     v
 *   |   timeout: 408 / malformed: 400 /     |            DISPATCH: guard (Host, Origin, token,
 *   |   too large: 431/413 -> WRITE+close   |            Content-Type), output budget, handler
 *   |                                       |                  /      \
 *   |                                       |            handler sync     resp->deferred
 *   |                                       |                  |              |
 *   |                                       |                  v              v
 *   +-- keep-alive <---- WRITE <------------+------------- (head) <------ WAIT_COMMIT
 *                          |                                     (flush hook at the end of
 *                          +-- error -> CLOSED                     the loop round completes it)
 *                          +-- close requested -> LINGER: shutdown(SHUT_WR), read and discard until
 *                              the peer's EOF or 2 s -> CLOSED (closing with unread request bytes
 *                              would send a RST that can destroy the answer, e.g. a 413, unread)
 *
 * TLS inside the states: every read and write goes through conn_recv/conn_send, which map
 * SSL_ERROR_WANT_READ/WANT_WRITE to "would block" and remember which direction OpenSSL needs;
 * the loop then waits for that direction (EPOLLIN|EPOLLOUT while a read needs a write, as a
 * TLS 1.3 key update may). OpenSSL may hold decrypted bytes the kernel no longer signals, so
 * a short TLS read stops only when SSL_has_pending() is false, and a connection returning to
 * READ_HEAD with SSL_has_pending() bytes is read at once instead of waiting for an event that will not come.
 *
 * Invariants: a connection in WAIT_COMMIT is not read from (EPOLLIN off) and
 * is never freed before the flush hook has run; every deadline is absolute
 * (monotonic ms) so a client trickling one byte at a time (slowloris) is cut
 * off when the head/body deadline passes, whatever it sends. The read buffer
 * is capped at max_head + max_body; a declared Content-Length above max_body
 * is answered 413 before any body byte is read. A connection holds at most one
 * response (it is not read while writing), a response body is at most max_resp,
 * and the bytes waiting in all responses are counted: past out_budget a request is
 * answered 503 before its handler runs, so clients that do not read cannot grow the
 * server without bound; the write deadline then closes them.
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
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/addr.h"
#include "base/json.h"
#include "base/log.h"
#include "server/server.h"
#include "server/server_tls.h"

typedef enum { ST_TLS_HANDSHAKE, ST_READ_HEAD, ST_READ_BODY, ST_WAIT_COMMIT, ST_WRITE, ST_LINGER } conn_state_t;

/* connections per client address (IPv4 address, IPv6 /64): chained hash table */
#define PEER_BUCKETS 4096
typedef struct peer {
  uint8_t key[9]; /* family byte + 4 or 8 address bytes */
  size_t n;
  struct peer *next;
} peer_t;

typedef struct conn {
  int fd;
  conn_state_t st;
  SSL *ssl;           /* NULL on a plain listener */
  bool want_write;    /* TLS: the last read needs the socket writable first */
  bool head_only;     /* HEAD: the body's length is sent, its bytes are not */
  uint32_t ev;        /* events registered with epoll now (EPOLL_CTL_MOD only on change) */
  kp_buf_t in, out;   /* out: the response head; the body is sent from resp.body */
  size_t out_off;     /* bytes of head + body sent */
  size_t out_total;   /* head + body bytes of the response being written */
  size_t head_len;
  kp_srv_req_t req;
  kp_srv_resp_t resp;
  bool close_after;
  bool eof;           /* the peer half-closed: answer what is buffered, then close */
  bool hup;           /* hung up while WAIT_COMMIT: out of epoll, freed when completed */
  kp_addr_t addr; /* the client address (kp_srv_peer) */
  int64_t deadline;   /* ms, monotonic; 0 = none */
  peer_t *peer;
  struct conn *next_deferred;
  struct conn *prev, *next; /* all connections */
} conn_t;

typedef struct route {
  char *method, *prefix;
  size_t plen;
  kp_srv_handler fn;
  void *ctx;
  unsigned flags;
} route_t;

struct kp_srv {
  kp_srv_config_t cfg;
  char *allowed_hosts, *admin_token, *tls_cert, *tls_key; /* owned copies */
  int lfd, ep, wfd; /* wfd: eventfd kp_srv_wake writes (async deferred responses) */
  uint16_t port;
  SSL_CTX *tls;
  volatile sig_atomic_t *reload;
  route_t *routes;
  size_t nroutes;
  conn_t *conns;
  size_t nconns;
  size_t out_bytes;   /* response bytes not yet sent, over all connections */
  peer_t *peers[PEER_BUCKETS];
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
  c->max_conns_per_addr = 32;
  c->max_resp = (size_t)32 << 20;
  c->page_bytes = (size_t)1 << 20;
  c->out_budget = (size_t)256 << 20;
}

static const char *reason(int st) {
  switch (st) {
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 421: return "Misdirected Request";
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

kp_status_t kp_srv_add_route_flags(kp_srv_t *s, const char *method, const char *prefix, kp_srv_handler fn,
                                   void *ctx, unsigned flags) {
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
  r->flags = flags;
  s->nroutes++;
  return KP_OK;
}

kp_status_t kp_srv_add_route(kp_srv_t *s, const char *method, const char *prefix, kp_srv_handler fn, void *ctx) {
  return kp_srv_add_route_flags(s, method, prefix, fn, ctx, 0);
}

kp_status_t kp_srv_add_routes(kp_srv_t *s, const kp_srv_route_t *t, size_t n) {
  for (size_t i = 0; i < n; i++) {
    kp_status_t st = kp_srv_add_route_flags(s, t[i].method, t[i].prefix, t[i].fn, t[i].ctx, t[i].flags);
    if (st != KP_OK) return st;
  }
  return KP_OK;
}

void kp_srv_set_flush(kp_srv_t *s, void (*flush)(void *), void *ctx) {
  s->flush = flush;
  s->flush_ctx = ctx;
}

uint16_t kp_srv_port(const kp_srv_t *s) { return s->port; }
size_t kp_srv_nconns(const kp_srv_t *s) { return s->nconns; }
void kp_srv_watch_reload(kp_srv_t *s, volatile sig_atomic_t *flag) { s->reload = flag; }

kp_status_t kp_srv_tls_reload(kp_srv_t *s) {
  if (!s->tls_cert || !s->tls_key) return KP_ERR_INVAL;
  SSL_CTX *ctx = kp_srv_tls_load(s->tls_cert, s->tls_key);
  if (!ctx) return KP_ERR_INVAL;
  SSL_CTX_free(s->tls); /* connections made from it hold their own reference */
  s->tls = ctx;
  return KP_OK;
}

static char *dup_opt(const char *v, bool *fail) {
  if (!v) return NULL;
  char *d = strdup(v);
  if (!d) *fail = true;
  return d;
}

void kp_srv_wake(kp_srv_t *s) {
  uint64_t one = 1;
  ssize_t w = write(s->wfd, &one, sizeof one); /* EAGAIN: a wake is already pending */
  (void)w;
}

bool kp_srv_peer(const kp_srv_resp_t *resp, kp_addr_t *out) {
  const conn_t *c = resp ? resp->conn : NULL;
  if (!c || !c->addr.family) return false;
  *out = c->addr;
  return true;
}

kp_status_t kp_srv_create(const kp_srv_config_t *cfg, kp_srv_t **out) {
  char host[KP_ADDR_STRLEN];
  uint16_t port;
  kp_addr_t a;
  if (kp_hostport_parse(cfg->listen, host, sizeof host, &port) != KP_OK || kp_addr_parse(host, &a) != KP_OK)
    return KP_ERR_INVAL;
  if (!cfg->tls_cert != !cfg->tls_key) return KP_ERR_INVAL;
  kp_srv_t *s = calloc(1, sizeof *s);
  if (!s) return KP_ERR_NOMEM;
  s->cfg = *cfg;
  s->lfd = s->ep = s->wfd = -1;
  if (!s->cfg.max_conns_per_addr) s->cfg.max_conns_per_addr = s->cfg.max_conns;
  if (!s->cfg.max_resp) s->cfg.max_resp = (size_t)32 << 20;
  if (!s->cfg.page_bytes || s->cfg.page_bytes > s->cfg.max_resp / 2) s->cfg.page_bytes = s->cfg.max_resp / 2;
  if (!s->cfg.out_budget) s->cfg.out_budget = (size_t)256 << 20;
  bool fail = false;
  const char *hosts = cfg->allowed_hosts;
  bool loop4 = a.family == 4 && a.b[0] == 127, loop6 = a.family == 6 && kp_addr_eq(&a, &(kp_addr_t){.family = 6, .b[15] = 1});
  if (!hosts) hosts = loop4 || loop6 ? "localhost,127.0.0.1,::1" : "*";
  char hb[KP_ADDR_STRLEN + 64];
  if (!cfg->allowed_hosts && loop4 && strcmp(host, "127.0.0.1") != 0) { /* 127.0.0.2 etc. */
    snprintf(hb, sizeof hb, "localhost,127.0.0.1,::1,%s", host);
    hosts = hb;
  }
  s->allowed_hosts = dup_opt(hosts, &fail);
  s->admin_token = dup_opt(cfg->admin_token, &fail);
  s->tls_cert = dup_opt(cfg->tls_cert, &fail);
  s->tls_key = dup_opt(cfg->tls_key, &fail);
  s->cfg.allowed_hosts = s->allowed_hosts;
  s->cfg.admin_token = s->admin_token;
  s->cfg.tls_cert = s->tls_cert;
  s->cfg.tls_key = s->tls_key;
  if (fail) {
    kp_srv_destroy(s);
    return KP_ERR_NOMEM;
  }
  if (s->tls_cert && kp_srv_tls_reload(s) != KP_OK) {
    kp_srv_destroy(s);
    return KP_ERR_INVAL;
  }
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

/* ---- per-address accounting ---- */
static size_t peer_key(const struct sockaddr_storage *ss, uint8_t key[9]) {
  memset(key, 0, 9);
  if (ss->ss_family == AF_INET) {
    key[0] = 4;
    memcpy(key + 1, &((const struct sockaddr_in *)ss)->sin_addr, 4);
  } else if (ss->ss_family == AF_INET6) {
    const uint8_t *b = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(b, mapped, 12) == 0) {
      key[0] = 4;
      memcpy(key + 1, b + 12, 4);
    } else {
      key[0] = 6;
      memcpy(key + 1, b, 8); /* one /64: what one subscriber gets */
    }
  }
  uint32_t h = 2166136261u;
  for (int i = 0; i < 9; i++) h = (h ^ key[i]) * 16777619u;
  return h % PEER_BUCKETS;
}

static peer_t *peer_get(kp_srv_t *s, const struct sockaddr_storage *ss) {
  uint8_t key[9];
  size_t b = peer_key(ss, key);
  for (peer_t *p = s->peers[b]; p; p = p->next)
    if (memcmp(p->key, key, 9) == 0) return p;
  peer_t *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  memcpy(p->key, key, 9);
  p->next = s->peers[b];
  s->peers[b] = p;
  return p;
}

static void peer_put(kp_srv_t *s, peer_t *p) {
  if (!p || --p->n) return;
  uint8_t key[9];
  memcpy(key, p->key, 9);
  uint32_t h = 2166136261u;
  for (int i = 0; i < 9; i++) h = (h ^ key[i]) * 16777619u;
  for (peer_t **pp = &s->peers[h % PEER_BUCKETS]; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      free(p);
      return;
    }
}

static void conn_free(kp_srv_t *s, conn_t *c) {
  epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
  if (c->ssl) { /* close_notify only on an orderly close (LINGER); an errored peer gets none */
    SSL_free(c->ssl);
    ERR_clear_error();
  }
  close(c->fd);
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  if (c->st == ST_WRITE) s->out_bytes -= c->out_total - c->out_off;
  peer_put(s, c->peer);
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
  for (size_t b = 0; b < PEER_BUCKETS; b++)
    for (peer_t *p = s->peers[b], *nx; p; p = nx) nx = p->next, free(p);
  SSL_CTX_free(s->tls);
  free(s->allowed_hosts), free(s->admin_token), free(s->tls_cert), free(s->tls_key);
  free(s);
}

/* ---- I/O through TLS or not: >0 bytes, 0 end of stream, -1 would block, -2 error ---- */
static ssize_t tls_result(conn_t *c, int r) {
  int e = SSL_get_error(c->ssl, r);
  ERR_clear_error();
  if (e == SSL_ERROR_WANT_READ) return -1;
  if (e == SSL_ERROR_WANT_WRITE) {
    c->want_write = true;
    return -1;
  }
  if (e == SSL_ERROR_ZERO_RETURN) return 0;
  return -2;
}

static ssize_t conn_recv(conn_t *c, uint8_t *p, size_t n) {
  if (c->ssl) {
    c->want_write = false;
    int r = SSL_read(c->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
    return r > 0 ? r : tls_result(c, r);
  }
  for (;;) {
    ssize_t r = read(c->fd, p, n);
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
  }
}

static ssize_t conn_send(conn_t *c, const uint8_t *p, size_t n, bool more) {
  if (c->ssl) {
    int r = SSL_write(c->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
    return r > 0 ? r : tls_result(c, r);
  }
  for (;;) {
    ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
  }
}

static void set_events(kp_srv_t *s, conn_t *c, uint32_t ev) {
  if (c->ev == ev) return;
  struct epoll_event e = {.events = ev, .data.ptr = c};
  epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &e);
  c->ev = ev;
}

static void start_read(kp_srv_t *s, conn_t *c, bool fresh) {
  c->st = ST_READ_HEAD;
  /* a new request's head must complete within head_timeout of its first byte; an idle
   * keep-alive connection waits idle_timeout for that first byte */
  c->deadline = now_ms() + (fresh || c->in.len ? s->cfg.head_timeout_ms : s->cfg.idle_timeout_ms);
  set_events(s, c, EPOLLIN);
}

/* serialize c->resp's head into c->out and switch to WRITE (the body is sent from resp.body).
 * @p arm: wait for EPOLLOUT. A caller that calls on_writable right away passes false: most
 * responses fit the socket buffer, and on_writable arms EPOLLOUT itself when the send would
 * block; that saves an epoll_ctl per response on the group-commit path. */
static void begin_write_arm(kp_srv_t *s, conn_t *c, bool arm) {
  kp_srv_resp_t *r = &c->resp;
  if (r->status == 0) r->status = 500;
  if (c->eof) c->close_after = true;
  kp_buf_reset(&c->out);
  c->out_off = 0;
  kp_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s%s\r\n", r->status,
                reason(r->status), r->content_type ? r->content_type : "application/json", r->body.len,
                kp_srv_security_headers, kp_buf_str(&r->headers), c->close_after ? "Connection: close\r\n" : "");
  if (c->ssl && !c->head_only && r->body.len && r->body.len <= 16384 && kp_buf_append(&c->out, r->body.data, r->body.len) == KP_OK)
    c->head_only = true; /* TLS: head and a small body in one record, one SSL_write */
  c->out_total = c->out.len + (c->head_only ? 0 : r->body.len);
  s->out_bytes += c->out_total;
  c->st = ST_WRITE;
  c->deadline = now_ms() + s->cfg.write_timeout_ms;
  if (arm) set_events(s, c, EPOLLOUT);
}
static void begin_write(kp_srv_t *s, conn_t *c) { begin_write_arm(s, c, true); }

static void respond_error(kp_srv_t *s, conn_t *c, int status, const char *msg) {
  kp_srv_error(&c->resp, status, msg);
  c->close_after = true;
  begin_write(s, c);
}

static const route_t *find_route(const kp_srv_t *s, const kp_srv_req_t *rq, bool *method_mismatch) {
  const route_t *best = NULL;
  *method_mismatch = false;
  bool head = kp_srv_slice_eq(rq->method, "HEAD");
  for (size_t i = 0; i < s->nroutes; i++) {
    const route_t *r = &s->routes[i];
    if (rq->path.n < r->plen || memcmp(rq->path.p, r->prefix, r->plen) != 0) continue;
    if (rq->path.n > r->plen && r->prefix[r->plen - 1] != '/' && rq->path.p[r->plen] != '/') continue;
    if (strcmp(r->method, "*") != 0 && !kp_srv_slice_eq(rq->method, r->method) &&
        !(head && strcmp(r->method, "GET") == 0)) {
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
  r->page_bytes = s->cfg.page_bytes;
  c->close_after = !c->req.keep_alive;
  c->head_only = kp_srv_slice_eq(c->req.method, "HEAD");
  bool mm;
  const route_t *rt = find_route(s, &c->req, &mm);
  if (!kp_srv_guard(&s->cfg, &c->req, rt ? rt->flags : 0, r)) {
    /* refused before any handler ran (Host first, so even a 404 is not given to a rebound name) */
  } else if (!rt) {
    kp_srv_error(r, mm ? 405 : 404, mm ? "method not allowed" : "no such endpoint");
  } else if (s->out_bytes >= s->cfg.out_budget) {
    kp_srv_error(r, 503, "server busy; retry later");
    kp_buf_puts(&r->headers, "Retry-After: 1\r\n");
  } else if (rt->fn(rt->ctx, &c->req, r) != KP_OK) {
    if (r->status < 400)
      kp_srv_error(r, 500, r->body.len + 4096 >= s->cfg.max_resp ? "response too large; ask for a smaller page" : "internal error");
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

static void on_readable(kp_srv_t *s, conn_t *c);

static void on_handshake(kp_srv_t *s, conn_t *c) {
  c->want_write = false;
  int r = SSL_accept(c->ssl);
  if (r == 1) {
    start_read(s, c, true);
    /* read-ahead may already hold the first request (sent right behind the client Finished) */
    if (SSL_has_pending(c->ssl)) on_readable(s, c);
    return;
  }
  ssize_t e = tls_result(c, r);
  if (e == -1) set_events(s, c, c->want_write ? EPOLLOUT : EPOLLIN);
  else conn_free(s, c); /* not TLS, wrong version, bad client hello: nothing to answer */
}

static void on_readable(kp_srv_t *s, conn_t *c) {
  for (;;) {
    uint8_t tmp[16384];
    ssize_t n = conn_recv(c, tmp, sizeof tmp);
    if (n > 0) {
      if (kp_buf_append(&c->in, tmp, (size_t)n) != KP_OK) return respond_error(s, c, 413, "request too large");
      /* a short read drained the kernel; epoll is level-triggered, so more bytes wake us again.
       * With TLS, bytes OpenSSL already read ahead would not: SSL_has_pending */
      if ((size_t)n < sizeof tmp && (!c->ssl || !SSL_has_pending(c->ssl))) break;
      continue;
    }
    if (n == 0) { /* peer closed: a complete buffered request is still answered */
      c->eof = true;
      process_input(s, c);
      if (c->st == ST_READ_HEAD || c->st == ST_READ_BODY) conn_free(s, c); /* truncated: dropped */
      return;
    }
    if (n == -1) break;
    conn_free(s, c);
    return;
  }
  if (c->ssl) set_events(s, c, c->want_write ? EPOLLIN | EPOLLOUT : EPOLLIN);
  if (c->st == ST_READ_HEAD && c->in.len && c->deadline - now_ms() > s->cfg.head_timeout_ms)
    c->deadline = now_ms() + s->cfg.head_timeout_ms; /* first byte after idle: head clock starts */
  process_input(s, c);
}

static void on_writable(kp_srv_t *s, conn_t *c) {
  const kp_buf_t *body = &c->resp.body;
  while (c->out_off < c->out_total) {
    bool in_head = c->out_off < c->out.len;
    const uint8_t *p = in_head ? c->out.data + c->out_off : body->data + (c->out_off - c->out.len);
    size_t left = in_head ? c->out.len - c->out_off : c->out_total - c->out_off;
    ssize_t n = conn_send(c, p, left, in_head && c->out_total > c->out.len);
    if (n > 0) {
      c->out_off += (size_t)n;
      s->out_bytes -= (size_t)n;
      continue;
    }
    if (n == -1) {
      set_events(s, c, !c->ssl || c->want_write ? EPOLLOUT : EPOLLIN | EPOLLOUT);
      return;
    }
    conn_free(s, c);
    return;
  }
  if (c->close_after) {
    if (c->ssl) SSL_shutdown(c->ssl);
    shutdown(c->fd, SHUT_WR);
    c->st = ST_LINGER;
    c->deadline = now_ms() + 2000;
    set_events(s, c, EPOLLIN);
    return;
  }
  /* drop the finished request, keep pipelined bytes; give back big buffers */
  size_t used = c->head_len + c->req.body_len;
  kp_buf_consume(&c->in, used);
  c->head_len = 0;
  memset(&c->req, 0, sizeof c->req);
  if (c->resp.body.alloc > 256 * 1024) {
    kp_buf_free(&c->resp.body);
    kp_buf_init(&c->resp.body, s->cfg.max_resp);
  }
  if (c->in.len == 0 && c->in.alloc > 256 * 1024) {
    kp_buf_free(&c->in);
    kp_buf_init(&c->in, s->cfg.max_head + s->cfg.max_body);
  }
  start_read(s, c, false);
  if (c->in.len) process_input(s, c);
  if (c->st == ST_READ_HEAD && c->ssl && SSL_has_pending(c->ssl)) on_readable(s, c);
}

static void on_linger(kp_srv_t *s, conn_t *c) {
  uint8_t tmp[16384];
  for (int i = 0; i < 64; i++) { /* at most 1 MiB per event: others get their turn */
    ssize_t n = read(c->fd, tmp, sizeof tmp);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    break;
  }
  conn_free(s, c);
}

static void refuse(int fd, const char *why) {
  char busy[256];
  int n = snprintf(busy, sizeof busy,
                   "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\nRetry-After: 1\r\n\r\n{\"error\":\"%s\"}\n",
                   strlen(why) + 13, why);
  ssize_t w = send(fd, busy, (size_t)n, MSG_NOSIGNAL);
  (void)w;
  close(fd);
}

static void on_accept(kp_srv_t *s) {
  for (;;) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return; /* EAGAIN, or EMFILE: retried on the next event */
    if (s->nconns >= s->cfg.max_conns) {
      refuse(fd, "too many connections");
      continue;
    }
    peer_t *peer = peer_get(s, &ss);
    if (!peer || peer->n >= s->cfg.max_conns_per_addr) {
      refuse(fd, "too many connections from your address");
      if (peer && peer->n == 0) peer->n = 1, peer_put(s, peer);
      continue;
    }
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    peer->n++;
    c->peer = peer;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    if (ss.ss_family == AF_INET) {
      c->addr.family = 4;
      memcpy(c->addr.b, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
      c->addr.family = 6;
      memcpy(c->addr.b, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    }
    kp_buf_init(&c->in, s->cfg.max_head + s->cfg.max_body);
    kp_buf_init(&c->out, 64 * 1024 + s->cfg.max_head);
    kp_buf_init(&c->resp.body, s->cfg.max_resp);
    kp_buf_init(&c->resp.headers, 32 * 1024);
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    c->ev = EPOLLIN;
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      conn_free(s, c);
      continue;
    }
    if (s->tls) {
      c->ssl = SSL_new(s->tls);
      if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
        conn_free(s, c);
        continue;
      }
      c->st = ST_TLS_HANDSHAKE;
      c->deadline = now_ms() + s->cfg.head_timeout_ms;
      continue; /* the client speaks first */
    }
    start_read(s, c, true);
  }
}

static void sweep_timeouts(kp_srv_t *s) {
  int64_t now = now_ms();
  for (conn_t *c = s->conns, *nx; c; c = nx) {
    nx = c->next;
    if (c->st == ST_WAIT_COMMIT || !c->deadline || now < c->deadline) continue;
    if (c->st == ST_WRITE || c->st == ST_TLS_HANDSHAKE || c->st == ST_LINGER || (c->st == ST_READ_HEAD && c->in.len == 0))
      conn_free(s, c);
    else respond_error(s, c, 408, "request timeout");
  }
}

kp_status_t kp_srv_run(kp_srv_t *s, volatile sig_atomic_t *stop) {
  struct epoll_event evs[256];
  int64_t last_sweep = now_ms();
  while (!*stop) {
    if (s->reload && *s->reload) {
      *s->reload = 0;
      if (s->tls_cert) {
        kp_status_t st = kp_srv_tls_reload(s);
        if (st == KP_OK) kp_log_info("serve", "TLS certificate reloaded from %s", s->tls_cert);
        else kp_log_warnx("serve", "TLS reload failed; still serving the previous certificate");
      }
    }
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
      if (c->st == ST_LINGER) on_linger(s, c);
      else if (c->st == ST_TLS_HANDSHAKE) on_handshake(s, c);
      else if (c->st == ST_WRITE) on_writable(s, c);
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
        begin_write_arm(s, c, false);
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
