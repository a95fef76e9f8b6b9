/* The benchmark of a card (contract: latflow/bench.h): timed training steps per estimator
 * with their phase split, proposal generation and the forward pass's FLOP rate against the
 * FMA peak probe (rank 0), then the coordinator and the distributed sampler (all ranks). */
#include "latflow/bench.h"

#include "latflow/comm.h"
#include "latflow/cpu.h"
#include "latflow/dist.h"
#include "latflow/log.h"
#include "latflow/model.h"
#include "latflow/rng.h"
#include "latflow/theory.h"
#include "latflow/timer.h"
#include "latflow/train.h"
#include "latflow/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU seconds of the whole process (0 if the clock cannot be read). */
static double cpu_seconds(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0.0;
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* What the timed proposal and forward calls work on: rank 0's model and theory and
 * buffers for one block (eps, phi (block,C,V); logq, S (block)); calls counts them. */
typedef struct bench_ctx {
  lf_model *m;
  const lf_theory *th;
  const lf_config *cfg;
  int block;
  double *eps, *phi, *logq, *S;
  long calls;
} bench_ctx;

/* One block of proposals: noise, the no-grad flow with log q, and the action. */
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

/* The no-grad flow alone on the same noise (for the FLOP rate). */
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

/* Sums of the phase timers of lf_trainer_step (lf_train_step_info.t_*). */
typedef struct step_split {
  long n;
  double total, noise, sample, logq, action, action_grad, backward, update;
} step_split;

/* Adds one step's phase timers to s. */
static void split_add(step_split *s, const lf_train_step_info *i) {
  s->n++;
  s->total += i->t_total;
  s->noise += i->t_noise;
  s->sample += i->t_sample;
  s->logq += i->t_logq;
  s->action += i->t_action;
  s->action_grad += i->t_action_grad;
  s->backward += i->t_backward;
  s->update += i->t_update;
}

/* Training steps with estimator est (a copy of cfg with train.estimator = est) on a
 * fresh model: 1-2 warm-up steps, then steps for about `seconds` (at least 3). Adds the
 * object described in latflow/bench.h ("train") to arr; *rate = steps per second. Rank-local. */
static lf_status bench_train(const lf_config *cfg0, const lf_theory *th, lf_estimator est,
                             double seconds, cJSON *arr, double *rate) {
  lf_status rc = LF_OK;
  lf_config cfg = *cfg0;
  cfg.train.estimator = est;
  lf_model m;
  lf_trainer tr;
  memset(&m, 0, sizeof m);
  memset(&tr, 0, sizeof tr);
  const double rss0 = lf_peak_rss_mb();
  const int B = cfg.train.batch;
  const double lr = cfg.train.optimizer.lr;
  LF_CHECK(lf_model_init(&m, &cfg.model, th->C, cfg.theory.shape[0], cfg.theory.shape[1], B));
  lf_model_init_params(&m, cfg.seed);
  LF_CHECK(lf_trainer_init(&tr, &cfg, &m, th));
  lf_log_info("bench", "training steps at batch %d (%s, %s) ...", B, lf_estimator_name(est),
              cfg.model.precision == LF_PREC_F32 ? "single" : "double");
  lf_train_step_info info;
  long t = 0;
  /* warm-up: two steps, or one if it already took a third of the budget */
  for (int i = 0; i < 2; i++) {
    const double w0 = lf_wtime();
    LF_CHECK(lf_trainer_step(&tr, t++, B, lr, &info));
    if (lf_wtime() - w0 > seconds / 3) break;
  }
  step_split sp;
  memset(&sp, 0, sizeof sp);
  const double c0 = cpu_seconds(), t0 = lf_wtime();
  double dt = 0.0;
  while (dt < seconds || sp.n < 3) {
    LF_CHECK(lf_trainer_step(&tr, t++, B, lr, &info));
    split_add(&sp, &info);
    dt = lf_wtime() - t0;
  }
  const double cpu = (cpu_seconds() - c0) / (double)sp.n;
  const double n = (double)sp.n;
  const double fwd = (sp.sample + sp.logq) / n, act = (sp.action + sp.action_grad) / n;
  const double bwd = sp.backward / n, step = sp.total / n;
  const double rss = lf_peak_rss_mb();
  *rate = n / dt;
  lf_log_info("bench",
              "train %s: %.4g s/step = forward %.4g (sample %.4g, logq %.4g) + action %.4g "
              "(S %.4g, dS %.4g) + backward %.4g + other %.4g (noise %.4g, update %.4g); "
              "CPU %.4g s/step; %ld steps; peak RSS %.1f MB (%.1f before)",
              lf_estimator_name(est), step, fwd, sp.sample / n, sp.logq / n, act, sp.action / n,
              sp.action_grad / n, bwd, step - fwd - act - bwd, sp.noise / n, sp.update / n, cpu,
              sp.n, rss, rss0);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToArray(arr, o);
  cJSON_AddStringToObject(o, "estimator", lf_estimator_name(est));
  cJSON_AddNumberToObject(o, "batch", B);
  cJSON_AddNumberToObject(o, "steps", (double)sp.n);
  cJSON_AddNumberToObject(o, "steps_per_s", *rate);
  cJSON_AddNumberToObject(o, "step_s", step);
  cJSON_AddNumberToObject(o, "forward_s", fwd);
  cJSON_AddNumberToObject(o, "sample_s", sp.sample / n);
  cJSON_AddNumberToObject(o, "logq_s", sp.logq / n);
  cJSON_AddNumberToObject(o, "action_s", act);
  cJSON_AddNumberToObject(o, "action_eval_s", sp.action / n);
  cJSON_AddNumberToObject(o, "action_grad_s", sp.action_grad / n);
  cJSON_AddNumberToObject(o, "backward_s", bwd);
  /* the flow's backward: dx and dW of every conv, 2x the forward's multiply-adds */
  cJSON_AddNumberToObject(o, "backward_gflops",
                          bwd > 0 ? 4.0 * lf_model_forward_madds(&m) * B / bwd * 1e-9 : 0.0);
  cJSON_AddNumberToObject(o, "other_s", step - fwd - act - bwd);
  cJSON_AddNumberToObject(o, "noise_s", sp.noise / n);
  cJSON_AddNumberToObject(o, "update_s", sp.update / n);
  cJSON_AddNumberToObject(o, "cpu_step_s", cpu);
  cJSON_AddNumberToObject(o, "rss_before_mb", rss0);
  cJSON_AddNumberToObject(o, "peak_rss_mb", rss);
fail:
  lf_trainer_free(&tr);
  lf_model_free(&m);
  return rc;
}

/* Rank-local, rank 0: the card's description, the training steps per estimator, then
 * (unless bo->train_only) proposals, the forward FLOP rate and the FMA peak, into json. */
static lf_status bench(const lf_config *cfg, double seconds, const lf_bench_opts *bo, cJSON *json) {
  lf_status rc = LF_OK;
  lf_theory th;
  lf_model m;
  memset(&th, 0, sizeof th);
  memset(&m, 0, sizeof m);
  bench_ctx b;
  memset(&b, 0, sizeof b);
  const int block = cfg->sample.block;
  const char *threads = getenv("OPENBLAS_NUM_THREADS");
  if (bo->isa_given) lf_nn_set_isa(bo->isa);
  const lf_nn_isa isa_used = lf_nn_isa_current();
  cJSON_AddStringToObject(json, "impl", "latflow-" LATFLOW_VERSION);
  cJSON_AddStringToObject(json, "isa", lf_nn_isa_name(isa_used));
  cJSON_AddStringToObject(json, "theory", lf_theory_name(cfg->theory.name));
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
  cJSON_AddNumberToObject(json, "threads", threads ? atoi(threads) : 0);
  LF_CHECK(lf_theory_init(&th, &cfg->theory));
  /* the training steps, one fresh model and trainer per estimator */
  const int nest = bo->nest > 0 ? bo->nest : 1;
  const lf_estimator *ests = bo->nest > 0 ? bo->est : &cfg->train.estimator;
  cJSON *arr = cJSON_AddArrayToObject(json, "train");
  double train_rate = 0.0;
  for (int k = 0; k < nest; k++) {
    double r = 0.0;
    LF_CHECK(bench_train(cfg, &th, ests[k], seconds, arr, &r));
    if (k == 0) train_rate = r;
  }
  lf_log_info("bench", "train_steps_per_s = %.4g (%s)", train_rate, lf_estimator_name(ests[0]));
  cJSON_AddStringToObject(json, "estimator", lf_estimator_name(ests[0]));
  cJSON_AddNumberToObject(json, "train_steps_per_s", train_rate);
  if (bo->train_only) {
    cJSON_AddNumberToObject(json, "peak_rss_mb", lf_peak_rss_mb());
    goto fail; /* done: clean up */
  }
  /* sampling only, as latflow sample builds it (no training workspaces) */
  LF_CHECK(lf_model_init_sampling(&m, &cfg->model, th.C, cfg->theory.shape[0], cfg->theory.shape[1],
                                  block));
  lf_model_init_params(&m, cfg->seed);
  const size_t n = (size_t)block * (size_t)th.C * (size_t)th.V;
  b = (bench_ctx){.m = &m, .th = &th, .cfg = cfg, .block = block};
  b.eps = lf_alloc(n * sizeof(double));
  b.phi = lf_alloc(n * sizeof(double));
  b.logq = lf_alloc((size_t)block * sizeof(double));
  b.S = lf_alloc((size_t)block * sizeof(double));
  if (!b.eps || !b.phi || !b.logq || !b.S) {
    rc = LF_FAIL(LF_ERR_NOMEM, "bench buffers for block %d", block);
    goto fail;
  }
  double prop_rate, fwd_rate;
  LF_CHECK(timed(propose_once, &b, seconds, &prop_rate));
  lf_log_info("bench", "proposals_per_s = %.0f (block %d)", prop_rate * block, block);
  LF_CHECK(timed(forward_once, &b, seconds, &fwd_rate));
  const double gflops = 2.0 * lf_model_forward_madds(&m) * block * fwd_rate * 1e-9;
  /* the probe at the level the kernels use (--isa / LATFLOW_ISA cap both) */
  const char *isa = isa_used == LF_ISA_AVX512 ? "avx512"
                    : isa_used == LF_ISA_AVX2 ? "avx2"
                                              : "none";
  const double peak = lf_cpu_fma_peak_gflops(isa, 0.5);
  const double peak2 = lf_cpu_fma_peak_gflops("avx2", 0.5);
  const double rss = lf_peak_rss_mb();
  lf_log_info("bench",
              "forward %.2f GFLOP/s; FMA peak %.1f GFLOP/s (%s), %.1f (avx2); "
              "efficiency %.1f%%; peak RSS %.1f MB",
              gflops, peak, isa, peak2, peak > 0 ? 100 * gflops / peak : 0.0, rss);
  cJSON_AddNumberToObject(json, "proposals_per_s", prop_rate * block);
  cJSON_AddNumberToObject(json, "peak_rss_mb", rss);
  cJSON_AddNumberToObject(json, "forward_gflops", gflops);
  cJSON_AddNumberToObject(json, "fma_peak_gflops", peak);
  cJSON_AddStringToObject(json, "fma_isa", isa);
  cJSON_AddNumberToObject(json, "flop_efficiency", peak > 0 ? gflops / peak : 0.0);
  cJSON_AddNumberToObject(json, "fma_peak_avx2_gflops", peak2);
  cJSON_AddNumberToObject(json, "flop_efficiency_avx2", peak2 > 0 ? gflops / peak2 : 0.0);
fail:
  LF_FREE_ALL(b.eps, b.phi, b.logq, b.S);
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
    rc = lf_model_init_sampling(&m, &cfg->model, th.C, cfg->theory.shape[0], cfg->theory.shape[1],
                                cfg->sample.block);
  if (rc == LF_OK) lf_model_init_params(&m, cfg->seed);
  if ((rc = lf_comm_agree(comm, rc)) == LF_OK) {
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

/* Rank 0's model measurements, agreed, then the collective ones. */
lf_status lf_bench_run(const lf_config *cfg, const lf_bench_opts *bo, MPI_Comm comm, cJSON *json) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const double secs = bo->seconds > 0 ? bo->seconds : 3.0;
  lf_status rc = LF_OK;
  if (rank == 0)
    rc = json ? bench(cfg, secs, bo, json) : LF_FAIL(LF_ERR_INVALID, "lf_bench_run: json is NULL");
  if ((rc = lf_comm_agree(comm, rc)) == LF_OK && !bo->train_only) {
    /* the other ranks learn rank 0's proposal rate inside bench_dist */
    const cJSON *pr = rank == 0 ? cJSON_GetObjectItem(json, "proposals_per_s") : NULL;
    rc = bench_dist(cfg, comm, secs, pr ? pr->valuedouble : 0.0, rank == 0 ? json : NULL);
  }
  return rc;
}
