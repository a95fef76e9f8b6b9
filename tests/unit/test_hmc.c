/* HMC (latflow/hmc.h) on phi^4: reversibility of both integrators, dH ~ eps^2 scaling,
 * <exp(-dH)> = 1, the free field against lf_free_exact_eval, leapfrog vs Omelyan at
 * lambda > 0, bitwise determinism, rejection of non-finite trajectories, and the
 * refusals of lf_hmc_init; all with the default hmc.tau_dist uniform. Then the random
 * trajectory length itself: the law of the number of steps (chi^2 over its 2 steps - 1
 * values), a pure function of (seed, chain, t); hmc.tau_dist fixed is the trajectory of
 * before (momenta, integrator, accept rebuilt by hand, bit for bit) and uniform the same
 * with n_t steps; and the resonance it removes (free field 8x8, m2 = 1, tau 1 in 10
 * leapfrog steps: with fixed the modes of omega tau ~ pi hardly decorrelate, the
 * replicas' phi2 means scatter far more, and the errors stop being honest).
 * Statistical errors come from binning (bin sizes stated at each check, all >= 100
 * trajectories, far above the tau_int ~ 1 of these chains); a check fails at |z| > 4. */
#include "latflow/exact.h"
#include "latflow/gamma.h"
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
  c.tau_dist = LF_TAU_UNIFORM; /* the default of hmc.tau_dist */
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

static void make_hmc_dist(lf_hmc *h, const lf_theory *th, double tau, int steps,
                          lf_integrator integ, lf_tau_dist dist, uint64_t seed) {
  lf_hmc_cfg c = hmc_cfg(tau, steps, integ);
  c.tau_dist = dist;
  if (lf_hmc_init(h, th, &c, seed) != LF_OK) {
    fprintf(stderr, "lf_hmc_init: %s\n", lf_last_error());
    exit(1);
  }
}

static const char *dname(lf_tau_dist d) {
  return d == LF_TAU_FIXED ? "fixed" : "uniform";
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

/* (h) the law of n_t under hmc.tau_dist uniform: values in 1 .. 2 steps - 1, chi^2 of the
 * histogram of 4 chains x 50000 trajectories over the 2 steps - 1 values (dof 2 steps - 2;
 * the check fails above the 0.999 quantile, 42.31 for 18 dof), the mean steps (|z| < 4);
 * a pure function of (seed, chain, t) (two objects, t in reverse order), other chains and
 * seeds draw other lengths; fixed and steps = 1 always give steps; lf_hmc_trajectory
 * reports the n_t it used. */
static void test_length_law(void) {
  enum { S = 10, M = 2 * S - 1, NC = 4, NT = 50000 };
  lf_theory th = make_theory(4, 4, -1.0, 1.0);
  lf_hmc a, b, c, f, one;
  make_hmc_dist(&a, &th, 1.0, S, LF_INT_LEAPFROG, LF_TAU_UNIFORM, 31);
  make_hmc_dist(&b, &th, 1.0, S, LF_INT_OMELYAN, LF_TAU_UNIFORM, 31);
  make_hmc_dist(&c, &th, 1.0, S, LF_INT_LEAPFROG, LF_TAU_UNIFORM, 32);
  make_hmc_dist(&f, &th, 1.0, S, LF_INT_LEAPFROG, LF_TAU_FIXED, 31);
  make_hmc_dist(&one, &th, 1.0, 1, LF_INT_LEAPFROG, LF_TAU_UNIFORM, 31);
  long hist[M + 2] = {0}, out = 0, same = 0, other_seed = 0, other_chain = 0, fixed_ok = 0,
                one_ok = 0;
  double sum = 0.0, sum2 = 0.0;
  for (uint64_t ch = 0; ch < NC; ch++)
    for (uint32_t t = 0; t < NT; t++) {
      const int n = lf_hmc_nsteps(&a, ch, t);
      if (n < 1 || n > M) {
        out++;
        continue;
      }
      hist[n]++;
      sum += n;
      sum2 += (double)n * n;
      const uint32_t tr = NT - 1 - t; /* another order, another object */
      same += lf_hmc_nsteps(&b, ch, tr) == lf_hmc_nsteps(&a, ch, tr);
      other_seed += lf_hmc_nsteps(&c, ch, t) != n;
      other_chain += lf_hmc_nsteps(&a, ch + NC, t) != n;
      fixed_ok += lf_hmc_nsteps(&f, ch, t) == S;
      one_ok += lf_hmc_nsteps(&one, ch, t) == 1;
    }
  const double N = (double)NC * NT, e = N / M;
  double chi2 = 0.0;
  for (int n = 1; n <= M; n++) chi2 += (hist[n] - e) * (hist[n] - e) / e;
  const double mean = sum / N, var = sum2 / N - mean * mean;
  const double zmean = (mean - S) / sqrt((M * M - 1) / 12.0 / N); /* var of U{1..M} */
  CHECK(out == 0 && hist[1] > 0 && hist[M] > 0,
        "uniform, steps %d: every n_t in 1 .. %d (%ld outside; %ld x 1, %ld x %d)", S, M, out,
        hist[1], hist[M], M);
  CHECK(chi2 < 42.31,
        "uniform, steps %d: histogram of %.0f draws over %d values: chi^2 = %.1f (%d dof; "
        "fails above 42.31, p = 1e-3)",
        S, N, M, chi2, M - 1);
  CHECK(fabs(zmean) < 4.0 && fabs(var / ((M * M - 1) / 12.0) - 1.0) < 0.02,
        "uniform: mean steps %.4f (want %d): z = %+.2f; variance %.3f (want %.3f)", mean, S, zmean,
        var, (M * M - 1) / 12.0);
  CHECK(same == (long)N && other_seed > N / 2 && other_chain > N / 2,
        "n_t a pure function of (seed, chain, t): %ld of %.0f equal across objects and order; "
        "another seed differs in %ld, another chain in %ld (expected %.0f)",
        same, N, other_seed, other_chain, N * (M - 1) / M);
  CHECK(fixed_ok == (long)N && one_ok == (long)N,
        "fixed gives %d steps (%ld of %.0f), uniform with steps = 1 gives 1 (%ld)", S, fixed_ok, N,
        one_ok);
  /* the trajectory reports and uses n_t */
  double x[16] = {0};
  int rep = 1;
  lf_hmc_result r;
  for (uint32_t t = 0; t < 40; t++) {
    lf_hmc_trajectory(&a, 2, t, x, &r);
    rep &= r.n_steps == lf_hmc_nsteps(&a, 2, t);
  }
  lf_hmc_trajectory(&f, 2, 0, x, &r);
  CHECK(rep && r.n_steps == S,
        "lf_hmc_result.n_steps = lf_hmc_nsteps for 40 trajectories; "
        "fixed reports %d",
        r.n_steps);
  lf_hmc_free(&a);
  lf_hmc_free(&b);
  lf_hmc_free(&c);
  lf_hmc_free(&f);
  lf_hmc_free(&one);
  lf_theory_free(&th);
}

/* (i) the trajectory rebuilt by hand from the documented draws: momenta lf_rng_normal(t,
 * 2 chain), n steps of tau / steps, the accept uniform lf_rng_uniform(t, 2 chain + 1).
 * With fixed n = steps: the trajectory of latflow before hmc.tau_dist, bit for bit (phi and
 * dH over 30 trajectories of a chain, both integrators); with uniform the same draws and
 * n = n_t. Then reversibility of the uniform trajectories: from the end with -p, n_t steps
 * lead back to the start. */
static void test_by_hand(lf_integrator integ, lf_tau_dist dist) {
  enum { N = 16, T = 30 };
  const uint64_t seed = 8, chain = 5;
  const int steps = 4;
  const double tau = 1.2;
  lf_theory th = make_theory(4, 4, -1.0, 1.0);
  lf_hmc h, md;
  make_hmc_dist(&h, &th, tau, steps, integ, dist, seed);
  make_hmc_dist(&md, &th, tau, steps, integ, dist, 999); /* only its integrator is used */
  const lf_rng_key key = lf_rng_key_make(seed, LF_STREAM_HMC);
  double x[N], y[N], p[N], y0[N], pe[N];
  lf_test_randn(12, N, x);
  for (int i = 0; i < N; i++) x[i] *= 0.5; /* near equilibrium: both accept and reject */
  memcpy(y, x, sizeof x);
  int same = 1, acc = 0, lens = 0;
  double back = 0.0, moved = 0.0;
  for (uint32_t t = 0; t < T; t++) {
    lf_hmc_result r;
    lf_hmc_trajectory(&h, chain, t, x, &r);
    const int n = dist == LF_TAU_FIXED ? steps : lf_hmc_nsteps(&h, chain, t);
    memcpy(y0, y, sizeof y);
    lf_rng_normal(key, t, 2 * chain, N, p);
    const double H0 = hamiltonian(&th, y, p);
    lf_hmc_integrate(&md, y, p, tau / steps, n);
    const double dH = hamiltonian(&th, y, p) - H0;
    const int a = isfinite(dH) && lf_rng_uniform(key, t, 2 * chain + 1) < exp(-dH);
    /* back: from the end with -p, n steps */
    memcpy(pe, p, sizeof p);
    for (int i = 0; i < N; i++) pe[i] = -pe[i];
    double z[N];
    memcpy(z, y, sizeof y);
    lf_hmc_integrate(&md, z, pe, tau / steps, n);
    back = fmax(back, maxabs_diff(N, z, y0));
    moved = fmax(moved, maxabs_diff(N, y, y0));
    if (!a) memcpy(y, y0, sizeof y);
    same &= memcmp(x, y, sizeof x) == 0 && memcmp(&r.dH, &dH, sizeof dH) == 0 && r.accepted == a &&
            r.n_steps == n;
    acc += a;
    lens |= 1 << (n < 31 ? n : 31);
  }
  int distinct = 0;
  for (int k = 0; k < 32; k++) distinct += (lens >> k) & 1;
  CHECK(same && acc > 0 && acc < T && (dist == LF_TAU_FIXED ? distinct == 1 : distinct >= 4),
        "%s, tau_dist %s: %d trajectories (%d accepted, %d distinct lengths) bitwise equal to "
        "the documented draws and n steps of tau/steps rebuilt by hand",
        iname(integ), dname(dist), T, acc, distinct);
  CHECK(back < 1e-10 && moved > 0.1,
        "%s, tau_dist %s: every trajectory reversed (n_t steps with -p) lands on its start: "
        "max |dphi| = %.1e (moved %.2f)",
        iname(integ), dname(dist), back, moved);
  lf_hmc_free(&h);
  lf_hmc_free(&md);
  lf_theory_free(&th);
}

/* The free-field modes k of 8x8 with phat^2 = 4 sum_mu sin^2(k_mu / 2) = 4 (14 of the
 * 64): with m2 = 1 the force 2 (phat^2 + m2) phi gives omega = sqrt(10), and 10 leapfrog
 * steps of 0.1 rotate them by 10 * 2 asin(omega 0.05) = 3.176 = pi + 0.034 per
 * trajectory: x -> -0.9994 x + 0.034 p / omega. */
typedef struct res_modes {
  int nk;
  double c[14][64], s[14][64]; /* cos, sin (k . x) */
} res_modes;

static void res_modes_init(res_modes *m) {
  const int L = 8;
  m->nk = 0;
  for (int k0 = 0; k0 < L; k0++)
    for (int k1 = 0; k1 < L; k1++) {
      const double p0 = 2.0 * M_PI * k0 / L, p1 = 2.0 * M_PI * k1 / L;
      const double ph2 = 4.0 * (sin(p0 / 2) * sin(p0 / 2) + sin(p1 / 2) * sin(p1 / 2));
      if (fabs(ph2 - 4.0) > 1e-9 || m->nk == 14) continue;
      for (int x0 = 0; x0 < L; x0++)
        for (int x1 = 0; x1 < L; x1++) {
          m->c[m->nk][x0 * L + x1] = cos(p0 * x0 + p1 * x1);
          m->s[m->nk][x0 * L + x1] = sin(p0 * x0 + p1 * x1);
        }
      m->nk++;
    }
}

/* A = (1/V) sum over the resonant k of |sum_x phi(x) e^{-i k x}|^2 / V */
static double res_amplitude(const res_modes *m, const double *phi) {
  double A = 0.0;
  for (int k = 0; k < m->nk; k++) {
    double re = 0.0, im = 0.0;
    for (int i = 0; i < 64; i++) {
      re += m->c[k][i] * phi[i];
      im += m->s[k][i] * phi[i];
    }
    A += re * re + im * im;
  }
  return A / (64.0 * 64.0);
}

/* Lag-1 autocorrelation of x[0..n) about its mean. */
static double lag1(const double *x, size_t n) {
  double m = 0.0, c0 = 0.0, c1 = 0.0;
  for (size_t i = 0; i < n; i++) m += x[i];
  m /= (double)n;
  for (size_t i = 0; i < n; i++) c0 += (x[i] - m) * (x[i] - m);
  for (size_t i = 0; i + 1 < n; i++) c1 += (x[i] - m) * (x[i + 1] - m);
  return c1 / c0;
}

typedef struct res_stats {
  double mean[16], err[16], tau[16], rho[16]; /* per replica: phi2 mean, error, tau_int;
                                                  lag-1 autocorrelation of A */
} res_stats;

/* (j) the resonance. R replicas (chains 0 .. R-1) of NT trajectories at the free field
 * 8x8, m2 = 1, tau 1 in 10 leapfrog steps, hmc.tau_dist dist; each starts in equilibrium
 * (300 uniform trajectories of another seed from phi = 0: a fixed-length start would need
 * ~10^3 trajectories to fill the resonant modes). */
static void res_run(const lf_theory *th, const res_modes *m, lf_tau_dist dist, int R, size_t NT,
                    res_stats *st) {
  lf_hmc warm, h;
  make_hmc_dist(&warm, th, 1.0, 10, LF_INT_LEAPFROG, LF_TAU_UNIFORM, 4321);
  make_hmc_dist(&h, th, 1.0, 10, LF_INT_LEAPFROG, dist, 1234);
  double *phi2 = malloc(NT * sizeof *phi2), *A = malloc(NT * sizeof *A), phi[64], o[5];
  const int k = lf_theory_obs_index(th, "phi2");
  lf_hmc_result r;
  for (int rep = 0; rep < R; rep++) {
    memset(phi, 0, sizeof phi);
    for (uint32_t t = 0; t < 300; t++) lf_hmc_trajectory(&warm, (uint64_t)rep, t, phi, &r);
    for (size_t t = 0; t < NT; t++) {
      lf_hmc_trajectory(&h, (uint64_t)rep, (uint32_t)t, phi, &r);
      th->observables(th, phi, o);
      phi2[t] = o[k];
      A[t] = res_amplitude(m, phi);
    }
    lf_gamma_result g;
    if (lf_gamma_mean(1, &NT, phi2, LF_GAMMA_S, &g, NULL, 0) != LF_OK) {
      fprintf(stderr, "lf_gamma_mean: %s\n", lf_last_error());
      exit(1);
    }
    st->mean[rep] = g.value;
    st->err[rep] = g.error;
    st->tau[rep] = g.tau_int;
    st->rho[rep] = lag1(A, NT);
  }
  free(phi2);
  free(A);
  lf_hmc_free(&warm);
  lf_hmc_free(&h);
}

/* The expected lag-1 autocorrelation of |x_k|^2 for a Gaussian mode that each trajectory
 * maps to x cos(theta) + (p / omega) sin(theta): E[cos^2 theta] (over n_t for uniform),
 * theta = n 2 asin(omega eps / 2) (the leapfrog rotation), ignoring rejections. */
static double res_rho_expected(lf_tau_dist dist) {
  const double th1 = 2.0 * asin(sqrt(10.0) * 0.05);
  if (dist == LF_TAU_FIXED) return cos(10 * th1) * cos(10 * th1);
  double s = 0.0;
  for (int n = 1; n <= 19; n++) s += cos(n * th1) * cos(n * th1);
  return s / 19.0;
}

/* The resonance check. R = 16 replicas of 20000 trajectories per distribution (~6 s).
 * (1) mechanism: the lag-1 autocorrelation of the resonant amplitude A, mean over the
 *     replicas: > 0.95 with fixed (expected 0.9988: the 14 modes of omega tau ~ pi decorrelate
 *     over ~10^3 trajectories), < 0.8 with uniform (expected ~0.5).
 * (2) consequence, independent of any error estimator: the variance between the replicas'
 *     phi2 means with fixed over that with uniform (same cost). A mode model (each mode
 *     decorrelating as in (1), acceptance 0.94) gives tau_int(phi2) ~ 90 for fixed and 1.6
 *     for uniform, a ratio ~ 50; the check asks for > 4 (the variance ratio of two samples
 *     of 16 exceeds 4 by chance with p ~ 0.5%, so the old code, where both runs are fixed,
 *     fails it, and with a true ratio of even 20, F(15,15) < 1/5 has p < 1e-3).
 * (3) honesty with uniform: chi^2/dof of z = (mean - exact) / error over the 16 replicas,
 *     the error from lf_gamma_mean; fails above 2.6 (chi^2_16 0.999 quantile 39.3 / 16 =
 *     2.45, plus room for the noise of the estimated errors); an error 1.5x too small gives
 *     2.25 on average. For fixed the same chi^2/dof is printed: with tau_int ~ 90 hidden in
 *     a small, slow tail, a window chosen from the fast decay misses most of it. */
static void test_resonance(void) {
  enum { R = 16 };
  const size_t NT = 20000;
  lf_theory th = make_theory(8, 8, 1.0, 0.0);
  lf_free_exact ex;
  CHECK(lf_free_exact_eval(8, 8, 1.0, &ex) == LF_OK, "exact free field 8x8");
  res_modes *m = malloc(sizeof *m);
  res_modes_init(m);
  CHECK(m->nk == 14, "8x8: %d modes with phat^2 = 4 (want 14)", m->nk);
  res_stats st[2];
  const lf_tau_dist d[2] = {LF_TAU_FIXED, LF_TAU_UNIFORM};
  double var[2], rho[2], chi2[2], tau[2];
  for (int i = 0; i < 2; i++) {
    res_run(&th, m, d[i], R, NT, &st[i]);
    double mm = 0.0, rr = 0.0, tt = 0.0, c2 = 0.0;
    for (int r = 0; r < R; r++) {
      mm += st[i].mean[r] / R;
      rr += st[i].rho[r] / R;
      tt += st[i].tau[r] / R;
      const double z = (st[i].mean[r] - ex.phi2) / st[i].err[r];
      c2 += z * z / R;
    }
    double v = 0.0;
    for (int r = 0; r < R; r++) v += (st[i].mean[r] - mm) * (st[i].mean[r] - mm) / (R - 1);
    var[i] = v;
    rho[i] = rr;
    chi2[i] = c2;
    tau[i] = tt;
    fprintf(stderr,
            "     tau_dist %-7s: %d replicas x %zu trajectories, 8x8 m2=1 lambda=0, tau 1, 10 "
            "leapfrog steps: phi2 %.5f (exact %.5f), sd of the means %.2e, mean error %.2e, "
            "mean tau_int (Gamma) %.2f; lag-1 autocorrelation of the resonant modes %.4f "
            "(expected %.4f)\n",
            dname(d[i]), R, NT, mm, ex.phi2, sqrt(v), st[i].err[0], tt, rr, res_rho_expected(d[i]));
  }
  CHECK(rho[0] > 0.95 && rho[1] < 0.8,
        "resonant modes (omega tau ~ pi): lag-1 autocorrelation %.4f with fixed (> 0.95), %.4f "
        "with uniform (< 0.8)",
        rho[0], rho[1]);
  CHECK(var[0] > 4.0 * var[1],
        "variance of the %d replicas' phi2 means: fixed / uniform = %.1f (> 4; sd %.2e vs %.2e)", R,
        var[0] / var[1], sqrt(var[0]), sqrt(var[1]));
  CHECK(chi2[1] < 2.6,
        "uniform: chi^2/dof of (phi2 - exact) / error = %.2f over %d replicas (< 2.6; fixed: "
        "%.2f, mean tau_int %.2f vs %.2f)",
        chi2[1], R, chi2[0], tau[0], tau[1]);
  free(m);
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
  c = hmc_cfg(1.0, 10, LF_INT_LEAPFROG);
  c.tau_dist = (lf_tau_dist)5;
  rc = lf_hmc_init(&h, &th, &c, 1);
  CHECK(rc == LF_ERR_INVALID && strstr(lf_last_error(), "tau_dist"), "tau_dist 5 refused: %s",
        lf_last_error());
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
  test_length_law();
  for (int ig = 0; ig < 2; ig++) {
    test_by_hand((lf_integrator)ig, LF_TAU_FIXED);
    test_by_hand((lf_integrator)ig, LF_TAU_UNIFORM);
  }
  test_resonance();
  return lf_test_result();
}
