/* src/cli/cmd_train.h: the pipeline stages shared by the subcommands and `run`. */
#ifndef LATFLOW_CMD_TRAIN_H
#define LATFLOW_CMD_TRAIN_H

#include "latflow/config.h"
#include "latflow/status.h"

#include <cjson/cJSON.h>
#include <mpi.h>

/* Trains cfg, writes model.h5 and train.h5 under cfg->output, evaluates; adds the
 * summary to json when not NULL. */
lf_status lf_train_pipeline(const lf_config *cfg, int force, MPI_Comm comm, cJSON *json);
/* The same; resume != 0 continues the run interrupted in cfg->output from
 * <output>/train.ckpt.h5 (latflow train --resume; see cmd_train.c). Checkpoints are
 * written either way; LF_INTERRUPTED when a signal stopped training. */
lf_status lf_train_pipeline_ex(const lf_config *cfg, int force, int resume, MPI_Comm comm,
                               cJSON *json);
/* Samples the model (model_path, or <output>/model.h5 when NULL) into
 * <output>/ensemble.h5 (cmd_sample.c). */
lf_status lf_sample_pipeline(const lf_config *cfg, const char *model_path, int force, MPI_Comm comm,
                             cJSON *json);
/* HMC into <output>/hmc.h5 (cmd_hmc.c: the driver lf_hmc_run, latflow/hmc_run.h, and its
 * summary added to json when not NULL); resume != 0 continues the run interrupted in
 * cfg->output from <output>/hmc.ckpt.h5 (same number of ranks). */
lf_status lf_hmc_pipeline_ex(const lf_config *cfg, int force, int resume, MPI_Comm comm,
                             cJSON *json);
/* Plots of an ensemble or train file into outdir (NULL: <dir of path>/plots); *nplots
 * (may be NULL) gets the number of PNGs (cmd_plot.c). */
lf_status lf_plot_pipeline(const char *path, const char *outdir, int *nplots);
/* Prints json on stdout; returns 0 or 1. */
int lf_cli_print_json(cJSON *json);

#include "latflow/analyze.h"
#include <stdio.h>
/* The analysis of an ensemble as JSON (DESIGN.md section 3) and as a table (cmd_analyze.c). */
void lf_analysis_to_json(const char *file, const lf_ensemble *e, const lf_analysis *a, cJSON *json);
void lf_analysis_print(FILE *f, const char *file, const lf_ensemble *e, const lf_analysis *a);
/* The ensemble's and the observables' warnings, one line each, every line led by indent. */
void lf_analysis_print_warnings(FILE *f, const lf_analysis *a, const char *indent);

#endif
