/* The hmc pipeline (latflow hmc, latflow/driver.h): the multi-chain HMC driver lf_hmc_run
 * (latflow/hmc_run.h: chains, checkpoints, merge, crash recovery) and its summary as the
 * JSON object of latflow hmc --json. */
#include "latflow/driver.h"
#include "latflow/hmc_run.h"

#include <cjson/cJSON.h>

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
