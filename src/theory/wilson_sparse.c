/* The Schwinger model's sparse fermion determinant and force (theory.logdet: sparse;
 * contract: src/theory/wilson_impl.h; conventions: docs/PHYSICS.md section 8), on
 * SuiteSparse CHOLMOD.
 *
 * M = D^dagger D is never formed by us: CHOLMOD factors A A^dagger for an unsymmetric A
 * (stype 0), so we hand it A = D^dagger and it builds the columns of M while it factors.
 * That is the library's own product (no hand-assembled next-to-nearest-neighbour stencil
 * to get wrong, and no second matrix to keep: the same D^dagger serves the products
 * D^dagger X and D X = (D^dagger)^dagger X of the solves through cholmod_sdmult). D^dagger
 * has a pattern fixed by the lattice, so it is built once (cholmod_triplet_to_sparse, which
 * also sums the entries that coincide on a side of length 2) together with the position
 * of every stencil entry in it; a new field only rewrites the values, in a fixed order.
 * cholmod_analyze orders and analyses D^dagger D once; cholmod_factorize then reuses the
 * symbolic factor for every field. The factor is supernodal (LL^dagger, forced: one
 * layout to read the diagonal from; simplicial factors are read too, in case).
 *
 * Entries of D^{-1}: X = D^{-1} B for blocks B of LF_WSPARSE_BLOCK unit columns,
 * X = M^{-1} D^dagger B with one step of iterative refinement against D (R = B - D X,
 * X += M^{-1} D^dagger R): the solve through M has the error of cond(M) = cond(D)^2,
 * the refined one that of cond(D), as the dense inverse. */
#include "latflow/timer.h"

#include "theory/wilson_impl.h"

#include <cholmod.h>
#include <math.h>
#include <string.h>

enum { HAVE_FACT = 1, HAVE_TRACE = 2, HAVE_OBS = 4 };

struct lf_wsparse {
  const lf_lattice *lat; /* borrowed */
  double kappa;
  int antiperiodic;
  int V, n, k; /* sites, 2V, columns per block */
  cholmod_common c;
  int started;                   /* cholmod_start was called */
  cholmod_sparse *Dh;            /* owned: D^dagger (n, n), complex, pattern fixed */
  int *pos;                      /* (ntrip) owned: position in Dh of stencil entry t */
  int ntrip;                     /* n + 16 V */
  cholmod_factor *L;             /* owned: symbolic once, numeric per field */
  cholmod_dense *B, *W, *R;      /* (n, k) owned: unit columns, right-hand side, residual */
  cholmod_dense *X, *X2, *Y, *E; /* owned: cholmod_solve2's solutions and workspace */
  double _Complex *hop;          /* (2V) owned: lf_wilson_hop of key, link mu*V + v */
  double _Complex *tr;           /* (2V) owned: tr(D^{-1} dD/dtheta) per link, of key */
  double *corr;                  /* (L0) owned: pion correlator of key */
  double cond;                   /* condensate of key */
  double *key;                   /* (2V) owned: the field the above belong to */
  int have;                      /* HAVE_* bits for key */
  lf_status frc;                 /* the factorization's status for key */
  double logabs;                 /* log|det D| for key */
};

/* CHOLMOD's status after a call as an lf_status (the message names the call). */
static lf_status cholmod_fail(const cholmod_common *c, const char *what) {
  const int st = c->status;
  if (st == CHOLMOD_OUT_OF_MEMORY || st == CHOLMOD_TOO_LARGE)
    return LF_FAIL(LF_ERR_NOMEM, "CHOLMOD %s: out of memory (status %d)", what, st);
  if (st == CHOLMOD_NOT_POSDEF)
    return LF_FAIL(LF_ERR_NUMERIC,
                   "CHOLMOD %s: D^dagger D is not positive definite (D is singular)", what);
  return LF_FAIL(LF_ERR_NUMERIC, "CHOLMOD %s failed (status %d)", what, st);
}

/* Calls f(row, col, value) for every stencil entry of D (not D^dagger), in a fixed order:
 * the diagonal, then per link (mu, v) its 4 forward and 4 backward spin entries. hop NULL:
 * the values are 1 (pattern only). */
#define STENCIL(s, hop, EMIT)                                                                      \
  do {                                                                                             \
    const int V_ = (s)->V;                                                                         \
    for (int i_ = 0; i_ < (s)->n; i_++) EMIT(i_, i_, 1.0);                                         \
    for (int mu_ = 0; mu_ < 2; mu_++) {                                                            \
      double _Complex Pm_[2][2], Pp_[2][2];                                                        \
      lf_wilson_proj(mu_, -1.0, Pm_);                                                              \
      lf_wilson_proj(mu_, +1.0, Pp_);                                                              \
      for (int v_ = 0; v_ < V_; v_++) {                                                            \
        const int y_ = (s)->lat->up[2 * v_ + mu_];                                                 \
        const double _Complex uf_ = (hop) ? (hop)[(size_t)mu_ * V_ + v_] : 1.0;                    \
        const double _Complex ub_ = conj(uf_);                                                     \
        for (int a_ = 0; a_ < 2; a_++)                                                             \
          for (int b_ = 0; b_ < 2; b_++) {                                                         \
            EMIT(2 * v_ + a_, 2 * y_ + b_, (hop) ? uf_ * Pm_[a_][b_] : 1.0);                       \
            EMIT(2 * y_ + a_, 2 * v_ + b_, (hop) ? ub_ * Pp_[a_][b_] : 1.0);                       \
          }                                                                                        \
      }                                                                                            \
    }                                                                                              \
  } while (0)

/* D^dagger's values for the field theta (2, V); also s->hop. */
static void fill(lf_wsparse *s, const double *theta) {
  for (int mu = 0; mu < 2; mu++)
    for (int v = 0; v < s->V; v++)
      s->hop[(size_t)mu * s->V + v] =
          lf_wilson_hop(s->lat, s->kappa, s->antiperiodic, theta, v, mu);
  double _Complex *x = s->Dh->x;
  memset(x, 0, s->Dh->nzmax * sizeof *x);
  int t = 0;
  const int *pos = s->pos;
  /* D^dagger(col, row) += conj(D(row, col)) */
#define ADD(r, c, val) ((void)(r), (void)(c), x[pos[t++]] += conj(val))
  STENCIL(s, s->hop, ADD);
#undef ADD
}

/* log det M / 2 from the diagonal of L (supernodal or simplicial LL^dagger, or LDL^dagger). */
static double half_logdet(const cholmod_factor *L) {
  const double *x = L->x; /* complex: (re, im) pairs */
  double s = 0.0;
  if (L->is_super) {
    const int *super = L->super, *pi = L->pi, *px = L->px;
    for (size_t k = 0; k < L->nsuper; k++) {
      const int k1 = super[k], k2 = super[k + 1], nsrow = pi[k + 1] - pi[k];
      for (int j = 0; j < k2 - k1; j++) s += log(x[2 * ((size_t)px[k] + j + (size_t)j * nsrow)]);
    }
    return s;
  }
  const int *p = L->p;
  for (size_t j = 0; j < L->n; j++) s += log(x[2 * (size_t)p[j]]);
  return L->is_ll ? s : 0.5 * s;
}

lf_status lf_wsparse_init(lf_wsparse **out, const lf_lattice *lat, double kappa, int antiperiodic) {
  lf_status rc = LF_OK;
  *out = NULL;
  lf_wsparse *s = lf_alloc(sizeof *s);
  if (!s) return LF_FAIL(LF_ERR_NOMEM, "sparse Dirac workspace");
  memset(s, 0, sizeof *s);
  s->lat = lat;
  s->kappa = kappa;
  s->antiperiodic = antiperiodic;
  s->V = lat->V;
  s->n = 2 * lat->V;
  s->k = s->n < LF_WSPARSE_BLOCK ? s->n : LF_WSPARSE_BLOCK;
  s->ntrip = s->n + 16 * s->V;
  cholmod_common *c = &s->c;
  cholmod_start(c);
  s->started = 1;
  c->print = 0; /* never print; status codes only */
  c->error_handler = NULL;
  c->supernodal = CHOLMOD_SUPERNODAL;
  const size_t n = (size_t)s->n, k = (size_t)s->k;
  s->pos = lf_alloc((size_t)s->ntrip * sizeof *s->pos);
  s->hop = lf_alloc(n * sizeof *s->hop);
  s->tr = lf_alloc(n * sizeof *s->tr);
  s->corr = lf_alloc((size_t)lat->L[0] * sizeof *s->corr);
  s->key = lf_alloc(n * sizeof *s->key);
  if (!s->pos || !s->hop || !s->tr || !s->corr || !s->key) {
    rc = LF_FAIL(LF_ERR_NOMEM, "sparse Dirac workspace, n = %zu", n);
    goto fail;
  }
  /* the pattern of D^dagger: entry (col, row) of D's stencil */
  cholmod_triplet *T = cholmod_allocate_triplet(n, n, (size_t)s->ntrip, 0, CHOLMOD_COMPLEX, c);
  if (!T) {
    rc = cholmod_fail(c, "allocate_triplet");
    goto fail;
  }
  {
    int *ti = T->i, *tj = T->j, t = 0;
    double *tx = T->x;
#define PUT(r, cc, val)                                                                            \
  do {                                                                                             \
    ti[t] = (cc);                                                                                  \
    tj[t] = (r);                                                                                   \
    tx[2 * t] = creal(val);                                                                        \
    tx[2 * t + 1] = 0.0;                                                                           \
    t++;                                                                                           \
  } while (0)
    STENCIL(s, (const double _Complex *)NULL, PUT);
#undef PUT
    T->nnz = (size_t)t;
  }
  s->Dh = cholmod_triplet_to_sparse(T, 0, c);
  if (!s->Dh) {
    rc = cholmod_fail(c, "triplet_to_sparse");
    cholmod_free_triplet(&T, c);
    goto fail;
  }
  /* where each stencil entry lands in Dh (duplicates share a position) */
  {
    const int *ti = T->i, *tj = T->j, *Dp = s->Dh->p, *Di = s->Dh->i;
    for (int t = 0; t < s->ntrip; t++) {
      int q = Dp[tj[t]];
      while (q < Dp[tj[t] + 1] && Di[q] != ti[t]) q++;
      s->pos[t] = q;
    }
  }
  cholmod_free_triplet(&T, c);
  s->L = cholmod_analyze(s->Dh, c);
  if (!s->L || c->status < CHOLMOD_OK) {
    rc = cholmod_fail(c, "analyze");
    goto fail;
  }
  s->B = cholmod_zeros(n, k, CHOLMOD_COMPLEX, c);
  s->W = cholmod_zeros(n, k, CHOLMOD_COMPLEX, c);
  s->R = cholmod_zeros(n, k, CHOLMOD_COMPLEX, c);
  if (!s->B || !s->W || !s->R) {
    rc = cholmod_fail(c, "allocate_dense");
    goto fail;
  }
  *out = s;
  return LF_OK;
fail:
  lf_wsparse_free(s);
  return rc;
}

void lf_wsparse_free(lf_wsparse *s) {
  if (!s) return;
  if (s->started) {
    cholmod_common *c = &s->c;
    cholmod_free_sparse(&s->Dh, c);
    cholmod_free_factor(&s->L, c);
    cholmod_free_dense(&s->B, c);
    cholmod_free_dense(&s->W, c);
    cholmod_free_dense(&s->R, c);
    cholmod_free_dense(&s->X, c);
    cholmod_free_dense(&s->X2, c);
    cholmod_free_dense(&s->Y, c);
    cholmod_free_dense(&s->E, c);
    cholmod_finish(c);
  }
  LF_FREE_ALL(s->pos, s->hop, s->tr, s->corr, s->key, s);
}

double lf_wsparse_factor_entries(const lf_wsparse *s) {
  return s->c.lnz;
}

/* Factors M for theta unless the held factors are theta's; the factorization's status. */
static lf_status factor(lf_wsparse *s, const double *theta) {
  const size_t nk = (size_t)s->n;
  if ((s->have & HAVE_FACT) && memcmp(s->key, theta, nk * sizeof *theta) == 0) return s->frc;
  s->have = 0;
  fill(s, theta);
  cholmod_common *c = &s->c;
  const int ok = cholmod_factorize(s->Dh, s->L, c);
  if (ok && (c->status == CHOLMOD_OK || c->status == CHOLMOD_DSMALL)) {
    s->logabs = half_logdet(s->L);
    s->frc = isfinite(s->logabs)
                 ? LF_OK
                 : LF_FAIL(LF_ERR_NUMERIC, "the Cholesky factor of D^dagger D is not finite");
    if (s->frc != LF_OK) s->logabs = NAN;
  } else {
    s->frc = cholmod_fail(c, "factorize");
    s->logabs = c->status == CHOLMOD_NOT_POSDEF ? -INFINITY : NAN;
  }
  memcpy(s->key, theta, nk * sizeof *theta);
  s->have = HAVE_FACT;
  return s->frc;
}

/* X = D^{-1} (columns j0 .. j0+k-1 of the unit matrix; columns past n are zero), with one
 * step of refinement. Returns 0 if CHOLMOD failed. Needs the factors. */
static int solve_block(lf_wsparse *s, int j0) {
  cholmod_common *c = &s->c;
  double one[2] = {1.0, 0.0}, mone[2] = {-1.0, 0.0}, zero[2] = {0.0, 0.0};
  const size_t n = (size_t)s->n, d = s->B->d;
  double _Complex *b = s->B->x;
  memset(b, 0, d * (size_t)s->k * sizeof *b);
  for (int q = 0; q < s->k && j0 + q < s->n; q++) b[(size_t)(j0 + q) + d * (size_t)q] = 1.0;
  /* X = M^{-1} D^dagger B */
  if (!cholmod_sdmult(s->Dh, 0, one, zero, s->B, s->W, c)) return 0;
  if (!cholmod_solve2(CHOLMOD_A, s->L, s->W, NULL, &s->X, NULL, &s->Y, &s->E, c)) return 0;
  /* R = B - D X, X += M^{-1} D^dagger R */
  memcpy(s->R->x, b, d * (size_t)s->k * sizeof *b);
  if (!cholmod_sdmult(s->Dh, 1, mone, one, s->X, s->R, c)) return 0;
  if (!cholmod_sdmult(s->Dh, 0, one, zero, s->R, s->W, c)) return 0;
  if (!cholmod_solve2(CHOLMOD_A, s->L, s->W, NULL, &s->X2, NULL, &s->Y, &s->E, c)) return 0;
  double _Complex *x = s->X->x;
  const double _Complex *x2 = s->X2->x;
  const size_t dx = s->X->d, dx2 = s->X2->d;
  for (size_t q = 0; q < (size_t)s->k; q++)
    for (size_t i = 0; i < n; i++) x[i + dx * q] += x2[i + dx2 * q];
  return 1;
}

lf_status lf_wsparse_logdet(lf_wsparse *s, const double *theta, double *logabs) {
  const lf_status rc = factor(s, theta);
  *logabs = s->logabs;
  return rc;
}

/* tr(D^{-1} dD/dtheta) per link (wilson.c's schwinger_grad, column by column): column
 * (w, sp) of D^{-1} meets the forward hop of the link (w, mu) in rows w+mu and the backward
 * hop of the link (w-mu, mu) in rows w-mu. */
static int traces(lf_wsparse *s) {
  const int V = s->V;
  memset(s->tr, 0, (size_t)s->n * sizeof *s->tr);
  double _Complex Pm[2][2][2], Pp[2][2][2];
  for (int mu = 0; mu < 2; mu++) {
    lf_wilson_proj(mu, -1.0, Pm[mu]);
    lf_wilson_proj(mu, +1.0, Pp[mu]);
  }
  for (int j0 = 0; j0 < s->n; j0 += s->k) {
    if (!solve_block(s, j0)) return 0;
    const double _Complex *X = s->X->x;
    const size_t d = s->X->d;
    for (int q = 0; q < s->k && j0 + q < s->n; q++) {
      const int col = j0 + q, w = col / 2, sp = col % 2;
      const double _Complex *x = X + d * (size_t)q;
      for (int mu = 0; mu < 2; mu++) {
        const int y = s->lat->up[2 * w + mu], v = s->lat->dn[2 * w + mu];
        const double _Complex uf = s->hop[(size_t)mu * V + w];
        const double _Complex ub = conj(s->hop[(size_t)mu * V + v]);
        s->tr[(size_t)mu * V + w] +=
            I * uf * (Pm[mu][sp][0] * x[2 * y] + Pm[mu][sp][1] * x[2 * y + 1]);
        s->tr[(size_t)mu * V + v] -=
            I * ub * (Pp[mu][sp][0] * x[2 * v] + Pp[mu][sp][1] * x[2 * v + 1]);
      }
    }
  }
  return 1;
}

int lf_wsparse_force(lf_wsparse *s, const double *theta, double *g) {
  if (factor(s, theta) != LF_OK) return 0;
  if (!(s->have & HAVE_TRACE)) {
    if (!traces(s)) return 0;
    s->have |= HAVE_TRACE;
  }
  for (int i = 0; i < s->n; i++) g[i] += -2.0 * creal(s->tr[i]);
  return 1;
}

/* The condensate and the correlator (wilson.c's definitions), column by column. */
static int propagator_obs(lf_wsparse *s) {
  const int L0 = s->lat->L[0], L1 = s->lat->L[1];
  double tr = 0.0;
  for (int t = 0; t < L0; t++) s->corr[t] = 0.0;
  for (int j0 = 0; j0 < s->n; j0 += s->k) {
    if (!solve_block(s, j0)) return 0;
    const double _Complex *X = s->X->x;
    const size_t d = s->X->d;
    for (int q = 0; q < s->k && j0 + q < s->n; q++) {
      const int col = j0 + q, y0 = (col / 2) / L1;
      const double _Complex *x = X + d * (size_t)q;
      tr += creal(x[col]);
      for (int x0 = 0; x0 < L0; x0++) {
        double sum = 0.0;
        for (size_t i = 2 * (size_t)x0 * L1; i < 2 * (size_t)(x0 + 1) * L1; i++) {
          const double re = creal(x[i]), im = cimag(x[i]);
          sum += re * re + im * im;
        }
        s->corr[(x0 - y0 + L0) % L0] += sum;
      }
    }
  }
  s->cond = tr / (double)s->V;
  const double invV = 1.0 / (double)s->V;
  for (int t = 0; t < L0; t++) s->corr[t] *= invV;
  return 1;
}

int lf_wsparse_obs(lf_wsparse *s, const double *theta, double *cond, double *corr) {
  if (factor(s, theta) != LF_OK) return 0;
  if (!(s->have & HAVE_OBS)) {
    if (!propagator_obs(s)) return 0;
    s->have |= HAVE_OBS;
  }
  if (cond) *cond = s->cond;
  if (corr) memcpy(corr, s->corr, (size_t)s->lat->L[0] * sizeof *corr);
  return 1;
}

lf_status lf_wsparse_inverse(lf_wsparse *s, const double *theta, double _Complex *Dinv) {
  const lf_status rc = factor(s, theta);
  if (rc != LF_OK) return rc;
  const size_t n = (size_t)s->n;
  for (int j0 = 0; j0 < s->n; j0 += s->k) {
    if (!solve_block(s, j0)) return cholmod_fail(&s->c, "solve");
    const double _Complex *X = s->X->x;
    const size_t d = s->X->d;
    for (int q = 0; q < s->k && j0 + q < s->n; q++)
      memcpy(Dinv + n * (size_t)(j0 + q), X + d * (size_t)q, n * sizeof *Dinv);
  }
  return LF_OK;
}
