/*
 * fuzz_signal.c: detect's JSONL readers (signal points and OONI measurements)
 * and the whole path behind them: signal set, finalize, detectors, merging,
 * incident JSON. Invariant checked: whatever is accepted yields series whose
 * bins are inside their span and JSON that re-parses.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "detect/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_signal_point_t p;
  kp_msm_t m;
  (void)kp_signal_parse(data, size, &p);
  (void)kp_msm_parse(data, size, &m);
  kp_sigset_t *s = NULL;
  if (kp_sigset_new(3600, &s) != KP_OK) return 0;
  kp_read_stats_t st = {0};
  if (kp_sigset_add_jsonl(s, data, size, &st) == KP_OK && kp_sigset_finalize(s) == KP_OK) {
    if (st.bad + st.signals + st.measurements > st.lines) abort();
    size_t total = 0;
    for (size_t i = 0; i < kp_sigset_count(s); i++) total += kp_sigset_at(s, i)->n;
    if (total < (1u << 20)) { /* detection on huge sparse spans is slow, not wrong */
      kp_detect_cfg_t cfg;
      kp_detect_cfg_default(&cfg);
      kp_event_list_t ev = {0};
      kp_incset_t *is = NULL;
      if (kp_detect_run(&cfg, s, &ev) == KP_OK && kp_incidents_merge(&cfg, s, &ev, &is) == KP_OK) {
        kp_buf_t b;
        kp_buf_init(&b, 1 << 26);
        if (kp_incidents_json(is, &b) == KP_OK) {
          kp_json_doc_t *doc = NULL;
          if (kp_json_parse(b.data, b.len, NULL, &doc, NULL) != KP_OK) abort();
          kp_json_doc_free(doc);
        }
        kp_buf_free(&b);
      }
      kp_incset_free(is);
      kp_events_free(&ev);
    }
  }
  kp_sigset_free(s);
  return 0;
}
