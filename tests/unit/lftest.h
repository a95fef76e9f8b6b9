/* tests/unit/lftest.h: a minimal test harness; the finite-difference gradient checks and
 * the other shared helpers of testutil.h come with it.
 *
 * CHECK(cond, fmt, ...) records a failure (and prints it) without stopping; the test's
 * main returns lf_test_result(), i.e. 1 if any check failed. Every check prints what
 * it compared, so a log shows the numbers behind a pass as well as a fail. */
#ifndef LATFLOW_TESTS_LFTEST_H
#define LATFLOW_TESTS_LFTEST_H

#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>

#include "latflow/rng.h"
#include "testutil.h"

static int lf_test_failures = 0;
static int lf_test_checks = 0;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    lf_test_checks++;                                                                              \
    if (!(cond)) {                                                                                 \
      lf_test_failures++;                                                                          \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                         \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
    } else {                                                                                       \
      fprintf(stderr, "ok   ");                                                                    \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
    }                                                                                              \
  } while (0)

static inline int lf_test_result(void) {
  fprintf(stderr, "%d checks, %d failed\n", lf_test_checks, lf_test_failures);
  return lf_test_failures ? 1 : 0;
}

/* log|det A| of an n x n matrix (destroyed) by LAPACK's LU (dgetrf; the determinant of
 * the transpose is the same, so row-major storage is fine). NaN if dgetrf fails. */
void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);
static inline double lf_test_logabsdet(int n, double *a) {
  int info = 0;
  int *ipiv = (int *)malloc((size_t)n * sizeof *ipiv);
  dgetrf_(&n, &n, a, &n, ipiv, &info);
  free(ipiv);
  if (info < 0) return NAN;
  double s = 0.0;
  for (int k = 0; k < n; k++) s += log(fabs(a[(size_t)k * n + k]));
  return s;
}

/* n standard normals from the test stream (seed 5) at the given step. */
static inline void lf_test_randn(uint32_t step, size_t n, double *out) {
  lf_rng_normal(lf_rng_key_make(5, LF_STREAM_TEST), step, 0, n, out);
}

#endif
