/*
 * bgp.h: MRT (RFC 6396, 6793, 8050) reading, bgpdump-compatible output, and
 * the routing-visibility signal (per-peer RIBs -> /24s seen by full-feed peers).
 *
 * Layers, each usable alone:
 *   1. kp_mrt_reader: bytes in (file, stdin; gzip/bzip2/plain by content) ->
 *      framed records with their byte offset. Bounded: a record longer than
 *      max_record is reported and skipped without being buffered.
 *   2. kp_mrt_ctx + kp_bgp_dump_record: one record -> the exact lines of
 *      `bgpdump -m` (pure; appends to a kp_buf_t).
 *   3. kp_bgp_elems: one record -> elements (RIB entry, announcement,
 *      withdrawal, state change) for analysis.
 *   4. kp_bgp_vis: elements -> per-peer RIBs -> per-bin visibility and update
 *      counts per country, region and origin ASN, as signal-point JSONL.
 * A corrupt record makes 2 and 3 return KP_ERR_INVAL (nothing appended or
 * delivered) with a reason in kp_mrt_ctx_error(); callers skip it and go on.
 */
#ifndef KP_BGP_BGP_H
#define KP_BGP_BGP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

/* ---- 1. records ---------------------------------------------------------- */

enum {
  KP_MRT_BGP = 5, /* deprecated MRTD "BGP" type */
  KP_MRT_TABLE_DUMP = 12,
  KP_MRT_TABLE_DUMP_V2 = 13,
  KP_MRT_BGP4MP = 16,
  KP_MRT_BGP4MP_ET = 17,
};

typedef struct kp_mrt_rec {
  uint64_t offset;     /* of the record header in the decompressed stream */
  uint32_t ts;         /* seconds */
  uint32_t usec;       /* BGP4MP_ET only, else 0 */
  uint16_t type, subtype;
  uint32_t len;        /* body length (ET: without the microseconds) */
  const uint8_t *body; /* borrowed; valid until the next read */
} kp_mrt_rec_t;

#define KP_MRT_MAX_RECORD_DEFAULT ((size_t)16 << 20)

/**
 * Frame the record at the start of p[0..n): KP_OK (*used = header + body),
 * KP_ERR_TRUNC (not enough bytes: a short header or body), KP_ERR_INVAL (an
 * ET record shorter than its microseconds field). Pure.
 */
kp_status_t kp_mrt_frame(const uint8_t *p, size_t n, kp_mrt_rec_t *rec, size_t *used);

typedef struct kp_mrt_reader kp_mrt_reader_t;

/** Open @p path ("-" = stdin). Compression is detected from the first bytes. */
kp_status_t kp_mrt_open(const char *path, size_t max_record, kp_mrt_reader_t **out);
/**
 * Next record. KP_OK: *rec filled. KP_ERR_NOTFOUND: clean end of input.
 * KP_ERR_TRUNC: the input ended inside a record (offset in rec->offset).
 * KP_ERR_RANGE: the record at rec->offset is longer than max_record; it was
 * skipped and the next call continues after it. KP_ERR_IO: read/decompress error.
 */
kp_status_t kp_mrt_next(kp_mrt_reader_t *r, kp_mrt_rec_t *rec);
/** Decompressed bytes consumed so far. */
uint64_t kp_mrt_reader_pos(const kp_mrt_reader_t *r);
/** Compressed (file) bytes read so far. */
uint64_t kp_mrt_reader_raw(const kp_mrt_reader_t *r);
void kp_mrt_close(kp_mrt_reader_t *r);

/* ---- 2. bgpdump -m -------------------------------------------------------- */

/** Per-input parsing state (the TABLE_DUMP_V2 peer index table, scratch). */
typedef struct kp_mrt_ctx kp_mrt_ctx_t;

kp_status_t kp_mrt_ctx_new(kp_mrt_ctx_t **out);
void kp_mrt_ctx_free(kp_mrt_ctx_t *c);
/** Forget the peer index table (call between input files). */
void kp_mrt_ctx_reset(kp_mrt_ctx_t *c);
/** Why the last record was rejected (static or ctx-owned text). */
const char *kp_mrt_ctx_error(const kp_mrt_ctx_t *c);

/**
 * Append the `bgpdump -m` lines of @p rec to @p out (*lines += count).
 * Records bgpdump prints nothing for (OPEN, KEEPALIVE, PEER_INDEX_TABLE, ...)
 * append nothing and return KP_OK. KP_ERR_INVAL: corrupt record, nothing
 * appended. KP_ERR_NOMEM: @p out hit its cap.
 */
kp_status_t kp_bgp_dump_record(kp_mrt_ctx_t *c, const kp_mrt_rec_t *rec, kp_buf_t *out, uint64_t *lines);

/* ---- 3. elements ---------------------------------------------------------- */

typedef enum kp_bgp_elem_type {
  KP_BGP_RIB = 1,   /* a route in a RIB dump */
  KP_BGP_ANNOUNCE,  /* an announcement in an UPDATE */
  KP_BGP_WITHDRAW,  /* a withdrawal in an UPDATE */
  KP_BGP_STATE,     /* a peer state change */
} kp_bgp_elem_type_t;

typedef struct kp_bgp_elem {
  kp_bgp_elem_type_t type;
  uint32_t ts;
  uint8_t peer_afi;      /* 1 = IPv4, 2 = IPv6 */
  uint8_t peer_ip[16];   /* network order; IPv4 in [0..3] */
  uint32_t peer_as;
  uint8_t afi;           /* of the prefix */
  uint8_t plen;
  uint8_t prefix[16];    /* host bits zero */
  uint32_t path_id;
  uint32_t origin_as;    /* last AS of the (AS4-merged) path; 0 if none or a set */
  uint16_t old_state, new_state; /* KP_BGP_STATE: RFC 4271 numbering (6 = Established) */
} kp_bgp_elem_t;

/** Return non-zero to stop the iteration early. */
typedef int (*kp_bgp_elem_fn)(void *arg, const kp_bgp_elem_t *e);

/** Deliver the elements of @p rec (unicast IPv4/IPv6 only). KP_ERR_INVAL: corrupt, none delivered. */
kp_status_t kp_bgp_elems(kp_mrt_ctx_t *c, const kp_mrt_rec_t *rec, kp_bgp_elem_fn fn, void *arg);

/* ---- 4. visibility ---------------------------------------------------------- */

struct kp_geo;

typedef struct kp_bgp_vis_config {
  uint32_t bin;             /* seconds, default 300 */
  uint32_t full_feed_min;   /* IPv4 prefixes for a full-feed peer, default 400000 */
  double vis_frac;          /* a /24 is visible when seen by >= this share of full-feed peers, 0.5 */
  uint32_t stale_after;     /* a peer silent this long (s) after going down is dropped; 0 = never */
  const struct kp_geo *geo; /* country/region lookup (NULL: ASN entities only) */
  const char *const *countries; /* NULL-terminated ISO codes whose /24s are tracked (needs geo) */
  const uint32_t *asns;     /* origin ASNs to report; NULL = every origin seen */
  size_t nasns;
  bool per_country, per_region, per_asn;
} kp_bgp_vis_config_t;

typedef struct kp_bgp_vis kp_bgp_vis_t;

kp_status_t kp_bgp_vis_new(const kp_bgp_vis_config_t *cfg, kp_bgp_vis_t **out);
void kp_bgp_vis_free(kp_bgp_vis_t *v);
/**
 * Feed one element (in time order). When the element's time crosses a bin
 * boundary, the finished bin's signal points are appended to @p out as JSONL.
 */
kp_status_t kp_bgp_vis_add(kp_bgp_vis_t *v, const kp_bgp_elem_t *e, kp_buf_t *out);
/** Close the current bin and append its points. */
kp_status_t kp_bgp_vis_flush(kp_bgp_vis_t *v, kp_buf_t *out);
/** Peers currently known and how many of them are full-feed (for logs/tests). */
void kp_bgp_vis_stats(const kp_bgp_vis_t *v, size_t *peers, size_t *full_feed);

#endif
