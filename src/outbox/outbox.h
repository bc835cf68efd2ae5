/*
 * outbox.h: the probe's durable, signed, hash-chained outbox and its uploader.
 *
 * On disk (<state>/outbox/):
 *   key          Ed25519 secret key (libsodium, 64 bytes), mode 0600, made on first use
 *   chain.log    append-only records, one JSON object per line:
 *                {"seq":N,"prev":HEX64,"hash":HEX64,"key_id":HEX32,"pubkey":B64,"sig":B64,"msm":"<json>"}
 *                hash = SHA-256(msm bytes); prev = hash of record N-1 (64 zeros for N = 1);
 *                sig = Ed25519 over be64(seq) || prev || hash; key_id = hex(SHA-256(pubkey)[0..16))
 *   acked.log    delivered records, "seq uid\n" lines (append-only, fsync'd)
 *   head         signed checkpoint of the chain head (head.c), rewritten atomically when an
 *                outbox that appended is closed (so it may lag the chain after a crash)
 *   lock         flock(2) target: open's torn-tail repair and every append/mark hold it, so
 *                concurrent writers (two `keepon outbox add`, a probe and an uploader) never
 *                take the same seq or cut a line another process is still writing
 * A record is fsync'd (file and, on creation, folder) before kp_outbox_append returns.
 * Recovery on open: only an incomplete LAST line (no '\n': a torn write) is cut off; a complete
 * line that fails to parse or verify is kept and reported by verify, never dropped silently.
 *
 * Privacy: records carry the measurement as the probe wrote it (probe_ip 127.0.0.1 by default),
 * plus a random key that is not derived from anything about the person.
 *
 * The record parser and checks are pure (bytes in, verdict out) and shared with the collector
 * (which verifies uploads) and `keepon verify`.
 */
#ifndef KP_OUTBOX_OUTBOX_H
#define KP_OUTBOX_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/status.h"
#include "httpc/httpc.h"

/* ---- records (pure) ---- */
typedef struct kp_outbox_rec {
  uint64_t seq;
  uint8_t prev[32], hash[32], sig[64], pubkey[32];
  char key_id[33];
  const char *msm; /* borrowed (from the parse document) */
  size_t msm_len;
} kp_outbox_rec_t;

/** key id of a public key: hex of the first 16 bytes of SHA-256(pubkey). */
void kp_outbox_key_id(const uint8_t pk[32], char out[33]);
/** Parse one record line. *doc owns the strings rec borrows; free it with kp_json_doc_free. */
kp_status_t kp_outbox_rec_parse(const void *line, size_t n, kp_json_doc_t **doc, kp_outbox_rec_t *rec,
                                const char **why);
/** Check content hash, key id and signature. @return KP_OK or KP_ERR_PERM with *why set. */
kp_status_t kp_outbox_rec_check(const kp_outbox_rec_t *rec, const char **why);
/** Serialize a record as one line (with '\n'). */
kp_status_t kp_outbox_rec_write(const kp_outbox_rec_t *rec, kp_buf_t *out);

/**
 * Verify a sequence of record lines (a chain.log, or a collector's export): every record parses
 * and checks, and per key the records form one chain: seq 1, 2, 3... each prev = the previous
 * hash. @p cb is called once per problem with the 1-based line number, the record's seq (-1 if
 * unknown) and a sentence; @return KP_OK when there is no problem, KP_ERR_PERM otherwise.
 * @param allow_gaps collector exports may lack records not yet uploaded: a gap is then
 *        reported only when @p allow_gaps is false.
 */
typedef void (*kp_outbox_problem_cb)(void *ctx, size_t line, int64_t seq, const char *problem);
kp_status_t kp_outbox_verify_bytes(const uint8_t *p, size_t n, bool allow_gaps, kp_outbox_problem_cb cb,
                                   void *ctx, size_t *nrecords);

/* ---- signed head checkpoints (head.c) ---- */
typedef struct kp_outbox_head {
  uint64_t seq;             /* records 1..seq existed when this was signed; 0 = empty chain */
  uint8_t hash[32];         /* hash of record seq (zeros for seq 0) */
  uint8_t pubkey[32], sig[64];
  char key_id[33];
} kp_outbox_head_t;
void kp_outbox_head_sign(const uint8_t sk[64], const uint8_t pk[32], uint64_t seq, const uint8_t hash[32],
                         kp_outbox_head_t *h);
/** Parse a {"type":"head",...} line (no signature check). KP_ERR_INVAL with *why otherwise. */
kp_status_t kp_outbox_head_parse(const void *line, size_t n, kp_outbox_head_t *h, const char **why);
/** Key id and signature. @return KP_OK or KP_ERR_PERM with *why set. */
kp_status_t kp_outbox_head_check(const kp_outbox_head_t *h, const char **why);
kp_status_t kp_outbox_head_write(const kp_outbox_head_t *h, kp_buf_t *out);

/**
 * What must be in a chain, beyond what the chain itself says:
 *  - heads: signed checkpoints (also read from "type":"head" lines of the input); per key the
 *    records 1..seq must all be there (even with allow_gaps) and record seq must hash to it;
 *  - acked: seqs a collector acknowledged (acked.log) for key acked_key (NULL: the only key of
 *    the input) must be present;
 *  - trusted: pinned key ids; a record or checkpoint under any other key is a problem.
 */
typedef struct kp_outbox_verify_opts {
  bool allow_gaps;
  const kp_outbox_head_t *heads;
  size_t nheads;
  const char *acked_key;
  const uint64_t *acked;
  size_t nacked;
  char (*trusted)[33];
  size_t ntrusted;          /* 0: any key */
} kp_outbox_verify_opts_t;
kp_status_t kp_outbox_verify(const uint8_t *p, size_t n, const kp_outbox_verify_opts_t *o, kp_outbox_problem_cb cb,
                             void *ctx, size_t *nrecords);

/** An outbox folder's claims: its head file and acked.log (read-only; no key needed). */
typedef struct kp_outbox_expect {
  bool has_head;
  kp_outbox_head_t head;
  const char *head_problem; /* head file present but unparseable */
  uint64_t *acked;
  size_t nacked;
} kp_outbox_expect_t;
kp_status_t kp_outbox_expect_load(const char *dir, kp_outbox_expect_t *e);
void kp_outbox_expect_free(kp_outbox_expect_t *e);
/** Key ids, one per line ('#' comments); for --trusted-keys. Caller frees *ids. */
kp_status_t kp_outbox_load_key_ids(const char *path, char (**ids)[33], size_t *n);

/* ---- the outbox on disk ---- */
typedef struct kp_outbox kp_outbox_t;

kp_status_t kp_outbox_open(const char *dir, kp_outbox_t **out);
void kp_outbox_close(kp_outbox_t *ob);
const char *kp_outbox_key_id_str(const kp_outbox_t *ob);
const char *kp_outbox_chain_path(const kp_outbox_t *ob);
/** Bytes cut off a torn tail when the outbox was opened (0 normally). */
size_t kp_outbox_recovered_bytes(const kp_outbox_t *ob);
/** Sign, chain and append one measurement (a JSON object in valid UTF-8); durable on return. */
kp_status_t kp_outbox_append(kp_outbox_t *ob, const char *msm, size_t n, uint64_t *seq);
uint64_t kp_outbox_head_seq(const kp_outbox_t *ob);
/**
 * A signed checkpoint of this outbox: of its head (@p delivered_only false), or of the longest
 * prefix 1..s that is all delivered (true; what an uploader sends the collector).
 */
kp_status_t kp_outbox_checkpoint(kp_outbox_t *ob, bool delivered_only, kp_outbox_head_t *h);

typedef int (*kp_outbox_list_cb)(void *ctx, const kp_outbox_rec_t *rec, const char *uid /* NULL: pending */);
/** Every complete, parseable record in order, with its delivery state. */
kp_status_t kp_outbox_list(kp_outbox_t *ob, kp_outbox_list_cb cb, void *ctx);
size_t kp_outbox_pending(kp_outbox_t *ob);
/** Record delivery of @p seq (durable). */
kp_status_t kp_outbox_mark_delivered(kp_outbox_t *ob, uint64_t seq, const char *uid);

/** Record delivery of @p n records at once: one durable append (one fdatasync) for all. */
kp_status_t kp_outbox_mark_delivered_many(kp_outbox_t *ob, const uint64_t *seq, const char *const *uid, size_t n);

/* ---- uploader ---- */
#define KP_UPLOAD_DEFAULT_PREFIX "/api/v1/keepon"

typedef struct kp_upload_cfg {
  const char *url;         /* collector base URL, "https://name[:port]" (or http://) */
  const char *path_prefix; /* routes are <prefix>/batch and <prefix>/submit; NULL = KP_UPLOAD_DEFAULT_PREFIX
                              (a front such as nginx can expose them under any neutral path) */
  kp_httpc_t *http;        /* the control-plane client (CA, proxy, UA); required; one connection kept */
  int batch;               /* records per request (default 256, max 1024); 1 = one /submit each */
  size_t batch_bytes;      /* and at most this many body bytes per request (default 4 MiB) */
  int max_attempts;        /* per batch per run; 0 = 8 */
  int base_delay_ms;       /* first backoff (default 500) */
  int max_delay_ms;        /* cap (default 60000) */
  int timeout_ms;          /* per request (default 10000) */
  int64_t deadline_ms;     /* give up the whole run after this long (0 = none) */
  uint32_t seed;           /* jitter PRNG seed (0 = from the clock) */
  const kp_clock_t *clock; /* NULL = system; time for deadline */
  void (*sleep_ms)(void *ctx, int ms); /* NULL = nanosleep; tests inject a fake */
  void *sleep_ctx;
} kp_upload_cfg_t;

typedef struct kp_upload_stats {
  size_t delivered, duplicates, rejected, remaining, attempts, requests_batch, requests_single;
  uint64_t checkpoint_seq;  /* head checkpoint the collector accepted this run (0: none) */
} kp_upload_stats_t;

/**
 * Deliver pending records in seq order. Batch mode: up to cfg->batch record lines per
 * POST <prefix>/batch (NDJSON) over the one kept-alive connection of cfg->http; the collector
 * answers one result per line, so each record is acked individually. A collector without the
 * batch route (404/405/415) is served one POST <prefix>/submit per record, as is a batch the
 * collector cannot take (400); 413 halves the batch. A failed attempt (no connection, timeout,
 * 408/429/5xx — of the request or of single records) waits kp_backoff_ms and retries what is
 * still pending; a record answered with another 4xx stays pending, is counted as rejected and
 * the run moves on. Delivery is idempotent: the collector dedups by content hash and answers the
 * stored uid, so a retry after a lost reply stores nothing twice. Only a 200 with a
 * measurement_uid marks a record delivered (durably, acked.log, one fdatasync per batch).
 * @return KP_OK when nothing remains pending, KP_ERR_BUSY when some does, other errors for a
 *         broken run (our own files, memory).
 */
kp_status_t kp_outbox_upload(kp_outbox_t *ob, const kp_upload_cfg_t *cfg, kp_upload_stats_t *st);
/** The backoff before attempt @p k (0-based) with full jitter: uniform in [0, min(cap, base*2^k)]. */
int kp_outbox_backoff_ms(const kp_upload_cfg_t *cfg, int k, uint32_t *rng);

/**
 * Deliver pending records to an OONI collector with OONI's protocol (ooni_upload.c: open a
 * report per template, submit {format:"json",content}, close). cfg->url is the collector base
 * ("https://name", or "ooni+https://name"); path_prefix and batch are not used. Records with
 * probe_cc ZZ / probe_asn AS0 are not sent (OONI drops them): counted refused, stay pending.
 * Report ids are kept in <outbox>/ooni-reports so a re-sent record is byte-identical.
 * @return as kp_outbox_upload.
 */
kp_status_t kp_outbox_upload_ooni(kp_outbox_t *ob, const kp_upload_cfg_t *cfg, kp_upload_stats_t *st);
/** Pure: the POST /report body for measurement @p m and its sha256 hex key (65 bytes). */
kp_status_t kp_ooni_report_template(const kp_json_t *m, kp_buf_t *out, char key[65]);
/** Pure: the POST /report/{id} body: {"format":"json","content": m with report_id := @p report_id}. */
kp_status_t kp_ooni_submit_body(const kp_json_t *m, const char *report_id, kp_buf_t *out);

/** Pure: parse a batch answer into per-record results (exactly @p n expected).
 *  status[i] = HTTP status of record i, uid[i] = its measurement_uid (<128 chars) or "",
 *  dup[i] = already stored. KP_ERR_INVAL when the answer is not n well-formed results. */
kp_status_t kp_upload_parse_batch(const void *p, size_t len, size_t n, int *status, char (*uid)[128], bool *dup);

#endif
