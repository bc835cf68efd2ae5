/*
 * alerts.c: incident alerts and the webhook client.
 *
 * The alerter remembers (id, level, ongoing) per incident it has announced.
 * Each run's incident set is compared with that memory:
 *
 *   unknown id, ongoing          -> "open"
 *   unknown id, already ended    -> "open" then "close" (seen only after the fact)
 *   known, level differs         -> "level"
 *   known & ongoing, now ended   -> "close"
 *   known & ongoing, id vanished -> "close" (merged into another incident)
 *   known & closed, ongoing again -> "open" (more data continued it)
 *
 * The webhook client is a small blocking HTTP/1.1 POST over TCP to an IP
 * literal (no DNS: alerts go to a lab or loopback receiver). Only the status
 * line of the reply is parsed (kp_http_status_parse, pure, bounded cursor).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/cursor.h"
#include "base/json.h"
#include "detect/detect.h"
#include "detect/internal.h"

typedef struct mem { char id[48]; kp_level_t level; bool ongoing; bool seen; } mem_t;

struct kp_alert_state { mem_t *v; size_t n, cap; };

kp_status_t kp_alert_state_new(kp_alert_state_t **out) {
  *out = calloc(1, sizeof **out);
  return *out ? KP_OK : KP_ERR_NOMEM;
}

void kp_alert_state_free(kp_alert_state_t *st) {
  if (!st) return;
  free(st->v);
  free(st);
}

static kp_status_t emit(kp_buf_t *out, const char *kind, const kp_incident_t *inc, const mem_t *m, size_t *count) {
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "type", "keepon-alert");
  kp_jw_kstr(&w, "alert", kind);
  if (inc) {
    kp_jw_kstr(&w, "level", kind[0] == 'c' ? "normal" : kp_level_name(inc->level));
    kp_jw_key(&w, "incident");
    kp_incident_json(inc, &w);
  } else {
    kp_jw_kstr(&w, "level", "normal");
    kp_jw_kstr(&w, "incident_id", m->id);
    kp_jw_kstr(&w, "reason", "merged into another incident");
  }
  kp_jw_obj_end(&w);
  if (w.st != KP_OK) return w.st;
  (*count)++;
  return kp_buf_putc(out, '\n');
}

kp_status_t kp_alerts_diff(kp_alert_state_t *st, const kp_incset_t *now, kp_buf_t *out, size_t *count) {
  *count = 0;
  kp_status_t r = KP_OK;
  for (size_t i = 0; i < st->n; i++) st->v[i].seen = false;
  for (size_t i = 0; i < kp_incset_count(now) && r == KP_OK; i++) {
    const kp_incident_t *inc = kp_incset_at(now, i);
    mem_t *m = NULL;
    for (size_t k = 0; k < st->n && !m; k++)
      if (!strcmp(st->v[k].id, inc->id)) m = &st->v[k];
    if (!m) {
      if (st->n == st->cap) {
        size_t nc = st->cap ? st->cap * 2 : 16;
        mem_t *v = realloc(st->v, nc * sizeof *v);
        if (!v) return KP_ERR_NOMEM;
        st->v = v;
        st->cap = nc;
      }
      m = &st->v[st->n++];
      memset(m, 0, sizeof *m);
      snprintf(m->id, sizeof m->id, "%s", inc->id);
      m->level = inc->level;
      m->ongoing = inc->ongoing;
      m->seen = true;
      r = emit(out, "open", inc, m, count);
      if (r == KP_OK && !inc->ongoing) r = emit(out, "close", inc, m, count);
      continue;
    }
    m->seen = true;
    if (!m->ongoing) {
      if (inc->ongoing) { /* data arrived that continues it (a curfew's next window): reopen */
        r = emit(out, "open", inc, m, count);
        m->level = inc->level;
        m->ongoing = true;
      }
      continue;
    }
    if (inc->level != m->level) r = emit(out, "level", inc, m, count);
    if (r == KP_OK && !inc->ongoing) r = emit(out, "close", inc, m, count);
    m->level = inc->level;
    m->ongoing = inc->ongoing;
  }
  for (size_t i = 0; i < st->n && r == KP_OK; i++) {
    if (st->v[i].seen || !st->v[i].ongoing) continue;
    r = emit(out, "close", NULL, &st->v[i], count);
    st->v[i].ongoing = false;
  }
  return r;
}

kp_status_t kp_http_status_parse(const void *p, size_t n, int *code) {
  kp_cur_t c = kp_cur_make(p, n);
  const uint8_t *v;
  if (!kp_cur_borrow(&c, &v, 9) || memcmp(v, "HTTP/1.", 7) != 0 || (v[7] != '0' && v[7] != '1') || v[8] != ' ')
    return KP_ERR_INVAL;
  int x = 0;
  for (int i = 0; i < 3; i++) {
    uint8_t d;
    if (!kp_cur_u8(&c, &d) || d < '0' || d > '9') return KP_ERR_INVAL;
    x = x * 10 + (d - '0');
  }
  uint8_t sp;
  if (kp_cur_peek(&c, &sp) && sp != ' ' && sp != '\r' && sp != '\n') return KP_ERR_INVAL;
  if (x < 100) return KP_ERR_INVAL;
  *code = x;
  return KP_OK;
}

/* "http://IP[:port]/path" -> sockaddr + path (IPv6 in brackets) */
static kp_status_t parse_url(const char *url, struct sockaddr_storage *ss, socklen_t *sl, const char **path,
                             char *hosthdr, size_t hcap) {
  if (strncmp(url, "http://", 7) != 0) return KP_ERR_UNSUPPORTED;
  const char *h = url + 7, *slash = strchr(h, '/');
  size_t hl = slash ? (size_t)(slash - h) : strlen(h);
  *path = slash ? slash : "/";
  char hp[128];
  if (hl == 0 || hl >= sizeof hp || hl >= hcap) return KP_ERR_INVAL;
  memcpy(hp, h, hl);
  hp[hl] = 0;
  memcpy(hosthdr, hp, hl + 1);
  char host[128];
  uint16_t port = 80;
  const char *colon = strrchr(hp, ':');
  if (hp[0] == '[') {
    char *rb = strchr(hp, ']');
    if (!rb) return KP_ERR_INVAL;
    size_t n = (size_t)(rb - hp - 1);
    memcpy(host, hp + 1, n);
    host[n] = 0;
    colon = rb[1] == ':' ? rb + 1 : NULL;
  } else {
    size_t n = colon ? (size_t)(colon - hp) : strlen(hp);
    memcpy(host, hp, n);
    host[n] = 0;
  }
  if (colon) {
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535) return KP_ERR_INVAL;
    port = (uint16_t)p;
  }
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *sl = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    *sl = sizeof *a6;
  } else {
    return KP_ERR_INVAL; /* IP literals only */
  }
  return KP_OK;
}

kp_status_t kp_http_exchange(const char *url, const char *method, const void *body, size_t n, int timeout_ms,
                             kp_buf_t *resp, int *http_code) {
  struct sockaddr_storage ss;
  socklen_t sl;
  const char *path;
  char hosthdr[128];
  *http_code = 0;
  kp_status_t st = parse_url(url, &ss, &sl, &path, hosthdr, sizeof hosthdr);
  if (st != KP_OK) return st;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return KP_ERR_IO;
  struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  kp_buf_t req;
  kp_buf_init(&req, KP_BUF_DEFAULT_CAP);
  st = KP_ERR_IO;
  if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
    st = errno == EINPROGRESS || errno == EAGAIN ? KP_ERR_TIMEOUT : KP_ERR_IO;
    goto out;
  }
  if (kp_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: keepon-detect\r\nConnection: close\r\n", method,
                    path, hosthdr) != KP_OK ||
      (body && kp_buf_printf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n", n) != KP_OK) ||
      kp_buf_puts(&req, "\r\n") != KP_OK || (body && kp_buf_append(&req, body, n) != KP_OK)) {
    st = KP_ERR_NOMEM;
    goto out;
  }
  for (size_t off = 0; off < req.len;) {
    ssize_t w = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
    if (w <= 0) {
      st = errno == EAGAIN ? KP_ERR_TIMEOUT : KP_ERR_IO;
      goto out;
    }
    off += (size_t)w;
  }
  /* read to EOF (Connection: close), or just the status line when no body is wanted */
  kp_buf_t in;
  kp_buf_init(&in, resp ? resp->cap_limit : 4096);
  char chunk[16384];
  for (;;) {
    ssize_t r = recv(fd, chunk, sizeof chunk, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (kp_buf_append(&in, chunk, (size_t)r) != KP_OK) {
      st = KP_ERR_NOMEM;
      kp_buf_free(&in);
      goto out;
    }
    if (!resp && memchr(in.data, '\n', in.len)) break;
  }
  int code;
  if (kp_http_status_parse(in.data ? in.data : (const uint8_t *)"", in.len, &code) != KP_OK) {
    st = in.len ? KP_ERR_INVAL : KP_ERR_IO;
    kp_buf_free(&in);
    goto out;
  }
  *http_code = code;
  if (resp) {
    const uint8_t *hdr_end = memmem(in.data, in.len, "\r\n\r\n", 4);
    size_t off = hdr_end ? (size_t)(hdr_end + 4 - in.data) : in.len;
    kp_buf_reset(resp);
    st = kp_buf_append(resp, in.data + off, in.len - off);
  } else {
    st = KP_OK;
  }
  kp_buf_free(&in);
  if (st == KP_OK) st = code >= 200 && code < 300 ? KP_OK : KP_ERR_PERM;
out:
  kp_buf_free(&req);
  close(fd);
  return st;
}

kp_status_t kp_webhook_post(const char *url, const void *body, size_t n, int timeout_ms, int *http_code) {
  return kp_http_exchange(url, "POST", body, n, timeout_ms, NULL, http_code);
}
