/* internal.h: helpers shared by the report sources (not part of the module API). */
#ifndef KP_REPORT_INTERNAL_H
#define KP_REPORT_INTERNAL_H

#include "report/report.h"

/** XML/HTML-escape @p s onto @p o. */
kp_status_t kp_rep_esc(kp_buf_t *o, const char *s);
/** strftime in UTC. */
void kp_rep_time(int64_t t, const char *fmt, char *out, size_t cap);
/** One lane per incident, its windows as bars. */
kp_status_t kp_rep_timeline_svg(const kp_incident_t *const *inc, size_t n, int64_t from, int64_t until,
                                kp_buf_t *o);

#endif
