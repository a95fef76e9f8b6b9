/* Helpers shared by the tests (contract: testutil.h). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

double lf_gradcheck_floor(lf_loss_fn loss, void *ctx, double *theta, const double *grad, size_t n,
                          double h, double den_min) {
  double worst = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double t0 = theta[i];
    theta[i] = t0 + h;
    const double lp = loss(ctx);
    theta[i] = t0 - h;
    const double lm = loss(ctx);
    theta[i] = t0;
    const double fd = (lp - lm) / (2.0 * h);
    const double err = fabs(grad[i] - fd) / fmax(den_min, fabs(grad[i]) + fabs(fd));
    if (err > worst) worst = err;
  }
  return worst;
}

double lf_gradcheck(lf_loss_fn loss, void *ctx, double *theta, const double *grad, size_t n,
                    double h) {
  return lf_gradcheck_floor(loss, ctx, theta, grad, n, h, 1e-8);
}

double lf_gradcheck_scaled(lf_loss_fn loss, void *ctx, double *theta, const double *grad, size_t n,
                           double h) {
  double gmax = 0.0;
  for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(grad[i]));
  return lf_gradcheck_floor(loss, ctx, theta, grad, n, h, 1e-3 * gmax);
}

double lf_test_maxabsdiff(size_t n, const double *a, const double *b) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    if (fabs(a[i] - b[i]) > m) m = fabs(a[i] - b[i]);
  return m;
}

static char names[LF_TEST_NAMES][128];
static int nnames = 0;

const char *lf_test_tname(const char *prefix, const char *tag) {
  if (nnames >= LF_TEST_NAMES) {
    fprintf(stderr, "lf_test_tname: more than %d names; raise LF_TEST_NAMES\n", LF_TEST_NAMES);
    exit(1);
  }
  char *p = names[nnames++];
  snprintf(p, sizeof names[0], "%s_%ld_%s", prefix, (long)getpid(), tag);
  return p;
}

int lf_test_tnames_left(const char *suffix) {
  int left = 0;
  for (int i = 0; i < nnames; i++) {
    char p[sizeof names[0] + 16];
    snprintf(p, sizeof p, "%.127s%s", names[i], suffix);
    left += lf_test_exists(p);
  }
  return left;
}

void lf_test_cleanup(void) {
  for (int i = 0; i < nnames; i++) {
    char tmp[sizeof names[0] + 16];
    unlink(names[i]);
    snprintf(tmp, sizeof tmp, "%.127s.tmp", names[i]);
    unlink(tmp);
    snprintf(tmp, sizeof tmp, "%.127s.tmp.tmp", names[i]);
    unlink(tmp);
  }
}

int lf_test_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

unsigned char *lf_test_slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc(len > 0 ? (size_t)len : 1);
  if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *n = (size_t)len;
  return buf;
}

int lf_test_spew(const char *path, const void *buf, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  int ok = fwrite(buf, 1, n, f) == n;
  return fclose(f) == 0 && ok;
}

int lf_test_copy_file(const char *from, const char *to) {
  size_t n = 0;
  unsigned char *b = lf_test_slurp(from, &n);
  int ok = b && lf_test_spew(to, b, n);
  free(b);
  return ok;
}
