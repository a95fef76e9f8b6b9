/* src/sample/hmc_ckpt.h: the files of an HMC run on disk, internal to the HMC driver
 * (latflow/hmc_run.h): the checkpoint of P chains (written and read collectively; rank 0
 * holds the one file) and the preflight that tells, before a run, what the output folder
 * holds (docs/ARCHITECTURE.md "Crash recovery"). */
#ifndef LATFLOW_SAMPLE_HMC_CKPT_H
#define LATFLOW_SAMPLE_HMC_CKPT_H

#include "latflow/config.h"
#include "latflow/status.h"

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* A chain's state at a checkpoint besides its field (every chain is at the same t). */
typedef struct lf_hmc_chain_state {
  int64_t t;         /* next trajectory (thermalization counted)             */
  int64_t row;       /* ensemble row of the current state (-1: none stored)  */
  int64_t acc;       /* accepted production trajectories                     */
  int64_t bad;       /* trajectories with a non-finite dH                    */
  int64_t rows;      /* rows in the chain's ensemble                         */
  int64_t steps;     /* chain steps in the chain's ensemble                  */
  double sum_acc;    /* acceptance sum of the progress line                  */
  double seconds;    /* generation wall seconds so far (all sessions)        */
  int64_t cg_iters;  /* pseudofermions: CG iterations of the production trajectories */
  int64_t cg_solves; /* pseudofermions: CG solves of the production trajectories     */
} lf_hmc_chain_state;

/* Collective over comm: rank 0 gathers every chain's state and field (n values) and writes
 * the checkpoint at path. The caller has flushed this rank's ensemble. Agreed status. */
lf_status lf_hmc_ckpt_write(const char *path, const lf_config *cfg, MPI_Comm comm,
                            const lf_hmc_chain_state *s, const double *phi, size_t n);

/* Collective over comm: rank 0 loads the checkpoint at path and checks it for a resume
 * (the config per lf_ckpt_compat and sample.save, the number of chains = ranks, the field
 * size, one common t that hmc.trajectories has not passed); every rank gets its chain's
 * state and field (n values). Agreed status. */
lf_status lf_hmc_ckpt_read(const char *path, const lf_config *cfg, MPI_Comm comm,
                           lf_hmc_chain_state *s, double *phi, size_t n);

/* What --resume finds in the output directory (rank 0 decides, every rank follows). */
enum { LF_HMC_RUN_CHAINS = 0, LF_HMC_RUN_COMPLETE = 1, LF_HMC_RUN_MERGE = 2 };

/* Rank 0, before a run: the refusals that depend on what the output directory holds, and
 * what a --resume does (*mode; *restart when it starts over). path is hmc.h5, ckpt and
 * prev the checkpoint and its .prev, parts the P part files (parts[0] = path when P = 1).
 * Creates cfg->output for a fresh run. */
lf_status lf_hmc_preflight(const lf_config *cfg, const char *path, const char *ckpt,
                           const char *prev, char (*parts)[LF_PATH_MAX], int P, int force,
                           int resume, int *mode, int *restart);

#endif
