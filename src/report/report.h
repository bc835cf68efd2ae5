/*
 * report.h: publishable output from detect's incidents.
 *
 *   kp_report_render   self-contained HTML (inline CSS + inline SVG, no external
 *                      resource) or Markdown (SVG plots as separate files): summary,
 *                      timeline, per-entity plots with events shaded, affected
 *                      regions/networks/services, techniques, findings, evidence.
 *   kp_export_stop     the incident list as Access Now STOP columns (CSV)
 *   kp_export_codf     Common Outage Data Format records (JSON array, one per event)
 *   kp_export_json     detect's incident JSON, filtered like the others
 *   kp_export_risk     early-warning ("shutdown risk") alerts as JSON
 *
 * Languages: every user-visible message comes from data/i18n/<lang>.tsv
 * (compiled in; i18n.c); dates are printed in UTC and, where the country's zone
 * is known (tz.c), in local time too. Markdown links its plots as separate SVG
 * files that kp_report_render_files returns for the caller to write beside it.
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

typedef enum kp_lang { KP_LANG_EN = 0, KP_LANG_RU, KP_LANG_KK, KP_LANG__COUNT } kp_lang_t;
/** "en", "ru", "kk". */
const char *kp_lang_code(kp_lang_t l);
/** @return 0 and *out for "en"/"ru"/"kk", -1 otherwise */
int kp_lang_parse(const char *s, kp_lang_t *out);
/** The compiled-in translation file of @p l (the bytes of data/i18n/<code>.tsv). */
kp_status_t kp_lang_data(kp_lang_t l, const void **p, size_t *n);
/**
 * Check one translation file against the report's key list and English's
 * placeholders: every key exactly once, no unknown key, no empty text, the
 * same {1}..{9} as English. KP_ERR_INVAL with the first problems in @p err.
 */
kp_status_t kp_i18n_check(const void *tsv, size_t n, char *err, size_t cap);
/** Number of keys a translation file must define. */
size_t kp_i18n_key_count(void);

/** One plot file of a Markdown report: a name relative to the report and its SVG bytes. */
typedef struct kp_report_file { char name[160]; kp_buf_t data; } kp_report_file_t;
typedef struct kp_report_files { kp_report_file_t *v; size_t n; } kp_report_files_t;
void kp_report_files_free(kp_report_files_t *f);

typedef struct kp_report_opts {
  const char *cc;        /* ISO alpha-2 filter, NULL = every country */
  int64_t from, until;   /* window; until == 0 = the end of the data */
  kp_report_fmt_t format;
  const char *generated; /* "generated at" text, NULL = omitted */
  size_t max_plots;      /* 0 = 12 */
  kp_lang_t lang;        /* 0 = English */
  const char *plot_stem; /* Markdown plot file names: <stem>-<NN>.svg; NULL = "report" */
  const struct kp_reach_windows *reach; /* what stayed reachable (src/reach), NULL = none measured */
} kp_report_opts_t;

/** Incidents of @p is that match @p o (country and overlap with the window). */
bool kp_report_selects(const kp_report_opts_t *o, const kp_incident_t *inc);

/** HTML (plots inline) or Markdown (plots as files in @p files; NULL = not linked). */
kp_status_t kp_report_render_files(const kp_report_opts_t *o, const kp_sigset_t *s, const kp_incset_t *is,
                                   kp_buf_t *out, kp_report_files_t *files);
/** kp_report_render_files without the plot files (HTML; Markdown then has no plots). */
kp_status_t kp_report_render(const kp_report_opts_t *o, const kp_sigset_t *s, const kp_incset_t *is,
                             kp_buf_t *out);
kp_status_t kp_export_stop(const kp_report_opts_t *o, const kp_incset_t *is, kp_buf_t *out);
kp_status_t kp_export_codf(const kp_report_opts_t *o, const kp_incset_t *is, kp_buf_t *out);
kp_status_t kp_export_json(const kp_report_opts_t *o, const kp_incset_t *is, kp_buf_t *out);
/** The "shutdown risk" alerts (detect/risk.c) of the selection, a JSON array. */
kp_status_t kp_export_risk(const kp_report_opts_t *o, const kp_incset_t *is, kp_buf_t *out);

/** One series as an SVG line plot over [from, until) with @p shade windows filled. */
kp_status_t kp_report_svg(const kp_series_t *se, int64_t from, int64_t until, const kp_window_t *shade,
                          size_t nshade, kp_buf_t *out);

/** UN short name of an ISO alpha-2 country code (a small table), or the code itself. */
const char *kp_country_name(const char *cc);

#endif
