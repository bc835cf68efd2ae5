/*
 * detect.h: from signals to incidents (issue 7, detection half).
 *
 *   signal points (JSONL, docs/formats.md) ─┐
 *   OONI-format measurements (JSONL) ──conv─┴─> kp_sigset_t (one dense series per
 *                                               entity × datasource, NaN = no data)
 *        │ detectors (const tables, kp_detector_t): IODA median rule, CUSUM, curfew
 *        v
 *   kp_event_list_t (per series: start, end, level, score = Σ drop% × minutes)
 *        │ kp_incidents_merge()
 *        v
 *   kp_incset_t (incidents: type, scope, services, techniques, windows, confidence,
 *                findings, evidence) ──> kp_alerts_diff() ──> webhook JSON
 *
 * Parsers (kp_signal_parse, kp_msm_parse) are pure functions over untrusted
 * bytes. Series, events and incidents are transparent read-only structs so the
 * report module can render them; they are built and freed only here.
 * Times are Unix seconds (UTC); intervals are half-open [start, end).
 */
#ifndef KP_DETECT_DETECT_H
#define KP_DETECT_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

struct kp_httpc; /* httpc/httpc.h: the control-plane client */

#define KP_DET_ETYPE_MAX 16
#define KP_DET_CODE_MAX 80
#define KP_DET_DS_MAX 48
#define KP_DET_TECH_MAX 32
#define KP_DET_UID_MAX 96
#define KP_DET_LINE_MAX ((size_t)1 << 22) /* longest accepted JSONL line (4 MiB) */

/* ---------------------------------------------------------------- inputs */

/** One parsed signal point (docs/formats.md). Extra keys kept: "cc" (country of an
 *  asn/region entity), "n" (measurements in the bin), "techniques" {name: count}. */
typedef struct kp_signal_point {
  char entity_type[KP_DET_ETYPE_MAX];
  char entity_code[KP_DET_CODE_MAX];
  char datasource[KP_DET_DS_MAX];
  char cc[3];
  int64_t t, step;
  bool has_value; /* false: "value": null */
  double value;
  int64_t n;
  size_t ntech;
  struct { char name[KP_DET_TECH_MAX]; int64_t count; } tech[8];
} kp_signal_point_t;

/** Parse one JSONL line as a signal point. KP_ERR_INVAL when it is not one. */
kp_status_t kp_signal_parse(const void *p, size_t n, kp_signal_point_t *out);

/** What detect needs from one OONI-format measurement. */
typedef struct kp_msm {
  char test_name[32];
  char cc[3];
  char asn[16];                 /* "AS9198" */
  char domain[KP_DET_CODE_MAX]; /* web_connectivity input host, else "" */
  char uid[KP_DET_UID_MAX];     /* measurement_uid, else report_id */
  char sha256[65];              /* of the raw line: the evidence hash */
  char technique[KP_DET_TECH_MAX]; /* keepon_technique/technique/blocking type, "" */
  int64_t t;                    /* measurement_start_time */
  bool failed;                  /* the service/site is blocked or unreachable */
  /* The probe's access: test_keys.keepon_access_type ("mobile" / "fixed"), else OONI's
   * annotations.network_type "mobile"; "" unknown (OONI's "wifi" says nothing: a hotspot is
   * Wi-Fi too). Filled also when kp_msm_parse returns KP_ERR_NOTFOUND. */
  char access[8];
  bool net_down;                /* keepon_technique network_down: no verdict, but the access was down */
} kp_msm_t;

/** Parse one JSONL line as a measurement. KP_ERR_INVAL when it is not one. */
kp_status_t kp_msm_parse(const void *p, size_t n, kp_msm_t *out);

/* ---------------------------------------------------------------- series */

typedef struct kp_tech_count { size_t bin; char name[KP_DET_TECH_MAX]; int64_t count; } kp_tech_count_t;
typedef struct kp_evidence { size_t bin; char uid[KP_DET_UID_MAX]; char sha256[65]; } kp_evidence_t;

/** A dense series. Read-only outside detect. v[i] is the value of bin t0 + i*step. */
typedef struct kp_series {
  char entity_type[KP_DET_ETYPE_MAX];
  char entity_code[KP_DET_CODE_MAX];
  char datasource[KP_DET_DS_MAX];
  char cc[3]; /* the entity's country ("" unknown) */
  int64_t t0, step;
  size_t n;
  double *v;  /* NaN = no data */
  int64_t *cnt; /* probe series: measurements per bin, else NULL */
  kp_tech_count_t *tech; size_t ntech; /* sorted by bin */
  kp_evidence_t *ev; size_t nev;       /* sorted by bin, capped per series */
} kp_series_t;

typedef struct kp_sigset kp_sigset_t;

typedef struct kp_read_stats {
  size_t lines, signals, measurements, bad;
  size_t first_bad[8]; size_t nfirst_bad; /* 1-based line numbers of the first bad lines */
} kp_read_stats_t;

/** @param probe_step bin length for measurements converted to probe-* points (0 = 3600). */
kp_status_t kp_sigset_new(int64_t probe_step, kp_sigset_t **out);
void kp_sigset_free(kp_sigset_t *s);
/** Country given at finalize to series that have none (an asn from watch/bgp output carries no
 *  country; a deployment watching one country names it). NULL = leave them unknown ("ZZ"). */
void kp_sigset_set_default_cc(kp_sigset_t *s, const char *cc);
kp_status_t kp_sigset_add_point(kp_sigset_t *s, const kp_signal_point_t *pt);
kp_status_t kp_sigset_add_msm(kp_sigset_t *s, const kp_msm_t *m);
/** The access split's datasource: entity "access" CC/mobile|fixed, network-down share (‰). */
#define KP_ACCESS_DS "access-down"
/** A measurement kp_msm_parse gave no verdict (KP_ERR_NOTFOUND): when its network was down and
 *  its access type is known, counted in the access split (no-op otherwise). */
kp_status_t kp_sigset_add_netdown(kp_sigset_t *s, const kp_msm_t *m);
/**
 * Feed JSONL text: each line is a signal point or a measurement (told apart by
 * "type":"signal" / "test_name"). Bad lines are skipped and counted in @p st.
 * A trailing line without '\n' is parsed too. Pure apart from memory.
 */
kp_status_t kp_sigset_add_jsonl(kp_sigset_t *s, const void *p, size_t n, kp_read_stats_t *st);
/** Build the dense series (idempotent; call again after more adds). */
kp_status_t kp_sigset_finalize(kp_sigset_t *s);
size_t kp_sigset_count(const kp_sigset_t *s);
const kp_series_t *kp_sigset_at(const kp_sigset_t *s, size_t i);
const kp_series_t *kp_sigset_find(const kp_sigset_t *s, const char *etype, const char *code, const char *ds);
/** Country of an asn/region code learnt from inputs, or NULL. */
const char *kp_sigset_cc_of(const kp_sigset_t *s, const char *etype, const char *code);
/** The converted probe-* series (and the access split's access-down) as signal-point JSONL. */
kp_status_t kp_sigset_write_probe_points(const kp_sigset_t *s, kp_buf_t *out);
/** IODA-shaped signals/raw JSON for one entity over [from, until) (datasource NULL = all). */
kp_status_t kp_sigset_signals_raw(const kp_sigset_t *s, const char *etype, const char *code,
                                  const char *ds, int64_t from, int64_t until, kp_buf_t *out);

/**
 * Add the series of an IODA-shaped signals/raw response (`keepon serve`'s
 * GET /api/v1/signals/raw/...) to @p s. Pure apart from memory. @p cc (may be
 * NULL) is the country given to every series (asn entities carry none).
 * @param points values added; @param bad series skipped as malformed
 */
kp_status_t kp_signals_raw_parse(const void *p, size_t n, const char *cc, kp_sigset_t *s, size_t *points,
                                 size_t *bad);
/** GET {base}/api/v1/signals/raw/{etype}/{code}?from&until through @p http into @p s. */
kp_status_t kp_signals_fetch(struct kp_httpc *http, const char *base, const char *etype, const char *code, int64_t from, int64_t until,
                             const char *cc, int timeout_ms, kp_sigset_t *s, size_t *points);

/* ---------------------------------------------------------------- detectors */

typedef enum kp_level { KP_LVL_NORMAL = 0, KP_LVL_WARNING, KP_LVL_CRITICAL } kp_level_t;
const char *kp_level_name(kp_level_t l);

typedef struct kp_window { int64_t start, end; } kp_window_t;

typedef struct kp_event {
  const kp_series_t *series; /* borrowed; NULL when run on a bare array */
  const char *detector;      /* static: "ioda", "cusum", "curfew" */
  int64_t start, end;
  kp_level_t level;
  double score;   /* Σ drop% × minutes over the event's bins */
  double max_drop;/* largest drop% */
  double value, history; /* at the deepest bin */
  kp_window_t *win; size_t nwin; /* curfew: the down windows (owned) */
  kp_window_t *up; size_t nup;   /* curfew: the restoration windows between them (owned) */
  bool daily_fixed;              /* curfew: windows start at the same time of day (±tolerance) */
} kp_event_t;

typedef struct kp_event_list { kp_event_t *v; size_t n, cap; } kp_event_list_t;
void kp_events_free(kp_event_list_t *l);

/** A span in seconds, or in bins of the series it applies to. */
typedef struct kp_span { int64_t v; bool bins; } kp_span_t;
int64_t kp_span_bins(kp_span_t s, int64_t step);
/** Parse "90s", "15m", "24h", "7d" or "288b" (bins). @return 0 ok */
int kp_span_parse(const char *s, kp_span_t *out);

/** IODA's median rule as watchtower-sentry implements it (see ioda.c). */
typedef struct kp_ioda_params {
  double warning, critical;  /* alert when value < ratio × prediction */
  kp_span_t history;         /* sliding window of the nearest-rank median */
  kp_span_t warmup;          /* no verdict until this much history exists */
  kp_span_t maxduration;     /* continuous inpainting longer than this: accept the new level */
  kp_span_t minduration;     /* a non-normal level must last this long to open an event */
  double minprediction;      /* skip bins whose prediction is below this */
  double inpaint_lo, inpaint_hi; /* ratio outside [lo, hi] => history gets the prediction */
} kp_ioda_params_t;

/** One-sided CUSUM change points on a failure rate in [0,1] (OONI-detector style). */
typedef struct kp_cusum_params {
  double k;        /* slack per bin */
  double h;        /* decision threshold */
  double baseline; /* expected failure rate when nothing is blocked */
  double min_count;/* bins with fewer measurements are skipped (probe series) */
} kp_cusum_params_t;

/** Recurring daily windows ("curfews") inside a run of outages. */
typedef struct kp_curfew_params {
  size_t min_windows;   /* down windows needed (default 3) */
  int64_t max_up_s;     /* an up gap longer than this ends the cluster (default 20 h) */
  int64_t min_up_s;     /* shorter up gaps are noise and are bridged (default 30 min) */
  int64_t max_cycle_s;  /* consecutive down starts at most this far apart (default 36 h) */
  int64_t tod_tol_s;    /* "fixed daily schedule" tolerance on start time of day (default 1 h) */
} kp_curfew_params_t;

typedef struct kp_detect_cfg {
  kp_ioda_params_t bgp, active, other; /* bgp*, ping-slash24, anything else */
  kp_cusum_params_t cusum;
  kp_curfew_params_t curfew;
  int64_t merge_gap_s; /* events closer than this merge into one incident */
} kp_detect_cfg_t;

/** Defaults: BGP 0.99/0.5 over 24 h; active 0.8/0.5 over 7 d; warmup 1 h; see docs/detect.md. */
void kp_detect_cfg_default(kp_detect_cfg_t *c);
/** Apply "key=value,key=value" settings (docs/detect.md lists the keys); all or nothing. */
kp_status_t kp_detect_cfg_tune(kp_detect_cfg_t *c, const char *spec, char *err, size_t errcap);
/** Read a whole JSONL file ("-" = stdin) into @p s (kp_sigset_add_jsonl). */
kp_status_t kp_detect_load_file(kp_sigset_t *s, const char *path, kp_read_stats_t *st);

typedef struct kp_detector {
  const char *name;
  bool (*applies)(const kp_series_t *s);
  kp_status_t (*run)(const kp_detect_cfg_t *cfg, const kp_series_t *s, kp_event_list_t *out);
} kp_detector_t;

extern const kp_detector_t kp_detector_ioda;
extern const kp_detector_t kp_detector_cusum;
extern const kp_detector_t kp_detector_curfew;
/** NULL-terminated list of all detectors, in run order. */
extern const kp_detector_t *const kp_detectors[];

/* Array-level entry points (unit tests, bench). Events get series = NULL. */
kp_status_t kp_ioda_run(const kp_ioda_params_t *p, const double *v, size_t n, int64_t t0,
                        int64_t step, kp_event_list_t *out);
/** Per-bin verdict of the IODA rule: -1 no verdict, else kp_level_t. */
kp_status_t kp_ioda_levels(const kp_ioda_params_t *p, const double *v, size_t n, int64_t step,
                           int8_t *lvl, double *pred);
/** @param cnt measurements per bin (NULL = all bins count) */
kp_status_t kp_cusum_run(const kp_cusum_params_t *p, const double *rate, const int64_t *cnt,
                         size_t n, int64_t t0, int64_t step, kp_event_list_t *out);
/** @param down per bin: 1 down, 0 up, -1 unknown (bridged) */
kp_status_t kp_curfew_find(const kp_curfew_params_t *p, const int8_t *down, size_t n, int64_t t0,
                           int64_t step, kp_event_list_t *out);

/** Sliding nearest-rank median (O(log w) per push). */
typedef struct kp_median kp_median_t;
kp_status_t kp_median_new(size_t window, kp_median_t **out);
void kp_median_free(kp_median_t *m);
void kp_median_push(kp_median_t *m, double x); /* evicts the oldest when full */
size_t kp_median_count(const kp_median_t *m);
double kp_median_get(const kp_median_t *m);    /* NaN when empty */
void kp_median_clear(kp_median_t *m);

/** Run every applicable detector over every series of @p s. */
kp_status_t kp_detect_run(const kp_detect_cfg_t *cfg, const kp_sigset_t *s, kp_event_list_t *out);

/* ---------------------------------------------------------------- incidents */

typedef enum kp_inc_type {
  KP_INC_FULL = 0, KP_INC_REGIONAL, KP_INC_NETWORK, KP_INC_SERVICE, KP_INC_THROTTLING, KP_INC_PARTIAL
} kp_inc_type_t;

/** A national network incident is a full shutdown when at least this share of the
 *  country's baseline blocks (ping-slash24 up /24s; else bgp-visible prefixes) went down at
 *  its deepest bin, else a partial shutdown (IODA: a third of the blocks still up is partial). */
#define KP_INC_FULL_SHARE 0.90
const char *kp_inc_type_name(kp_inc_type_t t);

typedef struct kp_inc_evidence {
  const char *kind;  /* "measurement" or "signal" */
  const char *ref;   /* measurement uid, or signals/raw query */
  const char *hash;  /* sha256 of the measurement line, or "" */
} kp_inc_evidence_t;

/** One incident. Read-only; all pointers live in the incident set's arena. */
typedef struct kp_incident {
  char id[48];
  char cc[3];
  kp_inc_type_t type;
  kp_level_t level;
  int64_t start, end;
  bool ongoing;       /* ends at the end of the data (IODA overlaps_window) */
  double score;       /* IODA overall: product over datasources of each one's largest score */
  double confidence;  /* 0..1, grows with agreeing datasources */
  bool curfew; bool daily_fixed;
  /* network: share (0..1) of the country's baseline blocks down at the deepest bin of its
   * ping-slash24 event (bgp when there is none); -1 = no country-level level signal */
  double down_share;
  /* service: failed measurements inside a national network incident of the same country,
   * left out of techniques (unreachable during the shutdown, not a technique) */
  int64_t unreachable; const char *unreachable_in; /* that network incident's id */
  const char **sources; size_t nsources;   /* datasources with events */
  const char **regions; size_t nregions;
  const char **asns; size_t nasns;
  const char **services; size_t nservices; /* "whatsapp", "telegram", ..., domains */
  struct { const char *name; int64_t count; } *techniques; size_t ntechniques;
  /* the same split by service (probe-<service> series): which app was blocked how */
  struct { const char *service, *name; int64_t count; } *service_techniques; size_t nservice_techniques;
  kp_window_t *windows; size_t nwindows;   /* down windows */
  const char **findings; size_t nfindings;
  kp_inc_evidence_t *evidence; size_t nevidence;
  const kp_event_t **events; size_t nevents; /* borrowed from the event list */
  /* mobile and fixed apart (access.c): KP_ACCESS_BIT_* of the access types hit, and of those
   * with any measurement inside the incident; both 0 = the split is not known */
  unsigned access_affected, access_measured;
} kp_incident_t;

typedef struct kp_incset kp_incset_t;

/* ---------------------------------------------------------------- mobile and fixed (access.c) */
#define KP_ACCESS_BIT_MOBILE 1u
#define KP_ACCESS_BIT_FIXED 2u
#define KP_ACCESS_MAX_PERIODS 32
/** One access type of one country: when its network was down (the access-down series). */
typedef struct kp_access_summary {
  char cc[3], access[8];       /* "mobile" / "fixed" */
  int64_t first_down;          /* start of the first down bin, -1 never down */
  int64_t measurements, down_measurements;
  kp_window_t periods[KP_ACCESS_MAX_PERIODS]; size_t nperiods; /* the first KP_ACCESS_MAX_PERIODS */
} kp_access_summary_t;
/** Mobile then fixed, those of @p cc with measurements; returns how many were written (<= cap). */
size_t kp_access_summaries(const kp_sigset_t *s, const char *cc, kp_access_summary_t *out, size_t cap);
/** Which access types @p inc affects and which were measured inside it (KP_ACCESS_BIT_*). */
void kp_access_label(const kp_sigset_t *s, const kp_incident_t *inc, unsigned *affected, unsigned *measured);
/** "mobile_only", "fixed_only", "both", "mobile" / "fixed" (the other not measured), NULL unknown. */
const char *kp_access_label_name(unsigned affected, unsigned measured);

/** Merge events into incidents. @p s supplies series coverage (BGP-visible finding) and
 *  evidence; @p data_end is the end of the data (events ending there are "ongoing"). */
kp_status_t kp_incidents_merge(const kp_detect_cfg_t *cfg, const kp_sigset_t *s,
                               const kp_event_list_t *ev, kp_incset_t **out);
void kp_incset_free(kp_incset_t *is);
size_t kp_incset_count(const kp_incset_t *is);
const kp_incident_t *kp_incset_at(const kp_incset_t *is, size_t i);
/** Incidents as JSON (an array; docs/detect.md). */
kp_status_t kp_incidents_json(const kp_incset_t *is, kp_buf_t *out);
void kp_incident_json(const kp_incident_t *inc, void *jw /* kp_jw_t* */);

/* ---------------------------------------------------------------- alerts */

/** Alert kinds sent to the webhook. */
typedef enum kp_alert_kind { KP_ALERT_OPEN = 0, KP_ALERT_LEVEL, KP_ALERT_CLOSE } kp_alert_kind_t;

/** What the alerter remembers between runs: id, level and whether it was ongoing. */
typedef struct kp_alert_state kp_alert_state_t;
kp_status_t kp_alert_state_new(kp_alert_state_t **out);
void kp_alert_state_free(kp_alert_state_t *st);
/**
 * Compare @p now with the remembered state; append one JSON alert per change
 * (open / level / close) to @p out as JSONL and update the state.
 * An incident that disappears (merged away) is closed. Early-warning alerts ride the same
 * stream: "risk" when kp_risk_assess finds a new shutdown-risk episode, "risk-followed" when
 * a national outage then follows it (alerts.c's state table).
 * @param count number of alerts appended
 */
kp_status_t kp_alerts_diff(kp_alert_state_t *st, const kp_incset_t *now, kp_buf_t *out,
                           size_t *count);

/**
 * POST @p body (application/json) to @p url (http:// or https://, by name) through @p http,
 * the control-plane client. Blocking, at most @p timeout_ms (0 = the client's).
 * KP_OK on 2xx, KP_ERR_PERM on any other status (*http_code says which), transport errors
 * as kp_httpc_do.
 */
kp_status_t kp_webhook_post(struct kp_httpc *http, const char *url, const void *body, size_t n, int timeout_ms,
                            int *http_code);

/* ---------------------------------------------------------------- early warning (risk.c) */

/** A precursor of a shutdown (bit flags). */
typedef enum kp_precursor { KP_PRE_APPS = 1u << 0, KP_PRE_THROTTLING = 1u << 1, KP_PRE_DNS = 1u << 2 } kp_precursor_t;
/** "messaging apps blocked", "throttling", "new DNS tampering". */
const char *kp_precursor_name(kp_precursor_t p);

typedef struct kp_risk_params {
  int64_t lookback_s; /* "no outage yet" and "new DNS tampering" look this far back (default 7 d) */
  int64_t gap_s;      /* precursors this close join one alert (default 24 h) */
} kp_risk_params_t;
void kp_risk_params_default(kp_risk_params_t *p);

/** One "shutdown risk" alert: precursors in a country with no national outage yet. */
typedef struct kp_risk {
  char cc[3];
  int64_t start, end;    /* first precursor's start .. last precursor's end, cut at the outage */
  unsigned precursors;   /* KP_PRE_* that fired */
  kp_precursor_t first;  /* the one that fired first */
  char services[192];    /* the messaging apps blocked, ", "-separated */
  char incidents[256];   /* the precursor incidents' ids */
  char outage[48];       /* the national outage that followed while the risk stood, "" = none */
  int64_t lead_s;        /* outage start - risk start (when one followed) */
} kp_risk_t;
typedef struct kp_risk_list { kp_risk_t *v; size_t n; } kp_risk_list_t;

/** Risk alerts of @p is (risk.c explains the rule). Pure. */
kp_status_t kp_risk_assess(const kp_risk_params_t *p, const kp_incset_t *is, kp_risk_list_t *out);
void kp_risks_free(kp_risk_list_t *l);
/** One alert as a JSON object: level "shutdown risk", cc, start_ts, end_ts, precursors, first, ... */
void kp_risk_json(const kp_risk_t *r, void *jw /* kp_jw_t* */);

#endif
