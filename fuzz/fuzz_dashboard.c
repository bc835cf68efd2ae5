/* fuzz_dashboard.c: untrusted uploads to the dashboard (POST /api/v1/incidents and
 * /api/v1/entities); whatever is accepted must come back out as valid JSON. */
#include <stdint.h>
#include <stdlib.h>

#include "base/json.h"
#include "dashboard/dashboard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_be_json(const kp_dash_resp_t *r) {
  kp_json_doc_t *doc = NULL;
  if (kp_json_parse(r->body.data, r->body.len, NULL, &doc, NULL) != KP_OK) abort();
  kp_json_doc_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kp_dashboard_t *d = NULL;
  if (kp_dashboard_new(NULL, &d) != KP_OK) return 0;
  static const char *const posts[] = {"/api/v1/incidents", "/api/v1/entities"};
  for (size_t i = 0; i < 2; i++) {
    kp_dash_req_t rq = {.method = "POST", .path = posts[i], .body = data, .body_len = size};
    kp_dash_resp_t rs;
    if (kp_dashboard_handle(d, &rq, &rs) != KP_OK) continue;
    must_be_json(&rs);
    kp_buf_free(&rs.body);
  }
  static const char *const gets[] = {"/api/v1/incidents", "/api/v1/entities"};
  for (size_t i = 0; i < 2; i++) {
    kp_dash_req_t rq = {.method = "GET", .path = gets[i]};
    kp_dash_resp_t rs;
    if (kp_dashboard_handle(d, &rq, &rs) != KP_OK) abort();
    must_be_json(&rs);
    kp_buf_free(&rs.body);
  }
  kp_dashboard_free(d);
  return 0;
}
