/* The theory interface: construction by name, observable selection and lookup, and the
 * facts of a configuration (description, same physics, fermions, sizes), all answered
 * from the theories' tables (contract: latflow/theory.h). Each theory lives in its own
 * file with its lf_theory_ops (src/theory/theory_impl.h); this one only dispatches. */
#include "latflow/theory.h"

#include "theory/theory_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The theories, indexed by lf_theory_kind: the only place that lists them. */
static const lf_theory_ops *const theories[] = {
    [LF_THEORY_PHI4] = &lf_phi4_ops,
    [LF_THEORY_U1] = &lf_u1_ops,
    [LF_THEORY_SCHWINGER] = &lf_schwinger_ops,
};

const char *const lf_theory_names[] = {
    [LF_THEORY_PHI4] = "phi4",
    [LF_THEORY_U1] = "u1",
    [LF_THEORY_SCHWINGER] = "schwinger",
    [LF_THEORY_SCHWINGER + 1] = NULL,
};

const char *lf_theory_name(lf_theory_kind k) {
  const int n = (int)(sizeof theories / sizeof theories[0]);
  return (int)k >= 0 && (int)k < n ? lf_theory_names[k] : "unknown";
}

/* The facts of kind k, or NULL outside the enum. */
static const lf_theory_ops *ops_of(lf_theory_kind k) {
  const int n = (int)(sizeof theories / sizeof theories[0]);
  return (int)k >= 0 && (int)k < n ? theories[k] : NULL;
}

lf_status lf_theory_init(lf_theory *t, const lf_theory_cfg *cfg) {
  memset(t, 0, sizeof *t);
  const lf_theory_ops *ops = ops_of(cfg->name);
  if (!ops) return LF_FAIL(LF_ERR_CONFIG, "unknown theory kind %d", (int)cfg->name);
  /* what the configuration alone decides, the same for every theory */
  t->kind = cfg->name;
  t->name = lf_theory_name(cfg->name);
  t->C = ops->C;
  while (ops->obs[t->nobs]) {
    t->obs_names[t->nobs] = ops->obs[t->nobs];
    t->nobs++;
  }
  t->ncorr = lf_theory_cfg_ncorr(cfg);
  const lf_status rc = ops->init(t, cfg);
  if (rc != LF_OK) lf_theory_free(t);
  return rc;
}

void lf_theory_free(lf_theory *t) {
  if (!t) return;
  /* every theory owns its lattice; some (schwinger) also a workspace in impl */
  const lf_theory_ops *ops = ops_of(t->kind);
  if (ops && ops->free_impl) ops->free_impl(t->impl);
  t->impl = NULL;
  lf_lattice_free(&t->lat);
  memset(t, 0, sizeof *t);
}

/* observables() of a selection: the full list into a local array, then the picks. */
static void picked_observables(const lf_theory *t, const double *phi, double *out) {
  double all[LF_MAX_OBS];
  t->observables_all(t, phi, all);
  for (int k = 0; k < t->nobs; k++) out[k] = all[t->obs_pick[k]];
}

lf_status lf_theory_select_obs(lf_theory *t, const lf_config *cfg) {
  if (!t || !cfg || !t->observables)
    return LF_FAIL(LF_ERR_INVALID, "lf_theory_select_obs: NULL theory or config");
  const int n = cfg->nobs;
  const char(*names)[LF_NAME_MAX] = cfg->observables;
  if (!t->observables_all) { /* first selection: keep the theory's own list */
    t->nobs_all = t->nobs;
    for (int i = 0; i < t->nobs; i++) t->names_all[i] = t->obs_names[i];
    t->observables_all = t->observables;
  }
  if (n < 1 || n > LF_MAX_OBS)
    return LF_FAIL(LF_ERR_CONFIG,
                   "observables: %d entries; sample and hmc store 1 to %d observables per state", n,
                   LF_MAX_OBS);
  int pick[LF_MAX_OBS], identity = n == t->nobs_all;
  for (int k = 0; k < n; k++) {
    pick[k] = -1;
    for (int i = 0; i < t->nobs_all && pick[k] < 0; i++)
      if (strncmp(t->names_all[i], names[k], LF_NAME_MAX) == 0) pick[k] = i;
    if (pick[k] < 0) {
      char valid[LF_MAX_OBS * (LF_NAME_MAX + 2)] = "";
      size_t len = 0;
      for (int i = 0; i < t->nobs_all && len < sizeof valid; i++)
        len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "",
                                t->names_all[i]);
      return LF_FAIL(LF_ERR_CONFIG,
                     "observables: '%.*s' is not an observable of theory %s (valid: %s)",
                     LF_NAME_MAX, names[k], t->name, valid);
    }
    identity &= pick[k] == k;
  }
  t->nobs = n;
  for (int k = 0; k < n; k++) {
    t->obs_pick[k] = pick[k];
    t->obs_names[k] = t->names_all[pick[k]];
  }
  for (int k = n; k < LF_MAX_OBS; k++) t->obs_names[k] = NULL;
  /* the full list in its order: the theory's own function, as without a selection */
  t->observables = identity ? t->observables_all : picked_observables;
  return LF_OK;
}

int lf_theory_obs_index(const lf_theory *t, const char *name) {
  for (int i = 0; i < t->nobs; i++)
    if (t->obs_names[i] && strcmp(t->obs_names[i], name) == 0) return i;
  return -1;
}

/* ---- facts of a configuration ------------------------------------------------------ */

const char *const *lf_theory_obs_names(lf_theory_kind k) {
  const lf_theory_ops *ops = ops_of(k);
  return ops ? ops->obs : NULL;
}

int lf_theory_cfg_comps(const lf_theory_cfg *cfg) {
  const lf_theory_ops *ops = ops_of(cfg->name);
  return ops ? ops->C : 0;
}

int lf_theory_cfg_ncorr(const lf_theory_cfg *cfg) {
  const lf_theory_ops *ops = ops_of(cfg->name);
  const int L0 = cfg->shape[0];
  return ops && ops->corr && L0 <= LF_THEORY_MAX_CORR ? L0 : 0;
}

int lf_theory_cfg_fermions(const lf_theory_cfg *cfg) {
  const lf_theory_ops *ops = ops_of(cfg->name);
  return ops ? ops->fermions : 0;
}

int lf_theory_cfg_pseudofermions(const lf_theory_cfg *cfg, const lf_hmc_cfg *hmc) {
  return lf_theory_cfg_fermions(cfg) && hmc->fermion == LF_FERMION_PSEUDO;
}

const char *lf_theory_cfg_fermion_name(const lf_theory_cfg *cfg, const lf_hmc_cfg *hmc) {
  if (!lf_theory_cfg_fermions(cfg)) return "none";
  return lf_theory_cfg_pseudofermions(cfg, hmc) ? "pseudofermion" : "exact";
}

lf_logdet_kind lf_theory_cfg_logdet(const lf_theory_cfg *cfg) {
  if (!lf_theory_cfg_fermions(cfg)) return LF_LOGDET_DENSE;
  if (cfg->logdet == LF_LOGDET_DENSE || cfg->logdet == LF_LOGDET_SPARSE) return cfg->logdet;
  const double V = (double)cfg->shape[0] * (double)cfg->shape[1];
  return V < LF_LOGDET_AUTO_SPARSE_V ? LF_LOGDET_DENSE : LF_LOGDET_SPARSE;
}

const char *lf_logdet_name(lf_logdet_kind k) {
  static const char *const names[] = {"auto", "dense", "sparse"};
  return (int)k >= 0 && (int)k < 3 ? names[k] : "unknown";
}

void lf_theory_describe_hmc(const lf_theory_cfg *cfg, const lf_hmc_cfg *hmc, char *buf, size_t n) {
  if (!buf || n == 0) return;
  buf[0] = '\0';
  if (lf_theory_cfg_pseudofermions(cfg, hmc))
    snprintf(buf, n, ", pseudofermion (CG tol %g, max %d)", hmc->cg_tol, hmc->cg_maxiter);
  else if (lf_theory_cfg_fermions(cfg))
    snprintf(buf, n, ", exact determinant");
}

void lf_theory_hmc_unused(const lf_theory_cfg *cfg, lf_hmc_cfg *a, const lf_hmc_cfg *b) {
  if (!lf_theory_cfg_fermions(cfg)) a->fermion = b->fermion;
  if (!lf_theory_cfg_pseudofermions(cfg, a) || !lf_theory_cfg_pseudofermions(cfg, b)) {
    a->cg_tol = b->cg_tol;
    a->cg_maxiter = b->cg_maxiter;
  }
}

/* A coupling of cfg: the double at c->off, or (names) the string there. */
static double coupling_value(const lf_theory_cfg *cfg, const lf_theory_coupling *c) {
  double v;
  memcpy(&v, (const char *)cfg + c->off, sizeof v);
  return v;
}
static const char *coupling_name(const lf_theory_cfg *cfg, const lf_theory_coupling *c) {
  return (const char *)cfg + c->off;
}

int lf_theory_cfg_coupling(const lf_theory_cfg *cfg, int i, const char **key, double *value,
                           const char **text) {
  const lf_theory_ops *ops = ops_of(cfg->name);
  if (!ops || i < 0 || i >= ops->ncouplings) return 0;
  const lf_theory_coupling *c = &ops->coupling[i];
  *key = c->key;
  *value = c->is_name ? 0.0 : coupling_value(cfg, c);
  *text = c->is_name ? coupling_name(cfg, c) : NULL;
  return 1;
}

void lf_theory_describe(const lf_theory_cfg *cfg, char *buf, size_t n) {
  if (!buf || n == 0) return;
  const int L0 = cfg->shape[0], L1 = cfg->shape[1];
  const lf_theory_ops *ops = ops_of(cfg->name);
  if (!ops) {
    snprintf(buf, n, "theory %d %dx%d", (int)cfg->name, L0, L1);
    return;
  }
  /* "<name> <L0>x<L1>", then ", beta = 2" per coupling (", antiperiodic" for a name) */
  size_t len = (size_t)snprintf(buf, n, "%s %dx%d", lf_theory_name(cfg->name), L0, L1);
  for (int i = 0; i < ops->ncouplings && len < n; i++) {
    const lf_theory_coupling *c = &ops->coupling[i];
    const char *field = strchr(c->key, '.') + 1;
    if (c->is_name)
      len += (size_t)snprintf(buf + len, n - len, ", %s", coupling_name(cfg, c));
    else
      len += (size_t)snprintf(buf + len, n - len, ", %s = %g", field, coupling_value(cfg, c));
  }
  if (ops->fermions && len < n)
    snprintf(buf + len, n - len, ", logdet %s", lf_logdet_name(lf_theory_cfg_logdet(cfg)));
}

/* Shortest "%.15g" or "%.17g" form that reads back as v. */
static void fmt_double(char *buf, size_t n, double v) {
  snprintf(buf, n, "%.15g", v);
  if (strtod(buf, NULL) != v) snprintf(buf, n, "%.17g", v);
}

int lf_theory_cfg_same_physics(const lf_theory_cfg *a, const lf_theory_cfg *b, lf_theory_diff *d) {
  lf_theory_diff tmp;
  if (!d) d = &tmp;
  memset(d, 0, sizeof *d);
  if (a->name != b->name) {
    snprintf(d->key, sizeof d->key, "theory.name");
    snprintf(d->a, sizeof d->a, "%s", lf_theory_name(a->name));
    snprintf(d->b, sizeof d->b, "%s", lf_theory_name(b->name));
    return 0;
  }
  if (a->shape[0] != b->shape[0] || a->shape[1] != b->shape[1]) {
    snprintf(d->key, sizeof d->key, "theory.shape");
    snprintf(d->a, sizeof d->a, "[%d, %d]", a->shape[0], a->shape[1]);
    snprintf(d->b, sizeof d->b, "[%d, %d]", b->shape[0], b->shape[1]);
    return 0;
  }
  const lf_theory_ops *ops = ops_of(a->name);
  for (int i = 0; ops && i < ops->ncouplings; i++) {
    const lf_theory_coupling *c = &ops->coupling[i];
    if (c->is_name) {
      const char *x = coupling_name(a, c), *y = coupling_name(b, c);
      if (strncmp(x, y, LF_NAME_MAX) == 0) continue;
      snprintf(d->a, sizeof d->a, "'%.*s'", (int)sizeof d->a - 3, x);
      snprintf(d->b, sizeof d->b, "'%.*s'", (int)sizeof d->b - 3, y);
    } else {
      const double x = coupling_value(a, c), y = coupling_value(b, c);
      /* bitwise, so that nothing is rounded (and -0 is not 0) */
      if (memcmp(&x, &y, sizeof x) == 0) continue;
      fmt_double(d->a, sizeof d->a, x);
      fmt_double(d->b, sizeof d->b, y);
    }
    snprintf(d->key, sizeof d->key, "%s", c->key);
    return 0;
  }
  return 1;
}
