/* Checkpoint files (contract: latflow/ckpt.h; layout: docs/FORMAT.md "Checkpoints"). */
#include "latflow/ckpt.h"

#include "io/h5util.h"
#include "latflow/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct lf_ckpt {
  char path[LF_PATH_MAX + 8]; /* final name (writer) or the file opened (reader) */
  char tmp[LF_PATH_MAX + 8];
  hid_t fapl, file;
  int writing;
};

static hid_t mem_type(lf_ckpt_type t) {
  return t == LF_CKPT_F64   ? H5T_NATIVE_DOUBLE
         : t == LF_CKPT_I64 ? H5T_NATIVE_INT64
                            : H5T_NATIVE_UINT8;
}
static hid_t file_type(lf_ckpt_type t) {
  return t == LF_CKPT_F64 ? H5T_IEEE_F64LE : t == LF_CKPT_I64 ? H5T_STD_I64LE : H5T_STD_U8LE;
}

lf_status lf_ckpt_prev_path(char *out, size_t n, const char *path) {
  if ((size_t)snprintf(out, n, "%s.prev", path) >= n)
    return LF_FAIL(LF_ERR_INVALID, "checkpoint path too long: '%s'", path);
  return LF_OK;
}

static void release(lf_ckpt *c) {
  if (c->file >= 0) H5Fclose(c->file);
  if (c->fapl >= 0) H5Pclose(c->fapl);
  c->file = c->fapl = -1;
}

lf_status lf_ckpt_create(lf_ckpt **out, const char *path, const char *what, const lf_config *cfg,
                         int ranks) {
  lf_status rc = LF_OK;
  *out = NULL;
  if (strlen(path) + 8 > LF_PATH_MAX)
    return LF_FAIL(LF_ERR_INVALID, "checkpoint path too long: '%s'", path);
  lf_ckpt *c = calloc(1, sizeof *c);
  if (!c) return LF_FAIL(LF_ERR_NOMEM, "checkpoint writer");
  c->fapl = c->file = -1;
  c->writing = 1;
  snprintf(c->path, sizeof c->path, "%s", path);
  LF_CHECK(lf_h5_fapl_serial(&c->fapl));
  rc = lf_h5_create_tmp(path, 1, c->fapl, c->tmp, sizeof c->tmp, &c->file);
  if (rc != LF_OK) {
    c->tmp[0] = '\0'; /* not ours: whatever holds the name (a link?) stays */
    goto fail;
  }
  LF_CHECK(lf_h5_write_header(c->file, "checkpoint", LF_IO_CKPT_FORMAT_VERSION, NULL, c->tmp));
  LF_CHECK(lf_h5_attr_write_str(c->file, "what", what, c->tmp, "/"));
  LF_CHECK(lf_h5_write_meta(c->file, cfg, ranks, c->tmp));
  *out = c;
  return LF_OK;
fail:
  lf_ckpt_abort(c);
  return rc;
}

lf_status lf_ckpt_put(lf_ckpt *c, const char *name, lf_ckpt_type t, size_t n, const void *data) {
  static const double none = 0.0;
  if (n == 0) data = &none; /* HDF5 wants a buffer even for an empty write */
  return lf_h5_dset_write_1d(c->file, name, mem_type(t), file_type(t), n, data, c->tmp);
}

lf_status lf_ckpt_put_i64(lf_ckpt *c, const char *name, int64_t v) {
  return lf_h5_attr_write_i64(c->file, name, v, c->tmp, "/");
}

lf_status lf_ckpt_put_f64(lf_ckpt *c, const char *name, double v) {
  return lf_h5_attr_write_f64(c->file, name, v, c->tmp, "/");
}

lf_status lf_ckpt_commit(lf_ckpt *c) {
  lf_status rc = LF_OK;
  char prev[LF_PATH_MAX + 16];
  if (H5Fclose(c->file) < 0) {
    c->file = -1;
    rc = LF_H5_FAIL(LF_ERR_HDF5, "cannot close checkpoint '%s'", c->tmp);
    goto fail;
  }
  c->file = -1;
  LF_CHECK(lf_ckpt_prev_path(prev, sizeof prev, c->path));
  /* links at either name are refused rather than moved or replaced */
  LF_CHECK(lf_io_check_not_symlink(c->path));
  LF_CHECK(lf_io_check_not_symlink(prev));
  if (access(c->path, F_OK) == 0 && rename(c->path, prev) != 0) {
    rc = LF_FAIL(LF_ERR_IO, "cannot rename '%s' to '%s': %s", c->path, prev, strerror(errno));
    goto fail;
  }
  LF_CHECK(lf_io_commit_tmp(c->tmp, c->path));
  release(c);
  free(c);
  return LF_OK;
fail:
  lf_ckpt_abort(c);
  return rc;
}

void lf_ckpt_abort(lf_ckpt *c) {
  if (!c) return;
  const int had_tmp = c->writing && c->tmp[0];
  release(c);
  if (had_tmp) remove(c->tmp);
  free(c);
}

lf_status lf_ckpt_open(lf_ckpt **out, const char *path, const char *what, lf_config *cfg_out) {
  lf_status rc = LF_OK;
  char *w = NULL;
  *out = NULL;
  lf_ckpt *c = calloc(1, sizeof *c);
  if (!c) return LF_FAIL(LF_ERR_NOMEM, "checkpoint reader");
  c->fapl = c->file = -1;
  struct stat st;
  if (stat(path, &st) == 0) {
    snprintf(c->path, sizeof c->path, "%s", path);
  } else {
    LF_CHECK(lf_ckpt_prev_path(c->path, sizeof c->path, path));
    if (stat(c->path, &st) != 0) {
      rc = LF_FAIL(LF_ERR_IO, "no checkpoint '%s' to resume from (nor '%s')", path, c->path);
      goto fail;
    }
  }
  LF_CHECK(lf_h5_fapl_serial(&c->fapl));
  LF_CHECK(lf_h5_open_latflow(c->path, "checkpoint", c->fapl, &c->file, NULL, 0, NULL));
  LF_CHECK(lf_h5_attr_read_str(c->file, "what", &w, c->path, "/"));
  if (strcmp(w, what) != 0) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s' is a %s checkpoint, expected a %s checkpoint", c->path, w,
                 what);
    goto fail;
  }
  if (cfg_out) LF_CHECK(lf_h5_read_config(c->file, cfg_out, c->path));
  free(w);
  *out = c;
  return LF_OK;
fail:
  free(w);
  lf_ckpt_close(c);
  return rc;
}

const char *lf_ckpt_path(const lf_ckpt *c) {
  return c->path;
}

lf_status lf_ckpt_len(lf_ckpt *c, const char *name, size_t *n) {
  return lf_h5_dset_len(c->file, name, n, c->path);
}

lf_status lf_ckpt_get(lf_ckpt *c, const char *name, lf_ckpt_type t, size_t n, void *data) {
  lf_status rc = LF_OK;
  size_t len = 0;
  LF_CHECK(lf_h5_dset_len(c->file, name, &len, c->path));
  if (len != n)
    return LF_FAIL(LF_ERR_FORMAT, "'%s': dataset '%s' has %zu values, expected %zu", c->path, name,
                   len, n);
  if (n == 0) return LF_OK;
  hid_t d = H5Dopen2(c->file, name, H5P_DEFAULT);
  if (d < 0) return LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot open dataset '%s'", c->path, name);
  hid_t ft = H5Dget_type(d);
  const H5T_class_t cls = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
  const size_t sz = ft >= 0 ? H5Tget_size(ft) : 0;
  if (ft >= 0) H5Tclose(ft);
  H5Dclose(d);
  const H5T_class_t want = t == LF_CKPT_F64 ? H5T_FLOAT : H5T_INTEGER;
  const size_t wsz = t == LF_CKPT_U8 ? 1 : 8;
  if (cls != want || sz != wsz)
    return LF_FAIL(LF_ERR_FORMAT, "'%s': dataset '%s' has another type than expected", c->path,
                   name);
  return lf_h5_dset_read_1d(c->file, name, mem_type(t), n, data, c->path);
fail:
  return rc;
}

lf_status lf_ckpt_get_i64(lf_ckpt *c, const char *name, int64_t *v) {
  return lf_h5_attr_read_i64(c->file, name, v, c->path, "/");
}

lf_status lf_ckpt_get_f64(lf_ckpt *c, const char *name, double *v) {
  return lf_h5_attr_read_f64(c->file, name, v, c->path, "/");
}

void lf_ckpt_close(lf_ckpt *c) {
  if (!c) return;
  release(c);
  free(c);
}

lf_status lf_ckpt_compat(const lf_config *stored, const lf_config *now, const char *what,
                         const char *path) {
  lf_config a = *stored, b = *now;
  /* run length and bookkeeping may change on resume */
  a.train.steps = b.train.steps;
  a.train.target_ess = b.train.target_ess;
  a.train.ess_window = b.train.ess_window;
  a.train.wall_time = b.train.wall_time;
  a.train.checkpoint_every = b.train.checkpoint_every;
  a.train.log_every = b.train.log_every;
  a.train.eval_samples = b.train.eval_samples;
  a.train.eval_every = b.train.eval_every;
  a.sample.proposals = b.sample.proposals;
  a.sample.checkpoint_every = b.sample.checkpoint_every;
  a.hmc.trajectories = b.hmc.trajectories;
  a.hmc.checkpoint_every = b.hmc.checkpoint_every;
  a.hmc.compare = b.hmc.compare;
  memcpy(a.output, b.output, sizeof a.output);
  /* sections the command does not read */
  if (!strcmp(what, "sample")) {
    a.train = b.train;
    a.hmc = b.hmc;
  } else if (!strcmp(what, "hmc")) {
    a.train = b.train;
    a.model = b.model;
    /* hmc.fermion matters only for schwinger, the CG keys only with pseudofermions */
    if (b.theory.name != LF_THEORY_SCHWINGER) a.hmc.fermion = b.hmc.fermion;
    if (a.hmc.fermion != LF_FERMION_PSEUDO || b.hmc.fermion != LF_FERMION_PSEUDO) {
      a.hmc.cg_tol = b.hmc.cg_tol;
      a.hmc.cg_maxiter = b.hmc.cg_maxiter;
    }
    const lf_save_kind save = a.sample.save; /* hmc stores configurations per sample.save */
    a.sample = b.sample;
    a.sample.save = save;
  } else {
    a.sample = b.sample;
    a.hmc = b.hmc;
  }
  char key[128];
  if (lf_config_diff(&a, &b, key, sizeof key) == 0) return LF_OK;
  return LF_FAIL(LF_ERR_CONFIG,
                 "'%s': cannot resume: '%s' differs between the checkpoint and the config "
                 "(a checkpoint continues only the same theory, architecture, seed and "
                 "algorithm; only run lengths such as train.stop.steps, sample.proposals or "
                 "hmc.trajectories may change)",
                 path, key);
}
