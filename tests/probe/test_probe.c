/*
 * test_probe.c: target files, report ids, the measurement reader (over the
 * real OONI measurements when ../shared/data is present, and over our own
 * output), and an end-to-end run on loopback: a Telegram-shaped target set
 * whose "data centres" are a local HTTP server, then the same with every DC
 * port closed (tcp_reset, telegram_tcp_blocking).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/file.h"
#include "kp_test.h"
#include "msmt/msmt.h"
#include "probe/probe.h"

static kp_targets_t *load(const char *path, char *err) {
  kp_targets_t *t = calloc(1, sizeof *t);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  KP_ASSERT_OK(kp_file_read(path, &b));
  kp_status_t st = kp_targets_parse(b.data, b.len, t, err, 256);
  kp_buf_free(&b);
  KP_ASSERT_MSG(st == KP_OK, "%s: %s", path, err);
  return t;
}

KP_TEST(targets_defaults_and_lab) {
  char err[256];
  size_t len;
  const char *def = kp_targets_default_json(&len);
  kp_targets_t *t = calloc(1, sizeof *t);
  KP_ASSERT_OK(kp_targets_parse(def, len, t, err, sizeof err));
  const kp_app_targets_t *wa = kp_targets_app(t, "whatsapp");
  KP_ASSERT(wa != NULL);
  KP_ASSERT_EQ(wa->ntargets, 34); /* 16 hosts x 2 ports + registration + web, as OONI */
  KP_ASSERT_STREQ(wa->t[1].url, "tcpconnect://e1.whatsapp.net:5222");
  KP_ASSERT_EQ(wa->t[1].port, 5222);
  const kp_app_targets_t *tg = kp_targets_app(t, "telegram");
  KP_ASSERT_EQ(tg->ntargets, 13);
  KP_ASSERT(tg->t[0].host_is_ip);
  KP_ASSERT_STREQ(tg->t[0].method, "POST");
  KP_ASSERT_EQ(tg->t[1].port, 443);
  KP_ASSERT_EQ(kp_targets_app(t, "signal")->ntargets, 5);
  KP_ASSERT_EQ(kp_targets_app(t, "facebook_messenger")->ntargets, 7);
  for (size_t i = 0; i < kp_im_ntests; i++) KP_ASSERT(kp_targets_app(t, kp_im_tests[i].name) != NULL);
  /* the compiled-in copy is the file in data/ */
  char path[1024];
  snprintf(path, sizeof path, "%s/data/targets/im.json", kp_test_src());
  kp_targets_t *f = load(path, err);
  KP_ASSERT_EQ(f->app[0].ntargets, t->app[0].ntargets);
  snprintf(path, sizeof path, "%s/data/targets/lab-im.json", kp_test_src());
  kp_targets_t *lab = load(path, err);
  kp_addr_t a;
  kp_addr_parse("198.19.12.101", &a);
  KP_ASSERT(kp_prefix_contains(&kp_targets_app(lab, "whatsapp")->nets[0], &a));
  KP_ASSERT_EQ(lab->npatterns, 1);
  free(t);
  free(f);
  free(lab);
}

KP_TEST(targets_errors_are_named) {
  static const char *const bad[] = {
    "{",
    "{\"format\":\"other\",\"apps\":{}}",
    "{\"format\":\"keepon-im-targets/1\",\"control\":{\"url\":\"https://example.org/\"},\"apps\":{\"x\":{\"targets\":[{\"url\":\"ftp://a\"}]}}}",
    "{\"format\":\"keepon-im-targets/1\",\"control\":{\"url\":\"https://example.org/\"},\"apps\":{\"x\":{\"targets\":[{\"url\":\"tcpconnect://a\",\"ports\":[0]}]}}}",
    "{\"format\":\"keepon-im-targets/1\",\"control\":{\"url\":\"https://example.org/\"},\"apps\":{\"x\":{\"targets\":[{\"url\":\"https://a/f\",\"role\":\"download\"}]}}}",
    "{\"format\":\"keepon-im-targets/1\",\"control\":{\"url\":\"https://example.org/\"},\"apps\":{\"x\":{\"expected_networks\":[\"300.1.1.1/8\"],\"targets\":[{\"url\":\"https://a/\"}]}}}",
    "{\"format\":\"keepon-im-targets/1\",\"apps\":{\"x\":{\"targets\":[{\"url\":\"https://a/\"}]}}}",
  };
  kp_targets_t *t = calloc(1, sizeof *t);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char err[256] = "";
    KP_ASSERT_MSG(kp_targets_parse(bad[i], strlen(bad[i]), t, err, sizeof err) == KP_ERR_INVAL, "case %zu", i);
    KP_ASSERT_MSG(err[0] != 0, "case %zu has no message", i);
  }
  free(t);
}

KP_TEST(report_id_shape) {
  char id[128];
  KP_ASSERT_OK(kp_msmt_report_id(1700000000LL * 1000000000LL, "facebook_messenger", "KZ", "AS9198", id, sizeof id));
  KP_ASSERT(strncmp(id, "20231114T221320Z_facebookmessenger_KZ_9198_n1_", 46) == 0);
  KP_ASSERT(kp_msmt_report_id_valid(id));
  char id2[128];
  KP_ASSERT_OK(kp_msmt_report_id(1700000000LL * 1000000000LL, "signal", "KZ", "AS9198", id2, sizeof id2));
  KP_ASSERT(strcmp(id + 46, id2 + 34) != 0); /* random tails differ */
  KP_ASSERT(kp_msmt_report_id_valid("20190720T201820Z_AS20115_4wkxlgdcVOMs3bn3dJ3tzfFz6axh48W2FgAbyN6YwDBBGDvUor"));
  KP_ASSERT(!kp_msmt_report_id_valid("20190720T201820Z_whatsapp_ie_6830_n1_qXiNfqqAGfleHPLR"));
  KP_ASSERT(!kp_msmt_report_id_valid("20221202T125848Z_whatsapp_IE_6830_n1_short"));
  KP_ASSERT(!kp_msmt_report_id_valid("x"));
}

KP_TEST(reader_real_ooni) {
  const char *shared = kp_test_shared();
  if (!shared) KP_SKIP("../shared/data absent");
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/ooni/real", shared);
  DIR *d = opendir(dir);
  if (!d) KP_SKIP("%s absent", dir);
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0 || strncmp(e->d_name, "fingerprints", 12) == 0) continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    kp_buf_t b;
    kp_buf_init(&b, 64 << 20);
    KP_ASSERT_OK(kp_file_read(path, &b));
    kp_msmt_t *m;
    char err[256] = "";
    kp_status_t st = kp_msmt_parse(b.data, b.len, &m, err, sizeof err);
    KP_ASSERT_MSG(st == KP_OK, "%s: %s", e->d_name, err);
    const kp_msmt_view_t *v = kp_msmt_view(m);
    KP_ASSERT(strlen(v->probe_cc) == 2 && v->asn > 0 && v->measurement_start > 1500000000);
    if (strcmp(v->test_name, "whatsapp") == 0) {
      KP_ASSERT(v->ntcp_connect > 0);
      kp_msmt_tcp_t tc;
      KP_ASSERT_OK(kp_msmt_tcp(m, 0, &tc));
      KP_ASSERT(tc.ip && tc.port > 0);
      KP_ASSERT_STREQ(kp_json_str(kp_msmt_key(m, "whatsapp_endpoints_status")), "ok");
      kp_msmt_query_t q;
      KP_ASSERT_OK(kp_msmt_query(m, 0, &q));
      KP_ASSERT(q.hostname && q.nanswers > 0);
    }
    if (strcmp(v->test_name, "signal") == 0) KP_ASSERT(kp_msmt_key(m, "signal_backend_status") != NULL);
    kp_msmt_free(m);
    kp_buf_free(&b);
    n++;
  }
  closedir(d);
  KP_ASSERT(n >= 5);
}

KP_TEST(reader_rejects_missing_fields) {
  static const char *const bad[] = {
    "[]",
    "{\"report_id\":\"20221202T125848Z_whatsapp_IE_6830_n1_qXiNfqqAGfleHPLR\"}",
    "{\"report_id\":\"bad\",\"probe_cc\":\"IE\",\"probe_asn\":\"AS1\",\"test_name\":\"x\",\"test_version\":\"1\","
    "\"software_name\":\"s\",\"software_version\":\"1\",\"data_format_version\":\"0.2.0\","
    "\"measurement_start_time\":\"2022-12-02 12:58:49\",\"test_start_time\":\"2022-12-02 12:58:49\",\"test_keys\":{}}",
    "{\"report_id\":\"20221202T125848Z_whatsapp_IE_6830_n1_qXiNfqqAGfleHPLR\",\"probe_cc\":\"IE\",\"probe_asn\":\"6830\","
    "\"test_name\":\"x\",\"test_version\":\"1\",\"software_name\":\"s\",\"software_version\":\"1\","
    "\"data_format_version\":\"0.2.0\",\"measurement_start_time\":\"2022-12-02 12:58:49\","
    "\"test_start_time\":\"2022-12-02 12:58:49\",\"test_keys\":{}}",
    "{\"report_id\":\"20221202T125848Z_whatsapp_IE_6830_n1_qXiNfqqAGfleHPLR\",\"probe_cc\":\"IE\",\"probe_asn\":\"AS6830\","
    "\"test_name\":\"x\",\"test_version\":\"1\",\"software_name\":\"s\",\"software_version\":\"1\","
    "\"data_format_version\":\"0.2.0\",\"measurement_start_time\":\"yesterday\","
    "\"test_start_time\":\"2022-12-02 12:58:49\",\"test_keys\":{}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    kp_msmt_t *m = NULL;
    char err[256] = "";
    KP_ASSERT_MSG(kp_msmt_parse(bad[i], strlen(bad[i]), &m, err, sizeof err) == KP_ERR_INVAL, "case %zu", i);
    KP_ASSERT(err[0] && m == NULL);
  }
}

/* ---- end to end on loopback ---- */

typedef struct httpd {
  int lfd;
  uint16_t port;
  atomic_bool stop;
  pthread_t th;
} httpd_t;

static void *httpd_main(void *arg) {
  httpd_t *h = arg;
  while (!atomic_load(&h->stop)) {
    struct pollfd pf = {.fd = h->lfd, .events = POLLIN};
    if (poll(&pf, 1, 50) <= 0) continue;
    int fd = accept(h->lfd, NULL, NULL);
    if (fd < 0) continue;
    char buf[2048];
    (void)!recv(fd, buf, sizeof buf, 0);
    const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    (void)!send(fd, r, strlen(r), MSG_NOSIGNAL);
    close(fd);
  }
  return NULL;
}

static uint16_t closed_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(s, (struct sockaddr *)&a, sizeof a);
  socklen_t l = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &l);
  close(s);
  return ntohs(a.sin_port);
}

static kp_msmt_t *run_telegram(uint16_t dc_port, uint16_t ctl_port, kp_im_run_t *run) {
  char json[2048], err[256];
  snprintf(json, sizeof json,
           "{\"format\":\"keepon-im-targets/1\",\"control\":{\"url\":\"http://127.0.0.1:%u/\"},"
           "\"apps\":{\"telegram\":{\"expected_networks\":[\"127.0.0.0/8\"],\"targets\":["
           "{\"url\":\"http://127.0.0.1:%u/\",\"method\":\"POST\",\"role\":\"dc\"},"
           "{\"url\":\"http://127.0.0.1:%u/x\",\"method\":\"POST\",\"role\":\"dc\"}]}}}",
           ctl_port, dc_port, dc_port);
  kp_targets_t *t = calloc(1, sizeof *t);
  KP_ASSERT_MSG(kp_targets_parse(json, strlen(json), t, err, sizeof err) == KP_OK, "%s", err);
  kp_probe_cfg_t cfg = {.resolver = "127.0.0.1:9", .timeout = 4, .probe_cc = "ZZ", .probe_asn = "AS0",
                        .software_version = "test"};
  const char *apps[] = {"telegram", NULL};
  KP_ASSERT_OK(kp_probe_im_run(&cfg, t, apps, kp_clock_system(), run));
  KP_ASSERT_EQ(run->napps, 1);
  kp_buf_t out;
  kp_buf_init(&out, 16 << 20);
  KP_ASSERT_OK(kp_probe_write_measurement(&cfg, run, run->app[0], &out));
  KP_ASSERT(!strstr(kp_buf_str(&out), "keepon_access_type")); /* unknown: absent, nothing guessed */
  { /* the probe's access type (kp_access_resolve's answer) goes in test_keys */
    kp_buf_t o2;
    kp_buf_init(&o2, 16 << 20);
    kp_probe_cfg_t c2 = cfg;
    c2.access_type = "mobile";
    KP_ASSERT_OK(kp_probe_write_measurement(&c2, run, run->app[0], &o2));
    const char *tk = strstr(kp_buf_str(&o2), "\"test_keys\":{");
    KP_ASSERT(tk && strstr(tk, "\"keepon_access_type\":\"mobile\""));
    kp_buf_free(&o2);
  }
  kp_msmt_t *m;
  KP_ASSERT_MSG(kp_msmt_parse(out.data, out.len, &m, err, sizeof err) == KP_OK, "%s", err);
  kp_buf_free(&out);
  free(t);
  return m;
}

KP_TEST(end_to_end_loopback) {
  signal(SIGPIPE, SIG_IGN);
  httpd_t h = {0};
  h.lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  KP_ASSERT_OK(bind(h.lfd, (struct sockaddr *)&a, sizeof a));
  socklen_t l = sizeof a;
  getsockname(h.lfd, (struct sockaddr *)&a, &l);
  h.port = ntohs(a.sin_port);
  listen(h.lfd, 16);
  pthread_create(&h.th, NULL, httpd_main, &h);

  kp_im_run_t run;
  kp_msmt_t *m = run_telegram(h.port, h.port, &run);
  const kp_msmt_view_t *v = kp_msmt_view(m);
  KP_ASSERT_STREQ(v->test_name, "telegram");
  KP_ASSERT_STREQ(v->probe_ip, "127.0.0.1");
  KP_ASSERT_STREQ(v->software_name, "keepon");
  KP_ASSERT_EQ(v->ntcp_connect, 2);
  KP_ASSERT_EQ(v->nrequests, 2);
  KP_ASSERT_EQ(kp_json_type(kp_msmt_key(m, "telegram_tcp_blocking")), KP_JSON_FALSE);
  KP_ASSERT_EQ(kp_json_type(kp_msmt_key(m, "telegram_http_blocking")), KP_JSON_FALSE);
  KP_ASSERT_STREQ(kp_json_str(kp_msmt_key(m, "keepon_verdict")), "ok");
  KP_ASSERT_EQ(kp_json_type(kp_msmt_key(m, "keepon_technique")), KP_JSON_NULL);
  kp_msmt_request_t rq;
  KP_ASSERT_OK(kp_msmt_request(m, 0, &rq));
  KP_ASSERT_EQ(rq.status, 200);
  KP_ASSERT_STREQ(rq.method, "POST");
  kp_msmt_free(m);
  kp_probe_im_run_free(&run);

  /* every DC refuses: tcp_reset, OONI's tcp and http blocking */
  m = run_telegram(closed_port(), h.port, &run);
  KP_ASSERT_EQ(kp_json_type(kp_msmt_key(m, "telegram_tcp_blocking")), KP_JSON_TRUE);
  KP_ASSERT_EQ(kp_json_type(kp_msmt_key(m, "telegram_http_blocking")), KP_JSON_TRUE);
  KP_ASSERT_STREQ(kp_json_str(kp_msmt_key(m, "keepon_verdict")), "blocked");
  KP_ASSERT_STREQ(kp_json_str(kp_msmt_key(m, "keepon_technique")), "tcp_reset");
  int64_t nb = 0;
  KP_ASSERT(kp_json_get_int(kp_msmt_view(m)->test_keys, "keepon_blocked_endpoints", &nb) && nb == 2);
  kp_msmt_free(m);
  kp_probe_im_run_free(&run);

  /* and the control down too: network_down */
  m = run_telegram(closed_port(), closed_port(), &run);
  KP_ASSERT_STREQ(kp_json_str(kp_msmt_key(m, "keepon_technique")), "tcp_reset"); /* control refused != down */
  kp_msmt_free(m);
  kp_probe_im_run_free(&run);

  atomic_store(&h.stop, true);
  pthread_join(h.th, NULL);
  close(h.lfd);
}
