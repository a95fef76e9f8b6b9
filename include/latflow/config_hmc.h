/* latflow/config_hmc.h: the hmc section of the run card (lf_hmc_cfg: trajectories,
 * integrator, checkpoints, fermions and CG), part of lf_config (latflow/config.h; keys and
 * ranges in docs/CONFIG.md). Types only. */
#ifndef LATFLOW_CONFIG_HMC_H
#define LATFLOW_CONFIG_HMC_H

typedef enum lf_integrator { LF_INT_LEAPFROG = 0, LF_INT_OMELYAN = 1 } lf_integrator;
typedef enum lf_fermion_kind { LF_FERMION_EXACT = 0, LF_FERMION_PSEUDO = 1 } lf_fermion_kind;
/* hmc.tau_dist: the distribution of each trajectory's length (latflow/hmc.h) */
typedef enum lf_tau_dist { LF_TAU_UNIFORM = 0, LF_TAU_FIXED = 1 } lf_tau_dist;

typedef struct lf_hmc_cfg {
  long trajectories;         /* hmc.trajectories > 0; default 10000 */
  double tau;                /* hmc.tau > 0; default 1.0            */
  int steps;                 /* hmc.steps > 0; default 10           */
  lf_integrator integrator;  /* hmc.integrator: leapfrog | omelyan  */
  long therm;                /* hmc.therm >= 0; default 200         */
  lf_tau_dist tau_dist;      /* hmc.tau_dist: uniform (default: steps per trajectory uniform
                                in 1 .. 2 steps - 1, step size tau/steps) | fixed */
  int compare;               /* hmc.compare: false | true; `run` also runs HMC (default true) */
  long checkpoint_every;     /* hmc.checkpoint_every >= 0: trajectories between checkpoints
                                (0 = only on a signal); default 1000 */
  double checkpoint_seconds; /* hmc.checkpoint_seconds >= 0: wall seconds between checkpoints,
                                checked where the ranks meet (0 = off); default 1800 */
  lf_fermion_kind fermion;   /* hmc.fermion: exact | pseudofermion (schwinger only; default
                                pseudofermion; ignored for phi4 and u1)          */
  double cg_tol;             /* hmc.cg_tol in (0, 1): CG relative residual; 1e-10 */
  int cg_maxiter;            /* hmc.cg_maxiter > 0: CG iterations per solve; 10000 */
} lf_hmc_cfg;

#endif
