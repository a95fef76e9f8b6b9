/* tests/mpi/test_eval_model.c: lf_eval_model (latflow/driver.h, src/driver/eval_pipeline.c)
 * under mpiexec -n P. A tiny phi4 flow is trained on 4x4 with lf_train_pipeline on the same
 * P ranks; evaluating its model.h5 with the card and n = train.eval_samples uses the draws
 * of the run's final evaluation, so ESS and acceptance equal train.h5's last /eval record
 * exactly (same rank count); every rank gets the same result; the jackknife error is finite
 * and positive. On 8x8 (volume transfer) the model runs and its ESS is lower than on 4x4
 * (ESS(V) ~ ESS(V0)^(V/V0)); a missing model and n < 2 are refused on every rank. */
#include "latflow/config.h"
#include "latflow/driver.h"
#include "latflow/io.h"
#include "latflow/log.h"
#include "lftest.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int rank, nranks;

/* 1 if v is bitwise the same on every rank (rank 0's value broadcast and compared, the
 * answers combined with a logical AND). Collective. */
static int same_everywhere(double v) {
  double r0 = v;
  MPI_Bcast(&r0, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  int same = memcmp(&r0, &v, sizeof v) == 0, all = 0;
  MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  return all;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  lf_log_set_rank(rank);
  /* one output folder per run of the test, named by rank 0's pid */
  int pid = (int)getpid();
  MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
  lf_config cfg;
  lf_config_defaults(&cfg);
  CHECK(lf_config_set(&cfg, "theory.shape=[4, 4]") == LF_OK &&
            lf_config_set(&cfg, "theory.m2=-1") == LF_OK &&
            lf_config_set(&cfg, "theory.lambda=1") == LF_OK &&
            lf_config_set(&cfg, "model.layers=4") == LF_OK &&
            lf_config_set(&cfg, "model.hidden=[4]") == LF_OK &&
            lf_config_set(&cfg, "train.batch=32") == LF_OK &&
            lf_config_set(&cfg, "train.stop.steps=300") == LF_OK &&
            lf_config_set(&cfg, "train.optimizer.lr=0.01") == LF_OK &&
            lf_config_set(&cfg, "train.eval_samples=4000") == LF_OK,
        "card: %s", lf_last_error());
  snprintf(cfg.output, sizeof cfg.output, "test_eval_model_%d_np%d", pid, nranks);
  lf_status rc = lf_train_pipeline(&cfg, 1, MPI_COMM_WORLD, NULL);
  CHECK(rc == LF_OK, "np%d: train: %s", nranks, lf_last_error());
  char model[LF_PATH_MAX], metrics[LF_PATH_MAX];
  lf_io_path_join(model, sizeof model, cfg.output, "model.h5");
  lf_io_path_join(metrics, sizeof metrics, cfg.output, "train.h5");
  /* train.h5's last evaluation */
  double last[2] = {NAN, NAN};
  if (rank == 0) {
    lf_train_series s;
    if (lf_io_metrics_read(metrics, &s, NULL) == LF_OK) {
      if (s.neval > 0) {
        last[0] = s.evals[s.neval - 1].ess;
        last[1] = s.evals[s.neval - 1].acceptance;
      }
      lf_io_series_free(&s);
    }
  }
  MPI_Bcast(last, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);

  lf_study_volume v;
  rc = lf_eval_model(&cfg, model, cfg.train.eval_samples, MPI_COMM_WORLD, &v);
  const int same = same_everywhere(v.ess) && same_everywhere(v.acceptance) &&
                   same_everywhere(v.ess_err) && same_everywhere(v.eval_seconds);
  CHECK(rc == LF_OK && v.ess == last[0] && v.acceptance == last[1] && v.L0 == 4 && v.L1 == 4 &&
            v.samples == 4000 && isnan(v.mass) && isnan(v.mass_err),
        "np%d: on 4x4 ESS %.17g acceptance %.17g == train.h5's last /eval %.17g %.17g (rc %d)",
        nranks, v.ess, v.acceptance, last[0], last[1], rc);
  CHECK(same && v.ess_err > 0.0 && isfinite(v.ess_err) && v.eval_seconds >= 0.0,
        "np%d: every rank the same result; ESS error %.3g (jackknife), %.3f s", nranks, v.ess_err,
        v.eval_seconds);

  lf_config c8 = cfg;
  CHECK(lf_config_set(&c8, "theory.shape=[8, 8]") == LF_OK, "8x8 card");
  lf_study_volume v8;
  rc = lf_eval_model(&c8, model, 4000, MPI_COMM_WORLD, &v8);
  const int same8 = same_everywhere(v8.ess); /* collective: never inside a && */
  CHECK(rc == LF_OK && v8.L0 == 8 && v8.L1 == 8 && v8.ess > 0.0 && v8.ess < v.ess && same8,
        "np%d: volume transfer 4x4 -> 8x8: ESS %.4f +- %.2g < %.4f (law: %.4f)", nranks, v8.ess,
        v8.ess_err, v.ess, pow(v.ess, 4.0));

  lf_study_volume bad;
  rc = lf_eval_model(&cfg, "no_such_model.h5", 100, MPI_COMM_WORLD, &bad);
  const int same_rc = same_everywhere((double)rc);
  CHECK(rc != LF_OK && same_rc, "np%d: a missing model is refused on every rank (rc %d)", nranks,
        rc);
  rc = lf_eval_model(&cfg, model, 1, MPI_COMM_WORLD, &bad);
  CHECK(rc == LF_ERR_INVALID, "np%d: n = 1 refused (rc %d)", nranks, rc);

  if (rank == 0) {
    char p[LF_PATH_MAX + 16];
    remove(model);
    remove(metrics);
    snprintf(p, sizeof p, "%s/train.log", cfg.output);
    remove(p);
    rmdir(cfg.output);
  }
  int fails = lf_test_failures, worst = 0;
  MPI_Allreduce(&fails, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) lf_test_result();
  MPI_Finalize();
  return worst ? 1 : 0;
}
