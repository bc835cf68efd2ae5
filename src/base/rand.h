/*
 * rand.h: deterministic pseudo-randomness for scheduling (not for secrets: keys and
 * report ids use libsodium / getrandom).
 *
 * kp_splitmix64: Steele, Lea and Flood's SplitMix64; one 64-bit state, full period.
 * kp_perm_*: an affine permutation of [0, n), i -> (a*i + c) mod n with gcd(a, n) = 1,
 * so a probing order is shuffled in O(1) memory and visits every index exactly once.
 */
#ifndef KP_BASE_RAND_H
#define KP_BASE_RAND_H

#include <stdint.h>

uint64_t kp_splitmix64(uint64_t *state);
/** Uniform double in [0, 1). */
double kp_rand_unit(uint64_t *state);

typedef struct kp_perm {
  uint64_t a, c, n; /* transparent so it can live on the stack */
} kp_perm_t;

/** A fresh permutation of [0, n) drawn from @p state (n = 0 is treated as 1). */
kp_perm_t kp_perm_make(uint64_t *state, uint64_t n);
static inline uint64_t kp_perm_at(const kp_perm_t *p, uint64_t i) {
  return (uint64_t)(((unsigned __int128)p->a * i + p->c) % p->n);
}

#endif
