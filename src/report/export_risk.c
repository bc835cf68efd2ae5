/*
 * export_risk.c: the early-warning alerts (detect/risk.c) of the selected country and
 * window as a JSON array, one kp_risk_json object each. Assessed over the whole
 * incident set, so "no outage yet" and "new DNS tampering" also see before the window.
 */
#include <string.h>

#include "base/json.h"
#include "report/report.h"

kp_status_t kp_export_risk(const kp_report_opts_t *o, const kp_incset_t *is, kp_buf_t *out) {
  kp_risk_params_t p;
  kp_risk_params_default(&p);
  kp_risk_list_t l = {0};
  kp_status_t st = kp_risk_assess(&p, is, &l);
  if (st != KP_OK) return st;
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < l.n; i++) {
    const kp_risk_t *r = &l.v[i];
    if ((o->cc && o->cc[0] && strcmp(o->cc, r->cc)) || (o->from && r->end <= o->from) || (o->until && r->start >= o->until))
      continue;
    kp_risk_json(r, &w);
  }
  kp_jw_arr_end(&w);
  kp_risks_free(&l);
  if (w.st != KP_OK) return w.st;
  return kp_buf_putc(out, '\n');
}
