/* latflow/study_run.h: the engine of `latflow study` (src/driver/study.c, study_run.c):
 * expands a study card (latflow/study.h) into points, runs them through the train pipeline
 * (lf_train_pipeline_ex, latflow/driver.h), measures each point and writes the study's
 * files.
 *
 * Points: every case (one empty case without `cases`) times the grid's product, case-major,
 * the first grid key slowest. Point k's config is the study's base config (the card with the
 * command line's --set) with the case's `set` then its grid values applied as one
 * lf_config_set_list, output = <out>/points/pNNN, and train.init_from = its parent's
 * model.h5 (protocol root: <out>/root/model.h5; sequential: point k-1's); the root's is the
 * base with `root` applied, output <out>/root. So a point's run is the run of
 * `latflow train CARD --set key=value ... --output <dir>`, bitwise.
 *
 * Files: <dir>/point.json (<out>/root/root.json for the root) holds a point's measurements
 * (lf_study_result with its evaluation curve; written atomically by rank 0 once the point
 * finished: its presence means "done"); at the end <out>/study.h5, study.csv, curves.csv
 * (volumes.csv) and plots/ (latflow/study.h, lf_plot_study), and <out>/study.json, the
 * --json object of the whole study.
 *
 * lf_study_init and the printing functions are local; lf_study_run is collective over comm
 * (every rank runs every point's training; rank 0 alone reads and writes the JSON files). */
#ifndef LATFLOW_STUDY_RUN_H
#define LATFLOW_STUDY_RUN_H

#include "latflow/config.h"
#include "latflow/status.h"
#include "latflow/study.h"

#include <cjson/cJSON.h>
#include <mpi.h>
#include <stdio.h>

/* What lf_study_run does (the options of latflow study). */
typedef struct lf_study_opts {
  int force;     /* start over: earlier results are removed, every run overwritten */
  int resume;    /* skip finished points, continue an interrupted one from its checkpoint */
  int point;     /* >= 0: run only this point (a SLURM array task); -1: every point */
  int root_only; /* train only the root model (protocol root; before the array) */
  int assemble;  /* run nothing: build the study's outputs from the points' point.json */
} lf_study_opts;

/* Builds *st (zeroed first) from a loaded card: takes ownership of spec (heap, freed by
 * lf_study_free, latflow/study.h, also on failure), copies base, sets the output folder (NULL or
 * "": runs/<spec->name>), expands the points and checks every point's config and the root's
 * (lf_config_set_list and the flow's rules; a refused point is LF_ERR_CONFIG naming its
 * index and label). Results start not done, NaN. */
lf_status lf_study_init(lf_study *st, lf_study_spec *spec, const lf_config *base,
                        const char *output);
/* The config of point k, or of the root for k = -1 (see above). */
lf_status lf_study_point_config(const lf_study *st, int k, lf_config *cfg);

/* The points as a table (index, label, overrides, parent, folder), for --dry-run. */
void lf_study_print_points(const lf_study *st, FILE *out);
/* Fills json with the study's object: "command", "output", "table" (may be NULL: left
 * out), "points" [{index, label, set {key: value}, parent, dir, done and, for a finished
 * point, its measurements}]. */
void lf_study_to_json(const lf_study *st, const char *table, cJSON *json);

/* Runs the study as o says (see lf_study_opts): the root when the protocol needs one, then
 * the points in order, logging one line per point; each finished point's point.json is
 * written at once. Without resume or force, an output that already holds a study's runs
 * is refused (LF_ERR_IO). A signal stops the running point at its checkpoint
 * (LF_INTERRUPTED; --resume continues). After the last point (and with assemble) writes the
 * study's outputs and, when json is not NULL (rank 0), fills it (lf_study_to_json).
 * Collective over comm. */
lf_status lf_study_run(lf_study *st, const lf_study_opts *o, MPI_Comm comm, cJSON *json);

#endif
