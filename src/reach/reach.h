/*
 * reach.h: what stayed reachable during a cut (`keepon probe reach`, docs/probe.md "What
 * stayed reachable").
 *
 * Three pieces:
 *  - the list: which domestic services, foreign references and port holes to test, a TSV file
 *    (data/domestic/kz.tsv is the compiled-in default), parsed through kp_cur_t (list.c, pure);
 *  - the run: each entry tested once under one deadline (TCP connect, DNS query to a given
 *    resolver, HTTPS fetch by name), written as one OONI-shaped measurement with the outcome
 *    of every entry and the window's classification (run.c);
 *  - the rule: a window is "open" (a foreign reference answered), "full_cut" (nothing domestic
 *    nor foreign), "whitelist" (some domestic services up, the rest of the domestic list and
 *    everything foreign down) or "national_only" (domestic broadly up, foreign down) (rule.c,
 *    pure, thresholds below), and the windows of a series of such measurements (windows.c).
 */
#ifndef KP_REACH_REACH_H
#define KP_REACH_REACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"

#define KP_REACH_MAX 64

typedef enum kp_reach_scope { KP_REACH_DOMESTIC = 0, KP_REACH_FOREIGN, KP_REACH_PORT } kp_reach_scope_t;
typedef enum kp_reach_kind { KP_REACH_TCP = 0, KP_REACH_DNS, KP_REACH_HTTPS } kp_reach_kind_t;

/** One list entry; transparent, read-only after parsing. */
typedef struct kp_reach_target {
  kp_reach_scope_t scope;
  kp_reach_kind_t kind;
  char name[64];   /* what the report prints: "kaspi.kz", "resolver 195.210.46.195", "tcp/179" */
  char host[256];  /* tcp: host or IP; dns: resolver IP; https: host name */
  uint16_t port;   /* tcp: the port; dns: 53 unless given; https: 443 unless given */
  char query[256]; /* dns: the name asked (A); https: the path ("/" when absent) */
} kp_reach_target_t;

typedef struct kp_reach_list {
  size_t n;
  kp_reach_target_t t[KP_REACH_MAX];
} kp_reach_list_t;

/**
 * Parse a list (TSV, '#' comments, blank lines ignored), one entry a line:
 *   SCOPE <TAB> KIND <TAB> NAME <TAB> TARGET [<TAB> ARG]
 * SCOPE domestic|foreign|port; KIND tcp (TARGET host:port), dns (TARGET resolver IP[:port],
 * ARG the name asked), https (TARGET host[:port], ARG the path). Pure, bounded (kp_cur_t).
 * @return KP_OK; KP_ERR_INVAL with "line N: reason" in @p err (no entry, too many, bad field)
 */
kp_status_t kp_reach_list_parse(const void *p, size_t n, kp_reach_list_t *out, char *err, size_t cap);
/** The compiled-in default list (data/domestic/kz.tsv). */
const char *kp_reach_default_list(size_t *len);

/* ---------------------------------------------------------------- the rule */
typedef enum kp_reach_class {
  KP_REACH_UNKNOWN = 0, /* nothing foreign tested, or no domestic entry tested */
  KP_REACH_OPEN,        /* a foreign reference answered: no cut seen from here */
  KP_REACH_FULL_CUT,    /* no domestic service and no foreign reference answered */
  KP_REACH_WHITELIST,   /* foreign down; some domestic services up, the others down */
  KP_REACH_NATIONAL     /* foreign down; domestic broadly up (the national network only) */
} kp_reach_class_t;

/** Share of the domestic entries that must answer for "national_only": at least 3 in 4. Below it
 *  (and above zero) the window is a whitelist: only chosen services pass. */
#define KP_REACH_NATIONAL_SHARE 0.75
/** A foreign reference that answered makes the window "open"; a port hole (scope port) and any
 *  DNS entry count for neither side: in Kazakhstan TCP 179, 3785 and DNS on 53 passed during the
 *  full cut (kp_reach_tally counts them in port_ok / port_n). */

/** Counts of one window (entries that answered / entries tested), per scope. */
typedef struct kp_reach_counts {
  size_t dom_ok, dom_n, for_ok, for_n, port_ok, port_n;
} kp_reach_counts_t;

kp_reach_class_t kp_reach_classify(const kp_reach_counts_t *c);
/** "unknown", "open", "full_cut", "whitelist", "national_only". */
const char *kp_reach_class_name(kp_reach_class_t c);
/** @return the class of a name, KP_REACH_UNKNOWN for anything else */
kp_reach_class_t kp_reach_class_parse(const char *s);

/* ----------------------------------------------------------------- the run */
typedef struct kp_reach_cfg {
  double timeout;          /* whole-run budget, seconds (1..600) */
  const char *ca_file;     /* NULL = system store */
  const char *probe_cc, *probe_asn, *probe_network_name; /* NULL: "ZZ", "AS0", "" */
  const char *resolver;    /* names resolved over UDP through this IP (a domestic resolver); NULL = system */
  const char *access_type; /* "mobile" / "fixed" / NULL (not written) */
  const char *software_version;
} kp_reach_cfg_t;

/** One entry's outcome. */
typedef struct kp_reach_outcome {
  bool ok;
  const char *failure;   /* df-007 failure string, NULL when ok */
  const char *operation; /* resolve, connect, dns_query, tls_handshake, http_round_trip; NULL when ok */
  int http_status;
  double seconds;
} kp_reach_outcome_t;

typedef struct kp_reach_run {
  kp_reach_outcome_t out[KP_REACH_MAX];
  kp_reach_counts_t counts;
  kp_reach_class_t cls;
  int64_t start_wall_ns;
  double runtime;
  struct kp_trace *trace; /* owned: every entry's network events (OONI's event lists) */
} kp_reach_run_t;
void kp_reach_run_free(kp_reach_run_t *r);

/** Fills counts and cls from the outcomes (pure; kp_reach_run uses it). */
void kp_reach_tally(const kp_reach_list_t *l, kp_reach_run_t *r);

/** Test every entry of @p l (in parallel, one deadline). A failed entry is a result. */
kp_status_t kp_reach_run(const kp_reach_cfg_t *cfg, const kp_reach_list_t *l, const kp_clock_t *clk,
                         kp_reach_run_t *out);

/** The run as one measurement (compact JSON, no newline): OONI's envelope, test_name
 *  "keepon_reach", test_keys.keepon_reach {class, counts, targets[{name, scope, kind, target,
 *  ok, failure, failed_operation, http_status}]}. */
kp_status_t kp_reach_write(const kp_reach_cfg_t *cfg, const kp_reach_list_t *l, const kp_reach_run_t *r,
                           kp_buf_t *out);

/* ------------------------------------------------------------- the windows */
/** A run of consecutive measurements with the same class (time order), with the names of the
 *  entries that worked in ALL of them (what stayed reachable throughout). */
typedef struct kp_reach_window {
  int64_t start, end; /* first and last measurement_start_time, Unix seconds */
  kp_reach_class_t cls;
  size_t nmsmt;
  char cc[3], access[8];
  size_t nworked;
  char worked[KP_REACH_MAX][64];
} kp_reach_window_t;

typedef struct kp_reach_windows {
  size_t n;
  kp_reach_window_t *v;
} kp_reach_windows_t;

/**
 * The windows of the keepon_reach measurements in @p p (JSONL; other lines skipped), country
 * @p cc (NULL = any). Measurements are sorted by time; a window ends where the class changes.
 * Pure. @return KP_OK (no measurement: n = 0), KP_ERR_NOMEM
 */
kp_status_t kp_reach_windows(const void *p, size_t n, const char *cc, kp_reach_windows_t *out);
void kp_reach_windows_free(kp_reach_windows_t *w);
/** The windows as JSON: [{"start","end","class","measurements","cc","access_type","worked":[..]}]. */
kp_status_t kp_reach_windows_json(const kp_reach_windows_t *w, kp_buf_t *out);

/* ------------------------------------------------------ access type table */
/* keepon's table of networks (data/access/kz.tsv, compiled in; access.c): ASN -> mobile |
 * fixed, one row a line: ASn<TAB>mobile|fixed[<TAB>NAME<TAB>SOURCE]. A probe without
 * --access-type takes its --probe-asn's row. */
typedef enum kp_access { KP_ACCESS_UNKNOWN = 0, KP_ACCESS_MOBILE, KP_ACCESS_FIXED } kp_access_t;
#define KP_ACCESS_MAX 1024
typedef struct kp_access_table {
  size_t n;
  struct { uint32_t asn; kp_access_t access; } row[KP_ACCESS_MAX];
} kp_access_table_t;
/** Parse a table. Pure, bounded. @return KP_OK; KP_ERR_INVAL with "line N: reason" in @p err */
kp_status_t kp_access_parse(const void *p, size_t n, kp_access_table_t *out, char *err, size_t cap);
/** The compiled-in table (data/access/kz.tsv). */
const char *kp_access_default_table(size_t *len);
/** The access type of "ASn" (KP_ACCESS_UNKNOWN when not listed or malformed). */
kp_access_t kp_access_lookup(const kp_access_table_t *t, const char *asn);
/** "mobile", "fixed", "unknown". */
const char *kp_access_name(kp_access_t a);
/**
 * The access type a probe writes (test_keys.keepon_access_type), the one rule of `keepon probe
 * im`, `probe web` and `probe reach`: @p flag (--access-type) when given, else @p asn's row of the
 * compiled-in table, else unknown. *out = "mobile" / "fixed" (static strings) or NULL (unknown:
 * the key is not written, nothing is guessed). KP_ERR_INVAL when @p flag is neither.
 */
kp_status_t kp_access_resolve(const char *flag, const char *asn, const char **out);

#endif
