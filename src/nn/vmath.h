/* src/nn/vmath.h: float exp and tanh without libm, internal to src/nn and src/flow.
 *
 * Written so that GCC vectorizes loops over them at the default (SSE2) flags, and given
 * as AVX2 / AVX-512 intrinsics (same operations, same constants) for the epilogues of the
 * convolution kernels. libm's expf/tanhf are scalar calls (about 7 ns for tanhf) and were
 * among the largest costs of a forward pass.
 *
 * exp x = 2^n exp(r), n = round(x / ln 2) (round to nearest even), |r| <= ln2/2, with a
 * degree-7 Taylor polynomial for exp(r) (truncation 5e-9; with rounding, relative error
 * below 2e-7 on [-20, 20], tests/unit/test_nn_fused.c);
 * x is clamped to [-87, 88] so 2^n stays a normal float. tanh x = (e - 1)/(e + 1),
 * e = exp(2x) with x clamped to [-9, 9] (tanh 9 rounds to 1 in float); absolute error
 * below 2e-7. Used in float only: double paths call libm. */
#ifndef LATFLOW_NN_VMATH_H
#define LATFLOW_NN_VMATH_H

#include <stdint.h>

#define LF_VM_LOG2E 1.44269504f
#define LF_VM_LN2_HI 0.693145752f
#define LF_VM_LN2_LO 1.42860677e-6f
#define LF_VM_MAGIC 12582912.0f /* 1.5 * 2^23: adding and subtracting rounds to an integer */

/* exp(x) for x in [-87, 88] (the caller clamps) or NaN (gives NaN). */
static inline float lf_vm_exp_core(float x) {
  const float n = (x * LF_VM_LOG2E + LF_VM_MAGIC) - LF_VM_MAGIC;
  const float r = (x - n * LF_VM_LN2_HI) - n * LF_VM_LN2_LO;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  /* 2^n from the exponent bits; n is in [-126, 127] after the clamp. A NaN x gives a NaN
   * p (the result) and n is replaced by 0 so the conversion stays defined. */
  const float nf = n == n ? n : 0.0f;
  union {
    uint32_t u;
    float f;
  } scale = {.u = (uint32_t)((int32_t)nf + 127) << 23};
  return p * scale.f;
}

static inline float lf_vm_expf(float x) {
  return lf_vm_exp_core(x > 88.0f ? 88.0f : (x < -87.0f ? -87.0f : x));
}

static inline float lf_vm_tanhf(float x) {
  const float xc = x > 9.0f ? 9.0f : (x < -9.0f ? -9.0f : x);
  const float e = lf_vm_exp_core(2.0f * xc);
  return (e - 1.0f) / (e + 1.0f);
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

/* The same tanh on 16 and 8 lanes. Rounding: _mm*_round_ps to nearest even equals the
 * magic-number rounding for |x / ln 2| < 2^22. The clamp has x as the second operand:
 * max/min return it when either operand is NaN, so NaN propagates (as in the scalar
 * version) and the model's isfinite checks see it. */
__attribute__((target("avx512f,avx2,fma"))) static inline __m512 lf_vm_tanh512(__m512 x) {
  const __m512 xc = _mm512_min_ps(_mm512_set1_ps(9.0f), _mm512_max_ps(_mm512_set1_ps(-9.0f), x));
  const __m512 y = _mm512_add_ps(xc, xc);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(y, _mm512_set1_ps(LF_VM_LOG2E)),
                                        _MM_FROUND_TO_NEAREST_INT);
  const __m512 r = _mm512_sub_ps(_mm512_sub_ps(y, _mm512_mul_ps(n, _mm512_set1_ps(LF_VM_LN2_HI))),
                                 _mm512_mul_ps(n, _mm512_set1_ps(LF_VM_LN2_LO)));
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  const __m512i ni = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
  const __m512 e = _mm512_mul_ps(p, _mm512_castsi512_ps(_mm512_slli_epi32(ni, 23)));
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(_mm512_sub_ps(e, one), _mm512_add_ps(e, one));
}

__attribute__((target("avx2,fma"))) static inline __m256 lf_vm_tanh256(__m256 x) {
  const __m256 xc = _mm256_min_ps(_mm256_set1_ps(9.0f), _mm256_max_ps(_mm256_set1_ps(-9.0f), x));
  const __m256 y = _mm256_add_ps(xc, xc);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(y, _mm256_set1_ps(LF_VM_LOG2E)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 r = _mm256_sub_ps(_mm256_sub_ps(y, _mm256_mul_ps(n, _mm256_set1_ps(LF_VM_LN2_HI))),
                                 _mm256_mul_ps(n, _mm256_set1_ps(LF_VM_LN2_LO)));
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i ni = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
  const __m256 e = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(ni, 23)));
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(_mm256_sub_ps(e, one), _mm256_add_ps(e, one));
}
#endif

#endif
