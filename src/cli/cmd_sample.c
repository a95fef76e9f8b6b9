/* latflow sample CONFIG [--model M]: flow proposals -> IMH chain (or reweighting) ->
 * <output>/ensemble.h5. Under mpiexec -n P: rank 0 coordinates and writes, ranks 1..P-1
 * generate proposals (latflow/dist.h); the file does not depend on P. */
#include "cli.h"
#include "cmd_train.h"

#include "latflow/dist.h"
#include "latflow/ensemble.h"
#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/model.h"
#include "latflow/sample.h"
#include "latflow/theory.h"
#include "latflow/timer.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: latflow sample [CONFIG] [--model M] [--set key=value]... [--output DIR] [--force]\n"
    "                      [--json]\n"
    "Draws sample.proposals flow proposals in blocks of sample.block from the model M\n"
    "(default <output>/model.h5), computes log w = -S - log q, and runs the Independence\n"
    "Metropolis chain (sample.mode: imh) or keeps every proposal with its weight\n"
    "(sample.mode: reweight). Writes <output>/ensemble.h5 (configurations per sample.save,\n"
    "observables, correlator, chain). The theory of CONFIG must have the model's lattice\n"
    "shape; its couplings may differ from the training ones (the weights correct for it).\n"
    "Under mpiexec -n P, rank 0 runs the chain and writes the file while ranks 1..P-1\n"
    "generate proposal blocks; the file is bitwise the same for every P.\n";

typedef struct progress {
  double last;
} progress;

static int on_block(const lf_imh *c, uint64_t done, uint64_t total, double seconds, void *ctx) {
  progress *p = ctx;
  if (seconds - p->last < 1.0 && done < total) return 0;
  p->last = seconds;
  const double rate = seconds > 0 ? (double)done / seconds : 0.0;
  const double eta = rate > 0 ? (double)(total - done) / rate : 0.0;
  lf_log_progress("sample",
                  "%" PRIu64 "/%" PRIu64 " proposals, acceptance %.3f, bad %" PRIu64
                  ", %.0f proposals/s, eta %.0fs",
                  done, total, c->steps ? (double)c->accepted / (double)c->steps : 0.0, c->bad,
                  rate, eta);
  return 0;
}

lf_status lf_sample_pipeline(const lf_config *cfg_in, const char *model_arg, int force,
                             MPI_Comm comm, cJSON *json) {
  lf_status rc = LF_OK;
  lf_config cfg = *cfg_in, mcfg;
  lf_theory th;
  lf_model m;
  lf_ens_writer *w = NULL;
  memset(&th, 0, sizeof th);
  memset(&m, 0, sizeof m);
  int rank = 0, nranks = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);
  char model_path[LF_PATH_MAX], ens_path[LF_PATH_MAX];
  lf_ens_info info;
  memset(&info, 0, sizeof info);
  /* setup: every rank loads the model and the theory, rank 0 opens the writer; local
   * failures are agreed on before the collective run */
  if (model_arg)
    snprintf(model_path, sizeof model_path, "%s", model_arg);
  else
    rc = lf_cli_path(model_path, sizeof model_path, cfg.output, "model.h5");
  if (rc == LF_OK) rc = lf_cli_path(ens_path, sizeof ens_path, cfg.output, "ensemble.h5");
  if (rc == LF_OK && !force && lf_cli_file_exists(ens_path))
    rc = LF_FAIL(LF_ERR_IO, "'%s' exists; refusing to overwrite (use --force or another output)",
                 ens_path);
  if (rc == LF_OK && rank == 0) rc = lf_cli_mkdirs(cfg.output);
  if (rc == LF_OK) rc = lf_io_model_load(model_path, &mcfg, &m, cfg.sample.block);
  if (rc == LF_OK && (m.L0 != cfg.theory.shape[0] || m.L1 != cfg.theory.shape[1]))
    rc = LF_FAIL(LF_ERR_CONFIG,
                 "model '%s' is for a %dx%d lattice but theory.shape is [%d, %d] (sample the "
                 "model's lattice, or train/transfer a model for this one)",
                 model_path, m.L0, m.L1, cfg.theory.shape[0], cfg.theory.shape[1]);
  if (rc == LF_OK) {
    cfg.model = m.cfg; /* the architecture that was actually used */
    rc = lf_theory_init(&th, &cfg.theory);
  }
  if (rc == LF_OK) {
    info.kind = cfg.sample.mode == LF_SAMPLE_REWEIGHT ? LF_ENS_REWEIGHT : LF_ENS_IMH;
    snprintf(info.theory, sizeof info.theory, "%s", th.name);
    info.C = th.C;
    info.L0 = m.L0;
    info.L1 = m.L1;
    info.nobs = th.nobs;
    for (int k = 0; k < th.nobs; k++)
      snprintf(info.obs_names[k], sizeof info.obs_names[k], "%s", th.obs_names[k]);
    info.ncorr = th.ncorr;
    info.save_configs = cfg.sample.save != LF_SAVE_NONE;
    snprintf(info.model_hash, sizeof info.model_hash, "%016" PRIx64, lf_model_hash(&m));
    snprintf(info.model_path, sizeof info.model_path, "%s", model_path);
    info.train_seconds = m.train_seconds;
    if (rank == 0) rc = lf_ens_create(&w, ens_path, &cfg, &info, force);
  }
  LF_CHECK(lf_cli_agree(comm, rc));
  lf_log_info("sample",
              "%s %dx%d m2=%g lambda=%g | model %s (hash %s) | %s, %ld proposals in blocks "
              "of %d, save %s | %d rank(s): %s",
              th.name, m.L0, m.L1, cfg.theory.m2, cfg.theory.lambda, model_path, info.model_hash,
              info.kind == LF_ENS_IMH ? "IMH" : "reweighting", cfg.sample.proposals,
              cfg.sample.block,
              cfg.sample.save == LF_SAVE_ALL    ? "all"
              : cfg.sample.save == LF_SAVE_NONE ? "none"
                                                : "accepted",
              nranks, nranks > 1 ? "rank 0 coordinates, the others propose" : "one rank");
  progress pr = {0.0};
  lf_sample_result res;
  lf_dist_stats st;
  rc = lf_sample_dist(&cfg, &m, &th, w, comm, on_block, &pr, &res, &st);
  lf_log_progress_end();
  if (rc != LF_OK) goto fail; /* agreed by lf_sample_dist */
  if (rank == 0) {
    rc = lf_ens_close(w);
    w = NULL;
  }
  LF_CHECK(lf_cli_agree(comm, rc));
  lf_log_info("sample",
              "%" PRIu64 " proposals in %.1f s (%.0f/s): acceptance %.4f, ESS %.4f, longest "
              "rejection run %d, %" PRIu64 " non-finite, %" PRIu64 " rows -> %s",
              res.proposals, res.seconds, (double)res.proposals / res.seconds, res.acceptance,
              res.ess, res.max_run, res.bad, res.rows, ens_path);
  if (nranks > 1)
    lf_log_info("sample", "coordinator idle %.2f s wall, %.3f s CPU (%.1f%% of a core)",
                st.idle_seconds, st.idle_cpu_seconds,
                st.idle_seconds > 0 ? 100.0 * st.idle_cpu_seconds / st.idle_seconds : 0.0);
  if (json) {
    cJSON_AddStringToObject(json, "command", "sample");
    cJSON_AddStringToObject(json, "mode", info.kind == LF_ENS_IMH ? "imh" : "reweight");
    cJSON_AddNumberToObject(json, "proposals", (double)res.proposals);
    cJSON_AddNumberToObject(json, "rows", (double)res.rows);
    cJSON_AddNumberToObject(json, "non_finite", (double)res.bad);
    cJSON_AddNumberToObject(json, "acceptance", res.acceptance);
    cJSON_AddNumberToObject(json, "ess", res.ess);
    cJSON_AddNumberToObject(json, "max_rejection_run", res.max_run);
    cJSON_AddNumberToObject(json, "gen_seconds", res.seconds);
    cJSON_AddNumberToObject(json, "proposals_per_s", (double)res.proposals / res.seconds);
    cJSON_AddNumberToObject(json, "ranks", nranks);
    cJSON_AddStringToObject(json, "model", model_path);
    cJSON_AddStringToObject(json, "model_hash", info.model_hash);
    cJSON_AddStringToObject(json, "ensemble", ens_path);
  }
fail:
  if (w) lf_ens_abort(w);
  lf_model_free(&m);
  lf_theory_free(&th);
  return rc;
}

int lf_cmd_sample(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  lf_config cfg;
  int code;
  if (!lf_cli_setup(argc, argv, comm, "sample", help, &o, &cfg, &code)) return code;
  if (o.resume)
    return lf_cli_report(lf_fail_msg(LF_ERR_USAGE, "sample: --resume is not implemented yet "
                                                   "(checkpoints come with the MPI production "
                                                   "issue)"));
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  cJSON *json = o.json && rank == 0 ? cJSON_CreateObject() : NULL;
  code = lf_cli_report(lf_sample_pipeline(&cfg, o.model, o.force, comm, json));
  if (json) {
    if (code == 0) code = lf_cli_print_json(json);
    cJSON_Delete(json);
  }
  return code;
}
