/*
 * serve_load.c: concurrent load generator for `keepon serve` (bench and kill -9 test).
 *
 *   serve_load HOST:PORT CLIENTS PER_CLIENT PREFIX [LOG]
 *
 * Each of CLIENTS threads opens a report (POST /report) and then submits PER_CLIENT distinct
 * measurements over one keep-alive connection (reconnecting after any error). Measurement k
 * of client c has input "https://load.example/PREFIX/c/k" and fixed times, so re-running with
 * the same PREFIX resubmits byte-identical content (the collector must deduplicate it).
 * LOG gets one line per submission: "<input> <http status or 0 on error>". stdout gets
 * "ok=N err=N secs=S rate=R p50_ms=X p99_ms=Y".
 * KP_LOAD_TLS=1: every connection is TLS (handshake included in the first request's latency;
 * the certificate is not verified: a loopback bench, not a client).
 *
 * Two engines with the same clients and the same output. Plain HTTP (the default) runs every
 * client as a state machine on one epoll thread: the generator shares the cores with the
 * collector and ClickHouse it measures, and a thread per client cost ~31 us of CPU per
 * submission at 1,024 clients (context switches, two sends), about as much as the collector's
 * own work. TLS (or KP_LOAD_THREADS=1) keeps a blocking thread per client. A client's states:
 *
 *   CONNECTING --writable--> SENDING (open, or submission k) --sent--> READING
 *       ^                                                                |
 *       |                      error / 5 s without an answer:            | complete answer:
 *       +---- (reconnect) ---- open: retry in 50 ms; submission k:       | open: report id or
 *                              logged 0, counted err, k+1 next           | retry; k: logged, k+1
 *                                                                        v
 *                                                     DONE after PER_CLIENT submissions
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "base/buf.h"
#include "net/net.h"
#include "outbox/outbox.h"

static struct sockaddr_in g_addr;
static int g_per;
static const char *g_prefix;
static FILE *g_log;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *g_tls;          /* KP_LOAD_TLS=1 */
static __thread SSL *t_ssl;     /* this thread's connection, when TLS */

static ssize_t xsend(int fd, const void *p, size_t n) {
  if (!t_ssl) return send(fd, p, n, MSG_NOSIGNAL);
  size_t done = 0;
  while (done < n) {
    int r = SSL_write(t_ssl, (const char *)p + done, (int)(n - done));
    if (r <= 0) return -1;
    done += (size_t)r;
  }
  return (ssize_t)n;
}
static ssize_t xrecv(int fd, void *p, size_t n) { return t_ssl ? SSL_read(t_ssl, p, (int)n) : recv(fd, p, n, 0); }
static void xclose(int fd) {
  if (t_ssl) SSL_free(t_ssl);
  t_ssl = NULL;
  close(fd);
}

typedef struct worker {
  int id;
  int ok, err;
  double *lat;
  int nlat;
} worker_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&g_addr, sizeof g_addr) != 0) {
    close(fd);
    return -1;
  }
  if (g_tls) {
    t_ssl = SSL_new(g_tls);
    SSL_set_tlsext_host_name(t_ssl, "localhost");
    if (!t_ssl || SSL_set_fd(t_ssl, fd) != 1 || SSL_connect(t_ssl) != 1) {
      xclose(fd);
      return -1;
    }
  }
  return fd;
}

/* one request on *fd (dialing if needed); returns HTTP status or 0; body into out */
static int roundtrip(int *fd, const char *path, const char *body, size_t n, kp_buf_t *out) {
  if (*fd < 0 && (*fd = dial()) < 0) return 0;
  char head[512];
  int hl = snprintf(head, sizeof head,
                    "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                    path, n);
  if (xsend(*fd, head, (size_t)hl) != hl || xsend(*fd, body, n) != (ssize_t)n) goto fail;
  kp_buf_reset(out);
  for (;;) {
    char tmp[8192];
    ssize_t r = xrecv(*fd, tmp, sizeof tmp);
    if (r <= 0) goto fail;
    kp_buf_append(out, tmp, (size_t)r);
    kp_http_resp_t h;
    kp_buf_t rb;
    kp_buf_init(&rb, 1 << 20);
    kp_status_t st = kp_http_parse(out->data, out->len, false, 1 << 20, &h, &rb);
    if (st == KP_OK && h.content_length < 0) st = KP_ERR_INVAL;
    size_t cl = 0;
    const char *conn = st == KP_OK ? kp_http_header(&h, out->data, "connection", &cl) : NULL;
    bool keep_alive = h.minor == 1 && !(conn && cl == 5 && strncasecmp(conn, "close", 5) == 0);
    if (st == KP_OK) {
      kp_buf_reset(out);
      kp_buf_append(out, rb.data ? rb.data : (const uint8_t *)"", rb.len);
    }
    kp_buf_free(&rb);
    if (st == KP_ERR_TRUNC) continue;
    if (st != KP_OK) goto fail;
    if (!keep_alive) {
      xclose(*fd);
      *fd = -1;
    }
    return h.status;
  }
fail:
  xclose(*fd);
  *fd = -1;
  return 0;
}

/* measurement k of client id (its bytes depend only on prefix, id and k) */
static void msm_body(kp_buf_t *body, int id, int k) {
  kp_buf_reset(body);
  kp_buf_printf(body,
                "{\"format\":\"json\",\"content\":{\"probe_cc\":\"KZ\",\"probe_asn\":\"AS9198\","
                "\"test_name\":\"web_connectivity\",\"test_version\":\"0.4.3\",\"report_id\":\"load\","
                "\"software_name\":\"serve_load\",\"software_version\":\"0.1\",\"probe_ip\":\"127.0.0.1\","
                "\"measurement_start_time\":\"2022-01-05 10:30:00\",\"test_start_time\":\"2022-01-05 10:30:00\","
                "\"input\":\"https://load.example/%s/%d/%d\",\"test_keys\":{\"blocking\":%s,\"accessible\":%s,"
                "\"queries\":[],\"requests\":[],\"tcp_connect\":[]}}}",
                g_prefix, id, k, k % 3 == 0 ? "\"tcp_ip\"" : "false", k % 3 == 0 ? "false" : "true");
}

static const char k_open_body[] = "{\"probe_cc\":\"KZ\",\"probe_asn\":\"AS9198\",\"test_name\":\"web_connectivity\","
                                  "\"software_name\":\"serve_load\",\"software_version\":\"0.1\",\"format\":\"json\"}";

static void log_line(int id, int k, int st) {
  if (!g_log) return;
  pthread_mutex_lock(&g_mu);
  fprintf(g_log, "https://load.example/%s/%d/%d %d\n", g_prefix, id, k, st);
  pthread_mutex_unlock(&g_mu);
}

static void *run(void *arg) {
  worker_t *w = arg;
  int fd = -1;
  kp_buf_t resp, body;
  kp_buf_init(&resp, 1 << 20);
  kp_buf_init(&body, 1 << 20);
  char rid[128] = "";
  while (!rid[0]) {
    int st = roundtrip(&fd, "/report", k_open_body, strlen(k_open_body), &resp);
    char *p = st == 200 ? strstr(kp_buf_str(&resp), "\"report_id\":\"") : NULL;
    if (p && sscanf(p + 13, "%100[^\"]", rid) == 1) break;
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
  }
  char path[256];
  snprintf(path, sizeof path, "/report/%s", rid);
  for (int k = 0; k < g_per; k++) {
    msm_body(&body, w->id, k);
    double t0 = now_s();
    int st = roundtrip(&fd, path, (const char *)body.data, body.len, &resp);
    double dt = now_s() - t0;
    if (st >= 200 && st < 300) {
      w->ok++;
      w->lat[w->nlat++] = dt;
    } else {
      w->err++;
    }
    log_line(w->id, k, st);
  }
  if (fd >= 0) xclose(fd);
  kp_buf_free(&resp);
  kp_buf_free(&body);
  return NULL;
}

/* ---------- the epoll engine (plain HTTP): every client a state machine on one thread ---------- */

enum { C_CONNECTING, C_SENDING, C_READING, C_WAIT, C_DONE };

typedef struct evc {
  worker_t *w;
  int fd, state, k;    /* k: the submission in flight; -1 while opening the report */
  char rid[128];
  kp_buf_t out, in, body;
  size_t out_off;
  double t0, deadline; /* request start; its answer is due by deadline (or the retry time, C_WAIT) */
} evc_t;

static int g_ep;

static void ev_close(evc_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
}

/* queue the request for the client's current step, dialing if needed */
static void ev_start(evc_t *c, double now) {
  kp_buf_reset(&c->out);
  const char *path = "/report", *b = k_open_body;
  size_t n = strlen(k_open_body);
  char p[192];
  if (c->k >= 0) {
    msm_body(&c->body, c->w->id, c->k);
    snprintf(p, sizeof p, "/report/%s", c->rid);
    path = p, b = (const char *)c->body.data, n = c->body.len;
  }
  kp_buf_printf(&c->out,
                "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                path, n);
  kp_buf_append(&c->out, b, n);
  c->out_off = 0;
  kp_buf_reset(&c->in);
  c->t0 = now;
  c->deadline = now + 5;
  if (c->fd < 0) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (c->fd >= 0) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->fd < 0 || (connect(c->fd, (struct sockaddr *)&g_addr, sizeof g_addr) != 0 && errno != EINPROGRESS)) {
      ev_close(c);
      c->state = C_WAIT; /* no socket or refused at once: try again soon */
      c->deadline = now + 0.05;
      return;
    }
    struct epoll_event e = {.events = EPOLLOUT | EPOLLIN | EPOLLET, .data.ptr = c}; /* edge: read/write until EAGAIN */
    epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &e);
    c->state = C_CONNECTING;
    return;
  }
  c->state = C_SENDING;
}

static void ev_io(evc_t *c, double now);

/* the step ended with HTTP status st (0: no answer); move on */
static void ev_finish(evc_t *c, int st, bool keep, double now) {
  if (!keep) ev_close(c);
  if (c->k < 0) { /* the report open */
    char *q = st == 200 ? strstr(kp_buf_str(&c->in), "\"report_id\":\"") : NULL;
    if (q && sscanf(q + 13, "%100[^\"]", c->rid) == 1) {
      c->k = 0;
      ev_start(c, now);
      if (c->state == C_SENDING) ev_io(c, now); /* kept alive: no edge will come */
    } else {
      ev_close(c);
      c->state = C_WAIT, c->deadline = now + 0.05;
    }
    return;
  }
  if (st >= 200 && st < 300) {
    c->w->ok++;
    c->w->lat[c->w->nlat++] = now - c->t0;
  } else {
    c->w->err++;
  }
  log_line(c->w->id, c->k, st);
  if (++c->k == g_per) {
    ev_close(c);
    c->state = C_DONE;
    return;
  }
  ev_start(c, now);
  if (c->state == C_SENDING) ev_io(c, now); /* kept alive: no edge will come */
}

static void ev_io(evc_t *c, double now) {
  if (c->state == C_CONNECTING) {
    int err = 0;
    socklen_t l = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0 || err) return ev_finish(c, 0, false, now);
    c->state = C_SENDING;
  }
  if (c->state == C_SENDING) {
    while (c->out_off < c->out.len) {
      ssize_t r = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (r <= 0) return ev_finish(c, 0, false, now);
      c->out_off += (size_t)r;
    }
    c->state = C_READING;
  }
  if (c->state != C_READING) return;
  for (;;) {
    char tmp[8192];
    ssize_t r = recv(c->fd, tmp, sizeof tmp, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (r <= 0) return ev_finish(c, 0, false, now);
    kp_buf_append(&c->in, tmp, (size_t)r);
    kp_http_resp_t h;
    kp_buf_t rb;
    kp_buf_init(&rb, 1 << 20);
    kp_status_t st = kp_http_parse(c->in.data, c->in.len, false, 1 << 20, &h, &rb);
    if (st == KP_OK && h.content_length < 0) st = KP_ERR_INVAL;
    if (st == KP_ERR_TRUNC) {
      kp_buf_free(&rb);
      continue;
    }
    size_t cl = 0;
    const char *conn = st == KP_OK ? kp_http_header(&h, c->in.data, "connection", &cl) : NULL;
    bool keep = st == KP_OK && h.minor == 1 && !(conn && cl == 5 && strncasecmp(conn, "close", 5) == 0);
    if (st == KP_OK) {
      kp_buf_reset(&c->in);
      kp_buf_append(&c->in, rb.data ? rb.data : (const uint8_t *)"", rb.len);
    }
    kp_buf_free(&rb);
    return ev_finish(c, st == KP_OK ? h.status : 0, keep, now);
  }
}

static void run_epoll(worker_t *ws, int nc) {
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  evc_t *cs = calloc((size_t)nc, sizeof *cs);
  double now = now_s(), next_scan = now;
  for (int i = 0; i < nc; i++) {
    cs[i] = (evc_t){.w = &ws[i], .fd = -1, .k = -1};
    kp_buf_init(&cs[i].out, 1 << 20);
    kp_buf_init(&cs[i].in, 1 << 20);
    kp_buf_init(&cs[i].body, 1 << 20);
    ev_start(&cs[i], now);
  }
  int live = nc;
  struct epoll_event evs[256];
  while (live) {
    int n = epoll_wait(g_ep, evs, 256, 10);
    now = now_s();
    for (int i = 0; i < n; i++) ev_io(evs[i].data.ptr, now);
    if (now < next_scan && n > 0) continue;
    next_scan = now + 0.01; /* retries and the 5 s answer deadline: a scan every 10 ms */
    live = 0;
    for (int i = 0; i < nc; i++) {
      evc_t *c = &cs[i];
      if (c->state == C_DONE) continue;
      live++;
      if (c->state == C_WAIT && now >= c->deadline) ev_start(c, now);
      else if (c->state != C_WAIT && now >= c->deadline) ev_finish(c, 0, false, now);
    }
  }
  for (int i = 0; i < nc; i++) {
    kp_buf_free(&cs[i].out);
    kp_buf_free(&cs[i].in);
    kp_buf_free(&cs[i].body);
  }
  free(cs);
  close(g_ep);
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: serve_load HOST:PORT CLIENTS PER_CLIENT PREFIX [LOG]\n");
    return 2;
  }
  char host[64];
  int port;
  if (sscanf(argv[1], "%63[^:]:%d", host, &port) != 2 || inet_pton(AF_INET, host, &g_addr.sin_addr) != 1) return 2;
  g_addr.sin_family = AF_INET;
  g_addr.sin_port = htons((uint16_t)port);
  int nc = atoi(argv[2]);
  g_per = atoi(argv[3]);
  g_prefix = argv[4];
  const char *tls = getenv("KP_LOAD_TLS");
  if (tls && strcmp(tls, "1") == 0) {
    g_tls = SSL_CTX_new(TLS_client_method());
    if (!g_tls) return 2;
    SSL_CTX_set_verify(g_tls, SSL_VERIFY_NONE, NULL);
  }
  if (nc < 1 || nc > (g_tls ? 4096 : 16384) || g_per < 1) return 2;
  if (argc > 5 && !(g_log = fopen(argv[5], "w"))) return 1;
  worker_t *ws = calloc((size_t)nc, sizeof *ws);
  pthread_t *th = calloc((size_t)nc, sizeof *th);
  const char *thr = getenv("KP_LOAD_THREADS");
  bool threads = g_tls || (thr && strcmp(thr, "1") == 0);
  double t0 = now_s();
  for (int i = 0; i < nc; i++) {
    ws[i].id = i;
    ws[i].lat = calloc((size_t)g_per, sizeof(double));
    if (threads) pthread_create(&th[i], NULL, run, &ws[i]);
  }
  if (!threads) run_epoll(ws, nc);
  int ok = 0, err = 0, nl = 0;
  for (int i = 0; i < nc; i++) {
    if (threads) pthread_join(th[i], NULL);
    ok += ws[i].ok;
    err += ws[i].err;
    nl += ws[i].nlat;
  }
  double secs = now_s() - t0;
  double *all = calloc((size_t)(nl ? nl : 1), sizeof *all);
  int k = 0;
  for (int i = 0; i < nc; i++)
    for (int j = 0; j < ws[i].nlat; j++) all[k++] = ws[i].lat[j];
  qsort(all, (size_t)nl, sizeof *all, cmpd);
  double p50 = nl ? all[nl / 2] : 0, p99 = nl ? all[(int)((nl - 1) * 0.99)] : 0;
  printf("ok=%d err=%d secs=%.3f rate=%.0f p50_ms=%.2f p99_ms=%.2f\n", ok, err, secs, ok / secs, p50 * 1e3,
         p99 * 1e3);
  if (g_log) fclose(g_log);
  for (int i = 0; i < nc; i++) free(ws[i].lat);
  free(all);
  free(ws);
  free(th);
  return 0;
}
