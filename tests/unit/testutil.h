/* tests/unit/testutil.h: helpers shared by the unit, MPI and coverage tests (testutil.c,
 * linked into every test by tests/CMakeLists.txt), written once instead of per test file.
 * Not a test itself: tests/unit/test_*.c are the tests, so this file has another name. */
#ifndef LATFLOW_TESTS_TESTUTIL_H
#define LATFLOW_TESTS_TESTUTIL_H

#include <stddef.h>

/* The loss of a finite-difference check: a scalar function of whatever ctx points to. */
typedef double (*lf_loss_fn)(void *ctx);

/* Worst relative error between grad[] and central differences of loss(ctx) in each
 * theta[i] (step h): err = |g - fd| / max(den_min, |g| + |fd|). theta is restored exactly. */
double lf_gradcheck_floor(lf_loss_fn loss, void *ctx, double *theta, const double *grad, size_t n,
                          double h, double den_min);

/* The plain relative check: lf_gradcheck_floor with den_min 1e-8. */
double lf_gradcheck(lf_loss_fn loss, void *ctx, double *theta, const double *grad, size_t n,
                    double h);

/* Like lf_gradcheck, but the relative error of entry i is taken against
 * max(|g_i| + |fd_i|, 1e-3 max_j |g_j|): components a thousand times smaller than the
 * largest (leaky_relu slopes, spline knots, long sums) have central differences whose
 * roundoff of the loss (~1e-16 |L| / h) lies far above 1e-8 of their size. A wrong
 * gradient still shows as an error of order 1 relative to the floor. Central differences
 * of loss(ctx) in each theta[i] with step h; theta is restored exactly. Returns the worst. */
double lf_gradcheck_scaled(lf_loss_fn loss, void *ctx, double *theta, const double *grad, size_t n,
                           double h);

/* max_i |a[i] - b[i]| (0 for n = 0). */
double lf_test_maxabsdiff(size_t n, const double *a, const double *b);

/* ---- scratch files in the current directory ---- */

/* A unique file name "<prefix>_<pid>_<tag>" (at most LF_TEST_NAMES per process), removed
 * by lf_test_cleanup together with its ".tmp" and ".tmp.tmp". */
#define LF_TEST_NAMES 64
const char *lf_test_tname(const char *prefix, const char *tag);
/* How many of the lf_test_tname names with suffix appended exist (".tmp": temporaries
 * a writer left behind). */
int lf_test_tnames_left(const char *suffix);
/* Removes every lf_test_tname file, its .tmp and its .tmp.tmp. */
void lf_test_cleanup(void);

/* 1 if path exists (stat). */
int lf_test_exists(const char *path);
/* Reads a whole file (malloc'ed; the caller frees it); *n its size. NULL on failure. */
unsigned char *lf_test_slurp(const char *path, size_t *n);
/* Writes n bytes of buf as the whole file path; 1 on success. */
int lf_test_spew(const char *path, const void *buf, size_t n);
/* Copies the file from to the file to; 1 on success. */
int lf_test_copy_file(const char *from, const char *to);

#endif
