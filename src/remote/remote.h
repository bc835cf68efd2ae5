/*
 * remote.h: measuring a country from outside it (the one header of src/remote/).
 *
 * Censored Planet's two remote methods, over keepon's measurement engine (src/net):
 *   remote dns  (Satellite): ask listed in-country resolvers for test and control names; compare
 *               each answer with control resolvers by address, by ASN and (Satellite v2) by
 *               fetching the answered address over HTTPS with the test name as SNI and checking
 *               the certificate; keep listening after the first answer so an injected answer
 *               racing the real one shows.
 *   remote http (Hyperquack): to listed echo (7) and web (80/443) servers, send requests whose
 *               Host / SNI carries the test name and, on the same server, a control name;
 *               reset / timeout / blockpage against the control, retried so noise is not blocking.
 * Ethics (docs/remote.md), enforced here: a policy (reserved ranges and an opt-out file are
 * refused, only addresses listed as infrastructure are touched) and a rate limiter per host and
 * per AS. Pure parts (lists, verdicts, limiter arithmetic) are separate from I/O and tested.
 */
#ifndef KP_REMOTE_REMOTE_H
#define KP_REMOTE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"

/* ------------------------------------------------------------ rate limiter */
/*
 * GCRA (the virtual-scheduling form of a token bucket) per host and per AS, in integer
 * nanoseconds so the cap is exact: over any window of W ns a key is granted at most
 * burst + floor(W * rate / 1e9) permits. A permit is granted only when BOTH the host's and
 * the AS's bucket allow it, and then both are charged (never one alone). Thread-safe.
 */
typedef struct kp_rl kp_rl_t;
typedef struct kp_rl_cfg {
  double host_rate;   /* permits per second per host (> 0) */
  uint32_t host_burst;/* >= 1 */
  double as_rate;     /* permits per second per AS (> 0); AS 0 = unknown, limited as one AS */
  uint32_t as_burst;  /* >= 1 */
  void (*sleep)(void *ctx, int64_t ns); /* how kp_rl_wait waits; NULL = nanosleep */
  void *sleep_ctx;
} kp_rl_cfg_t;
#define KP_RL_DEFAULT_HOST_RATE 2.0  /* polite: Satellite spreads its queries to one resolver */
#define KP_RL_DEFAULT_AS_RATE 200.0
kp_status_t kp_rl_new(const kp_rl_cfg_t *cfg, const kp_clock_t *clk, kp_rl_t **out);
void kp_rl_free(kp_rl_t *rl);
/** 0 = granted (both buckets charged); else nanoseconds to wait before asking again. */
int64_t kp_rl_try(kp_rl_t *rl, const kp_addr_t *host, uint32_t asn);
/** Wait (cfg->sleep, else nanosleep) and re-ask until granted. */
void kp_rl_wait(kp_rl_t *rl, const kp_addr_t *host, uint32_t asn);
/** Permits granted so far (for benches and tests). */
uint64_t kp_rl_granted(const kp_rl_t *rl);

/* ------------------------------------------------------------------ policy */
typedef struct kp_rmt_policy kp_rmt_policy_t;
/**
 * @param lab  only 198.18.0.0/15 and 2001:db8::/32 are allowed (the lab's addresses), and nothing
 *             else; without it every non-public address (kp_addr_is_public) is refused.
 */
kp_status_t kp_rmt_policy_new(bool lab, kp_rmt_policy_t **out);
void kp_rmt_policy_free(kp_rmt_policy_t *p);
/**
 * Add an opt-out file (pure over bytes): one prefix or address per line, '#' comments, blank lines.
 * @p bad_line gets the 1-based line of the first malformed entry (whole file rejected).
 */
kp_status_t kp_rmt_policy_optout(kp_rmt_policy_t *p, const void *bytes, size_t n, size_t *bad_line);
/** NULL when @p a may be probed, else why not: "reserved", "opt-out", "outside-lab". */
const char *kp_rmt_policy_refuse(const kp_rmt_policy_t *p, const kp_addr_t *a);
size_t kp_rmt_policy_optouts(const kp_rmt_policy_t *p);

/* ------------------------------------------------------------------- lists */
typedef enum kp_rmt_role { KP_RMT_RESOLVER = 1, KP_RMT_ECHO, KP_RMT_WEB } kp_rmt_role_t;
typedef struct kp_rmt_target { /* one listed server; transparent */
  kp_addr_t addr;
  kp_rmt_role_t role;
  uint32_t asn;        /* 0 = look it up (src/geo) */
  char cc[3];          /* "" = look it up */
} kp_rmt_target_t;
/**
 * A server list (pure): lines "ADDR ROLE [asn=N] [cc=CC]", ROLE resolver|echo|web, '#' comments.
 * The role is mandatory: an address is probed only when listed as infrastructure. Lines over
 * 512 bytes, unknown roles or keys reject the file (@p bad_line, 1-based). *out is malloc'd.
 */
kp_status_t kp_rmt_targets_parse(const void *bytes, size_t n, kp_rmt_target_t **out, size_t *count, size_t *bad_line);
#define KP_RMT_NAME_MAX 253
typedef struct kp_rmt_name { char s[KP_RMT_NAME_MAX + 1]; } kp_rmt_name_t;
/** A domain list (pure): one name per line ([a-z0-9-_.], lower-cased, no trailing dot), '#' comments. */
kp_status_t kp_rmt_names_parse(const void *bytes, size_t n, kp_rmt_name_t **out, size_t *count, size_t *bad_line);

/* ---------------------------------------------------------------- verdicts */
/* Technique names (keepon_technique); "ok" and the no-verdict reasons are not techniques. */
#define KP_RMT_DNS_FORGED "dns-forged"
#define KP_RMT_DNS_INJECTED "dns-injected"
#define KP_RMT_DNS_NXDOMAIN "dns-nxdomain"
#define KP_RMT_DNS_SERVFAIL "dns-servfail"
#define KP_RMT_DNS_TIMEOUT "dns-timeout"
#define KP_RMT_HTTP_RESET "http-reset"
#define KP_RMT_HTTP_TIMEOUT "http-timeout"
#define KP_RMT_HTTP_BLOCKPAGE "http-blockpage"
#define KP_RMT_TLS_RESET "tls-reset"
#define KP_RMT_TLS_TIMEOUT "tls-timeout"
#define KP_RMT_TLS_BLOCKPAGE "tls-cert-mismatch"
#define KP_RMT_ECHO_RESET "echo-reset"
#define KP_RMT_ECHO_TIMEOUT "echo-timeout"
#define KP_RMT_ECHO_ALTERED "echo-altered"

#define KP_RMT_MAX_ADDRS 16
typedef struct kp_rmt_answer { /* what one resolver said for one name; transparent */
  const char *failure;         /* df-007 of the first answer, NULL when addresses came back */
  size_t n;                    /* first answer's addresses */
  kp_addr_t a[KP_RMT_MAX_ADDRS];
  uint32_t asn[KP_RMT_MAX_ADDRS];
  int8_t cert[KP_RMT_MAX_ADDRS]; /* 1 a valid certificate for the name over SNI, 0 not, -1 not fetched */
  size_t nlate;                /* addresses in later answers to the same query */
  kp_addr_t late[KP_RMT_MAX_ADDRS];
  uint32_t late_asn[KP_RMT_MAX_ADDRS];
} kp_rmt_answer_t;
typedef struct kp_rmt_control { /* union over the control resolvers; transparent */
  bool nxdomain;               /* every control resolver said NXDOMAIN */
  size_t n;
  kp_addr_t a[64];
  size_t nasn;
  uint32_t asn[64];
} kp_rmt_control_t;
typedef struct kp_rmt_verdict {
  const char *verdict;         /* "ok", "blocked", "no_verdict" */
  const char *technique;       /* a KP_RMT_* technique when blocked, else NULL */
  const char *reason;          /* one word: "address", "asn", "cert", "control-failure", ... */
} kp_rmt_verdict_t;
/**
 * Satellite's comparison (pure). In order: a control that failed -> no_verdict; a resolver
 * that is unreachable (ICMP refused / host or network unreachable) -> no_verdict; timeout;
 * NXDOMAIN (control has addresses) / SERVFAIL-REFUSED; a first answer that matches the control by
 * address, else by ASN, else by a valid certificate for the name is ok -- unless a LATER answer
 * to the same query differs and one of the two does not match: an injected answer raced the
 * real one (dns-injected). A first answer that matches nothing (or holds a non-public address)
 * is dns-forged -- unless only its address could be compared (no ASN on it or on the control,
 * no certificate result): no_verdict "untagged", as Satellite declines untagged answers.
 */
kp_rmt_verdict_t kp_rmt_dns_verdict(const kp_rmt_answer_t *ans, const kp_rmt_control_t *ctl, bool lab);
/** Does @p a match the control by address or ASN (the cert step is the caller's)? */
bool kp_rmt_dns_matches(const kp_rmt_control_t *ctl, const kp_addr_t *a, uint32_t asn, bool lab);

/* One try of a Hyperquack request. */
typedef enum kp_rmt_out { KP_RMT_O_OK = 0, KP_RMT_O_RESET, KP_RMT_O_TIMEOUT, KP_RMT_O_OTHER } kp_rmt_out_t;
typedef struct kp_rmt_try {
  kp_rmt_out_t out;
  int status;                  /* HTTP status (web), 0 none */
  bool cert_ok;                /* https: the certificate verified for the SNI */
  uint64_t body_hash;          /* FNV-1a of the body (web) or of the echoed bytes (echo) */
  size_t body_len;
  bool echo_exact;             /* echo: the bytes came back exactly */
} kp_rmt_try_t;
typedef enum kp_rmt_proto { KP_RMT_P_ECHO = 0, KP_RMT_P_HTTP, KP_RMT_P_HTTPS } kp_rmt_proto_t;
/**
 * Hyperquack's decision (pure) over @p n tries of the test name and @p nc of the control name
 * on the same server. The control must have worked once (else no_verdict "control-failure").
 * Blocked only when EVERY try of the test name failed the same way (reset, timeout, or a
 * response unlike the control's: another status, a body whose length differs by more than
 * KP_RMT_BODY_TOLERANCE of the control's, bytes not echoed exactly, a certificate that does not
 * verify while the control's did); any try that looks like the control -> ok (noise).
 */
#define KP_RMT_BODY_TOLERANCE 0.3
kp_rmt_verdict_t kp_rmt_http_verdict(kp_rmt_proto_t proto, const kp_rmt_try_t *tries, size_t n,
                                     const kp_rmt_try_t *ctl, size_t nc);

/* ---------------------------------------------------------------- runners */
typedef struct kp_geo kp_geo_t;
typedef struct kp_rmt_cfg { /* caller-owned; transparent */
  const kp_rmt_target_t *targets; size_t ntargets;   /* resolvers (dns) or servers (http) */
  const kp_rmt_name_t *names; size_t nnames;         /* test list */
  const kp_rmt_name_t *controls; size_t ncontrols;   /* control names (dns: sanity; http: the control Host/SNI) */
  const kp_addr_t *control_resolvers; size_t ncontrol_resolvers; /* dns */
  uint16_t port;               /* 0 = 53 (dns); http uses 7/80/443 by role */
  const kp_rmt_policy_t *policy;
  kp_rl_t *rl;
  const kp_geo_t *geo;         /* ASN / country of targets and answers, or NULL */
  const char *ca_file;         /* trust for the certificate step (NULL = system store) */
  double timeout;              /* per step, seconds (0 = 3) */
  double window;               /* dns: keep listening after the first answer (0 = 1.0) */
  unsigned retries;            /* http tries per name (0 = 3) */
  unsigned dns_retries;        /* dns: extra tries of a query unanswered after cfg->timeout (each under a permit) */
  size_t parallel;             /* workers: http, and dns's certificate step (0 = 64); dns lookups are asynchronous */
  bool lab;
  bool cert_check;             /* dns: Satellite v2's HTTPS step for answers that match nothing */
  const char *software_version;
  int64_t bin_step;            /* signal bin (0 = 3600) */
} kp_rmt_cfg_t;
typedef struct kp_rmt_stats {
  size_t measured, blocked, no_verdict, refused;
  double seconds;
} kp_rmt_stats_t;
/**
 * Run remote dns / remote http. Appends one OONI-shaped measurement per (target, name[, proto])
 * to @p msmts (JSONL; test_name keepon_remote_dns / keepon_remote_http), per-resolver/server and
 * per-AS summaries to @p summary (JSONL, type "remote_summary") and signal points (datasource
 * remote-dns / remote-http, entities country and asn) to @p signals. Any buffer may be NULL.
 */
kp_status_t kp_rmt_dns_run(const kp_rmt_cfg_t *cfg, const kp_clock_t *clk, kp_buf_t *msmts, kp_buf_t *summary,
                           kp_buf_t *signals, kp_rmt_stats_t *st);
kp_status_t kp_rmt_http_run(const kp_rmt_cfg_t *cfg, const kp_clock_t *clk, kp_buf_t *msmts, kp_buf_t *summary,
                            kp_buf_t *signals, kp_rmt_stats_t *st);

/* ------------------------------------------------------------------- scan */
/*
 * A polite search of a CIDR list for infrastructure resolvers (scan.c has the order of steps):
 * reverse DNS of every allowed address through OUR resolver first; only addresses named as name
 * servers (kp_rmt_scan_infra_ptr) are then asked the control name and a non-existent name, per
 * host and per AS under the limiter; kept: right control answer AND NXDOMAIN for the other.
 */
typedef struct kp_rmt_scan_cfg { /* caller-owned; transparent */
  const kp_prefix_t *cidrs; size_t ncidrs;  /* IPv4 only */
  const kp_addr_t *ptr_resolver; uint16_t ptr_port; /* ours; 0 = 53 */
  kp_rl_t *ptr_rl;                          /* its own limiter (all PTR queries go to it) */
  const char *control_name;                 /* must resolve to control_answer */
  const kp_addr_t *control_answer;
  const char *nx_name;                      /* must be NXDOMAIN */
  const kp_rmt_policy_t *policy;
  kp_rl_t *rl;                              /* per host and per AS, for the candidates */
  const kp_geo_t *geo;                      /* ASN / country of the kept, or NULL */
  uint16_t port;                            /* candidates' DNS port (0 = 53) */
  double timeout;                           /* per try (0 = 3) */
  unsigned retries;
  size_t max_addrs;                         /* 0 = 65536: a country's list, never the Internet */
} kp_rmt_scan_cfg_t;
typedef struct kp_rmt_scan_stats {
  size_t addrs, refused, no_ptr, not_infra, asked, silent, wildcard, wrong, kept;
  double seconds;
} kp_rmt_scan_stats_t;
/** Iris's rule (pure): the PTR name's first label is ns or nameserver, optionally with digits. */
bool kp_rmt_scan_infra_ptr(const char *ptr);
/** A CIDR list (pure): one IPv4 prefix or address per line, '#' comments. */
kp_status_t kp_rmt_cidrs_parse(const void *bytes, size_t n, kp_prefix_t **out, size_t *count, size_t *bad_line);
/** Run the scan; kept resolvers appended to @p list as target lines ("ADDR resolver ... # ptr=NAME"). */
kp_status_t kp_rmt_scan_run(const kp_rmt_scan_cfg_t *cfg, const kp_clock_t *clk, kp_buf_t *list,
                            kp_rmt_scan_stats_t *st);

#endif
