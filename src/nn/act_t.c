/* Elementwise activations, written once over LF_R. Contract: include/latflow/nn_t.h.
 * leaky_relu(x) = x for x > 0, LF_LEAKY_SLOPE * x otherwise (PyTorch: the gradient at
 * x = 0 is the slope); tanh' = 1 - y^2 is taken from the output. */
#include "latflow/nn.h"

#include "core/prec.h"
#include "nn/vmath.h"

#include <math.h>
#include <stdint.h>

#if defined(LF_PREC_SINGLE)
/* tanh in float without libm (src/nn/vmath.h): GCC vectorizes the loop below. */
#define ACT_TANH lf_vm_tanhf
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
