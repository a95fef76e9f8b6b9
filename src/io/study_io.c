/* Study files: the table, the curves and the provenance of a study in one HDF5 file, and
 * the same as CSV for spreadsheets (contract: latflow/study.h; layout: docs/FORMAT.md
 * "Study files").
 *
 * The numeric fields of a point's result, of a volume evaluation and of an evaluation
 * record are described once by field tables (io/schema.h), which write and read their
 * columns; the same tables name the CSV columns. Strings (labels, folders, overrides) are
 * 1-D datasets of fixed-length strings; lists of overrides of several owners (the cases,
 * the points) are stored ragged: <prefix>nset per owner, then every owner's keys and
 * values in order. Every count the reader needs is an attribute checked against the
 * limits of latflow/study.h, so a damaged file is refused instead of overrunning a struct.
 * The writer makes every object in one fixed order with untimed property lists, so the
 * bytes depend only on the study (and created_utc). */
#include "latflow/study.h"

#include "io/schema.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The long fields of the results are stored as int64 through the field tables. */
_Static_assert(sizeof(long) == sizeof(int64_t), "study_io.c stores long fields as int64");

/* ---- field tables ---------------------------------------------------------------------- */

/* Field `member` of struct `rec`, stored as `type` (io/schema.h). */
#define FIELD(rec, member, type, desc)                                                             \
  { #member, type, offsetof(rec, member), desc }

/* The scalars of a point's result: columns of /points and /root, columns of study.csv. */
static const lf_h5_field rcol[] = {
    FIELD(lf_study_result, done, LF_H5_I32, "1 if the point finished (its point.json exists)"),
    FIELD(lf_study_result, steps, LF_H5_I64, "training steps of the point's own run"),
    FIELD(lf_study_result, n_train, LF_H5_I64, "samples flowed by the point's own training"),
    FIELD(lf_study_result, train_seconds, LF_H5_F64,
          "training wall seconds of the point (evaluations excluded)"),
    FIELD(lf_study_result, cpu_seconds, LF_H5_F64,
          "train_seconds times the training ranks (core seconds)"),
    FIELD(lf_study_result, steps_chain, LF_H5_I64,
          "steps of the point and of every ancestor (transfer chain)"),
    FIELD(lf_study_result, n_train_chain, LF_H5_I64,
          "samples flowed by the point and every ancestor"),
    FIELD(lf_study_result, seconds_chain, LF_H5_F64,
          "training wall seconds of the point and every ancestor"),
    FIELD(lf_study_result, ess_eval, LF_H5_F64, "fresh-sample ESS fraction of the last evaluation"),
    FIELD(lf_study_result, ess_err, LF_H5_F64, "jackknife error of ess_eval (NaN if unknown)"),
    FIELD(lf_study_result, acceptance, LF_H5_F64,
          "IMH acceptance over the last evaluation's samples"),
    FIELD(lf_study_result, eval_samples, LF_H5_I64, "fresh samples of the last evaluation"),
    FIELD(lf_study_result, eff_per_second, LF_H5_F64,
          "ess_eval * eval_samples / eval_seconds (flow sampling only)"),
    FIELD(lf_study_result, law_ess_anchor, LF_H5_F64,
          "ESS(V0) implied by the largest volume, ESS(Vmax)^(V0/Vmax)"),
    FIELD(lf_study_result, law_ess_v0, LF_H5_F64,
          "ESS(V0) of the fit ESS(V) = ESS(V0)^(V/V0) over the volumes"),
    FIELD(lf_study_result, law_ess_v0_err, LF_H5_F64, "error of law_ess_v0"),
    FIELD(lf_study_result, law_chi2_dof, LF_H5_F64, "chi^2/dof of that fit (NaN with one volume)"),
    FIELD(lf_study_result, imh_acceptance, LF_H5_F64,
          "acceptance of the point's IMH ensemble (study.sample)"),
    FIELD(lf_study_result, mass, LF_H5_F64, "pole mass of the flow ensemble (Schwinger: the pion)"),
    FIELD(lf_study_result, mass_err, LF_H5_F64, "error of mass"),
    FIELD(lf_study_result, eff_s_flow, LF_H5_F64,
          "flow: effective samples per second of the first observable"),
    FIELD(lf_study_result, eff_s_hmc, LF_H5_F64,
          "HMC: effective samples per second of the first observable"),
    FIELD(lf_study_result, eff_s_flow_with_train, LF_H5_F64, "flow, training time included")};
#define NRCOL (sizeof rcol / sizeof rcol[0])

/* The per-target arrays of a result: datasets [rows, ntargets] (offset: element 0). */
static const lf_h5_field tcol[] = {
    FIELD(lf_study_result, target_steps, LF_H5_I64,
          "step of the first evaluation with ESS >= target (-1: never)"),
    FIELD(lf_study_result, target_n_train, LF_H5_I64, "its N_train, own (-1: never)"),
    FIELD(lf_study_result, target_n_train_chain, LF_H5_I64,
          "its N_train with the ancestors' (-1: never)"),
    FIELD(lf_study_result, target_seconds, LF_H5_F64, "its training seconds, own (NaN: never)"),
    FIELD(lf_study_result, target_seconds_chain, LF_H5_F64,
          "its training seconds with the ancestors' (NaN: never)")};
#define NTCOL (sizeof tcol / sizeof tcol[0])

/* A volume evaluation: columns of <results>/volumes, row p * nvolumes + v. */
static const lf_h5_field vcol[] = {
    FIELD(lf_study_volume, L0, LF_H5_I32, "lattice extent 0"),
    FIELD(lf_study_volume, L1, LF_H5_I32, "lattice extent 1"),
    FIELD(lf_study_volume, samples, LF_H5_I64, "fresh samples evaluated (0: not evaluated)"),
    FIELD(lf_study_volume, ess, LF_H5_F64, "fresh-sample ESS fraction at this lattice"),
    FIELD(lf_study_volume, ess_err, LF_H5_F64, "its jackknife error"),
    FIELD(lf_study_volume, acceptance, LF_H5_F64, "IMH acceptance over the samples in order"),
    FIELD(lf_study_volume, eval_seconds, LF_H5_F64, "wall seconds of the evaluation"),
    FIELD(lf_study_volume, mass, LF_H5_F64,
          "pole mass of the IMH ensemble at this lattice (NaN: none)"),
    FIELD(lf_study_volume, mass_err, LF_H5_F64, "its error")};
#define NVCOL (sizeof vcol / sizeof vcol[0])

/* The numbers of a point: columns of /points. */
static const lf_h5_field pcol[] = {
    FIELD(lf_study_point, index, LF_H5_I32, "index of the point"),
    FIELD(lf_study_point, parent, LF_H5_I32,
          "-1: from scratch, -2: from the root, else its predecessor's index")};
#define NPCOL (sizeof pcol / sizeof pcol[0])

/* The numeric attributes of /spec. */
static const lf_h5_field spec_attrs[] = {FIELD(lf_study_spec, sample, LF_H5_I32, NULL),
                                         FIELD(lf_study_spec, volume_samples, LF_H5_I64, NULL),
                                         FIELD(lf_study_spec, volume_proposals, LF_H5_I64, NULL),
                                         FIELD(lf_study_spec, has_root, LF_H5_I32, NULL),
                                         FIELD(lf_study_spec, nkeys, LF_H5_I32, NULL),
                                         FIELD(lf_study_spec, ncases, LF_H5_I32, NULL),
                                         FIELD(lf_study_spec, ntargets, LF_H5_I32, NULL),
                                         FIELD(lf_study_spec, nvolumes, LF_H5_I32, NULL)};

/* The numeric root attributes. */
static const lf_h5_field root_attrs[] = {FIELD(lf_study, train_ranks, LF_H5_I32, NULL),
                                         FIELD(lf_study, npoints, LF_H5_I32, NULL),
                                         FIELD(lf_study, has_root, LF_H5_I32, NULL)};

static const char *const protocol_names[] = {"scratch", "root", "sequential"};

/* ---- small helpers ----------------------------------------------------------------------- */

/* A field table at loc: n records at recs (stride bytes apart) as columns, each with its
 * description. unit names a row in messages. */
static lf_status put_table(hid_t loc, const lf_h5_field *f, size_t nf, size_t stride,
                           const void *recs, size_t n, const char *prefix, const char *path) {
  hid_t dset[NRCOL];
  unsigned char *scratch = malloc((n ? n : 1) * LF_H5_MAX_SIZE);
  if (!scratch) return LF_FAIL(LF_ERR_NOMEM, "'%s': table %s of %zu rows", path, prefix, n);
  lf_h5_table t = {f, nf, stride, loc, prefix, "rows", path, dset};
  lf_h5_table_init(&t);
  lf_status rc = lf_h5_table_create(&t, LF_H5_ROWS_LAZY, n ? n : 1);
  if (rc == LF_OK) rc = lf_h5_table_append(&t, 0, n, recs, scratch, H5P_DEFAULT);
  rc = lf_h5_table_close(&t, rc);
  free(scratch);
  return rc;
}

/* Reads a field table of exactly n rows at loc into the records at recs. */
static lf_status get_table(hid_t loc, const lf_h5_field *f, size_t nf, size_t stride, void *recs,
                           size_t n, const char *prefix, const char *path) {
  size_t len = 0;
  const lf_h5_table t = {f, nf, stride, loc, prefix, "rows", path, NULL};
  lf_status rc = lf_h5_table_len(&t, &len);
  if (rc != LF_OK) return rc;
  if (len != n)
    return LF_FAIL(LF_ERR_FORMAT, "'%s': table %s has %zu rows, expected %zu (corrupted file?)",
                   path, prefix, len, n);
  unsigned char *scratch = malloc((n ? n : 1) * LF_H5_MAX_SIZE);
  if (!scratch) return LF_FAIL(LF_ERR_NOMEM, "'%s': table %s of %zu rows", path, prefix, n);
  rc = lf_h5_table_read(&t, n, recs, scratch);
  free(scratch);
  return rc;
}

/* A numeric dataset [rows] (width 0) or [rows, width] of type t from buf. */
static lf_status put_arr(hid_t loc, const char *name, lf_h5_type t, size_t rows, size_t width,
                         const void *buf, const char *path) {
  hid_t d = -1;
  lf_status rc =
      lf_h5_dset_create(loc, name, lf_h5_type_file(t), LF_H5_FIXED, rows, width, &d, path);
  if (rc == LF_OK)
    rc = lf_h5_dset_write_rows(d, lf_h5_type_mem(t), 0, rows, buf, H5P_DEFAULT, path, name);
  if (d >= 0 && H5Dclose(d) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close dataset %s", path, name);
  return rc;
}

/* Reads a numeric dataset of exactly that shape (width 0: 1-D) into buf. */
static lf_status get_arr(hid_t loc, const char *name, lf_h5_type t, size_t rows, size_t width,
                         void *buf, const char *path) {
  hid_t d = -1;
  int nd = 0;
  size_t dims[2];
  lf_status rc = lf_h5_dset_open_rows(loc, name, &d, &nd, dims, path);
  if (rc != LF_OK) return rc;
  if (nd != (width ? 2 : 1) || dims[0] != rows || (width && dims[1] != width))
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': dataset %s has shape [%zu, %zu], expected [%zu, %zu]", path,
                 name, dims[0], nd == 2 ? dims[1] : 0, rows, width);
  else
    rc = lf_h5_dset_read_rows(d, lf_h5_type_mem(t), 0, rows, buf, path, name);
  H5Dclose(d);
  return rc;
}

/* A fixed-length string type of size bytes (NUL-terminated, UTF-8); -1 on failure. */
static hid_t str_type(size_t size) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t >= 0 && (H5Tset_size(t, size) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
                 H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
    H5Tclose(t);
    return -1;
  }
  return t;
}

/* A 1-D dataset of the n strings at base + i * stride (size: the longest + 1). */
static lf_status put_strs(hid_t loc, const char *name, const char *base, size_t stride, size_t n,
                          const char *path) {
  size_t size = 1;
  for (size_t i = 0; i < n; i++) {
    const size_t len = strnlen(base + i * stride, stride);
    if (len == stride)
      return LF_FAIL(LF_ERR_INVALID, "'%s': string %zu of %s is not terminated", path, i, name);
    if (len + 1 > size) size = len + 1;
  }
  char *buf = calloc(n ? n : 1, size);
  if (!buf) return LF_FAIL(LF_ERR_NOMEM, "'%s': %s (%zu x %zu bytes)", path, name, n, size);
  for (size_t i = 0; i < n; i++)
    memcpy(buf + i * size, base + i * stride, strlen(base + i * stride));
  lf_status rc = LF_OK;
  hid_t d = -1, t = str_type(size);
  if (t < 0) rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot make a string type for %s", path, name);
  if (rc == LF_OK) rc = lf_h5_dset_create(loc, name, t, LF_H5_FIXED, n, 0, &d, path);
  if (rc == LF_OK && n > 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot write dataset %s", path, name);
  if (d >= 0 && H5Dclose(d) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close dataset %s", path, name);
  if (t >= 0) H5Tclose(t);
  free(buf);
  return rc;
}

/* Reads a 1-D string dataset of exactly n fixed-length strings into base + i * stride; a
 * string longer than stride - 1 bytes is LF_ERR_FORMAT. */
static lf_status get_strs(hid_t loc, const char *name, char *base, size_t stride, size_t n,
                          const char *path) {
  hid_t d = -1, ft = -1, mt = -1;
  int nd = 0;
  size_t dims[2];
  char *buf = NULL;
  lf_status rc = lf_h5_dset_open_rows(loc, name, &d, &nd, dims, path);
  if (rc != LF_OK) return rc;
  ft = H5Dget_type(d);
  if (nd != 1 || dims[0] != n) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': dataset %s has %zu strings, expected %zu", path, name,
                 dims[0], n);
    goto done;
  }
  if (ft < 0 || H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) != 0) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': dataset %s is not of fixed-length strings", path, name);
    goto done;
  }
  const size_t size = H5Tget_size(ft);
  buf = calloc(n ? n : 1, size + 1);
  mt = str_type(size + 1);
  if (!buf || mt < 0) {
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': %s (%zu x %zu bytes)", path, name, n, size);
    goto done;
  }
  if (n > 0 && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
    rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot read dataset %s", path, name);
    goto done;
  }
  for (size_t i = 0; i < n && rc == LF_OK; i++) {
    const char *v = buf + i * (size + 1);
    const size_t len = strnlen(v, size);
    if (len + 1 > stride)
      rc = LF_FAIL(LF_ERR_FORMAT, "'%s': string %zu of %s has %zu bytes, at most %zu allowed", path,
                   i, name, len, stride - 1);
    else {
      memcpy(base + i * stride, v, len);
      base[i * stride + len] = '\0';
    }
  }
done:
  free(buf);
  if (mt >= 0) H5Tclose(mt);
  if (ft >= 0) H5Tclose(ft);
  H5Dclose(d);
  return rc;
}

/* LF_ERR_FORMAT unless 0 <= v <= hi (v: attribute name of objname, as read). */
static lf_status in_range(int v, int hi, const char *name, const char *path, const char *objname) {
  if (v < 0 || v > hi)
    return LF_FAIL(LF_ERR_FORMAT,
                   "'%s': attribute %s of %s is %d, expected 0..%d (corrupted file?)", path, name,
                   objname, v, hi);
  return LF_OK;
}

/* ---- ragged lists of overrides ------------------------------------------------------------ */

/* The overrides of one owner (a case, the root, a point). */
typedef struct set_list {
  lf_study_set *set; /* (LF_STUDY_MAX_SETS) */
  int *n;
} set_list;

/* <prefix>nset [nl] and <prefix>keys, <prefix>values [sum of nset]: every owner's
 * overrides, owner after owner. */
static lf_status put_sets(hid_t loc, const char *prefix, const set_list *l, int nl,
                          const char *path) {
  char name[64];
  int *ns = calloc((size_t)(nl ? nl : 1), sizeof *ns);
  size_t total = 0;
  for (int i = 0; i < nl; i++) total += (size_t)*l[i].n;
  lf_study_set *all = calloc(total ? total : 1, sizeof *all);
  lf_status rc = LF_OK;
  if (!ns || !all) {
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': %zu overrides", path, total);
    goto done;
  }
  for (int i = 0, k = 0; i < nl; i++) {
    ns[i] = *l[i].n;
    for (int s = 0; s < ns[i]; s++) all[k++] = l[i].set[s];
  }
  snprintf(name, sizeof name, "%snset", prefix);
  LF_CHECK(put_arr(loc, name, LF_H5_I32, (size_t)nl, 0, ns, path));
  snprintf(name, sizeof name, "%skeys", prefix);
  LF_CHECK(put_strs(loc, name, all[0].key, sizeof *all, total, path));
  snprintf(name, sizeof name, "%svalues", prefix);
  LF_CHECK(put_strs(loc, name, all[0].value, sizeof *all, total, path));
fail:
done:
  free(ns);
  free(all);
  return rc;
}

/* Reads what put_sets wrote for nl owners (each at most LF_STUDY_MAX_SETS overrides). */
static lf_status get_sets(hid_t loc, const char *prefix, const set_list *l, int nl,
                          const char *path) {
  char name[64];
  int *ns = calloc((size_t)(nl ? nl : 1), sizeof *ns);
  lf_study_set *all = NULL;
  size_t total = 0;
  lf_status rc = LF_OK;
  if (!ns) return LF_FAIL(LF_ERR_NOMEM, "'%s': %d override counts", path, nl);
  snprintf(name, sizeof name, "%snset", prefix);
  LF_CHECK(get_arr(loc, name, LF_H5_I32, (size_t)nl, 0, ns, path));
  for (int i = 0; i < nl; i++) {
    if (ns[i] < 0 || ns[i] > LF_STUDY_MAX_SETS) {
      rc = LF_FAIL(LF_ERR_FORMAT, "'%s': %s[%d] is %d, expected 0..%d (corrupted file?)", path,
                   name, i, ns[i], LF_STUDY_MAX_SETS);
      goto fail;
    }
    total += (size_t)ns[i];
  }
  if (!(all = calloc(total ? total : 1, sizeof *all))) {
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': %zu overrides", path, total);
    goto fail;
  }
  snprintf(name, sizeof name, "%skeys", prefix);
  LF_CHECK(get_strs(loc, name, all[0].key, sizeof *all, total, path));
  snprintf(name, sizeof name, "%svalues", prefix);
  LF_CHECK(get_strs(loc, name, all[0].value, sizeof *all, total, path));
  for (int i = 0, k = 0; i < nl; i++) {
    *l[i].n = ns[i];
    for (int s = 0; s < ns[i]; s++) l[i].set[s] = all[k++];
  }
fail:
  free(ns);
  free(all);
  return rc;
}

/* ---- results (the points' and the root's) ------------------------------------------------- */

/* The n results at r into group loc: the scalar columns, stop_reason, the per-target
 * arrays, curves/<row> and volumes/ (rows p * nvolumes + v). */
static lf_status put_results(hid_t loc, const lf_study_result *r, int n, int nt, int nv,
                             const char *path) {
  lf_status rc = LF_OK;
  char name[32];
  hid_t g = -1, c = -1;
  size_t ne = 0;
  const lf_h5_field *ecol = lf_io_eval_fields(&ne);
  const size_t nrow = (size_t)n, nvr = nrow * (size_t)nv;
  void *buf = malloc((nrow * (size_t)nt + nvr + 1) * sizeof(lf_study_volume));
  if (!buf) return LF_FAIL(LF_ERR_NOMEM, "'%s': %d results", path, n);
  LF_CHECK(put_table(loc, rcol, NRCOL, sizeof *r, r, nrow, "results", path));
  LF_CHECK(put_strs(loc, "stop_reason", r ? r->stop_reason : "", sizeof *r, nrow, path));
  for (size_t f = 0; f < NTCOL && nt > 0; f++) { /* [n, nt] row-major */
    for (size_t i = 0; i < nrow; i++)
      memcpy((char *)buf + i * (size_t)nt * 8, (const char *)&r[i] + tcol[f].offset,
             (size_t)nt * 8);
    LF_CHECK(put_arr(loc, tcol[f].name, tcol[f].type, nrow, (size_t)nt, buf, path));
  }
  LF_CHECK(lf_h5_group_create(loc, "curves", &g, path));
  for (int i = 0; i < n; i++) {
    snprintf(name, sizeof name, "%d", i);
    LF_CHECK(lf_h5_group_create(g, name, &c, path));
    LF_CHECK(put_table(c, ecol, ne, sizeof *r[i].curve, r[i].curve, r[i].ncurve, "curve", path));
    H5Gclose(c);
    c = -1;
  }
  if (nv > 0) {
    lf_study_volume *v = buf;
    for (size_t i = 0; i < nrow; i++)
      memcpy(v + i * (size_t)nv, r[i].volumes, (size_t)nv * sizeof *v);
    H5Gclose(g);
    g = -1;
    LF_CHECK(lf_h5_group_create(loc, "volumes", &g, path));
    LF_CHECK(put_table(g, vcol, NVCOL, sizeof *v, v, nvr, "volumes", path));
  }
fail:
  if (c >= 0) H5Gclose(c);
  if (g >= 0) H5Gclose(g);
  free(buf);
  return rc;
}

/* Reads what put_results wrote for n results into r (zeroed; curves allocated). */
static lf_status get_results(hid_t loc, lf_study_result *r, int n, int nt, int nv,
                             const char *path) {
  lf_status rc = LF_OK;
  char name[32];
  hid_t g = -1, c = -1;
  size_t ne = 0;
  const lf_h5_field *ecol = lf_io_eval_fields(&ne);
  const size_t nrow = (size_t)n, nvr = nrow * (size_t)nv;
  void *buf = malloc((nrow * (size_t)nt + nvr + 1) * sizeof(lf_study_volume));
  if (!buf) return LF_FAIL(LF_ERR_NOMEM, "'%s': %d results", path, n);
  LF_CHECK(get_table(loc, rcol, NRCOL, sizeof *r, r, nrow, "results", path));
  LF_CHECK(get_strs(loc, "stop_reason", r ? r->stop_reason : NULL, sizeof *r, nrow, path));
  for (size_t f = 0; f < NTCOL && nt > 0; f++) {
    LF_CHECK(get_arr(loc, tcol[f].name, tcol[f].type, nrow, (size_t)nt, buf, path));
    for (size_t i = 0; i < nrow; i++)
      memcpy((char *)&r[i] + tcol[f].offset, (const char *)buf + i * (size_t)nt * 8,
             (size_t)nt * 8);
  }
  LF_CHECK(lf_h5_group_open(loc, "curves", &g, path));
  for (int i = 0; i < n; i++) {
    size_t len = 0;
    snprintf(name, sizeof name, "curves/%d", i); /* the message names curves/<row> */
    LF_CHECK(lf_h5_group_open(loc, name, &c, path));
    const lf_h5_table t = {ecol, ne, sizeof *r[i].curve, c, "curve", "rows", path, NULL};
    LF_CHECK(lf_h5_table_len(&t, &len));
    if (!(r[i].curve = calloc(len ? len : 1, sizeof *r[i].curve))) {
      rc = LF_FAIL(LF_ERR_NOMEM, "'%s': curve %d of %zu evaluations", path, i, len);
      goto fail;
    }
    r[i].ncurve = len;
    LF_CHECK(get_table(c, ecol, ne, sizeof *r[i].curve, r[i].curve, len, "curve", path));
    H5Gclose(c);
    c = -1;
  }
  if (nv > 0) {
    lf_study_volume *v = buf;
    H5Gclose(g);
    g = -1;
    LF_CHECK(lf_h5_group_open(loc, "volumes", &g, path));
    LF_CHECK(get_table(g, vcol, NVCOL, sizeof *v, v, nvr, "volumes", path));
    for (size_t i = 0; i < nrow; i++)
      memcpy(r[i].volumes, v + i * (size_t)nv, (size_t)nv * sizeof *v);
  }
fail:
  if (c >= 0) H5Gclose(c);
  if (g >= 0) H5Gclose(g);
  free(buf);
  return rc;
}

/* ---- the spec ----------------------------------------------------------------------------- */

/* The group /spec: the study section as parsed. */
static lf_status put_spec(hid_t file, const lf_study_spec *sp, const char *path) {
  lf_status rc = LF_OK;
  hid_t g = -1;
  const char *o = "/spec";
  set_list cases[LF_STUDY_MAX_CASES];
  int nvalues = 0;
  char(*values)[LF_STUDY_VALUE_MAX] =
      calloc(LF_STUDY_MAX_KEYS * LF_STUDY_MAX_VALUES, sizeof *values);
  if (!values) return LF_FAIL(LF_ERR_NOMEM, "'%s': grid values", path);
  for (int k = 0; k < sp->nkeys; k++) /* packed: key after key */
    for (int v = 0; v < sp->nvalues[k]; v++)
      memcpy(values[nvalues++], sp->values[k][v], sizeof *values);
  for (int c = 0; c < sp->ncases; c++)
    cases[c] = (set_list){(lf_study_set *)sp->cases[c].set, (int *)&sp->cases[c].nset};
  const set_list root = {(lf_study_set *)sp->root, (int *)&sp->nroot};
  LF_CHECK(lf_h5_group_create(file, "spec", &g, path));
  LF_CHECK(lf_h5_attr_write_str(g, "name", sp->name, path, o));
  LF_CHECK(lf_h5_attr_write_str(g, "source", sp->source, path, o));
  LF_CHECK(lf_h5_attr_write_str(g, "protocol", protocol_names[sp->protocol], path, o));
  LF_CHECK(lf_h5_attr_write_str(g, "x", sp->x, path, o));
  LF_CHECK(lf_h5_attrs_write(g, spec_attrs, sizeof spec_attrs / sizeof *spec_attrs, sp, path, o));
  LF_CHECK(put_strs(g, "grid_keys", sp->keys[0], sizeof sp->keys[0], (size_t)sp->nkeys, path));
  LF_CHECK(put_arr(g, "grid_nvalues", LF_H5_I32, (size_t)sp->nkeys, 0, sp->nvalues, path));
  LF_CHECK(put_strs(g, "grid_values", values[0], sizeof *values, (size_t)nvalues, path));
  LF_CHECK(put_strs(g, "case_labels", sp->cases[0].label, sizeof sp->cases[0], (size_t)sp->ncases,
                    path));
  LF_CHECK(put_sets(g, "case_", cases, sp->ncases, path));
  LF_CHECK(put_sets(g, "root_", &root, 1, path));
  LF_CHECK(put_arr(g, "targets", LF_H5_F64, (size_t)sp->ntargets, 0, sp->targets, path));
  if (sp->nvolumes > 0)
    LF_CHECK(put_arr(g, "volumes", LF_H5_I32, (size_t)sp->nvolumes, 2, sp->volumes, path));
fail:
  if (g >= 0 && H5Gclose(g) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close group /spec", path);
  free(values);
  return rc;
}

/* Reads /spec into sp (zeroed by the caller). */
static lf_status get_spec(hid_t file, lf_study_spec *sp, const char *path) {
  lf_status rc = LF_OK;
  hid_t g = -1;
  const char *o = "/spec";
  char proto[32];
  set_list cases[LF_STUDY_MAX_CASES];
  size_t nvalues = 0;
  char(*values)[LF_STUDY_VALUE_MAX] =
      calloc(LF_STUDY_MAX_KEYS * LF_STUDY_MAX_VALUES, sizeof *values);
  if (!values) return LF_FAIL(LF_ERR_NOMEM, "'%s': grid values", path);
  LF_CHECK(lf_h5_group_open(file, "spec", &g, path));
  LF_CHECK(lf_h5_attr_read_strn(g, "name", sp->name, sizeof sp->name, path, o));
  LF_CHECK(lf_h5_attr_read_strn(g, "source", sp->source, sizeof sp->source, path, o));
  LF_CHECK(lf_h5_attr_read_strn(g, "protocol", proto, sizeof proto, path, o));
  sp->protocol = (lf_study_protocol)-1;
  for (int i = 0; i < 3; i++)
    if (!strcmp(proto, protocol_names[i])) sp->protocol = (lf_study_protocol)i;
  if ((int)sp->protocol < 0) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': unknown study protocol '%s' in /spec", path, proto);
    goto fail;
  }
  LF_CHECK(lf_h5_attr_read_strn(g, "x", sp->x, sizeof sp->x, path, o));
  LF_CHECK(lf_h5_attrs_read(g, spec_attrs, sizeof spec_attrs / sizeof *spec_attrs, sp, path, o));
  LF_CHECK(in_range(sp->sample, 1, "sample", path, o));
  LF_CHECK(in_range(sp->has_root, 1, "has_root", path, o));
  LF_CHECK(in_range(sp->nkeys, LF_STUDY_MAX_KEYS, "nkeys", path, o));
  LF_CHECK(in_range(sp->ncases, LF_STUDY_MAX_CASES, "ncases", path, o));
  LF_CHECK(in_range(sp->ntargets, LF_STUDY_MAX_TARGETS, "ntargets", path, o));
  LF_CHECK(in_range(sp->nvolumes, LF_STUDY_MAX_VOLUMES, "nvolumes", path, o));
  LF_CHECK(get_strs(g, "grid_keys", sp->keys[0], sizeof sp->keys[0], (size_t)sp->nkeys, path));
  LF_CHECK(get_arr(g, "grid_nvalues", LF_H5_I32, (size_t)sp->nkeys, 0, sp->nvalues, path));
  for (int k = 0; k < sp->nkeys; k++) {
    if (sp->nvalues[k] < 0 || sp->nvalues[k] > LF_STUDY_MAX_VALUES) {
      rc = LF_FAIL(LF_ERR_FORMAT, "'%s': /spec/grid_nvalues[%d] is %d, expected 0..%d", path, k,
                   sp->nvalues[k], LF_STUDY_MAX_VALUES);
      goto fail;
    }
    nvalues += (size_t)sp->nvalues[k];
  }
  LF_CHECK(get_strs(g, "grid_values", values[0], sizeof *values, nvalues, path));
  for (int k = 0, i = 0; k < sp->nkeys; k++)
    for (int v = 0; v < sp->nvalues[k]; v++) memcpy(sp->values[k][v], values[i++], sizeof *values);
  LF_CHECK(get_strs(g, "case_labels", sp->cases[0].label, sizeof sp->cases[0], (size_t)sp->ncases,
                    path));
  for (int c = 0; c < sp->ncases; c++) cases[c] = (set_list){sp->cases[c].set, &sp->cases[c].nset};
  LF_CHECK(get_sets(g, "case_", cases, sp->ncases, path));
  const set_list root = {sp->root, &sp->nroot};
  LF_CHECK(get_sets(g, "root_", &root, 1, path));
  LF_CHECK(get_arr(g, "targets", LF_H5_F64, (size_t)sp->ntargets, 0, sp->targets, path));
  if (sp->nvolumes > 0)
    LF_CHECK(get_arr(g, "volumes", LF_H5_I32, (size_t)sp->nvolumes, 2, sp->volumes, path));
fail:
  if (g >= 0) H5Gclose(g);
  free(values);
  return rc;
}

/* ---- the file ----------------------------------------------------------------------------- */

/* The card's text: st->card_text, else the file spec->source when it can be read, else
 * NULL. *owned: the returned text must be freed. */
static const char *card_text(const lf_study *st, char **owned) {
  *owned = NULL;
  if (st->card_text) return st->card_text;
  FILE *f = st->spec->source[0] ? fopen(st->spec->source, "rb") : NULL;
  if (!f) return NULL;
  size_t cap = 4096, n = 0, got;
  char *s = malloc(cap);
  while (s && (got = fread(s + n, 1, cap - n - 1, f)) > 0) {
    n += got;
    if (n + 1 == cap) {
      char *t = realloc(s, cap *= 2);
      if (!t) free(s);
      s = t;
    }
  }
  fclose(f);
  if (!s) return NULL;
  s[n] = '\0';
  return *owned = s;
}

/* The points' own columns into group g: index, parent, label, dir, set_* and set (the
 * overrides as "k=v; k=v" for people). */
static lf_status put_points(hid_t g, const lf_study *st, const char *path) {
  lf_status rc = LF_OK;
  const size_t n = (size_t)st->npoints;
  set_list *l = calloc(n ? n : 1, sizeof *l);
  char(*text)[LF_STUDY_MAX_SETS * (LF_STUDY_KEY_MAX + LF_STUDY_VALUE_MAX + 3)] =
      calloc(n ? n : 1, sizeof *text);
  if (!l || !text) {
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': %zu points", path, n);
    goto fail;
  }
  for (size_t i = 0; i < n; i++) {
    const lf_study_point *p = &st->points[i];
    l[i] = (set_list){(lf_study_set *)p->set, (int *)&p->nset};
    size_t len = 0;
    for (int s = 0; s < p->nset; s++)
      len += (size_t)snprintf(text[i] + len, sizeof text[i] - len, "%s%s=%s", s ? "; " : "",
                              p->set[s].key, p->set[s].value);
  }
  LF_CHECK(put_table(g, pcol, NPCOL, sizeof *st->points, st->points, n, "points", path));
  LF_CHECK(put_strs(g, "label", st->points ? st->points->label : "", sizeof *st->points, n, path));
  LF_CHECK(put_strs(g, "dir", st->points ? st->points->dir : "", sizeof *st->points, n, path));
  LF_CHECK(put_sets(g, "set_", l, st->npoints, path));
  LF_CHECK(put_strs(g, "set", text[0], sizeof *text, n, path));
fail:
  free(l);
  free(text);
  return rc;
}

/* Checks the counts of st against the limits of latflow/study.h (LF_ERR_INVALID). */
static lf_status check_study(const lf_study *st, const char *path) {
  const lf_study_spec *sp = st->spec;
  if (!sp) return LF_FAIL(LF_ERR_INVALID, "'%s': the study has no spec", path);
  if (st->npoints < 0 || st->npoints > LF_STUDY_MAX_POINTS || (st->npoints && !st->points) ||
      (st->npoints && !st->results))
    return LF_FAIL(LF_ERR_INVALID, "'%s': %d points (at most %d) without their arrays", path,
                   st->npoints, LF_STUDY_MAX_POINTS);
  if (sp->nkeys < 0 || sp->nkeys > LF_STUDY_MAX_KEYS || sp->ncases < 0 ||
      sp->ncases > LF_STUDY_MAX_CASES || sp->nroot < 0 || sp->nroot > LF_STUDY_MAX_SETS ||
      sp->ntargets < 0 || sp->ntargets > LF_STUDY_MAX_TARGETS || sp->nvolumes < 0 ||
      sp->nvolumes > LF_STUDY_MAX_VOLUMES || (unsigned)sp->protocol > LF_STUDY_SEQUENTIAL)
    return LF_FAIL(LF_ERR_INVALID, "'%s': study spec counts out of range", path);
  for (int k = 0; k < sp->nkeys; k++)
    if (sp->nvalues[k] < 0 || sp->nvalues[k] > LF_STUDY_MAX_VALUES)
      return LF_FAIL(LF_ERR_INVALID, "'%s': grid key %d has %d values", path, k, sp->nvalues[k]);
  for (int c = 0; c < sp->ncases; c++)
    if (sp->cases[c].nset < 0 || sp->cases[c].nset > LF_STUDY_MAX_SETS)
      return LF_FAIL(LF_ERR_INVALID, "'%s': case %d has %d overrides", path, c, sp->cases[c].nset);
  for (int i = 0; i < st->npoints; i++)
    if (st->points[i].nset < 0 || st->points[i].nset > LF_STUDY_MAX_SETS ||
        (st->results[i].ncurve && !st->results[i].curve))
      return LF_FAIL(LF_ERR_INVALID, "'%s': point %d: %d overrides, %zu curve records", path, i,
                     st->points[i].nset, st->results[i].ncurve);
  return LF_OK;
}

/* Everything after the header into the open file (lf_h5_write_whole's body). */
static lf_status put_study(hid_t file, const char *tmp, const void *ctx) {
  const lf_study *st = ctx;
  lf_status rc = LF_OK;
  hid_t g = -1;
  char *owned = NULL;
  const char *card = card_text(st, &owned);
  const lf_study_spec *sp = st->spec;
  LF_CHECK(lf_h5_write_meta(file, &st->base, st->train_ranks, tmp));
  LF_CHECK(lf_h5_attr_write_str(file, "base_source", st->base.source, tmp, "/"));
  LF_CHECK(lf_h5_attr_write_str(file, "output", st->output, tmp, "/"));
  LF_CHECK(
      lf_h5_attrs_write(file, root_attrs, sizeof root_attrs / sizeof *root_attrs, st, tmp, "/"));
  if (card) LF_CHECK(lf_h5_attr_write_str(file, "card_text", card, tmp, "/"));
  LF_CHECK(put_spec(file, sp, tmp));
  LF_CHECK(lf_h5_group_create(file, "points", &g, tmp));
  LF_CHECK(put_points(g, st, tmp));
  LF_CHECK(put_results(g, st->results, st->npoints, sp->ntargets, sp->nvolumes, tmp));
  if (st->has_root) {
    H5Gclose(g);
    g = -1;
    LF_CHECK(lf_h5_group_create(file, "root", &g, tmp));
    LF_CHECK(put_results(g, &st->root, 1, sp->ntargets, sp->nvolumes, tmp));
  }
fail:
  if (g >= 0 && H5Gclose(g) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close a group", tmp);
  free(owned);
  return rc;
}

lf_status lf_io_study_write(const char *path, const lf_study *st) {
  if (!path || !st) return LF_FAIL(LF_ERR_INVALID, "lf_io_study_write: path and study");
  const lf_status rc = check_study(st, path);
  if (rc != LF_OK) return rc;
  return lf_h5_write_whole(path, 1, "study", LF_IO_STUDY_FORMAT_VERSION, put_study, st);
}

/* Reads the points' own columns of group g into st->points (npoints set). */
static lf_status get_points(hid_t g, lf_study *st, const char *path) {
  const size_t n = (size_t)st->npoints;
  lf_status rc = LF_OK;
  set_list *l = calloc(n ? n : 1, sizeof *l);
  if (!l) return LF_FAIL(LF_ERR_NOMEM, "'%s': %zu points", path, n);
  for (size_t i = 0; i < n; i++) l[i] = (set_list){st->points[i].set, &st->points[i].nset};
  LF_CHECK(get_table(g, pcol, NPCOL, sizeof *st->points, st->points, n, "points", path));
  LF_CHECK(get_strs(g, "label", st->points->label, sizeof *st->points, n, path));
  LF_CHECK(get_strs(g, "dir", st->points->dir, sizeof *st->points, n, path));
  LF_CHECK(get_sets(g, "set_", l, st->npoints, path));
fail:
  free(l);
  return rc;
}

lf_status lf_io_study_read(const char *path, lf_study *st) {
  lf_status rc = LF_OK;
  hid_t file = -1, g = -1;
  int exists = 0;
  if (!path || !st) return LF_FAIL(LF_ERR_INVALID, "lf_io_study_read: path and study");
  memset(st, 0, sizeof *st);
  LF_CHECK(lf_h5_open_latflow(path, "study", H5P_DEFAULT, &file, NULL, 0, NULL));
  if (!(st->spec = calloc(1, sizeof *st->spec))) {
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': study spec", path);
    goto fail;
  }
  LF_CHECK(lf_h5_read_config(file, &st->base, path));
  /* the card's name as the base config's source again (the YAML's header names it) */
  LF_CHECK(lf_h5_attr_read_strn(file, "base_source", st->base.source, sizeof st->base.source, path,
                                "/"));
  LF_CHECK(lf_h5_attr_read_strn(file, "output", st->output, sizeof st->output, path, "/"));
  LF_CHECK(
      lf_h5_attrs_read(file, root_attrs, sizeof root_attrs / sizeof *root_attrs, st, path, "/"));
  LF_CHECK(in_range(st->npoints, LF_STUDY_MAX_POINTS, "npoints", path, "/"));
  LF_CHECK(in_range(st->has_root, 1, "has_root", path, "/"));
  LF_CHECK(lf_h5_attr_exists(file, "card_text", &exists, path, "/"));
  if (exists) LF_CHECK(lf_h5_attr_read_str(file, "card_text", &st->card_text, path, "/"));
  LF_CHECK(get_spec(file, st->spec, path));
  const size_t n = (size_t)st->npoints;
  st->points = calloc(n ? n : 1, sizeof *st->points);
  st->results = calloc(n ? n : 1, sizeof *st->results);
  if (!st->points || !st->results) {
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': %zu points", path, n);
    goto fail;
  }
  LF_CHECK(lf_h5_group_open(file, "points", &g, path));
  LF_CHECK(get_points(g, st, path));
  LF_CHECK(get_results(g, st->results, st->npoints, st->spec->ntargets, st->spec->nvolumes, path));
  if (st->has_root) {
    H5Gclose(g);
    g = -1;
    LF_CHECK(lf_h5_group_open(file, "root", &g, path));
    LF_CHECK(get_results(g, &st->root, 1, st->spec->ntargets, st->spec->nvolumes, path));
  }
fail:
  if (g >= 0) H5Gclose(g);
  if (file >= 0) H5Fclose(file);
  if (rc != LF_OK) lf_study_free(st);
  return rc;
}

void lf_study_free(lf_study *st) {
  if (!st) return;
  for (int i = 0; st->results && i < st->npoints; i++) free(st->results[i].curve);
  free(st->root.curve);
  free(st->results);
  free(st->points);
  free(st->spec);
  free(st->card_text);
  memset(st, 0, sizeof *st);
}

/* ---- CSV ------------------------------------------------------------------------------------ */

/* A CSV cell of text: quoted (RFC 4180) when it holds a comma, a quote or a line break. */
static void csv_str(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

/* A CSV cell of a number of type t at p: integers in decimal, doubles with %.17g (they read
 * back bitwise), NaN as an empty cell. */
static void csv_num(FILE *f, lf_h5_type t, const void *p) {
  if (t == LF_H5_I32) {
    fprintf(f, "%d", *(const int32_t *)p);
  } else if (t == LF_H5_I64) {
    fprintf(f, "%lld", (long long)*(const int64_t *)p);
  } else {
    const double x = *(const double *)p;
    if (!isnan(x)) fprintf(f, "%.17g", x);
  }
}

/* A double as a cell (NaN: empty). */
static void csv_f64(FILE *f, double x) {
  csv_num(f, LF_H5_F64, &x);
}

/* Opens dir/name.tmp as a new file: *f, and the final and temporary names. */
static lf_status csv_open(const char *dir, const char *name, char *path, char *tmp, FILE **f) {
  lf_status rc = lf_io_path_join(path, LF_PATH_MAX, dir, name);
  if (rc != LF_OK) return rc;
  if (snprintf(tmp, LF_PATH_MAX + 8, "%s.tmp", path) >= LF_PATH_MAX + 8)
    return LF_FAIL(LF_ERR_INVALID, "'%s': name too long", path);
  return lf_io_create_file(tmp, f);
}

/* Closes f (a failed write or close is LF_ERR_IO, the .tmp removed) and renames tmp to path. */
static lf_status csv_close(FILE *f, const char *path, const char *tmp) {
  const int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    const int e = errno;
    unlink(tmp);
    return LF_FAIL(LF_ERR_IO, "writing '%s' failed: %s", tmp, strerror(e));
  }
  const lf_status rc = lf_io_commit_tmp(tmp, path);
  if (rc != LF_OK) unlink(tmp);
  return rc;
}

/* The value point p sets for key (the last override of that key), or NULL. */
static const char *set_value(const lf_study_point *p, const char *key) {
  const char *v = NULL;
  for (int s = 0; s < p->nset; s++)
    if (!strcmp(p->set[s].key, key)) v = p->set[s].value;
  return v;
}

/* One row of a result r (the point p, NULL for the root) of study.csv. */
static void csv_result_row(FILE *f, const lf_study *st, const lf_study_point *p,
                           const lf_study_result *r, char (*keys)[LF_STUDY_KEY_MAX], int nkeys) {
  fprintf(f, "%d,", p ? p->index : LF_STUDY_PARENT_ROOT);
  csv_str(f, p ? p->label : "root");
  fputc(',', f);
  csv_str(f, p ? p->dir : "");
  fprintf(f, ",%d", p ? p->parent : LF_STUDY_PARENT_NONE);
  for (int k = 0; k < nkeys; k++) {
    const char *v = p ? set_value(p, keys[k]) : NULL;
    fputc(',', f);
    csv_str(f, v ? v : "");
  }
  for (size_t c = 0; c < NRCOL; c++) {
    fputc(',', f);
    csv_num(f, rcol[c].type, (const char *)r + rcol[c].offset);
  }
  fputc(',', f);
  csv_str(f, r->stop_reason);
  for (int j = 0; j < st->spec->ntargets; j++)
    for (size_t c = 0; c < NTCOL; c++) {
      fputc(',', f);
      csv_num(f, tcol[c].type, (const char *)r + tcol[c].offset + (size_t)j * 8);
    }
  fputc('\n', f);
}

/* study.csv: index, label, dir, parent, one column per set key (their union over the
 * points, in order of appearance), the result columns, stop_reason, then per target t
 * the target columns suffixed _<t>; the root (when there is one) as a row of index -2. */
static lf_status write_table_csv(const char *dir, const lf_study *st) {
  char path[LF_PATH_MAX], tmp[LF_PATH_MAX + 8];
  char(*keys)[LF_STUDY_KEY_MAX] =
      calloc(LF_STUDY_MAX_KEYS * LF_STUDY_MAX_SETS + LF_STUDY_MAX_SETS, sizeof *keys);
  int nkeys = 0;
  FILE *f = NULL;
  if (!keys) return LF_FAIL(LF_ERR_NOMEM, "study.csv columns");
  const int maxkeys = LF_STUDY_MAX_KEYS * LF_STUDY_MAX_SETS + LF_STUDY_MAX_SETS;
  for (int i = 0; i < st->npoints; i++)
    for (int s = 0; s < st->points[i].nset; s++) {
      int seen = 0;
      for (int k = 0; k < nkeys && !seen; k++) seen = !strcmp(keys[k], st->points[i].set[s].key);
      if (!seen && nkeys < maxkeys) memcpy(keys[nkeys++], st->points[i].set[s].key, sizeof *keys);
    }
  lf_status rc = csv_open(dir, "study.csv", path, tmp, &f);
  if (rc != LF_OK) {
    free(keys);
    return rc;
  }
  fputs("index,label,dir,parent", f);
  for (int k = 0; k < nkeys; k++) {
    fputc(',', f);
    csv_str(f, keys[k]);
  }
  for (size_t c = 0; c < NRCOL; c++) fprintf(f, ",%s", rcol[c].name);
  fputs(",stop_reason", f);
  for (int j = 0; j < st->spec->ntargets; j++) {
    /* the target as written in the card: the shortest %g that reads back exactly (0.2,
     * not 0.20000000000000001) */
    char t[32];
    for (int prec = 1; prec <= 17; prec++) {
      snprintf(t, sizeof t, "%.*g", prec, st->spec->targets[j]);
      if (strtod(t, NULL) == st->spec->targets[j]) break;
    }
    for (size_t c = 0; c < NTCOL; c++) fprintf(f, ",%s_%s", tcol[c].name, t);
  }
  fputc('\n', f);
  for (int i = 0; i < st->npoints; i++)
    csv_result_row(f, st, &st->points[i], &st->results[i], keys, nkeys);
  if (st->has_root) csv_result_row(f, st, NULL, &st->root, keys, nkeys);
  free(keys);
  return csv_close(f, path, tmp);
}

/* The curve rows of result r (index, label) of curves.csv; the chain's columns add the
 * ancestors' cost (the result's chain minus own totals; empty when unknown). */
static void csv_curve_rows(FILE *f, int index, const char *label, const lf_study_result *r) {
  const int has_n = r->n_train >= 0 && r->n_train_chain >= 0;
  const int has_s = isfinite(r->train_seconds) && isfinite(r->seconds_chain);
  for (size_t e = 0; e < r->ncurve; e++) {
    const lf_train_eval_record *c = &r->curve[e];
    fprintf(f, "%d,", index);
    csv_str(f, label);
    fprintf(f, ",%lld,%lld,", (long long)c->step, (long long)c->n_train);
    if (has_n) fprintf(f, "%lld", (long long)(c->n_train + (r->n_train_chain - r->n_train)));
    fputc(',', f);
    csv_f64(f, c->seconds);
    fputc(',', f);
    csv_f64(f, has_s ? c->seconds + (r->seconds_chain - r->train_seconds) : NAN);
    fputc(',', f);
    csv_f64(f, c->ess);
    fputc(',', f);
    csv_f64(f, c->acceptance);
    fprintf(f, ",%lld\n", (long long)c->samples);
  }
}

/* The volume rows of result r of volumes.csv. */
static void csv_volume_rows(FILE *f, int index, const char *label, const lf_study_result *r,
                            int nv) {
  for (int v = 0; v < nv; v++) {
    const lf_study_volume *x = &r->volumes[v];
    fprintf(f, "%d,", index);
    csv_str(f, label);
    fprintf(f, ",%d,%d,%lld,%ld", x->L0, x->L1, (long long)x->L0 * x->L1, x->samples);
    const double d[] = {x->ess, x->ess_err, x->acceptance, x->eval_seconds, x->mass, x->mass_err};
    for (size_t k = 0; k < sizeof d / sizeof d[0]; k++) {
      fputc(',', f);
      csv_f64(f, d[k]);
    }
    fputc('\n', f);
  }
}

lf_status lf_io_study_write_csv(const char *dir, const lf_study *st) {
  char path[LF_PATH_MAX], tmp[LF_PATH_MAX + 8];
  FILE *f = NULL;
  if (!dir || !st || !st->spec) return LF_FAIL(LF_ERR_INVALID, "lf_io_study_write_csv: dir, study");
  lf_status rc = check_study(st, dir);
  if (rc == LF_OK) rc = write_table_csv(dir, st);
  if (rc == LF_OK) rc = csv_open(dir, "curves.csv", path, tmp, &f);
  if (rc != LF_OK) return rc;
  fputs("point,label,step,n_train,n_train_chain,seconds,seconds_chain,ess,acceptance,samples\n", f);
  for (int i = 0; i < st->npoints; i++)
    csv_curve_rows(f, st->points[i].index, st->points[i].label, &st->results[i]);
  if (st->has_root) csv_curve_rows(f, LF_STUDY_PARENT_ROOT, "root", &st->root);
  if ((rc = csv_close(f, path, tmp)) != LF_OK || st->spec->nvolumes == 0) return rc;
  if ((rc = csv_open(dir, "volumes.csv", path, tmp, &f)) != LF_OK) return rc;
  fputs("point,label,L0,L1,V,samples,ess,ess_err,acceptance,eval_seconds,mass,mass_err\n", f);
  for (int i = 0; i < st->npoints; i++)
    csv_volume_rows(f, st->points[i].index, st->points[i].label, &st->results[i],
                    st->spec->nvolumes);
  if (st->has_root) csv_volume_rows(f, LF_STUDY_PARENT_ROOT, "root", &st->root, st->spec->nvolumes);
  return csv_close(f, path, tmp);
}
