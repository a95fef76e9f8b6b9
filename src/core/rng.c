/* Philox-4x32-10 counter-based RNG (Salmon et al., SC11) through Random123's C API.
 * See latflow/rng.h for the key and counter layout. */
#include "latflow/rng.h"

#include <Random123/philox.h>
#include <math.h>

static const double two_pi = 6.283185307179586476925286766559;

void lf_rng_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  philox4x32_ctr_t c = {{ctr[0], ctr[1], ctr[2], ctr[3]}};
  philox4x32_key_t k = {{key[0], key[1]}};
  philox4x32_ctr_t r = philox4x32_R(10, c, k);
  for (int i = 0; i < 4; i++) out[i] = r.v[i];
}

lf_rng_key lf_rng_key_make(uint64_t seed, uint32_t stream) {
  const uint32_t ctr[4] = {stream, 0u, 0u, 0u};
  const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  uint32_t out[4];
  lf_rng_philox(ctr, key, out);
  lf_rng_key k = {{out[0], out[1]}};
  return k;
}

/* Two open-interval uniforms from one Philox block j of element (step, index). */
static void block2(lf_rng_key k, uint32_t step, uint64_t index, uint32_t j, double u[2]) {
  const uint32_t ctr[4] = {j, step, (uint32_t)index, (uint32_t)(index >> 32)};
  uint32_t r[4];
  lf_rng_philox(ctr, k.k, r);
  for (int i = 0; i < 2; i++) {
    const uint64_t w = ((uint64_t)r[2 * i + 1] << 32) | (uint64_t)r[2 * i];
    u[i] = ((double)(w >> 11) + 0.5) * 0x1.0p-53;
  }
}

void lf_rng_uniform_n(lf_rng_key k, uint32_t step, uint64_t index, size_t n, double *out) {
  double u[2];
  for (size_t i = 0; i < n; i += 2) {
    block2(k, step, index, (uint32_t)(i / 2), u);
    out[i] = u[0];
    if (i + 1 < n) out[i + 1] = u[1];
  }
}

double lf_rng_uniform(lf_rng_key k, uint32_t step, uint64_t index) {
  double u[2];
  block2(k, step, index, 0u, u);
  return u[0];
}

void lf_rng_normal(lf_rng_key k, uint32_t step, uint64_t index, size_t n, double *out) {
  double u[2];
  for (size_t i = 0; i < n; i += 2) {
    block2(k, step, index, (uint32_t)(i / 2), u);
    const double r = sqrt(-2.0 * log(u[0]));
    out[i] = r * cos(two_pi * u[1]);
    if (i + 1 < n) out[i + 1] = r * sin(two_pi * u[1]);
  }
}
