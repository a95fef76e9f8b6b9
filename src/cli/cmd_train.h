/* src/cli/cmd_train.h: what the subcommands share (the pipelines themselves are declared in
 * latflow/driver.h). */
#ifndef LATFLOW_CMD_TRAIN_H
#define LATFLOW_CMD_TRAIN_H

#include "latflow/config.h"
#include "latflow/driver.h"
#include "latflow/status.h"

#include <cjson/cJSON.h>
#include <mpi.h>

#include "latflow/analyze.h"
#include <stdio.h>
/* The analysis of an ensemble as JSON (DESIGN.md section 3) and as a table (cmd_analyze.c). */
void lf_analysis_to_json(const char *file, const lf_ensemble *e, const lf_analysis *a, cJSON *json);
void lf_analysis_print(FILE *f, const char *file, const lf_ensemble *e, const lf_analysis *a);
/* The ensemble's and the observables' warnings, one line each, every line led by indent. */
void lf_analysis_print_warnings(FILE *f, const lf_analysis *a, const char *indent);
/* The exact values latflow knows for e's theory (pure U(1): <cos theta_P>, <Q>, chi_t),
 * one line with the z-score of a (and of h, the HMC analysis, if not NULL); nothing for
 * other theories. */
void lf_analysis_print_exact(FILE *f, const lf_ensemble *e, const lf_analysis *a,
                             const lf_analysis *h);

#endif
