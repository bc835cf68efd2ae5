#include "base/rand.h"

uint64_t kp_splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double kp_rand_unit(uint64_t *s) { return (double)(kp_splitmix64(s) >> 11) * 0x1.0p-53; }

static uint64_t gcd64(uint64_t a, uint64_t b) {
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

kp_perm_t kp_perm_make(uint64_t *s, uint64_t n) {
  kp_perm_t p = {1, 0, n ? n : 1};
  if (n < 2) return p;
  do p.a = 1 + kp_splitmix64(s) % (n - 1);
  while (gcd64(p.a, n) != 1);
  p.c = kp_splitmix64(s) % n;
  return p;
}
