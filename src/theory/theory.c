/* The theory interface: construction by name and observable lookup (contract:
 * latflow/theory.h). Each theory lives in its own file; this one only dispatches. */
#include "latflow/theory.h"

#include "theory/theory_impl.h"

#include <string.h>

lf_status lf_theory_init(lf_theory *t, const lf_theory_cfg *cfg) {
  memset(t, 0, sizeof *t);
  switch (cfg->name) {
  case LF_THEORY_PHI4: {
    const lf_status rc = lf_phi4_init(t, cfg);
    if (rc != LF_OK) lf_theory_free(t);
    return rc;
  }
  case LF_THEORY_U1:
    return LF_FAIL(LF_ERR_CONFIG, "theory 'u1' is not implemented yet");
  case LF_THEORY_SCHWINGER:
    return LF_FAIL(LF_ERR_CONFIG, "theory 'schwinger' is not implemented yet");
  }
  return LF_FAIL(LF_ERR_CONFIG, "unknown theory kind %d", (int)cfg->name);
}

void lf_theory_free(lf_theory *t) {
  if (!t) return;
  /* phi^4 owns only its lattice; theories with an impl will free it here by kind. */
  lf_lattice_free(&t->lat);
  memset(t, 0, sizeof *t);
}

int lf_theory_obs_index(const lf_theory *t, const char *name) {
  for (int i = 0; i < t->nobs; i++)
    if (t->obs_names[i] && strcmp(t->obs_names[i], name) == 0) return i;
  return -1;
}
