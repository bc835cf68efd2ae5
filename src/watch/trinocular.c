/*
 * trinocular.c: the belief arithmetic of Trinocular (Quan, Heidemann, Pradkin, SIGCOMM 2013) as
 * written down in ../shared/docs/outage-detection-anchors.md §1.2-1.3.
 *
 *   P(p|U)  = A(E(b))          P(n|U)  = 1 - A
 *   P(p|¬U) = (1 - ℓ) / |b|    P(n|¬U) = 1 - P(p|¬U)        ℓ = 0.01, |b| = 256
 *   B'(¬U)  = P(x|¬U) B(¬U) / (P(x|¬U) B(¬U) + P(x|U) B(U)), then B(¬U) is capped to
 *   [0.01, 0.99]; B(U) = 1 - B(¬U). UP when B(U) > 0.9, DOWN when B(U) < 0.1.
 *
 * The recovery table is computed from its formula (k = ceil(log 0.2 / log(1 - A))) instead of
 * trinarkular's ⌊100·A⌋-indexed table, which was generated one entry off (A = 0.10 -> 14).
 */
#include <math.h>

#include "watch/watch.h"

double kp_tri_update(double belief_up, double avail, bool positive) {
  const double p_pos_down = (1.0 - KP_TRI_LOSS) / KP_TRI_BLOCK_SIZE;
  double b_down = 1.0 - belief_up;
  double l_down = positive ? p_pos_down : 1.0 - p_pos_down;
  double l_up = positive ? avail : 1.0 - avail;
  double num = l_down * b_down;
  double den = num + l_up * belief_up;
  double nd = den > 0 ? num / den : 0.99;
  if (nd < 0.01) nd = 0.01;
  if (nd > 0.99) nd = 0.99;
  return 1.0 - nd;
}

kp_tri_state_t kp_tri_classify(double belief_up) {
  if (belief_up > KP_TRI_UP_BELIEF) return KP_TRI_UP;
  if (belief_up < KP_TRI_DOWN_BELIEF) return KP_TRI_DOWN;
  return KP_TRI_UNCERTAIN;
}

unsigned kp_tri_recovery_k(double avail) { return kp_tri_recovery_k_miss(avail, KP_TRI_RECOVERY_MISS); }

unsigned kp_tri_recovery_k_miss(double avail, double miss) {
  if (!(avail > 0)) return 64;
  if (!(miss > 0 && miss < 1)) miss = KP_TRI_RECOVERY_MISS;
  if (avail >= 1) return 1;
  double k = log(miss) / log(1.0 - avail);
  /* 1e-9 guards against 1 - A being inexact (0.8 -> 0.19999999999999996) */
  double c = ceil(k - 1e-9);
  if (c < 1) c = 1;
  if (c > 64) c = 64;
  return (unsigned)c;
}

bool kp_tri_recovery_round(unsigned rsu) { return rsu <= 4 || rsu == 8 || rsu % 16 == 0; }

const char *kp_tri_state_name(kp_tri_state_t s) {
  switch (s) {
    case KP_TRI_UP: return "up";
    case KP_TRI_DOWN: return "down";
    default: return "uncertain";
  }
}
