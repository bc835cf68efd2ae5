/*
 * th_client.c: the probe's side of the control: POST the TH request to a
 * helper at http://ADDR:PORT/ and read its answer.
 *
 * Plain HTTP to a literal address (the helper is ours: `keepon helper`);
 * https helpers are not supported (OONI's public THs need TLS fronting).
 * One blocking exchange with a deadline over connect, write and read; the
 * response is parsed with src/net's pure HTTP parser (body capped at 4 MiB)
 * and then as JSON. Any failure is returned as a df-007-like string for
 * control_failure, never as an error of the run.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "webconn/wc_net.h"

#define RESP_CAP ((size_t)4 << 20)

static int64_t ms_left(int64_t deadline) {
  int64_t l = (deadline - kp_now_mono(kp_clock_system())) / 1000000;
  return l < 0 ? 0 : l;
}

static const char *wait_fd(int fd, short ev, int64_t deadline) {
  struct pollfd pf = {.fd = fd, .events = ev};
  int ms = (int)ms_left(deadline);
  if (ms == 0) return KP_FAIL_TIMEOUT;
  int r = poll(&pf, 1, ms);
  if (r == 0) return KP_FAIL_TIMEOUT;
  if (r < 0 && errno != EINTR) return "unknown_failure: poll";
  return NULL;
}

kp_status_t kp_wc_th_query(const char *helper, const kp_wc_threq_t *req, double timeout, kp_buf_t *body_out,
                           const char **failure) {
  *failure = NULL;
  kp_buf_reset(body_out);
  char scheme[8], host[256];
  int port;
  if (kp_wc_url_split(helper, scheme, sizeof scheme, host, sizeof host, &port) != KP_OK ||
      strcmp(scheme, "http") != 0)
    return KP_ERR_INVAL;
  kp_addr_t a;
  if (kp_addr_parse(host, &a) != KP_OK) return KP_ERR_INVAL;
  if (!port) port = 80;
  char path[512];
  if (kp_wc_url_path(helper, path, sizeof path) != KP_OK) return KP_ERR_INVAL;

  kp_buf_t msg, raw, body;
  kp_buf_init(&msg, (size_t)1 << 20);
  kp_buf_init(&raw, RESP_CAP + 65536);
  kp_buf_init(&body, RESP_CAP);
  kp_jw_t w;
  kp_buf_t json;
  kp_buf_init(&json, (size_t)1 << 20);
  kp_jw_init(&w, &json);
  kp_wc_threq_write(&w, req);
  kp_status_t st = w.st;
  if (st == KP_OK)
    st = kp_buf_printf(&msg,
                       "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: keepon/1\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                       path, host, json.len);
  if (st == KP_OK) st = kp_buf_append(&msg, json.data, json.len);
  int fd = -1;
  if (st != KP_OK) goto out;

  int64_t deadline = kp_now_mono(kp_clock_system()) + (int64_t)(timeout * 1e9);
  struct sockaddr_storage ss;
  socklen_t sl = (socklen_t)kp_addr_sockaddr(&a, (uint16_t)port, &ss);
  fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  char scratch[128];
  if (fd < 0) {
    *failure = kp_net_failure_errno(errno, scratch, sizeof scratch);
    goto out;
  }
  if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
    *failure = kp_net_failure_errno(errno, scratch, sizeof scratch);
    goto out;
  }
  if ((*failure = wait_fd(fd, POLLOUT, deadline))) goto out;
  int err = 0;
  socklen_t el = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
  if (err) {
    *failure = kp_net_failure_errno(err, scratch, sizeof scratch);
    goto out;
  }
  size_t off = 0;
  while (off < msg.len) {
    ssize_t n = send(fd, msg.data + off, msg.len - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += (size_t)n;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      *failure = kp_net_failure_errno(errno, scratch, sizeof scratch);
      goto out;
    }
    if ((*failure = wait_fd(fd, POLLOUT, deadline))) goto out;
  }
  bool eof = false;
  kp_http_resp_t r;
  for (;;) {
    uint8_t chunk[16384];
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      if (kp_buf_append(&raw, chunk, (size_t)n) != KP_OK) {
        *failure = "unknown_failure: control response too large";
        goto out;
      }
    } else if (n == 0) {
      eof = true;
    } else if (errno != EAGAIN && errno != EINTR) {
      *failure = kp_net_failure_errno(errno, scratch, sizeof scratch);
      goto out;
    }
    if (n != -1) {
      kp_status_t p = kp_http_parse(raw.data ? raw.data : (const uint8_t *)"", raw.len, eof, RESP_CAP, &r, &body);
      if (p == KP_OK) break;
      if (p == KP_ERR_INVAL || eof) {
        *failure = eof && raw.len == 0 ? KP_FAIL_EOF : KP_FAIL_HTTP_BAD;
        goto out;
      }
      continue;
    }
    if ((*failure = wait_fd(fd, POLLIN, deadline))) goto out;
  }
  if (r.status != 200) {
    *failure = "http_request_failed";
    goto out;
  }
  st = kp_buf_append(body_out, body.data ? body.data : (const uint8_t *)"", body.len);
out:
  if (fd >= 0) close(fd);
  kp_buf_free(&msg);
  kp_buf_free(&raw);
  kp_buf_free(&body);
  kp_buf_free(&json);
  return st;
}
