/* The key table of the run card (see config_int.h): every key's dotted path, kind, offset
 * in lf_config, name list and range rule; the built-in defaults (lf_config_defaults) and
 * the defaults that depend on other keys; the name lists of the enums (the observables'
 * names are the theories', latflow/theory.h).
 * The parser, validator, writer and comparison (config_parse.c, config_rules.c,
 * config_emit.c) are all driven by this one table. */
#include "config_int.h"

#include "latflow/theory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the key table ------------------------------------------------------------------------ */

const char *const lf_cfg_base_names[] = {"normal", "free_field", "haar", "plaquette", NULL};
static const char *const ACT_NAMES[] = {"leaky_relu", "tanh", NULL};
const char *const lf_cfg_coupling_names[] = {"affine", "spline", NULL};
static const char *const INIT_NAMES[] = {"kaiming", "xavier", NULL};
static const char *const PREC_NAMES[] = {"single", "double", NULL};
static const char *const EST_NAMES[] = {"rt", "re", NULL};
static const char *const OPT_NAMES[] = {"adam", "sgd", "adadelta", NULL};
static const char *const MODE_NAMES[] = {"imh", "reweight", NULL};
static const char *const SAVE_NAMES[] = {"accepted", "all", "none", NULL};
static const char *const INT_NAMES[] = {"leapfrog", "omelyan", NULL};
static const char *const BOOL_NAMES[] = {"false", "true", NULL};
static const char *const BC_NAMES[] = {"periodic", "antiperiodic", NULL};
static const char *const LOGDET_NAMES[] = {"auto", "dense", "sparse", NULL};
static const char *const FERMION_NAMES[] = {"exact", "pseudofermion", NULL};
static const char *const TAU_DIST_NAMES[] = {"uniform", "fixed", NULL};

_Static_assert(sizeof(lf_theory_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lf_optim_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lf_fermion_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lf_tau_dist) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lf_logdet_kind) == sizeof(int), "enums are stored as int");

#define O(f) offsetof(lf_config, f)
#define S(f) sizeof(((lf_config *)0)->f)
#define SEC(p)                                                                                     \
  { p, K_SECTION, R_NONE, 0, 0, NULL, 0 }
/* clang-format off */
const keydef lf_cfg_keys[] = {
  {"seed", K_U64, R_NONE, O(seed), 0, NULL, 0},
  {"output", K_STR, R_DIR, O(output), S(output), NULL, 0},
  {"observables", K_OBS, R_NONE, O(observables), 0, NULL, LF_CONFIG_GIVEN_OBSERVABLES},
  SEC("theory"),
  {"theory.name", K_ENUM, R_NONE, O(theory.name), 0, lf_theory_names, 0},
  {"theory.shape", K_SHAPE, R_NONE, O(theory.shape), 0, NULL, 0},
  {"theory.m2", K_DOUBLE, R_NONE, O(theory.m2), 0, NULL, 0},
  {"theory.lambda", K_DOUBLE, R_GE0, O(theory.lambda), 0, NULL, 0},
  {"theory.beta", K_DOUBLE, R_GT0, O(theory.beta), 0, NULL, 0},
  {"theory.kappa", K_DOUBLE, R_GE0, O(theory.kappa), 0, NULL, 0},
  {"theory.fermion_bc", K_NAME, R_NONE, O(theory.fermion_bc), S(theory.fermion_bc), BC_NAMES, 0},
  {"theory.logdet", K_ENUM, R_NONE, O(theory.logdet), 0, LOGDET_NAMES, LF_CONFIG_GIVEN_LOGDET},
  SEC("model"),
  {"model.base", K_ENUM, R_NONE, O(model.base), 0, lf_cfg_base_names, LF_CONFIG_GIVEN_BASE},
  {"model.base_mass", K_DOUBLE, R_GT0, O(model.base_mass), 0, NULL, 0},
  {"model.base_beta", K_DOUBLE, R_GE0, O(model.base_beta), 0, NULL, LF_CONFIG_GIVEN_BASE_BETA},
  {"model.layers", K_INT, R_GE1, O(model.layers), 0, NULL, 0},
  {"model.hidden", K_HIDDEN, R_NONE, O(model.hidden), 0, NULL, 0},
  {"model.kernel", K_INT, R_ODD, O(model.kernel), 0, NULL, 0},
  {"model.activation", K_ENUM, R_NONE, O(model.activation), 0, ACT_NAMES, 0},
  {"model.coupling", K_ENUM, R_NONE, O(model.coupling), 0, lf_cfg_coupling_names,
   LF_CONFIG_GIVEN_COUPLING},
  {"model.spline_bins", K_INT, R_BINS, O(model.spline_bins), 0, NULL, 0},
  SEC("model.init"),
  {"model.init.scheme", K_ENUM, R_NONE, O(model.init), 0, INIT_NAMES, 0},
  {"model.init.scale", K_DOUBLE, R_GT0, O(model.init_scale), 0, NULL, 0},
  {"model.precision", K_ENUM, R_NONE, O(model.precision), 0, PREC_NAMES, 0},
  SEC("train"),
  {"train.estimator", K_ENUM, R_NONE, O(train.estimator), 0, EST_NAMES, 0},
  SEC("train.optimizer"),
  {"train.optimizer.name", K_ENUM, R_NONE, O(train.optimizer.name), 0, OPT_NAMES, 0},
  {"train.optimizer.lr", K_DOUBLE, R_GT0, O(train.optimizer.lr), 0, NULL, LF_CONFIG_GIVEN_LR},
  {"train.optimizer.beta1", K_DOUBLE, R_UNIT_OPEN, O(train.optimizer.beta1), 0, NULL, 0},
  {"train.optimizer.beta2", K_DOUBLE, R_UNIT_OPEN, O(train.optimizer.beta2), 0, NULL, 0},
  {"train.optimizer.eps", K_DOUBLE, R_GT0, O(train.optimizer.eps), 0, NULL, LF_CONFIG_GIVEN_EPS},
  {"train.optimizer.momentum", K_DOUBLE, R_UNIT_OPEN, O(train.optimizer.momentum), 0, NULL, 0},
  {"train.optimizer.rho", K_DOUBLE, R_UNIT_OPEN, O(train.optimizer.rho), 0, NULL, 0},
  {"train.optimizer.weight_decay", K_DOUBLE, R_GE0, O(train.optimizer.weight_decay), 0, NULL, 0},
  {"train.batch", K_INT, R_GT0, O(train.batch), 0, NULL, 0},
  {"train.ranks", K_INT, R_GE0, O(train.ranks), 0, NULL, 0},
  SEC("train.schedule"),
  {"train.schedule.lr_halve_every", K_LONG, R_GE0, O(train.lr_halve_every), 0, NULL, 0},
  {"train.schedule.batch_double_every", K_LONG, R_GE0, O(train.batch_double_every), 0, NULL, 0},
  {"train.schedule.batch_max", K_INT, R_GE0, O(train.batch_max), 0, NULL, 0},
  SEC("train.stop"),
  {"train.stop.steps", K_LONG, R_GT0, O(train.steps), 0, NULL, 0},
  {"train.stop.target_ess", K_DOUBLE, R_UNIT, O(train.target_ess), 0, NULL, 0},
  {"train.stop.ess_window", K_INT, R_GT0, O(train.ess_window), 0, NULL, 0},
  {"train.stop.wall_time", K_DURATION, R_GE0, O(train.wall_time), 0, NULL, 0},
  {"train.init_from", K_STR, R_NONE, O(train.init_from), S(train.init_from), NULL, 0},
  {"train.checkpoint_every", K_LONG, R_GE0, O(train.checkpoint_every), 0, NULL, 0},
  {"train.checkpoint_seconds", K_DURATION, R_GE0, O(train.checkpoint_seconds), 0, NULL, 0},
  {"train.eval_samples", K_LONG, R_GE0, O(train.eval_samples), 0, NULL, 0},
  {"train.eval_every", K_LONG, R_GE0, O(train.eval_every), 0, NULL, 0},
  {"train.log_every", K_LONG, R_GT0, O(train.log_every), 0, NULL, 0},
  {"train.max_bad_steps", K_INT, R_GT0, O(train.max_bad_steps), 0, NULL, 0},
  {"train.grad_clip", K_DOUBLE, R_GE0, O(train.grad_clip), 0, NULL, 0},
  SEC("sample"),
  {"sample.mode", K_ENUM, R_NONE, O(sample.mode), 0, MODE_NAMES, 0},
  {"sample.proposals", K_LONG, R_GT0, O(sample.proposals), 0, NULL, 0},
  {"sample.block", K_INT, R_GT0, O(sample.block), 0, NULL, 0},
  {"sample.save", K_ENUM, R_NONE, O(sample.save), 0, SAVE_NAMES, 0},
  {"sample.epoch", K_INT, R_GT0, O(sample.epoch), 0, NULL, 0},
  {"sample.checkpoint_every", K_LONG, R_GE0, O(sample.checkpoint_every), 0, NULL, 0},
  {"sample.checkpoint_seconds", K_DURATION, R_GE0, O(sample.checkpoint_seconds), 0, NULL, 0},
  SEC("hmc"),
  {"hmc.trajectories", K_LONG, R_GT0, O(hmc.trajectories), 0, NULL, 0},
  {"hmc.tau", K_DOUBLE, R_GT0, O(hmc.tau), 0, NULL, 0},
  {"hmc.steps", K_INT, R_GT0, O(hmc.steps), 0, NULL, 0},
  {"hmc.integrator", K_ENUM, R_NONE, O(hmc.integrator), 0, INT_NAMES, 0},
  {"hmc.therm", K_LONG, R_GE0, O(hmc.therm), 0, NULL, 0},
  {"hmc.tau_dist", K_ENUM, R_NONE, O(hmc.tau_dist), 0, TAU_DIST_NAMES, 0},
  {"hmc.compare", K_ENUM, R_NONE, O(hmc.compare), 0, BOOL_NAMES, 0},
  {"hmc.checkpoint_every", K_LONG, R_GE0, O(hmc.checkpoint_every), 0, NULL, 0},
  {"hmc.checkpoint_seconds", K_DURATION, R_GE0, O(hmc.checkpoint_seconds), 0, NULL, 0},
  {"hmc.fermion", K_ENUM, R_NONE, O(hmc.fermion), 0, FERMION_NAMES, 0},
  {"hmc.cg_tol", K_DOUBLE, R_OPEN01, O(hmc.cg_tol), 0, NULL, 0},
  {"hmc.cg_maxiter", K_INT, R_GT0, O(hmc.cg_maxiter), 0, NULL, 0},
};
/* clang-format on */
#undef O
#undef S
#undef SEC
_Static_assert(sizeof lf_cfg_keys / sizeof lf_cfg_keys[0] == NKEYS,
               "NKEYS in config_int.h counts the entries of lf_cfg_keys");

int lf_cfg_key_index(const char *path) {
  for (int i = 0; i < NKEYS; i++)
    if (strcmp(lf_cfg_keys[i].path, path) == 0) return i;
  return -1;
}

int lf_cfg_name_count(const char *const *names) {
  int n = 0;
  while (names[n]) n++;
  return n;
}
int lf_cfg_name_find(const char *const *names, const char *s) {
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], s) == 0) return i;
  return -1;
}
/* "a, b, c" */
void lf_cfg_name_list(char *buf, size_t n, const char *const *names) {
  buf[0] = '\0';
  size_t used = 0;
  for (int i = 0; names[i] && used < n; i++) {
    int w = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", names[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
}

const char *const *lf_cfg_obs_valid(lf_theory_kind k) {
  static const char *const none[] = {NULL};
  const char *const *obs = lf_theory_obs_names(k);
  return obs ? obs : none;
}

/* Shortest "%.Ng" (N = 15..17) that reads back to the same double: exact and readable. */
void lf_cfg_fmt_double(char *buf, size_t n, double v) {
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
}

/* ---- defaults ----------------------------------------------------------------------------- */

static double default_lr(lf_optim_kind k) {
  return k == LF_OPT_SGD ? 1e-2 : k == LF_OPT_ADADELTA ? 1.0 : 1e-3;
}
static double default_eps(lf_optim_kind k) {
  return k == LF_OPT_ADADELTA ? 1e-6 : 1e-8;
}

/* Fills the defaults that depend on other keys, unless given explicitly. */
void lf_cfg_dependent_defaults(lf_config *c) {
  if (!(c->given & LF_CONFIG_GIVEN_LR)) c->train.optimizer.lr = default_lr(c->train.optimizer.name);
  if (!(c->given & LF_CONFIG_GIVEN_EPS))
    c->train.optimizer.eps = default_eps(c->train.optimizer.name);
  const int gauge = c->theory.name == LF_THEORY_U1 || c->theory.name == LF_THEORY_SCHWINGER;
  if (!(c->given & LF_CONFIG_GIVEN_BASE)) c->model.base = gauge ? LF_BASE_HAAR : LF_BASE_NORMAL;
  if (!(c->given & LF_CONFIG_GIVEN_BASE_BETA)) c->model.base_beta = c->theory.beta;
  if (!(c->given & LF_CONFIG_GIVEN_COUPLING))
    c->model.coupling = gauge ? LF_COUPLING_SPLINE : LF_COUPLING_AFFINE;
  if (!(c->given & LF_CONFIG_GIVEN_OBSERVABLES)) {
    const char *const *obs = lf_cfg_obs_valid(c->theory.name); /* all of them */
    memset(c->observables, 0, sizeof c->observables);
    c->nobs = 0;
    for (; obs[c->nobs]; c->nobs++)
      snprintf(c->observables[c->nobs], LF_NAME_MAX, "%s", obs[c->nobs]);
  }
}

void lf_config_defaults(lf_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->source, sizeof cfg->source, "<default>");
  cfg->seed = 1234;
  snprintf(cfg->output, sizeof cfg->output, "runs/quickstart");

  lf_theory_cfg *t = &cfg->theory;
  t->name = LF_THEORY_PHI4;
  t->shape[0] = t->shape[1] = 8;
  t->m2 = -4.0;
  t->lambda = 8.0;
  t->beta = 2.0;
  t->kappa = 0.263;
  snprintf(t->fermion_bc, sizeof t->fermion_bc, "antiperiodic");
  t->logdet = LF_LOGDET_AUTO;

  lf_model_cfg *m = &cfg->model;
  m->base = LF_BASE_NORMAL;
  m->base_mass = 1.0;
  m->base_beta = 2.0;
  m->layers = 16;
  m->nhidden = 2;
  m->hidden[0] = m->hidden[1] = 8;
  m->kernel = 3;
  m->activation = LF_ACT_LEAKY_RELU;
  m->coupling = LF_COUPLING_AFFINE;
  m->spline_bins = 8;
  m->init = LF_INIT_KAIMING;
  m->init_scale = 1.0;
  m->precision = LF_PREC_F32;

  lf_train_cfg *tr = &cfg->train;
  tr->estimator = LF_EST_RT;
  tr->optimizer.name = LF_OPT_ADAM;
  tr->optimizer.beta1 = 0.9;
  tr->optimizer.beta2 = 0.999;
  tr->optimizer.momentum = 0.0;
  tr->optimizer.rho = 0.9;
  tr->optimizer.weight_decay = 0.0;
  tr->batch = 64;
  tr->ranks = 0;
  tr->steps = 3000;
  tr->target_ess = 0.0;
  tr->ess_window = 100;
  tr->wall_time = 0.0;
  tr->checkpoint_every = 500;
  tr->checkpoint_seconds = 1800.0;
  tr->eval_samples = 4096;
  tr->eval_every = 500;
  tr->log_every = 100;
  tr->max_bad_steps = 10;
  tr->grad_clip = 0.0;

  cfg->sample.mode = LF_SAMPLE_IMH;
  cfg->sample.proposals = 204800;
  cfg->sample.block = 256;
  cfg->sample.save = LF_SAVE_ACCEPTED;
  cfg->sample.epoch = 8;
  cfg->sample.checkpoint_every = 100000;
  cfg->sample.checkpoint_seconds = 1800.0;

  cfg->hmc.trajectories = 10000;
  cfg->hmc.tau = 1.0;
  cfg->hmc.steps = 10;
  cfg->hmc.integrator = LF_INT_LEAPFROG;
  cfg->hmc.therm = 200;
  cfg->hmc.tau_dist = LF_TAU_UNIFORM;
  cfg->hmc.compare = 1;
  cfg->hmc.checkpoint_every = 1000;
  cfg->hmc.checkpoint_seconds = 1800.0;
  cfg->hmc.fermion = LF_FERMION_PSEUDO;
  cfg->hmc.cg_tol = 1e-10;
  cfg->hmc.cg_maxiter = 10000;

  lf_cfg_dependent_defaults(cfg); /* lr, eps, observables */
}

const char *lf_estimator_name(lf_estimator e) {
  return (int)e >= 0 && (int)e < 2 ? EST_NAMES[e] : "unknown";
}
