/* latflow analyze FILE.h5 [--json]: observables with Gamma-method errors, tau_int,
 * acceptance, ESS, effective samples per second (DESIGN.md section 3). */
#include "cli.h"
#include "cmd_train.h"

#include "latflow/analyze.h"
#include "latflow/ensemble.h"
#include "latflow/log.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: latflow analyze FILE.h5 [--json]\n"
    "Analyses an ensemble file (from `latflow sample`, `latflow hmc` or latflow-merge): for\n"
    "every observable the mean, its error by the Gamma method with automatic windowing\n"
    "(Wolff 2004; chains are replicas), tau_int and its error, and effective samples per\n"
    "second; for flow ensembles the acceptance, the ESS of the weights and the longest run\n"
    "of rejections; for HMC <exp(-dH)>; for phi^4 the zero-momentum correlator, the\n"
    "effective mass and the pole mass. --json prints one object on stdout.\n";

static const char *kind_name(lf_ens_kind k) {
  return k == LF_ENS_HMC ? "hmc" : k == LF_ENS_REWEIGHT ? "reweight" : "imh";
}

static void add_num_or_null(cJSON *o, const char *key, double v) {
  if (isfinite(v))
    cJSON_AddNumberToObject(o, key, v);
  else
    cJSON_AddNullToObject(o, key);
}

void lf_analysis_to_json(const char *file, const lf_ensemble *e, const lf_analysis *a,
                         cJSON *json) {
  cJSON_AddStringToObject(json, "file", file);
  cJSON *th = cJSON_AddObjectToObject(json, "theory");
  cJSON_AddStringToObject(th, "name", e->info.theory);
  cJSON *shape = cJSON_AddArrayToObject(th, "shape");
  cJSON_AddItemToArray(shape, cJSON_CreateNumber(e->info.L0));
  cJSON_AddItemToArray(shape, cJSON_CreateNumber(e->info.L1));
  if (!strcmp(e->info.theory, "phi4")) {
    cJSON_AddNumberToObject(th, "m2", e->cfg.theory.m2);
    cJSON_AddNumberToObject(th, "lambda", e->cfg.theory.lambda);
  }
  cJSON_AddStringToObject(json, "kind", kind_name(a->kind));
  cJSON_AddNumberToObject(json, "n", (double)a->n);
  cJSON_AddNumberToObject(json, "chains", a->R);
  cJSON_AddNumberToObject(json, "rows", (double)a->rows);
  add_num_or_null(json, "acceptance", a->acceptance);
  add_num_or_null(json, "ess", a->ess);
  if (a->max_run >= 0)
    cJSON_AddNumberToObject(json, "max_rejection_run", (double)a->max_run);
  else
    cJSON_AddNullToObject(json, "max_rejection_run");
  if (a->kind == LF_ENS_HMC) {
    cJSON *x = cJSON_AddObjectToObject(json, "exp_minus_dH");
    add_num_or_null(x, "mean", a->exp_mdH);
    add_num_or_null(x, "error", a->exp_mdH_err);
  }
  cJSON_AddNumberToObject(json, "gen_seconds", a->gen_seconds);
  cJSON_AddNumberToObject(json, "train_seconds", a->train_seconds);
  cJSON *obs = cJSON_AddObjectToObject(json, "observables");
  for (int k = 0; k < a->nobs; k++) {
    const lf_obs_stats *s = &a->obs[k];
    cJSON *o = cJSON_AddObjectToObject(obs, s->name);
    add_num_or_null(o, "mean", s->g.value);
    add_num_or_null(o, "error", s->g.error);
    add_num_or_null(o, "tau_int", s->g.tau_int);
    add_num_or_null(o, "tau_int_error", s->g.tau_int_error);
    cJSON_AddNumberToObject(o, "window", s->g.window);
    cJSON_AddBoolToObject(o, "window_found", !(s->g.flags & LF_GAMMA_NO_WINDOW));
    add_num_or_null(o, "eff_samples_per_s", s->eff_per_s);
    add_num_or_null(o, "eff_samples_per_s_with_training", s->eff_per_s_total);
  }
  if (a->ncorr > 0) {
    cJSON *c = cJSON_AddObjectToObject(json, "correlator");
    cJSON *G = cJSON_AddArrayToObject(c, "G"), *Ge = cJSON_AddArrayToObject(c, "G_error");
    for (int t = 0; t < a->ncorr; t++) {
      cJSON_AddItemToArray(G, cJSON_CreateNumber(a->G[t]));
      cJSON_AddItemToArray(Ge, cJSON_CreateNumber(a->G_err[t]));
    }
    cJSON *M = cJSON_AddArrayToObject(c, "m_eff"), *Me = cJSON_AddArrayToObject(c, "m_eff_error");
    for (int t = 1; t <= a->nmeff; t++) {
      cJSON_AddItemToArray(M, isfinite(a->meff[t]) ? cJSON_CreateNumber(a->meff[t])
                                                   : cJSON_CreateNull());
      cJSON_AddItemToArray(Me, isfinite(a->meff_err[t]) ? cJSON_CreateNumber(a->meff_err[t])
                                                        : cJSON_CreateNull());
    }
    if (a->pole_t > 0) {
      cJSON *p = cJSON_AddObjectToObject(json, "pole_mass");
      cJSON_AddNumberToObject(p, "t", a->pole_t);
      add_num_or_null(p, "mean", a->pole_mass);
      add_num_or_null(p, "error", a->pole_mass_err);
    }
  }
}

void lf_analysis_print(FILE *f, const char *file, const lf_ensemble *e, const lf_analysis *a) {
  fprintf(f, "%s: %s %dx%d, %s ensemble, %d chain(s), %zu steps, %zu stored states\n", file,
          e->info.theory, e->info.L0, e->info.L1, kind_name(a->kind), a->R, a->n, a->rows);
  if (a->kind == LF_ENS_HMC)
    fprintf(f, "  acceptance %.4f, <exp(-dH)> = %.4f +- %.4f, generation %.3g s\n", a->acceptance,
            a->exp_mdH, a->exp_mdH_err, a->gen_seconds);
  else
    fprintf(f,
            "  acceptance %.4f, ESS %.4f, longest rejection run %ld, generation %.1f s, "
            "training %.1f s\n",
            a->acceptance, a->ess, a->max_run, a->gen_seconds, a->train_seconds);
  if (a->max_run >= 0 && (double)a->max_run > 0.05 * (double)a->n)
    fprintf(f,
            "  WARNING: the chain sat on one state for %ld steps (%.0f%% of the run): the errors "
            "below may be underestimated; train the flow longer or draw more proposals\n",
            a->max_run, 100.0 * (double)a->max_run / (double)a->n);
  fprintf(f, "  %-10s %14s %12s %10s %9s %12s\n", "observable", "mean", "error", "tau_int", "+-",
          "eff/s");
  for (int k = 0; k < a->nobs; k++) {
    const lf_obs_stats *s = &a->obs[k];
    fprintf(f, "  %-10s %14.6g %12.3g %10.3g %9.2g %12.4g%s\n", s->name, s->g.value, s->g.error,
            s->g.tau_int, s->g.tau_int_error, s->eff_per_s,
            (s->g.flags & LF_GAMMA_NO_WINDOW) ? "  (no window found: error is a lower bound)" : "");
  }
  if (a->pole_t > 0)
    fprintf(f, "  pole mass m_eff(t=%d) = %.5g +- %.2g\n", a->pole_t, a->pole_mass,
            a->pole_mass_err);
}

int lf_cmd_analyze(int argc, char **argv, MPI_Comm comm) {
  (void)comm;
  lf_cli_opts o;
  int code;
  lf_status rc = lf_cli_parse(argc, argv, 2, "analyze", &o);
  if (rc != LF_OK) return lf_cli_report(rc);
  if (o.help) {
    fputs(help, stdout);
    return 0;
  }
  if (!o.config)
    return lf_cli_report(lf_fail_msg(LF_ERR_USAGE, "analyze: give an ensemble file\n%s", help));
  lf_ensemble e;
  lf_analysis a;
  memset(&e, 0, sizeof e);
  memset(&a, 0, sizeof a);
  rc = lf_ens_read(o.config, &e);
  if (rc == LF_OK) rc = lf_analyze(&e, 0, &a);
  code = lf_cli_report(rc);
  if (code == 0) {
    if (o.json) {
      cJSON *json = cJSON_CreateObject();
      lf_analysis_to_json(o.config, &e, &a, json);
      code = lf_cli_print_json(json);
      cJSON_Delete(json);
    } else {
      lf_analysis_print(stdout, o.config, &e, &a);
    }
  }
  lf_analysis_free(&a);
  lf_ens_free(&e);
  return code;
}
