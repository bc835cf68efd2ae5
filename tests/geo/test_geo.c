/* test_geo.c: the geo module over CIDR lists, a geo table, the ASN range CSV and (when
 * scripts/geodata.sh has installed it) the GeoLite2 city mmdb. Never downloads. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/addr.h"
#include "geo/geo.h"
#include "geo/geo_parse.h"
#include "kp_test.h"

static const char *fx(const char *name) {
  static char buf[8][512];
  static int k;
  char *b = buf[k++ % 8];
  snprintf(b, 512, "%s/tests/geo/fixtures/%s", kp_test_src(), name);
  return b;
}

static kp_geo_info_t look(const kp_geo_t *g, const char *ip, kp_status_t *st) {
  kp_addr_t a;
  KP_ASSERT_OK(kp_addr_parse(ip, &a));
  kp_geo_info_t info;
  *st = kp_geo_lookup(g, &a, &info);
  return info;
}

KP_TEST(cidr_blocks_expand_sort_unique) {
  uint32_t *b;
  size_t n;
  KP_ASSERT_OK(kp_geo_cidr_blocks(fx("zz.cidr"), &b, &n));
  /* /23 -> 2 blocks, /24 twice -> 1, /25 -> its /24; IPv6 ignored */
  KP_ASSERT_EQ(n, 4);
  KP_ASSERT_EQ(b[0], 0xC6120000u);
  KP_ASSERT_EQ(b[1], 0xC6120100u);
  KP_ASSERT_EQ(b[2], 0xC6120400u);
  KP_ASSERT_EQ(b[3], 0xC6120800u);
  free(b);
}


static kp_status_t count_row(void *ctx, const kp_geo_row_t *r) {
  (void)r;
  (*(size_t *)ctx)++;
  return KP_OK;
}

KP_TEST(cidr_error_line_number) {
  const char *bad = "198.18.0.0/24\n\n198.18.0.0/33\n";
  size_t line = 0, rows = 0;
  KP_ASSERT_EQ(kp_geo_parse_cidr(bad, strlen(bad), count_row, &rows, &line), KP_ERR_INVAL);
  KP_ASSERT_EQ(line, 3);
  KP_ASSERT_EQ(rows, 1);
}

KP_TEST(table_csv_quotes_and_header) {
  char line[] = "a,\"b,\"\"c\"\"\",,d";
  char *f[5];
  KP_ASSERT_EQ(kp_geo_csv_split(line, f, 5), 4);
  KP_ASSERT_STREQ(f[1], "b,\"c\"");
  KP_ASSERT_STREQ(f[2], "");
  char bad[] = "a,\"unterminated";
  KP_ASSERT_EQ(kp_geo_csv_split(bad, f, 5), -1);
  const char *t = "prefix,cc,region,asn,as_name\n198.18.0.0/24,zz,R,1,N\n";
  size_t rows = 0, ln = 0;
  KP_ASSERT_EQ(kp_geo_parse_table(t, strlen(t), count_row, &rows, &ln), KP_ERR_INVAL);
  KP_ASSERT_EQ(ln, 2); /* lower-case cc is rejected */
}

KP_TEST(lookup_combines_sources_longest_first) {
  const char *cidrs[] = {fx("zz.cidr"), fx("yy.cidr"), NULL};
  kp_geo_config_t cfg = {.cidr_files = cidrs, .table = fx("table.csv"), .asn_mmdb = fx("asn.csv")};
  kp_geo_t *g;
  KP_ASSERT_OK(kp_geo_open(&cfg, &g));
  kp_status_t st;
  kp_geo_info_t i = look(g, "198.18.1.7", &st);
  KP_ASSERT_OK(st);
  KP_ASSERT_STREQ(i.cc, "ZZ");
  KP_ASSERT_STREQ(i.region, "North-East"); /* the /24 row beats the /23 row */
  KP_ASSERT_EQ(i.asn, 64501);
  KP_ASSERT_STREQ(i.as_name, "Lab Net, North"); /* /24 row has none: the /23 fills it */
  i = look(g, "198.18.0.1", &st);
  KP_ASSERT_STREQ(i.region, "North");
  i = look(g, "198.18.4.200", &st);
  KP_ASSERT_EQ(i.asn, 64502);
  KP_ASSERT_STREQ(i.as_name, "South Net");
  i = look(g, "198.18.8.1", &st); /* outside the /25 */
  KP_ASSERT_STREQ(i.cc, "");
  KP_ASSERT_EQ(i.asn, 64999); /* from the range CSV */
  i = look(g, "198.18.8.129", &st);
  KP_ASSERT_STREQ(i.cc, "ZZ");
  i = look(g, "198.19.2.3", &st);
  KP_ASSERT_STREQ(i.cc, "YY");
  KP_ASSERT_EQ(i.asn, 64998);
  look(g, "198.51.100.1", &st);
  KP_ASSERT_EQ(st, KP_ERR_NOTFOUND);
  look(g, "2001:db8::1", &st);
  KP_ASSERT_EQ(st, KP_ERR_NOTFOUND);

  uint32_t *b;
  size_t n;
  KP_ASSERT_OK(kp_geo_country_blocks(g, "zz", &b, &n));
  KP_ASSERT_EQ(n, 4);
  free(b);
  KP_ASSERT_OK(kp_geo_country_blocks(g, "XX", &b, &n)); /* table-only country */
  KP_ASSERT_EQ(n, 1);
  KP_ASSERT_EQ(b[0], 0xC6140000u);
  free(b);
  KP_ASSERT_EQ(kp_geo_country_blocks(g, "QQ", &b, &n), KP_ERR_NOTFOUND);
  kp_geo_close(g);
}

KP_TEST(open_rejects_bad_names_and_files) {
  const char *cidrs[] = {fx("table.csv"), NULL};
  kp_geo_config_t cfg = {.cidr_files = cidrs};
  kp_geo_t *g = NULL;
  KP_ASSERT_EQ(kp_geo_open(&cfg, &g), KP_ERR_INVAL);
  KP_ASSERT(g == NULL);
  kp_geo_config_t cfg2 = {.city_mmdb = fx("zz.cidr")};
  KP_ASSERT(kp_geo_open(&cfg2, &g) != KP_OK);
  kp_geo_config_t cfg3 = {.table = fx("missing.csv")};
  kp_status_t st3 = kp_geo_open(&cfg3, &g);
  KP_ASSERT(st3 == KP_ERR_IO || st3 == KP_ERR_NOTFOUND);
}

KP_TEST(kazakhstan_cidr_has_12587_blocks) {
  const char *sh = kp_test_shared();
  if (!sh) KP_SKIP("../shared/data absent");
  char p[512];
  snprintf(p, sizeof p, "%s/geo/kz.cidr", sh);
  uint32_t *b;
  size_t n;
  KP_ASSERT_OK(kp_geo_cidr_blocks(p, &b, &n));
  KP_ASSERT_EQ(n, 12587);
  for (size_t i = 1; i < n; i++) KP_ASSERT(b[i - 1] < b[i]);
  free(b);
}

KP_TEST(mmdb_city_and_asn_csv_when_installed) {
  char city[512], asn[512];
  snprintf(city, sizeof city, "%s/var/geo/city.mmdb", kp_test_src());
  snprintf(asn, sizeof asn, "%s/var/geo/asn.csv", kp_test_src());
  struct stat s1, s2;
  if (stat(city, &s1) != 0 || stat(asn, &s2) != 0)
    KP_SKIP("no var/geo databases (run scripts/geodata.sh to install them)");
  kp_geo_config_t cfg = {.city_mmdb = city, .asn_mmdb = asn};
  kp_geo_t *g;
  KP_ASSERT_OK(kp_geo_open(&cfg, &g));
  kp_status_t st;
  /* 2.72.0.0/13 is Kazakhtelecom space in kz.cidr; the DB must agree on the country */
  kp_geo_info_t i = look(g, "2.72.0.1", &st);
  KP_ASSERT_OK(st);
  KP_ASSERT_STREQ(i.cc, "KZ");
  KP_ASSERT(i.asn != 0);
  KP_ASSERT(i.as_name[0] != 0);
  /* the lab range is in no database */
  i = look(g, "198.18.0.1", &st);
  KP_ASSERT_STREQ(i.cc, "");
  /* mmdb-only country enumeration walks the tree: KZ is thousands of /24s */
  uint32_t *b;
  size_t n;
  KP_ASSERT_OK(kp_geo_country_blocks(g, "KZ", &b, &n));
  KP_ASSERT(n > 5000 && n < 40000);
  kp_addr_t a = kp_addr_v4(b[n / 2] | 1);
  kp_geo_info_t j;
  KP_ASSERT_OK(kp_geo_lookup(g, &a, &j));
  KP_ASSERT_STREQ(j.cc, "KZ");
  free(b);
  kp_geo_close(g);
}
