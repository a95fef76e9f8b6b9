/* The common header of any latflow file, read for `latflow info` (contract: latflow/io.h,
 * lf_io_header_read): the root attributes and /meta of docs/FORMAT.md section 2, the `what`
 * of a checkpoint and the chain provenance of a merged ensemble. */
#include "latflow/io.h"

#include "io/h5util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Copies string attribute name of obj into buf[n] (cut to fit); "" when obj lacks it. */
static lf_status opt_str(hid_t obj, const char *name, char *buf, size_t n, const char *path,
                         const char *objname) {
  int exists = 0;
  char *s = NULL;
  buf[0] = '\0';
  lf_status rc = lf_h5_attr_exists(obj, name, &exists, path, objname);
  if (rc != LF_OK || !exists) return rc;
  if ((rc = lf_h5_attr_read_str(obj, name, &s, path, objname)) != LF_OK) return rc;
  snprintf(buf, n, "%s", s);
  free(s);
  return LF_OK;
}

/* Reads integer attribute name of obj into *v; *v keeps its value when obj lacks it. */
static lf_status opt_i64(hid_t obj, const char *name, int64_t *v, const char *path,
                         const char *objname) {
  int exists = 0;
  lf_status rc = lf_h5_attr_exists(obj, name, &exists, path, objname);
  if (rc != LF_OK || !exists) return rc;
  return lf_h5_attr_read_i64(obj, name, v, path, objname);
}

/* 1 if path is not latflow's at all: empty, not HDF5, or HDF5 without latflow_format (what
 * lf_h5_open_latflow refused); 0 for a damaged, locked or newer latflow file. */
static int is_foreign(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return 0;
  if (st.st_size == 0) return 1;
#if H5_VERSION_GE(1, 12, 0)
  const htri_t is = H5Fis_accessible(path, H5P_DEFAULT);
#else
  const htri_t is = H5Fis_hdf5(path);
#endif
  if (is == 0) return 1;
  if (is < 0) return 0;
  const hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return 0;
  const htri_t has = H5Aexists(f, "latflow_format");
  H5Fclose(f);
  return has == 0;
}

/* The source_path and source_chain of every /chain_<r> of a merged ensemble (absent in
 * files no merge wrote: h->nsources stays 0). */
static lf_status read_sources(hid_t f, lf_io_header *h, const char *path) {
  int64_t nchains = 0;
  lf_status rc = opt_i64(f, "nchains", &nchains, path, "/");
  if (rc != LF_OK || nchains < 1 || nchains > 1000000) return rc;
  h->sources = calloc((size_t)nchains, sizeof *h->sources);
  if (!h->sources)
    return LF_FAIL(LF_ERR_NOMEM, "'%s': %lld chain sources", path, (long long)nchains);
  for (int64_t r = 0; r < nchains; r++) {
    char name[32];
    int exists = 0;
    hid_t g = -1;
    snprintf(name, sizeof name, "chain_%lld", (long long)r);
    if ((rc = lf_h5_link_exists(f, name, &exists, path)) != LF_OK || !exists) return rc;
    if ((rc = lf_h5_group_open(f, name, &g, path)) != LF_OK) return rc;
    lf_io_chain_source *s = &h->sources[r];
    s->chain = -1;
    rc = opt_str(g, "source_path", s->path, sizeof s->path, path, name);
    int64_t c = -1;
    if (rc == LF_OK) rc = opt_i64(g, "source_chain", &c, path, name);
    H5Gclose(g);
    if (rc != LF_OK) return rc;
    s->chain = (int)c;
    if (s->path[0]) h->nsources = (int)(r + 1);
  }
  return LF_OK;
}

lf_status lf_io_header_read(const char *path, lf_io_header *h) {
  lf_status rc = LF_OK;
  hid_t f = -1, meta = -1;
  int version = 0;
  memset(h, 0, sizeof *h);
  h->ranks = -1;
  rc = lf_h5_open_latflow(path, NULL, H5P_DEFAULT, &f, h->kind, sizeof h->kind, &version);
  if (rc != LF_OK) {
    h->foreign = rc == LF_ERR_FORMAT && is_foreign(path);
    return rc;
  }
  h->format_version = version;
  int64_t dirty = -1;
  LF_CHECK(opt_str(f, "latflow_version", h->latflow_version, sizeof h->latflow_version, path, "/"));
  LF_CHECK(opt_str(f, "git_rev", h->git_rev, sizeof h->git_rev, path, "/"));
  LF_CHECK(opt_i64(f, "git_dirty", &dirty, path, "/"));
  h->git_dirty = (int)dirty;
  LF_CHECK(opt_str(f, "compiler", h->compiler, sizeof h->compiler, path, "/"));
  LF_CHECK(opt_str(f, "build_type", h->build_type, sizeof h->build_type, path, "/"));
  LF_CHECK(opt_str(f, "created_utc", h->created_utc, sizeof h->created_utc, path, "/"));
  LF_CHECK(opt_str(f, "what", h->what, sizeof h->what, path, "/"));
  int has_meta = 0;
  LF_CHECK(lf_h5_link_exists(f, "meta", &has_meta, path));
  if (has_meta) {
    int exists = 0;
    int64_t ranks = -1;
    LF_CHECK(lf_h5_group_open(f, "meta", &meta, path));
    LF_CHECK(lf_h5_attr_exists(meta, "config_yaml", &exists, path, "/meta"));
    if (exists) LF_CHECK(lf_h5_attr_read_str(meta, "config_yaml", &h->config_yaml, path, "/meta"));
    LF_CHECK(lf_h5_attr_exists(meta, "seed", &exists, path, "/meta"));
    if (exists) LF_CHECK(lf_h5_attr_read_u64(meta, "seed", &h->seed, path, "/meta"));
    h->has_seed = exists;
    LF_CHECK(opt_i64(meta, "ranks", &ranks, path, "/meta"));
    h->ranks = (int)ranks;
  }
  if (!strcmp(h->kind, "ensemble")) LF_CHECK(read_sources(f, h, path));
fail:
  if (meta >= 0) H5Gclose(meta);
  if (f >= 0) H5Fclose(f);
  if (rc != LF_OK) lf_io_header_free(h);
  return rc;
}

void lf_io_header_free(lf_io_header *h) {
  if (!h) return;
  free(h->config_yaml);
  free(h->sources);
  memset(h, 0, sizeof *h);
}
