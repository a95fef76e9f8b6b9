/* YAML run cards -> lf_config (see latflow/config.h, docs/CONFIG.md).
 *
 * One table (KEYS) drives everything: the parser looks keys up in it, the validator walks
 * it, the writer emits it in its order and lf_config_diff compares along it. A key is a
 * dotted path, a kind (how its YAML value is read and where it is stored, by offsetof) and
 * a range rule. Sections are keys of kind K_SECTION; their children follow them.
 *
 * Parsing uses libyaml's document API (yaml_parser_load): the whole card is small, and a
 * node tree gives every key and value its line for the messages. Text is parsed into a
 * copy of the config, so a failed parse or override leaves the caller's config unchanged. */
#include "latflow/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- the key table ------------------------------------------------------------------------ */

typedef enum kind {
  K_SECTION, /* a mapping of further keys                                   */
  K_INT,     /* int                                                          */
  K_LONG,    /* long                                                         */
  K_U64,     /* uint64_t, >= 0                                               */
  K_DOUBLE,  /* finite double                                                */
  K_ENUM,    /* an enum stored as int; value is one of names[]               */
  K_NAME,    /* char[] holding one of names[] (theory.fermion_bc)            */
  K_STR,     /* char[]; null allowed only with C_NONE (means "")             */
  K_SHAPE,   /* theory.shape: int[2]                                         */
  K_HIDDEN,  /* model.hidden: int[LF_MAX_HIDDEN] + nhidden                   */
  K_OBS,     /* observables: char[LF_MAX_OBS][LF_NAME_MAX] + nobs            */
  K_DURATION /* double seconds; a number or "1h30m"                          */
} kind;

typedef enum rule {
  R_NONE,
  R_GT0, /* > 0      */
  R_GE0, /* >= 0     */
  R_GE1, /* >= 1     */
  R_UNIT_OPEN /* [0, 1)   */,
  R_OPEN01,   /* (0, 1)   */
  R_UNIT,     /* [0, 1]   */
  R_ODD,      /* odd, >= 1 */
  R_BINS,     /* [1, 64]   */
  R_NONEMPTY, /* strings  */
  R_DIR       /* a directory: non-empty, no line break */
} rule;

typedef struct keydef {
  const char *path;
  kind kind;
  rule rule;
  size_t off, size;         /* offsetof / sizeof in lf_config (size: strings)       */
  const char *const *names; /* K_ENUM, K_NAME: NULL-terminated                      */
  unsigned given;           /* LF_CONFIG_GIVEN_* bit set when the key is given      */
} keydef;

static const char *const THEORY_NAMES[] = {"phi4", "u1", "schwinger", NULL};
static const char *const BASE_NAMES[] = {"normal", "free_field", "haar", NULL};
static const char *const ACT_NAMES[] = {"leaky_relu", "tanh", NULL};
static const char *const COUPLING_NAMES[] = {"affine", "spline", NULL};
static const char *const INIT_NAMES[] = {"kaiming", "xavier", NULL};
static const char *const PREC_NAMES[] = {"single", "double", NULL};
static const char *const EST_NAMES[] = {"rt", "re", NULL};
static const char *const OPT_NAMES[] = {"adam", "sgd", "adadelta", NULL};
static const char *const MODE_NAMES[] = {"imh", "reweight", NULL};
static const char *const SAVE_NAMES[] = {"accepted", "all", "none", NULL};
static const char *const INT_NAMES[] = {"leapfrog", "omelyan", NULL};
static const char *const BOOL_NAMES[] = {"false", "true", NULL};
static const char *const BC_NAMES[] = {"periodic", "antiperiodic", NULL};
static const char *const FERMION_NAMES[] = {"exact", "pseudofermion", NULL};
static const char *const TAU_DIST_NAMES[] = {"uniform", "fixed", NULL};

/* Observables per theory (DESIGN.md section 3). Index = lf_theory_kind. */
static const char *const OBS_PHI4[] = {"phi2", "mag", "abs_mag", "chi2", "energy", NULL};
static const char *const OBS_U1[] = {"plaq", "topo", "chi_t", NULL};
static const char *const OBS_SCHWINGER[] = {"plaq", "topo", "chi_t", "condensate", NULL};

_Static_assert(sizeof(lf_theory_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lf_optim_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lf_fermion_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lf_tau_dist) == sizeof(int), "enums are stored as int");

#define O(f) offsetof(lf_config, f)
#define S(f) sizeof(((lf_config *)0)->f)
#define SEC(p)                                                                                     \
  { p, K_SECTION, R_NONE, 0, 0, NULL, 0 }
/* clang-format off */
static const keydef KEYS[] = {
  {"seed", K_U64, R_NONE, O(seed), 0, NULL, 0},
  {"output", K_STR, R_DIR, O(output), S(output), NULL, 0},
  {"observables", K_OBS, R_NONE, O(observables), 0, NULL, LF_CONFIG_GIVEN_OBSERVABLES},
  SEC("theory"),
  {"theory.name", K_ENUM, R_NONE, O(theory.name), 0, THEORY_NAMES, 0},
  {"theory.shape", K_SHAPE, R_NONE, O(theory.shape), 0, NULL, 0},
  {"theory.m2", K_DOUBLE, R_NONE, O(theory.m2), 0, NULL, 0},
  {"theory.lambda", K_DOUBLE, R_GE0, O(theory.lambda), 0, NULL, 0},
  {"theory.beta", K_DOUBLE, R_GT0, O(theory.beta), 0, NULL, 0},
  {"theory.kappa", K_DOUBLE, R_GT0, O(theory.kappa), 0, NULL, 0},
  {"theory.fermion_bc", K_NAME, R_NONE, O(theory.fermion_bc), S(theory.fermion_bc), BC_NAMES, 0},
  SEC("model"),
  {"model.base", K_ENUM, R_NONE, O(model.base), 0, BASE_NAMES, LF_CONFIG_GIVEN_BASE},
  {"model.base_mass", K_DOUBLE, R_GT0, O(model.base_mass), 0, NULL, 0},
  {"model.layers", K_INT, R_GE1, O(model.layers), 0, NULL, 0},
  {"model.hidden", K_HIDDEN, R_NONE, O(model.hidden), 0, NULL, 0},
  {"model.kernel", K_INT, R_ODD, O(model.kernel), 0, NULL, 0},
  {"model.activation", K_ENUM, R_NONE, O(model.activation), 0, ACT_NAMES, 0},
  {"model.coupling", K_ENUM, R_NONE, O(model.coupling), 0, COUPLING_NAMES,
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

enum { NKEYS = (int)(sizeof KEYS / sizeof KEYS[0]), PATH_BUF = 160, MSG_BUF = 1024 };

static int key_index(const char *path) {
  for (int i = 0; i < NKEYS; i++)
    if (strcmp(KEYS[i].path, path) == 0) return i;
  return -1;
}

/* Typed views of a field (enums are int-sized, checked above). */
static void *field(lf_config *c, int id) {
  return (char *)c + KEYS[id].off;
}
static const void *cfield(const lf_config *c, int id) {
  return (const char *)c + KEYS[id].off;
}
static int get_int(const lf_config *c, int id) {
  int v;
  memcpy(&v, cfield(c, id), sizeof v);
  return v;
}
static void set_int(lf_config *c, int id, int v) {
  memcpy(field(c, id), &v, sizeof v);
}
static long get_long(const lf_config *c, int id) {
  long v;
  memcpy(&v, cfield(c, id), sizeof v);
  return v;
}
static double get_double(const lf_config *c, int id) {
  double v;
  memcpy(&v, cfield(c, id), sizeof v);
  return v;
}

static int name_count(const char *const *names) {
  int n = 0;
  while (names[n]) n++;
  return n;
}
static int name_find(const char *const *names, const char *s) {
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], s) == 0) return i;
  return -1;
}
/* "a, b, c" */
static void name_list(char *buf, size_t n, const char *const *names) {
  buf[0] = '\0';
  size_t used = 0;
  for (int i = 0; names[i] && used < n; i++) {
    int w = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", names[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
}

static const char *const *obs_defaults(lf_theory_kind k) {
  return k == LF_THEORY_U1 ? OBS_U1 : k == LF_THEORY_SCHWINGER ? OBS_SCHWINGER : OBS_PHI4;
}
static const char *const *obs_valid(lf_theory_kind k) {
  return k == LF_THEORY_PHI4 ? OBS_PHI4 : k == LF_THEORY_U1 ? OBS_U1 : OBS_SCHWINGER;
}

/* Shortest "%.Ng" (N = 15..17) that reads back to the same double: exact and readable. */
static void fmt_double(char *buf, size_t n, double v) {
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
static void dependent_defaults(lf_config *c) {
  if (!(c->given & LF_CONFIG_GIVEN_LR)) c->train.optimizer.lr = default_lr(c->train.optimizer.name);
  if (!(c->given & LF_CONFIG_GIVEN_EPS))
    c->train.optimizer.eps = default_eps(c->train.optimizer.name);
  const int gauge = c->theory.name == LF_THEORY_U1 || c->theory.name == LF_THEORY_SCHWINGER;
  if (!(c->given & LF_CONFIG_GIVEN_BASE)) c->model.base = gauge ? LF_BASE_HAAR : LF_BASE_NORMAL;
  if (!(c->given & LF_CONFIG_GIVEN_COUPLING))
    c->model.coupling = gauge ? LF_COUPLING_SPLINE : LF_COUPLING_AFFINE;
  if (!(c->given & LF_CONFIG_GIVEN_OBSERVABLES)) {
    const char *const *obs = obs_defaults(c->theory.name);
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

  lf_model_cfg *m = &cfg->model;
  m->base = LF_BASE_NORMAL;
  m->base_mass = 1.0;
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
  cfg->sample.proposals = 1000000;
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

  dependent_defaults(cfg); /* lr, eps, observables */
}

const char *lf_theory_name(lf_theory_kind k) {
  return (int)k >= 0 && (int)k < 3 ? THEORY_NAMES[k] : "unknown";
}
const char *lf_estimator_name(lf_estimator e) {
  return (int)e >= 0 && (int)e < 2 ? EST_NAMES[e] : "unknown";
}

/* ---- messages ----------------------------------------------------------------------------- */

/* Where a message points: a source name and a 1-based line (0 = no line). */
typedef struct loc {
  const char *src;
  int line;
} loc;

static lf_status fail_at(lf_status s, loc at, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static lf_status fail_at(lf_status s, loc at, const char *key, const char *fmt, ...) {
  char what[MSG_BUF];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  char where[LF_PATH_MAX + 32];
  if (at.line > 0)
    snprintf(where, sizeof where, "%s:%d", at.src, at.line);
  else
    snprintf(where, sizeof where, "%s", at.src);
  if (key) return lf_fail_msg(s, "%s: %s: %s", where, key, what);
  return lf_fail_msg(s, "%s: %s", where, what);
}

/* 'text' for messages: long values are cut, control characters shown as '?'. */
static const char *quoted(char *buf, size_t n, const char *text) {
  size_t len = strlen(text), keep = len > 60 ? 57 : len;
  size_t j = 0;
  buf[j++] = '\'';
  for (size_t i = 0; i < keep && j + 5 < n; i++)
    buf[j++] = iscntrl((unsigned char)text[i]) ? '?' : text[i];
  if (keep < len && j + 5 < n) buf[j++] = '.', buf[j++] = '.', buf[j++] = '.';
  buf[j++] = '\'';
  buf[j] = '\0';
  return buf;
}

/* ---- range rules (used while parsing and by lf_config_validate) -------------------------- */

/* Checks one key's value alone; on a violation writes "what" (no location) and returns 1. */
static int check_key(const lf_config *c, int id, char *what, size_t n) {
  const keydef *k = &KEYS[id];
  char a[64], b[64];
  switch (k->kind) {
  case K_SECTION:
  case K_U64:
    return 0;
  case K_INT:
  case K_LONG: {
    const long v = k->kind == K_INT ? (long)get_int(c, id) : get_long(c, id);
    const char *need = NULL;
    if (k->rule == R_GT0 && v <= 0) need = "must be > 0";
    if (k->rule == R_GE0 && v < 0) need = "must be >= 0";
    if (k->rule == R_GE1 && v < 1) need = "must be >= 1";
    if (k->rule == R_ODD && (v < 1 || v % 2 == 0)) need = "must be odd and >= 1";
    if (k->rule == R_BINS && (v < 1 || v > 64)) need = "must be in [1, 64]";
    if (!need) return 0;
    snprintf(what, n, "%s, got %ld", need, v);
    return 1;
  }
  case K_DOUBLE:
  case K_DURATION: {
    const double v = get_double(c, id);
    fmt_double(a, sizeof a, v);
    if (!isfinite(v)) return snprintf(what, n, "must be a finite number, got %s", a), 1;
    const char *need = NULL;
    if (k->rule == R_GT0 && !(v > 0)) need = "must be > 0";
    if (k->rule == R_GE0 && !(v >= 0)) need = "must be >= 0";
    if (k->rule == R_UNIT_OPEN && !(v >= 0 && v < 1)) need = "must be in [0, 1)";
    if (k->rule == R_OPEN01 && !(v > 0 && v < 1)) need = "must be in (0, 1)";
    if (k->rule == R_UNIT && !(v >= 0 && v <= 1)) need = "must be in [0, 1]";
    if (!need) return 0;
    snprintf(what, n, "%s, got %s", need, a);
    return 1;
  }
  case K_ENUM: {
    const int v = get_int(c, id);
    if (v >= 0 && v < name_count(k->names)) return 0;
    name_list(a, sizeof a, k->names);
    snprintf(what, n, "expected one of %s, got the value %d", a, v);
    return 1;
  }
  case K_NAME: {
    const char *s = (const char *)cfield(c, id);
    if (name_find(k->names, s) >= 0) return 0;
    name_list(a, sizeof a, k->names);
    snprintf(what, n, "expected one of %s, got %s", a, quoted(b, sizeof b, s));
    return 1;
  }
  case K_STR: {
    const char *s = (const char *)cfield(c, id);
    if (strnlen(s, k->size) >= k->size) return snprintf(what, n, "not terminated"), 1;
    if ((k->rule == R_NONEMPTY || k->rule == R_DIR) && !s[0])
      return snprintf(what, n, "must not be empty"), 1;
    /* POSIX allows a line break in a directory name, but every log line and message that
     * names the folder would be split, and line-oriented job scripts would misread it */
    if (k->rule == R_DIR && strpbrk(s, "\n\r"))
      return snprintf(what, n,
                      "must not contain a line break (legal in a POSIX name, but it would split "
                      "the log lines and messages that name the folder), got %s",
                      quoted(b, sizeof b, s)),
             1;
    if (k->rule == R_DIR) {
      /* Every file a run writes is <output>/<name> with a name of at most LF_OUTPUT_NAME_MAX
       * bytes (e.g. plots-hmc/history_condensate.png, hmc.part1023.h5.tmp): refuse here an
       * output that would fail only at its first checkpoint, hours into the run. */
      const size_t len = strlen(s), room = (size_t)LF_PATH_MAX - 2 - LF_OUTPUT_NAME_MAX;
      if (len > room)
        return snprintf(what, n,
                        "too long: %zu bytes, at most %zu (the run writes files of names up to "
                        "%d bytes inside it, in paths of at most %d bytes)",
                        len, room, LF_OUTPUT_NAME_MAX, LF_PATH_MAX - 1),
               1;
      /* and no component may exceed NAME_MAX (255 on Linux): mkdir would refuse it later */
      for (const char *p = s; *p;) {
        const size_t clen = strcspn(p, "/");
        if (clen > 255)
          return snprintf(what, n,
                          "a folder name of %zu bytes (at most 255, the file system's limit)",
                          clen),
                 1;
        p += clen;
        while (*p == '/') p++;
      }
    }
    return 0;
  }
  case K_SHAPE: {
    const int *L = c->theory.shape;
    if (L[0] < 2 || L[1] < 2)
      return snprintf(what, n, "sizes must be >= 2, got [%d, %d]", L[0], L[1]), 1;
    if (L[0] % 2 || L[1] % 2)
      return snprintf(what, n,
                      "sizes must be even (the checkerboard coupling needs even L), got [%d, %d]",
                      L[0], L[1]),
             1;
    if ((long long)L[0] * L[1] > (1LL << 24))
      return snprintf(what, n, "volume %lld is too large (max %lld sites)", (long long)L[0] * L[1],
                      1LL << 24),
             1;
    return 0;
  }
  case K_HIDDEN: {
    const lf_model_cfg *m = &c->model;
    if (m->nhidden < 1 || m->nhidden > LF_MAX_HIDDEN)
      return snprintf(what, n, "must have 1 to %d entries, got %d", LF_MAX_HIDDEN, m->nhidden), 1;
    for (int i = 0; i < m->nhidden; i++)
      if (m->hidden[i] < 1)
        return snprintf(what, n, "entry %d must be >= 1, got %d", i + 1, m->hidden[i]), 1;
    return 0;
  }
  case K_OBS: {
    if (c->nobs < 1 || c->nobs > LF_MAX_OBS) /* an ensemble stores at least one per state */
      return snprintf(what, n, "must have 1 to %d entries, got %d", LF_MAX_OBS, c->nobs), 1;
    for (int i = 0; i < c->nobs; i++) {
      const char *s = c->observables[i];
      if (strnlen(s, LF_NAME_MAX) >= LF_NAME_MAX) return snprintf(what, n, "not terminated"), 1;
      if (name_find(OBS_PHI4, s) < 0 && name_find(OBS_SCHWINGER, s) < 0) {
        char l1[96], l2[96];
        name_list(l1, sizeof l1, OBS_PHI4);
        name_list(l2, sizeof l2, OBS_SCHWINGER);
        snprintf(what, n, "unknown observable %s (phi4: %s; u1/schwinger: %s)",
                 quoted(b, sizeof b, s), l1, l2);
        return 1;
      }
      for (int j = 0; j < i; j++)
        if (strcmp(c->observables[j], s) == 0)
          return snprintf(what, n, "%s is listed twice", quoted(b, sizeof b, s)), 1;
    }
    return 0;
  }
  }
  return 0;
}

/* The location of a key: in the text being parsed if it gave the key (lines[] >= 0),
 * else the source the config came from, without a line. */
static loc key_loc(const lf_config *c, const char *src, const int *lines, int id) {
  if (lines && src && lines[id] >= 0) return (loc){src, lines[id]};
  return (loc){c->source[0] ? c->source : "config", 0};
}

/* Every key's rule, then the cross-key rules. lines/src may be NULL. */
static lf_status validate(const lf_config *c, const char *src, const int *lines) {
  char what[MSG_BUF];
  for (int id = 0; id < NKEYS; id++)
    if (check_key(c, id, what, sizeof what))
      return fail_at(LF_ERR_CONFIG, key_loc(c, src, lines, id), KEYS[id].path, "%s", what);

  /* observables must belong to the theory; blame the key this text gave, if any */
  const char *const *valid = obs_valid(c->theory.name);
  for (int i = 0; i < c->nobs; i++) {
    if (name_find(valid, c->observables[i]) >= 0) continue;
    int id = key_index("observables");
    if (!(lines && lines[id] >= 0) && lines && lines[key_index("theory.name")] >= 0)
      id = key_index("theory.name");
    char l[96], q[64];
    name_list(l, sizeof l, obs_valid(c->theory.name));
    return fail_at(LF_ERR_CONFIG, key_loc(c, src, lines, id), "observables",
                   "%s is not an observable of theory %s (valid: %s)",
                   quoted(q, sizeof q, c->observables[i]), lf_theory_name(c->theory.name), l);
  }

  /* phi4 with lambda = 0 is Gaussian: S = phi (-Laplacian + m2) phi, whose lowest mode (the
   * constant field, eigenvalue m2) makes exp(-S) non-normalizable unless m2 > 0; a flow would
   * train towards a divergent loss and HMC would drift without bound */
  if (c->theory.name == LF_THEORY_PHI4 && c->theory.lambda == 0 && c->theory.m2 <= 0) {
    int id = key_index("theory.lambda");
    if (!(lines && lines[id] >= 0) && lines && lines[key_index("theory.m2")] >= 0)
      id = key_index("theory.m2");
    char m2[64];
    fmt_double(m2, sizeof m2, c->theory.m2);
    return fail_at(LF_ERR_CONFIG, key_loc(c, src, lines, id), KEYS[id].path,
                   "phi4 with theory.lambda = 0 and theory.m2 = %s <= 0 has no normalizable "
                   "distribution (the constant mode's action is m2 phi^2 per site): use "
                   "lambda > 0 or m2 > 0",
                   m2);
  }

  /* stopping on the ESS needs the fresh-sample evaluations it reads */
  if (c->train.target_ess > 0 && (c->train.eval_every == 0 || c->train.eval_samples == 0)) {
    const char *bad = c->train.eval_every == 0 ? "train.eval_every" : "train.eval_samples";
    int id = key_index(bad);
    if (!(lines && lines[id] >= 0) && lines && lines[key_index("train.stop.target_ess")] >= 0)
      id = key_index("train.stop.target_ess");
    return fail_at(LF_ERR_CONFIG, key_loc(c, src, lines, id), KEYS[id].path,
                   "train.stop.target_ess = %g stops on the fresh-sample ESS, which needs "
                   "train.eval_every > 0 and train.eval_samples > 0 (got %ld and %ld)",
                   c->train.target_ess, c->train.eval_every, c->train.eval_samples);
  }

  /* batch doubling needs room to double into */
  const lf_train_cfg *t = &c->train;
  if (t->batch_double_every > 0 && t->batch_max != 0 && t->batch_max < t->batch) {
    int id = key_index("train.schedule.batch_max");
    if (!(lines && lines[id] >= 0) && lines && lines[key_index("train.batch")] >= 0)
      id = key_index("train.batch");
    return fail_at(LF_ERR_CONFIG, key_loc(c, src, lines, id), "train.schedule.batch_max",
                   "must be >= train.batch (%d) when batch doubling is on, got %d", t->batch,
                   t->batch_max);
  }
  return LF_OK;
}

lf_status lf_config_validate(const lf_config *cfg) {
  if (!cfg) return LF_FAIL(LF_ERR_INVALID, "lf_config_validate: cfg is NULL");
  return validate(cfg, NULL, NULL);
}

/* The flow's rules on the model and theory sections (only commands that build a flow call
 * them, so an HMC-only card is not refused for a flow it never builds). The config is
 * complete here, so a message names its source, not a line. */
static lf_status flow_rules(const lf_config *c) {
  /* the gauge flow: link angles need the Haar base and circular splines, and the splines
   * need a gauge theory on sides that are multiples of 4 (stripe masks of period 4) */
  const lf_model_cfg *m = &c->model;
  const int gauge_theory = c->theory.name == LF_THEORY_U1 || c->theory.name == LF_THEORY_SCHWINGER;
  const int spline = m->coupling == LF_COUPLING_SPLINE, haar = m->base == LF_BASE_HAAR;
  const char *gmsg = NULL, *gkey = NULL;
  if (gauge_theory && !(spline && haar)) {
    gmsg = "link angles need the gauge-equivariant flow (model.base haar, model.coupling spline)";
    gkey = spline ? "model.base" : "model.coupling";
  } else if (!gauge_theory && (spline || haar)) {
    gmsg = "model.base haar and model.coupling spline are the U(1) gauge flow: theory.name must "
           "be u1 or schwinger";
    gkey = spline ? "model.coupling" : "model.base";
  } else if (spline && (c->theory.shape[0] % 4 || c->theory.shape[1] % 4)) {
    gmsg = "the gauge flow's stripe masks need both sides to be multiples of 4";
    gkey = "theory.shape";
  }
  if (gmsg) {
    const int id = key_index(gkey);
    return fail_at(LF_ERR_CONFIG, key_loc(c, NULL, NULL, id), KEYS[id].path,
                   "%s (theory %s %dx%d, base %s, coupling %s)", gmsg,
                   lf_theory_name(c->theory.name), c->theory.shape[0], c->theory.shape[1],
                   BASE_NAMES[m->base], COUPLING_NAMES[m->coupling]);
  }
  return LF_OK;
}

lf_status lf_config_validate_flow(const lf_config *cfg) {
  if (!cfg) return LF_FAIL(LF_ERR_INVALID, "lf_config_validate_flow: cfg is NULL");
  lf_status rc = validate(cfg, NULL, NULL);
  return rc != LF_OK ? rc : flow_rules(cfg);
}

lf_status lf_config_set_output(lf_config *cfg, const char *dir) {
  if (!cfg || !dir) return LF_FAIL(LF_ERR_INVALID, "lf_config_set_output: NULL argument");
  const int id = key_index("output");
  if (strlen(dir) >= sizeof cfg->output)
    return fail_at(LF_ERR_CONFIG, (loc){"--output", 0}, NULL, "too long (%zu bytes, at most %zu)",
                   strlen(dir), sizeof cfg->output - 1);
  lf_config work = *cfg;
  memcpy(work.output, dir, strlen(dir) + 1);
  char what[MSG_BUF];
  if (check_key(&work, id, what, sizeof what))
    return fail_at(LF_ERR_CONFIG, (loc){"--output", 0}, NULL, "%s", what);
  *cfg = work;
  return LF_OK;
}

/* ---- unknown keys: suggestions ------------------------------------------------------------ */

/* Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions). */
static int osa_distance(const char *a, const char *b) {
  enum { M = 48 };
  const size_t la = strlen(a), lb = strlen(b);
  if (la >= M || lb >= M) return 99;
  int d[M][M];
  for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      const int cost = a[i - 1] != b[j - 1];
      int v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1;
      d[i][j] = v;
    }
  return d[la][lb];
}

/* Is key k a direct child of section `parent` ("" = top level)? Sets *leaf to its name. */
static int child_of(int k, const char *parent, const char **leaf) {
  const char *p = KEYS[k].path;
  const size_t n = strlen(parent);
  if (n) {
    if (strncmp(p, parent, n) != 0 || p[n] != '.') return 0;
    p += n + 1;
  }
  if (strchr(p, '.')) return 0;
  *leaf = p;
  return 1;
}

/* The closest child of `parent` to `name`: distance <= 3 (and less than the name's length)
 * or one is a prefix of the other; else a key anywhere whose last part is `name`. */
static int suggest(const char *parent, const char *name) {
  int best = -1, bestd = 99;
  const size_t ln = strlen(name);
  for (int k = 0; k < NKEYS; k++) {
    const char *leaf;
    if (!child_of(k, parent, &leaf)) continue;
    int d = osa_distance(name, leaf);
    const size_t ll = strlen(leaf);
    const int prefix = ln >= 2 && (strncmp(leaf, name, ln) == 0 || strncmp(name, leaf, ll) == 0);
    if (!((d <= 3 && (size_t)d < ln) || prefix)) continue;
    if (prefix && d > 3) d = 3;
    if (d < bestd) best = k, bestd = d;
  }
  if (best >= 0) return best;
  for (int k = 0; k < NKEYS; k++) {
    const char *dot = strrchr(KEYS[k].path, '.');
    if (dot && strcmp(dot + 1, name) == 0) return k;
  }
  return -1;
}

/* Message for an unknown dotted key: find the first part that is not a key, suggest a
 * replacement for it, and keep the rest if the repaired path is a key. */
static lf_status unknown_key(loc at, const char *path) {
  char parent[PATH_BUF] = "", part[PATH_BUF], q[96];
  const char *p = path;
  for (;;) {
    const char *dot = strchr(p, '.');
    const size_t n = dot ? (size_t)(dot - p) : strlen(p);
    snprintf(part, sizeof part, "%.*s", (int)n, p);
    char probe[2 * PATH_BUF + 2];
    snprintf(probe, sizeof probe, "%s%s%s", parent, parent[0] ? "." : "", part);
    const int id = key_index(probe);
    if (id < 0 || !dot) break;
    if (KEYS[id].kind != K_SECTION)
      return fail_at(LF_ERR_CONFIG, at, NULL, "unknown key %s (%s takes a value, not keys)",
                     quoted(q, sizeof q, path), KEYS[id].path);
    snprintf(parent, sizeof parent, "%s", KEYS[id].path);
    p = dot + 1;
  }
  const int s = suggest(parent, part);
  if (s >= 0) {
    char fixed[3 * PATH_BUF];
    const char *rest = p + strlen(part);
    snprintf(fixed, sizeof fixed, "%s%s", KEYS[s].path, rest);
    const char *say = key_index(fixed) >= 0 ? fixed : KEYS[s].path;
    return fail_at(LF_ERR_CONFIG, at, NULL, "unknown key %s (did you mean '%s'?)",
                   quoted(q, sizeof q, path), say);
  }
  char list[512] = "";
  size_t used = 0;
  for (int k = 0; k < NKEYS && used < sizeof list; k++) {
    const char *leaf;
    if (!child_of(k, parent, &leaf)) continue;
    const int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", leaf);
    if (w > 0) used += (size_t)w;
  }
  return fail_at(LF_ERR_CONFIG, at, NULL, "unknown key %s (valid %s%s%s: %s)",
                 quoted(q, sizeof q, path), parent[0] ? "keys of '" : "top-level keys",
                 parent[0] ? parent : "", parent[0] ? "'" : "", list);
}

/* ---- reading values ----------------------------------------------------------------------- */

typedef struct pctx {
  const char *src; /* name in messages                                         */
  int is_set;      /* an override: no line numbers                             */
  yaml_document_t *doc;
  lf_config *cfg;   /* the copy being filled                                */
  int lines[NKEYS]; /* line of each key this text gave (0 = no line), -1 = not */
  unsigned given;   /* LF_CONFIG_GIVEN_* bits this text set                  */
} pctx;

static int node_line(const pctx *c, const yaml_node_t *n) {
  return c->is_set ? 0 : (int)n->start_mark.line + 1;
}
static loc at_node(const pctx *c, const yaml_node_t *n) {
  return (loc){c->src, node_line(c, n)};
}

static const char *scalar(const yaml_node_t *n) {
  return (const char *)n->data.scalar.value;
}
static int is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
  const char *s = scalar(n);
  return !s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}
/* "a mapping", "a list", "'text'", "nothing" for messages. */
static const char *describe(char *buf, size_t n, const yaml_node_t *v) {
  if (v->type == YAML_MAPPING_NODE) return "a mapping";
  if (v->type == YAML_SEQUENCE_NODE) return "a list";
  if (is_null(v)) return "nothing";
  return quoted(buf, n, scalar(v));
}

typedef enum numrc { NUM_OK, NUM_SYNTAX, NUM_RANGE, NUM_NEGATIVE } numrc;

/* A decimal integer (optional sign, digits only) in [lo, hi]. */
static numrc parse_ll(const char *s, long long lo, long long hi, long long *out) {
  const char *p = s + (*s == '+' || *s == '-');
  if (!*p) return NUM_SYNTAX;
  for (const char *q = p; *q; q++)
    if (!isdigit((unsigned char)*q)) return NUM_SYNTAX;
  errno = 0;
  const long long v = strtoll(s, NULL, 10);
  if (errno == ERANGE || v < lo || v > hi) return NUM_RANGE;
  *out = v;
  return NUM_OK;
}
static numrc parse_u64(const char *s, uint64_t *out) {
  if (*s == '-') {
    long long dummy;
    return parse_ll(s, LLONG_MIN, LLONG_MAX, &dummy) == NUM_SYNTAX ? NUM_SYNTAX : NUM_NEGATIVE;
  }
  const char *p = s + (*s == '+');
  if (!*p) return NUM_SYNTAX;
  for (const char *q = p; *q; q++)
    if (!isdigit((unsigned char)*q)) return NUM_SYNTAX;
  errno = 0;
  const unsigned long long v = strtoull(p, NULL, 10);
  if (errno == ERANGE) return NUM_RANGE;
  *out = (uint64_t)v;
  return NUM_OK;
}
/* A number as strtod reads it, the whole text, with at least one digit. */
static numrc parse_double(const char *s, double *out) {
  if (!*s || isspace((unsigned char)*s)) return NUM_SYNTAX;
  char *end;
  errno = 0;
  const double v = strtod(s, &end);
  if (end == s || *end) return NUM_SYNTAX;
  *out = v;
  return NUM_OK;
}
/* Seconds: a number, or parts <number><unit> with units d, h, m, s in that order
 * ("90s", "30m", "2h", "1h30m", "1d 12h", "1.5h"). */
static numrc parse_duration(const char *s, double *out) {
  if (parse_double(s, out) == NUM_OK) return NUM_OK;
  static const char units[] = "dhms";
  static const double secs[] = {86400.0, 3600.0, 60.0, 1.0};
  double total = 0.0;
  int next = 0, parts = 0;
  const char *p = s;
  while (*p) {
    if (*p == ' ') {
      p++;
      continue;
    }
    if (!isdigit((unsigned char)*p) && *p != '.') return NUM_SYNTAX;
    char *end;
    const double v = strtod(p, &end);
    if (end == p) return NUM_SYNTAX;
    const char *u = *end ? strchr(units, *end) : NULL;
    if (!u || (int)(u - units) < next) return NUM_SYNTAX;
    next = (int)(u - units) + 1;
    total += v * secs[u - units];
    parts++;
    p = end + 1;
  }
  if (!parts) return NUM_SYNTAX;
  *out = total;
  return NUM_OK;
}

/* Reads one integer-like scalar for key id (entry > 0 names a list entry in messages). */
static lf_status read_ll(pctx *c, int id, const yaml_node_t *v, int entry, long long lo,
                         long long hi, long long *out) {
  char q[96], key[PATH_BUF + 16];
  if (entry)
    snprintf(key, sizeof key, "%s: entry %d", KEYS[id].path, entry);
  else
    snprintf(key, sizeof key, "%s", KEYS[id].path);
  if (v->type != YAML_SCALAR_NODE || is_null(v))
    return fail_at(LF_ERR_CONFIG, at_node(c, v), key, "%s (expected an integer, got %s)",
                   is_null(v) ? "missing value" : "wrong type", describe(q, sizeof q, v));
  switch (parse_ll(scalar(v), lo, hi, out)) {
  case NUM_OK:
    return LF_OK;
  case NUM_RANGE:
    return fail_at(LF_ERR_CONFIG, at_node(c, v), key, "integer out of range [%lld, %lld], got %s",
                   lo, hi, quoted(q, sizeof q, scalar(v)));
  default:
    return fail_at(LF_ERR_CONFIG, at_node(c, v), key, "expected an integer, got %s",
                   quoted(q, sizeof q, scalar(v)));
  }
}

static lf_status read_string(pctx *c, int id, const yaml_node_t *v, char *dst, size_t size,
                             int null_ok) {
  char q[96];
  if (v->type != YAML_SCALAR_NODE || (is_null(v) && !null_ok))
    return fail_at(LF_ERR_CONFIG, at_node(c, v), KEYS[id].path, "%s (expected a string, got %s)",
                   is_null(v) ? "missing value" : "wrong type", describe(q, sizeof q, v));
  const char *s = is_null(v) ? "" : scalar(v);
  const size_t len = strlen(s);
  if (!is_null(v) && len != v->data.scalar.length)
    return fail_at(LF_ERR_CONFIG, at_node(c, v), KEYS[id].path, "contains a NUL character");
  if (len >= size)
    return fail_at(LF_ERR_CONFIG, at_node(c, v), KEYS[id].path, "too long (%zu bytes, at most %zu)",
                   len, size - 1);
  memcpy(dst, s, len + 1);
  return LF_OK;
}

/* Stores the value node v of leaf key id into c->cfg. */
static lf_status set_leaf(pctx *c, int id, const yaml_node_t *v) {
  const keydef *k = &KEYS[id];
  lf_config *cfg = c->cfg;
  char q[96], l[160];
  lf_status rc = LF_OK;
  switch (k->kind) {
  case K_SECTION:
    return LF_FAIL(LF_ERR_INVALID, "set_leaf on section %s", k->path);
  case K_INT: {
    long long x;
    if ((rc = read_ll(c, id, v, 0, INT_MIN, INT_MAX, &x))) return rc;
    set_int(cfg, id, (int)x);
    break;
  }
  case K_LONG: {
    long long x;
    if ((rc = read_ll(c, id, v, 0, LONG_MIN, LONG_MAX, &x))) return rc;
    const long y = (long)x;
    memcpy(field(cfg, id), &y, sizeof y);
    break;
  }
  case K_U64: {
    if (v->type != YAML_SCALAR_NODE || is_null(v))
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "%s (expected an integer, got %s)",
                     is_null(v) ? "missing value" : "wrong type", describe(q, sizeof q, v));
    uint64_t x = 0;
    switch (parse_u64(scalar(v), &x)) {
    case NUM_OK:
      break;
    case NUM_NEGATIVE:
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "must be >= 0, got %s", scalar(v));
    case NUM_RANGE:
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path,
                     "integer out of range [0, %llu], got %s", (unsigned long long)UINT64_MAX,
                     quoted(q, sizeof q, scalar(v)));
    default:
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "expected an integer, got %s",
                     quoted(q, sizeof q, scalar(v)));
    }
    memcpy(field(cfg, id), &x, sizeof x);
    break;
  }
  case K_DOUBLE:
  case K_DURATION: {
    const int dur = k->kind == K_DURATION;
    const char *expect = dur ? "seconds or a duration like 90s, 30m, 2h, 1h30m, 1d" : "a number";
    if (v->type != YAML_SCALAR_NODE || is_null(v))
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "%s (expected %s, got %s)",
                     is_null(v) ? "missing value" : "wrong type", expect, describe(q, sizeof q, v));
    double x = 0.0;
    if ((dur ? parse_duration(scalar(v), &x) : parse_double(scalar(v), &x)) != NUM_OK)
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "expected %s, got %s", expect,
                     quoted(q, sizeof q, scalar(v)));
    if (!isfinite(x))
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "must be a finite number, got %s",
                     quoted(q, sizeof q, scalar(v)));
    memcpy(field(cfg, id), &x, sizeof x);
    break;
  }
  case K_ENUM:
  case K_NAME: {
    name_list(l, sizeof l, k->names);
    if (v->type != YAML_SCALAR_NODE || is_null(v))
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "%s (expected one of %s, got %s)",
                     is_null(v) ? "missing value" : "wrong type", l, describe(q, sizeof q, v));
    const int i = name_find(k->names, scalar(v));
    if (i < 0)
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "expected one of %s, got %s", l,
                     quoted(q, sizeof q, scalar(v)));
    if (k->kind == K_ENUM)
      set_int(cfg, id, i);
    else
      snprintf((char *)field(cfg, id), k->size, "%s", k->names[i]);
    break;
  }
  case K_STR:
    if ((rc = read_string(c, id, v, (char *)field(cfg, id), k->size, k->rule == R_NONE))) return rc;
    break;
  case K_SHAPE: {
    if (v->type != YAML_SEQUENCE_NODE)
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path,
                     "expected a list of 2 integers [L0, L1], got %s", describe(q, sizeof q, v));
    const yaml_node_item_t *it = v->data.sequence.items.start;
    const long n = (long)(v->data.sequence.items.top - it);
    if (n != 2)
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path,
                     "expected a list of 2 integers [L0, L1], got %ld entries", n);
    for (int i = 0; i < 2; i++) {
      long long x;
      const yaml_node_t *e = yaml_document_get_node(c->doc, it[i]);
      if ((rc = read_ll(c, id, e, i + 1, INT_MIN, INT_MAX, &x))) return rc;
      cfg->theory.shape[i] = (int)x;
    }
    break;
  }
  case K_HIDDEN: {
    if (v->type != YAML_SEQUENCE_NODE)
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path,
                     "expected a list of integers (channels per conv layer), got %s",
                     describe(q, sizeof q, v));
    const yaml_node_item_t *it = v->data.sequence.items.start;
    const long n = (long)(v->data.sequence.items.top - it);
    if (n < 1 || n > LF_MAX_HIDDEN)
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "must have 1 to %d entries, got %ld",
                     LF_MAX_HIDDEN, n);
    int h[LF_MAX_HIDDEN] = {0};
    for (long i = 0; i < n; i++) {
      long long x;
      const yaml_node_t *e = yaml_document_get_node(c->doc, it[i]);
      if ((rc = read_ll(c, id, e, (int)i + 1, INT_MIN, INT_MAX, &x))) return rc;
      if (x < 1)
        return fail_at(LF_ERR_CONFIG, at_node(c, e), k->path, "entry %ld must be >= 1, got %lld",
                       i + 1, x);
      h[i] = (int)x;
    }
    memcpy(cfg->model.hidden, h, sizeof h);
    cfg->model.nhidden = (int)n;
    break;
  }
  case K_OBS: {
    if (v->type != YAML_SEQUENCE_NODE)
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path,
                     "expected a list of observable names, got %s", describe(q, sizeof q, v));
    const yaml_node_item_t *it = v->data.sequence.items.start;
    const long n = (long)(v->data.sequence.items.top - it);
    if (n > LF_MAX_OBS)
      return fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "at most %d entries, got %ld",
                     LF_MAX_OBS, n);
    memset(cfg->observables, 0, sizeof cfg->observables);
    cfg->nobs = 0;
    for (long i = 0; i < n; i++) {
      const yaml_node_t *e = yaml_document_get_node(c->doc, it[i]);
      if (e->type != YAML_SCALAR_NODE || is_null(e))
        return fail_at(LF_ERR_CONFIG, at_node(c, e), k->path,
                       "entry %ld: expected an observable name, got %s", i + 1,
                       describe(q, sizeof q, e));
      if (strlen(scalar(e)) >= LF_NAME_MAX)
        return fail_at(LF_ERR_CONFIG, at_node(c, e), k->path, "unknown observable %s",
                       quoted(q, sizeof q, scalar(e)));
      snprintf(cfg->observables[i], LF_NAME_MAX, "%s", scalar(e));
      cfg->nobs = (int)i + 1;
      char what[MSG_BUF];
      if (check_key(cfg, id, what, sizeof what)) /* per entry, to point at its line */
        return fail_at(LF_ERR_CONFIG, at_node(c, e), k->path, "%s", what);
    }
    break;
  }
  }
  c->given |= k->given;
  char what[MSG_BUF];
  if (check_key(cfg, id, what, sizeof what))
    return fail_at(LF_ERR_CONFIG, (loc){c->src, c->lines[id]}, k->path, "%s", what);
  return LF_OK;
}

static lf_status walk_map(pctx *c, const yaml_node_t *map, const char *prefix);

/* Applies value node v to key id (a section or a leaf). */
static lf_status apply(pctx *c, int id, const yaml_node_t *v) {
  if (KEYS[id].kind != K_SECTION) return set_leaf(c, id, v);
  if (is_null(v)) return LF_OK; /* "train:" with nothing under it */
  if (v->type != YAML_MAPPING_NODE) {
    char q[96];
    return fail_at(LF_ERR_CONFIG, at_node(c, v), KEYS[id].path, "expected a mapping, got %s",
                   describe(q, sizeof q, v));
  }
  return walk_map(c, v, KEYS[id].path);
}

static lf_status walk_map(pctx *c, const yaml_node_t *map, const char *prefix) {
  for (const yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
       pr++) {
    const yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
    const yaml_node_t *vn = yaml_document_get_node(c->doc, pr->value);
    char q[96], path[PATH_BUF];
    if (kn->type != YAML_SCALAR_NODE)
      return fail_at(LF_ERR_CONFIG, at_node(c, kn), prefix[0] ? prefix : NULL,
                     "keys must be names, got %s", describe(q, sizeof q, kn));
    const char *name = scalar(kn);
    snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", name);
    if (strlen(name) + strlen(prefix) + 2 > sizeof path || strchr(name, '.') || !name[0])
      return fail_at(LF_ERR_CONFIG, at_node(c, kn), NULL, "unknown key %s",
                     quoted(q, sizeof q, path));
    const int id = key_index(path);
    if (id < 0) return unknown_key(at_node(c, kn), path);
    if (c->lines[id] >= 0) {
      if (c->lines[id] > 0)
        return fail_at(LF_ERR_CONFIG, at_node(c, kn), path,
                       "duplicate key (first given at line %d)", c->lines[id]);
      return fail_at(LF_ERR_CONFIG, at_node(c, kn), path, "duplicate key");
    }
    c->lines[id] = node_line(c, kn);
    lf_status rc = apply(c, id, vn);
    if (rc != LF_OK) return rc;
  }
  return LF_OK;
}

/* ---- libyaml front end -------------------------------------------------------------------- */

/* 1-based line of byte offset off in text. */
static int line_of_offset(const char *text, size_t len, size_t off) {
  int line = 1;
  for (size_t i = 0; i < off && i < len; i++) line += text[i] == '\n';
  return line;
}

/* Message for a libyaml failure; prefix_key names the --set key (or NULL). */
static lf_status yaml_error(const pctx *c, const yaml_parser_t *p, const char *text, size_t len,
                            const char *prefix_key) {
  if (p->error == YAML_MEMORY_ERROR)
    return lf_fail_msg(LF_ERR_NOMEM, "%s: out of memory while parsing YAML", c->src);
  const char *problem = p->problem ? p->problem : "unknown problem";
  int line, col;
  if (p->error == YAML_READER_ERROR) { /* encoding problems: libyaml gives a byte offset */
    line = line_of_offset(text, len, p->problem_offset);
    col = 0;
  } else {
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
  }
  char where[LF_PATH_MAX + 64];
  if (c->is_set)
    snprintf(where, sizeof where, "%s: %s: YAML syntax error in the value", c->src,
             prefix_key ? prefix_key : "?");
  else if (col > 0)
    snprintf(where, sizeof where, "%s:%d:%d: YAML syntax error", c->src, line, col);
  else
    snprintf(where, sizeof where, "%s:%d: YAML syntax error", c->src, line);
  if (p->context && c->is_set) /* a one-line value: its line numbers say nothing */
    return lf_fail_msg(LF_ERR_CONFIG, "%s: %s (%s)", where, problem, p->context);
  if (p->context)
    return lf_fail_msg(LF_ERR_CONFIG, "%s: %s (%s at line %d)", where, problem, p->context,
                       (int)p->context_mark.line + 1);
  return lf_fail_msg(LF_ERR_CONFIG, "%s: %s", where, problem);
}

/* Loads the single document of text into doc (the caller deletes it when LF_OK is
 * returned). *empty = 1 when the text holds no document (only comments, or nothing). */
/* Refuses nesting deeper than LF_CONFIG_MAX_DEPTH before the document is built: libyaml's
 * scanner checks every open flow level on each token, so the time of a deep card grows with
 * the square of its depth (a 400 KB card of '[' did not finish in minutes), and the walk
 * below recurses once per level. The event scan stops at the first level too many; a
 * syntax error is left to the loader, which reports it with its position. */
static lf_status check_depth(const pctx *c, const char *text, size_t len, const char *set_key) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    return lf_fail_msg(LF_ERR_NOMEM, "%s: cannot initialize the YAML parser", c->src);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  lf_status rc = LF_OK;
  int depth = 0, done = 0;
  while (!done && rc == LF_OK) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) break;
    if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
      if (++depth > LF_CONFIG_MAX_DEPTH)
        rc = fail_at(LF_ERR_CONFIG, (loc){c->src, c->is_set ? 0 : (int)ev.start_mark.line + 1},
                     set_key, "nested deeper than %d levels (column %d); not a run card",
                     LF_CONFIG_MAX_DEPTH, (int)ev.start_mark.column + 1);
    } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
      depth--;
    } else if (ev.type == YAML_STREAM_END_EVENT) {
      done = 1;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  return rc;
}

/* Refuses explicit tags other than a node's own default (!!str on a scalar, !!seq, !!map):
 * the walk reads every scalar by its text, so `!!binary aGk=`, `!!float 3` or `!custom x`
 * would silently mean the plain text, not what the tag says. */
static lf_status check_tags(const pctx *c, const yaml_document_t *doc, const char *set_key) {
  static const char core[] = "tag:yaml.org,2002:";
  for (const yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++) {
    const char *tag = (const char *)n->tag;
    const char *want = n->type == YAML_SCALAR_NODE     ? YAML_DEFAULT_SCALAR_TAG
                       : n->type == YAML_SEQUENCE_NODE ? YAML_DEFAULT_SEQUENCE_TAG
                                                       : YAML_DEFAULT_MAPPING_TAG;
    if (!tag || !strcmp(tag, want)) continue;
    const int is_core = !strncmp(tag, core, sizeof core - 1);
    return fail_at(LF_ERR_CONFIG, at_node(c, n), set_key,
                   "YAML tag '%s%.60s%s' is not supported in a run card (values are read as "
                   "plain text); remove it",
                   is_core ? "!!" : "", is_core ? tag + sizeof core - 1 : tag,
                   strlen(is_core ? tag + sizeof core - 1 : tag) > 60 ? "..." : "");
  }
  return LF_OK;
}

static lf_status load_doc(pctx *c, yaml_document_t *doc, const char *text, const char *set_key,
                          int *empty) {
  yaml_parser_t parser;
  const size_t len = strlen(text);
  if (len > LF_CONFIG_MAX_BYTES)
    return fail_at(LF_ERR_CONFIG, (loc){c->src, 0}, set_key,
                   "%zu bytes, larger than the %d bytes (1 MiB) a run card may have", len,
                   LF_CONFIG_MAX_BYTES);
  lf_status rc = check_depth(c, text, len, set_key);
  if (rc != LF_OK) return rc;
  if (!yaml_parser_initialize(&parser))
    return lf_fail_msg(LF_ERR_NOMEM, "%s: cannot initialize the YAML parser", c->src);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, doc)) {
    rc = yaml_error(c, &parser, text, len, set_key);
    yaml_parser_delete(&parser);
    return rc;
  }
  *empty = yaml_document_get_root_node(doc) == NULL;
  if (!*empty && (rc = check_tags(c, doc, set_key)) != LF_OK) {
    yaml_document_delete(doc);
    yaml_parser_delete(&parser);
    return rc;
  }
  if (!*empty) { /* a second document is an error; so is garbage after the first */
    yaml_document_t extra;
    if (!yaml_parser_load(&parser, &extra)) {
      rc = yaml_error(c, &parser, text, len, set_key);
    } else {
      const yaml_node_t *r = yaml_document_get_root_node(&extra);
      if (r)
        rc = fail_at(LF_ERR_CONFIG, (loc){c->src, c->is_set ? 0 : (int)r->start_mark.line + 1},
                     set_key, "only one YAML document is allowed, found a second one");
      yaml_document_delete(&extra);
    }
    if (rc != LF_OK) yaml_document_delete(doc);
  }
  yaml_parser_delete(&parser);
  return rc;
}

static void pctx_init(pctx *c, lf_config *work, const char *src, int is_set) {
  memset(c, 0, sizeof *c);
  c->src = src;
  c->is_set = is_set;
  c->cfg = work;
  for (int i = 0; i < NKEYS; i++) c->lines[i] = -1;
}

/* Shared tail of parse and set: dependent defaults, validation, commit. */
static lf_status finish(pctx *c, lf_config *cfg, lf_config *work) {
  work->given |= c->given;
  dependent_defaults(work);
  lf_status rc = validate(work, c->src, c->lines);
  if (rc == LF_OK) *cfg = *work;
  return rc;
}

lf_status lf_config_parse_string(lf_config *cfg, const char *text, const char *source) {
  if (!cfg || !text) return LF_FAIL(LF_ERR_INVALID, "lf_config_parse_string: NULL argument");
  const char *src = source && source[0] ? source : "<string>";
  if (strlen(src) >= LF_PATH_MAX)
    return LF_FAIL(LF_ERR_INVALID, "config source name longer than %d bytes", LF_PATH_MAX - 1);
  lf_config *work = malloc(sizeof *work); /* ~4 KB; kept off the stack with pctx */
  pctx *c = malloc(sizeof *c);
  if (!work || !c) {
    free(work);
    free(c);
    return LF_FAIL(LF_ERR_NOMEM, "config parse of %s", src);
  }
  *work = *cfg;
  pctx_init(c, work, src, 0);
  yaml_document_t doc;
  int empty = 0;
  lf_status rc = load_doc(c, &doc, text, NULL, &empty);
  if (rc == LF_OK) {
    c->doc = &doc;
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    char q[96];
    if (empty || is_null(root))
      rc = LF_OK;
    else if (root->type != YAML_MAPPING_NODE)
      rc = fail_at(LF_ERR_CONFIG, at_node(c, root), NULL,
                   "expected a mapping of keys at the top level, got %s",
                   describe(q, sizeof q, root));
    else
      rc = walk_map(c, root, "");
    yaml_document_delete(&doc);
  }
  if (rc == LF_OK) {
    snprintf(work->source, sizeof work->source, "%s", src);
    rc = finish(c, cfg, work);
  }
  free(work);
  free(c);
  return rc;
}

lf_status lf_config_load(lf_config *cfg, const char *path) {
  if (!cfg || !path) return LF_FAIL(LF_ERR_INVALID, "lf_config_load: NULL argument");
  lf_config_defaults(cfg); /* defined on every return */
  FILE *f = fopen(path, "rb");
  if (!f) return lf_fail_msg(LF_ERR_IO, "%s: cannot open config: %s", path, strerror(errno));
  enum { MAX_BYTES = LF_CONFIG_MAX_BYTES };
  char *text = malloc(MAX_BYTES + 1);
  if (!text) {
    fclose(f);
    return LF_FAIL(LF_ERR_NOMEM, "reading %s", path);
  }
  const size_t n = fread(text, 1, MAX_BYTES + 1, f);
  const int err = ferror(f) ? errno : 0;
  fclose(f);
  lf_status rc = LF_OK;
  if (err)
    rc = lf_fail_msg(LF_ERR_IO, "%s: cannot read config: %s", path, strerror(err));
  else if (n > MAX_BYTES)
    rc = lf_fail_msg(LF_ERR_CONFIG, "%s: larger than the %d bytes (1 MiB) a run card may have",
                     path, MAX_BYTES);
  else {
    text[n] = '\0';
    if (strlen(text) != n)
      rc = lf_fail_msg(LF_ERR_CONFIG, "%s:%d: contains a NUL byte (not a text file?)", path,
                       line_of_offset(text, n, strlen(text)));
  }
  if (rc == LF_OK) rc = lf_config_parse_string(cfg, text, path);
  free(text);
  return rc;
}

/* Applies one "key=value" to work (no cross-key rules); c is a fresh context for it, whose
 * lines[] and given then say which keys it set. */
static lf_status set_one(pctx *c, lf_config *work, const char *assignment) {
  static const char *const SRC = "--set";
  if (!assignment) return LF_FAIL(LF_ERR_INVALID, "lf_config_set: NULL assignment");
  pctx_init(c, work, SRC, 1);
  char q[96];
  const char *eq = strchr(assignment, '=');
  if (!eq)
    return fail_at(LF_ERR_CONFIG, (loc){SRC, 0}, NULL, "expected key=value, got %s",
                   quoted(q, sizeof q, assignment));
  /* the key, trimmed */
  const char *a = assignment, *b = eq;
  while (a < b && isspace((unsigned char)*a)) a++;
  while (b > a && isspace((unsigned char)b[-1])) b--;
  char key[PATH_BUF];
  if (b == a || (size_t)(b - a) >= sizeof key)
    return fail_at(LF_ERR_CONFIG, (loc){SRC, 0}, NULL, "expected key=value, got %s",
                   quoted(q, sizeof q, assignment));
  snprintf(key, sizeof key, "%.*s", (int)(b - a), a);
  const int id = key_index(key);
  if (id < 0) return unknown_key((loc){SRC, 0}, key);

  yaml_document_t doc;
  int empty = 0;
  lf_status rc = load_doc(c, &doc, eq + 1, key, &empty);
  if (rc == LF_OK && empty) { /* "key=": a null value (a leaf then says "missing value") */
    yaml_document_delete(&doc);
    rc = load_doc(c, &doc, "~", key, &empty);
  }
  if (rc == LF_OK) {
    c->lines[id] = 0;
    c->doc = &doc;
    rc = apply(c, id, yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
  }
  return rc;
}

lf_status lf_config_set(lf_config *cfg, const char *assignment) {
  if (!assignment) return LF_FAIL(LF_ERR_INVALID, "lf_config_set: NULL argument");
  return lf_config_set_list(cfg, 1, &assignment);
}

lf_status lf_config_set_list(lf_config *cfg, int n, const char *const *assignments) {
  if (!cfg || (n > 0 && !assignments))
    return LF_FAIL(LF_ERR_INVALID, "lf_config_set_list: NULL argument");
  if (n <= 0) return LF_OK;
  lf_config *work = malloc(sizeof *work);
  pctx *c = malloc(sizeof *c), *all = malloc(sizeof *all);
  if (!work || !c || !all) {
    free(work);
    free(c);
    free(all);
    return LF_FAIL(LF_ERR_NOMEM, "--set");
  }
  *work = *cfg;
  pctx_init(all, work, "--set", 1);
  lf_status rc = LF_OK;
  /* each override is read alone (a key twice in one value is a duplicate; in two overrides
   * the later wins), and the keys any of them gave are what the cross-key rules blame */
  for (int i = 0; i < n && rc == LF_OK; i++) {
    rc = set_one(c, work, assignments[i]);
    for (int k = 0; k < NKEYS; k++)
      if (c->lines[k] >= 0) all->lines[k] = 0;
    all->given |= c->given;
  }
  if (rc == LF_OK) rc = finish(all, cfg, work);
  free(work);
  free(c);
  free(all);
  return rc;
}

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct sbuf {
  char *p;
  size_t n, cap;
  int oom;
} sbuf;

static void sb_put(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void sb_put(sbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    const int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (w < 0) {
      b->oom = 1;
      return;
    }
    if (b->p && (size_t)w < b->cap - b->n) {
      b->n += (size_t)w;
      return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + (size_t)w + 1) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
}

/* A YAML double-quoted string: escapes ", \ and control characters; UTF-8 passes through. */
static void sb_quoted(sbuf *b, const char *s) {
  sb_put(b, "\"");
  for (; *s; s++) {
    const unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      sb_put(b, "\\%c", ch);
    else if (ch < 0x20 || ch == 0x7f)
      sb_put(b, "\\x%02x", ch);
    else
      sb_put(b, "%c", ch);
  }
  sb_put(b, "\"");
}

static void sb_value(sbuf *b, const lf_config *c, int id) {
  const keydef *k = &KEYS[id];
  char d[64];
  switch (k->kind) {
  case K_SECTION:
    break;
  case K_INT:
    sb_put(b, "%d", get_int(c, id));
    break;
  case K_LONG:
    sb_put(b, "%ld", get_long(c, id));
    break;
  case K_U64: {
    uint64_t v;
    memcpy(&v, cfield(c, id), sizeof v);
    sb_put(b, "%llu", (unsigned long long)v);
    break;
  }
  case K_DOUBLE:
  case K_DURATION:
    fmt_double(d, sizeof d, get_double(c, id));
    sb_put(b, "%s", d);
    break;
  case K_ENUM: {
    const int v = get_int(c, id);
    sb_put(b, "%s", v >= 0 && v < name_count(k->names) ? k->names[v] : "?");
    break;
  }
  case K_NAME:
  case K_STR:
    sb_quoted(b, (const char *)cfield(c, id));
    break;
  case K_SHAPE:
    sb_put(b, "[%d, %d]", c->theory.shape[0], c->theory.shape[1]);
    break;
  case K_HIDDEN:
    sb_put(b, "[");
    for (int i = 0; i < c->model.nhidden && i < LF_MAX_HIDDEN; i++)
      sb_put(b, "%s%d", i ? ", " : "", c->model.hidden[i]);
    sb_put(b, "]");
    break;
  case K_OBS:
    sb_put(b, "[");
    for (int i = 0; i < c->nobs && i < LF_MAX_OBS; i++)
      sb_put(b, "%s%s", i ? ", " : "", c->observables[i]);
    sb_put(b, "]");
    break;
  }
}

char *lf_config_to_yaml(const lf_config *cfg) {
  if (!cfg) return NULL;
  sbuf b = {0};
  sb_put(&b, "# latflow effective config: every key (docs/CONFIG.md); source: ");
  for (const char *s = cfg->source; *s; s++)
    sb_put(&b, "%c", iscntrl((unsigned char)*s) ? '?' : *s);
  sb_put(&b, "\n");
  for (int id = 0; id < NKEYS; id++) {
    const char *p = KEYS[id].path, *leaf = strrchr(p, '.');
    int depth = 0;
    for (const char *s = p; *s; s++) depth += *s == '.';
    sb_put(&b, "%*s%s:", 2 * depth, "", leaf ? leaf + 1 : p);
    if (KEYS[id].kind != K_SECTION) {
      sb_put(&b, " ");
      sb_value(&b, cfg, id);
    }
    sb_put(&b, "\n");
  }
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

lf_status lf_config_write_yaml(const lf_config *cfg, FILE *out) {
  if (!cfg || !out) return LF_FAIL(LF_ERR_INVALID, "lf_config_write_yaml: NULL argument");
  char *s = lf_config_to_yaml(cfg);
  if (!s) return LF_FAIL(LF_ERR_NOMEM, "formatting the config as YAML");
  errno = 0;
  const int bad = fputs(s, out) == EOF || fflush(out) != 0;
  const int err = errno;
  free(s);
  if (bad) return LF_FAIL(LF_ERR_IO, "writing the config: %s", strerror(err ? err : EIO));
  return LF_OK;
}

/* ---- comparison --------------------------------------------------------------------------- */

int lf_config_diff(const lf_config *a, const lf_config *b, char *key, size_t n) {
  for (int id = 0; id < NKEYS; id++) {
    const keydef *k = &KEYS[id];
    int differ = 0;
    switch (k->kind) {
    case K_SECTION:
      break;
    case K_INT:
    case K_ENUM:
      differ = get_int(a, id) != get_int(b, id);
      break;
    case K_LONG:
      differ = get_long(a, id) != get_long(b, id);
      break;
    case K_U64:
      differ = a->seed != b->seed;
      break;
    case K_DOUBLE:
    case K_DURATION:
      differ = get_double(a, id) != get_double(b, id);
      break;
    case K_NAME:
    case K_STR:
      differ = strncmp((const char *)cfield(a, id), (const char *)cfield(b, id), k->size);
      break;
    case K_SHAPE:
      differ = a->theory.shape[0] != b->theory.shape[0] || a->theory.shape[1] != b->theory.shape[1];
      break;
    case K_HIDDEN:
      differ = a->model.nhidden != b->model.nhidden;
      for (int i = 0; !differ && i < a->model.nhidden && i < LF_MAX_HIDDEN; i++)
        differ = a->model.hidden[i] != b->model.hidden[i];
      break;
    case K_OBS:
      differ = a->nobs != b->nobs;
      for (int i = 0; !differ && i < a->nobs && i < LF_MAX_OBS; i++)
        differ = strncmp(a->observables[i], b->observables[i], LF_NAME_MAX) != 0;
      break;
    }
    if (differ) {
      if (key && n) snprintf(key, n, "%s", k->path);
      return 1;
    }
  }
  if (key && n) key[0] = '\0';
  return 0;
}
