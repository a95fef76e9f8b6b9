/* The ensemble reader (contract: latflow/ensemble.h; layout: docs/FORMAT.md, "Ensemble
 * files"): lf_ens_read validates the whole file (shapes, lengths, row indices, stored
 * multiplicity) and loads it; lf_ens_read_configs reads configurations on demand. */
#include "io/ens_private.h"

#include "latflow/io.h"
#include "latflow/timer.h"

#include <stdlib.h>
#include <string.h>

const char *const lf_ens_kind_name[3] = {"imh", "reweight", "hmc"};

/* The chain columns; the last argument is the description per kind (imh, reweight, hmc),
 * ALL3(d): the same for every kind. */
#define ALL3(d) d, d, d

/* clang-format off */
#define FIELD(m, t) {#m, t, offsetof(lf_ens_step, m), NULL}
#define COL(m, t, flag, ...) {FIELD(m, t), flag, {__VA_ARGS__}}
/* clang-format on */
const lf_ens_col lf_ens_chain_cols[LF_ENS_NCOL] = {
    COL(row, LF_H5_I64, LF_ENS_EVERY,
        ALL3("per Monte Carlo step: the row (of obs, corr, configs) of the state after the "
             "step; never decreases")),
    COL(id, LF_H5_I64, LF_ENS_EVERY, "per step: proposal id", "per step: proposal id",
        "per step: trajectory number"),
    COL(logw, LF_H5_F64, LF_ENS_EVERY,
        "per step: log w = log p~ - log q of the proposal, unnormalized",
        "per step: log w = log p~ - log q of the proposal, unnormalized; row[i] = i, so "
        "obs[i] has weight exp(logw[i] - M), M the same for every chain",
        "NaN (HMC)"),
    COL(dH, LF_H5_F64, LF_ENS_EVERY, "NaN (flow)", "NaN (flow)",
        "per step: energy violation dH of the trajectory"),
    COL(accepted, LF_H5_I8, LF_ENS_EVERY,
        ALL3("per step: 1 if the proposal was accepted; acceptance = mean(accepted)")),
    /* declared by pseudofermion HMC (info.cg) */
    COL(cg_iters, LF_H5_I64, offsetof(lf_ens_info, cg),
        ALL3("per step: CG iterations of the trajectory (all solves)")),
    COL(cg_max, LF_H5_I64, offsetof(lf_ens_info, cg),
        ALL3("per step: CG iterations of the trajectory's longest solve"))};
#undef COL
#undef FIELD
#undef ALL3

size_t lf_ens_chain_schema(const lf_ens_info *in, lf_h5_field f[LF_ENS_NCOL]) {
  size_t n = 0;
  for (size_t c = 0; c < LF_ENS_NCOL; c++) {
    const lf_ens_col *col = &lf_ens_chain_cols[c];
    int declared = 1;
    if (col->flag != LF_ENS_EVERY) memcpy(&declared, (const char *)in + col->flag, sizeof declared);
    if (!declared) continue;
    f[n] = col->f;
    f[n++].desc = col->desc[in->kind];
  }
  return n;
}

void lf_ens_free(lf_ensemble *e) {
  if (!e) return;
  for (int r = 0; r < e->R; r++) {
    if (e->obs) free(e->obs[r]);
    if (e->corr) free(e->corr[r]);
    if (e->chain) free(e->chain[r]);
    if (e->mult) free(e->mult[r]);
  }
  LF_FREE_ALL(e->mult, e->rows, e->steps, e->obs, e->corr, e->chain);
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

lf_status lf_ens_read_info(hid_t f, const char *path, lf_ens_info *in, int *R) {
  lf_status rc = LF_OK;
  char kind[32];
  size_t nn = 0;
  H5G_info_t gi;
  memset(in, 0, sizeof *in);
  LF_CHECK(read_str(f, "kind", kind, sizeof kind, path));
  int k = 0;
  while (k < 3 && strcmp(kind, lf_ens_kind_name[k]) != 0) k++;
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
  int have_ms = 0; /* volume-transfer ensembles only */
  LF_CHECK(lf_h5_attr_exists(f, "model_shape", &have_ms, path, "/"));
  if (have_ms) {
    int ms[2] = {0, 0};
    size_t nms = 0;
    LF_CHECK(lf_h5_attr_read_i32v(f, "model_shape", ms, 2, &nms, path, "/"));
    if (nms != 2 || ms[0] < 1 || ms[1] < 1) {
      rc = LF_FAIL(LF_ERR_FORMAT, "'%s': root attribute model_shape is not two sizes >= 1", path);
      goto fail;
    }
    in->model_L0 = ms[0];
    in->model_L1 = ms[1];
  }
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
lf_status lf_ens_open_table(hid_t g, int r, const char *name, size_t width, hid_t *d, size_t *rows,
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

  LF_CHECK(lf_ens_open_table(g, r, dname[D_OBS], (size_t)in->nobs, &d, &rows, path));
  rc = read_all(d, H5T_NATIVE_DOUBLE, rows, (size_t)in->nobs, sizeof(double), (void **)&e->obs[r],
                r, dname[D_OBS], path);
  H5Dclose(d);
  d = -1;
  if (rc != LF_OK) goto fail;
  e->rows[r] = rows;
  if (in->ncorr > 0) {
    LF_CHECK(lf_ens_open_table(g, r, dname[D_CORR], (size_t)in->ncorr, &d, &n, path));
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
    LF_CHECK(lf_ens_open_table(g, r, dname[D_CONF], nphi, &d, &n, path));
    H5Dclose(d);
    d = -1;
    if (n != rows) {
      rc = LF_FAIL(LF_ERR_FORMAT, "'%s': dataset %s has %zu rows but /chain_%d/obs has %zu", path,
                   full_name(nm, sizeof nm, r, dname[D_CONF]), n, r, rows);
      goto fail;
    }
  }

  /* the chain table: the columns of lf_ens_chain_schema (five; seven with cg), 1-D and of
   * equal length, unpacked into lf_ens_step */
  lf_h5_field cols[LF_ENS_NCOL];
  const size_t ncol = lf_ens_chain_schema(in, cols);
  for (size_t c = 0; c < ncol; c++) {
    LF_CHECK(lf_ens_open_table(g, r, cols[c].name, 0, &d, &n, path));
    H5Dclose(d);
    d = -1;
    if (c == LF_ENS_ROW) {
      steps = n;
    } else if (n != steps) {
      rc = LF_FAIL(LF_ERR_FORMAT,
                   "'%s': dataset %s has %zu values but /chain_%d/row has %zu "
                   "(corrupted file?)",
                   path, full_name(nm, sizeof nm, r, cols[c].name), n, r, steps);
      goto fail;
    }
  }
  e->chain[r] = alloc_n(steps, sizeof(lf_ens_step));
  col = alloc_n(steps, LF_H5_MAX_SIZE);
  if (!e->chain[r] || !col) {
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': chain %d of %zu steps", path, r, steps);
    goto fail;
  }
  e->steps[r] = steps;
  lf_ens_step *s = e->chain[r];
  memset(s, 0, steps * sizeof *s); /* the fields of undeclared columns read 0 */
  for (size_t c = 0; c < ncol; c++) {
    LF_CHECK(lf_ens_open_table(g, r, cols[c].name, 0, &d, &n, path));
    rc = lf_h5_dset_read_rows(d, lf_h5_type_mem(cols[c].type), 0, steps, col, path,
                              full_name(nm, sizeof nm, r, cols[c].name));
    H5Dclose(d);
    d = -1;
    if (rc != LF_OK) goto fail;
    lf_h5_field_scatter(&cols[c], s, sizeof *s, steps, col);
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
    LF_CHECK(lf_ens_open_table(g, r, dname[D_MULT], 0, &d, &n, path));
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
  LF_CHECK(lf_ens_read_info(f, path, &e->info, &R));
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
  LF_CHECK(lf_ens_read_info(f, path, &in, &R));
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
  LF_CHECK(lf_ens_open_table(g, r, dname[D_CONF], nphi, &d, &rows, path));
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
