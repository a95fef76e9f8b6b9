/* The memory estimate and the memory available (latflow/mem.h):
 *   the constants copied from MPI-including modules equal the originals;
 *   size strings parse ("4096", "2G", "1.5GiB", "512m") and junk is refused; sizes format;
 *   the flow's workspace part equals what lf_model_init really allocates (affine f32 and
 *   f64, gauge f32), and the parameter part the model's 4 arenas + the trainer's backup;
 *   the estimate grows as it must with batch, block, volume, layers, hidden, precision,
 *   Schwinger's dense Dirac matrices, and run is the largest of its phases;
 *   lf_mem_available picks the smallest of fake meminfo / cgroup v2 / cgroup v1 files,
 *   divides by the ranks on the node, ignores "max" and v1's "no limit", and says so. */
#include "latflow/config.h"
#include "latflow/dist.h"
#include "latflow/ensemble.h"
#include "latflow/mem.h"
#include "latflow/model.h"
#include "lftest.h"

#include <string.h>
#include <unistd.h>

static lf_config card(const char *yaml) {
  lf_config c;
  lf_config_defaults(&c);
  if (lf_config_parse_string(&c, lf_config_default_yaml(), "<default>") != LF_OK ||
      (yaml && lf_config_parse_string(&c, yaml, "test") != LF_OK)) {
    fprintf(stderr, "bad test card: %s\n%s\n", lf_last_error(), yaml ? yaml : "");
    exit(1);
  }
  return c;
}

static double est(const char *yaml, lf_mem_cmd cmd, int P) {
  lf_config c = card(yaml);
  lf_mem_est e;
  lf_mem_estimate(&c, cmd, P, &e);
  return e.total;
}

static double part(const lf_mem_est *e, const char *name) {
  double s = 0.0;
  for (int i = 0; i < e->nparts; i++)
    if (!strcmp(e->part[i].name, name)) s += e->part[i].bytes;
  return s;
}

static void test_constants(void) {
  CHECK(LF_MEM_DIST_WINDOW == LF_DIST_WINDOW, "LF_MEM_DIST_WINDOW %g == LF_DIST_WINDOW %d",
        LF_MEM_DIST_WINDOW, LF_DIST_WINDOW);
  CHECK(LF_MEM_ENS_STEP_BYTES == (double)sizeof(lf_ens_step),
        "LF_MEM_ENS_STEP_BYTES %g == sizeof(lf_ens_step) %zu", LF_MEM_ENS_STEP_BYTES,
        sizeof(lf_ens_step));
}

static void test_parse(void) {
  static const struct {
    const char *s;
    double v;
  } good[] = {{"4096", 4096},
              {"0", 0},
              {"2G", 2147483648.0},
              {"2g", 2147483648.0},
              {"1.5GiB", 1610612736.0},
              {"512m", 536870912.0},
              {"512MB", 536870912.0},
              {"1K", 1024},
              {"3T", 3298534883328.0},
              {" 100B", 100},
              {"1P", 1125899906842624.0}};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    double v = -1;
    const lf_status rc = lf_mem_parse_size(good[i].s, &v);
    CHECK(rc == LF_OK && v == good[i].v, "parse '%s' = %.0f (want %.0f, rc %d)", good[i].s, v,
          good[i].v, (int)rc);
  }
  static const char *bad[] = {"", "-1", "G", "2X", "2GiX", "2 G", "1e30G", "nan", "inf", "0x10"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    double v = -1;
    const lf_status rc = lf_mem_parse_size(bad[i], &v);
    CHECK(rc == LF_ERR_INVALID && v == -1, "parse '%s' refused (%s)", bad[i], lf_last_error());
  }
  char b[32];
  CHECK(!strcmp(lf_mem_format(100, b, sizeof b), "100 B"), "format 100 = '%s'", b);
  CHECK(!strcmp(lf_mem_format(1024, b, sizeof b), "1.0 KiB"), "format 1024 = '%s'", b);
  CHECK(!strcmp(lf_mem_format(2.5 * 1099511627776.0, b, sizeof b), "2.5 TiB"),
        "format 2.5 TiB = '%s'", b);
  CHECK(!strcmp(lf_mem_format(23.5 * 1073741824.0, b, sizeof b), "23.5 GiB"),
        "format 23.5 GiB = '%s'", b);
}

/* the workspace part against the real allocation of lf_model_init (and the trainer's) */
static void test_exact(const char *yaml, int gauge) {
  lf_config c = card(yaml);
  lf_mem_est e;
  lf_mem_estimate(&c, LF_MEM_TRAIN, 1, &e);
  lf_model m;
  const int C = c.theory.name == LF_THEORY_PHI4 ? 1 : 2;
  const lf_status rc =
      lf_model_init(&m, &c.model, C, c.theory.shape[0], c.theory.shape[1], c.train.batch);
  CHECK(rc == LF_OK, "model init for %s", yaml);
  if (rc != LF_OK) return;
  const double R = (double)m.real_size;
  const lf_flow_f *ff = m.flow;
  const lf_flow_d *fd = m.flow;
  CHECK((m.cfg.coupling == LF_COUPLING_SPLINE) == gauge, "%s: the gauge layers iff gauge", yaml);
  const double ws = m.real_size == 4 ? (double)ff->nlayers * (double)ff->ws_per_layer
                                     : (double)fd->nlayers * (double)fd->ws_per_layer;
  CHECK(part(&e, "flow workspaces") == ws * R, "%s: workspace part %.0f == real %.0f bytes", yaml,
        part(&e, "flow workspaces"), ws * R);
  CHECK(part(&e, "flow parameters") == 7.0 * (double)m.nparams * R,
        "%s: parameter part %.0f == 7 x %zu parameters x %g bytes", yaml,
        part(&e, "flow parameters"), m.nparams, R);
  lf_model_free(&m);
}

static void test_growth(void) {
  const double t64 = est("train: {batch: 64}", LF_MEM_TRAIN, 1);
  const double t128 = est("train: {batch: 128}", LF_MEM_TRAIN, 1);
  const double t256 = est("train: {batch: 256}", LF_MEM_TRAIN, 1);
  CHECK(t128 > t64 && (t256 - t128) > 1.9 * (t128 - t64) && (t256 - t128) < 2.1 * (t128 - t64),
        "train grows linearly in batch: %.0f %.0f %.0f", t64, t128, t256);
  const double v8 = est("theory: {shape: [16, 16]}", LF_MEM_TRAIN, 1) - LF_MEM_RUNTIME_BYTES;
  const double v16 = est("theory: {shape: [32, 32]}", LF_MEM_TRAIN, 1) - LF_MEM_RUNTIME_BYTES;
  CHECK(v16 > 3.5 * v8 && v16 < 4.5 * v8, "train ~ volume: 16x16 %.0f, 32x32 %.0f", v8, v16);
  const double l16 = est("train: {batch: 1024}", LF_MEM_TRAIN, 1);
  const double l32 = est("train: {batch: 1024}\nmodel: {layers: 32}", LF_MEM_TRAIN, 1);
  CHECK(l32 > 1.8 * l16 - LF_MEM_RUNTIME_BYTES, "layers 16 -> 32: %.0f -> %.0f", l16, l32);
  const double h8 = est("model: {hidden: [8, 8]}", LF_MEM_TRAIN, 1);
  const double h64 = est("model: {hidden: [64, 64]}", LF_MEM_TRAIN, 1);
  CHECK(h64 > h8, "hidden [8,8] -> [64,64]: %.0f -> %.0f", h8, h64);
  const double f32 = est("train: {batch: 1024}", LF_MEM_TRAIN, 1);
  const double f64 = est("train: {batch: 1024}\nmodel: {precision: double}", LF_MEM_TRAIN, 1);
  CHECK(f64 > 1.3 * f32, "precision single -> double: %.0f -> %.0f", f32, f64);
  const double d = est("train: {batch: 4096, schedule: {batch_double_every: 10, batch_max: 16384}}",
                       LF_MEM_TRAIN, 1);
  const double d0 = est("train: {batch: 16384}", LF_MEM_TRAIN, 1);
  CHECK(d > d0, "batch doubling to 16384 (%.0f) > fixed 16384 (%.0f): both stacks while growing", d,
        d0);
  const double s256 = est("sample: {block: 256}", LF_MEM_SAMPLE, 1);
  const double s4096 = est("sample: {block: 4096}", LF_MEM_SAMPLE, 1);
  CHECK(s4096 > 8.0 * (s256 - LF_MEM_RUNTIME_BYTES), "sample block 256 -> 4096: %.0f -> %.0f", s256,
        s4096);
  CHECK(est("sample: {block: 4096}", LF_MEM_SAMPLE, 4) > s4096,
        "4 ranks: workers hold %g pending blocks (%.0f > %.0f)", LF_MEM_DIST_WINDOW,
        est("sample: {block: 4096}", LF_MEM_SAMPLE, 4), s4096);
  {
    lf_config cs = card(NULL);
    lf_mem_est e4, e2k;
    lf_mem_estimate(&cs, LF_MEM_SAMPLE, 4, &e4);
    lf_mem_estimate(&cs, LF_MEM_SAMPLE, 2000, &e2k);
    CHECK(e2k.total > e4.total && part(&e2k, "coordinator buffers") > 8.0 * 1999 * 256 * 56,
          "2000 ranks: the coordinator's epoch of chain steps leads (%.0f > %.0f)", e2k.total,
          e4.total);
  }
  /* Schwinger: two dense (2V)^2 complex matrices in every command */
  const char *schw = "theory: {name: schwinger, shape: [32, 32], logdet: dense}\n"
                     "observables: [plaq]\n"
                     "model: {base: haar, coupling: spline}";
  lf_config c = card(schw);
  lf_mem_est e;
  lf_mem_estimate(&c, LF_MEM_HMC, 1, &e);
  const double n = 2.0 * 32 * 32;
  CHECK(part(&e, "Dirac matrices") >= 2.0 * n * n * 16.0 && e.total > 2.0 * n * n * 16.0,
        "schwinger 32x32 hmc: Dirac part %.0f >= %.0f, total %.0f", part(&e, "Dirac matrices"),
        2.0 * n * n * 16.0, e.total);
  CHECK(!strcmp(e.part[0].name, "Dirac matrices"), "largest part first: '%s'", e.part[0].name);
  /* theory.logdet sparse: no dense matrix, the Cholesky factor (measured 249588 complex
   * entries at 32x32, test_wilson_sparse's lf_wsparse) and the selected inverse (as many) */
  c.theory.logdet = LF_LOGDET_SPARSE;
  lf_mem_estimate(&c, LF_MEM_HMC, 1, &e);
  const double fac = part(&e, "Dirac factor");
  CHECK(part(&e, "Dirac matrices") == 0.0 && fac >= 2 * 249588 * 16.0 &&
            fac < 0.2 * 2.0 * n * n * 16.0,
        "schwinger 32x32 sparse: no Dirac matrices, factor part %.0f in [%.0f, %.0f) (a fifth of "
        "the dense)",
        fac, 2 * 249588 * 16.0, 0.2 * 2.0 * n * n * 16.0);
  const double h = est(NULL, LF_MEM_HMC, 1);
  CHECK(h < LF_MEM_RUNTIME_BYTES + 16.0 * 1048576.0, "phi4 8x8 hmc is small: %.0f", h);
  /* run: the largest phase */
  const char *big = "train: {batch: 4096}\nsample: {block: 256}";
  const double r = est(big, LF_MEM_RUN, 1), tr = est(big, LF_MEM_TRAIN, 1),
               sa = est(big, LF_MEM_SAMPLE, 1);
  CHECK(r == (tr > sa ? tr : sa), "run = max(train %.0f, sample %.0f) = %.0f", tr, sa, r);
  const char *many = "sample: {proposals: 100000000}";
  lf_config cm = card(many);
  lf_mem_estimate(&cm, LF_MEM_RUN, 1, &e);
  CHECK(!strcmp(e.phase, "analysis") && e.total > 1e8 * 8.0,
        "run of 1e8 proposals peaks in the analysis: %s, %.0f", e.phase, e.total);
  /* the card: TiBs, all in double, no overflow */
  const double tib = est("theory: {shape: [512, 512]}\ntrain: {batch: 4096}", LF_MEM_TRAIN, 1);
  CHECK(tib > 1e12 && tib < 1e13, "512x512, batch 4096: %.3g bytes (TiBs)", tib);
  const double huge =
      est("theory: {shape: [4096, 4096]}\ntrain: {batch: 2000000000}\nmodel: {layers: 1000}",
          LF_MEM_TRAIN, 1);
  CHECK(huge > 1e20 && isfinite(huge), "an absurd card is a finite, absurd number: %.3g", huge);
}

static char *fake(const char *dir, const char *name, const char *text, char *buf, size_t n) {
  snprintf(buf, n, "%s/%s", dir, name);
  FILE *f = fopen(buf, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
  return buf;
}

static void test_available(void) {
  char dir[] = "/tmp/lf_test_mem_XXXXXX";
  if (!mkdtemp(dir)) {
    CHECK(0, "mkdtemp");
    return;
  }
  char mi[256], m2[256], c2[256], m1[256], c1[256], what[256];
  fake(dir, "meminfo", "MemTotal:  4000000 kB\nMemFree: 10 kB\nMemAvailable:    2000000 kB\n", mi,
       sizeof mi);
  lf_mem_sources s = {mi, NULL, NULL, NULL, NULL, 0};
  double v;
  lf_mem_available(&s, 1, &v, what, sizeof what);
  CHECK(v == 2000000.0 * 1024 && strstr(what, "MemAvailable"), "meminfo alone: %.0f (%s)", v, what);
  lf_mem_available(&s, 4, &v, what, sizeof what);
  CHECK(v == 500000.0 * 1024 && strstr(what, "4 ranks"), "4 ranks on the node: %.0f (%s)", v, what);
  s.cg2_max = fake(dir, "memory.max", "max\n", m2, sizeof m2);
  s.cg2_current = fake(dir, "memory.current", "1048576\n", c2, sizeof c2);
  lf_mem_available(&s, 1, &v, what, sizeof what);
  CHECK(v == 2000000.0 * 1024, "cgroup v2 'max' is no limit: %.0f (%s)", v, what);
  fake(dir, "memory.max", "1073741824\n", m2, sizeof m2);
  lf_mem_available(&s, 2, &v, what, sizeof what);
  CHECK(v == (1073741824.0 - 1048576.0) / 2 && strstr(what, "memory.max"),
        "cgroup v2 limit less usage, 2 ranks: %.0f (%s)", v, what);
  s.cg1_limit = fake(dir, "memory.limit_in_bytes", "9223372036854771712\n", m1, sizeof m1);
  s.cg1_usage = fake(dir, "memory.usage_in_bytes", "0\n", c1, sizeof c1);
  lf_mem_available(&s, 1, &v, what, sizeof what);
  CHECK(v == 1073741824.0 - 1048576.0, "cgroup v1 'no limit' ignored: %.0f (%s)", v, what);
  fake(dir, "memory.limit_in_bytes", "104857600\n", m1, sizeof m1);
  lf_mem_available(&s, 1, &v, what, sizeof what);
  CHECK(v == 104857600.0 && strstr(what, "limit_in_bytes"), "cgroup v1 limit: %.0f (%s)", v, what);
  lf_mem_sources none = {"/nonexistent/meminfo", "/nonexistent/a", NULL, "", NULL, 0};
  lf_mem_available(&none, 1, &v, what, sizeof what);
  CHECK(v < 0, "no readable source: %.0f", v);
  fake(dir, "meminfo", "MemTotal: 1 kB\n", mi, sizeof mi);
  lf_mem_sources nokey = {mi, NULL, NULL, NULL, NULL, 0};
  lf_mem_available(&nokey, 1, &v, what, sizeof what);
  CHECK(v < 0, "meminfo without MemAvailable: %.0f", v);
  static const char *names[] = {"meminfo", "memory.max", "memory.current", "memory.limit_in_bytes",
                                "memory.usage_in_bytes"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
  /* this machine: some source, a positive number */
  char buf[2048];
  lf_mem_sources_default(&s, buf, sizeof buf);
  lf_mem_available(&s, 1, &v, what, sizeof what);
  CHECK(v > 0, "this machine: %.3g bytes (%s; cgroup files %s, %s)", v, what,
        s.cg2_max ? s.cg2_max : "-", s.cg1_limit ? s.cg1_limit : "-");
}

int main(void) {
  test_constants();
  test_parse();
  test_exact(NULL, 0);
  test_exact("theory: {shape: [16, 16]}\nmodel: {precision: double, hidden: [12, 5, 7]}\n"
             "train: {batch: 32}",
             0);
  test_exact("theory: {name: u1, shape: [8, 8]}\nobservables: [plaq]\n"
             "model: {base: haar, coupling: spline, hidden: [8]}\ntrain: {batch: 16}",
             1);
  test_exact("theory: {name: u1, shape: [8, 8], beta: 3.0}\nobservables: [plaq]\n"
             "model: {base: plaquette, coupling: spline, spline_bins: 12, hidden: [8]}\n"
             "train: {batch: 16}",
             1);
  test_growth();
  test_available();
  return lf_test_result();
}
