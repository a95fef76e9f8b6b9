/* latflow/config_theory.h: the theory section of the run card (lf_theory_cfg), part of
 * lf_config (latflow/config.h; keys and ranges in docs/CONFIG.md). Types only, plus the
 * theories' names, which the theory module owns (src/theory/theory.c) and the config
 * parses theory.name with. */
#ifndef LATFLOW_CONFIG_THEORY_H
#define LATFLOW_CONFIG_THEORY_H

#include "latflow/config_limits.h"

typedef enum lf_theory_kind {
  LF_THEORY_PHI4 = 0,
  LF_THEORY_U1 = 1,
  LF_THEORY_SCHWINGER = 2
} lf_theory_kind;

/* theory.logdet: how the schwinger theory evaluates its fermion determinant and the
 * force (src/theory/wilson.c): auto resolves by the lattice (lf_theory_cfg_logdet,
 * latflow/theory.h), dense factors D with LAPACK, sparse factors D^dagger D with CHOLMOD.
 * The same physics either way; the bits differ, so resume compares the resolved method. */
typedef enum lf_logdet_kind {
  LF_LOGDET_AUTO = 0,
  LF_LOGDET_DENSE = 1,
  LF_LOGDET_SPARSE = 2
} lf_logdet_kind;

typedef struct lf_theory_cfg {
  lf_theory_kind name;          /* theory.name: phi4 | u1 | schwinger            */
  int shape[2];                 /* theory.shape: [L0, L1], each >= 2 and even      */
  double m2, lambda;            /* phi4: theory.m2 (any real), theory.lambda >= 0  */
  double beta, kappa;           /* u1/schwinger: beta > 0 (default 2.0), kappa > 0 (0.263) */
  char fermion_bc[LF_NAME_MAX]; /* schwinger: periodic | antiperiodic (default antiperiodic) */
  lf_logdet_kind logdet;        /* schwinger: theory.logdet auto | dense | sparse (default auto) */
} lf_theory_cfg;

/* The theories' names indexed by lf_theory_kind, NULL-terminated (theory.name's values). */
extern const char *const lf_theory_names[];
/* The name of theory k, for logs and files ("unknown" outside the enum). */
const char *lf_theory_name(lf_theory_kind k);

#endif
