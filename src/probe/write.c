/*
 * write.c: one app's result as an OONI df-000 measurement (compact JSON).
 *
 * Envelope keys follow OONI's model.Measurement; test_keys carry the event
 * lists (trace), OONI's own result keys (the test's table entry) and
 * keepon's keys, all prefixed keepon_: keepon_verdict, keepon_access_type (only when known), keepon_technique,
 * keepon_evidence, keepon_reachable_fraction, keepon_blocked_endpoints,
 * keepon_total_endpoints, keepon_endpoints[], keepon_control. The envelope
 * around test_keys (and its privacy defaults) is src/msmt's.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "msmt/msmt.h"
#include "probe/probe.h"

kp_status_t kp_probe_write_measurement(const kp_probe_cfg_t *cfg, const kp_im_run_t *run, const kp_im_app_result_t *r,
                                       kp_buf_t *out) {
  kp_msmt_env_t env = {.test_name = r->test->name, .test_version = r->test->version, .probe_cc = cfg->probe_cc,
                       .probe_asn = cfg->probe_asn, .probe_network_name = cfg->probe_network_name,
                       .probe_ip = cfg->probe_ip,
                       .resolver_ip = cfg->resolver_seen && *cfg->resolver_seen ? cfg->resolver_seen : run->resolver_ip,
                       .resolver_asn = cfg->resolver_asn, .ext_tunnel = true,
                       .software_version = cfg->software_version, .start_wall_ns = r->start_wall_ns};
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_status_t st = kp_msmt_write_head(&w, &env);
  if (st != KP_OK) return st;
  kp_jw_key(&w, "test_keys");
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "agent", "redirect"); /* urlgetter's; "tunnel" is omitted as OONI omits it (no tunnel) */
  kp_jw_knull(&w, "failed_operation");
  kp_jw_knull(&w, "failure");
  kp_trace_write(r->trace, &w);
  r->test->write_keys(r, &w);
  const kp_an_result_t *v = &r->verdict;
  kp_jw_kstr(&w, "keepon_verdict", kp_verdict_name(v->verdict));
  if (cfg->access_type) kp_jw_kstr(&w, "keepon_access_type", cfg->access_type);
  if (v->tech == KP_TECH_NONE) kp_jw_knull(&w, "keepon_technique");
  else kp_jw_kstr(&w, "keepon_technique", kp_tech_name(v->tech));
  kp_jw_kstr(&w, "keepon_evidence", v->evidence);
  kp_jw_kdouble(&w, "keepon_reachable_fraction", v->reachable_fraction);
  kp_jw_kint(&w, "keepon_blocked_endpoints", (int64_t)v->n_tech);
  kp_jw_kint(&w, "keepon_total_endpoints", (int64_t)v->n_counting);
  kp_jw_key(&w, "keepon_control");
  kp_jw_obj_begin(&w);
  kp_jw_kbool(&w, "dns_ok", run->control.dns_ok);
  kp_jw_kbool(&w, "reach_ok", run->control.reach_ok);
  kp_jw_obj_end(&w);
  kp_jw_key(&w, "keepon_endpoints");
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < r->nflows; i++) {
    const kp_flow_result_t *f = &r->flow[i];
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "target", f->target->url);
    kp_jw_kstr(&w, "role", f->target->role);
    kp_jw_kstr(&w, "outcome", r->outcome[i] != KP_TECH_NONE ? kp_tech_name(r->outcome[i])
                              : kp_an_flow_ok(&f->facts) ? "ok"
                              : f->facts.blockpage_only   ? "ok"
                                                          : "failed");
    kp_jw_kstr(&w, "failure", f->failure);
    kp_jw_kstr(&w, "failed_operation", f->failed_operation);
    if (f->facts.download) {
      double s = f->facts.seconds > 1e-6 ? f->facts.seconds : 1e-6;
      kp_jw_kint(&w, "bytes", (int64_t)f->facts.bytes);
      kp_jw_kdouble(&w, "kbps", (double)f->facts.bytes * 8 / 1000 / s);
    }
    kp_jw_obj_end(&w);
  }
  kp_jw_arr_end(&w);
  kp_jw_obj_end(&w);
  kp_msmt_write_tail(&w, &env, r->runtime);
  return w.st;
}
