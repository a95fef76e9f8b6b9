/* ensemble files: for each kind (imh, reweight, hmc) a file with rows, steps, correlators
 * and configurations reads back bitwise (observables, correlators, chain table, info,
 * config; configurations by hyperslab), with 10^4 steps so that every buffer is written
 * several times; save_configs = 0 has no configs dataset and read_configs refuses;
 * ncorr = 0 has no corr dataset; an existing path is refused without overwrite; the
 * file is <path>.tmp while written and renamed on close; abort leaves nothing; a NaN
 * observable and a step with row >= rows are refused and change nothing; two chains
 * (lf_ens_add_chain) read back as R = 2; readers refuse a model file, a train file, a
 * truncated file, a text file, a corrupted row index, a wrong nchains, columns of unequal
 * length and a newer format_version, each naming the file.
 * Format version 3 (issue 12, "ensembles that read right"): every chain has
 * multiplicity[rows] = the number of steps on each row (checked against the reference
 * chain, in the file and in lf_ensemble.mult; two chains; a resumed writer whose .tmp was
 * cut back; a serial writer fed by epochs), every dataset a description attribute, obs
 * a columns attribute, the root how_to_read; a version 2 file (no multiplicity) reads
 * with the multiplicity computed; a multiplicity that disagrees with row, or has the
 * wrong length, is refused.
 * Files go to the current directory (CTest: the build's tests dir), named by pid. */
#include "latflow/config.h"
#include "latflow/ensemble.h"
#include "latflow/io.h"
#include "latflow/model.h"
#include "latflow/rng.h"
#include "ens_test.h"
#include "lftest.h"

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { L0 = 4, L1 = 6, NPHI = L0 * L1, NOBS = 3 };

/* A unique scratch file name (testutil.h); lf_test_cleanup removes it. */
static const char *tname(const char *tag) {
  return lf_test_tname("test_ensemble", tag);
}

/* The call returned `want` and its message contains `sub` and `sub2` (may be NULL). */
static void expect_fail(lf_status got, lf_status want, const char *sub, const char *sub2,
                        const char *what) {
  const char *msg = lf_last_error();
  CHECK(got == want && strstr(msg, sub) != NULL && (!sub2 || strstr(msg, sub2) != NULL),
        "%s: status %d (want %d), message \"%s\" (want \"...%s...%s...\")", what, (int)got,
        (int)want, msg, sub, sub2 ? sub2 : "");
  lf_clear_error();
}

/* ---- reference data: pure functions of (seed, chain, row / step) ------------------------ */

typedef struct spec {
  lf_ens_kind kind;
  int ncorr, save;
  size_t nsteps;
  uint64_t seed;
  int cg; /* HMC with the CG columns (pseudofermions) */
} spec;

static void make_info(lf_ens_info *in, const spec *sp) {
  memset(in, 0, sizeof *in);
  in->kind = sp->kind;
  snprintf(in->theory, sizeof in->theory, "phi4");
  in->C = 1;
  in->L0 = L0;
  in->L1 = L1;
  in->nobs = NOBS;
  snprintf(in->obs_names[0], LF_NAME_MAX, "M");
  snprintf(in->obs_names[1], LF_NAME_MAX, "absM");
  snprintf(in->obs_names[2], LF_NAME_MAX, "action_density_x");
  in->ncorr = sp->ncorr;
  in->save_configs = sp->save;
  in->cg = sp->cg;
  if (sp->kind != LF_ENS_HMC) {
    snprintf(in->model_hash, sizeof in->model_hash, "0123456789abcdef");
    snprintf(in->model_path, sizeof in->model_path, "runs/quickstart/model.h5");
    in->train_seconds = 12.625;
  }
}

static void small_config(lf_config *cfg) {
  lf_config_defaults(cfg);
  cfg->seed = 777;
  cfg->theory.shape[0] = L0;
  cfg->theory.shape[1] = L1;
  cfg->theory.m2 = -4.0;
  cfg->theory.lambda = 8.0;
  cfg->model.layers = 2;
  cfg->model.nhidden = 1;
  cfg->model.hidden[0] = 3;
  cfg->train.batch = 16;
  snprintf(cfg->output, sizeof cfg->output, "runs/ens-test");
}

/* obs (NOBS), corr (ncorr) and phi (NPHI) of row `row` of chain r; awkward bits on row 1. */
static void row_data(const spec *sp, int r, size_t row, double *obs, double *corr, double *phi) {
  lf_rng_key k = lf_rng_key_make(sp->seed + (uint64_t)r, LF_STREAM_TEST);
  lf_rng_normal(k, 0, row, NOBS, obs);
  if (sp->ncorr) lf_rng_normal(k, 1, row, (size_t)sp->ncorr, corr);
  lf_rng_normal(k, 2, row, NPHI, phi);
  if (row == 1) {
    obs[0] = -0.0;
    obs[1] = 4e-320; /* denormal */
    obs[2] = nextafter(0.1, 1.0);
    if (sp->ncorr) corr[0] = -0.0;
    phi[3] = 1e-310;
  }
}

/* The chain of r: steps[i] for i < nsteps; *nrows = rows it creates. A step whose row
 * equals the rows made so far makes a new row. */
static void gen_chain(const spec *sp, int r, lf_ens_step *steps, size_t *nrows) {
  lf_rng_key k = lf_rng_key_make(sp->seed + (uint64_t)r, LF_STREAM_TEST);
  size_t rows = 0;
  for (size_t i = 0; i < sp->nsteps; i++) {
    const double u = lf_rng_uniform(k, 3, i);
    double g[2];
    lf_rng_normal(k, 4, i, 2, g);
    lf_ens_step *s = &steps[i];
    s->id = (int64_t)i + ((int64_t)r << 33);
    s->cg_iters = s->cg_max = 0;
    switch (sp->kind) {
    case LF_ENS_REWEIGHT:
      s->accepted = 1;
      s->row = (int64_t)rows++;
      s->logw = g[0];
      s->dH = NAN;
      break;
    case LF_ENS_HMC:
      s->accepted = (int8_t)(i == 0 || u < 0.7);
      s->row = s->accepted ? (int64_t)rows++ : (int64_t)rows - 1;
      s->logw = NAN;
      s->dH = 0.1 * g[1];
      s->cg_max = sp->cg ? 20 + (int64_t)(u * 50) : 0;
      s->cg_iters = sp->cg ? 9 * s->cg_max - (int64_t)i % 7 : 0;
      break;
    default:
      s->accepted = (int8_t)(i == 0 || u < 0.4);
      s->row = s->accepted ? (int64_t)rows++ : (int64_t)rows - 1;
      s->logw = g[0];
      s->dH = NAN;
    }
  }
  *nrows = rows;
}

/* Appends chain r of sp to w: rows as the steps need them, steps in batches of 37. */
static lf_status fill_chain(lf_ens_writer *w, const spec *sp, int r) {
  lf_status rc = LF_OK;
  size_t nrows = 0, nb = 0, made = 0;
  lf_ens_step *steps = malloc(sp->nsteps * sizeof *steps);
  double obs[NOBS], corr[LF_ENS_MAX_CORR], phi[NPHI];
  if (!steps) return LF_ERR_NOMEM;
  gen_chain(sp, r, steps, &nrows);
  for (size_t i = 0; i < sp->nsteps && rc == LF_OK; i++) {
    if ((size_t)steps[i].row == made) {
      int64_t row = -1;
      row_data(sp, r, made, obs, corr, phi);
      rc = lf_ens_append_row(w, obs, sp->ncorr ? corr : NULL, phi, &row);
      if (rc == LF_OK && row != (int64_t)made) rc = LF_ERR_INVALID;
      made++;
    }
    if (++nb == 37 || i + 1 == sp->nsteps) {
      if (rc == LF_OK) rc = lf_ens_append_steps(w, nb, steps + i + 1 - nb);
      nb = 0;
    }
  }
  free(steps);
  return rc;
}

static int same_f64(double a, double b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

/* Compares chain r of e with the reference: rows, steps, obs, corr bitwise. */
static void check_chain(const lf_ensemble *e, const spec *sp, int r, const char *tag) {
  size_t nrows = 0;
  lf_ens_step *ref = malloc(sp->nsteps * sizeof *ref);
  double obs[NOBS], corr[LF_ENS_MAX_CORR], phi[NPHI];
  gen_chain(sp, r, ref, &nrows);
  CHECK(e->rows[r] == nrows && e->steps[r] == sp->nsteps,
        "%s chain %d: %zu rows (want %zu), %zu steps (want %zu)", tag, r, e->rows[r], nrows,
        e->steps[r], sp->nsteps);
  if (e->rows[r] == nrows && e->steps[r] == sp->nsteps) {
    size_t bad = 0;
    for (size_t i = 0; i < sp->nsteps; i++) {
      const lf_ens_step *a = &e->chain[r][i], *b = &ref[i];
      bad += a->row != b->row || a->id != b->id || a->accepted != b->accepted ||
             !same_f64(a->logw, b->logw) || !same_f64(a->dH, b->dH) || a->cg_iters != b->cg_iters ||
             a->cg_max != b->cg_max;
    }
    CHECK(bad == 0, "%s chain %d: %zu steps (row, id, logw, dH, accepted%s) bitwise, %zu differ",
          tag, r, sp->nsteps, sp->cg ? ", cg_iters, cg_max" : "; cg columns read as 0", bad);
    bad = 0;
    for (size_t row = 0; row < nrows; row++) {
      row_data(sp, r, row, obs, corr, phi);
      bad += memcmp(e->obs[r] + row * NOBS, obs, sizeof obs) != 0;
      if (sp->ncorr)
        bad += memcmp(e->corr[r] + row * (size_t)sp->ncorr, corr,
                      (size_t)sp->ncorr * sizeof *corr) != 0;
    }
    CHECK(bad == 0, "%s chain %d: obs%s of %zu rows bitwise, %zu differ", tag, r,
          sp->ncorr ? " and corr" : "", nrows, bad);
    if (sp->ncorr == 0)
      CHECK(e->corr[r] == NULL, "%s chain %d: no corr array when ncorr = 0", tag, r);
    CHECK(e->obs[r][NOBS] == 0.0 && signbit(e->obs[r][NOBS]) && e->obs[r][NOBS + 1] == 4e-320,
          "%s chain %d: -0 and a denormal survive", tag, r);
  }
  free(ref);
}

/* Configurations of chain r: all rows in pieces of 29, and [5, 12), bitwise. */
static void check_configs(const char *path, const spec *sp, int r, size_t nrows, const char *tag) {
  double obs[NOBS], corr[LF_ENS_MAX_CORR], ref[NPHI];
  double *phi = malloc(29 * NPHI * sizeof *phi);
  size_t bad = 0;
  lf_status rc = LF_OK;
  for (size_t row0 = 0; row0 < nrows && rc == LF_OK; row0 += 29) {
    const size_t n = nrows - row0 < 29 ? nrows - row0 : 29;
    rc = lf_ens_read_configs(path, r, (int64_t)row0, n, phi);
    for (size_t j = 0; j < n && rc == LF_OK; j++) {
      row_data(sp, r, row0 + j, obs, corr, ref);
      bad += memcmp(phi + j * NPHI, ref, sizeof ref) != 0;
    }
  }
  CHECK(rc == LF_OK && bad == 0, "%s chain %d: %zu configurations bitwise (%zu differ; %s)", tag, r,
        nrows, bad, rc == LF_OK ? "ok" : lf_last_error());
  rc = lf_ens_read_configs(path, r, 5, 7, phi);
  row_data(sp, r, 11, obs, corr, ref);
  CHECK(rc == LF_OK && memcmp(phi + 6 * NPHI, ref, sizeof ref) == 0,
        "%s chain %d: hyperslab [5, 12) ends with row 11 (%s)", tag, r,
        rc == LF_OK ? "ok" : lf_last_error());
  free(phi);
}

static void check_info(const lf_ensemble *e, const lf_ens_info *in, double gen, int R,
                       const lf_config *cfg, const char *tag) {
  const lf_ens_info *o = &e->info;
  int names_ok = 1;
  for (int k = 0; k < NOBS; k++) names_ok &= strcmp(o->obs_names[k], in->obs_names[k]) == 0;
  CHECK(e->R == R && o->kind == in->kind && strcmp(o->theory, in->theory) == 0 && o->C == in->C &&
            o->L0 == in->L0 && o->L1 == in->L1 && o->nobs == in->nobs && names_ok &&
            o->ncorr == in->ncorr && o->save_configs == in->save_configs && o->cg == in->cg &&
            strcmp(o->model_hash, in->model_hash) == 0 &&
            strcmp(o->model_path, in->model_path) == 0 && o->train_seconds == in->train_seconds &&
            o->gen_seconds == gen,
        "%s: info: R %d kind %d theory %s C %d L %dx%d nobs %d (%s) ncorr %d save %d hash '%s' "
        "model '%s' train %g s gen %g s",
        tag, e->R, (int)o->kind, o->theory, o->C, o->L0, o->L1, o->nobs, o->obs_names[2], o->ncorr,
        o->save_configs, o->model_hash, o->model_path, o->train_seconds, o->gen_seconds);
  char key[128] = "";
  CHECK(lf_config_diff(cfg, &e->cfg, key, sizeof key) == 0,
        "%s: stored config equals the run's (first difference: '%s')", tag, key);
}

/* 1 if /chain_<r>/<name> exists in the file (plain HDF5). */
static int has_dataset(const char *path, const char *obj) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return -1;
  htri_t ex = H5Lexists(f, "chain_0", H5P_DEFAULT) > 0 ? H5Lexists(f, obj, H5P_DEFAULT) : -1;
  H5Fclose(f);
  return (int)ex;
}

/* 1 if object obj of the file (a dataset, or "/" for the root) has a string attribute
 * name whose text contains sub. */
static int attr_has(const char *path, const char *obj, const char *name, const char *sub) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return 0;
  int ok = 0;
  hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
  if (o >= 0 && H5Aexists(o, name) > 0) {
    hid_t a = H5Aopen(o, name, H5P_DEFAULT), t = H5Aget_type(a), sp = H5Aget_space(a);
    const size_t len = H5Tget_size(t);
    const hssize_t n = H5Sget_simple_extent_npoints(sp);
    char *buf = calloc((size_t)(n > 0 ? n : 1) * len + 1, 1);
    if (H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t) && buf && H5Aread(a, t, buf) >= 0) {
      for (hssize_t i = 0; i < n && !ok; i++) ok = strstr(buf + (size_t)i * len, sub) != NULL;
    }
    free(buf);
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
  }
  if (o >= 0) H5Oclose(o);
  H5Fclose(f);
  return ok;
}

/* An integer root attribute (-1 if missing). */
static int root_i32(const char *path, const char *name) {
  int v = -1;
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return -1;
  hid_t a = H5Aexists(f, name) > 0 ? H5Aopen(f, name, H5P_DEFAULT) : -1;
  if (a >= 0) {
    if (H5Aread(a, H5T_NATIVE_INT, &v) < 0) v = -1;
    H5Aclose(a);
  }
  H5Fclose(f);
  return v;
}

/* Chain r of the file and of e: multiplicity (file and e->mult) equals the number of
 * reference steps on each row; its sum is the steps; every dataset has a description;
 * obs has columns; the root has how_to_read and the current format_version. */
static void check_mult(const char *path, const lf_ensemble *e, int r, const lf_ens_step *ref,
                       size_t nsteps, size_t nrows, const char *tag) {
  int64_t *want = calloc(nrows ? nrows : 1, sizeof *want), *got = malloc((nrows ? nrows : 1) * 8);
  for (size_t i = 0; i < nsteps; i++) want[ref[i].row]++;
  int64_t sum = 0;
  size_t zero = 0;
  for (size_t i = 0; i < nrows; i++) {
    sum += want[i];
    zero += want[i] == 0;
  }
  const int in_file = ens_test_mult(path, r, nrows, got);
  CHECK(in_file && memcmp(got, want, nrows * sizeof *got) == 0,
        "%s chain %d: /chain_%d/multiplicity [%zu] = steps on each row (sum %lld = %zu steps, "
        "%zu rows with 0)",
        tag, r, r, nrows, (long long)sum, nsteps, zero);
  CHECK(e && e->mult && e->mult[r] && memcmp(e->mult[r], want, nrows * sizeof *got) == 0,
        "%s chain %d: lf_ensemble.mult equals the file's", tag, r);
  free(want);
  free(got);
  char obj[64];
  int described = 1;
  for (int d = 0; d < 11; d++) {
    static const char *const ds[11] = {"obs",      "corr",   "configs",     "row",
                                       "id",       "logw",   "dH",          "accepted",
                                       "cg_iters", "cg_max", "multiplicity"};
    snprintf(obj, sizeof obj, "/chain_%d/%s", r, ds[d]);
    if (has_dataset(path, obj) == 1 && !attr_has(path, obj, "description", " "))
      described = 0, fprintf(stderr, "  no description on %s\n", obj);
  }
  CHECK(described, "%s chain %d: every dataset has a description", tag, r);
  snprintf(obj, sizeof obj, "/chain_%d/obs", r);
  CHECK(attr_has(path, obj, "description", "NOT a Monte Carlo series") &&
            attr_has(path, obj, "columns", "absM"),
        "%s chain %d: obs says it is not a series and names its columns", tag, r);
  CHECK(attr_has(path, "/", "how_to_read", "np.repeat(obs, multiplicity, axis=0)"),
        "%s: root attribute how_to_read", tag);
}

/* ---- round trips ------------------------------------------------------------------------ */

static void test_roundtrip(const spec *sp, const char *tag, const char **keep_path) {
  lf_config cfg;
  lf_ens_info in;
  lf_ensemble e;
  lf_ens_writer *w = NULL;
  small_config(&cfg);
  make_info(&in, sp);
  const char *path = tname(tag);
  char tmp[160];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  lf_status rc = lf_ens_create(&w, path, &cfg, &in, 0);
  CHECK(rc == LF_OK && w, "%s: create: %s", tag, lf_last_error());
  if (rc != LF_OK) return;
  CHECK(lf_test_exists(tmp) && !lf_test_exists(path), "%s: while writing the file is %s", tag, tmp);
  rc = fill_chain(w, sp, 0);
  size_t nrows = 0;
  lf_ens_step *ref = malloc(sp->nsteps * sizeof *ref);
  gen_chain(sp, 0, ref, &nrows);
  free(ref);
  CHECK(rc == LF_OK && lf_ens_rows(w) == (int64_t)nrows && lf_ens_steps(w) == (int64_t)sp->nsteps,
        "%s: appended %lld rows, %lld steps (%s)", tag, (long long)lf_ens_rows(w),
        (long long)lf_ens_steps(w), rc == LF_OK ? "ok" : lf_last_error());

  /* refusals change nothing */
  double obs[NOBS] = {1.0, NAN, 2.0}, corr[LF_ENS_MAX_CORR] = {0}, phi[NPHI] = {0};
  int64_t row = 99;
  rc = lf_ens_append_row(w, obs, corr, phi, &row);
  expect_fail(rc, LF_ERR_NUMERIC, "observable absM = nan is not finite", tmp, "NaN observable");
  obs[1] = INFINITY;
  rc = lf_ens_append_row(w, obs, corr, phi, &row);
  expect_fail(rc, LF_ERR_NUMERIC, "absM = inf", NULL, "Inf observable");
  const lf_ens_step bad[2] = {{0, 1, 0.0, NAN, 1, 0, 0}, {(int64_t)nrows, 2, 0.0, NAN, 1, 0, 0}};
  rc = lf_ens_append_steps(w, 2, bad);
  expect_fail(rc, LF_ERR_INVALID, "is not in [0,", "row", "step with row >= rows");
  const lf_ens_step neg = {-1, 3, 0.0, NAN, 1, 0, 0};
  rc = lf_ens_append_steps(w, 1, &neg);
  expect_fail(rc, LF_ERR_INVALID, "row -1 is not in", NULL, "step with row -1");
  if (sp->ncorr) {
    rc = lf_ens_append_row(w, obs, NULL, phi, &row);
    expect_fail(rc, LF_ERR_INVALID, "missing data", NULL, "corr NULL with ncorr > 0");
  }
  CHECK(lf_ens_rows(w) == (int64_t)nrows && lf_ens_steps(w) == (int64_t)sp->nsteps && row == 99,
        "%s: refused appends left %lld rows, %lld steps", tag, (long long)lf_ens_rows(w),
        (long long)lf_ens_steps(w));

  rc = lf_ens_flush(w);
  CHECK(rc == LF_OK && lf_test_exists(tmp), "%s: flush (%s)", tag,
        rc == LF_OK ? "ok" : lf_last_error());
  lf_ens_set_gen_seconds(w, 3.5 + (double)sp->kind);
  rc = lf_ens_close(w);
  CHECK(rc == LF_OK && lf_test_exists(path) && !lf_test_exists(tmp),
        "%s: close renamed %s to %s (%s)", tag, tmp, path, rc == LF_OK ? "ok" : lf_last_error());

  char kind[16] = "";
  rc = lf_io_file_kind(path, kind, sizeof kind);
  CHECK(rc == LF_OK && strcmp(kind, "ensemble") == 0, "%s: file kind '%s' (%s)", tag, kind,
        rc == LF_OK ? "ok" : lf_last_error());
  CHECK(has_dataset(path, "/chain_0/configs") == sp->save,
        "%s: /chain_0/configs %s (save_configs = %d)", tag, sp->save ? "exists" : "is absent",
        sp->save);
  CHECK(has_dataset(path, "/chain_0/corr") == (sp->ncorr > 0), "%s: /chain_0/corr %s (ncorr = %d)",
        tag, sp->ncorr ? "exists" : "is absent", sp->ncorr);

  rc = lf_ens_read(path, &e);
  CHECK(rc == LF_OK, "%s: read: %s", tag, rc == LF_OK ? "ok" : lf_last_error());
  if (rc == LF_OK) {
    check_info(&e, &in, 3.5 + (double)sp->kind, 1, &cfg, tag);
    check_chain(&e, sp, 0, tag);
    ref = malloc(sp->nsteps * sizeof *ref);
    gen_chain(sp, 0, ref, &nrows);
    check_mult(path, &e, 0, ref, sp->nsteps, nrows, tag);
    free(ref);
  }
  const int fv = root_i32(path, "format_version");
  CHECK(fv == LF_IO_ENSEMBLE_FORMAT_VERSION && fv == 3, "%s: format_version %d", tag, fv);
  lf_ens_free(&e);
  CHECK(e.R == 0 && e.obs == NULL && e.chain == NULL && e.rows == NULL, "%s: free zeroes", tag);
  lf_ens_free(&e); /* a zeroed ensemble is accepted */

  if (sp->save) {
    check_configs(path, sp, 0, nrows, tag);
    double buf[2 * NPHI];
    rc = lf_ens_read_configs(path, 0, (int64_t)nrows - 1, 2, buf);
    expect_fail(rc, LF_ERR_INVALID, "it has", path, "configurations past the end");
    rc = lf_ens_read_configs(path, 1, 0, 1, buf);
    expect_fail(rc, LF_ERR_INVALID, "chain 1 does not exist (nchains = 1)", NULL,
                "configurations of a missing chain");
  } else {
    double buf[NPHI];
    rc = lf_ens_read_configs(path, 0, 0, 1, buf);
    expect_fail(rc, LF_ERR_INVALID, "holds no configurations", path,
                "read_configs without configurations");
  }
  if (keep_path) *keep_path = path;
}

/* Two chains in one file (the merge tool's use of lf_ens_add_chain). */
static void test_two_chains(void) {
  lf_config cfg;
  lf_ens_info in;
  lf_ensemble e;
  lf_ens_writer *w = NULL;
  spec sp[2] = {{LF_ENS_IMH, 5, 1, 700, 31, 0}, {LF_ENS_IMH, 5, 1, 4500, 31, 0}};
  small_config(&cfg);
  make_info(&in, &sp[0]);
  const char *path = tname("two.h5");
  lf_status rc = lf_ens_create(&w, path, &cfg, &in, 0);
  if (rc == LF_OK) rc = fill_chain(w, &sp[0], 0);
  const int64_t rows0 = lf_ens_rows(w);
  if (rc == LF_OK) rc = lf_ens_add_chain(w);
  CHECK(rc == LF_OK && lf_ens_rows(w) == 0 && lf_ens_steps(w) == 0,
        "add_chain: chain 0 had %lld rows; chain 1 starts empty (%s)", (long long)rows0,
        rc == LF_OK ? "ok" : lf_last_error());
  const lf_ens_step early = {0, 0, 0.0, NAN, 1, 0, 0};
  rc = lf_ens_append_steps(w, 1, &early);
  expect_fail(rc, LF_ERR_INVALID, "chain 1, step 0", "is not in [0, 0)",
              "a step of the new chain before its first row");
  rc = fill_chain(w, &sp[1], 1);
  if (rc == LF_OK)
    rc = lf_ens_close(w);
  else
    lf_ens_abort(w);
  CHECK(rc == LF_OK, "two chains written (%s)", rc == LF_OK ? "ok" : lf_last_error());
  rc = lf_ens_read(path, &e);
  CHECK(rc == LF_OK && e.R == 2, "two chains read: R = %d (%s)", e.R,
        rc == LF_OK ? "ok" : lf_last_error());
  if (rc == LF_OK && e.R == 2) {
    check_info(&e, &in, 0.0, 2, &cfg, "two chains");
    check_chain(&e, &sp[0], 0, "two chains");
    check_chain(&e, &sp[1], 1, "two chains");
    check_configs(path, &sp[1], 1, e.rows[1], "two chains");
    for (int r = 0; r < 2; r++) {
      size_t nr = 0;
      lf_ens_step *ref = malloc(sp[r].nsteps * sizeof *ref);
      gen_chain(&sp[r], r, ref, &nr);
      check_mult(path, &e, r, ref, sp[r].nsteps, nr, "two chains");
      free(ref);
    }
  }
  lf_ens_free(&e);
}

/* ---- writer refusals -------------------------------------------------------------------- */

static void test_writer_refusals(const char *existing) {
  lf_config cfg;
  lf_ens_info in;
  lf_ens_writer *w = NULL;
  spec sp = {LF_ENS_HMC, 0, 1, 50, 5, 0};
  small_config(&cfg);
  make_info(&in, &sp);
  char tmp[160];
  snprintf(tmp, sizeof tmp, "%s.tmp", existing);
  size_t n0 = 0, n1 = 0;
  unsigned char *before = lf_test_slurp(existing, &n0);

  lf_status rc = lf_ens_create(&w, existing, &cfg, &in, 0);
  expect_fail(rc, LF_ERR_IO, "exists; refusing to overwrite", existing, "create over a file");
  CHECK(w == NULL && !lf_test_exists(tmp), "refused create: no writer, no .tmp");
  /* overwrite allowed, but an aborted run leaves the old file as it was */
  rc = lf_ens_create(&w, existing, &cfg, &in, 1);
  CHECK(rc == LF_OK && lf_test_exists(tmp), "create with overwrite makes %s (%s)", tmp,
        rc == LF_OK ? "ok" : lf_last_error());
  if (rc == LF_OK) rc = fill_chain(w, &sp, 0);
  lf_ens_abort(w);
  unsigned char *after = lf_test_slurp(existing, &n1);
  CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0 && !lf_test_exists(tmp),
        "abort: no .tmp, the existing %s untouched (%zu bytes)", existing, n1);
  free(before);
  free(after);

  const char *ab = tname("aborted.h5");
  char abtmp[160];
  snprintf(abtmp, sizeof abtmp, "%s.tmp", ab);
  rc = lf_ens_create(&w, ab, &cfg, &in, 0);
  if (rc == LF_OK) rc = fill_chain(w, &sp, 0);
  if (rc == LF_OK) rc = lf_ens_flush(w);
  CHECK(rc == LF_OK && lf_test_exists(abtmp), "a run in progress has %s", abtmp);
  lf_ens_abort(w);
  lf_ens_abort(NULL);
  CHECK(!lf_test_exists(ab) && !lf_test_exists(abtmp), "abort leaves neither %s nor its .tmp", ab);
  CHECK(lf_ens_close(NULL) == LF_OK, "close(NULL) is OK");

  lf_ens_info badi = in;
  badi.nobs = 0;
  rc = lf_ens_create(&w, tname("bad.h5"), &cfg, &badi, 0);
  expect_fail(rc, LF_ERR_INVALID, "nobs = 0", NULL, "create with nobs = 0");
  badi = in;
  badi.ncorr = LF_ENS_MAX_CORR + 1;
  rc = lf_ens_create(&w, tname("bad2.h5"), &cfg, &badi, 0);
  expect_fail(rc, LF_ERR_INVALID, "ncorr = 1025", NULL, "create with ncorr too large");
  CHECK(w == NULL, "refused create leaves no writer");
}

/* ---- reader refusals -------------------------------------------------------------------- */

/* Opens a copy read-write; op 0: /chain_0/row[7] = 2^40; 1: nchains = 2; 2: /chain_0/logw
 * one longer; 3: format_version + 1; 4: /chain_0/multiplicity[7] += 1; 5:
 * /chain_0/multiplicity one shorter; 6: the version 2 layout (no multiplicity, no
 * how_to_read, format_version 2). */
static int damage(const char *path, int op) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return 0;
  int ok = 0;
  if (op == 6) {
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    int v = 2;
    ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &v) >= 0 &&
         H5Ldelete(f, "/chain_0/multiplicity", H5P_DEFAULT) >= 0 &&
         H5Adelete(f, "how_to_read") >= 0;
    if (a >= 0) H5Aclose(a);
  } else if (op == 0 || op == 4) {
    hid_t d = H5Dopen2(f, op == 0 ? "/chain_0/row" : "/chain_0/multiplicity", H5P_DEFAULT);
    if (d >= 0) {
      hsize_t one = 1, start = 7;
      int64_t v = (int64_t)1 << 40;
      hid_t fs0 = H5Dget_space(d), ms0 = H5Screate_simple(1, &one, NULL);
      if (op == 4)
        ok = H5Sselect_hyperslab(fs0, H5S_SELECT_SET, &start, NULL, &one, NULL) >= 0 &&
             H5Dread(d, H5T_NATIVE_INT64, ms0, fs0, H5P_DEFAULT, &v) >= 0 && (v += 1) > 0;
      H5Sclose(ms0);
      H5Sclose(fs0);
      hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &one, NULL);
      ok = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &one, NULL) >= 0 &&
           H5Dwrite(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, &v) >= 0;
      H5Sclose(ms);
      H5Sclose(fs);
      H5Dclose(d);
    }
  } else if (op == 1 || op == 3) {
    hid_t a = H5Aopen(f, op == 1 ? "nchains" : "format_version", H5P_DEFAULT);
    int v = op == 1 ? 2 : LF_IO_ENSEMBLE_FORMAT_VERSION + 1;
    ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &v) >= 0;
    if (a >= 0) H5Aclose(a);
  } else {
    hid_t d = H5Dopen2(f, op == 2 ? "/chain_0/logw" : "/chain_0/multiplicity", H5P_DEFAULT);
    if (d >= 0) {
      hid_t s = H5Dget_space(d);
      hsize_t n = 0;
      ok = H5Sget_simple_extent_dims(s, &n, NULL) == 1;
      n = op == 2 ? n + 1 : n - 1;
      ok = ok && H5Dset_extent(d, &n) >= 0;
      H5Sclose(s);
      H5Dclose(d);
    }
  }
  return H5Fclose(f) >= 0 && ok;
}

static void test_reader_refusals(const char *good) {
  lf_config cfg;
  lf_ensemble e;
  small_config(&cfg);
  lf_status rc;

  /* a model file and a train file */
  lf_model m;
  const char *mpath = tname("model.h5");
  rc = lf_model_init(&m, &cfg.model, 1, L0, L1, 2);
  if (rc == LF_OK) {
    lf_model_init_params(&m, 3);
    rc = lf_io_model_save(mpath, &m, &cfg, 0);
    lf_model_free(&m);
  }
  CHECK(rc == LF_OK, "wrote a model file (%s)", rc == LF_OK ? "ok" : lf_last_error());
  memset(&e, 0xff, sizeof e);
  rc = lf_ens_read(mpath, &e);
  expect_fail(rc, LF_ERR_FORMAT, "is a latflow model file, expected a", mpath,
              "model file as an ensemble");
  CHECK(e.R == 0 && e.obs == NULL && e.chain == NULL, "a refused read leaves e zeroed");
  double phi[NPHI];
  rc = lf_ens_read_configs(mpath, 0, 0, 1, phi);
  expect_fail(rc, LF_ERR_FORMAT, "is a latflow model file", mpath, "read_configs of a model file");

  lf_io_metrics *mw = NULL;
  const char *tpath = tname("train.h5");
  rc = lf_io_metrics_open(&mw, tpath, &cfg, 0);
  if (rc == LF_OK) rc = lf_io_metrics_close(mw);
  CHECK(rc == LF_OK, "wrote a train file (%s)", rc == LF_OK ? "ok" : lf_last_error());
  rc = lf_ens_read(tpath, &e);
  expect_fail(rc, LF_ERR_FORMAT, "is a latflow train file, expected a", tpath,
              "train file as an ensemble");

  /* a text file and a truncated copy */
  const char *text = tname("text.h5");
  const char *hello = "row,id,logw\n0,0,1.5\n";
  CHECK(lf_test_spew(text, hello, strlen(hello)), "wrote a text file");
  rc = lf_ens_read(text, &e);
  expect_fail(rc, LF_ERR_FORMAT, "is not an HDF5 file", text, "text file as an ensemble");

  const char *trunc = tname("trunc.h5");
  size_t nfull = 0;
  unsigned char *full = lf_test_slurp(good, &nfull);
  CHECK(full && lf_test_spew(trunc, full, nfull / 2), "wrote the first %zu of %zu bytes", nfull / 2,
        nfull);
  free(full);
  rc = lf_ens_read(trunc, &e);
  expect_fail(rc, LF_ERR_FORMAT, "truncated or corrupted", trunc, "truncated ensemble");

  /* damaged copies of a valid file */
  const char *dmg[7] = {tname("badrow.h5"),  tname("badnchains.h5"), tname("badlen.h5"),
                        tname("newer.h5"),   tname("badmult.h5"),    tname("shortmult.h5"),
                        tname("version2.h5")};
  for (int op = 0; op < 7; op++)
    CHECK(lf_test_copy_file(good, dmg[op]) && damage(dmg[op], op), "damaged copy %d: %s", op,
          dmg[op]);
  rc = lf_ens_read(dmg[0], &e);
  expect_fail(rc, LF_ERR_FORMAT, "dataset /chain_0/row: entry 7 = 1099511627776 is not in [0,",
              dmg[0], "corrupted row index");
  CHECK(e.R == 0 && e.obs == NULL, "refused read frees what it had read");
  rc = lf_ens_read(dmg[1], &e);
  expect_fail(rc, LF_ERR_FORMAT, "group chain_1 is missing", dmg[1], "nchains = 2, one chain");
  rc = lf_ens_read(dmg[2], &e);
  expect_fail(rc, LF_ERR_FORMAT, "dataset /chain_0/logw has", dmg[2], "columns of unequal length");
  rc = lf_ens_read(dmg[3], &e);
  expect_fail(rc, LF_ERR_FORMAT, "newer than", dmg[3], "newer format_version");
  rc = lf_ens_read(dmg[4], &e);
  expect_fail(rc, LF_ERR_FORMAT, "dataset /chain_0/multiplicity: entry 7 =", "times",
              "multiplicity that disagrees with row");
  rc = lf_ens_read(dmg[5], &e);
  expect_fail(rc, LF_ERR_FORMAT, "dataset /chain_0/multiplicity has", "rows",
              "multiplicity of the wrong length");

  lf_ensemble old;
  rc = lf_ens_read(good, &e);
  CHECK(rc == LF_OK, "the original still reads (%s)", rc == LF_OK ? "ok" : lf_last_error());
  lf_status rc2 = lf_ens_read(dmg[6], &old);
  CHECK(rc2 == LF_OK && root_i32(dmg[6], "format_version") == 2 &&
            has_dataset(dmg[6], "/chain_0/multiplicity") == 0,
        "a version 2 file (no multiplicity) reads (%s)", rc2 == LF_OK ? "ok" : lf_last_error());
  if (rc == LF_OK && rc2 == LF_OK)
    CHECK(old.rows[0] == e.rows[0] && old.mult && old.mult[0] &&
              memcmp(old.mult[0], e.mult[0], e.rows[0] * sizeof(int64_t)) == 0,
          "version 2: the multiplicity computed from row equals the stored one of version 3 "
          "(%zu rows)",
          e.rows[0]);
  lf_ens_free(&old);
  lf_ens_free(&e);
}

/* Rows of obs/phi for the hand-made chains below: obs = (row, 2 row, 3 row). */
static void simple_row(int64_t row, double *obs, double *phi) {
  for (int k = 0; k < NOBS; k++) obs[k] = (double)(row * (k + 1));
  for (int v = 0; v < NPHI; v++) phi[v] = (double)row + 0.01 * v;
}

static lf_ens_step simple_step(int64_t row, int64_t id) {
  return (lf_ens_step){row, id, -0.5 * (double)id, NAN, 1, 0, 0};
}

/* Checks the multiplicity of chain 0 of path against want (n rows) in the file and read. */
static void expect_mult(const char *path, const int64_t *want, size_t n, const char *tag) {
  lf_ensemble e;
  int64_t got[32] = {0};
  lf_status rc = lf_ens_read(path, &e);
  CHECK(rc == LF_OK && e.rows[0] == n && ens_test_mult(path, 0, n, got) &&
            memcmp(got, want, n * sizeof *got) == 0 &&
            memcmp(e.mult[0], want, n * sizeof *got) == 0,
        "%s: multiplicity [%zu] = %lld %lld %lld %lld ... as the chain says (%s)", tag, n,
        (long long)got[0], (long long)got[1], (long long)got[2], (long long)got[3],
        rc == LF_OK ? "ok" : lf_last_error());
  lf_ens_free(&e);
}

/* A run interrupted after a checkpoint at 3 rows, 5 steps that had written one row and two
 * steps more, resumed (lf_ens_reopen cuts them away) and completed: the multiplicity counts
 * exactly the steps of the completed chain (0,0,1,1,1 | 2,2,3,3,3,3). */
static void test_resume_mult(void) {
  lf_config cfg;
  lf_ens_info in;
  lf_ens_writer *w = NULL;
  spec sp = {LF_ENS_IMH, 0, 1, 0, 21, 0};
  small_config(&cfg);
  make_info(&in, &sp);
  const char *path = tname("resume.h5");
  double obs[NOBS], phi[NPHI];
  lf_ens_step st[8];
  lf_status rc = lf_ens_create(&w, path, &cfg, &in, 0);
  for (int64_t r = 0; r < 3 && rc == LF_OK; r++) {
    simple_row(r, obs, phi);
    rc = lf_ens_append_row(w, obs, NULL, phi, NULL);
  }
  const int64_t first[5] = {0, 0, 1, 1, 1};
  for (int i = 0; i < 5; i++) st[i] = simple_step(first[i], i);
  if (rc == LF_OK) rc = lf_ens_append_steps(w, 5, st);
  if (rc == LF_OK) rc = lf_ens_sync(w); /* the checkpoint: 3 rows, 5 steps */
  simple_row(77, obs, phi);             /* written after the checkpoint, then killed */
  if (rc == LF_OK) rc = lf_ens_append_row(w, obs, NULL, phi, NULL);
  st[0] = simple_step(3, 5);
  st[1] = simple_step(3, 6);
  if (rc == LF_OK) rc = lf_ens_append_steps(w, 2, st);
  if (rc == LF_OK) rc = lf_ens_suspend(w);
  CHECK(rc == LF_OK, "resume: interrupted run written (%s)", rc == LF_OK ? "ok" : lf_last_error());
  w = NULL;
  rc = lf_ens_reopen(&w, path, &in, 3, 5, MPI_COMM_NULL);
  CHECK(rc == LF_OK, "resume: reopened at 3 rows, 5 steps (%s)",
        rc == LF_OK ? "ok" : lf_last_error());
  if (rc != LF_OK) return;
  const int64_t rest[6] = {2, 2, 3, 3, 3, 3};
  for (int i = 0; i < 6; i++) st[i] = simple_step(rest[i], 5 + i);
  simple_row(3, obs, phi);
  rc = lf_ens_append_row(w, obs, NULL, phi, NULL);
  if (rc == LF_OK) rc = lf_ens_append_steps(w, 6, st);
  if (rc == LF_OK)
    rc = lf_ens_close(w);
  else
    lf_ens_abort(w);
  CHECK(rc == LF_OK, "resume: completed (%s)", rc == LF_OK ? "ok" : lf_last_error());
  const int64_t want[4] = {2, 3, 2, 4};
  expect_mult(path, want, 4, "resumed run");
}

/* A serial writer fed by epochs (the distributed sampler's path): two epochs, the first
 * with its rows in two runs, and a stored state no step sits on (sample.save = all: a
 * rejected proposal) gets multiplicity 0. */
static void test_epoch_mult(void) {
  lf_config cfg;
  lf_ens_info in;
  lf_ens_writer *w = NULL;
  spec sp = {LF_ENS_IMH, 0, 1, 0, 22, 0};
  small_config(&cfg);
  make_info(&in, &sp);
  const char *path = tname("epoch.h5");
  double obs[6 * NOBS], phi[6 * NPHI];
  for (int r = 0; r < 6; r++) simple_row(r, obs + r * NOBS, phi + r * NPHI);
  lf_status rc = lf_ens_create_par(&w, path, &cfg, &in, 0, MPI_COMM_NULL);
  const int64_t f1[2] = {0, 2}, c1[2] = {2, 2}, f2[1] = {4}, c2[1] = {2};
  const int64_t s1[6] = {0, 0, 0, 2, 2, 3}, s2[7] = {3, 3, 5, 5, 5, 5, 5}; /* row 1, 4: none */
  lf_ens_step st[7];
  for (int i = 0; i < 6; i++) st[i] = simple_step(s1[i], i);
  if (rc == LF_OK) rc = lf_ens_write_epoch(w, 4, 6, 2, f1, c1, obs, NULL, phi, 6, st);
  for (int i = 0; i < 7; i++) st[i] = simple_step(s2[i], 6 + i);
  if (rc == LF_OK)
    rc = lf_ens_write_epoch(w, 6, 13, 1, f2, c2, obs + 4 * NOBS, NULL, phi + 4 * NPHI, 7, st);
  if (rc == LF_OK)
    rc = lf_ens_close(w);
  else
    lf_ens_abort(w);
  CHECK(rc == LF_OK, "epochs written (%s)", rc == LF_OK ? "ok" : lf_last_error());
  const int64_t want[6] = {3, 0, 2, 3, 0, 5};
  expect_mult(path, want, 6, "epoch writer");
}

int main(void) {
  const char *imh = NULL;
  /* 10^4 steps: > 2 step buffers, > 1 row buffer, many configuration buffers */
  const spec s_imh = {LF_ENS_IMH, L0, 1, 10000, 11, 0};
  const spec s_rew = {LF_ENS_REWEIGHT, L0, 1, 4500, 12, 0};
  const spec s_hmc = {LF_ENS_HMC, 0, 1, 5000, 13, 0};
  const spec s_none = {LF_ENS_IMH, L0, 0, 800, 14, 0};
  const spec s_cg = {LF_ENS_HMC, L0, 0, 5000, 15, 1};
  test_roundtrip(&s_imh, "imh.h5", &imh);
  test_roundtrip(&s_rew, "reweight.h5", NULL);
  test_roundtrip(&s_hmc, "hmc.h5", NULL);
  test_roundtrip(&s_none, "noconf.h5", NULL);
  test_roundtrip(&s_cg, "hmc_cg.h5", NULL);
  test_two_chains();
  test_resume_mult();
  test_epoch_mult();
  if (imh) {
    test_writer_refusals(imh);
    test_reader_refusals(imh);
  }
  /* every path closed every HDF5 id (files, groups, datasets, types, attributes) */
  const ssize_t open_ids = H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
  CHECK(open_ids == 0, "no HDF5 object left open: %zd", open_ids);
  lf_test_cleanup();
  return lf_test_result();
}
