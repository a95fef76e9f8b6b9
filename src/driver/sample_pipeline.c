/* The sample pipeline (latflow sample, latflow/driver.h): flow proposals -> IMH chain (or
 * reweighting) -> <output>/ensemble.h5. Under mpiexec -n P: rank 0 coordinates and writes,
 * ranks 1..P-1 generate proposals (latflow/dist.h); the file does not depend on P. A
 * model trained on another lattice is volume transferred to the card's
 * (lf_io_model_load_on; the log says so and the ensemble records model_shape). The
 * checkpoint and the end-of-run report are in sample_files.c. */
#include "driver_impl.h"

#include "latflow/ckpt.h"
#include "latflow/comm.h"
#include "latflow/driver.h"
#include "latflow/ensemble.h"
#include "latflow/fault.h"
#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/signal.h"
#include "latflow/theory.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The progress line (fields by importance: done, acceptance, rate, ETA), at most once a
 * second. */
typedef struct progress {
  double last;
} progress;

static int on_block(const lf_imh *c, uint64_t done, uint64_t total, double seconds, void *ctx) {
  progress *p = ctx;
  if (seconds - p->last < 1.0 && done < total) return 0;
  p->last = seconds;
  const double rate = seconds > 0 ? (double)done / seconds : 0.0;
  char eta[32];
  lf_log_eta(rate > 0 ? (double)(total - done) / rate : -1.0, eta, sizeof eta);
  lf_log_progress(
      "sample", "proposals=%" PRIu64 "/%" PRIu64 " acc=%.3f rate=%.0f/s eta=%s bad=%" PRIu64, done,
      total, c->steps ? (double)c->accepted / (double)c->steps : 0.0, rate, eta, c->bad);
  return 0;
}

/* The ensemble file's description of this run: the theory's observables, the model
 * sampled (its hash and path). */
static void ens_info(lf_ens_info *info, const lf_config *cfg, const lf_theory *th,
                     const lf_model *m, const char *model_path) {
  info->kind = cfg->sample.mode == LF_SAMPLE_REWEIGHT ? LF_ENS_REWEIGHT : LF_ENS_IMH;
  snprintf(info->theory, sizeof info->theory, "%s", th->name);
  info->C = th->C;
  info->L0 = m->L0;
  info->L1 = m->L1;
  info->nobs = th->nobs;
  for (int k = 0; k < th->nobs; k++)
    snprintf(info->obs_names[k], sizeof info->obs_names[k], "%s", th->obs_names[k]);
  info->ncorr = th->ncorr;
  info->save_configs = cfg->sample.save != LF_SAVE_NONE;
  snprintf(info->model_hash, sizeof info->model_hash, "%016" PRIx64, lf_model_hash(m));
  snprintf(info->model_path, sizeof info->model_path, "%s", model_path);
  info->train_seconds = m->train_seconds;
}

/* lf_sample_pipeline_ex without --resume. */
lf_status lf_sample_pipeline(const lf_config *cfg, const char *model_arg, int force, MPI_Comm comm,
                             cJSON *json) {
  return lf_sample_pipeline_ex(cfg, model_arg, force, 0, comm, json);
}

/* Collective over comm: every rank loads the model and the theory and takes part in the
 * collective writer; rank 0 alone decides what the output folder allows. */
lf_status lf_sample_pipeline_ex(const lf_config *cfg_in, const char *model_arg, int force,
                                int resume, MPI_Comm comm, cJSON *json) {
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
  char model_path[LF_PATH_MAX], ens_path[LF_PATH_MAX], ck_path[LF_PATH_MAX], ck_prev[LF_PATH_MAX];
  lf_ens_info info;
  memset(&info, 0, sizeof info);
  lf_sample_state st;
  memset(&st, 0, sizeof st);
  uint64_t ck_hash = 0;
  int complete = 0;
  /* setup: every rank loads the model and the theory; local failures are agreed on
   * before the collective steps */
  if (model_arg)
    snprintf(model_path, sizeof model_path, "%s", model_arg);
  else
    rc = lf_io_path_join(model_path, sizeof model_path, cfg.output, "model.h5");
  if (rc == LF_OK) rc = lf_io_path_join(ens_path, sizeof ens_path, cfg.output, "ensemble.h5");
  if (rc == LF_OK) rc = lf_io_path_join(ck_path, sizeof ck_path, cfg.output, "sample.ckpt.h5");
  if (rc == LF_OK) rc = lf_ckpt_prev_path(ck_prev, sizeof ck_prev, ck_path);
  char ens_tmp[LF_PATH_MAX + 8];
  snprintf(ens_tmp, sizeof ens_tmp, "%s.tmp", ens_path);
  int restart = 0; /* --resume without a checkpoint nor a result: start from the beginning */
  if (rc == LF_OK && rank == 0 && resume) {
    const int have_ck = lf_io_exists(ck_path) || lf_io_exists(ck_prev);
    if (!have_ck && lf_io_exists(ens_path))
      complete = 1; /* idempotent: a requeued job may ask again */
    else if (!have_ck)
      restart = 1; /* killed before its first checkpoint (a requeued job) */
    else if (lf_io_exists(ens_path) && !lf_io_exists(ens_tmp)) {
      /* killed after its final rename */
      rc = lf_driver_sample_finish_complete(&cfg, ens_path, ck_path);
      complete = rc == LF_OK;
    } else
      rc = lf_driver_sample_read_ckpt(&cfg, ck_path, &st, &ck_hash);
  }
  if (rank == 0 && restart)
    lf_log_info("sample",
                "--resume: no checkpoint and no ensemble in '%s' (the run stopped before its "
                "first checkpoint): starting from the beginning",
                cfg.output);
  if (MPI_Bcast(&restart, 1, MPI_INT, 0, comm) != MPI_SUCCESS) {
    rc = LF_FAIL(LF_ERR_MPI, "MPI_Bcast of the run state");
    goto fail;
  }
  if (restart) resume = 0; /* the fresh path removes the stale .tmp files (regular only) */
  if (rc == LF_OK && rank == 0) {
    if (!resume) { /* a --resume was decided above */
      if (!force && lf_io_exists(ens_path))
        rc =
            LF_FAIL(LF_ERR_IO, "'%s' exists; refusing to overwrite (use --force or another output)",
                    ens_path);
      else if (!force && (lf_io_exists(ck_path) || lf_io_exists(ck_prev)))
        rc = LF_FAIL(LF_ERR_IO,
                     "'%s' holds the checkpoint of an interrupted run: %s; or start again "
                     "with --force",
                     ck_path, lf_driver_resume_hint());
      if (rc == LF_OK) rc = lf_io_mkdirs(cfg.output);
      if (rc == LF_OK && force) {
        remove(ck_path);
        remove(ck_prev);
      }
    }
  }
  LF_CHECK(lf_comm_agree(comm, rc));
  if (resume && MPI_Bcast(&complete, 1, MPI_INT, 0, comm) != MPI_SUCCESS) {
    rc = LF_FAIL(LF_ERR_MPI, "MPI_Bcast of the run state");
    goto fail;
  }
  if (complete) {
    lf_log_info("sample", "'%s' holds a finished run: nothing to resume", ens_path);
    if (json) {
      cJSON_AddStringToObject(json, "command", "sample");
      cJSON_AddBoolToObject(json, "complete", 1);
      cJSON_AddStringToObject(json, "ensemble", ens_path);
    }
    goto fail; /* rc == LF_OK */
  }
  if (resume) {
    if (MPI_Bcast(&st, (int)sizeof st, MPI_BYTE, 0, comm) != MPI_SUCCESS ||
        MPI_Bcast(&ck_hash, 1, MPI_UINT64_T, 0, comm) != MPI_SUCCESS) {
      rc = LF_FAIL(LF_ERR_MPI, "MPI_Bcast of the checkpoint");
      goto fail;
    }
  }
  /* a model trained on another lattice is volume transferred to cfg's (the hash checked
   * on resume and written to the ensemble is the transferred model's) */
  rc = lf_io_model_load_sampling(model_path, cfg.theory.shape[0], cfg.theory.shape[1], &mcfg, &m,
                                 cfg.sample.block);
  const int vol = rc == LF_OK && (mcfg.theory.shape[0] != m.L0 || mcfg.theory.shape[1] != m.L1);
  if (vol && rank == 0)
    lf_log_info("sample", "volume transfer: model trained on %dx%d sampled on %dx%d",
                mcfg.theory.shape[0], mcfg.theory.shape[1], m.L0, m.L1);
  if (rc == LF_OK && resume && lf_model_hash(&m) != ck_hash)
    rc = LF_FAIL(LF_ERR_CONFIG,
                 "cannot resume: model '%s' (hash %016" PRIx64 ") is not the model the "
                 "interrupted run sampled (hash %016" PRIx64 ")",
                 model_path, lf_model_hash(&m), ck_hash);
  if (rc == LF_OK) {
    cfg.model = m.cfg; /* the architecture that was actually used */
    rc = lf_theory_init(&th, &cfg.theory);
    if (rc == LF_OK) rc = lf_theory_select_obs(&th, &cfg);
  }
  if (rc == LF_OK) ens_info(&info, &cfg, &th, &m, model_path);
  if (vol) { /* the root attribute model_shape, only then: other ensembles stay as they were */
    info.model_L0 = mcfg.theory.shape[0];
    info.model_L1 = mcfg.theory.shape[1];
  }
  LF_CHECK(lf_comm_agree(comm, rc));
  /* the collective writer: a new file, or the interrupted run's cut back to its checkpoint */
  if (resume)
    rc = lf_ens_reopen(&w, ens_path, &info, st.rows, st.steps, comm);
  else
    rc = lf_ens_create_par(&w, ens_path, &cfg, &info, force, comm);
  LF_CHECK(lf_comm_agree(comm, rc));
  char desc[160];
  lf_theory_describe(&cfg.theory, desc, sizeof desc);
  lf_log_info("sample",
              "%s | model %s (hash %s) | %s, %ld proposals in blocks "
              "of %d, save %s | %d rank(s): %s",
              desc, model_path, info.model_hash, info.kind == LF_ENS_IMH ? "IMH" : "reweighting",
              cfg.sample.proposals, cfg.sample.block,
              cfg.sample.save == LF_SAVE_ALL    ? "all"
              : cfg.sample.save == LF_SAVE_NONE ? "none"
                                                : "accepted",
              nranks, nranks > 1 ? "rank 0 coordinates, the others propose" : "one rank");
  if (resume)
    lf_log_info("sample", "resuming after %llu proposals (%lld rows, %lld chain steps) from %s",
                (unsigned long long)(st.next_block * (uint64_t)cfg.sample.block),
                (long long)st.rows, (long long)st.steps, ck_path);
  lf_signal_install();
  progress pr = {0.0};
  lf_driver_sample_ckpt cc = {&cfg, ck_path, lf_model_hash(&m), nranks, 0};
  lf_dist_opts opts = {on_block,
                       &pr,
                       resume ? &st : NULL,
                       lf_driver_sample_write_ckpt,
                       &cc,
                       cfg.sample.checkpoint_every};
  lf_sample_result res;
  lf_dist_stats ds;
  rc = lf_sample_dist(&cfg, &m, &th, w, comm, &opts, &res, &ds);
  lf_log_progress_end();
  if (rc != LF_OK) { /* agreed by lf_sample_dist */
    /* every rank knows: main ends the job without MPI_Abort (lf_comm_failure_agreed) */
    rc = lf_comm_agree(comm, rc);
    /* keep the data of a run that can be resumed */
    int keep = resume || cc.written > 0 || rc == LF_INTERRUPTED;
    if (MPI_Bcast(&keep, 1, MPI_INT, 0, comm) == MPI_SUCCESS && keep) {
      lf_ens_suspend(w);
      w = NULL;
      if (rc == LF_INTERRUPTED)
        lf_log_info("sample",
                    "stopped; the checkpoint %s is kept for --resume (the command "
                    "prints how to continue)",
                    ck_path);
    }
    goto fail;
  }
  rc = lf_ens_close(w);
  w = NULL;
  LF_CHECK(lf_comm_agree(comm, rc));
  /* the ensemble is in place; a kill from here on leaves it complete (finish_complete) */
  if (rank == 0) {
    lf_fault_point("after_final_rename");
    remove(ck_path);
    remove(ck_prev);
  }
  lf_log_info("sample",
              "%" PRIu64 " proposals in %.1f s (%.0f/s): acceptance %.4f, ESS %.4f, longest "
              "rejection run %d, %" PRIu64 " non-finite, %" PRIu64 " rows -> %s",
              res.proposals, res.seconds,
              (double)(res.proposals - st.next_block * (uint64_t)cfg.sample.block) / res.seconds,
              res.acceptance, res.ess, res.max_run, res.bad, res.rows, ens_path);
  if (nranks > 1)
    lf_log_info("sample", "coordinator idle %.2f s wall, %.3f s CPU (%.1f%% of a core)",
                ds.idle_seconds, ds.idle_cpu_seconds,
                ds.idle_seconds > 0 ? 100.0 * ds.idle_cpu_seconds / ds.idle_seconds : 0.0);
  lf_driver_sample_report(&cfg, &res, &st, info.kind == LF_ENS_IMH, resume, rank, nranks,
                          model_path, info.model_hash, ens_path, json);
  if (json && vol) { /* volume transfer: the lattice the model was trained on */
    cJSON *ms = cJSON_AddArrayToObject(json, "model_shape");
    cJSON_AddItemToArray(ms, cJSON_CreateNumber(info.model_L0));
    cJSON_AddItemToArray(ms, cJSON_CreateNumber(info.model_L1));
  }
fail:
  if (w) lf_ens_abort(w);
  lf_model_free(&m);
  lf_theory_free(&th);
  return rc;
}
