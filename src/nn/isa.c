/* Run-time choice of the SIMD level for the direct convolution kernels (latflow/nn.h).
 * The default build targets any x86-64; the AVX2 and AVX-512 kernels are compiled with
 * GCC target attributes and picked here by CPUID (__builtin_cpu_supports also checks
 * that the OS saves the wide registers). */
#include "latflow/nn.h"

static int isa_cap = 0; /* 0 = not chosen yet: the best this CPU has */

static lf_nn_isa isa_best(void) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2 && __builtin_cpu_supports("avx512f")) return LF_ISA_AVX512;
  if (avx2) return LF_ISA_AVX2;
#endif
  return LF_ISA_GENERIC;
}

lf_nn_isa lf_nn_set_isa(lf_nn_isa isa) {
  const lf_nn_isa best = isa_best();
  isa_cap = (int)(isa == LF_ISA_AUTO || isa > best ? best : isa);
  return (lf_nn_isa)isa_cap;
}

lf_nn_isa lf_nn_isa_current(void) {
  if (isa_cap == 0) isa_cap = (int)isa_best();
  return (lf_nn_isa)isa_cap;
}

const char *lf_nn_isa_name(lf_nn_isa isa) {
  static const char *const names[] = {[LF_ISA_AUTO] = "auto",
                                      [LF_ISA_GENERIC] = "generic",
                                      [LF_ISA_AVX2] = "avx2",
                                      [LF_ISA_AVX512] = "avx512"};
  return (size_t)isa < sizeof names / sizeof *names ? names[isa] : "unknown";
}
