/* Running a study (lf_study_run, latflow/study_run.h): the root, then every point through
 * the train pipeline, each finished point measured from its train.h5 into point.json; the
 * study's outputs at the end. Collective over comm: every rank runs every training (the
 * pipeline splits off its training ranks); rank 0 alone reads and writes the JSON files and
 * decides what to skip, and broadcasts the decision.
 *
 * Measurements (lf_study_result) of a point, from <dir>/train.h5: the evaluation curve
 * (/eval), steps (the last step record + 1), N_train (the sum of the batch column),
 * train_seconds (the training seconds the pipeline reports and model.h5 records; when the
 * pipeline found the run complete, the last evaluation's, or the last step record's
 * without evaluations), cpu_seconds = train_seconds x training ranks, the last evaluation's ESS,
 * acceptance and samples, eff_per_second = ESS x samples / evaluation seconds, and for each
 * target the first evaluation with ESS >= target. Chain costs add the parent's chain
 * (the root's, or point k-1's, which hold their own ancestors').
 *
 * With study.sample a point runs the stages of `latflow run` (lf_run_stages: train, sample,
 * HMC when hmc.compare) in its folder, and its ensembles are analysed as `run` does: the IMH
 * acceptance, the pole mass, and the effective samples per second of the observable
 * lf_table_eff_obs picks (flow, flow with training, HMC).
 *
 * With study.volumes each point's model is then evaluated on every volume without
 * retraining (lf_eval_model, study.volume_samples fresh samples; on the training lattice
 * with train.eval_samples these are the draws of the final training evaluation), and with
 * study.volume_proposals > 0 sampled there (<dir>/volumes/LxL/ensemble.h5) for the pole
 * mass. */
#include "study_impl.h"

#include "latflow/analyze.h"
#include "latflow/comm.h"
#include "latflow/driver.h"
#include "latflow/ensemble.h"
#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/plot.h"
#include "latflow/signal.h"
#include "latflow/table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* name inside the folder of point k (k = -1: the root's, <out>/root). */
static lf_status unit_path(const lf_study *st, int k, const char *name, char *out, size_t n) {
  char dir[LF_PATH_MAX];
  lf_status rc = LF_OK;
  if (k < 0)
    rc = lf_io_path_join(dir, sizeof dir, st->output, "root");
  else
    snprintf(dir, sizeof dir, "%s", st->points[k].dir);
  if (rc == LF_OK) rc = lf_io_path_join(out, n, dir, name);
  return rc;
}
static lf_status result_path(const lf_study *st, int k, char *out, size_t n) {
  return unit_path(st, k, k < 0 ? "root.json" : "point.json", out, n);
}
static lf_study_result *result_of(lf_study *st, int k) {
  return k < 0 ? &st->root : &st->results[k];
}
/* The result point k's chain continues, or NULL (from scratch). */
static const lf_study_result *parent_of(const lf_study *st, int k) {
  if (k < 0 || st->points[k].parent == LF_STUDY_PARENT_NONE) return NULL;
  if (st->points[k].parent == LF_STUDY_PARENT_ROOT) return &st->root;
  return &st->results[st->points[k].parent];
}

/* Rank 0: the measurements of unit k from its train.h5 into *r (see the top comment). */
static lf_status measure(lf_study *st, int k, const char *stop_reason, double train_seconds,
                         lf_study_result *r) {
  char path[LF_PATH_MAX];
  lf_train_series s;
  memset(&s, 0, sizeof s);
  lf_status rc = unit_path(st, k, "train.h5", path, sizeof path);
  if (rc == LF_OK) rc = lf_io_metrics_read(path, &s, NULL);
  if (rc != LF_OK) return rc;
  const lf_study_result *par = parent_of(st, k);
  free(r->curve);
  memset(r, 0, sizeof *r);
  r->steps = s.n ? (long)s.step[s.n - 1] + 1 : 0;
  r->n_train = 0;
  for (size_t i = 0; i < s.n; i++) r->n_train += s.batch[i];
  r->ess_eval = r->ess_err = r->acceptance = r->eff_per_second = NAN;
  r->eval_samples = 0;
  r->train_seconds = s.n ? s.seconds[s.n - 1] : 0.0;
  if (s.neval > 0) {
    const lf_train_eval_record *e = &s.evals[s.neval - 1];
    r->train_seconds = e->seconds;
    r->ess_eval = e->ess;
    r->acceptance = e->acceptance;
    r->eval_samples = (long)e->samples;
    r->eff_per_second = e->eval_seconds > 0 ? e->ess * (double)e->samples / e->eval_seconds : NAN;
    r->curve = malloc(s.neval * sizeof *r->curve);
    if (!r->curve)
      rc = LF_FAIL(LF_ERR_NOMEM, "study curve");
    else {
      memcpy(r->curve, s.evals, s.neval * sizeof *r->curve);
      r->ncurve = s.neval;
    }
  }
  if (isfinite(train_seconds)) r->train_seconds = train_seconds; /* the model file's */
  r->cpu_seconds = r->train_seconds * st->train_ranks;
  r->steps_chain = r->steps + (par ? par->steps_chain : 0);
  r->n_train_chain = r->n_train + (par ? par->n_train_chain : 0);
  r->seconds_chain = r->train_seconds + (par ? par->seconds_chain : 0.0);
  snprintf(r->stop_reason, sizeof r->stop_reason, "%s", stop_reason ? stop_reason : "");
  for (int j = 0; j < LF_STUDY_MAX_TARGETS; j++) {
    r->target_steps[j] = -1;
    r->target_n_train[j] = r->target_n_train_chain[j] = -1;
    r->target_seconds[j] = r->target_seconds_chain[j] = NAN;
    for (size_t i = 0; j < st->spec->ntargets && i < s.neval; i++) {
      const lf_train_eval_record *e = &s.evals[i];
      if (!(e->ess >= st->spec->targets[j])) continue;
      r->target_steps[j] = (long)e->step;
      r->target_n_train[j] = e->n_train;
      r->target_seconds[j] = e->seconds;
      r->target_n_train_chain[j] = e->n_train + (par ? par->n_train_chain : 0);
      r->target_seconds_chain[j] = e->seconds + (par ? par->seconds_chain : 0.0);
      break;
    }
  }
  /* volume transfer: filled by the caller (measure_volumes, fit_law) */
  r->law_ess_anchor = r->law_ess_v0 = r->law_ess_v0_err = r->law_chi2_dof = NAN;
  r->imh_acceptance = r->mass = r->mass_err = NAN;
  r->eff_s_flow = r->eff_s_hmc = r->eff_s_flow_with_train = NAN;
  r->done = rc == LF_OK;
  lf_io_series_free(&s);
  return rc;
}

/* Rank 0, study.sample: the analysis of unit k's ensemble.h5 (and hmc.h5 when there is
 * one) into r (see the top comment). */
static lf_status measure_sample(const lf_study *st, int k, lf_study_result *r) {
  char fpath[LF_PATH_MAX], hpath[LF_PATH_MAX];
  lf_ensemble fe = {0}, he = {0};
  lf_analysis fa = {0}, ha = {0};
  lf_status rc = unit_path(st, k, "ensemble.h5", fpath, sizeof fpath);
  if (rc == LF_OK) rc = unit_path(st, k, "hmc.h5", hpath, sizeof hpath);
  if (rc == LF_OK) rc = lf_ens_read(fpath, &fe);
  if (rc == LF_OK) rc = lf_analyze(&fe, 0, &fa);
  const int has_hmc = rc == LF_OK && lf_io_exists(hpath);
  if (has_hmc && (rc = lf_ens_read(hpath, &he)) == LF_OK) rc = lf_analyze(&he, 0, &ha);
  if (rc == LF_OK) {
    const char *why = NULL;
    const int j = lf_table_eff_obs(&fa, &why);
    r->imh_acceptance = fa.acceptance;
    r->mass = fa.pole_mass;
    r->mass_err = fa.pole_mass_err;
    if (j >= 0) {
      r->eff_s_flow = fa.obs[j].eff_per_s;
      r->eff_s_flow_with_train = fa.obs[j].eff_per_s_total;
      if (has_hmc && j < ha.nobs) r->eff_s_hmc = ha.obs[j].eff_per_s;
    }
  }
  lf_analysis_free(&ha);
  lf_analysis_free(&fa);
  lf_ens_free(&he);
  lf_ens_free(&fe);
  return rc;
}

/* Collective, study.volumes: point k's model evaluated on every volume without retraining
 * (lf_eval_model: study.volume_samples fresh samples), with study.volume_proposals > 0 also
 * sampled there (IMH, into <dir>/volumes/LxL, volume transferred) and its pole mass taken
 * from the analysis; vol[] gets one entry per volume (rank 0's analysis). */
static lf_status measure_volumes(const lf_study *st, const lf_config *cfg, const lf_study_opts *o,
                                 MPI_Comm comm, int rank, lf_study_volume *vol) {
  const lf_study_spec *sp = st->spec;
  char model[LF_PATH_MAX];
  lf_status rc = lf_io_path_join(model, sizeof model, cfg->output, "model.h5");
  for (int i = 0; rc == LF_OK && i < sp->nvolumes; i++) {
    char shape[64], sub[64];
    snprintf(shape, sizeof shape, "theory.shape=[%d, %d]", sp->volumes[i][0], sp->volumes[i][1]);
    snprintf(sub, sizeof sub, "volumes/%dx%d", sp->volumes[i][0], sp->volumes[i][1]);
    lf_config vc = *cfg;
    const char *a = shape;
    rc = lf_config_set_list(&vc, 1, &a);
    if (rc == LF_OK) rc = lf_eval_model(&vc, model, sp->volume_samples, comm, &vol[i]);
    if (rc == LF_OK && rank == 0)
      lf_log_info("study", "  volume %dx%d: ESS %.4f +- %.4f, acceptance %.4f (%ld samples)",
                  vol[i].L0, vol[i].L1, vol[i].ess, vol[i].ess_err, vol[i].acceptance,
                  vol[i].samples);
    if (rc != LF_OK || sp->volume_proposals <= 0) continue;
    char dir[LF_PATH_MAX], ens[LF_PATH_MAX];
    rc = lf_io_path_join(dir, sizeof dir, cfg->output, sub);
    if (rc == LF_OK) rc = lf_config_set_output(&vc, dir);
    if (rc == LF_OK) {
      vc.sample.proposals = sp->volume_proposals;
      rc = lf_sample_pipeline_ex(&vc, model, o->force, o->resume, comm, NULL);
    }
    if (rc == LF_OK && rank == 0 &&
        (rc = lf_io_path_join(ens, sizeof ens, dir, "ensemble.h5")) == LF_OK) {
      lf_ensemble e;
      lf_analysis an;
      memset(&e, 0, sizeof e);
      memset(&an, 0, sizeof an);
      rc = lf_ens_read(ens, &e);
      if (rc == LF_OK) rc = lf_analyze(&e, 0, &an);
      if (rc == LF_OK) {
        vol[i].mass = an.pole_mass;
        vol[i].mass_err = an.pole_mass_err;
      }
      lf_analysis_free(&an);
      lf_ens_free(&e);
    }
    rc = lf_comm_agree(comm, rc);
  }
  return rc;
}

/* Rank 0: the law ESS(V) = ESS(V0)^(V/V0) fitted to r's volumes (V0: the point's lattice;
 * lf_study_fit_volume_law). No usable volume: a warning, the law NaN. */
static void fit_law(const lf_study *st, const lf_config *cfg, lf_study_result *r) {
  double V[LF_STUDY_MAX_VOLUMES], ess[LF_STUDY_MAX_VOLUMES], err[LF_STUDY_MAX_VOLUMES];
  const int n = st->spec->nvolumes;
  for (int i = 0; i < n; i++) {
    V[i] = (double)r->volumes[i].L0 * r->volumes[i].L1;
    ess[i] = r->volumes[i].ess;
    err[i] = r->volumes[i].ess_err;
  }
  const double V0 = (double)cfg->theory.shape[0] * cfg->theory.shape[1];
  if (lf_study_fit_volume_law(n, V, ess, err, V0, &r->law_ess_v0, &r->law_ess_v0_err,
                              &r->law_chi2_dof, &r->law_ess_anchor) != LF_OK)
    lf_log_warn("study", "no volume law: %s", lf_last_error());
}

/* Rank 0: unit k's result from its JSON file when it exists (*found = 1). */
static lf_status load_result(lf_study *st, int k, int *found) {
  char path[LF_PATH_MAX];
  *found = 0;
  lf_status rc = result_path(st, k, path, sizeof path);
  if (rc != LF_OK || !lf_io_exists(path)) return rc;
  *found = 1;
  return lf_study_read_point_json(path, st->spec, result_of(st, k));
}

/* "point 3/12 [label]" or "root" for the log. */
static void unit_name(const lf_study *st, int k, char *buf, size_t n) {
  if (k < 0)
    snprintf(buf, n, "root");
  else
    snprintf(buf, n, "point %d/%d [%s]", k + 1, st->npoints, st->points[k].label);
}

/* Trains unit k (collective) unless --resume finds its result; measures it and writes its
 * JSON file (rank 0). */
static lf_status run_unit(lf_study *st, int k, const lf_study_opts *o, MPI_Comm comm, int rank) {
  char name[LF_STUDY_LABEL_MAX + 32], path[LF_PATH_MAX];
  unit_name(st, k, name, sizeof name);
  int skip = 0, sig = 0;
  lf_status rc = LF_OK;
  if (rank == 0 && o->resume) rc = load_result(st, k, &skip);
  if (rank == 0 && rc == LF_OK && !skip && parent_of(st, k) && !parent_of(st, k)->done)
    rc = LF_FAIL(LF_ERR_IO, "study: %s: its parent has no result (%s)", name,
                 st->points[k].parent == LF_STUDY_PARENT_ROOT ? "train the root first: --root-only"
                                                              : "run the points in order");
  if ((rc = lf_comm_agree(comm, rc)) != LF_OK) return rc;
  if (MPI_Bcast(&skip, 1, MPI_INT, 0, comm) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "MPI_Bcast of the study's state failed");
  if (skip) {
    if (rank == 0) lf_log_info("study", "%s: finished earlier (its results are kept)", name);
    return LF_OK;
  }
  lf_signal_test_hook("study", k, rank); /* tests: a signal between two points */
  if ((rc = lf_signal_agree(comm, &sig)) != LF_OK) return rc;
  if (sig)
    return lf_fail_msg(LF_INTERRUPTED, "study: interrupted by %s before %s; continue with --resume",
                       lf_signal_name(sig), name);
  lf_config cfg;
  if ((rc = lf_study_point_config(st, k, &cfg)) != LF_OK) return rc;
  if (rank == 0) {
    const int par = k < 0 ? LF_STUDY_PARENT_NONE : st->points[k].parent;
    char from[64];
    if (par >= 0)
      snprintf(from, sizeof from, "from point %d's model", par + 1);
    else
      snprintf(from, sizeof from, "%s",
               par == LF_STUDY_PARENT_ROOT ? "from the root model" : "from scratch");
    lf_log_info("study", "%s: training %s into %s", name, from, cfg.output);
    rc = lf_io_mkdirs(cfg.output);
    if (rc == LF_OK) rc = result_path(st, k, path, sizeof path);
    if (rc == LF_OK && lf_io_exists(path) && remove(path) != 0) /* --force: a stale result */
      rc = LF_FAIL(LF_ERR_IO, "cannot remove the stale '%s'", path);
  }
  if ((rc = lf_comm_agree(comm, rc)) != LF_OK) return rc;
  cJSON *jp = rank == 0 ? cJSON_CreateObject() : NULL;
  const int sample = k >= 0 && st->spec->sample;
  if (sample) /* the stages of latflow run: train, sample, HMC (hmc.compare) */
    rc = lf_run_stages(&cfg, o->force, o->resume, comm, jp, NULL, NULL);
  else
    rc = lf_train_pipeline_ex(&cfg, o->force, o->resume, comm, jp);
  lf_study_volume vol[LF_STUDY_MAX_VOLUMES];
  memset(vol, 0, sizeof vol);
  if (rc == LF_OK && k >= 0 && st->spec->nvolumes > 0)
    rc = measure_volumes(st, &cfg, o, comm, rank, vol);
  if (rc == LF_OK && rank == 0) {
    const cJSON *sr = cJSON_GetObjectItemCaseSensitive(jp, "stop_reason");
    lf_study_result *r = result_of(st, k);
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(jp, "train_seconds");
    rc = measure(st, k, cJSON_IsString(sr) ? sr->valuestring : "",
                 cJSON_IsNumber(ts) ? ts->valuedouble : NAN, r);
    if (rc == LF_OK && sample) rc = measure_sample(st, k, r);
    if (rc == LF_OK && k >= 0 && st->spec->nvolumes > 0) {
      memcpy(r->volumes, vol, sizeof vol);
      fit_law(st, &cfg, r);
    }
    cJSON *pj = rc == LF_OK ? lf_study_point_json(st, k, 1) : NULL;
    if (rc == LF_OK && !pj) rc = LF_FAIL(LF_ERR_NOMEM, "point JSON");
    if (rc == LF_OK) rc = lf_study_write_json_file(path, pj);
    cJSON_Delete(pj);
    if (rc == LF_OK)
      lf_log_info("study",
                  "%s: done: %ld steps, N_train %lld, %.1f s; ESS %.4f, acceptance %.4f; chain "
                  "N_train %lld, %.1f s",
                  name, r->steps, (long long)r->n_train, r->train_seconds, r->ess_eval,
                  r->acceptance, (long long)r->n_train_chain, r->seconds_chain);
  }
  cJSON_Delete(jp);
  if (rc == LF_INTERRUPTED) return rc; /* the pipeline agreed it already */
  return lf_comm_agree(comm, rc);
}

/* Rank 0, before a run without --resume or --force: refuses when a run this invocation
 * would make (the root, the points; one point with --point) left files behind. */
static lf_status check_fresh(const lf_study *st, const lf_study_opts *o) {
  static const char *const files[] = {"model.h5",      "train.h5",   "train.h5.tmp",
                                      "train.ckpt.h5", "point.json", "root.json"};
  const int first = o->point >= 0 ? o->point : st->has_root ? -1 : 0;
  const int last = o->point >= 0 ? o->point : o->root_only ? -1 : st->npoints - 1;
  for (int k = first; k <= last; k++)
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
      char path[LF_PATH_MAX];
      const lf_status rc = unit_path(st, k, files[i], path, sizeof path);
      if (rc != LF_OK) return rc;
      if (lf_io_exists(path))
        return LF_FAIL(LF_ERR_IO,
                       "'%s' already holds runs of a study (%s); continue it with --resume or "
                       "start over with --force",
                       st->output, path);
    }
  return LF_OK;
}

/* Rank 0: reads every point's (and the root's) result; LF_ERR_IO listing the missing. */
static lf_status assemble(lf_study *st) {
  char missing[1024] = "";
  int nmissing = 0, found = 0;
  lf_status rc = LF_OK;
  if (st->has_root && (rc = load_result(st, -1, &found)) == LF_OK && !found) {
    snprintf(missing, sizeof missing, "root");
    nmissing++;
  }
  for (int k = 0; rc == LF_OK && k < st->npoints; k++) {
    if ((rc = load_result(st, k, &found)) != LF_OK || found) continue;
    const size_t u = strlen(missing);
    if (u + 16 < sizeof missing)
      snprintf(missing + u, sizeof missing - u, "%s%d", u ? ", " : "", k);
    nmissing++;
  }
  if (rc == LF_OK && nmissing)
    rc = LF_FAIL(LF_ERR_IO,
                 "study '%s': %d of %d runs have no results yet (%s): run them with --point K "
                 "(and the root with --root-only), then --assemble again",
                 st->output, nmissing, st->npoints + st->has_root, missing);
  return rc;
}

/* Rank 0: the study's outputs: DIR/study.h5, the CSV tables, the overlay plots (a plot
 * that fails is a warning: gnuplot may be missing) and DIR/study.json; then the --json
 * object. */
static lf_status write_outputs(lf_study *st, cJSON *json) {
  char h5[LF_PATH_MAX], csv[LF_PATH_MAX], js[LF_PATH_MAX];
  lf_status rc = lf_io_path_join(h5, sizeof h5, st->output, "study.h5");
  if (rc == LF_OK) rc = lf_io_path_join(csv, sizeof csv, st->output, "study.csv");
  if (rc == LF_OK) rc = lf_io_path_join(js, sizeof js, st->output, "study.json");
  if (rc == LF_OK) rc = lf_io_study_write(h5, st);
  if (rc == LF_OK) rc = lf_io_study_write_csv(st->output, st);
  if (rc == LF_OK && lf_plot_study(h5, NULL, NULL) != LF_OK)
    lf_log_warn("study", "no plots: %s", lf_last_error());
  cJSON *o = rc == LF_OK ? cJSON_CreateObject() : NULL;
  if (rc == LF_OK && !o) rc = LF_FAIL(LF_ERR_NOMEM, "study JSON");
  if (rc == LF_OK) {
    lf_study_to_json(st, csv, o);
    cJSON_AddStringToObject(o, "file", h5);
    rc = lf_study_write_json_file(js, o);
  }
  cJSON_Delete(o);
  if (rc == LF_OK)
    lf_log_info("study", "%d points; %s, table %s, plots in %s/plots", st->npoints, h5, csv,
                st->output);
  if (rc == LF_OK && json) {
    lf_study_to_json(st, csv, json);
    cJSON_AddStringToObject(json, "file", h5);
  }
  return rc;
}

lf_status lf_study_run(lf_study *st, const lf_study_opts *o, MPI_Comm comm, cJSON *json) {
  int rank = 0, size = 1;
  if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS || MPI_Comm_size(comm, &size) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "cannot query the job communicator");
  st->train_ranks = st->base.train.ranks > 0 ? st->base.train.ranks : size;
  lf_status rc = LF_OK;
  if (o->point >= st->npoints)
    return LF_FAIL(LF_ERR_USAGE, "study: --point %d: the study has points 0 to %d", o->point,
                   st->npoints - 1);
  if (o->point >= 0 && st->spec->protocol == LF_STUDY_SEQUENTIAL)
    return LF_FAIL(LF_ERR_USAGE,
                   "study: --point: a sequential study is one chain (each point starts from the "
                   "previous one's model); run it whole, without --point");
  if (o->root_only && !st->has_root)
    return LF_FAIL(LF_ERR_USAGE, "study: --root-only: this study has no root model");
  if (o->assemble) {
    if (rank == 0) rc = assemble(st);
    if (rc == LF_OK && rank == 0) rc = write_outputs(st, json);
    return lf_comm_agree(comm, rc);
  }
  if (rank == 0 && !o->resume && !o->force) rc = check_fresh(st, o);
  if ((rc = lf_comm_agree(comm, rc)) != LF_OK) return rc;
  if (o->point >= 0) { /* an array task: its parent must be there */
    int found = 0;
    if (rank == 0 && st->has_root && (rc = load_result(st, -1, &found)) == LF_OK && !found)
      rc = LF_FAIL(LF_ERR_IO,
                   "study: point %d starts from the root model, which has no result yet: train "
                   "it first with --root-only",
                   o->point);
    if ((rc = lf_comm_agree(comm, rc)) != LF_OK) return rc;
    rc = run_unit(st, o->point, o, comm, rank);
    if (rc == LF_OK && json) lf_study_to_json(st, NULL, json);
    return rc;
  }
  if (st->has_root) rc = run_unit(st, -1, o, comm, rank);
  for (int k = 0; rc == LF_OK && !o->root_only && k < st->npoints; k++)
    rc = run_unit(st, k, o, comm, rank);
  if (rc != LF_OK) return rc;
  if (o->root_only) {
    if (json) lf_study_to_json(st, NULL, json);
    return LF_OK;
  }
  if (rank == 0) rc = write_outputs(st, json);
  return lf_comm_agree(comm, rc);
}
