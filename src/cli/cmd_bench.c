/* latflow bench CONFIG [--json] [--seconds S]: throughput of the training step and of
 * proposal generation, peak memory, and the forward pass's FLOP efficiency against this
 * CPU's FP32 FMA peak measured by a probe in the same run. */
#include "cli.h"
#include "cmd_train.h"

#include "latflow/cpu.h"
#include "latflow/dist.h"
#include "latflow/log.h"
#include "latflow/model.h"
#include "latflow/rng.h"
#include "latflow/theory.h"
#include "latflow/timer.h"
#include "latflow/train.h"
#include "latflow/version.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: latflow bench [CONFIG] [--seconds S] [--json] [--set key=value]...\n"
    "Measures, for the model and theory of CONFIG (float or double per model.precision):\n"
    "  train_steps_per_s   training steps per second at train.batch (estimator as set)\n"
    "  proposals_per_s     proposals (noise, phi = f(z), log q, S; no gradients: the no-grad\n"
    "                      forward) per second,\n"
    "                      sample.block proposals per call\n"
    "  peak_rss_mb         peak resident memory\n"
    "  flop_efficiency     forward pass conv FLOP rate / FP32 FMA peak of this CPU (probe)\n"
    "  coordinator_weights_per_s      the sampling coordinator alone on synthetic log\n"
    "                      weights (IMH decide, row assignment, message packing; one process)\n"
    "  coordinator_weights_per_s_mpi  the same under mpiexec with P-1 workers sending\n"
    "                      synthetic blocks (P > 1 only), with the coordinator's idle CPU\n"
    "  sample_proposals_per_s         the distributed sampler on all P ranks (no file)\n"
    "Under mpiexec -n P the model measurements run on rank 0 only.\n"
    "Each measurement runs for about S seconds (default 3) after a warm-up. Writes nothing.\n"
    "Fix OPENBLAS_NUM_THREADS (1 is the fair default on this machine).\n";

typedef struct bench_ctx {
  lf_trainer *tr;
  lf_model *m;
  const lf_theory *th;
  const lf_config *cfg;
  int block;
  double *eps, *phi, *logq, *S;
  long calls;
} bench_ctx;

static lf_status train_once(bench_ctx *b) {
  lf_train_step_info info;
  const lf_status rc =
      lf_trainer_step(b->tr, b->calls, b->cfg->train.batch, b->cfg->train.optimizer.lr, &info);
  b->calls++;
  return rc;
}

static lf_status propose_once(bench_ctx *b) {
  const size_t n = (size_t)b->m->C * (size_t)b->m->V;
  const lf_rng_key key = lf_rng_key_make(b->cfg->seed, LF_STREAM_SAMPLE);
  const uint64_t g0 = (uint64_t)b->calls * (uint64_t)b->block;
  for (int i = 0; i < b->block; i++)
    lf_rng_normal(key, 0, g0 + (uint64_t)i, n, b->eps + (size_t)i * n);
  lf_model_sample_nograd(b->m, b->block, b->eps, b->phi, b->logq);
  b->th->action(b->th, b->block, b->phi, b->S);
  b->calls++;
  return LF_OK;
}

static lf_status forward_once(bench_ctx *b) {
  lf_model_sample_nograd(b->m, b->block, b->eps, b->phi, b->logq);
  b->calls++;
  return LF_OK;
}

/* Calls fn until `seconds` have passed (at least 3 calls) after 2 warm-up calls;
 * returns calls per second in *rate. */
static lf_status timed(lf_status (*fn)(bench_ctx *), bench_ctx *b, double seconds, double *rate) {
  lf_status rc;
  for (int i = 0; i < 2; i++)
    if ((rc = fn(b)) != LF_OK) return rc;
  long n = 0;
  const double t0 = lf_wtime();
  double dt = 0.0;
  while (dt < seconds || n < 3) {
    if ((rc = fn(b)) != LF_OK) return rc;
    n++;
    dt = lf_wtime() - t0;
  }
  *rate = (double)n / dt;
  return LF_OK;
}

static lf_status bench(const lf_config *cfg, double seconds, cJSON *json) {
  /* rank-local: the model measurements */
  lf_status rc = LF_OK;
  lf_theory th;
  lf_model m;
  lf_trainer tr;
  memset(&th, 0, sizeof th);
  memset(&m, 0, sizeof m);
  memset(&tr, 0, sizeof tr);
  bench_ctx b;
  memset(&b, 0, sizeof b);
  const int block = cfg->sample.block;
  LF_CHECK(lf_theory_init(&th, &cfg->theory));
  LF_CHECK(lf_model_init(&m, &cfg->model, th.C, cfg->theory.shape[0], cfg->theory.shape[1],
                         block > cfg->train.batch ? block : cfg->train.batch));
  lf_model_init_params(&m, cfg->seed);
  LF_CHECK(lf_trainer_init(&tr, cfg, &m, &th));
  const size_t n = (size_t)block * (size_t)th.C * (size_t)th.V;
  b = (bench_ctx){.tr = &tr, .m = &m, .th = &th, .cfg = cfg, .block = block};
  b.eps = lf_alloc(n * sizeof(double));
  b.phi = lf_alloc(n * sizeof(double));
  b.logq = lf_alloc((size_t)block * sizeof(double));
  b.S = lf_alloc((size_t)block * sizeof(double));
  if (!b.eps || !b.phi || !b.logq || !b.S) {
    rc = LF_FAIL(LF_ERR_NOMEM, "bench buffers for block %d", block);
    goto fail;
  }
  double train_rate, prop_rate, fwd_rate;
  lf_log_info("bench", "training steps at batch %d (%s) ...", cfg->train.batch,
              lf_estimator_name(cfg->train.estimator));
  LF_CHECK(timed(train_once, &b, seconds, &train_rate));
  lf_log_info("bench", "train_steps_per_s = %.2f", train_rate);
  b.calls = 0;
  LF_CHECK(timed(propose_once, &b, seconds, &prop_rate));
  lf_log_info("bench", "proposals_per_s = %.0f (block %d)", prop_rate * block, block);
  LF_CHECK(timed(forward_once, &b, seconds, &fwd_rate));
  const double gflops = 2.0 * lf_model_forward_madds(&m) * block * fwd_rate * 1e-9;
  const char *isa = lf_cpu_best_isa();
  const double peak = lf_cpu_fma_peak_gflops(isa, 0.5);
  const double peak2 = lf_cpu_fma_peak_gflops("avx2", 0.5);
  const double rss = lf_peak_rss_mb();
  lf_log_info("bench",
              "forward %.2f GFLOP/s; FMA peak %.1f GFLOP/s (%s), %.1f (avx2); "
              "efficiency %.1f%%; peak RSS %.1f MB",
              gflops, peak, isa, peak2, peak > 0 ? 100 * gflops / peak : 0.0, rss);
  const char *threads = getenv("OPENBLAS_NUM_THREADS");
  cJSON_AddStringToObject(json, "impl", "latflow-" LATFLOW_VERSION);
  cJSON *shape = cJSON_AddArrayToObject(json, "shape");
  cJSON_AddItemToArray(shape, cJSON_CreateNumber(cfg->theory.shape[0]));
  cJSON_AddItemToArray(shape, cJSON_CreateNumber(cfg->theory.shape[1]));
  cJSON_AddNumberToObject(json, "batch", cfg->train.batch);
  cJSON_AddNumberToObject(json, "block", block);
  cJSON_AddNumberToObject(json, "layers", cfg->model.layers);
  cJSON *hid = cJSON_AddArrayToObject(json, "hidden");
  for (int i = 0; i < cfg->model.nhidden; i++)
    cJSON_AddItemToArray(hid, cJSON_CreateNumber(cfg->model.hidden[i]));
  cJSON_AddNumberToObject(json, "kernel", cfg->model.kernel);
  cJSON_AddStringToObject(json, "dtype",
                          cfg->model.precision == LF_PREC_F32 ? "float32" : "float64");
  cJSON_AddStringToObject(json, "estimator", lf_estimator_name(cfg->train.estimator));
  cJSON_AddNumberToObject(json, "threads", threads ? atoi(threads) : 0);
  cJSON_AddNumberToObject(json, "train_steps_per_s", train_rate);
  cJSON_AddNumberToObject(json, "proposals_per_s", prop_rate * block);
  cJSON_AddNumberToObject(json, "peak_rss_mb", rss);
  cJSON_AddNumberToObject(json, "forward_gflops", gflops);
  cJSON_AddNumberToObject(json, "fma_peak_gflops", peak);
  cJSON_AddStringToObject(json, "fma_isa", isa);
  cJSON_AddNumberToObject(json, "flop_efficiency", peak > 0 ? gflops / peak : 0.0);
  cJSON_AddNumberToObject(json, "fma_peak_avx2_gflops", peak2);
  cJSON_AddNumberToObject(json, "flop_efficiency_avx2", peak2 > 0 ? gflops / peak2 : 0.0);
fail:
  lf_free(b.eps);
  lf_free(b.phi);
  lf_free(b.logq);
  lf_free(b.S);
  lf_trainer_free(&tr);
  lf_model_free(&m);
  lf_theory_free(&th);
  return rc;
}

/* Collective: the coordinator alone and with workers, and the distributed sampler on
 * all ranks (proposals for about `seconds` at the rank-0 single-process rate). */
static lf_status bench_dist(const lf_config *cfg, MPI_Comm comm, double seconds, double prop_rate,
                            cJSON *json) {
  lf_status rc = LF_OK;
  int rank = 0, P = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &P);
  double local = 0.0, mpi = 0.0;
  lf_dist_stats st;
  LF_CHECK(lf_dist_bench(cfg, comm, seconds, &local, &mpi, &st));
  lf_log_info("bench", "coordinator_weights_per_s = %.3g (one process, block %d)", local,
              cfg->sample.block);
  if (P > 1)
    lf_log_info("bench",
                "coordinator_weights_per_s_mpi = %.3g (%d workers, synthetic blocks); "
                "coordinator idle %.3f s wall, %.4f s CPU",
                mpi, P - 1, st.idle_seconds, st.idle_cpu_seconds);
  /* the real sampler, nothing written */
  lf_theory th;
  lf_model m;
  memset(&th, 0, sizeof th);
  memset(&m, 0, sizeof m);
  rc = lf_theory_init(&th, &cfg->theory);
  if (rc == LF_OK)
    rc = lf_model_init(&m, &cfg->model, th.C, cfg->theory.shape[0], cfg->theory.shape[1],
                       cfg->sample.block);
  if (rc == LF_OK) lf_model_init_params(&m, cfg->seed);
  if ((rc = lf_cli_agree(comm, rc)) == LF_OK) {
    MPI_Bcast(&prop_rate, 1, MPI_DOUBLE, 0, comm);
    lf_config c = *cfg;
    const double want = prop_rate * seconds * (P > 1 ? (double)(P - 1) : 1.0);
    c.sample.proposals =
        want > 4.0 * cfg->sample.block * P ? (long)want : 4L * cfg->sample.block * P;
    lf_sample_result res;
    lf_dist_stats ss;
    rc = lf_sample_dist(&c, &m, &th, NULL, comm, NULL, &res, &ss);
    if (rc == LF_OK) {
      const double rate = (double)res.proposals / res.seconds;
      lf_log_info("bench",
                  "sample_proposals_per_s = %.0f on %d rank(s) (%llu proposals); coordinator "
                  "idle %.2f s wall, %.4f s CPU",
                  rate, P, (unsigned long long)res.proposals, ss.idle_seconds, ss.idle_cpu_seconds);
      if (json) {
        cJSON_AddNumberToObject(json, "ranks", P);
        cJSON_AddNumberToObject(json, "coordinator_weights_per_s", local);
        if (P > 1) {
          cJSON_AddNumberToObject(json, "coordinator_weights_per_s_mpi", mpi);
          cJSON_AddNumberToObject(json, "coordinator_idle_seconds", ss.idle_seconds);
          cJSON_AddNumberToObject(json, "coordinator_idle_cpu_seconds", ss.idle_cpu_seconds);
        }
        cJSON_AddNumberToObject(json, "sample_proposals_per_s", rate);
      }
    }
  }
  lf_model_free(&m);
  lf_theory_free(&th);
fail:
  return rc;
}

int lf_cmd_bench(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  lf_config cfg;
  int code;
  if (!lf_cli_setup(argc, argv, comm, "bench", help, &o, &cfg, &code)) return code;
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const double secs = o.seconds > 0 ? o.seconds : 3.0;
  cJSON *json = cJSON_CreateObject();
  lf_status rc = rank == 0 ? bench(&cfg, secs, json) : LF_OK;
  if ((rc = lf_cli_agree(comm, rc)) == LF_OK) {
    cJSON *pr = cJSON_GetObjectItem(json, "proposals_per_s");
    rc = bench_dist(&cfg, comm, secs, pr ? pr->valuedouble : 0.0, rank == 0 ? json : NULL);
  }
  code = lf_cli_report(rc);
  if (code == 0 && o.json && rank == 0) code = lf_cli_print_json(json);
  cJSON_Delete(json);
  return code;
}
