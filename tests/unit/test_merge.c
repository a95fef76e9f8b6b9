/* lf_ens_merge (latflow/merge.h): three IMH files with different seeds (one with two
 * chains, two sharing a model) merge into one file of 4 chains whose observables,
 * correlators, chain tables and configurations equal the inputs' bitwise, chain by chain
 * in input order; each output chain carries the provenance of its source (path, chain,
 * model hash, seed, latflow version, gen and train seconds), and the root has gen_seconds
 * = sum and train_seconds = sum over distinct models; merging a merged file passes the
 * original provenance on; one chain given twice is refused by content naming both files and
 * chains (a merged file with one of its sources, a byte copy, a rerun with the same seed
 * but other lengths, a version 2 copy); two HMC files merge; a file without configurations makes
 * the output configuration-free (reported); mismatches of lattice, lambda, observable names, nobs,
 * ncorr and kind (imh+hmc, imh+reweight) are refused with LF_ERR_FORMAT naming the key and both
 * files, and leave no output; a truncated input is refused naming it; an existing output is refused
 * without overwrite; an input given twice or as the output is refused. Every merged chain has the
 * multiplicity dataset (format version 3) equal to its source's, also when the source is a version
 * 2 file without one. Files go to the current directory, named by pid. */
#include "latflow/config.h"
#include "latflow/ensemble.h"
#include "latflow/merge.h"
#include "latflow/rng.h"
#include "ens_test.h"
#include "lftest.h"

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { L0 = 4, L1 = 6, NOBS = 3, NCORR = 4 };

/* A unique scratch file name (testutil.h); lf_test_cleanup removes it. */
static const char *tname(const char *tag) {
  return lf_test_tname("test_merge", tag);
}

static int same_bits(const void *a, const void *b, size_t n) {
  return memcmp(a, b, n) == 0;
}

/* One input file: its run and its data (pure functions of seed and chain). */
typedef struct spec {
  lf_ens_kind kind;
  uint64_t seed;
  int nchains;
  size_t nsteps[2];
  int save, l1, nobs, ncorr;
  double lambda;
  const char *obs2;       /* name of observable 2 */
  const char *model_hash; /* flow */
  double train_seconds, gen_seconds;
} spec;

static spec base_spec(lf_ens_kind kind, uint64_t seed) {
  spec s = {kind, seed, 1, {120, 0}, 1, L1, NOBS, NCORR, 8.0, "E", "", 0.0, 1.0};
  if (kind != LF_ENS_HMC) {
    s.model_hash = "00000000000000aa";
    s.train_seconds = 10.0;
  }
  return s;
}

static lf_status make_file(const char *path, const spec *sp) {
  lf_status rc = LF_OK;
  lf_config cfg;
  lf_ens_info in;
  lf_ens_writer *w = NULL;
  lf_config_defaults(&cfg);
  cfg.seed = sp->seed;
  cfg.theory.shape[0] = L0;
  cfg.theory.shape[1] = sp->l1;
  cfg.theory.m2 = -4.0;
  cfg.theory.lambda = sp->lambda;
  memset(&in, 0, sizeof in);
  in.kind = sp->kind;
  snprintf(in.theory, sizeof in.theory, "phi4");
  in.C = 1;
  in.L0 = L0;
  in.L1 = sp->l1;
  in.nobs = sp->nobs;
  snprintf(in.obs_names[0], LF_NAME_MAX, "M");
  snprintf(in.obs_names[1], LF_NAME_MAX, "absM");
  if (sp->nobs > 2) snprintf(in.obs_names[2], LF_NAME_MAX, "%s", sp->obs2);
  in.ncorr = sp->ncorr;
  in.save_configs = sp->save;
  snprintf(in.model_hash, sizeof in.model_hash, "%s", sp->model_hash);
  if (sp->model_hash[0]) snprintf(in.model_path, sizeof in.model_path, "m_%s.h5", sp->model_hash);
  in.train_seconds = sp->train_seconds;
  LF_CHECK(lf_ens_create(&w, path, &cfg, &in, 0));
  const size_t nphi = (size_t)L0 * (size_t)sp->l1;
  for (int r = 0; r < sp->nchains; r++) {
    if (r > 0) LF_CHECK(lf_ens_add_chain(w));
    lf_rng_key k = lf_rng_key_make(sp->seed * 16 + (uint64_t)r, LF_STREAM_TEST);
    int64_t rows = 0;
    for (size_t i = 0; i < sp->nsteps[r]; i++) {
      double obs[NOBS], corr[NCORR], phi[L0 * 8], g[2];
      const int acc = i == 0 || lf_rng_uniform(k, 0, i) < 0.5;
      if (acc) {
        lf_rng_normal(k, 1, i, (size_t)sp->nobs, obs);
        lf_rng_normal(k, 2, i, NCORR, corr);
        lf_rng_normal(k, 3, i, nphi, phi);
        if (i == 2) obs[1] = 4e-320; /* a denormal must survive bitwise */
        LF_CHECK(lf_ens_append_row(w, obs, corr, phi, NULL));
        rows++;
      }
      lf_rng_normal(k, 4, i, 2, g);
      lf_ens_step s = {rows - 1,
                       (int64_t)i,
                       sp->kind == LF_ENS_HMC ? NAN : g[0],
                       sp->kind == LF_ENS_HMC ? 0.1 * g[1] : NAN,
                       (int8_t)acc,
                       0,
                       0};
      LF_CHECK(lf_ens_append_steps(w, 1, &s));
    }
  }
  lf_ens_set_gen_seconds(w, sp->gen_seconds);
  rc = lf_ens_close(w);
  w = NULL;
fail:
  if (w) lf_ens_abort(w);
  return rc;
}

/* Chain r of out equals chain rs of src, bitwise (obs, corr, steps, configs); out has the
 * multiplicity dataset, equal to the counts of row in src (read: lf_ensemble.mult). */
static int chain_equal(const char *out, const lf_ensemble *o, int r, const char *src,
                       const lf_ensemble *s, int rs, int configs) {
  const size_t nobs = (size_t)s->info.nobs, ncorr = (size_t)s->info.ncorr;
  if (o->rows[r] != s->rows[rs] || o->steps[r] != s->steps[rs]) return 0;
  const size_t rows = s->rows[rs];
  if (!same_bits(o->obs[r], s->obs[rs], rows * nobs * sizeof(double))) return 0;
  if (ncorr && !same_bits(o->corr[r], s->corr[rs], rows * ncorr * sizeof(double))) return 0;
  for (size_t i = 0; i < s->steps[rs]; i++) {
    const lf_ens_step *a = &o->chain[r][i], *b = &s->chain[rs][i];
    if (a->row != b->row || a->id != b->id || a->accepted != b->accepted ||
        !same_bits(&a->logw, &b->logw, sizeof a->logw) || !same_bits(&a->dH, &b->dH, sizeof a->dH))
      return 0;
  }
  int64_t *m = malloc((rows ? rows : 1) * sizeof *m);
  const int mult_ok = m && ens_test_mult(out, r, rows, m) &&
                      same_bits(m, s->mult[rs], rows * sizeof *m) &&
                      same_bits(o->mult[r], s->mult[rs], rows * sizeof *m);
  free(m);
  if (!mult_ok) return 0;
  if (configs) {
    const size_t nphi = (size_t)s->info.C * (size_t)s->info.L0 * (size_t)s->info.L1;
    double *x = malloc(rows * nphi * sizeof *x), *y = malloc(rows * nphi * sizeof *y);
    int ok = x && y && lf_ens_read_configs(out, r, 0, rows, x) == LF_OK &&
             lf_ens_read_configs(src, rs, 0, rows, y) == LF_OK &&
             same_bits(x, y, rows * nphi * sizeof *x);
    free(x);
    free(y);
    if (!ok) return 0;
  }
  return 1;
}

/* Provenance attributes of /chain_r. */
typedef struct prov {
  char path[256], hash[80], version[64];
  int64_t chain;
  uint64_t seed;
  double gen, train;
} prov;

static int read_str_attr(hid_t g, const char *name, char *buf, size_t n) {
  hid_t a = H5Aopen(g, name, H5P_DEFAULT);
  if (a < 0) return 0;
  hid_t t = H5Aget_type(a);
  size_t sz = t >= 0 ? H5Tget_size(t) : 0;
  int ok = t >= 0 && sz > 0 && sz < n && H5Aread(a, t, buf) >= 0;
  if (ok) buf[sz] = '\0';
  if (t >= 0) H5Tclose(t);
  H5Aclose(a);
  return ok;
}

static int read_num_attr(hid_t g, const char *name, hid_t mtype, void *v) {
  hid_t a = H5Aopen(g, name, H5P_DEFAULT);
  if (a < 0) return 0;
  int ok = H5Aread(a, mtype, v) >= 0;
  H5Aclose(a);
  return ok;
}

static int read_prov(const char *path, int r, prov *p) {
  char gname[32];
  int ok = 0;
  memset(p, 0, sizeof *p);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return 0;
  snprintf(gname, sizeof gname, "chain_%d", r);
  hid_t g = H5Gopen(f, gname, H5P_DEFAULT);
  if (g >= 0) {
    ok = read_str_attr(g, "source_path", p->path, sizeof p->path) &&
         read_str_attr(g, "source_model_hash", p->hash, sizeof p->hash) &&
         read_str_attr(g, "source_latflow_version", p->version, sizeof p->version) &&
         read_num_attr(g, "source_chain", H5T_NATIVE_INT64, &p->chain) &&
         read_num_attr(g, "source_seed", H5T_NATIVE_UINT64, &p->seed) &&
         read_num_attr(g, "source_gen_seconds", H5T_NATIVE_DOUBLE, &p->gen) &&
         read_num_attr(g, "source_train_seconds", H5T_NATIVE_DOUBLE, &p->train);
    H5Gclose(g);
  }
  H5Fclose(f);
  return ok;
}

static void check_prov(const char *out, int r, const char *src, int chain, uint64_t seed,
                       const char *hash, double gen, double train) {
  prov p;
  int ok = read_prov(out, r, &p);
  CHECK(ok && !strcmp(p.path, src) && p.chain == chain && p.seed == seed && !strcmp(p.hash, hash) &&
            p.gen == gen && p.train == train && p.version[0],
        "/chain_%d provenance: source_path '%s' (want '%s'), source_chain %lld (%d), seed %llu "
        "(%llu), model_hash '%s' ('%s'), gen %g (%g), train %g (%g), version '%s'",
        r, p.path, src, (long long)p.chain, chain, (unsigned long long)p.seed,
        (unsigned long long)seed, p.hash, hash, p.gen, gen, p.train, train, p.version);
}

/* The merge of a and b returns want, its message names key, a and b, and out is absent. */
static void expect_refused(const char *a, const char *b, const char *key, const char *what) {
  const char *out = tname("refused.h5");
  const char *in[2] = {a, b};
  lf_status rc = lf_ens_merge(out, 2, in, 0, NULL);
  const char *msg = lf_last_error();
  CHECK(rc == LF_ERR_FORMAT && strstr(msg, key) && strstr(msg, a) && strstr(msg, b) &&
            !lf_test_exists(out),
        "%s refused: status %d (want %d), output %s, message \"%s\" (want '%s' and both files)",
        what, (int)rc, (int)LF_ERR_FORMAT, lf_test_exists(out) ? "EXISTS" : "absent", msg, key);
  lf_clear_error();
}

int main(void) {
  lf_status rc;
  /* A: 1 chain, seed 21, model aa; B: 2 chains, seed 22, model aa; C: seed 23, model bb */
  const char *fa = tname("a.h5"), *fb = tname("b.h5"), *fc = tname("c.h5");
  spec sa = base_spec(LF_ENS_IMH, 21), sb = base_spec(LF_ENS_IMH, 22),
       sc = base_spec(LF_ENS_IMH, 23);
  sa.gen_seconds = 1.5;
  sb.nchains = 2;
  sb.nsteps[0] = 90;
  sb.nsteps[1] = 150;
  sb.gen_seconds = 2.25;
  sc.model_hash = "00000000000000bb";
  sc.train_seconds = 7.0;
  sc.gen_seconds = 0.5;
  rc = make_file(fa, &sa);
  if (rc == LF_OK) rc = make_file(fb, &sb);
  if (rc == LF_OK) rc = make_file(fc, &sc);
  CHECK(rc == LF_OK, "three input files written (%s)", rc == LF_OK ? "ok" : lf_last_error());
  if (rc != LF_OK) return lf_test_result();

  const char *out = tname("merged.h5");
  const char *abc[3] = {fa, fb, fc};
  lf_merge_summary sum;
  rc = lf_ens_merge(out, 3, abc, 0, &sum);
  CHECK(rc == LF_OK, "merge a, b, c (%s)", rc == LF_OK ? "ok" : lf_last_error());
  lf_ensemble e, ea, eb, ec;
  rc = lf_ens_read(out, &e);
  lf_ens_read(fa, &ea);
  lf_ens_read(fb, &eb);
  lf_ens_read(fc, &ec);
  CHECK(rc == LF_OK && e.R == 4, "merged file reads back with R = %d chains (want 4)", e.R);
  if (rc == LF_OK && e.R == 4) {
    const struct {
      const char *src;
      const lf_ensemble *s;
      int rs;
    } map[4] = {{fa, &ea, 0}, {fb, &eb, 0}, {fb, &eb, 1}, {fc, &ec, 0}};
    for (int r = 0; r < 4; r++)
      CHECK(chain_equal(out, &e, r, map[r].src, map[r].s, map[r].rs, 1),
            "chain %d = chain %d of %s bitwise: %zu rows, %zu steps (obs, corr, steps, configs, "
            "multiplicity)",
            r, map[r].rs, map[r].src, e.rows[r], e.steps[r]);
    CHECK(e.info.kind == LF_ENS_IMH && e.info.save_configs == 1 && e.info.nobs == NOBS &&
              e.info.ncorr == NCORR && e.info.L1 == L1 && e.cfg.theory.lambda == 8.0,
          "merged info: kind %d, save_configs %d, nobs %d, ncorr %d, L1 %d, lambda %g", e.info.kind,
          e.info.save_configs, e.info.nobs, e.info.ncorr, e.info.L1, e.cfg.theory.lambda);
    CHECK(e.info.gen_seconds == 4.25 && e.info.train_seconds == 17.0,
          "root gen_seconds %g (want 1.5 + 2.25 + 0.5 = 4.25), train_seconds %g (want 10 + 7 "
          "= 17: models aa and bb once each)",
          e.info.gen_seconds, e.info.train_seconds);
    CHECK(e.info.model_hash[0] == '\0' && e.info.model_path[0] == '\0',
          "two models: root model_hash '%s' and model_path '%s' empty", e.info.model_hash,
          e.info.model_path);
    CHECK(sum.chains == 4 && sum.inputs == 3 && sum.models == 2 && sum.save_configs &&
              !sum.configs_dropped &&
              sum.rows == (int64_t)(ea.rows[0] + eb.rows[0] + eb.rows[1] + ec.rows[0]) &&
              sum.steps == 120 + 90 + 150 + 120,
          "summary: %d inputs, %d chains, %lld rows, %lld steps (want 480), %d models", sum.inputs,
          sum.chains, (long long)sum.rows, (long long)sum.steps, sum.models);
    check_prov(out, 0, fa, 0, 21, "00000000000000aa", 1.5, 10.0);
    check_prov(out, 1, fb, 0, 22, "00000000000000aa", 2.25, 10.0);
    check_prov(out, 2, fb, 1, 22, "00000000000000aa", 2.25, 10.0);
    check_prov(out, 3, fc, 0, 23, "00000000000000bb", 0.5, 7.0);
  }
  lf_ens_free(&e);

  /* a merged file merges again: its chains keep their original provenance */
  const char *fe = tname("e.h5"), *out2 = tname("merged2.h5");
  spec se = base_spec(LF_ENS_IMH, 25);
  se.model_hash = "00000000000000bb";
  se.train_seconds = 7.0;
  se.gen_seconds = 0.5;
  rc = make_file(fe, &se);
  lf_ensemble ee;
  memset(&ee, 0, sizeof ee);
  if (rc == LF_OK) rc = lf_ens_read(fe, &ee);
  const char *me[2] = {out, fe};
  if (rc == LF_OK) rc = lf_ens_merge(out2, 2, me, 0, &sum);
  CHECK(rc == LF_OK, "merge (merged, e) (%s)", rc == LF_OK ? "ok" : lf_last_error());
  rc = lf_ens_read(out2, &e);
  CHECK(rc == LF_OK && e.R == 5 && chain_equal(out2, &e, 4, fe, &ee, 0, 1) &&
            e.info.gen_seconds == 4.75 && e.info.train_seconds == 17.0,
        "re-merge: R = %d (want 5), chain 4 = e bitwise, gen_seconds %g (4.75), train_seconds %g "
        "(17)",
        e.R, e.info.gen_seconds, e.info.train_seconds);
  lf_ens_free(&e);
  lf_ens_free(&ee);
  check_prov(out2, 2, fb, 1, 22, "00000000000000aa", 2.25, 10.0);
  check_prov(out2, 4, fe, 0, 25, "00000000000000bb", 0.5, 7.0);

  /* one chain twice is refused by content, whatever the file names: a merged file with
   * one of its sources, a byte copy, a rerun with the same seed (longer) */
  {
    const char *o = tname("o_dup.h5"), *o2 = tname("o_dup2.h5"), *o3 = tname("o_dup3.h5"),
               *cp = tname("a_copy.h5"), *rerun = tname("a_rerun.h5");
    char want[1024];
    const char *mc[2] = {out, fc};
    rc = lf_ens_merge(o, 2, mc, 0, NULL);
    snprintf(want, sizeof want, "chain 3 of %s (from '%s' chain 0) and chain 0 of %s are identical",
             out, fc, fc);
    CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), want) && !lf_test_exists(o),
          "(merged, c) refused: status %d, \"%s\" (want \"%s\"), output %s", (int)rc,
          lf_last_error(), want, lf_test_exists(o) ? "EXISTS" : "absent");
    lf_clear_error();
    FILE *src = fopen(fa, "rb"), *dst = fopen(cp, "wb");
    int ok = src && dst;
    char buf[4096];
    size_t got;
    while (ok && (got = fread(buf, 1, sizeof buf, src)) > 0) ok = fwrite(buf, 1, got, dst) == got;
    if (src) fclose(src);
    if (dst && fclose(dst) != 0) ok = 0;
    const char *ac[3] = {fc, fa, cp};
    rc = ok ? lf_ens_merge(o2, 3, ac, 0, NULL) : LF_ERR_IO;
    snprintf(want, sizeof want, "chain 0 of %s and chain 0 of %s are identical", fa, cp);
    CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), want) && !lf_test_exists(o2),
          "(c, a, copy of a) refused: status %d, \"%s\" (want \"%s\"), output %s", (int)rc,
          lf_last_error(), want, lf_test_exists(o2) ? "EXISTS" : "absent");
    lf_clear_error();
    spec sr = base_spec(LF_ENS_IMH, 22); /* b's seed; its chain 1 is 150 steps long */
    sr.nchains = 2;
    sr.nsteps[0] = 50;
    sr.nsteps[1] = 200;
    rc = make_file(rerun, &sr);
    const char *br[2] = {fb, rerun};
    rc = rc == LF_OK ? lf_ens_merge(o3, 2, br, 0, NULL) : rc;
    snprintf(want, sizeof want, "chain 0 of %s and chain 0 of %s are the same chain", fb, rerun);
    CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), want) && !lf_test_exists(o3),
          "(b, b rerun longer/shorter) refused: status %d, \"%s\" (want \"%s\"), output %s",
          (int)rc, lf_last_error(), want, lf_test_exists(o3) ? "EXISTS" : "absent");
    lf_clear_error();
  }

  /* a version 2 input (no multiplicity) merges with version 3 ones; the output has the
   * current version and the multiplicity of every chain */
  {
    const char *old = tname("v2.h5"), *o = tname("o_v2.h5");
    FILE *src = fopen(fc, "rb"), *dst = fopen(old, "wb");
    int ok = src && dst;
    char buf[4096];
    size_t got;
    while (ok && (got = fread(buf, 1, sizeof buf, src)) > 0) ok = fwrite(buf, 1, got, dst) == got;
    if (src) fclose(src);
    if (dst && fclose(dst) != 0) ok = 0;
    hid_t f = ok ? H5Fopen(old, H5F_ACC_RDWR, H5P_DEFAULT) : -1;
    hid_t a = f >= 0 ? H5Aopen(f, "format_version", H5P_DEFAULT) : -1;
    const int two = 2;
    ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &two) >= 0 &&
         H5Ldelete(f, "/chain_0/multiplicity", H5P_DEFAULT) >= 0;
    if (a >= 0) H5Aclose(a);
    if (f >= 0) H5Fclose(f);
    const char *in[2] = {fa, old};
    rc = ok ? lf_ens_merge(o, 2, in, 0, NULL) : LF_ERR_IO;
    rc = rc == LF_OK ? lf_ens_read(o, &e) : rc;
    int version = 0;
    f = rc == LF_OK ? H5Fopen(o, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    a = f >= 0 ? H5Aopen(f, "format_version", H5P_DEFAULT) : -1;
    if (a >= 0) H5Aread(a, H5T_NATIVE_INT, &version), H5Aclose(a);
    if (f >= 0) H5Fclose(f);
    CHECK(rc == LF_OK && e.R == 2 && chain_equal(o, &e, 1, fc, &ec, 0, 1) &&
              version == LF_IO_ENSEMBLE_FORMAT_VERSION,
          "a (version 3) + c as version 2: merged, chain 1 = c with its multiplicity "
          "recomputed, output format_version %d (%s)",
          version, rc == LF_OK ? "ok" : lf_last_error());
    lf_ens_free(&e);
    const char *cc[2] = {fc, old}; /* the fingerprint ignores the format version */
    rc = lf_ens_merge(tname("o_v2dup.h5"), 2, cc, 0, NULL);
    CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "are identical"),
          "c + c as version 2 refused: \"%s\"", lf_last_error());
    lf_clear_error();
  }

  /* inputs that disagree on save_configs: the output has none, and says so */
  const char *fd = tname("noconf.h5"), *out3 = tname("merged3.h5");
  spec sd = base_spec(LF_ENS_IMH, 24);
  sd.save = 0;
  rc = make_file(fd, &sd);
  const char *ad[2] = {fa, fd};
  if (rc == LF_OK) rc = lf_ens_merge(out3, 2, ad, 0, &sum);
  rc = rc == LF_OK ? lf_ens_read(out3, &e) : rc;
  CHECK(rc == LF_OK && e.R == 2 && e.info.save_configs == 0 && sum.configs_dropped &&
            !strcmp(sum.no_configs_path, fd) && chain_equal(out3, &e, 0, fa, &ea, 0, 0) &&
            e.info.train_seconds == 10.0 && !strcmp(e.info.model_hash, "00000000000000aa"),
        "a + noconf: R = %d, save_configs %d, configs_dropped %d naming '%s', chain 0 = a "
        "(obs, corr, steps), one model: train_seconds %g, model_hash '%s' (%s)",
        e.R, e.info.save_configs, sum.configs_dropped, sum.no_configs_path, e.info.train_seconds,
        e.info.model_hash, rc == LF_OK ? "ok" : lf_last_error());
  lf_ens_free(&e);

  /* two HMC files */
  const char *h1 = tname("h1.h5"), *h2 = tname("h2.h5"), *outh = tname("mergedh.h5");
  spec s1 = base_spec(LF_ENS_HMC, 31), s2 = base_spec(LF_ENS_HMC, 32);
  s2.nsteps[0] = 77;
  rc = make_file(h1, &s1);
  if (rc == LF_OK) rc = make_file(h2, &s2);
  const char *hh[2] = {h1, h2};
  if (rc == LF_OK) rc = lf_ens_merge(outh, 2, hh, 0, &sum);
  rc = rc == LF_OK ? lf_ens_read(outh, &e) : rc;
  lf_ensemble e2;
  memset(&e2, 0, sizeof e2);
  if (rc == LF_OK) rc = lf_ens_read(h2, &e2);
  CHECK(rc == LF_OK && e.R == 2 && e.info.kind == LF_ENS_HMC && e.steps[0] + e.steps[1] == 197 &&
            chain_equal(outh, &e, 1, h2, &e2, 0, 1) && e.info.train_seconds == 0.0 &&
            e.info.gen_seconds == 2.0 && sum.models == 0,
        "hmc + hmc: R = %d, %zu steps (want 197), chain 1 = h2 bitwise (NaN logw kept), "
        "train_seconds %g, gen_seconds %g, models %d (%s)",
        e.R, rc == LF_OK ? e.steps[0] + e.steps[1] : 0, e.info.train_seconds, e.info.gen_seconds,
        sum.models, rc == LF_OK ? "ok" : lf_last_error());
  lf_ens_free(&e);
  lf_ens_free(&e2);
  check_prov(outh, 1, h2, 0, 32, "", 1.0, 0.0);

  /* mismatches: each refused naming the key and both files */
  struct {
    const char *tag, *key, *what;
    spec s;
  } bad[7];
  for (int i = 0; i < 7; i++) bad[i].s = base_spec(LF_ENS_IMH, (uint64_t)(40 + i));
  bad[0].tag = "l8.h5", bad[0].key = "theory.shape differs", bad[0].what = "another lattice";
  bad[0].s.l1 = 8;
  bad[1].tag = "lam7.h5", bad[1].key = "theory.lambda differs: ", bad[1].what = "another lambda";
  bad[1].s.lambda = 7.0;
  bad[2].tag = "obs.h5", bad[2].key = "obs_names[2] differs", bad[2].what = "another observable";
  bad[2].s.obs2 = "chi2";
  bad[3].tag = "nobs.h5", bad[3].key = "nobs", bad[3].what = "fewer observables";
  bad[3].s.nobs = 2;
  bad[4].tag = "ncorr.h5", bad[4].key = "ncorr", bad[4].what = "another correlator length";
  bad[4].s.ncorr = 2;
  bad[5].tag = "rew.h5", bad[5].key = "IMH chains with reweighting", bad[5].what = "imh + reweight";
  bad[5].s.kind = LF_ENS_REWEIGHT;
  bad[6].tag = "hmc.h5", bad[6].key = "flow ensemble with an HMC", bad[6].what = "imh + hmc";
  bad[6].s = base_spec(LF_ENS_HMC, 46);
  const char *lam7 = NULL;
  for (int i = 0; i < 7; i++) {
    const char *p = tname(bad[i].tag);
    if (i == 1) lam7 = p;
    rc = make_file(p, &bad[i].s);
    if (rc != LF_OK) {
      CHECK(0, "writing %s: %s", p, lf_last_error());
      continue;
    }
    expect_refused(fa, p, bad[i].key, bad[i].what);
  }
  if (lam7) {
    char want[512];
    snprintf(want, sizeof want, "theory.lambda differs: %s has 8, %s has 7", fa, lam7);
    expect_refused(fa, lam7, want, "lambda message exact");
  }

  /* a truncated input is refused naming it */
  {
    const char *tr = tname("trunc.h5"), *o = tname("o_trunc.h5");
    FILE *src = fopen(fa, "rb"), *dst = fopen(tr, "wb");
    char buf[3000];
    size_t got = src ? fread(buf, 1, sizeof buf, src) : 0;
    int ok = src && dst && fwrite(buf, 1, got, dst) == got;
    if (src) fclose(src);
    if (dst && fclose(dst) != 0) ok = 0;
    const char *in[2] = {fa, tr};
    rc = ok ? lf_ens_merge(o, 2, in, 0, NULL) : LF_ERR_IO;
    const char *msg = lf_last_error();
    char want[256];
    snprintf(want, sizeof want, "merge input '%s'", tr);
    CHECK(rc == LF_ERR_FORMAT && strstr(msg, want) && !lf_test_exists(o),
          "truncated input refused: status %d, message \"%s\", output %s", (int)rc, msg,
          lf_test_exists(o) ? "EXISTS" : "absent");
    lf_clear_error();
  }

  /* an existing output: refused, then replaced with overwrite */
  {
    const char *in[1] = {fc};
    rc = lf_ens_merge(out3, 1, in, 0, NULL);
    const char *msg = lf_last_error();
    CHECK(rc == LF_ERR_IO && strstr(msg, "refusing to overwrite") && strstr(msg, out3),
          "existing output refused: status %d, \"%s\"", (int)rc, msg);
    lf_clear_error();
    rc = lf_ens_merge(out3, 1, in, 1, &sum);
    rc = rc == LF_OK ? lf_ens_read(out3, &e) : rc;
    CHECK(rc == LF_OK && e.R == 1 && chain_equal(out3, &e, 0, fc, &ec, 0, 1),
          "overwrite: out replaced by c alone, R = %d (%s)", e.R,
          rc == LF_OK ? "ok" : lf_last_error());
    lf_ens_free(&e);
    const char *twice[2] = {fa, fa};
    rc = lf_ens_merge(tname("o_twice.h5"), 2, twice, 0, NULL);
    CHECK(rc == LF_ERR_INVALID && strstr(lf_last_error(), "same file"),
          "an input given twice refused: \"%s\"", lf_last_error());
    lf_clear_error();
    const char *self[1] = {out3};
    rc = lf_ens_merge(out3, 1, self, 1, NULL);
    CHECK(rc == LF_ERR_INVALID && strstr(lf_last_error(), "overwrite an input"),
          "output = input refused even with overwrite: \"%s\"", lf_last_error());
    lf_clear_error();
  }

  lf_ens_free(&ea);
  lf_ens_free(&eb);
  lf_ens_free(&ec);
  const ssize_t open_ids = H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
  CHECK(open_ids == 0, "no HDF5 object left open: %zd", open_ids);
  const int left = lf_test_tnames_left(".tmp");
  CHECK(left == 0, "no .tmp file left behind: %d", left);
  lf_test_cleanup();
  return lf_test_result();
}
