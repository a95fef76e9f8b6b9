/* The stages of latflow run (latflow/driver.h): train, sample and, when hmc.compare, hmc
 * on one card into one output folder. With --resume each stage is skipped when its final
 * file is there without a checkpoint, and resumed otherwise. */
#include "latflow/driver.h"
#include "latflow/io.h"
#include "latflow/log.h"

#include <stdio.h>

/* What `run --resume` does with a stage whose final file is `done` and whose checkpoint
 * is `ckpt` (rank 0 decides, every rank follows): 0 run it fresh, 1 resume it (the stage
 * finds out whether to continue, finish or start over), 2 skip it (completed), 3 resume
 * it without a checkpoint nor a result (the stage's own --resume starts it over).
 * Without --resume: always 0. */
static int stage_mode(int resume, const char *out, const char *done, const char *ckpt,
                      MPI_Comm comm) {
  int rank = 0, mode = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0 && resume) {
    char d[LF_PATH_MAX], c[LF_PATH_MAX], p[LF_PATH_MAX + 8];
    if (lf_io_path_join(d, sizeof d, out, done) == LF_OK &&
        lf_io_path_join(c, sizeof c, out, ckpt) == LF_OK) {
      snprintf(p, sizeof p, "%s.prev", c);
      /* without a checkpoint nor a result the stage's own --resume starts it over,
       * replacing what a kill before its first checkpoint left */
      if (lf_io_exists(c) || lf_io_exists(p))
        mode = 1;
      else if (lf_io_exists(d))
        mode = 2;
      else
        mode = 3;
    }
  }
  MPI_Bcast(&mode, 1, MPI_INT, 0, comm);
  return mode;
}

static const char *const mode_name[4] = {"", " (resumed from its checkpoint)",
                                         ": already complete, skipped",
                                         " (--resume without a checkpoint)"};

/* Each stage logs its number and what --resume made of it, then runs its pipeline. */
lf_status lf_run_stages(const lf_config *cfg, int force, int resume, MPI_Comm comm, cJSON *jt,
                        cJSON *js, cJSON *jh) {
  lf_status rc = LF_OK;
  int m = stage_mode(resume, cfg->output, "model.h5", "train.ckpt.h5", comm);
  lf_log_info("run", "1/4 training%s", mode_name[m]);
  if (m != 2) LF_CHECK(lf_train_pipeline_ex(cfg, force, m != 0, comm, jt));
  m = stage_mode(resume, cfg->output, "ensemble.h5", "sample.ckpt.h5", comm);
  lf_log_info("run", "2/4 sampling%s", mode_name[m]);
  if (m != 2) LF_CHECK(lf_sample_pipeline_ex(cfg, NULL, force, m != 0, comm, js));
  if (cfg->hmc.compare) {
    m = stage_mode(resume, cfg->output, "hmc.h5", "hmc.ckpt.h5", comm);
    lf_log_info("run", "3/4 HMC for comparison%s", mode_name[m]);
    if (m != 2) LF_CHECK(lf_hmc_pipeline_ex(cfg, force, m != 0, comm, jh));
  } else {
    lf_log_info("run", "3/4 HMC skipped (hmc.compare: false)");
  }
fail:
  return rc;
}
