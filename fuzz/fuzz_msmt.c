/* fuzz_msmt.c: src/msmt's readers (strict view, lenient meta, report id parse); every accessor is safe on any input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msmt/msmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_msmt_rid_t rid;
  if (kp_msmt_report_id_parse((const char *)data, size, &rid) &&
      (!kp_msmt_valid_cc(rid.cc) || !kp_msmt_valid_asn(rid.asn)))
    abort();
  kp_json_doc_t *doc = NULL;
  if (kp_json_parse(data, size, NULL, &doc, NULL) == KP_OK) {
    kp_msmt_meta_t mm;
    if (kp_msmt_meta(kp_msmt_unwrap(kp_json_root(doc)), &mm) && mm.probe_cc && strlen(mm.probe_cc) > size) abort();
    kp_json_doc_free(doc);
  }
  kp_msmt_t *m = NULL;
  char err[128];
  if (kp_msmt_parse(data, size, &m, err, sizeof err) != KP_OK) return 0;
  const kp_msmt_view_t *v = kp_msmt_view(m);
  if (!kp_msmt_report_id_valid(v->report_id)) abort();
  for (size_t i = 0; i < v->ntcp_connect + 1; i++) {
    kp_msmt_tcp_t t;
    (void)kp_msmt_tcp(m, i, &t);
  }
  for (size_t i = 0; i < v->nqueries + 1; i++) {
    kp_msmt_query_t q;
    if (kp_msmt_query(m, i, &q) == KP_OK && q.nanswers > 16) abort();
  }
  for (size_t i = 0; i < v->nrequests + 1; i++) {
    kp_msmt_request_t r;
    (void)kp_msmt_request(m, i, &r);
  }
  for (size_t i = 0; i < v->ntls_handshakes + 1; i++) {
    kp_msmt_tls_t t;
    (void)kp_msmt_tls(m, i, &t);
  }
  kp_msmt_free(m);
  return 0;
}
