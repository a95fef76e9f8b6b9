/* Checkpoint files (contract: latflow/ckpt.h; layout: docs/FORMAT.md "Checkpoints"). */
#include "latflow/ckpt.h"

#include "io/schema.h"
#include "latflow/io.h"
#include "latflow/fault.h"
#include "latflow/log.h"
#include "latflow/theory.h"

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

/* ---- checksum ------------------------------------------------------------------------
 * FNV-1a/64 over every attribute and dataset of the file in a fixed order: a group's
 * attributes by name, then its links by name (groups recursively), each object as its
 * full name, its element size, its element count and its stored bytes (read in the
 * stored type, so no conversion touches them). The root attribute "checksum" is left
 * out: it is written last and holds the sum. FNV-1a detects every single-bit flip in the
 * bytes it covers (each step is a bijection of the state). */

#define CKSUM_ATTR "checksum"
#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

static void fnv(uint64_t *h, const void *buf, size_t n) {
  const unsigned char *b = buf;
  for (size_t i = 0; i < n; i++) *h = (*h ^ b[i]) * FNV_PRIME;
}

static void fnv_u64(uint64_t *h, uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i)); /* little-endian */
  fnv(h, b, 8);
}

typedef struct cksum_ctx {
  uint64_t h;
  lf_status rc;
  const char *path; /* the file, for messages */
  const char *obj;  /* full name of the object being walked */
} cksum_ctx;

/* Hashes the name, element size, count and n bytes of one object. */
static void hash_object(cksum_ctx *x, const char *name, size_t size, uint64_t count,
                        const void *buf) {
  fnv(&x->h, name, strlen(name) + 1);
  fnv_u64(&x->h, (uint64_t)size);
  fnv_u64(&x->h, count);
  fnv(&x->h, buf, size * (size_t)count);
}

/* Reads and hashes the stored values of an attribute (is_attr) or a dataset obj, named
 * full, in its stored type (no conversion); a failure is recorded in x->rc. */
static void hash_values(cksum_ctx *x, hid_t obj, int is_attr, const char *full) {
  const char *what = is_attr ? "attribute" : "dataset";
  hid_t t = -1, sp = -1;
  void *buf = NULL;
  if (obj >= 0) t = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
  if (t >= 0) sp = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
  const hssize_t cnt = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
  const size_t size = t >= 0 ? H5Tget_size(t) : 0;
  if (cnt < 0 || size == 0 || (t >= 0 && H5Tis_variable_str(t) > 0)) {
    x->rc = LF_FAIL(LF_ERR_FORMAT, "'%s': cannot read %s %s for the checksum", x->path, what, full);
  } else if (!(buf = malloc(size * (size_t)cnt + 1))) {
    x->rc = LF_FAIL(LF_ERR_NOMEM, "'%s': %s %s (%lld values)", x->path, what, full, (long long)cnt);
  } else if (is_attr ? H5Aread(obj, t, buf) < 0
                     : cnt > 0 && H5Dread(obj, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
    x->rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot read %s %s", x->path, what, full);
  } else {
    hash_object(x, full, size, (uint64_t)cnt, buf);
  }
  free(buf);
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
}

/* One attribute of x->obj (an H5Aiterate2 callback); the root checksum is left out. */
static herr_t hash_attr(hid_t loc, const char *name, const H5A_info_t *info, void *op) {
  cksum_ctx *x = op;
  (void)info;
  if (!strcmp(x->obj, "/") && !strcmp(name, CKSUM_ATTR)) return 0;
  char full[512];
  snprintf(full, sizeof full, "%s@%s", x->obj, name);
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  hash_values(x, a, 1, full);
  if (a >= 0) H5Aclose(a);
  return x->rc == LF_OK ? 0 : -1;
}

static lf_status hash_group(cksum_ctx *x, hid_t g, const char *gname);

/* Attributes of obj (named full) in name order. */
static lf_status hash_attrs(cksum_ctx *x, hid_t obj, const char *full) {
  hsize_t idx = 0;
  const char *saved = x->obj;
  x->obj = full;
  if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, hash_attr, x) < 0 && x->rc == LF_OK)
    x->rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot list the attributes of %s", x->path, full);
  x->obj = saved;
  return x->rc;
}

/* One link of group x->obj (an H5Literate callback): a group recursively, a dataset as its
 * values and then its attributes. */
static herr_t hash_link(hid_t g, const char *name, const H5L_info_t *info, void *op) {
  cksum_ctx *x = op;
  (void)info;
  char full[512];
  snprintf(full, sizeof full, "%s%s%s", x->obj, strcmp(x->obj, "/") ? "/" : "", name);
  H5O_info_t oi;
  if (H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0) {
    x->rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot inspect %s", x->path, full);
    return -1;
  }
  if (oi.type == H5O_TYPE_GROUP) {
    hid_t sub = H5Gopen2(g, name, H5P_DEFAULT);
    if (sub < 0) {
      x->rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot open group %s", x->path, full);
      return -1;
    }
    const char *saved = x->obj;
    hash_group(x, sub, full);
    x->obj = saved;
    H5Gclose(sub);
    return x->rc == LF_OK ? 0 : -1;
  }
  if (oi.type != H5O_TYPE_DATASET) {
    x->rc = LF_FAIL(LF_ERR_FORMAT, "'%s': unexpected object %s", x->path, full);
    return -1;
  }
  hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
  hash_values(x, d, 0, full);
  if (x->rc == LF_OK) hash_attrs(x, d, full);
  if (d >= 0) H5Dclose(d);
  return x->rc == LF_OK ? 0 : -1;
}

static lf_status hash_group(cksum_ctx *x, hid_t g, const char *gname) {
  if (hash_attrs(x, g, gname) != LF_OK) return x->rc;
  hsize_t idx = 0;
  x->obj = gname;
  if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, hash_link, x) < 0 && x->rc == LF_OK)
    x->rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot list group %s", x->path, gname);
  return x->rc;
}

/* The checksum of an open checkpoint file (see above). */
static lf_status file_checksum(hid_t file, const char *path, uint64_t *sum) {
  cksum_ctx x = {FNV_OFFSET, LF_OK, path, "/"};
  lf_h5_quiet();
  lf_status rc = hash_group(&x, file, "/");
  *sum = x.h;
  return rc;
}

lf_status lf_ckpt_prev_path(char *out, size_t n, const char *path) {
  if ((size_t)snprintf(out, n, "%s.prev", path) >= n)
    return LF_FAIL(LF_ERR_INVALID, "checkpoint path too long: '%s'", path);
  return LF_OK;
}

static void release(lf_ckpt *c) {
  lf_h5_discard(&c->file); /* a failed write: the close must not write (lf_h5_detach) */
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

lf_status lf_ckpt_put(lf_ckpt *c, const char *name, lf_h5_type t, size_t n, const void *data) {
  static const double none = 0.0;
  if (n == 0) data = &none; /* HDF5 wants a buffer even for an empty write */
  return lf_h5_dset_write_1d(c->file, name, lf_h5_type_mem(t), lf_h5_type_file(t), n, data, c->tmp);
}

lf_status lf_ckpt_put_i64(lf_ckpt *c, const char *name, int64_t v) {
  return lf_h5_attr_write_i64(c->file, name, v, c->tmp, "/");
}

lf_status lf_ckpt_put_f64(lf_ckpt *c, const char *name, double v) {
  return lf_h5_attr_write_f64(c->file, name, v, c->tmp, "/");
}

lf_status lf_ckpt_put_attrs(lf_ckpt *c, const lf_h5_field *f, size_t nf, const void *rec) {
  return lf_h5_attrs_write(c->file, f, nf, rec, c->tmp, "/");
}

/* The column buffer of a table of n records (at least one value). */
static lf_status col_alloc(size_t n, void **col) {
  *col = malloc((n ? n : 1) * LF_H5_MAX_SIZE);
  return *col ? LF_OK : LF_FAIL(LF_ERR_NOMEM, "checkpoint column of %zu values", n);
}

lf_status lf_ckpt_put_table(lf_ckpt *c, const lf_h5_field *f, size_t nf, size_t n, const void *recs,
                            size_t stride) {
  void *col = NULL;
  lf_status rc = col_alloc(n, &col);
  for (size_t i = 0; i < nf && rc == LF_OK; i++) {
    lf_h5_field_gather(&f[i], recs, stride, n, col);
    rc = lf_ckpt_put(c, f[i].name, f[i].type, n, col);
  }
  free(col);
  return rc;
}

lf_status lf_ckpt_commit(lf_ckpt *c) {
  lf_status rc = LF_OK;
  char prev[LF_PATH_MAX + 16];
  uint64_t sum = 0;
  /* last: the sum of everything stored before it */
  LF_CHECK(file_checksum(c->file, c->tmp, &sum));
  LF_CHECK(lf_h5_attr_write_u64(c->file, CKSUM_ATTR, sum, c->tmp, "/"));
  LF_CHECK(lf_h5_close(&c->file, c->tmp));
  lf_fault_point("after_checkpoint_tmp");
  LF_CHECK(lf_ckpt_prev_path(prev, sizeof prev, c->path));
  /* links at either name are refused rather than moved or replaced */
  LF_CHECK(lf_io_check_not_symlink(c->path));
  LF_CHECK(lf_io_check_not_symlink(prev));
  if (access(c->path, F_OK) == 0 && rename(c->path, prev) != 0) {
    rc = LF_FAIL(LF_ERR_IO, "cannot rename '%s' to '%s': %s", c->path, prev, strerror(errno));
    goto fail;
  }
  lf_fault_point("after_checkpoint_prev");
  LF_CHECK(lf_io_commit_tmp(c->tmp, c->path));
  release(c);
  free(c);
  lf_fault_point("after_checkpoint");
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

/* Opens one file as a checkpoint of kind what and verifies its checksum. *corrupt is set
 * when the file opened but its checksum does not match (or is missing in version 4+). */
static lf_status open_one(lf_ckpt *c, const char *what, lf_config *cfg_out, int *corrupt) {
  lf_status rc = LF_OK;
  char *w = NULL;
  int version = 0, has = 0;
  uint64_t stored = 0, got = 0;
  *corrupt = 0;
  LF_CHECK(lf_h5_fapl_serial(&c->fapl));
  LF_CHECK(lf_h5_open_latflow(c->path, "checkpoint", c->fapl, &c->file, NULL, 0, &version));
  LF_CHECK(lf_h5_attr_exists(c->file, CKSUM_ATTR, &has, c->path, "/"));
  if (has) {
    LF_CHECK(lf_h5_attr_read_u64(c->file, CKSUM_ATTR, &stored, c->path, "/"));
    LF_CHECK(file_checksum(c->file, c->path, &got));
  }
  if (has && got != stored) {
    *corrupt = 1;
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "'%s': checksum mismatch: corrupted (stored %016llx, contents give %016llx)",
                 c->path, (unsigned long long)stored, (unsigned long long)got);
    goto fail;
  }
  if (!has && version >= 4) {
    *corrupt = 1;
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': checkpoint format %d without its checksum: corrupted",
                 c->path, version);
    goto fail;
  }
  if (!has)
    lf_log_warn("ckpt", "'%s': checkpoint format %d has no checksum; its integrity is not checked",
                c->path, version);
  LF_CHECK(lf_h5_attr_read_str(c->file, "what", &w, c->path, "/"));
  if (strcmp(w, what) != 0) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s' is a %s checkpoint, expected a %s checkpoint", c->path, w,
                 what);
    goto fail;
  }
  if (cfg_out) LF_CHECK(lf_h5_read_config(c->file, cfg_out, c->path));
fail:
  free(w);
  if (rc != LF_OK) release(c);
  return rc;
}

lf_status lf_ckpt_open(lf_ckpt **out, const char *path, const char *what, lf_config *cfg_out) {
  lf_status rc = LF_OK;
  char prev[LF_PATH_MAX + 8]; /* the size of c->path */
  int corrupt = 0, corrupt_prev = 0;
  *out = NULL;
  lf_ckpt *c = calloc(1, sizeof *c);
  if (!c) return LF_FAIL(LF_ERR_NOMEM, "checkpoint reader");
  c->fapl = c->file = -1;
  struct stat st;
  LF_CHECK(lf_ckpt_prev_path(prev, sizeof prev, path));
  if (stat(path, &st) == 0) {
    snprintf(c->path, sizeof c->path, "%s", path);
  } else {
    snprintf(c->path, sizeof c->path, "%s", prev);
    if (stat(c->path, &st) != 0) {
      rc = LF_FAIL(LF_ERR_IO, "no checkpoint '%s' to resume from (nor '%s')", path, c->path);
      goto fail;
    }
  }
  rc = open_one(c, what, cfg_out, &corrupt);
  /* a corrupted newest checkpoint: the previous one, if it is sound, is the next best
   * state (the data files are cut back to what it records) */
  if (rc != LF_OK && corrupt && strcmp(c->path, prev) != 0 && stat(prev, &st) == 0) {
    char why[512];
    snprintf(why, sizeof why, "%s", lf_last_error());
    snprintf(c->path, sizeof c->path, "%s", prev);
    rc = open_one(c, what, cfg_out, &corrupt_prev);
    if (rc == LF_OK)
      lf_log_warn("ckpt", "%s; resuming from the previous checkpoint '%s'", why, prev);
    else
      rc = LF_FAIL(LF_ERR_FORMAT, "%s; the previous checkpoint is no better: %s", why,
                   lf_last_error());
  }
  if (rc != LF_OK) goto fail;
  *out = c;
  return LF_OK;
fail:
  lf_ckpt_close(c);
  return rc;
}

const char *lf_ckpt_path(const lf_ckpt *c) {
  return c->path;
}

lf_status lf_ckpt_len(lf_ckpt *c, const char *name, size_t *n) {
  return lf_h5_dset_len(c->file, name, n, c->path);
}

lf_status lf_ckpt_get(lf_ckpt *c, const char *name, lf_h5_type t, size_t n, void *data) {
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
  /* the stored type class and size must be t's: values are read bitwise, never converted */
  if (cls != (t == LF_H5_F64 ? H5T_FLOAT : H5T_INTEGER) || sz != lf_h5_type_size(t))
    return LF_FAIL(LF_ERR_FORMAT, "'%s': dataset '%s' has another type than expected", c->path,
                   name);
  return lf_h5_dset_read_1d(c->file, name, lf_h5_type_mem(t), n, data, c->path);
fail:
  return rc;
}

lf_status lf_ckpt_get_i64(lf_ckpt *c, const char *name, int64_t *v) {
  return lf_h5_attr_read_i64(c->file, name, v, c->path, "/");
}

lf_status lf_ckpt_get_f64(lf_ckpt *c, const char *name, double *v) {
  return lf_h5_attr_read_f64(c->file, name, v, c->path, "/");
}

lf_status lf_ckpt_get_attrs(lf_ckpt *c, const lf_h5_field *f, size_t nf, void *rec) {
  return lf_h5_attrs_read(c->file, f, nf, rec, c->path, "/");
}

lf_status lf_ckpt_get_table(lf_ckpt *c, const lf_h5_field *f, size_t nf, size_t n, void *recs,
                            size_t stride) {
  void *col = NULL;
  lf_status rc = col_alloc(n, &col);
  for (size_t i = 0; i < nf && rc == LF_OK; i++) {
    rc = lf_ckpt_get(c, f[i].name, f[i].type, n, col);
    if (rc == LF_OK) lf_h5_field_scatter(&f[i], recs, stride, n, col);
  }
  free(col);
  return rc;
}

lf_status lf_ckpt_has(lf_ckpt *c, const char *name, int *exists) {
  return lf_h5_link_exists(c->file, name, exists, c->path);
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
  a.train.checkpoint_seconds = b.train.checkpoint_seconds;
  a.train.log_every = b.train.log_every;
  a.train.eval_samples = b.train.eval_samples;
  a.train.eval_every = b.train.eval_every;
  a.sample.proposals = b.sample.proposals;
  a.sample.checkpoint_every = b.sample.checkpoint_every;
  a.sample.checkpoint_seconds = b.sample.checkpoint_seconds;
  a.hmc.trajectories = b.hmc.trajectories;
  a.hmc.checkpoint_every = b.hmc.checkpoint_every;
  a.hmc.checkpoint_seconds = b.hmc.checkpoint_seconds;
  a.hmc.compare = b.hmc.compare;
  memcpy(a.output, b.output, sizeof a.output);
  /* theory.logdet changes bits, not physics: what must agree is the method it resolves to
   * (auto names dense or sparse by the lattice); a stored card without the key predates it
   * and was dense. A theory without fermions computes no determinant. */
  lf_theory_cfg sa = a.theory;
  if (!(stored->given & LF_CONFIG_GIVEN_LOGDET)) sa.logdet = LF_LOGDET_DENSE;
  if (!lf_theory_cfg_fermions(&b.theory) ||
      lf_theory_cfg_logdet(&sa) == lf_theory_cfg_logdet(&b.theory))
    a.theory.logdet = b.theory.logdet;
  else
    a.theory.logdet = lf_theory_cfg_logdet(&sa); /* differs: named below as theory.logdet */
  /* sections the command does not read */
  if (!strcmp(what, "sample")) {
    a.train = b.train;
    a.hmc = b.hmc;
  } else if (!strcmp(what, "hmc")) {
    a.train = b.train;
    a.model = b.model;
    /* the theory says which hmc keys matter: hmc.fermion only with fermions, the CG keys
     * only with pseudofermions */
    lf_theory_hmc_unused(&b.theory, &a.hmc, &b.hmc);
    const lf_save_kind save = a.sample.save; /* hmc stores configurations per sample.save */
    a.sample = b.sample;
    a.sample.save = save;
  } else {
    a.sample = b.sample;
    a.hmc = b.hmc;
  }
  /* the physics first, as the theory compares it (so another theory is named as such),
   * then every other key of the card */
  lf_theory_diff d;
  char key[128];
  if (!lf_theory_cfg_same_physics(&a.theory, &b.theory, &d))
    snprintf(key, sizeof key, "%s", d.key);
  else if (lf_config_diff(&a, &b, key, sizeof key) == 0)
    return LF_OK;
  return LF_FAIL(LF_ERR_CONFIG,
                 "'%s': cannot resume: '%s' differs between the checkpoint and the config "
                 "(a checkpoint continues only the same theory, architecture, seed and "
                 "algorithm; only run lengths such as train.stop.steps, sample.proposals or "
                 "hmc.trajectories may change)",
                 path, key);
}
