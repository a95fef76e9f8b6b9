/* latflow/nn.h: network building blocks in float (suffix _f) and double (suffix _d).
 *
 * The declarations are written once in latflow/nn_t.h over LF_R (the real type) and
 * LF_T(name) (the suffixed name); this header instantiates them for both precisions
 * (latflow/prec_template.h),
 * as FFTW does for fftwf_/fftw_ (STYLE.md section 11). Sources: the src/nn/ files named
 * <x>_t.c.
 * Not precision-dependent: the activation enum (latflow/config_model.h) and optimizer config
 * (latflow/config_optim.h). */
#ifndef LATFLOW_NN_H
#define LATFLOW_NN_H

#include "latflow/config_model.h"
#include "latflow/config_optim.h"
#include "latflow/rng.h"
#include "latflow/status.h"

#include <stddef.h>
#include <stdint.h>

/* Convolution algorithm (lf_conv2d_forward_algo / _backward_algo): AUTO picks the faster
 * path for the shape (what lf_conv2d_forward / _backward use); the others force one, for
 * tests and benchmarks. All give the same result up to rounding. */
typedef enum lf_conv_algo { LF_CONV_AUTO = 0, LF_CONV_IM2COL = 1, LF_CONV_DIRECT = 2 } lf_conv_algo;

/* SIMD level of the direct convolution kernels. AUTO = the widest this CPU supports
 * (checked at run time; the default build targets any x86-64). lf_nn_set_isa caps the
 * level (a level the CPU lacks is lowered to the best it has) and returns the level now
 * in use; lf_nn_isa_current reports it. Process-wide: set it before threads run nn
 * kernels (tests and benchmarks compare the paths). Never fails. */
typedef enum lf_nn_isa {
  LF_ISA_AUTO = 0,
  LF_ISA_GENERIC = 1, /* plain C */
  LF_ISA_AVX2 = 2,    /* AVX2 + FMA, 256-bit */
  LF_ISA_AVX512 = 3   /* AVX-512F, 512-bit */
} lf_nn_isa;
lf_nn_isa lf_nn_set_isa(lf_nn_isa isa);
lf_nn_isa lf_nn_isa_current(void);
const char *lf_nn_isa_name(lf_nn_isa isa);
/* *isa from its name (auto, generic, avx2, avx512; lf_nn_isa_name's spelling).
 * LF_ERR_CONFIG for any other text, the message naming `what` (e.g. "--isa"). */
lf_status lf_nn_isa_parse(const char *name, const char *what, lf_nn_isa *isa);
/* Applies the environment variable LATFLOW_ISA (a name as above; unset or empty: no
 * change) with lf_nn_set_isa; LF_ERR_CONFIG naming LATFLOW_ISA for a bad value. The
 * command-line tools call it at start-up (docs/CONFIG.md, "Environment"). */
lf_status lf_nn_isa_from_env(void);

#define LF_TEMPLATE "latflow/nn_t.h"
#include "latflow/prec_template.h"

/* LeakyReLU negative slope (PyTorch's default). */
#define LF_LEAKY_SLOPE 0.01

#endif
