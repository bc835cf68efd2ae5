/*
 * fuzz_outboxrec.c: outbox record lines and chain verification over arbitrary bytes (what
 * `keepon verify` and the collector read from untrusted files and uploads). A record that
 * parses must re-serialize to a line that parses to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outbox/outbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t n = 0;
  (void)kp_outbox_verify_bytes(data, size, (size & 1) != 0, NULL, NULL, &n);
  kp_json_doc_t *doc = NULL, *doc2 = NULL;
  kp_outbox_rec_t r, r2;
  const char *why;
  if (kp_outbox_rec_parse(data, size, &doc, &r, &why) != KP_OK) return 0;
  (void)kp_outbox_rec_check(&r, &why);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 26);
  if (kp_outbox_rec_write(&r, &b) == KP_OK) {
    if (kp_outbox_rec_parse(b.data, b.len - 1, &doc2, &r2, &why) != KP_OK) abort();
    if (r2.seq != r.seq || memcmp(r2.hash, r.hash, 32) || memcmp(r2.sig, r.sig, 64) || r2.msm_len != r.msm_len ||
        memcmp(r2.msm, r.msm, r.msm_len))
      abort();
    kp_json_doc_free(doc2);
  }
  kp_buf_free(&b);
  kp_json_doc_free(doc);
  return 0;
}
