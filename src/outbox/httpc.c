/*
 * httpc.c: a small blocking HTTP/1.1 client for the uploader and `verify --server`.
 *
 * Plain TCP only ("http://host:port", literal addresses or names resolved by
 * getaddrinfo); one request per connection (Connection: close), every socket
 * operation bounded by the same absolute deadline (poll). The response head is
 * parsed by a pure function over kp_cur_t-style bounded scanning; bodies are
 * framed by Content-Length or, without it, by the connection close. Chunked
 * responses are refused (keepon's collector never sends them).
 * TLS to a collector is future work: deploy the collector behind a TLS proxy
 * and point probes at it through a local tunnel meanwhile (docs/serve.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/cursor.h"
#include "outbox/outbox.h"

static bool is_tchar(uint8_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool ieq(const uint8_t *p, size_t n, const char *lit) {
  return strlen(lit) == n && strncasecmp((const char *)p, lit, n) == 0;
}

kp_status_t kp_outbox_parse_resp_head(const uint8_t *p, size_t n, size_t max_head, kp_outbox_resp_head_t *out,
                                    size_t *head_len) {
  memset(out, 0, sizeof *out);
  out->content_length = -1;
  size_t lim = n < max_head ? n : max_head, hl = 0;
  for (size_t i = 0; i + 3 < lim; i++)
    if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
      hl = i + 4;
      break;
    }
  if (!hl) return n >= max_head ? KP_ERR_RANGE : KP_ERR_TRUNC;
  kp_cur_t c = kp_cur_make(p, hl - 2); /* up to the CRLF of the last field line */
  int lineno = 0;
  bool has_te = false;
  while (kp_cur_left(&c)) {
    const uint8_t *lp = kp_cur_ptr(&c);
    size_t left = kp_cur_left(&c), len = 0;
    while (len + 1 < left && !(lp[len] == '\r' && lp[len + 1] == '\n')) len++;
    if (len + 1 >= left) return KP_ERR_INVAL;
    kp_cur_skip(&c, len + 2);
    for (size_t k = 0; k < len; k++)
      if ((lp[k] < 0x20 && lp[k] != '\t') || lp[k] == 0x7f) return KP_ERR_INVAL;
    if (lineno++ == 0) { /* HTTP/1.x SP 3DIGIT [SP reason] */
      if (len < 12 || memcmp(lp, "HTTP/1.", 7) != 0 || (lp[7] != '0' && lp[7] != '1') || lp[8] != ' ')
        return KP_ERR_INVAL;
      int st = 0;
      for (int i = 9; i < 12; i++) {
        if (lp[i] < '0' || lp[i] > '9') return KP_ERR_INVAL;
        st = st * 10 + (lp[i] - '0');
      }
      if (st < 100 || (len > 12 && lp[12] != ' ')) return KP_ERR_INVAL;
      out->status = st;
      out->keep_alive = lp[7] == '1';
      continue;
    }
    size_t i = 0;
    while (i < len && is_tchar(lp[i])) i++;
    if (i == 0 || i >= len || lp[i] != ':') return KP_ERR_INVAL;
    const uint8_t *v = lp + i + 1;
    size_t vn = len - i - 1;
    while (vn && (*v == ' ' || *v == '\t')) v++, vn--;
    while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t')) vn--;
    if (ieq(lp, i, "content-length")) {
      if (vn == 0 || vn > 15) return KP_ERR_INVAL;
      int64_t x = 0;
      for (size_t k = 0; k < vn; k++) {
        if (v[k] < '0' || v[k] > '9') return KP_ERR_INVAL;
        x = x * 10 + (v[k] - '0');
      }
      if (out->content_length >= 0 && out->content_length != x) return KP_ERR_INVAL;
      out->content_length = x;
    } else if (ieq(lp, i, "transfer-encoding")) {
      has_te = true;
      out->chunked = vn >= 7 && strncasecmp((const char *)v + vn - 7, "chunked", 7) == 0;
    } else if (ieq(lp, i, "connection")) {
      if (vn == 5 && strncasecmp((const char *)v, "close", 5) == 0) out->keep_alive = false;
    }
  }
  if (has_te && out->content_length >= 0) return KP_ERR_INVAL;
  *head_len = hl;
  return KP_OK;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool wait_fd(int fd, short ev, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - mono_ms();
    if (left <= 0) return false;
    struct pollfd p = {.fd = fd, .events = ev};
    int r = poll(&p, 1, (int)left);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

/* "http://host:port[/...]" -> host, port */
static kp_status_t split_url(const char *url, char *host, size_t hcap, char *port, size_t pcap) {
  if (strncmp(url, "http://", 7) != 0) return KP_ERR_UNSUPPORTED; /* https: not yet */
  const char *h = url + 7, *end = h + strcspn(h, "/");
  const char *colon = NULL;
  if (*h == '[') {
    const char *rb = memchr(h, ']', (size_t)(end - h));
    if (!rb) return KP_ERR_INVAL;
    if ((size_t)(rb - h - 1) >= hcap) return KP_ERR_INVAL;
    memcpy(host, h + 1, (size_t)(rb - h - 1));
    host[rb - h - 1] = 0;
    colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
  } else {
    colon = memchr(h, ':', (size_t)(end - h));
    size_t hl = (size_t)((colon ? colon : end) - h);
    if (hl == 0 || hl >= hcap) return KP_ERR_INVAL;
    memcpy(host, h, hl);
    host[hl] = 0;
  }
  if (colon) {
    size_t pl = (size_t)(end - colon - 1);
    if (pl == 0 || pl >= pcap) return KP_ERR_INVAL;
    memcpy(port, colon + 1, pl);
    port[pl] = 0;
  } else {
    snprintf(port, pcap, "80");
  }
  return KP_OK;
}

static int connect_to(const char *host, const char *port, int64_t deadline) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
  if (getaddrinfo(host, port, &hints, &res) != 0) return -1;
  int fd = -1;
  for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    int err = 0;
    socklen_t el = sizeof err;
    if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
      break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

kp_status_t kp_outbox_http_request(const char *base_url, const char *method, const char *path, const char *ctype,
                            const void *body, size_t n, int timeout_ms, int *status, kp_buf_t *resp) {
  char host[256], port[16];
  kp_status_t st = split_url(base_url, host, sizeof host, port, sizeof port);
  if (st != KP_OK) return st;
  int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
  int fd = connect_to(host, port, deadline);
  if (fd < 0) return KP_ERR_IO;
  kp_buf_t req, in;
  kp_buf_init(&req, n + 4096);
  kp_buf_init(&in, resp->cap_limit + 16384);
  bool v6 = strchr(host, ':') != NULL;
  kp_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: keepon\r\nConnection: close\r\n",
                method, path, v6 ? "[" : "", host, v6 ? "]" : "", port);
  if (body) kp_buf_printf(&req, "Content-Type: %s\r\nContent-Length: %zu\r\n", ctype ? ctype : "application/json", n);
  kp_buf_puts(&req, "\r\n");
  if (body && n) kp_buf_append(&req, body, n);
  size_t off = 0;
  st = KP_OK;
  while (off < req.len) {
    ssize_t w = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
    if (w > 0) off += (size_t)w;
    else if (w < 0 && errno == EINTR) continue;
    else if (w < 0 && errno == EAGAIN) {
      if (!wait_fd(fd, POLLOUT, deadline)) {
        st = KP_ERR_TIMEOUT;
        break;
      }
    } else {
      st = KP_ERR_IO;
      break;
    }
  }
  kp_outbox_resp_head_t h = {0};
  size_t hl = 0;
  bool have_head = false;
  while (st == KP_OK) {
    if (have_head && h.content_length >= 0 && in.len >= hl + (size_t)h.content_length) break;
    if (!wait_fd(fd, POLLIN, deadline)) {
      st = KP_ERR_TIMEOUT;
      break;
    }
    uint8_t tmp[16384];
    ssize_t r = recv(fd, tmp, sizeof tmp, 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r < 0) {
      st = KP_ERR_IO;
      break;
    }
    if (r == 0) { /* closed: complete only if framed by close */
      if (!have_head || h.content_length >= 0) st = KP_ERR_IO;
      break;
    }
    if (kp_buf_append(&in, tmp, (size_t)r) != KP_OK) {
      st = KP_ERR_NOMEM;
      break;
    }
    if (!have_head) {
      kp_status_t ps = kp_outbox_parse_resp_head(in.data, in.len, 16384, &h, &hl);
      if (ps == KP_ERR_TRUNC) continue;
      if (ps != KP_OK || h.chunked) {
        st = KP_ERR_INVAL;
        break;
      }
      have_head = true;
    }
  }
  if (st == KP_OK) {
    size_t blen = h.content_length >= 0 ? (size_t)h.content_length : in.len - hl;
    st = kp_buf_append(resp, in.data + hl, blen);
    *status = h.status;
  }
  close(fd);
  kp_buf_free(&req);
  kp_buf_free(&in);
  return st;
}
