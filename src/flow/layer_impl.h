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

/* ---- the gauge layers (src/flow/gauge_t.c, src/flow/spline_t.c) ------------------------
 * Batched circular splines: n elements in structure-of-arrays form, element i's
 * parameters at u[j * ld + i] (j < 3K, the layout of latflow/gauge_flow_t.h's u with
 * stride ld), one value per element in x, y, logj, gy, gl, gx. Each element's results are
 * those of the one-element functions of latflow/gauge_flow_t.h (which call these with
 * n = 1), bit for bit, whatever n and the element's position. du (3K rows of dld) is
 * accumulated (+=). Local; never fail. */
void LF_T(lf_rqs_forward_n)(int K, size_t n, const LF_R *u, size_t ld, const LF_R *x, LF_R *y,
                            LF_R *logj);
void LF_T(lf_rqs_inverse_n)(int K, size_t n, const LF_R *u, size_t ld, const LF_R *y, LF_R *x,
                            LF_R *logj);
/* x: the forward's inputs; gy = dL/dy, gl = dL/dlogj; gx = dL/dx (written) */
void LF_T(lf_rqs_backward_n)(int K, size_t n, const LF_R *u, size_t ld, const LF_R *x,
                             const LF_R *gy, const LF_R *gl, LF_R *du, size_t dld, LF_R *gx);
/* x: the inverse's OUTPUTS; gx = dL/dx, gl = dL/dlogj of the inverse; gy = dL/dy (written) */
void LF_T(lf_rqs_inverse_backward_n)(int K, size_t n, const LF_R *u, size_t ld, const LF_R *x,
                                     const LF_R *gx, const LF_R *gl, LF_R *du, size_t dld,
                                     LF_R *gy);

/* Lanes of one block of the batched splines (8 doubles: one AVX-512 register). */
#define LF_RQS_LANES 8

/* A body inlined into each ISA copy of a gauge kernel (target attributes). */
#define LF_INLINE static inline __attribute__((always_inline))

/* glibc's vector math (libmvec): declared with the simd attribute, as <math.h> does under
 * -ffast-math, so that GCC calls _ZGV*_exp etc. in vectorized loops (the link pulls
 * libmvec in through libm). Expanded only in the gauge files: in a file where it is
 * not expanded, a loop over exp stays scalar libm (the affine coupling's bits). */
#define LF_GAUGE_LIBMVEC                                                                           \
  __attribute__((simd("notinbranch"))) double exp(double);                                         \
  __attribute__((simd("notinbranch"))) double log(double);                                         \
  __attribute__((simd("notinbranch"))) double log1p(double);                                       \
  __attribute__((simd("notinbranch"))) double sin(double);                                         \
  __attribute__((simd("notinbranch"))) double cos(double);

/* A loop over the W lanes of a block. GCC would unroll a loop of constant trip count W
 * completely and hand it to its straight-line vectorizer, which knows no libmvec and
 * leaves selects on compares scalar; kept a loop, the loop vectorizer makes vector calls
 * and masked selects of it (one iteration of 8 doubles in the AVX-512 copy). */
#define LF_LANES(i, n) _Pragma("GCC unroll 1") for (int i = 0; i < (n); i++)

/* name(params): calls one of three copies of name##_body(args) compiled for AVX-512,
 * AVX2 and the baseline, as lf_nn_isa_current() says (the conv kernels' choice). */
#define LF_GAUGE_ISA_COPIES(name, params, args)                                                    \
  __attribute__((target("avx512f"))) static void name##_avx512 params {                            \
    name##_body args;                                                                              \
  }                                                                                                \
  __attribute__((target("avx2"))) static void name##_avx2 params {                                 \
    name##_body args;                                                                              \
  }                                                                                                \
  static void name##_generic params {                                                              \
    name##_body args;                                                                              \
  }                                                                                                \
  static void name params {                                                                        \
    switch (lf_nn_isa_current()) {                                                                 \
    case LF_ISA_AVX512:                                                                            \
      name##_avx512 args;                                                                          \
      break;                                                                                       \
    case LF_ISA_AVX2:                                                                              \
      name##_avx2 args;                                                                            \
      break;                                                                                       \
    default:                                                                                       \
      name##_generic args;                                                                         \
    }                                                                                              \
  }

#endif
