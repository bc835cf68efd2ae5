/*
 * test_webconn.c: the v0.5 classic analysis against OONI's own QA runs and
 * sample measurements, plus the pure helpers (title, URL, bogon, TH protocol).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/json.h"
#include "kp_test.h"
#include "webconn/wc_net.h"
#include "webconn/webconn.h"

static kp_json_doc_t *load_json(const char *rel) {
  const char *sh = kp_test_shared();
  if (!sh) KP_SKIP("shared data absent (set KP_SHARED_DATA)");
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", sh, rel);
  kp_buf_t b;
  kp_buf_init(&b, (size_t)64 << 20);
  if (kp_file_read(path, &b) != KP_OK) {
    kp_buf_free(&b);
    KP_SKIP("cannot read %s", path);
  }
  kp_json_doc_t *doc = NULL;
  kp_json_limits_t lim = {0};
  KP_ASSERT_EQ(kp_json_parse(b.data, b.len, &lim, &doc, NULL), KP_OK);
  kp_buf_free(&b);
  return doc;
}

/* Every scenario's measured run, replayed through our analysis, must give
 * OONI's expected verdict on every v0.5 field. */
KP_TEST(qa_scenarios_replay) {
  kp_json_doc_t *doc = load_json("ooni/qa/scenarios.json");
  const kp_json_t *root = kp_json_root(doc);
  size_t n = kp_json_len(root), failed = 0;
  KP_ASSERT_EQ(n, 36);
  kp_wc_obs_t *o = malloc(sizeof *o);
  KP_ASSERT(o);
  for (size_t i = 0; i < n; i++) {
    const kp_json_t *sc = kp_json_at(root, i);
    kp_arena_t *a = kp_arena_create(1 << 20);
    const char *cf = NULL;
    KP_ASSERT_EQ(kp_wc_qa_replay_obs(sc, a, o, &cf), KP_OK);
    kp_wc_keys_t k;
    KP_ASSERT_EQ(kp_wc_analyze(o, NULL, &k), KP_OK);
    char msg[512];
    if (!kp_wc_qa_compare(sc, &k, cf, msg, sizeof msg)) {
      fprintf(stderr, "  FAIL %s: %s\n", kp_json_get_str(sc, "name"), msg);
      failed++;
    }
    kp_arena_destroy(a);
  }
  free(o);
  kp_json_doc_free(doc);
  KP_ASSERT_EQ(failed, 0);
}

/* A deliberately wrong verdict must be reported, naming the field. */
KP_TEST(qa_compare_reports_mismatch) {
  kp_json_doc_t *doc = load_json("ooni/qa/scenarios.json");
  const kp_json_t *root = kp_json_root(doc);
  for (size_t i = 0; i < kp_json_len(root); i++) {
    const kp_json_t *sc = kp_json_at(root, i);
    if (strcmp(kp_json_get_str(sc, "name"), "httpDiffWithConsistentDNS")) continue;
    kp_wc_keys_t k;
    memset(&k, 0, sizeof k);
    k.blocking = KP_WC_BLOCK_FALSE;
    char msg[256];
    KP_ASSERT(!kp_wc_qa_compare(sc, &k, NULL, msg, sizeof msg));
    KP_ASSERT(strstr(msg, "expected") && strstr(msg, "got"));
  }
  kp_json_doc_free(doc);
}

/* OONI's three full sample measurements through the archival reader. */
KP_TEST(qa_samples_archival) {
  static const char *const names[] = {"dnsBlockingBOGON", "successWithHTTPS",
                                      "tlsBlockingConnectionResetWithConsistentDNS"};
  kp_wc_obs_t *o = malloc(sizeof *o);
  KP_ASSERT(o);
  for (size_t i = 0; i < 3; i++) {
    char rel[256];
    snprintf(rel, sizeof rel, "ooni/qa/samples/%s.json", names[i]);
    kp_json_doc_t *doc = load_json(rel);
    const kp_json_t *tk = kp_json_get(kp_json_root(doc), "test_keys");
    kp_arena_t *a = kp_arena_create(1 << 22);
    KP_ASSERT_EQ(kp_wc_obs_from_archival(tk, a, o), KP_OK);
    kp_wc_keys_t k;
    KP_ASSERT_EQ(kp_wc_analyze(o, NULL, &k), KP_OK);
    kp_buf_t b;
    kp_buf_init(&b, 1 << 20);
    kp_jw_t w;
    kp_jw_init(&w, &b);
    kp_jw_obj_begin(&w);
    kp_wc_keys_write(&w, &k);
    kp_jw_obj_end(&w);
    kp_json_doc_t *ours = NULL;
    kp_json_limits_t lim = {0};
    KP_ASSERT_EQ(kp_json_parse(b.data, b.len, &lim, &ours, NULL), KP_OK);
    static const char *const f[] = {"dns_experiment_failure", "dns_consistency",
                                    "http_experiment_failure", "body_length_match",
                                    "status_code_match", "headers_match", "title_match",
                                    "blocking", "accessible", "x_blocking_flags", "x_dns_flags",
                                    "x_null_null_flags"};
    for (size_t j = 0; j < sizeof f / sizeof *f; j++) {
      kp_buf_t x, y;
      kp_buf_init(&x, 4096);
      kp_buf_init(&y, 4096);
      kp_jw_t wx, wy;
      kp_jw_init(&wx, &x);
      kp_jw_init(&wy, &y);
      kp_jw_node(&wx, kp_json_get(tk, f[j]));
      kp_jw_node(&wy, kp_json_get(kp_json_root(ours), f[j]));
      KP_ASSERT_MSG(!strcmp(kp_buf_str(&x), kp_buf_str(&y)), "%s %s: OONI %s, ours %s", names[i],
                    f[j], kp_buf_str(&x), kp_buf_str(&y));
      kp_buf_free(&x);
      kp_buf_free(&y);
    }
    KP_ASSERT(fabs(kp_json_num(kp_json_get(tk, "body_proportion")) - k.body_proportion) < 1e-9);
    kp_json_doc_free(ours);
    kp_buf_free(&b);
    kp_arena_destroy(a);
    kp_json_doc_free(doc);
  }
  free(o);
}

KP_TEST(title_extraction) {
  char t[600];
  const char *b = "<html><HEAD><TiTlE>Access Denied</tItLe></head>";
  KP_ASSERT_EQ(kp_wc_title((const uint8_t *)b, strlen(b), t, sizeof t), 13);
  KP_ASSERT_STREQ(t, "Access Denied");
  const char *nb = "<title>a<b></title>";
  KP_ASSERT_EQ(kp_wc_title((const uint8_t *)nb, strlen(nb), t, sizeof t), 0);
  const char *un = "<title>never closed";
  KP_ASSERT_EQ(kp_wc_title((const uint8_t *)un, strlen(un), t, sizeof t), 0);
  char big[700];
  memcpy(big, "<title>", 7);
  memset(big + 7, 'x', 600);
  memcpy(big + 607, "</title>", 9);
  KP_ASSERT_EQ(kp_wc_title((const uint8_t *)big, strlen(big), t, sizeof t), 0); /* > 512 */
}

KP_TEST(url_split) {
  char s[8], h[256];
  int p;
  KP_ASSERT_EQ(kp_wc_url_split("https://WWW.Example.com:8443/x?y", s, sizeof s, h, sizeof h, &p), KP_OK);
  KP_ASSERT_STREQ(s, "https");
  KP_ASSERT_STREQ(h, "www.example.com");
  KP_ASSERT_EQ(p, 8443);
  KP_ASSERT_EQ(kp_wc_url_split("http://[2001:db8::1]/", s, sizeof s, h, sizeof h, &p), KP_OK);
  KP_ASSERT_STREQ(h, "2001:db8::1");
  KP_ASSERT_EQ(p, 0);
  KP_ASSERT_NE(kp_wc_url_split("ftp://x/", s, sizeof s, h, sizeof h, &p), KP_OK);
  KP_ASSERT_NE(kp_wc_url_split("http:///", s, sizeof s, h, sizeof h, &p), KP_OK);
  KP_ASSERT_NE(kp_wc_url_split("http://x:99999/", s, sizeof s, h, sizeof h, &p), KP_OK);
}

KP_TEST(bogon_lab_exemption) {
  kp_wc_opts_t lab = {.lab = true};
  KP_ASSERT(kp_wc_is_bogon("198.19.12.1", NULL));
  KP_ASSERT(!kp_wc_is_bogon("198.19.12.1", &lab));
  KP_ASSERT(!kp_wc_is_bogon("2001:db8:12::1", &lab));
  KP_ASSERT(kp_wc_is_bogon("10.10.34.35", &lab));
  KP_ASSERT(kp_wc_is_bogon("127.0.0.1", &lab));
  KP_ASSERT(!kp_wc_is_bogon("93.184.216.34", NULL));
}

/* The request OONI's probe sends (ts-017 example shape) parses; junk is refused. */
KP_TEST(th_request_parse) {
  const char *body =
      "{\"http_request\":\"https://www.example.com/\",\"http_request_headers\":{\"Accept\":"
      "[\"text/html\"],\"User-Agent\":[\"Mozilla/5.0\"]},\"tcp_connect\":[\"93.184.216.34:443\","
      "\"93.184.216.34:80\",\"example.com:80\",\"[2001:db8::1]:443\",\"93.184.216.34:443\"],"
      "\"x_quic_enabled\":false}";
  kp_arena_t *a = kp_arena_create(1 << 20);
  kp_wc_threq_t r;
  KP_ASSERT_EQ(kp_wc_threq_parse(body, strlen(body), a, &r), KP_OK);
  KP_ASSERT_STREQ(r.url, "https://www.example.com/");
  KP_ASSERT_EQ(r.nendpoints, 3); /* the name is dropped, the duplicate folded */
  KP_ASSERT_STREQ(r.endpoints[2], "[2001:db8::1]:443");
  KP_ASSERT_EQ(r.nhdr, 2);
  KP_ASSERT_NE(kp_wc_threq_parse("{\"http_request\":\"ftp://x/\"}", 26, a, &r), KP_OK);
  KP_ASSERT_NE(kp_wc_threq_parse("[1,2", 4, a, &r), KP_OK);
  KP_ASSERT_NE(kp_wc_threq_parse("{}", 2, a, &r), KP_OK);
  const char *inj = "{\"http_request\":\"http://a/\",\"http_request_headers\":{\"X\\r\\nY\":[\"v\"]}}";
  KP_ASSERT_EQ(kp_wc_threq_parse(inj, strlen(inj), a, &r), KP_OK);
  KP_ASSERT_EQ(r.nhdr, 0);
  kp_arena_destroy(a);
}

KP_TEST(th_plan_ports_and_bogons) {
  kp_arena_t *a = kp_arena_create(1 << 20);
  kp_wc_threq_t r;
  const char *body = "{\"http_request\":\"http://x.example/\",\"tcp_connect\":[\"10.0.0.1:80\","
                     "\"198.19.11.13:80\",\"93.184.216.34:80\"]}";
  KP_ASSERT_EQ(kp_wc_threq_parse(body, strlen(body), a, &r), KP_OK);
  const char *th[] = {"93.184.216.34", "127.0.0.1"};
  const char *eps[16];
  size_t n = 0;
  KP_ASSERT_EQ(kp_wc_th_plan(&r, th, 2, NULL, a, eps, 16, &n), KP_OK);
  KP_ASSERT_EQ(n, 2); /* only the public address, on 80 and 443 */
  KP_ASSERT_STREQ(eps[0], "93.184.216.34:80");
  KP_ASSERT_STREQ(eps[1], "93.184.216.34:443");
  kp_wc_dest_t lab = {0};
  KP_ASSERT_EQ(kp_wc_dest_allow_parse("198.18.0.0/15", &lab), KP_OK);
  KP_ASSERT_EQ(kp_wc_th_plan(&r, th, 2, &lab, a, eps, 16, &n), KP_OK);
  KP_ASSERT_EQ(n, 4); /* the lab address counts with --allow-net; 10/8 and 127/8 still do not */
  kp_addr_t self;
  KP_ASSERT_EQ(kp_addr_parse("93.184.216.34", &self), KP_OK);
  kp_wc_dest_add_own(&lab, &self);
  KP_ASSERT_EQ(kp_wc_th_plan(&r, th, 2, &lab, a, eps, 16, &n), KP_OK);
  KP_ASSERT_EQ(n, 2); /* the helper's own address is never planned */
  KP_ASSERT_STREQ(eps[0], "198.19.11.13:80");
  const char *b2 = "{\"http_request\":\"https://x.example:8443/\",\"tcp_connect\":[\"93.184.216.34:443\"]}";
  KP_ASSERT_EQ(kp_wc_threq_parse(b2, strlen(b2), a, &r), KP_OK);
  KP_ASSERT_EQ(kp_wc_th_plan(&r, NULL, 0, NULL, a, eps, 16, &n), KP_OK);
  KP_ASSERT_EQ(n, 1);
  KP_ASSERT_STREQ(eps[0], "93.184.216.34:8443");
  kp_arena_destroy(a);
}

/* A response we write reads back (as the probe reads it) with the same facts. */
KP_TEST(th_response_roundtrip) {
  kp_wc_ctl_t *c = calloc(1, sizeof *c);
  KP_ASSERT(c);
  c->present = true;
  c->dns_failure = "";
  c->dns_addrs[0] = "93.184.216.34";
  c->ndns = 1;
  c->tcp[0] = (kp_wc_ctl_tcp_t){"93.184.216.34:443", ""};
  c->tcp[1] = (kp_wc_ctl_tcp_t){"93.184.216.34:80", "connection_refused"};
  c->ntcp = 2;
  c->tls[0] = (kp_wc_ctl_tls_t){"93.184.216.34:443", "www.example.com", ""};
  c->ntls = 1;
  c->http_failure = "";
  c->status = 200;
  c->body_length = 1533;
  c->title = "Default Web Page";
  c->hdr_keys[0] = "Alt-Svc";
  c->hdr_values[0] = "h3=\":443\"";
  c->nhdr = 1;
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  kp_jw_t w;
  kp_jw_init(&w, &b);
  const char *probe[] = {"93.184.216.34", "10.10.34.35"};
  kp_wc_thresp_write(&w, c, probe, 2, NULL, NULL, NULL);
  KP_ASSERT_EQ(w.st, KP_OK);
  kp_json_doc_t *doc = NULL;
  kp_json_limits_t lim = {0};
  KP_ASSERT_EQ(kp_json_parse(b.data, b.len, &lim, &doc, NULL), KP_OK);
  const kp_json_t *root = kp_json_root(doc);
  int64_t fl = 0;
  KP_ASSERT(kp_json_get_int(kp_json_get(kp_json_get(root, "ip_info"), "93.184.216.34"), "flags", &fl));
  KP_ASSERT_EQ(fl, KP_WC_IPINFO_PROBE | KP_WC_IPINFO_TH | KP_WC_IPINFO_VALID);
  KP_ASSERT(kp_json_get_int(kp_json_get(kp_json_get(root, "ip_info"), "10.10.34.35"), "flags", &fl));
  KP_ASSERT_EQ(fl, KP_WC_IPINFO_PROBE | KP_WC_IPINFO_BOGON);
  kp_arena_t *a = kp_arena_create(1 << 20);
  kp_wc_ctl_t *back = calloc(1, sizeof *back);
  KP_ASSERT(back);
  KP_ASSERT_EQ(kp_wc_ctl_from_json(root, "https://www.example.com/", a, back), KP_OK);
  KP_ASSERT_EQ(back->ntcp, 2);
  KP_ASSERT_STREQ(back->tcp[1].failure, "connection_refused");
  KP_ASSERT_STREQ(back->tls[0].server_name, "www.example.com");
  KP_ASSERT_EQ(back->status, 200);
  KP_ASSERT_EQ(back->body_length, 1533);
  KP_ASSERT_STREQ(back->title, "Default Web Page");
  KP_ASSERT_STREQ(back->http_failure, "");
  KP_ASSERT_EQ(back->ndns, 1);
  free(back);
  free(c);
  kp_arena_destroy(a);
  kp_json_doc_free(doc);
  kp_buf_free(&b);
}


KP_TEST(url_join_and_path) {
  char out[512];
  KP_ASSERT_EQ(kp_wc_url_join("http://httpbin.com/redirect/3", "/redirect/2", out, sizeof out), KP_OK);
  KP_ASSERT_STREQ(out, "http://httpbin.com/redirect/2");
  KP_ASSERT_EQ(kp_wc_url_join("https://a.b:8443/x/y?q", "z", out, sizeof out), KP_OK);
  KP_ASSERT_STREQ(out, "https://a.b:8443/x/z");
  KP_ASSERT_EQ(kp_wc_url_join("http://a/", "//c.d/e", out, sizeof out), KP_OK);
  KP_ASSERT_STREQ(out, "http://c.d/e");
  KP_ASSERT_EQ(kp_wc_url_join("http://a/", "https://www.example.com/", out, sizeof out), KP_OK);
  KP_ASSERT_STREQ(out, "https://www.example.com/");
  KP_ASSERT_NE(kp_wc_url_join("http://a/", "https://", out, sizeof out), KP_OK); /* broken Location */
  KP_ASSERT_NE(kp_wc_url_join("http://a/", "/x\r\nHost: evil", out, sizeof out), KP_OK);
  KP_ASSERT_EQ(kp_wc_url_path("http://a?x=1", out, sizeof out), KP_OK);
  KP_ASSERT_STREQ(out, "/?x=1");
  KP_ASSERT_EQ(kp_wc_url_path("https://a/p#frag", out, sizeof out), KP_OK);
  KP_ASSERT_STREQ(out, "/p");
}

KP_TEST(head_value_scan) {
  char hv[64];
  const char *head = "HTTP/1.1 308 X\r\nlocation: https://ya.ru/\r\nA: b\r\n\r\n";
  KP_ASSERT(kp_wc_head_value((const uint8_t *)head, strlen(head), "Location", hv, sizeof hv));
  KP_ASSERT_STREQ(hv, "https://ya.ru/");
  KP_ASSERT(!kp_wc_head_value((const uint8_t *)head, strlen(head), "Server", hv, sizeof hv));
}

/* The helper's destination rule: every non-public form is refused, public and
 * explicitly allowed test ranges pass, own addresses never do. */
KP_TEST(dest_rule_refuses_every_nonpublic_form) {
  static const char *const refused[] = {
      "127.0.0.1", "127.1.2.3", "0.0.0.0", "0.1.2.3", "10.0.0.1", "172.16.5.4", "172.31.255.255",
      "192.168.1.1", "100.64.0.1", "100.127.255.254", "169.254.169.254", "169.254.0.1", "224.0.0.1",
      "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.0.8", "198.18.0.1", "198.19.11.13",
      "::", "::1", "fe80::1", "febf::1", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1",
      "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:8.8.8.8", "::127.0.0.1", "::7f00:1",
      "2002:7f00:1::1", "2002:a00:1::", "2002:c0a8:101::1", "2002:a9fe:a9fe::1",
      "2001:0:7f00:1::1", "2001:0:4136:e378:8000:63bf:80ff:fffe" /* Teredo client ~ = 127.0.0.1 */,
      "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1::1", "fec0::1", "2001:db8::1", "100::1"};
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    kp_addr_t a;
    KP_ASSERT_EQ(kp_addr_parse(refused[i], &a), KP_OK);
    if (kp_wc_dest_refuse(NULL, &a) == NULL) {
      fprintf(stderr, "not refused: %s\n", refused[i]);
      KP_ASSERT(false);
    }
    KP_ASSERT(!kp_addr_is_public(&a));
  }
  static const char *const allowed[] = {"93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700::1111",
                                        "2a00:1450:4001::200e", "2002:808:808::1" /* 6to4 of 8.8.8.8 */};
  for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
    kp_addr_t a;
    KP_ASSERT_EQ(kp_addr_parse(allowed[i], &a), KP_OK);
    if (kp_wc_dest_refuse(NULL, &a) != NULL) {
      fprintf(stderr, "refused: %s\n", allowed[i]);
      KP_ASSERT(false);
    }
  }
  kp_addr_t a;
  KP_ASSERT_EQ(kp_addr_parse("93.184.216.34", &a), KP_OK);
  KP_ASSERT_STREQ(kp_wc_dest_refuse(NULL, &a) ? "refused" : "ok", "ok");
  kp_addr_t v4[2];
  KP_ASSERT_EQ(kp_addr_parse("2001:0:4136:e378:8000:63bf:80ff:fffe", &a), KP_OK);
  KP_ASSERT_EQ(kp_addr_embedded_v4(&a, v4), 2);
  char f[KP_ADDR_STRLEN];
  KP_ASSERT_STREQ(kp_addr_fmt(&v4[0], f), "65.54.227.120");
  KP_ASSERT_STREQ(kp_addr_fmt(&v4[1], f), "127.0.0.1");
}

KP_TEST(dest_allow_net_is_narrow) {
  kp_wc_dest_t d = {0};
  KP_ASSERT_EQ(kp_wc_dest_allow_parse("198.18.0.0/15,2001:db8::/32", &d), KP_OK);
  KP_ASSERT_EQ(d.nallow, 2);
  kp_addr_t a;
  KP_ASSERT_EQ(kp_addr_parse("198.19.11.13", &a), KP_OK);
  KP_ASSERT(kp_wc_dest_refuse(&d, &a) == NULL);
  KP_ASSERT_EQ(kp_addr_parse("2001:db8:12::1", &a), KP_OK);
  KP_ASSERT(kp_wc_dest_refuse(&d, &a) == NULL);
  KP_ASSERT_EQ(kp_addr_parse("198.20.0.1", &a), KP_OK); /* outside 198.18.0.0/15: public */
  KP_ASSERT(kp_wc_dest_refuse(&d, &a) == NULL);
  KP_ASSERT_EQ(kp_addr_parse("10.0.0.1", &a), KP_OK);
  KP_ASSERT(kp_wc_dest_refuse(&d, &a) != NULL);
  KP_ASSERT_EQ(kp_addr_parse("::ffff:198.19.11.13", &a), KP_OK); /* the mapped form is not the allowed one */
  KP_ASSERT(kp_wc_dest_refuse(&d, &a) != NULL);
  /* own addresses win over the allow list, also in their mapped form */
  KP_ASSERT_EQ(kp_addr_parse("198.19.11.14", &a), KP_OK);
  kp_wc_dest_add_own(&d, &a);
  KP_ASSERT(kp_wc_dest_refuse(&d, &a) != NULL);
  KP_ASSERT_EQ(kp_addr_parse("::ffff:198.19.11.14", &a), KP_OK);
  KP_ASSERT(kp_wc_dest_refuse(&d, &a) != NULL);
  /* an allow list can never reopen local scope */
  kp_wc_dest_t e = {0};
  KP_ASSERT_NE(kp_wc_dest_allow_parse("127.0.0.0/8", &e), KP_OK);
  KP_ASSERT_NE(kp_wc_dest_allow_parse("0.0.0.0/0", &e), KP_OK);
  KP_ASSERT_NE(kp_wc_dest_allow_parse("169.254.0.0/16", &e), KP_OK);
  KP_ASSERT_NE(kp_wc_dest_allow_parse("::/0", &e), KP_OK);
  KP_ASSERT_NE(kp_wc_dest_allow_parse("fe80::/10", &e), KP_OK);
  KP_ASSERT_NE(kp_wc_dest_allow_parse("198.18.0.0/15,", &e), KP_OK);
  KP_ASSERT_NE(kp_wc_dest_allow_parse("junk", &e), KP_OK);
  KP_ASSERT_EQ(kp_wc_dest_allow_parse("10.0.0.0/8", &e), KP_OK);
  KP_ASSERT_EQ(kp_addr_parse("10.1.1.1", &a), KP_OK);
  KP_ASSERT(kp_wc_dest_refuse(&e, &a) == NULL);
  KP_ASSERT_EQ(kp_addr_parse("127.0.0.1", &a), KP_OK);
  KP_ASSERT(kp_wc_dest_refuse(&e, &a) != NULL);
  /* more own addresses than fit: fail closed */
  kp_wc_dest_t *big = calloc(1, sizeof *big);
  KP_ASSERT(big);
  for (uint32_t i = 0; i <= KP_WC_DEST_MAX_OWN; i++) {
    kp_addr_t o = kp_addr_v4(0x5db8d800u + i);
    kp_wc_dest_add_own(big, &o);
  }
  KP_ASSERT(big->own_full);
  KP_ASSERT_EQ(kp_addr_parse("8.8.8.8", &a), KP_OK);
  KP_ASSERT(kp_wc_dest_refuse(big, &a) != NULL);
  free(big);
}

static int64_t fake_asn(void *ctx, const char *ip) {
  (void)ctx;
  return !strcmp(ip, "93.184.216.34") ? 15133 : !strcmp(ip, "10.10.34.35") ? 0 : 64500;
}

/* ip_info.asn comes from the lookup for the probe's addresses too (as oohelperd) */
KP_TEST(th_response_ipinfo_asn) {
  kp_wc_ctl_t *c = calloc(1, sizeof *c);
  KP_ASSERT(c);
  c->dns_failure = "";
  c->dns_addrs[0] = "93.184.216.34";
  c->ndns = 1;
  c->http_failure = "";
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  kp_jw_t w;
  kp_jw_init(&w, &b);
  const char *probe[] = {"2.72.0.1"};
  kp_wc_thresp_write(&w, c, probe, 1, NULL, fake_asn, NULL);
  KP_ASSERT_EQ(w.st, KP_OK);
  kp_json_doc_t *doc = NULL;
  kp_json_limits_t lim = {0};
  KP_ASSERT_EQ(kp_json_parse(b.data, b.len, &lim, &doc, NULL), KP_OK);
  const kp_json_t *ipi = kp_json_get(kp_json_root(doc), "ip_info");
  int64_t asn = -1, fl = -1;
  KP_ASSERT(kp_json_get_int(kp_json_get(ipi, "93.184.216.34"), "asn", &asn));
  KP_ASSERT_EQ(asn, 15133);
  KP_ASSERT(kp_json_get_int(kp_json_get(ipi, "2.72.0.1"), "asn", &asn));
  KP_ASSERT_EQ(asn, 64500);
  KP_ASSERT(kp_json_get_int(kp_json_get(ipi, "2.72.0.1"), "flags", &fl));
  KP_ASSERT_EQ(fl, KP_WC_IPINFO_PROBE);
  kp_json_doc_free(doc);
  kp_buf_free(&b);
  free(c);
}

/* the per-client cap counts a subscriber, not one of its addresses */
KP_TEST(th_client_key) {
  kp_addr_t a, b, k1, k2;
  char f[KP_ADDR_STRLEN];
  KP_ASSERT_EQ(kp_addr_parse("2001:db8:1:2:aaaa::1", &a), KP_OK);
  KP_ASSERT_EQ(kp_addr_parse("2001:db8:1:2:bbbb::7", &b), KP_OK);
  k1 = kp_wc_th_client_key(&a);
  k2 = kp_wc_th_client_key(&b);
  KP_ASSERT(kp_addr_eq(&k1, &k2));
  KP_ASSERT_STREQ(kp_addr_fmt(&k1, f), "2001:db8:1:2::");
  KP_ASSERT_EQ(kp_addr_parse("2001:db8:1:3::1", &b), KP_OK); /* another /64 */
  k2 = kp_wc_th_client_key(&b);
  KP_ASSERT(!kp_addr_eq(&k1, &k2));
  KP_ASSERT_EQ(kp_addr_parse("::ffff:198.19.11.21", &a), KP_OK);
  KP_ASSERT_EQ(kp_addr_parse("198.19.11.21", &b), KP_OK);
  k1 = kp_wc_th_client_key(&a);
  KP_ASSERT(kp_addr_eq(&k1, &b));
  KP_ASSERT_EQ(kp_addr_parse("198.19.11.22", &a), KP_OK);
  k1 = kp_wc_th_client_key(&a);
  KP_ASSERT(!kp_addr_eq(&k1, &b));
}

/* Decision thresholds of the HTTP comparison, pinned on both sides (issue 13.7): body_length_match
 * is body proportion > 0.7 (OONI's probe-cli/backend value), and title_match ignores words under
 * 5 bytes. Starts from a real QA sample and moves only the quantity under test. */
static kp_wc_keys_t reanalyze(kp_wc_obs_t *o, double prop, const char *ep_title, const char *ctl_title,
                              bool ctl_headers, bool cleartext) {
  int64_t cbl = 10000;
  o->ctl.body_length = cbl;
  o->ctl.title = ctl_title;
  if (!ctl_headers) o->ctl.nhdr = 0;
  for (size_t i = 0; i < o->neps; i++) {
    if (o->eps[i].body_length <= 0) continue;
    o->eps[i].body_length = (int64_t)llround((double)cbl * prop);
    o->eps[i].body_truncated = false;
    o->eps[i].title = ep_title;
    if (cleartext) o->eps[i].tls_failure = NULL; /* the same page fetched over plain HTTP */
  }
  kp_wc_keys_t k;
  KP_ASSERT_EQ(kp_wc_analyze(o, NULL, &k), KP_OK);
  return k;
}

KP_TEST(http_thresholds_pinned_both_sides) {
  kp_json_doc_t *doc = load_json("ooni/qa/samples/successWithHTTPS.json");
  const kp_json_t *tk = kp_json_get(kp_json_root(doc), "test_keys");
  kp_wc_obs_t *o = malloc(sizeof *o), *orig = malloc(sizeof *orig);
  KP_ASSERT(o && orig);
  kp_arena_t *a = kp_arena_create(1 << 22);
  KP_ASSERT_EQ(kp_wc_obs_from_archival(tk, a, orig), KP_OK);
  /* body proportion 0.75 matches, 0.65 does not; with headers and title also differing, only the
   * body can make it accessible */
  *o = *orig;
  kp_wc_keys_t k = reanalyze(o, 0.75, "Alpha Bravo Charlie", "Delta Echoes Foxtrot", false, false);
  KP_ASSERT_EQ(k.body_length_match, KP_WC_TRUE);
  KP_ASSERT_EQ(k.headers_match, KP_WC_FALSE);
  KP_ASSERT_EQ(k.title_match, KP_WC_FALSE);
  *o = *orig;
  k = reanalyze(o, 0.65, "Alpha Bravo Charlie", "Delta Echoes Foxtrot", false, false);
  KP_ASSERT_EQ(k.body_length_match, KP_WC_FALSE);
  /* over HTTPS a differing body is no verdict (the TLS handshake with the right name succeeded);
   * over plain HTTP the same comparison decides the x_blocking_flags */
  *o = *orig;
  k = reanalyze(o, 0.75, "Alpha Bravo Charlie", "Delta Echoes Foxtrot", false, true);
  KP_ASSERT_MSG(k.x_blocking_flags & KP_WC_BF_SUCCESS, "0.75 http: flags %lld", (long long)k.x_blocking_flags);
  KP_ASSERT(!(k.x_blocking_flags & KP_WC_BF_HTTP_DIFF));
  *o = *orig;
  k = reanalyze(o, 0.65, "Alpha Bravo Charlie", "Delta Echoes Foxtrot", false, true);
  KP_ASSERT_MSG(k.x_blocking_flags & KP_WC_BF_HTTP_DIFF, "0.65 http: flags %lld", (long long)k.x_blocking_flags);
  /* titles that differ only in words of 4 bytes match; a 5-byte word that differs does not */
  *o = *orig;
  k = reanalyze(o, 1.0, "Home page", "Home site", true, false);
  KP_ASSERT_EQ(k.title_match, KP_WC_TRUE);
  *o = *orig;
  k = reanalyze(o, 1.0, "Home pages", "Home sites", true, false);
  KP_ASSERT_EQ(k.title_match, KP_WC_FALSE);
  kp_arena_destroy(a);
  free(o);
  free(orig);
  kp_json_doc_free(doc);
}

/* probe web writes the probe's access type (kp_access_resolve's answer) into test_keys, only
 * when known: an IP literal on a closed loopback port, no helper (a result, not an error) */
KP_TEST(probe_url_access_type) {
  for (int k = 0; k < 2; k++) {
    kp_wc_probe_cfg_t cfg = {.resolver = "127.0.0.1:9", .step_timeout = 0.5, .url_timeout = 2, .probe_cc = "KZ",
                             .probe_asn = "AS29355", .software_version = "test", .access_type = k ? "mobile" : NULL};
    kp_buf_t line;
    kp_buf_init(&line, 1 << 22);
    kp_wc_summary_t sum;
    KP_ASSERT_OK(kp_wc_probe_url(&cfg, "http://127.0.0.1:9/", &line, &sum));
    const char *tk = strstr(kp_buf_str(&line), "\"test_keys\":{");
    KP_ASSERT(tk);
    if (k) KP_ASSERT(strstr(tk, "\"keepon_access_type\":\"mobile\""));
    else KP_ASSERT(!strstr(tk, "keepon_access_type"));
    kp_buf_free(&line);
  }
}
