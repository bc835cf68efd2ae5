/* fuzz_mrt.c: MRT framing, every record decoder, the bgpdump formatter, the
 * element iterator and the visibility state fed by those elements.
 * Invariants checked: output is whole lines; a rejected record leaves the
 * output untouched; elements carry sane prefix lengths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bgp/bgp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz {
  size_t n;
  kp_bgp_vis_t *vis;
  kp_buf_t sig;
} fz_t;

static int count_elem(void *arg, const kp_bgp_elem_t *e) {
  fz_t *f = arg;
  if (e->type != KP_BGP_STATE && e->plen > (e->afi == 1 ? 32 : 128)) abort();
  f->n++;
  if (f->vis && kp_bgp_vis_add(f->vis, e, &f->sig) != KP_OK) return 1;
  if (f->sig.len > ((size_t)1 << 20)) kp_buf_reset(&f->sig);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_mrt_ctx_t *ctx = NULL;
  if (kp_mrt_ctx_new(&ctx) != KP_OK) return 0;
  kp_buf_t out;
  kp_buf_init(&out, (size_t)64 << 20);
  size_t off = 0;
  uint64_t lines = 0;
  fz_t fz = {0};
  kp_bgp_vis_config_t vc = {.bin = 1u << 28, .full_feed_min = 1, .per_asn = true}; /* few bins: gaps cost a close each */
  kp_buf_init(&fz.sig, (size_t)16 << 20);
  if (kp_bgp_vis_new(&vc, &fz.vis) != KP_OK) fz.vis = NULL;
  while (off < size) {
    kp_mrt_rec_t r;
    size_t used = 0;
    kp_status_t st = kp_mrt_frame(data + off, size - off, &r, &used);
    if (st == KP_ERR_TRUNC) break;
    if (st == KP_ERR_INVAL) {
      off += used > size - off ? size - off : used;
      continue;
    }
    size_t before = out.len;
    st = kp_bgp_dump_record(ctx, &r, &out, &lines);
    if (st != KP_OK && out.len != before) abort();
    if (out.len > before && out.data[out.len - 1] != '\n') abort();
    (void)kp_bgp_elems(ctx, &r, count_elem, &fz);
    if (out.len > ((size_t)32 << 20)) kp_buf_reset(&out);
    off += used;
  }
  if (fz.vis) (void)kp_bgp_vis_flush(fz.vis, &fz.sig);
  kp_bgp_vis_free(fz.vis);
  kp_buf_free(&fz.sig);
  kp_buf_free(&out);
  kp_mrt_ctx_free(ctx);
  return 0;
}
