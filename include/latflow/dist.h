/* latflow/dist.h: the distributed IMH / reweighting sampler (DESIGN.md section 5,
 * docs/ARCHITECTURE.md "Distributed sampling protocol").
 *
 * Under a communicator of P ranks, rank 0 coordinates and ranks 1..P-1 work (P = 1:
 * rank 0 does both, through the same decide/pack functions). Block b of
 * cfg->sample.block proposals (latflow/sample.h: a pure function of seed, model and b)
 * is computed by worker 1 + b % (P-1). A worker keeps phi of at most LF_DIST_WINDOW
 * undecided blocks and sends the coordinator one message per block: (b, B log weights).
 * The coordinator consumes blocks strictly in order, runs lf_imh_decide (or the
 * reweighting rule), assigns ensemble rows to the stored proposals in order, and sends
 * the owner (b, first row, per-proposal flags). The owner computes the observables and
 * correlator of its stored proposals and keeps them (and their fields when saved).
 *
 * Storage is in epochs of cfg->sample.epoch x max(1, P-1) blocks (so the number of
 * collective steps does not grow with P): when the coordinator has decided an
 * epoch's last block, every rank enters one collective step: MPI_Ibcast of the totals
 * (rows, chain steps) and the abort flag, one MPI_Iallreduce of the status (by severity,
 * latflow/comm.h), the pending signal and rank 0's wall-clock checkpoint flag, and
 * lf_ens_write_epoch (each worker writes its rows, the coordinator the chain records).
 * After the write, rank 0 calls opts->checkpoint when one is due
 * (opts->checkpoint_every proposals since the last, rounded up to whole epochs) or a
 * signal was agreed; after a signal every rank returns LF_INTERRUPTED. The datasets are
 * bitwise the ones lf_sample_run writes, for every P and every epoch size. Idle ranks
 * poll with nanosleep back-off (lf_comm_wait, latflow/comm.h; no busy wait).
 *
 * Memory per worker: LF_DIST_WINDOW x (B x C*V) doubles of pending fields plus the stored
 * states of its blocks in the current epoch (grown as needed); coordinator: the epoch's
 * chain steps (epoch x B records) and decision messages.
 *
 * Errors: a failure on the coordinator (protocol, callback stop) is sent to the workers
 * (ABORT); everyone meets in the epoch step and learns it there; messages in flight are
 * drained; every rank returns the same code. Workers do not fail after setup. MPI errors
 * are LF_ERR_MPI. A rank that dies makes the MPI runtime end the job; the last checkpoint
 * (written after a complete epoch) stays valid. */
#ifndef LATFLOW_DIST_H
#define LATFLOW_DIST_H

#include "latflow/analysis.h"
#include "latflow/ckpt.h"
#include "latflow/config.h"
#include "latflow/ensemble.h"
#include "latflow/model.h"
#include "latflow/sample.h"
#include "latflow/status.h"
#include "latflow/theory.h"

#include <mpi.h>

#define LF_DIST_WINDOW 4 /* pending blocks per worker */

/* What this rank measured about its waiting (the coordinator's figures on rank 0). */
typedef struct lf_dist_stats {
  int ranks;               /* P */
  double idle_seconds;     /* wall time this rank spent waiting for messages */
  double idle_cpu_seconds; /* CPU time of its thread during those waits */
} lf_dist_stats;

/* Where a run stands after a complete epoch: what a checkpoint must hold. */
typedef struct lf_sample_state {
  uint64_t next_block; /* first block not yet decided            */
  lf_imh imh;          /* chain state and counters               */
  lf_ess_acc ess;      /* ESS accumulator                        */
  int64_t rows, steps; /* ensemble rows and chain steps written  */
  double seconds;      /* generation wall seconds so far         */
} lf_sample_state;

/* Stores s in / restores s from an open checkpoint (named scalars, bitwise). Local. */
lf_status lf_sample_state_save(const lf_sample_state *s, lf_ckpt *c);
lf_status lf_sample_state_load(lf_sample_state *s, lf_ckpt *c, uint64_t seed);

typedef struct lf_dist_opts {
  lf_sample_cb cb; /* rank 0, after every decided block; nonzero stops (LF_ERR_INVALID) */
  void *ctx;
  const lf_sample_state *resume; /* NULL: a fresh run; else continue from it (every rank
                                    passes the same state) */
  /* rank 0, after an epoch's write, when due or on a signal; a failure fails the run */
  lf_status (*checkpoint)(const lf_sample_state *s, void *ctx);
  void *ckpt_ctx;
  long checkpoint_every; /* proposals; 0: only on a signal */
} lf_dist_opts;

/* Collective over comm. m and th on every rank (the same model); w the collective
 * writer over comm on every rank (lf_ens_create_par / lf_ens_reopen; with P = 1 a serial
 * writer works too), or NULL on every rank (nothing stored). opts may be NULL. res is
 * filled on every rank (broadcast from rank 0; res->seconds is this call's time); stats
 * may be NULL. With w, gen_seconds of w is set (resumed seconds + this call).
 * Errors: LF_ERR_NOMEM, LF_ERR_MPI, writer errors, LF_ERR_INVALID (callback stop),
 * checkpoint errors, LF_INTERRUPTED (a signal; the checkpoint was written): all agreed. */
lf_status lf_sample_dist(const lf_config *cfg, lf_model *m, const lf_theory *th, lf_ens_writer *w,
                         MPI_Comm comm, const lf_dist_opts *opts, lf_sample_result *res,
                         lf_dist_stats *stats);

/* The coordinator's throughput on synthetic blocks (log w ~ N(0, 2^2) from Philox, no
 * flow, observables zero, nothing written) of cfg->sample.block weights, IMH with
 * cfg->sample.save:
 *   *local_per_s: one process, a loop over decide + row assignment + decision packing
 *                 + chain records for about `seconds` (rank 0);
 *   *mpi_per_s:   the full protocol with P-1 workers sending synthetic blocks (0 when
 *                 P = 1).
 * Collective over comm; results on every rank. */
lf_status lf_dist_bench(const lf_config *cfg, MPI_Comm comm, double seconds, double *local_per_s,
                        double *mpi_per_s, lf_dist_stats *stats);

#endif
