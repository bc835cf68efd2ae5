/*
 * report.h: publishable output from detect's incidents.
 *
 *   kp_report_render   self-contained HTML (inline CSS + inline SVG, no external
 *                      resource) or Markdown (SVG plots as data: URIs): summary,
 *                      timeline, per-entity plots with events shaded, affected
 *                      regions/networks/services, techniques, findings, evidence.
 *   kp_export_stop     the incident list as Access Now STOP columns (CSV)
 *   kp_export_codf     Common Outage Data Format records (JSON array, one per event)
 *   kp_export_json     detect's incident JSON, filtered like the others
 *
 * Output is a pure function of the inputs and the options: no clock is read
 * (opts.generated is printed only when given), so a fixed input gives
 * byte-identical output (the snapshot test relies on it).
 */
#ifndef KP_REPORT_REPORT_H
#define KP_REPORT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "detect/detect.h"

typedef enum kp_report_fmt { KP_REPORT_HTML = 0, KP_REPORT_MD } kp_report_fmt_t;

typedef struct kp_report_opts {
  const char *cc;        /* ISO alpha-2 filter, NULL = every country */
  int64_t from, until;   /* window; until == 0 = the end of the data */
  kp_report_fmt_t format;
  const char *generated; /* "generated at" text, NULL = omitted */
  size_t max_plots;      /* 0 = 12 */
} kp_report_opts_t;

/** Incidents of @p is that match @p o (country and overlap with the window). */
bool kp_report_selects(const kp_report_opts_t *o, const kp_incident_t *inc);

kp_status_t kp_report_render(const kp_report_opts_t *o, const kp_sigset_t *s, const kp_incset_t *is,
                             kp_buf_t *out);
kp_status_t kp_export_stop(const kp_report_opts_t *o, const kp_incset_t *is, kp_buf_t *out);
kp_status_t kp_export_codf(const kp_report_opts_t *o, const kp_incset_t *is, kp_buf_t *out);
kp_status_t kp_export_json(const kp_report_opts_t *o, const kp_incset_t *is, kp_buf_t *out);

/** One series as an SVG line plot over [from, until) with @p shade windows filled. */
kp_status_t kp_report_svg(const kp_series_t *se, int64_t from, int64_t until, const kp_window_t *shade,
                          size_t nshade, kp_buf_t *out);

/** UN short name of an ISO alpha-2 country code (a small table), or the code itself. */
const char *kp_country_name(const char *cc);

#endif
