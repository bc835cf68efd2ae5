/* test_bgp_vis.c: the visibility signal on synthetic elements: full-feed
 * detection, the union over covering prefixes, the vis_frac threshold, peer
 * down, bins, per-country (geo CIDR list) and per-origin counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bgp/bgp.h"
#include "geo/geo.h"
#include "kp_test.h"

static kp_bgp_elem_t el(kp_bgp_elem_type_t t, uint32_t ts, int peer, const char *pfx, int len, uint32_t origin) {
  kp_bgp_elem_t e;
  memset(&e, 0, sizeof e);
  e.type = t;
  e.ts = ts;
  e.peer_afi = 1;
  e.peer_ip[0] = 198, e.peer_ip[1] = 19, e.peer_ip[3] = (uint8_t)peer;
  e.peer_as = 65000 + (uint32_t)peer;
  e.afi = 1;
  e.plen = (uint8_t)len;
  unsigned a, b, c, d;
  if (pfx && sscanf(pfx, "%u.%u.%u.%u", &a, &b, &c, &d) == 4)
    e.prefix[0] = (uint8_t)a, e.prefix[1] = (uint8_t)b, e.prefix[2] = (uint8_t)c, e.prefix[3] = (uint8_t)d;
  e.origin_as = origin;
  return e;
}

/* value of the point (entity, datasource, t) in the JSONL, -1 if null, -2 if absent */
static long value_of(const char *jsonl, const char *code, const char *ds, unsigned t) {
  char key[256];
  snprintf(key, sizeof key, "\"entity_code\":\"%s\",\"datasource\":\"%s\",\"t\":%u,", code, ds, t);
  const char *p = strstr(jsonl, key);
  if (!p) return -2;
  p = strstr(p, "\"value\":");
  if (!p) return -2;
  p += 8;
  if (strncmp(p, "null", 4) == 0) return -1;
  return strtol(p, NULL, 10);
}

static kp_geo_t *geo_xa(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/xa.cidr", kp_test_tmpdir());
  FILE *f = fopen(path, "w");
  KP_ASSERT(f);
  fputs("# test country\n198.18.0.0/22\n198.18.8.0/24\n", f);
  fclose(f);
  static char keep[512];
  memcpy(keep, path, sizeof path);
  const char *files[] = {keep, NULL};
  kp_geo_config_t gc = {.cidr_files = files};
  kp_geo_t *g = NULL;
  KP_ASSERT_OK(kp_geo_open(&gc, &g));
  return g;
}

KP_TEST(visibility_union_threshold_and_peer_down) {
  kp_geo_t *g = geo_xa();
  const char *countries[] = {"XA", NULL};
  kp_bgp_vis_config_t cfg = {.bin = 300, .full_feed_min = 2, .vis_frac = 0.5, .geo = g, .countries = countries,
                             .per_country = true, .per_asn = true};
  kp_bgp_vis_t *v;
  KP_ASSERT_OK(kp_bgp_vis_new(&cfg, &v));
  kp_buf_t out;
  kp_buf_init(&out, 1 << 20);
  /* bin 0 (t=0..299): peers 1,2 hold 198.18.0.0/22 + a filler; peer 3 holds 198.18.0.0/24 + filler;
   * peer 4 holds one route only (not full-feed). */
  kp_bgp_elem_t es[] = {
      el(KP_BGP_RIB, 10, 1, "198.18.0.0", 22, 64500), el(KP_BGP_RIB, 10, 1, "10.0.0.0", 8, 64999),
      el(KP_BGP_RIB, 10, 2, "198.18.0.0", 22, 64500), el(KP_BGP_RIB, 10, 2, "10.0.0.0", 8, 64999),
      el(KP_BGP_RIB, 10, 3, "198.18.0.0", 24, 64501), el(KP_BGP_RIB, 10, 3, "10.0.0.0", 8, 64999),
      el(KP_BGP_RIB, 10, 4, "198.18.8.0", 24, 64502),
  };
  for (size_t i = 0; i < sizeof es / sizeof *es; i++) KP_ASSERT_OK(kp_bgp_vis_add(v, &es[i], &out));
  /* bin 1: peer 2 withdraws the /22 (still full-feed? no: 1 route left) and announces another filler */
  kp_bgp_elem_t w1 = el(KP_BGP_WITHDRAW, 310, 2, "198.18.0.0", 22, 0);
  kp_bgp_elem_t a1 = el(KP_BGP_ANNOUNCE, 311, 2, "11.0.0.0", 8, 64999);
  KP_ASSERT_OK(kp_bgp_vis_add(v, &w1, &out));
  KP_ASSERT_OK(kp_bgp_vis_add(v, &a1, &out));
  /* bin 2: peers 1 and 3 go down (state change away from Established) */
  kp_bgp_elem_t d1 = el(KP_BGP_STATE, 620, 1, NULL, 0, 0), d3 = el(KP_BGP_STATE, 621, 3, NULL, 0, 0);
  d1.old_state = d3.old_state = 6, d1.new_state = d3.new_state = 1;
  KP_ASSERT_OK(kp_bgp_vis_add(v, &d1, &out));
  KP_ASSERT_OK(kp_bgp_vis_add(v, &d3, &out));
  KP_ASSERT_OK(kp_bgp_vis_flush(v, &out));
  const char *s = kp_buf_str(&out);
  /* bin 0: full-feed peers 1,2,3 (thr 2); 198.18.0/24 {1,2,3}, .1-.3 {1,2}: 4 /24s; 198.18.8/24 only peer 4 */
  KP_ASSERT_EQ(value_of(s, "XA", "bgp", 0), 4);
  KP_ASSERT_EQ(value_of(s, "AS64500", "bgp", 0), 3);
  KP_ASSERT_EQ(value_of(s, "AS64501", "bgp", 0), 1);
  KP_ASSERT_EQ(value_of(s, "AS64502", "bgp", 0), 0);
  /* bin 1: peers 1,2,3 full (peer 2 re-filled to 2 routes); thr 2; .0 {1,3} yes; .1-.3 {1} no */
  KP_ASSERT_EQ(value_of(s, "XA", "bgp", 300), 1);
  KP_ASSERT_EQ(value_of(s, "XA", "bgp-updates", 300), 1);
  KP_ASSERT_EQ(value_of(s, "AS64999", "bgp-updates", 300), 1);
  /* bin 2: only peer 2 is up and full-feed; it holds no 198.18 route */
  KP_ASSERT_EQ(value_of(s, "XA", "bgp", 600), 0);
  KP_ASSERT_EQ(value_of(s, "AS64999", "bgp", 600), 2u << 16); /* 10/8 and 11/8 */
  size_t peers, full;
  kp_bgp_vis_stats(v, &peers, &full);
  KP_ASSERT_EQ(peers, 4);
  KP_ASSERT_EQ(full, 1);
  kp_buf_free(&out);
  kp_bgp_vis_free(v);
  kp_geo_close(g);
}

KP_TEST(visibility_no_full_feed_is_null_and_gaps_are_filled) {
  kp_bgp_vis_config_t cfg = {.bin = 60, .full_feed_min = 5, .per_asn = true};
  kp_bgp_vis_t *v;
  KP_ASSERT_OK(kp_bgp_vis_new(&cfg, &v));
  kp_buf_t out;
  kp_buf_init(&out, 1 << 20);
  kp_bgp_elem_t a = el(KP_BGP_ANNOUNCE, 100, 1, "198.18.0.0", 24, 64500);
  kp_bgp_elem_t b = el(KP_BGP_ANNOUNCE, 400, 1, "198.18.1.0", 24, 64500);
  KP_ASSERT_OK(kp_bgp_vis_add(v, &a, &out));
  KP_ASSERT_OK(kp_bgp_vis_add(v, &b, &out));
  KP_ASSERT_OK(kp_bgp_vis_flush(v, &out));
  const char *s = kp_buf_str(&out);
  KP_ASSERT_EQ(value_of(s, "AS64500", "bgp", 60), -1);
  KP_ASSERT_EQ(value_of(s, "AS64500", "bgp-updates", 60), 1);
  KP_ASSERT_EQ(value_of(s, "AS64500", "bgp-updates", 180), 0); /* empty bins between are emitted */
  KP_ASSERT_EQ(value_of(s, "AS64500", "bgp-updates", 360), 1);
  KP_ASSERT_EQ(value_of(s, "AS64500", "bgp", 420), -2);
  kp_buf_free(&out);
  kp_bgp_vis_free(v);
}

KP_TEST(visibility_per_region_from_a_geo_table) {
  char path[512];
  snprintf(path, sizeof path, "%s/geo.csv", kp_test_tmpdir());
  FILE *f = fopen(path, "w");
  KP_ASSERT(f);
  fputs("198.18.0.0/23,XA,North,,\n198.18.2.0/23,XA,South,,\n", f);
  fclose(f);
  kp_geo_config_t gc = {.table = path};
  kp_geo_t *g = NULL;
  KP_ASSERT_OK(kp_geo_open(&gc, &g));
  const char *countries[] = {"xa", NULL};
  kp_bgp_vis_config_t cfg = {.bin = 300, .full_feed_min = 1, .geo = g, .countries = countries,
                             .per_country = true, .per_region = true};
  kp_bgp_vis_t *v;
  KP_ASSERT_OK(kp_bgp_vis_new(&cfg, &v));
  kp_buf_t out;
  kp_buf_init(&out, 1 << 20);
  kp_bgp_elem_t a = el(KP_BGP_ANNOUNCE, 5, 1, "198.18.0.0", 23, 64500);
  kp_bgp_elem_t b = el(KP_BGP_ANNOUNCE, 6, 2, "198.18.0.0", 24, 64500);
  kp_bgp_elem_t c = el(KP_BGP_ANNOUNCE, 7, 2, "198.18.3.0", 24, 64501);
  KP_ASSERT_OK(kp_bgp_vis_add(v, &a, &out));
  KP_ASSERT_OK(kp_bgp_vis_add(v, &b, &out));
  KP_ASSERT_OK(kp_bgp_vis_add(v, &c, &out));
  KP_ASSERT_OK(kp_bgp_vis_flush(v, &out));
  const char *s = kp_buf_str(&out);
  /* 2 full-feed peers, threshold 1: .0 .1 via peer 1's /23, .3 via peer 2 */
  KP_ASSERT_EQ(value_of(s, "XA", "bgp", 0), 3);
  KP_ASSERT_EQ(value_of(s, "XA/North", "bgp", 0), 2);
  KP_ASSERT_EQ(value_of(s, "XA/South", "bgp", 0), 1);
  KP_ASSERT_EQ(value_of(s, "XA/South", "bgp-updates", 0), 1);
  KP_ASSERT_EQ(value_of(s, "XA/North", "bgp-updates", 0), 2);
  kp_buf_free(&out);
  kp_bgp_vis_free(v);
  kp_geo_close(g);
}
