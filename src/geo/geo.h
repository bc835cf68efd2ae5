/*
 * geo.h: IP address -> country, region, ASN.
 *
 * Sources, combined in this order (first answer wins per field):
 *   1. CIDR lists: one file per country ("<cc>.cidr", one prefix per line,
 *      '#' comments), as in ../shared/data/geo/; optional "region" and "asn"
 *      overrides from a keepon geo table (see docs/formats.md, "geo table").
 *   2. MaxMind-format databases read with libmaxminddb: a city database
 *      (country + first subdivision) and an ASN database.
 * Lookups are read-only and thread-safe after kp_geo_open().
 */
#ifndef KP_GEO_GEO_H
#define KP_GEO_GEO_H

#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/status.h"

typedef struct kp_geo kp_geo_t;

typedef struct kp_geo_config {
  const char *city_mmdb;        /* NULL = none */
  const char *asn_mmdb;         /* NULL = none */
  const char *const *cidr_files;/* NULL-terminated list of "<cc>.cidr" paths, or NULL */
  const char *table;            /* keepon geo table (prefix,cc,region,asn,as_name), or NULL */
} kp_geo_config_t;

typedef struct kp_geo_info {
  char cc[3];          /* ISO 3166-1 alpha-2, "" if unknown */
  char region[64];     /* first subdivision name or code, "" if unknown */
  uint32_t asn;        /* 0 if unknown */
  char as_name[96];    /* "" if unknown */
} kp_geo_info_t;

kp_status_t kp_geo_open(const kp_geo_config_t *cfg, kp_geo_t **out);
void kp_geo_close(kp_geo_t *g);
/** @return KP_OK (some field known) or KP_ERR_NOTFOUND (nothing known) */
kp_status_t kp_geo_lookup(const kp_geo_t *g, const kp_addr_t *a, kp_geo_info_t *out);
/**
 * The IPv4 /24 blocks of a country: every /24 inside its CIDR list (or, with
 * only an mmdb, every /24 whose network the database assigns to @p cc).
 * @param[out] blocks malloc'd array of /24 network addresses (host order), caller frees
 */
kp_status_t kp_geo_country_blocks(const kp_geo_t *g, const char *cc, uint32_t **blocks, size_t *n);

/** Read a CIDR file into /24 blocks (host order, sorted, unique). Pure except for the read. */
kp_status_t kp_geo_cidr_blocks(const char *path, uint32_t **blocks, size_t *n);

#endif
