/* fuzz_watch_vpost.c: a vantage's block-state post (the body of POST /api/v1/watch/blocks),
 * parsed and, when accepted, merged into a view twice (as two vantages) and read back. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "watch/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_sig(void *ctx, const kp_vsignal_t *s) {
  if (!s->entity_type || !s->entity_code || s->agree_pct > 100) __builtin_trap();
  (*(size_t *)ctx)++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_vpost_t *p = NULL, *q = NULL;
  char err[160];
  if (kp_vpost_parse(data, size, &p, err, sizeof err) != KP_OK) return 0;
  if (!kp_vantage_id_ok(p->vantage) || p->step < 1) __builtin_trap();
  for (size_t i = 0; i < p->nblocks; i++) {
    if (p->blocks[i].block & 0xff || p->blocks[i].state > KP_TRI_DOWN) __builtin_trap();
    for (int k = 0; k < 3; k++)
      if (p->blocks[i].e[k] != UINT32_MAX && p->blocks[i].e[k] >= p->nentities) __builtin_trap();
  }
  if (kp_vpost_parse(data, size, &q, err, sizeof err) != KP_OK) __builtin_trap();
  q->vantage[0] = q->vantage[0] == 'z' ? 'y' : 'z';
  kp_vview_t *v = NULL;
  if (kp_vview_create(&v) != KP_OK) {
    kp_vpost_free(p);
    kp_vpost_free(q);
    return 0;
  }
  int64_t t = p->t;
  if (kp_vview_put(v, p) != KP_OK) kp_vpost_free(p);
  if (kp_vview_put(v, q) != KP_OK) kp_vpost_free(q);
  size_t n = 0;
  kp_vview_signals(v, t, on_sig, &n);
  kp_vfault_t f[4];
  size_t nf;
  kp_vview_faults(v, 0, 4, f, &nf);
  kp_vview_free(v);
  return 0;
}
