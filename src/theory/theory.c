/* The theory interface: construction by name and observable lookup (contract:
 * latflow/theory.h). Each theory lives in its own file; this one only dispatches. */
#include "latflow/theory.h"

#include "theory/theory_impl.h"

#include <stdio.h>
#include <string.h>

lf_status lf_theory_init(lf_theory *t, const lf_theory_cfg *cfg) {
  memset(t, 0, sizeof *t);
  switch (cfg->name) {
  case LF_THEORY_PHI4: {
    const lf_status rc = lf_phi4_init(t, cfg);
    if (rc != LF_OK) lf_theory_free(t);
    return rc;
  }
  case LF_THEORY_U1: {
    const lf_status rc = lf_u1_init(t, cfg);
    if (rc != LF_OK) lf_theory_free(t);
    return rc;
  }
  case LF_THEORY_SCHWINGER: {
    const lf_status rc = lf_schwinger_init(t, cfg);
    if (rc != LF_OK) lf_theory_free(t);
    return rc;
  }
  }
  return LF_FAIL(LF_ERR_CONFIG, "unknown theory kind %d", (int)cfg->name);
}

void lf_theory_free(lf_theory *t) {
  if (!t) return;
  /* phi^4 and u1 own only their lattice; schwinger also owns its workspace. */
  if (t->kind == LF_THEORY_SCHWINGER) lf_schwinger_free_impl(t->impl);
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

void lf_theory_describe(const lf_theory_cfg *cfg, char *buf, size_t n) {
  if (!buf || n == 0) return;
  const int L0 = cfg->shape[0], L1 = cfg->shape[1];
  switch (cfg->name) {
  case LF_THEORY_PHI4:
    snprintf(buf, n, "phi4 %dx%d, m2 = %g, lambda = %g", L0, L1, cfg->m2, cfg->lambda);
    return;
  case LF_THEORY_U1:
    snprintf(buf, n, "u1 %dx%d, beta = %g", L0, L1, cfg->beta);
    return;
  case LF_THEORY_SCHWINGER:
    snprintf(buf, n, "schwinger %dx%d, beta = %g, kappa = %g, %s", L0, L1, cfg->beta, cfg->kappa,
             cfg->fermion_bc);
    return;
  }
  snprintf(buf, n, "theory %d %dx%d", (int)cfg->name, L0, L1);
}
