/* src/cli/cmd_train.h: the training pipeline, shared by `train` and `run`. */
#ifndef LATFLOW_CMD_TRAIN_H
#define LATFLOW_CMD_TRAIN_H

#include "latflow/config.h"
#include "latflow/status.h"

#include <cjson/cJSON.h>
#include <mpi.h>

/* Trains cfg, writes model.h5 and train.h5 under cfg->output, evaluates; adds the
 * summary to json when not NULL. */
lf_status lf_train_pipeline(const lf_config *cfg, int force, MPI_Comm comm, cJSON *json);
/* Prints json on stdout; returns 0 or 1. */
int lf_cli_print_json(cJSON *json);

#endif
