/* latflow hmc CONFIG: the HMC baseline -> <output>/hmc.h5 (ensemble format, kind hmc), with
 * checkpoints <output>/hmc.ckpt.h5 and exact resume (--resume). This file parses the
 * options and runs the hmc pipeline (lf_hmc_pipeline_ex, latflow/driver.h, around the
 * driver lf_hmc_run, latflow/hmc_run.h: chains, checkpoints, merge, crash recovery) in the
 * locked output folder with the signal handlers installed, then prints its summary as
 * JSON (--json). */
#include "cli.h"
#include "cmd_train.h"

static const char help[] =
    "usage: latflow hmc [CONFIG] [--set key=value]... [--output DIR] [--force] [--resume]\n"
    "                   [--json]\n"
    "Hybrid Monte Carlo for the theory of CONFIG: hmc.therm thermalization trajectories\n"
    "(not stored), then hmc.trajectories trajectories of hmc.integrator (leapfrog |\n"
    "omelyan) steps of hmc.tau / hmc.steps, from a cold start (phi = 0); the number of\n"
    "steps is uniform in 1 .. 2 hmc.steps - 1 per trajectory (hmc.tau_dist: uniform, the\n"
    "default; mean length hmc.tau) or always hmc.steps (hmc.tau_dist: fixed). Writes\n"
    "<output>/hmc.h5 in the ensemble format: one chain step per trajectory with dH and the\n"
    "accept flag; configurations per sample.save (accepted: one row per new state; none).\n"
    "Under mpiexec -n P: P independent chains (chain r on rank r, its own random stream) in\n"
    "one multi-chain file.\n"
    "Every hmc.checkpoint_every trajectories, every hmc.checkpoint_seconds of wall time and\n"
    "on SIGTERM, SIGUSR1 or SIGINT it writes <output>/hmc.ckpt.h5 (a signal then stops the\n"
    "run with exit code 3); --resume continues from there (same config except\n"
    "hmc.trajectories and the checkpoint spacing, same number of ranks), finishes an\n"
    "interrupted merge of the part files, or starts over without a checkpoint, and ends\n"
    "with the same hmc.h5 as an uninterrupted run.\n";

/* Options and config, then lf_hmc_pipeline_ex in the locked output folder with the
 * signal handlers installed (lf_cli_main). */
int lf_cmd_hmc(int argc, char **argv, MPI_Comm comm) {
  return lf_cli_main(argc, argv, comm, "hmc", help, lf_hmc_pipeline_ex);
}
