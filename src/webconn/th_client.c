/*
 * th_client.c: the probe's side of the control: POST the TH request to a helper
 * (https://NAME[:PORT]/path, or http://) and read its answer.
 *
 * Goes through the control-plane client (src/httpc): certificate and host-name checks,
 * the probe's --proxy, OONI Probe's User-Agent, connect + total timeout, response body capped
 * at 4 MiB. One client per query, so parallel measurements never share a handle. Any
 * failure is returned as an OONI-style string for control_failure, never as an error of
 * the run.
 */
#include <stdio.h>
#include <string.h>

#include "httpc/httpc.h"
#include "webconn/wc_net.h"

#define RESP_CAP ((size_t)4 << 20)
/* The control request looks like OONI Probe's own (oohelperd, and `keepon helper`, give clients
 * whose User-Agent starts "ooniprobe-" the full in-flight budget); it never names keepon. */
#define CONTROL_UA "ooniprobe-cli/3.22.0"

kp_status_t kp_wc_th_query(const char *helper, const struct kp_httpc_opts *http_opts, const kp_wc_threq_t *req,
                           double timeout, kp_buf_t *body_out, const char **failure) {
  *failure = NULL;
  kp_buf_reset(body_out);
  if (!helper || (strncmp(helper, "http://", 7) != 0 && !kp_httpc_is_https(helper))) return KP_ERR_INVAL;
  kp_httpc_opts_t o = http_opts ? *http_opts : (kp_httpc_opts_t){0};
  int ms = (int)(timeout * 1000);
  if (ms < 1) ms = 1;
  o.timeout_ms = ms;
  if (!o.connect_timeout_ms || o.connect_timeout_ms > ms) o.connect_timeout_ms = ms;
  o.max_body = RESP_CAP;
  if (!o.user_agent) o.user_agent = CONTROL_UA;
  kp_httpc_t *c = NULL;
  kp_status_t st = kp_httpc_new(&o, &c);
  if (st != KP_OK) return st;
  kp_buf_t json;
  kp_buf_init(&json, (size_t)1 << 20);
  kp_jw_t w;
  kp_jw_init(&w, &json);
  kp_wc_threq_write(&w, req);
  st = w.st;
  kp_httpc_resp_t r;
  kp_httpc_resp_init(&r);
  if (st == KP_OK) {
    kp_status_t hs = kp_httpc_post(c, helper, "application/json", json.data, json.len, &r);
    if (hs != KP_OK) *failure = kp_httpc_fail_name(r.fail) ? kp_httpc_fail_name(r.fail) : "unknown_failure";
    else if (r.status != 200) *failure = "http_request_failed";
    else st = kp_buf_append(body_out, r.body.data ? r.body.data : (const uint8_t *)"", r.body.len);
  }
  kp_httpc_resp_free(&r);
  kp_httpc_free(c);
  kp_buf_free(&json);
  return st;
}
