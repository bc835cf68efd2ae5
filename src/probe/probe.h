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
/** The compiled-in defaults (data/targets/im.json at build time). */
const char *kp_targets_default_json(size_t *len);
const kp_app_targets_t *kp_targets_app(const kp_targets_t *t, const char *name);

/* ------------------------------------------------------------------- tests */
struct kp_im_app_result;

/** One IM test: a row of the const table (kp_im_tests). */
typedef struct kp_im_test {
  const char *name;        /* OONI test_name and the app key in target files */
  const char *version;     /* test_version */
  /** Write OONI's own result keys (OONI's semantics) into the open test_keys object. */
  void (*write_keys)(const struct kp_im_app_result *r, kp_jw_t *w);
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
} kp_probe_cfg_t;

/** One flow's outcome (what the OONI key functions read). */
typedef struct kp_flow_result {
  const kp_target_t *target;
  const char *failure;     /* df-007, NULL = success */
  const char *failed_operation; /* resolve, connect, tls_handshake, http_round_trip, NULL */
  int http_status;
  bool connect_ok;
  bool dns_consistent;     /* resolved, and every answer inside the app's networks */
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

#endif
