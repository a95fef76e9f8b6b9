/* HMC (latflow/hmc.h) on phi^4: reversibility of both integrators, dH ~ eps^2 scaling,
 * <exp(-dH)> = 1, the free field against lf_free_exact_eval, leapfrog vs Omelyan at
 * lambda > 0, bitwise determinism, rejection of non-finite trajectories, and the
 * refusals of lf_hmc_init. Statistical errors come from binning (bin sizes stated at
 * each check, all >= 100 trajectories, far above the tau_int ~ 1 of these chains);
 * a check fails at |z| > 4. */
#include "latflow/exact.h"
#include "latflow/hmc.h"
#include "latflow/theory.h"
#include "lftest.h"

#include <string.h>

static lf_theory make_theory(int L0, int L1, double m2, double lambda) {
  lf_theory th;
  lf_theory_cfg c;
  memset(&th, 0, sizeof th);
  memset(&c, 0, sizeof c);
  c.name = LF_THEORY_PHI4;
  c.shape[0] = L0;
  c.shape[1] = L1;
  c.m2 = m2;
  c.lambda = lambda;
  if (lf_theory_init(&th, &c) != LF_OK) {
    fprintf(stderr, "lf_theory_init: %s\n", lf_last_error());
    exit(1);
  }
  return th;
}

static lf_hmc_cfg hmc_cfg(double tau, int steps, lf_integrator integ) {
  lf_hmc_cfg c;
  memset(&c, 0, sizeof c);
  c.trajectories = 1;
  c.tau = tau;
  c.steps = steps;
  c.integrator = integ;
  return c;
}

static void make_hmc(lf_hmc *h, const lf_theory *th, double tau, int steps, lf_integrator integ,
                     uint64_t seed) {
  const lf_hmc_cfg c = hmc_cfg(tau, steps, integ);
  if (lf_hmc_init(h, th, &c, seed) != LF_OK) {
    fprintf(stderr, "lf_hmc_init: %s\n", lf_last_error());
    exit(1);
  }
}

static const char *iname(lf_integrator i) {
  return i == LF_INT_OMELYAN ? "omelyan" : "leapfrog";
}

static double hamiltonian(const lf_theory *th, const double *phi, const double *p) {
  double S, k = 0.0;
  th->action(th, 1, phi, &S);
  for (int i = 0; i < th->V; i++) k += p[i] * p[i];
  return 0.5 * k + S;
}

/* Mean and error of x[0..n) from bins of b consecutive values (n / b bins). */
static void binned(const double *x, size_t n, size_t b, double *mean, double *err) {
  const size_t nb = n / b;
  double s = 0.0, s2 = 0.0;
  for (size_t k = 0; k < nb; k++) {
    double m = 0.0;
    for (size_t i = 0; i < b; i++) m += x[k * b + i];
    m /= (double)b;
    s += m;
    s2 += m * m;
  }
  *mean = s / (double)nb;
  *err = sqrt(fmax(0.0, s2 / (double)nb - *mean * *mean) / (double)(nb - 1));
}

static double maxabs_diff(int n, const double *a, const double *b) {
  double d = 0.0;
  for (int i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
  return d;
}

static double maxabs(int n, const double *a) {
  double d = 0.0;
  for (int i = 0; i < n; i++) d = fmax(d, fabs(a[i]));
  return d;
}

/* (a) integrate, negate p, integrate, negate p: back to the start. */
static void test_reversibility(lf_integrator integ) {
  lf_theory th = make_theory(4, 4, -1.0, 1.0);
  lf_hmc h;
  make_hmc(&h, &th, 1.0, 10, integ, 1);
  const int n = h.n;
  double phi[16], p[16], phi_start[16], p_start[16], phi_mid[16];
  lf_test_randn(1, (size_t)n, phi_start);
  lf_test_randn(2, (size_t)n, p_start);
  memcpy(phi, phi_start, sizeof phi);
  memcpy(p, p_start, sizeof p);
  lf_hmc_integrate(&h, phi, p, 0.1, 10);
  memcpy(phi_mid, phi, sizeof phi);
  for (int i = 0; i < n; i++) p[i] = -p[i];
  lf_hmc_integrate(&h, phi, p, 0.1, 10);
  for (int i = 0; i < n; i++) p[i] = -p[i];
  const double moved = maxabs_diff(n, phi_mid, phi_start);
  const double ephi = maxabs_diff(n, phi, phi_start) / maxabs(n, phi_start);
  const double ep = maxabs_diff(n, p, p_start) / maxabs(n, p_start);
  CHECK(moved > 0.1, "%s: the trajectory moves phi (max |dphi| = %.3g)", iname(integ), moved);
  CHECK(ephi < 1e-10 && ep < 1e-10,
        "%s reversibility 4x4 m2=-1 lambda=1 tau=1 10 steps: rel err "
        "phi %.2g, p %.2g",
        iname(integ), ephi, ep);
  lf_hmc_free(&h);
  lf_theory_free(&th);
}

/* (b) RMS dH over K equilibrium starts at eps and eps/2: ratio ~ 4 for both integrators;
 * Omelyan's dH well below leapfrog's at the same eps. */
static void test_scaling(void) {
  enum { K = 16, N = 36 };
  lf_theory th = make_theory(6, 6, -1.0, 1.0);
  lf_hmc h[2];
  make_hmc(&h[0], &th, 1.0, 10, LF_INT_LEAPFROG, 3);
  make_hmc(&h[1], &th, 1.0, 10, LF_INT_OMELYAN, 3);
  double phi[N] = {0}, start[K][N], mom[K][N], x[N], p[N];
  lf_hmc_result r;
  for (uint32_t t = 0; t < 200 + 10 * K; t++) {
    lf_hmc_trajectory(&h[0], 0, t, phi, &r);
    if (t >= 200 && (t - 200) % 10 == 0) {
      memcpy(start[(t - 200) / 10], phi, sizeof phi);
      lf_test_randn(100 + t, N, mom[(t - 200) / 10]);
    }
  }
  const int nsteps[3] = {10, 20, 40};
  double rms[2][3];
  for (int ig = 0; ig < 2; ig++)
    for (int s = 0; s < 3; s++) {
      double sum = 0.0;
      for (int k = 0; k < K; k++) {
        memcpy(x, start[k], sizeof x);
        memcpy(p, mom[k], sizeof p);
        const double H0 = hamiltonian(&th, x, p);
        lf_hmc_integrate(&h[ig], x, p, 1.0 / nsteps[s], nsteps[s]);
        const double dH = hamiltonian(&th, x, p) - H0;
        sum += dH * dH;
      }
      rms[ig][s] = sqrt(sum / K);
    }
  for (int ig = 0; ig < 2; ig++) {
    const double r1 = rms[ig][0] / rms[ig][1], r2 = rms[ig][1] / rms[ig][2];
    CHECK(r1 > 3.0 && r1 < 5.0 && r2 > 3.5 && r2 < 4.5,
          "%s 6x6 m2=-1 lambda=1 tau=1: rms dH %.3g, %.3g, %.3g at eps 1/10, 1/20, 1/40; ratios "
          "%.3f, %.3f (eps^2: 4)",
          iname((lf_integrator)ig), rms[ig][0], rms[ig][1], rms[ig][2], r1, r2);
  }
  for (int s = 0; s < 3; s++)
    CHECK(rms[0][s] > 5.0 * rms[1][s], "eps = 1/%d: rms dH leapfrog / omelyan = %.1f (> 5)",
          nsteps[s], rms[0][s] / rms[1][s]);
  lf_hmc_free(&h[0]);
  lf_hmc_free(&h[1]);
  lf_theory_free(&th);
}

typedef struct chain_stats {
  double acc, expdH, expdH_err, obs[5], obs_err[5];
} chain_stats;

/* Runs ntherm + ntraj trajectories of chain `chain` from phi = 0 and bins the
 * observables and exp(-dH) of the last ntraj into bins of `bin`. */
static chain_stats run_chain(const lf_theory *th, lf_integrator integ, double tau, int steps,
                             uint64_t seed, long ntherm, long ntraj, size_t bin) {
  lf_hmc h;
  make_hmc(&h, th, tau, steps, integ, seed);
  double *phi = calloc((size_t)h.n, sizeof *phi);
  double *rec = calloc((size_t)ntraj * 6, sizeof *rec); /* (6, ntraj): obs[5], exp(-dH) */
  double o[5];
  long acc = 0;
  lf_hmc_result r;
  for (long t = 0; t < ntherm + ntraj; t++) {
    lf_hmc_trajectory(&h, 0, (uint32_t)t, phi, &r);
    if (t < ntherm) continue;
    const long i = t - ntherm;
    acc += r.accepted;
    th->observables(th, phi, o);
    for (int k = 0; k < 5; k++) rec[(size_t)k * ntraj + i] = o[k];
    rec[(size_t)5 * ntraj + i] = exp(-r.dH);
  }
  chain_stats cs;
  cs.acc = (double)acc / (double)ntraj;
  for (int k = 0; k < 5; k++)
    binned(rec + (size_t)k * ntraj, (size_t)ntraj, bin, &cs.obs[k], &cs.obs_err[k]);
  binned(rec + (size_t)5 * ntraj, (size_t)ntraj, bin, &cs.expdH, &cs.expdH_err);
  free(rec);
  free(phi);
  lf_hmc_free(&h);
  return cs;
}

/* (d) free field: phi2, chi2, energy against the momentum sums. */
static void test_free_field(lf_integrator integ) {
  const int L = 6;
  const double m2 = 0.5;
  const long ntraj = 100000;
  const size_t bin = 500;
  lf_theory th = make_theory(L, L, m2, 0.0);
  lf_free_exact ex;
  CHECK(lf_free_exact_eval(L, L, m2, &ex) == LF_OK, "exact free field");
  const chain_stats cs = run_chain(&th, integ, 1.0, 10, 11, 200, ntraj, bin);
  const int idx[3] = {lf_theory_obs_index(&th, "phi2"), lf_theory_obs_index(&th, "chi2"),
                      lf_theory_obs_index(&th, "energy")};
  const double want[3] = {ex.phi2, ex.chi2, ex.energy};
  const char *names[3] = {"phi2", "chi2", "energy"};
  fprintf(stderr,
          "     %s free field %dx%d m2=%g, tau=1, 10 steps: %ld trajectories, "
          "acceptance %.4f, bins of %zu\n",
          iname(integ), L, L, m2, ntraj, cs.acc, bin);
  for (int k = 0; k < 3; k++) {
    const double z = (cs.obs[idx[k]] - want[k]) / cs.obs_err[idx[k]];
    CHECK(fabs(z) < 4.0 && cs.obs_err[idx[k]] < 0.02 * want[k],
          "%s free field <%s> = %.5f +- %.5f vs exact %.5f: z = %+.2f", iname(integ), names[k],
          cs.obs[idx[k]], cs.obs_err[idx[k]], want[k], z);
  }
  const double z = (cs.expdH - 1.0) / cs.expdH_err;
  CHECK(fabs(z) < 4.0, "%s free field <exp(-dH)> = %.7f +- %.2g: z = %+.2f", iname(integ), cs.expdH,
        cs.expdH_err, z);
  lf_theory_free(&th);
}

/* (c) <exp(-dH)> = 1 and (e) leapfrog vs Omelyan <phi2> at lambda > 0. Few steps, so
 * that dH is not tiny and the acceptance well below 1. */
static void test_interacting(void) {
  const long ntraj = 100000;
  const size_t bin = 500;
  lf_theory th = make_theory(8, 8, -1.0, 1.0);
  chain_stats cs[2];
  for (int ig = 0; ig < 2; ig++) {
    const lf_integrator integ = (lf_integrator)ig;
    cs[ig] = run_chain(&th, integ, 1.0, ig == 0 ? 5 : 3, 21, 200, ntraj, bin);
    const double z = (cs[ig].expdH - 1.0) / cs[ig].expdH_err;
    CHECK(fabs(z) < 4.0 && cs[ig].acc < 0.97,
          "%s 8x8 m2=-1 lambda=1, tau=1, %d steps, %ld trajectories, bins of %zu: acceptance "
          "%.4f, <exp(-dH)> = %.5f +- %.5f: z = %+.2f",
          iname(integ), ig == 0 ? 5 : 3, ntraj, bin, cs[ig].acc, cs[ig].expdH, cs[ig].expdH_err, z);
  }
  const int k = lf_theory_obs_index(&th, "phi2");
  const double d = cs[0].obs[k] - cs[1].obs[k];
  const double e = sqrt(cs[0].obs_err[k] * cs[0].obs_err[k] + cs[1].obs_err[k] * cs[1].obs_err[k]);
  CHECK(fabs(d / e) < 4.0,
        "8x8 m2=-1 lambda=1 <phi2>: leapfrog %.5f +- %.5f, omelyan %.5f +- "
        "%.5f: z = %+.2f",
        cs[0].obs[k], cs[0].obs_err[k], cs[1].obs[k], cs[1].obs_err[k], d / e);
  lf_theory_free(&th);
}

/* (f) the same (seed, chain, t, phi) gives the same trajectory bit for bit. */
static void test_determinism(void) {
  enum { N = 16 };
  lf_theory th = make_theory(4, 4, -1.0, 1.0);
  lf_hmc a, b, c;
  make_hmc(&a, &th, 1.0, 4, LF_INT_OMELYAN, 77);
  make_hmc(&b, &th, 1.0, 4, LF_INT_OMELYAN, 77);
  make_hmc(&c, &th, 1.0, 4, LF_INT_OMELYAN, 78);
  double x[N], y[N], z[N];
  lf_test_randn(9, N, x);
  memcpy(y, x, sizeof x);
  memcpy(z, x, sizeof x);
  int same = 1, same_res = 1, acc = 0;
  lf_hmc_result ra, rb, rc, rw;
  /* chain 3 of a and b in lockstep; c (another seed) and chain 4 of a must differ */
  for (uint32_t t = 0; t < 50; t++) {
    lf_hmc_trajectory(&a, 3, t, x, &ra);
    lf_hmc_trajectory(&b, 3, t, y, &rb);
    same &= memcmp(x, y, sizeof x) == 0;
    same_res &=
        memcmp(&ra.dH, &rb.dH, sizeof ra.dH) == 0 && ra.S == rb.S && ra.accepted == rb.accepted;
    acc += ra.accepted;
  }
  CHECK(same && same_res && acc > 0,
        "50 trajectories of chain 3 bitwise equal for two lf_hmc of "
        "seed 77 (%d accepted)",
        acc);
  /* The same t from the same phi again, out of order: a pure function of (seed, c, t, phi). */
  memcpy(y, x, sizeof x);
  lf_hmc_trajectory(&a, 3, 7, x, &ra);
  lf_hmc_trajectory(&b, 3, 7, y, &rb);
  CHECK(memcmp(x, y, sizeof x) == 0 && ra.dH == rb.dH,
        "trajectory (seed 77, chain 3, t 7) repeats bitwise (dH %.17g)", ra.dH);
  /* Another seed or another chain from the same start draws other momenta. */
  lf_test_randn(9, N, x);
  memcpy(y, x, sizeof x);
  memcpy(z, x, sizeof x);
  lf_hmc_trajectory(&a, 3, 0, x, &ra);
  lf_hmc_trajectory(&c, 3, 0, y, &rc);
  lf_hmc_trajectory(&a, 4, 0, z, &rw);
  CHECK(rc.dH != ra.dH && rw.dH != ra.dH,
        "other seed / chain give other momenta (dH %.6g, %.6g vs %.6g)", rc.dH, rw.dH, ra.dH);
  lf_hmc_free(&a);
  lf_hmc_free(&b);
  lf_hmc_free(&c);
  lf_theory_free(&th);
}

/* A trajectory that overflows (eps = 1e100) is rejected and phi restored bit for bit. */
static void test_nonfinite(void) {
  enum { N = 16 };
  lf_theory th = make_theory(4, 4, -1.0, 1.0);
  lf_hmc h;
  make_hmc(&h, &th, 1e100, 1, LF_INT_LEAPFROG, 5);
  double x[N], x0[N], S0;
  lf_test_randn(4, N, x0);
  memcpy(x, x0, sizeof x);
  th.action(&th, 1, x0, &S0);
  lf_hmc_result r;
  lf_hmc_trajectory(&h, 0, 0, x, &r);
  CHECK(!isfinite(r.dH) && !r.accepted && r.S == S0 && memcmp(x, x0, sizeof x) == 0,
        "eps = 1e100: dH = %g, rejected, phi restored, S = %.6g = S0", r.dH, r.S);
  lf_hmc_free(&h);
  lf_theory_free(&th);
}

/* (g) refusals of lf_hmc_init. */
static void test_refusals(void) {
  lf_theory th = make_theory(4, 4, -1.0, 1.0);
  lf_hmc h;
  lf_hmc_cfg c = hmc_cfg(1.0, 10, LF_INT_LEAPFROG);
  lf_theory nog = th;
  nog.grad = NULL;
  lf_status rc = lf_hmc_init(&h, &nog, &c, 1);
  CHECK(rc == LF_ERR_INVALID && strstr(lf_last_error(), "gradient"), "no gradient refused: %s",
        lf_last_error());
  lf_hmc_free(&h);
  const double bad_tau[] = {0.0, -1.0, NAN, INFINITY};
  for (int i = 0; i < 4; i++) {
    c = hmc_cfg(bad_tau[i], 10, LF_INT_LEAPFROG);
    rc = lf_hmc_init(&h, &th, &c, 1);
    CHECK(rc == LF_ERR_INVALID && strstr(lf_last_error(), "tau"), "tau = %g refused: %s",
          bad_tau[i], lf_last_error());
    lf_hmc_free(&h);
  }
  const int bad_steps[] = {0, -3};
  for (int i = 0; i < 2; i++) {
    c = hmc_cfg(1.0, bad_steps[i], LF_INT_OMELYAN);
    rc = lf_hmc_init(&h, &th, &c, 1);
    CHECK(rc == LF_ERR_INVALID && strstr(lf_last_error(), "steps"), "steps = %d refused: %s",
          bad_steps[i], lf_last_error());
    lf_hmc_free(&h);
  }
  c = hmc_cfg(1.0, 10, (lf_integrator)7);
  rc = lf_hmc_init(&h, &th, &c, 1);
  CHECK(rc == LF_ERR_INVALID, "integrator 7 refused: %s", lf_last_error());
  lf_hmc_free(&h);
  c = hmc_cfg(1.0, 10, LF_INT_OMELYAN);
  rc = lf_hmc_init(&h, &th, &c, 1);
  CHECK(rc == LF_OK && h.n == 16, "valid config accepted (n = %d)", h.n);
  lf_hmc_free(&h);
  lf_theory_free(&th);
}

int main(void) {
  test_refusals();
  test_reversibility(LF_INT_LEAPFROG);
  test_reversibility(LF_INT_OMELYAN);
  test_scaling();
  test_determinism();
  test_nonfinite();
  test_free_field(LF_INT_LEAPFROG);
  test_free_field(LF_INT_OMELYAN);
  test_interacting();
  return lf_test_result();
}
