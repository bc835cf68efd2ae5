/*
 * probe.h: the IM probe (`keepon probe im`): target files, the four OONI IM
 * tests as one const table, the suite runner and the df-000 measurement
 * writer. The envelope (writer, reader, report id) is src/msmt.
 *
 * Flow of a run: kp_targets_parse (file or the compiled-in defaults) ->
 * kp_probe_im_run (every flow of every selected app, plus the control, on a
 * bounded worker pool under one deadline) -> per app: OONI keys (the test's
 * table entry), keepon keys (analysis/) -> kp_probe_write_measurement.
 */
#ifndef KP_PROBE_PROBE_H
#define KP_PROBE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/analysis.h"
#include "base/addr.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/status.h"
#include "net/net.h"

/* ---------------------------------------------------------------- targets */
#define KP_PROBE_MAX_APPS 8
#define KP_PROBE_MAX_TARGETS 96
#define KP_PROBE_MAX_NETS 32
#define KP_PROBE_MAX_PATTERNS 8

typedef enum kp_scheme { KP_SCHEME_TCP = 0, KP_SCHEME_TLS, KP_SCHEME_HTTP, KP_SCHEME_HTTPS, KP_SCHEME_DNS } kp_scheme_t;

typedef struct kp_target { /* one flow; transparent, read-only after parsing */
  char url[512];           /* as written, with the port for expanded tcpconnect entries */
  kp_scheme_t scheme;
  char host[256];          /* name or IP literal */
  bool host_is_ip;
  kp_addr_t ip;            /* when host_is_ip */
  uint16_t port;
  char path[256];
  char method[8];          /* GET / POST */
  char role[32];           /* test-specific: endpoint, registration, web, dc, backend, service, ... */
  char svc[32];            /* facebook_messenger service key (b_api, ...) */
  double min_kbps;         /* role "download" */
  size_t max_bytes;        /* role "download": bytes to read */
} kp_target_t;

typedef struct kp_app_targets {
  char name[32];
  size_t ntargets;
  kp_target_t t[KP_PROBE_MAX_TARGETS];
  size_t nnets;
  kp_prefix_t nets[KP_PROBE_MAX_NETS];
} kp_app_targets_t;

typedef struct kp_targets { /* heap-allocate: it is large */
  size_t napps;
  kp_app_targets_t app[KP_PROBE_MAX_APPS];
  kp_app_targets_t control; /* one target: the control site */
  size_t npatterns;
  char patterns[KP_PROBE_MAX_PATTERNS][128]; /* blockpage body substrings */
} kp_targets_t;

/**
 * Parse a target file (JSON, docs/probe.md). Pure. @p err (cap bytes)
 * receives a human-readable reason on failure.
 */
kp_status_t kp_targets_parse(const void *json, size_t n, kp_targets_t *out, char *err, size_t cap);
/** Split @p url (tcpconnect://, tls://, http://, https://, dnslookup://) into @p t (url, scheme, host, port, path). */
kp_status_t kp_target_url_parse(const char *url, kp_target_t *t);
/** The compiled-in defaults (data/targets/im.json at build time). */
const char *kp_targets_default_json(size_t *len);
const kp_app_targets_t *kp_targets_app(const kp_targets_t *t, const char *name);
/** Signal's two public roots (data/roots/signal.pem, compiled in), PEM text. */
const char *kp_probe_signal_roots_pem(void);

/* ------------------------------------------------------------------- tests */
struct kp_im_app_result;

/** One IM test: a row of the const table (kp_im_tests). */
typedef struct kp_im_test {
  const char *name;        /* OONI test_name and the app key in target files */
  const char *version;     /* test_version */
  /** Write OONI's own result keys (OONI's semantics) into the open test_keys object. */
  void (*write_keys)(const struct kp_im_app_result *r, kp_jw_t *w);
  /** DNS consistency by ASN (OONI's fbmessenger: every answer in AS32934); 0 = none. */
  uint32_t dns_asn;
  /** PEM roots trusted for this app's flows in addition to the store (NULL: none). */
  const char *(*extra_roots)(void);
} kp_im_test_t;

extern const kp_im_test_t kp_im_tests[];
extern const size_t kp_im_ntests;
const kp_im_test_t *kp_im_test_find(const char *name);

/* -------------------------------------------------------------------- run */
typedef struct kp_probe_cfg {
  const char *resolver;    /* "ip" or "ip:port" / "[v6]:port"; validated by kp_probe_cfg_check */
  const char *ca_file;     /* NULL = system store */
  double timeout;          /* whole-suite budget, seconds */
  size_t parallel;         /* worker bound (0 = 32) */
  const char *probe_cc;    /* "ZZ" when unknown */
  const char *probe_asn;   /* "AS0" when unknown */
  const char *probe_network_name;
  const char *probe_ip;    /* NULL -> "127.0.0.1" (the default: privacy) */
  const char *software_version;
  const struct kp_geo *geo; /* maps DNS answers to ASNs (OONI's DNS consistency); NULL = no database */
  const char *resolver_seen; /* resolver_ip from the whoami lookup; NULL/"" -> the configured one */
  const char *resolver_asn;  /* NULL -> "AS0" */
  const char *access_type;   /* test_keys.keepon_access_type: "mobile" / "fixed", NULL = unknown (not written) */
} kp_probe_cfg_t;

/** One flow's outcome (what the OONI key functions read). */
typedef struct kp_flow_result {
  const kp_target_t *target;
  const char *failure;     /* df-007, NULL = success */
  const char *failed_operation; /* resolve, connect, tls_handshake, http_round_trip, NULL */
  int http_status;
  bool connect_ok;
  bool dns_consistent;     /* resolved, and every answer inside the app's networks */
  int asn_consistent;      /* test's dns_asn: 1 every answer in it, 0 some not, -1 not checked (no database) */
  kp_an_flow_t facts;
} kp_flow_result_t;

typedef struct kp_im_app_result {
  const kp_im_test_t *test;
  const kp_app_targets_t *app;
  size_t nflows;
  kp_flow_result_t flow[KP_PROBE_MAX_TARGETS];
  kp_tech_t outcome[KP_PROBE_MAX_TARGETS];
  kp_an_result_t verdict;
  kp_trace_t *trace;       /* owned */
  int64_t start_wall_ns;
  double runtime;
} kp_im_app_result_t;

typedef struct kp_im_run {
  size_t napps;
  kp_im_app_result_t *app[KP_PROBE_MAX_APPS];
  kp_an_control_t control;
  char resolver_ip[KP_ADDR_STRLEN];
} kp_im_run_t;

/** Validate the configuration (resolver address, CA file readable). @p err gets the reason. */
kp_status_t kp_probe_cfg_check(const kp_probe_cfg_t *cfg, char *err, size_t cap);
/**
 * Run the tests named in @p apps (NULL-terminated list of test names) on
 * the targets. Measurement failures are data; only setup errors are statuses.
 */
kp_status_t kp_probe_im_run(const kp_probe_cfg_t *cfg, const kp_targets_t *targets, const char *const *apps,
                            const kp_clock_t *clk, kp_im_run_t *out);
void kp_probe_im_run_free(kp_im_run_t *r);

/** Append one measurement (compact JSON, no newline) for @p r to @p out. */
kp_status_t kp_probe_write_measurement(const kp_probe_cfg_t *cfg, const kp_im_run_t *run, const kp_im_app_result_t *r,
                                       kp_buf_t *out);

/* ----------------------------------------------------------------- analyze */
/*
 * `keepon analyze`: keepon's verdict for OONI measurements from any probe
 * (analyze.c). Each measurement's event lists are reduced back to flows
 * (one per request, per unclaimed TCP connect, per DNS-only name), given
 * roles by the test's rules, and run through the same decision table the
 * probe uses; the measurement is written back unchanged with keepon's keys
 * added to test_keys.
 */
typedef struct kp_analysis {
  char test_name[64];
  kp_an_result_t verdict;
  size_t nflows;
  int ooni_anomaly;        /* OONI's own status keys for the test: 1 anomaly, 0 none, -1 test unknown */
} kp_analysis_t;

/**
 * Analyze one measurement (JSON object, or a collector upload body) and
 * append it, with keepon_verdict / keepon_technique / keepon_evidence /
 * keepon_endpoints ... in test_keys, to @p out (compact, no newline).
 * @p tg gives each app's expected networks and blockpage patterns (NULL: the defaults).
 * @return KP_ERR_INVAL for a line that is not a measurement (reason in err)
 */
kp_status_t kp_analyze_one(const void *json, size_t n, const kp_targets_t *tg, kp_buf_t *out, kp_analysis_t *res,
                           char *err, size_t cap);

typedef struct kp_analyze_stats {
  size_t measurements;     /* analyzed and written */
  size_t bad;              /* skipped: not JSON, or not a measurement */
  size_t first_bad_line;   /* 1-based; 0 = none */
  char first_bad[160];     /* its reason */
} kp_analyze_stats_t;

/**
 * Analyze a file's bytes: one JSON measurement (pretty-printed or not), a
 * JSON array of them, or JSONL. Writes one analyzed measurement per line to
 * @p out; bad lines are counted in @p st and skipped.
 */
kp_status_t kp_analyze_text(const void *p, size_t n, const kp_targets_t *tg, kp_buf_t *out, kp_analyze_stats_t *st);

#endif
