/* src/nn/conv2d_direct.h: the direct (non-GEMM) convolution path, internal to src/nn.
 * Included by templated sources after core/prec.h, so it declares the functions of one
 * precision; no include guard on purpose (each _t.c includes it once).
 *
 * The kernels compute exactly the sums of latflow/nn_t.h; they differ from the im2col
 * path only in rounding. isa is the SIMD level to use (LF_ISA_GENERIC, _AVX2, _AVX512;
 * the caller clamps it to what the CPU has). */

/* Epilogue of the forward kernels, applied to each output in registers before the store:
 * none, leaky_relu, tanh (the values of lf_act_forward up to rounding). */
#ifndef LF_CONV_EPI_DEFINED
#define LF_CONV_EPI_DEFINED
enum { LF_CONV_EPI_NONE = 0, LF_CONV_EPI_LEAKY = 1, LF_CONV_EPI_TANH = 2 };
#endif

/* Scratch (LF_R elements) of the direct path for batch B. */
size_t LF_T(lf_conv2d_direct_ws)(const LF_T(lf_conv2d) * c, int B);
void LF_T(lf_conv2d_direct_forward)(const LF_T(lf_conv2d) * c, int B, const LF_R *x, LF_R *y,
                                    LF_R *ws, lf_nn_isa isa, int epi);
void LF_T(lf_conv2d_direct_backward)(LF_T(lf_conv2d) * c, int B, const LF_R *x, const LF_R *dy,
                                     LF_R *dx, LF_R *ws, lf_nn_isa isa);
