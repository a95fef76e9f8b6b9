/* tests/unit/study_test.h: a synthetic study (latflow/study.h) for the tests of the study
 * file, its CSV and its plots, made without training anything: protocol root, two cases
 * times theory.lambda in {4, 2, 1} (six points, case-major), targets 0.2 and 0.5, three
 * volumes, a root result, curves of a few evaluations per point; the last point is not
 * done (NaN measurements, no curve), labels hold commas and quotes (CSV quoting). */
#ifndef LATFLOW_TESTS_STUDY_TEST_H
#define LATFLOW_TESTS_STUDY_TEST_H

#include "latflow/study.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fills a result: done points get a curve of ncurve evaluations whose ESS rises with
 * N_train, the costs to the targets, and volume evaluations following the law
 * ESS(V) = e0^(V/V0) with V0 = 64. */
static inline void study_test_result(lf_study_result *r, const lf_study_spec *sp, int k, int done,
                                     int ncurve) {
  memset(r, 0, sizeof *r);
  r->done = done;
  snprintf(r->stop_reason, sizeof r->stop_reason, "%s", done ? "steps" : "");
  const double nan = NAN;
  r->ess_eval = r->ess_err = r->acceptance = r->train_seconds = r->cpu_seconds = nan;
  r->seconds_chain = r->eff_per_second = r->law_ess_anchor = r->law_ess_v0 = nan;
  r->law_ess_v0_err = r->law_chi2_dof = r->imh_acceptance = r->mass = r->mass_err = nan;
  r->eff_s_flow = r->eff_s_hmc = r->eff_s_flow_with_train = nan;
  r->steps = r->steps_chain = r->eval_samples = -1;
  r->n_train = r->n_train_chain = -1;
  for (int j = 0; j < LF_STUDY_MAX_TARGETS; j++) {
    r->target_steps[j] = -1;
    r->target_n_train[j] = r->target_n_train_chain[j] = -1;
    r->target_seconds[j] = r->target_seconds_chain[j] = nan;
  }
  if (!done) return;
  const double e_final = 0.3 + 0.1 * k + 1e-3 / 3.0; /* not a short decimal */
  r->steps = 100 * (k + 1);
  r->n_train = (int64_t)r->steps * 64;
  r->train_seconds = 1.5 * (k + 1) + 0.1 / 7.0;
  r->cpu_seconds = 2 * r->train_seconds;
  r->steps_chain = r->steps + 300;
  r->n_train_chain = r->n_train + 300 * 64;
  r->seconds_chain = r->train_seconds + 4.25;
  r->ess_eval = e_final;
  r->ess_err = 0.01 + k * 1e-3;
  r->acceptance = 0.5 + 0.01 * k;
  r->eval_samples = 1000;
  r->eff_per_second = 1234.5 + k;
  r->imh_acceptance = 0.45;
  r->mass = 0.7 - 0.01 * k;
  r->mass_err = 0.02;
  r->ncurve = (size_t)ncurve;
  r->curve = calloc((size_t)ncurve, sizeof *r->curve);
  for (int e = 0; e < ncurve; e++) {
    lf_train_eval_record *c = &r->curve[e];
    c->step = (int64_t)(e + 1) * r->steps / ncurve;
    c->samples = 1000;
    c->ess = e_final * (e + 1) / ncurve;
    c->acceptance = 0.2 + 0.3 * (e + 1) / ncurve;
    c->loss = -1.0 / (e + 1);
    c->log_mean_weight = 0.01 * e;
    c->n_train = c->step * 64;
    c->seconds = r->train_seconds * (e + 1) / ncurve;
    c->eval_seconds = 0.01;
  }
  for (int j = 0; j < sp->ntargets; j++) /* reached when the final ESS passes the target */
    if (e_final >= sp->targets[j]) {
      r->target_steps[j] = r->steps / 2;
      r->target_n_train[j] = r->target_steps[j] * 64;
      r->target_n_train_chain[j] = r->target_n_train[j] + 300 * 64;
      r->target_seconds[j] = r->train_seconds / 2;
      r->target_seconds_chain[j] = r->target_seconds[j] + 4.25;
    }
  const double e0 = 0.9 - 0.05 * k;
  double V[LF_STUDY_MAX_VOLUMES], ess[LF_STUDY_MAX_VOLUMES], err[LF_STUDY_MAX_VOLUMES];
  for (int v = 0; v < sp->nvolumes; v++) {
    lf_study_volume *x = &r->volumes[v];
    x->L0 = sp->volumes[v][0];
    x->L1 = sp->volumes[v][1];
    V[v] = (double)x->L0 * x->L1;
    x->samples = 2000;
    x->ess = ess[v] = pow(e0, V[v] / 64.0);
    x->ess_err = err[v] = 0.05 * x->ess;
    x->acceptance = 0.5 * x->ess + 0.1;
    x->eval_seconds = 0.5;
    x->mass = 0.6 + 0.001 * v;
    x->mass_err = v == 1 ? nan : 0.01;
  }
  lf_study_fit_volume_law(sp->nvolumes, V, ess, err, 64.0, &r->law_ess_v0, &r->law_ess_v0_err,
                          &r->law_chi2_dof, &r->law_ess_anchor);
}

/* Fills st (lf_study_free frees it). The points' folders are under out. */
static inline void study_test_make(lf_study *st, const char *out) {
  static const char *lambdas[] = {"4", "2", "1"};
  memset(st, 0, sizeof *st);
  st->spec = calloc(1, sizeof *st->spec);
  lf_study_spec *sp = st->spec;
  snprintf(sp->name, sizeof sp->name, "synthetic");
  snprintf(sp->source, sizeof sp->source, "configs/studies/synthetic.yaml");
  sp->protocol = LF_STUDY_ROOT;
  sp->nkeys = 1;
  snprintf(sp->keys[0], sizeof sp->keys[0], "theory.lambda");
  sp->nvalues[0] = 3;
  for (int v = 0; v < 3; v++) snprintf(sp->values[0][v], sizeof sp->values[0][v], "%s", lambdas[v]);
  sp->ncases = 2;
  snprintf(sp->cases[0].label, sizeof sp->cases[0].label, "lr, \"halving\"");
  sp->cases[0].nset = 2;
  snprintf(sp->cases[0].set[0].key, LF_STUDY_KEY_MAX, "train.batch");
  snprintf(sp->cases[0].set[0].value, LF_STUDY_VALUE_MAX, "1024");
  snprintf(sp->cases[0].set[1].key, LF_STUDY_KEY_MAX, "train.schedule.lr_halve_every");
  snprintf(sp->cases[0].set[1].value, LF_STUDY_VALUE_MAX, "500");
  snprintf(sp->cases[1].label, sizeof sp->cases[1].label, "bs");
  sp->cases[1].nset = 1;
  snprintf(sp->cases[1].set[0].key, LF_STUDY_KEY_MAX, "train.batch");
  snprintf(sp->cases[1].set[0].value, LF_STUDY_VALUE_MAX, "64");
  sp->has_root = 1;
  sp->nroot = 1;
  snprintf(sp->root[0].key, LF_STUDY_KEY_MAX, "theory.lambda");
  snprintf(sp->root[0].value, LF_STUDY_VALUE_MAX, "4");
  sp->ntargets = 2;
  sp->targets[0] = 0.2;
  sp->targets[1] = 0.5;
  snprintf(sp->x, sizeof sp->x, "theory.lambda");
  sp->sample = 1;
  sp->nvolumes = 3;
  for (int v = 0; v < 3; v++) sp->volumes[v][0] = sp->volumes[v][1] = 8 + 4 * v;
  sp->volume_samples = 2000;
  sp->volume_proposals = 500;
  lf_config_defaults(&st->base);
  snprintf(st->output, sizeof st->output, "%s", out);
  st->npoints = 6;
  st->points = calloc(6, sizeof *st->points);
  st->results = calloc(6, sizeof *st->results);
  for (int k = 0; k < 6; k++) {
    lf_study_point *p = &st->points[k];
    const lf_study_case *c = &sp->cases[k / 3];
    p->index = k;
    p->parent = LF_STUDY_PARENT_ROOT;
    p->nset = c->nset + 1;
    memcpy(p->set, c->set, (size_t)c->nset * sizeof *c->set);
    snprintf(p->set[c->nset].key, LF_STUDY_KEY_MAX, "theory.lambda");
    snprintf(p->set[c->nset].value, LF_STUDY_VALUE_MAX, "%s", lambdas[k % 3]);
    snprintf(p->label, sizeof p->label, "%.200s, theory.lambda=%s", c->label, lambdas[k % 3]);
    snprintf(p->dir, sizeof p->dir, "%s/points/p%03d", out, k);
    study_test_result(&st->results[k], sp, k, k < 5, 3 + k);
  }
  st->has_root = 1;
  study_test_result(&st->root, sp, 1, 1, 4);
  st->train_ranks = 2;
  st->card_text = malloc(64);
  snprintf(st->card_text, 64, "study:\n  name: synthetic\n");
}

#endif
