/* internal.h: helpers shared by the report sources (not part of the module API). */
#ifndef KP_REPORT_INTERNAL_H
#define KP_REPORT_INTERNAL_H

#include "report/report.h"

/** XML/HTML-escape @p s onto @p o. */
kp_status_t kp_rep_esc(kp_buf_t *o, const char *s);
/** strftime in UTC. */
void kp_rep_time(int64_t t, const char *fmt, char *out, size_t cap);
/** One lane per incident, its windows as bars; @p label names each lane (the incident type). */
kp_status_t kp_rep_timeline_svg(const kp_incident_t *const *inc, size_t n, int64_t from, int64_t until,
                                const char *title, const char *const *label, kp_buf_t *o);

/** Plot text of one series: its y unit (already translated) and the value scale. */
typedef struct kp_rep_axis {
  const char *unit;      /* shown above the plot, e.g. "/24 address blocks answering ping (count)" */
  const char *time_axis; /* e.g. "time (UTC)" */
  double scale;          /* plotted value = stored value × scale (probe: ×0.1, per mille to %) */
  double ymax;           /* fixed top of the y axis, 0 = the data's maximum */
} kp_rep_axis_t;
kp_status_t kp_rep_svg(const kp_series_t *se, int64_t from, int64_t until, const kp_window_t *shade, size_t nshade,
                       const kp_rep_axis_t *ax, kp_buf_t *out);

/** The i-th ISO code of the country-name table, NULL past its end. */
const char *kp_rep_country_at(size_t i);

/* i18n.c: a language's messages (every key filled: the language, else English, else the key) */
typedef struct kp_i18n kp_i18n_t;
kp_status_t kp_rep_i18n_load(kp_lang_t l, kp_i18n_t **out);
void kp_rep_i18n_free(kp_i18n_t *t);
const char *kp_rep_msg(const kp_i18n_t *t, int m /* kp_msg_t */);
const char *kp_rep_country(const kp_i18n_t *t, const char *cc);
/** Substitutes {1}..{9} of @p tmpl with @p args, emitting pieces through @p put. */
kp_status_t kp_rep_fill(const char *tmpl, const char *const *args, size_t nargs,
                        kp_status_t (*put)(void *ctx, const char *s, size_t n), void *ctx);

/* tz.c: local time of a country at t (no-DST periods only); false = none known */
bool kp_rep_zone(const char *cc, int64_t t, const char **name, int *off);
const char *kp_rep_zone_name(const char *cc);
void kp_rep_offset_str(int off, char *out, size_t cap);

#endif
