/* test_reach.c: the reach list parser, the classification rule at its boundaries and the windows
 * of a series of measurements (docs/probe.md "What stayed reachable"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kp_test.h"
#include "reach/reach.h"

static kp_reach_class_t cls(size_t dok, size_t dn, size_t fok, size_t fn) {
  kp_reach_counts_t c = {.dom_ok = dok, .dom_n = dn, .for_ok = fok, .for_n = fn};
  return kp_reach_classify(&c);
}

KP_TEST(rule_boundaries) {
  KP_ASSERT_EQ(cls(0, 5, 0, 2), KP_REACH_FULL_CUT);      /* nothing */
  KP_ASSERT_EQ(cls(1, 5, 0, 2), KP_REACH_WHITELIST);     /* one service passes */
  KP_ASSERT_EQ(cls(2, 3, 0, 2), KP_REACH_WHITELIST);     /* 0.667 < 0.75 */
  KP_ASSERT_EQ(cls(3, 4, 0, 2), KP_REACH_NATIONAL);      /* exactly 0.75 */
  KP_ASSERT_EQ(cls(5, 7, 0, 2), KP_REACH_WHITELIST);     /* 0.714 */
  KP_ASSERT_EQ(cls(6, 8, 0, 2), KP_REACH_NATIONAL);      /* 0.75 */
  KP_ASSERT_EQ(cls(74, 100, 0, 1), KP_REACH_WHITELIST);  /* just under */
  KP_ASSERT_EQ(cls(75, 100, 0, 1), KP_REACH_NATIONAL);   /* on it */
  KP_ASSERT_EQ(cls(5, 5, 0, 2), KP_REACH_NATIONAL);
  KP_ASSERT_EQ(cls(5, 5, 1, 2), KP_REACH_OPEN);          /* one foreign reference answered */
  KP_ASSERT_EQ(cls(0, 5, 1, 2), KP_REACH_OPEN);          /* domestic outage, not a cut */
  KP_ASSERT_EQ(cls(3, 5, 0, 0), KP_REACH_UNKNOWN);       /* nothing foreign tested */
  KP_ASSERT_EQ(cls(0, 0, 0, 2), KP_REACH_UNKNOWN);       /* nothing domestic tested */
  /* port holes decide nothing */
  kp_reach_counts_t c = {.dom_n = 4, .for_n = 1, .port_ok = 3, .port_n = 3};
  KP_ASSERT_EQ(kp_reach_classify(&c), KP_REACH_FULL_CUT);
  KP_ASSERT_STREQ(kp_reach_class_name(KP_REACH_NATIONAL), "national_only");
  KP_ASSERT_EQ(kp_reach_class_parse("whitelist"), KP_REACH_WHITELIST);
  KP_ASSERT_EQ(kp_reach_class_parse("nonsense"), KP_REACH_UNKNOWN);
}

static kp_reach_list_t L;

KP_TEST(list_default_and_lab) {
  size_t n;
  const char *p = kp_reach_default_list(&n);
  char err[128];
  KP_ASSERT_OK(kp_reach_list_parse(p, n, &L, err, sizeof err));
  KP_ASSERT(L.n >= 8);
  bool kaspi = false, p179 = false, p3785 = false, dns53 = false, resolver = false;
  for (size_t i = 0; i < L.n; i++) {
    const kp_reach_target_t *t = &L.t[i];
    kaspi |= t->scope == KP_REACH_DOMESTIC && t->kind == KP_REACH_HTTPS && !strcmp(t->host, "kaspi.kz") && t->port == 443;
    p179 |= t->scope == KP_REACH_PORT && t->kind == KP_REACH_TCP && t->port == 179;
    p3785 |= t->scope == KP_REACH_PORT && t->kind == KP_REACH_TCP && t->port == 3785;
    dns53 |= t->scope == KP_REACH_PORT && t->kind == KP_REACH_DNS && t->port == 53;
    resolver |= t->scope == KP_REACH_DOMESTIC && t->kind == KP_REACH_DNS;
  }
  KP_ASSERT(kaspi && p179 && p3785 && dns53 && resolver);
  char path[1024];
  snprintf(path, sizeof path, "%s/data/domestic/lab.tsv", kp_test_src());
  FILE *f = fopen(path, "rb");
  KP_ASSERT(f);
  static char buf[8192];
  size_t got = fread(buf, 1, sizeof buf, f);
  fclose(f);
  KP_ASSERT_OK(kp_reach_list_parse(buf, got, &L, err, sizeof err));
  KP_ASSERT_EQ(L.n, 8u);
}

KP_TEST(list_rejects) {
  char err[128];
  static const char *bad[] = {
    "",                                         /* no entry */
    "# only a comment\n",
    "domestic\thttps\tx\n",                     /* too few fields */
    "local\thttps\tx\tx.kz\n",                  /* scope */
    "domestic\tudp\tx\tx.kz\n",                 /* kind */
    "domestic\ttcp\tx\tx.kz\n",                 /* tcp without port */
    "domestic\ttcp\tx\tx.kz:0\n",               /* port 0 */
    "domestic\ttcp\tx\tx.kz:70000\n",           /* port too big */
    "domestic\tdns\tr\tresolver.kz\tq.kz\n",    /* dns needs an IP */
    "domestic\tdns\tr\t192.0.2.1\n",            /* dns needs the name */
    "domestic\thttps\tx\tx.kz\tnoslash\n",      /* path */
    "domestic\thttps\ta b\tx.kz\n",             /* space in the name */
    "domestic\thttps\tx\tx.kz\t/\textra\n",     /* 6 fields */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    KP_ASSERT_MSG(kp_reach_list_parse(bad[i], strlen(bad[i]), &L, err, sizeof err) == KP_ERR_INVAL, "case %zu", i);
  /* the reason names the line */
  const char *two = "domestic\thttps\tx\tx.kz\nforeign\tfoo\ty\ty.com\n";
  KP_ASSERT(kp_reach_list_parse(two, strlen(two), &L, err, sizeof err) == KP_ERR_INVAL);
  KP_ASSERT(strncmp(err, "line 2:", 7) == 0);
  /* 64 entries parse, 65 do not */
  static char big[65 * 40];
  size_t n = 0;
  for (int i = 0; i < 64; i++) n += (size_t)snprintf(big + n, sizeof big - n, "domestic\ttcp\tt%d\t192.0.2.1:%d\n", i, i + 1);
  KP_ASSERT_OK(kp_reach_list_parse(big, n, &L, err, sizeof err));
  KP_ASSERT_EQ(L.n, 64u);
  n += (size_t)snprintf(big + n, sizeof big - n, "domestic\ttcp\tlast\t192.0.2.1:9\n");
  KP_ASSERT(kp_reach_list_parse(big, n, &L, err, sizeof err) == KP_ERR_INVAL);
  /* ports, v6, CRLF */
  const char *ok = "port\ttcp\ttcp/179\t[2001:db8::1]:179\r\nport\tdns\tdns/53\t2001:db8::53\texample.org\r\n";
  KP_ASSERT_OK(kp_reach_list_parse(ok, strlen(ok), &L, err, sizeof err));
  KP_ASSERT_EQ(L.t[0].port, 179);
  KP_ASSERT_STREQ(L.t[0].host, "2001:db8::1");
  KP_ASSERT_EQ(L.t[1].port, 53);
  KP_ASSERT_STREQ(L.t[1].query, "example.org");
}

static const char *M(char *b, size_t cap, const char *when, const char *cc, const char *cls, const char *worked) {
  /* worked: comma-separated names that answered; the others failed */
  char tg[1024] = "";
  size_t n = 0;
  const char *names[] = {"kaspi.kz", "egov.kz", "example.org", "tcp/179"};
  for (size_t i = 0; i < 4; i++) {
    bool ok = strstr(worked, names[i]) != NULL;
    n += (size_t)snprintf(tg + n, sizeof tg - n, "%s{\"name\":\"%s\",\"ok\":%s}", i ? "," : "", names[i], ok ? "true" : "false");
  }
  snprintf(b, cap,
           "{\"test_name\":\"keepon_reach\",\"probe_cc\":\"%s\",\"measurement_start_time\":\"%s\","
           "\"test_keys\":{\"keepon_access_type\":\"fixed\",\"keepon_reach\":{\"class\":\"%s\",\"targets\":[%s]}}}\n",
           cc, when, cls, tg);
  return b;
}

KP_TEST(windows) {
  char all[8192] = "", b[2048];
  /* out of order on purpose; one other test and one other country in between */
  strcat(all, M(b, sizeof b, "2022-01-05 12:00:00", "KZ", "full_cut", "tcp/179"));
  strcat(all, M(b, sizeof b, "2022-01-05 10:00:00", "KZ", "open", "kaspi.kz,egov.kz,example.org"));
  strcat(all, "{\"test_name\":\"whatsapp\",\"probe_cc\":\"KZ\",\"measurement_start_time\":\"2022-01-05 13:00:00\"}\n");
  strcat(all, M(b, sizeof b, "2022-01-05 13:30:00", "UZ", "open", "kaspi.kz"));
  strcat(all, M(b, sizeof b, "2022-01-06 00:00:00", "KZ", "whitelist", "kaspi.kz,egov.kz,tcp/179"));
  strcat(all, M(b, sizeof b, "2022-01-06 01:00:00", "KZ", "whitelist", "kaspi.kz,tcp/179"));
  strcat(all, M(b, sizeof b, "2022-01-06 02:00:00", "KZ", "whitelist", "kaspi.kz,tcp/179"));
  strcat(all, "not json\n");
  kp_reach_windows_t w;
  KP_ASSERT_OK(kp_reach_windows(all, strlen(all), "KZ", &w));
  KP_ASSERT_EQ(w.n, 3u);
  KP_ASSERT_EQ(w.v[0].cls, KP_REACH_OPEN);
  KP_ASSERT_EQ(w.v[1].cls, KP_REACH_FULL_CUT);
  KP_ASSERT_EQ(w.v[2].cls, KP_REACH_WHITELIST);
  KP_ASSERT_EQ(w.v[2].nmsmt, 3u);
  KP_ASSERT_EQ(w.v[2].end - w.v[2].start, 7200);
  /* what stayed reachable THROUGHOUT: egov.kz answered once only */
  KP_ASSERT_EQ(w.v[2].nworked, 2u);
  KP_ASSERT_STREQ(w.v[2].worked[0], "kaspi.kz");
  KP_ASSERT_STREQ(w.v[2].worked[1], "tcp/179");
  KP_ASSERT_STREQ(w.v[2].access, "fixed");
  kp_buf_t out;
  kp_buf_init(&out, 1 << 20);
  KP_ASSERT_OK(kp_reach_windows_json(&w, &out));
  KP_ASSERT(strstr(kp_buf_str(&out), "\"class\":\"whitelist\",\"measurements\":3,\"cc\":\"KZ\",\"access_type\":\"fixed\",\"worked\":[\"kaspi.kz\",\"tcp/179\"]"));
  kp_buf_free(&out);
  kp_reach_windows_free(&w);
  KP_ASSERT_OK(kp_reach_windows(all, strlen(all), NULL, &w));
  KP_ASSERT_EQ(w.n, 4u); /* any country: UZ's open run (13:30) joins nothing, the class or country changes around it */
  kp_reach_windows_free(&w);
}

static kp_reach_run_t R;

KP_TEST(tally_and_write) {
  char err[128];
  const char *l = "domestic\thttps\tkaspi.kz\tkaspi.kz\ndomestic\thttps\tegov.kz\tegov.kz\ndomestic\tdns\tr\t192.0.2.53\tkaspi.kz\n"
                  "foreign\thttps\texample.org\texample.org\nport\ttcp\ttcp/179\t192.0.2.1:179\n";
  KP_ASSERT_OK(kp_reach_list_parse(l, strlen(l), &L, err, sizeof err));
  memset(&R, 0, sizeof R);
  R.out[0].ok = true;
  R.out[4].ok = true;
  R.out[1].failure = "generic_timeout_error";
  R.out[1].operation = "connect";
  kp_reach_tally(&L, &R);
  KP_ASSERT_EQ(R.cls, KP_REACH_WHITELIST);
  KP_ASSERT_EQ(R.counts.dom_ok, 1u);
  KP_ASSERT_EQ(R.counts.port_ok, 1u);
  KP_ASSERT_EQ(R.counts.dom_n, 2u);  /* the domestic resolver (dns) counts as a hole */
  KP_ASSERT_EQ(R.counts.port_n, 2u);
  R.out[1].ok = true;               /* kaspi + egov: 2/2 domestic -> national_only */
  kp_reach_tally(&L, &R);
  KP_ASSERT_EQ(R.cls, KP_REACH_NATIONAL);
  R.out[0].ok = R.out[1].ok = false;
  R.out[2].ok = true;               /* only the resolver: still a full cut */
  kp_reach_tally(&L, &R);
  KP_ASSERT_EQ(R.cls, KP_REACH_FULL_CUT);
  R.out[0].ok = true;
  R.out[2].ok = false;
  kp_reach_tally(&L, &R);
  R.start_wall_ns = (int64_t)1641420000 * 1000000000;
  kp_reach_cfg_t cfg = {.timeout = 5, .probe_cc = "KZ", .probe_asn = "AS9198", .access_type = "mobile"};
  kp_buf_t out;
  kp_buf_init(&out, 1 << 20);
  KP_ASSERT_OK(kp_reach_write(&cfg, &L, &R, &out));
  const char *s = kp_buf_str(&out);
  KP_ASSERT(strstr(s, "\"test_name\":\"keepon_reach\""));
  KP_ASSERT(strstr(s, "\"keepon_access_type\":\"mobile\""));
  KP_ASSERT(strstr(s, "\"class\":\"whitelist\""));
  KP_ASSERT(strstr(s, "{\"name\":\"egov.kz\",\"scope\":\"domestic\",\"kind\":\"https\",\"target\":\"egov.kz:443\",\"ok\":false,\"failure\":\"generic_timeout_error\",\"failed_operation\":\"connect\""));
  /* and the windows reader reads back what the writer wrote */
  kp_buf_putc(&out, '\n');
  kp_reach_windows_t w;
  KP_ASSERT_OK(kp_reach_windows(out.data, out.len, "KZ", &w));
  KP_ASSERT_EQ(w.n, 1u);
  KP_ASSERT_EQ(w.v[0].cls, KP_REACH_WHITELIST);
  KP_ASSERT_EQ(w.v[0].nworked, 2u);
  KP_ASSERT_STREQ(w.v[0].access, "mobile");
  kp_reach_windows_free(&w);
  kp_buf_free(&out);
}


static kp_access_table_t A;

KP_TEST(access_table) {
  size_t n;
  const char *p = kp_access_default_table(&n);
  char err[128];
  KP_ASSERT_OK(kp_access_parse(p, n, &A, err, sizeof err));
  KP_ASSERT_EQ(kp_access_lookup(&A, "AS9198"), KP_ACCESS_FIXED);   /* Kazakhtelecom */
  KP_ASSERT_EQ(kp_access_lookup(&A, "AS29355"), KP_ACCESS_MOBILE); /* Kcell */
  KP_ASSERT_EQ(kp_access_lookup(&A, "AS21299"), KP_ACCESS_MOBILE); /* Beeline KZ */
  KP_ASSERT_EQ(kp_access_lookup(&A, "AS48503"), KP_ACCESS_MOBILE); /* Tele2 KZ */
  KP_ASSERT_EQ(kp_access_lookup(&A, "AS1"), KP_ACCESS_UNKNOWN);
  KP_ASSERT_EQ(kp_access_lookup(&A, "AS9198x"), KP_ACCESS_UNKNOWN);
  KP_ASSERT_EQ(kp_access_lookup(&A, "9198"), KP_ACCESS_UNKNOWN);
  KP_ASSERT_STREQ(kp_access_name(KP_ACCESS_MOBILE), "mobile");
  static const char *bad[] = {"AS\tfixed\n", "AS0\tfixed\n", "AS4294967296\tfixed\n", "AS12\tcable\n",
                              "AS12 fixed\n", "AS12\tfixed\nAS12\tmobile\n", "12\tfixed\n"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    KP_ASSERT_MSG(kp_access_parse(bad[i], strlen(bad[i]), &A, err, sizeof err) == KP_ERR_INVAL, "case %zu", i);
  const char *ok = "# c\nAS4294967295\tmobile\tx\ty\r\n";
  KP_ASSERT_OK(kp_access_parse(ok, strlen(ok), &A, err, sizeof err));
  KP_ASSERT_EQ(kp_access_lookup(&A, "AS4294967295"), KP_ACCESS_MOBILE);
}

/* the one rule of probe im / web / reach: the flag wins, else the ASN's row, else unknown */
KP_TEST(access_resolve) {
  const char *a = "x";
  KP_ASSERT_OK(kp_access_resolve("mobile", "AS9198", &a)); /* the probe's own annotation wins */
  KP_ASSERT_STREQ(a, "mobile");
  KP_ASSERT_OK(kp_access_resolve("fixed", NULL, &a));
  KP_ASSERT_STREQ(a, "fixed");
  KP_ASSERT_OK(kp_access_resolve(NULL, "AS29355", &a)); /* Kcell's row */
  KP_ASSERT_STREQ(a, "mobile");
  KP_ASSERT_OK(kp_access_resolve(NULL, "AS9198", &a));
  KP_ASSERT_STREQ(a, "fixed");
  a = "x";
  KP_ASSERT_OK(kp_access_resolve(NULL, "AS1", &a)); /* not listed: unknown, nothing guessed */
  KP_ASSERT(a == NULL);
  a = "x";
  KP_ASSERT_OK(kp_access_resolve(NULL, NULL, &a));
  KP_ASSERT(a == NULL);
  KP_ASSERT(kp_access_resolve("wifi", "AS9198", &a) == KP_ERR_INVAL);
  KP_ASSERT(kp_access_resolve("", NULL, &a) == KP_ERR_INVAL);
}
