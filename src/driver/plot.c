/* The plots of a latflow file (contract: latflow/plot.h): the data files and the gnuplot
 * script are written here, gnuplot runs them, and every PNG it was told to write is checked.
 *
 * For an ensemble file: the Monte Carlo history of each observable, its normalized
 * autocorrelation with the Gamma-method window marked, and (flow ensembles) the histogram
 * of log w. For a training file (train.h5), or the train.h5 next to a flow ensemble's
 * model: loss and ESS against the step and against the number of training samples; the
 * ESS of the training batches (biased high: few samples, just fitted) is drawn as a curve,
 * the evaluations on fresh samples (train.h5 /eval) as points with their IMH acceptance.
 * The data go to DIR/<name>.dat, the script to DIR/plots.gp, and gnuplot runs it; both
 * stay in DIR so a user can restyle a plot. Everything is written in a staging folder
 * DIR/.plot-<pid>.tmp and renamed into DIR once every PNG is whole. */
#include "latflow/plot.h"

#include "latflow/analyze.h"
#include "latflow/ensemble.h"
#include "latflow/io.h"
#include "latflow/log.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NRHO 2000      /* autocorrelation lags analysed and written (acf.dat) */
#define HIST_MAX 20000 /* at most about this many points per history plot */
#define NBINS 60       /* bins of the log w histogram */

/* Opens dir/name for writing as a new file (*f NULL on failure). */
static lf_status open_out(FILE **f, const char *dir, const char *name) {
  char p[LF_PATH_MAX];
  lf_status rc = lf_io_path_join(p, sizeof p, dir, name);
  if (rc != LF_OK) return rc;
  /* a new file, never written through a link planted at its name */
  return lf_io_create_file(p, f);
}

/* Closes a file of open_out; a failed close (the last buffered write) is LF_ERR_IO. */
static lf_status close_out(FILE *f, const char *dir, const char *name) {
  if (fclose(f) != 0)
    return LF_FAIL(LF_ERR_IO, "writing '%s/%s' failed: %s", dir, name, strerror(errno));
  return LF_OK;
}

/* gnuplot preamble of one PNG. gnuplot opens DIR/<out>.png itself and would follow a link
 * planted there, so the PNG is first created here as a new, empty regular file. */
static lf_status png(FILE *gp, const char *dir, const char *out, const char *title, const char *xl,
                     const char *yl) {
  char name[LF_NAME_MAX + 128];
  FILE *f = NULL;
  snprintf(name, sizeof name, "%s.png", out);
  lf_status rc = open_out(&f, dir, name);
  if (rc != LF_OK) return rc;
  if ((rc = close_out(f, dir, name)) != LF_OK) return rc;
  fprintf(
      gp,
      "reset\nset terminal pngcairo size 900,560 font ',11'\nset output '%s.png'\n"
      "set title \"%s\" noenhanced\nset xlabel \"%s\" noenhanced\nset ylabel \"%s\" noenhanced\n"
      "set grid\nset key top right\nset autoscale xfix\n",
      out, title, xl, yl);
  return LF_OK;
}

/* The preamble of a PNG whose y axis is the training loss, scaled to the records after
 * the first `skip` (the first steps' loss is orders of magnitude above the rest). */
static lf_status loss_png(FILE *gp, const char *dir, const char *out, const char *title,
                          const char *xl, size_t skip) {
  const lf_status rc = png(gp, dir, out, title, xl, "loss");
  if (rc != LF_OK) return rc;
  fprintf(gp, "stats 'train.dat' every ::%zu u 3 nooutput\nset yrange [STATS_min:STATS_max]\n",
          skip);
  return LF_OK;
}

/* The training curves of train_path: train.dat (and eval.dat when it has evaluations) in
 * dir, and their three plots in the script gp. */
static lf_status plot_training(FILE *gp, const char *dir, const char *train_path) {
  lf_train_series s;
  memset(&s, 0, sizeof s);
  lf_status rc = lf_io_metrics_read(train_path, &s, NULL);
  if (rc != LF_OK) return rc;
  FILE *f = NULL;
  rc = open_out(&f, dir, "train.dat");
  if (rc != LF_OK) {
    lf_io_series_free(&s);
    return rc;
  }
  fprintf(f, "# step samples loss ess ess_smoothed lr batch seconds (from %s)\n", train_path);
  double samples = 0.0;
  for (size_t i = 0; i < s.n; i++) {
    samples += s.batch[i];
    fprintf(f, "%lld %.0f %.10g %.10g %.10g %.6g %d %.6g\n", (long long)s.step[i], samples,
            s.loss[i], s.ess[i], s.ess_smoothed[i], s.lr[i], (int)s.batch[i], s.seconds[i]);
  }
  const size_t nrec = s.n, nev = s.neval;
  rc = close_out(f, dir, "train.dat");
  if (rc == LF_OK && nev > 0) rc = open_out(&f, dir, "eval.dat");
  if (rc == LF_OK && nev > 0) {
    fprintf(f, "# step n_train ess acceptance loss (fresh samples, from %s)\n", train_path);
    for (size_t i = 0; i < nev; i++)
      fprintf(f, "%lld %lld %.10g %.10g %.10g\n", (long long)s.evals[i].step,
              (long long)s.evals[i].n_train, s.evals[i].ess, s.evals[i].acceptance,
              s.evals[i].loss);
    rc = close_out(f, dir, "eval.dat");
  }
  lf_io_series_free(&s);
  if (rc != LF_OK) return rc;
  /* the first steps' loss is orders of magnitude above the rest: scale to the last 95% */
  const size_t skip = nrec / 20;
  if ((rc = loss_png(gp, dir, "train_loss", "training loss  <log q + S>  (reverse KL up to log Z)",
                     "step", skip)) != LF_OK)
    return rc;
  fputs("plot 'train.dat' u 1:3 w l lc rgb '#8080c0' t 'per step', "
        "'' u 1:3 smooth bezier w l lw 2 lc rgb '#000080' t 'smoothed'\n",
        gp);
  if ((rc = png(gp, dir, "train_ess",
                nev > 0 ? "ESS: training batches (biased high) and fresh samples"
                        : "ESS of the training "
                          "batches (biased high)",
                "step", "ESS fraction / acceptance")) != LF_OK)
    return rc;
  /* [0:*]: a young flow's ESS is a few percent, invisible on [0:1] */
  fputs("set yrange [0:*]\nplot 'train.dat' u 1:4 w d lc rgb '#e0b0b0' t 'batch ESS per step', "
        "'' u 1:5 w l lw 2 lc rgb '#c06060' t 'batch ESS (biased high), smoothed'",
        gp);
  if (nev > 0)
    fputs(", 'eval.dat' u 1:3 w lp pt 7 ps 1.2 lw 2 lc rgb '#000080' t 'fresh-sample ESS', "
          "'' u 1:4 w lp pt 5 ps 0.9 dt 2 lc rgb '#008000' t 'IMH acceptance (fresh samples)'",
          gp);
  fputs("\n", gp);
  if ((rc = loss_png(gp, dir, "train_vs_samples", "training cost: loss and ESS vs training samples",
                     "training samples (sum of batches)", skip)) != LF_OK)
    return rc;
  fputs("set y2label 'ESS fraction'\nset y2range [0:*]\nset ytics nomirror\nset y2tics\n"
        "plot 'train.dat' u 2:3 smooth bezier w l lw 2 lc rgb '#404040' t 'loss (smoothed)', "
        "'' u 2:5 axes x1y2 w l lw 2 lc rgb '#c06060' t 'batch ESS (biased high), smoothed'",
        gp);
  if (nev > 0)
    fputs(", 'eval.dat' u 2:3 axes x1y2 w lp pt 7 ps 1.2 lw 2 lc rgb '#000080' t "
          "'fresh-sample ESS'",
          gp);
  fputs("\n", gp);
  return LF_OK;
}

/* The ensemble e of path with its analysis a: history.dat, acf.dat and (flow ensembles)
 * logw_hist.dat in dir, and per observable its history and autocorrelation plots, then
 * the log w histogram (flow) or the dH history (HMC), in the script gp. */
static lf_status plot_ensemble(FILE *gp, const char *dir, const char *path, const lf_ensemble *e,
                               const lf_analysis *a) {
  lf_status rc;
  FILE *f = NULL;
  /* history: step and every observable of the state (chain 0 .. R-1 concatenated) */
  if ((rc = open_out(&f, dir, "history.dat")) != LF_OK) return rc;
  fprintf(f, "# step");
  for (int k = 0; k < e->info.nobs; k++) fprintf(f, " %s", e->info.obs_names[k]);
  fprintf(f, " logw dH accepted  (from %s)\n", path);
  /* at most ~HIST_MAX points: gnuplot takes minutes on 10^6-point line plots */
  const size_t stride = a->n > HIST_MAX ? (a->n + HIST_MAX - 1) / HIST_MAX : 1;
  size_t o = 0;
  for (int r = 0; r < e->R; r++)
    for (size_t i = 0; i < e->steps[r]; i++, o++) {
      if (o % stride) continue;
      const lf_ens_step *s = &e->chain[r][i];
      fprintf(f, "%zu", o);
      for (int k = 0; k < e->info.nobs; k++)
        fprintf(f, " %.10g", e->obs[r][(size_t)s->row * e->info.nobs + k]);
      fprintf(f, " %.10g %.10g %d\n", s->logw, s->dH, s->accepted);
    }
  if ((rc = close_out(f, dir, "history.dat")) != LF_OK) return rc;
  if (a->kind != LF_ENS_HMC) { /* histogram of all finite log w, binned here */
    double lo = INFINITY, hi = -INFINITY;
    for (int r = 0; r < e->R; r++)
      for (size_t i = 0; i < e->steps[r]; i++) {
        const double w = e->chain[r][i].logw;
        if (isfinite(w)) {
          lo = fmin(lo, w);
          hi = fmax(hi, w);
        }
      }
    double cnt[NBINS] = {0};
    const double bw = hi > lo ? (hi - lo) / NBINS : 1.0;
    for (int r = 0; r < e->R; r++)
      for (size_t i = 0; i < e->steps[r]; i++) {
        const double w = e->chain[r][i].logw;
        if (!isfinite(w)) continue;
        int b = (int)((w - lo) / bw);
        cnt[b < 0 ? 0 : b >= NBINS ? NBINS - 1 : b] += 1.0;
      }
    if ((rc = open_out(&f, dir, "logw_hist.dat")) != LF_OK) return rc;
    fprintf(f, "# bin centre (log w - max log w), proposals\n");
    for (int b = 0; b < NBINS; b++)
      if (cnt[b] > 0) fprintf(f, "%.8g %.0f\n", lo - hi + (b + 0.5) * bw, cnt[b]);
    if ((rc = close_out(f, dir, "logw_hist.dat")) != LF_OK) return rc;
  }
  if ((rc = open_out(&f, dir, "acf.dat")) != LF_OK) return rc;
  fprintf(f, "# t");
  for (int k = 0; k < a->nobs; k++) fprintf(f, " rho_%s", a->obs[k].name);
  fprintf(f, "\n");
  for (int t = 0; t < NRHO && (size_t)t < a->n / 2; t++) {
    fprintf(f, "%d", t);
    for (int k = 0; k < a->nobs; k++) fprintf(f, " %.8g", a->obs[k].rho ? a->obs[k].rho[t] : NAN);
    fprintf(f, "\n");
  }
  if ((rc = close_out(f, dir, "acf.dat")) != LF_OK) return rc;
  const char *what = a->kind == LF_ENS_HMC ? "trajectory" : "IMH step";
  for (int k = 0; k < a->nobs; k++) {
    const lf_obs_stats *s = &a->obs[k];
    char name[96], title[256];
    snprintf(name, sizeof name, "history_%s", s->name);
    snprintf(title, sizeof title, "%s: Monte Carlo history%s  (mean %.5g +- %.2g, tau_int %.3g)",
             s->name, stride > 1 ? " (every k-th step shown)" : "", s->g.value, s->g.error,
             s->g.tau_int);
    if ((rc = png(gp, dir, name, title, what, s->name)) != LF_OK) return rc;
    fprintf(gp,
            "plot 'history.dat' u 1:%d w l lc rgb '#406080' notitle, %.17g w l lw 2 lc rgb "
            "'#c00000' t 'mean'\n",
            k + 2, s->g.value);
    snprintf(name, sizeof name, "acf_%s", s->name);
    snprintf(title, sizeof title,
             "%s: normalized autocorrelation, window W = %d, tau_int = %.3g +- %.2g", s->name,
             s->g.window, s->g.tau_int, s->g.tau_int_error);
    if ((rc = png(gp, dir, name, title, "lag t", "rho(t)")) != LF_OK) return rc;
    const int lim = s->nrho < NRHO ? s->nrho : NRHO;
    const int xmax = s->g.window * 3 + 10 < lim ? s->g.window * 3 + 10 : lim;
    fprintf(gp,
            "set xrange [0:%d]\nset arrow from %d, graph 0 to %d, graph 1 nohead lc rgb '#c00000' "
            "dt 2 lw 2\nplot 'acf.dat' u 1:%d w lp pt 7 ps 0.6 lc rgb '#000080' t 'rho(t)', 0 w l "
            "lc rgb 'black' notitle, 1/0 w l lc rgb '#c00000' dt 2 lw 2 t 'window W'\n",
            xmax, s->g.window, s->g.window, k + 2);
  }
  if (a->kind != LF_ENS_HMC) {
    if ((rc = png(gp, dir, "logw_hist", "histogram of log w = -S - log q (all proposals)",
                  "log w - max log w", "proposals")) != LF_OK)
      return rc;
    fputs("set style fill solid 0.6\nset logscale y\nplot 'logw_hist.dat' u 1:2 w boxes lc rgb "
          "'#406080' notitle\n",
          gp);
  } else {
    if ((rc = png(gp, dir, "dH_history", "HMC energy violation per trajectory", "trajectory",
                  "dH")) != LF_OK)
      return rc;
    fprintf(gp, "plot 'history.dat' u 1:%d w d lc rgb '#406080' notitle\n", e->info.nobs + 3);
  }
  return LF_OK;
}

/* Runs gnuplot on dir/plots.gp in dir, its stderr on dir/gnuplot.log; LF_ERR_IO if it
 * cannot start or does not exit 0, naming the log at its final place in out. */
static lf_status run_gnuplot(const char *dir, const char *out) {
  char log[LF_PATH_MAX];
  FILE *f = NULL;
  /* the log is created as a new regular file (never through a planted link) */
  lf_status rc = lf_io_path_join(log, sizeof log, dir, "gnuplot.log");
  if (rc == LF_OK) rc = lf_io_create_file(log, &f);
  if (rc != LF_OK) return rc;
  fflush(NULL);
  /* No shell: gnuplot runs in dir with plots.gp as its argument and its stderr on the log,
   * so any folder name (quotes, spaces, '$', ';') is only ever a path, never a command. */
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(dir) == 0 && dup2(fileno(f), 2) >= 0)
      execlp("gnuplot", "gnuplot", "plots.gp", (char *)NULL);
    _exit(127); /* the child only execs; 127 is the shell's "not found" */
  }
  const int fork_errno = errno;
  fclose(f);
  if (pid < 0) return LF_FAIL(LF_ERR_IO, "cannot start gnuplot: fork: %s", strerror(fork_errno));
  int st = 0;
  pid_t w;
  while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
  }
  if (w < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return LF_FAIL(LF_ERR_IO,
                   "gnuplot failed (exit %d) on %s/plots.gp; see %s/gnuplot.log (is gnuplot "
                   "installed? tools/setup.sh installs gnuplot-nox)",
                   w >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1, out, out);
  return LF_OK;
}

/* 1 if the file at p is a whole PNG: the signature first, the IEND chunk last. gnuplot
 * exits 0 after a write failed (a full disk), leaving empty or truncated images. */
static int png_whole(const char *p) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
  unsigned char a[8], b[12];
  FILE *f = fopen(p, "rb");
  if (!f) return 0;
  const int ok = fread(a, 1, 8, f) == 8 && !memcmp(a, sig, 8) && fseek(f, -12, SEEK_END) == 0 &&
                 fread(b, 1, 12, f) == 12 && !memcmp(b, iend, 12);
  fclose(f);
  return ok;
}

/* Every PNG that dir/plots.gp sets as output must be whole; the broken ones (ours: created
 * empty by png()) are removed and named as in out, where they would have gone. */
static lf_status check_pngs(const char *dir, const char *out) {
  char p[LF_PATH_MAX], line[LF_PATH_MAX + 64], name[LF_PATH_MAX], first[LF_PATH_MAX] = "";
  FILE *gp = NULL;
  lf_status rc = lf_io_path_join(p, sizeof p, dir, "plots.gp");
  if (rc != LF_OK) return rc;
  if (!(gp = fopen(p, "r")))
    return LF_FAIL(LF_ERR_IO, "cannot read back '%s': %s", p, strerror(errno));
  int total = 0, broken = 0;
  while (fgets(line, sizeof line, gp)) {
    if (sscanf(line, "set output '%[^']'", name) != 1) continue;
    total++;
    if (lf_io_path_join(p, sizeof p, dir, name) != LF_OK || png_whole(p)) continue;
    if (!broken++) snprintf(first, sizeof first, "%s", name);
    unlink(p);
  }
  fclose(gp);
  if (broken)
    return LF_FAIL(LF_ERR_IO,
                   "gnuplot left %d of %d plots empty or truncated (removed; the first was "
                   "'%s/%s')%s",
                   broken, total, out, first,
                   /* p: a file in dir, on the file system the PNGs were written to */
                   lf_io_fs_full(p) ? ": No space left on device" : "; see gnuplot.log");
  return LF_OK;
}

/* Removes the staging folder st and what is in it (only regular files: latflow's own). */
static void stage_remove(const char *st) {
  DIR *d = opendir(st);
  if (d) {
    struct dirent *de;
    char p[LF_PATH_MAX];
    while ((de = readdir(d)))
      if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
          lf_io_path_join(p, sizeof p, st, de->d_name) == LF_OK)
        lf_io_remove_stale(p);
    closedir(d);
  }
  rmdir(st);
}

/* Moves every file of the staging folder st into dir (rename: each output file appears
 * whole or not at all). First every target name is checked: a symbolic link or anything
 * but a regular file there is refused (LF_ERR_IO, naming it) before any file is moved. The
 * PNGs go to json's "plots" (paths in dir) when json is not NULL. */
static lf_status stage_commit(const char *st, const char *dir, cJSON *json) {
  lf_status rc = LF_OK;
  char from[LF_PATH_MAX], to[LF_PATH_MAX];
  struct dirent **de = NULL;
  const int n = scandir(st, &de, NULL, alphasort); /* sorted: "plots" in name order */
  if (n < 0) return LF_FAIL(LF_ERR_IO, "cannot read '%s': %s", st, strerror(errno));
  cJSON *list = json ? cJSON_AddArrayToObject(json, "plots") : NULL;
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < n && rc == LF_OK; i++) {
      const char *name = de[i]->d_name;
      if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
      if ((rc = lf_io_path_join(to, sizeof to, dir, name)) != LF_OK) break;
      if ((rc = lf_io_path_join(from, sizeof from, st, name)) != LF_OK) break;
      struct stat sb;
      if (pass == 0) { /* check only: nothing is moved while one name is refused */
        if ((rc = lf_io_check_not_symlink(to)) == LF_OK && lstat(to, &sb) == 0 &&
            !S_ISREG(sb.st_mode))
          rc = LF_FAIL(LF_ERR_IO, "'%s' exists and is not a regular file; not replacing it", to);
      } else if (rename(from, to) != 0) {
        rc = LF_FAIL(LF_ERR_IO, "cannot rename '%s' to '%s': %s", from, to, strerror(errno));
      } else if (list) {
        const size_t len = strlen(name);
        if (len > 4 && !strcmp(name + len - 4, ".png"))
          cJSON_AddItemToArray(list, cJSON_CreateString(to));
      }
    }
  for (int i = 0; i < n; i++) free(de[i]);
  free(de);
  return rc;
}

/* The default output folder of path: <dir of path>/plots/<file name without .h5>. */
static lf_status default_outdir(char *dir, size_t n, const char *path) {
  char a[LF_PATH_MAX], b[LF_PATH_MAX], stem[LF_PATH_MAX], plots[LF_PATH_MAX];
  snprintf(a, sizeof a, "%s", path);
  snprintf(b, sizeof b, "%s", path);
  snprintf(stem, sizeof stem, "%s", basename(b));
  const size_t len = strlen(stem);
  if (len > 3 && !strcmp(stem + len - 3, ".h5")) stem[len - 3] = '\0';
  const lf_status rc = lf_io_path_join(plots, sizeof plots, dirname(a), "plots");
  return rc == LF_OK ? lf_io_path_join(dir, n, plots, stem) : rc;
}

/* Checks the input, reads it, writes the script and the data for the file's kind into a
 * staging folder, runs gnuplot there, checks its PNGs, and only then moves every file into
 * the output folder. A refused input touches nothing; a failure removes the staging folder
 * (keeping gnuplot.log in the output folder when gnuplot itself failed). */
lf_status lf_plot_pipeline(const char *path, const char *outdir, cJSON *json) {
  lf_status rc = LF_OK;
  char kind[32], dir[LF_PATH_MAX], st[LF_PATH_MAX], tmp[LF_PATH_MAX], train[LF_PATH_MAX];
  lf_ensemble e;
  lf_analysis a;
  memset(&e, 0, sizeof e);
  memset(&a, 0, sizeof a);
  FILE *gp = NULL;
  int staged = 0, keep_log = 0;
  LF_CHECK(lf_io_file_kind(path, kind, sizeof kind));
  if (strcmp(kind, "train") && strcmp(kind, "ensemble")) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s' is a latflow %s file; plot takes an ensemble or a train file",
                 path, kind);
    goto fail;
  }
  if (!strcmp(kind, "ensemble")) { /* read before any folder is made */
    LF_CHECK(lf_ens_read(path, &e));
    LF_CHECK(lf_analyze(&e, NRHO, &a));
  }
  if (outdir)
    snprintf(dir, sizeof dir, "%s", outdir);
  else
    LF_CHECK(default_outdir(dir, sizeof dir, path));
  LF_CHECK(lf_io_mkdirs(dir));
  snprintf(tmp, sizeof tmp, ".plot-%ld.tmp", (long)getpid());
  LF_CHECK(lf_io_path_join(st, sizeof st, dir, tmp));
  if (mkdir(st, 0700) != 0) { /* new and ours: nothing planted inside */
    rc = LF_FAIL(LF_ERR_IO, "cannot create the staging folder '%s': %s", st, strerror(errno));
    goto fail;
  }
  staged = 1;
  LF_CHECK(open_out(&gp, st, "plots.gp"));
  fprintf(gp, "# latflow plot %s (run: cd %s && gnuplot plots.gp)\n", path, dir);
  int n = 0;
  if (!strcmp(kind, "train")) {
    LF_CHECK(plot_training(gp, st, path));
    n += 3;
  } else {
    LF_CHECK(plot_ensemble(gp, st, path, &e, &a));
    n += 2 * a.nobs + 1;
    if (e.info.kind != LF_ENS_HMC && e.info.model_path[0]) {
      snprintf(tmp, sizeof tmp, "%s", e.info.model_path);
      LF_CHECK(lf_io_path_join(train, sizeof train, dirname(tmp), "train.h5"));
      if (lf_io_exists(train)) {
        LF_CHECK(plot_training(gp, st, train));
        n += 3;
      }
    }
  }
  rc = close_out(gp, st, "plots.gp");
  gp = NULL;
  LF_CHECK(rc);
  keep_log = 1;
  LF_CHECK(run_gnuplot(st, dir));
  LF_CHECK(check_pngs(st, dir));
  keep_log = 0;
  if (json) {
    cJSON_AddStringToObject(json, "input", path);
    cJSON_AddStringToObject(json, "kind", kind);
    cJSON_AddStringToObject(json, "outdir", dir);
  }
  LF_CHECK(stage_commit(st, dir, json));
  lf_log_info("plot", "%d plots in %s", n, dir);
fail:
  if (gp) fclose(gp);
  if (staged) {
    if (keep_log && lf_io_path_join(tmp, sizeof tmp, st, "gnuplot.log") == LF_OK &&
        lf_io_path_join(train, sizeof train, dir, "gnuplot.log") == LF_OK &&
        lf_io_check_not_symlink(train) == LF_OK)
      rename(tmp, train); /* the diagnostics the message names */
    stage_remove(st);
  }
  lf_analysis_free(&a);
  lf_ens_free(&e);
  return rc;
}
