/*
 * test_remote_detect.c: remote-dns signal points, as src/remote emits them, join detect's service
 * incidents with their technique (and never feed the IODA rule as if they were a level signal).
 */
#include <string.h>

#include "detect/detect.h"
#include "kp_test.h"
#include "remote/internal.h"

#define T0 1641340800LL /* 2022-01-05 00:00 UTC */

KP_TEST(remote_dns_signals_make_a_service_incident) {
  kp_rmt_target_t t = {.role = KP_RMT_RESOLVER, .asn = 64510, .cc = "KZ"};
  kp_addr_parse("198.18.200.10", &t.addr);
  size_t hours = 126, per = 10, n = hours * per;
  kp_rmt_row_t *rows = calloc(n, sizeof *rows);
  KP_ASSERT(rows);
  int64_t b0 = T0 + 96 * 3600;
  for (size_t i = 0; i < n; i++) {
    rows[i].t = &t;
    rows[i].wall_s = T0 + (int64_t)(i / per) * 3600 + (int64_t)(i % per) * 60;
    bool blocked = rows[i].wall_s >= b0;
    rows[i].verdict = blocked ? "blocked" : "ok";
    rows[i].technique = blocked ? KP_RMT_DNS_FORGED : NULL;
    kp_buf_init(&rows[i].json, 64);
  }
  kp_rmt_cfg_t cfg = {.bin_step = 3600};
  kp_buf_t sig;
  kp_buf_init(&sig, 1 << 24);
  kp_rmt_stats_t st = {0};
  KP_ASSERT(kp_rmt_emit(&cfg, "remote-dns", rows, n, NULL, NULL, &sig, &st) == KP_OK);
  KP_ASSERT(st.measured == n && st.blocked == 30 * per);
  KP_ASSERT(strstr(kp_buf_str(&sig), "\"datasource\":\"remote-dns\""));
  KP_ASSERT(strstr(kp_buf_str(&sig), "\"techniques\":{\"dns-forged\":10}"));
  kp_sigset_t *s;
  KP_ASSERT(kp_sigset_new(3600, &s) == KP_OK);
  kp_read_stats_t rs;
  KP_ASSERT(kp_sigset_add_jsonl(s, sig.data, sig.len, &rs) == KP_OK);
  KP_ASSERT(kp_sigset_find(s, "country", "KZ", "remote-dns") && kp_sigset_find(s, "asn", "AS64510", "remote-dns"));
  KP_ASSERT(kp_sigset_finalize(s) == KP_OK);
  kp_detect_cfg_t c;
  kp_detect_cfg_default(&c);
  kp_event_list_t ev;
  memset(&ev, 0, sizeof ev);
  KP_ASSERT(kp_detect_run(&c, s, &ev) == KP_OK);
  kp_incset_t *is;
  KP_ASSERT(kp_incidents_merge(&c, s, &ev, &is) == KP_OK);
  KP_ASSERT_MSG(kp_incset_count(is) == 1, "%zu incidents", kp_incset_count(is));
  const kp_incident_t *inc = kp_incset_at(is, 0);
  KP_ASSERT_MSG(inc->type == KP_INC_SERVICE, "type %s", kp_inc_type_name(inc->type));
  KP_ASSERT(inc->start == b0);
  KP_ASSERT(inc->ntechniques == 1 && !strcmp(inc->techniques[0].name, KP_RMT_DNS_FORGED));
  kp_incset_free(is);
  kp_events_free(&ev);
  kp_sigset_free(s);
  kp_buf_free(&sig);
  for (size_t i = 0; i < n; i++) kp_buf_free(&rows[i].json);
  free(rows);
}
