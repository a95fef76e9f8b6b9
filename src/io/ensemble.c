/* Ensemble files (ensemble.h5): a buffered writer of one or more chains and a validating
 * reader (contract: latflow/ensemble.h; layout: docs/FORMAT.md, "Ensemble files").
 *
 * The writer keeps three bounded buffers: rows (observables and correlator, up to
 * ROW_BUF_VALUES doubles, at most ROW_BUF_MAX rows), configurations (up to CONF_BUF_VALUES
 * doubles, at most CONF_BUF_MAX rows) and chain steps (STEP_BUF records). A full buffer is
 * written to its datasets by "extend, then write a hyperslab at the offset" (put_rows),
 * so the memory of a run of 10^6 steps stays a few MiB. A full step buffer flushes every
 * stream (rows first) and the HDF5 file, so the .tmp on disk never holds a step whose row
 * is missing. For the parallel writer (issue 4) the dataset creation (chain_create) and
 * put_rows become collective; nothing else here touches the file layout. */
#include "latflow/ensemble.h"

#include "io/h5util.h"
#include "latflow/io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEP_BUF 4096               /* chain records per write                         */
#define ROW_BUF_VALUES (1 << 18)    /* doubles of obs + corr buffered (2 MiB)          */
#define ROW_BUF_MAX 4096            /* rows buffered at most                           */
#define CONF_BUF_VALUES (1 << 20)   /* doubles of configurations buffered (8 MiB)      */
#define CONF_BUF_MAX 64             /* configurations buffered at most                 */
#define STEP_CHUNK 4096             /* values per chunk of the 1-D chain datasets      */
#define ROW_CHUNK_VALUES (1 << 14)  /* values per chunk of obs/corr (128 KiB)          */
#define CONF_CHUNK_VALUES (1 << 17) /* values per chunk of configs (1 MiB)            */

/* D_ROW .. D_ACC: the chain columns of every file; D_CGI, D_CGM: only with info.cg;
 * D_MULT: per row, written when the chain is complete (chain_finish) */
enum { D_OBS, D_CORR, D_CONF, D_ROW, D_ID, D_LOGW, D_DH, D_ACC, D_CGI, D_CGM, D_MULT, ND };

static const char *const dname[ND] = {"obs",      "corr",   "configs",     "row",
                                      "id",       "logw",   "dH",          "accepted",
                                      "cg_iters", "cg_max", "multiplicity"};

/* The last chain column of a file with info cg. */
static int last_col(int cg) {
  return cg ? D_CGM : D_ACC;
}

static const char *const kind_str[3] = {"imh", "reweight", "hmc"};

/* Root attribute how_to_read: the two facts an h5py user must know before the first read
 * (issue 12: obs[:].mean(0) looked right and was 30 sigma off). */
static const char how_to_read[] =
    "Each /chain_<r>/obs (corr, configs) holds one row per stored (unique) state, NOT one "
    "per Monte Carlo step: the series is obs[row] = np.repeat(obs, multiplicity, axis=0), "
    "the mean np.average(obs, weights=multiplicity, axis=0).\n"
    "kind = reweight: one row per proposal, weight exp(logw) (rows = steps): "
    "np.average(obs, weights=np.exp(logw - M), axis=0), M = max of logw over all chains; "
    "see docs/FORMAT.md section 8.";

/* The `description` attribute of dataset d in an ensemble of kind k. */
static const char *describe(int d, lf_ens_kind k) {
  switch (d) {
  case D_OBS:
    return "observables of each stored (unique) state, columns = obs_names; NOT a Monte Carlo "
           "series: index by row (obs[row]) or weight rows by multiplicity";
  case D_CORR:
    return "correlator of each stored state (phi4: zero-momentum G(t), t = 0 .. ncorr-1); rows "
           "as obs: index by row or weight by multiplicity";
  case D_CONF:
    return "field of each stored state, C*V values per row (component-major, site v = x0*L1 + "
           "x1); rows as obs: index by row or weight by multiplicity";
  case D_ROW:
    return "per Monte Carlo step: the row (of obs, corr, configs) of the state after the step; "
           "never decreases";
  case D_ID:
    return k == LF_ENS_HMC ? "per step: trajectory number" : "per step: proposal id";
  case D_LOGW:
    return k == LF_ENS_HMC ? "NaN (HMC)"
           : k == LF_ENS_REWEIGHT
               ? "per step: log w = log p~ - log q of the proposal, unnormalized; row[i] = i, so "
                 "obs[i] has weight exp(logw[i] - M), M the same for every chain"
               : "per step: log w = log p~ - log q of the proposal, unnormalized";
  case D_DH:
    return k == LF_ENS_HMC ? "per step: energy violation dH of the trajectory" : "NaN (flow)";
  case D_ACC:
    return "per step: 1 if the proposal was accepted; acceptance = mean(accepted)";
  case D_CGI:
    return "per step: CG iterations of the trajectory (all solves)";
  case D_CGM:
    return "per step: CG iterations of the trajectory's longest solve";
  default:
    return k == LF_ENS_REWEIGHT
               ? "per row: the number of steps whose row is this one (reweighting: 1)"
               : "per row: the number of Monte Carlo steps spent on this state (entries of row "
                 "equal to its index; 0 for a stored rejected proposal); rows are in chain "
                 "order, so np.repeat(obs, multiplicity, axis=0) is the series";
  }
}

struct lf_ens_writer {
  char path[LF_PATH_MAX + 8]; /* final name         */
  char tmp[LF_PATH_MAX + 8];  /* name while writing */
  lf_ens_info info;
  size_t nphi; /* C*V: values per configuration */
  hid_t fapl, file, group;
  hid_t dset[ND]; /* datasets of the current chain (-1: absent) */
  int chain;      /* current chain r; the file holds chains 0..r */
  lf_status failed;
  MPI_Comm comm; /* collective writer (lf_ens_create_par/lf_ens_reopen): dup; else NULL */
  int rank;      /* in comm (0 for a serial writer)                                */
  hid_t dxpl;    /* collective transfer (parallel) or H5P_DEFAULT                   */
  /* rows: obs (row_cap, nobs) and corr (row_cap, ncorr), owned */
  size_t rows_written, nrow_buf, row_cap;
  double *obs_buf, *corr_buf;
  /* configurations: (conf_cap, nphi), owned; NULL unless save_configs */
  size_t conf_written, nconf_buf, conf_cap;
  double *conf_buf;
  /* chain steps, column-wise */
  size_t steps_written, nstep_buf;
  int64_t s_row[STEP_BUF], s_id[STEP_BUF];
  double s_logw[STEP_BUF], s_dH[STEP_BUF];
  int8_t s_acc[STEP_BUF];
  int64_t s_cgi[STEP_BUF], s_cgm[STEP_BUF];
};

static size_t clamp_rows(size_t values, size_t width, size_t max) {
  size_t r = width ? values / width : max;
  if (r < 1) r = 1;
  return r > max ? max : r;
}

static lf_status chain_finish(lf_ens_writer *w);
static lf_status agree(const lf_ens_writer *w, lf_status rc);

/* "/chain_<r>/<name>", for messages. */
static const char *full_name(char *buf, size_t n, int r, const char *name) {
  snprintf(buf, n, "/chain_%d/%s", r, name);
  return buf;
}

/* ---- writer ----------------------------------------------------------------------------- */

static lf_status check_info(const lf_ens_info *in, const char *path) {
  if ((int)in->kind < LF_ENS_IMH || (int)in->kind > LF_ENS_HMC)
    return LF_FAIL(LF_ERR_INVALID, "'%s': ensemble kind %d is not imh (0), reweight (1) or hmc (2)",
                   path, (int)in->kind);
  if (!memchr(in->theory, '\0', sizeof in->theory) || !in->theory[0])
    return LF_FAIL(LF_ERR_INVALID, "'%s': ensemble theory name is empty or not terminated", path);
  if (in->C < 1 || in->L0 < 1 || in->L1 < 1)
    return LF_FAIL(LF_ERR_INVALID, "'%s': ensemble C = %d, L0 = %d, L1 = %d must be >= 1", path,
                   in->C, in->L0, in->L1);
  if (in->nobs < 1 || in->nobs > LF_MAX_OBS)
    return LF_FAIL(LF_ERR_INVALID, "'%s': ensemble nobs = %d, must be in [1, %d]", path, in->nobs,
                   LF_MAX_OBS);
  for (int k = 0; k < in->nobs; k++)
    if (!memchr(in->obs_names[k], '\0', LF_NAME_MAX) || !in->obs_names[k][0])
      return LF_FAIL(LF_ERR_INVALID, "'%s': name of observable %d is empty or not terminated", path,
                     k);
  if (in->ncorr < 0 || in->ncorr > LF_ENS_MAX_CORR)
    return LF_FAIL(LF_ERR_INVALID, "'%s': ensemble ncorr = %d, must be in [0, %d]", path, in->ncorr,
                   LF_ENS_MAX_CORR);
  if (in->save_configs != 0 && in->save_configs != 1)
    return LF_FAIL(LF_ERR_INVALID, "'%s': ensemble save_configs = %d, must be 0 or 1", path,
                   in->save_configs);
  if (in->cg != 0 && in->cg != 1)
    return LF_FAIL(LF_ERR_INVALID, "'%s': ensemble cg = %d, must be 0 or 1", path, in->cg);
  if (!memchr(in->model_hash, '\0', sizeof in->model_hash) ||
      !memchr(in->model_path, '\0', sizeof in->model_path))
    return LF_FAIL(LF_ERR_INVALID, "'%s': ensemble model_hash or model_path is not terminated",
                   path);
  return LF_OK;
}

/* Root attributes of lf_ens_info (except gen_seconds' final value, written at close). */
static lf_status write_info(hid_t f, const lf_ens_info *in, const char *path) {
  lf_status rc = LF_OK;
  LF_CHECK(lf_h5_attr_write_str(f, "kind", kind_str[in->kind], path, "/"));
  LF_CHECK(lf_h5_attr_write_str(f, "theory", in->theory, path, "/"));
  LF_CHECK(lf_h5_attr_write_i32(f, "C", in->C, path, "/"));
  LF_CHECK(lf_h5_attr_write_i32(f, "L0", in->L0, path, "/"));
  LF_CHECK(lf_h5_attr_write_i32(f, "L1", in->L1, path, "/"));
  LF_CHECK(lf_h5_attr_write_i32(f, "nobs", in->nobs, path, "/"));
  LF_CHECK(lf_h5_attr_write_strv(f, "obs_names", in->obs_names[0], LF_NAME_MAX, (size_t)in->nobs,
                                 path, "/"));
  LF_CHECK(lf_h5_attr_write_i32(f, "ncorr", in->ncorr, path, "/"));
  LF_CHECK(lf_h5_attr_write_i32(f, "save_configs", in->save_configs, path, "/"));
  LF_CHECK(lf_h5_attr_write_i32(f, "cg", in->cg, path, "/"));
  LF_CHECK(lf_h5_attr_write_str(f, "model_hash", in->model_hash, path, "/"));
  LF_CHECK(lf_h5_attr_write_str(f, "model_path", in->model_path, path, "/"));
  LF_CHECK(lf_h5_attr_write_f64(f, "train_seconds", in->train_seconds, path, "/"));
  LF_CHECK(lf_h5_attr_write_f64(f, "gen_seconds", in->gen_seconds, path, "/"));
fail:
  return rc;
}

/* Closes the current chain's datasets and group (errors ignored: failure paths). */
static void chain_release(lf_ens_writer *w) {
  for (int d = 0; d < ND; d++) {
    if (w->dset[d] >= 0) H5Dclose(w->dset[d]);
    w->dset[d] = -1;
  }
  if (w->group >= 0) H5Gclose(w->group);
  w->group = -1;
}

/* Closes every handle (errors ignored). detach: the file failed (or may have): nothing
 * more reaches the disk, so no close can fail on a full disk (lf_h5_detach). */
static void release(lf_ens_writer *w, int detach) {
  if (detach && w->file >= 0) lf_h5_detach(w->file);
  chain_release(w);
  if (w->file >= 0) H5Fclose(w->file);
  if (w->fapl >= 0) H5Pclose(w->fapl);
  if (w->dxpl >= 0 && w->dxpl != H5P_DEFAULT) H5Pclose(w->dxpl);
  w->file = w->fapl = -1;
  w->dxpl = H5P_DEFAULT;
}

static void writer_free(lf_ens_writer *w) {
  if (w->comm != MPI_COMM_NULL) MPI_Comm_free(&w->comm);
  free(w->obs_buf);
  free(w->corr_buf);
  free(w->conf_buf);
  free(w);
}

/* Creates group /chain_<w->chain> and its empty datasets; resets the counters. Under
 * parallel HDF5 this is collective (identical arguments on every rank). */
static lf_status chain_create(lf_ens_writer *w) {
  lf_status rc = LF_OK;
  char g[32];
  const lf_ens_info *in = &w->info;
  snprintf(g, sizeof g, "chain_%d", w->chain);
  LF_CHECK(lf_h5_group_create(w->file, g, &w->group, w->tmp));
  const size_t nobs = (size_t)in->nobs, ncorr = (size_t)in->ncorr;
  LF_CHECK(lf_h5_dset_create_rows(w->group, dname[D_OBS], H5T_IEEE_F64LE, nobs,
                                  clamp_rows(ROW_CHUNK_VALUES, nobs, 4096), &w->dset[D_OBS],
                                  w->tmp));
  if (ncorr > 0)
    LF_CHECK(lf_h5_dset_create_rows(w->group, dname[D_CORR], H5T_IEEE_F64LE, ncorr,
                                    clamp_rows(ROW_CHUNK_VALUES, ncorr, 4096), &w->dset[D_CORR],
                                    w->tmp));
  if (in->save_configs)
    LF_CHECK(lf_h5_dset_create_rows(w->group, dname[D_CONF], H5T_IEEE_F64LE, w->nphi,
                                    clamp_rows(CONF_CHUNK_VALUES, w->nphi, 64), &w->dset[D_CONF],
                                    w->tmp));
  LF_CHECK(lf_h5_dset_create_rows(w->group, dname[D_ROW], H5T_STD_I64LE, 0, STEP_CHUNK,
                                  &w->dset[D_ROW], w->tmp));
  LF_CHECK(lf_h5_dset_create_rows(w->group, dname[D_ID], H5T_STD_I64LE, 0, STEP_CHUNK,
                                  &w->dset[D_ID], w->tmp));
  LF_CHECK(lf_h5_dset_create_rows(w->group, dname[D_LOGW], H5T_IEEE_F64LE, 0, STEP_CHUNK,
                                  &w->dset[D_LOGW], w->tmp));
  LF_CHECK(lf_h5_dset_create_rows(w->group, dname[D_DH], H5T_IEEE_F64LE, 0, STEP_CHUNK,
                                  &w->dset[D_DH], w->tmp));
  LF_CHECK(lf_h5_dset_create_rows(w->group, dname[D_ACC], H5T_STD_I8LE, 0, STEP_CHUNK,
                                  &w->dset[D_ACC], w->tmp));
  if (in->cg) {
    LF_CHECK(lf_h5_dset_create_rows(w->group, dname[D_CGI], H5T_STD_I64LE, 0, STEP_CHUNK,
                                    &w->dset[D_CGI], w->tmp));
    LF_CHECK(lf_h5_dset_create_rows(w->group, dname[D_CGM], H5T_STD_I64LE, 0, STEP_CHUNK,
                                    &w->dset[D_CGM], w->tmp));
  }
  w->rows_written = w->nrow_buf = 0;
  w->conf_written = w->nconf_buf = 0;
  w->steps_written = w->nstep_buf = 0;
  return LF_OK;
fail:
  return rc;
}

/* Appends n rows of buf at row offset off of dataset d: extend to off + n, then write the
 * hyperslab. Under parallel HDF5: the extent is the same on every rank (collective), each
 * rank writes its own offset (collective transfer, H5Sselect_none when n = 0). */
static lf_status put_rows(lf_ens_writer *w, int d, hid_t mtype, size_t off, size_t n,
                          const void *buf) {
  char nm[64];
  if (n == 0) return LF_OK;
  full_name(nm, sizeof nm, w->chain, dname[d]);
  lf_status rc = lf_h5_dset_extend(w->dset[d], off + n, w->tmp, nm);
  if (rc == LF_OK) rc = lf_h5_dset_write_rows(w->dset[d], mtype, off, n, buf, w->dxpl, w->tmp, nm);
  if (rc != LF_OK) w->failed = rc; /* datasets may now differ in length: refuse more writes */
  return rc;
}

static lf_status write_rows(lf_ens_writer *w) {
  lf_status rc = LF_OK;
  LF_CHECK(put_rows(w, D_OBS, H5T_NATIVE_DOUBLE, w->rows_written, w->nrow_buf, w->obs_buf));
  if (w->info.ncorr > 0)
    LF_CHECK(put_rows(w, D_CORR, H5T_NATIVE_DOUBLE, w->rows_written, w->nrow_buf, w->corr_buf));
  w->rows_written += w->nrow_buf;
  w->nrow_buf = 0;
fail:
  return rc;
}

static lf_status write_configs(lf_ens_writer *w) {
  lf_status rc = put_rows(w, D_CONF, H5T_NATIVE_DOUBLE, w->conf_written, w->nconf_buf, w->conf_buf);
  if (rc == LF_OK) {
    w->conf_written += w->nconf_buf;
    w->nconf_buf = 0;
  }
  return rc;
}

static lf_status write_steps(lf_ens_writer *w) {
  lf_status rc = LF_OK;
  const size_t off = w->steps_written, n = w->nstep_buf;
  LF_CHECK(put_rows(w, D_ROW, H5T_NATIVE_INT64, off, n, w->s_row));
  LF_CHECK(put_rows(w, D_ID, H5T_NATIVE_INT64, off, n, w->s_id));
  LF_CHECK(put_rows(w, D_LOGW, H5T_NATIVE_DOUBLE, off, n, w->s_logw));
  LF_CHECK(put_rows(w, D_DH, H5T_NATIVE_DOUBLE, off, n, w->s_dH));
  LF_CHECK(put_rows(w, D_ACC, H5T_NATIVE_INT8, off, n, w->s_acc));
  if (w->info.cg) {
    LF_CHECK(put_rows(w, D_CGI, H5T_NATIVE_INT64, off, n, w->s_cgi));
    LF_CHECK(put_rows(w, D_CGM, H5T_NATIVE_INT64, off, n, w->s_cgm));
  }
  w->steps_written += n;
  w->nstep_buf = 0;
fail:
  return rc;
}

lf_status lf_ens_create(lf_ens_writer **out, const char *path, const lf_config *cfg,
                        const lf_ens_info *info, int overwrite) {
  lf_status rc = LF_OK;
  if (!out) return LF_FAIL(LF_ERR_INVALID, "lf_ens_create: no writer pointer");
  *out = NULL;
  if (!path || !cfg || !info) return LF_FAIL(LF_ERR_INVALID, "lf_ens_create: path, config, info");
  if (strlen(path) >= LF_PATH_MAX)
    return LF_FAIL(LF_ERR_INVALID, "ensemble file name too long (%zu bytes, at most %d): '%s'",
                   strlen(path), LF_PATH_MAX - 1, path);
  if ((rc = check_info(info, path)) != LF_OK) return rc;
  lf_ens_writer *w = calloc(1, sizeof *w);
  if (!w) return LF_FAIL(LF_ERR_NOMEM, "ensemble writer for '%s' (%zu bytes)", path, sizeof *w);
  w->fapl = w->file = w->group = -1;
  w->comm = MPI_COMM_NULL;
  w->dxpl = H5P_DEFAULT;
  for (int d = 0; d < ND; d++) w->dset[d] = -1;
  snprintf(w->path, sizeof w->path, "%s", path);
  w->info = *info;
  w->nphi = (size_t)info->C * (size_t)info->L0 * (size_t)info->L1;
  const size_t width = (size_t)info->nobs + (size_t)info->ncorr;
  w->row_cap = clamp_rows(ROW_BUF_VALUES, width, ROW_BUF_MAX);
  w->obs_buf = malloc(w->row_cap * (size_t)info->nobs * sizeof(double));
  if (info->ncorr > 0) w->corr_buf = malloc(w->row_cap * (size_t)info->ncorr * sizeof(double));
  if (info->save_configs) {
    w->conf_cap = clamp_rows(CONF_BUF_VALUES, w->nphi, CONF_BUF_MAX);
    w->conf_buf = malloc(w->conf_cap * w->nphi * sizeof(double));
  }
  if (!w->obs_buf || (info->ncorr > 0 && !w->corr_buf) || (info->save_configs && !w->conf_buf)) {
    rc = LF_FAIL(LF_ERR_NOMEM,
                 "ensemble buffers for '%s' (%zu rows of %zu values, %zu "
                 "configurations of %zu values)",
                 path, w->row_cap, width, w->conf_cap, w->nphi);
    writer_free(w);
    return rc;
  }

  LF_CHECK(lf_h5_fapl_serial(&w->fapl));
  LF_CHECK(lf_h5_create_tmp(path, overwrite, w->fapl, w->tmp, sizeof w->tmp, &w->file));
  LF_CHECK(lf_h5_write_header(w->file, "ensemble", LF_IO_ENSEMBLE_FORMAT_VERSION, NULL, w->tmp));
  LF_CHECK(lf_h5_write_meta(w->file, cfg, 1, w->tmp));
  LF_CHECK(write_info(w->file, info, w->tmp));
  LF_CHECK(lf_h5_attr_write_i32(w->file, "nchains", 1, w->tmp, "/"));
  LF_CHECK(chain_create(w));
  LF_CHECK(lf_h5_flush(w->file, 0, w->tmp, "after creating it"));
  *out = w;
  return LF_OK;
fail : {
  const int made = w->file >= 0;
  release(w, 1);
  if (made) unlink(w->tmp);
}
  writer_free(w);
  return rc;
}

static lf_status check_usable(const lf_ens_writer *w, const char *fn) {
  if (!w) return LF_FAIL(LF_ERR_INVALID, "%s: no writer", fn);
  if (w->failed != LF_OK)
    return LF_FAIL(w->failed, "'%s': the ensemble writer failed earlier (%s)", w->tmp,
                   lf_status_str(w->failed));
  return LF_OK;
}

lf_status lf_ens_append_row(lf_ens_writer *w, const double *obs, const double *corr,
                            const double *phi, int64_t *row) {
  lf_status rc = check_usable(w, "lf_ens_append_row");
  if (rc != LF_OK) return rc;
  const lf_ens_info *in = &w->info;
  const int64_t r = lf_ens_rows(w);
  if (!obs || (in->ncorr > 0 && !corr) || (in->save_configs && !phi))
    return LF_FAIL(LF_ERR_INVALID,
                   "'%s': row %lld: missing data (obs %s, corr %s with ncorr = %d, phi %s with "
                   "save_configs = %d)",
                   w->tmp, (long long)r, obs ? "given" : "NULL", corr ? "given" : "NULL", in->ncorr,
                   phi ? "given" : "NULL", in->save_configs);
  for (int k = 0; k < in->nobs; k++)
    if (!isfinite(obs[k]))
      return LF_FAIL(LF_ERR_NUMERIC,
                     "'%s': chain %d, row %lld: observable %s = %g is not finite (a non-finite "
                     "state must never be stored)",
                     w->tmp, w->chain, (long long)r, in->obs_names[k], obs[k]);
  memcpy(w->obs_buf + w->nrow_buf * (size_t)in->nobs, obs, (size_t)in->nobs * sizeof *obs);
  if (in->ncorr > 0)
    memcpy(w->corr_buf + w->nrow_buf * (size_t)in->ncorr, corr, (size_t)in->ncorr * sizeof *corr);
  w->nrow_buf++;
  if (in->save_configs) {
    memcpy(w->conf_buf + w->nconf_buf * w->nphi, phi, w->nphi * sizeof *phi);
    w->nconf_buf++;
  }
  if (row) *row = r;
  if (w->nrow_buf == w->row_cap && (rc = write_rows(w)) != LF_OK) return rc;
  if (in->save_configs && w->nconf_buf == w->conf_cap && (rc = write_configs(w)) != LF_OK)
    return rc;
  return LF_OK;
}

lf_status lf_ens_append_steps(lf_ens_writer *w, size_t n, const lf_ens_step *steps) {
  lf_status rc = check_usable(w, "lf_ens_append_steps");
  if (rc != LF_OK) return rc;
  if (n > 0 && !steps) return LF_FAIL(LF_ERR_INVALID, "'%s': %zu steps but no array", w->tmp, n);
  const int64_t rows = lf_ens_rows(w);
  /* all or nothing: a bad step leaves the chain as it was */
  for (size_t i = 0; i < n; i++)
    if (steps[i].row < 0 || steps[i].row >= rows)
      return LF_FAIL(LF_ERR_INVALID,
                     "'%s': chain %d, step %lld (proposal id %lld): row %lld is not in [0, %lld) "
                     "(rows appended so far)",
                     w->tmp, w->chain, (long long)(lf_ens_steps(w) + (int64_t)i),
                     (long long)steps[i].id, (long long)steps[i].row, (long long)rows);
  for (size_t i = 0; i < n; i++) {
    const size_t j = w->nstep_buf++;
    w->s_row[j] = steps[i].row;
    w->s_id[j] = steps[i].id;
    w->s_logw[j] = steps[i].logw;
    w->s_dH[j] = steps[i].dH;
    w->s_acc[j] = steps[i].accepted;
    w->s_cgi[j] = steps[i].cg_iters;
    w->s_cgm[j] = steps[i].cg_max;
    if (w->nstep_buf == STEP_BUF && (rc = lf_ens_flush(w)) != LF_OK) return rc;
  }
  return LF_OK;
}

int64_t lf_ens_rows(const lf_ens_writer *w) {
  return w ? (int64_t)(w->rows_written + w->nrow_buf) : 0;
}

int64_t lf_ens_steps(const lf_ens_writer *w) {
  return w ? (int64_t)(w->steps_written + w->nstep_buf) : 0;
}

void lf_ens_set_gen_seconds(lf_ens_writer *w, double seconds) {
  if (w) w->info.gen_seconds = seconds;
}

lf_status lf_ens_flush(lf_ens_writer *w) {
  lf_status rc = check_usable(w, "lf_ens_flush");
  if (rc != LF_OK) return rc;
  /* rows before steps: the file never holds a step whose row is not written */
  LF_CHECK(write_rows(w));
  if (w->info.save_configs) LF_CHECK(write_configs(w));
  LF_CHECK(write_steps(w));
  char what[96];
  snprintf(what, sizeof what, "after %zu rows and %zu steps of chain %d", w->rows_written,
           w->steps_written, w->chain);
  if ((rc = lf_h5_flush(w->file, 0, w->tmp, what)) != LF_OK) {
    w->failed = rc;
    return rc;
  }
fail:
  return rc;
}

lf_status lf_ens_sync(lf_ens_writer *w) {
  lf_status rc = lf_ens_flush(w);
  if (rc != LF_OK || w->comm != MPI_COMM_NULL) return rc; /* MPI-IO: the flush synced */
  void *h = NULL;
  if (H5Fget_vfd_handle(w->file, H5P_DEFAULT, &h) < 0 || !h)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot get the file handle to sync it", w->tmp);
  if (fsync(*(int *)h) != 0)
    return LF_FAIL(LF_ERR_IO, "cannot sync '%s': %s", w->tmp, strerror(errno));
  return LF_OK;
}

lf_status lf_ens_add_chain(lf_ens_writer *w) {
  lf_status rc = lf_ens_flush(w);
  if (rc == LF_OK) rc = chain_finish(w);
  if (rc != LF_OK) {
    if (w) w->failed = rc;
    return rc;
  }
  for (int d = 0; d < ND; d++) {
    if (w->dset[d] >= 0 && H5Dclose(w->dset[d]) < 0 && rc == LF_OK)
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close dataset /chain_%d/%s", w->tmp, w->chain,
                      dname[d]);
    w->dset[d] = -1;
  }
  if (w->group >= 0 && H5Gclose(w->group) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close group /chain_%d", w->tmp, w->chain);
  w->group = -1;
  if (rc == LF_OK) {
    w->chain++;
    rc = chain_create(w);
  }
  if (rc == LF_OK) rc = lf_h5_attr_write_i32(w->file, "nchains", w->chain + 1, w->tmp, "/");
  if (rc == LF_OK) rc = lf_h5_flush(w->file, 0, w->tmp, "after adding a chain");
  if (rc != LF_OK) w->failed = rc;
  return rc;
}

lf_status lf_ens_close(lf_ens_writer *w) {
  if (!w) return LF_OK;
  lf_status rc = agree(w, lf_ens_flush(w));
  if (rc == LF_OK) rc = chain_finish(w);
  if (rc == LF_OK)
    rc = lf_h5_attr_write_f64(w->file, "gen_seconds", w->info.gen_seconds, w->tmp, "/");
  /* a resumed run may have begun its .tmp under an older layout: the file is now this one */
  if (rc == LF_OK)
    rc =
        lf_h5_attr_write_i32(w->file, "format_version", LF_IO_ENSEMBLE_FORMAT_VERSION, w->tmp, "/");
  if (rc == LF_OK) rc = lf_h5_attr_write_str(w->file, "how_to_read", how_to_read, w->tmp, "/");
  /* everything reaches the disk here, before any object is closed (lf_h5_settle) */
  rc = agree(w, rc);
  if (rc == LF_OK) rc = agree(w, lf_h5_settle(w->file, w->tmp));
  if (rc != LF_OK) lf_h5_detach(w->file);
  for (int d = 0; d < ND; d++) {
    if (w->dset[d] >= 0 && H5Dclose(w->dset[d]) < 0 && rc == LF_OK)
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close dataset /chain_%d/%s", w->tmp, w->chain,
                      dname[d]);
    w->dset[d] = -1;
  }
  if (w->group >= 0 && H5Gclose(w->group) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close group /chain_%d", w->tmp, w->chain);
  w->group = -1;
  if (w->file >= 0 && H5Fclose(w->file) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close the file", w->tmp);
  w->file = -1;
  /* A failed writer leaves its .tmp for inspection rather than an ensemble with holes.
   * A collective writer: every rank closed the file; rank 0 renames it. */
  if (rc == LF_OK && w->rank == 0) rc = lf_io_commit_tmp(w->tmp, w->path);
  release(w, 1);
  writer_free(w);
  return rc;
}

lf_status lf_ens_suspend(lf_ens_writer *w) {
  if (!w) return LF_OK;
  lf_status rc = w->failed == LF_OK ? lf_ens_flush(w) : w->failed;
  /* a collective writer: every rank detaches if any failed (the close is collective) */
  rc = agree(w, rc);
  release(w, rc != LF_OK); /* H5Fclose: collective for a collective writer */
  writer_free(w);
  return rc;
}

void lf_ens_abort(lf_ens_writer *w) {
  if (!w) return;
  const int made = w->file >= 0 && w->rank == 0;
  release(w, 1);
  if (made) unlink(w->tmp);
  writer_free(w);
}

/* ---- reader ----------------------------------------------------------------------------- */

void lf_ens_free(lf_ensemble *e) {
  if (!e) return;
  for (int r = 0; r < e->R; r++) {
    if (e->obs) free(e->obs[r]);
    if (e->corr) free(e->corr[r]);
    if (e->chain) free(e->chain[r]);
    if (e->mult) free(e->mult[r]);
  }
  free(e->mult);
  free(e->rows);
  free(e->steps);
  free(e->obs);
  free(e->corr);
  free(e->chain);
  memset(e, 0, sizeof *e);
}

/* A string attribute copied into buf[n] (LF_ERR_FORMAT if it does not fit). */
static lf_status read_str(hid_t obj, const char *name, char *buf, size_t n, const char *path) {
  char *s = NULL;
  lf_status rc = lf_h5_attr_read_str(obj, name, &s, path, "/");
  if (rc != LF_OK) return rc;
  if (strlen(s) >= n)
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': root attribute %s has %zu bytes, at most %zu allowed", path,
                 name, strlen(s), n - 1);
  else
    memcpy(buf, s, strlen(s) + 1);
  free(s);
  return rc;
}

/* An integer attribute in [lo, hi]. */
static lf_status read_int(hid_t obj, const char *name, int64_t lo, int64_t hi, int *out,
                          const char *path) {
  int64_t v = 0;
  lf_status rc = lf_h5_attr_read_i64(obj, name, &v, path, "/");
  if (rc != LF_OK) return rc;
  if (v < lo || v > hi)
    return LF_FAIL(LF_ERR_FORMAT, "'%s': root attribute %s = %lld is not in [%lld, %lld]", path,
                   name, (long long)v, (long long)lo, (long long)hi);
  *out = (int)v;
  return LF_OK;
}

static lf_status read_info(hid_t f, const char *path, lf_ens_info *in, int *R) {
  lf_status rc = LF_OK;
  char kind[32];
  size_t nn = 0;
  H5G_info_t gi;
  memset(in, 0, sizeof *in);
  LF_CHECK(read_str(f, "kind", kind, sizeof kind, path));
  int k = 0;
  while (k < 3 && strcmp(kind, kind_str[k]) != 0) k++;
  if (k == 3) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': root attribute kind = '%s' is not imh, reweight or hmc",
                 path, kind);
    goto fail;
  }
  in->kind = (lf_ens_kind)k;
  LF_CHECK(read_str(f, "theory", in->theory, sizeof in->theory, path));
  LF_CHECK(read_int(f, "C", 1, 1 << 20, &in->C, path));
  LF_CHECK(read_int(f, "L0", 1, 1 << 20, &in->L0, path));
  LF_CHECK(read_int(f, "L1", 1, 1 << 20, &in->L1, path));
  LF_CHECK(read_int(f, "nobs", 1, LF_MAX_OBS, &in->nobs, path));
  LF_CHECK(lf_h5_attr_read_strv(f, "obs_names", in->obs_names[0], LF_NAME_MAX, LF_MAX_OBS, &nn,
                                path, "/"));
  if (nn != (size_t)in->nobs) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': root attribute obs_names has %zu names but nobs = %d", path,
                 nn, in->nobs);
    goto fail;
  }
  LF_CHECK(read_int(f, "ncorr", 0, LF_ENS_MAX_CORR, &in->ncorr, path));
  LF_CHECK(read_int(f, "save_configs", 0, 1, &in->save_configs, path));
  int have_cg = 0;
  LF_CHECK(lf_h5_attr_exists(f, "cg", &have_cg, path, "/"));
  if (have_cg) LF_CHECK(read_int(f, "cg", 0, 1, &in->cg, path)); /* version 1: no columns */
  LF_CHECK(read_str(f, "model_hash", in->model_hash, sizeof in->model_hash, path));
  LF_CHECK(read_str(f, "model_path", in->model_path, sizeof in->model_path, path));
  LF_CHECK(lf_h5_attr_read_f64(f, "train_seconds", &in->train_seconds, path, "/"));
  LF_CHECK(lf_h5_attr_read_f64(f, "gen_seconds", &in->gen_seconds, path, "/"));
  /* a chain is a group at the root: more chains than links is a corrupted count */
  if (H5Gget_info(f, &gi) < 0) {
    rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s' is truncated or corrupted: cannot list the root group",
                    path);
    goto fail;
  }
  LF_CHECK(read_int(f, "nchains", 1, (int64_t)gi.nlinks, R, path));
fail:
  return rc;
}

/* Opens /chain_r/name, checks it is 2-D of the given width (1-D if width == 0) and
 * returns its rows. */
static lf_status open_table(hid_t g, int r, const char *name, size_t width, hid_t *d, size_t *rows,
                            const char *path) {
  char nm[64];
  size_t dims[2];
  int nd = 0;
  full_name(nm, sizeof nm, r, name);
  lf_status rc = lf_h5_dset_open_rows(g, name, d, &nd, dims, path);
  if (rc != LF_OK) return rc;
  if ((width == 0 && nd != 1) || (width > 0 && (nd != 2 || dims[1] != width))) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': dataset %s is %s%zu wide, expected %s%zu (corrupted file?)",
                 path, nm, nd == 1 ? "1-D, " : "", nd == 1 ? (size_t)1 : dims[1],
                 width ? "" : "1-D, ", width ? width : 1);
    H5Dclose(*d);
    *d = -1;
    return rc;
  }
  *rows = dims[0];
  return LF_OK;
}

static void *alloc_n(size_t n, size_t size) {
  return malloc((n ? n : 1) * size);
}

/* Reads all of dataset d (rows x width of memory type mtype) into a new array *out. */
static lf_status read_all(hid_t d, hid_t mtype, size_t rows, size_t width, size_t size, void **out,
                          int r, const char *name, const char *path) {
  char nm[64];
  full_name(nm, sizeof nm, r, name);
  *out = alloc_n(rows * width, size);
  if (!*out)
    return LF_FAIL(LF_ERR_NOMEM, "'%s': dataset %s (%zu x %zu values)", path, nm, rows, width);
  return lf_h5_dset_read_rows(d, mtype, 0, rows, *out, path, nm);
}

static lf_status read_chain(hid_t f, const char *path, int r, lf_ensemble *e) {
  lf_status rc = LF_OK;
  char gname[32], nm[64];
  hid_t g = -1, d = -1;
  void *col = NULL;
  const lf_ens_info *in = &e->info;
  const size_t nphi = (size_t)in->C * (size_t)in->L0 * (size_t)in->L1;
  size_t rows = 0, n = 0, steps = 0;
  snprintf(gname, sizeof gname, "chain_%d", r);
  LF_CHECK(lf_h5_group_open(f, gname, &g, path));

  LF_CHECK(open_table(g, r, dname[D_OBS], (size_t)in->nobs, &d, &rows, path));
  rc = read_all(d, H5T_NATIVE_DOUBLE, rows, (size_t)in->nobs, sizeof(double), (void **)&e->obs[r],
                r, dname[D_OBS], path);
  H5Dclose(d);
  d = -1;
  if (rc != LF_OK) goto fail;
  e->rows[r] = rows;
  if (in->ncorr > 0) {
    LF_CHECK(open_table(g, r, dname[D_CORR], (size_t)in->ncorr, &d, &n, path));
    if (n != rows) {
      rc = LF_FAIL(LF_ERR_FORMAT, "'%s': dataset %s has %zu rows but /chain_%d/obs has %zu", path,
                   full_name(nm, sizeof nm, r, dname[D_CORR]), n, r, rows);
      goto fail;
    }
    rc = read_all(d, H5T_NATIVE_DOUBLE, rows, (size_t)in->ncorr, sizeof(double),
                  (void **)&e->corr[r], r, dname[D_CORR], path);
    H5Dclose(d);
    d = -1;
    if (rc != LF_OK) goto fail;
  }
  if (in->save_configs) { /* shape only: configurations are read on demand */
    LF_CHECK(open_table(g, r, dname[D_CONF], nphi, &d, &n, path));
    H5Dclose(d);
    d = -1;
    if (n != rows) {
      rc = LF_FAIL(LF_ERR_FORMAT, "'%s': dataset %s has %zu rows but /chain_%d/obs has %zu", path,
                   full_name(nm, sizeof nm, r, dname[D_CONF]), n, r, rows);
      goto fail;
    }
  }

  /* the chain table: five (seven with cg) 1-D columns of equal length, packed into
   * lf_ens_step */
  const int last = last_col(in->cg);
  for (int c = D_ROW; c <= last; c++) {
    LF_CHECK(open_table(g, r, dname[c], 0, &d, &n, path));
    H5Dclose(d);
    d = -1;
    if (c == D_ROW) {
      steps = n;
    } else if (n != steps) {
      rc = LF_FAIL(LF_ERR_FORMAT,
                   "'%s': dataset %s has %zu values but /chain_%d/row has %zu "
                   "(corrupted file?)",
                   path, full_name(nm, sizeof nm, r, dname[c]), n, r, steps);
      goto fail;
    }
  }
  e->chain[r] = alloc_n(steps, sizeof(lf_ens_step));
  col = alloc_n(steps, sizeof(int64_t));
  if (!e->chain[r] || !col) {
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': chain %d of %zu steps", path, r, steps);
    goto fail;
  }
  e->steps[r] = steps;
  lf_ens_step *s = e->chain[r];
  memset(s, 0, steps * sizeof *s);
  for (int c = D_ROW; c <= last; c++) {
    const hid_t mt = c == D_ROW || c == D_ID || c == D_CGI || c == D_CGM ? H5T_NATIVE_INT64
                     : c == D_ACC                                        ? H5T_NATIVE_INT8
                                                                         : H5T_NATIVE_DOUBLE;
    LF_CHECK(open_table(g, r, dname[c], 0, &d, &n, path));
    rc = lf_h5_dset_read_rows(d, mt, 0, steps, col, path, full_name(nm, sizeof nm, r, dname[c]));
    H5Dclose(d);
    d = -1;
    if (rc != LF_OK) goto fail;
    const int64_t *i64 = col;
    const double *f64 = col;
    const int8_t *i8 = col;
    for (size_t i = 0; i < steps; i++) {
      switch (c) {
      case D_ROW:
        s[i].row = i64[i];
        break;
      case D_ID:
        s[i].id = i64[i];
        break;
      case D_LOGW:
        s[i].logw = f64[i];
        break;
      case D_DH:
        s[i].dH = f64[i];
        break;
      case D_CGI:
        s[i].cg_iters = i64[i];
        break;
      case D_CGM:
        s[i].cg_max = i64[i];
        break;
      default:
        s[i].accepted = i8[i];
      }
    }
  }
  for (size_t i = 0; i < steps; i++)
    if (s[i].row < 0 || (uint64_t)s[i].row >= (uint64_t)rows) {
      rc = LF_FAIL(LF_ERR_FORMAT,
                   "'%s': dataset /chain_%d/row: entry %zu = %lld is not in [0, "
                   "%zu) (rows of /chain_%d/obs; corrupted file?)",
                   path, r, i, (long long)s[i].row, rows, r);
      goto fail;
    }
  /* multiplicity: counted from row; a stored one (format version 3) must agree */
  int64_t *m = e->mult[r] = calloc(rows ? rows : 1, sizeof *m);
  if (!m) {
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': multiplicity of chain %d (%zu rows)", path, r, rows);
    goto fail;
  }
  for (size_t i = 0; i < steps; i++) m[s[i].row]++;
  int have = 0;
  LF_CHECK(lf_h5_link_exists(g, dname[D_MULT], &have, path));
  if (have) {
    int64_t *col64 = NULL;
    full_name(nm, sizeof nm, r, dname[D_MULT]);
    LF_CHECK(open_table(g, r, dname[D_MULT], 0, &d, &n, path));
    if (n != rows) {
      rc = LF_FAIL(LF_ERR_FORMAT, "'%s': dataset %s has %zu values but /chain_%d/obs has %zu rows",
                   path, nm, n, r, rows);
      goto fail;
    }
    rc = read_all(d, H5T_NATIVE_INT64, rows, 1, sizeof(int64_t), (void **)&col64, r, dname[D_MULT],
                  path);
    H5Dclose(d);
    d = -1;
    for (size_t i = 0; rc == LF_OK && i < rows; i++)
      if (col64[i] != m[i])
        rc = LF_FAIL(LF_ERR_FORMAT,
                     "'%s': dataset %s: entry %zu = %lld but /chain_%d/row holds %zu %lld times "
                     "(corrupted file?)",
                     path, nm, i, (long long)col64[i], r, i, (long long)m[i]);
    free(col64);
    if (rc != LF_OK) goto fail;
  }
fail:
  free(col);
  if (d >= 0) H5Dclose(d);
  if (g >= 0) H5Gclose(g);
  return rc;
}

lf_status lf_ens_read(const char *path, lf_ensemble *e) {
  lf_status rc = LF_OK;
  hid_t f = -1;
  int R = 0;
  if (!e) return LF_FAIL(LF_ERR_INVALID, "lf_ens_read: no output");
  memset(e, 0, sizeof *e);
  if (!path) return LF_FAIL(LF_ERR_INVALID, "lf_ens_read: no path");
  LF_CHECK(lf_h5_open_latflow(path, "ensemble", H5P_DEFAULT, &f, NULL, 0, NULL));
  LF_CHECK(lf_h5_read_config(f, &e->cfg, path));
  LF_CHECK(read_info(f, path, &e->info, &R));
  e->rows = calloc((size_t)R, sizeof *e->rows);
  e->steps = calloc((size_t)R, sizeof *e->steps);
  e->obs = calloc((size_t)R, sizeof *e->obs);
  e->corr = calloc((size_t)R, sizeof *e->corr);
  e->chain = calloc((size_t)R, sizeof *e->chain);
  e->mult = calloc((size_t)R, sizeof *e->mult);
  if (!e->rows || !e->steps || !e->obs || !e->corr || !e->chain || !e->mult) {
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': tables of %d chains", path, R);
    goto fail;
  }
  e->R = R;
  for (int r = 0; r < R; r++) LF_CHECK(read_chain(f, path, r, e));
  if (H5Fclose(f) < 0) {
    f = -1;
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close the file", path);
    goto fail;
  }
  return LF_OK;
fail:
  lf_ens_free(e);
  if (f >= 0) H5Fclose(f);
  return rc;
}

lf_status lf_ens_read_configs(const char *path, int r, int64_t row0, size_t n, double *phi) {
  lf_status rc = LF_OK;
  hid_t f = -1, g = -1, d = -1;
  lf_ens_info in;
  int R = 0;
  size_t rows = 0;
  char gname[32], nm[64];
  if (!path || (n > 0 && !phi)) return LF_FAIL(LF_ERR_INVALID, "lf_ens_read_configs: path, phi");
  LF_CHECK(lf_h5_open_latflow(path, "ensemble", H5P_DEFAULT, &f, NULL, 0, NULL));
  LF_CHECK(read_info(f, path, &in, &R));
  if (!in.save_configs) {
    rc = LF_FAIL(LF_ERR_INVALID,
                 "'%s' holds no configurations (save_configs = 0; the run had "
                 "sample.save = none)",
                 path);
    goto fail;
  }
  if (r < 0 || r >= R) {
    rc = LF_FAIL(LF_ERR_INVALID, "'%s': chain %d does not exist (nchains = %d)", path, r, R);
    goto fail;
  }
  snprintf(gname, sizeof gname, "chain_%d", r);
  LF_CHECK(lf_h5_group_open(f, gname, &g, path));
  const size_t nphi = (size_t)in.C * (size_t)in.L0 * (size_t)in.L1;
  LF_CHECK(open_table(g, r, dname[D_CONF], nphi, &d, &rows, path));
  if (row0 < 0 || (uint64_t)row0 > (uint64_t)rows || n > rows - (size_t)row0) {
    rc = LF_FAIL(LF_ERR_INVALID, "'%s': configurations [%lld, %lld) of chain %d: it has %zu rows",
                 path, (long long)row0, (long long)row0 + (long long)n, r, rows);
    goto fail;
  }
  LF_CHECK(lf_h5_dset_read_rows(d, H5T_NATIVE_DOUBLE, (size_t)row0, n, phi, path,
                                full_name(nm, sizeof nm, r, dname[D_CONF])));
fail:
  if (d >= 0) H5Dclose(d);
  if (g >= 0) H5Gclose(g);
  if (f >= 0) H5Fclose(f);
  return rc;
}

/* ---- collective writer: create, reopen after an interruption, epochs ---------------------- */

/* A writer without a file: buffers sized as in lf_ens_create (the serial API needs them). */
static lf_status writer_new(lf_ens_writer **out, const char *path, const lf_ens_info *info,
                            MPI_Comm comm) {
  lf_status rc = LF_OK;
  *out = NULL;
  if (!path || !info) return LF_FAIL(LF_ERR_INVALID, "ensemble writer: path and info needed");
  if (strlen(path) >= LF_PATH_MAX)
    return LF_FAIL(LF_ERR_INVALID, "ensemble file name too long (%zu bytes, at most %d): '%s'",
                   strlen(path), LF_PATH_MAX - 1, path);
  if ((rc = check_info(info, path)) != LF_OK) return rc;
  lf_ens_writer *w = calloc(1, sizeof *w);
  if (!w) return LF_FAIL(LF_ERR_NOMEM, "ensemble writer for '%s'", path);
  w->fapl = w->file = w->group = -1;
  w->comm = MPI_COMM_NULL;
  w->dxpl = H5P_DEFAULT;
  for (int d = 0; d < ND; d++) w->dset[d] = -1;
  snprintf(w->path, sizeof w->path, "%s", path);
  snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
  w->info = *info;
  w->nphi = (size_t)info->C * (size_t)info->L0 * (size_t)info->L1;
  w->row_cap = clamp_rows(ROW_BUF_VALUES, (size_t)info->nobs + (size_t)info->ncorr, ROW_BUF_MAX);
  w->obs_buf = malloc(w->row_cap * (size_t)info->nobs * sizeof(double));
  if (info->ncorr > 0) w->corr_buf = malloc(w->row_cap * (size_t)info->ncorr * sizeof(double));
  if (info->save_configs) {
    w->conf_cap = clamp_rows(CONF_BUF_VALUES, w->nphi, CONF_BUF_MAX);
    w->conf_buf = malloc(w->conf_cap * w->nphi * sizeof(double));
  }
  if (!w->obs_buf || (info->ncorr > 0 && !w->corr_buf) || (info->save_configs && !w->conf_buf)) {
    writer_free(w);
    return LF_FAIL(LF_ERR_NOMEM, "ensemble buffers for '%s'", path);
  }
  if (comm != MPI_COMM_NULL) {
    if (MPI_Comm_dup(comm, &w->comm) != MPI_SUCCESS ||
        MPI_Comm_rank(w->comm, &w->rank) != MPI_SUCCESS) {
      writer_free(w);
      return LF_FAIL(LF_ERR_MPI, "'%s': cannot duplicate the writer's communicator", path);
    }
  }
  *out = w;
  return LF_OK;
}

/* File access and transfer properties: MPI-IO with collective transfers, or serial. */
static lf_status open_props(lf_ens_writer *w) {
  if (w->comm == MPI_COMM_NULL) {
    lf_status rc = lf_h5_fapl_serial(&w->fapl);
    return rc == LF_OK ? lf_h5_fapl_no_evictions(w->fapl, w->path) : rc;
  }
  w->fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (w->fapl < 0 || H5Pset_fapl_mpio(w->fapl, w->comm, MPI_INFO_NULL) < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot set up the MPI-IO file driver", w->path);
  lf_status rc = lf_h5_fapl_checksummed(w->fapl);
  if (rc == LF_OK) rc = lf_h5_fapl_no_evictions(w->fapl, w->path);
  if (rc != LF_OK) return rc;
  w->dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (w->dxpl < 0 || H5Pset_dxpl_mpio(w->dxpl, H5FD_MPIO_COLLECTIVE) < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot set up collective transfers", w->path);
  return LF_OK;
}

/* The status of every rank of a collective writer agreed (the largest code); serial: rc. */
static lf_status agree(const lf_ens_writer *w, lf_status rc) {
  if (w->comm == MPI_COMM_NULL) return rc;
  int mine = (int)rc, worst = mine;
  if (MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, w->comm) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "'%s': MPI_Allreduce of the writer status failed", w->path);
  if (worst != LF_OK && mine == LF_OK)
    return LF_FAIL((lf_status)worst, "'%s': the ensemble writer failed on another rank (%s)",
                   w->path, lf_status_str((lf_status)worst));
  return (lf_status)worst;
}

/* Closes handles; rank 0 deletes the tmp file if del (collective writers: every rank). */
static void discard(lf_ens_writer *w, int del) {
  release(w, 1);
  if (del && w->rank == 0) unlink(w->tmp);
  writer_free(w);
}

lf_status lf_ens_create_par(lf_ens_writer **out, const char *path, const lf_config *cfg,
                            const lf_ens_info *info, int overwrite, MPI_Comm comm) {
  lf_status rc = LF_OK;
  int P = 1, rank = 0;
  if (!out) return LF_FAIL(LF_ERR_INVALID, "lf_ens_create_par: no writer pointer");
  *out = NULL;
  if (comm == MPI_COMM_NULL) return lf_ens_create(out, path, cfg, info, overwrite);
  if (!cfg) return LF_FAIL(LF_ERR_INVALID, "lf_ens_create_par: no config");
  if (MPI_Comm_size(comm, &P) != MPI_SUCCESS || MPI_Comm_rank(comm, &rank) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "lf_ens_create_par: cannot query the communicator");
  /* one rank: the serial driver, which survives a full disk (lf_h5_write_error); the file
   * is the same HDF5 file either way */
  if (P == 1) return lf_ens_create(out, path, cfg, info, overwrite);
  /* Several ranks: rank 0 creates the file with the serial driver and closes it, then every
   * rank opens it as an interrupted run with nothing written yet. Parallel HDF5 1.10 hangs
   * or crashes when a write fails inside a collective create (a full disk); the serial
   * create reports it, and the chunks it allocates at each extend (H5D_ALLOC_TIME_EARLY)
   * are what the collective writes need. */
  char tmp[LF_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int made = 0;
  if (rank == 0) {
    lf_ens_writer *w0 = NULL;
    rc = lf_ens_create(&w0, path, cfg, info, overwrite);
    if (rc == LF_OK) {
      made = 1;
      rc = lf_ens_suspend(w0); /* flushes and closes, keeps the .tmp */
    }
  }
  int mine = (int)rc, worst = mine;
  if (MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS && rc == LF_OK)
    rc = LF_FAIL(LF_ERR_MPI, "lf_ens_create_par: MPI_Allreduce of the status failed");
  else if (worst != LF_OK && rc == LF_OK)
    rc = LF_FAIL((lf_status)worst, "'%s': the ensemble writer failed on another rank (%s)", path,
                 lf_status_str((lf_status)worst));
  if (rc == LF_OK) rc = lf_ens_reopen(out, path, info, 0, 0, comm); /* agreed on every rank */
  if (rc != LF_OK && made) unlink(tmp); /* a new, empty file: nothing to keep */
  return rc;
}

/* Cuts dataset d of the current chain back to rows after checking it has at least that
 * many. */
static lf_status cut_back(lf_ens_writer *w, int d, size_t width, size_t rows) {
  char nm[64];
  size_t have = 0;
  hid_t ds = -1;
  lf_status rc = open_table(w->group, w->chain, dname[d], width, &ds, &have, w->tmp);
  if (rc != LF_OK) return rc;
  w->dset[d] = ds;
  if (have < rows)
    return LF_FAIL(LF_ERR_FORMAT,
                   "'%s': dataset %s has %zu rows but the checkpoint says %zu were written "
                   "(the file is older than the checkpoint: was it replaced?)",
                   w->tmp, full_name(nm, sizeof nm, w->chain, dname[d]), have, rows);
  if (have > rows)
    return lf_h5_dset_extend(ds, rows, w->tmp, full_name(nm, sizeof nm, w->chain, dname[d]));
  return LF_OK;
}

lf_status lf_ens_reopen(lf_ens_writer **out, const char *path, const lf_ens_info *info,
                        int64_t rows, int64_t steps, MPI_Comm comm) {
  lf_status rc = LF_OK;
  lf_ens_writer *w = NULL;
  lf_ens_info got;
  int R = 0, P = 1;
  if (!out) return LF_FAIL(LF_ERR_INVALID, "lf_ens_reopen: no writer pointer");
  *out = NULL;
  if (rows < 0 || steps < 0)
    return LF_FAIL(LF_ERR_INVALID, "lf_ens_reopen: negative rows %lld or steps %lld",
                   (long long)rows, (long long)steps);
  if (comm != MPI_COMM_NULL && MPI_Comm_size(comm, &P) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "lf_ens_reopen: cannot query the communicator");
  if (P == 1) comm = MPI_COMM_NULL; /* as lf_ens_create_par: the serial driver */
  rc = writer_new(&w, path, info, comm);
  if (comm != MPI_COMM_NULL) {
    int ok = rc == LF_OK, all = 0;
    if (MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS || !all) {
      if (w) writer_free(w);
      return rc != LF_OK ? rc : LF_FAIL(LF_ERR_MPI, "'%s': another rank failed to reopen", path);
    }
  } else if (rc != LF_OK) {
    return rc;
  }
  rc = open_props(w);
  /* the interrupted run's own .tmp is a regular file; a link is not ours to write */
  if (rc == LF_OK) rc = lf_io_check_not_symlink(w->tmp);
  if (rc == LF_OK && access(w->tmp, F_OK) != 0)
    rc = LF_FAIL(LF_ERR_IO,
                 "cannot resume: the ensemble of the interrupted run '%s' is missing (was it "
                 "moved or deleted?)",
                 w->tmp);
  if ((rc = agree(w, rc)) != LF_OK) goto fail;
  lf_h5_quiet();
  w->file = H5Fopen(w->tmp, H5F_ACC_RDWR, w->fapl);
  if (w->file < 0)
    rc = LF_H5_FAIL(LF_ERR_FORMAT,
                    "cannot resume: '%s' cannot be opened (damaged by the interruption?)", w->tmp);
  if ((rc = agree(w, rc)) != LF_OK) goto fail;
  rc = read_info(w->file, w->tmp, &got, &R);
  if (rc == LF_OK && R != 1)
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s' holds %d chains; an interrupted run writes one", w->tmp, R);
  if (rc == LF_OK) {
    const char *what = NULL;
    if (got.kind != info->kind)
      what = "kind";
    else if (strcmp(got.theory, info->theory) != 0)
      what = "theory";
    else if (got.C != info->C || got.L0 != info->L0 || got.L1 != info->L1)
      what = "lattice";
    else if (got.nobs != info->nobs || got.ncorr != info->ncorr)
      what = "observables";
    else if (got.save_configs != info->save_configs)
      what = "save_configs";
    else if (got.cg != info->cg)
      what = "cg (hmc.fermion)";
    else if (strcmp(got.model_hash, info->model_hash) != 0)
      what = "model_hash";
    for (int k = 0; !what && k < info->nobs; k++)
      if (strcmp(got.obs_names[k], info->obs_names[k]) != 0) what = "obs_names";
    if (what)
      rc = LF_FAIL(LF_ERR_FORMAT,
                   "cannot resume: '%s' does not belong to this run (%s differs from the "
                   "checkpoint's)",
                   w->tmp, what);
  }
  if (rc == LF_OK) rc = lf_h5_group_open(w->file, "chain_0", &w->group, w->tmp);
  if ((rc = agree(w, rc)) != LF_OK) goto fail;
  /* every rank cuts back collectively (identical arguments) */
  rc = cut_back(w, D_OBS, (size_t)info->nobs, (size_t)rows);
  if (rc == LF_OK && info->ncorr > 0) rc = cut_back(w, D_CORR, (size_t)info->ncorr, (size_t)rows);
  if (rc == LF_OK && info->save_configs) rc = cut_back(w, D_CONF, w->nphi, (size_t)rows);
  for (int d = D_ROW; rc == LF_OK && d <= last_col(info->cg); d++)
    rc = cut_back(w, d, 0, (size_t)steps);
  if (rc == LF_OK && P > 1) {
    hid_t g = H5Gopen2(w->file, "meta", H5P_DEFAULT);
    if (g < 0) rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': no group /meta", w->tmp);
    if (rc == LF_OK) rc = lf_h5_attr_write_i32(g, "ranks", P, w->tmp, "/meta");
    if (g >= 0) H5Gclose(g);
  }
  if (rc == LF_OK)
    rc = lf_h5_flush(w->file, w->comm != MPI_COMM_NULL, w->tmp, "after cutting it back");
  if ((rc = agree(w, rc)) != LF_OK) goto fail;
  w->rows_written = w->conf_written = (size_t)rows;
  w->steps_written = (size_t)steps;
  *out = w;
  return LF_OK;
fail:
  discard(w, 0); /* never delete the data of an interrupted run */
  return rc;
}

/* Writes this rank's runs of rows into dataset d (width values per row, 0 for a 1-D
 * dataset; memory type mtype, packed in buf): a union of hyperslabs in the file, one
 * contiguous block in memory; a rank without rows selects none (the write is
 * collective). */
static lf_status write_runs(lf_ens_writer *w, int d, hid_t mtype, size_t width, size_t nruns,
                            const int64_t *first, const int64_t *count, const void *buf) {
  char nm[64];
  lf_status rc = LF_OK;
  hid_t fs = H5Dget_space(w->dset[d]), ms = -1;
  hsize_t total = 0;
  full_name(nm, sizeof nm, w->chain, dname[d]);
  if (fs < 0) return LF_H5_FAIL(LF_ERR_HDF5, "'%s': dataspace of %s", w->tmp, nm);
  const int nd = width > 0 ? 2 : 1;
  int selected = 0;
  for (size_t k = 0; k < nruns; k++) {
    if (count[k] <= 0) continue;
    hsize_t start[2] = {(hsize_t)first[k], 0}, cnt[2] = {(hsize_t)count[k], (hsize_t)width};
    if (H5Sselect_hyperslab(fs, selected ? H5S_SELECT_OR : H5S_SELECT_SET, start, NULL, cnt, NULL) <
        0) {
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot select rows of %s", w->tmp, nm);
      goto done;
    }
    selected = 1;
    total += (hsize_t)count[k];
  }
  hsize_t mdims[2] = {total ? total : 1, width ? (hsize_t)width : 1};
  ms = H5Screate_simple(nd, mdims, NULL);
  if (ms < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': memory space for %s", w->tmp, nm);
    goto done;
  }
  if (!selected && (H5Sselect_none(fs) < 0 || H5Sselect_none(ms) < 0)) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': empty selection of %s", w->tmp, nm);
    goto done;
  }
  static const double none = 0.0; /* H5Dwrite wants a buffer even for no elements */
  if (H5Dwrite(w->dset[d], mtype, ms, fs, w->dxpl, selected ? buf : (const void *)&none) < 0)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot write the epoch's rows of %s", w->tmp, nm);
done:
  if (ms >= 0) H5Sclose(ms);
  H5Sclose(fs);
  return rc;
}

/* Writes one chain column: n records from offset off (n = 0: an empty selection). */
static lf_status write_col(lf_ens_writer *w, int d, hid_t mtype, size_t off, size_t n,
                           const void *buf) {
  const int64_t first = (int64_t)off, count = (int64_t)n;
  return write_runs(w, d, mtype, 0, n ? 1 : 0, &first, &count, buf);
}

lf_status lf_ens_write_epoch(lf_ens_writer *w, int64_t rows_end, int64_t steps_end, size_t nruns,
                             const int64_t *first, const int64_t *count, const double *obs,
                             const double *corr, const double *phi, size_t nsteps,
                             const lf_ens_step *steps) {
  lf_status rc = check_usable(w, "lf_ens_write_epoch");
  char nm[64];
  int64_t *i64 = NULL;
  double *f64 = NULL;
  int8_t *i8 = NULL;
  if (rc == LF_OK && (w->nrow_buf || w->nconf_buf || w->nstep_buf))
    rc = LF_FAIL(LF_ERR_INVALID, "'%s': epochs and buffered appends cannot be mixed", w->tmp);
  if (rc == LF_OK &&
      (rows_end < (int64_t)w->rows_written || steps_end < (int64_t)w->steps_written ||
       (int64_t)nsteps > steps_end - (int64_t)w->steps_written))
    rc = LF_FAIL(LF_ERR_INVALID,
                 "'%s': epoch ends at %lld rows, %lld steps (%zu given) but %zu rows, %zu steps "
                 "are written",
                 w->tmp, (long long)rows_end, (long long)steps_end, nsteps, w->rows_written,
                 w->steps_written);
  for (size_t k = 0; rc == LF_OK && k < nruns; k++)
    if (first[k] < (int64_t)w->rows_written || count[k] < 0 || first[k] + count[k] > rows_end)
      rc = LF_FAIL(LF_ERR_INVALID, "'%s': epoch run %zu = rows [%lld, %lld) outside [%zu, %lld)",
                   w->tmp, k, (long long)first[k], (long long)(first[k] + count[k]),
                   w->rows_written, (long long)rows_end);
  if (rc == LF_OK && nsteps) {
    i64 = malloc(nsteps * sizeof *i64);
    f64 = malloc(nsteps * sizeof *f64);
    i8 = malloc(nsteps);
    if (!i64 || !f64 || !i8) rc = LF_FAIL(LF_ERR_NOMEM, "'%s': %zu chain records", w->tmp, nsteps);
  }
  if ((rc = agree(w, rc)) != LF_OK) goto fail;
  /* extend every dataset (collective, identical sizes) */
  const int dl[3] = {D_OBS, D_CORR, D_CONF};
  /* every collective step is agreed before the next: a rank whose write failed (a full
   * disk) must not leave the others waiting in the next collective call */
  for (int k = 0; rc == LF_OK && k < 3; k++)
    if (w->dset[dl[k]] >= 0)
      rc = agree(w, lf_h5_dset_extend(w->dset[dl[k]], (size_t)rows_end, w->tmp,
                                      full_name(nm, sizeof nm, w->chain, dname[dl[k]])));
  for (int d = D_ROW; rc == LF_OK && d <= last_col(w->info.cg); d++)
    rc = agree(w, lf_h5_dset_extend(w->dset[d], (size_t)steps_end, w->tmp,
                                    full_name(nm, sizeof nm, w->chain, dname[d])));
  /* rows: each rank its runs */
  if (rc == LF_OK)
    rc = agree(
        w, write_runs(w, D_OBS, H5T_NATIVE_DOUBLE, (size_t)w->info.nobs, nruns, first, count, obs));
  if (rc == LF_OK && w->info.ncorr > 0)
    rc = agree(w, write_runs(w, D_CORR, H5T_NATIVE_DOUBLE, (size_t)w->info.ncorr, nruns, first,
                             count, corr));
  if (rc == LF_OK && w->info.save_configs)
    rc = agree(w, write_runs(w, D_CONF, H5T_NATIVE_DOUBLE, w->nphi, nruns, first, count, phi));
  /* chain records: one rank */
  const size_t off = (size_t)steps_end - nsteps;
  if (rc == LF_OK) {
    for (size_t i = 0; i < nsteps; i++) i64[i] = steps[i].row;
    rc = agree(w, write_col(w, D_ROW, H5T_NATIVE_INT64, off, nsteps, i64));
  }
  if (rc == LF_OK) {
    for (size_t i = 0; i < nsteps; i++) i64[i] = steps[i].id;
    rc = agree(w, write_col(w, D_ID, H5T_NATIVE_INT64, off, nsteps, i64));
  }
  if (rc == LF_OK) {
    for (size_t i = 0; i < nsteps; i++) f64[i] = steps[i].logw;
    rc = agree(w, write_col(w, D_LOGW, H5T_NATIVE_DOUBLE, off, nsteps, f64));
  }
  if (rc == LF_OK) {
    for (size_t i = 0; i < nsteps; i++) f64[i] = steps[i].dH;
    rc = agree(w, write_col(w, D_DH, H5T_NATIVE_DOUBLE, off, nsteps, f64));
  }
  if (rc == LF_OK) {
    for (size_t i = 0; i < nsteps; i++) i8[i] = steps[i].accepted;
    rc = agree(w, write_col(w, D_ACC, H5T_NATIVE_INT8, off, nsteps, i8));
  }
  if (rc == LF_OK && w->info.cg) {
    for (size_t i = 0; i < nsteps; i++) i64[i] = steps[i].cg_iters;
    rc = agree(w, write_col(w, D_CGI, H5T_NATIVE_INT64, off, nsteps, i64));
  }
  if (rc == LF_OK && w->info.cg) {
    for (size_t i = 0; i < nsteps; i++) i64[i] = steps[i].cg_max;
    rc = agree(w, write_col(w, D_CGM, H5T_NATIVE_INT64, off, nsteps, i64));
  }
  if ((rc = agree(w, rc)) != LF_OK) {
    w->failed = rc;
    goto fail;
  }
  w->rows_written = w->conf_written = (size_t)rows_end;
  w->steps_written = (size_t)steps_end;
fail:
  free(i64);
  free(f64);
  free(i8);
  return rc;
}

/* ---- the end of a chain: multiplicity and descriptions ---------------------------------- */

#define MULT_READ 1048576 /* row indices read per collective read (8 MiB) */

/* Reads n values of chain column d from offset off into buf (int64). Collective for a
 * collective writer: the other ranks pass n = 0 and select none. */
static lf_status read_col(lf_ens_writer *w, int d, size_t off, size_t n, int64_t *buf) {
  char nm[64];
  lf_status rc = LF_OK;
  hid_t fs = H5Dget_space(w->dset[d]), ms = -1;
  full_name(nm, sizeof nm, w->chain, dname[d]);
  if (fs < 0) return LF_H5_FAIL(LF_ERR_HDF5, "'%s': dataspace of %s", w->tmp, nm);
  hsize_t start = (hsize_t)off, cnt = (hsize_t)(n ? n : 1);
  ms = H5Screate_simple(1, &cnt, NULL);
  if (ms < 0 || (n ? H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &cnt, NULL)
                   : (H5Sselect_none(fs) < 0 ? -1 : H5Sselect_none(ms))) < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot select [%zu, %zu) of %s", w->tmp, off, off + n, nm);
  } else {
    int64_t none = 0;
    if (H5Dread(w->dset[d], H5T_NATIVE_INT64, ms, fs, w->dxpl, n ? buf : &none) < 0)
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot read [%zu, %zu) of %s", w->tmp, off, off + n, nm);
  }
  if (ms >= 0) H5Sclose(ms);
  H5Sclose(fs);
  return rc;
}

/* The current chain is complete (flushed): writes /chain_r/multiplicity, counted from the
 * row column on disk (so it is the same whatever wrote the rows: any number of ranks, a
 * resumed run, a merge), and the description attributes. Rank 0 reads and writes, the
 * other ranks of a collective writer take part with empty selections; every rank creates
 * the dataset and the attributes with identical arguments. Errors are agreed. */
static lf_status chain_finish(lf_ens_writer *w) {
  char nm[64];
  lf_status rc = LF_OK;
  const size_t rows = w->rows_written, steps = w->steps_written;
  const int root = w->rank == 0;
  int64_t *mult = NULL, *buf = NULL;
  size_t bad = 0;
  int64_t bad_row = 0;
  if (root) {
    mult = calloc(rows ? rows : 1, sizeof *mult);
    buf = malloc(MULT_READ * sizeof *buf);
    if (!mult || !buf)
      rc = LF_FAIL(LF_ERR_NOMEM, "'%s': multiplicity of chain %d (%zu rows)", w->tmp, w->chain,
                   rows);
  }
  if ((rc = agree(w, rc)) != LF_OK) goto done;
  for (size_t off = 0; off < steps && rc == LF_OK; off += MULT_READ) {
    const size_t n = steps - off < MULT_READ ? steps - off : MULT_READ;
    rc = read_col(w, D_ROW, off, root ? n : 0, buf);
    for (size_t i = 0; root && rc == LF_OK && i < n; i++) {
      const int64_t r = buf[i];
      if (r < 0 || (uint64_t)r >= (uint64_t)rows) {
        if (!bad++) bad_row = r;
      } else {
        mult[r]++;
      }
    }
    rc = agree(w, rc);
  }
  if (rc == LF_OK && bad)
    rc = LF_FAIL(LF_ERR_INVALID, "'%s': chain %d: %zu steps have a row outside [0, %zu), e.g. %lld",
                 w->tmp, w->chain, bad, rows, (long long)bad_row);
  if ((rc = agree(w, rc)) != LF_OK) goto done;
  /* a .tmp left by a failed close may have one already: replace it */
  int have = 0;
  rc = lf_h5_link_exists(w->group, dname[D_MULT], &have, w->tmp);
  if (rc == LF_OK && have && H5Ldelete(w->group, dname[D_MULT], H5P_DEFAULT) < 0)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot replace %s", w->tmp,
                    full_name(nm, sizeof nm, w->chain, dname[D_MULT]));
  if (rc == LF_OK)
    rc = lf_h5_dset_create_rows(w->group, dname[D_MULT], H5T_STD_I64LE, 0, STEP_CHUNK,
                                &w->dset[D_MULT], w->tmp);
  if (rc == LF_OK)
    rc = lf_h5_dset_extend(w->dset[D_MULT], rows, w->tmp,
                           full_name(nm, sizeof nm, w->chain, dname[D_MULT]));
  if (rc == LF_OK) rc = write_col(w, D_MULT, H5T_NATIVE_INT64, 0, root ? rows : 0, mult);
  for (int d = 0; rc == LF_OK && d < ND; d++)
    if (w->dset[d] >= 0)
      rc = lf_h5_attr_write_str(w->dset[d], "description", describe(d, w->info.kind), w->tmp,
                                full_name(nm, sizeof nm, w->chain, dname[d]));
  if (rc == LF_OK)
    rc = lf_h5_attr_write_strv(w->dset[D_OBS], "columns", w->info.obs_names[0], LF_NAME_MAX,
                               (size_t)w->info.nobs, w->tmp,
                               full_name(nm, sizeof nm, w->chain, dname[D_OBS]));
  rc = agree(w, rc);
done:
  if (rc != LF_OK) w->failed = rc;
  free(mult);
  free(buf);
  return rc;
}
