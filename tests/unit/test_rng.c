/* Philox-4x32-10 known-answer vectors (Random123 kat_vectors, philox4x32_10 rows) and
 * the statistics and determinism of the uniform and normal variates. */
#include "latflow/rng.h"
#include "lftest.h"

#include <stdint.h>
#include <string.h>

int main(void) {
  /* Random123 kat_vectors: philox4x32 10 <ctr> <key> <expected> */
  static const uint32_t kat[3][10] = {
      {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x6627e8d5,
       0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
       0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
       0x94fdcceb, 0x5001e420, 0x24126ea1},
  };
  for (int i = 0; i < 3; i++) {
    uint32_t out[4];
    lf_rng_philox(kat[i], kat[i] + 4, out);
    CHECK(memcmp(out, kat[i] + 6, sizeof out) == 0, "philox4x32-10 KAT %d: %08x %08x %08x %08x", i,
          out[0], out[1], out[2], out[3]);
  }

  /* determinism and independence of the request length */
  lf_rng_key k = lf_rng_key_make(1234, LF_STREAM_TEST);
  double a[7], b[3];
  lf_rng_normal(k, 5, 42, 7, a);
  lf_rng_normal(k, 5, 42, 3, b);
  CHECK(memcmp(a, b, sizeof b) == 0, "normal draws do not depend on the request length");
  lf_rng_key k2 = lf_rng_key_make(1234, LF_STREAM_TRAIN);
  lf_rng_normal(k2, 5, 42, 3, b);
  CHECK(memcmp(a, b, sizeof b) != 0, "different streams give different draws");

  /* moments: mean 0, variance 1, fourth moment 3 (tolerance 5 sigma) */
  const size_t n = 400000;
  double s1 = 0, s2 = 0, s4 = 0, u1 = 0, umin = 1, umax = 0;
  for (size_t i = 0; i < n; i += 4) {
    double x[4], u[4];
    lf_rng_normal(k, 0, i, 4, x);
    lf_rng_uniform_n(k, 1, i, 4, u);
    for (int j = 0; j < 4; j++) {
      s1 += x[j];
      s2 += x[j] * x[j];
      s4 += x[j] * x[j] * x[j] * x[j];
      u1 += u[j];
      umin = fmin(umin, u[j]);
      umax = fmax(umax, u[j]);
    }
  }
  const double m1 = s1 / n, m2 = s2 / n, m4 = s4 / n, mu = u1 / n;
  CHECK(fabs(m1) < 5.0 / sqrt(n), "normal mean %.5f (z=%.2f)", m1, m1 * sqrt(n));
  CHECK(fabs(m2 - 1) < 5.0 * sqrt(2.0 / n), "normal variance %.5f (z=%.2f)", m2,
        (m2 - 1) / sqrt(2.0 / n));
  CHECK(fabs(m4 - 3) < 5.0 * sqrt(96.0 / n), "normal 4th moment %.4f (z=%.2f)", m4,
        (m4 - 3) / sqrt(96.0 / n));
  CHECK(fabs(mu - 0.5) < 5.0 * sqrt(1.0 / 12 / n), "uniform mean %.5f (z=%.2f)", mu,
        (mu - 0.5) / sqrt(1.0 / 12 / n));
  CHECK(umin > 0.0 && umax < 1.0, "uniforms in the open interval (%.3g, %.3g)", umin, umax);
  return lf_test_result();
}
