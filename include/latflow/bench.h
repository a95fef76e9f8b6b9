/* latflow/bench.h: the benchmark of a card (src/driver/bench.c; the driver of `latflow
 * bench`): throughput of the training step with its split into phases, of proposal
 * generation, peak memory, and the forward pass's FLOP efficiency against this CPU's FP32
 * FMA peak measured by a probe in the same run; then the sampling coordinator alone and
 * with workers, and the distributed sampler on all ranks. Writes no file.
 *
 * JSON (rank 0's json): isa (the kernels' SIMD level, lf_nn_isa_name), impl, theory, shape,
 * batch, block, layers, hidden, kernel, dtype, threads; train (one object per estimator:
 * estimator, batch, steps, steps_per_s, step_s, forward_s = sample_s + logq_s, action_s =
 * action_eval_s + action_grad_s, backward_s, backward_gflops (4 x the forward's conv
 * multiply-adds x batch / backward_s: dx and dW of every conv), other_s, noise_s, update_s,
 * cpu_step_s, rss_before_mb, peak_rss_mb), estimator and train_steps_per_s (the first estimator's);
 * unless train_only: proposals_per_s, peak_rss_mb, forward_gflops, fma_peak_gflops, fma_isa,
 * flop_efficiency, fma_peak_avx2_gflops, flop_efficiency_avx2, ranks, coordinator_weights_per_s,
 * sample_proposals_per_s and with P > 1 ranks coordinator_weights_per_s_mpi,
 * coordinator_idle_seconds, coordinator_idle_cpu_seconds; with train_only: peak_rss_mb of
 * the training alone. `latflow bench --help` explains each number.
 *
 * Collective over comm: the model measurements run on rank 0 alone, the coordinator and
 * sampler measurements on every rank; every rank returns the same status (lf_comm_agree).
 * Logs the same numbers as text (module "bench"). Errors: the model's, trainer's,
 * theory's and sampler's; LF_ERR_NOMEM for the buffers; LF_ERR_INVALID for a NULL json on
 * rank 0. */
#ifndef LATFLOW_BENCH_H
#define LATFLOW_BENCH_H

#include "latflow/config.h"
#include "latflow/nn.h"
#include "latflow/status.h"

#include <cjson/cJSON.h>
#include <mpi.h>

/* What to measure besides the card. */
typedef struct lf_bench_opts {
  double seconds;      /* each measurement's budget after its warm-up; <= 0: 3 s       */
  int nest;            /* estimators to time, in est[]: 0 = the card's train.estimator */
  lf_estimator est[2]; /* in order                                                      */
  int train_only;      /* skip proposals, FLOP probe, coordinator and sampler           */
  int isa_given;       /* 1: cap the kernels' SIMD level (and the FMA probe) to isa     */
  lf_nn_isa isa;       /* (latflow/nn.h); 0: as the process has it (LATFLOW_ISA or best) */
} lf_bench_opts;

/* Benchmarks cfg as bo says; rank 0 adds the numbers to json (other ranks may pass NULL). */
lf_status lf_bench_run(const lf_config *cfg, const lf_bench_opts *bo, MPI_Comm comm, cJSON *json);

#endif
