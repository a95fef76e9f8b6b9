/* tests/mpi/test_sample_dist.c: the distributed sampler (latflow/dist.h) under mpiexec -n P.
 * A tiny model (4x4 phi^4, double precision, 2 layers, parameters from a seed) is sampled
 * with all P ranks; rank 0 also writes the serial lf_sample_run file and the one-rank
 * lf_sample_dist file (MPI_COMM_SELF). The three files must agree bitwise: chain (row, id,
 * log w, accepted), observables, correlators, configurations, and the run summaries
 * (proposals, rows, non-finite, acceptance, longest rejection run, ESS). Cases: IMH with
 * save accepted/all/none, reweighting, and a theory whose action is NaN for a fraction of
 * proposals (IMH and reweighting: the non-finite counts agree too). Finally a callback
 * stopping the run on rank 0 must make every rank return the same error (no hang). */
#include "latflow/dist.h"
#include "latflow/ensemble.h"
#include "latflow/model.h"
#include "latflow/sample.h"
#include "latflow/theory.h"
#include "lftest.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { L0 = 4, L1 = 4, V = L0 * L1 };

static int rank, nranks;
static lf_theory nan_base;

static void nan_action(const lf_theory *t, int B, const double *phi, double *S) {
  nan_base.action(&nan_base, B, phi, S);
  for (int b = 0; b < B; b++)
    if (phi[(size_t)b * t->V] > 0.4) S[b] = NAN;
}

static lf_config make_cfg(lf_sample_mode mode, lf_save_kind save) {
  lf_config c;
  lf_config_defaults(&c);
  c.seed = 4242;
  c.theory.name = LF_THEORY_PHI4;
  c.theory.shape[0] = L0;
  c.theory.shape[1] = L1;
  c.theory.m2 = 0.5;
  c.theory.lambda = 0.1;
  c.model.base = LF_BASE_FREE_FIELD;
  c.model.base_mass = 1.0;
  c.model.layers = 2;
  c.model.nhidden = 1;
  c.model.hidden[0] = 4;
  c.model.precision = LF_PREC_F64;
  c.model.init_scale = 0.1;
  c.sample.mode = mode;
  c.sample.save = save;
  c.sample.block = 16;
  c.sample.proposals = 16 * 37 - 5; /* 37 blocks: uneven over 1, 2, 3 workers */
  return c;
}

/* comm MPI_COMM_NULL: the serial writer; else the collective one over comm. */
static lf_status open_writer(lf_ens_writer **w, const char *path, const lf_config *cfg,
                             const lf_theory *th, MPI_Comm comm) {
  lf_ens_info info;
  memset(&info, 0, sizeof info);
  info.kind = cfg->sample.mode == LF_SAMPLE_REWEIGHT ? LF_ENS_REWEIGHT : LF_ENS_IMH;
  snprintf(info.theory, sizeof info.theory, "%s", th->name);
  info.C = th->C;
  info.L0 = L0;
  info.L1 = L1;
  info.nobs = th->nobs;
  for (int k = 0; k < th->nobs; k++)
    snprintf(info.obs_names[k], sizeof info.obs_names[k], "%s", th->obs_names[k]);
  info.ncorr = th->ncorr;
  info.save_configs = cfg->sample.save != LF_SAVE_NONE;
  return lf_ens_create_par(w, path, cfg, &info, 1, comm);
}

/* Bitwise comparison of two ensemble files (chain 0). */
static void compare_files(const char *what, const char *pa, const char *pb, int configs) {
  lf_ensemble a, b;
  if (lf_ens_read(pa, &a) != LF_OK || lf_ens_read(pb, &b) != LF_OK) {
    CHECK(0, "%s: read %s / %s: %s", what, pa, pb, lf_last_error());
    return;
  }
  const size_t rows = a.rows[0], steps = a.steps[0];
  const int nobs = a.info.nobs, ncorr = a.info.ncorr;
  CHECK(rows == b.rows[0] && steps == b.steps[0] && rows > 0, "%s: rows %zu / %zu, steps %zu / %zu",
        what, rows, b.rows[0], steps, b.steps[0]);
  if (rows != b.rows[0] || steps != b.steps[0]) goto out;
  size_t bad = 0;
  for (size_t i = 0; i < steps; i++) {
    const lf_ens_step *x = &a.chain[0][i], *y = &b.chain[0][i];
    if (x->row != y->row || x->id != y->id || memcmp(&x->logw, &y->logw, sizeof x->logw) ||
        x->accepted != y->accepted)
      bad++;
  }
  CHECK(bad == 0, "%s: %zu chain steps, %zu differ (row, id, log w bits, accepted)", what, steps,
        bad);
  CHECK(!memcmp(a.obs[0], b.obs[0], rows * (size_t)nobs * sizeof(double)),
        "%s: %zu x %d observables bitwise equal", what, rows, nobs);
  if (ncorr)
    CHECK(!memcmp(a.corr[0], b.corr[0], rows * (size_t)ncorr * sizeof(double)),
          "%s: %zu x %d correlators bitwise equal", what, rows, ncorr);
  if (configs) {
    double *ca = malloc(rows * V * sizeof(double)), *cb = malloc(rows * V * sizeof(double));
    const int ok = ca && cb && lf_ens_read_configs(pa, 0, 0, rows, ca) == LF_OK &&
                   lf_ens_read_configs(pb, 0, 0, rows, cb) == LF_OK;
    CHECK(ok && !memcmp(ca, cb, rows * V * sizeof(double)), "%s: %zu configurations bitwise equal",
          what, rows);
    free(ca);
    free(cb);
  }
out:
  lf_ens_free(&a);
  lf_ens_free(&b);
}

static int same_result(const lf_sample_result *x, const lf_sample_result *y) {
  return x->proposals == y->proposals && x->rows == y->rows && x->bad == y->bad &&
         !memcmp(&x->acceptance, &y->acceptance, sizeof x->acceptance) &&
         x->max_run == y->max_run && !memcmp(&x->ess, &y->ess, sizeof x->ess);
}

static void one_case(const char *name, lf_sample_mode mode, lf_save_kind save, int with_nan) {
  lf_config cfg = make_cfg(mode, save);
  lf_theory th;
  lf_model m;
  memset(&m, 0, sizeof m);
  if (lf_theory_init(&nan_base, &cfg.theory) != LF_OK ||
      lf_model_init(&m, &cfg.model, 1, L0, L1, cfg.sample.block) != LF_OK) {
    CHECK(0, "%s: setup: %s", name, lf_last_error());
    return;
  }
  th = nan_base;
  if (with_nan) th.action = nan_action;
  lf_model_init_params(&m, cfg.seed);
  char pref[256], pself[256], pdist[256];
  snprintf(pref, sizeof pref, "dist_%s_np%d_ref.h5", name, nranks);
  snprintf(pself, sizeof pself, "dist_%s_np%d_self.h5", name, nranks);
  snprintf(pdist, sizeof pdist, "dist_%s_np%d_dist.h5", name, nranks);
  lf_sample_result rref, rself, rdist;
  memset(&rref, 0, sizeof rref);
  memset(&rself, 0, sizeof rself);
  lf_status rc = LF_OK;
  lf_ens_writer *w = NULL;
  if (rank == 0) {
    /* the serial reference and the one-rank distributed run */
    rc = open_writer(&w, pref, &cfg, &th, MPI_COMM_NULL);
    if (rc == LF_OK) rc = lf_sample_run(&cfg, &m, &th, w, NULL, NULL, &rref);
    if (rc == LF_OK) rc = lf_ens_close(w);
    CHECK(rc == LF_OK, "%s: serial lf_sample_run: %s", name, rc ? lf_last_error() : "ok");
    rc = open_writer(&w, pself, &cfg, &th, MPI_COMM_NULL);
    if (rc == LF_OK) rc = lf_sample_dist(&cfg, &m, &th, w, MPI_COMM_SELF, NULL, &rself, NULL);
    if (rc == LF_OK) rc = lf_ens_close(w);
    CHECK(rc == LF_OK, "%s: lf_sample_dist on MPI_COMM_SELF: %s", name,
          rc ? lf_last_error() : "ok");
  }
  w = NULL;
  /* all ranks write the distributed file in collective epochs of 3 blocks (the serial
   * runs used the default 16: the epoch size must not matter either) */
  cfg.sample.epoch = 3;
  rc = open_writer(&w, pdist, &cfg, &th, MPI_COMM_WORLD);
  lf_dist_stats st;
  if (rc == LF_OK) rc = lf_sample_dist(&cfg, &m, &th, w, MPI_COMM_WORLD, NULL, &rdist, &st);
  if (rc == LF_OK) rc = lf_ens_close(w);
  MPI_Barrier(MPI_COMM_WORLD); /* rank 0 renames the file */
  CHECK(rc == LF_OK, "%s: lf_sample_dist on %d ranks: %s", name, nranks,
        rc ? lf_last_error() : "ok");
  if (rank == 0 && rc == LF_OK) {
    fprintf(stderr,
            "     %s: %llu proposals, %llu rows, %llu non-finite, acceptance %.4f, max run %d, "
            "ESS %.4f; coordinator idle %.4f s wall, %.4f s CPU\n",
            name, (unsigned long long)rdist.proposals, (unsigned long long)rdist.rows,
            (unsigned long long)rdist.bad, rdist.acceptance, rdist.max_run, rdist.ess,
            st.idle_seconds, st.idle_cpu_seconds);
    CHECK(same_result(&rref, &rself) && same_result(&rref, &rdist),
          "%s: summaries equal (serial, 1 rank, %d ranks)", name, nranks);
    if (with_nan)
      CHECK(rref.bad > 20 && rdist.bad == rref.bad, "%s: %llu non-finite proposals (serial %llu)",
            name, (unsigned long long)rdist.bad, (unsigned long long)rref.bad);
    compare_files("serial vs 1 rank", pref, pself, save != LF_SAVE_NONE);
    compare_files("serial vs P ranks", pref, pdist, save != LF_SAVE_NONE);
  }
  if (rank == 0) {
    remove(pref);
    remove(pself);
    remove(pdist);
  }
  lf_model_free(&m);
  lf_theory_free(&nan_base);
}

static int stop_at(const lf_imh *c, uint64_t done, uint64_t total, double s, void *ctx) {
  (void)c, (void)total, (void)s, (void)ctx;
  return done >= 5 * 16;
}

/* A stop on the coordinator reaches every rank as the same code; nobody hangs. */
static void stop_case(void) {
  lf_config cfg = make_cfg(LF_SAMPLE_IMH, LF_SAVE_ALL);
  lf_theory th;
  lf_model m;
  if (lf_theory_init(&th, &cfg.theory) != LF_OK ||
      lf_model_init(&m, &cfg.model, 1, L0, L1, cfg.sample.block) != LF_OK) {
    CHECK(0, "stop: setup: %s", lf_last_error());
    return;
  }
  lf_model_init_params(&m, cfg.seed);
  char path[256];
  snprintf(path, sizeof path, "dist_stop_np%d.h5", nranks);
  lf_ens_writer *w = NULL;
  lf_status rc = open_writer(&w, path, &cfg, &th, MPI_COMM_WORLD);
  lf_sample_result res;
  lf_dist_opts o = {stop_at, NULL, NULL, NULL, NULL, 0};
  if (rc == LF_OK) rc = lf_sample_dist(&cfg, &m, &th, w, MPI_COMM_WORLD, &o, &res, NULL);
  if (w) lf_ens_abort(w);
  int mine = (int)rc, lo = 0, hi = 0;
  MPI_Allreduce(&mine, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&mine, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  CHECK(lo == hi && rc == LF_ERR_INVALID, "stop on rank 0: every rank returns %s (min %d, max %d)",
        lf_status_str(rc), lo, hi);
  lf_model_free(&m);
  lf_theory_free(&th);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  one_case("imh_accepted", LF_SAMPLE_IMH, LF_SAVE_ACCEPTED, 0);
  one_case("imh_all", LF_SAMPLE_IMH, LF_SAVE_ALL, 0);
  one_case("imh_none", LF_SAMPLE_IMH, LF_SAVE_NONE, 0);
  one_case("reweight", LF_SAMPLE_REWEIGHT, LF_SAVE_ACCEPTED, 0);
  one_case("imh_nan", LF_SAMPLE_IMH, LF_SAVE_ACCEPTED, 1);
  one_case("reweight_nan", LF_SAMPLE_REWEIGHT, LF_SAVE_ALL, 1);
  stop_case();
  int fails = lf_test_failures, worst = 0;
  MPI_Allreduce(&fails, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) lf_test_result();
  MPI_Finalize();
  return worst ? 1 : 0;
}
