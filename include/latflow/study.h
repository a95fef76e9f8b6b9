/* latflow/study.h: studies (latflow study CARD): the seed paper's experiments as one
 * command. A study card is a run card with a `study:` section (docs/STUDIES.md):
 *
 *   study:
 *     name: fig3                      # label of the study (default: the card's file stem)
 *     protocol: root                  # scratch | root | sequential (see below)
 *     grid:                           # config key -> list of values; the points are the
 *       theory.lambda: [4, 2, 1]      #   Cartesian product, first key slowest
 *     cases:                          # optional: named bundles of overrides (zipped
 *       - {label: lr, set: {train.batch: 1024, train.schedule.lr_halve_every: 500}}
 *       - {label: bs, set: {train.batch: 64, train.schedule.batch_double_every: 500}}
 *     root: {theory.lambda: 4}        # protocol root: the root model's overrides
 *     targets: [0.2, 0.6]             # ESS targets whose training cost is measured
 *     x: theory.lambda                # the parameter of the "against a parameter" plots
 *     sample: false                   # per point: sample (IMH) + HMC + analysis, as `run`
 *     volumes: [8, 12, 16, 24]        # volume transfer: evaluate each model at LxL
 *     volume_samples: 10000           # fresh samples per volume evaluation
 *     volume_proposals: 0             # > 0: also sample that many IMH proposals per
 *                                     #   volume (the pion mass / pole mass against L)
 *
 * Points: every case (one empty case when `cases` is absent) times the grid's product,
 * case-major; point k's overrides are its case's `set` then its grid values, in card
 * order, applied to the card like `latflow train CARD --set key=value ...` (same seed
 * unless the study sets `seed`), so a point's run is bitwise the single run.
 * Protocols: scratch: every point from its own initialization; root: the root model
 * (the card with `root` applied) is trained once into <out>/root, then every point is
 * retrained from it (train.init_from); sequential: point 0 from scratch (or from the root
 * when `root` is given), point k from point k-1's model. Costs: a point's own (steps,
 * samples flowed N_train, seconds) and its chain's (its own plus every ancestor's: the
 * root, or the predecessors).
 *
 * Files of a study in DIR (--output, default runs/<name>): DIR/points/pNNN/ (one run
 * folder per point: model.h5, train.h5, point.json; ensemble.h5, hmc.h5 with sample),
 * DIR/root/ (protocol root), DIR/study.h5 (the table and the curves, with provenance),
 * DIR/study.csv (the table), DIR/curves.csv (the curves, long format), DIR/volumes.csv,
 * DIR/plots/ (overlay plots). */
#ifndef LATFLOW_STUDY_H
#define LATFLOW_STUDY_H

#include "latflow/config.h"
#include "latflow/io.h"
#include "latflow/status.h"

#include <stdint.h>

#define LF_STUDY_MAX_KEYS 8     /* grid keys */
#define LF_STUDY_MAX_VALUES 64  /* values per grid key */
#define LF_STUDY_MAX_CASES 32   /* entries of `cases` */
#define LF_STUDY_MAX_SETS 16    /* overrides of one case, of the root, of one point */
#define LF_STUDY_MAX_POINTS 512 /* points of a study */
#define LF_STUDY_MAX_TARGETS 8  /* ESS targets */
#define LF_STUDY_MAX_VOLUMES 16 /* volume-transfer lattices */
#define LF_STUDY_KEY_MAX 64     /* bytes of a config key path */
#define LF_STUDY_VALUE_MAX 256  /* bytes of one value as YAML text (flow style) */
#define LF_STUDY_LABEL_MAX 256  /* bytes of a case or point label */

typedef enum lf_study_protocol {
  LF_STUDY_SCRATCH = 0,
  LF_STUDY_ROOT = 1,
  LF_STUDY_SEQUENTIAL = 2
} lf_study_protocol;

/* One override "key=value" (value: YAML flow text, as --set takes it). */
typedef struct lf_study_set {
  char key[LF_STUDY_KEY_MAX];
  char value[LF_STUDY_VALUE_MAX];
} lf_study_set;

typedef struct lf_study_case {
  char label[LF_STUDY_LABEL_MAX];
  int nset;
  lf_study_set set[LF_STUDY_MAX_SETS];
} lf_study_case;

/* The `study:` section of a card, as parsed (heap-allocate: ~1.2 MB). */
typedef struct lf_study_spec {
  char name[LF_NAME_MAX];
  char source[LF_PATH_MAX]; /* the card's path */
  lf_study_protocol protocol;
  int nkeys;
  char keys[LF_STUDY_MAX_KEYS][LF_STUDY_KEY_MAX];
  int nvalues[LF_STUDY_MAX_KEYS];
  char values[LF_STUDY_MAX_KEYS][LF_STUDY_MAX_VALUES][LF_STUDY_VALUE_MAX];
  int ncases; /* 0: no `cases` */
  lf_study_case cases[LF_STUDY_MAX_CASES];
  int nroot; /* > 0 or has_root: protocol root's (or sequential's start) overrides */
  int has_root;
  lf_study_set root[LF_STUDY_MAX_SETS];
  int ntargets;
  double targets[LF_STUDY_MAX_TARGETS]; /* ascending, in (0, 1] */
  char x[LF_STUDY_KEY_MAX];             /* "" : the first grid key */
  int sample;                           /* 0/1 */
  int nvolumes;
  int volumes[LF_STUDY_MAX_VOLUMES][2]; /* [L0, L1] */
  long volume_samples;
  long volume_proposals;
} lf_study_spec;

/* One point of the expanded study. */
typedef struct lf_study_point {
  int index;
  char label[LF_STUDY_LABEL_MAX]; /* case label and "key=value" of the grid, ", "-joined */
  int nset;
  lf_study_set set[LF_STUDY_MAX_SETS]; /* case's then grid's, applied in this order */
  int parent;                          /* LF_STUDY_PARENT_* or the index of its predecessor */
  char dir[LF_PATH_MAX];               /* its run folder */
} lf_study_point;

#define LF_STUDY_PARENT_NONE (-1) /* from scratch */
#define LF_STUDY_PARENT_ROOT (-2) /* from the root model */

/* The model evaluated (and optionally sampled) at one lattice without retraining. */
typedef struct lf_study_volume {
  int L0, L1;
  long samples;      /* fresh samples evaluated (0: not evaluated) */
  double ess;        /* fresh-sample ESS fraction */
  double ess_err;    /* its jackknife error */
  double acceptance; /* IMH acceptance over the samples in order */
  double eval_seconds;
  /* with volume_proposals > 0: the IMH ensemble's pole mass (phi^4: the field's; Schwinger:
   * the pion's) from lf_analyze, NaN when there is no fit */
  double mass, mass_err;
} lf_study_volume;

/* The measurements of one point (NaN / -1 where not measured). */
typedef struct lf_study_result {
  int done;             /* the point finished (its point.json exists) */
  long steps;           /* training steps of this point's own run */
  int64_t n_train;      /* samples flowed by this point's own training */
  double train_seconds; /* its training wall seconds (evaluations excluded) */
  double cpu_seconds;   /* train_seconds times the training ranks (core seconds) */
  long steps_chain;     /* own plus every ancestor's (the protocol's transfer chain) */
  int64_t n_train_chain;
  double seconds_chain;
  char stop_reason[16];
  double ess_eval; /* last fresh-sample evaluation */
  double ess_err;  /* its jackknife error (NaN if unknown) */
  double acceptance;
  long eval_samples;
  double eff_per_second; /* ess_eval * eval_samples / eval_seconds: flow sampling only */
  /* the first evaluation reaching targets[j] (ess >= target): its step, N_train and
   * seconds, own and chain; -1 (steps, N_train) and NaN (seconds) when not reached */
  long target_steps[LF_STUDY_MAX_TARGETS];
  int64_t target_n_train[LF_STUDY_MAX_TARGETS];
  int64_t target_n_train_chain[LF_STUDY_MAX_TARGETS];
  double target_seconds[LF_STUDY_MAX_TARGETS];
  double target_seconds_chain[LF_STUDY_MAX_TARGETS];
  /* the evaluation curve (train.h5 /eval), owned; n_train/seconds are the point's own */
  size_t ncurve;
  lf_train_eval_record *curve;
  /* volume transfer (spec.nvolumes entries) and the law ESS(V) = ESS(V0)^(V/V0) */
  lf_study_volume volumes[LF_STUDY_MAX_VOLUMES];
  double law_ess_anchor; /* ESS(V0) implied by the largest volume (the paper's dotted lines) */
  double law_ess_v0;     /* fitted: ESS at the training volume V0 from all volumes */
  double law_ess_v0_err;
  double law_chi2_dof;
  /* sample (spec.sample): the IMH ensemble against HMC */
  double imh_acceptance;
  double mass, mass_err;        /* flow ensemble's pole mass (Schwinger: the pion) */
  double eff_s_flow, eff_s_hmc; /* effective samples per second of the first observable */
  double eff_s_flow_with_train; /* flow, training time included */
} lf_study_result;

/* A whole study: the spec, the base config, the points, their results. */
typedef struct lf_study {
  lf_study_spec *spec; /* owned */
  lf_config base;      /* the card without the study section, --set applied */
  char output[LF_PATH_MAX];
  int npoints;
  lf_study_point *points;   /* owned [npoints] */
  lf_study_result *results; /* owned [npoints] */
  int has_root;             /* the root model exists (protocol root / sequential start) */
  lf_study_result root;     /* the root's measurements */
  int train_ranks;          /* training ranks used */
  char *card_text;          /* owned: the card's text verbatim, for provenance (NULL:
                               lf_io_study_write reads spec->source when it can) */
} lf_study;

/* ---- the card (src/config/config_study.c) ---- */

/* Loads a study card: *cfg as lf_config_load (the `study:` section skipped), *spec from
 * the `study:` section (defaults: name = the file's stem, protocol scratch, no grid, no
 * cases, no root, no targets, sample 0, no volumes, volume_samples 10000,
 * volume_proposals 0). Every key and value is checked as the run card's are: errors name
 * the file, line and key (unknown keys with a suggestion), grid keys must be run-card
 * keys and every value must be accepted by lf_config_set (checked against the card).
 * LF_ERR_CONFIG when the card has no `study:` section. */
lf_status lf_config_load_study(const char *path, lf_config *cfg, lf_study_spec *spec);

/* ---- the study file (src/io/study_io.c) ---- */

/* The layout version of study files (latflow_format "study"; docs/FORMAT.md). */
#define LF_IO_STUDY_FORMAT_VERSION 1

/* Writes st as path (HDF5, atomically through path.tmp, replacing an earlier study file;
 * layout docs/FORMAT.md "Study files") with provenance (latflow version, the card's text,
 * the effective base config). Points that are not done are stored with done = 0 and NaN
 * measurements. Writing what lf_io_study_read returned gives the same bytes (with the same
 * created_utc: SOURCE_DATE_EPOCH). Local; errors LF_ERR_INVALID (inconsistent counts),
 * LF_ERR_IO, LF_ERR_HDF5, LF_ERR_NOMEM. */
lf_status lf_io_study_write(const char *path, const lf_study *st);
/* Reads a study file written by lf_io_study_write into *st (allocated; lf_study_free).
 * The refusals of latflow/io.h (another kind of file: LF_ERR_FORMAT); a missing or
 * inconsistent piece (a count out of range, a dataset of another shape) is LF_ERR_FORMAT
 * naming the file and the object. On failure *st is zeroed. */
lf_status lf_io_study_read(const char *path, lf_study *st);
/* Writes DIR/study.csv (one row per point: index, label, the set keys, the measurements),
 * DIR/curves.csv (point, label, step, n_train, n_train_chain, seconds, seconds_chain, ess,
 * acceptance) and, with volumes, DIR/volumes.csv; each atomically (name.tmp, renamed).
 * Numbers in full precision (%.17g), NaN as an empty cell (columns: docs/FORMAT.md). */
lf_status lf_io_study_write_csv(const char *dir, const lf_study *st);
/* Frees what st owns (spec, points, results and their curves, card_text) and zeroes it;
 * accepts a zeroed st. */
void lf_study_free(lf_study *st);

/* ---- analysis (src/analysis/study_fit.c) ---- */

/* The law ESS(V) = ESS(V0)^(V/V0) (log ESS linear in V through the origin): the
 * weighted least-squares fit of log ESS_i = (V_i/V0) log E over the n points with a
 * finite ESS in (0, 1] and error (weights from err_i / ess_i), giving *ess0 = E, its
 * error *ess0_err and chi^2/dof (NaN with one point); *ess_anchor: ESS at V0 predicted
 * from the largest V alone, ESS(Vmax)^(V0/Vmax). LF_ERR_INVALID if no point is usable. */
lf_status lf_study_fit_volume_law(int n, const double *V, const double *ess, const double *err,
                                  double V0, double *ess0, double *ess0_err, double *chi2_dof,
                                  double *ess_anchor);

#endif
