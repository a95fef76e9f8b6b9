/* latflow/io.h: HDF5 files: model files and training-metrics files (docs/FORMAT.md).
 *
 * Every latflow file carries root attributes latflow_format ("model", "train"; later
 * "ensemble", "checkpoint"), format_version (int, per kind, raised on every layout
 * change of that kind), latflow_version, git_rev, git_dirty, compiler, cflags and
 * created_utc (ISO 8601; the only nondeterministic value, fixed by the environment
 * variable SOURCE_DATE_EPOCH when set), and a group /meta with config_yaml (the full
 * effective config, lf_config_to_yaml), seed, ranks and the HDF5, MPI and OpenBLAS
 * library versions.
 *
 * Writes are atomic: a file is written as "<path>.tmp", closed, fsync'ed and renamed to
 * <path>. An existing <path> is never replaced unless overwrite != 0 (LF_ERR_IO
 * "'<path>' exists; refusing to overwrite (use --force or another output)").
 * Nobody writes through our names: the .tmp is created exclusively (O_CREAT|O_EXCL, which
 * fails on any existing name, a symbolic link included); a stale .tmp is removed first only
 * if it is a regular file; a symbolic link at <path> or at <path>.tmp is refused (LF_ERR_IO
 * "... is a symbolic link; refusing to write through it"), also with overwrite.
 *
 * Readers refuse, naming the file: a missing file (LF_ERR_IO); an empty file, a file
 * that is not HDF5, a truncated or corrupted file, an HDF5 file without latflow_format
 * ("not a latflow file"), a file of another kind ("'x.h5' is a latflow train file,
 * expected a model file") and a format_version newer than this build reads (all
 * LF_ERR_FORMAT). Failures of HDF5 calls are LF_ERR_HDF5 with the path, the object
 * and HDF5's own message; HDF5's automatic error printing is switched off.
 *
 * All functions here are local (serial HDF5, one process; they may be called on one
 * rank of an MPI job) and never print. */
#ifndef LATFLOW_IO_H
#define LATFLOW_IO_H

#include "latflow/config.h"
#include "latflow/model.h"
#include "latflow/status.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Layout versions this build writes and the newest it reads (docs/FORMAT.md). */
#define LF_IO_MODEL_FORMAT_VERSION 1
#define LF_IO_TRAIN_FORMAT_VERSION 2 /* 2: group /eval, `description` attributes */

/* Records buffered by the metrics writer between two writes to the file. */
#define LF_IO_METRICS_FLUSH 256

/* ---- any latflow file ------------------------------------------------------------------- */

/* Copies the file's latflow_format ("model", "train", ...) into kind[n]. Refuses as
 * described above; a kind this build knows is also checked for its format_version.
 * LF_ERR_INVALID if n is too small for the kind. */
lf_status lf_io_file_kind(const char *path, char *kind, size_t n);

/* Checks a file the user named as an input (a command-line argument): LF_ERR_USAGE if it is
 * missing, a directory or unreadable ("<what> '<path>': <reason>"), so such a mistake exits
 * 2 (bad usage) in every command; its contents are checked later by the reader. */
lf_status lf_io_input_check(const char *path, const char *what);

/* One chain of a merged ensemble: the file and chain it came from (/chain_<r> attributes
 * source_path, source_chain; docs/FORMAT.md "Merged files"). */
typedef struct lf_io_chain_source {
  char path[1024]; /* "" when the chain has no provenance */
  int chain;       /* -1 when absent */
} lf_io_chain_source;

/* The common header of a latflow file of any kind (docs/FORMAT.md section 2), for
 * `latflow info`. Strings are "" and numbers -1 where an (older) file lacks them. */
typedef struct lf_io_header {
  char kind[32];      /* latflow_format: model, train, ensemble, checkpoint */
  int format_version; /* of that kind                                     */
  char latflow_version[64], git_rev[64], compiler[128], build_type[32], created_utc[32];
  int git_dirty;               /* 1, 0; -1 absent                                  */
  char what[32];               /* checkpoint: train, sample or hmc; else ""        */
  int has_seed;                /* 1 if /meta has seed                              */
  uint64_t seed;               /* /meta/seed                                       */
  int ranks;                   /* /meta/ranks                                      */
  char *config_yaml;           /* owned: /meta/config_yaml verbatim; NULL if none  */
  int nsources;                /* ensembles: chains with a recorded source (merged) */
  lf_io_chain_source *sources; /* owned: (nchains) when the file is an ensemble    */
  int foreign;                 /* failure: 1 if the file is not latflow's at all
                                  (empty, not HDF5, or HDF5 without latflow_format) */
} lf_io_header;

/* Reads the header of the latflow file at path into h (zeroed first). The refusals of
 * lf_io_file_kind (any kind is accepted); on such a refusal h->foreign tells a file that
 * is not latflow's apart from a damaged, locked or newer one, and h holds nothing to free.
 * Free with lf_io_header_free. */
lf_status lf_io_header_read(const char *path, lf_io_header *h);
/* Frees what h owns and zeroes it (accepts a zeroed h). */
void lf_io_header_free(lf_io_header *h);

/* ---- plain output files (local, file-system work only) ------------------------------------ */

/* LF_ERR_IO if path is a symbolic link (lstat); a missing path is fine. */
lf_status lf_io_check_not_symlink(const char *path);

/* Makes room for an exclusive create at path: a missing path is fine, a regular file is
 * removed, anything else (a symbolic link, a directory, a device) is refused (LF_ERR_IO,
 * naming it; latflow never removes or follows what it did not write). */
lf_status lf_io_remove_stale(const char *path);

/* Creates path for writing as a new regular file (mode 0644 before umask) with
 * O_CREAT|O_EXCL|O_NOFOLLOW after lf_io_remove_stale(path): the content never goes
 * through a link planted at path. *f is NULL on failure. Errors: LF_ERR_IO. */
lf_status lf_io_create_file(const char *path, FILE **f);
/* 1 if the file system holding path (a file in it) has less than 1 MiB available: a failed
 * write there is taken for "no space left on device". */
int lf_io_fs_full(const char *path);

/* An advisory lock on one file (flock, local to this process): what lf_io_flock_try found. */
typedef struct lf_io_flock {
  int fd;           /* the locked file (owned: close it to release), -1 when not held */
  int busy;         /* 1: another process holds the lock (fd -1)                       */
  int unsupported;  /* flock's errno when this file system has none (ENOLCK, EOPNOTSUPP,
                       ENOSYS, EINVAL; some NFS/Lustre mounts; fd -1), else 0          */
  int recorded;     /* held: 1 if identity was written into the file                   */
  int record_errno; /* held, not recorded: errno of the failed write                    */
  char holder[256]; /* busy: the first line of the holder's identity, "" if none yet    */
} lf_io_flock;

/* Opens path (created with mode 0644 if missing; O_NOFOLLOW: a symbolic link at path is
 * refused, O_CLOEXEC) and tries flock(LOCK_EX|LOCK_NB) once. Held: the file's content is
 * replaced by identity (one line, e.g. "pid 1234\n"), for the message of the next process
 * that finds the lock busy. Busy and unsupported are LF_OK with lk->fd = -1: the caller
 * words the refusal or the warning. Errors: LF_ERR_IO ("cannot open the lock '<path>': ..."
 * or "cannot lock '<path>': ..."). */
lf_status lf_io_flock_try(lf_io_flock *lk, const char *path, const char *identity);

/* ---- model files ------------------------------------------------------------------------ */

/* Writes m and the effective config cfg to the model file at path (atomic, see above).
 * The config written is cfg with its model section replaced by m->cfg (the architecture
 * the parameters belong to); cfg->theory.shape must equal (m->L0, m->L1), else
 * LF_ERR_INVALID. /model/params holds the m->nparams parameters in the network
 * precision, bitwise; /model carries the architecture, m->step and lf_model_hash(m).
 * Errors: LF_ERR_INVALID, LF_ERR_IO (exists, create, sync, rename), LF_ERR_HDF5,
 * LF_ERR_NOMEM. */
lf_status lf_io_model_save(const char *path, const lf_model *m, const lf_config *cfg,
                           int overwrite);

/* Reads a model file: cfg_out = lf_config_defaults + the stored config YAML (cfg_out may
 * be NULL); m_out is initialized with lf_model_init(m_out, &cfg.model, C, L0, L1, Bmax)
 * (C, L0, L1 from the file), its parameter arena is filled bitwise from /model/params,
 * m_out->step is restored, and nparams and lf_model_hash are verified (a mismatch is
 * LF_ERR_FORMAT "<path>: parameter hash mismatch: file says ..., data gives ...
 * (corrupted file?)"). Gradients and optimizer moments are zero. On failure m_out is
 * left zeroed (nothing to free). Errors: the refusals above, LF_ERR_FORMAT (missing or
 * inconsistent objects, or a stored YAML that does not parse: "<path>:/meta/config_yaml:
 * <line>: ... (corrupted file, or written by a newer latflow?)"), LF_ERR_HDF5,
 * LF_ERR_NOMEM and whatever lf_model_init returns. */
lf_status lf_io_model_load(const char *path, lf_config *cfg_out, lf_model *m_out, int Bmax);

/* Reads only the stored config of a model file (for parameter and volume transfer):
 * cfg_out = lf_config_defaults + the stored YAML. Same refusals as lf_io_model_load. */
lf_status lf_io_model_peek(const char *path, lf_config *cfg_out);

/* Volume transfer: loads the model file path for use on an L0 x L1 lattice. A model
 * trained on L0 x L1 is lf_io_model_load's. One trained on another lattice is loaded,
 * then a model of the same architecture (cfg_out->model, C) is built on L0 x L1 with
 * lf_model_init(..., Bmax) and given the file's parameters (lf_io_model_copy_params),
 * optimizer step and training costs: the conv nets are translation-equivariant, so the
 * parameters act on any lattice the architecture accepts. cfg_out (not NULL) = the stored
 * config: its theory.shape is the training lattice, which tells the caller whether a
 * transfer happened. The transferred model's lf_model_hash is its own (the hash covers
 * the lattice). An architecture that cannot run on L0 x L1 (the gauge flows' masks need
 * multiples of 4) is LF_ERR_CONFIG naming both lattices and the reason; other errors as
 * lf_io_model_load. On failure m_out is left zeroed. */
lf_status lf_io_model_load_on(const char *path, int L0, int L1, lf_config *cfg_out, lf_model *m_out,
                              int Bmax);
/* lf_io_model_load_on for sampling only: the model is built by lf_model_init_sampling (no
 * training workspaces; latflow/model.h says which calls it takes). */
lf_status lf_io_model_load_sampling(const char *path, int L0, int L1, lf_config *cfg_out,
                                    lf_model *m_out, int Bmax);

/* Copies src's parameter arena into dst (parameter and volume transfer), converting
 * through double when the precisions differ. The architectures must agree (the caller
 * checks); LF_ERR_CONFIG if the parameter counts differ, LF_ERR_NOMEM. Local. */
lf_status lf_io_model_copy_params(lf_model *dst, const lf_model *src);

/* ---- training metrics ------------------------------------------------------------------- */

/* One training step as recorded in train.h5. */
typedef struct lf_train_record {
  int64_t step;        /* optimizer step                                          */
  double loss;         /* loss of the step (NaN allowed)                          */
  double ess;          /* ESS fraction of the step's batch, in [0,1]              */
  double ess_smoothed; /* ESS smoothed over train.stop.ess_window                 */
  double lr;           /* learning rate used                                      */
  int32_t batch;       /* global batch size                                       */
  double seconds;      /* wall seconds since the start of training                */
  double grad_norm;    /* global gradient norm before clipping (NaN allowed)      */
  int8_t skipped;      /* 1 if the update was skipped (non-finite loss/gradient)  */
} lf_train_record;

/* One evaluation on fresh samples during training, as recorded in train.h5 /eval. */
typedef struct lf_train_eval_record {
  int64_t step;           /* training steps done when evaluated                      */
  int64_t samples;        /* fresh samples evaluated                                 */
  double ess;             /* ESS fraction of those samples                           */
  double acceptance;      /* IMH acceptance of a chain over them                     */
  double loss;            /* <log q + S> over them (KL(q||p) - log Z)                */
  double log_mean_weight; /* log <w>, an estimate of log Z                           */
  int64_t n_train;        /* samples flowed through training so far                  */
  double seconds;         /* training wall seconds so far (evaluations excluded)     */
  double eval_seconds;    /* wall seconds of this evaluation                         */
} lf_train_eval_record;

/* An open metrics writer (opaque; owns the HDF5 handles and the record buffer). */
typedef struct lf_io_metrics lf_io_metrics;

/* Creates the metrics file for the final path `path` (the trainer passes
 * "<out>/train.h5"). While the run lasts the file is "<path>.tmp"; lf_io_metrics_close
 * renames it to <path>. Refuses an existing <path> unless overwrite != 0 (LF_ERR_IO);
 * a stale <path>.tmp is replaced. Writes the header and /meta at once. On success *w
 * is a new writer; on failure *w is NULL and nothing is left on disk.
 * Errors: LF_ERR_INVALID, LF_ERR_IO, LF_ERR_HDF5, LF_ERR_NOMEM. */
lf_status lf_io_metrics_open(lf_io_metrics **w, const char *path, const lf_config *cfg,
                             int overwrite);

/* Appends one record. Records are buffered and written every LF_IO_METRICS_FLUSH records
 * (and by _flush and _close), so an append is a copy into memory. LF_ERR_HDF5 when a
 * buffered write fails. The file's metadata (dataset extents) reaches the disk only at
 * _flush and _close. */
lf_status lf_io_metrics_append(lf_io_metrics *w, const lf_train_record *rec);

/* Writes the buffered records, flushes the HDF5 file and fsyncs it: after a crash the
 * .tmp is readable by HDF5 tools and holds the records of the last flush (the trainer
 * flushes before every checkpoint, so a checkpoint is never newer than its metrics).
 * LF_ERR_HDF5, LF_ERR_IO (fsync). */
lf_status lf_io_metrics_flush(lf_io_metrics *w);

/* Number of records appended so far (written or buffered). */
int64_t lf_io_metrics_count(const lf_io_metrics *w);

/* Appends one evaluation to /eval, written at once (evaluations are rare); its metadata
 * reaches the disk at _flush and _close as for the step records. LF_ERR_HDF5. */
lf_status lf_io_metrics_append_eval(lf_io_metrics *w, const lf_train_eval_record *rec);

/* Number of evaluations appended so far (earlier runs of a resumed file included). */
int64_t lf_io_metrics_eval_count(const lf_io_metrics *w);

/* Writes the buffered records, closes, fsyncs and renames <path>.tmp to <path>, and
 * frees w (also on failure; w may be NULL). Returns the first error. */
lf_status lf_io_metrics_close(lf_io_metrics *w);

/* Writes the buffered records, flushes and closes the file but keeps it as "<path>.tmp"
 * (an interrupted run: lf_io_metrics_resume continues it); frees w (also on failure; w
 * may be NULL). Returns the first error. */
lf_status lf_io_metrics_suspend(lf_io_metrics *w);

/* Reopens the metrics file of an interrupted run for appending: "<path>.tmp" (if only
 * <path> exists, from a run that died after its final rename, it is renamed back to
 * "<path>.tmp" first). Every column is cut back to `records` records and every /eval
 * column to `evals` evaluations (the counts stored in the checkpoint; a run killed
 * between two checkpoints may have written more) and /meta is rewritten with cfg
 * (run-length keys may have changed). The next append is record `records`, evaluation
 * `evals`. A version-1 file (no /eval) gets an empty /eval and version 2 when evals is
 * 0. Errors: LF_ERR_IO (no such file, cannot open for writing), the refusals of the
 * readers above, LF_ERR_FORMAT (a column shorter than records or evals), LF_ERR_HDF5,
 * LF_ERR_NOMEM, LF_ERR_INVALID. On failure *w is NULL. */
lf_status lf_io_metrics_resume(lf_io_metrics **w, const char *path, const lf_config *cfg,
                               int64_t records, int64_t evals);

/* The columns of a metrics file, one array of n values each (owned; free with
 * lf_io_series_free). */
typedef struct lf_train_series {
  size_t n;
  int64_t *step;
  double *loss, *ess, *ess_smoothed, *lr;
  int32_t *batch;
  double *seconds, *grad_norm;
  int8_t *skipped;
  size_t neval;                /* evaluations (0 for a format-version-1 file) */
  lf_train_eval_record *evals; /* (neval) */
} lf_train_series;

/* Reads all columns of the metrics file at path into out (zeroed first), the
 * evaluations of /eval (format version 2; none in version 1) and, if cfg_out is not
 * NULL, its stored config. Same refusals as above (expects kind "train"); columns of
 * unequal length (within the root or within /eval) are LF_ERR_FORMAT. */
lf_status lf_io_metrics_read(const char *path, lf_train_series *out, lf_config *cfg_out);

/* Frees the arrays of s and zeroes it (accepts a zeroed s). */
void lf_io_series_free(lf_train_series *s);

/* ---- paths and folders (local, file-system work only; src/io/paths.c) ------------------- */

/* Joins dir and name into out[n] as "dir/name" (LF_ERR_INVALID "path too long" if it does
 * not fit). */
lf_status lf_io_path_join(char *out, size_t n, const char *dir, const char *name);
/* 1 if path exists (stat follows links), else 0. */
int lf_io_exists(const char *path);
/* mkdir -p of dir (mode 0777 before umask); existing folders are fine. LF_ERR_INVALID (too
 * long), LF_ERR_IO naming the component that could not be created. */
lf_status lf_io_mkdirs(const char *dir);
/* Removes the checkpoint at path, its .prev and its .tmp with lf_io_remove_stale: missing
 * ones are fine, regular files are removed, anything else (a link, a directory) is refused
 * (LF_ERR_IO). */
lf_status lf_io_remove_checkpoints(const char *path);

#endif
