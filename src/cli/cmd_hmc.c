/* latflow hmc CONFIG: the HMC baseline -> <output>/hmc.h5 (ensemble format, kind hmc), with
 * checkpoints <output>/hmc.ckpt.h5 and exact resume (--resume). This file parses the
 * options, locks the output folder, installs the signal handlers, runs the driver
 * (lf_hmc_run, latflow/hmc_run.h: chains, checkpoints, merge, crash recovery) and prints
 * its summary as JSON (--json). */
#include "cli.h"
#include "cmd_train.h"

#include "latflow/hmc_run.h"
#include "latflow/signal.h"

#include <cjson/cJSON.h>

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

/* Adds the driver's summary to json in the order of the --json output: a run found
 * complete on disk has command, complete, ensemble and an empty warnings list; "chains"
 * follows when this call merged the part files of several ranks. */
static void summary_to_json(const lf_hmc_summary *s, cJSON *json) {
  cJSON_AddStringToObject(json, "command", "hmc");
  if (s->complete) {
    cJSON_AddBoolToObject(json, "complete", 1);
    cJSON_AddStringToObject(json, "ensemble", s->ensemble);
    cJSON_AddItemToObject(json, "warnings", cJSON_CreateArray());
  } else {
    cJSON_AddNumberToObject(json, "trajectories", (double)s->trajectories);
    cJSON_AddNumberToObject(json, "therm", (double)s->therm);
    cJSON_AddNumberToObject(json, "acceptance", s->acceptance);
    cJSON *jacc = cJSON_AddArrayToObject(json, "acceptance_per_chain");
    for (int r = 0; jacc && r < s->nacc; r++)
      cJSON_AddItemToArray(jacc, cJSON_CreateNumber(s->acceptance_per_chain[r]));
    cJSON_AddStringToObject(json, "tau_dist", s->tau_dist);
    cJSON_AddNumberToObject(json, "mean_steps", s->mean_steps);
    cJSON *jwarn = cJSON_CreateArray();
    for (int k = 0; jwarn && k < s->nwarnings; k++)
      cJSON_AddItemToArray(jwarn, cJSON_CreateString(s->warnings[k]));
    cJSON_AddItemToObject(json, "warnings", jwarn);
    cJSON_AddNumberToObject(json, "gen_seconds", s->gen_seconds);
    cJSON_AddStringToObject(json, "ensemble", s->ensemble);
    if (s->resumed) cJSON_AddNumberToObject(json, "resumed_at", (double)s->resumed_at);
    cJSON_AddStringToObject(json, "fermion", s->fermion);
    if (s->pf) {
      cJSON_AddNumberToObject(json, "cg_iters_per_solve", s->cg_iters_per_solve);
      cJSON_AddNumberToObject(json, "cg_iters_per_trajectory", s->cg_iters_per_trajectory);
      cJSON_AddNumberToObject(json, "cg_solves", (double)s->cg_solves);
    }
  }
  if (s->chains) cJSON_AddNumberToObject(json, "chains", s->chains);
}

/* `latflow hmc` with or without --resume (collective over comm): lf_hmc_run, and its
 * summary added to json (rank 0, on success; json may be NULL). */
lf_status lf_hmc_pipeline_ex(const lf_config *cfg, int force, int resume, MPI_Comm comm,
                             cJSON *json) {
  lf_hmc_summary sum;
  const lf_status rc = lf_hmc_run(cfg, force, resume, comm, &sum);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rc == LF_OK && rank == 0 && json) summary_to_json(&sum, json);
  lf_hmc_summary_free(&sum);
  return rc;
}

int lf_cmd_hmc(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  lf_config cfg;
  int code;
  if (!lf_cli_setup(argc, argv, comm, "hmc", help, &o, &cfg, &code)) return code;
  lf_cli_lock lock;
  const lf_status lrc = lf_cli_lock_output(&lock, cfg.output, "hmc", comm);
  if (lrc != LF_OK) return lf_cli_report(lrc);
  lf_status rc = lf_signal_install();
  if (rc != LF_OK) {
    lf_cli_unlock_output(&lock);
    return lf_cli_report(rc);
  }
  cJSON *json = o.json ? cJSON_CreateObject() : NULL;
  code = lf_cli_report(lf_hmc_pipeline_ex(&cfg, o.force, o.resume, comm, json));
  lf_cli_unlock_output(&lock);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (json) {
    /* the summary is rank 0's (the other ranks' objects stay empty): one JSON document */
    if (code == 0 && rank == 0) code = lf_cli_print_json(json);
    cJSON_Delete(json);
  }
  return code;
}
