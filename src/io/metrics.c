/* Training-metrics files (train.h5): an appendable writer and a reader (contract:
 * latflow/io.h; layout: docs/FORMAT.md).
 *
 * The writer keeps LF_IO_METRICS_FLUSH records in fixed buffers (allocated once, in
 * _open) and writes them to nine chunked, extendible 1-D datasets in one go, so an
 * append during training is a copy into memory and never touches the file. The file
 * lives as <path>.tmp until _close renames it: a reader never sees a half-written
 * train.h5. The HDF5 metadata reaches the file only at _flush (before each training
 * checkpoint) and _close: the metadata cache runs without evictions, so a run killed
 * in between leaves a .tmp whose metadata is that of the last flush (raw data written
 * after it lies beyond the flushed extents). An interrupted run leaves the .tmp there
 * (_suspend) and the resumed run reopens it (_resume), cut back to the records of its
 * checkpoint (fewer than the file holds when the checkpoint came from .prev).
 *
 * The evaluations on fresh samples (a few per run) go to the group /eval, nine more
 * extendible columns written one row at a time without buffering, flushed and cut back
 * together with the step columns. Every dataset carries a `description` attribute so that
 * a reader of the file alone knows what it holds. */
#include "latflow/io.h"

#include "io/h5util.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NB LF_IO_METRICS_FLUSH
#define CHUNK 1024 /* values per chunk on disk: 8 KiB for the 8-byte columns */

enum { C_STEP, C_LOSS, C_ESS, C_ESS_S, C_LR, C_BATCH, C_SEC, C_GNORM, C_SKIP, NCOL };

static const char *const col_name[NCOL] = {"step",  "loss",    "ess",       "ess_smoothed", "lr",
                                           "batch", "seconds", "grad_norm", "skipped"};

static const char *const col_desc[NCOL] = {
    "training step (0-based) of this record",
    "mean of log q + S over the step's batch (KL(q||p) - log Z estimate); NaN if non-finite",
    "ESS fraction of the step's training batch; biased high (small batch, just fitted): see "
    "/eval/ess for the fresh-sample ESS",
    "batch ESS averaged over the last train.stop.ess_window steps (biased high, see /eval/ess)",
    "learning rate used by the step",
    "global batch size of the step",
    "training wall seconds after the step, evaluations excluded, earlier runs of a resumed "
    "training included",
    "global gradient norm before clipping (NaN/Inf allowed)",
    "1 if the update was skipped (non-finite loss, gradient or parameters)"};

/* ---- the evaluation columns (/eval), one row per lf_train_eval_record ------------------- */

#define EVAL_GROUP "eval"
#define ECHUNK 64

enum { E_STEP, E_SAMPLES, E_ESS, E_ACC, E_LOSS, E_LMW, E_NTRAIN, E_SEC, E_ESEC, NECOL };

static const struct {
  const char *name;
  int i64; /* 1: int64, 0: double */
  size_t off;
  const char *desc;
} ecol[NECOL] = {
    {"step", 1, offsetof(lf_train_eval_record, step),
     "training steps done when the model was evaluated"},
    {"samples", 1, offsetof(lf_train_eval_record, samples),
     "fresh samples of the evaluation (train.eval_samples)"},
    {"ess", 0, offsetof(lf_train_eval_record, ess),
     "ESS fraction (sum w)^2 / (n sum w^2) of the fresh samples, w = exp(-S - log q)"},
    {"acceptance", 0, offsetof(lf_train_eval_record, acceptance),
     "acceptance of an independence Metropolis chain over the fresh samples"},
    {"loss", 0, offsetof(lf_train_eval_record, loss),
     "mean of log q + S over the fresh samples (KL(q||p) - log Z estimate)"},
    {"log_mean_weight", 0, offsetof(lf_train_eval_record, log_mean_weight),
     "log of the mean weight over the fresh samples (log Z estimate)"},
    {"n_train", 1, offsetof(lf_train_eval_record, n_train),
     "samples flowed through training so far (sum of the global batches of the steps done)"},
    {"seconds", 0, offsetof(lf_train_eval_record, seconds),
     "training wall seconds so far, evaluations excluded"},
    {"eval_seconds", 0, offsetof(lf_train_eval_record, eval_seconds),
     "wall seconds of this evaluation"}};

static const char eval_group_desc[] =
    "evaluations of the flow on fresh samples during training (every train.eval_every steps "
    "and at the end), one row per evaluation; the unbiased counterpart of the batch ESS";

static hid_t col_ftype(int c) {
  switch (c) {
  case C_STEP:
    return H5T_STD_I64LE;
  case C_BATCH:
    return H5T_STD_I32LE;
  case C_SKIP:
    return H5T_STD_I8LE;
  default:
    return H5T_IEEE_F64LE;
  }
}

static hid_t col_mtype(int c) {
  switch (c) {
  case C_STEP:
    return H5T_NATIVE_INT64;
  case C_BATCH:
    return H5T_NATIVE_INT32;
  case C_SKIP:
    return H5T_NATIVE_INT8;
  default:
    return H5T_NATIVE_DOUBLE;
  }
}

static size_t col_size(int c) {
  switch (c) {
  case C_STEP:
    return sizeof(int64_t);
  case C_BATCH:
    return sizeof(int32_t);
  case C_SKIP:
    return sizeof(int8_t);
  default:
    return sizeof(double);
  }
}

struct lf_io_metrics {
  char path[LF_PATH_MAX + 8]; /* final name */
  char tmp[LF_PATH_MAX + 8];  /* name while writing */
  hid_t fapl, file;
  hid_t dset[NCOL];
  hid_t egroup, edset[NECOL]; /* /eval */
  size_t nevals;              /* evaluations in the file */
  size_t written;             /* records in the file */
  size_t nbuf;                /* records in the buffers */
  lf_status failed;
  int64_t step[NB];
  double loss[NB], ess[NB], ess_s[NB], lr[NB];
  int32_t batch[NB];
  double sec[NB], gnorm[NB];
  int8_t skip[NB];
};

static const void *col_buf(const lf_io_metrics *w, int c) {
  switch (c) {
  case C_STEP:
    return w->step;
  case C_LOSS:
    return w->loss;
  case C_ESS:
    return w->ess;
  case C_ESS_S:
    return w->ess_s;
  case C_LR:
    return w->lr;
  case C_BATCH:
    return w->batch;
  case C_SEC:
    return w->sec;
  case C_GNORM:
    return w->gnorm;
  default:
    return w->skip;
  }
}

static void **series_col(lf_train_series *s, int c) {
  switch (c) {
  case C_STEP:
    return (void **)&s->step;
  case C_LOSS:
    return (void **)&s->loss;
  case C_ESS:
    return (void **)&s->ess;
  case C_ESS_S:
    return (void **)&s->ess_smoothed;
  case C_LR:
    return (void **)&s->lr;
  case C_BATCH:
    return (void **)&s->batch;
  case C_SEC:
    return (void **)&s->seconds;
  case C_GNORM:
    return (void **)&s->grad_norm;
  default:
    return (void **)&s->skipped;
  }
}

/* Closes every handle (errors ignored: used on failure paths and after a failed close). */
static void release(lf_io_metrics *w) {
  lf_h5_detach(w->file); /* nothing more reaches the disk: no close can fail on a full disk */
  for (int c = 0; c < NCOL; c++)
    if (w->dset[c] >= 0) H5Dclose(w->dset[c]);
  for (int c = 0; c < NECOL; c++)
    if (w->edset[c] >= 0) H5Dclose(w->edset[c]);
  if (w->egroup >= 0) H5Gclose(w->egroup);
  if (w->file >= 0) H5Fclose(w->file);
  if (w->fapl >= 0) H5Pclose(w->fapl);
  for (int c = 0; c < NCOL; c++) w->dset[c] = -1;
  for (int c = 0; c < NECOL; c++) w->edset[c] = -1;
  w->file = w->fapl = w->egroup = -1;
}

/* A writer with every handle marked closed. */
static lf_io_metrics *writer_new(const char *path) {
  lf_io_metrics *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->fapl = w->file = w->egroup = -1;
  for (int c = 0; c < NCOL; c++) w->dset[c] = -1;
  for (int c = 0; c < NECOL; c++) w->edset[c] = -1;
  snprintf(w->path, sizeof w->path, "%s", path);
  return w;
}

/* Creates the empty /eval group and its columns, each with its description. */
static lf_status create_eval(lf_io_metrics *w) {
  lf_status rc = LF_OK;
  char name[64];
  LF_CHECK(lf_h5_group_create(w->file, EVAL_GROUP, &w->egroup, w->tmp));
  LF_CHECK(lf_h5_attr_write_str(w->egroup, "description", eval_group_desc, w->tmp, "/eval"));
  for (int c = 0; c < NECOL; c++) {
    snprintf(name, sizeof name, "/%s/%s", EVAL_GROUP, ecol[c].name);
    LF_CHECK(lf_h5_dset_create_ext(w->egroup, ecol[c].name,
                                   ecol[c].i64 ? H5T_STD_I64LE : H5T_IEEE_F64LE, ECHUNK,
                                   &w->edset[c], w->tmp));
    LF_CHECK(lf_h5_attr_write_str(w->edset[c], "description", ecol[c].desc, w->tmp, name));
  }
fail:
  return rc;
}

lf_status lf_io_metrics_open(lf_io_metrics **out, const char *path, const lf_config *cfg,
                             int overwrite) {
  lf_status rc = LF_OK;
  if (!out) return LF_FAIL(LF_ERR_INVALID, "lf_io_metrics_open: no writer pointer");
  *out = NULL;
  if (!path || !cfg) return LF_FAIL(LF_ERR_INVALID, "lf_io_metrics_open: path and config");
  if (strlen(path) >= LF_PATH_MAX)
    return LF_FAIL(LF_ERR_INVALID, "metrics file name too long (%zu bytes, at most %d): '%s'",
                   strlen(path), LF_PATH_MAX - 1, path);
  lf_io_metrics *w = writer_new(path);
  if (!w) return LF_FAIL(LF_ERR_NOMEM, "metrics writer for '%s'", path);

  LF_CHECK(lf_h5_fapl_serial(&w->fapl));
  LF_CHECK(lf_h5_fapl_no_evictions(w->fapl, path));
  LF_CHECK(lf_h5_create_tmp(path, overwrite, w->fapl, w->tmp, sizeof w->tmp, &w->file));
  LF_CHECK(lf_h5_write_header(w->file, "train", LF_IO_TRAIN_FORMAT_VERSION, NULL, w->tmp));
  LF_CHECK(lf_h5_write_meta(w->file, cfg, 1, w->tmp));
  for (int c = 0; c < NCOL; c++) {
    LF_CHECK(lf_h5_dset_create_ext(w->file, col_name[c], col_ftype(c), CHUNK, &w->dset[c], w->tmp));
    LF_CHECK(lf_h5_attr_write_str(w->dset[c], "description", col_desc[c], w->tmp, col_name[c]));
  }
  LF_CHECK(create_eval(w));
  LF_CHECK(lf_h5_flush(w->file, 0, w->tmp, "after creating it"));
  *out = w;
  return LF_OK;
fail : {
  const int made = w->file >= 0;
  release(w);
  if (made) unlink(w->tmp);
}
  free(w);
  return rc;
}

/* Writes the buffered records to the datasets (no flush of the file). */
static lf_status write_buffer(lf_io_metrics *w) {
  if (w->failed != LF_OK)
    return LF_FAIL(w->failed, "'%s': the metrics writer failed earlier", w->tmp);
  if (w->nbuf == 0) return LF_OK;
  for (int c = 0; c < NCOL; c++) {
    lf_status rc = lf_h5_dset_append(w->dset[c], col_mtype(c), w->written, w->nbuf, col_buf(w, c),
                                     H5P_DEFAULT, w->tmp, col_name[c]);
    if (rc != LF_OK) { /* the columns may now differ in length: refuse further writes */
      w->failed = rc;
      return rc;
    }
  }
  w->written += w->nbuf;
  w->nbuf = 0;
  return LF_OK;
}

lf_status lf_io_metrics_flush(lf_io_metrics *w) {
  if (!w) return LF_FAIL(LF_ERR_INVALID, "lf_io_metrics_flush: no writer");
  lf_status rc = write_buffer(w);
  if (rc != LF_OK) return rc;
  char what[64];
  snprintf(what, sizeof what, "after %zu records", w->written);
  if ((rc = lf_h5_flush(w->file, 0, w->tmp, what)) != LF_OK) {
    w->failed = rc;
    return rc;
  }
  /* on disk before the checkpoint that counts these records: a power loss must not leave
   * a checkpoint newer than its metrics */
  return lf_h5_fsync(w->file, w->tmp);
}

lf_status lf_io_metrics_append(lf_io_metrics *w, const lf_train_record *r) {
  if (!w || !r) return LF_FAIL(LF_ERR_INVALID, "lf_io_metrics_append: writer and record");
  if (w->failed != LF_OK)
    return LF_FAIL(w->failed, "'%s': the metrics writer failed earlier", w->tmp);
  const size_t i = w->nbuf;
  w->step[i] = r->step;
  w->loss[i] = r->loss;
  w->ess[i] = r->ess;
  w->ess_s[i] = r->ess_smoothed;
  w->lr[i] = r->lr;
  w->batch[i] = r->batch;
  w->sec[i] = r->seconds;
  w->gnorm[i] = r->grad_norm;
  w->skip[i] = r->skipped;
  w->nbuf++;
  if (w->nbuf == NB) return write_buffer(w);
  return LF_OK;
}

int64_t lf_io_metrics_count(const lf_io_metrics *w) {
  return w ? (int64_t)(w->written + w->nbuf) : 0;
}

lf_status lf_io_metrics_append_eval(lf_io_metrics *w, const lf_train_eval_record *r) {
  if (!w || !r) return LF_FAIL(LF_ERR_INVALID, "lf_io_metrics_append_eval: writer and record");
  if (w->failed != LF_OK)
    return LF_FAIL(w->failed, "'%s': the metrics writer failed earlier", w->tmp);
  char name[64];
  for (int c = 0; c < NECOL; c++) {
    snprintf(name, sizeof name, "/%s/%s", EVAL_GROUP, ecol[c].name);
    const lf_status rc =
        lf_h5_dset_append(w->edset[c], ecol[c].i64 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE,
                          w->nevals, 1, (const char *)r + ecol[c].off, H5P_DEFAULT, w->tmp, name);
    if (rc != LF_OK) { /* the columns may now differ in length: refuse further writes */
      w->failed = rc;
      return rc;
    }
  }
  w->nevals++;
  return LF_OK;
}

int64_t lf_io_metrics_eval_count(const lf_io_metrics *w) {
  return w ? (int64_t)w->nevals : 0;
}

/* Flushes, then closes the datasets and the file (the first failure is returned). */
static lf_status flush_and_close(lf_io_metrics *w) {
  lf_status rc = lf_io_metrics_flush(w);
  /* the flush failed (a full disk?): the closes below must not write (lf_h5_detach) */
  if (rc != LF_OK) lf_h5_detach(w->file);
  for (int c = 0; c < NCOL; c++) {
    if (w->dset[c] >= 0 && H5Dclose(w->dset[c]) < 0 && rc == LF_OK)
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close dataset %s", w->tmp, col_name[c]);
    w->dset[c] = -1;
  }
  for (int c = 0; c < NECOL; c++) {
    if (w->edset[c] >= 0 && H5Dclose(w->edset[c]) < 0 && rc == LF_OK)
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close dataset /eval/%s", w->tmp, ecol[c].name);
    w->edset[c] = -1;
  }
  if (w->egroup >= 0 && H5Gclose(w->egroup) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close group /eval", w->tmp);
  w->egroup = -1;
  if (w->file >= 0 && H5Fclose(w->file) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close the file", w->tmp);
  w->file = -1;
  return rc;
}

lf_status lf_io_metrics_close(lf_io_metrics *w) {
  if (!w) return LF_OK;
  lf_status rc = flush_and_close(w);
  /* A failed writer leaves its .tmp for inspection rather than a train.h5 with holes. */
  if (rc == LF_OK) rc = lf_io_commit_tmp(w->tmp, w->path);
  release(w);
  free(w);
  return rc;
}

lf_status lf_io_metrics_suspend(lf_io_metrics *w) {
  if (!w) return LF_OK;
  lf_status rc = flush_and_close(w);
  release(w);
  free(w);
  return rc;
}

/* Opens /eval of a resumed file and cuts its columns back to evals rows; a version-1
 * file without /eval gets an empty one (and version 2) when evals is 0. */
static lf_status resume_eval(lf_io_metrics *w, int64_t evals) {
  lf_status rc = LF_OK;
  int exists = 0;
  char name[64];
  LF_CHECK(lf_h5_link_exists(w->file, EVAL_GROUP, &exists, w->tmp));
  if (!exists) {
    if (evals > 0)
      return LF_FAIL(LF_ERR_FORMAT,
                     "'%s' has no group /eval, the checkpoint counts %lld evaluations (the "
                     "metrics file does not belong to this checkpoint)",
                     w->tmp, (long long)evals);
    LF_CHECK(create_eval(w));
    return lf_h5_attr_write_i32(w->file, "format_version", LF_IO_TRAIN_FORMAT_VERSION, w->tmp, "/");
  }
  LF_CHECK(lf_h5_group_open(w->file, EVAL_GROUP, &w->egroup, w->tmp));
  for (int c = 0; c < NECOL; c++) {
    size_t len = 0;
    snprintf(name, sizeof name, "/%s/%s", EVAL_GROUP, ecol[c].name);
    LF_CHECK(lf_h5_dset_len(w->egroup, ecol[c].name, &len, w->tmp));
    if ((int64_t)len < evals)
      return LF_FAIL(LF_ERR_FORMAT,
                     "'%s': column %s has %zu evaluations, the checkpoint needs %lld (the "
                     "metrics file does not belong to this checkpoint)",
                     w->tmp, name, len, (long long)evals);
    w->edset[c] = H5Dopen2(w->egroup, ecol[c].name, H5P_DEFAULT);
    const hsize_t size[1] = {(hsize_t)evals};
    if (w->edset[c] < 0 || H5Dset_extent(w->edset[c], size) < 0)
      return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot cut dataset %s back to %lld evaluations", w->tmp,
                        name, (long long)evals);
  }
fail:
  return rc;
}

lf_status lf_io_metrics_resume(lf_io_metrics **out, const char *path, const lf_config *cfg,
                               int64_t records, int64_t evals) {
  lf_status rc = LF_OK;
  struct stat st;
  hid_t probe = -1;
  if (!out) return LF_FAIL(LF_ERR_INVALID, "lf_io_metrics_resume: no writer pointer");
  *out = NULL;
  if (!path || !cfg || records < 0 || evals < 0)
    return LF_FAIL(LF_ERR_INVALID,
                   "lf_io_metrics_resume: path, config, records >= 0 and evals >= 0");
  if (strlen(path) >= LF_PATH_MAX)
    return LF_FAIL(LF_ERR_INVALID, "metrics file name too long (%zu bytes, at most %d): '%s'",
                   strlen(path), LF_PATH_MAX - 1, path);
  lf_io_metrics *w = writer_new(path);
  if (!w) return LF_FAIL(LF_ERR_NOMEM, "metrics writer for '%s'", path);
  snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
  /* a link at either name is not ours to continue (H5Fopen would write through it) */
  LF_CHECK(lf_io_check_not_symlink(w->tmp));
  LF_CHECK(lf_io_check_not_symlink(path));
  /* a run that died after its final rename left <path>: continue that file */
  if (stat(w->tmp, &st) != 0 && stat(path, &st) == 0 && rename(path, w->tmp) != 0) {
    rc = LF_FAIL(LF_ERR_IO, "cannot rename '%s' to '%s': %s", path, w->tmp, strerror(errno));
    goto fail;
  }
  if (stat(w->tmp, &st) != 0) {
    rc = LF_FAIL(LF_ERR_IO, "no metrics file '%s' (nor '%s') to continue", w->tmp, path);
    goto fail;
  }
  /* kind, version and readability with the common checks, then read-write */
  LF_CHECK(lf_h5_open_latflow(w->tmp, "train", H5P_DEFAULT, &probe, NULL, 0, NULL));
  H5Fclose(probe);
  LF_CHECK(lf_h5_fapl_serial(&w->fapl));
  LF_CHECK(lf_h5_fapl_no_evictions(w->fapl, w->tmp));
  w->file = H5Fopen(w->tmp, H5F_ACC_RDWR, w->fapl);
  if (w->file < 0) {
    rc = LF_H5_FAIL(LF_ERR_IO, "'%s': cannot open for writing", w->tmp);
    goto fail;
  }
  /* cut every column back to the checkpoint's records (a run killed between two
   * checkpoints may have written more; a column killed mid-flush may be shorter than
   * another, never shorter than a checkpoint, which follows a complete flush) */
  for (int c = 0; c < NCOL; c++) {
    size_t len = 0;
    LF_CHECK(lf_h5_dset_len(w->file, col_name[c], &len, w->tmp));
    if ((int64_t)len < records) {
      rc = LF_FAIL(LF_ERR_FORMAT,
                   "'%s': column %s has %zu records, the checkpoint needs %lld (the metrics "
                   "file does not belong to this checkpoint)",
                   w->tmp, col_name[c], len, (long long)records);
      goto fail;
    }
    w->dset[c] = H5Dopen2(w->file, col_name[c], H5P_DEFAULT);
    const hsize_t size[1] = {(hsize_t)records};
    if (w->dset[c] < 0 || H5Dset_extent(w->dset[c], size) < 0) {
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot cut dataset %s back to %lld records", w->tmp,
                      col_name[c], (long long)records);
      goto fail;
    }
  }
  LF_CHECK(resume_eval(w, evals));
  /* the config of this run (run-length keys may have changed) */
  if (H5Ldelete(w->file, "meta", H5P_DEFAULT) < 0) {
    rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': no group /meta", w->tmp);
    goto fail;
  }
  LF_CHECK(lf_h5_write_meta(w->file, cfg, 1, w->tmp));
  LF_CHECK(lf_h5_flush(w->file, 0, w->tmp, "after reopening it"));
  w->written = (size_t)records;
  w->nevals = (size_t)evals;
  *out = w;
  return LF_OK;
fail:
  release(w);
  free(w);
  return rc;
}

void lf_io_series_free(lf_train_series *s) {
  if (!s) return;
  for (int c = 0; c < NCOL; c++) {
    void **p = series_col(s, c);
    free(*p);
    *p = NULL;
  }
  free(s->evals);
  s->evals = NULL;
  s->n = 0;
  s->neval = 0;
}

/* The /eval rows of a version-2 file into out->evals (a column of another length is
 * LF_ERR_FORMAT). */
static lf_status read_evals(hid_t file, lf_train_series *out, const char *path) {
  lf_status rc = LF_OK;
  hid_t g = -1;
  void *col = NULL;
  size_t n = 0;
  char name[64];
  LF_CHECK(lf_h5_group_open(file, EVAL_GROUP, &g, path));
  for (int c = 0; c < NECOL; c++) {
    size_t len = 0;
    snprintf(name, sizeof name, "/%s/%s", EVAL_GROUP, ecol[c].name);
    LF_CHECK(lf_h5_dset_len(g, ecol[c].name, &len, path));
    if (c == 0) {
      n = len;
    } else if (len != n) {
      rc = LF_FAIL(LF_ERR_FORMAT,
                   "'%s': column %s has %zu evaluations but /%s/%s has %zu (corrupted file?)", path,
                   name, len, EVAL_GROUP, ecol[0].name, n);
      goto fail;
    }
  }
  out->evals = calloc(n ? n : 1, sizeof *out->evals);
  col = malloc((n ? n : 1) * sizeof(double));
  if (!out->evals || !col) {
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': %zu evaluations", path, n);
    goto fail;
  }
  for (int c = 0; c < NECOL; c++) {
    LF_CHECK(lf_h5_dset_read_1d(g, ecol[c].name, ecol[c].i64 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE,
                                n, col, path));
    for (size_t i = 0; i < n; i++) /* both types are 8 bytes */
      memcpy((char *)&out->evals[i] + ecol[c].off, (const char *)col + 8 * i, 8);
  }
  out->neval = n;
fail:
  free(col);
  if (g >= 0) H5Gclose(g);
  return rc;
}

lf_status lf_io_metrics_read(const char *path, lf_train_series *out, lf_config *cfg_out) {
  lf_status rc = LF_OK;
  hid_t file = -1;
  if (!path || !out) return LF_FAIL(LF_ERR_INVALID, "lf_io_metrics_read: path and output");
  memset(out, 0, sizeof *out);
  int version = 0;
  LF_CHECK(lf_h5_open_latflow(path, "train", H5P_DEFAULT, &file, NULL, 0, &version));
  if (cfg_out) LF_CHECK(lf_h5_read_config(file, cfg_out, path));
  size_t n = 0;
  for (int c = 0; c < NCOL; c++) {
    size_t len = 0;
    LF_CHECK(lf_h5_dset_len(file, col_name[c], &len, path));
    if (c == 0) {
      n = len;
    } else if (len != n) {
      rc = LF_FAIL(LF_ERR_FORMAT,
                   "'%s': column %s has %zu records but %s has %zu (corrupted "
                   "file?)",
                   path, col_name[c], len, col_name[0], n);
      goto fail;
    }
  }
  for (int c = 0; c < NCOL; c++) {
    void **p = series_col(out, c);
    *p = malloc((n ? n : 1) * col_size(c));
    if (!*p) {
      rc = LF_FAIL(LF_ERR_NOMEM, "'%s': column %s of %zu records", path, col_name[c], n);
      goto fail;
    }
    LF_CHECK(lf_h5_dset_read_1d(file, col_name[c], col_mtype(c), n, *p, path));
  }
  out->n = n;
  if (version >= 2) LF_CHECK(read_evals(file, out, path)); /* version 1: no evaluations */
  H5Fclose(file);
  return LF_OK;
fail:
  lf_io_series_free(out);
  if (file >= 0) H5Fclose(file);
  return rc;
}
