/*
 * ch_suspect.c: content hashes whose measurement may be stored without its msm_key row.
 *
 * Why: on a cluster an INSERT into the Distributed measurements table can fail after a shard
 * committed its measurements_local part but before the materialized view wrote the same rows
 * into that shard's msm_key_local (a shard killed in between, the view's table broken). The
 * batch answers 503, the probe retries, and the retry's msm_key lookup misses the rows that
 * did land: they would be stored twice. So put_batch remembers the hashes of every row it sent
 * in a batch that failed, and a later batch looks those (and only those) up in measurements
 * itself, by (measurement_start_time, content_hash), an index range (ch_store.c).
 *
 * The set: open addressing over a fixed table of KP_CH_SUSPECT_SLOTS hex hashes, never
 * shrinking. Invariant: every hash of a row sent in a failed batch is either in the table or
 * `all` is set (the table filled up; then every miss is looked up in measurements: slower,
 * still exact). The set lives in the process: a collector restarted after a failed batch
 * forgets it (docs/store.md says so).
 */
#include <stdlib.h>
#include <string.h>

#include "store/clickhouse/ch_internal.h"

static size_t slot_of(const char *h) {
  uint64_t x = 1469598103934665603ULL; /* FNV-1a */
  for (; *h; h++) x = (x ^ (uint8_t)*h) * 1099511628211ULL;
  return (size_t)(x & (KP_CH_SUSPECT_SLOTS - 1));
}

void kp_ch_suspect_add(kp_ch_suspect_t *s, const char *hash) {
  if (s->all) return;
  size_t len = strlen(hash);
  if (!s->tab && !(s->tab = calloc(KP_CH_SUSPECT_SLOTS, sizeof *s->tab))) len = sizeof s->tab[0];
  if (len >= sizeof s->tab[0] || s->n >= KP_CH_SUSPECT_SLOTS / 2) { /* cannot keep it: check all */
    s->all = true;
    return;
  }
  for (size_t i = slot_of(hash);; i = (i + 1) & (KP_CH_SUSPECT_SLOTS - 1)) {
    if (!s->tab[i][0]) {
      memcpy(s->tab[i], hash, len + 1);
      s->n++;
      return;
    }
    if (strcmp(s->tab[i], hash) == 0) return;
  }
}

bool kp_ch_suspect_has(const kp_ch_suspect_t *s, const char *hash) {
  if (s->all) return true;
  if (!s->tab) return false;
  for (size_t i = slot_of(hash);; i = (i + 1) & (KP_CH_SUSPECT_SLOTS - 1)) {
    if (!s->tab[i][0]) return false;
    if (strcmp(s->tab[i], hash) == 0) return true;
  }
}

void kp_ch_suspect_free(kp_ch_suspect_t *s) {
  free(s->tab);
  memset(s, 0, sizeof *s);
}
