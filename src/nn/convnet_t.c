/* A stack of convolutions, the context net of the affine and the gauge coupling layers,
 * written once over LF_R. Contract: include/latflow/nn_t.h. */
#include "latflow/nn.h"

#include "core/prec.h"

#include <string.h>

size_t LF_T(lf_convnet_nparams)(int cin, int nhidden, const int *hidden, int cout, int k) {
  size_t n = 0;
  for (int j = 0; j < nhidden; j++) {
    n += LF_T(lf_conv2d_nparams)(cin, hidden[j], k);
    cin = hidden[j];
  }
  return n + LF_T(lf_conv2d_nparams)(cin, cout, k);
}

void LF_T(lf_convnet_bind)(LF_T(lf_conv2d) * conv, int cin, int nhidden, const int *hidden,
                           int cout, int k, int L0, int L1, LF_R *params, LF_R *grads) {
  size_t off = 0;
  for (int j = 0; j <= nhidden; j++) {
    const int co = j < nhidden ? hidden[j] : cout;
    LF_T(lf_conv2d_bind)(&conv[j], cin, co, k, L0, L1, params + off, grads ? grads + off : NULL);
    off += LF_T(lf_conv2d_nparams)(cin, co, k);
    cin = co;
  }
}

void LF_T(lf_convnet_init)(LF_T(lf_conv2d) * conv, int n, lf_init_kind kind, double scale,
                           lf_rng_key key, uint64_t offset) {
  for (int j = 0; j < n; j++) {
    LF_T(lf_conv2d_init)(&conv[j], kind, scale, key, offset);
    offset += LF_T(lf_conv2d_nparams)(conv[j].cin, conv[j].cout, conv[j].k);
  }
}

size_t LF_T(lf_convnet_ws_size)(const LF_T(lf_conv2d) * conv, int n, int B) {
  size_t ws = 0;
  for (int j = 0; j < n; j++) {
    const size_t s = LF_T(lf_conv2d_ws_size)(&conv[j], B);
    if (s > ws) ws = s;
  }
  return ws;
}

int LF_T(lf_convnet_hmax)(const LF_T(lf_conv2d) * conv, int n, int h) {
  for (int j = 0; j < n; j++) {
    if (conv[j].cout > h) h = conv[j].cout;
    if (conv[j].cin > h) h = conv[j].cin;
  }
  return h;
}

LF_R *LF_T(lf_convnet_backward)(LF_T(lf_conv2d) * conv, int n, lf_act_kind act, int B,
                                const LF_R *netin, LF_R *const *post, LF_R *dout, LF_R *dbuf,
                                LF_R *ws, int want_dnetin) {
  const size_t BV = (size_t)B * (size_t)conv[0].V;
  for (int j = n - 1; j >= 0; j--) {
    const LF_R *a = j == 0 ? netin : post[j - 1];
    if (j == 0 && !want_dnetin) {
      LF_T(lf_conv2d_backward)(&conv[0], B, a, dout, NULL, ws);
      return NULL;
    }
    memset(dbuf, 0, BV * (size_t)conv[j].cin * sizeof *dbuf);
    LF_T(lf_conv2d_backward)(&conv[j], B, a, dout, dbuf, ws);
    if (j == 0) break;
    /* dL/d(pre-activation j-1) into dout; the derivative reads the saved output */
    memset(dout, 0, BV * (size_t)conv[j].cin * sizeof *dout);
    LF_T(lf_act_backward)(act, BV * (size_t)conv[j].cin, post[j - 1], post[j - 1], dbuf, dout);
  }
  return dbuf;
}
