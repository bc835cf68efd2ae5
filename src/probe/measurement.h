/*
 * measurement.h: the OONI measurement READER (df-000 envelope + the event
 * lists of test_keys), shared by the probe's tests and the collector.
 *
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
#ifndef KP_PROBE_MEASUREMENT_H
#define KP_PROBE_MEASUREMENT_H

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

#endif
