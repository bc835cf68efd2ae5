/*
 * test_report.c: report snapshot test. A fixed synthetic Kazakhstan-like world
 * (messaging apps blocked from Jan 4 14:30, curfew-style blackout Jan 5-11 with
 * the published restoration windows, BGP unchanged, one odd region name) goes
 * through detection and every renderer; each output must equal its committed
 * golden file in tests/report/golden/ (KP_UPDATE_GOLDEN=1 rewrites them), and
 * structural checks hold independently of the goldens.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/codec.h"
#include "base/file.h"
#include "base/json.h"
#include "detect/detect.h"
#include "kp_test.h"
#include "report/internal.h"
#include "reach/reach.h"
#include "report/report.h"

static int64_t ts(int d, int h, int m) { return 1640995200LL + (d - 1) * 86400LL + h * 3600 + m * 60; }


static bool is_down(int64_t t) {
  static const int w[5][4] = {{5, 1050, 5, 1320}, {6, 630, 6, 840}, {7, 150, 7, 360}, {8, 150, 8, 600}, {9, 150, 9, 360}};
  if (t < ts(5, 11, 0) || t >= ts(11, 2, 15)) return false;
  for (int i = 0; i < 5; i++)
    if (t >= ts(w[i][0], 0, w[i][1]) && t < ts(w[i][2], 0, w[i][3])) return false;
  return true;
}

static void point(kp_sigset_t *s, const char *et, const char *code, const char *ds, const char *cc, int64_t t,
                  double v) {
  kp_signal_point_t p = {0};
  snprintf(p.entity_type, sizeof p.entity_type, "%s", et);
  snprintf(p.entity_code, sizeof p.entity_code, "%s", code);
  snprintf(p.datasource, sizeof p.datasource, "%s", ds);
  if (cc) memcpy(p.cc, cc, 3);
  p.t = t;
  p.step = 600;
  p.value = v;
  p.has_value = true;
  KP_ASSERT_OK(kp_sigset_add_point(s, &p));
}

static kp_sigset_t *world(void) {
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  for (int64_t t = ts(1, 0, 0); t < ts(12, 0, 0); t += 600) {
    int64_t i = t / 600;
    point(s, "country", "KZ", "ping-slash24", NULL, t, is_down(t) ? 300 + i % 7 : 9000 + (i * 37) % 200);
    point(s, "asn", "AS9198", "ping-slash24", "KZ", t, is_down(t) ? 50 + i % 3 : 4000 + (i * 13) % 90);
    point(s, "country", "KZ", "bgp", NULL, t, 12400 + i % 3);
    bool odd_down = t >= ts(2, 8, 0) && t < ts(2, 12, 0);
    point(s, "region", "KZ/<b>Almaty & Co</b>", "ping-slash24", NULL, t, odd_down ? 10 : 800 + i % 5);
  }
  static const char *const tests[] = {"whatsapp", "telegram", "signal"};
  int k = 0;
  for (int64_t t = ts(2, 0, 0); t < ts(5, 10, 0); t += 900)
    for (int j = 0; j < 3; j++) {
      kp_msm_t m = {0};
      snprintf(m.test_name, sizeof m.test_name, "%s", tests[j]);
      memcpy(m.cc, "KZ", 3);
      snprintf(m.asn, sizeof m.asn, "AS9198");
      m.t = t;
      m.failed = t >= ts(4, 14, 30);
      snprintf(m.uid, sizeof m.uid, "20220104%06d_KZ_%s", ++k, tests[j]);
      kp_sha256_hex(m.uid, strlen(m.uid), m.sha256);
      if (m.failed) snprintf(m.technique, sizeof m.technique, "%s", j == 1 ? "dns-hijack" : "tcp-reset");
      KP_ASSERT_OK(kp_sigset_add_msm(s, &m));
    }
  KP_ASSERT_OK(kp_sigset_finalize(s));
  return s;
}

/* compare with the golden file, or rewrite it when KP_UPDATE_GOLDEN is set */
static void golden(const char *name, const kp_buf_t *got) {
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/report/golden/%s", kp_test_src(), name);
  if (getenv("KP_UPDATE_GOLDEN")) {
    KP_ASSERT_OK(kp_file_write_atomic(path, got->data, got->len, 0644));
    return;
  }
  kp_buf_t want;
  kp_buf_init(&want, 1 << 26);
  KP_ASSERT_MSG(kp_file_read(path, &want) == KP_OK, "missing golden %s (run with KP_UPDATE_GOLDEN=1)", path);
  size_t i = 0;
  while (i < want.len && i < got->len && want.data[i] == got->data[i]) i++;
  if (i != want.len || i != got->len) {
    char act[1024];
    snprintf(act, sizeof act, "%s/%s", kp_test_tmpdir(), name);
    kp_file_write_atomic(act, got->data, got->len, 0644);
    KP_FAIL_AT("%s differs from golden at byte %zu (got %zu bytes, want %zu); actual output: %s", name, i, got->len,
               want.len, act);
  }
  kp_buf_free(&want);
}

typedef struct fixture {
  kp_sigset_t *s;
  kp_event_list_t ev;
  kp_incset_t *is;
  kp_report_opts_t o;
} fixture_t;

static void setup(fixture_t *f) {
  memset(f, 0, sizeof *f);
  f->s = world();
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  KP_ASSERT_OK(kp_detect_run(&c, f->s, &f->ev));
  KP_ASSERT_OK(kp_incidents_merge(&c, f->s, &f->ev, &f->is));
  f->o = (kp_report_opts_t){.cc = "KZ", .from = ts(1, 0, 0), .until = ts(12, 0, 0), .max_plots = 5};
}

static void teardown(fixture_t *f) {
  kp_incset_free(f->is);
  kp_events_free(&f->ev);
  kp_sigset_free(f->s);
}

KP_TEST(detection_on_the_world) {
  fixture_t f;
  setup(&f);
  KP_ASSERT_EQ(kp_incset_count(f.is), 3);
  const kp_incident_t *reg = kp_incset_at(f.is, 0), *svc = kp_incset_at(f.is, 1), *net = kp_incset_at(f.is, 2);
  KP_ASSERT_EQ(reg->type, KP_INC_REGIONAL);
  KP_ASSERT_EQ(svc->type, KP_INC_SERVICE);
  KP_ASSERT_EQ(svc->nservices, 3);
  KP_ASSERT_EQ(net->type, KP_INC_FULL);
  KP_ASSERT(net->curfew && !net->daily_fixed);
  KP_ASSERT_EQ(net->nwindows, 6);
  KP_ASSERT_EQ(net->start, ts(5, 11, 0));
  teardown(&f);
}

static void render(fixture_t *f, kp_report_fmt_t fmt, kp_buf_t *b) {
  kp_buf_init(b, 1 << 26);
  f->o.format = fmt;
  KP_ASSERT_OK(kp_report_render(&f->o, f->s, f->is, b));
}

KP_TEST(html_snapshot_and_structure) {
  fixture_t f;
  setup(&f);
  kp_buf_t b, b2;
  render(&f, KP_REPORT_HTML, &b);
  render(&f, KP_REPORT_HTML, &b2);
  KP_ASSERT(b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0); /* deterministic */
  const char *h = kp_buf_str(&b);
  KP_ASSERT(strncmp(h, "<!DOCTYPE html>", 15) == 0);
  KP_ASSERT(strstr(h, "</html>"));
  KP_ASSERT(strstr(h, "<svg"));
  KP_ASSERT(strstr(h, "class=\"ev\"")); /* events shaded */
  /* self-contained: nothing fetched */
  KP_ASSERT(!strstr(h, "<script") && !strstr(h, "<link") && !strstr(h, "src=") && !strstr(h, "href=") &&
            !strstr(h, "url("));
  /* untrusted names are escaped */
  KP_ASSERT(!strstr(h, "<b>Almaty"));
  KP_ASSERT(strstr(h, "KZ/&lt;b&gt;Almaty &amp; Co&lt;/b&gt;"));
  for (size_t i = 0; i < kp_incset_count(f.is); i++) KP_ASSERT(strstr(h, kp_incset_at(f.is, i)->id));
  KP_ASSERT(strstr(h, "BGP visible, traffic down"));
  KP_ASSERT(strstr(h, "2022-01-05 17:30") && strstr(h, "2022-01-09 06:00")); /* curfew windows listed */
  KP_ASSERT(strstr(h, "sha256:")); /* evidence appendix */
  KP_ASSERT(!strstr(h, "Generated"));
  golden("kz.html", &b);
  kp_buf_free(&b);
  kp_buf_free(&b2);
  teardown(&f);
}

static size_t count(const char *h, const char *needle) {
  size_t n = 0;
  for (const char *p = h; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

/* Markdown links its plots as files (issue 16: viewers do not render megabytes of data: URIs) */
KP_TEST(markdown_snapshot_and_structure) {
  fixture_t f;
  setup(&f);
  kp_buf_t b;
  kp_report_files_t files = {0};
  kp_buf_init(&b, 1 << 26);
  f.o.format = KP_REPORT_MD;
  f.o.plot_stem = "kz";
  KP_ASSERT_OK(kp_report_render_files(&f.o, f.s, f.is, &b, &files));
  const char *m = kp_buf_str(&b);
  KP_ASSERT(strncmp(m, "# Internet shutdown report: Kazakhstan (KZ)", 43) == 0);
  KP_ASSERT(!strstr(m, "data:image"));
  KP_ASSERT(!strstr(m, "<b>"));
  KP_ASSERT_EQ(files.n, 1 + 5); /* the timeline and max_plots signal plots */
  KP_ASSERT_EQ(count(m, ".svg)"), files.n);
  for (size_t i = 0; i < files.n; i++) {
    char link[200];
    snprintf(link, sizeof link, "](%s)", files.v[i].name);
    KP_ASSERT_MSG(strstr(m, link), "no link to %s", files.v[i].name);
    KP_ASSERT(strncmp(kp_buf_str(&files.v[i].data), "<svg", 4) == 0);
  }
  KP_ASSERT_STREQ(files.v[0].name, "kz-01.svg");
  for (size_t i = 0; i < kp_incset_count(f.is); i++) KP_ASSERT(strstr(m, kp_incset_at(f.is, i)->id));
  /* local time beside UTC: Almaty was UTC+6 in 2022 */
  KP_ASSERT(strstr(m, "2022-01-05 11:00 UTC (2022-01-05 17:00 UTC+6)"));
  KP_ASSERT(strstr(m, "Asia/Almaty (UTC+6)"));
  /* early warning: the apps block of Jan 4 is a shutdown risk, and the cut followed 21 h later */
  const char *w = strstr(m, "## Early warning\n\n- **Shutdown risk** from 2022-01-04 14:00 UTC (2022-01-04 20:00 UTC+6)");
  KP_ASSERT(w && w < strstr(m, "## Timeline"));
  KP_ASSERT(strstr(w, "messaging apps blocked (signal, telegram, whatsapp); new DNS tampering. First precursor: "
                      "messaging apps blocked (signal, telegram, whatsapp). Incidents: KZ-svc-20220104T1400Z. "
                      "A national shutdown followed 21h 0m after the first precursor (KZ-net-20220105T1100Z)."));
  golden("kz.md", &b);
  /* kp_report_render (no file list) links nothing rather than a file nobody writes */
  kp_buf_t b2;
  render(&f, KP_REPORT_MD, &b2);
  KP_ASSERT(!strstr(kp_buf_str(&b2), ".svg)"));
  kp_buf_free(&b2);
  kp_report_files_free(&files);
  kp_buf_free(&b);
  teardown(&f);
}

/* every plot says its unit: ping counts /24 blocks, probe plots are a percentage 0..100 */
KP_TEST(plots_state_their_unit) {
  fixture_t f;
  setup(&f);
  kp_buf_t b;
  kp_report_files_t files = {0};
  kp_buf_init(&b, 1 << 26);
  f.o.format = KP_REPORT_MD;
  f.o.max_plots = 50;
  KP_ASSERT_OK(kp_report_render_files(&f.o, f.s, f.is, &b, &files));
  size_t ping = 0, probe = 0;
  for (size_t i = 1; i < files.n; i++) { /* [0] is the timeline */
    const char *svg = kp_buf_str(&files.v[i].data);
    KP_ASSERT_MSG(strstr(svg, "class=\"unit\""), "%s has no unit", files.v[i].name);
    KP_ASSERT(strstr(svg, "time (UTC)"));
    if (strstr(svg, "ping-slash24</text>")) {
      ping++;
      KP_ASSERT(strstr(svg, "/24 address blocks answering ping (count)"));
    }
    if (strstr(svg, "\xc2\xb7 probe-")) {
      probe++;
      KP_ASSERT(strstr(svg, "failed measurements (% of the bin&#39;s measurements)"));
      KP_ASSERT(strstr(svg, ">100</text>")); /* the y axis tops at 100 %, not 1000 */
      KP_ASSERT(!strstr(svg, ">1000</text>"));
    }
  }
  KP_ASSERT_MSG(ping >= 2 && probe >= 3, "ping %zu probe %zu of %zu", ping, probe, files.n);
  kp_report_files_free(&files);
  kp_buf_free(&b);
  teardown(&f);
}

/* the same facts in Russian and Kazakh: ids, times (UTC and Almaty), counts; no English prose */
KP_TEST(reports_in_russian_and_kazakh) {
  static const struct { kp_lang_t l; const char *title, *golden, *section; } want[] = {
      {KP_LANG_RU, "# Отчёт об отключении интернета: Казахстан (KZ)", "kz.ru.md", "## Краткое изложение"},
      {KP_LANG_KK, "# Интернетті өшіру туралы есеп: Қазақстан (KZ)", "kz.kk.md", "## Қысқаша мазмұны"}};
  fixture_t f;
  setup(&f);
  for (size_t k = 0; k < 2; k++) {
    kp_buf_t b;
    kp_report_files_t files = {0};
    kp_buf_init(&b, 1 << 26);
    f.o.format = KP_REPORT_MD;
    f.o.lang = want[k].l;
    f.o.plot_stem = kp_lang_code(want[k].l);
    KP_ASSERT_OK(kp_report_render_files(&f.o, f.s, f.is, &b, &files));
    const char *m = kp_buf_str(&b);
    KP_ASSERT_MSG(strncmp(m, want[k].title, strlen(want[k].title)) == 0, "%s title", kp_lang_code(want[k].l));
    KP_ASSERT(strstr(m, want[k].section));
    KP_ASSERT(strstr(m, want[k].l == KP_LANG_RU ? "**Риск отключения** с 2022-01-04 14:00 UTC" : "**Өшіру қаупі** 2022-01-04 14:00 UTC"));
    for (size_t i = 0; i < kp_incset_count(f.is); i++) KP_ASSERT(strstr(m, kp_incset_at(f.is, i)->id));
    KP_ASSERT(strstr(m, "2022-01-05 11:00 UTC (2022-01-05 17:00 UTC+6)"));
    KP_ASSERT(strstr(m, "2022-01-09 06:00 UTC (2022-01-09 12:00 UTC+6)")); /* a curfew window */
    KP_ASSERT(strstr(m, "Asia/Almaty"));
    KP_ASSERT(!strstr(m, "Summary") && !strstr(m, "Timeline") && !strstr(m, "BGP visible") && !strstr(m, " to 2022"));
    KP_ASSERT_EQ(files.n, 6);
    KP_ASSERT(strstr(kp_buf_str(&files.v[1].data), want[k].l == KP_LANG_RU ? "(UTC)" : "уақыт (UTC)"));
    golden(want[k].golden, &b);
    kp_report_files_free(&files);
    kp_buf_free(&b);
    /* HTML says its language */
    render(&f, KP_REPORT_HTML, &b);
    char tag[32];
    snprintf(tag, sizeof tag, "<html lang=\"%s\">", kp_lang_code(want[k].l));
    KP_ASSERT(strstr(kp_buf_str(&b), tag));
    kp_buf_free(&b);
  }
  teardown(&f);
}

static void read_src(const char *rel, kp_buf_t *b) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", kp_test_src(), rel);
  kp_buf_init(b, 1 << 22);
  KP_ASSERT_MSG(kp_file_read(path, b) == KP_OK, "cannot read %s", path);
}

/* every key in every language, no unknown key, same placeholders as English */
KP_TEST(translation_files_complete) {
  for (int l = 0; l < KP_LANG__COUNT; l++) {
    char rel[64], err[512];
    snprintf(rel, sizeof rel, "data/i18n/%s.tsv", kp_lang_code((kp_lang_t)l));
    kp_buf_t b;
    read_src(rel, &b);
    kp_status_t st = kp_i18n_check(b.data, b.len, err, sizeof err);
    KP_ASSERT_MSG(st == KP_OK, "%s: %s", rel, err);
    const void *p;
    size_t n;
    KP_ASSERT_OK(kp_lang_data((kp_lang_t)l, &p, &n)); /* the binary carries this very file */
    KP_ASSERT_MSG(n == b.len && !memcmp(p, b.data, n), "%s differs from the compiled-in copy (rebuild)", rel);
    kp_buf_free(&b);
  }
  KP_ASSERT(kp_i18n_key_count() > 100);
  /* the check itself fails on each kind of fault */
  kp_buf_t ru;
  read_src("data/i18n/ru.tsv", &ru);
  char err[512], *t = strdup(kp_buf_str(&ru));
  KP_ASSERT(t);
  char *line = strstr(t, "\nsection.findings\t");
  KP_ASSERT(line);
  memcpy(line + 1, "#", 1); /* the line becomes a comment: a missing key */
  KP_ASSERT_EQ(kp_i18n_check(t, strlen(t), err, sizeof err), KP_ERR_INVAL);
  KP_ASSERT(strstr(err, "missing key 'section.findings'"));
  memcpy(line + 1, "S", 1); /* "Section.findings": unknown, and section.findings still missing */
  KP_ASSERT_EQ(kp_i18n_check(t, strlen(t), err, sizeof err), KP_ERR_INVAL);
  KP_ASSERT(strstr(err, "unknown key 'Section.findings'"));
  free(t);
  t = strdup(kp_buf_str(&ru));
  KP_ASSERT(t);
  char *ph = strstr(strstr(t, "\nwindows.of\t"), "{1}");
  ph[1] = '2'; /* {2} where English has {1} */
  KP_ASSERT_EQ(kp_i18n_check(t, strlen(t), err, sizeof err), KP_ERR_INVAL);
  KP_ASSERT(strstr(err, "'windows.of'") && strstr(err, "placeholders"));
  free(t);
  kp_buf_t dup;
  kp_buf_init(&dup, 1 << 22);
  kp_buf_append(&dup, ru.data, ru.len);
  kp_buf_puts(&dup, "country.KZ\tКазахстан\n");
  KP_ASSERT_EQ(kp_i18n_check(dup.data, dup.len, err, sizeof err), KP_ERR_INVAL);
  KP_ASSERT(strstr(err, "duplicate key 'country.KZ'"));
  kp_buf_free(&dup);
  kp_buf_free(&ru);
  /* every incident type detect can produce has a key (a new type must be translated) */
  for (int ty = 0; strcmp(kp_inc_type_name((kp_inc_type_t)ty), "unknown"); ty++)
    KP_ASSERT_MSG(ty <= KP_INC_PARTIAL, "incident type '%s' has no type.* key in data/i18n",
                  kp_inc_type_name((kp_inc_type_t)ty));
}

/* local time from the table: Almaty +6 in 2022, +5 from 2024-03-01; no guess elsewhere */
KP_TEST(local_time_table) {
  const char *z = NULL;
  int off = 0;
  KP_ASSERT(kp_rep_zone("KZ", ts(5, 11, 0), &z, &off));
  KP_ASSERT_STREQ(z, "Asia/Almaty");
  KP_ASSERT_EQ(off, 6 * 3600);
  KP_ASSERT(kp_rep_zone("KZ", 1709229600 - 1, NULL, &off) && off == 6 * 3600);
  KP_ASSERT(kp_rep_zone("KZ", 1709229600, NULL, &off) && off == 5 * 3600); /* 2024-03-01 00:00 +06 */
  KP_ASSERT(!kp_rep_zone("RU", ts(5, 11, 0), NULL, NULL)); /* several zones: UTC only */
  KP_ASSERT(!kp_rep_zone(NULL, 0, NULL, NULL));
  char s[16];
  kp_rep_offset_str(23400, s, sizeof s);
  KP_ASSERT_STREQ(s, "UTC+6:30");
  kp_rep_offset_str(-4 * 3600, s, sizeof s);
  KP_ASSERT_STREQ(s, "UTC-4");
}

static size_t fields(const char *line, size_t n) {
  size_t c = 1;
  bool q = false;
  for (size_t i = 0; i < n; i++) {
    if (line[i] == '"') q = !q;
    else if (line[i] == ',' && !q) c++;
  }
  return c;
}

KP_TEST(stop_codf_json_exports) {
  fixture_t f;
  setup(&f);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 24);
  KP_ASSERT_OK(kp_export_stop(&f.o, f.is, &b));
  const char *p = kp_buf_str(&b);
  size_t rows = 0;
  for (const char *l = p; *l;) {
    const char *e = strstr(l, "\r\n");
    KP_ASSERT(e);
    KP_ASSERT_EQ(fields(l, (size_t)(e - l)), 36);
    rows++;
    l = e + 2;
  }
  KP_ASSERT_EQ(rows, 1 + kp_incset_count(f.is));
  KP_ASSERT(strstr(p, "Known,1/5/2022,1/11/2022,Curfew Style,Ended,Kazakhstan,National"));
  KP_ASSERT(strstr(p, "Regional,<b>Almaty & Co</b>,")); /* area_name without the CC/ prefix */
  golden("kz_stop.csv", &b);
  kp_buf_reset(&b);
  KP_ASSERT_OK(kp_export_codf(&f.o, f.is, &b));
  kp_json_doc_t *doc;
  KP_ASSERT_OK(kp_json_parse(b.data, b.len, NULL, &doc, NULL));
  size_t events = 0;
  for (size_t i = 0; i < kp_incset_count(f.is); i++) events += kp_incset_at(f.is, i)->nevents;
  KP_ASSERT_EQ(kp_json_len(kp_json_root(doc)), events);
  /* IODA's format=codf, from its definition: ioda-api src/Entity/OutagesEventNormalizer.php
   * (InetIntel/ioda-api) writes exactly these keys in this order, uncertainty null, status 0 */
  static const char *const keys[] = {"location", "start", "duration", "uncertainty", "method", "datasource",
                                     "status", "fraction", "score", "location_name", "overlaps_window"};
  size_t asn = 0, probe = 0, ping = 0;
  for (size_t i = 0; i < kp_json_len(kp_json_root(doc)); i++) {
    const kp_json_t *r = kp_json_at(kp_json_root(doc), i);
    KP_ASSERT_EQ(kp_json_len(r), 11);
    for (size_t k = 0; k < 11; k++) KP_ASSERT_MSG(!strcmp(kp_json_key_at(r, k), keys[k]), "codf key %zu is %s, not %s", k, kp_json_key_at(r, k), keys[k]);
    KP_ASSERT(kp_json_is(kp_json_get(r, "uncertainty"), KP_JSON_NULL));
    int64_t v;
    KP_ASSERT(kp_json_get_int(r, "status", &v) && v == 0);
    const char *loc = kp_json_get_str(r, "location"), *ds = kp_json_get_str(r, "datasource");
    const char *m = kp_json_get_str(r, "method");
    KP_ASSERT(loc && strchr(loc, '/') && ds && m);
    if (!strncmp(loc, "asn/", 4)) { /* IODA's asn codes are bare numbers; its default name is AS<n> */
      asn++;
      KP_ASSERT_STREQ(loc, "asn/9198");
      KP_ASSERT_STREQ(kp_json_get_str(r, "location_name"), "AS9198");
    }
    if (!strncmp(ds, "probe-", 6)) { /* a failure rate says nothing of the share of the location out */
      probe++;
      KP_ASSERT(kp_json_is(kp_json_get(r, "fraction"), KP_JSON_NULL));
      KP_ASSERT_STREQ(m, "cusum");
    }
    if (!strcmp(ds, "ping-slash24") && !strcmp(m, "median")) { /* IODA's median rule, IODA's name */
      ping++;
      double fr = kp_json_num(kp_json_get(r, "fraction"));
      KP_ASSERT(kp_json_is(kp_json_get(r, "fraction"), KP_JSON_NUMBER) && fr > 0.9 && fr <= 1.0);
    }
    KP_ASSERT(strcmp(m, "ioda")); /* keepon's detector name never leaks into IODA's vocabulary */
  }
  KP_ASSERT(asn >= 1 && probe >= 3 && ping >= 1);
  kp_json_doc_free(doc);
  golden("kz_codf.json", &b);
  /* a window that excludes everything selects nothing */
  kp_report_opts_t none = {.cc = "UZ"};
  kp_buf_reset(&b);
  KP_ASSERT_OK(kp_export_json(&none, f.is, &b));
  KP_ASSERT_STREQ(kp_buf_str(&b), "[]\n");
  kp_buf_free(&b);
  teardown(&f);
}

/* A partial cut (a third of the blocks stay up) with an app blocked before and through it: the
 * report says "partial shutdown (67% of blocks down)", the STOP row "Partial network (67% of
 * blocks down)", and the app's failures inside the cut are a row "unreachable during the
 * shutdown", never a technique. */
KP_TEST(partial_cut_and_unreachable_in_report_and_stop) {
  kp_sigset_t *s;
  KP_ASSERT_OK(kp_sigset_new(3600, &s));
  int64_t c0 = ts(5, 12, 0), c1 = ts(5, 18, 0);
  for (int64_t t = ts(1, 0, 0); t < ts(8, 0, 0); t += 600)
    point(s, "country", "KZ", "ping-slash24", NULL, t, t >= c0 && t < c1 ? 3000 : 9000 + (t / 600) % 5);
  int k = 0;
  for (int64_t t = ts(2, 0, 0); t < ts(7, 0, 0); t += 900) {
    kp_msm_t m = {0};
    snprintf(m.test_name, sizeof m.test_name, "whatsapp");
    memcpy(m.cc, "KZ", 3);
    snprintf(m.asn, sizeof m.asn, "AS9198");
    m.t = t;
    m.failed = t >= ts(4, 0, 0);
    snprintf(m.uid, sizeof m.uid, "u%d", ++k);
    kp_sha256_hex(m.uid, strlen(m.uid), m.sha256);
    if (m.failed) snprintf(m.technique, sizeof m.technique, "%s", t >= c0 && t < c1 ? "ip_blackhole" : "tcp_reset");
    KP_ASSERT_OK(kp_sigset_add_msm(s, &m));
  }
  KP_ASSERT_OK(kp_sigset_finalize(s));
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  kp_event_list_t ev = {0};
  kp_incset_t *is;
  KP_ASSERT_OK(kp_detect_run(&c, s, &ev));
  KP_ASSERT_OK(kp_incidents_merge(&c, s, &ev, &is));
  kp_report_opts_t o = {.cc = "KZ", .from = ts(1, 0, 0), .until = ts(8, 0, 0), .max_plots = 2, .format = KP_REPORT_MD};
  kp_buf_t md, stop;
  kp_buf_init(&md, 1 << 24);
  kp_buf_init(&stop, 1 << 20);
  KP_ASSERT_OK(kp_report_render(&o, s, is, &md));
  KP_ASSERT_OK(kp_export_stop(&o, is, &stop));
  const char *r = kp_buf_str(&md), *csv = kp_buf_str(&stop);
  KP_ASSERT_MSG(strstr(r, "| partial shutdown (67% of blocks down) |"), "%s", r);
  KP_ASSERT(!strstr(r, "full shutdown"));
  KP_ASSERT_MSG(strstr(r, "unreachable during the shutdown KZ-net-20220105T1200Z (not a technique) | 24 |"), "%s", r);
  KP_ASSERT_MSG(strstr(r, "| tcp\\_reset | 264 |"), "%s", strstr(r, "Techniques") ? strstr(r, "Techniques") : r);
  KP_ASSERT(!strstr(r, "ip_blackhole") && !strstr(r, "ip\\_blackhole"));
  KP_ASSERT_MSG(strstr(csv, ",Partial network,"), "%s", csv); /* Access Now's vocabulary; the share is in the event */
  KP_ASSERT(strstr(csv, "67% of the country's blocks down"));
  kp_buf_free(&md);
  kp_buf_free(&stop);
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);
}

/* what stayed reachable: the reach windows of the cut are listed with what worked, in the three
 * languages; "open" runs are not listed; another country's windows are not either */
KP_TEST(what_stayed_reachable) {
  fixture_t f;
  setup(&f);
  kp_reach_window_t v[3] = {0};
  v[0] = (kp_reach_window_t){.start = ts(5, 12, 0), .end = ts(5, 17, 0), .cls = KP_REACH_FULL_CUT, .nmsmt = 4,
                             .cc = "KZ", .nworked = 1};
  strcpy(v[0].worked[0], "tcp/179");
  v[1] = (kp_reach_window_t){.start = ts(5, 23, 0), .end = ts(6, 9, 0), .cls = KP_REACH_WHITELIST, .nmsmt = 6,
                             .cc = "KZ", .nworked = 2};
  strcpy(v[1].worked[0], "kaspi.kz");
  strcpy(v[1].worked[1], "egov.kz");
  v[2] = (kp_reach_window_t){.start = ts(6, 11, 0), .end = ts(6, 13, 0), .cls = KP_REACH_OPEN, .nmsmt = 2, .cc = "KZ"};
  kp_reach_windows_t w = {.n = 3, .v = v};
  f.o.reach = &w;
  f.o.format = KP_REPORT_MD;
  const char *want[KP_LANG__COUNT] = {"whitelist (only some domestic services reachable); reachable: kaspi.kz, egov.kz",
                                      "белый список (доступны лишь некоторые внутренние сервисы); доступно: kaspi.kz, egov.kz",
                                      "ақ тізім (тек кейбір ішкі қызметтер қолжетімді); қолжетімді: kaspi.kz, egov.kz"};
  for (int l = 0; l < KP_LANG__COUNT; l++) {
    kp_buf_t b;
    kp_buf_init(&b, 1 << 26);
    f.o.lang = (kp_lang_t)l;
    KP_ASSERT_OK(kp_report_render(&f.o, f.s, f.is, &b));
    const char *md = kp_buf_str(&b);
    KP_ASSERT_MSG(strstr(md, want[l]), "lang %d", l);
    KP_ASSERT(strstr(md, "(6 ") || strstr(md, ": 6)"));
    KP_ASSERT(!strstr(md, "reach.")); /* no raw key */
    kp_buf_free(&b);
  }
  f.o.lang = KP_LANG_EN;
  kp_buf_t b;
  kp_buf_init(&b, 1 << 26);
  KP_ASSERT_OK(kp_report_render(&f.o, f.s, f.is, &b));
  KP_ASSERT(strstr(kp_buf_str(&b), "2022-01-05 12:00 UTC (2022-01-05 18:00 UTC+6) to 2022-01-05 17:00 UTC (2022-01-05 23:00 UTC+6) (4 runs): full cut; reachable: tcp/179"));
  KP_ASSERT(!strstr(kp_buf_str(&b), "(2 runs)")); /* the open run is not a cut */
  kp_buf_free(&b);
  strcpy(v[1].cc, "UZ");
  strcpy(v[0].cc, "UZ");
  kp_buf_init(&b, 1 << 26);
  KP_ASSERT_OK(kp_report_render(&f.o, f.s, f.is, &b));
  KP_ASSERT(strstr(kp_buf_str(&b), "No in-country reachability measurement"));
  kp_buf_free(&b);
  teardown(&f);
}

/* Mobile and fixed (issue 16 item 3): a mobile probe whose network is gone from Jan 4 14:30
 * (every 20 min: the 14:00 hour has 2 of 3 runs up, so the first down hour is 15:00) and a
 * fixed one down in the cut (from 11:00 Jan 5). The section names both hours in UTC and local
 * time, mobile first, the 20 h between them, and the shutdown's label, in all three languages. */
KP_TEST(mobile_and_fixed_section) {
  fixture_t f;
  memset(&f, 0, sizeof f);
  f.s = world();
  int k = 0;
  for (int64_t t = ts(2, 0, 0); t < ts(11, 0, 0); t += 1200)
    for (int j = 0; j < 2; j++) {
      kp_msm_t m = {0};
      strcpy(m.test_name, "whatsapp");
      memcpy(m.cc, "KZ", 3);
      strcpy(m.asn, j ? "AS9198" : "AS29355");
      strcpy(m.access, j ? "fixed" : "mobile");
      m.t = t;
      m.net_down = j ? is_down(t) : t >= ts(4, 14, 30);
      snprintf(m.uid, sizeof m.uid, "20220102%06d_KZ_whatsapp", ++k);
      kp_sha256_hex(m.uid, strlen(m.uid), m.sha256);
      if (m.net_down) {
        strcpy(m.technique, "network_down");
        KP_ASSERT_OK(kp_sigset_add_netdown(f.s, &m));
      } else {
        KP_ASSERT_OK(kp_sigset_add_msm(f.s, &m));
      }
    }
  KP_ASSERT_OK(kp_sigset_finalize(f.s));
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  KP_ASSERT_OK(kp_detect_run(&c, f.s, &f.ev));
  KP_ASSERT_OK(kp_incidents_merge(&c, f.s, &f.ev, &f.is));
  f.o = (kp_report_opts_t){.cc = "KZ", .from = ts(1, 0, 0), .until = ts(12, 0, 0), .max_plots = 5, .format = KP_REPORT_MD};
  static const char *const want[KP_LANG__COUNT][4] = {
      {"## Mobile and fixed", "mobile data: network down from 2022-01-04 15:00 UTC (2022-01-04 21:00 UTC+6)",
       "fixed lines: network down from 2022-01-05 11:00 UTC (2022-01-05 17:00 UTC+6)",
       "mobile data went down 20h 0m before fixed lines."},
      {"## Мобильная и фиксированная связь", "мобильный интернет: сети нет с 2022-01-04 15:00 UTC",
       "фиксированная связь: сети нет с 2022-01-05 11:00 UTC", "Отключение: сначала мобильный интернет, через 20 ч 0 мин — фиксированная связь."},
      {"## Мобильді және тұрақты байланыс", "мобильді интернет: желі 2022-01-04 15:00 UTC",
       "тұрақты байланыс: желі 2022-01-05 11:00 UTC", "Өшіру: алдымен мобильді интернет, 20 сағ. 0 мин. кейін — тұрақты байланыс."}};
  static const char *const both[KP_LANG__COUNT] = {"): mobile and fixed", "): мобильная и фиксированная связь",
                                                   "): мобильді және тұрақты байланыс"};
  for (int l = 0; l < KP_LANG__COUNT; l++) {
    kp_buf_t b;
    kp_buf_init(&b, 1 << 26);
    f.o.lang = (kp_lang_t)l;
    KP_ASSERT_OK(kp_report_render(&f.o, f.s, f.is, &b));
    const char *md = kp_buf_str(&b);
    for (int i = 0; i < 4; i++) KP_ASSERT_MSG(strstr(md, want[l][i]), "lang %d: no '%s'", l, want[l][i]);
    KP_ASSERT_MSG(strstr(md, want[l][1]) < strstr(md, want[l][2]), "lang %d: mobile listed first", l);
    KP_ASSERT_MSG(strstr(md, both[l]), "lang %d: the shutdown's label", l);
    KP_ASSERT(!strstr(md, "access.")); /* no raw key */
    kp_buf_free(&b);
  }
  /* one plot per access type, saying its unit (HTML: inline SVG) */
  f.o.lang = KP_LANG_EN;
  f.o.format = KP_REPORT_HTML;
  kp_buf_t h;
  kp_buf_init(&h, 1 << 26);
  KP_ASSERT_OK(kp_report_render(&f.o, f.s, f.is, &h));
  const char *sec = strstr(kp_buf_str(&h), "Mobile and fixed</h2>");
  KP_ASSERT(sec);
  size_t units = 0;
  for (const char *q = sec; (q = strstr(q, "% of measurements that found no network")); q++) units++;
  KP_ASSERT_EQ(units, 2);
  kp_buf_free(&h);
  /* STOP: affected_network in Access Now's words from the split (the ASNs go to telcos_involved) */
  kp_buf_t st;
  kp_buf_init(&st, 1 << 20);
  KP_ASSERT_OK(kp_export_stop(&f.o, f.is, &st));
  const char *csv = kp_buf_str(&st);
  const char *row = strstr(csv, "\r\nKnown,");
  KP_ASSERT(row);
  KP_ASSERT_MSG(strstr(csv, ",Shutdown,\"Mobile, Broadband\",Full network,"), "%s", csv);
  KP_ASSERT(!strstr(csv, ",Shutdown,AS"));
  kp_buf_free(&st);
  teardown(&f);
}
