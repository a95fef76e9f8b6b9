/* Pseudofermion HMC for the two-flavour Schwinger model (latflow/pf.h, src/theory/pf.c,
 * src/sample/hmc.c): the stencil D and D^dagger against lf_wilson_build's dense D; CG
 * solutions against the dense solve and their true residuals; the CG refusal when it
 * cannot converge; the pseudofermion action against |D^{-dagger} phi|^2 from the dense
 * inverse; the pseudofermion force (gauge + fermion) against central finite differences
 * of the action at fixed phi_pf; reversibility of the pseudofermion molecular dynamics
 * (forward, p -> -p, forward: back to 1e-11 at cg_tol 1e-10; the dense force, printed
 * beside it, returns to rounding: the CG stopping iteration can differ by one between the
 * passes, an O(cg_tol) effect); the CG counts of lf_hmc_result, bitwise reproducibility,
 * a CG failure inside a trajectory; and the physics: pseudofermion HMC against exact-determinant
 * HMC (4x4, beta = 2, kappa = 0.25) for <plaq> and <condensate> (|z| < 4, Gamma-method
 * errors), and exact HMC with theory.logdet sparse against the dense one, <exp(-dH)> = 1
 * for all, and the distance of both from the pure-gauge value
 * (so the comparison does see the determinant). Seeds are fixed. */
#include "latflow/gamma.h"
#include "latflow/hmc.h"
#include "latflow/pf.h"
#include "latflow/rng.h"
#include "latflow/status.h"
#include "latflow/theory.h"
#include "latflow/timer.h"
#include "latflow/u1.h"
#define GT_SEED 17
#include "gauge_test.h"
#include "lftest.h"
#include "theory/theory_impl.h" /* lf_u1_gauge_action, lf_u1_gauge_grad */
#include "u1_exact.h"

#include <complex.h>
#include <stdlib.h>
#include <string.h>

typedef double _Complex cplx;

static void randc(uint32_t step, int n, cplx *out) {
  double *z = malloc(sizeof(double) * 2 * (size_t)n);
  randn(step, 2 * (size_t)n, 1.0, z);
  for (int i = 0; i < n; i++) out[i] = CMPLX(z[2 * i], z[2 * i + 1]);
  free(z);
}

static double vnorm(int n, const cplx *a) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += creal(a[i] * conj(a[i]));
  return sqrt(s);
}

/* y = A x (dag = 0) or A^dagger x for a dense column-major n x n matrix. */
static void dense_mv(int n, const cplx *A, int dag, const cplx *x, cplx *y) {
  for (int i = 0; i < n; i++) {
    cplx s = 0.0;
    for (int j = 0; j < n; j++)
      s += dag ? conj(A[j + (size_t)n * i]) * x[j] : A[i + (size_t)n * j] * x[j];
    y[i] = s;
  }
}

typedef struct env {
  lf_theory th;
  lf_pf pf;
  int ok;
} env;

static void env_init(env *e, int L0, int L1, double beta, double kappa, const char *bc, double tol,
                     int maxiter) {
  lf_theory_cfg c = schw_cfg(L0, L1, beta, kappa, bc);
  e->ok = lf_theory_init(&e->th, &c) == LF_OK;
  if (!e->ok) {
    CHECK(0, "schwinger %dx%d: %s", L0, L1, lf_last_error());
    return;
  }
  e->ok = lf_pf_init(&e->pf, &e->th, tol, maxiter) == LF_OK;
  if (!e->ok) {
    CHECK(0, "lf_pf_init: %s", lf_last_error());
    lf_theory_free(&e->th);
  }
}

static void env_free(env *e) {
  if (!e->ok) return;
  lf_pf_free(&e->pf);
  lf_theory_free(&e->th);
}

/* (1) D x and D^dagger x by the stencil against the dense D. */
static void check_stencil(int L0, int L1, double kappa, const char *bc) {
  env e;
  env_init(&e, L0, L1, 1.0, kappa, bc, 1e-10, 100);
  if (!e.ok) return;
  const int V = L0 * L1, n = 2 * V;
  double *th = malloc(sizeof(double) * 2 * V);
  cplx *D = malloc(sizeof(cplx) * (size_t)n * n), *x = malloc(sizeof(cplx) * n);
  cplx *a = malloc(sizeof(cplx) * n), *b = malloc(sizeof(cplx) * n);
  randn(1, 2 * (size_t)V, 2.5, th);
  randc(2, n, x);
  lf_wilson_build(&e.th.lat, kappa, strcmp(bc, "antiperiodic") == 0, th, (double *)(void *)D);
  double worst[2];
  for (int dag = 0; dag < 2; dag++) {
    lf_pf_dirac(&e.pf, th, dag, x, a);
    dense_mv(n, D, dag, x, b);
    double d = 0.0;
    for (int i = 0; i < n; i++) d = fmax(d, cabs(a[i] - b[i]));
    worst[dag] = d / vnorm(n, b) * sqrt((double)n);
  }
  CHECK(worst[0] < 1e-14 && worst[1] < 1e-14,
        "stencil %dx%d kappa=%g %s: D x %.1e, D^dagger x %.1e (max abs diff / rms of the dense "
        "result)",
        L0, L1, kappa, bc, worst[0], worst[1]);
  free(th);
  free(D);
  free(x);
  free(a);
  free(b);
  env_free(&e);
}

/* (2) CG: its x against the dense solve, its reported residual against a recomputed
 * one; the refusal with too few iterations; b = 0. */
static void check_cg(int L0, int L1, double kappa, double tol) {
  env e;
  env_init(&e, L0, L1, 1.0, kappa, "antiperiodic", tol, 10000);
  if (!e.ok) return;
  const int V = L0 * L1, n = 2 * V;
  double *th = malloc(sizeof(double) * 2 * V);
  cplx *Di = malloc(sizeof(cplx) * (size_t)n * n), *b = malloc(sizeof(cplx) * n);
  cplx *x = malloc(sizeof(cplx) * n), *y = malloc(sizeof(cplx) * n), *w = malloc(sizeof(cplx) * n);
  randn(3, 2 * (size_t)V, 1.5, th);
  randc(4, n, b);
  int it = -1;
  double res = -1.0;
  lf_status rc = lf_pf_cg(&e.pf, th, b, x, &it, &res);
  /* recompute the residual with the stencil */
  lf_pf_dirac(&e.pf, th, 0, x, y);
  lf_pf_dirac(&e.pf, th, 1, y, w);
  for (int i = 0; i < n; i++) w[i] = b[i] - w[i];
  const double res2 = vnorm(n, w) / vnorm(n, b);
  /* x_exact = D^{-1} D^{-dagger} b */
  double err = NAN;
  if (lf_schwinger_inverse(&e.th, th, (double *)(void *)Di) == LF_OK) {
    dense_mv(n, Di, 1, b, y);
    dense_mv(n, Di, 0, y, w);
    for (int i = 0; i < n; i++) y[i] = x[i] - w[i];
    err = vnorm(n, y) / vnorm(n, w);
  }
  CHECK(rc == LF_OK && res <= tol && fabs(res2 - res) <= 1e-3 * tol + 1e-15 && err < 1e4 * tol &&
            it > 0 && e.pf.solves == 1 && e.pf.iters == it && e.pf.max_iters == it,
        "CG %dx%d kappa=%g tol %.0e: %d iterations, true residual %.2e (recomputed %.2e), "
        "|x - x_dense|/|x| = %.1e",
        L0, L1, kappa, tol, it, res, res2, err);
  /* too few iterations: LF_ERR_NUMERIC naming the keys */
  e.pf.maxiter = it / 2 > 0 ? it / 2 : 1;
  rc = lf_pf_cg(&e.pf, th, b, x, &it, &res);
  const char *msg = lf_last_error();
  CHECK(rc == LF_ERR_NUMERIC && strstr(msg, "did not converge") && strstr(msg, "hmc.cg_maxiter") &&
            it == e.pf.maxiter && res > tol,
        "CG with maxiter %d refused: %s", e.pf.maxiter, msg);
  e.pf.maxiter = 10000;
  memset(b, 0, sizeof(cplx) * n);
  rc = lf_pf_cg(&e.pf, th, b, x, &it, &res);
  CHECK(rc == LF_OK && it == 0 && vnorm(n, x) == 0.0, "CG with b = 0: x = 0 after %d iterations",
        it);
  free(th);
  free(Di);
  free(b);
  free(x);
  free(y);
  free(w);
  env_free(&e);
}

/* (3) the pseudofermion action against |D^{-dagger} phi|^2 + S_g, and its force against
 * central finite differences on every link (phi_pf fixed). */
typedef struct fdctx {
  lf_pf *pf;
  double *th;
} fdctx;

static double loss_pf(void *p) {
  fdctx *c = p;
  double S = NAN;
  if (lf_pf_action(c->pf, c->th, &S) != LF_OK) return NAN;
  return S;
}

static void check_force(int L0, int L1, double beta, double kappa, const char *bc) {
  env e;
  env_init(&e, L0, L1, beta, kappa, bc, 1e-14, 10000);
  if (!e.ok) return;
  const int V = L0 * L1, n = 2 * V;
  double *th = malloc(sizeof(double) * 2 * V), *z = malloc(sizeof(double) * 4 * V);
  double *g = calloc(2 * (size_t)V, sizeof(double));
  cplx *Di = malloc(sizeof(cplx) * (size_t)n * n), *y = malloc(sizeof(cplx) * n);
  randn(5, 2 * (size_t)V, 1.2, th);
  randn(6, 4 * (size_t)V, 1.0, z);
  const double S0 = lf_pf_refresh(&e.pf, th, z);
  /* at the refresh field: phi^dagger M^{-1} phi = eta^dagger eta exactly */
  double S = NAN;
  lf_status rc = lf_pf_action(&e.pf, th, &S);
  CHECK(rc == LF_OK && fabs(S - S0) < 1e-10 * fabs(S0),
        "pf action at the refresh field %.12f = S_g + eta^dagger eta %.12f", S, S0);
  /* at another field: against the dense inverse */
  randn(7, 2 * (size_t)V, 1.2, th);
  rc = lf_pf_action(&e.pf, th, &S);
  double Sd = NAN;
  if (lf_schwinger_inverse(&e.th, th, (double *)(void *)Di) == LF_OK) {
    dense_mv(n, Di, 1, e.pf.phi, y); /* D^{-dagger} phi = (D^{-1})^dagger phi */
    const double v = vnorm(n, y);
    Sd = lf_u1_gauge_action(&e.th.lat, beta, th) + v * v;
  }
  CHECK(rc == LF_OK && fabs(S - Sd) < 1e-11 * fabs(Sd),
        "pf action %dx%d kappa=%g: CG %.12f vs dense %.12f (rel %.1e)", L0, L1, kappa, S, Sd,
        fabs(S - Sd) / fabs(Sd));
  rc = lf_pf_grad(&e.pf, th, g);
  /* the fermion part alone must be sizable: compare with the gauge force */
  double *gg = calloc(2 * (size_t)V, sizeof(double)), fmax_pf = 0.0;
  lf_u1_gauge_grad(&e.th.lat, beta, th, gg);
  for (int i = 0; i < 2 * V; i++) fmax_pf = fmax(fmax_pf, fabs(g[i] - gg[i]));
  fdctx ctx = {&e.pf, th};
  const double err = lf_gradcheck(loss_pf, &ctx, th, g, 2 * (size_t)V, 1e-5);
  CHECK(rc == LF_OK && err < 1e-6 && fmax_pf > 0.1,
        "pf force %dx%d beta=%g kappa=%g %s vs central FD: worst rel err %.2e over %d links "
        "(max |dS_pf| %.3f)",
        L0, L1, beta, kappa, bc, err, 2 * V, fmax_pf);
  free(gg);
  free(th);
  free(z);
  free(g);
  free(Di);
  free(y);
  env_free(&e);
}

static lf_hmc_cfg hmc_cfg(lf_fermion_kind f, lf_integrator integ, int steps) {
  lf_hmc_cfg hc;
  memset(&hc, 0, sizeof hc);
  hc.trajectories = 1;
  hc.tau = 1.0;
  hc.steps = steps;
  hc.integrator = integ;
  hc.fermion = f;
  hc.cg_tol = 1e-10;
  hc.cg_maxiter = 10000;
  return hc;
}

/* (4) reversibility of the pseudofermion MD, the CG counts of a trajectory, refusals. */
static void check_reversible(lf_integrator integ) {
  lf_theory_cfg c = schw_cfg(4, 4, 2.0, 0.25, "antiperiodic");
  lf_theory th;
  if (lf_theory_init(&th, &c) != LF_OK) return;
  lf_hmc_cfg hc = hmc_cfg(LF_FERMION_PSEUDO, integ, 8);
  lf_hmc h;
  if (lf_hmc_init(&h, &th, &hc, 99) != LF_OK || !h.pf) {
    CHECK(0, "lf_hmc_init (pseudofermion): %s", lf_last_error());
    lf_theory_free(&th);
    return;
  }
  const int n = h.n, V = th.V;
  double *x = malloc(sizeof(double) * n), *x0 = malloc(sizeof(double) * n);
  double *p = malloc(sizeof(double) * n), *z = malloc(sizeof(double) * 4 * V);
  randn(8, (size_t)n, 0.8, x);
  randn(9, (size_t)n, 1.0, p);
  randn(10, 4 * (size_t)V, 1.0, z);
  memcpy(x0, x, sizeof(double) * n);
  lf_pf_refresh(h.pf, x, z);
  lf_hmc_integrate(&h, x, p, 0.125, 8);
  double moved = 0.0;
  for (int i = 0; i < n; i++) moved = fmax(moved, fabs(x[i] - x0[i]));
  for (int i = 0; i < n; i++) p[i] = -p[i];
  lf_hmc_integrate(&h, x, p, 0.125, 8);
  double back = 0.0;
  for (int i = 0; i < n; i++) back = fmax(back, fabs(x[i] - x0[i]));
  const char *in = integ == LF_INT_OMELYAN ? "omelyan" : "leapfrog";
  /* the same with the exact determinant, for the size of the rounding errors */
  double back_ex = NAN;
  {
    lf_hmc_cfg he = hmc_cfg(LF_FERMION_EXACT, integ, 8);
    lf_hmc hx;
    if (lf_hmc_init(&hx, &th, &he, 99) == LF_OK) {
      memcpy(x, x0, sizeof(double) * n);
      randn(9, (size_t)n, 1.0, p);
      lf_hmc_integrate(&hx, x, p, 0.125, 8);
      for (int i = 0; i < n; i++) p[i] = -p[i];
      lf_hmc_integrate(&hx, x, p, 0.125, 8);
      back_ex = 0.0;
      for (int i = 0; i < n; i++) back_ex = fmax(back_ex, fabs(x[i] - x0[i]));
      lf_hmc_free(&hx);
    }
  }
  CHECK(h.err == LF_OK && back < 1e-10 && moved > 0.1,
        "pf %s: forward (moved %.2f) and back: max |theta - theta0| = %.1e (exact determinant: "
        "%.1e)",
        in, moved, back, back_ex);
  /* one trajectory of r.n_steps steps (hmc.tau_dist uniform: 1 .. 15): solves = gradient
   * evaluations + 1 (H_end) */
  lf_hmc_result r;
  memcpy(x, x0, sizeof(double) * n);
  const lf_status rc = lf_hmc_trajectory(&h, 0, 0, x, &r);
  const int ns = r.n_steps;
  const int64_t want = (integ == LF_INT_OMELYAN ? 2 * ns + 1 : ns + 1) + 1;
  CHECK(rc == LF_OK && ns >= 1 && ns <= 15 && r.cg_solves == want && r.cg_iters >= r.cg_max &&
            r.cg_max > 0 && r.cg_iters <= r.cg_solves * (int64_t)r.cg_max && isfinite(r.dH),
        "pf %s trajectory of %d steps: %lld solves (want %lld), %lld iterations, longest %d, "
        "dH %.3g",
        in, ns, (long long)r.cg_solves, (long long)want, (long long)r.cg_iters, r.cg_max, r.dH);
  /* bitwise reproducible */
  lf_hmc_result r2;
  memcpy(p, x0, sizeof(double) * n);
  lf_hmc_trajectory(&h, 0, 0, p, &r2);
  CHECK(memcmp(x, p, sizeof(double) * n) == 0 && memcmp(&r.dH, &r2.dH, sizeof r.dH) == 0 &&
            r.cg_iters == r2.cg_iters,
        "pf %s trajectory is bitwise reproducible", in);
  free(x);
  free(x0);
  free(p);
  free(z);
  lf_hmc_free(&h);
  /* refusals: cg_tol outside (0, 1), cg_maxiter <= 0 */
  hc.cg_tol = 1.0;
  lf_status e1 = lf_hmc_init(&h, &th, &hc, 1);
  lf_hmc_free(&h);
  hc.cg_tol = 1e-10;
  hc.cg_maxiter = 0;
  lf_status e2 = lf_hmc_init(&h, &th, &hc, 1);
  lf_hmc_free(&h);
  CHECK(e1 == LF_ERR_INVALID && e2 == LF_ERR_INVALID, "cg_tol = 1 and cg_maxiter = 0 refused");
  /* a CG failure inside a trajectory: LF_ERR_NUMERIC, phi restored, dH NaN */
  hc.cg_maxiter = 2;
  if (lf_hmc_init(&h, &th, &hc, 1) == LF_OK) {
    double *y = calloc((size_t)th.C * th.V, sizeof(double));
    randn(11, (size_t)th.C * th.V, 0.5, y);
    double *y0 = malloc(sizeof(double) * th.C * th.V);
    memcpy(y0, y, sizeof(double) * th.C * th.V);
    lf_hmc_result rf;
    const lf_status rcf = lf_hmc_trajectory(&h, 0, 3, y, &rf);
    CHECK(rcf == LF_ERR_NUMERIC && isnan(rf.dH) && !rf.accepted &&
              memcmp(y, y0, sizeof(double) * th.C * th.V) == 0,
          "CG failure in a trajectory: LF_ERR_NUMERIC, rejected, field restored (%s)",
          lf_last_error());
    free(y);
    free(y0);
    lf_hmc_free(&h);
  }
  lf_theory_free(&th);
}

/* (5) physics: one HMC chain; plaquette, condensate, exp(-dH) series. */
typedef struct chain_out {
  lf_gamma_result plaq, cond, edh;
  double acc, seconds, cg_per_solve;
  int ok;
} chain_out;

static void run_chain(int L, double beta, double kappa, lf_fermion_kind f, long ntraj,
                      uint64_t seed, lf_logdet_kind logdet, chain_out *out) {
  memset(out, 0, sizeof *out);
  lf_theory_cfg c = schw_cfg(L, L, beta, kappa, "antiperiodic");
  c.logdet = logdet;
  lf_theory th;
  if (lf_theory_init(&th, &c) != LF_OK) return;
  lf_hmc_cfg hc = hmc_cfg(f, LF_INT_LEAPFROG, 8);
  lf_hmc h;
  if (lf_hmc_init(&h, &th, &hc, seed) != LF_OK) {
    CHECK(0, "lf_hmc_init: %s", lf_last_error());
    lf_theory_free(&th);
    return;
  }
  const long therm = 200;
  double *theta = calloc((size_t)h.n, sizeof *theta), o[LF_MAX_OBS];
  double *pl = malloc(sizeof(double) * ntraj), *cd = malloc(sizeof(double) * ntraj);
  double *ed = malloc(sizeof(double) * ntraj);
  const int ip = lf_theory_obs_index(&th, "plaq"), ic = lf_theory_obs_index(&th, "condensate");
  long acc = 0;
  int64_t it = 0, sol = 0;
  int ok = 1;
  const double t0 = lf_wtime();
  for (long t = 0; t < therm + ntraj && ok; t++) {
    lf_hmc_result r;
    ok = lf_hmc_trajectory(&h, 0, (uint32_t)t, theta, &r) == LF_OK;
    if (t < therm) continue;
    th.observables(&th, theta, o);
    pl[t - therm] = o[ip];
    cd[t - therm] = o[ic];
    ed[t - therm] = exp(-r.dH);
    acc += r.accepted;
    it += r.cg_iters;
    sol += r.cg_solves;
  }
  out->seconds = lf_wtime() - t0;
  const size_t n = (size_t)ntraj;
  out->ok = ok && lf_gamma_mean(1, &n, pl, 1.5, &out->plaq, NULL, 0) == LF_OK &&
            lf_gamma_mean(1, &n, cd, 1.5, &out->cond, NULL, 0) == LF_OK &&
            lf_gamma_mean(1, &n, ed, 1.5, &out->edh, NULL, 0) == LF_OK;
  out->acc = (double)acc / (double)ntraj;
  out->cg_per_solve = sol ? (double)it / (double)sol : 0.0;
  free(theta);
  free(pl);
  free(cd);
  free(ed);
  lf_hmc_free(&h);
  lf_theory_free(&th);
}

static void check_physics(int L, double beta, double kappa, long ntraj) {
  chain_out a, b;
  run_chain(L, beta, kappa, LF_FERMION_PSEUDO, ntraj, 31, LF_LOGDET_DENSE, &a);
  run_chain(L, beta, kappa, LF_FERMION_EXACT, ntraj, 32, LF_LOGDET_DENSE, &b);
  CHECK(a.ok && b.ok, "both chains ran (pseudofermion %.1f s, %.1f CG it/solve; exact %.1f s)",
        a.seconds, a.cg_per_solve, b.seconds);
  if (!a.ok || !b.ok) return;
  const double zp = (a.plaq.value - b.plaq.value) / hypot(a.plaq.error, b.plaq.error);
  const double zc = (a.cond.value - b.cond.value) / hypot(a.cond.error, b.cond.error);
  CHECK(fabs(zp) < 4.0,
        "%dx%d beta=%g kappa=%g <plaq>: pf %.5f +- %.5f (tau %.2f), exact %.5f +- "
        "%.5f (tau %.2f): z = %+.2f",
        L, L, beta, kappa, a.plaq.value, a.plaq.error, a.plaq.tau_int, b.plaq.value, b.plaq.error,
        b.plaq.tau_int, zp);
  CHECK(fabs(zc) < 4.0,
        "%dx%d <condensate>: pf %.5f +- %.5f (tau %.2f), exact %.5f +- %.5f "
        "(tau %.2f): z = %+.2f",
        L, L, a.cond.value, a.cond.error, a.cond.tau_int, b.cond.value, b.cond.error,
        b.cond.tau_int, zc);
  const double ea = (a.edh.value - 1.0) / a.edh.error, eb = (b.edh.value - 1.0) / b.edh.error;
  CHECK(fabs(ea) < 4.0 && fabs(eb) < 4.0,
        "<exp(-dH)>: pf %.5f +- %.5f (z = %+.2f), exact %.5f +- %.5f (z = %+.2f)", a.edh.value,
        a.edh.error, ea, b.edh.value, b.edh.error, eb);
  CHECK(a.acc > 0.7 && b.acc > 0.7, "acceptance pf %.3f, exact %.3f", a.acc, b.acc);
  /* exact-determinant HMC with theory.logdet sparse (CHOLMOD), a quarter of the trajectories:
   * the same <plaq> and <condensate> as the dense chain */
  chain_out sp;
  run_chain(L, beta, kappa, LF_FERMION_EXACT, ntraj / 4, 33, LF_LOGDET_SPARSE, &sp);
  const double zs = (sp.plaq.value - b.plaq.value) / hypot(sp.plaq.error, b.plaq.error);
  const double zsc = (sp.cond.value - b.cond.value) / hypot(sp.cond.error, b.cond.error);
  const double es = (sp.edh.value - 1.0) / sp.edh.error;
  CHECK(sp.ok && fabs(zs) < 4.0 && fabs(zsc) < 4.0 && fabs(es) < 4.0 && sp.acc > 0.7,
        "exact HMC with theory.logdet sparse (%.1f s): <plaq> %.5f +- %.5f (z = %+.2f vs dense), "
        "<condensate> %.5f +- %.5f (z = %+.2f), <exp(-dH)> z = %+.2f, acceptance %.3f",
        sp.seconds, sp.plaq.value, sp.plaq.error, zs, sp.cond.value, sp.cond.error, zsc, es,
        sp.acc);
  /* sensitivity: the determinant moves <plaq> away from pure U(1) by many errors */
  const u1x_result pg = u1x_eval(beta, L * L);
  const double sa = (a.plaq.value - pg.plaq) / a.plaq.error;
  CHECK(fabs(sa) > 8.0,
        "the fermions are resolved: pf <plaq> - pure gauge %.5f = %+.5f (%.0f errors)", pg.plaq,
        a.plaq.value - pg.plaq, sa);
}

int main(void) {
  check_stencil(4, 4, 0.2, "antiperiodic");
  check_stencil(4, 6, 0.276, "periodic");
  check_stencil(6, 4, 0.25, "antiperiodic");
  check_stencil(2, 2, 0.3, "antiperiodic");
  check_cg(4, 4, 0.2, 1e-10);
  check_cg(6, 4, 0.276, 1e-12);
  check_cg(8, 8, 0.25, 1e-8);
  check_force(4, 4, 2.0, 0.2, "antiperiodic");
  check_force(4, 6, 1.0, 0.276, "periodic");
  check_reversible(LF_INT_LEAPFROG);
  check_reversible(LF_INT_OMELYAN);
  check_physics(4, 2.0, 0.25, 30000);
  return lf_test_result();
}
