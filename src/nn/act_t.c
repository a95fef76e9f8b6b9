/* Elementwise activations, written once over LF_R. Contract: include/latflow/nn_t.h.
 * leaky_relu(x) = x for x > 0, LF_LEAKY_SLOPE * x otherwise (PyTorch: the gradient at
 * x = 0 is the slope); tanh' = 1 - y^2 is taken from the output. */
#include "latflow/nn.h"

#include "core/prec.h"

#include <math.h>
#include <stdint.h>

#if defined(LF_PREC_SINGLE)
/* tanh in float, written so that GCC vectorizes it with the default (SSE2) flags: libm's
 * tanhf is a scalar call of about 7 ns and was the largest cost of a forward pass.
 * tanh x = (e - 1)/(e + 1), e = exp(2x) with x clamped to [-9, 9] (tanh 9 rounds to 1 in
 * float); exp by 2^n exp(r), n = round(y / ln 2) (magic-number rounding, no libm
 * call), |r| <= ln2/2, and a degree-6 Taylor polynomial (relative error < 2e-7). The
 * absolute error of tanh is below 2e-7, the float rounding scale. */
static inline float tanh_fast(float x) {
  const float xc = x > 9.0f ? 9.0f : (x < -9.0f ? -9.0f : x);
  const float y = 2.0f * xc;
  const float magic = 12582912.0f; /* 1.5 * 2^23 */
  const float n = (y * 1.44269504f + magic) - magic;
  const float r = (y - n * 0.693145752f) - n * 1.42860677e-6f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  union {
    int32_t i;
    float f;
  } scale = {.i = ((int32_t)n + 127) * (1 << 23)};
  const float e = p * scale.f;
  return (e - 1.0f) / (e + 1.0f);
}
#define ACT_TANH tanh_fast
#else
#define ACT_TANH LF_TANH
#endif

void LF_T(lf_act_forward)(lf_act_kind act, size_t n, const LF_R *x, LF_R *y) {
  const LF_R slope = (LF_R)LF_LEAKY_SLOPE;
  if (act == LF_ACT_TANH) {
    for (size_t i = 0; i < n; i++) y[i] = ACT_TANH(x[i]);
  } else {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : slope * x[i];
  }
}

void LF_T(lf_act_backward)(lf_act_kind act, size_t n, const LF_R *x, const LF_R *y, const LF_R *dy,
                           LF_R *dx) {
  const LF_R slope = (LF_R)LF_LEAKY_SLOPE;
  if (act == LF_ACT_TANH) {
    for (size_t i = 0; i < n; i++) dx[i] += (1 - y[i] * y[i]) * dy[i];
  } else {
    for (size_t i = 0; i < n; i++) dx[i] += (x[i] > 0 ? dy[i] : slope * dy[i]);
  }
}
