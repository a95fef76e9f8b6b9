/* latflow/ensemble_data.h: an ensemble's data in memory (what a run knows about itself, one
 * Markov step, a whole ensemble): the types shared by the writers and readers of ensemble
 * files (latflow/ensemble.h, in io) and by the analysis, which must not see MPI or HDF5. */
#ifndef LATFLOW_ENSEMBLE_DATA_H
#define LATFLOW_ENSEMBLE_DATA_H

#include "latflow/config.h"

#include <stddef.h>
#include <stdint.h>

#define LF_ENS_MAX_CORR 1024

typedef enum lf_ens_kind { LF_ENS_IMH = 0, LF_ENS_REWEIGHT = 1, LF_ENS_HMC = 2 } lf_ens_kind;

/* What a run knows about itself (root attributes of the ensemble). */
typedef struct lf_ens_info {
  lf_ens_kind kind;
  char theory[LF_NAME_MAX]; /* "phi4", ...                                          */
  int C, L0, L1;            /* components per site, lattice shape                   */
  int nobs;
  char obs_names[LF_MAX_OBS][LF_NAME_MAX];
  int ncorr;              /* correlator length per row (0: none)                  */
  int save_configs;       /* 1: /chain_r/configs exists                           */
  int cg;                 /* 1: /chain_r/cg_iters and cg_max exist (pseudofermion
                             HMC; root attribute cg, absent = 0 in version 1)     */
  char model_hash[72];    /* flow: lf_model_hash of the model, hex; HMC: ""        */
  char model_path[1024];  /* flow: path of the model file as given; HMC: ""        */
  double train_seconds;   /* flow: wall seconds of training (from the model file) */
  int model_L0, model_L1; /* flow, volume transfer: the lattice the model was trained on
                             (root attribute model_shape, written only then); else 0 */
  double gen_seconds;     /* wall seconds of generation (set before close)        */
} lf_ens_info;

/* One Markov-chain step. */
typedef struct lf_ens_step {
  int64_t row;      /* state after the step                         */
  int64_t id;       /* proposal id g (flow) or trajectory number     */
  double logw;      /* flow: log w of the proposal; HMC: NaN         */
  double dH;        /* HMC: dH of the trajectory; flow: NaN          */
  int8_t accepted;  /* 1 if the proposal was accepted                */
  int64_t cg_iters; /* info.cg: CG iterations of the trajectory; else ignored (read: 0) */
  int64_t cg_max;   /* info.cg: iterations of its longest solve; else ignored (read: 0) */
} lf_ens_step;

/* A whole ensemble in memory (without configurations). */
typedef struct lf_ensemble {
  lf_ens_info info;
  int R;               /* chains                                        */
  size_t *rows;        /* (R) rows per chain                            */
  size_t *steps;       /* (R) steps per chain                           */
  double **obs;        /* (R) x (rows[r], nobs)                          */
  double **corr;       /* (R) x (rows[r], ncorr), NULL arrays if ncorr=0 */
  lf_ens_step **chain; /* (R) x (steps[r])                               */
  int64_t **mult;      /* (R) x (rows[r]): steps on each row (multiplicity;
                          equal to the count of chain[r][i].row == row)  */
  lf_config cfg;       /* the stored config (defaults + YAML)            */
} lf_ensemble;

#endif
