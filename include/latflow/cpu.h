/* latflow/cpu.h: what this CPU can do, measured (for `latflow bench`).
 *
 * lf_cpu_fma_peak_gflops measures the single-thread FP32 FMA peak with independent
 * chains of fused multiply-adds (2 FLOP each) for one instruction set, for about
 * `seconds`. isa: "avx512" (16 lanes), "avx2" (8 lanes, FMA3). Returns
 * 0 when the CPU lacks that instruction set. lf_cpu_best_isa names the widest one
 * present. Local; never fails. */
#ifndef LATFLOW_CPU_H
#define LATFLOW_CPU_H

double lf_cpu_fma_peak_gflops(const char *isa, double seconds);
const char *lf_cpu_best_isa(void);
/* The SIMD level the core's vector code may use (the normal variates of latflow/rng.h), as
 * the values of lf_nn_isa (latflow/nn.h: 0 auto = the best this CPU has, 1 generic, 2 AVX2,
 * 3 AVX-512); lf_nn_set_isa sets it with the kernels' level, so both follow --isa and
 * LATFLOW_ISA. The getter returns the level in use (never above what the CPU has). */
void lf_cpu_set_isa_cap(int level);
int lf_cpu_isa_cap(void);

#endif
