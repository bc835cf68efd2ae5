/* fuzz_wcarchival.c: web_connectivity test_keys / TH response reader and the
 * analysis over whatever it produced (must never crash or read out of bounds). */
#include <stdint.h>
#include <stdlib.h>

#include "webconn/webconn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_json_doc_t *doc = NULL;
  kp_json_limits_t lim = {.max_depth = 32, .max_bytes = 1 << 24};
  if (kp_json_parse(data, size, &lim, &doc, NULL) != KP_OK) return 0;
  kp_arena_t *a = kp_arena_create(1 << 24);
  kp_wc_obs_t *o = malloc(sizeof *o);
  if (a && o && kp_wc_obs_from_archival(kp_json_root(doc), a, o) == KP_OK) {
    kp_wc_keys_t k;
    kp_wc_opts_t opts = {.lab = (size & 1) != 0};
    if (kp_wc_analyze(o, &opts, &k) == KP_OK) {
      kp_buf_t b;
      kp_buf_init(&b, 1 << 20);
      kp_jw_t w;
      kp_jw_init(&w, &b);
      kp_jw_obj_begin(&w);
      kp_wc_keys_write(&w, &k);
      kp_jw_obj_end(&w);
      kp_wc_thresp_write(&w, &o->ctl, NULL, 0, &opts, NULL, NULL);
      kp_buf_free(&b);
    }
  }
  free(o);
  kp_arena_destroy(a);
  kp_json_doc_free(doc);
  return 0;
}
