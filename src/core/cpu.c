/* FP32 FMA peak probe (latflow/cpu.h): 12 independent accumulator vectors hide the
 * 4-cycle FMA latency on two FMA pipes. Compiled per ISA with GCC target attributes and
 * chosen at run time, so the default build still runs on any x86-64. */
#include "latflow/cpu.h"
#include "latflow/timer.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define NACC 12
#define INNER 1000

__attribute__((target("avx512f"))) static double probe_avx512(long reps) {
  __m512 acc[NACC];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < NACC; i++) acc[i] = _mm512_set1_ps((float)i);
  for (long r = 0; r < reps; r++)
    for (int k = 0; k < INNER; k++)
      for (int i = 0; i < NACC; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  float out[16], s = 0.0f;
  for (int i = 0; i < NACC; i++) {
    _mm512_storeu_ps(out, acc[i]);
    s += out[0];
  }
  return (double)s;
}

__attribute__((target("avx2,fma"))) static double probe_avx2(long reps) {
  __m256 acc[NACC];
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < NACC; i++) acc[i] = _mm256_set1_ps((float)i);
  for (long r = 0; r < reps; r++)
    for (int k = 0; k < INNER; k++)
      for (int i = 0; i < NACC; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  float out[8], s = 0.0f;
  for (int i = 0; i < NACC; i++) {
    _mm256_storeu_ps(out, acc[i]);
    s += out[0];
  }
  return (double)s;
}
#endif

static volatile double probe_sink;

/* Runs probe(reps) with growing reps until it takes >= seconds; returns GFLOP/s. */
static double timed(double (*probe)(long), int lanes, double seconds) {
  long reps = 16;
  probe_sink = probe(reps); /* warm-up: clocks up, code paged in */
  for (;;) {
    const double t0 = lf_wtime();
    probe_sink = probe(reps);
    const double dt = lf_wtime() - t0;
    if (dt >= seconds || reps > (1L << 40))
      return 2.0 * lanes * NACC * (double)INNER * (double)reps / dt * 1e-9;
    reps *= dt > 0.01 ? 2 : 8;
  }
}

double lf_cpu_fma_peak_gflops(const char *isa, double seconds) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (!strcmp(isa, "avx512") && __builtin_cpu_supports("avx512f"))
    return timed(probe_avx512, 16, seconds);
  if (!strcmp(isa, "avx2") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return timed(probe_avx2, 8, seconds);
#else
  (void)isa;
  (void)seconds;
#endif
  return 0.0;
}

const char *lf_cpu_best_isa(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
#endif
  return "none";
}
