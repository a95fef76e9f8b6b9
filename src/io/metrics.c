/* Training-metrics files (train.h5): an appendable writer and a reader (contract:
 * latflow/io.h; layout: docs/FORMAT.md).
 *
 * Both record types are described once, by field tables (col, ecol: name, type, offset,
 * description; io/schema.h), which create, append, cut back and read their columns. The
 * writer keeps LF_IO_METRICS_FLUSH records in a fixed buffer (allocated once, in _open)
 * and writes them to nine chunked, extendible 1-D datasets in one go, so an append during
 * training is a copy into memory and never touches the file. The file
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

#include "io/schema.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NB LF_IO_METRICS_FLUSH
#define CHUNK 1024 /* values per chunk on disk: 8 KiB for the 8-byte columns */

/* ---- the step columns (root), one row per lf_train_record ------------------------------- */

#define TR(member, type, desc)                                                                     \
  { #member, type, offsetof(lf_train_record, member), desc }
static const lf_h5_field col[] = {
    TR(step, LF_H5_I64, "training step (0-based) of this record"),
    TR(loss, LF_H5_F64,
       "mean of log q + S over the step's batch (KL(q||p) - log Z estimate); NaN if non-finite"),
    TR(ess, LF_H5_F64,
       "ESS fraction of the step's training batch; biased high (small batch, just fitted): see "
       "/eval/ess for the fresh-sample ESS"),
    TR(ess_smoothed, LF_H5_F64,
       "batch ESS averaged over the last train.stop.ess_window steps (biased high, see /eval/ess)"),
    TR(lr, LF_H5_F64, "learning rate used by the step"),
    TR(batch, LF_H5_I32, "global batch size of the step"),
    TR(seconds, LF_H5_F64,
       "training wall seconds after the step, evaluations excluded, earlier runs of a resumed "
       "training included"),
    TR(grad_norm, LF_H5_F64, "global gradient norm before clipping (NaN/Inf allowed)"),
    TR(skipped, LF_H5_I8, "1 if the update was skipped (non-finite loss, gradient or parameters)")};
#undef TR
#define NCOL (sizeof col / sizeof col[0])

/* Where lf_train_series keeps the array of each column (same order as col). */
static const size_t series_off[NCOL] = {
    offsetof(lf_train_series, step),    offsetof(lf_train_series, loss),
    offsetof(lf_train_series, ess),     offsetof(lf_train_series, ess_smoothed),
    offsetof(lf_train_series, lr),      offsetof(lf_train_series, batch),
    offsetof(lf_train_series, seconds), offsetof(lf_train_series, grad_norm),
    offsetof(lf_train_series, skipped)};

/* ---- the evaluation columns (/eval), one row per lf_train_eval_record ------------------- */

#define EVAL_GROUP "eval"
#define ECHUNK 64

#define EV(member, type, desc)                                                                     \
  { #member, type, offsetof(lf_train_eval_record, member), desc }
static const lf_h5_field ecol[] = {
    EV(step, LF_H5_I64, "training steps done when the model was evaluated"),
    EV(samples, LF_H5_I64, "fresh samples of the evaluation (train.eval_samples)"),
    EV(ess, LF_H5_F64,
       "ESS fraction (sum w)^2 / (n sum w^2) of the fresh samples, w = exp(-S - log q)"),
    EV(acceptance, LF_H5_F64,
       "acceptance of an independence Metropolis chain over the fresh samples"),
    EV(loss, LF_H5_F64, "mean of log q + S over the fresh samples (KL(q||p) - log Z estimate)"),
    EV(log_mean_weight, LF_H5_F64,
       "log of the mean weight over the fresh samples (log Z estimate)"),
    EV(n_train, LF_H5_I64,
       "samples flowed through training so far (sum of the global batches of the steps done)"),
    EV(seconds, LF_H5_F64, "training wall seconds so far, evaluations excluded"),
    EV(eval_seconds, LF_H5_F64, "wall seconds of this evaluation")};
#undef EV
#define NECOL (sizeof ecol / sizeof ecol[0])

const lf_h5_field *lf_io_eval_fields(size_t *n) {
  *n = NECOL;
  return ecol;
}

static const char eval_group_desc[] =
    "evaluations of the flow on fresh samples during training (every train.eval_every steps "
    "and at the end), one row per evaluation; the unbiased counterpart of the batch ESS";

struct lf_io_metrics {
  char path[LF_PATH_MAX + 8]; /* final name */
  char tmp[LF_PATH_MAX + 8];  /* name while writing */
  hid_t fapl, file;
  hid_t dset[NCOL];           /* the step columns (steps_table) */
  hid_t egroup, edset[NECOL]; /* /eval and its columns (evals_table) */
  size_t nevals;              /* evaluations in the file */
  size_t written;             /* records in the file */
  size_t nbuf;                /* records in the buffer */
  lf_status failed;
  lf_train_record buf[NB];                    /* the buffered records */
  unsigned char scratch[NB * LF_H5_MAX_SIZE]; /* one column of them, packed */
};

/* The step columns of a metrics file at loc, open ones in dset (NULL: only to read them);
 * messages name the file path. */
static lf_h5_table steps_table(hid_t loc, hid_t *dset, const char *path) {
  return (lf_h5_table){col, NCOL, sizeof(lf_train_record), loc, "", "records", path, dset};
}

/* The /eval columns in group loc (dset as for steps_table). */
static lf_h5_table evals_table(hid_t loc, hid_t *dset, const char *path) {
  return (lf_h5_table){
      ecol, NECOL, sizeof(lf_train_eval_record), loc, "/" EVAL_GROUP "/", "evaluations",
      path, dset};
}

/* Closes every handle (errors ignored: used on failure paths and after a failed close). */
static void release(lf_io_metrics *w) {
  lf_h5_detach(w->file); /* nothing more reaches the disk: no close can fail on a full disk */
  lf_h5_table t = steps_table(w->file, w->dset, w->tmp),
              e = evals_table(w->egroup, w->edset, w->tmp);
  lf_h5_table_close(&t, LF_OK);
  lf_h5_table_close(&e, LF_OK);
  if (w->egroup >= 0) H5Gclose(w->egroup);
  if (w->file >= 0) H5Fclose(w->file);
  if (w->fapl >= 0) H5Pclose(w->fapl);
  w->file = w->fapl = w->egroup = -1;
}

/* A writer with every handle marked closed. */
static lf_io_metrics *writer_new(const char *path) {
  lf_io_metrics *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->fapl = w->file = w->egroup = -1;
  lf_h5_table t = steps_table(-1, w->dset, w->tmp), e = evals_table(-1, w->edset, w->tmp);
  lf_h5_table_init(&t);
  lf_h5_table_init(&e);
  snprintf(w->path, sizeof w->path, "%s", path);
  return w;
}

/* Creates the empty /eval group and its columns, each with its description. */
static lf_status create_eval(lf_io_metrics *w) {
  lf_status rc = LF_OK;
  LF_CHECK(lf_h5_group_create(w->file, EVAL_GROUP, &w->egroup, w->tmp));
  LF_CHECK(lf_h5_attr_write_str(w->egroup, "description", eval_group_desc, w->tmp, "/eval"));
  lf_h5_table e = evals_table(w->egroup, w->edset, w->tmp);
  LF_CHECK(lf_h5_table_create(&e, LF_H5_ROWS_LAZY, ECHUNK));
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
  lf_h5_table t = steps_table(w->file, w->dset, w->tmp);
  LF_CHECK(lf_h5_table_create(&t, LF_H5_ROWS_LAZY, CHUNK));
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
  lf_h5_table t = steps_table(w->file, w->dset, w->tmp);
  lf_status rc = lf_h5_table_append(&t, w->written, w->nbuf, w->buf, w->scratch, H5P_DEFAULT);
  if (rc != LF_OK) { /* the columns may now differ in length: refuse further writes */
    w->failed = rc;
    return rc;
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
  w->buf[w->nbuf++] = *r;
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
  lf_h5_table e = evals_table(w->egroup, w->edset, w->tmp);
  const lf_status rc = lf_h5_table_append(&e, w->nevals, 1, r, w->scratch, H5P_DEFAULT);
  if (rc != LF_OK) { /* the columns may now differ in length: refuse further writes */
    w->failed = rc;
    return rc;
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
  lf_h5_table t = steps_table(w->file, w->dset, w->tmp),
              e = evals_table(w->egroup, w->edset, w->tmp);
  rc = lf_h5_table_close(&t, rc);
  rc = lf_h5_table_close(&e, rc);
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
  lf_h5_table e = evals_table(w->egroup, w->edset, w->tmp);
  LF_CHECK(lf_h5_table_cut(&e, (size_t)evals));
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
  lf_h5_table t = steps_table(w->file, w->dset, w->tmp);
  LF_CHECK(lf_h5_table_cut(&t, (size_t)records));
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
fail:
  if (rc != LF_OK) { /* nothing of the failed writer stays open; the file is kept */
    release(w);
    free(w);
    w = NULL;
  }
  *out = w;
  return rc;
}

void lf_io_series_free(lf_train_series *s) {
  if (!s) return;
  for (size_t c = 0; c < NCOL; c++) {
    void **p = (void **)((char *)s + series_off[c]);
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
  void *scratch = NULL;
  size_t n = 0;
  LF_CHECK(lf_h5_group_open(file, EVAL_GROUP, &g, path));
  lf_h5_table e = evals_table(g, NULL, path);
  LF_CHECK(lf_h5_table_len(&e, &n));
  out->evals = calloc(n ? n : 1, sizeof *out->evals);
  scratch = malloc((n ? n : 1) * LF_H5_MAX_SIZE);
  if (!out->evals || !scratch) {
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': %zu evaluations", path, n);
    goto fail;
  }
  LF_CHECK(lf_h5_table_read(&e, n, out->evals, scratch));
  out->neval = n;
fail:
  free(scratch);
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
  const lf_h5_table t = steps_table(file, NULL, path);
  LF_CHECK(lf_h5_table_len(&t, &n));
  /* each column straight into its array of the series */
  for (size_t c = 0; c < NCOL; c++) {
    void **p = (void **)((char *)out + series_off[c]);
    *p = malloc((n ? n : 1) * lf_h5_type_size(col[c].type));
    if (!*p) {
      rc = LF_FAIL(LF_ERR_NOMEM, "'%s': column %s of %zu records", path, col[c].name, n);
      goto fail;
    }
    LF_CHECK(lf_h5_dset_read_1d(file, col[c].name, lf_h5_type_mem(col[c].type), n, *p, path));
  }
  out->n = n;
  if (version >= 2) LF_CHECK(read_evals(file, out, path)); /* version 1: no evaluations */
fail:
  if (rc != LF_OK) lf_io_series_free(out); /* zeroed again: nothing for the caller to free */
  if (file >= 0) H5Fclose(file);
  return rc;
}
