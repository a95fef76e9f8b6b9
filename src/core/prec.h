/* src/core/prec.h: the real type of a templated source file (STYLE.md section 11).
 *
 * Files named *_t.c are compiled twice, with LF_PREC_SINGLE or LF_PREC_DOUBLE defined.
 * They include this header after their public headers and write:
 *   LF_R            the network's real type (float or double)
 *   LF_T(name)      the precision-suffixed name: name##_f or name##_d
 *   LF_GEMM         cblas_sgemm or cblas_dgemm
 *   LF_EXP, LF_TANH, LF_LOG, LF_SQRT, LF_FABS   libm in that precision
 * Public headers declare both precisions by including their *_t.h twice (see nn.h). */
#ifndef LATFLOW_PREC_H
#define LATFLOW_PREC_H

#if defined(LF_PREC_SINGLE)
#define LF_R float
#define LF_T(name) name##_f
#define LF_GEMM cblas_sgemm
#define LF_GEMV cblas_sgemv
#define LF_EXP expf
#define LF_TANH tanhf
#define LF_LOG logf
#define LF_SQRT sqrtf
#define LF_FABS fabsf
#elif defined(LF_PREC_DOUBLE)
#define LF_R double
#define LF_T(name) name##_d
#define LF_GEMM cblas_dgemm
#define LF_GEMV cblas_dgemv
#define LF_EXP exp
#define LF_TANH tanh
#define LF_LOG log
#define LF_SQRT sqrt
#define LF_FABS fabs
#else
#error "templated source compiled without LF_PREC_SINGLE or LF_PREC_DOUBLE"
#endif

#endif
