/* io: model files round trip bitwise in both precisions (parameter bytes, config, hash,
 * step, and the loaded model samples identically); saves refuse to overwrite; a saved
 * file with SOURCE_DATE_EPOCH set is byte-for-byte reproducible; readers refuse a
 * missing file, a text file, an empty file, a truncated copy, a train file given as a
 * model, a plain HDF5 file, a newer format_version, a corrupted parameter, a stored config
 * that no longer parses (LF_ERR_FORMAT, not LF_ERR_CONFIG) and a flipped superblock bit
 * (the 1.8 format checksums its metadata), each with its message; the metrics writer appends 1000
 * records that read back exactly; links planted at model.h5.tmp, model.h5 or a plain output file
 * are refused, their targets intact; lf_io_model_load_on transfers a model to another lattice, or
 * refuses naming both; the training cost round trips, and a file without it reads as its own
 * run. Files go to the current directory (CTest: the build's tests dir), named by
 * pid. */
#include "latflow/config.h"
#include "latflow/io.h"
#include "latflow/model.h"
#include "latflow/rng.h"
#include "lftest.h"

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A unique scratch file name (testutil.h); lf_test_cleanup removes it. */
static const char *tname(const char *tag) {
  return lf_test_tname("test_io", tag);
}

/* buf[n] contains the bytes of s. */
static int contains(const unsigned char *buf, size_t n, const char *s) {
  const size_t k = strlen(s);
  for (size_t i = 0; i + k <= n; i++)
    if (memcmp(buf + i, s, k) == 0) return 1;
  return 0;
}

/* The call returned `want` and its message contains `sub`. */
static void expect_fail(lf_status got, lf_status want, const char *sub, const char *what) {
  const char *msg = lf_last_error();
  CHECK(got == want && strstr(msg, sub) != NULL,
        "%s: status %d (want %d), message \"%s\" (want "
        "\"...%s...\")",
        what, (int)got, (int)want, msg, sub);
  lf_clear_error(); /* so later passing checks do not print this message again */
}

static void small_config(lf_config *cfg, lf_precision prec, lf_base_kind base) {
  lf_config_defaults(cfg);
  cfg->seed = 4242;
  cfg->theory.shape[0] = 4;
  cfg->theory.shape[1] = 6;
  cfg->theory.m2 = -3.25;
  cfg->theory.lambda = 6.5;
  cfg->model.base = base;
  cfg->model.layers = 2;
  cfg->model.nhidden = 2;
  cfg->model.hidden[0] = 5;
  cfg->model.hidden[1] = 3;
  cfg->model.precision = prec;
  cfg->train.batch = 32;
  snprintf(cfg->output, sizeof cfg->output, "runs/io-test");
}

/* Fills the arena with awkward bit patterns: -0, a denormal, full mantissas. */
static void scramble(lf_model *m) {
  double r[7];
  for (size_t i = 0; i < m->nparams; i++) {
    lf_rng_normal(lf_rng_key_make(9, LF_STREAM_TEST), 0, i, 7, r);
    double v = r[0] * (i % 3 == 0 ? 1e-3 : 1.0);
    if (m->real_size == sizeof(float)) {
      float *p = m->params;
      p[i] = (float)v;
      if (i == 1) p[i] = -0.0f;
      if (i == 2) p[i] = 1e-40f; /* float denormal */
      if (i == 3) p[i] = nextafterf(0.1f, 1.0f);
    } else {
      double *p = m->params;
      p[i] = v;
      if (i == 1) p[i] = -0.0;
      if (i == 2) p[i] = 4e-320; /* double denormal */
      if (i == 3) p[i] = nextafter(0.1, 1.0);
    }
  }
}

/* Writes a model file for cfg and returns its hash; the model stays initialized in *m. */
static int make_model(lf_model *m, const lf_config *cfg) {
  if (lf_model_init(m, &cfg->model, 1, cfg->theory.shape[0], cfg->theory.shape[1], 3) != LF_OK)
    return 0;
  lf_model_init_params(m, cfg->seed);
  scramble(m);
  m->step = 123;
  return 1;
}

static void test_roundtrip(lf_precision prec, lf_base_kind base, const char *tag) {
  lf_config cfg, cfg2, cfg3;
  lf_model m, m2;
  memset(&m2, 0, sizeof m2);
  small_config(&cfg, prec, base);
  CHECK(make_model(&m, &cfg), "%s: lf_model_init: %s", tag, lf_last_error());
  const char *path = tname(tag);
  char tmp[160];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  lf_status rc = lf_io_model_save(path, &m, &cfg, 0);
  CHECK(rc == LF_OK, "%s: save: %s", tag, lf_last_error());
  CHECK(lf_test_exists(path) && !lf_test_exists(tmp), "%s: file renamed into place, no .tmp left",
        tag);

  char kind[16];
  rc = lf_io_file_kind(path, kind, sizeof kind);
  CHECK(rc == LF_OK && strcmp(kind, "model") == 0, "%s: kind '%s' (%s)", tag, kind,
        lf_last_error());

  rc = lf_io_model_load(path, &cfg2, &m2, 5);
  CHECK(rc == LF_OK, "%s: load: %s", tag, lf_last_error());
  if (rc == LF_OK) {
    CHECK(m2.nparams == m.nparams && m2.nbase == m.nbase && m2.real_size == m.real_size,
          "%s: nparams %zu/%zu nbase %zu/%zu real_size %zu/%zu", tag, m2.nparams, m.nparams,
          m2.nbase, m.nbase, m2.real_size, m.real_size);
    CHECK(memcmp(m2.params, m.params, m.nparams * m.real_size) == 0,
          "%s: %zu parameters bitwise equal (%zu bytes)", tag, m.nparams, m.nparams * m.real_size);
    CHECK(lf_model_hash(&m2) == lf_model_hash(&m), "%s: hash %016llx == %016llx", tag,
          (unsigned long long)lf_model_hash(&m2), (unsigned long long)lf_model_hash(&m));
    CHECK(m2.step == 123 && m2.C == 1 && m2.L0 == 4 && m2.L1 == 6 && m2.Bmax >= 5,
          "%s: step %llu C %d L %dx%d Bmax %d", tag, (unsigned long long)m2.step, m2.C, m2.L0,
          m2.L1, m2.Bmax);
    char key[128] = "";
    int d = lf_config_diff(&cfg, &cfg2, key, sizeof key);
    CHECK(d == 0, "%s: loaded config equals the saved one (first difference: '%s')", tag, key);
    CHECK(cfg2.model.precision == prec && cfg2.model.hidden[1] == 3 && cfg2.theory.m2 == -3.25,
          "%s: precision %d hidden[1] %d m2 %g", tag, (int)cfg2.model.precision,
          cfg2.model.hidden[1], cfg2.theory.m2);
    /* the loaded model is the same function: identical samples for identical noise */
    enum { B = 3 };
    const size_t n = (size_t)B * (size_t)m.V;
    double *eps = malloc(n * sizeof *eps), *phi1 = malloc(n * sizeof *phi1),
           *phi2 = malloc(n * sizeof *phi2), lq1[B], lq2[B];
    lf_rng_normal(lf_rng_key_make(3, LF_STREAM_TEST), 1, 0, n, eps);
    lf_model_sample(&m, B, eps, phi1, lq1);
    lf_model_sample(&m2, B, eps, phi2, lq2);
    CHECK(memcmp(phi1, phi2, n * sizeof *phi1) == 0 && memcmp(lq1, lq2, sizeof lq1) == 0,
          "%s: loaded model samples bitwise like the saved one (logq %.6g)", tag, lq1[0]);
    free(eps);
    free(phi1);
    free(phi2);
    lf_model_free(&m2);
  }

  /* cfg_out may be NULL; peek gives the config alone */
  rc = lf_io_model_load(path, NULL, &m2, 1);
  CHECK(rc == LF_OK && m2.nparams == m.nparams, "%s: load without cfg_out: %s", tag,
        lf_last_error());
  lf_model_free(&m2);
  rc = lf_io_model_peek(path, &cfg3);
  CHECK(rc == LF_OK && lf_config_diff(&cfg, &cfg3, NULL, 0) == 0, "%s: peek: %s", tag,
        lf_last_error());

  /* never overwrite unless asked */
  size_t n0 = 0, n1 = 0;
  unsigned char *before = lf_test_slurp(path, &n0);
  m.step = 124;
  rc = lf_io_model_save(path, &m, &cfg, 0);
  expect_fail(rc, LF_ERR_IO, "exists; refusing to overwrite", "save over an existing file");
  unsigned char *after = lf_test_slurp(path, &n1);
  CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0 && !lf_test_exists(tmp),
        "%s: refused save left the file untouched (%zu bytes)", tag, n1);
  free(before);
  free(after);
  rc = lf_io_model_save(path, &m, &cfg, 1);
  CHECK(rc == LF_OK, "%s: save with overwrite: %s", tag, lf_last_error());
  rc = lf_io_model_load(path, NULL, &m2, 1);
  CHECK(rc == LF_OK && m2.step == 124, "%s: overwritten file holds the new step (%llu)", tag,
        (unsigned long long)m2.step);
  lf_model_free(&m2);
  lf_model_free(&m);
}

/* With SOURCE_DATE_EPOCH fixed, two saves of the same model are identical files. */
static void test_reproducible(void) {
  lf_config cfg;
  lf_model m;
  small_config(&cfg, LF_PREC_F32, LF_BASE_NORMAL);
  CHECK(make_model(&m, &cfg), "reproducible: lf_model_init: %s", lf_last_error());
  const char *a = tname("repro_a.h5"), *b = tname("repro_b.h5");
  setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
  lf_status ra = lf_io_model_save(a, &m, &cfg, 0);
  sleep(1); /* another second: no object time may be stored (the root group's included) */
  lf_status rb = lf_io_model_save(b, &m, &cfg, 0);
  unsetenv("SOURCE_DATE_EPOCH");
  CHECK(ra == LF_OK && rb == LF_OK, "reproducible: two saves (%s)", lf_last_error());
  size_t na = 0, nb = 0;
  unsigned char *ba = lf_test_slurp(a, &na), *bb = lf_test_slurp(b, &nb);
  CHECK(ba && bb && na == nb && memcmp(ba, bb, na) == 0,
        "same model, same SOURCE_DATE_EPOCH: byte-identical files (%zu and %zu bytes)", na, nb);
  CHECK(ba && contains(ba, na, "2023-11-14T22:13:20Z"), "created_utc comes from SOURCE_DATE_EPOCH");
  free(ba);
  free(bb);
  lf_model_free(&m);
}

/* A model whose stored config no longer parses (one letter of /meta/config_yaml changed,
 * as a bit flip would) is a damaged file: LF_ERR_FORMAT (exit 1) naming the file, the
 * attribute and its line, not LF_ERR_CONFIG (exit 2, "fix your card"). */
static void test_damaged_config(void) {
  lf_config cfg;
  lf_model m;
  small_config(&cfg, LF_PREC_F32, LF_BASE_NORMAL);
  CHECK(make_model(&m, &cfg), "damaged config: lf_model_init: %s", lf_last_error());
  const char *path = tname("badyaml.h5");
  CHECK(lf_io_model_save(path, &m, &cfg, 0) == LF_OK, "damaged config: save (%s)", lf_last_error());
  lf_model_free(&m);
  int changed = 0;
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  /* through the group: H5Aopen_by_name's handle cannot be written in HDF5 1.10 */
  hid_t g = f >= 0 ? H5Gopen2(f, "meta", H5P_DEFAULT) : -1;
  hid_t a = g >= 0 ? H5Aopen(g, "config_yaml", H5P_DEFAULT) : -1;
  hid_t t = a >= 0 ? H5Aget_type(a) : -1;
  if (t >= 0 && H5Tis_variable_str(t) > 0) {
    char *txt = NULL;
    if (H5Aread(a, t, &txt) >= 0 && txt) {
      char *k = strstr(txt, "theory:");
      if (k) k[5] = 'x', changed = H5Awrite(a, t, &txt) >= 0;
      H5free_memory(txt);
    }
  } else if (t >= 0) {
    const size_t n = H5Tget_size(t);
    char *txt = calloc(n + 1, 1);
    if (txt && H5Aread(a, t, txt) >= 0) {
      char *k = strstr(txt, "theory:");
      if (k) k[5] = 'x', changed = H5Awrite(a, t, txt) >= 0;
    }
    free(txt);
  }
  if (t >= 0) H5Tclose(t);
  if (a >= 0) H5Aclose(a);
  if (g >= 0) H5Gclose(g);
  if (f >= 0) H5Fclose(f);
  CHECK(changed, "damaged config: 'theory:' changed to 'theorx:' in /meta/config_yaml");
  lf_config back;
  const lf_status rc = lf_io_model_load(path, &back, &m, 16);
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "badyaml.h5:/meta/config_yaml:") &&
            strstr(lf_last_error(), "unknown key 'theorx'") &&
            strstr(lf_last_error(), "corrupted file"),
        "damaged config: LF_ERR_FORMAT naming file, attribute and key (rc=%d '%s')", rc,
        lf_last_error());
  if (rc == LF_OK) lf_model_free(&m);
}

/* The files are in the HDF5 1.8 format (superblock version 2), whose metadata HDF5
 * checksums: a bit flipped in the superblock's end-of-file address (byte 28) is refused
 * when the file is opened, not decoded (the default bounds wrote superblock 0, without a
 * checksum; damaged v1 object headers made HDF5 1.10 read past its buffers under ASan). */
static void test_checksummed_format(void) {
  lf_config cfg;
  lf_model m;
  small_config(&cfg, LF_PREC_F32, LF_BASE_NORMAL);
  CHECK(make_model(&m, &cfg), "format: lf_model_init: %s", lf_last_error());
  const char *path = tname("v18.h5");
  CHECK(lf_io_model_save(path, &m, &cfg, 0) == LF_OK, "format: save (%s)", lf_last_error());
  lf_model_free(&m);
  size_t n = 0;
  unsigned char *b = lf_test_slurp(path, &n);
  CHECK(b && n > 48 && b[8] == 2, "format: superblock version %d (want 2: the 1.8 format)",
        b && n > 8 ? b[8] : -1);
  if (b && n > 48) {
    b[28] ^= 1;
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(b, 1, n, f) == n, "format: rewrite the flipped copy");
    if (f) fclose(f);
    lf_config back;
    const lf_status rc = lf_io_model_load(path, &back, &m, 16);
    CHECK(rc != LF_OK && strstr(lf_last_error(), "v18.h5"),
          "format: a flipped superblock bit is refused naming the file (rc=%d '%s')", rc,
          lf_last_error());
    if (rc == LF_OK) lf_model_free(&m);
    lf_clear_error();
  }
  free(b);
}

/* Planted links (issue 13): a link at model.h5.tmp, at model.h5 (with overwrite) or at a
 * plain output file is refused and its target keeps its bytes; a dangling link at the
 * .tmp is refused too (nothing is created through it); a stale regular .tmp is replaced. */
static void test_planted_links(void) {
  lf_config cfg;
  lf_model m;
  small_config(&cfg, LF_PREC_F64, LF_BASE_NORMAL);
  CHECK(make_model(&m, &cfg), "links: lf_model_init: %s", lf_last_error());
  const char *victim = tname("victim.txt"), *out = tname("linked.h5"),
             *tmp = tname("linked.h5.tmp");
  const char *gone = tname("nowhere.txt"), *plain = tname("plain.dat");
  const char text[] = "the user's precious bytes\n";
  size_t n = 0;
  unsigned char *b = NULL;
  CHECK(lf_test_spew(victim, text, sizeof text - 1), "links: write the victim");
  CHECK(symlink(victim, tmp) == 0, "links: plant %s", tmp);
  expect_fail(lf_io_model_save(out, &m, &cfg, 0), LF_ERR_IO, "is a symbolic link",
              "save with a link at model.h5.tmp");
  b = lf_test_slurp(victim, &n);
  CHECK(b && n == sizeof text - 1 && memcmp(b, text, n) == 0, "link at .tmp: victim unchanged");
  free(b);
  struct stat st;
  CHECK(lstat(tmp, &st) == 0 && S_ISLNK(st.st_mode), "link at .tmp: the link stays");
  unlink(tmp);
  CHECK(symlink(gone, tmp) == 0, "links: plant a dangling link");
  expect_fail(lf_io_model_save(out, &m, &cfg, 0), LF_ERR_IO, "is a symbolic link",
              "save with a dangling link at model.h5.tmp");
  CHECK(!lf_test_exists(gone), "dangling link: nothing created at its target");
  unlink(tmp);
  CHECK(symlink(victim, out) == 0, "links: plant a link at the output name");
  expect_fail(lf_io_model_save(out, &m, &cfg, 1), LF_ERR_IO, "is a symbolic link",
              "save --force with a link at model.h5");
  b = lf_test_slurp(victim, &n);
  CHECK(b && n == sizeof text - 1 && memcmp(b, text, n) == 0, "link at output: victim unchanged");
  free(b);
  unlink(out);
  CHECK(lf_test_spew(tmp, "stale", 5), "links: a stale regular .tmp");
  CHECK(lf_io_model_save(out, &m, &cfg, 0) == LF_OK && !lf_test_exists(tmp),
        "a stale regular .tmp is replaced (%s)", lf_last_error());
  CHECK(symlink(victim, plain) == 0, "links: plant a link at a plain file");
  FILE *f = NULL;
  expect_fail(lf_io_create_file(plain, &f), LF_ERR_IO, "symbolic link", "plain file link");
  CHECK(f == NULL, "plain file link: no stream");
  b = lf_test_slurp(victim, &n);
  CHECK(b && n == sizeof text - 1 && memcmp(b, text, n) == 0, "plain file: victim unchanged");
  free(b);
  unlink(plain);
  CHECK(lf_io_create_file(plain, &f) == LF_OK && f && fputs("x", f) >= 0 && fclose(f) == 0,
        "a plain file is created where nothing is (%s)", lf_last_error());
  lf_model_free(&m);
}

/* Rewrites one root attribute or one parameter of a copy with the plain HDF5 API. */
static int set_format_version(const char *path, int v) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return 0;
  hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
  int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &v) >= 0;
  if (a >= 0) H5Aclose(a);
  return H5Fclose(f) >= 0 && ok;
}

static int bump_param(const char *path) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return 0;
  hid_t d = H5Dopen2(f, "/model/params", H5P_DEFAULT);
  int ok = 0;
  if (d >= 0) {
    hsize_t one = 1, start = 5;
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &one, NULL);
    double v = 0.0;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &one, NULL);
    ok = H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, &v) >= 0;
    v = v * 1.5 + 0.25;
    ok = ok && H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, &v) >= 0;
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
  }
  return H5Fclose(f) >= 0 && ok;
}

static void test_metrics_and_refusals(void) {
  lf_config cfg, cfg2;
  small_config(&cfg, LF_PREC_F64, LF_BASE_NORMAL);
  const char *tpath = tname("train.h5");
  char ttmp[160];
  snprintf(ttmp, sizeof ttmp, "%s.tmp", tpath);

  /* ---- metrics: 1000 records, including NaN losses and skipped steps ---- */
  enum { N = 1000 };
  static lf_train_record rec[N];
  for (int i = 0; i < N; i++) {
    double r[4];
    lf_rng_normal(lf_rng_key_make(11, LF_STREAM_TEST), 0, (uint64_t)i, 4, r);
    rec[i].step = (int64_t)i + 1 + (i >= 500 ? ((int64_t)1 << 40) : 0);
    rec[i].loss = i % 97 == 13 ? NAN : -12.5 + r[0];
    rec[i].ess = 0.5 + 0.1 * r[1];
    rec[i].ess_smoothed = 0.5 + 0.01 * r[2];
    rec[i].lr = 1e-3 / (double)(1 + i / 300);
    rec[i].batch = 64 << (i / 300);
    rec[i].seconds = 0.0125 * i + 1e-9 * r[3];
    rec[i].grad_norm = i % 97 == 13 ? INFINITY : fabs(r[3]);
    rec[i].skipped = (int8_t)(i % 97 == 13);
  }
  lf_io_metrics *w = NULL;
  lf_status rc = lf_io_metrics_open(&w, tpath, &cfg, 0);
  CHECK(rc == LF_OK && w, "metrics open: %s", lf_last_error());
  CHECK(lf_test_exists(ttmp) && !lf_test_exists(tpath), "during the run the file is %s.tmp", tpath);
  char kind[16];
  rc = lf_io_file_kind(ttmp, kind, sizeof kind);
  expect_fail(rc, LF_ERR_IO, "is open for writing", "reading the .tmp while it is written");
  rc = LF_OK;
  for (int i = 0; i < N && rc == LF_OK; i++) rc = lf_io_metrics_append(w, &rec[i]);
  CHECK(rc == LF_OK && lf_io_metrics_count(w) == N, "appended %lld records (%s)",
        (long long)lf_io_metrics_count(w), lf_last_error());
  rc = lf_io_metrics_close(w);
  CHECK(rc == LF_OK && lf_test_exists(tpath) && !lf_test_exists(ttmp),
        "metrics close renames .tmp: %s", lf_last_error());

  lf_train_series s;
  rc = lf_io_metrics_read(tpath, &s, &cfg2);
  CHECK(rc == LF_OK && s.n == N, "metrics read: n = %zu (%s)", s.n, lf_last_error());
  if (rc == LF_OK && s.n == N) {
    int bad = 0;
    for (int i = 0; i < N; i++) {
      bad +=
          s.step[i] != rec[i].step || s.batch[i] != rec[i].batch || s.skipped[i] != rec[i].skipped;
      bad += memcmp(&s.loss[i], &rec[i].loss, 8) != 0 || memcmp(&s.ess[i], &rec[i].ess, 8) != 0;
      bad += memcmp(&s.ess_smoothed[i], &rec[i].ess_smoothed, 8) != 0;
      bad += memcmp(&s.lr[i], &rec[i].lr, 8) != 0 || memcmp(&s.seconds[i], &rec[i].seconds, 8);
      bad += memcmp(&s.grad_norm[i], &rec[i].grad_norm, 8) != 0;
    }
    CHECK(bad == 0, "all 9 columns of %d records read back bitwise (%d mismatches)", N, bad);
    CHECK(s.step[999] == ((int64_t)1 << 40) + 1000, "int64 step survives: %lld",
          (long long)s.step[999]);
    CHECK(lf_config_diff(&cfg, &cfg2, NULL, 0) == 0, "metrics file carries the config");
  }
  lf_io_series_free(&s);
  CHECK(s.n == 0 && s.loss == NULL, "series_free zeroes");

  rc = lf_io_file_kind(tpath, kind, sizeof kind);
  CHECK(rc == LF_OK && strcmp(kind, "train") == 0, "train file kind '%s'", kind);
  rc = lf_io_metrics_open(&w, tpath, &cfg, 0);
  expect_fail(rc, LF_ERR_IO, "exists; refusing to overwrite", "metrics over an existing file");
  CHECK(w == NULL && !lf_test_exists(ttmp), "refused metrics open leaves no writer and no .tmp");

  /* an empty run (zero records) is a valid file */
  const char *epath = tname("train_empty.h5");
  rc = lf_io_metrics_open(&w, epath, &cfg, 0);
  if (rc == LF_OK) rc = lf_io_metrics_close(w);
  if (rc == LF_OK) rc = lf_io_metrics_read(epath, &s, NULL);
  CHECK(rc == LF_OK && s.n == 0, "zero-record metrics file: n = %zu (%s)", s.n, lf_last_error());
  lf_io_series_free(&s);

  /* ---- refusals ---- */
  lf_model m;
  lf_model mm;
  memset(&mm, 0xff, sizeof mm);
  CHECK(make_model(&m, &cfg), "refusals: model init: %s", lf_last_error());
  const char *mpath = tname("ref_model.h5");
  rc = lf_io_model_save(mpath, &m, &cfg, 0);
  CHECK(rc == LF_OK, "refusals: model save: %s", lf_last_error());

  const char *missing = tname("missing.h5");
  rc = lf_io_model_load(missing, &cfg2, &mm, 1);
  expect_fail(rc, LF_ERR_IO, "no such file", "missing file");
  CHECK(mm.params == NULL && mm.nparams == 0, "failed load leaves the model zeroed");
  rc = lf_io_file_kind(missing, kind, sizeof kind);
  expect_fail(rc, LF_ERR_IO, "no such file", "file_kind of a missing file");

  const char *text = tname("text.h5");
  const char *hello = "theory: {name: phi4}\nthis is not HDF5\n";
  CHECK(lf_test_spew(text, hello, strlen(hello)), "wrote a text file");
  rc = lf_io_model_load(text, &cfg2, &mm, 1);
  expect_fail(rc, LF_ERR_FORMAT, "is not an HDF5 file", "text file");
  rc = lf_io_metrics_read(text, &s, NULL);
  expect_fail(rc, LF_ERR_FORMAT, "is not an HDF5 file", "text file as metrics");

  const char *empty = tname("empty.h5");
  CHECK(lf_test_spew(empty, "", 0), "wrote an empty file");
  rc = lf_io_model_peek(empty, &cfg2);
  expect_fail(rc, LF_ERR_FORMAT, "is empty", "empty file");

  const char *trunc = tname("trunc.h5");
  size_t nfull = 0;
  unsigned char *full = lf_test_slurp(mpath, &nfull);
  CHECK(full && lf_test_spew(trunc, full, nfull / 2), "wrote the first %zu of %zu bytes", nfull / 2,
        nfull);
  free(full);
  rc = lf_io_model_load(trunc, &cfg2, &mm, 1);
  expect_fail(rc, LF_ERR_FORMAT, "truncated or corrupted", "truncated model file");
  rc = lf_io_file_kind(trunc, kind, sizeof kind);
  expect_fail(rc, LF_ERR_FORMAT, "truncated or corrupted", "file_kind of a truncated file");

  rc = lf_io_model_load(tpath, &cfg2, &mm, 1);
  expect_fail(rc, LF_ERR_FORMAT, "is a latflow train file, expected a model file",
              "train file as a model");
  rc = lf_io_metrics_read(mpath, &s, NULL);
  expect_fail(rc, LF_ERR_FORMAT, "is a latflow model file, expected a train file",
              "model file as metrics");

  const char *plain = tname("plain.h5");
  hid_t f = H5Fcreate(plain, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t three = 3;
  hid_t sp = H5Screate_simple(1, &three, NULL);
  hid_t d = H5Dcreate2(f, "x", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const double xs[3] = {1, 2, 3};
  CHECK(f >= 0 && d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, xs) >= 0,
        "wrote a plain HDF5 file");
  H5Dclose(d);
  H5Sclose(sp);
  H5Fclose(f);
  rc = lf_io_model_load(plain, &cfg2, &mm, 1);
  expect_fail(rc, LF_ERR_FORMAT, "not a latflow file", "HDF5 file without latflow attributes");
  rc = lf_io_file_kind(plain, kind, sizeof kind);
  expect_fail(rc, LF_ERR_FORMAT, "not a latflow file", "file_kind of a plain HDF5 file");

  const char *newer = tname("newer.h5");
  CHECK(lf_test_copy_file(mpath, newer) &&
            set_format_version(newer, LF_IO_MODEL_FORMAT_VERSION + 1),
        "made a copy with format_version %d", LF_IO_MODEL_FORMAT_VERSION + 1);
  rc = lf_io_model_load(newer, &cfg2, &mm, 1);
  expect_fail(rc, LF_ERR_FORMAT, "newer than", "newer format_version");

  const char *corrupt = tname("corrupt.h5");
  CHECK(lf_test_copy_file(mpath, corrupt) && bump_param(corrupt), "changed parameter 5 of a copy");
  rc = lf_io_model_load(corrupt, &cfg2, &mm, 1);
  expect_fail(rc, LF_ERR_FORMAT, "parameter hash mismatch", "corrupted parameter");
  CHECK(mm.params == NULL, "hash-mismatch load frees the model");
  rc = lf_io_model_load(mpath, &cfg2, &mm, 1);
  CHECK(rc == LF_OK, "the original still loads: %s", lf_last_error());
  lf_model_free(&mm);

  /* a directory that does not exist */
  char nodir[200];
  snprintf(nodir, sizeof nodir, "test_io_%ld_no_such_dir/model.h5", (long)getpid());
  rc = lf_io_model_save(nodir, &m, &cfg, 0);
  expect_fail(rc, LF_ERR_IO, "cannot create", "save into a missing directory");

  /* a save whose config disagrees with the model's lattice is a caller bug */
  lf_config bad = cfg;
  bad.theory.shape[0] = 8;
  rc = lf_io_model_save(tname("bad.h5"), &m, &bad, 0);
  expect_fail(rc, LF_ERR_INVALID, "theory.shape [8, 6]", "save with a mismatched shape");
  lf_model_free(&m);
}

/* Volume transfer (lf_io_model_load_on): the same lattice is a plain load; another one
 * gets the file's parameters bitwise on a model of that lattice (its own hash, same step);
 * a gauge flow cannot run on 6x6 (masks need multiples of 4): LF_ERR_CONFIG naming both
 * lattices, the model left zeroed. */
static void test_load_on(void) {
  lf_config cfg, back;
  lf_model m, a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  small_config(&cfg, LF_PREC_F64, LF_BASE_NORMAL);
  CHECK(make_model(&m, &cfg), "load_on: lf_model_init: %s", lf_last_error());
  m.train_steps = 130;
  m.n_train = 4160;
  m.chain_steps = 200;
  m.chain_n_train = 6400;
  m.chain_seconds = 12.5;
  const char *path = tname("load_on.h5");
  CHECK(lf_io_model_save(path, &m, &cfg, 0) == LF_OK, "load_on: save: %s", lf_last_error());
  lf_status rc = lf_io_model_load_on(path, 4, 6, &back, &a, 2);
  CHECK(rc == LF_OK && a.L0 == 4 && a.L1 == 6 && lf_model_hash(&a) == lf_model_hash(&m),
        "load_on the training lattice = load (rc %d, %dx%d)", rc, a.L0, a.L1);
  rc = lf_io_model_load_on(path, 8, 10, &back, &b, 2);
  CHECK(rc == LF_OK && b.L0 == 8 && b.L1 == 10 && back.theory.shape[0] == 4 &&
            back.theory.shape[1] == 6 && b.nparams == m.nparams && b.step == 123 &&
            memcmp(b.params, m.params, m.nparams * m.real_size) == 0 &&
            lf_model_hash(&b) != lf_model_hash(&m) && b.train_steps == 130 && b.n_train == 4160 &&
            b.chain_steps == 200 && b.chain_n_train == 6400 && b.chain_seconds == 12.5,
        "load_on 8x10: rc %d (%s), %dx%d, stored shape %dx%d, step %llu, params bitwise", rc,
        rc == LF_OK ? "" : lf_last_error(), b.L0, b.L1, back.theory.shape[0], back.theory.shape[1],
        (unsigned long long)b.step);
  lf_model_free(&a);
  lf_model_free(&b);
  lf_model_free(&m);
  /* a file from before the cost attributes: its own run, samples not recorded */
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  int del = f >= 0;
  const char *cost[5] = {"train_steps", "n_train", "chain_steps", "chain_n_train", "chain_seconds"};
  for (int i = 0; i < 5 && del; i++) del = H5Adelete_by_name(f, "model", cost[i], H5P_DEFAULT) >= 0;
  if (f >= 0) H5Fclose(f);
  rc = lf_io_model_load(path, &back, &a, 1);
  CHECK(del && rc == LF_OK && a.train_steps == 123 && a.n_train == -1 && a.chain_steps == 123 &&
            a.chain_n_train == -1 && a.chain_seconds == a.train_seconds,
        "an old file reads as its own run: rc %d, steps %ld, n_train %lld, chain %ld", rc,
        a.train_steps, (long long)a.n_train, a.chain_steps);
  lf_model_free(&a);
  /* a u1 gauge flow of 4x4 on 6x6 */
  lf_config_defaults(&cfg);
  CHECK(lf_config_set(&cfg, "theory.name=u1") == LF_OK &&
            lf_config_set(&cfg, "theory.shape=[4, 4]") == LF_OK,
        "u1 card: %s", lf_last_error());
  cfg.model.layers = 2;
  cfg.model.nhidden = 1;
  cfg.model.hidden[0] = 3;
  CHECK(lf_model_init(&m, &cfg.model, 2, 4, 4, 1) == LF_OK, "gauge model: %s", lf_last_error());
  lf_model_init_params(&m, 3);
  const char *gpath = tname("load_on_u1.h5");
  CHECK(lf_io_model_save(gpath, &m, &cfg, 0) == LF_OK, "gauge save: %s", lf_last_error());
  rc = lf_io_model_load_on(gpath, 6, 6, &back, &b, 1);
  CHECK(b.params == NULL && b.nparams == 0, "a refused transfer leaves the model zeroed");
  expect_fail(rc, LF_ERR_CONFIG, "was trained on 4x4; its architecture cannot run on the 6x6",
              "gauge flow 4x4 -> 6x6");
  rc = lf_io_model_load_on(gpath, 8, 8, &back, &b, 1);
  CHECK(rc == LF_OK && b.L0 == 8 && b.nparams == m.nparams, "gauge flow 4x4 -> 8x8: rc %d", rc);
  lf_model_free(&b);
  lf_model_free(&m);
}

int main(void) {
  test_roundtrip(LF_PREC_F32, LF_BASE_FREE_FIELD, "model_f32.h5");
  test_roundtrip(LF_PREC_F64, LF_BASE_NORMAL, "model_f64.h5");
  test_reproducible();
  test_damaged_config();
  test_checksummed_format();
  test_planted_links();
  test_metrics_and_refusals();
  test_load_on();
  lf_test_cleanup();
  return lf_test_result();
}
