/* Run-time choice of the SIMD level for the direct convolution kernels (latflow/nn.h).
 * The default build targets any x86-64; the AVX2 and AVX-512 kernels are compiled with
 * GCC target attributes and picked here by CPUID (__builtin_cpu_supports also checks
 * that the OS saves the wide registers). */
#include "latflow/nn.h"

#include "latflow/status.h"

#include <stdlib.h>
#include <string.h>

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

lf_status lf_nn_isa_parse(const char *name, const char *what, lf_nn_isa *isa) {
  for (int i = LF_ISA_AUTO; i <= LF_ISA_AVX512; i++)
    if (name && !strcmp(name, lf_nn_isa_name((lf_nn_isa)i))) {
      *isa = (lf_nn_isa)i;
      return LF_OK;
    }
  return LF_FAIL(LF_ERR_CONFIG, "%s must be auto, generic, avx2 or avx512, got '%s'", what,
                 name ? name : "(null)");
}

lf_status lf_nn_isa_from_env(void) {
  const char *v = getenv("LATFLOW_ISA");
  if (!v || !*v) return LF_OK;
  lf_nn_isa isa = LF_ISA_AUTO;
  lf_status rc = lf_nn_isa_parse(v, "LATFLOW_ISA", &isa);
  if (rc == LF_OK) lf_nn_set_isa(isa);
  return rc;
}
