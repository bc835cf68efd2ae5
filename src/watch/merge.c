/*
 * merge.c: one round of many vantages' block states -> one merged state per block, plus each
 * vantage's health. Pure: no clock, no I/O; the round is whatever set of observations the
 * caller passes (the collector's view groups them by rounded round start, vview.c).
 *
 * Vantage health, judged per round from that round's observations only:
 *
 *   ref(v)    = blocks v reported that at least one OTHER vantage sees UP
 *   ref_up(v) = those that v sees UP too
 *   judged(v) = |ref(v)| >= max(KP_MERGE_MIN_REF, KP_MERGE_JUDGE_MIN * |blocks in the round|)
 *   healthy(v) = !judged(v) || ref_up(v) >= KP_MERGE_HEALTH_MIN * |ref(v)|
 *
 *            judged, reach < 0.5                       (reach = ref_up / ref)
 *   HEALTHY ─────────────────────────────> FAULT      a vantage fault event (vantage, t),
 *      ^  <───────────────────────────────   │        never the country's outage: a FAULT
 *      │     reach >= 0.5, or not judged     │        vantage's states decide nothing
 *      └─ not judged: the others see < 20 % of the round's blocks up (the country is down
 *         for them too, so seeing it down is agreement, not a fault)
 *
 * Why 0.5: a vantage with a working uplink disagrees with the others only on blocks near the
 * belief thresholds (sparse blocks, one round late) or behind a path-specific problem: a few
 * percent. One that lost its uplink sees ~0 % of what the others see. Half separates the two
 * with a wide margin either way, and a vantage that lost *part* of its paths (< half) is kept:
 * it cannot make a block down on its own anyway (below).
 *
 * Block state per round, from the healthy vantages that reported it:
 *
 *   any healthy UP                  -> UP         (a reply proves the block is up)
 *   every healthy reporter DOWN     -> DOWN       (the country's outage needs all of them)
 *   otherwise (DOWN/UNCERTAIN mix,
 *     all UNCERTAIN, or no healthy
 *     reporter at all)              -> UNCERTAIN
 *
 * agree = healthy reporters whose own state equals the merged state.
 */
#include <stdlib.h>
#include <string.h>

#include "watch/watch.h"

static int cmp_obs(const void *a, const void *b) {
  const kp_vobs_t *x = a, *y = b;
  if (x->block != y->block) return x->block < y->block ? -1 : 1;
  return (x->vantage > y->vantage) - (x->vantage < y->vantage);
}

kp_status_t kp_merge_round(kp_vobs_t *obs, size_t n, size_t nvantages, kp_merge_block_t *out,
                           size_t *nout, kp_merge_vstat_t *vs) {
  if ((n && (!obs || !out)) || !nout || !vs || nvantages == 0 || nvantages > KP_MERGE_MAX_VANTAGES)
    return KP_ERR_INVAL;
  for (size_t i = 0; i < n; i++)
    if (obs[i].vantage >= nvantages || obs[i].state > KP_TRI_DOWN) return KP_ERR_INVAL;
  memset(vs, 0, nvantages * sizeof *vs);
  if (n) qsort(obs, n, sizeof *obs, cmp_obs);
  /* pass 1: per block group, who sees it up; reference counts of every reporter */
  size_t nblocks = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i, nup = 0;
    for (; j < n && obs[j].block == obs[i].block; j++) {
      if (j > i && obs[j].vantage == obs[j - 1].vantage) continue; /* duplicate */
      vs[obs[j].vantage].reported++;
      if (obs[j].state == KP_TRI_UP) {
        vs[obs[j].vantage].up++;
        nup++;
      }
    }
    for (size_t k = i; k < j; k++) {
      if (k > i && obs[k].vantage == obs[k - 1].vantage) continue;
      size_t others_up = nup - (obs[k].state == KP_TRI_UP);
      if (others_up) {
        vs[obs[k].vantage].ref++;
        if (obs[k].state == KP_TRI_UP) vs[obs[k].vantage].ref_up++;
      }
    }
    nblocks++;
    i = j;
  }
  for (size_t v = 0; v < nvantages; v++) {
    double need = KP_MERGE_JUDGE_MIN * (double)nblocks;
    vs[v].judged = vs[v].ref >= KP_MERGE_MIN_REF && (double)vs[v].ref >= need;
    vs[v].healthy = !vs[v].judged || (double)vs[v].ref_up >= KP_MERGE_HEALTH_MIN * (double)vs[v].ref;
  }
  /* pass 2: merged state from the healthy reporters */
  size_t m = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    unsigned rep = 0, healthy = 0, up = 0, down = 0, unc = 0;
    for (; j < n && obs[j].block == obs[i].block; j++) {
      if (j > i && obs[j].vantage == obs[j - 1].vantage) continue;
      rep++;
      if (!vs[obs[j].vantage].healthy) continue;
      healthy++;
      up += obs[j].state == KP_TRI_UP;
      down += obs[j].state == KP_TRI_DOWN;
      unc += obs[j].state == KP_TRI_UNCERTAIN;
    }
    kp_merge_block_t *b = &out[m++];
    b->block = obs[i].block;
    b->reported = (uint8_t)rep;
    b->healthy = (uint8_t)healthy;
    if (up) {
      b->state = KP_TRI_UP;
      b->agree = (uint8_t)up;
    } else if (healthy && down == healthy) {
      b->state = KP_TRI_DOWN;
      b->agree = (uint8_t)down;
    } else {
      b->state = KP_TRI_UNCERTAIN;
      b->agree = (uint8_t)unc;
    }
    i = j;
  }
  *nout = m;
  return KP_OK;
}
