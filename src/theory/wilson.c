/* The two-flavour Schwinger model with Wilson fermions (contract: latflow/u1.h and
 * latflow/theory.h; conventions: docs/PHYSICS.md section 8).
 *   S = -beta sum_x cos theta_P(x) - 2 log|det D|
 * theory.logdet chooses how log|det D| and the force are computed (lf_theory_cfg_logdet):
 * dense: D is built densely (2V x 2V complex) and factored by LAPACK's zgetrf in double;
 * the force uses d log det D / d theta = tr(D^{-1} dD/dtheta) with the dense inverse
 * (zgetri), O(V^3) per field and the reference. sparse: CHOLMOD factors D^dagger D
 * (src/theory/wilson_sparse.c, wilson_impl.h), O(V^1.5) for S, O(V^2 log V) for the force.
 * The workspace lives in t->impl and is allocated once by schwinger_init; it caches
 * the factors of the last field seen (compared bit by bit), so observables and correlator
 * of one configuration share one factorization. Hence the hooks are not thread-safe. */
#include "latflow/timer.h"
#include "latflow/u1.h"

#include "theory/theory_impl.h"
#include "theory/wilson_impl.h"

#include <complex.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

void zgetrf_(const int *m, const int *n, double _Complex *a, const int *lda, int *ipiv, int *info);
void zgetri_(const int *n, double _Complex *a, const int *lda, const int *ipiv,
             double _Complex *work, const int *lwork, int *info);

typedef struct schw_ws {
  int n;                 /* 2V */
  int antiperiodic;      /* fermion_bc */
  lf_wsparse *sp;        /* owned: the sparse method's workspace; NULL: dense (below) */
  double _Complex *D;    /* (n, n) owned: D, overwritten by its LU factors */
  double _Complex *inv;  /* (n, n) owned: D^{-1} */
  double _Complex *work; /* (lwork) owned: zgetri */
  int lwork;
  int *ipiv;            /* (n) owned */
  double *key;          /* (2V) owned: the field whose factors are held */
  int state;            /* 0: nothing; 1: LU of key; 2: LU and inverse of key */
  int info;             /* zgetrf's info for key (> 0: singular) */
  double logabs, phase; /* log|det D| and arg det D for key */
} schw_ws;

/* The 2x2 spin matrices (1 - g_mu) and (1 + g_mu), g_0 = sigma_1, g_1 = sigma_2. */
void lf_wilson_proj(int mu, double sign, double _Complex P[2][2]) {
  const double _Complex g01 = mu == 0 ? 1.0 : -I, g10 = mu == 0 ? 1.0 : I;
  P[0][0] = 1.0;
  P[1][1] = 1.0;
  P[0][1] = sign * g01;
  P[1][0] = sign * g10;
}

/* eta of the link (v, mu): -1 where an antiperiodic hop crosses the time boundary. */
static double link_eta(const lf_lattice *lat, int antiperiodic, int v, int mu) {
  return (antiperiodic && mu == 0 && v / lat->L[1] == lat->L[0] - 1) ? -1.0 : 1.0;
}

double _Complex lf_wilson_hop(const lf_lattice *lat, double kappa, int antiperiodic,
                              const double *theta, int v, int mu) {
  const double th = theta[(size_t)mu * lat->V + v];
  return -kappa * link_eta(lat, antiperiodic, v, mu) * (cos(th) + I * sin(th));
}

static void build(const lf_lattice *lat, double kappa, int antiperiodic, const double *theta,
                  double _Complex *D) {
  const int V = lat->V;
  const size_t n = 2 * (size_t)V;
  memset(D, 0, n * n * sizeof *D);
  for (size_t i = 0; i < n; i++) D[i + n * i] = 1.0;
  for (int mu = 0; mu < 2; mu++) {
    double _Complex Pm[2][2], Pp[2][2];
    lf_wilson_proj(mu, -1.0, Pm);
    lf_wilson_proj(mu, +1.0, Pp);
    for (int v = 0; v < V; v++) {
      const int y = lat->up[2 * v + mu];
      const double th = theta[(size_t)mu * V + v];
      const double c = -kappa * link_eta(lat, antiperiodic, v, mu);
      const double _Complex uf = c * (cos(th) + I * sin(th)), ub = conj(uf);
      /* forward hop: rows at v, columns at y; backward hop: rows at y, columns at v */
      for (int s = 0; s < 2; s++)
        for (int r = 0; r < 2; r++) {
          D[(size_t)(2 * v + s) + n * (size_t)(2 * y + r)] += uf * Pm[s][r];
          D[(size_t)(2 * y + s) + n * (size_t)(2 * v + r)] += ub * Pp[s][r];
        }
    }
  }
}

void lf_wilson_build(const lf_lattice *lat, double kappa, int antiperiodic, const double *theta,
                     double *D) {
  build(lat, kappa, antiperiodic, theta, (double _Complex *)(void *)D);
}

/* Builds and factors D for theta unless the held factors are for the same field. */
static void factor(const lf_theory *t, schw_ws *w, const double *theta) {
  const size_t nk = 2 * (size_t)t->V;
  if (w->state > 0 && memcmp(w->key, theta, nk * sizeof *theta) == 0) return;
  build(&t->lat, t->cfg.kappa, w->antiperiodic, theta, w->D);
  int info = 0;
  zgetrf_(&w->n, &w->n, w->D, &w->n, w->ipiv, &info);
  w->info = info;
  double la = 0.0, ph = 0.0;
  const size_t n = (size_t)w->n;
  for (size_t k = 0; k < n; k++) {
    const double _Complex d = w->D[k + n * k];
    la += log(cabs(d));
    ph += carg(d) + (w->ipiv[k] != (int)k + 1 ? 0.5 * 6.283185307179586 : 0.0);
  }
  w->logabs = info > 0 ? -INFINITY : la;
  w->phase = lf_u1_wrap(ph);
  memcpy(w->key, theta, nk * sizeof *theta);
  w->state = 1;
}

/* Factors (if needed) and inverts; returns 0 if D is singular. */
static int invert(const lf_theory *t, schw_ws *w, const double *theta) {
  factor(t, w, theta);
  if (w->info != 0) return 0;
  if (w->state == 2) return 1;
  const size_t n = (size_t)w->n;
  memcpy(w->inv, w->D, n * n * sizeof *w->inv);
  int info = 0;
  zgetri_(&w->n, w->inv, &w->n, w->ipiv, w->work, &w->lwork, &info);
  if (info != 0) return 0;
  w->state = 2;
  return 1;
}

static void schwinger_action(const lf_theory *t, int B, const double *phi, double *S) {
  schw_ws *w = t->impl;
  const size_t nk = 2 * (size_t)t->V;
  for (int b = 0; b < B; b++) {
    const double *th = phi + (size_t)b * nk;
    double la;
    if (w->sp)
      lf_wsparse_logdet(w->sp, th, &la);
    else {
      factor(t, w, th);
      la = w->logabs;
    }
    S[b] = lf_u1_gauge_action(&t->lat, t->cfg.beta, th) - 2.0 * la;
  }
}

/* dS_f/dtheta_mu(v) = -2 Re tr(D^{-1} dD/dtheta_mu(v)); dD/dtheta multiplies the
 * forward block (rows v, columns y = v+mu) by i and the backward block (rows y,
 * columns v) by -i, so tr(D^{-1} dD) = i sum Dinv[y,v] F - i sum Dinv[v,y] Bk. */
static void schwinger_grad(const lf_theory *t, int B, const double *phi, double *dS) {
  schw_ws *w = t->impl;
  const int V = t->V;
  const size_t nk = 2 * (size_t)V, n = (size_t)w->n;
  for (int b = 0; b < B; b++) {
    const double *th = phi + (size_t)b * nk;
    double *g = dS + (size_t)b * nk;
    lf_u1_gauge_grad(&t->lat, t->cfg.beta, th, g);
    if (w->sp) {
      if (!lf_wsparse_force(w->sp, th, g))
        for (size_t i = 0; i < nk; i++) g[i] = NAN;
      continue;
    }
    if (!invert(t, w, th)) {
      for (size_t i = 0; i < nk; i++) g[i] = NAN;
      continue;
    }
    const double _Complex *Di = w->inv;
    for (int mu = 0; mu < 2; mu++) {
      double _Complex Pm[2][2], Pp[2][2];
      lf_wilson_proj(mu, -1.0, Pm);
      lf_wilson_proj(mu, +1.0, Pp);
      for (int v = 0; v < V; v++) {
        const int y = t->lat.up[2 * v + mu];
        const double a = th[(size_t)mu * V + v];
        const double c = -t->cfg.kappa * link_eta(&t->lat, w->antiperiodic, v, mu);
        const double _Complex uf = c * (cos(a) + I * sin(a)), ub = conj(uf);
        double _Complex tr = 0.0;
        for (int s = 0; s < 2; s++)
          for (int r = 0; r < 2; r++) {
            /* D[(v,s),(y,r)] = uf Pm[s][r]  pairs with Dinv[(y,r),(v,s)] */
            tr += I * uf * Pm[s][r] * Di[(size_t)(2 * y + r) + n * (size_t)(2 * v + s)];
            /* D[(y,s),(v,r)] = ub Pp[s][r]  pairs with Dinv[(v,r),(y,s)] */
            tr -= I * ub * Pp[s][r] * Di[(size_t)(2 * v + r) + n * (size_t)(2 * y + s)];
          }
        g[(size_t)mu * V + v] += -2.0 * creal(tr);
      }
    }
  }
}

/* {plaq, topo, chi_t, condensate}; condensate = (1/V) Re tr D^{-1} (one flavour). */
static void schwinger_observables(const lf_theory *t, const double *phi, double *out) {
  schw_ws *w = t->impl;
  lf_u1_gauge_obs(&t->lat, phi, out);
  if (w->sp) {
    if (!lf_wsparse_obs(w->sp, phi, &out[3], NULL)) out[3] = NAN;
    return;
  }
  if (!invert(t, w, phi)) {
    out[3] = NAN;
    return;
  }
  const size_t n = (size_t)w->n;
  double tr = 0.0;
  for (size_t i = 0; i < n; i++) tr += creal(w->inv[i + n * i]);
  out[3] = tr / (double)t->V;
}

/* C(t) = (1/V) sum_y sum_x1 sum_{s,s'} |Dinv[(x,s),(y,s')]|^2, x = (y0 + t, x1): the
 * connected two-flavour pion correlator (gamma5-hermiticity) averaged over all sources. */
static void schwinger_correlator(const lf_theory *t, const double *phi, double *out) {
  schw_ws *w = t->impl;
  const int L0 = t->lat.L[0], L1 = t->lat.L[1];
  for (int k = 0; k < L0; k++) out[k] = 0.0;
  if (w->sp) {
    if (!lf_wsparse_obs(w->sp, phi, NULL, out))
      for (int k = 0; k < L0; k++) out[k] = NAN;
    return;
  }
  if (!invert(t, w, phi)) {
    for (int k = 0; k < L0; k++) out[k] = NAN;
    return;
  }
  const size_t n = (size_t)w->n;
  for (size_t j = 0; j < n; j++) {
    const int y0 = (int)(j / 2) / L1;
    const double _Complex *col = w->inv + n * j;
    for (int x0 = 0; x0 < L0; x0++) {
      double s = 0.0;
      for (size_t i = 2 * (size_t)x0 * L1; i < 2 * (size_t)(x0 + 1) * L1; i++) {
        const double re = creal(col[i]), im = cimag(col[i]);
        s += re * re + im * im;
      }
      out[(x0 - y0 + L0) % L0] += s;
    }
  }
  const double invV = 1.0 / (double)t->V;
  for (int k = 0; k < L0; k++) out[k] *= invV;
}

/* Frees the workspace t->impl (NULL is fine). */
static void schwinger_free_impl(void *impl) {
  schw_ws *w = impl;
  if (!w) return;
  lf_wsparse_free(w->sp);
  LF_FREE_ALL(w->D, w->inv, w->work, w->ipiv, w->key, w);
}

/* The rest of t after lf_theory_init (theory_impl.h): lattice, couplings, the dense
 * workspace and hooks. */
static lf_status schwinger_init(lf_theory *t, const lf_theory_cfg *cfg) {
  lf_status rc = lf_u1_check_cfg(cfg);
  if (rc != LF_OK) return rc;
  if (!(cfg->kappa >= 0.0) || !isfinite(cfg->kappa))
    return LF_FAIL(LF_ERR_CONFIG, "theory.kappa must be finite and >= 0, got %g", cfg->kappa);
  int ap;
  if (strcmp(cfg->fermion_bc, "antiperiodic") == 0)
    ap = 1;
  else if (strcmp(cfg->fermion_bc, "periodic") == 0)
    ap = 0;
  else
    return LF_FAIL(LF_ERR_CONFIG, "theory.fermion_bc must be periodic or antiperiodic, got '%s'",
                   cfg->fermion_bc);
  const lf_logdet_kind method = lf_theory_cfg_logdet(cfg);
  if (cfg->logdet != LF_LOGDET_AUTO && cfg->logdet != LF_LOGDET_DENSE &&
      cfg->logdet != LF_LOGDET_SPARSE)
    return LF_FAIL(LF_ERR_CONFIG, "theory.logdet must be auto, dense or sparse, got %d",
                   (int)cfg->logdet);
  if (method == LF_LOGDET_DENSE && (size_t)cfg->shape[0] * (size_t)cfg->shape[1] > 64 * 64)
    return LF_FAIL(LF_ERR_CONFIG,
                   "theory.shape [%d, %d]: the dense Dirac operator (theory.logdet: dense) is "
                   "limited to V <= 4096; theory.logdet: sparse has no such limit",
                   cfg->shape[0], cfg->shape[1]);
  rc = lf_lattice_init(&t->lat, cfg->shape[0], cfg->shape[1], 1);
  if (rc != LF_OK) return rc;
  t->V = t->lat.V;
  t->cfg = *cfg;
  schw_ws *w = lf_alloc(sizeof *w);
  if (!w) return LF_FAIL(LF_ERR_NOMEM, "schwinger workspace");
  memset(w, 0, sizeof *w);
  t->impl = w;
  w->n = 2 * t->V;
  w->antiperiodic = ap;
  t->action = schwinger_action;
  t->grad = schwinger_grad;
  t->observables = schwinger_observables;
  t->correlator = t->ncorr ? schwinger_correlator : NULL;
  if (method == LF_LOGDET_SPARSE) return lf_wsparse_init(&w->sp, &t->lat, cfg->kappa, ap);
  w->lwork = 64 * w->n;
  const size_t n = (size_t)w->n;
  w->D = lf_alloc(n * n * sizeof *w->D);
  w->inv = lf_alloc(n * n * sizeof *w->inv);
  w->work = lf_alloc((size_t)w->lwork * sizeof *w->work);
  w->ipiv = lf_alloc(n * sizeof *w->ipiv);
  w->key = lf_alloc(n * sizeof *w->key);
  if (!w->D || !w->inv || !w->work || !w->ipiv || !w->key)
    return LF_FAIL(LF_ERR_NOMEM, "schwinger workspace: 2 dense %zu x %zu complex matrices", n, n);
  return LF_OK;
}

/* schwinger's facts: two link angles per site, u1's gauge observables and the condensate,
 * the pion correlator, couplings beta, kappa and the fermions' boundary condition, a
 * fermion determinant. */
static const char *const schwinger_obs[] = {"plaq", "topo", "chi_t", "condensate", NULL};
/* clang-format off */
const lf_theory_ops lf_schwinger_ops = {
  .C = 2, .obs = schwinger_obs, .corr = 1, .fermions = 1,
  .ncouplings = 3, .coupling = {{"theory.beta", offsetof(lf_theory_cfg, beta), 0},
                                {"theory.kappa", offsetof(lf_theory_cfg, kappa), 0},
                                {"theory.fermion_bc", offsetof(lf_theory_cfg, fermion_bc), 1}},
  .init = schwinger_init, .free_impl = schwinger_free_impl};
/* clang-format on */

lf_wsparse *lf_schwinger_sparse(const lf_theory *t) {
  return ((const schw_ws *)t->impl)->sp;
}

lf_status lf_schwinger_logdet(const lf_theory *t, const double *theta, double *logabs,
                              double *phase) {
  if (t->kind != LF_THEORY_SCHWINGER || !t->impl)
    return LF_FAIL(LF_ERR_INVALID, "lf_schwinger_logdet: theory '%s' is not schwinger",
                   t->name ? t->name : "?");
  schw_ws *w = t->impl;
  if (w->sp) {
    *phase = NAN; /* the sign of det D is not computed by the sparse method */
    return lf_wsparse_logdet(w->sp, theta, logabs);
  }
  factor(t, w, theta);
  *logabs = w->logabs;
  *phase = w->phase;
  if (w->info > 0)
    return LF_FAIL(LF_ERR_NUMERIC, "Dirac operator is singular (zgetrf info %d)", w->info);
  return LF_OK;
}

lf_status lf_schwinger_inverse(const lf_theory *t, const double *theta, double *Dinv) {
  if (t->kind != LF_THEORY_SCHWINGER || !t->impl)
    return LF_FAIL(LF_ERR_INVALID, "lf_schwinger_inverse: theory '%s' is not schwinger",
                   t->name ? t->name : "?");
  schw_ws *w = t->impl;
  if (w->sp) return lf_wsparse_inverse(w->sp, theta, (double _Complex *)(void *)Dinv);
  if (!invert(t, w, theta))
    return LF_FAIL(LF_ERR_NUMERIC, "Dirac operator is singular (zgetrf info %d)", w->info);
  memcpy(Dinv, w->inv, (size_t)w->n * (size_t)w->n * sizeof *w->inv);
  return LF_OK;
}
