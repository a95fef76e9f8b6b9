/* tests/unit/test_sample.c: proposals in blocks and the Independence Metropolis chain
 * (latflow/sample.h) against exact free-field results (latflow/exact.h):
 *  - a proposal equal to the target (lambda = 0, free-field base at the target mass,
 *    identity flow) is always accepted and every log w equals log Z;
 *  - a deliberately poor proposal (free-field base at the wrong mass, a randomly
 *    initialised flow on top) still gives <phi2>, <chi2>, <energy>, the pole mass and
 *    log Z within errors, by IMH and by reweighting (z-scores printed, fail above 4);
 *  - proposals with a NaN action are rejected, counted, and never become the state;
 *  - blocks are pure functions of (seed, b): the same block from a different block order
 *    is bitwise equal. */
#include "latflow/exact.h"
#include "latflow/gamma.h"
#include "latflow/model.h"
#include "latflow/sample.h"
#include "latflow/theory.h"
#include "latflow/timer.h"
#include "lftest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { L0 = 4, L1 = 4, V = L0 * L1, NOBS = 5 };

static lf_config make_cfg(double m2, double base_mass, int layers) {
  lf_config c;
  lf_config_defaults(&c);
  c.seed = 77;
  c.theory.name = LF_THEORY_PHI4;
  c.theory.shape[0] = L0;
  c.theory.shape[1] = L1;
  c.theory.m2 = m2;
  c.theory.lambda = 0.0;
  c.model.base = LF_BASE_FREE_FIELD;
  c.model.base_mass = base_mass;
  c.model.layers = layers;
  c.model.nhidden = 1;
  c.model.hidden[0] = 4;
  c.model.precision = LF_PREC_F64;
  c.model.init_scale = 0.1;
  return c;
}

/* Identity flow: every conv weight and bias zero, so s = t = tanh(0) = 0. */
static void make_identity(lf_model *m) {
  double *p = calloc(m->nparams, sizeof *p);
  lf_model_get_params(m, p);
  for (size_t i = m->nbase; i < m->nparams; i++) p[i] = 0.0;
  lf_model_set_params(m, p);
  free(p);
}

static void exact_proposal(void) {
  const double m2 = 0.6;
  lf_config c = make_cfg(m2, sqrt(m2), 2);
  lf_theory th;
  lf_model m;
  lf_proposer p;
  if (lf_theory_init(&th, &c.theory) != LF_OK ||
      lf_model_init(&m, &c.model, 1, L0, L1, 64) != LF_OK) {
    CHECK(0, "setup: %s", lf_last_error());
    return;
  }
  lf_model_init_params(&m, c.seed);
  make_identity(&m);
  lf_free_exact ex;
  lf_free_exact_eval(L0, L1, m2, &ex);
  CHECK(lf_proposer_init(&p, &m, &th, c.seed, 64) == LF_OK, "proposer: %s", lf_last_error());
  double phi[64 * V], logq[64], S[64], logw[64];
  int8_t acc[64];
  lf_imh chain;
  lf_imh_init(&chain, c.seed);
  double worst = 0.0;
  for (uint64_t b = 0; b < 50; b++) {
    lf_propose_block(&p, b, phi, logq, S, logw);
    for (int i = 0; i < 64; i++) worst = fmax(worst, fabs(logw[i] - ex.logZ));
    lf_imh_decide(&chain, b * 64, 64, logw, acc);
  }
  CHECK(chain.accepted == chain.steps && chain.steps == 3200 && chain.bad == 0,
        "q = p: accepted %llu of %llu proposals (want all)", (unsigned long long)chain.accepted,
        (unsigned long long)chain.steps);
  CHECK(worst < 1e-10, "q = p: max |log w - log Z| = %.2e (log Z = %.10f)", worst, ex.logZ);
  lf_proposer_free(&p);
  lf_model_free(&m);
  lf_theory_free(&th);
}

/* acosh((G(t-1) + G(t+1)) / (2 G(t))) of primaries {G(t-1), G(t), G(t+1)} (or with a
 * weight primary last: the weight cancels). */
static double meff_fn(const double *a, void *ctx) {
  (void)ctx;
  return acosh((a[0] + a[2]) / (2.0 * a[1]));
}

static void zcheck(const char *what, double est, double err, double exact) {
  const double z = err > 0 ? (est - exact) / err : INFINITY;
  CHECK(fabs(z) < 4.0, "%s = %.6f +- %.6f, exact %.6f, z = %+.2f", what, est, err, exact, z);
}

static void poor_proposal(void) {
  const double m2 = 0.5;
  const int B = 256, NB = 400; /* 102400 proposals */
  const size_t N = (size_t)B * NB;
  lf_config c = make_cfg(m2, 1.0, 2); /* base mass 1 instead of sqrt(0.5) */
  lf_theory th;
  lf_model m;
  lf_proposer p;
  if (lf_theory_init(&th, &c.theory) != LF_OK ||
      lf_model_init(&m, &c.model, 1, L0, L1, B) != LF_OK) {
    CHECK(0, "setup: %s", lf_last_error());
    return;
  }
  lf_model_init_params(&m, c.seed); /* random flow, init scale 0.1 */
  lf_free_exact ex;
  lf_free_exact_eval(L0, L1, m2, &ex);
  CHECK(lf_proposer_init(&p, &m, &th, c.seed, B) == LF_OK, "proposer: %s", lf_last_error());
  double *phi = malloc(sizeof(double) * (size_t)B * V), logq[256], S[256], lw[256];
  int8_t acc[256];
  /* per proposal: observables, G(t-1..t+1) for t = 1, log w; per chain step: state's */
  double *prop_obs = malloc(sizeof(double) * N * (NOBS + 3)), *prop_lw = malloc(sizeof(double) * N);
  double *chain_obs = malloc(sizeof(double) * N * (NOBS + 3));
  lf_imh chain;
  lf_imh_init(&chain, c.seed);
  double cur[NOBS + 3];
  size_t nchain = 0;
  for (int b = 0; b < NB; b++) {
    lf_propose_block(&p, (uint64_t)b, phi, logq, S, lw);
    lf_imh_decide(&chain, (uint64_t)b * B, B, lw, acc);
    for (int i = 0; i < B; i++) {
      const size_t g = (size_t)b * B + i;
      double o[LF_MAX_OBS], G[LF_THEORY_MAX_CORR];
      th.observables(&th, phi + (size_t)i * V, o);
      th.correlator(&th, phi + (size_t)i * V, G);
      for (int k = 0; k < NOBS; k++) prop_obs[g * (NOBS + 3) + k] = o[k];
      for (int k = 0; k < 3; k++) prop_obs[g * (NOBS + 3) + NOBS + k] = G[k];
      prop_lw[g] = lw[i];
      if (acc[i]) memcpy(cur, prop_obs + g * (NOBS + 3), sizeof cur);
      memcpy(chain_obs + nchain++ * (NOBS + 3), cur, sizeof cur);
    }
  }
  const double acceptance = (double)chain.accepted / (double)chain.steps;
  fprintf(stderr, "     poor proposal: acceptance %.3f, longest rejection run %llu\n", acceptance,
          (unsigned long long)chain.max_run);
  CHECK(acceptance > 0.05 && acceptance < 0.95,
        "poor proposal: acceptance %.3f (want a poor but "
        "working proposal)",
        acceptance);
  /* columns as separate series */
  double *col = malloc(sizeof(double) * N * (NOBS + 3));
  const double *cols[NOBS + 3];
  for (int k = 0; k < NOBS + 3; k++) {
    for (size_t i = 0; i < N; i++) col[(size_t)k * N + i] = chain_obs[i * (NOBS + 3) + k];
    cols[k] = col + (size_t)k * N;
  }
  const char *names[] = {"phi2", "mag", "abs_mag", "chi2", "energy"};
  const double exact[] = {ex.phi2, 0.0, NAN, ex.chi2, ex.energy};
  lf_gamma_result r;
  for (int k = 0; k < NOBS; k++) {
    if (isnan(exact[k])) continue;
    char what[64];
    snprintf(what, sizeof what, "IMH <%s> (tau_int %.1f)", names[k], 0.0);
    if (lf_gamma_mean(1, &N, cols[k], LF_GAMMA_S, &r, NULL, 0) != LF_OK) {
      CHECK(0, "gamma: %s", lf_last_error());
      continue;
    }
    snprintf(what, sizeof what, "IMH <%s> (tau_int %.2f)", names[k], r.tau_int);
    zcheck(what, r.value, r.error, exact[k]);
  }
  const double mexact = acosh((ex.G[0] + ex.G[2]) / (2.0 * ex.G[1]));
  CHECK(fabs(mexact - ex.m_pole) < 1e-10, "exact m_eff(1) %.12f = m_pole %.12f", mexact, ex.m_pole);
  if (lf_gamma_derived(1, &N, 3, cols + NOBS, meff_fn, NULL, LF_GAMMA_S, &r, NULL, 0) == LF_OK)
    zcheck("IMH pole mass m_eff(1)", r.value, r.error, ex.m_pole);
  else
    CHECK(0, "gamma derived: %s", lf_last_error());

  /* reweighting: every proposal with its weight */
  for (int k = 0; k < NOBS + 3; k++)
    for (size_t i = 0; i < N; i++) col[(size_t)k * N + i] = prop_obs[i * (NOBS + 3) + k];
  for (int k = 0; k < NOBS; k++) {
    if (isnan(exact[k])) continue;
    if (lf_gamma_reweighted(1, &N, cols[k], prop_lw, LF_GAMMA_S, &r) != LF_OK) {
      CHECK(0, "gamma reweighted: %s", lf_last_error());
      continue;
    }
    char what[64];
    snprintf(what, sizeof what, "reweighted <%s>", names[k]);
    zcheck(what, r.value, r.error, exact[k]);
  }
  {
    double lmax = -INFINITY;
    for (size_t i = 0; i < N; i++) lmax = fmax(lmax, prop_lw[i]);
    double *w = malloc(sizeof(double) * N), *gw[4];
    for (size_t i = 0; i < N; i++) w[i] = exp(prop_lw[i] - lmax);
    for (int k = 0; k < 3; k++) {
      gw[k] = malloc(sizeof(double) * N);
      for (size_t i = 0; i < N; i++) gw[k][i] = cols[NOBS + k][i] * w[i];
    }
    gw[3] = w;
    if (lf_gamma_derived(1, &N, 4, (const double *const *)gw, meff_fn, NULL, LF_GAMMA_S, &r, NULL,
                         0) == LF_OK)
      zcheck("reweighted pole mass m_eff(1)", r.value, r.error, ex.m_pole);
    else
      CHECK(0, "gamma derived: %s", lf_last_error());
    /* log Z = log mean w (independent proposals: the plain standard error) */
    double s1 = 0.0, s2 = 0.0;
    for (size_t i = 0; i < N; i++) {
      s1 += w[i];
      s2 += w[i] * w[i];
    }
    const double mean = s1 / (double)N, var = s2 / (double)N - mean * mean;
    const double logZ = lmax + log(mean), err = sqrt(var / (double)(N - 1)) / mean;
    zcheck("log Z from the mean weight", logZ, err, ex.logZ);
    for (int k = 0; k < 4; k++) free(gw[k]);
  }
  free(col);
  free(phi);
  free(prop_obs);
  free(prop_lw);
  free(chain_obs);
  lf_proposer_free(&p);
  lf_model_free(&m);
  lf_theory_free(&th);
}

/* A theory whose action is NaN when phi[0] > 0.4: those proposals must be rejected. */
static lf_theory nan_base;
static void nan_action(const lf_theory *t, int B, const double *phi, double *S) {
  nan_base.action(&nan_base, B, phi, S);
  for (int b = 0; b < B; b++)
    if (phi[(size_t)b * t->V] > 0.4) S[b] = NAN;
}

static void nan_proposals(void) {
  lf_config c = make_cfg(0.5, 1.0, 2);
  lf_theory th;
  lf_model m;
  lf_proposer p;
  if (lf_theory_init(&nan_base, &c.theory) != LF_OK ||
      lf_model_init(&m, &c.model, 1, L0, L1, 128) != LF_OK) {
    CHECK(0, "setup: %s", lf_last_error());
    return;
  }
  th = nan_base;
  th.action = nan_action;
  lf_model_init_params(&m, c.seed);
  lf_proposer_init(&p, &m, &th, c.seed, 128);
  double phi[128 * V], logq[128], S[128], lw[128];
  int8_t acc[128];
  lf_imh chain;
  lf_imh_init(&chain, c.seed);
  uint64_t nan_seen = 0, nan_acc = 0, bad_state = 0;
  for (uint64_t b = 0; b < 20; b++) {
    lf_propose_block(&p, b, phi, logq, S, lw);
    lf_imh_decide(&chain, b * 128, 128, lw, acc);
    for (int i = 0; i < 128; i++) {
      if (isnan(lw[i])) nan_seen++;
      if (isnan(lw[i]) && acc[i]) nan_acc++;
    }
    if (!isfinite(chain.cur_logw)) bad_state++;
  }
  CHECK(nan_seen > 100 && chain.bad == nan_seen && nan_acc == 0 && bad_state == 0 &&
            chain.accepted > 0,
        "NaN proposals: %llu seen, %llu counted bad, %llu accepted (want 0), state non-finite "
        "%llu times, %llu accepted in all",
        (unsigned long long)nan_seen, (unsigned long long)chain.bad, (unsigned long long)nan_acc,
        (unsigned long long)bad_state, (unsigned long long)chain.accepted);
  lf_proposer_free(&p);
  lf_model_free(&m);
  lf_theory_free(&nan_base);
}

/* Block b computed after other blocks, or by a proposer with another history, is the same. */
static void block_purity(void) {
  lf_config c = make_cfg(0.5, 1.0, 2);
  lf_theory th;
  lf_model m1, m2;
  lf_proposer p1, p2;
  lf_theory_init(&th, &c.theory);
  lf_model_init(&m1, &c.model, 1, L0, L1, 32);
  lf_model_init(&m2, &c.model, 1, L0, L1, 32);
  lf_model_init_params(&m1, c.seed);
  lf_model_init_params(&m2, c.seed);
  lf_proposer_init(&p1, &m1, &th, c.seed, 32);
  lf_proposer_init(&p2, &m2, &th, c.seed, 32);
  double a[32 * V], b[32 * V], lq[32], S[32], lwa[32], lwb[32];
  for (uint64_t k = 0; k < 7; k++) lf_propose_block(&p1, k, a, lq, S, lwa);
  lf_propose_block(&p1, 3, a, lq, S, lwa);
  lf_propose_block(&p2, 3, b, lq, S, lwb);
  CHECK(memcmp(a, b, sizeof a) == 0 && memcmp(lwa, lwb, sizeof lwa) == 0,
        "block 3 after blocks 0..6 equals block 3 computed first (bitwise)");
  lf_proposer_free(&p1);
  lf_proposer_free(&p2);
  lf_model_free(&m1);
  lf_model_free(&m2);
  lf_theory_free(&th);
}

int main(void) {
  exact_proposal();
  poor_proposal();
  nan_proposals();
  block_purity();
  return lf_test_result();
}
