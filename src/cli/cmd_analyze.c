/* latflow analyze FILE.h5 [--json] [--stau S] [--bins K]: observables with Gamma-method
 * errors checked by binning, tau_int, acceptance, ESS, effective samples (per second),
 * and the warnings of the analysis (latflow/analyze.h). */
#include "cli.h"
#include "latflow/io.h"
#include "cmd_train.h"
#include "latflow/theory.h"

#include "latflow/analyze.h"
#include "latflow/ensemble.h"
#include "latflow/exact.h"
#include "latflow/log.h"
#include "latflow/table.h"
#include "latflow/timer.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: latflow analyze FILE.h5 [--json] [--stau S] [--bins K]\n"
    "Analyses an ensemble file (from `latflow sample`, `latflow hmc` or latflow-merge): for\n"
    "every observable the mean and its error: the Gamma method with automatic windowing\n"
    "(Wolff 2004, window parameter S, default 1.5; 0 = no autocorrelation; chains are\n"
    "replicas), checked by the error of K bins (default 32; 0 = off); the larger of the two\n"
    "is reported. Also tau_int and its error, effective samples (variance / error^2) and per\n"
    "second; for flow ensembles the acceptance, the ESS of the weights, ESS x N, the Pareto\n"
    "k of the weights' tail and the longest run of rejections; for HMC <exp(-dH)>; for\n"
    "phi^4 the zero-momentum correlator, the effective mass and the pole mass. Numbers that\n"
    "cannot be estimated are null/nan, never 0; every doubt is a warning (rows marked '!',\n"
    "sentences below the table; \"warnings\" lists in the JSON). The exit code is 0 also\n"
    "with warnings. --json prints one object on stdout (docs/USER_GUIDE.md).\n";

static const char *kind_name(lf_ens_kind k) {
  return k == LF_ENS_HMC ? "hmc" : k == LF_ENS_REWEIGHT ? "reweight" : "imh";
}

static void add_num_or_null(cJSON *o, const char *key, double v) {
  if (isfinite(v))
    cJSON_AddNumberToObject(o, key, v);
  else
    cJSON_AddNullToObject(o, key);
}

/* The exact values latflow knows for e's theory: pure U(1) (the character expansion,
 * latflow/exact.h), evaluated once per caller. 0 if none. */
static int exact_eval(const lf_ensemble *e, lf_u1_exact *ex) {
  return e->cfg.theory.name == LF_THEORY_U1 &&
         lf_u1_exact_eval(e->cfg.theory.beta, e->info.L0 * e->info.L1, ex) == LF_OK;
}

/* The exact value of observable obs among ex's: plaq, topo (<Q> = 0) and chi_t. 0 if none. */
static int exact_of(const lf_u1_exact *ex, const char *obs, double *x) {
  if (!strcmp(obs, "plaq"))
    *x = ex->plaq;
  else if (!strcmp(obs, "topo"))
    *x = 0.0;
  else if (!strcmp(obs, "chi_t"))
    *x = ex->chi_t;
  else
    return 0;
  return 1;
}

void lf_analysis_to_json(const char *file, const lf_ensemble *e, const lf_analysis *a,
                         cJSON *json) {
  cJSON_AddStringToObject(json, "file", file);
  cJSON *th = cJSON_AddObjectToObject(json, "theory");
  cJSON_AddStringToObject(th, "name", e->info.theory);
  cJSON *shape = cJSON_AddArrayToObject(th, "shape");
  cJSON_AddItemToArray(shape, cJSON_CreateNumber(e->info.L0));
  cJSON_AddItemToArray(shape, cJSON_CreateNumber(e->info.L1));
  const char *key, *text; /* the couplings of the action, under their names without "theory." */
  double v;
  for (int i = 0; lf_theory_cfg_coupling(&e->cfg.theory, i, &key, &v, &text); i++) {
    if (text)
      cJSON_AddStringToObject(th, strchr(key, '.') + 1, text);
    else
      cJSON_AddNumberToObject(th, strchr(key, '.') + 1, v);
  }
  cJSON_AddStringToObject(json, "kind", kind_name(a->kind));
  cJSON *jw = cJSON_AddArrayToObject(json, "warnings");
  for (int i = 0; i < a->warnings.n; i++)
    cJSON_AddItemToArray(jw, cJSON_CreateString(a->warnings.text[i]));
  cJSON *ja = cJSON_AddObjectToObject(json, "analysis");
  cJSON_AddNumberToObject(ja, "stau", a->opts.S);
  cJSON_AddNumberToObject(ja, "bins", a->opts.bins);
  cJSON_AddNumberToObject(json, "n", (double)a->n);
  cJSON_AddNumberToObject(json, "chains", a->R);
  cJSON_AddNumberToObject(json, "rows", (double)a->rows);
  add_num_or_null(json, "acceptance", a->acceptance);
  add_num_or_null(json, "ess", a->ess);
  add_num_or_null(json, "ess_samples", a->ess_samples);
  add_num_or_null(json, "pareto_k", a->pareto_k);
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
  lf_u1_exact ex;
  const int have_exact = exact_eval(e, &ex);
  cJSON *obs = cJSON_AddObjectToObject(json, "observables");
  for (int k = 0; k < a->nobs; k++) {
    const lf_obs_stats *s = &a->obs[k];
    cJSON *o = cJSON_AddObjectToObject(obs, s->name);
    add_num_or_null(o, "mean", s->g.value);
    add_num_or_null(o, "error", s->g.error);
    add_num_or_null(o, "tau_int", s->g.tau_int);
    add_num_or_null(o, "tau_int_error", s->g.tau_int_error);
    add_num_or_null(o, "error_gamma", s->g.error_gamma);
    add_num_or_null(o, "error_bin", s->g.error_bin);
    cJSON_AddNumberToObject(o, "bins", s->g.bins);
    if (isfinite(s->g.error))
      cJSON_AddStringToObject(o, "error_method", (s->g.flags & LF_GAMMA_BINNED) ? "bins" : "gamma");
    else
      cJSON_AddNullToObject(o, "error_method");
    add_num_or_null(o, "tau_int_gamma", s->g.tau_int_gamma);
    cJSON_AddNumberToObject(o, "window", s->g.window);
    cJSON_AddBoolToObject(o, "window_found", !(s->g.flags & LF_GAMMA_NO_WINDOW));
    add_num_or_null(o, "eff_samples", s->eff_samples);
    add_num_or_null(o, "eff_samples_per_s", s->eff_per_s);
    add_num_or_null(o, "eff_samples_per_s_with_training", s->eff_per_s_total);
    double x;
    if (have_exact && exact_of(&ex, s->name, &x)) { /* "exact", its z-score (null: no error) */
      cJSON_AddNumberToObject(o, "exact", x);
      add_num_or_null(o, "z_exact", (s->g.value - x) / s->g.error);
    }
    cJSON_AddNumberToObject(o, "non_finite", (double)s->nonfinite);
    cJSON *w = cJSON_AddArrayToObject(o, "warnings");
    for (int i = 0; i < s->warnings.n; i++)
      cJSON_AddItemToArray(w, cJSON_CreateString(s->warnings.text[i]));
  }
  if (a->ncorr > 0) {
    cJSON *c = cJSON_AddObjectToObject(json, "correlator");
    cJSON *G = cJSON_AddArrayToObject(c, "G"), *Ge = cJSON_AddArrayToObject(c, "G_error");
    for (int t = 0; t < a->ncorr; t++) {
      cJSON_AddItemToArray(G, isfinite(a->G[t]) ? cJSON_CreateNumber(a->G[t]) : cJSON_CreateNull());
      cJSON_AddItemToArray(Ge, isfinite(a->G_err[t]) ? cJSON_CreateNumber(a->G_err[t])
                                                     : cJSON_CreateNull());
    }
    cJSON *M = cJSON_AddArrayToObject(c, "m_eff"), *Me = cJSON_AddArrayToObject(c, "m_eff_error");
    for (int t = 1; t <= a->nmeff; t++) {
      cJSON_AddItemToArray(M, isfinite(a->meff[t]) ? cJSON_CreateNumber(a->meff[t])
                                                   : cJSON_CreateNull());
      cJSON_AddItemToArray(Me, isfinite(a->meff_err[t]) ? cJSON_CreateNumber(a->meff_err[t])
                                                        : cJSON_CreateNull());
    }
    if (a->nmeff >= 1) { /* the fit of latflow/fit.h; "t" and "mean" kept for old readers */
      cJSON *p = cJSON_AddObjectToObject(json, "pole_mass");
      add_num_or_null(p, "value", a->pole_mass);
      add_num_or_null(p, "error", a->pole_mass_err);
      add_num_or_null(p, "tmin", a->pole_tmin > 0 ? a->pole_tmin : NAN);
      add_num_or_null(p, "tmax", a->pole_tmax > 0 ? a->pole_tmax : NAN);
      add_num_or_null(p, "chi2_dof", a->pole_chi2_dof);
      cJSON_AddStringToObject(p, "method",
                              a->pole_tmin > 0
                                  ? "fit of G(t) = A cosh(m (t - T/2)), t = tmin..T/2, "
                                    "uncorrelated chi2; error: Gamma method"
                                  : "none: no fit possible (see warnings)");
      add_num_or_null(p, "t", a->pole_t > 0 ? a->pole_t : NAN);
      add_num_or_null(p, "mean", a->pole_mass);
    }
  }
}

/* "%.*g" of v, or "-" when v is not finite (no number can be given). */
static const char *num(char *buf, size_t n, const char *fmt, double v) {
  if (isfinite(v))
    snprintf(buf, n, fmt, v);
  else
    snprintf(buf, n, "-");
  return buf;
}

void lf_analysis_print_exact(FILE *f, const lf_ensemble *e, const lf_analysis *a,
                             const lf_analysis *h) {
  char b1[32], b2[32];
  lf_u1_exact ex;
  if (!exact_eval(e, &ex)) return;
  int first = 1;
  for (int k = 0; k < a->nobs; k++) {
    double x;
    if (!exact_of(&ex, a->obs[k].name, &x)) continue;
    const lf_obs_stats *s = &a->obs[k], *t = h && k < h->nobs ? &h->obs[k] : NULL;
    fprintf(f, "%s%s %.8g (z %s%s", first ? "  exact (character expansion): " : ", ", s->name, x,
            t ? "flow " : "", num(b1, sizeof b1, "%+.2f", (s->g.value - x) / s->g.error));
    if (t) fprintf(f, ", HMC %s", num(b2, sizeof b2, "%+.2f", (t->g.value - x) / t->g.error));
    fputc(')', f);
    first = 0;
  }
  if (!first) fputc('\n', f);
}

void lf_analysis_print_warnings(FILE *f, const lf_analysis *a, const char *indent) {
  for (int i = 0; i < a->warnings.n; i++)
    fprintf(f, "%sWARNING: %s\n", indent, a->warnings.text[i]);
  for (int k = 0; k < a->nobs; k++)
    for (int i = 0; i < a->obs[k].warnings.n; i++)
      fprintf(f, "%s! %s\n", indent, a->obs[k].warnings.text[i]);
}

void lf_analysis_print(FILE *f, const char *file, const lf_ensemble *e, const lf_analysis *a) {
  char b1[32], b2[32];
  fprintf(f, "%s: %s %dx%d, %s ensemble, %d chain(s), %zu steps, %zu stored states\n", file,
          e->info.theory, e->info.L0, e->info.L1, kind_name(a->kind), a->R, a->n, a->rows);
  if (a->kind == LF_ENS_HMC)
    fprintf(f, "  acceptance %.4f, <exp(-dH)> = %s +- %s, generation %.3g s\n", a->acceptance,
            num(b1, sizeof b1, "%.4f", a->exp_mdH), num(b2, sizeof b2, "%.4f", a->exp_mdH_err),
            a->gen_seconds);
  else
    fprintf(f,
            "  acceptance %.4f, ESS %.4f (%s samples), Pareto k %s, longest rejection run %ld, "
            "generation %.1f s, training %.1f s\n",
            a->acceptance, a->ess, num(b1, sizeof b1, "%.4g", a->ess_samples),
            num(b2, sizeof b2, "%.2f", a->pareto_k), a->max_run, a->gen_seconds, a->train_seconds);
  fprintf(f, "  errors: Gamma method (S = %g) %s\n", a->opts.S,
          a->opts.bins > 0 ? "and binning, the larger reported" : "alone (binning off)");
  char *table = lf_table_analysis(a); /* widths from the content (latflow/table.h) */
  if (table) {
    fputs(table, f);
    lf_free(table);
  }
  lf_analysis_print_exact(f, e, a, NULL);
  lf_analysis_print_warnings(f, a, "  ");
}

/* Parses --stau and --bins into opts (LF_ERR_USAGE on a bad value). */
static lf_status parse_opts(const lf_cli_opts *o, lf_analyze_opts *ao) {
  *ao = LF_ANALYZE_OPTS_DEFAULT;
  char *end;
  if (o->stau) {
    ao->S = strtod(o->stau, &end);
    if (*end || !(ao->S >= 0.0) || !isfinite(ao->S))
      return lf_fail_msg(LF_ERR_USAGE, "analyze: --stau needs a number >= 0, got '%s'", o->stau);
  }
  if (o->bins) {
    const long k = strtol(o->bins, &end, 10);
    if (*end || k < 0 || k == 1 || k > 1000000)
      return lf_fail_msg(LF_ERR_USAGE, "analyze: --bins needs 0 (off) or an integer >= 2, got '%s'",
                         o->bins);
    ao->bins = (int)k;
  }
  return LF_OK;
}

/* Reads and analyses one ensemble file; prints the table or (--json) the object. */
int lf_cmd_analyze(int argc, char **argv, MPI_Comm comm) {
  (void)comm;
  lf_cli_opts o;
  int code;
  if (!lf_cli_start(argc, argv, "analyze", help, &o, &code)) return code;
  if (!o.config)
    return lf_cli_report(lf_fail_msg(LF_ERR_USAGE, "analyze: give an ensemble file\n%s", help));
  lf_ensemble e;
  lf_analysis a;
  memset(&e, 0, sizeof e);
  memset(&a, 0, sizeof a);
  lf_analyze_opts ao;
  lf_status rc = parse_opts(&o, &ao);
  if (rc == LF_OK) rc = lf_io_input_check(o.config, "analyze: input");
  if (rc == LF_OK) rc = lf_ens_read(o.config, &e);
  if (rc == LF_OK) rc = lf_analyze_ex(&e, 0, &ao, &a);
  code = lf_cli_report(rc);
  if (code == 0) {
    if (o.json) {
      cJSON *json = cJSON_CreateObject();
      cJSON_AddStringToObject(json, "command", "analyze");
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
