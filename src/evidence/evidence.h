/*
 * evidence.h: incident evidence bundles (docs/evidence.md).
 *
 * A bundle is one ustar archive <id>.tar holding a folder <id>/ with
 *   README.txt       plain-language summary: what happened, what is inside, how to check it
 *   incident.json    the incident as keepon's detector wrote it
 *   records.jsonl    the signed outbox records (full chains of every probe key with a record
 *                    behind the incident) followed by each key's signed head checkpoint
 *   signals.jsonl    the signal points behind it (the incident's entities and datasources over
 *                    its time window plus a margin)
 *   custody.jsonl    per record: probe key, seq, hash, when measured, when the collector got
 *                    it, which collector checked the signature; first line: who made the bundle
 *   method.txt       how the data were taken, checked and selected; software version
 *   manifest.sha256  "<sha256>  <file>" for every file above (sha256sum -c format)
 *   manifest.tsr     RFC 3161 TimeStampResp over manifest.sha256's bytes
 *   tsa-ca.pem       the TSA's certificate chain as given at bundle time (convenience; an
 *                    investigator pins their own copy with --tsa-ca)
 * Nothing is trusted from the collector at verify time: hashes, Ed25519 signatures, chain links
 * and head checkpoints are all recomputed from the bundle's bytes.
 */
#ifndef KP_EVIDENCE_EVIDENCE_H
#define KP_EVIDENCE_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/status.h"
#include "outbox/outbox.h"

typedef struct kp_ev_bundle_cfg {
  const char *incident_id;    /* which incident (NULL: the only one in the file) */
  const char *incidents_path; /* JSON: one incident object or an array of them (keepon detect) */
  const char *store_path;     /* collector store: records, custody, heads and signals */
  const char *records_path;   /* or files: record lines (chain.log / a collector export) */
  const char *signals_path;   /* and signal JSON Lines (docs/formats.md) */
  const char *collector;      /* custody: name of the collector that verified on ingest */
  const char *tsa_url;        /* RFC 3161 time-stamping authority, http(s)://host[:port]/path */
  struct kp_httpc *http;      /* control-plane client (src/httpc) for the TSA request; required */
  const char *tsa_ca_path;    /* PEM trust anchor of that TSA (checked now, copied in) */
  const char *out_path;       /* the .tar to write */
  const char *software;       /* "keepon 0.x" */
  int64_t margin_s;           /* context around the incident window (default 21600) */
  int timeout_ms;             /* TSA request (default 10000) */
  const kp_clock_t *clock;    /* NULL: system */
} kp_ev_bundle_cfg_t;

typedef struct kp_ev_bundle_info {
  char id[96];
  size_t records, in_window, keys, signals;
  char ts_time[32];
} kp_ev_bundle_info_t;

/** Build and write the bundle. @p why gets a sentence on failure. */
kp_status_t kp_ev_bundle(const kp_ev_bundle_cfg_t *cfg, kp_ev_bundle_info_t *info, char *why, size_t why_cap);

typedef struct kp_ev_verify_report {
  size_t files, records, keys, signals;
  char ts_time[32], tsa_name[256];
  bool tsa_pinned;            /* the anchor came from --tsa-ca, not from the bundle */
} kp_ev_verify_report_t;

/**
 * Check a bundle (.tar, or the folder it unpacks to) offline. @p cb gets one sentence per
 * problem (line = line of the file concerned, 0 when none). @return KP_OK intact, KP_ERR_PERM
 * problems found, other codes when it could not be read.
 */
kp_status_t kp_ev_verify_bundle(const char *path, const char *tsa_ca, kp_outbox_problem_cb cb, void *ctx,
                                kp_ev_verify_report_t *rep);

/* ---- ustar reading (pure; fuzzed by fuzz/fuzz_evtar.c) ---- */
typedef struct kp_ev_entry {
  char name[256];
  const uint8_t *data; /* borrowed from the archive bytes */
  size_t len;
} kp_ev_entry_t;
/**
 * Parse a ustar archive: regular files only, names without "..", absolute paths or NUL,
 * checksums checked, at most @p max entries. @return KP_OK, or KP_ERR_INVAL with *why.
 */
kp_status_t kp_ev_tar_parse(const uint8_t *p, size_t n, kp_ev_entry_t *out, size_t max, size_t *count,
                            const char **why);

#endif
