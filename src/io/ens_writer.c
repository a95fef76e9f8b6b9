/* The ensemble writer (contract: latflow/ensemble.h; layout: docs/FORMAT.md, "Ensemble
 * files"): its one constructor, the serial create, buffered appends, flush, close.
 *
 * The writer keeps three bounded buffers: rows (observables and correlator, up to
 * ROW_BUF_VALUES doubles, at most ROW_BUF_MAX rows), configurations (up to CONF_BUF_VALUES
 * doubles, at most CONF_BUF_MAX rows) and chain steps (STEP_BUF records). A full buffer is
 * written to its datasets by "extend, then write a hyperslab at the offset" (put_rows),
 * so the memory of a run of 10^6 steps stays a few MiB. A full step buffer flushes every
 * stream (rows first) and the HDF5 file, so the .tmp on disk never holds a step whose row
 * is missing. The collective writer (ens_collective.c) shares the constructor, the
 * dataset creation (chain_create) and this file's close, suspend and abort. */
#include "io/ens_private.h"

#include "latflow/io.h"
#include "latflow/timer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROW_BUF_VALUES (1 << 18)    /* doubles of obs + corr buffered (2 MiB)          */
#define ROW_BUF_MAX 4096            /* rows buffered at most                           */
#define CONF_BUF_VALUES (1 << 20)   /* doubles of configurations buffered (8 MiB)      */
#define CONF_BUF_MAX 64             /* configurations buffered at most                 */
#define ROW_CHUNK_VALUES (1 << 14)  /* values per chunk of obs/corr (128 KiB)          */
#define CONF_CHUNK_VALUES (1 << 17) /* values per chunk of configs (1 MiB)            */

/* Root attribute how_to_read: the two facts an h5py user must know before the first read
 * (issue 12: obs[:].mean(0) looked right and was 30 sigma off). */
static const char how_to_read[] =
    "Each /chain_<r>/obs (corr, configs) holds one row per stored (unique) state, NOT one "
    "per Monte Carlo step: the series is obs[row] = np.repeat(obs, multiplicity, axis=0), "
    "the mean np.average(obs, weights=multiplicity, axis=0).\n"
    "kind = reweight: one row per proposal, weight exp(logw) (rows = steps): "
    "np.average(obs, weights=np.exp(logw - M), axis=0), M = max of logw over all chains; "
    "see docs/FORMAT.md section 8.";

static size_t clamp_rows(size_t values, size_t width, size_t max) {
  size_t r = width ? values / width : max;
  if (r < 1) r = 1;
  return r > max ? max : r;
}

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
  LF_CHECK(lf_h5_attr_write_str(f, "kind", lf_ens_kind_name[in->kind], path, "/"));
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
  if (in->model_L0 > 0) { /* volume transfer only: other files keep their bytes */
    const int ms[2] = {in->model_L0, in->model_L1};
    LF_CHECK(lf_h5_attr_write_i32v(f, "model_shape", ms, 2, path, "/"));
  }
fail:
  return rc;
}

/* Closes the current chain's datasets and group (errors ignored: failure paths). */
static void chain_release(lf_ens_writer *w) {
  char prefix[32];
  lf_h5_table t = chain_table(w, prefix);
  for (int d = 0; d < ND; d++) {
    if (w->dset[d] >= 0) H5Dclose(w->dset[d]);
    w->dset[d] = -1;
  }
  lf_h5_table_close(&t, LF_OK);
  if (w->group >= 0) H5Gclose(w->group);
  w->group = -1;
}

/* Closes every handle (errors ignored). detach: the file failed (or may have): nothing
 * more reaches the disk, so no close can fail on a full disk (lf_h5_detach). */
void lf_ens_release(lf_ens_writer *w, int detach) {
  if (detach && w->file >= 0) lf_h5_detach(w->file);
  chain_release(w);
  if (w->file >= 0) H5Fclose(w->file);
  if (w->fapl >= 0) H5Pclose(w->fapl);
  if (w->dxpl >= 0 && w->dxpl != H5P_DEFAULT) H5Pclose(w->dxpl);
  w->file = w->fapl = -1;
  w->dxpl = H5P_DEFAULT;
}

void lf_ens_writer_free(lf_ens_writer *w) {
  if (w->comm != MPI_COMM_NULL) MPI_Comm_free(&w->comm);
  LF_FREE_ALL(w->obs_buf, w->corr_buf, w->conf_buf, w);
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
  for (size_t c = 0; c < w->ncol; c++)
    LF_CHECK(lf_h5_dset_create_rows(w->group, w->col[c].name, lf_h5_type_file(w->col[c].type), 0,
                                    STEP_CHUNK, &w->cdset[c], w->tmp));
  w->rows_written = w->nrow_buf = 0;
  w->conf_written = w->nconf_buf = 0;
  w->steps_written = w->nstep_buf = 0;
  return LF_OK;
fail:
  return rc;
}

/* Appends n rows of buf at row offset off of dataset d: extend to off + n, then write the
 * hyperslab (n == 0: nothing; a collective writer's buffers stay empty, its epochs are
 * written by ens_collective.c). */
static lf_status put_rows(lf_ens_writer *w, int d, hid_t mtype, size_t off, size_t n,
                          const void *buf) {
  char nm[64];
  if (n == 0) return LF_OK;
  full_name(nm, sizeof nm, w->chain, dname[d]);
  lf_status rc = lf_h5_dset_append(w->dset[d], mtype, off, n, buf, w->dxpl, w->tmp, nm);
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

/* Writes the buffered chain steps, column after column of the chain schema. */
static lf_status write_steps(lf_ens_writer *w) {
  lf_status rc = LF_OK;
  const size_t off = w->steps_written, n = w->nstep_buf;
  char prefix[32];
  const lf_h5_table t = chain_table(w, prefix);
  rc = lf_h5_table_append(&t, off, n, w->step_buf, w->col_buf, w->dxpl);
  if (rc != LF_OK) { /* the columns may now differ in length: refuse more writes */
    w->failed = rc;
    goto fail;
  }
  w->steps_written += n;
  w->nstep_buf = 0;
fail:
  return rc;
}

lf_status lf_ens_writer_new(lf_ens_writer **out, const char *path, const lf_ens_info *info,
                            MPI_Comm comm) {
  lf_status rc = LF_OK;
  *out = NULL;
  if (!path || !info) return LF_FAIL(LF_ERR_INVALID, "ensemble writer: path and info needed");
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
  w->ncol = lf_ens_chain_schema(info, w->col);
  for (size_t c = 0; c < LF_ENS_NCOL; c++) w->cdset[c] = -1;
  snprintf(w->path, sizeof w->path, "%s", path);
  snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
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
    lf_ens_writer_free(w);
    return rc;
  }
  if (comm != MPI_COMM_NULL) {
    if (MPI_Comm_dup(comm, &w->comm) != MPI_SUCCESS ||
        MPI_Comm_rank(w->comm, &w->rank) != MPI_SUCCESS) {
      lf_ens_writer_free(w);
      return LF_FAIL(LF_ERR_MPI, "'%s': cannot duplicate the writer's communicator", path);
    }
  }
  *out = w;
  return LF_OK;
}

lf_status lf_ens_create(lf_ens_writer **out, const char *path, const lf_config *cfg,
                        const lf_ens_info *info, int overwrite) {
  lf_status rc = LF_OK;
  if (!out) return LF_FAIL(LF_ERR_INVALID, "lf_ens_create: no writer pointer");
  *out = NULL;
  if (!path || !cfg || !info) return LF_FAIL(LF_ERR_INVALID, "lf_ens_create: path, config, info");
  lf_ens_writer *w = NULL;
  if ((rc = lf_ens_writer_new(&w, path, info, MPI_COMM_NULL)) != LF_OK) return rc;
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
  lf_ens_release(w, 1);
  if (made) unlink(w->tmp);
}
  lf_ens_writer_free(w);
  return rc;
}

lf_status lf_ens_check_usable(const lf_ens_writer *w, const char *fn) {
  if (!w) return LF_FAIL(LF_ERR_INVALID, "%s: no writer", fn);
  if (w->failed != LF_OK)
    return LF_FAIL(w->failed, "'%s': the ensemble writer failed earlier (%s)", w->tmp,
                   lf_status_str(w->failed));
  return LF_OK;
}

lf_status lf_ens_append_row(lf_ens_writer *w, const double *obs, const double *corr,
                            const double *phi, int64_t *row) {
  lf_status rc = lf_ens_check_usable(w, "lf_ens_append_row");
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
  lf_status rc = lf_ens_check_usable(w, "lf_ens_append_steps");
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
    w->step_buf[w->nstep_buf++] = steps[i];
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
  lf_status rc = lf_ens_check_usable(w, "lf_ens_flush");
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
  return lf_h5_fsync(w->file, w->tmp);
}

/* Closes the current chain's datasets and group; the first failure is returned if rc was
 * LF_OK, else rc. */
static lf_status chain_close(lf_ens_writer *w, lf_status rc) {
  char prefix[32];
  lf_h5_table t = chain_table(w, prefix);
  for (int d = 0; d < ND; d++) {
    if (w->dset[d] >= 0 && H5Dclose(w->dset[d]) < 0 && rc == LF_OK)
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close dataset /chain_%d/%s", w->tmp, w->chain,
                      dname[d]);
    w->dset[d] = -1;
  }
  rc = lf_h5_table_close(&t, rc);
  if (w->group >= 0 && H5Gclose(w->group) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close group /chain_%d", w->tmp, w->chain);
  w->group = -1;
  return rc;
}

lf_status lf_ens_add_chain(lf_ens_writer *w) {
  lf_status rc = lf_ens_flush(w);
  if (rc == LF_OK) rc = lf_ens_chain_finish(w);
  if (rc != LF_OK) {
    if (w) w->failed = rc;
    return rc;
  }
  rc = chain_close(w, rc);
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
  lf_status rc = lf_ens_agree(w, lf_ens_flush(w));
  if (rc == LF_OK) rc = lf_ens_chain_finish(w);
  if (rc == LF_OK)
    rc = lf_h5_attr_write_f64(w->file, "gen_seconds", w->info.gen_seconds, w->tmp, "/");
  /* a resumed run may have begun its .tmp under an older layout: the file is now this one */
  if (rc == LF_OK)
    rc =
        lf_h5_attr_write_i32(w->file, "format_version", LF_IO_ENSEMBLE_FORMAT_VERSION, w->tmp, "/");
  if (rc == LF_OK) rc = lf_h5_attr_write_str(w->file, "how_to_read", how_to_read, w->tmp, "/");
  /* everything reaches the disk here, before any object is closed (lf_h5_settle) */
  rc = lf_ens_agree(w, rc);
  if (rc == LF_OK) rc = lf_ens_agree(w, lf_h5_settle(w->file, w->tmp));
  if (rc != LF_OK) lf_h5_detach(w->file);
  rc = chain_close(w, rc);
  if (w->file >= 0 && H5Fclose(w->file) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close the file", w->tmp);
  w->file = -1;
  /* A failed writer leaves its .tmp for inspection rather than an ensemble with holes.
   * A collective writer: every rank closed the file; rank 0 renames it. */
  if (rc == LF_OK && w->rank == 0) rc = lf_io_commit_tmp(w->tmp, w->path);
  lf_ens_release(w, 1);
  lf_ens_writer_free(w);
  return rc;
}

lf_status lf_ens_suspend(lf_ens_writer *w) {
  if (!w) return LF_OK;
  lf_status rc = w->failed == LF_OK ? lf_ens_flush(w) : w->failed;
  /* a collective writer: every rank detaches if any failed (the close is collective) */
  rc = lf_ens_agree(w, rc);
  lf_ens_release(w, rc != LF_OK); /* H5Fclose: collective for a collective writer */
  lf_ens_writer_free(w);
  return rc;
}

void lf_ens_abort(lf_ens_writer *w) {
  if (!w) return;
  const int made = w->file >= 0 && w->rank == 0;
  lf_ens_release(w, 1);
  if (made) unlink(w->tmp);
  lf_ens_writer_free(w);
}
