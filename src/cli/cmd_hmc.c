/* latflow hmc CONFIG: the HMC baseline -> <output>/hmc.h5 (ensemble format, kind hmc). */
#include "cli.h"
#include "cmd_train.h"

#include "latflow/ensemble.h"
#include "latflow/hmc.h"
#include "latflow/log.h"
#include "latflow/merge.h"
#include "latflow/theory.h"
#include "latflow/timer.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: latflow hmc [CONFIG] [--set key=value]... [--output DIR] [--force] [--json]\n"
    "Hybrid Monte Carlo for the theory of CONFIG: hmc.therm thermalization trajectories\n"
    "(not stored), then hmc.trajectories trajectories of length hmc.tau in hmc.steps steps\n"
    "of hmc.integrator (leapfrog | omelyan), from a cold start (phi = 0). Writes\n"
    "<output>/hmc.h5 in the ensemble format: one chain step per trajectory with dH and the\n"
    "accept flag; configurations per sample.save (accepted: one row per new state; none).\n"
    "Under mpiexec -n P: P independent chains (chain r on rank r, its own random stream) in\n"
    "one multi-chain file.\n";

/* One chain (number `chain`) into the ensemble file `path`; progress printed when
 * `talk`. */
static lf_status hmc_chain(const lf_config *cfg, int chain, const char *path, int force, int talk,
                           cJSON *json) {
  lf_status rc = LF_OK;
  lf_theory th;
  lf_hmc h;
  lf_ens_writer *w = NULL;
  double *phi = NULL, *obs = NULL, *corr = NULL;
  memset(&th, 0, sizeof th);
  memset(&h, 0, sizeof h);
  LF_CHECK(lf_theory_init(&th, &cfg->theory));
  LF_CHECK(lf_hmc_init(&h, &th, &cfg->hmc, cfg->seed));
  const size_t n = (size_t)th.C * (size_t)th.V;
  phi = lf_alloc(n * sizeof *phi);
  obs = lf_alloc(LF_MAX_OBS * sizeof *obs);
  corr = lf_alloc((size_t)(th.ncorr > 0 ? th.ncorr : 1) * sizeof *corr);
  if (!phi || !obs || !corr) {
    rc = LF_FAIL(LF_ERR_NOMEM, "HMC field of %zu reals", n);
    goto fail;
  }
  lf_ens_info info;
  memset(&info, 0, sizeof info);
  info.kind = LF_ENS_HMC;
  snprintf(info.theory, sizeof info.theory, "%s", th.name);
  info.C = th.C;
  info.L0 = cfg->theory.shape[0];
  info.L1 = cfg->theory.shape[1];
  info.nobs = th.nobs;
  for (int k = 0; k < th.nobs; k++)
    snprintf(info.obs_names[k], sizeof info.obs_names[k], "%s", th.obs_names[k]);
  info.ncorr = th.ncorr;
  info.save_configs = cfg->sample.save != LF_SAVE_NONE;
  info.train_seconds = 0.0;
  LF_CHECK(lf_ens_create(&w, path, cfg, &info, force));
  const long ntherm = cfg->hmc.therm, ntraj = cfg->hmc.trajectories, total = ntherm + ntraj;
  lf_log_info("hmc", "%s %dx%d m2=%g lambda=%g | %s, tau %g, %d steps | %ld + %ld trajectories",
              th.name, info.L0, info.L1, cfg->theory.m2, cfg->theory.lambda,
              cfg->hmc.integrator == LF_INT_OMELYAN ? "omelyan" : "leapfrog", cfg->hmc.tau,
              cfg->hmc.steps, ntherm, ntraj);
  const double t0 = lf_wtime();
  double last = 0.0, sum_acc = 0.0;
  long acc = 0, bad = 0;
  int64_t row = -1;
  for (long t = 0; t < total; t++) {
    lf_hmc_result r;
    lf_hmc_trajectory(&h, (uint64_t)chain, (uint32_t)t, phi, &r);
    if (!isfinite(r.dH)) bad++;
    if (t < ntherm) continue;
    acc += r.accepted;
    sum_acc += r.accepted;
    if (r.accepted || row < 0) {
      th.observables(&th, phi, obs);
      if (th.ncorr) th.correlator(&th, phi, corr);
      LF_CHECK(lf_ens_append_row(w, obs, th.ncorr ? corr : NULL, phi, &row));
    }
    const lf_ens_step s = {row, (int64_t)t, NAN, r.dH, (int8_t)r.accepted};
    LF_CHECK(lf_ens_append_steps(w, 1, &s));
    const double now = lf_wtime() - t0;
    if (talk && (now - last >= 1.0 || t + 1 == total)) {
      last = now;
      const double rate = (double)(t + 1) / now;
      lf_log_progress("hmc", "trajectory %ld/%ld, acceptance %.3f, dH %.3g, %.0f traj/s, eta %.0fs",
                      t + 1, total, sum_acc / (double)(t + 1 - ntherm), r.dH, rate,
                      (double)(total - t - 1) / rate);
    }
  }
  if (talk) lf_log_progress_end();
  const double secs = lf_wtime() - t0;
  lf_ens_set_gen_seconds(w, secs);
  rc = lf_ens_close(w);
  w = NULL;
  LF_CHECK(rc);
  lf_log_info("hmc",
              "chain %d: %ld trajectories in %.1f s: acceptance %.4f, %ld non-finite dH -> %s",
              chain, ntraj, secs, ntraj ? (double)acc / (double)ntraj : 0.0, bad, path);
  if (json) {
    cJSON_AddStringToObject(json, "command", "hmc");
    cJSON_AddNumberToObject(json, "trajectories", (double)ntraj);
    cJSON_AddNumberToObject(json, "therm", (double)ntherm);
    cJSON_AddNumberToObject(json, "acceptance", ntraj ? (double)acc / (double)ntraj : 0.0);
    cJSON_AddNumberToObject(json, "gen_seconds", secs);
    cJSON_AddStringToObject(json, "ensemble", path);
  }
fail:
  if (w) lf_ens_abort(w);
  lf_free(phi);
  lf_free(obs);
  lf_free(corr);
  lf_hmc_free(&h);
  lf_theory_free(&th);
  return rc;
}

lf_status lf_hmc_pipeline(const lf_config *cfg, int force, MPI_Comm comm, cJSON *json) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  char path[LF_PATH_MAX], part[LF_PATH_MAX];
  lf_status rc = lf_cli_path(path, sizeof path, cfg->output, "hmc.h5");
  if (rc == LF_OK && !force && lf_cli_file_exists(path))
    rc = LF_FAIL(LF_ERR_IO, "'%s' exists; refusing to overwrite (use --force or another output)",
                 path);
  if (rc == LF_OK && rank == 0) rc = lf_cli_mkdirs(cfg->output);
  if ((rc = lf_cli_agree(comm, rc)) != LF_OK) return rc;
  if (size == 1) return hmc_chain(cfg, 0, path, force, 1, json);
  /* one independent chain per rank, each into its own part file, then rank 0 merges them
   * into one multi-chain file (chain r = rank r) and removes the parts */
  char name[64];
  snprintf(name, sizeof name, "hmc.part%d.h5", rank);
  rc = lf_cli_path(part, sizeof part, cfg->output, name);
  if (rc == LF_OK) rc = hmc_chain(cfg, rank, part, 1, rank == 0, rank == 0 ? json : NULL);
  if ((rc = lf_cli_agree(comm, rc)) != LF_OK) return rc;
  if (rank == 0) {
    char(*parts)[LF_PATH_MAX] = calloc((size_t)size, sizeof *parts);
    const char **ins = calloc((size_t)size, sizeof *ins);
    if (!parts || !ins) rc = LF_FAIL(LF_ERR_NOMEM, "part names for %d ranks", size);
    for (int r = 0; rc == LF_OK && r < size; r++) {
      snprintf(name, sizeof name, "hmc.part%d.h5", r);
      rc = lf_cli_path(parts[r], sizeof parts[r], cfg->output, name);
      ins[r] = parts[r];
    }
    if (rc == LF_OK) rc = lf_ens_merge(path, size, (const char *const *)ins, force, NULL);
    if (rc == LF_OK)
      for (int r = 0; r < size; r++) remove(parts[r]);
    if (rc == LF_OK) {
      lf_log_info("hmc", "%d chains (one per rank) merged into %s", size, path);
      if (json) {
        cJSON_ReplaceItemInObject(json, "ensemble", cJSON_CreateString(path));
        cJSON_AddNumberToObject(json, "chains", size);
      }
    }
    free(parts);
    free(ins);
  }
  return lf_cli_agree(comm, rc);
}

int lf_cmd_hmc(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  lf_config cfg;
  int code;
  if (!lf_cli_setup(argc, argv, comm, "hmc", help, &o, &cfg, &code)) return code;
  if (o.resume)
    return lf_cli_report(lf_fail_msg(LF_ERR_USAGE, "hmc: --resume is not implemented yet "
                                                   "(checkpoints come with the MPI production "
                                                   "issue)"));
  cJSON *json = o.json ? cJSON_CreateObject() : NULL;
  code = lf_cli_report(lf_hmc_pipeline(&cfg, o.force, comm, json));
  if (json) {
    if (code == 0) code = lf_cli_print_json(json);
    cJSON_Delete(json);
  }
  return code;
}
