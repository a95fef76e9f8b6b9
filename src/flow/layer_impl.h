/* src/flow/layer_impl.h: private to the coupling layers of src/flow (*_t.c, after
 * core/prec.h). LF_LAYER_FORWARDERS(P) defines the lf_layer_ops entries (latflow/flow_t.h)
 * that only pass a layer object on to the typed functions of the layer type LF_T(P):
 *   l_ws_size, l_scratch_size, l_init, l_madds (from the type's conv[] and nconv),
 *   l_forward, l_inverse, l_backward, l_inverse_backward
 * so that a coupling file writes by hand only what differs: l_check, l_nparams, l_bind and
 * the optional nograd entries. LF_LAYER_OPS(P, what) is the initializer of the table's
 * entries that every kind has, from those l_* functions:
 *   const LF_T(lf_layer_ops) LF_T(P##_ops) = {LF_LAYER_OPS(P, "flow"), .forward_nograd = ...}; */
#ifndef LATFLOW_FLOW_LAYER_IMPL_H
#define LATFLOW_FLOW_LAYER_IMPL_H

#define LF_LAYER_FORWARDERS(P)                                                                     \
  static size_t l_ws_size(const void *c, int B) {                                                  \
    return LF_T(P##_ws_size)(c, B);                                                                \
  }                                                                                                \
  static size_t l_scratch_size(const void *c, int B) {                                             \
    return LF_T(P##_scratch_size)(c, B);                                                           \
  }                                                                                                \
  static void l_init(void *c, lf_init_kind kind, double scale, lf_rng_key key, uint64_t offset) {  \
    LF_T(P##_init)(c, kind, scale, key, offset);                                                   \
  }                                                                                                \
  static double l_madds(const void *c) {                                                           \
    const LF_T(P) *l = c;                                                                          \
    return LF_T(lf_flow_conv_madds)(l->conv, l->nconv);                                            \
  }                                                                                                \
  static void l_forward(const void *c, int B, const LF_R *x, LF_R *y, double *logdet, LF_R *ws,    \
                        LF_R *scratch) {                                                           \
    LF_T(P##_forward)(c, B, x, y, logdet, ws, scratch);                                            \
  }                                                                                                \
  static void l_inverse(const void *c, int B, const LF_R *y, LF_R *x, double *logdet, LF_R *ws,    \
                        LF_R *scratch) {                                                           \
    LF_T(P##_inverse)(c, B, y, x, logdet, ws, scratch);                                            \
  }                                                                                                \
  static void l_backward(void *c, int B, const LF_R *x, const LF_R *dy, const double *dlogdet,     \
                         LF_R *dx, const LF_R *ws, LF_R *scratch) {                                \
    LF_T(P##_backward)(c, B, x, dy, dlogdet, dx, ws, scratch);                                     \
  }                                                                                                \
  static void l_inverse_backward(void *c, int B, const LF_R *y, const LF_R *dx,                    \
                                 const double *dlogdet, LF_R *dy, const LF_R *ws, LF_R *scratch) { \
    LF_T(P##_inverse_backward)(c, B, y, dx, dlogdet, dy, ws, scratch);                             \
  }

#define LF_LAYER_OPS(P, what_)                                                                     \
  .what = what_, .size = sizeof(LF_T(P)), .check = l_check, .nparams = l_nparams, .bind = l_bind,  \
  .ws_size = l_ws_size, .scratch_size = l_scratch_size, .init = l_init, .madds = l_madds,          \
  .forward = l_forward, .inverse = l_inverse, .backward = l_backward,                              \
  .inverse_backward = l_inverse_backward

#endif
