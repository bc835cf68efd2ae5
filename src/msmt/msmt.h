/*
 * msmt.h: the OONI measurement envelope (df-000), owned here and only here.
 *
 *   writer   kp_msmt_write_head/_tail: the top-level keys around test_keys, with
 *            the privacy defaults applied in ONE place (kp_msmt_env_t below).
 *   report   kp_msmt_report_id (mint), kp_msmt_report_id_valid/_parse (read),
 *            the backend's rules for probe_cc / probe_asn / test_name.
 *   reader   kp_msmt_meta: the envelope keys of any JSON object, lenient (each
 *            key type-checked, NULL when absent) -- the collector, fastpath and
 *            detect use it; kp_msmt_parse: strict, typed view + event lists.
 *
 * Privacy (probe users may be in danger): probe_ip is "127.0.0.1" unless the
 * caller passes one explicitly (--with-probe-ip); probe_cc/probe_asn default to
 * "ZZ"/"AS0" (which OONI's backend accepts and drops); no host names are written
 * (annotations carry engine name/version and "linux", never a hostname).
 *
 * Reader:
 * kp_msmt_parse() is a pure function of the bytes: it parses the JSON
 * (bounded, kp_json_parse), checks the fields OONI's backend requires and
 * gives a typed view. Unknown keys are kept in the DOM (kp_msmt_root) and
 * never rejected; event lists that are absent read as empty.
 *
 * Required (KP_ERR_INVAL with the reason in err otherwise): report_id in one
 * of OONI's two shapes (YYYYMMDDThhmmssZ_<test>_<CC>_<ASN>_n1_<16 alnum>, or
 * the legacy YYYYMMDDThhmmssZ_AS<asn>_<50 alnum>), probe_cc (2 upper-case
 * letters), probe_asn ("AS<digits>"), test_name (snake_case), test_version,
 * measurement_start_time and test_start_time ("YYYY-MM-DD hh:mm:ss"),
 * data_format_version, software_name, software_version, test_keys (object).
 */
#ifndef KP_MSMT_MSMT_H
#define KP_MSMT_MSMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/json.h"
#include "base/status.h"

typedef struct kp_msmt kp_msmt_t;

typedef struct kp_msmt_view { /* borrowed strings: live as long as the measurement */
  const char *report_id;
  const char *probe_cc;
  const char *probe_asn;
  uint32_t asn;              /* probe_asn as a number */
  const char *probe_ip;      /* may be NULL */
  const char *probe_network_name;
  const char *resolver_ip;
  const char *test_name;
  const char *test_version;
  const char *software_name;
  const char *software_version;
  const char *data_format_version;
  const char *input;         /* NULL when null/absent */
  time_t measurement_start;  /* UTC */
  time_t test_start;
  double test_runtime;       /* -1 when absent */
  const kp_json_t *test_keys;
  const kp_json_t *annotations;
  size_t nqueries, ntcp_connect, ntls_handshakes, nrequests, nnetwork_events;
} kp_msmt_view_t;

/** One tcp_connect entry. */
typedef struct kp_msmt_tcp {
  const char *ip;
  int port;
  bool success;
  const char *failure;       /* NULL when null */
  double t;
} kp_msmt_tcp_t;

/** One queries entry (first 16 answers). */
typedef struct kp_msmt_query {
  const char *hostname;
  const char *engine;
  const char *query_type;
  const char *failure;
  size_t nanswers;
  const char *answer[16];    /* ipv4 / ipv6 / hostname of each answer */
  double t;
} kp_msmt_query_t;

/** One requests entry. */
typedef struct kp_msmt_request {
  const char *url;
  const char *method;
  const char *failure;
  int status;                /* response.code, 0 when absent */
  const kp_json_t *body;     /* response.body: string, {format,data} or null */
} kp_msmt_request_t;

/** One tls_handshakes entry. */
typedef struct kp_msmt_tls {
  const char *address;
  const char *server_name;
  const char *failure;
  size_t ncerts;
} kp_msmt_tls_t;

/**
 * Parse and validate one measurement (a JSON object, or the collector's
 * upload body {"format":"json","content":{...}}).
 * @param err  reason on KP_ERR_INVAL (may be NULL)
 */
kp_status_t kp_msmt_parse(const void *p, size_t n, kp_msmt_t **out, char *err, size_t cap);
void kp_msmt_free(kp_msmt_t *m);
const kp_msmt_view_t *kp_msmt_view(const kp_msmt_t *m);
/** The whole parsed envelope (for keys the view does not cover). */
const kp_json_t *kp_msmt_root(const kp_msmt_t *m);
/** A test_keys member (NULL when absent). */
const kp_json_t *kp_msmt_key(const kp_msmt_t *m, const char *key);

kp_status_t kp_msmt_tcp(const kp_msmt_t *m, size_t i, kp_msmt_tcp_t *out);
kp_status_t kp_msmt_query(const kp_msmt_t *m, size_t i, kp_msmt_query_t *out);
kp_status_t kp_msmt_request(const kp_msmt_t *m, size_t i, kp_msmt_request_t *out);
kp_status_t kp_msmt_tls(const kp_msmt_t *m, size_t i, kp_msmt_tls_t *out);

/** True for either of OONI's report id shapes. */
bool kp_msmt_report_id_valid(const char *s);

/* ---- report id and the backend's field rules (ooni/backend reports.py, probe_services) ---- */

/** The parts of a new-shape report id (test name without '_', CC, "AS<n>"). */
typedef struct kp_msmt_rid {
  char tn[32], cc[3], asn[16];
} kp_msmt_rid_t;

/** Mint YYYYMMDDThhmmssZ_<test sans '_'>_<CC>_<ASN digits>_n1_<16 random letters> into out[cap]. */
kp_status_t kp_msmt_report_id(int64_t wall_ns, const char *test, const char *cc, const char *asn, char *out,
                              size_t cap);
/** Split a collector-style id (six '_' parts, random tail 1..64 of [A-Za-z0-9+/=-]); false if not one. */
bool kp_msmt_report_id_parse(const char *s, size_t n, kp_msmt_rid_t *out);
/** probe_cc: two upper-case letters or digits. */
bool kp_msmt_valid_cc(const char *s);
/** probe_asn: "AS<n>", no leading zero, 3..12 characters. */
bool kp_msmt_valid_asn(const char *s);
/** test_name: [a-z0-9_], 2..30 characters. */
bool kp_msmt_valid_test_name(const char *s);
/** OONI's backend accepts and drops these (probe_cc "ZZ" or probe_asn "AS0"; NULL counts as unknown). */
bool kp_msmt_unattributed(const char *cc, const char *asn);
/** test_name without underscores, as in report ids (facebook_messenger -> facebookmessenger). */
void kp_msmt_squash(const char *tn, char *out, size_t cap);

/* ---- envelope writer ---- */

/** What a test knows about itself and the probe; NULL members take the privacy defaults. */
typedef struct kp_msmt_env {
  const char *test_name, *test_version;
  const char *input;            /* NULL -> null */
  const char *probe_cc;         /* NULL -> "ZZ" */
  const char *probe_asn;        /* NULL -> "AS0" */
  const char *probe_network_name; /* NULL -> "" */
  const char *probe_ip;         /* NULL -> "127.0.0.1" (only --with-probe-ip sets it) */
  const char *resolver_ip;      /* NULL -> "" */
  const char *resolver_asn;     /* NULL -> "AS0" */
  bool ext_tunnel;              /* urlgetter-based tests also declare extensions.tunnel */
  const char *software_version; /* NULL -> "0" */
  const char *report_id;        /* NULL -> minted from test/cc/asn/start */
  int64_t start_wall_ns;        /* measurement_start_time and test_start_time */
} kp_msmt_env_t;

/** The privacy default for probe_ip: the explicit value or "127.0.0.1". */
const char *kp_msmt_probe_ip(const char *explicit_ip);

/**
 * Open the measurement object and write the envelope keys that precede test_keys
 * (annotations .. software_version); the caller then writes "test_keys" (and any
 * extra such as test_helpers) and calls kp_msmt_write_tail, which writes
 * test_name, test_runtime (if >= 0), test_start_time, test_version and closes it.
 */
kp_status_t kp_msmt_write_head(kp_jw_t *w, const kp_msmt_env_t *e);
void kp_msmt_write_tail(kp_jw_t *w, const kp_msmt_env_t *e, double runtime);

/* ---- lenient envelope reader ---- */

/** Envelope keys of one object (borrowed, NULL when absent or not a string). */
typedef struct kp_msmt_meta {
  const char *report_id, *probe_cc, *probe_asn, *test_name, *input, *measurement_start_time;
  const char *measurement_uid;
  const char *network_type;     /* annotations.network_type (OONI Probe mobile: "mobile" / "wifi") */
  const kp_json_t *test_keys;   /* NULL unless an object */
  time_t start;                 /* measurement_start_time, -1 when absent/invalid */
} kp_msmt_meta_t;

/** The measurement inside a collector body {"format":..,"content":{..}}, else @p root itself. */
const kp_json_t *kp_msmt_unwrap(const kp_json_t *root);
/** Fill @p out from @p m (an object); false when @p m is not an object. */
bool kp_msmt_meta(const kp_json_t *m, kp_msmt_meta_t *out);

#endif
