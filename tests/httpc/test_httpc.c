/*
 * test_httpc.c: the control-plane client against real servers on loopback, started here and
 * stopped by PID (and killed by PR_SET_PDEATHSIG if a failed assertion ends the test early):
 *   nginx   TLS with a test CA made here (cert for collector.test and localhost), plain HTTP,
 *           locations that answer what the client sent (UA, headers, method/length), a big body
 *   microsocks  a SOCKS5 proxy (its log shows the tunnel really went through it)
 *   a socket that accepts and never answers (timeouts)
 * No name is looked up outside: names are pinned with opts.resolve or are "localhost".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "httpc/httpc.h"
#include "kp_test.h"

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &l) != 0)
    KP_FAIL_AT("no free port");
  close(fd);
  return ntohs(a.sin_port);
}

static pid_t spawn(char *const argv[], const char *log) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    if (log) {
      FILE *f = freopen(log, "w", stdout);
      (void)f;
      setvbuf(stdout, NULL, _IONBF, 0);
      dup2(STDOUT_FILENO, STDERR_FILENO);
    }
    execvp(argv[0], argv);
    _exit(127);
  }
  return pid;
}

static void stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
}

static bool port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static void wait_port(int port) {
  for (int i = 0; i < 300; i++) {
    if (port_open(port)) return;
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  KP_FAIL_AT("port %d never opened", port);
}

typedef struct world {
  char dir[512], ca[600];
  int tls_port, plain_port, socks_port;
  pid_t nginx, socks;
} world_t;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  KP_ASSERT_MSG(system(cmd) == 0, "command failed: %s", cmd);
}

/* test CA + leaf for collector.test/localhost, nginx (TLS + plain), microsocks */
static void world_up(world_t *w, bool with_socks) {
  memset(w, 0, sizeof *w);
  snprintf(w->dir, sizeof w->dir, "%s", kp_test_tmpdir());
  snprintf(w->ca, sizeof w->ca, "%s/ca.pem", w->dir);
  sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
     "-out ca.pem -days 2 -subj /CN=test-ca -addext basicConstraints=critical,CA:TRUE "
     "-addext keyUsage=critical,keyCertSign >/dev/null 2>&1 && "
     "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr "
     "-subj /CN=collector.test >/dev/null 2>&1 && "
     "printf 'subjectAltName=DNS:collector.test,DNS:localhost\\n' > ext.cnf && "
     "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf "
     "-out srv.pem >/dev/null 2>&1 && head -c 200000 /dev/zero | tr '\\0' a > big.txt",
     w->dir);
  w->tls_port = free_port();
  w->plain_port = free_port();
  char conf[700];
  snprintf(conf, sizeof conf, "%s/nginx.conf", w->dir);
  FILE *f = fopen(conf, "w");
  KP_ASSERT(f);
  fprintf(f,
          "daemon off; master_process off; pid %s/nginx.pid; error_log %s/error.log;\n"
          "events { worker_connections 64; }\n"
          "http { access_log off; client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
          "  uwsgi_temp_path %s; scgi_temp_path %s; keepalive_requests 1000;\n"
          "  server { listen 127.0.0.1:%d ssl; listen [::1]:%d ssl; server_name collector.test;\n"
          "    ssl_certificate %s/srv.pem; ssl_certificate_key %s/srv.key;\n"
          "    location = /ua { return 200 \"$http_user_agent\"; }\n"
          "    location = /hdr { add_header X-Answer \"  forty-two \"; return 200 \"$http_x_extra|$http_x_req\"; }\n"
          "    location = /echo { return 200 \"$request_method $content_length $content_type\"; }\n"
          "    location = /teapot { return 418 \"short and stout\"; }\n"
          "    location = /big.txt { root %s; }\n"
          "    location / { return 200 \"hello\"; } }\n"
          "  server { listen 127.0.0.1:%d; location / { return 200 \"plain $http_user_agent\"; } } }\n",
          w->dir, w->dir, w->dir, w->dir, w->dir, w->dir, w->dir, w->tls_port, w->tls_port, w->dir, w->dir, w->dir,
          w->plain_port);
  fclose(f);
  char log[700];
  snprintf(log, sizeof log, "%s/nginx.out", w->dir);
  char *nargv[] = {"nginx", "-e", "stderr", "-p", w->dir, "-c", conf, NULL};
  w->nginx = spawn(nargv, log);
  wait_port(w->tls_port);
  wait_port(w->plain_port);
  if (with_socks) {
    w->socks_port = free_port();
    char p[16];
    snprintf(p, sizeof p, "%d", w->socks_port);
    snprintf(log, sizeof log, "%s/socks.log", w->dir);
    char *sargv[] = {"microsocks", "-i", "127.0.0.1", "-p", p, NULL};
    w->socks = spawn(sargv, log);
    wait_port(w->socks_port);
  }
}

static void world_down(world_t *w) {
  stop(w->socks);
  stop(w->nginx);
}

static kp_httpc_t *client(const world_t *w, const char *proxy, size_t max_body, int timeout_ms) {
  char pin1[128], pin2[128];
  snprintf(pin1, sizeof pin1, "collector.test:%d:127.0.0.1", w->tls_port);
  snprintf(pin2, sizeof pin2, "wrong.test:%d:127.0.0.1", w->tls_port);
  const char *pins[] = {pin1, pin2, NULL};
  const char *hdrs[] = {"X-Extra: on-every-request", NULL};
  kp_httpc_opts_t o = {.ca_file = w->ca, .proxy = proxy, .resolve = pins, .headers = hdrs, .max_body = max_body,
                       .timeout_ms = timeout_ms, .connect_timeout_ms = timeout_ms};
  kp_httpc_t *c = NULL;
  KP_ASSERT_OK(kp_httpc_new(&o, &c));
  return c;
}

KP_TEST(https_by_name_keepalive_headers_ua) {
  world_t w;
  world_up(&w, false);
  kp_httpc_t *c = client(&w, NULL, 0, 5000);
  kp_httpc_resp_t r;
  kp_httpc_resp_init(&r);
  char url[256];
  snprintf(url, sizeof url, "https://collector.test:%d/ua", w.tls_port);
  KP_ASSERT_OK(kp_httpc_get(c, url, &r));
  KP_ASSERT_EQ(r.status, 200);
  KP_ASSERT_STREQ(kp_buf_str(&r.body), KP_HTTPC_DEFAULT_UA); /* the browser UA, nothing else */
  KP_ASSERT(!strstr(kp_buf_str(&r.body), "keepon"));
  KP_ASSERT(!r.reused);
  /* the same origin again: the kept-alive TLS connection is reused */
  snprintf(url, sizeof url, "https://collector.test:%d/hdr", w.tls_port);
  const char *rh[] = {"X-Req: per-request", NULL};
  kp_httpc_req_t q = {.url = url, .headers = rh};
  KP_ASSERT_OK(kp_httpc_do(c, &q, &r));
  KP_ASSERT(r.reused);
  KP_ASSERT_STREQ(kp_buf_str(&r.body), "on-every-request|per-request");
  char v[64];
  KP_ASSERT(kp_httpc_resp_header(&r, "x-answer", v, sizeof v));
  KP_ASSERT_STREQ(v, "forty-two");
  KP_ASSERT(!kp_httpc_resp_header(&r, "x-answer", v, 5)); /* does not fit */
  KP_ASSERT(!kp_httpc_resp_header(&r, "x-missing", v, sizeof v));
  /* POST with a body; PUT by method */
  snprintf(url, sizeof url, "https://collector.test:%d/echo", w.tls_port);
  KP_ASSERT_OK(kp_httpc_post(c, url, NULL, "{\"a\":1}", 7, &r));
  KP_ASSERT_STREQ(kp_buf_str(&r.body), "POST 7 application/json");
  KP_ASSERT(r.reused);
  kp_httpc_req_t put = {.method = "PUT", .url = url, .content_type = "application/x-ndjson", .body = "x\n", .body_len = 2};
  KP_ASSERT_OK(kp_httpc_do(c, &put, &r));
  KP_ASSERT_STREQ(kp_buf_str(&r.body), "PUT 2 application/x-ndjson");
  /* a 4xx is a response (KP_OK), and is not retryable; 5xx/429 are */
  snprintf(url, sizeof url, "https://collector.test:%d/teapot", w.tls_port);
  KP_ASSERT_OK(kp_httpc_get(c, url, &r));
  KP_ASSERT_EQ(r.status, 418);
  KP_ASSERT(!kp_httpc_retryable(KP_OK, &r));
  r.status = 503;
  KP_ASSERT(kp_httpc_retryable(KP_OK, &r));
  r.status = 429;
  KP_ASSERT(kp_httpc_retryable(KP_OK, &r));
  /* plain http to the other server: a new connection, same UA */
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", w.plain_port);
  KP_ASSERT_OK(kp_httpc_get(c, url, &r));
  KP_ASSERT(!r.reused);
  KP_ASSERT(strstr(kp_buf_str(&r.body), "plain Mozilla/5.0"));
  /* a header line with CR/LF is refused before anything is sent */
  const char *evil[] = {"X-A: b\r\nX-Injected: 1", NULL};
  kp_httpc_req_t qe = {.url = url, .headers = evil};
  KP_ASSERT_EQ(kp_httpc_do(c, &qe, &r), KP_ERR_INVAL);
  kp_httpc_resp_free(&r);
  kp_httpc_free(c);
  world_down(&w);
}

KP_TEST(certificate_and_name_verification) {
  world_t w;
  world_up(&w, false);
  kp_httpc_resp_t r;
  kp_httpc_resp_init(&r);
  char url[256];
  kp_httpc_t *c = client(&w, NULL, 0, 5000);
  /* right CA, wrong name (the cert says collector.test/localhost): refused */
  snprintf(url, sizeof url, "https://wrong.test:%d/", w.tls_port);
  KP_ASSERT_EQ(kp_httpc_get(c, url, &r), KP_ERR_PERM);
  KP_ASSERT_EQ(r.fail, KP_HTTPC_FAIL_CERT);
  KP_ASSERT_EQ(r.status, 0);
  KP_ASSERT_STREQ(kp_httpc_fail_name(r.fail), "ssl_invalid_certificate");
  /* an IP literal is not a name on the certificate either */
  snprintf(url, sizeof url, "https://127.0.0.1:%d/", w.tls_port);
  KP_ASSERT_EQ(kp_httpc_get(c, url, &r), KP_ERR_PERM);
  /* right name */
  snprintf(url, sizeof url, "https://collector.test:%d/", w.tls_port);
  KP_ASSERT_OK(kp_httpc_get(c, url, &r));
  KP_ASSERT_STREQ(kp_buf_str(&r.body), "hello");
  kp_httpc_free(c);
  /* right name, but the test CA is not trusted (system store): refused */
  char pin[128];
  snprintf(pin, sizeof pin, "collector.test:%d:127.0.0.1", w.tls_port);
  const char *pins[] = {pin, NULL};
  kp_httpc_opts_t o = {.resolve = pins};
  KP_ASSERT_OK(kp_httpc_new(&o, &c));
  KP_ASSERT_EQ(kp_httpc_get(c, url, &r), KP_ERR_PERM);
  KP_ASSERT_EQ(r.fail, KP_HTTPC_FAIL_CERT);
  kp_httpc_free(c);
  /* options that cannot work are refused up front */
  kp_httpc_opts_t bad1 = {.ca_file = "/nonexistent/ca.pem"}, bad2 = {.proxy = "ftp://127.0.0.1:1"},
                  bad3 = {.headers = (const char *[]){"no colon", NULL}};
  KP_ASSERT_EQ(kp_httpc_new(&bad1, &c), KP_ERR_INVAL);
  KP_ASSERT_EQ(kp_httpc_new(&bad2, &c), KP_ERR_INVAL);
  KP_ASSERT_EQ(kp_httpc_new(&bad3, &c), KP_ERR_INVAL);
  KP_ASSERT_OK(kp_httpc_new(NULL, &c));
  KP_ASSERT_EQ(kp_httpc_get(c, "ftp://127.0.0.1/", &r), KP_ERR_INVAL);
  KP_ASSERT_EQ(r.fail, KP_HTTPC_FAIL_URL);
  KP_ASSERT_EQ(kp_httpc_get(c, "https://", &r), KP_ERR_INVAL);
  kp_httpc_free(c);
  kp_httpc_resp_free(&r);
  world_down(&w);
}

KP_TEST(socks5h_proxy) {
  world_t w;
  world_up(&w, true);
  char proxy[64], url[256];
  snprintf(proxy, sizeof proxy, "socks5h://127.0.0.1:%d", w.socks_port);
  kp_httpc_t *c = client(&w, proxy, 0, 5000);
  kp_httpc_resp_t r;
  kp_httpc_resp_init(&r);
  /* socks5h: the proxy resolves "localhost" (on the certificate) and opens the tunnel */
  snprintf(url, sizeof url, "https://localhost:%d/", w.tls_port);
  KP_ASSERT_OK(kp_httpc_get(c, url, &r));
  KP_ASSERT_EQ(r.status, 200);
  KP_ASSERT_STREQ(kp_buf_str(&r.body), "hello");
  KP_ASSERT_OK(kp_httpc_get(c, url, &r));
  KP_ASSERT(r.reused); /* the tunnel stays open too */
  kp_httpc_free(c);
  stop(w.socks);
  w.socks = 0;
  char log[700];
  snprintf(log, sizeof log, "%s/socks.log", w.dir);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  KP_ASSERT_OK(kp_file_read(log, &b));
  char want[32];
  snprintf(want, sizeof want, ":%d", w.tls_port);
  KP_ASSERT_MSG(strstr(kp_buf_str(&b), want) != NULL, "microsocks never tunnelled to %s: %s", want, kp_buf_str(&b));
  kp_buf_free(&b);
  /* the proxy is gone: a failure, not a silent direct connection */
  c = client(&w, proxy, 0, 2000);
  KP_ASSERT_EQ(kp_httpc_get(c, url, &r), KP_ERR_IO);
  KP_ASSERT(r.fail == KP_HTTPC_FAIL_REFUSED || r.fail == KP_HTTPC_FAIL_PROXY);
  kp_httpc_free(c);
  kp_httpc_resp_free(&r);
  world_down(&w);
}

KP_TEST(body_cap_and_timeouts) {
  world_t w;
  world_up(&w, false);
  char url[256];
  kp_httpc_resp_t r;
  kp_httpc_resp_init(&r);
  snprintf(url, sizeof url, "https://collector.test:%d/big.txt", w.tls_port);
  kp_httpc_t *c = client(&w, NULL, 300000, 5000);
  KP_ASSERT_OK(kp_httpc_get(c, url, &r));
  KP_ASSERT_EQ(r.body.len, 200000);
  kp_httpc_free(c);
  c = client(&w, NULL, 100000, 5000); /* cap below the file */
  KP_ASSERT_EQ(kp_httpc_get(c, url, &r), KP_ERR_RANGE);
  KP_ASSERT_EQ(r.fail, KP_HTTPC_FAIL_TOO_LARGE);
  KP_ASSERT(r.body.len <= 100000);
  KP_ASSERT(!kp_httpc_retryable(KP_ERR_RANGE, &r));
  kp_httpc_free(c);
  /* a server that accepts and never answers: the total timeout ends the request */
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  KP_ASSERT(bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 8) == 0);
  getsockname(ls, (struct sockaddr *)&a, &al);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
  c = client(&w, NULL, 0, 5000);
  kp_httpc_req_t q = {.url = url, .timeout_ms = 300};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  KP_ASSERT_EQ(kp_httpc_do(c, &q, &r), KP_ERR_TIMEOUT);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  KP_ASSERT_MSG(el >= 0.25 && el < 2.0, "timeout took %.3f s", el);
  KP_ASSERT_EQ(r.fail, KP_HTTPC_FAIL_TIMEOUT);
  KP_ASSERT(kp_httpc_retryable(KP_ERR_TIMEOUT, &r));
  close(ls);
  /* nothing listening: refused */
  KP_ASSERT_EQ(kp_httpc_do(c, &q, &r), KP_ERR_IO);
  KP_ASSERT_EQ(r.fail, KP_HTTPC_FAIL_REFUSED);
  KP_ASSERT_STREQ(kp_httpc_fail_name(r.fail), "connection_refused");
  kp_httpc_free(c);
  kp_httpc_resp_free(&r);
  world_down(&w);
}

KP_TEST(backoff_full_jitter) {
  kp_backoff_t b = {.base_ms = 100, .cap_ms = 1000, .rng = 12345};
  for (int k = 0; k < 12; k++) {
    int bound = 100 << (k < 4 ? k : 4);
    if (bound > 1000) bound = 1000;
    int mx = 0;
    for (int i = 0; i < 400; i++) {
      int d = kp_backoff_ms(&b, k);
      KP_ASSERT_MSG(d >= 0 && d <= bound, "k=%d d=%d bound=%d", k, d, bound);
      if (d > mx) mx = d;
    }
    KP_ASSERT_MSG(mx > bound * 9 / 10, "k=%d: jitter never reaches the bound (%d of %d)", k, mx, bound);
  }
  kp_backoff_t d1 = {.rng = 7}, d2 = {.rng = 7};
  for (int i = 0; i < 10; i++) KP_ASSERT_EQ(kp_backoff_ms(&d1, 20), kp_backoff_ms(&d2, 20)); /* seeded: reproducible */
  kp_backoff_t dflt = {.rng = 1};
  for (int i = 0; i < 200; i++) KP_ASSERT(kp_backoff_ms(&dflt, 30) <= 60000); /* default cap */
  KP_ASSERT(kp_httpc_is_https("HTTPS://x"));
  KP_ASSERT(!kp_httpc_is_https("http://x"));
}
