/* The theory module's facts of a configuration (latflow/theory.h): "same physics" for merge
 * and resume (the key named, values as text, bitwise doubles, unused keys ignored), the
 * facts the memory estimate and the config read (components, correlator length, fermions,
 * observable names) against the theories lf_theory_init builds, the pseudofermion decision
 * of HMC and the descriptions. */
#include "latflow/config.h"
#include "latflow/theory.h"
#include "lftest.h"

#include <string.h>

static lf_theory_cfg theory_cfg(lf_theory_kind k, int L0, int L1) {
  lf_config c;
  lf_config_defaults(&c);
  c.theory.name = k;
  c.theory.shape[0] = L0;
  c.theory.shape[1] = L1;
  c.theory.kappa = 0.276;
  return c.theory;
}

static void check_same_physics(void) {
  lf_theory_cfg a = theory_cfg(LF_THEORY_SCHWINGER, 8, 8), b = a;
  lf_theory_diff d;
  CHECK(lf_theory_cfg_same_physics(&a, &b, &d) == 1 && d.key[0] == '\0',
        "schwinger equal to itself");
  b.kappa = 0.3;
  CHECK(lf_theory_cfg_same_physics(&a, &b, &d) == 0 && strcmp(d.key, "theory.kappa") == 0 &&
            strcmp(d.a, "0.276") == 0 && strcmp(d.b, "0.3") == 0,
        "schwinger: another kappa is other physics, named: %s (%s vs %s)", d.key, d.a, d.b);
  CHECK(lf_theory_cfg_same_physics(&a, &b, NULL) == 0, "the difference found without d");
  b = a;
  b.beta = 2.5;
  b.kappa = 0.3;
  CHECK(lf_theory_cfg_same_physics(&a, &b, &d) == 0 && strcmp(d.key, "theory.beta") == 0,
        "the first coupling in the order of the description: %s", d.key);
  b = a;
  snprintf(b.fermion_bc, sizeof b.fermion_bc, "periodic");
  CHECK(lf_theory_cfg_same_physics(&a, &b, &d) == 0 && strcmp(d.key, "theory.fermion_bc") == 0 &&
            strcmp(d.a, "'antiperiodic'") == 0 && strcmp(d.b, "'periodic'") == 0,
        "schwinger: fermion_bc named, names quoted: %s (%s vs %s)", d.key, d.a, d.b);
  b = a;
  a.logdet = LF_LOGDET_DENSE;
  b.logdet = LF_LOGDET_SPARSE;
  CHECK(lf_theory_cfg_same_physics(&a, &b, &d) == 1,
        "schwinger: theory.logdet dense vs sparse is the same physics (merge combines them)");
  a.logdet = b.logdet = LF_LOGDET_AUTO;
  b.shape[1] = 4;
  CHECK(lf_theory_cfg_same_physics(&a, &b, &d) == 0 && strcmp(d.key, "theory.shape") == 0 &&
            strcmp(d.a, "[8, 8]") == 0 && strcmp(d.b, "[8, 4]") == 0,
        "another shape: %s (%s vs %s)", d.key, d.a, d.b);
  b = a;
  b.name = LF_THEORY_U1;
  CHECK(lf_theory_cfg_same_physics(&a, &b, &d) == 0 && strcmp(d.key, "theory.name") == 0 &&
            strcmp(d.a, "schwinger") == 0 && strcmp(d.b, "u1") == 0,
        "another theory: %s (%s vs %s)", d.key, d.a, d.b);
  /* keys a theory's action does not read never count */
  lf_theory_cfg u = theory_cfg(LF_THEORY_U1, 8, 8), v = u;
  v.kappa = 0.1;
  snprintf(v.fermion_bc, sizeof v.fermion_bc, "periodic");
  v.m2 = 3.0;
  CHECK(lf_theory_cfg_same_physics(&u, &v, &d) == 1, "u1 ignores kappa, fermion_bc and m2");
  v.beta = 2.0000000000000004;
  CHECK(lf_theory_cfg_same_physics(&u, &v, &d) == 0 && strcmp(d.key, "theory.beta") == 0 &&
            strcmp(d.b, "2.0000000000000004") == 0,
        "u1: beta one ulp away differs, shown exactly: %s vs %s", d.a, d.b);
  lf_theory_cfg p = theory_cfg(LF_THEORY_PHI4, 8, 8), q = p;
  q.beta = 7.0;
  q.kappa = 0.1;
  CHECK(lf_theory_cfg_same_physics(&p, &q, &d) == 1, "phi4 ignores beta and kappa");
  p.m2 = 0.0;
  q.m2 = -0.0;
  CHECK(lf_theory_cfg_same_physics(&p, &q, &d) == 0 && strcmp(d.key, "theory.m2") == 0,
        "phi4: m2 compared bit by bit (0 vs -0): %s (%s vs %s)", d.key, d.a, d.b);
  q = p;
  q.lambda = 7.0;
  CHECK(lf_theory_cfg_same_physics(&p, &q, &d) == 0 && strcmp(d.key, "theory.lambda") == 0 &&
            strcmp(d.a, "8") == 0 && strcmp(d.b, "7") == 0,
        "phi4: lambda named: %s (%s vs %s)", d.key, d.a, d.b);
}

/* The facts of each configuration are those of the theory it builds. */
/* The couplings of each theory's action, in order, with their values (analyze's JSON). */
static void check_couplings(void) {
  lf_theory_cfg s = theory_cfg(LF_THEORY_SCHWINGER, 8, 8), p = theory_cfg(LF_THEORY_PHI4, 8, 8);
  const char *key = NULL, *text = NULL;
  double v = -1.0;
  CHECK(lf_theory_cfg_coupling(&s, 1, &key, &v, &text) && !strcmp(key, "theory.kappa") &&
            v == 0.276 && !text,
        "schwinger's coupling 1 is theory.kappa = %g (%s)", v, key ? key : "none");
  CHECK(lf_theory_cfg_coupling(&s, 2, &key, &v, &text) && !strcmp(key, "theory.fermion_bc") &&
            text && !strcmp(text, "antiperiodic"),
        "schwinger's coupling 2 is the name theory.fermion_bc = %s", text ? text : "(null)");
  key = NULL;
  CHECK(!lf_theory_cfg_coupling(&s, 3, &key, &v, &text) && !key &&
            !lf_theory_cfg_coupling(&s, -1, &key, &v, &text),
        "schwinger has three couplings");
  p.m2 = -4.0;
  CHECK(lf_theory_cfg_coupling(&p, 0, &key, &v, &text) && !strcmp(key, "theory.m2") && v == -4.0 &&
            lf_theory_cfg_coupling(&p, 1, &key, &v, &text) && !strcmp(key, "theory.lambda") &&
            !lf_theory_cfg_coupling(&p, 2, &key, &v, &text),
        "phi4: theory.m2 = -4, then theory.lambda, and no more");
}

static void check_facts(lf_theory_kind k, int L0, int L1) {
  const lf_theory_cfg c = theory_cfg(k, L0, L1);
  lf_theory t;
  const lf_status rc = lf_theory_init(&t, &c);
  CHECK(rc == LF_OK, "%s %dx%d builds: %s", lf_theory_name(k), L0, L1,
        rc == LF_OK ? "" : lf_last_error());
  if (rc != LF_OK) return;
  CHECK(lf_theory_cfg_comps(&c) == t.C, "%s: C = %d", t.name, t.C);
  CHECK(lf_theory_cfg_ncorr(&c) == t.ncorr, "%s %dx%d: ncorr = %d", t.name, L0, L1, t.ncorr);
  CHECK(strcmp(t.name, lf_theory_name(k)) == 0 && t.kind == k, "%s: name and kind", t.name);
  const char *const *obs = lf_theory_obs_names(k);
  int n = 0;
  while (obs[n] && n < t.nobs && strcmp(obs[n], t.obs_names[n]) == 0) n++;
  CHECK(n == t.nobs && !obs[n], "%s: the %d observable names are the built theory's", t.name,
        t.nobs);
  lf_theory_free(&t);
}

static void check_config_facts(void) {
  check_facts(LF_THEORY_PHI4, 4, 6);
  check_facts(LF_THEORY_PHI4, LF_THEORY_MAX_CORR + 1, 2);
  check_facts(LF_THEORY_U1, 4, 6);
  check_facts(LF_THEORY_SCHWINGER, 4, 6);
  CHECK(lf_theory_obs_names((lf_theory_kind)7) == NULL, "no observables outside the enum");
  lf_config c;
  lf_config_defaults(&c);
  const char *const *obs = lf_theory_obs_names(c.theory.name);
  int same = 1, k = 0;
  for (; obs[k]; k++) same &= k < c.nobs && strcmp(obs[k], c.observables[k]) == 0;
  CHECK(same && k == c.nobs, "the config's default observables are the theory's (%d)", c.nobs);

  lf_hmc_cfg pf = c.hmc, ex = c.hmc;
  pf.fermion = LF_FERMION_PSEUDO;
  ex.fermion = LF_FERMION_EXACT;
  const lf_theory_cfg s = theory_cfg(LF_THEORY_SCHWINGER, 8, 8);
  const lf_theory_cfg p = theory_cfg(LF_THEORY_PHI4, 8, 8);
  const lf_theory_cfg u = theory_cfg(LF_THEORY_U1, 8, 8);
  CHECK(lf_theory_cfg_fermions(&s) && !lf_theory_cfg_fermions(&p) && !lf_theory_cfg_fermions(&u),
        "only schwinger has fermions");
  CHECK(lf_theory_cfg_pseudofermions(&s, &pf) && !lf_theory_cfg_pseudofermions(&s, &ex) &&
            !lf_theory_cfg_pseudofermions(&p, &pf) && !lf_theory_cfg_pseudofermions(&u, &pf),
        "pseudofermions: schwinger with hmc.fermion pseudofermion only");
  CHECK(!strcmp(lf_theory_cfg_fermion_name(&s, &pf), "pseudofermion") &&
            !strcmp(lf_theory_cfg_fermion_name(&s, &ex), "exact") &&
            !strcmp(lf_theory_cfg_fermion_name(&p, &pf), "none"),
        "fermion names");
  char buf[160];
  lf_theory_describe_hmc(&s, &pf, buf, sizeof buf);
  CHECK(!strcmp(buf, ", pseudofermion (CG tol 1e-10, max 10000)"), "hmc description '%s'", buf);
  lf_theory_describe_hmc(&s, &ex, buf, sizeof buf);
  CHECK(!strcmp(buf, ", exact determinant"), "hmc description '%s'", buf);
  lf_theory_describe_hmc(&u, &pf, buf, sizeof buf);
  CHECK(buf[0] == '\0', "no fermions, no hmc description");

  /* resume: the hmc keys a theory does not use are taken over */
  lf_hmc_cfg a = pf, b = ex;
  b.cg_tol = 1e-6;
  lf_theory_hmc_unused(&p, &a, &b);
  CHECK(a.fermion == b.fermion && a.cg_tol == b.cg_tol, "phi4: hmc.fermion and hmc.cg_tol unused");
  a = pf;
  b = pf;
  b.cg_maxiter = 17;
  lf_theory_hmc_unused(&s, &a, &b);
  CHECK(a.cg_maxiter == 10000, "schwinger with pseudofermions: hmc.cg_maxiter used");
  a = pf;
  lf_theory_hmc_unused(&s, &a, &ex);
  CHECK(a.fermion == LF_FERMION_PSEUDO, "schwinger: hmc.fermion used");
}

static void check_describe(void) {
  char buf[160];
  lf_theory_cfg c = theory_cfg(LF_THEORY_PHI4, 8, 8);
  lf_theory_describe(&c, buf, sizeof buf);
  CHECK(!strcmp(buf, "phi4 8x8, m2 = -4, lambda = 8"), "'%s'", buf);
  c = theory_cfg(LF_THEORY_U1, 8, 4);
  lf_theory_describe(&c, buf, sizeof buf);
  CHECK(!strcmp(buf, "u1 8x4, beta = 2"), "'%s'", buf);
  c = theory_cfg(LF_THEORY_SCHWINGER, 8, 8);
  lf_theory_describe(&c, buf, sizeof buf);
  CHECK(!strcmp(buf, "schwinger 8x8, beta = 2, kappa = 0.276, antiperiodic, logdet dense"), "'%s'",
        buf);
  char small[12];
  lf_theory_describe(&c, small, sizeof small);
  CHECK(!strcmp(small, "schwinger 8"), "cut to the buffer: '%s'", small);
}

int main(void) {
  check_same_physics();
  check_couplings();
  check_config_facts();
  check_describe();
  return lf_test_result();
}
