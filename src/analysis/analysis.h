/*
 * analysis.h: from observations to verdicts, as pure functions.
 *
 * The probe reduces each flow (one target: resolve -> connect -> TLS -> HTTP)
 * to a kp_an_flow_t of facts; kp_an_classify() turns an app's flows plus the
 * control target's facts into a per-flow outcome, the app's technique, the
 * reachable fraction, a verdict and a one-line evidence text. No I/O, no
 * clock: the same facts always give the same answer (unit-tested directly).
 */
#ifndef KP_ANALYSIS_ANALYSIS_H
#define KP_ANALYSIS_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/status.h"

/* Technique keys, in decision precedence order (first match wins for an app). */
typedef enum kp_tech {
  KP_TECH_NONE = 0,
  KP_TECH_NETWORK_DOWN,
  KP_TECH_DNS_NXDOMAIN,
  KP_TECH_DNS_INJECTED,
  KP_TECH_DNS_FORGED,
  KP_TECH_THROTTLED,
  KP_TECH_HTTP_BLOCKPAGE,
  KP_TECH_TLS_MITM,
  KP_TECH_TLS_SNI_RESET,
  KP_TECH_TLS_SNI_DROP,
  KP_TECH_TCP_RESET,
  KP_TECH_IP_BLACKHOLE,
  KP_TECH_COUNT
} kp_tech_t;

/** "dns_forged", ...; "none" for KP_TECH_NONE. */
const char *kp_tech_name(kp_tech_t t);
/** Inverse of kp_tech_name. @return KP_ERR_NOTFOUND for an unknown key */
kp_status_t kp_tech_parse(const char *s, kp_tech_t *out);

typedef enum kp_verdict { KP_VERDICT_OK = 0, KP_VERDICT_BLOCKED, KP_VERDICT_DEGRADED } kp_verdict_t;
const char *kp_verdict_name(kp_verdict_t v); /* "ok", "blocked", "degraded" */

/** True when @p a falls in one of @p nets; with no nets, true unless @p a is a bogon. */
bool kp_an_addr_expected(const kp_prefix_t *nets, size_t nnets, const kp_addr_t *a);

/** What one flow showed (failure strings are df-007; NULL = step succeeded or not run). */
typedef struct kp_an_flow {
  const char *name;         /* for the evidence text (the target URL) */
  const char *role;         /* the app's service this flow tests (endpoint, web, dc, ...); NULL = "" */
  bool counts;              /* counts toward the reachable fraction */
  bool blockpage_only;      /* a plain-HTTP check: only a blockpage answer is evidence */
  bool download;            /* a throughput check */
  double min_kbps;          /* download: slower than this is throttling */
  /* DNS (only when the flow resolved a name) */
  bool resolved_name;
  const char *dns_failure;  /* the UDP resolver's (first answers) */
  const char *sys_failure;  /* the system resolver's */
  bool dns_unexpected;      /* every first answer outside the app's expected networks */
  bool dns_injected;        /* a later answer was expected while the first one was not */
  /* steps */
  bool connect_tried;
  const char *connect_failure;
  bool tls_tried;
  const char *tls_failure;
  bool http_tried;
  const char *http_failure;
  int http_status;          /* 0 = no response */
  bool blockpage_match;     /* the body matched a blockpage pattern */
  uint64_t bytes;           /* body bytes received */
  double seconds;           /* request .. last byte */
  bool cut;                 /* download: the read window ended the transfer */
} kp_an_flow_t;

typedef struct kp_an_control {
  bool dns_ok;              /* the control name resolved */
  bool reach_ok;            /* the control target connected */
} kp_an_control_t;

#define KP_AN_EVIDENCE_MAX 512
typedef struct kp_an_result {
  kp_tech_t tech;
  kp_verdict_t verdict;
  size_t n_counting;        /* flows that count (m) */
  size_t n_ok;              /* of those, fully successful */
  size_t n_tech;            /* of those, showing the app's technique (n) */
  size_t n_failed;          /* counting flows that failed (listed in the evidence when DEGRADED) */
  bool by_role;             /* the technique agreed over a whole role (else: over a majority) */
  double reachable_fraction;
  char evidence[KP_AN_EVIDENCE_MAX];
} kp_an_result_t;

/** The technique one flow shows on its own (KP_TECH_NONE: ok or unexplained). */
kp_tech_t kp_an_flow_tech(const kp_an_flow_t *f, const kp_an_control_t *ctl);
/** True when the flow completed without any failure. */
bool kp_an_flow_ok(const kp_an_flow_t *f);

/**
 * Classify an app (the agreement rule in classify.c's header and
 * docs/probe.md: a technique is named only when a whole role, or a strict
 * majority of the app's counting flows, shows it). @p outcome (optional, n entries) receives each flow's
 * technique (KP_TECH_NONE for ok or unexplained failures).
 */
kp_status_t kp_an_classify(const kp_an_flow_t *flows, size_t n, const kp_an_control_t *ctl, kp_an_result_t *out,
                           kp_tech_t *outcome);

#endif
