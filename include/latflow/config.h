/* latflow/config.h: the run card (YAML, libyaml) as typed, validated structs.
 *
 * Sections and keys follow DESIGN.md section 3; docs/CONFIG.md is the full reference
 * (every key, its type, default and range). Parsing loads the text with libyaml's document
 * API (never keeps pointers into it), applies every key found over the current contents of
 * an lf_config (normally lf_config_defaults()), and validates each key as it is read, then
 * the cross-key rules. Unknown keys, duplicate keys, wrong types and out-of-range values
 * are errors. Block and flow style both work.
 *
 * Errors are LF_ERR_CONFIG (LF_ERR_IO for an unreadable file, LF_ERR_NOMEM) and the
 * message, read with lf_last_error(), always has the form
 *     <source>:<line>: <dotted.key>: <what>   ("run.yaml:7: train.batch: must be > 0, got -3")
 *     <source>:<line>: unknown key '<dotted.key>' (did you mean '<key>'?)
 *     <source>:<line>:<column>: YAML syntax error: <libyaml's problem> (<context> at line N)
 * where <line> is the 1-based line of the offending key (or list entry / value). Overrides
 * use "--set" as the source and print no line ("--set: train.batch: must be > 0, got -3").
 * A cross-key error about a key that the parsed text did not give names the source the
 * config came from before, without a line ("<default>: observables: ...").
 *
 * Defaults that depend on another key: train.optimizer.lr and .eps depend on the optimizer
 * name (adam 1e-3 / 1e-8, sgd 1e-2 / 1e-8, adadelta 1.0 / 1e-6) and observables on the
 * theory, unless the key was given explicitly in some parsed text or override; the `given`
 * mask (LF_CONFIG_GIVEN_*) remembers which were.
 *
 * Strings are copied into fixed buffers; an lf_config owns no heap memory (copy it by
 * assignment; nothing to free). Every function is local and never does MPI. */
#ifndef LATFLOW_CONFIG_H
#define LATFLOW_CONFIG_H

#include "latflow/status.h"

#include <stdint.h>
#include <stdio.h>

#define LF_PATH_MAX 1024
/* The longest file name a run writes inside its output folder (output keys are refused
 * when output + '/' + such a name would not fit LF_PATH_MAX). */
#define LF_OUTPUT_NAME_MAX 64
#define LF_MAX_HIDDEN 8
#define LF_MAX_OBS 16
#define LF_NAME_MAX 32
/* Hostile-input limits of a card (file, --set value or stored text): its size in bytes and
 * the nesting depth of its mappings and lists (a real card nests 3 deep). */
#define LF_CONFIG_MAX_BYTES (1 << 20)
#define LF_CONFIG_MAX_DEPTH 32

typedef enum lf_theory_kind {
  LF_THEORY_PHI4 = 0,
  LF_THEORY_U1 = 1,
  LF_THEORY_SCHWINGER = 2
} lf_theory_kind;
typedef enum lf_base_kind {
  LF_BASE_NORMAL = 0,
  LF_BASE_FREE_FIELD = 1,
  LF_BASE_HAAR = 2
} lf_base_kind;
typedef enum lf_act_kind { LF_ACT_LEAKY_RELU = 0, LF_ACT_TANH = 1 } lf_act_kind;
typedef enum lf_coupling_kind { LF_COUPLING_AFFINE = 0, LF_COUPLING_SPLINE = 1 } lf_coupling_kind;
typedef enum lf_init_kind { LF_INIT_KAIMING = 0, LF_INIT_XAVIER = 1 } lf_init_kind;
typedef enum lf_precision { LF_PREC_F32 = 0, LF_PREC_F64 = 1 } lf_precision;
typedef enum lf_estimator { LF_EST_RT = 0, LF_EST_RE = 1 } lf_estimator;
typedef enum lf_optim_kind { LF_OPT_ADAM = 0, LF_OPT_SGD = 1, LF_OPT_ADADELTA = 2 } lf_optim_kind;
typedef enum lf_sample_mode { LF_SAMPLE_IMH = 0, LF_SAMPLE_REWEIGHT = 1 } lf_sample_mode;
typedef enum lf_save_kind { LF_SAVE_ACCEPTED = 0, LF_SAVE_ALL = 1, LF_SAVE_NONE = 2 } lf_save_kind;
typedef enum lf_integrator { LF_INT_LEAPFROG = 0, LF_INT_OMELYAN = 1 } lf_integrator;
typedef enum lf_fermion_kind { LF_FERMION_EXACT = 0, LF_FERMION_PSEUDO = 1 } lf_fermion_kind;
/* hmc.tau_dist: the distribution of each trajectory's length (latflow/hmc.h) */
typedef enum lf_tau_dist { LF_TAU_UNIFORM = 0, LF_TAU_FIXED = 1 } lf_tau_dist;

typedef struct lf_theory_cfg {
  lf_theory_kind name;          /* theory.name: phi4 | u1 | schwinger            */
  int shape[2];                 /* theory.shape: [L0, L1], each >= 2 and even      */
  double m2, lambda;            /* phi4: theory.m2 (any real), theory.lambda >= 0  */
  double beta, kappa;           /* u1/schwinger: beta > 0 (default 2.0), kappa > 0 (0.263) */
  char fermion_bc[LF_NAME_MAX]; /* schwinger: periodic | antiperiodic (default antiperiodic) */
} lf_theory_cfg;

typedef struct lf_optim_cfg {
  lf_optim_kind name;  /* train.optimizer.name: adam | sgd | adadelta                  */
  double lr;           /* > 0; default 1e-3 (adam), 1e-2 (sgd), 1.0 (adadelta)          */
  double beta1, beta2; /* adam: in [0,1); default 0.9, 0.999                             */
  double eps;          /* > 0; default 1e-8 (adam), 1e-6 (adadelta)                      */
  double momentum;     /* sgd: in [0,1); default 0                                       */
  double rho;          /* adadelta: in [0,1); default 0.9                                */
  double weight_decay; /* >= 0; default 0                                                */
} lf_optim_cfg;

typedef struct lf_model_cfg {
  lf_base_kind base;         /* model.base: normal | free_field | haar                 */
  double base_mass;          /* model.base_mass: initial mass of free_field, > 0; 1.0 */
  int layers;                /* model.layers >= 1; default 16                          */
  int hidden[LF_MAX_HIDDEN]; /* model.hidden: 1..8 entries, each >= 1; default [8, 8]  */
  int nhidden;
  int kernel;                /* model.kernel: odd, >= 1; default 3                     */
  lf_act_kind activation;    /* model.activation: leaky_relu | tanh                    */
  lf_coupling_kind coupling; /* model.coupling: affine | spline                        */
  int spline_bins;           /* model.spline_bins in [1, 64]: bins per spline; default 8 */
  lf_init_kind init;         /* model.init.scheme: kaiming | xavier                    */
  double init_scale;         /* model.init.scale (kaiming width scale / xavier gain) > 0 */
  lf_precision precision;    /* model.precision: single | double                       */
} lf_model_cfg;

typedef struct lf_train_cfg {
  lf_estimator estimator;      /* train.estimator: rt | re                                 */
  lf_optim_cfg optimizer;      /* train.optimizer                                          */
  int batch;                   /* train.batch > 0; default 64                              */
  int ranks;                   /* train.ranks >= 0: training ranks (0 = all); default 0     */
  long lr_halve_every;         /* train.schedule.lr_halve_every >= 0 (0 = never)           */
  long batch_double_every;     /* train.schedule.batch_double_every >= 0 (0 = never)       */
  int batch_max;               /* train.schedule.batch_max >= batch (0 = batch)            */
  long steps;                  /* train.stop.steps > 0; default 3000                       */
  double target_ess;           /* train.stop.target_ess in [0,1] (0 = off)                 */
  int ess_window;              /* train.stop.ess_window > 0; default 100                   */
  double wall_time;            /* train.stop.wall_time seconds >= 0 (0 = off); YAML accepts
                                  a number of seconds or "90s", "30m", "2h", "1h30m", "1d" */
  char init_from[LF_PATH_MAX]; /* train.init_from: model file ("" = fresh init)         */
  long checkpoint_every;       /* train.checkpoint_every >= 0: steps between checkpoints
                                  (0 = only on a signal); default 500                      */
  double checkpoint_seconds;   /* train.checkpoint_seconds >= 0: wall seconds between
                                  checkpoints (0 = off); default 1800; a duration in YAML */
  long eval_samples;           /* train.eval_samples >= 0: fresh samples per evaluation;
                                  default 4096 (0 = no evaluation)                        */
  long eval_every;             /* train.eval_every >= 0: steps between fresh-sample
                                  evaluations (0 = only at the end); default 500           */
  long log_every;              /* train.log_every > 0; default 100                         */
  int max_bad_steps;           /* train.max_bad_steps > 0: consecutive NaN steps; default 10 */
  double grad_clip;            /* train.grad_clip >= 0 (0 = off): max global grad norm     */
} lf_train_cfg;

typedef struct lf_sample_cfg {
  lf_sample_mode mode;       /* sample.mode: imh | reweight            */
  long proposals;            /* sample.proposals > 0; default 1000000   */
  int block;                 /* sample.block > 0; default 256           */
  lf_save_kind save;         /* sample.save: accepted | all | none      */
  int epoch;                 /* sample.epoch > 0: blocks per worker per storage epoch; 8 */
  long checkpoint_every;     /* sample.checkpoint_every >= 0: proposals between checkpoints
                                (rounded up to whole epochs; 0 = only on a signal); 100000 */
  double checkpoint_seconds; /* sample.checkpoint_seconds >= 0: wall seconds between
                                checkpoints, checked at epoch ends (0 = off); 1800 */
} lf_sample_cfg;

typedef struct lf_hmc_cfg {
  long trajectories;         /* hmc.trajectories > 0; default 10000 */
  double tau;                /* hmc.tau > 0; default 1.0            */
  int steps;                 /* hmc.steps > 0; default 10           */
  lf_integrator integrator;  /* hmc.integrator: leapfrog | omelyan  */
  long therm;                /* hmc.therm >= 0; default 200         */
  lf_tau_dist tau_dist;      /* hmc.tau_dist: uniform (default: steps per trajectory uniform
                                in 1 .. 2 steps - 1, step size tau/steps) | fixed */
  int compare;               /* hmc.compare: false | true; `run` also runs HMC (default true) */
  long checkpoint_every;     /* hmc.checkpoint_every >= 0: trajectories between checkpoints
                                (0 = only on a signal); default 1000 */
  double checkpoint_seconds; /* hmc.checkpoint_seconds >= 0: wall seconds between checkpoints,
                                checked where the ranks meet (0 = off); default 1800 */
  lf_fermion_kind fermion;   /* hmc.fermion: exact | pseudofermion (schwinger only; default
                                pseudofermion; ignored for phi4 and u1)          */
  double cg_tol;             /* hmc.cg_tol in (0, 1): CG relative residual; 1e-10 */
  int cg_maxiter;            /* hmc.cg_maxiter > 0: CG iterations per solve; 10000 */
} lf_hmc_cfg;

/* Bits of lf_config.given: keys with a name-dependent default that were set explicitly. */
#define LF_CONFIG_GIVEN_LR 0x1u          /* train.optimizer.lr  */
#define LF_CONFIG_GIVEN_EPS 0x2u         /* train.optimizer.eps */
#define LF_CONFIG_GIVEN_OBSERVABLES 0x4u /* observables         */
#define LF_CONFIG_GIVEN_BASE 0x8u        /* model.base: haar for u1/schwinger, else normal   */
#define LF_CONFIG_GIVEN_COUPLING 0x10u   /* model.coupling: spline for u1/schwinger, else affine */

typedef struct lf_config {
  char source[LF_PATH_MAX]; /* file the card came from, or "<default>"           */
  unsigned given;           /* LF_CONFIG_GIVEN_* (not a key; not compared)        */
  uint64_t seed;            /* seed: >= 0; default 1234                           */
  char output[LF_PATH_MAX]; /* output: directory; default "runs/quickstart"       */
  int nobs;                 /* observables: names valid for the theory             */
  char observables[LF_MAX_OBS][LF_NAME_MAX];
  lf_theory_cfg theory;
  lf_model_cfg model;
  lf_train_cfg train;
  lf_sample_cfg sample;
  lf_hmc_cfg hmc;
} lf_config;

/* The built-in quickstart card as YAML text (phi^4, L=8, m2=-4, lambda=8, 16 affine
 * layers, hidden [8,8], kernel 3, batch 64, Adam 1e-3, 3000 steps). */
const char *lf_config_default_yaml(void);

/* Fills cfg with every default (the same values as the quickstart card). */
void lf_config_defaults(lf_config *cfg);

/* Parses YAML text over the current contents of cfg (keys not given keep their value),
 * then validates; on success cfg->source = source. `source` names the text in messages (a
 * path or "<default>"; NULL means "<string>"). On any error cfg is left unchanged. */
lf_status lf_config_parse_string(lf_config *cfg, const char *text, const char *source);

/* lf_config_defaults + parse of the file at path (cfg holds the defaults after a failure).
 * I/O errors are LF_ERR_IO ("<path>: cannot open config: <strerror>"). */
lf_status lf_config_load(lf_config *cfg, const char *path);

/* Applies one override "key=value" (dotted key, YAML scalar or flow value such as
 * "[16,16]" or "{name: sgd}"; the key may name a whole section), as given on the command
 * line by --set; messages name "--set" and carry no line. "key=" sets null (an error for
 * most keys; clears train.init_from). Validates the whole config afterwards; on any error
 * cfg is left unchanged. */
lf_status lf_config_set(lf_config *cfg, const char *assignment);

/* Applies n overrides in order, like n calls of lf_config_set, but checks the cross-key
 * rules once, on the result: keys that must change together (theory.m2 and theory.lambda,
 * theory.name and observables) may come in separate overrides. A later override of a key
 * wins. On any error cfg is left unchanged (none of the n is applied). */
lf_status lf_config_set_list(lf_config *cfg, int n, const char *const *assignments);

/* Checks cross-key consistency (even shape for checkerboards, batch_max >= batch, a
 * normalizable phi4 action, ...). Called by the functions above; exposed for code that
 * edits a config. It leaves out the flow's rules (lf_config_validate_flow), so a card that
 * only runs HMC or is read back from a file is not refused for a flow it never builds. */
lf_status lf_config_validate(const lf_config *cfg);

/* lf_config_validate plus the rules of the flow the model section describes (the gauge
 * flow's haar base and spline couplings go with u1/schwinger and with sides that are
 * multiples of 4; phi4 takes neither). Called by the commands that build a flow (train,
 * sample, run, bench); messages name the source and the key, without a line. */
lf_status lf_config_validate_flow(const lf_config *cfg);

/* Sets cfg->output to dir verbatim (no YAML: '#', ': ', quotes and spaces are part of the
 * name), as --output DIR does; messages name "--output". Refuses an empty name, a line
 * break and a name of LF_PATH_MAX bytes or more (LF_ERR_CONFIG; cfg is then unchanged). */
lf_status lf_config_set_output(lf_config *cfg, const char *dir);

/* Writes the effective config as YAML that lf_config_parse_string reads back to an
 * equal config (round trip): every key, block style, in a fixed order (that of
 * docs/CONFIG.md), strings double-quoted, doubles in the shortest form that reads back
 * exactly (at most %.17g). Returns LF_ERR_IO on a write error. */
lf_status lf_config_write_yaml(const lf_config *cfg, FILE *out);

/* The same YAML into a heap string (caller frees with free()); NULL on no memory. */
char *lf_config_to_yaml(const lf_config *cfg);

/* Compares every key's value (not source, not given). Returns 0 when equal; otherwise 1
 * and, if key != NULL, writes the dotted name of the first differing key (in the order
 * lf_config_write_yaml uses) into key[n]. For tests and for resume checks. */
int lf_config_diff(const lf_config *a, const lf_config *b, char *key, size_t n);

/* Names, for logs and files. */
const char *lf_theory_name(lf_theory_kind k);
const char *lf_estimator_name(lf_estimator e);

#endif
