/* Philox-4x32-10 counter-based RNG (Salmon et al., SC11) through Random123's C API.
 * See latflow/rng.h for the key and counter layout. */
#include "latflow/rng.h"

#include "latflow/cpu.h"

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

/* Box-Muller with glibc's vector math (libmvec, linked through libm's AS_NEEDED; the
 * vector-ABI names are declared by hand, as no header declares them without -ffast-math):
 * 4 (AVX2) or 8 (AVX-512) blocks per call. A last partial group is padded, so every block
 * goes through the same vector function and its two variates depend only on (key, step,
 * index, block), never on n or on where a group starts. libmvec's results differ from
 * scalar libm's in the last bits, and may between the two levels. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__m256d _ZGVdN4v_log(__m256d x);
__m256d _ZGVdN4v_cos(__m256d x);
__m256d _ZGVdN4v_sin(__m256d x);
__m512d _ZGVeN8v_log(__m512d x);
__m512d _ZGVeN8v_cos(__m512d x);
__m512d _ZGVeN8v_sin(__m512d x);

__attribute__((target("avx2,fma"))) static void boxmuller4(const double *u0, const double *u1,
                                                           double *c, double *s) {
  const __m256d r =
      _mm256_sqrt_pd(_mm256_mul_pd(_mm256_set1_pd(-2.0), _ZGVdN4v_log(_mm256_loadu_pd(u0))));
  const __m256d a = _mm256_mul_pd(_mm256_set1_pd(two_pi), _mm256_loadu_pd(u1));
  _mm256_storeu_pd(c, _mm256_mul_pd(r, _ZGVdN4v_cos(a)));
  _mm256_storeu_pd(s, _mm256_mul_pd(r, _ZGVdN4v_sin(a)));
}

__attribute__((target("avx512f"))) static void boxmuller8(const double *u0, const double *u1,
                                                          double *c, double *s) {
  const __m512d r =
      _mm512_sqrt_pd(_mm512_mul_pd(_mm512_set1_pd(-2.0), _ZGVeN8v_log(_mm512_loadu_pd(u0))));
  const __m512d a = _mm512_mul_pd(_mm512_set1_pd(two_pi), _mm512_loadu_pd(u1));
  _mm512_storeu_pd(c, _mm512_mul_pd(r, _ZGVeN8v_cos(a)));
  _mm512_storeu_pd(s, _mm512_mul_pd(r, _ZGVeN8v_sin(a)));
}
#endif

void lf_rng_normal(lf_rng_key k, uint32_t step, uint64_t index, size_t n, double *out) {
  double u[2];
#if defined(__x86_64__) && defined(__GNUC__)
  const int level = lf_cpu_isa_cap();
  if (level >= 2) {
    const size_t G = level >= 3 ? 8 : 4, nblk = (n + 1) / 2;
    double u0[8], u1[8], c[8], s[8];
    for (size_t j0 = 0; j0 < nblk; j0 += G) {
      for (size_t g = 0; g < G; g++) {
        if (j0 + g < nblk) {
          block2(k, step, index, (uint32_t)(j0 + g), u);
        } else {
          u[0] = u[1] = 0.5; /* padding, discarded */
        }
        u0[g] = u[0];
        u1[g] = u[1];
      }
      if (G == 8)
        boxmuller8(u0, u1, c, s);
      else
        boxmuller4(u0, u1, c, s);
      for (size_t g = 0; g < G && j0 + g < nblk; g++) {
        const size_t i = 2 * (j0 + g);
        out[i] = c[g];
        if (i + 1 < n) out[i + 1] = s[g];
      }
    }
    return;
  }
#endif
  for (size_t i = 0; i < n; i += 2) {
    block2(k, step, index, (uint32_t)(i / 2), u);
    const double r = sqrt(-2.0 * log(u[0]));
    out[i] = r * cos(two_pi * u[1]);
    if (i + 1 < n) out[i + 1] = r * sin(two_pi * u[1]);
  }
}
