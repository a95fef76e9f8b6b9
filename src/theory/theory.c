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
