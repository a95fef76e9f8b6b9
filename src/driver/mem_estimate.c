/* The memory a card needs per rank (lf_mem_estimate, latflow/mem.h): a model of the big
 * allocations of each command, in the driver area because it knows every module above the
 * core.
 *
 * The model follows the allocations of the modules it names; when one of them changes
 * its buffers, the formula here must change with it (test_mem checks the estimate
 * against the real sizes of a model, and the fault test memory.sh checks it against the
 * measured peak RSS of real runs). What depends on the theory (components per site,
 * correlator length, dense Dirac matrices or the sparse factor, pseudofermion vectors) is asked of
 * the theory module's facts of a configuration (latflow/theory.h), which build nothing. */
#include "latflow/mem.h"

#include "latflow/theory.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB 1048576.0
/* Copies of constants of modules that include MPI (this one does not); test_mem checks
 * them against the originals. */
#define WINDOW LF_MEM_DIST_WINDOW        /* LF_DIST_WINDOW: pending blocks per worker  */
#define STEP_BYTES LF_MEM_ENS_STEP_BYTES /* sizeof(lf_ens_step)                      */
#define LF_MEM_WSPARSE_BLOCK 32          /* LF_WSPARSE_BLOCK (src/theory/wilson_impl.h) */

/* ---- the estimate ---------------------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static void add(lf_mem_est *e, const char *name, double bytes,
                                                      const char *fmt, ...) {
  if (bytes <= 0.0 || e->nparts >= LF_MEM_MAX_PARTS) return;
  lf_mem_part *p = &e->part[e->nparts++];
  p->name = name;
  p->bytes = bytes;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->detail, sizeof p->detail, fmt, ap);
  va_end(ap);
  e->total += bytes;
}

static void est_clear(lf_mem_est *e, const char *phase) {
  memset(e, 0, sizeof *e);
  e->phase = phase;
  add(e, "runtime", LF_MEM_RUNTIME_BYTES, "code, MPI, HDF5, OpenBLAS");
}

/* components per site: phi^4 has one real, u1 and schwinger two link angles */
static int comps(const lf_config *cfg) {
  return lf_theory_cfg_comps(&cfg->theory);
}

static double sites(const lf_config *cfg) {
  return (double)cfg->theory.shape[0] * (double)cfg->theory.shape[1];
}

static double conv_np(double cin, double cout, double k) {
  return cin * cout * k * k + cout;
}

/* parameters of one coupling's net cin -> hidden... -> cout (src/nn/convnet_t.c) */
static double net_np(const lf_model_cfg *m, double cin, double cout) {
  double n = 0.0, c = cin;
  for (int j = 0; j < m->nhidden; j++) {
    n += conv_np(c, m->hidden[j], m->kernel);
    c = m->hidden[j];
  }
  return n + conv_np(c, cout, m->kernel);
}

static int gauge_flow(const lf_config *cfg) {
  return cfg->model.coupling == LF_COUPLING_SPLINE;
}

static double nparams(const lf_config *cfg) {
  const lf_model_cfg *m = &cfg->model;
  const double per = gauge_flow(cfg) ? net_np(m, 2, 3.0 * m->spline_bins)
                                     : net_np(m, comps(cfg), 2.0 * comps(cfg));
  const double nbase = m->base == LF_BASE_FREE_FIELD  ? 1.0
                       : m->base == LF_BASE_PLAQUETTE ? 3.0 * m->spline_bins
                                                      : 0.0;
  return (double)m->layers * per + nbase;
}

static double real_size(const lf_config *cfg) {
  return cfg->model.precision == LF_PREC_F32 ? 4.0 : 8.0;
}

static const char *prec_name(const lf_config *cfg) {
  return cfg->model.precision == LF_PREC_F32 ? "f32" : "f64";
}

/* The reals of the flow's arenas for a batch of B (flowstack_t.c / gauge_t.c init):
 * saved workspaces (*ws), layer outputs and scratch (*rest); sampling: a stack built by
 * lf_flow_init_nograd (no saved workspaces, layer outputs or gradient buffers; the affine
 * and gauge stacks' scratch is that of one cache chunk of their no-grad forwards). */
static void flow_reals(const lf_config *cfg, double B, int sampling, double *ws, double *rest) {
  const lf_model_cfg *m = &cfg->model;
  const double V = sites(cfg), BV = B * V, L = m->layers;
  double sum_h = 0.0, hmax = 0.0, conv = 0.0;
  const int gauge = gauge_flow(cfg);
  const double C = gauge ? 2.0 : comps(cfg);
  const double cout = gauge ? 3.0 * m->spline_bins : 2.0 * C;
  hmax = cout > C ? cout : C;
  double nb = floor(2048.0 / V); /* conv2d_t.c: im2col chunks of CHUNK_COLS columns */
  if (nb < 1.0) nb = 1.0;
  if (nb > B) nb = B;
  double cin = C;
  for (int j = 0; j <= m->nhidden; j++) {
    const double co = j < m->nhidden ? m->hidden[j] : cout;
    if (j < m->nhidden) sum_h += co;
    if (co > hmax) hmax = co;
    const double s = (cin * m->kernel * m->kernel + co) * nb * V;
    if (s > conv) conv = s;
    cin = co;
  }
  const double field = B * C * V;
  if (sampling && gauge) {
    /* gauge_t.c nograd scratch of one chunk of cb samples: netin, two hidden tensors, pw;
     * u (3K), x, q, logj of the V/4 active sites; the chunk's two fields; conv scratch */
    const double head1 = 3.0 * V + 2.0 * V * hmax + (3.0 * m->spline_bins + 3.0) * V / 4.0;
    double cb = floor(65536.0 / (real_size(cfg) * (4.0 * V + head1)));
    cb = cb < 1.0 ? 1.0 : cb > B ? B : cb;
    const double nbc = nb < cb ? nb : cb;
    *ws = 0.0;
    *rest = 2.0 * cb * C * V + cb * head1 + conv / nb * nbc;
  } else if (sampling) { /* flowstack_t.c NOGRAD_CHUNK_BYTES of samples */
    double cb = floor(65536.0 / (real_size(cfg) * V * (3.0 * C + 2.0 * hmax)));
    cb = cb < 1.0 ? 1.0 : cb > B ? B : cb;
    *ws = 0.0;
    *rest = cb * V * (3.0 * C + 2.0 * hmax) + conv;
  } else if (gauge) { /* netin, hidden outputs, pw; u (3K) and q of the V/4 active sites */
    *ws = L * (BV * (3.0 + sum_h) + 0.25 * BV * (cout + 1.0));
    *rest = (L + 1.0) * field + 2.0 * field + (2.0 * BV * hmax + BV + conv);
  } else {
    *ws = L * BV * (3.0 * C + sum_h);
    *rest = (L + 1.0) * field + 2.0 * field + (2.0 * BV * hmax + conv);
  }
}

static void add_flow(lf_mem_est *e, const lf_config *cfg, double B, int sampling,
                     const char *what) {
  double ws, rest;
  flow_reals(cfg, B, sampling, &ws, &rest);
  const double R = real_size(cfg), n = B * comps(cfg) * sites(cfg);
  double sum_h = 0.0;
  for (int j = 0; j < cfg->model.nhidden; j++) sum_h += cfg->model.hidden[j];
  add(e, "flow workspaces", ws * R, "%s %.0f x %dx%d sites x %d layers x %.0f reals (%s)", what, B,
      cfg->theory.shape[0], cfg->theory.shape[1], cfg->model.layers,
      ws / (B * sites(cfg) * cfg->model.layers), prec_name(cfg));
  /* the model's batch buffers (model.c bufs_alloc): 3 fields of doubles, 3 of reals */
  add(e, "flow fields", rest * R + n * (24.0 + 3.0 * R) + 24.0 * B,
      "%d layer outputs, conv scratch and batch buffers of %s %.0f",
      sampling ? 3 : cfg->model.layers + 3, what, B);
}

static void add_params(lf_mem_est *e, const lf_config *cfg, double copies) {
  const double np = nparams(cfg);
  add(e, "flow parameters", copies * np * real_size(cfg),
      "%.0f parameters x %.0f (weights, gradients, optimizer state%s)", np, copies,
      copies > 4 ? ", backup" : "");
}

static void add_theory(lf_mem_est *e, const lf_config *cfg) {
  if (!lf_theory_cfg_fermions(&cfg->theory)) return;
  const double n = 2.0 * sites(cfg);
  if (lf_theory_cfg_logdet(&cfg->theory) == LF_LOGDET_DENSE) {
    /* wilson.c: D and its inverse, (2V x 2V) complex */
    add(e, "Dirac matrices", 2.0 * n * n * 16.0 + 64.0 * n * 16.0,
        "2 dense %.0f x %.0f complex matrices (Schwinger, theory.logdet dense)", n, n);
    return;
  }
  /* wilson_sparse.c: the Cholesky factor of D^dagger D, whose entries CHOLMOD's nested
   * dissection keeps below 14 n log2 n (measured 5.5, 8.0, 11.1, 13.2, 13.1 n log2 n at
   * L = 8, 16, 32, 64, 128), complex, and as many for the selected inverse on its pattern;
   * D^dagger (9 entries a column); the gather of the force's D^{-1} entries (9 a column, 9 terms
   * each); 7 dense (n, 32) blocks */
  const double lnz = 14.0 * n * log2(n > 2.0 ? n : 2.0);
  add(e, "Dirac factor",
      2.0 * lnz * 16.0 + 9.0 * n * 20.0 + 9.0 * n * (9.0 * 4.0 + 16.0) +
          7.0 * n * LF_MEM_WSPARSE_BLOCK * 16.0,
      "sparse Cholesky factor of D^dagger D, ~%.0f complex entries (Schwinger, n = %.0f, "
      "theory.logdet sparse)",
      lnz, n);
}

static int ncorr(const lf_config *cfg) {
  return lf_theory_cfg_ncorr(&cfg->theory);
}

static int nobs(const lf_config *cfg) {
  return cfg->nobs > 0 ? cfg->nobs : LF_MAX_OBS;
}

static void est_train(const lf_config *cfg, lf_mem_est *e) {
  est_clear(e, "train");
  const double B0 = cfg->train.batch;
  /* the largest batch the schedule reaches (lf_train_batch at train.stop.steps) */
  double Bmax = B0;
  const double bcap = cfg->train.batch_max > 0 ? cfg->train.batch_max : B0;
  if (cfg->train.batch_double_every > 0)
    for (long k = cfg->train.steps / cfg->train.batch_double_every; k > 0 && Bmax < bcap; k--)
      Bmax *= 2.0;
  if (Bmax > bcap) Bmax = bcap;
  if (Bmax < B0) Bmax = B0;
  add_params(e, cfg, 7.0); /* 4 arenas (model.c) + 3 in the trainer's backup (train.c) */
  add_flow(e, cfg, Bmax, 0, "train.batch");
  if (Bmax > B0) { /* lf_model_reserve builds the bigger stack before freeing the first */
    double ws, rest;
    flow_reals(cfg, B0, 0, &ws, &rest);
    add(e, "flow workspaces", (ws + rest) * real_size(cfg), "first batch %.0f, while growing", B0);
  }
  const double n = Bmax * comps(cfg) * sites(cfg);
  add(e, "trainer buffers", 3.0 * n * 8.0 + 5.0 * Bmax * 8.0, "3 fields of batch %.0f (doubles)",
      Bmax);
  add(e, "evaluation", 2.0 * (double)cfg->train.eval_samples * 8.0,
      "2 x train.eval_samples %ld doubles", cfg->train.eval_samples);
  add_theory(e, cfg);
}

static void est_sample(const lf_config *cfg, int P, lf_mem_est *e) {
  est_clear(e, "sample");
  const double B = cfg->sample.block, n = comps(cfg) * sites(cfg);
  add_params(e, cfg, 4.0);
  add_flow(e, cfg, B, 1, "sample.block"); /* lf_model_init_sampling */
  add_theory(e, cfg);
  /* every rank loads the model; then the busiest of a worker (proposals, pending blocks,
   * one epoch's states) and, with several ranks, the coordinator (the chain steps and
   * decisions of an epoch of sample.epoch x (P-1) blocks: dist.c bufs_init, run_rank) */
  const double pending = P > 1 ? WINDOW : 1.0;
  const double bufs = (1.0 + pending) * B * n * 8.0 + 4.0 * B * 8.0;
  const double states = (double)cfg->sample.epoch * B;
  const double width = (double)(nobs(cfg) + ncorr(cfg));
  const double per = width * 8.0 + (cfg->sample.save != LF_SAVE_NONE ? n * 8.0 : 0.0);
  double cap = 16.0; /* dist.c grow(): capacities double from 16 */
  while (cap < states) cap *= 2.0;
  const double E = (double)cfg->sample.epoch * (P > 1 ? P - 1 : 1);
  const double coord = P > 1 ? E * B * (STEP_BYTES + 1.0) + 2.0 * B * 8.0 : 0.0;
  if (coord > bufs + cap * per) {
    add(e, "coordinator buffers", coord,
        "chain steps of %.0f blocks of %.0f (sample.epoch x %d "
        "workers)",
        E, B, P - 1);
    return;
  }
  add(e, "sampler buffers", bufs, "%.0f fields of sample.block %.0f (doubles)", 1.0 + pending, B);
  add(e, "epoch buffer", cap * per, "%d blocks of %.0f states per storage epoch%s",
      cfg->sample.epoch, B, cfg->sample.save != LF_SAVE_NONE ? " with their fields" : "");
}

static double writer_bytes(const lf_config *cfg, int save) {
  const double width = nobs(cfg) + ncorr(cfg), nphi = comps(cfg) * sites(cfg);
  double rows = floor(262144.0 / width); /* ens_writer.c ROW_BUF_VALUES, ROW_BUF_MAX */
  rows = rows < 1 ? 1 : rows > 4096 ? 4096 : rows;
  double confs = floor(1048576.0 / nphi); /* CONF_BUF_VALUES, CONF_BUF_MAX */
  confs = confs < 1 ? 1 : confs > 64 ? 64 : confs;
  return rows * width * 8.0 + (save ? confs * nphi * 8.0 : 0.0) + 2.0 * MiB /* chunk cache */;
}

static void est_hmc(const lf_config *cfg, int P, lf_mem_est *e) {
  est_clear(e, "hmc");
  const double V = sites(cfg), n = comps(cfg) * V;
  add(e, "hmc fields", 6.0 * n * 8.0, "field, momenta, force, saved field, observables");
  if (P > 1) /* rank 0 gathers every chain's field for a checkpoint (cmd_hmc.c) */
    add(e, "checkpoint gather", (double)P * (n + 8.0) * 8.0, "the fields of %d chains", P);
  if (lf_theory_cfg_pseudofermions(&cfg->theory, &cfg->hmc))
    add(e, "pseudofermion vectors", 8.0 * 2.0 * V * 16.0 + 4.0 * V * 16.0,
        "10 vectors of %.0f complex numbers", 2.0 * V);
  add(e, "ensemble writer", writer_bytes(cfg, 1), "rows and configurations buffered");
  add_theory(e, cfg);
}

/* run: both ensembles held by the analysis (lf_ens_read: rows, steps, multiplicities, and
 * the observables' series with their Gamma-method copies) */
static void est_analysis(const lf_config *cfg, lf_mem_est *e) {
  est_clear(e, "analysis");
  const double width = nobs(cfg) + ncorr(cfg);
  const double per = 2.0 * width * 8.0 + STEP_BYTES + 8.0;
  add(e, "flow ensemble", (double)cfg->sample.proposals * per,
      "sample.proposals %ld x %.0f observables and correlator", cfg->sample.proposals, width);
  if (cfg->hmc.compare)
    add(e, "hmc ensemble", (double)cfg->hmc.trajectories * per,
        "hmc.trajectories %ld x %.0f observables and correlator", cfg->hmc.trajectories, width);
}

static int by_size(const void *a, const void *b) {
  const double x = ((const lf_mem_part *)a)->bytes, y = ((const lf_mem_part *)b)->bytes;
  return x < y ? 1 : x > y ? -1 : 0;
}

void lf_mem_estimate(const lf_config *cfg, lf_mem_cmd cmd, int nranks, lf_mem_est *e) {
  lf_mem_est t;
  const int P = nranks > 0 ? nranks : 1;
  switch (cmd) {
  case LF_MEM_TRAIN:
    est_train(cfg, e);
    break;
  case LF_MEM_SAMPLE:
    est_sample(cfg, P, e);
    break;
  case LF_MEM_HMC:
    est_hmc(cfg, P, e);
    break;
  case LF_MEM_RUN:
  case LF_MEM_BENCH:
    est_train(cfg, e);
    est_sample(cfg, P, &t);
    if (t.total > e->total) *e = t;
    if (cmd == LF_MEM_RUN && cfg->hmc.compare) {
      est_hmc(cfg, P, &t);
      if (t.total > e->total) *e = t;
    }
    if (cmd == LF_MEM_RUN) {
      est_analysis(cfg, &t);
      if (t.total > e->total) *e = t;
    }
    break;
  default:
    est_clear(e, "?");
  }
  qsort(e->part, (size_t)e->nparts, sizeof e->part[0], by_size);
}
