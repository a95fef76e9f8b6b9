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

enum { D_OBS, D_CORR, D_CONF, D_ROW, D_ID, D_LOGW, D_DH, D_ACC, ND };

static const char *const dname[ND] = {"obs", "corr", "configs", "row",
                                      "id",  "logw", "dH",      "accepted"};

static const char *const kind_str[3] = {"imh", "reweight", "hmc"};

struct lf_ens_writer {
  char path[LF_PATH_MAX + 8]; /* final name         */
  char tmp[LF_PATH_MAX + 8];  /* name while writing */
  lf_ens_info info;
  size_t nphi; /* C*V: values per configuration */
  hid_t fapl, file, group;
  hid_t dset[ND]; /* datasets of the current chain (-1: absent) */
  int chain;      /* current chain r; the file holds chains 0..r */
  lf_status failed;
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
};

static size_t clamp_rows(size_t values, size_t width, size_t max) {
  size_t r = width ? values / width : max;
  if (r < 1) r = 1;
  return r > max ? max : r;
}

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

/* Closes every handle (errors ignored). */
static void release(lf_ens_writer *w) {
  chain_release(w);
  if (w->file >= 0) H5Fclose(w->file);
  if (w->fapl >= 0) H5Pclose(w->fapl);
  w->file = w->fapl = -1;
}

static void writer_free(lf_ens_writer *w) {
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
  if (rc == LF_OK)
    rc = lf_h5_dset_write_rows(w->dset[d], mtype, off, n, buf, H5P_DEFAULT, w->tmp, nm);
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
  if (H5Fflush(w->file, H5F_SCOPE_LOCAL) < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot flush the file", w->tmp);
    goto fail;
  }
  *out = w;
  return LF_OK;
fail : {
  const int made = w->file >= 0;
  release(w);
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
  if (H5Fflush(w->file, H5F_SCOPE_LOCAL) < 0) {
    w->failed = LF_ERR_HDF5;
    return LF_H5_FAIL(LF_ERR_HDF5,
                      "'%s': cannot flush the file after %zu rows and %zu steps of "
                      "chain %d",
                      w->tmp, w->rows_written, w->steps_written, w->chain);
  }
fail:
  return rc;
}

lf_status lf_ens_add_chain(lf_ens_writer *w) {
  lf_status rc = lf_ens_flush(w);
  if (rc != LF_OK) return rc;
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
  if (rc == LF_OK && H5Fflush(w->file, H5F_SCOPE_LOCAL) < 0)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot flush the file after adding chain %d", w->tmp,
                    w->chain);
  if (rc != LF_OK) w->failed = rc;
  return rc;
}

lf_status lf_ens_close(lf_ens_writer *w) {
  if (!w) return LF_OK;
  lf_status rc = lf_ens_flush(w);
  if (rc == LF_OK)
    rc = lf_h5_attr_write_f64(w->file, "gen_seconds", w->info.gen_seconds, w->tmp, "/");
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
  /* A failed writer leaves its .tmp for inspection rather than an ensemble with holes. */
  if (rc == LF_OK) rc = lf_io_commit_tmp(w->tmp, w->path);
  release(w);
  writer_free(w);
  return rc;
}

void lf_ens_abort(lf_ens_writer *w) {
  if (!w) return;
  const int made = w->file >= 0;
  release(w);
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
  }
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

  /* the chain table: five 1-D columns of equal length, packed into lf_ens_step */
  for (int c = D_ROW; c <= D_ACC; c++) {
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
  for (int c = D_ROW; c <= D_ACC; c++) {
    const hid_t mt = c == D_ROW || c == D_ID ? H5T_NATIVE_INT64
                     : c == D_ACC            ? H5T_NATIVE_INT8
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
  if (!e->rows || !e->steps || !e->obs || !e->corr || !e->chain) {
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
