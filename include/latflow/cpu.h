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

#endif
