/* latflow/driver.h: the pipelines the commands run (src/driver/): train, sample and hmc on
 * a config, the stages of latflow run (plots: latflow/plot.h). Collective over the
 * communicator they are given; each adds its summary to a cJSON object when one is passed.
 * The command line (src/cli) only parses options and calls one of these. */
#ifndef LATFLOW_DRIVER_H
#define LATFLOW_DRIVER_H

#include "latflow/config.h"
#include "latflow/status.h"
#include "latflow/study.h"

#include <cjson/cJSON.h>
#include <mpi.h>

/* Trains cfg, writes model.h5 and train.h5 under cfg->output, evaluates; adds the
 * summary to json when not NULL. */
lf_status lf_train_pipeline(const lf_config *cfg, int force, MPI_Comm comm, cJSON *json);
/* The same; resume != 0 continues the run interrupted in cfg->output from
 * <output>/train.ckpt.h5 (latflow train --resume). Checkpoints are written either way;
 * LF_INTERRUPTED when a signal stopped training. */
lf_status lf_train_pipeline_ex(const lf_config *cfg, int force, int resume, MPI_Comm comm,
                               cJSON *json);
/* Samples the model (model_path, or <output>/model.h5 when NULL) into
 * <output>/ensemble.h5; a model of another lattice is volume transferred to cfg's
 * (lf_io_model_load_on) when its architecture allows it. */
lf_status lf_sample_pipeline(const lf_config *cfg, const char *model_path, int force, MPI_Comm comm,
                             cJSON *json);
/* The same; resume != 0 continues the run interrupted in cfg->output from
 * <output>/sample.ckpt.h5 (on any number of ranks; latflow sample --resume). */
lf_status lf_sample_pipeline_ex(const lf_config *cfg, const char *model_path, int force, int resume,
                                MPI_Comm comm, cJSON *json);
/* HMC into <output>/hmc.h5 (the driver lf_hmc_run, latflow/hmc_run.h, and its summary added
 * to json when not NULL); resume != 0 continues the run interrupted in cfg->output from
 * <output>/hmc.ckpt.h5 (same number of ranks). */
lf_status lf_hmc_pipeline_ex(const lf_config *cfg, int force, int resume, MPI_Comm comm,
                             cJSON *json);
/* The first three stages of latflow run on one card: lf_train_pipeline_ex,
 * lf_sample_pipeline_ex and, when cfg->hmc.compare, lf_hmc_pipeline_ex, each adding its
 * summary to jt, js and jh (may be NULL). resume != 0 skips the stages whose result is in
 * cfg->output and resumes the others (latflow run --resume). Collective over comm; stops
 * at the first stage that fails, with its status. */
lf_status lf_run_stages(const lf_config *cfg, int force, int resume, MPI_Comm comm, cJSON *jt,
                        cJSON *js, cJSON *jh);

/* Evaluates the model in model_path on cfg's theory and lattice with n fresh samples:
 * ESS with its jackknife error, IMH acceptance over the samples in order, wall seconds
 * (out->L0, L1 = cfg's lattice; mass, mass_err NaN). A model trained on another lattice is
 * volume transferred (its parameters on a model of cfg's lattice) when the architecture
 * allows it, and the log says so; otherwise LF_ERR_CONFIG naming both lattices. The draws
 * are a pure function of cfg->seed, cfg->train.steps and n (src/driver/eval_pipeline.c
 * says which stream and counters: those of the card's final training evaluation), the
 * same on any number of ranks up to the flow's rounding. Collective over comm; every
 * rank gets the same *out. */
lf_status lf_eval_model(const lf_config *cfg, const char *model_path, long n, MPI_Comm comm,
                        lf_study_volume *out);

/* The hint that continues a run stopped with a checkpoint kept (e.g. "continue with:
 * latflow train my.yaml --output 'runs/a b' --resume"), set by the command line (src/cli),
 * which knows how it was invoked; the library never sees argv. The pipelines' messages
 * about a resumable failure end with it. Unset or NULL: "continue with --resume". The
 * text is copied (up to 8 KiB). Local. */
void lf_driver_set_resume_hint(const char *hint);
const char *lf_driver_resume_hint(void);

#endif
