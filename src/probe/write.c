/*
 * write.c: one app's result as an OONI df-000 measurement (compact JSON).
 *
 * Envelope keys follow OONI's model.Measurement; test_keys carry the event
 * lists (trace), OONI's own result keys (the test's table entry) and
 * keepon's keys, all prefixed keepon_: keepon_verdict, keepon_technique,
 * keepon_evidence, keepon_reachable_fraction, keepon_blocked_endpoints,
 * keepon_total_endpoints, keepon_endpoints[], keepon_control. probe_ip is
 * "127.0.0.1" unless the caller explicitly passed one (privacy).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe/probe.h"

kp_status_t kp_probe_report_id(int64_t wall_ns, const char *test, const char *cc, const char *asn, char *out,
                               size_t cap) {
  static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  time_t t = (time_t)(wall_ns / 1000000000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
  unsigned char rnd[16];
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, rnd, sizeof rnd) != (ssize_t)sizeof rnd) {
    if (fd >= 0) close(fd);
    return KP_ERR_IO;
  }
  close(fd);
  char tail[17];
  for (int i = 0; i < 16; i++) tail[i] = alpha[rnd[i] % (sizeof alpha - 1)];
  tail[16] = 0;
  const char *digits = asn && (asn[0] == 'A' || asn[0] == 'a') ? asn + 2 : asn;
  char name[64]; /* OONI's backend drops the underscores: facebook_messenger -> facebookmessenger */
  size_t k = 0;
  for (const char *c = test; *c && k < sizeof name - 1; c++)
    if (*c != '_') name[k++] = *c;
  name[k] = 0;
  int n = snprintf(out, cap, "%s_%s_%s_%s_n1_%s", ts, name, cc, digits && *digits ? digits : "0", tail);
  return n > 0 && (size_t)n < cap ? KP_OK : KP_ERR_NOMEM;
}

kp_status_t kp_probe_write_measurement(const kp_probe_cfg_t *cfg, const kp_im_run_t *run, const kp_im_app_result_t *r,
                                       kp_buf_t *out) {
  char rid[128], start[20];
  const char *cc = cfg->probe_cc ? cfg->probe_cc : "ZZ";
  const char *asn = cfg->probe_asn ? cfg->probe_asn : "AS0";
  kp_status_t st = kp_probe_report_id(r->start_wall_ns, r->test->name, cc, asn, rid, sizeof rid);
  if (st != KP_OK) return st;
  kp_time_ooni((time_t)(r->start_wall_ns / 1000000000), start);
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_obj_begin(&w);
  kp_jw_key(&w, "annotations");
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "engine_name", "keepon");
  kp_jw_kstr(&w, "engine_version", cfg->software_version ? cfg->software_version : "0");
  kp_jw_kstr(&w, "platform", "linux");
  kp_jw_obj_end(&w);
  kp_jw_kstr(&w, "data_format_version", "0.2.0");
  kp_jw_key(&w, "extensions");
  kp_jw_obj_begin(&w);
  kp_jw_kint(&w, "dnst", 0);
  kp_jw_kint(&w, "httpt", 0);
  kp_jw_kint(&w, "netevents", 0);
  kp_jw_kint(&w, "tcpconnect", 0);
  kp_jw_kint(&w, "tlshandshake", 0);
  kp_jw_kint(&w, "tunnel", 0);
  kp_jw_obj_end(&w);
  kp_jw_knull(&w, "input");
  kp_jw_kstr(&w, "measurement_start_time", start);
  kp_jw_kstr(&w, "probe_asn", asn);
  kp_jw_kstr(&w, "probe_cc", cc);
  kp_jw_kstr(&w, "probe_ip", cfg->probe_ip ? cfg->probe_ip : "127.0.0.1");
  kp_jw_kstr(&w, "probe_network_name", cfg->probe_network_name ? cfg->probe_network_name : "");
  kp_jw_kstr(&w, "report_id", rid);
  kp_jw_kstr(&w, "resolver_asn", cfg->resolver_asn ? cfg->resolver_asn : "AS0");
  kp_jw_kstr(&w, "resolver_ip", cfg->resolver_seen && *cfg->resolver_seen ? cfg->resolver_seen : run->resolver_ip);
  kp_jw_kstr(&w, "resolver_network_name", "");
  kp_jw_kstr(&w, "software_name", "keepon");
  kp_jw_kstr(&w, "software_version", cfg->software_version ? cfg->software_version : "0");
  kp_jw_key(&w, "test_keys");
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "agent", "redirect"); /* urlgetter's; "tunnel" is omitted as OONI omits it (no tunnel) */
  kp_jw_knull(&w, "failed_operation");
  kp_jw_knull(&w, "failure");
  kp_trace_write(r->trace, &w);
  r->test->write_keys(r, &w);
  const kp_an_result_t *v = &r->verdict;
  kp_jw_kstr(&w, "keepon_verdict", kp_verdict_name(v->verdict));
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
  kp_jw_kstr(&w, "test_name", r->test->name);
  kp_jw_kdouble(&w, "test_runtime", r->runtime);
  kp_jw_kstr(&w, "test_start_time", start);
  kp_jw_kstr(&w, "test_version", r->test->version);
  kp_jw_obj_end(&w);
  return w.st;
}
