/* Model files: save, load and peek (contract: latflow/io.h; layout: docs/FORMAT.md).
 *
 * The stored config YAML is the authority for the architecture: load rebuilds the model
 * from it with lf_model_init and then fills the parameter arena bitwise from
 * /model/params. The attributes of /model repeat the architecture for people and tools
 * (h5dump, plots); load cross-checks the ones that decide the arena layout (C, shape,
 * precision, nparams, nbase) and the content hash, so a file whose YAML, attributes and
 * parameters disagree is refused instead of producing a different model. */
#include "latflow/io.h"

#include "io/h5util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The name of a precision ("single", "double"), as the /model attribute spells it. */
static const char *prec_name(lf_precision p) {
  return lf_model_arch_value_name(lf_model_arch_find("precision"), (int64_t)p);
}

/* The attributes of /model that the architecture table marks (LF_ARCH_ATTR), each under
 * its name: integers as int32, sizes as uint64, enums by their value names. */
static lf_status write_arch_attrs(hid_t g, const lf_model *m, const char *tmp, const char *o) {
  lf_status rc = LF_OK;
  size_t n = 0;
  const lf_model_arch_field *t = lf_model_arch_fields(&n);
  for (size_t i = 0; i < n; i++) {
    const lf_model_arch_field *f = &t[i];
    if (!(f->uses & LF_ARCH_ATTR)) continue;
    const char *at = (const char *)m + f->offset;
    switch (f->type) {
    case LF_ARCH_INT:
      LF_CHECK(lf_h5_attr_write_i32(g, f->name, (int)lf_model_arch_value(m, f), tmp, o));
      break;
    case LF_ARCH_ENUM:
      LF_CHECK(lf_h5_attr_write_str(
          g, f->name, lf_model_arch_value_name(f, lf_model_arch_value(m, f)), tmp, o));
      break;
    case LF_ARCH_SIZE:
      LF_CHECK(lf_h5_attr_write_u64(g, f->name, (uint64_t)lf_model_arch_value(m, f), tmp, o));
      break;
    case LF_ARCH_REAL:
      LF_CHECK(lf_h5_attr_write_f64(g, f->name, *(const double *)(const void *)at, tmp, o));
      break;
    case LF_ARCH_INTS:
      LF_CHECK(lf_h5_attr_write_i32v(g, f->name, (const int *)(const void *)at,
                                     (size_t)m->cfg.nhidden, tmp, o));
      break;
    }
  }
fail:
  return rc;
}

/* The /model group: architecture attributes, the params dataset, step and hash. */
static lf_status write_model_group(hid_t file, const lf_model *m, const lf_config *c,
                                   const char *tmp) {
  lf_status rc = LF_OK;
  hid_t g = -1;
  const char *o = "/model";
  const int shape[2] = {m->L0, m->L1};
  const hid_t mtype = m->real_size == sizeof(float) ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
  const hid_t ftype = m->real_size == sizeof(float) ? H5T_IEEE_F32LE : H5T_IEEE_F64LE;

  LF_CHECK(lf_h5_group_create(file, "model", &g, tmp));
  LF_CHECK(lf_h5_attr_write_str(g, "theory", lf_theory_name(c->theory.name), tmp, o));
  LF_CHECK(lf_h5_attr_write_i32v(g, "shape", shape, 2, tmp, o));
  LF_CHECK(write_arch_attrs(g, m, tmp, o));
  LF_CHECK(lf_h5_attr_write_u64(g, "optimizer_step", m->step, tmp, o));
  LF_CHECK(lf_h5_attr_write_f64(g, "train_seconds", m->train_seconds, tmp, o));
  LF_CHECK(lf_h5_attr_write_u64(g, "hash", lf_model_hash(m), tmp, o));
  /* the training cost, own and of the transfer chain (latflow/model.h) */
  LF_CHECK(lf_h5_attr_write_i64(g, "train_steps", (int64_t)m->train_steps, tmp, o));
  LF_CHECK(lf_h5_attr_write_i64(g, "n_train", m->n_train, tmp, o));
  LF_CHECK(lf_h5_attr_write_i64(g, "chain_steps", (int64_t)m->chain_steps, tmp, o));
  LF_CHECK(lf_h5_attr_write_i64(g, "chain_n_train", m->chain_n_train, tmp, o));
  LF_CHECK(lf_h5_attr_write_f64(g, "chain_seconds", m->chain_seconds, tmp, o));
  LF_CHECK(lf_h5_dset_write_1d(g, "params", mtype, ftype, m->nparams, m->params, tmp));
fail:
  if (g >= 0 && H5Gclose(g) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close group /model", tmp);
  return rc;
}

/* What a model file holds after its header (lf_h5_write_whole's body): /meta, /model. */
typedef struct model_body {
  const lf_model *m;
  const lf_config *c;
} model_body;

static lf_status write_model_body(hid_t file, const char *tmp, const void *ctx) {
  const model_body *b = ctx;
  lf_status rc = lf_h5_write_meta(file, b->c, 1, tmp);
  return rc == LF_OK ? write_model_group(file, b->m, b->c, tmp) : rc;
}

lf_status lf_io_model_save(const char *path, const lf_model *m, const lf_config *cfg,
                           int overwrite) {
  if (!path || !m || !cfg)
    return LF_FAIL(LF_ERR_INVALID, "lf_io_model_save: path, model and config are required");
  if (m->nparams > 0 && !m->params)
    return LF_FAIL(LF_ERR_INVALID, "'%s': model has %zu parameters but no parameter arena", path,
                   m->nparams);
  const size_t want = m->cfg.precision == LF_PREC_F64 ? sizeof(double) : sizeof(float);
  if (m->real_size != want)
    return LF_FAIL(LF_ERR_INVALID, "'%s': model real_size %zu does not match precision %s", path,
                   m->real_size, prec_name(m->cfg.precision));
  if (cfg->theory.shape[0] != m->L0 || cfg->theory.shape[1] != m->L1)
    return LF_FAIL(LF_ERR_INVALID,
                   "'%s': config theory.shape [%d, %d] differs from the model's "
                   "lattice [%d, %d]",
                   path, cfg->theory.shape[0], cfg->theory.shape[1], m->L0, m->L1);
  if (m->cfg.nhidden < 1 || m->cfg.nhidden > LF_MAX_HIDDEN)
    return LF_FAIL(LF_ERR_INVALID, "'%s': model has %d hidden widths, expected 1..%d", path,
                   m->cfg.nhidden, LF_MAX_HIDDEN);

  /* The stored YAML must rebuild exactly this model: take the architecture from m. */
  lf_config *c = malloc(sizeof *c);
  if (!c) return LF_FAIL(LF_ERR_NOMEM, "'%s': config copy", path);
  *c = *cfg;
  c->model = m->cfg;

  const model_body b = {m, c};
  const lf_status rc =
      lf_h5_write_whole(path, overwrite, "model", LF_IO_MODEL_FORMAT_VERSION, write_model_body, &b);
  free(c);
  return rc;
}

lf_status lf_io_model_peek(const char *path, lf_config *cfg_out) {
  lf_status rc = LF_OK;
  hid_t file = -1;
  if (!path || !cfg_out) return LF_FAIL(LF_ERR_INVALID, "lf_io_model_peek: path and cfg_out");
  LF_CHECK(lf_h5_open_latflow(path, "model", H5P_DEFAULT, &file, NULL, 0, NULL));
  LF_CHECK(lf_h5_read_config(file, cfg_out, path));
fail:
  if (file >= 0) H5Fclose(file);
  return rc;
}

/* Checks that /model/params is stored as IEEE floats of the model's size, so the read is
 * a bitwise copy and not a conversion. */
static lf_status check_params_type(hid_t g, size_t real_size, const char *path) {
  hid_t d = H5Dopen2(g, "params", H5P_DEFAULT);
  if (d < 0) return LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot open dataset /model/params", path);
  hid_t t = H5Dget_type(d);
  lf_status rc = LF_OK;
  if (t < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot read the type of /model/params", path);
  } else if (H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != real_size) {
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "'%s': /model/params holds %zu-byte values of class %d, expected "
                 "%zu-byte floats",
                 path, H5Tget_size(t), (int)H5Tget_class(t), real_size);
  }
  if (t >= 0) H5Tclose(t);
  H5Dclose(d);
  return rc;
}

/* The training cost attributes (written since issue 16); older files read as their own
 * run with the samples not recorded (latflow/model.h). */
static lf_status read_cost(hid_t g, lf_model *m, const char *path) {
  lf_status rc = LF_OK;
  const char *o = "/model";
  int has = 0;
  int64_t steps = 0, csteps = 0;
  m->train_steps = (long)m->step;
  m->n_train = -1;
  LF_CHECK(lf_h5_attr_exists(g, "chain_seconds", &has, path, o));
  if (has) {
    LF_CHECK(lf_h5_attr_read_i64(g, "train_steps", &steps, path, o));
    LF_CHECK(lf_h5_attr_read_i64(g, "n_train", &m->n_train, path, o));
    LF_CHECK(lf_h5_attr_read_i64(g, "chain_steps", &csteps, path, o));
    LF_CHECK(lf_h5_attr_read_i64(g, "chain_n_train", &m->chain_n_train, path, o));
    LF_CHECK(lf_h5_attr_read_f64(g, "chain_seconds", &m->chain_seconds, path, o));
    m->train_steps = (long)steps;
    m->chain_steps = (long)csteps;
  } else {
    m->chain_steps = m->train_steps;
    m->chain_n_train = m->n_train;
    m->chain_seconds = m->train_seconds;
  }
fail:
  return rc;
}

/* lf_io_model_load; sampling: the model as lf_model_init_sampling builds it. */
static lf_status model_load(const char *path, lf_config *cfg_out, lf_model *m_out, int Bmax,
                            int sampling) {
  lf_status rc = LF_OK;
  hid_t file = -1, g = -1;
  lf_config *own = NULL, *cfg = cfg_out;
  char *prec = NULL;
  const char *o = "/model";
  if (!path || !m_out) return LF_FAIL(LF_ERR_INVALID, "lf_io_model_load: path and model");
  memset(m_out, 0, sizeof *m_out);
  if (Bmax < 1) return LF_FAIL(LF_ERR_INVALID, "'%s': Bmax must be >= 1, got %d", path, Bmax);
  if (!cfg) {
    own = malloc(sizeof *own);
    if (!own) return LF_FAIL(LF_ERR_NOMEM, "'%s': config", path);
    cfg = own;
  }
  LF_CHECK(lf_h5_open_latflow(path, "model", H5P_DEFAULT, &file, NULL, 0, NULL));
  LF_CHECK(lf_h5_read_config(file, cfg, path));
  LF_CHECK(lf_h5_group_open(file, "model", &g, path));

  int64_t C = 0;
  int shape[2] = {0, 0};
  size_t nshape = 0;
  uint64_t nparams = 0, nbase = 0, hash = 0, step = 0;
  LF_CHECK(lf_h5_attr_read_i64(g, "C", &C, path, o));
  LF_CHECK(lf_h5_attr_read_i32v(g, "shape", shape, 2, &nshape, path, o));
  LF_CHECK(lf_h5_attr_read_u64(g, "nparams", &nparams, path, o));
  LF_CHECK(lf_h5_attr_read_u64(g, "nbase", &nbase, path, o));
  LF_CHECK(lf_h5_attr_read_u64(g, "hash", &hash, path, o));
  LF_CHECK(lf_h5_attr_read_u64(g, "optimizer_step", &step, path, o));
  LF_CHECK(lf_h5_attr_read_str(g, "precision", &prec, path, o));
  if (nshape != 2 || shape[0] != cfg->theory.shape[0] || shape[1] != cfg->theory.shape[1]) {
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "'%s': /model shape [%d, %d] disagrees with the stored config's "
                 "theory.shape [%d, %d] (corrupted file?)",
                 path, shape[0], nshape == 2 ? shape[1] : -1, cfg->theory.shape[0],
                 cfg->theory.shape[1]);
    goto fail;
  }
  if (strcmp(prec, prec_name(cfg->model.precision)) != 0) {
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "'%s': /model precision '%s' disagrees with the stored config's "
                 "model.precision '%s' (corrupted file?)",
                 path, prec, prec_name(cfg->model.precision));
    goto fail;
  }
  if (C < 1 || C > 64) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': /model C = %lld components per site is out of range 1..64",
                 path, (long long)C);
    goto fail;
  }

  LF_CHECK((sampling ? lf_model_init_sampling : lf_model_init)(m_out, &cfg->model, (int)C, shape[0],
                                                               shape[1], Bmax));
  if ((uint64_t)m_out->nparams != nparams || (uint64_t)m_out->nbase != nbase) {
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "'%s': file has nparams %" PRIu64 " (nbase %" PRIu64 "), the "
                 "model built from its config has %zu (nbase %zu)",
                 path, nparams, nbase, m_out->nparams, m_out->nbase);
    goto fail;
  }
  LF_CHECK(check_params_type(g, m_out->real_size, path));
  LF_CHECK(lf_h5_dset_read_1d(
      g, "params", m_out->real_size == sizeof(float) ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE,
      m_out->nparams, m_out->params, path));
  m_out->step = step;
  int has_ts = 0; /* written since the sampling issue; older files have none (0 s) */
  LF_CHECK(lf_h5_attr_exists(g, "train_seconds", &has_ts, path, o));
  if (has_ts) LF_CHECK(lf_h5_attr_read_f64(g, "train_seconds", &m_out->train_seconds, path, o));
  LF_CHECK(read_cost(g, m_out, path));

  const uint64_t have = lf_model_hash(m_out);
  if (have != hash) {
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "%s: parameter hash mismatch: file says %016" PRIx64 ", data gives %016" PRIx64
                 " (corrupted file?)",
                 path, hash, have);
    goto fail;
  }
  free(prec);
  free(own);
  H5Gclose(g);
  H5Fclose(file);
  return LF_OK;
fail:
  lf_model_free(m_out);
  memset(m_out, 0, sizeof *m_out);
  free(prec);
  free(own);
  if (g >= 0) H5Gclose(g);
  if (file >= 0) H5Fclose(file);
  return rc;
}

lf_status lf_io_model_copy_params(lf_model *dst, const lf_model *src) {
  if (dst->nparams != src->nparams)
    return LF_FAIL(LF_ERR_CONFIG, "parameter transfer: %zu parameters into a model of %zu",
                   src->nparams, dst->nparams);
  double *p = malloc((dst->nparams ? dst->nparams : 1) * sizeof *p);
  if (!p) return LF_FAIL(LF_ERR_NOMEM, "transfer buffer of %zu parameters", dst->nparams);
  lf_model_get_params(src, p);
  lf_model_set_params(dst, p);
  free(p);
  return LF_OK;
}

lf_status lf_io_model_load(const char *path, lf_config *cfg_out, lf_model *m_out, int Bmax) {
  return model_load(path, cfg_out, m_out, Bmax, 0);
}

/* lf_io_model_load_on; sampling: as in model_load. */
static lf_status model_load_on(const char *path, int L0, int L1, lf_config *cfg_out,
                               lf_model *m_out, int Bmax, int sampling) {
  lf_status rc = LF_OK;
  lf_model src;
  memset(&src, 0, sizeof src);
  if (!path || !cfg_out || !m_out)
    return LF_FAIL(LF_ERR_INVALID, "lf_io_model_load_on: path, cfg_out and model");
  memset(m_out, 0, sizeof *m_out);
  /* the stored shape first, so a model of the right lattice is built only once */
  LF_CHECK(lf_io_model_peek(path, cfg_out));
  const int T0 = cfg_out->theory.shape[0], T1 = cfg_out->theory.shape[1];
  if (T0 == L0 && T1 == L1) return model_load(path, cfg_out, m_out, Bmax, sampling);
  LF_CHECK(model_load(path, cfg_out, &src, 1, sampling));
  rc = (sampling ? lf_model_init_sampling : lf_model_init)(m_out, &src.cfg, src.C, L0, L1, Bmax);
  if (rc != LF_OK) {
    char why[1024];
    snprintf(why, sizeof why, "%s", lf_last_error());
    rc = lf_fail_msg(LF_ERR_CONFIG,
                     "model '%s' was trained on %dx%d; its architecture cannot run on the %dx%d "
                     "lattice of theory.shape (%s): volume transfer is not possible, train a "
                     "model for %dx%d",
                     path, T0, T1, L0, L1, why, L0, L1);
    goto fail;
  }
  LF_CHECK(lf_io_model_copy_params(m_out, &src));
  m_out->step = src.step;
  m_out->train_seconds = src.train_seconds;
  m_out->train_steps = src.train_steps;
  m_out->n_train = src.n_train;
  m_out->chain_steps = src.chain_steps;
  m_out->chain_n_train = src.chain_n_train;
  m_out->chain_seconds = src.chain_seconds;
  lf_model_free(&src);
  return LF_OK;
fail:
  lf_model_free(&src);
  lf_model_free(m_out);
  memset(m_out, 0, sizeof *m_out);
  return rc;
}

lf_status lf_io_model_load_on(const char *path, int L0, int L1, lf_config *cfg_out, lf_model *m_out,
                              int Bmax) {
  return model_load_on(path, L0, L1, cfg_out, m_out, Bmax, 0);
}

lf_status lf_io_model_load_sampling(const char *path, int L0, int L1, lf_config *cfg_out,
                                    lf_model *m_out, int Bmax) {
  return model_load_on(path, L0, L1, cfg_out, m_out, Bmax, 1);
}
