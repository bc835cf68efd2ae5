/*
 * geo_parse.h (internal to src/geo, also used by the fuzzers): pure parsers for the text inputs
 * of the geo module. No I/O; every byte goes through kp_cur_t; lines longer than
 * KP_GEO_LINE_MAX are an error (KP_ERR_RANGE), as are more than @p max_rows rows.
 */
#ifndef KP_GEO_GEO_PARSE_H
#define KP_GEO_GEO_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

#define KP_GEO_LINE_MAX 1024

/** One IPv4 prefix with optional attributes (the CIDR list and geo table share it). */
typedef struct kp_geo_row {
  uint32_t net;        /* host order, host bits zero */
  uint8_t len;         /* 0..32 */
  char cc[3];          /* "" when absent */
  char region[64];     /* "" when absent */
  uint32_t asn;        /* 0 when absent */
  char as_name[96];    /* "" when absent */
} kp_geo_row_t;

/** A row callback; return non-KP_OK to stop parsing with that status. */
typedef kp_status_t (*kp_geo_row_fn)(void *ctx, const kp_geo_row_t *row);

/**
 * CIDR list: one IPv4 prefix per line, '#' starts a comment, blank lines and IPv6 prefixes
 * are skipped. @p line_err (may be NULL) receives the 1-based line of the first error.
 */
kp_status_t kp_geo_parse_cidr(const void *p, size_t n, kp_geo_row_fn fn, void *ctx,
                              size_t *line_err);

/**
 * keepon geo table (docs/formats.md, "geo table"): CSV lines prefix,cc,region,asn,as_name.
 * An optional header line starting with "prefix," (first non-comment line) is skipped; # lines are comments.
 * Fields may be double-quoted ("" is a quote inside). Empty cc/region/asn/as_name = unknown.
 */
kp_status_t kp_geo_parse_table(const void *p, size_t n, kp_geo_row_fn fn, void *ctx,
                               size_t *line_err);

/** One ASN range of the ip-location-db CSV (start,end,asn,as_name), addresses in host order. */
typedef struct kp_geo_asn_range {
  uint32_t first, last;
  uint32_t asn;
  char as_name[96];
} kp_geo_asn_range_t;
typedef kp_status_t (*kp_geo_asn_fn)(void *ctx, const kp_geo_asn_range_t *r);

/** ip-location-db ASN CSV (IPv4 rows; IPv6 rows are skipped). */
kp_status_t kp_geo_parse_asn_csv(const void *p, size_t n, kp_geo_asn_fn fn, void *ctx,
                                 size_t *line_err);

/** Split one CSV line into at most @p max fields (quotes honoured); returns field count or -1. */
int kp_geo_csv_split(char *line, char **fields, int max);

#endif
