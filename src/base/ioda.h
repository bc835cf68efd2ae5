/*
 * ioda.h: IODA API v2 shapes that keepon writes for others to read, in one place
 * (the server's /signals/raw, detect's signals/raw writer, the CODF export).
 *
 * Envelope (ioda-api src/Response/Envelope.php, serialised in declaration
 * order): {"type", "metadata": {"requestTime", "responseTime"} (ISO 8601,
 * "+00:00"), "requestParameters": {name: value, ...}, "error": null | text,
 * "perf": null | object, "data": ..., "copyright": text}. On error IODA sets
 * data to null. keepon writes perf as null (no backend timing is published)
 * and its own copyright line (the data is the deployment's, not IODA's).
 *
 * Entity codes: IODA's asn entities are the bare number ("9198", fqid
 * "asn.9198", default name "AS9198"); keepon names them "AS9198" everywhere
 * inside. Conversion happens only at this boundary.
 */
#ifndef KP_BASE_IODA_H
#define KP_BASE_IODA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/json.h"

#define KP_IODA_COPYRIGHT "This data was collected by a keepon deployment; see its operator for terms of use."

/** signals/raw request parameters, in IODA's order: from, until, datasource, sourceParams, maxPoints. */
typedef struct kp_ioda_signals_params {
  int64_t from, until;
  const char *datasource; /* NULL = null (every datasource) */
  int64_t max_points;     /* 0 = null */
} kp_ioda_signals_params_t;

/** Writes the envelope up to and including the "data" key; the caller writes data's value. */
void kp_ioda_env_begin(kp_jw_t *w, const char *type, int64_t request_time, int64_t response_time,
                       const kp_ioda_signals_params_t *p, const char *error);
/** Closes the envelope: "copyright" and the final brace. */
void kp_ioda_env_end(kp_jw_t *w);

/** IODA's code of a keepon entity code: asn "AS9198" -> "9198" (a pointer into @p code). */
const char *kp_ioda_code_out(const char *etype, const char *code);
/**
 * keepon's code of an IODA entity code: asn "9198" (or "AS9198") -> "AS9198"; other
 * types copied. @return 0, -1 when it does not fit or an asn code is not a number.
 */
int kp_ioda_code_in(const char *etype, const char *code, char *out, size_t cap);

#endif
