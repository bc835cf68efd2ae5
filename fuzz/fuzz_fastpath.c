/*
 * fuzz_fastpath.c: OONI-fastpath scoring over arbitrary measurement JSON (what the collector
 * scores for every upload), with a small fingerprint table of each kind. Scoring must be
 * deterministic and its flags consistent with its scores. Seed ooni_report1.json is real OONI
 * data (ooni/backend fastpath/tests/data/report1.json).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastpath/fastpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char dns_fp[] =
  "[{\"name\":\"d1\",\"scope\":\"nat\",\"location_found\":\"dns\",\"pattern_type\":\"full\",\"pattern\":\"10.10.34.36\","
  "\"expected_countries\":\"IR\"},{\"name\":\"d2\",\"scope\":\"isp\",\"location_found\":\"dns\",\"pattern_type\":\"full\","
  "\"pattern\":\"blocked.example\",\"expected_countries\":\"\"}]";
static const char http_fp[] =
  "[{\"name\":\"h1\",\"scope\":\"nat\",\"location_found\":\"body\",\"pattern_type\":\"contains\",\"pattern\":\"Stop Page\","
  "\"expected_countries\":\"IT\"},{\"name\":\"h2\",\"scope\":\"prod\",\"location_found\":\"header.location\","
  "\"pattern_type\":\"prefix\",\"pattern\":\"http://block.\",\"expected_countries\":\"ID, ZZ\"},"
  "{\"name\":\"h3\",\"scope\":\"inst\",\"location_found\":\"header.server\",\"pattern_type\":\"full\",\"pattern\":\"FW\","
  "\"expected_countries\":\"KZ\"}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static kp_fp_db_t *db;
  if (!db && kp_fp_db_parse(dns_fp, sizeof dns_fp - 1, http_fp, sizeof http_fp - 1, &db) != KP_OK) abort();
  kp_json_doc_t *doc = NULL;
  kp_json_limits_t lim = {.max_depth = 64, .max_bytes = 1 << 24};
  if (kp_json_parse(data, size, &lim, &doc, NULL) != KP_OK) return 0;
  kp_fastpath_flags_t a, b;
  kp_fastpath_score(kp_json_root(doc), db, 1700000000, &a);
  kp_fastpath_score(kp_json_root(doc), db, 1700000000, &b);
  if (memcmp(&a, &b, sizeof a) != 0) abort();
  if (a.anomaly != (a.blocking_general > 0.5) || a.failure != (a.accuracy < 0.5)) abort();
  if (a.confirmed && !a.fingerprint[0]) abort();
  kp_json_doc_free(doc);
  return 0;
}
