/* latflow/hmc_run.h: the driver of `latflow hmc`: P independent HMC chains (latflow/hmc.h)
 * into <output>/hmc.h5 (ensemble format, kind hmc), with checkpoints <output>/hmc.ckpt.h5
 * and exact resume.
 *
 * Chains: under a communicator of P ranks, chain r runs on rank r (its own random stream).
 * One rank: the chain goes straight into hmc.h5; P ranks: each chain into its own part
 * file <output>/hmc.part<r>.h5 (serial writer), then rank 0 merges them (lf_ens_merge)
 * into one multi-chain hmc.h5 (chain r = rank r) and removes the parts. Every chain starts
 * cold (phi = 0), runs hmc.therm thermalization trajectories (not stored), then
 * hmc.trajectories stored ones: one chain step per trajectory with dH and the accept flag,
 * configurations per sample.save.
 *
 * Checkpoints (what = "hmc"; latflow/ckpt.h; src/sample/hmc_ckpt.c). Chain c's trajectory
 * t is a pure function of (seed, c, t, phi), so a chain is continued exactly from its
 * field phi and its next trajectory number t, plus the bookkeeping that the output
 * depends on: the row of the current state (a rejected trajectory repeats it), the rows
 * and steps already in its ensemble (lf_ens_reopen cuts the .tmp back to them) and the
 * counters of the log. At a checkpoint all ranks flush their ensembles, rank 0 gathers the
 * chain states and writes the one file (so a checkpoint is one atomic commit, never a set
 * of per-rank files of different ages).
 *
 * When: all ranks meet at fixed trajectory numbers (the same for every P, so where a run
 * stops does not depend on P): every multiple of K = min(hmc.checkpoint_every, 64) and of
 * hmc.checkpoint_every, counting the thermalization trajectories. There they agree on
 * their status and on a pending signal (two small all-reduces per K trajectories; one per
 * trajectory would cost more than the trajectory at L = 8), write a checkpoint at every
 * multiple of hmc.checkpoint_every or on a signal, and on a signal stop with
 * LF_INTERRUPTED. The last trajectory needs no meeting: the run ends normally there. A
 * wall-clock checkpoint (hmc.checkpoint_seconds) is rank 0's decision at a meeting,
 * reduced with the signal flag.
 *
 * Crash recovery (docs/ARCHITECTURE.md "Crash recovery"): on P ranks the parts become
 * final, rank 0 merges them into hmc.h5, removes the parts, then the checkpoints (fault
 * points after_parts, after_merge, after_part_removed, after_final_rename; latflow/fault.h);
 * before a run rank 0 recognizes every state in between (redo the merge while all parts
 * are final; hmc.h5 of this run's config and length is complete; no checkpoint: start
 * over). The output folder is not locked here: the caller holds its lock.
 *
 * Logs the run's description, progress (rank 0), the summary lines and its warnings
 * (latflow/log.h); returns the numbers of the summary in lf_hmc_summary. */
#ifndef LATFLOW_HMC_RUN_H
#define LATFLOW_HMC_RUN_H

#include "latflow/config.h"
#include "latflow/status.h"

#include <mpi.h>
#include <stdint.h>

#define LF_HMC_MAX_WARNINGS 2 /* frozen chains; non-finite dH */

/* What a run did, for a summary (`latflow hmc --json`). Filled on rank 0 when lf_hmc_run
 * returns LF_OK; the other ranks' copies are unspecified (but may be freed). */
typedef struct lf_hmc_summary {
  int complete;                 /* 1: the run was found complete on disk (nothing sampled
                                   in this call); only `ensemble` and `chains` below are set */
  char ensemble[LF_PATH_MAX];   /* <output>/hmc.h5 */
  int chains;                   /* P when this call merged P > 1 part files, else 0 */
  long trajectories, therm;     /* hmc.trajectories, hmc.therm */
  double acceptance;            /* accepted / (trajectories P), all chains */
  int nacc;                     /* P: entries of acceptance_per_chain */
  double *acceptance_per_chain; /* (P) owned: accepted / trajectories of chain r */
  const char *tau_dist;         /* static: "uniform" or "fixed" */
  double mean_steps;            /* integrator steps per production trajectory, all chains */
  int nwarnings;                /* the WARN lines of the summary, in order */
  char warnings[LF_HMC_MAX_WARNINGS][400];
  double gen_seconds;  /* rank 0's chain: generation wall seconds (all sessions) */
  int resumed;         /* 1 if continued from a checkpoint at trajectory resumed_at */
  long resumed_at;     /* (thermalization counted) */
  const char *fermion; /* static: "none", "pseudofermion" or "exact" (schwinger) */
  int pf;              /* 1 with pseudofermions: the three CG figures are set */
  double cg_iters_per_solve, cg_iters_per_trajectory; /* rank 0's chain */
  int64_t cg_solves;                                  /* rank 0's chain */
} lf_hmc_summary;

/* Collective over comm: `latflow hmc` on cfg (see the top). force != 0 replaces an
 * existing hmc.h5 and the checkpoints of an interrupted run; resume != 0 continues the run
 * interrupted in cfg->output from <output>/hmc.ckpt.h5 (same config except
 * hmc.trajectories and the checkpoint spacing, same number of ranks), finishes an
 * interrupted merge of the part files, reports a finished run as complete, or starts over
 * without a checkpoint. sum (may be NULL) is zeroed, then filled as described above.
 * Returns the same status on every rank: LF_INTERRUPTED when a signal stopped the run
 * after its checkpoint; LF_ERR_IO (output exists without force, not this run's result),
 * LF_ERR_CONFIG and LF_ERR_USAGE (a checkpoint of another config or rank count),
 * LF_ERR_FORMAT, LF_ERR_HDF5, LF_ERR_MPI, LF_ERR_NOMEM, LF_ERR_INVALID, LF_ERR_NUMERIC. */
lf_status lf_hmc_run(const lf_config *cfg, int force, int resume, MPI_Comm comm,
                     lf_hmc_summary *sum);

/* Frees what sum owns and zeroes it; accepts a zeroed sum. Local. */
void lf_hmc_summary_free(lf_hmc_summary *sum);

#endif
