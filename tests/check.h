/*
 * check.h: the few assertion macros the unit tests share.
 *
 * A failed check prints where and what, and the test goes on, so one run
 * shows every failure; main() returns check_finish() to report the count.
 */
#ifndef XS2S_TEST_CHECK_H
#define XS2S_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                            \
  do {                                                                         \
    check_count++;                                                             \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      check_failures++;                                                        \
    }                                                                          \
  } while (0)

#define CHECK_INT(got, want)                                                   \
  do {                                                                         \
    long long got_ = (long long)(got), want_ = (long long)(want);             \
    check_count++;                                                             \
    if (got_ != want_) {                                                       \
      fprintf(stderr, "%s:%d: %s is %lld, expected %lld\n", __FILE__,          \
              __LINE__, #got, got_, want_);                                    \
      check_failures++;                                                        \
    }                                                                          \
  } while (0)

#define CHECK_STR(got, want)                                                   \
  do {                                                                         \
    const char *got_ = (got), *want_ = (want);                                 \
    check_count++;                                                             \
    if (!got_ || !want_ || strcmp(got_, want_) != 0) {                         \
      fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__,      \
              __LINE__, #got, got_ ? got_ : "(null)",                          \
              want_ ? want_ : "(null)");                                       \
      check_failures++;                                                        \
    }                                                                          \
  } while (0)

/* Runs one test function and says its name, so a failure is easy to place. */
#define RUN(fn)                                                                \
  do {                                                                         \
    int before_ = check_failures;                                              \
    fn();                                                                      \
    printf("%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #fn);       \
  } while (0)

static inline int check_finish(void) {
  printf("%d checks, %d failed\n", check_count, check_failures);
  return check_failures ? 1 : 0;
}

#endif /* XS2S_TEST_CHECK_H */
