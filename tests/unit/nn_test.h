/* tests/unit/nn_test.h: the convolution paths test_nn and test_nn_fused run every check on:
 * auto, im2col, and the direct kernels at every SIMD level this CPU has (a level it lacks
 * is reported as skipped, once). */
#ifndef LATFLOW_TESTS_NN_TEST_H
#define LATFLOW_TESTS_NN_TEST_H

#include "latflow/nn.h"

#include <stdio.h>

typedef struct run_kind {
  const char *name;
  lf_conv_algo algo;
  lf_nn_isa isa;
} run_kind;
static const run_kind runs[] = {
    {"auto", LF_CONV_AUTO, LF_ISA_AUTO},
    {"im2col", LF_CONV_IM2COL, LF_ISA_AUTO},
    {"direct/generic", LF_CONV_DIRECT, LF_ISA_GENERIC},
    {"direct/avx2", LF_CONV_DIRECT, LF_ISA_AVX2},
    {"direct/avx512", LF_CONV_DIRECT, LF_ISA_AVX512},
};
#define NRUNS ((int)(sizeof runs / sizeof runs[0]))

/* Selects the SIMD level of runs[run]; 0 (and "skip ..." the first time) if this CPU
 * lacks it. */
static inline int set_run(int run) {
  static int reported[NRUNS];
  const lf_nn_isa got = lf_nn_set_isa(runs[run].isa);
  if (runs[run].isa != LF_ISA_AUTO && got != runs[run].isa) {
    if (!reported[run]) fprintf(stderr, "skip %s: this CPU lacks it\n", runs[run].name);
    reported[run] = 1;
    return 0;
  }
  return 1;
}

#endif
