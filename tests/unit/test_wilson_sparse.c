/* The sparse fermion determinant of the Schwinger model (theory.logdet: sparse,
 * src/theory/wilson_sparse.c) against the dense reference (theory.logdet: dense,
 * src/theory/wilson.c): log|det D|, the force, the condensate, the correlator and D^{-1}
 * agree to 1e-10 (relative) on random gauge fields (square and non-square lattices, both
 * fermion_bc, kappa 0 to near critical) and on near-singular ones: a charge-1 field with a
 * real eigenvalue lambda of the hopping matrix H (D = 1 - kappa H, found with LAPACK's
 * zgeev) at kappa = (1 - delta)/lambda, where LAPACK's zgesvd on the dense D measures the
 * condition number reached (up to 2e5). There too everything agrees to 1e-10: the sparse
 * method detects the ill-conditioning (inverse iteration) and takes the accurate path (dense
 * LU log det, refined column solves), which the counters of its workspace show, while the
 * well-conditioned fields take the selected inversion. The sparse force against central
 * finite differences of the sparse S; the cache (grad, observables and action of one field in any
 * order give the bits of a fresh theory); an exactly singular D (S = +inf or a NaN force, no crash,
 * lf_schwinger_logdet's LF_ERR_NUMERIC); the resolution of theory.logdet: auto, the
 * description, the refusal of a bad method value; and the timing of both methods (interleaved;
 * LATFLOW_TIMING selects lattices and field counts). */
#include "latflow/config.h"
#include "latflow/theory.h"
#include "latflow/timer.h"
#include "latflow/u1.h"
#define GT_SEED 31
#include "gauge_test.h"
#include "lftest.h"
#include "theory/wilson_impl.h" /* lf_schwinger_sparse, lf_wsparse_get_stats */

#include <complex.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

void zgeev_(const char *jobvl, const char *jobvr, const int *n, double _Complex *a, const int *lda,
            double _Complex *w, double _Complex *vl, const int *ldvl, double _Complex *vr,
            const int *ldvr, double _Complex *work, const int *lwork, double *rwork, int *info);
void zgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double _Complex *a,
             const int *lda, double *s, double _Complex *u, const int *ldu, double _Complex *vt,
             const int *ldvt, double _Complex *work, const int *lwork, double *rwork, int *info);

static lf_theory_cfg cfg_of(int L0, int L1, double kappa, const char *bc, lf_logdet_kind m) {
  lf_theory_cfg c = schw_cfg(L0, L1, 1.3, kappa, bc);
  c.logdet = m;
  return c;
}

/* sigma_max / sigma_min of the dense D for theta (zgesvd). */
static double cond_D(const lf_lattice *lat, double kappa, int ap, const double *th) {
  const int n = 2 * lat->V, lwork = 8 * n;
  double _Complex *D = malloc(sizeof *D * (size_t)n * n), *work = malloc(sizeof *work * lwork);
  double *sv = malloc(sizeof *sv * n), *rwork = malloc(sizeof *rwork * 5 * n);
  lf_wilson_build(lat, kappa, ap, th, (double *)(void *)D);
  int info = 0, one = 1;
  zgesvd_("N", "N", &n, &n, D, &n, sv, NULL, &one, NULL, &one, work, &lwork, rwork, &info);
  const double c = info == 0 ? sv[0] / sv[n - 1] : NAN;
  free(D);
  free(work);
  free(sv);
  free(rwork);
  return c;
}

/* A smooth field of charge 1 (constant field strength 2 pi / V) plus noise of size eps. */
static void charge1_field(int L0, int L1, double eps, uint32_t step, double *th) {
  const int V = L0 * L1;
  randn(step, (size_t)2 * V, eps, th);
  for (int x0 = 0; x0 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++) {
      const int v = x0 * L1 + x1;
      th[V + v] += 2 * PI * x0 / V;
      if (x0 == L0 - 1) th[v] -= 2 * PI * x1 / L1;
    }
}

/* The real eigenvalue of H = 1 - D(kappa = 1) nearest to 4 (the physical real mode of a
 * charge-1 field); 0 if there is none. */
static double real_mode(const lf_lattice *lat, int ap, const double *th) {
  const int n = 2 * lat->V, lwork = 4 * n, one = 1;
  double _Complex *H = malloc(sizeof *H * (size_t)n * n), *w = malloc(sizeof *w * n);
  double _Complex *work = malloc(sizeof *work * lwork);
  double *rwork = malloc(sizeof *rwork * 2 * n);
  lf_wilson_build(lat, 1.0, ap, th, (double *)(void *)H);
  for (size_t i = 0; i < (size_t)n * n; i++) H[i] = -H[i];
  for (int i = 0; i < n; i++) H[i + (size_t)n * i] += 1.0;
  int info = 0;
  zgeev_("N", "N", &n, H, &n, w, NULL, &one, NULL, &one, work, &lwork, rwork, &info);
  double best = 0.0;
  for (int i = 0; info == 0 && i < n; i++)
    if (fabs(cimag(w[i])) < 1e-9 * cabs(w[i]) && creal(w[i]) > 1.0 &&
        (best == 0.0 || fabs(creal(w[i]) - 4.0) < fabs(best - 4.0)))
      best = creal(w[i]);
  free(H);
  free(w);
  free(work);
  free(rwork);
  return best;
}

/* max_i |a_i - b_i| / max_i |b_i|, or |a - b| / max(|b|, 1e-300) for n = 1. */
static double relerr(const double *a, const double *b, size_t n) {
  double d = 0.0, m = 0.0;
  for (size_t i = 0; i < n; i++) {
    d = fmax(d, fabs(a[i] - b[i]));
    m = fmax(m, fabs(b[i]));
  }
  return d / fmax(m, 1e-300);
}

/* Both methods on the field th: log|det D|, S, force, observables, correlator, D^{-1}. */
static void compare(int L0, int L1, double kappa, const char *bc, const double *th,
                    const char *what, double cond, int near) {
  const int V = L0 * L1, n = 2 * V;
  lf_theory_cfg cd = cfg_of(L0, L1, kappa, bc, LF_LOGDET_DENSE);
  lf_theory_cfg cs = cfg_of(L0, L1, kappa, bc, LF_LOGDET_SPARSE);
  lf_theory d, s;
  if (lf_theory_init(&d, &cd) != LF_OK || lf_theory_init(&s, &cs) != LF_OK) {
    CHECK(0, "init %dx%d: %s", L0, L1, lf_last_error());
    return;
  }
  double ld, pd, ls, ps, Sd, Ss, od[LF_MAX_OBS], os[LF_MAX_OBS];
  double *gd = calloc((size_t)n, sizeof *gd), *gs = calloc((size_t)n, sizeof *gs);
  double *Cd = malloc(sizeof *Cd * L0), *Cs = malloc(sizeof *Cs * L0);
  double *Id = malloc(sizeof *Id * 2 * (size_t)n * n), *Is = malloc(sizeof *Is * 2 * (size_t)n * n);
  const lf_status r1 = lf_schwinger_logdet(&d, th, &ld, &pd);
  const lf_status r2 = lf_schwinger_logdet(&s, th, &ls, &ps);
  d.action(&d, 1, th, &Sd);
  s.action(&s, 1, th, &Ss);
  d.grad(&d, 1, th, gd);
  s.grad(&s, 1, th, gs);
  d.observables(&d, th, od);
  s.observables(&s, th, os);
  d.correlator(&d, th, Cd);
  s.correlator(&s, th, Cs);
  const lf_status r3 = lf_schwinger_inverse(&d, th, Id);
  const lf_status r4 = lf_schwinger_inverse(&s, th, Is);
  const double el = fabs(ls - ld) / fmax(fabs(ld), 1e-300), eS = fabs(Ss - Sd) / fabs(Sd);
  const double ltol = 1e-10 * fabs(ld), Stol = 1e-10 * fabs(Sd);
  /* the path taken: near-singular fields (cond(D) > 1e3) the accurate one (log det from the
   * dense LU, force and condensate from the refined column solves), well-conditioned ones
   * (cond(D) < 1e2) the selected inversion; the estimate of cond(D)^2 between cond(D)^2 / 4
   * (inverse iteration) and 16 cond(D)^2 (the bound ||D||_1 ||D||_inf of ||D||_2^2) */
  const lf_wsparse_stats st = lf_wsparse_get_stats(lf_schwinger_sparse(&s));
  const double est = lf_wsparse_condsq(lf_schwinger_sparse(&s)), c2 = cond * cond;
  const int path_ok =
      (near ? st.ill == st.factored && st.dense_logdet == st.factored && st.column_solves >= 2 &&
                  st.selinv == 0
            : cond > 1e2 || (st.ill == 0 && st.selinv == 1 && st.column_solves == 1)) &&
      est >= 0.25 * c2 && est <= 16.0 * c2;
  CHECK(path_ok,
        "%s %dx%d kappa=%.3g: cond(D)^2 %.2e, estimate %.2e; fields factored %ld, ill %ld, dense "
        "log det %ld, selected inversions %ld, column solves %ld",
        what, L0, L1, kappa, c2, est, st.factored, st.ill, st.dense_logdet, st.selinv,
        st.column_solves);
  const double eg = relerr(gs, gd, (size_t)n), eo = relerr(os, od, 4), ec = relerr(Cs, Cd, L0);
  const double ei = relerr(Is, Id, 2 * (size_t)n * n);
  CHECK(r1 == LF_OK && r2 == LF_OK && r3 == LF_OK && r4 == LF_OK && fabs(ls - ld) <= ltol &&
            fabs(Ss - Sd) <= Stol && eg < 1e-10 && eo < 1e-10 && ec < 1e-10 && ei < 1e-10 &&
            isnan(ps),
        "%s %dx%d kappa=%.10g %s (cond D %.2e): sparse vs dense rel. err: log|det D| %.1e "
        "(%.12f; abs %.1e, tol %.1e), S %.1e, force %.1e, obs %.1e (condensate %.9f), "
        "correlator %.1e, D^-1 %.1e",
        what, L0, L1, kappa, bc, cond, el, ld, fabs(ls - ld), ltol, eS, eg, eo, od[3], ec, ei);
  lf_theory_free(&d);
  lf_theory_free(&s);
  free(gd);
  free(gs);
  free(Cd);
  free(Cs);
  free(Id);
  free(Is);
}

static void compare_random(int L0, int L1, double kappa, const char *bc, double scale) {
  const int V = L0 * L1;
  double *th = malloc(sizeof *th * 2 * V);
  randn((uint32_t)(L0 * 100 + L1), (size_t)2 * V, scale, th);
  lf_lattice lat;
  double cond = NAN;
  if (lf_lattice_init(&lat, L0, L1, 1) == LF_OK) {
    cond = cond_D(&lat, kappa, strcmp(bc, "antiperiodic") == 0, th);
    lf_lattice_free(&lat);
  }
  compare(L0, L1, kappa, bc, th, "random", cond, 0);
  free(th);
}

/* kappa = (1 - delta) / lambda for the real mode lambda of a charge-1 field. */
static void compare_near_singular(int L0, int L1, const char *bc, double delta, double *cond_out) {
  const int V = L0 * L1, ap = strcmp(bc, "antiperiodic") == 0;
  double *th = malloc(sizeof *th * 2 * V);
  charge1_field(L0, L1, 0.2, (uint32_t)(L0 + 7 * L1), th);
  lf_lattice lat;
  if (lf_lattice_init(&lat, L0, L1, 1) != LF_OK) return;
  const double lam = real_mode(&lat, ap, th);
  const double kappa = lam > 0 ? (1.0 - delta) / lam : 0.25;
  const double cond = cond_D(&lat, kappa, ap, th);
  lf_lattice_free(&lat);
  *cond_out = cond;
  char what[64];
  snprintf(what, sizeof what, "near-singular (delta %.0e, real mode %.6f)", delta, lam);
  CHECK(lam > 0 && cond > 0.1 / delta,
        "%dx%d %s: a charge-1 field has a real mode lambda = %.9f of H; at kappa = (1 - %.0e) / "
        "lambda cond(D) = %.3e (sigma_min/sigma_max = %.2e)",
        L0, L1, bc, lam, delta, cond, 1.0 / cond);
  compare(L0, L1, kappa, bc, th, what, cond, 1);
  free(th);
}

/* Central finite differences of the sparse S against its force. */
static void check_force_fd(int L0, int L1, double kappa, const char *bc) {
  enum { B = 2 };
  const int n = 2 * L0 * L1;
  lf_theory_cfg c = cfg_of(L0, L1, kappa, bc, LF_LOGDET_SPARSE);
  lf_theory t;
  if (lf_theory_init(&t, &c) != LF_OK) return;
  double *th = malloc(sizeof *th * B * n), *g = calloc((size_t)B * n, sizeof *g), r[B], S[B];
  randn(41, (size_t)B * n, 1.0, th);
  randn(42, B, 1.0, r);
  t.grad(&t, B, th, g);
  for (int i = 0; i < B * n; i++) g[i] *= r[i / n];
  gctx ctx = {&t, B, th, r, S};
  const double err = lf_gradcheck(loss_action, &ctx, th, g, (size_t)B * n, 1e-5);
  CHECK(err < 1e-6,
        "sparse %dx%d kappa=%g %s: force vs central FD of the sparse S: worst rel err %.2e", L0, L1,
        kappa, bc, err);
  lf_theory_free(&t);
  free(th);
  free(g);
}

/* Hooks called in any order on one field give the bits of a fresh theory (the cache holds
 * the factors of the last field only, and quantities derived from them). */
static void check_cache(void) {
  const int L0 = 6, L1 = 4, n = 2 * L0 * L1;
  lf_theory_cfg c = cfg_of(L0, L1, 0.27, "antiperiodic", LF_LOGDET_SPARSE);
  lf_theory a, b;
  if (lf_theory_init(&a, &c) != LF_OK || lf_theory_init(&b, &c) != LF_OK) return;
  double th[2 * 2 * 24], Sa[2], Sb[2], ga[2 * 48] = {0}, gb[2 * 48] = {0}, oa[4], ob[4], Ca[6],
                                              Cb[6];
  randn(51, (size_t)2 * n, 1.0, th);
  a.action(&a, 2, th, Sa); /* a: batch action, then per field grad, observables, correlator */
  a.grad(&a, 2, th, ga);
  a.observables(&a, th + n, oa);
  a.correlator(&a, th + n, Ca);
  b.correlator(&b, th + n, Cb); /* b: reversed */
  b.observables(&b, th + n, ob);
  b.grad(&b, 1, th + n, gb + n);
  b.action(&b, 1, th + n, Sb + 1);
  b.grad(&b, 1, th, gb);
  b.action(&b, 1, th, Sb);
  CHECK(memcmp(Sa, Sb, sizeof Sa) == 0 && memcmp(ga, gb, sizeof ga) == 0 &&
            memcmp(oa, ob, sizeof oa) == 0 && memcmp(Ca, Cb, sizeof Ca) == 0,
        "sparse cache: action, force, observables and correlator bitwise independent of the order "
        "of the calls (S = %.15f %.15f)",
        Sa[0], Sa[1]);
  lf_theory_free(&a);
  lf_theory_free(&b);
}

/* theta = 0, periodic, kappa = 1/4: D has the exact zero mode p = 0 (the dense LU need
 * not see it exactly, so only its values are printed); then a non-finite field. */
static void check_singular(void) {
  const int n = 32;
  double th[32] = {0}, g[32], S = 0.0, la = 0.0, ph, o[4];
  for (int m = 1; m <= 2; m++) {
    lf_theory_cfg c = cfg_of(4, 4, 0.25, "periodic", (lf_logdet_kind)m);
    lf_theory t;
    if (lf_theory_init(&t, &c) != LF_OK) return;
    for (int f = 0; f < 2; f++) {
      th[5] = f ? NAN : 0.0;
      t.action(&t, 1, th, &S);
      const lf_status rc = lf_schwinger_logdet(&t, th, &la, &ph);
      memset(g, 0, sizeof g);
      t.grad(&t, 1, th, g);
      t.observables(&t, th, o);
      int gnan = 0;
      for (int i = 0; i < n; i++) gnan += isnan(g[i]);
      const int ok =
          f ? isnan(S) && gnan > 0 && isnan(o[3])
            : rc == LF_ERR_NUMERIC && S == INFINITY && la == -INFINITY && gnan == n && isnan(o[3]);
      if (m == 2)
        CHECK(ok,
              "sparse: %s: S = %g, log|det D| = %g, rc %d (%s), %d of %d force entries NaN, "
              "condensate %g",
              f ? "a NaN link" : "singular D (kappa = 1/4, theta = 0, periodic)", S, la, (int)rc,
              rc != LF_OK ? lf_last_error() : "", gnan, n, o[3]);
      else
        fprintf(stderr, "info dense: %s: S = %g, rc %d, %d force entries NaN, condensate %g\n",
                f ? "a NaN link" : "singular D", S, (int)rc, gnan, o[3]);
    }
    lf_theory_free(&t);
  }
}

static void check_config(void) {
  lf_theory_cfg c = cfg_of(4, 4, 0.25, "antiperiodic", LF_LOGDET_AUTO);
  const lf_logdet_kind small = lf_theory_cfg_logdet(&c);
  c.shape[0] = 14;
  c.shape[1] = 13;
  const lf_logdet_kind below = lf_theory_cfg_logdet(&c);
  c.shape[1] = 14;
  const lf_logdet_kind at = lf_theory_cfg_logdet(&c);
  c.shape[0] = 24;
  c.shape[1] = 24;
  const lf_logdet_kind big = lf_theory_cfg_logdet(&c);
  c.logdet = LF_LOGDET_DENSE;
  const lf_logdet_kind forced = lf_theory_cfg_logdet(&c);
  lf_theory_cfg u = u1_cfg(16, 16, 1.0);
  u.logdet = LF_LOGDET_SPARSE;
  char desc[160];
  c.logdet = LF_LOGDET_AUTO;
  lf_theory_describe(&c, desc, sizeof desc);
  CHECK(small == LF_LOGDET_DENSE && below == LF_LOGDET_DENSE && at == LF_LOGDET_SPARSE &&
            big == LF_LOGDET_SPARSE && forced == LF_LOGDET_DENSE &&
            lf_theory_cfg_logdet(&u) == LF_LOGDET_DENSE &&
            strcmp(desc,
                   "schwinger 24x24, beta = 1.3, kappa = 0.25, antiperiodic, logdet sparse") == 0,
        "theory.logdet auto: 4x4 -> %s, 14x13 -> %s, 14x14 -> %s, 24x24 -> %s; dense stays %s; "
        "u1 has no determinant (%s); '%s'",
        lf_logdet_name(small), lf_logdet_name(below), lf_logdet_name(at), lf_logdet_name(big),
        lf_logdet_name(forced), lf_logdet_name(lf_theory_cfg_logdet(&u)), desc);
  /* a method outside the enum (only programmatic: the card's parser names the key) */
  c.logdet = (lf_logdet_kind)7;
  lf_theory t;
  const lf_status r1 = lf_theory_init(&t, &c);
  const int named = strstr(lf_last_error(), "theory.logdet") != NULL;
  /* the V <= 4096 limit is the dense method's only */
  c = cfg_of(80, 64, 0.25, "antiperiodic", LF_LOGDET_DENSE);
  const lf_status r2 = lf_theory_init(&t, &c);
  c.logdet = LF_LOGDET_SPARSE;
  const lf_status r3 = lf_theory_init(&t, &c);
  if (r3 == LF_OK) lf_theory_free(&t);
  lf_config cfg;
  lf_config_defaults(&cfg);
  const lf_status r4 = lf_config_set(&cfg, "theory.logdet=cholesky");
  const char *msg = lf_last_error();
  CHECK(r1 == LF_ERR_CONFIG && named && r2 == LF_ERR_CONFIG && r3 == LF_OK && r4 == LF_ERR_CONFIG &&
            strstr(msg, "theory.logdet") && strstr(msg, "cholesky"),
        "bad method refused (rc %d, names the key: %d); 80x64 dense refused (rc %d), sparse built "
        "(rc %d); --set theory.logdet=cholesky: rc %d '%s'",
        (int)r1, named, (int)r2, (int)r3, (int)r4, msg);
}

static int cmpd(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Timing, both methods interleaved field by field (the first alternates): S (a fresh field:
 * one factorization, for sparse with the conditioning estimate) and the force of the field
 * just factored; minimum and median over F fields. LATFLOW_TIMING="L:F,L:F,..." replaces the
 * default list (e.g. "8:200,12:100,16:40,24:8,32:4"). */
static void timing(int L, int F) {
  const int n = 2 * L * L;
  double *th = malloc(sizeof *th * n), *g = calloc((size_t)n, sizeof *g), S;
  double *tm = malloc(sizeof *tm * 4 * F);
  lf_theory t[2];
  for (int m = 0; m < 2; m++) {
    lf_theory_cfg c = cfg_of(L, L, 0.263, "antiperiodic", (lf_logdet_kind)(m + 1));
    if (lf_theory_init(&t[m], &c) != LF_OK) return;
  }
  for (int f = 0; f < F; f++) {
    randn((uint32_t)(61 + f), (size_t)n, 1.0, th);
    for (int k = 0; k < 2; k++) {
      const int m = (f + k) % 2;
      const double t0 = lf_wtime();
      t[m].action(&t[m], 1, th, &S);
      const double t1 = lf_wtime();
      t[m].grad(&t[m], 1, th, g);
      tm[(2 * m) * F + f] = t1 - t0;
      tm[(2 * m + 1) * F + f] = lf_wtime() - t1;
    }
  }
  for (int k = 0; k < 4; k++) qsort(tm + k * F, (size_t)F, sizeof *tm, cmpd);
  fprintf(stderr,
          "info %dx%d (%d fields, ms min/median): S dense %.3g/%.3g sparse %.3g/%.3g; force of a "
          "factored field dense %.3g/%.3g sparse %.3g/%.3g\n",
          L, L, F, tm[0] * 1e3, tm[F / 2] * 1e3, tm[2 * F] * 1e3, tm[2 * F + F / 2] * 1e3,
          tm[F] * 1e3, tm[F + F / 2] * 1e3, tm[3 * F] * 1e3, tm[3 * F + F / 2] * 1e3);
  for (int m = 0; m < 2; m++) lf_theory_free(&t[m]);
  free(th);
  free(g);
  free(tm);
}

int main(void) {
  check_config();
  const double kappas[] = {0.0, 0.15, 0.263, 0.3};
  const int shapes[][2] = {{4, 4}, {6, 4}, {2, 6}, {8, 8}, {12, 6}};
  for (int i = 0; i < 5; i++)
    for (int k = 0; k < 4; k++)
      compare_random(shapes[i][0], shapes[i][1], kappas[k], k % 2 ? "periodic" : "antiperiodic",
                     k == 3 ? 0.5 : 1.5);
  compare_random(8, 4, 0.263, "periodic", 1.5);
  compare_random(4, 8, 0.263, "antiperiodic", 1.5);
  double worst = 0.0, c = 0.0;
  const double deltas[] = {1e-3, 1e-4, 1e-5};
  for (int k = 0; k < 3; k++) {
    compare_near_singular(8, 8, "antiperiodic", deltas[k], &c);
    worst = fmax(worst, c);
    compare_near_singular(6, 4, "periodic", deltas[k], &c);
    worst = fmax(worst, c);
  }
  fprintf(stderr, "info near-singular fields: largest cond(D) reached %.3e\n", worst);
  check_force_fd(4, 4, 0.263, "antiperiodic");
  check_force_fd(6, 4, 0.3, "periodic");
  check_force_fd(2, 4, 0.25, "antiperiodic");
  check_cache();
  check_singular();
  const char *tl = getenv("LATFLOW_TIMING");
  if (!tl) tl = "8:20,16:4";
  for (int L, F, k; sscanf(tl, "%d:%d%n", &L, &F, &k) == 2; tl += k + (tl[k] == ',')) timing(L, F);
  return lf_test_result();
}
