/*
 * kp_test.h: a tiny test harness (after libuv's test/task.h).
 *
 *   KP_TEST(name) { KP_ASSERT_EQ(1 + 1, 2); }
 *
 * Tests register themselves; main() (in harness.c) runs each one in a forked
 * child with a timeout, so a crash fails only that test. The runner prints
 * "ok/FAIL name" and a closing line "N passed, N failed". Exit 77 from a test
 * (KP_SKIP) marks it skipped; a file whose tests all skip exits 77 (CTest skip).
 * Arguments: test names to run (default all), --exclude NAME (repeatable: all but those),
 * --list. An unknown name is an error (exit 2).
 */
#ifndef KP_TEST_H
#define KP_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*kp_test_fn)(void);
void kp_test_register(const char *name, kp_test_fn fn);
/** Root of the source tree (env KP_SRC, else "."). */
const char *kp_test_src(void);
/** ../shared/data (env KP_SHARED_DATA) or NULL when absent. */
const char *kp_test_shared(void);
/** Path of the keepon binary (env KP_BIN). */
const char *kp_test_bin(void);
/** A fresh temporary folder for this test (removed by the runner). */
const char *kp_test_tmpdir(void);

#define KP_TEST(name)                                                              \
  static void kp_test_##name(void);                                                \
  __attribute__((constructor)) static void kp_test_reg_##name(void) {              \
    kp_test_register(#name, kp_test_##name);                                       \
  }                                                                                \
  static void kp_test_##name(void)

#define KP_FAIL_AT(...)                                                            \
  do {                                                                             \
    fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                              \
    fprintf(stderr, __VA_ARGS__);                                                  \
    fprintf(stderr, "\n");                                                         \
    exit(1);                                                                       \
  } while (0)

#define KP_SKIP(...)                                                               \
  do {                                                                             \
    fprintf(stderr, "  skip: ");                                                   \
    fprintf(stderr, __VA_ARGS__);                                                  \
    fprintf(stderr, "\n");                                                         \
    exit(77);                                                                      \
  } while (0)

#define KP_ASSERT(c)                                                               \
  do {                                                                             \
    if (!(c)) KP_FAIL_AT("assertion failed: %s", #c);                              \
  } while (0)
#define KP_ASSERT_MSG(c, ...)                                                      \
  do {                                                                             \
    if (!(c)) KP_FAIL_AT(__VA_ARGS__);                                             \
  } while (0)
#define KP_ASSERT_EQ(a, b)                                                         \
  do {                                                                             \
    long long kp_a_ = (long long)(a), kp_b_ = (long long)(b);                      \
    if (kp_a_ != kp_b_) KP_FAIL_AT("%s == %s: %lld != %lld", #a, #b, kp_a_, kp_b_); \
  } while (0)
#define KP_ASSERT_NE(a, b)                                                         \
  do {                                                                             \
    long long kp_a_ = (long long)(a), kp_b_ = (long long)(b);                      \
    if (kp_a_ == kp_b_) KP_FAIL_AT("%s != %s: both %lld", #a, #b, kp_a_);          \
  } while (0)
#define KP_ASSERT_STREQ(a, b)                                                      \
  do {                                                                             \
    const char *kp_a_ = (a), *kp_b_ = (b);                                         \
    if (!kp_a_ || !kp_b_ || strcmp(kp_a_, kp_b_) != 0)                             \
      KP_FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, kp_a_ ? kp_a_ : "(null)",   \
                 kp_b_ ? kp_b_ : "(null)");                                        \
  } while (0)
#define KP_ASSERT_NEAR(a, b, eps)                                                  \
  do {                                                                             \
    double kp_a_ = (a), kp_b_ = (b);                                               \
    if (!(kp_a_ - kp_b_ <= (eps) && kp_b_ - kp_a_ <= (eps)))                       \
      KP_FAIL_AT("%s ~= %s: %.9g vs %.9g", #a, #b, kp_a_, kp_b_);                   \
  } while (0)
#define KP_ASSERT_OK(st) KP_ASSERT_EQ((st), 0)

#endif
