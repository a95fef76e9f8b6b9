/* test_analyze: lf_analyze (latflow/analyze.h) on ensembles built in memory, where the
 * answer is known: a frozen HMC chain (constant observables: null errors and warnings,
 * not 0), non-finite values of one observable and of dH (that number null with a warning,
 * the rest analysed), effective samples of a reweighted ensemble (Var(O)/error^2, about
 * ESS N, not N), and IMH chains whose weights have a light or a heavy Pareto tail. */
#include "latflow/analysis.h"
#include "latflow/analyze.h"
#include "latflow/ensemble.h"

#include "lftest.h"

#include <string.h>

static lf_rng_key key(void) {
  return lf_rng_key_make(20250612u, LF_STREAM_TEST);
}

/* An ensemble of R chains of n steps each, one stored row per step (row i = step i),
 * nobs observables named o0, o1, ...; the caller fills obs and chain. */
static void ens_make(lf_ensemble *e, lf_ens_kind kind, int R, size_t n, int nobs) {
  memset(e, 0, sizeof *e);
  e->info.kind = kind;
  snprintf(e->info.theory, sizeof e->info.theory, "phi4");
  e->info.C = e->info.L0 = e->info.L1 = 1;
  e->info.nobs = nobs;
  for (int k = 0; k < nobs; k++) snprintf(e->info.obs_names[k], LF_NAME_MAX, "o%d", k);
  e->info.gen_seconds = 10.0;
  e->R = R;
  e->rows = calloc((size_t)R, sizeof *e->rows);
  e->steps = calloc((size_t)R, sizeof *e->steps);
  e->obs = calloc((size_t)R, sizeof *e->obs);
  e->corr = calloc((size_t)R, sizeof *e->corr);
  e->chain = calloc((size_t)R, sizeof *e->chain);
  for (int r = 0; r < R; r++) {
    e->rows[r] = e->steps[r] = n;
    e->obs[r] = calloc(n * (size_t)nobs, sizeof(double));
    e->chain[r] = calloc(n, sizeof(lf_ens_step));
    for (size_t i = 0; i < n; i++)
      e->chain[r][i] = (lf_ens_step){(int64_t)i, (int64_t)i, NAN, NAN, 1, 0, 0};
  }
}

/* (c) HMC that never accepted: every observable constant, dH = 50 throughout. */
static void test_frozen(void) {
  lf_ensemble e;
  ens_make(&e, LF_ENS_HMC, 1, 400, 2);
  for (size_t i = 0; i < 400; i++) {
    e.chain[0][i].row = 0;
    e.chain[0][i].accepted = 0;
    e.chain[0][i].dH = 50.0;
    e.obs[0][2 * i] = 0.25;
    e.obs[0][2 * i + 1] = -4.8e15;
  }
  lf_analysis a;
  const lf_status rc = lf_analyze(&e, 10, &a);
  CHECK(rc == LF_OK, "frozen chain: analysed (rc %d %s)", rc, rc ? lf_last_error() : "");
  if (rc == LF_OK) {
    CHECK((a.warn & LF_WARN_FROZEN) && a.warnings.n >= 1 && strstr(a.warnings.text[0], "never"),
          "frozen chain: ensemble warning: %s", a.warnings.n ? a.warnings.text[0] : "(none)");
    for (int k = 0; k < 2; k++)
      CHECK(a.obs[k].g.value == e.obs[0][k] && isnan(a.obs[k].g.error) &&
                isnan(a.obs[k].g.tau_int) && isnan(a.obs[k].eff_samples) &&
                isnan(a.obs[k].eff_per_s) && (a.obs[k].warn & LF_WARN_CONSTANT) &&
                a.obs[k].warnings.n == 1,
            "frozen chain: %s = %g, error %g, tau_int %g, eff/s %g (null, not 0): %s",
            a.obs[k].name, a.obs[k].g.value, a.obs[k].g.error, a.obs[k].g.tau_int,
            a.obs[k].eff_per_s, a.obs[k].warnings.n ? a.obs[k].warnings.text[0] : "(none)");
    CHECK(isnan(a.exp_mdH_err), "frozen chain: <exp(-dH)> = %g +- %g (error null)", a.exp_mdH,
          a.exp_mdH_err);
    lf_analysis_free(&a);
  }
  lf_ens_free(&e);
}

/* (d) two HMC chains of AR(1)-like observables; o1 has a NaN (chain 1, step 17) and an
 * Inf, dH is +Inf at chain 0, step 5: o0 and o2 are analysed as without them. */
static void test_nonfinite(void) {
  const size_t n = 3000;
  lf_ensemble e;
  ens_make(&e, LF_ENS_HMC, 2, n, 3);
  double *z = malloc(3 * n * sizeof *z);
  for (int r = 0; r < 2; r++) {
    lf_rng_normal(key(), 10u + (uint32_t)r, 0, 3 * n, z);
    for (size_t i = 0; i < n; i++) {
      for (int k = 0; k < 3; k++) e.obs[r][3 * i + (size_t)k] = 1.0 + z[3 * i + (size_t)k];
      e.chain[r][i].dH = 0.1 * z[i];
      e.chain[r][i].accepted = 1;
    }
  }
  lf_analysis ref;
  lf_status rc = lf_analyze(&e, 0, &ref);
  CHECK(rc == LF_OK && ref.warn == 0 && isfinite(ref.exp_mdH),
        "finite ensemble: rc %d, warnings %#x, <exp(-dH)> %g", rc, ref.warn, ref.exp_mdH);
  e.obs[1][3 * 17 + 1] = NAN;
  e.obs[0][3 * 100 + 1] = INFINITY;
  e.chain[0][5].dH = INFINITY;
  lf_analysis a;
  rc = lf_analyze(&e, 0, &a);
  CHECK(rc == LF_OK, "NaN in o1 and in dH: analysed (old code: LF_ERR_NUMERIC): rc %d %s", rc,
        rc ? lf_last_error() : "");
  if (rc == LF_OK) {
    const lf_obs_stats *s = &a.obs[1];
    CHECK(isnan(s->g.value) && isnan(s->g.error) && s->nonfinite == 2 &&
              (s->warn & LF_WARN_NONFINITE) && s->warnings.n == 1 &&
              strstr(s->warnings.text[0], "2 of 6000") &&
              strstr(s->warnings.text[0], "chain 0, step 100"),
          "o1: mean %g error %g, %zu non-finite: %s", s->g.value, s->g.error, s->nonfinite,
          s->warnings.n ? s->warnings.text[0] : "(none)");
    for (int k = 0; k < 3; k += 2)
      CHECK(a.obs[k].g.value == ref.obs[k].g.value && a.obs[k].g.error == ref.obs[k].g.error &&
                a.obs[k].warn == 0,
            "o%d unaffected: %.6f +- %.2e (as without the bad values: %.6f +- %.2e)", k,
            a.obs[k].g.value, a.obs[k].g.error, ref.obs[k].g.value, ref.obs[k].g.error);
    int found = 0;
    for (int i = 0; i < a.warnings.n; i++)
      found |= strstr(a.warnings.text[i], "chain 0, trajectory 5") != NULL;
    CHECK(isnan(a.exp_mdH) && (a.warn & LF_WARN_DH) && found,
          "dH = inf: <exp(-dH)> %g (null) with a warning naming the trajectory", a.exp_mdH);
    lf_analysis_free(&a);
  }
  lf_analysis_free(&ref);
  free(z);
  lf_ens_free(&e);
}

/* (e) reweighting: proposals (x, y) ~ N(0,1)^2, log w = c x (target: x ~ N(c,1)), c = 1,
 * so ESS = e^{-c^2} = 0.368. O = y does not correlate with w: Var_p(y) = 1 and
 * error^2 = E_q[w^2]/E_q[w]^2 / N, so eff_samples = ESS N. The old definition N/(2
 * tau_int) gave ~N (e^{c^2} = 2.7 times too many). The reported error is at least the
 * accurate Gamma one and at most ~1.5 times it (binned, K = 32: 4 sigma), so eff_samples
 * / (ESS N) must lie in [0.4, 1.15]. */
static void test_reweight_eff(void) {
  const size_t n = 200000;
  const double c = 1.0;
  lf_ensemble e;
  ens_make(&e, LF_ENS_REWEIGHT, 1, n, 2);
  double *z = malloc(2 * n * sizeof *z);
  lf_rng_normal(key(), 20u, 0, 2 * n, z);
  for (size_t i = 0; i < n; i++) {
    e.obs[0][2 * i] = z[2 * i + 1]; /* o0 = y */
    e.obs[0][2 * i + 1] = z[2 * i]; /* o1 = x */
    e.chain[0][i].logw = c * z[2 * i];
  }
  lf_analysis a;
  const lf_status rc = lf_analyze(&e, 0, &a);
  CHECK(rc == LF_OK, "reweighting: rc %d %s", rc, rc ? lf_last_error() : "");
  if (rc == LF_OK) {
    const double essn = a.ess * (double)n, r0 = a.obs[0].eff_samples / essn;
    CHECK(fabs(a.ess / exp(-c * c) - 1) < 0.05 && a.ess_samples == essn,
          "reweighting: ESS %.4f (exact %.4f), ess_samples %.0f", a.ess, exp(-c * c),
          a.ess_samples);
    CHECK(r0 > 0.4 && r0 < 1.15,
          "reweighting: eff_samples(y) = %.0f vs ESS N = %.0f: ratio %.3f in [0.4, 1.15] "
          "(errors: Gamma %.4e, binned %.4e; old: N/(2 tau_int_gamma) = %.0f)",
          a.obs[0].eff_samples, essn, r0, a.obs[0].g.error_gamma, a.obs[0].g.error_bin,
          (double)n / (2.0 * a.obs[0].g.tau_int_gamma));
    /* o1 = x: Var_p = 1, error^2 = e^{c^2}(1 + c^2)/N: eff_samples = ESS N / (1 + c^2) */
    const double r1 = a.obs[1].eff_samples / (essn / (1 + c * c));
    CHECK(r1 > 0.4 && r1 < 1.15 && fabs(a.obs[1].g.variance - 1) < 0.05,
          "reweighting: eff_samples(x) = %.0f vs ESS N/(1+c^2) = %.0f: ratio %.3f; Var_p(x) = "
          "%.4f (exact 1)",
          a.obs[1].eff_samples, essn / (1 + c * c), r1, a.obs[1].g.variance);
    CHECK(fabs(a.obs[0].eff_per_s / (a.obs[0].eff_samples / 10.0) - 1) < 1e-12,
          "reweighting: eff/s = eff_samples / gen_seconds");
    lf_analysis_free(&a);
  }
  free(z);
  lf_ens_free(&e);
}

/* An IMH ensemble of n proposals x ~ N(0,1) for the target N(0, s^2) (lf_imh_run), one
 * row per proposal, observable x^2; the Pareto tail of w has k = 1 - 1/s^2. */
static void imh_ensemble(lf_ensemble *e, double s, size_t n, uint32_t id) {
  ens_make(e, LF_ENS_IMH, 1, n, 1);
  double *x = malloc(n * sizeof *x), *lw = malloc(n * sizeof *lw), *u = malloc(n * sizeof *u);
  size_t *ch = malloc(n * sizeof *ch), run;
  lf_rng_normal(key(), id, 0, n, x);
  for (size_t i = 0; i < n; i++) {
    lw[i] = 0.5 * (1.0 - 1.0 / (s * s)) * x[i] * x[i];
    u[i] = lf_rng_uniform(key(), id + 1u, i);
    e->obs[0][i] = x[i] * x[i];
  }
  lf_imh_run(n, lw, u, ch, &run);
  for (size_t i = 0; i < n; i++)
    e->chain[0][i] =
        (lf_ens_step){(int64_t)ch[i], (int64_t)i, lw[i], NAN, i == 0 || ch[i] == i, 0, 0};
  free(x);
  free(lw);
  free(u);
  free(ch);
}

/* Pareto k of IMH weights: s = 1.1 (k = 0.17, light) is not flagged; s = 2 (k = 0.75:
 * infinite variance) is flagged LF_WARN_HEAVY_TAIL. The estimate approaches k slowly (a
 * log factor in the tail of exp(x^2)): bound 0.15. */
static void test_pareto(void) {
  const double ss[2] = {1.1, 2.0};
  for (int j = 0; j < 2; j++) {
    lf_ensemble e;
    imh_ensemble(&e, ss[j], 200000, 30u + 2u * (uint32_t)j);
    lf_analysis a;
    const lf_status rc = lf_analyze(&e, 0, &a);
    const double k = 1.0 - 1.0 / (ss[j] * ss[j]);
    CHECK(rc == LF_OK && fabs(a.pareto_k - k) < 0.15 &&
              !!(a.warn & LF_WARN_HEAVY_TAIL) == (ss[j] > 1.5),
          "IMH s = %.1f: Pareto k %.3f (tail of the weights: %.3f), heavy-tail warning %s; "
          "acceptance %.3f, <x^2> = %.4f +- %.4f (exact %.2f)",
          ss[j], a.pareto_k, k, (a.warn & LF_WARN_HEAVY_TAIL) ? "yes" : "no", a.acceptance,
          a.obs[0].g.value, a.obs[0].g.error, ss[j] * ss[j]);
    if (rc == LF_OK) lf_analysis_free(&a);
    lf_ens_free(&e);
  }
  /* the options: S and K are used and checked */
  lf_ensemble e;
  imh_ensemble(&e, 1.1, 20000, 40u);
  lf_analysis a;
  const lf_analyze_opts off = {0.0, 0}, bad = {1.5, 1};
  lf_status rc = lf_analyze_ex(&e, 0, &off, &a);
  CHECK(rc == LF_OK && a.obs[0].g.window == 0 && a.obs[0].g.bins == 0 &&
            a.obs[0].g.error == a.obs[0].g.error_gamma,
        "S = 0, bins = 0: W %d, bins %d, error %.4e = naive %.4e", a.obs[0].g.window,
        a.obs[0].g.bins, a.obs[0].g.error, a.obs[0].g.error_gamma);
  if (rc == LF_OK) lf_analysis_free(&a);
  rc = lf_analyze_ex(&e, 0, &bad, &a);
  CHECK(rc == LF_ERR_INVALID, "bins = 1 is LF_ERR_INVALID: %s", lf_last_error());
  lf_ens_free(&e);
}

int main(void) {
  test_frozen();
  test_nonfinite();
  test_reweight_eff();
  test_pareto();
  return lf_test_result();
}
