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
 */
#include <arpa/inet.h>
#include <errno.h>
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

static void *run(void *arg) {
  worker_t *w = arg;
  int fd = -1;
  kp_buf_t resp, body;
  kp_buf_init(&resp, 1 << 20);
  kp_buf_init(&body, 1 << 20);
  char rid[128] = "";
  while (!rid[0]) {
    const char *open_body = "{\"probe_cc\":\"KZ\",\"probe_asn\":\"AS9198\",\"test_name\":\"web_connectivity\","
                            "\"software_name\":\"serve_load\",\"software_version\":\"0.1\",\"format\":\"json\"}";
    int st = roundtrip(&fd, "/report", open_body, strlen(open_body), &resp);
    char *p = st == 200 ? strstr(kp_buf_str(&resp), "\"report_id\":\"") : NULL;
    if (p && sscanf(p + 13, "%100[^\"]", rid) == 1) break;
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
  }
  char path[256];
  snprintf(path, sizeof path, "/report/%s", rid);
  for (int k = 0; k < g_per; k++) {
    kp_buf_reset(&body);
    kp_buf_printf(&body,
                  "{\"format\":\"json\",\"content\":{\"probe_cc\":\"KZ\",\"probe_asn\":\"AS9198\","
                  "\"test_name\":\"web_connectivity\",\"test_version\":\"0.4.3\",\"report_id\":\"load\","
                  "\"software_name\":\"serve_load\",\"software_version\":\"0.1\",\"probe_ip\":\"127.0.0.1\","
                  "\"measurement_start_time\":\"2022-01-05 10:30:00\",\"test_start_time\":\"2022-01-05 10:30:00\","
                  "\"input\":\"https://load.example/%s/%d/%d\",\"test_keys\":{\"blocking\":%s,\"accessible\":%s,"
                  "\"queries\":[],\"requests\":[],\"tcp_connect\":[]}}}",
                  g_prefix, w->id, k, k % 3 == 0 ? "\"tcp_ip\"" : "false", k % 3 == 0 ? "false" : "true");
    double t0 = now_s();
    int st = roundtrip(&fd, path, (const char *)body.data, body.len, &resp);
    double dt = now_s() - t0;
    if (st >= 200 && st < 300) {
      w->ok++;
      w->lat[w->nlat++] = dt;
    } else {
      w->err++;
    }
    if (g_log) {
      pthread_mutex_lock(&g_mu);
      fprintf(g_log, "https://load.example/%s/%d/%d %d\n", g_prefix, w->id, k, st);
      pthread_mutex_unlock(&g_mu);
    }
  }
  if (fd >= 0) xclose(fd);
  kp_buf_free(&resp);
  kp_buf_free(&body);
  return NULL;
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
  if (nc < 1 || nc > 4096 || g_per < 1) return 2;
  if (argc > 5 && !(g_log = fopen(argv[5], "w"))) return 1;
  worker_t *ws = calloc((size_t)nc, sizeof *ws);
  pthread_t *th = calloc((size_t)nc, sizeof *th);
  double t0 = now_s();
  for (int i = 0; i < nc; i++) {
    ws[i].id = i;
    ws[i].lat = calloc((size_t)g_per, sizeof(double));
    pthread_create(&th[i], NULL, run, &ws[i]);
  }
  int ok = 0, err = 0, nl = 0;
  for (int i = 0; i < nc; i++) {
    pthread_join(th[i], NULL);
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
