/* fuzz_mrt.c: MRT framing, every record decoder, the bgpdump formatter and the
 * element iterator. Invariants checked: output is whole lines; a rejected
 * record leaves the output untouched; elements carry sane prefix lengths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bgp/bgp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_elem(void *arg, const kp_bgp_elem_t *e) {
  size_t *n = arg;
  if (e->type != KP_BGP_STATE && e->plen > (e->afi == 1 ? 32 : 128)) abort();
  (*n)++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_mrt_ctx_t *ctx = NULL;
  if (kp_mrt_ctx_new(&ctx) != KP_OK) return 0;
  kp_buf_t out;
  kp_buf_init(&out, (size_t)64 << 20);
  size_t off = 0;
  uint64_t lines = 0;
  size_t elems = 0;
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
    (void)kp_bgp_elems(ctx, &r, count_elem, &elems);
    if (out.len > ((size_t)32 << 20)) kp_buf_reset(&out);
    off += used;
  }
  kp_buf_free(&out);
  kp_mrt_ctx_free(ctx);
  return 0;
}
