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
 * The force and the condensate: the selected inversion (selinv below) of M on the pattern
 * of its factor, and a gather of the D^{-1} entries they need; ill-conditioned fields
 * (check_conditioning) take the accurate path: the dense LU's log det, the column solves.
 * The correlator (all of D^{-1}): X = D^{-1} B for blocks B of LF_WSPARSE_BLOCK unit columns,
 * X = M^{-1} D^dagger B with one step of iterative refinement against D (R = B - D X,
 * X += M^{-1} D^dagger R): the solve through M has the error of cond(M) = cond(D)^2,
 * the refined one that of cond(D), as the dense inverse. */
#include "latflow/timer.h"

#include "theory/wilson_impl.h"

#include "latflow/u1.h"

#include <cholmod.h>
#include <float.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <omp.h>
#include <string.h>

void zgetrf_(const int *m, const int *n, double _Complex *a, const int *lda, int *ipiv, int *info);
void zgemv_(const char *trans, const int *m, const int *n, const double _Complex *alpha,
            const double _Complex *a, const int *lda, const double _Complex *x, const int *incx,
            const double _Complex *beta, double _Complex *y, const int *incy);

enum { HAVE_FACT = 1, HAVE_TRACE = 2, HAVE_OBS = 4, HAVE_DV = 8 };
/* D^{-1} entries needed per column b = 2w + sp of D: rows a of the sites w+mu (4 mu + 2 b2:
 * index 4 mu + b2), w-mu (4 mu + 2 + b2), and the diagonal (8). */
enum { NEED = 9 };
/* The dense LU fallback of the log det up to this n = 2V (the dense method's limit). */
#define DENSE_FALLBACK_N 8192

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
  /* selected inversion: Z = M^{-1} on the (permuted) pattern of L, CSC, diagonal first */
  int *zp, *zi;         /* (n + 1), (nz) owned: columns of L's supernodal pattern */
  int *pinv;            /* (n) owned: factor row of the original index */
  int *map;             /* (n) owned: scratch, -1 */
  double _Complex *Z;   /* (nz) owned: M^{-1} entries of key */
  double _Complex *acc; /* (n) owned: scratch */
  int *toff, *zref;     /* (9n + 1), (terms) owned: gather of the needed D^{-1} entries */
  double _Complex *dv;  /* (9n) owned: the needed D^{-1} entries of key */
  /* conditioning check (inverse iteration) and the accurate fallback */
  cholmod_dense *v, *Xv, *Yv, *Ev; /* (n, 1) owned */
  int ill;                         /* key is ill-conditioned: the accurate path */
  double condsq;                   /* estimate of cond(D)^2 for key */
  double normsq;                   /* ||D||_1 ||D||_inf >= ||D||_2^2 for key */
  double cond_z;                   /* condensate of key from Z */
  double _Complex *lt;             /* (n) owned: scratch */
  double _Complex *F;              /* (max supernode rows ^2) owned: dense block of Z */
  lf_wsparse_stats st;
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
  /* ||D||_1 = max row sum of |D^dagger|, ||D||_inf = max column sum */
  double *rs = (double *)s->acc, n1 = 0.0, ninf = 0.0; /* acc has >= n doubles of room */
  for (int i = 0; i < s->n; i++) rs[i] = 0.0;
  const int *Dp = s->Dh->p, *Di = s->Dh->i;
  for (int j = 0; j < s->n; j++) {
    double cs = 0.0;
    for (int q = Dp[j]; q < Dp[j + 1]; q++) {
      cs += cabs(x[q]);
      rs[Di[q]] += cabs(x[q]);
    }
    ninf = fmax(ninf, cs);
  }
  for (int i = 0; i < s->n; i++) n1 = fmax(n1, rs[i]);
  s->normsq = n1 * ninf;
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

/* The position of M^{-1}(a, c) (original indices) in Z: pos, or ~pos for the conjugate of
 * the stored lower entry; INT_MIN if (a, c) is outside the pattern of L. */
static int zpos(const lf_wsparse *s, int a, int c) {
  int i = s->pinv[a], j = s->pinv[c], cj = 0;
  if (i < j) {
    const int t = i;
    i = j;
    j = t;
    cj = 1;
  }
  for (int e = s->zp[j]; e < s->zp[j + 1]; e++)
    if (s->zi[e] == i) return cj ? ~e : e;
  return INT_MIN;
}

/* The selected inversion's structure from the symbolic supernodal factor: the columns of L
 * (supernode k holds columns k1 .. k2-1; column k1 + jj has the rows s[pi[k] + jj ..] and its
 * values at px[k] + jj (nsrow + 1), column-major), the permutation, and the gather of the
 * needed D^{-1} entries: D^{-1}(a, b) = sum_c M^{-1}(a, c) D^dagger(c, b) over column b of
 * D^dagger. Every M^{-1}(a, c) there has a, c neighbours of b's site (or on it), so M(a, c)
 * is structurally nonzero and in the pattern of L; an entry outside it is refused. */
static lf_status selinv_setup(lf_wsparse *s) {
  const cholmod_factor *L = s->L;
  const int n = s->n;
  if (!L->is_super || L->n != (size_t)n)
    return LF_FAIL(LF_ERR_NUMERIC, "CHOLMOD analyze: no supernodal symbolic factor");
  s->zp = lf_alloc(((size_t)n + 1) * sizeof *s->zp);
  s->pinv = lf_alloc((size_t)n * sizeof *s->pinv);
  s->map = lf_alloc((size_t)n * sizeof *s->map);
  s->acc = lf_alloc((size_t)n * sizeof *s->acc);
  s->lt = lf_alloc((size_t)n * sizeof *s->lt);
  s->toff = lf_alloc(((size_t)NEED * n + 1) * sizeof *s->toff);
  s->dv = lf_alloc((size_t)NEED * n * sizeof *s->dv);
  if (!s->zp || !s->pinv || !s->map || !s->acc || !s->lt || !s->toff || !s->dv)
    return LF_FAIL(LF_ERR_NOMEM, "selected inversion, n = %d", n);
  const int *super = L->super, *pi = L->pi, *Ls = L->s, *perm = L->Perm;
  s->zp[0] = 0;
  for (size_t k = 0; k < L->nsuper; k++) {
    const int k1 = super[k], k2 = super[k + 1], nsrow = pi[k + 1] - pi[k];
    for (int jj = 0; jj < k2 - k1; jj++) s->zp[k1 + jj + 1] = s->zp[k1 + jj] + nsrow - jj;
  }
  size_t maxs = 1;
  for (size_t k = 0; k < L->nsuper; k++)
    if ((size_t)(pi[k + 1] - pi[k]) > maxs) maxs = (size_t)(pi[k + 1] - pi[k]);
  s->F = lf_alloc(maxs * maxs * sizeof *s->F);
  if (!s->F) return LF_FAIL(LF_ERR_NOMEM, "selected inversion, supernode of %zu rows", maxs);
  const size_t nz = (size_t)s->zp[n];
  s->zi = lf_alloc(nz * sizeof *s->zi);
  s->Z = lf_alloc(nz * sizeof *s->Z);
  if (!s->zi || !s->Z) return LF_FAIL(LF_ERR_NOMEM, "selected inversion, %zu entries", nz);
  for (size_t k = 0; k < L->nsuper; k++) {
    const int k1 = super[k], k2 = super[k + 1], nsrow = pi[k + 1] - pi[k];
    for (int jj = 0; jj < k2 - k1; jj++) {
      int *zi = s->zi + s->zp[k1 + jj];
      for (int r = jj; r < nsrow; r++) zi[r - jj] = Ls[pi[k] + r];
      if (zi[0] != k1 + jj)
        return LF_FAIL(LF_ERR_NUMERIC, "CHOLMOD supernode %zu: column %d not first", k, k1 + jj);
    }
  }
  for (int i = 0; i < n; i++) {
    s->pinv[perm[i]] = i;
    s->map[i] = -1;
  }
  const int *Dp = s->Dh->p, *Di = s->Dh->i;
  s->toff[0] = 0;
  for (int b = 0; b < n; b++)
    for (int q = 0; q < NEED; q++)
      s->toff[NEED * b + q + 1] = s->toff[NEED * b + q] + Dp[b + 1] - Dp[b];
  s->zref = lf_alloc((size_t)s->toff[NEED * n] * sizeof *s->zref);
  if (!s->zref) return LF_FAIL(LF_ERR_NOMEM, "selected inversion gather");
  for (int b = 0; b < n; b++) {
    const int w = b / 2;
    int rows[NEED];
    for (int mu = 0; mu < 2; mu++)
      for (int b2 = 0; b2 < 2; b2++) {
        rows[4 * mu + b2] = 2 * s->lat->up[2 * w + mu] + b2;
        rows[4 * mu + 2 + b2] = 2 * s->lat->dn[2 * w + mu] + b2;
      }
    rows[8] = b;
    for (int q = 0; q < NEED; q++)
      for (int t = Dp[b]; t < Dp[b + 1]; t++) {
        const int z = zpos(s, rows[q], Di[t]);
        if (z == INT_MIN)
          return LF_FAIL(LF_ERR_NUMERIC,
                         "selected inversion: M^{-1}(%d, %d) is outside the pattern of L", rows[q],
                         Di[t]);
        s->zref[s->toff[NEED * b + q] + t - Dp[b]] = z;
      }
  }
  return LF_OK;
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
  /* Debian's CHOLMOD 5 runs parts of its supernodal factorization in OpenMP regions with a
   * compiled-in num_threads(4) (CHOLMOD_OMP_NUM_THREADS), which OMP_NUM_THREADS does not
   * override. A rank owns one core: 4 threads per rank only contend (measured at 24x24:
   * 7-9 ms of CPU per factorization with them, 3.3-4.6 ms without). With no active
   * parallel level allowed every region runs on the calling thread; latflow has no
   * OpenMP of its own, so nothing else changes. */
  omp_set_max_active_levels(0);
  cholmod_start(c);
  s->started = 1;
  c->print = 0; /* never print; status codes only */
  c->error_handler = NULL;
  c->supernodal = CHOLMOD_SUPERNODAL;
  /* Analysis runs once per theory, so try three fill-reducing orderings of D^dagger D and
   * keep the one with the smallest factor (CHOLMOD's own choice among them): COLAMD wins
   * on small lattices, nested dissection from about 24x24 (measured factorization flops,
   * 24x24: 1.95e7 COLAMD, 1.96e7 METIS, 1.60e7 NESDIS; 32x32: 4.96e7, 3.28e7, 4.10e7). */
  c->nmethods = 3;
  c->method[0].ordering = CHOLMOD_AMD; /* COLAMD for A A^dagger */
  c->method[1].ordering = CHOLMOD_METIS;
  c->method[2].ordering = CHOLMOD_NESDIS;
  c->postorder = 1;
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
  rc = selinv_setup(s);
  if (rc != LF_OK) goto fail;
  s->B = cholmod_zeros(n, k, CHOLMOD_COMPLEX, c);
  s->W = cholmod_zeros(n, k, CHOLMOD_COMPLEX, c);
  s->R = cholmod_zeros(n, k, CHOLMOD_COMPLEX, c);
  s->v = cholmod_zeros(n, 1, CHOLMOD_COMPLEX, c);
  if (!s->B || !s->W || !s->R || !s->v) {
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
    cholmod_free_dense(&s->v, c);
    cholmod_free_dense(&s->Xv, c);
    cholmod_free_dense(&s->Yv, c);
    cholmod_free_dense(&s->Ev, c);
    cholmod_finish(c);
  }
  LF_FREE_ALL(s->F, s->zp, s->zi, s->pinv, s->map, s->Z, s->acc, s->lt, s->toff, s->zref, s->dv);
  LF_FREE_ALL(s->pos, s->hop, s->tr, s->corr, s->key, s);
}

lf_wsparse_stats lf_wsparse_get_stats(const lf_wsparse *s) {
  return s->st;
}

double lf_wsparse_condsq(const lf_wsparse *s) {
  return s->condsq;
}

double lf_wsparse_factor_entries(const lf_wsparse *s) {
  return s->c.lnz;
}

/* cond(M) = cond(D)^2 estimated: lambda_max(M) <= ||D||_1 ||D||_inf, lambda_min(M) from
 * inverse iteration with the factor (2 solves from a fixed start vector; the iteration
 * converges fast exactly when lambda_min is isolated, i.e. near singularity, and
 * ||M^{-1} x|| / ||x|| <= 1 / lambda_min errs towards a smaller cond). If DBL_EPSILON times the
 * estimate exceeds LF_WSPARSE_ILL the field is ill-conditioned: its log det comes from the
 * dense LU of D (n <= DENSE_FALLBACK_N; above, the Cholesky value is kept), its force and
 * condensate from the refined column solves. */
static lf_status check_conditioning(lf_wsparse *s) {
  cholmod_common *c = &s->c;
  const size_t n = (size_t)s->n;
  double _Complex *v = s->v->x;
  double nv = 0.0;
  for (size_t i = 0; i < n; i++) {
    /* a fixed, structureless start vector */
    const uint64_t h = (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
    v[i] = (double)(h >> 11) * 0x1.0p-53 - 0.5 + I * ((double)((h * 31) >> 11) * 0x1.0p-53 - 0.5);
    nv += creal(v[i] * conj(v[i]));
  }
  double lam = INFINITY;
  for (int it = 0; it < 2; it++) {
    const double inv = 1.0 / sqrt(nv);
    for (size_t i = 0; i < n; i++) v[i] *= inv;
    if (!cholmod_solve2(CHOLMOD_A, s->L, s->v, NULL, &s->Xv, NULL, &s->Yv, &s->Ev, c))
      return cholmod_fail(c, "solve");
    const double _Complex *y = s->Xv->x;
    nv = 0.0;
    for (size_t i = 0; i < n; i++) {
      v[i] = y[i];
      nv += creal(y[i] * conj(y[i]));
    }
    lam = 1.0 / sqrt(nv);
  }
  s->condsq = s->normsq / lam;
  if (!(DBL_EPSILON * s->condsq > LF_WSPARSE_ILL)) return LF_OK;
  s->ill = 1;
  s->st.ill++;
  if (s->n > DENSE_FALLBACK_N) return LF_OK;
  double _Complex *D = lf_alloc(n * n * sizeof *D);
  int *ipiv = lf_alloc(n * sizeof *ipiv);
  if (!D || !ipiv) {
    LF_FREE_ALL(D, ipiv);
    return LF_FAIL(LF_ERR_NOMEM, "dense LU of an ill-conditioned D, n = %zu", n);
  }
  lf_wilson_build(s->lat, s->kappa, s->antiperiodic, s->key, (double *)(void *)D);
  int info = 0;
  zgetrf_(&s->n, &s->n, D, &s->n, ipiv, &info);
  double la = 0.0;
  for (size_t k = 0; k < n; k++) la += log(cabs(D[k + n * k]));
  LF_FREE_ALL(D, ipiv);
  s->st.dense_logdet++;
  if (info > 0) {
    s->logabs = -INFINITY;
    return LF_FAIL(LF_ERR_NUMERIC, "Dirac operator is singular (zgetrf info %d)", info);
  }
  s->logabs = la;
  return LF_OK;
}

/* Z = M^{-1} on the pattern of the factor of P M P^T = L L^dagger (Takahashi's recurrence,
 * with unit-diagonal Lt = L diag(L)^{-1}, Z = Lt^{-dagger} diag(L)^{-2} Lt^{-1}): from the
 * last column back, for the rows i > j of column j, Z(i, j) = -sum_k Z(i, k) Lt(k, j) over the
 * rows k > j of column j, and Z(j, j) = L(j, j)^{-2} - sum_k conj(Lt(k, j)) Z(k, j).
 * Supernode by supernode (columns K, rows S = K + R): the rows R below it are rows of the
 * later columns of R (the pattern of a Cholesky factor is closed that way), so Z(R, R) is
 * gathered once into the dense Hermitian F (S x S); then column j of K is one zgemv with
 * F's trailing block, and fills F's column and row j. The cost is that of the supernodal
 * factorization (sum over supernodes of |K| |S|^2). */
static void selinv(lf_wsparse *s) {
  const cholmod_factor *L = s->L;
  const double _Complex *Lx = L->x;
  const int *super = L->super, *pi = L->pi, *px = L->px, *Ls = L->s;
  const int *zp = s->zp, *zi = s->zi;
  int *map = s->map;
  double _Complex *Z = s->Z, *F = s->F, *lt = s->lt, *z = s->acc;
  const double _Complex mone = -1.0, zero = 0.0;
  const int inc = 1;
  for (long k = (long)L->nsuper - 1; k >= 0; k--) {
    const int k1 = super[k], nc = super[k + 1] - k1, ns = pi[k + 1] - pi[k];
    const int *S = Ls + pi[k];
    const size_t ld = (size_t)ns;
    for (int r = nc; r < ns; r++) map[S[r]] = r;
    for (int b = nc; b < ns; b++) {
      double _Complex *f = F + ld * b;
      for (int a = nc; a < ns; a++) f[a] = 0.0;
    }
    for (int b = nc; b < ns; b++) /* F(R, R) from the columns R of Z */
      for (int e = zp[S[b]]; e < zp[S[b] + 1]; e++) {
        const int a = map[zi[e]];
        if (a < 0) continue;
        F[(size_t)a + ld * b] = Z[e];
        F[(size_t)b + ld * a] = conj(Z[e]);
      }
    for (int jj = nc - 1; jj >= 0; jj--) {
      const double _Complex *l = Lx + (size_t)px[k] + ld * jj;
      const double id = 1.0 / creal(l[jj]);
      const int m = ns - jj - 1;
      double zjj = id * id;
      if (m > 0) {
        for (int r = jj + 1; r < ns; r++) lt[r] = l[r] * id;
        double _Complex *Fb = F + (jj + 1) + ld * (jj + 1);
        const int ldi = ns;
        zgemv_("N", &m, &m, &mone, Fb, &ldi, lt + jj + 1, &inc, &zero, z, &inc);
        for (int r = 0; r < m; r++) {
          zjj -= creal(conj(lt[jj + 1 + r]) * z[r]);
          F[(size_t)(jj + 1 + r) + ld * jj] = z[r];
          F[(size_t)jj + ld * (jj + 1 + r)] = conj(z[r]);
        }
      }
      F[(size_t)jj + ld * jj] = zjj;
      double _Complex *zc = Z + zp[k1 + jj];
      zc[0] = zjj;
      for (int r = 0; r < m; r++) zc[1 + r] = z[r];
    }
    for (int r = nc; r < ns; r++) map[S[r]] = -1;
  }
}

/* The needed D^{-1} entries (s->dv) and the condensate from Z. */
static void gather(lf_wsparse *s) {
  const int *Dp = s->Dh->p, *toff = s->toff, *zref = s->zref;
  const double _Complex *Dx = s->Dh->x, *Z = s->Z;
  double tr = 0.0;
  for (int b = 0; b < s->n; b++)
    for (int q = 0; q < NEED; q++) {
      const int *zr = zref + toff[NEED * b + q];
      double _Complex sum = 0.0;
      for (int t = Dp[b]; t < Dp[b + 1]; t++) {
        const int z = zr[t - Dp[b]];
        sum += (z >= 0 ? Z[z] : conj(Z[~z])) * Dx[t];
      }
      s->dv[NEED * b + q] = sum;
      if (q == 8) tr += creal(sum);
    }
  s->cond_z = tr / (double)s->V;
}

/* Z and the gathered entries for the (factored, well-conditioned) key. */
static void need_dv(lf_wsparse *s) {
  if (s->have & HAVE_DV) return;
  selinv(s);
  gather(s);
  s->st.selinv++;
  s->have |= HAVE_DV;
}

/* tr(D^{-1} dD/dtheta) per link from the gathered entries (traces() below, entry by entry). */
static void traces_dv(lf_wsparse *s) {
  const int V = s->V;
  memset(s->tr, 0, (size_t)s->n * sizeof *s->tr);
  double _Complex Pm[2][2][2], Pp[2][2][2];
  for (int mu = 0; mu < 2; mu++) {
    lf_wilson_proj(mu, -1.0, Pm[mu]);
    lf_wilson_proj(mu, +1.0, Pp[mu]);
  }
  for (int col = 0; col < s->n; col++) {
    const int w = col / 2, sp = col % 2;
    const double _Complex *x = s->dv + NEED * (size_t)col;
    for (int mu = 0; mu < 2; mu++) {
      const int v = s->lat->dn[2 * w + mu];
      const double _Complex uf = s->hop[(size_t)mu * V + w];
      const double _Complex ub = conj(s->hop[(size_t)mu * V + v]);
      s->tr[(size_t)mu * V + w] +=
          I * uf * (Pm[mu][sp][0] * x[4 * mu] + Pm[mu][sp][1] * x[4 * mu + 1]);
      s->tr[(size_t)mu * V + v] -=
          I * ub * (Pp[mu][sp][0] * x[4 * mu + 2] + Pp[mu][sp][1] * x[4 * mu + 3]);
    }
  }
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
  s->ill = 0;
  s->condsq = 0.0;
  s->st.factored++;
  if (s->frc == LF_OK) {
    const lf_status rc = check_conditioning(s);
    if (rc != LF_OK) {
      s->frc = rc;
      s->logabs = NAN;
    }
  }
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
    if (s->ill) {
      if (!traces(s)) return 0;
      s->st.column_solves++;
    } else {
      need_dv(s);
      traces_dv(s);
    }
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
  /* the condensate from Z unless ill-conditioned; the correlator needs all of D^{-1} */
  if (!(s->have & HAVE_OBS) && (corr || s->ill)) {
    if (!propagator_obs(s)) return 0;
    s->st.column_solves++;
    s->have |= HAVE_OBS;
  }
  if (cond) {
    if (!s->ill) need_dv(s);
    *cond = s->ill ? s->cond : s->cond_z;
  }
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
