/* test_config: YAML run cards (src/config, latflow/config.h).
 *
 * - defaults == parse(lf_config_default_yaml()) == load(configs/quickstart.yaml), and the
 *   file's bytes equal the built-in text; the defaults hold the quickstart values;
 * - a config with every key changed survives write -> parse (field by field) and writes the
 *   same text again; tricky strings and doubles are exact;
 * - --set overrides: scalars, lists, nested keys, whole sections, optimizer and observable
 *   defaults that follow the name, and a failed override leaves the config unchanged;
 * - each bad card in tests/data/config/bad_*.yaml fails with LF_ERR_CONFIG and a message that
 *   contains the exact expected text (file, line, key, what), plus bad --set overrides;
 * - good edge cases: flow style, comments and directives, anchors, CRLF, empty cards, u1,
 *   and every wall_time form.
 * - issue 13: --output verbatim (lf_config_set_output: '#', ': ', quotes; empty and line
 *   breaks refused); the flow's rules only in lf_config_validate_flow (2x2 and 6x6 gauge
 *   cards parse); several --set options judged together (lf_config_set_list); hostile
 *   cards (200000-deep flow nesting, 40-deep block nesting, a 400000-entry list, > 1 MiB
 *   text and file) refused naming source and line (no wall-clock bounds).
 * Data: $LATFLOW_DATA (= tests/data, set by CTest); the source tree is $LATFLOW_DATA/../.. */
#include "latflow/config.h"
#include "latflow/theory.h"
#include "lftest.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char g_data[1024];

static const char *data_path(char *buf, size_t n, const char *rel) {
  snprintf(buf, n, "%s/%s", g_data, rel);
  return buf;
}

static char *read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *s = malloc(1 << 20);
  size_t n = s ? fread(s, 1, (1 << 20) - 1, f) : 0;
  fclose(f);
  if (s) s[n] = '\0';
  return s;
}

/* ---- defaults and the quickstart card ------------------------------------------------------ */

/* Applies one --set override, failing the test (with the message) when it is refused. */
static int set_ok(lf_config *c, const char *a) {
  lf_status rc = lf_config_set(c, a);
  CHECK(rc == LF_OK, "--set %s: rc=%d '%s'", a, rc, rc ? lf_last_error() : "");
  return rc == LF_OK;
}

static void test_defaults(void) {
  lf_config d, p, f;
  lf_config_defaults(&d);
  CHECK(d.theory.name == LF_THEORY_PHI4 && d.theory.shape[0] == 8 && d.theory.shape[1] == 8 &&
            d.theory.m2 == -4.0 && d.theory.lambda == 8.0,
        "defaults: phi4 [%d, %d] m2=%g lambda=%g", d.theory.shape[0], d.theory.shape[1],
        d.theory.m2, d.theory.lambda);
  CHECK(d.model.base == LF_BASE_NORMAL && d.model.base_mass == 1.0 && d.model.layers == 16 &&
            d.model.nhidden == 2 && d.model.hidden[0] == 8 && d.model.hidden[1] == 8 &&
            d.model.kernel == 3 && d.model.activation == LF_ACT_LEAKY_RELU &&
            d.model.coupling == LF_COUPLING_AFFINE && d.model.init == LF_INIT_KAIMING &&
            d.model.init_scale == 1.0 && d.model.precision == LF_PREC_F32,
        "defaults: model normal, 16 layers, hidden [8,8], kernel 3, leaky_relu, affine, kaiming "
        "1.0, single");
  const lf_train_cfg *t = &d.train;
  CHECK(t->estimator == LF_EST_RT && t->optimizer.name == LF_OPT_ADAM && t->optimizer.lr == 1e-3 &&
            t->optimizer.beta1 == 0.9 && t->optimizer.beta2 == 0.999 && t->optimizer.eps == 1e-8 &&
            t->batch == 64 && t->lr_halve_every == 0 && t->batch_double_every == 0 &&
            t->steps == 3000 && t->target_ess == 0 && t->ess_window == 100 && t->wall_time == 0 &&
            t->checkpoint_every == 500 && t->eval_samples == 4096 && t->eval_every == 500 &&
            t->log_every == 100 && t->max_bad_steps == 10 && t->grad_clip == 0 &&
            t->init_from[0] == '\0',
        "defaults: train rt, adam 1e-3 (.9, .999, 1e-8), batch 64, 3000 steps, ess_window 100");
  CHECK(d.sample.mode == LF_SAMPLE_IMH && d.sample.proposals == 204800 && d.sample.block == 256 &&
            d.sample.save == LF_SAVE_ACCEPTED && d.hmc.trajectories == 10000 && d.hmc.tau == 1.0 &&
            d.hmc.steps == 10 && d.hmc.integrator == LF_INT_LEAPFROG && d.hmc.therm == 200 &&
            d.hmc.tau_dist == LF_TAU_UNIFORM && d.hmc.compare == 1,
        "defaults: sample imh 204800/256/accepted, hmc 10000 tau 1 steps 10 leapfrog therm 200 "
        "compare");
  CHECK(d.hmc.fermion == LF_FERMION_PSEUDO && d.hmc.cg_tol == 1e-10 && d.hmc.cg_maxiter == 10000,
        "defaults: hmc.fermion pseudofermion, cg_tol 1e-10, cg_maxiter 10000");
  CHECK(d.seed == 1234 && strcmp(d.output, "runs/quickstart") == 0 && d.nobs == 5 &&
            strcmp(d.observables[0], "phi2") == 0 && strcmp(d.observables[4], "energy") == 0,
        "defaults: seed %llu output %s, %d observables", (unsigned long long)d.seed, d.output,
        d.nobs);
  CHECK(lf_config_validate(&d) == LF_OK, "defaults validate: '%s'", lf_last_error());

  char key[128];
  lf_config_defaults(&p);
  lf_status rc = lf_config_parse_string(&p, lf_config_default_yaml(), "<default>");
  CHECK(rc == LF_OK, "parse built-in yaml: rc=%d '%s'", rc, lf_last_error());
  int diff = lf_config_diff(&d, &p, key, sizeof key);
  CHECK(!diff, "defaults == parse(lf_config_default_yaml()) (first difference: '%s')", key);

  char path[1200];
  snprintf(path, sizeof path, "%s/../../configs/quickstart.yaml", g_data);
  rc = lf_config_load(&f, path);
  CHECK(rc == LF_OK, "load configs/quickstart.yaml: rc=%d '%s'", rc, lf_last_error());
  diff = lf_config_diff(&d, &f, key, sizeof key);
  CHECK(!diff, "defaults == load(configs/quickstart.yaml) (first difference: '%s')", key);
  CHECK(strcmp(f.source, path) == 0, "source recorded: '%s'", f.source);
  char *text = read_all(path);
  CHECK(text && strcmp(text, lf_config_default_yaml()) == 0,
        "configs/quickstart.yaml is byte-identical to lf_config_default_yaml() (%zu vs %zu bytes)",
        text ? strlen(text) : 0, strlen(lf_config_default_yaml()));
  free(text);

  /* the built-in card pins no value that follows from another key (issue 15): switching its
   * theory.name to u1 gives the gauge flow and u1's observables, and switching its
   * optimizer gives that optimizer's lr and eps */
  CHECK(p.given == 0, "the built-in card gives no key with a dependent default (given 0x%x)",
        p.given);
  const char *card = lf_config_default_yaml(), *at = strstr(card, "name: phi4");
  CHECK(at != NULL, "the built-in card has 'name: phi4'");
  if (at) {
    char *u1 = malloc(strlen(card) + 1);
    snprintf(u1, strlen(card) + 1, "%.*sname: u1  %s", (int)(at - card), card,
             at + strlen("name: phi4"));
    lf_config g;
    lf_config_defaults(&g);
    rc = lf_config_parse_string(&g, u1, "u1.yaml");
    CHECK(rc == LF_OK, "built-in card with theory.name u1: rc=%d '%s'", rc, lf_last_error());
    rc = lf_config_validate_flow(&g);
    CHECK(rc == LF_OK && g.model.base == LF_BASE_HAAR && g.model.coupling == LF_COUPLING_SPLINE &&
              g.nobs >= 1 && strcmp(g.observables[0], lf_theory_obs_names(LF_THEORY_U1)[0]) == 0,
          "u1 from the built-in card: rc=%d '%s', base %d coupling %d, %d observables", rc,
          lf_last_error(), g.model.base, g.model.coupling, g.nobs);
    free(u1);
  }
  lf_config a = p;
  set_ok(&a, "train.optimizer.name=adadelta");
  CHECK(a.train.optimizer.lr == 1.0 && a.train.optimizer.eps == 1e-6,
        "built-in card + adadelta: lr %g eps %g (adadelta's defaults)", a.train.optimizer.lr,
        a.train.optimizer.eps);
  a = p;
  set_ok(&a, "train.optimizer={name: sgd, lr: 0.5}");
  CHECK(a.train.optimizer.lr == 0.5, "an lr given with the optimizer is kept: %g",
        a.train.optimizer.lr);

  CHECK(strcmp(lf_theory_name(LF_THEORY_PHI4), "phi4") == 0 &&
            strcmp(lf_theory_name(LF_THEORY_U1), "u1") == 0 &&
            strcmp(lf_theory_name(LF_THEORY_SCHWINGER), "schwinger") == 0 &&
            strcmp(lf_estimator_name(LF_EST_RT), "rt") == 0 &&
            strcmp(lf_estimator_name(LF_EST_RE), "re") == 0,
        "lf_theory_name / lf_estimator_name");
}

/* ---- round trip ---------------------------------------------------------------------------- */

/* Every key away from its default (and valid). */
static void nondefault(lf_config *c) {
  lf_config_defaults(c);
  c->seed = UINT64_MAX;
  snprintf(c->output, sizeof c->output, "runs/a \"b\" \\ c: #d\te, [x] {y} 'z' %%s");
  c->nobs = 3;
  snprintf(c->observables[0], LF_NAME_MAX, "topo");
  snprintf(c->observables[1], LF_NAME_MAX, "plaq");
  snprintf(c->observables[2], LF_NAME_MAX, "condensate");
  c->given |= LF_CONFIG_GIVEN_OBSERVABLES;
  c->theory.name = LF_THEORY_SCHWINGER;
  c->theory.shape[0] = 16;
  c->theory.shape[1] = 12;
  c->theory.m2 = 0.1;
  c->theory.lambda = 1.0 / 3.0;
  c->theory.beta = 1e-300;
  c->theory.kappa = 0.27600000000000002;
  snprintf(c->theory.fermion_bc, LF_NAME_MAX, "periodic");
  c->theory.logdet = LF_LOGDET_SPARSE;
  c->given |= LF_CONFIG_GIVEN_LOGDET;
  c->model.base = LF_BASE_HAAR;
  c->model.base_mass = 2.0 / 3.0;
  c->model.base_beta = 0.3125;
  c->given |= LF_CONFIG_GIVEN_BASE_BETA;
  c->model.layers = 24;
  c->model.nhidden = 3;
  c->model.hidden[0] = 5;
  c->model.hidden[1] = 7;
  c->model.hidden[2] = 11;
  c->model.kernel = 5;
  c->model.activation = LF_ACT_TANH;
  c->model.coupling = LF_COUPLING_SPLINE;
  c->model.spline_bins = 12;
  c->model.init = LF_INIT_XAVIER;
  c->model.init_scale = 0.7071067811865476;
  c->model.precision = LF_PREC_F64;
  lf_train_cfg *t = &c->train;
  t->estimator = LF_EST_RE;
  t->optimizer.name = LF_OPT_ADADELTA;
  t->optimizer.lr = 3e-4;
  t->optimizer.beta1 = 0.8;
  t->optimizer.beta2 = 0.9999;
  t->optimizer.eps = 1e-7;
  t->optimizer.momentum = 0.5;
  t->optimizer.rho = 0.95;
  t->optimizer.weight_decay = 1e-5;
  c->given |= LF_CONFIG_GIVEN_LR | LF_CONFIG_GIVEN_EPS;
  t->batch = 48;
  t->ranks = 3;
  t->lr_halve_every = 5000;
  t->batch_double_every = 2500;
  t->batch_max = 16384;
  t->steps = 10000000000L;
  t->target_ess = 0.6;
  t->ess_window = 250;
  t->wall_time = 1234.5678901234567;
  snprintf(t->init_from, sizeof t->init_from, "runs/mod\xc3\xa8le/model.h5");
  t->checkpoint_every = 77;
  t->checkpoint_seconds = 0.0;
  t->eval_samples = 5;
  t->eval_every = 13;
  t->log_every = 7;
  t->max_bad_steps = 3;
  t->grad_clip = 1.5;
  c->sample.mode = LF_SAMPLE_REWEIGHT;
  c->sample.proposals = 123456789;
  c->sample.block = 64;
  c->sample.save = LF_SAVE_NONE;
  c->sample.epoch = 3;
  c->sample.checkpoint_every = 0;
  c->sample.checkpoint_seconds = 2.5;
  c->hmc.trajectories = 42;
  c->hmc.tau = 0.5;
  c->hmc.steps = 7;
  c->hmc.integrator = LF_INT_OMELYAN;
  c->hmc.therm = 0;
  c->hmc.tau_dist = LF_TAU_FIXED;
  c->hmc.compare = 0;
  c->hmc.checkpoint_every = 5;
  c->hmc.checkpoint_seconds = 90.0;
  c->hmc.fermion = LF_FERMION_EXACT;
  c->hmc.cg_tol = 3.5e-12;
  c->hmc.cg_maxiter = 77;
}

static int count_value_lines(const char *s) {
  int n = 0;
  for (const char *l = s; l && *l;) {
    const char *e = strchr(l, '\n');
    const size_t len = e ? (size_t)(e - l) : strlen(l);
    if (l[0] != '#' && len > 0 && l[len - 1] != ':') n++;
    l = e ? e + 1 : NULL;
  }
  return n;
}
/* Lines of a that differ from the same line of b (after the header line). */
static int count_changed_lines(const char *a, const char *b) {
  int n = 0;
  while (*a && *b) {
    const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
    if (!ea || !eb) break;
    if (a[0] != '#' && ((ea - a) != (eb - b) || strncmp(a, b, (size_t)(ea - a)) != 0)) n++;
    a = ea + 1;
    b = eb + 1;
  }
  return n;
}

static void test_round_trip(void) {
  lf_config c, d, back;
  nondefault(&c);
  lf_config_defaults(&d);
  CHECK(lf_config_validate(&c) == LF_OK, "non-default config validates: '%s'", lf_last_error());
  char *yc = lf_config_to_yaml(&c), *yd = lf_config_to_yaml(&d);
  CHECK(yc && yd, "lf_config_to_yaml returns text");
  if (!yc || !yd) return;
  const int nkeys = count_value_lines(yd), changed = count_changed_lines(yc, yd);
  CHECK(nkeys >= 50 && changed == nkeys,
        "the test config changes every key: %d of %d value lines differ", changed, nkeys);

  lf_config_defaults(&back);
  lf_status rc = lf_config_parse_string(&back, yc, "<roundtrip>");
  CHECK(rc == LF_OK, "parse(write(c)): rc=%d '%s'", rc, lf_last_error());
  char key[128];
  int diff = lf_config_diff(&c, &back, key, sizeof key);
  CHECK(!diff, "parse(write(c)) == c field by field (first difference: '%s')", key);
  CHECK(back.seed == UINT64_MAX && back.theory.m2 == 0.1 && back.theory.lambda == 1.0 / 3.0 &&
            back.theory.beta == 1e-300 && back.train.wall_time == 1234.5678901234567 &&
            back.train.steps == 10000000000L,
        "exact: seed %llu m2 %.17g lambda %.17g beta %.17g wall %.17g",
        (unsigned long long)back.seed, back.theory.m2, back.theory.lambda, back.theory.beta,
        back.train.wall_time);
  CHECK(strcmp(back.output, c.output) == 0 && strcmp(back.train.init_from, c.train.init_from) == 0,
        "strings exact: output '%s' init_from '%s'", back.output, back.train.init_from);
  char *y2 = lf_config_to_yaml(&back);
  const char *b1 = strchr(yc, '\n'), *b2 = y2 ? strchr(y2, '\n') : NULL;
  CHECK(b1 && b2 && strcmp(b1, b2) == 0, "write(parse(write(c))) == write(c) (stable text)");
  free(y2);

  /* the FILE* writer and lf_config_load */
  FILE *f = tmpfile();
  CHECK(f != NULL, "tmpfile");
  if (f) {
    rc = lf_config_write_yaml(&c, f);
    CHECK(rc == LF_OK, "lf_config_write_yaml: rc=%d", rc);
    rewind(f);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    CHECK(n == strlen(yc) && memcmp(buf, yc, n) == 0, "write_yaml == to_yaml (%zu bytes)", n);
    free(buf);
  }

  /* lf_config_diff names the key that differs */
  back = c;
  back.hmc.therm = 1;
  diff = lf_config_diff(&c, &back, key, sizeof key);
  CHECK(diff == 1 && strcmp(key, "hmc.therm") == 0, "lf_config_diff finds '%s'", key);
  back = c;
  back.model.hidden[2] = 12;
  diff = lf_config_diff(&c, &back, key, sizeof key);
  CHECK(diff == 1 && strcmp(key, "model.hidden") == 0, "lf_config_diff finds '%s'", key);
  free(yc);
  free(yd);
}

/* ---- overrides ----------------------------------------------------------------------------- */

static void test_set(void) {
  lf_config c;
  lf_config_defaults(&c);
  set_ok(&c, "train.batch=128");
  CHECK(c.train.batch == 128, "scalar: train.batch = %d", c.train.batch);
  set_ok(&c, " theory.shape = [16,12] ");
  CHECK(c.theory.shape[0] == 16 && c.theory.shape[1] == 12, "list: theory.shape = [%d, %d]",
        c.theory.shape[0], c.theory.shape[1]);
  set_ok(&c, "model.hidden=[4, 5, 6]");
  CHECK(c.model.nhidden == 3 && c.model.hidden[0] == 4 && c.model.hidden[2] == 6,
        "list: model.hidden has %d entries", c.model.nhidden);
  set_ok(&c, "seed=18446744073709551615");
  CHECK(c.seed == UINT64_MAX, "seed = %llu", (unsigned long long)c.seed);
  /* integers in exponent or decimal form when the value is a whole number (issue 15) */
  set_ok(&c, "sample.proposals=1e5");
  CHECK(c.sample.proposals == 100000, "sample.proposals=1e5 -> %ld", c.sample.proposals);
  set_ok(&c, "sample.proposals=100000.0");
  CHECK(c.sample.proposals == 100000, "sample.proposals=100000.0 -> %ld", c.sample.proposals);
  set_ok(&c, "train.batch=1.28E2");
  CHECK(c.train.batch == 128, "train.batch=1.28E2 -> %d", c.train.batch);
  set_ok(&c, "seed=1e3");
  CHECK(c.seed == 1000, "seed=1e3 -> %llu", (unsigned long long)c.seed);
  set_ok(&c, "model.hidden=[8.0, 1e1]");
  CHECK(c.model.nhidden == 2 && c.model.hidden[0] == 8 && c.model.hidden[1] == 10,
        "model.hidden=[8.0, 1e1] -> %d entries", c.model.nhidden);
  set_ok(&c, "model.hidden=[4, 5, 6]");
  set_ok(&c, "seed=18446744073709551615");
  set_ok(&c, "output=runs/with spaces");
  CHECK(strcmp(c.output, "runs/with spaces") == 0, "output = '%s'", c.output);
  set_ok(&c, "train.init_from=\"a: b.h5\"");
  CHECK(strcmp(c.train.init_from, "a: b.h5") == 0, "quoted string = '%s'", c.train.init_from);
  set_ok(&c, "train.init_from=");
  CHECK(c.train.init_from[0] == '\0', "init_from= clears it");

  /* optimizer defaults follow the name until lr / eps are given */
  set_ok(&c, "train.optimizer={name: sgd, momentum: 0.9}");
  CHECK(c.train.optimizer.name == LF_OPT_SGD && c.train.optimizer.lr == 1e-2 &&
            c.train.optimizer.momentum == 0.9,
        "nested mapping: sgd lr %g momentum %g", c.train.optimizer.lr, c.train.optimizer.momentum);
  set_ok(&c, "train.optimizer.name=adadelta");
  CHECK(c.train.optimizer.lr == 1.0 && c.train.optimizer.eps == 1e-6 &&
            c.train.optimizer.momentum == 0.9,
        "adadelta defaults: lr %g eps %g", c.train.optimizer.lr, c.train.optimizer.eps);
  set_ok(&c, "train.optimizer.lr=0.05");
  set_ok(&c, "train.optimizer.name=adam");
  CHECK(c.train.optimizer.lr == 0.05 && c.train.optimizer.eps == 1e-8,
        "explicit lr kept across a name change: lr %g, eps back to %g", c.train.optimizer.lr,
        c.train.optimizer.eps);
  set_ok(&c, "hmc={tau: 2, steps: 20, integrator: omelyan}");
  CHECK(c.hmc.tau == 2.0 && c.hmc.steps == 20 && c.hmc.integrator == LF_INT_OMELYAN &&
            c.hmc.trajectories == 10000,
        "whole section: tau %g steps %d, trajectories kept %ld", c.hmc.tau, c.hmc.steps,
        c.hmc.trajectories);
  set_ok(&c, "hmc={fermion: exact, cg_tol: 1e-8, cg_maxiter: 500}");
  CHECK(c.hmc.fermion == LF_FERMION_EXACT && c.hmc.cg_tol == 1e-8 && c.hmc.cg_maxiter == 500 &&
            c.hmc.tau == 2.0,
        "hmc.fermion exact, cg_tol %g, cg_maxiter %d (tau %g kept)", c.hmc.cg_tol, c.hmc.cg_maxiter,
        c.hmc.tau);
  set_ok(&c, "train.stop.wall_time=1h30m");
  CHECK(c.train.wall_time == 5400.0, "wall_time 1h30m = %g s", c.train.wall_time);
  /* wall-clock checkpoints: on by default (30 min), a duration, 0 = off */
  lf_config dflt;
  lf_config_defaults(&dflt);
  CHECK(dflt.train.checkpoint_seconds == 1800.0 && dflt.sample.checkpoint_seconds == 1800.0 &&
            dflt.hmc.checkpoint_seconds == 1800.0,
        "checkpoint_seconds defaults 1800 s (train %g, sample %g, hmc %g)",
        dflt.train.checkpoint_seconds, dflt.sample.checkpoint_seconds, dflt.hmc.checkpoint_seconds);
  set_ok(&c, "hmc.checkpoint_seconds=10m");
  set_ok(&c, "sample.checkpoint_seconds=0");
  set_ok(&c, "train.checkpoint_seconds=1.5");
  CHECK(c.hmc.checkpoint_seconds == 600.0 && c.sample.checkpoint_seconds == 0.0 &&
            c.train.checkpoint_seconds == 1.5,
        "checkpoint_seconds 10m = %g s, 0 = %g, 1.5 = %g", c.hmc.checkpoint_seconds,
        c.sample.checkpoint_seconds, c.train.checkpoint_seconds);
  set_ok(&c, "observables=[mag]");
  CHECK(c.nobs == 1 && strcmp(c.observables[0], "mag") == 0, "observables = [%s]",
        c.observables[0]);
  set_ok(&c, "train.schedule={batch_double_every: 100, batch_max: 1024}");
  CHECK(c.train.batch_double_every == 100 && c.train.batch_max == 1024, "schedule set");

  /* observables follow the theory unless given */
  lf_config u;
  lf_config_defaults(&u);
  set_ok(&u, "theory.name=schwinger");
  CHECK(u.nobs == 4 && strcmp(u.observables[3], "condensate") == 0,
        "schwinger default observables: %d, last '%s'", u.nobs, u.observables[u.nobs - 1]);

  /* a failed override leaves the config unchanged */
  lf_config before = c;
  lf_status rc = lf_config_set(&c, "train.batch=4096");
  CHECK(rc == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "--set: train.schedule.batch_max: must be >= train.batch "
                                    "(4096) when batch doubling is on, got 1024"),
        "cross-key error from --set: '%s'", lf_last_error());
  char key[128];
  CHECK(!lf_config_diff(&before, &c, key, sizeof key) && before.given == c.given,
        "config unchanged after a failed --set ('%s')", key);
  rc = lf_config_set(&c, "observables=[phi2, mag]");
  CHECK(rc == LF_OK, "observables=[phi2, mag]");
  /* kappa = 0: the Schwinger model's pure-gauge limit (D = 1) is a valid card */
  rc = lf_config_set(&c, "theory.kappa=0");
  CHECK(rc == LF_OK && c.theory.kappa == 0.0, "theory.kappa=0 accepted (rc %d: '%s')", rc,
        rc == LF_OK ? "" : lf_last_error());
  rc = lf_config_set(&c, "theory.name=u1");
  CHECK(rc == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "--set: observables: 'phi2' is not an observable of theory u1"),
        "explicit observables vs a new theory: '%s'", lf_last_error());
}

/* ---- bad cards ----------------------------------------------------------------------------- */

typedef struct bad_case {
  const char *file, *expect;
} bad_case;

/* clang-format off */
static const bad_case BAD[] = {
  {"bad_batch_negative.yaml", "bad_batch_negative.yaml:5: train.batch: must be > 0, got -3"},
  {"bad_unknown_key.yaml", "bad_unknown_key.yaml:3: unknown key 'train.bach' (did you mean 'train.batch'?)"},
  {"bad_unknown_section.yaml", "bad_unknown_section.yaml:2: unknown key 'trian' (did you mean 'train'?)"},
  {"bad_misplaced_key.yaml", "bad_misplaced_key.yaml:2: unknown key 'batch' (did you mean 'train.batch'?)"},
  {"bad_activation.yaml", "bad_activation.yaml:5: model.activation: expected one of leaky_relu, tanh, got 'relu'"},
  {"bad_int_type.yaml", "bad_int_type.yaml:2: model.layers: expected an integer, got 'abc'"},
  {"bad_int_float.yaml", "bad_int_float.yaml:2: sample.proposals: expected an integer, got '1.5', which is not a whole number"},
  {"bad_int_huge.yaml", "bad_int_huge.yaml:2: sample.proposals: integer out of range [-9223372036854775808, 9223372036854775807], got '1e30'"},
  {"bad_int_overflow.yaml", "bad_int_overflow.yaml:2: train.batch: integer out of range [-2147483648, 2147483647], got '99999999999'"},
  {"bad_duplicate_key.yaml", "bad_duplicate_key.yaml:5: train.batch: duplicate key (first given at line 3)"},
  {"bad_duplicate_section.yaml", "bad_duplicate_section.yaml:5: theory: duplicate key (first given at line 1)"},
  {"bad_syntax_indent.yaml", "bad_syntax_indent.yaml:3:13: YAML syntax error: mapping values are not allowed in this context"},
  {"bad_syntax_flow.yaml", "bad_syntax_flow.yaml:3:6: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2)"},
  {"bad_syntax_tab.yaml", "bad_syntax_tab.yaml:2:1: YAML syntax error: found character that cannot start any token"},
  {"bad_mapping_for_scalar.yaml", "bad_mapping_for_scalar.yaml:2: train.batch: wrong type (expected an integer, got a mapping)"},
  {"bad_scalar_for_section.yaml", "bad_scalar_for_section.yaml:2: theory: expected a mapping, got 'phi4'"},
  {"bad_hidden_empty.yaml", "bad_hidden_empty.yaml:2: model.hidden: must have 1 to 8 entries, got 0"},
  {"bad_hidden_entry.yaml", "bad_hidden_entry.yaml:4: model.hidden: entry 2 must be >= 1, got 0"},
  {"bad_shape_odd.yaml", "bad_shape_odd.yaml:3: theory.shape: sizes must be even (the checkerboard coupling needs even L), got [7, 8]"},
  {"bad_shape_small.yaml", "bad_shape_small.yaml:1: theory.shape: sizes must be >= 2, got [8, 0]"},
  {"bad_shape_length.yaml", "bad_shape_length.yaml:2: theory.shape: expected a list of 2 integers [L0, L1], got 3 entries"},
  {"bad_lambda_negative.yaml", "bad_lambda_negative.yaml:3: theory.lambda: must be >= 0, got -0.5"},
  {"bad_lr_zero.yaml", "bad_lr_zero.yaml:4: train.optimizer.lr: must be > 0, got 0"},
  {"bad_beta1.yaml", "bad_beta1.yaml:2: train.optimizer.beta1: must be in [0, 1), got 1"},
  {"bad_weight_decay.yaml", "bad_weight_decay.yaml:3: train.optimizer.weight_decay: must be >= 0, got -0.0001"},
  {"bad_lr_halve_negative.yaml", "bad_lr_halve_negative.yaml:3: train.schedule.lr_halve_every: must be >= 0, got -500"},
  {"bad_kernel_even.yaml", "bad_kernel_even.yaml:2: model.kernel: must be odd and >= 1, got 4"},
  {"bad_kernel_zero.yaml", "bad_kernel_zero.yaml:2: model.kernel: must be odd and >= 1, got -1"},
  {"bad_observable_theory.yaml", "bad_observable_theory.yaml:1: observables: 'plaq' is not an observable of theory phi4 (valid: phi2, mag, abs_mag, chi2, energy)"},
  {"bad_observable_unknown.yaml", "bad_observable_unknown.yaml:3: observables: unknown observable 'susceptibility' (phi4: phi2, mag, abs_mag, chi2, energy; u1/schwinger: plaq, topo, chi_t, condensate)"},
  {"bad_observable_twice.yaml", "bad_observable_twice.yaml:1: observables: 'mag' is listed twice"},
  {"bad_batch_max.yaml", "bad_batch_max.yaml:5: train.schedule.batch_max: must be >= train.batch (64) when batch doubling is on, got 32"},
  {"bad_target_ess.yaml", "bad_target_ess.yaml:2: train.stop.target_ess: must be in [0, 1], got 1.5"},
  {"bad_target_ess_no_eval.yaml", "bad_target_ess_no_eval.yaml:3: train.eval_every: train.stop.target_ess = 0.3 stops on the fresh-sample ESS, which needs train.eval_every > 0 and train.eval_samples > 0 (got 0 and 4096)"},
  {"bad_wall_time.yaml", "bad_wall_time.yaml:3: train.stop.wall_time: expected seconds or a duration like 90s, 30m, 2h, 1h30m, 1d, got '2 hours'"},
  {"bad_wall_time_order.yaml", "bad_wall_time_order.yaml:3: train.stop.wall_time: expected seconds or a duration like 90s, 30m, 2h, 1h30m, 1d, got '30m1h'"},
  {"bad_theory_name.yaml", "bad_theory_name.yaml:2: theory.name: expected one of phi4, u1, schwinger, got 'qcd'"},
  {"bad_seed_negative.yaml", "bad_seed_negative.yaml:1: seed: must be >= 0, got -1"},
  {"bad_top_level_list.yaml", "bad_top_level_list.yaml:1: expected a mapping of keys at the top level, got a list"},
  {"bad_double_type.yaml", "bad_double_type.yaml:2: theory.m2: expected a number, got 'minus four'"},
  {"bad_nonfinite.yaml", "bad_nonfinite.yaml:3: train.optimizer.lr: must be a finite number, got 'inf'"},
  {"bad_missing_value.yaml", "bad_missing_value.yaml:2: train.batch: missing value (expected an integer, got nothing)"},
  {"bad_two_documents.yaml", "bad_two_documents.yaml:3: only one YAML document is allowed, found a second one"},
  {"bad_fermion_bc.yaml", "bad_fermion_bc.yaml:3: theory.fermion_bc: expected one of periodic, antiperiodic, got 'open'"},
  {"bad_logdet.yaml", "bad_logdet.yaml:4: theory.logdet: expected one of auto, dense, sparse, got 'lu'"},
  {"bad_precision.yaml", "bad_precision.yaml:1: model.precision: expected one of single, double, got 'half'"},
  {"bad_tau.yaml", "bad_tau.yaml:3: hmc.tau: must be > 0, got 0"},
  {"bad_block.yaml", "bad_block.yaml:3: sample.block: must be > 0, got 0"},
  {"bad_output_empty.yaml", "bad_output_empty.yaml:1: output: must not be empty"},
  {"bad_key_not_scalar.yaml", "bad_key_not_scalar.yaml:2: train: keys must be names, got a list"},
  {"bad_beta_schwinger.yaml", "bad_beta_schwinger.yaml:3: theory.beta: must be > 0, got -2"},
  {"bad_tag.yaml", "bad_tag.yaml:2: YAML tag '!!binary' is not supported in a run card (values are read as plain text); remove it"},
  {"bad_phi4_free_massless.yaml", "bad_phi4_free_massless.yaml:5: theory.lambda: phi4 with theory.lambda = 0 and theory.m2 = 0 <= 0 has no normalizable distribution"},
};
static const bad_case BAD_SET[] = {
  {"train.batch=1.5", "--set: train.batch: expected an integer, got '1.5', which is not a whole number"},
  {"theory.logdet=cholesky", "--set: theory.logdet: expected one of auto, dense, sparse, got 'cholesky'"},
  {"model.layers=1e-3", "--set: model.layers: expected an integer, got '1e-3', which is not a whole number"},
  {"train.batch=1e10", "--set: train.batch: integer out of range [-2147483648, 2147483647], got '1e10'"},
  {"seed=1e30", "--set: seed: integer out of range [0, 18446744073709551615], got '1e30'"},
  {"seed=-1e3", "--set: seed: must be >= 0, got -1e3"},
  {"seed=2.5", "--set: seed: expected an integer, got '2.5', which is not a whole number"},
  {"train.batch=0x10", "--set: train.batch: expected an integer, got '0x10'"},
  {"train.batch=inf", "--set: train.batch: expected an integer, got 'inf'"},
  {"train.bach=128", "--set: unknown key 'train.bach' (did you mean 'train.batch'?)"},
  {"trian.batch=1", "--set: unknown key 'trian.batch' (did you mean 'train.batch'?)"},
  {"train.optimizer.learning_rate=1", "--set: unknown key 'train.optimizer.learning_rate' (valid keys of 'train.optimizer': name, lr, beta1, beta2, eps, momentum, rho, weight_decay)"},
  {"train.batch=-3", "--set: train.batch: must be > 0, got -3"},
  {"theory.kappa=-0.1", "--set: theory.kappa: must be >= 0, got -0.1"},
  {"hmc.checkpoint_seconds=-1", "--set: hmc.checkpoint_seconds: must be >= 0, got -1"},
  {"sample.checkpoint_second=5", "--set: unknown key 'sample.checkpoint_second' (did you mean 'sample.checkpoint_seconds'?)"},
  {"train.checkpoint_seconds=soon", "--set: train.checkpoint_seconds: expected seconds or a duration like 90s, 30m, 2h, 1h30m, 1d, got 'soon'"},
  {"train.batch", "--set: expected key=value, got 'train.batch'"},
  {"=3", "--set: expected key=value, got '=3'"},
  {"theory.shape=[16,", "--set: theory.shape: YAML syntax error in the value: did not find expected node content (while parsing a flow node)"},
  {"train.batch.size=3", "--set: unknown key 'train.batch.size' (train.batch takes a value, not keys)"},
  {"model.hidden=8", "--set: model.hidden: expected a list of integers (channels per conv layer), got '8'"},
  {"output=", "--set: output: missing value (expected a string, got nothing)"},
  {"train={batch: 0}", "--set: train.batch: must be > 0, got 0"},
  {"train.optimizer={name: rmsprop}", "--set: train.optimizer.name: expected one of adam, sgd, adadelta, got 'rmsprop'"},
  {"hmc=3", "--set: hmc: expected a mapping, got '3'"},
  {"hmc.fermion=wilson", "--set: hmc.fermion: expected one of exact, pseudofermion, got 'wilson'"},
  {"hmc.cg_tol=0", "--set: hmc.cg_tol: must be in (0, 1), got 0"},
  {"hmc.cg_tol=1", "--set: hmc.cg_tol: must be in (0, 1), got 1"},
  {"hmc.cg_maxiter=0", "--set: hmc.cg_maxiter: must be > 0, got 0"},
  {"train={batch: 1, batch: 2}", "--set: train.batch: duplicate key"},
  {"theory.lambda=0", "--set: theory.lambda: phi4 with theory.lambda = 0 and theory.m2 = -4 <= 0 has no normalizable distribution"},
  {"seed=!!float 3", "--set: seed: YAML tag '!!float' is not supported in a run card"},
  {"model.hidden=!custom [8]", "--set: model.hidden: YAML tag '!custom' is not supported"},
  {"theory={m2: -1, lambda: 0}", "--set: theory.lambda: phi4 with theory.lambda = 0 and theory.m2 = -1 <= 0"},
};
/* clang-format on */

static void test_bad(void) {
  const int nbad = (int)(sizeof BAD / sizeof BAD[0]);
  CHECK(nbad >= 25, "%d bad cards in the table", nbad);
  char path[1400];
  lf_config ref;
  lf_config_defaults(&ref);
  for (int i = 0; i < nbad; i++) {
    lf_config c;
    char rel[256];
    snprintf(rel, sizeof rel, "config/%s", BAD[i].file);
    lf_status rc = lf_config_load(&c, data_path(path, sizeof path, rel));
    /* lf_config_load starts from defaults; on failure c must still be the defaults */
    CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), BAD[i].expect) != NULL, "%s -> rc=%d '%s'",
          BAD[i].file, rc, lf_last_error());
    char key[128];
    CHECK(!lf_config_diff(&c, &ref, key, sizeof key), "%s: config left at defaults ('%s')",
          BAD[i].file, key);
  }
  /* every bad_*.yaml in the data directory is in the table */
  DIR *dir = opendir(data_path(path, sizeof path, "config"));
  CHECK(dir != NULL, "open %s", path);
  int files = 0, listed = 0;
  for (struct dirent *e; dir && (e = readdir(dir));) {
    if (strncmp(e->d_name, "bad_", 4) != 0) continue;
    files++;
    int found = 0;
    for (int i = 0; i < nbad; i++)
      if (strcmp(BAD[i].file + 0, e->d_name) == 0) found = 1;
    if (!found) CHECK(0, "%s is not in the BAD table", e->d_name);
    listed += found;
  }
  if (dir) closedir(dir);
  CHECK(files == nbad && listed == nbad, "%d bad_*.yaml files, %d in the table of %d", files,
        listed, nbad);

  for (size_t i = 0; i < sizeof BAD_SET / sizeof BAD_SET[0]; i++) {
    lf_config c = ref;
    lf_status rc = lf_config_set(&c, BAD_SET[i].file);
    CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), BAD_SET[i].expect) != NULL,
          "--set %s -> rc=%d '%s'", BAD_SET[i].file, rc, lf_last_error());
  }

  /* a missing file is an I/O error naming the path and the reason */
  lf_config c;
  lf_status rc = lf_config_load(&c, data_path(path, sizeof path, "config/no_such_card.yaml"));
  CHECK(rc == LF_ERR_IO && strstr(lf_last_error(), "no_such_card.yaml: cannot open config: ") &&
            strstr(lf_last_error(), strerror(ENOENT)),
        "missing file -> rc=%d '%s'", rc, lf_last_error());

  /* lf_config_validate on configs edited in code names the key and the source */
  c = ref;
  c.model.kernel = 2;
  rc = lf_config_validate(&c);
  CHECK(rc == LF_ERR_CONFIG &&
            strcmp(lf_last_error(), "<default>: model.kernel: must be odd and >= 1, got 2") == 0,
        "validate: '%s'", lf_last_error());
  c = ref;
  c.model.spline_bins = 65;
  rc = lf_config_validate(&c);
  CHECK(rc == LF_ERR_CONFIG &&
            strcmp(lf_last_error(), "<default>: model.spline_bins: must be in [1, 64], got 65") ==
                0,
        "validate: '%s'", lf_last_error());
  CHECK(ref.model.spline_bins == 8, "default model.spline_bins %d", ref.model.spline_bins);
  c = ref;
  c.theory.shape[1] = 9;
  rc = lf_config_validate(&c);
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "theory.shape: sizes must be even"),
        "validate: '%s'", lf_last_error());
  c = ref;
  c.train.target_ess = -0.1;
  rc = lf_config_validate(&c);
  CHECK(rc == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "train.stop.target_ess: must be in [0, 1], got -0.1"),
        "validate: '%s'", lf_last_error());
  c = ref;
  c.train.optimizer.lr = 0.0 / 0.0;
  rc = lf_config_validate(&c);
  CHECK(rc == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "train.optimizer.lr: must be a finite number"),
        "validate NaN: '%s'", lf_last_error());
  /* a cross-key error about a key the text did not give names the earlier source */
  c = ref;
  rc = lf_config_parse_string(&c, "observables: [phi2]\n", "a.yaml");
  CHECK(rc == LF_OK, "a.yaml parses");
  rc = lf_config_parse_string(&c, "seed: 3\ntheory: {name: u1}\n", "b.yaml");
  CHECK(rc == LF_ERR_CONFIG &&
            strstr(lf_last_error(),
                   "b.yaml:2: observables: 'phi2' is not an observable of theory u1 (valid: plaq, "
                   "topo, chi_t)"),
        "observables given earlier, theory now: '%s'", lf_last_error());
  c = ref;
  rc =
      lf_config_parse_string(&c, "theory: {name: u1}\nobservables: [plaq, condensate]\n", "c.yaml");
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "c.yaml:2: observables: 'condensate' is not "
                                                       "an observable of theory u1"),
        "condensate on u1: '%s'", lf_last_error());
}

/* ---- good edge cases ----------------------------------------------------------------------- */

static int load_ok(lf_config *c, const char *rel) {
  char path[1200];
  lf_status rc = lf_config_load(c, data_path(path, sizeof path, rel));
  CHECK(rc == LF_OK, "%s loads: rc=%d '%s'", rel, rc, rc ? lf_last_error() : "");
  return rc == LF_OK;
}

static void test_good(void) {
  lf_config c, d;
  lf_config_defaults(&d);
  if (load_ok(&c, "config/good_flow_style.yaml"))
    CHECK(c.seed == 99 && c.theory.shape[0] == 16 && c.theory.shape[1] == 12 &&
              c.theory.m2 == -3.5 && c.theory.lambda == 4.0 && c.model.nhidden == 3 &&
              c.model.hidden[1] == 6 && c.model.init == LF_INIT_XAVIER &&
              c.model.init_scale == 0.5 && c.train.optimizer.name == LF_OPT_SGD &&
              c.train.optimizer.lr == 1e-2 && c.train.wall_time == 5400.0 && c.train.batch == 64,
          "flow style: seed %llu shape [%d, %d] hidden %d entries, sgd lr %g, wall %g",
          (unsigned long long)c.seed, c.theory.shape[0], c.theory.shape[1], c.model.nhidden,
          c.train.optimizer.lr, c.train.wall_time);
  if (load_ok(&c, "config/good_comments.yaml"))
    CHECK(c.seed == 5 && c.train.batch == 32 && c.train.steps == 500 && c.train.wall_time == 90.0 &&
              c.model.layers == 8 && c.model.kernel == 3,
          "comments, %%YAML directive, '---' and '...': seed %llu batch %d steps %ld wall %g",
          (unsigned long long)c.seed, c.train.batch, c.train.steps, c.train.wall_time);
  if (load_ok(&c, "config/good_anchors.yaml"))
    CHECK(c.model.nhidden == 2 && c.model.hidden[0] == 16 && c.theory.shape[0] == 16 &&
              c.theory.shape[1] == 16 && c.hmc.steps == 12 && c.sample.block == 128,
          "anchor and alias: shape [%d, %d]", c.theory.shape[0], c.theory.shape[1]);
  if (load_ok(&c, "config/good_crlf.yaml"))
    CHECK(c.seed == 77 && c.train.batch == 16, "CRLF line ends: seed %llu batch %d",
          (unsigned long long)c.seed, c.train.batch);
  char key[128];
  if (load_ok(&c, "config/good_empty.yaml"))
    CHECK(!lf_config_diff(&c, &d, key, sizeof key), "a card with only a comment = defaults");
  if (load_ok(&c, "config/good_u1.yaml"))
    CHECK(c.theory.name == LF_THEORY_U1 && c.theory.beta == 3.0 && c.nobs == 3 &&
              strcmp(c.observables[0], "plaq") == 0 && c.model.base == LF_BASE_HAAR &&
              c.model.coupling == LF_COUPLING_SPLINE,
          "u1 card: beta %g, default observables %d (%s...)", c.theory.beta, c.nobs,
          c.observables[0]);

  /* empty text, a null document, empty sections */
  c = d;
  CHECK(lf_config_parse_string(&c, "", "empty") == LF_OK && !lf_config_diff(&c, &d, key, 128),
        "empty text = no change");
  CHECK(lf_config_parse_string(&c, "~\n", "null") == LF_OK && !lf_config_diff(&c, &d, key, 128),
        "null document = no change");
  CHECK(lf_config_parse_string(&c, "train:\nhmc: {}\n", "sections") == LF_OK &&
            !lf_config_diff(&c, &d, key, 128),
        "empty sections = no change");
  CHECK(lf_config_parse_string(&c, "seed: \"42\"\ntrain: {batch: '+16'}\n", "quoted") == LF_OK &&
            c.seed == 42 && c.train.batch == 16,
        "quoted numbers are read as numbers: seed %llu batch %d", (unsigned long long)c.seed,
        c.train.batch);

  /* every wall_time form */
  static const struct {
    const char *text;
    double seconds;
  } W[] = {{"0", 0},           {"90", 90},         {"2.5", 2.5},    {"\"90\"", 90}, {"90s", 90},
           {"30m", 1800},      {"2h", 7200},       {"1h30m", 5400}, {"1d", 86400},  {"1.5h", 5400},
           {"1d 12h", 129600}, {"1h30m15s", 5415}, {"\"2h\"", 7200}};
  for (size_t i = 0; i < sizeof W / sizeof W[0]; i++) {
    char text[128];
    snprintf(text, sizeof text, "train:\n  stop:\n    wall_time: %s\n", W[i].text);
    c = d;
    lf_status rc = lf_config_parse_string(&c, text, "wall.yaml");
    CHECK(rc == LF_OK && c.train.wall_time == W[i].seconds, "wall_time: %s -> %g s (want %g)",
          W[i].text, c.train.wall_time, W[i].seconds);
  }
}

/* --output is a folder's name taken verbatim (issue 13, defect 6): '#', ': ', quotes and
 * spaces survive, the name round-trips through the written YAML; an empty name and a line
 * break are refused naming --output, and a refusal leaves the config unchanged. */
static void test_output_verbatim(void) {
  static const char *const names[] = {"runs/run #3", "a: b", "'q' \"x\"", "x #y: [z]", "-o", "{a}"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    lf_config c;
    lf_config_defaults(&c);
    lf_status rc = lf_config_set_output(&c, names[i]);
    CHECK(rc == LF_OK && strcmp(c.output, names[i]) == 0, "--output '%s' -> rc=%d '%s'", names[i],
          rc, c.output);
    char *y = lf_config_to_yaml(&c);
    lf_config back;
    lf_config_defaults(&back);
    rc = y ? lf_config_parse_string(&back, y, "written") : LF_ERR_NOMEM;
    CHECK(rc == LF_OK && strcmp(back.output, names[i]) == 0, "'%s' round trip -> '%s'", names[i],
          back.output);
    free(y);
  }
  lf_config c, ref;
  lf_config_defaults(&ref);
  c = ref;
  lf_status rc = lf_config_set_output(&c, "");
  CHECK(rc == LF_ERR_CONFIG && strcmp(lf_last_error(), "--output: must not be empty") == 0,
        "empty --output -> rc=%d '%s'", rc, lf_last_error());
  rc = lf_config_set_output(&c, "runs/a\nb");
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "--output: must not contain a line break"),
        "newline --output -> rc=%d '%s'", rc, lf_last_error());
  char key[64];
  CHECK(!lf_config_diff(&c, &ref, key, sizeof key), "refused --output left the config ('%s')", key);
  char big[LF_PATH_MAX + 8];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  rc = lf_config_set_output(&c, big);
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "--output: too long"),
        "long --output -> rc=%d '%s'", rc, lf_last_error());
  /* the same rule for the key in a card */
  rc = lf_config_parse_string(&c, "seed: 1\noutput: \"a\\nb\"\n", "nl.yaml");
  CHECK(rc == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "nl.yaml:2: output: must not contain a line"),
        "newline in output: -> rc=%d '%s'", rc, lf_last_error());
}

/* The flow's rules are checked only by lf_config_validate_flow (issue 13, defect 15): an
 * HMC card on a 2x2 (or 6x6) u1/schwinger lattice parses, and is still refused for a flow. */
static void test_flow_rules(void) {
  static const char *const cards[] = {
      "theory: {name: u1, shape: [2, 2]}\n", "theory: {name: schwinger, shape: [6, 6]}\n",
      "theory: {name: u1, shape: [4, 4]}\nmodel: {coupling: affine, base: normal}\n",
      "model: {coupling: spline}\n"};
  static const char *const expect[] = {
      "card: theory.shape: the gauge flow's stripe masks need both sides to be multiples of 4",
      "card: theory.shape: the gauge flow's stripe masks need both sides to be multiples of 4",
      "card: model.coupling: link angles need the gauge-equivariant flow",
      "card: model.coupling: model.base haar or plaquette and model.coupling spline are the U(1) "
      "gauge flow"};
  for (size_t i = 0; i < sizeof cards / sizeof cards[0]; i++) {
    lf_config c;
    lf_config_defaults(&c);
    lf_status rc = lf_config_parse_string(&c, cards[i], "card");
    CHECK(rc == LF_OK, "card %zu parses without the flow's rules: '%s'", i,
          rc ? lf_last_error() : "");
    CHECK(lf_config_validate(&c) == LF_OK, "card %zu passes lf_config_validate", i);
    rc = lf_config_validate_flow(&c);
    CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), expect[i]), "card %zu flow -> '%s'", i,
          lf_last_error());
  }
  lf_config c;
  lf_config_defaults(&c);
  CHECK(lf_config_validate_flow(&c) == LF_OK, "the quickstart card passes the flow's rules");
  /* phi4 with lambda = 0 is fine when m2 > 0 (a free massive field) */
  lf_status rc = lf_config_parse_string(&c, "theory: {m2: 0.5, lambda: 0}\n", "free.yaml");
  CHECK(rc == LF_OK, "free massive phi4 accepted: '%s'", rc ? lf_last_error() : "");
}

/* All --set options are applied, then the cross-key rules judge the result: a card with
 * lambda 0, m2 1 takes m2=-4 and lambda=8 in two overrides (one at a time refuses the first). */
static void test_set_list(void) {
  lf_config c, ref;
  lf_config_defaults(&ref);
  lf_status rc = lf_config_parse_string(&ref, "theory: {m2: 1.0, lambda: 0}\n", "free.yaml");
  CHECK(rc == LF_OK, "free.yaml");
  c = ref;
  rc = lf_config_set(&c, "theory.m2=-4");
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "--set: theory.m2: phi4 with theory.lambda"),
        "one override at a time: '%s'", lf_last_error());
  const char *two[] = {"theory.m2=-4", "theory.lambda=8", "train.batch=5", "train.batch=7"};
  rc = lf_config_set_list(&c, 4, two);
  CHECK(rc == LF_OK && c.theory.m2 == -4 && c.theory.lambda == 8 && c.train.batch == 7,
        "set_list -> rc=%d m2=%g lambda=%g batch=%d '%s'", rc, c.theory.m2, c.theory.lambda,
        c.train.batch, rc ? lf_last_error() : "");
  c = ref;
  const char *bad[] = {"train.batch=9", "theory.m2=-1"};
  rc = lf_config_set_list(&c, 2, bad);
  char key[64];
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "--set: theory.m2: phi4 with") &&
            !lf_config_diff(&c, &ref, key, sizeof key),
        "refused list leaves the config: rc=%d '%s' ('%s')", rc, lf_last_error(), key);
  const char *obs[] = {"theory.name=u1", "observables=[plaq]", "theory.shape=[4, 4]"};
  c = ref;
  rc = lf_config_set_list(&c, 3, obs);
  CHECK(rc == LF_OK && c.nobs == 1, "theory and observables in two overrides: '%s'",
        rc ? lf_last_error() : "");
}

/* Hostile cards are refused (issue 13, defect 12): deep flow and block nesting, a file and a
 * text over 1 MiB, a long flow sequence, each naming source and line. No wall-clock bound
 * here (timed tests flake on loaded machines): the depth refusal's message proves the
 * pre-parse check ran (the old parser built the document first, quadratic in the depth, and
 * did not finish in minutes), and a hang is caught by the test's CTest TIMEOUT. */
static void test_hostile(void) {
  const size_t deep = 200000;
  char *t = malloc(2 * deep + 64);
  CHECK(t != NULL, "alloc");
  if (!t) return;
  /* 200000 levels of '[' (400 KB): the old parser took minutes */
  char *p = t + sprintf(t, "seed: 1\noutput: ");
  for (size_t i = 0; i < deep; i++) *p++ = '[';
  for (size_t i = 0; i < deep; i++) *p++ = ']';
  *p++ = '\n';
  *p = '\0';
  lf_config c;
  lf_config_defaults(&c);
  lf_status rc = lf_config_parse_string(&c, t, "deep.yaml");
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "deep.yaml:2: nested deeper than 32 levels"),
        "deep flow -> rc=%d '%s'", rc, lf_last_error());
  /* block style: 40 levels of mappings, the 33rd on line 33 */
  p = t;
  for (int i = 0; i < 40; i++) p += sprintf(p, "%*sk%d:\n", i, "", i);
  rc = lf_config_parse_string(&c, t, "block.yaml");
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "block.yaml:33: nested deeper than 32"),
        "deep block -> rc=%d '%s'", rc, lf_last_error());
  /* 32 levels are not refused for depth (the walk then finds the unknown key) */
  p = t;
  for (int i = 0; i < 31; i++) p += sprintf(p, "%*sk%d:\n", i, "", i);
  rc = lf_config_parse_string(&c, t, "ok32.yaml");
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "ok32.yaml:1: unknown key 'k0'"),
        "32 levels -> '%s'", lf_last_error());
  free(t);

  /* a long flow sequence within the size limit: 400000 entries (800 KB) */
  const size_t n = 400000;
  t = malloc(2 * n + 64);
  CHECK(t != NULL, "alloc");
  if (!t) return;
  p = t + sprintf(t, "model:\n  hidden: [");
  for (size_t i = 0; i < n; i++) *p++ = '1', *p++ = ',';
  p[-1] = ']';
  *p++ = '\n';
  *p = '\0';
  rc = lf_config_parse_string(&c, t, "long.yaml");
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "long.yaml:2: model.hidden: "),
        "long sequence -> rc=%d '%s'", rc, lf_last_error());
  free(t);

  /* over 1 MiB: a text and a file (a comment, so only the size is wrong) */
  const size_t big = (size_t)LF_CONFIG_MAX_BYTES + 10;
  t = malloc(big + 1);
  CHECK(t != NULL, "alloc");
  if (!t) return;
  memset(t, ' ', big);
  t[0] = '#';
  t[big - 1] = '\n';
  t[big] = '\0';
  rc = lf_config_parse_string(&c, t, "big.yaml");
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "big.yaml: 1048586 bytes, larger than the"),
        "big text -> rc=%d '%s'", rc, lf_last_error());
  char path[] = "/tmp/test_config_bigXXXXXX";
  const int fd = mkstemp(path);
  FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
  CHECK(f && fwrite(t, 1, big, f) == big, "write %s", path);
  if (f) fclose(f);
  rc = lf_config_load(&c, path);
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "larger than the 1048576 bytes (1 MiB)"),
        "big file -> rc=%d '%s'", rc, lf_last_error());
  unlink(path);
  free(t);
}

int main(void) {
  const char *data = getenv("LATFLOW_DATA");
  CHECK(data != NULL, "LATFLOW_DATA is set (CTest sets it to tests/data)");
  snprintf(g_data, sizeof g_data, "%s", data ? data : "../tests/data");
  test_defaults();
  test_round_trip();
  test_set();
  test_bad();
  test_good();
  test_output_verbatim();
  test_flow_rules();
  test_set_list();
  test_hostile();
  return lf_test_result();
}
