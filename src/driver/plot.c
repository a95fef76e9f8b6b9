/* The plots of latflow files (contract: latflow/plot.h; what each plot shows is written by
 * plot_ensemble.c, plot_train.c, plot_compare.c and plot_study.c, see plot_impl.h): this
 * file checks and reads the input, writes the data files and the gnuplot script into a staging
 * folder DIR/.plot-<pid>.tmp, runs gnuplot there, checks that every PNG it was told to write is
 * whole, and only then renames every file into DIR. The data (DIR/<name>.dat) and the
 * script (DIR/plots.gp) stay so that a user can restyle a plot. */
#include "latflow/plot.h"

#include "plot_impl.h"

#include "latflow/analyze.h"
#include "latflow/ensemble.h"
#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/study.h"

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

#define NRHO 2000       /* autocorrelation lags analysed first (acf.dat, tauint.dat) */
#define NRHO_MAX 100000 /* at most this many when a window needs more (tauint.dat) */

/* A new file dir/name for writing (plot_impl.h). */
lf_status lf_plot_open_out(FILE **f, const char *dir, const char *name) {
  char p[LF_PATH_MAX];
  lf_status rc = lf_io_path_join(p, sizeof p, dir, name);
  if (rc != LF_OK) return rc;
  /* a new file, never written through a link planted at its name */
  return lf_io_create_file(p, f);
}

/* Closes a data file or the script, reporting a failed last write (plot_impl.h). */
lf_status lf_plot_close_out(FILE *f, const char *dir, const char *name) {
  if (fclose(f) != 0)
    return LF_FAIL(LF_ERR_IO, "writing '%s/%s' failed: %s", dir, name, strerror(errno));
  return LF_OK;
}

/* gnuplot opens DIR/<out>.png itself and would follow a link planted there, so the PNG is
 * first created here as a new, empty regular file. */
lf_status lf_plot_png(FILE *gp, const char *dir, const char *out, const char *title, const char *xl,
                      const char *yl) {
  char name[LF_NAME_MAX + 128];
  FILE *f = NULL;
  snprintf(name, sizeof name, "%s.png", out);
  lf_status rc = lf_plot_open_out(&f, dir, name);
  if (rc != LF_OK) return rc;
  if ((rc = lf_plot_close_out(f, dir, name)) != LF_OK) return rc;
  fprintf(
      gp,
      "reset\nset terminal pngcairo noenhanced size 900,560 font ',11'\nset output '%s.png'\n"
      "set title \"%s\" noenhanced\nset xlabel \"%s\" noenhanced\nset ylabel \"%s\" noenhanced\n"
      "set grid\nset key top right\nset autoscale xfix\n",
      out, title, xl, yl);
  return LF_OK;
}

/* Fixed ranges and no points: gnuplot draws the frame and the sentence (plot_impl.h). */
void lf_plot_placeholder(FILE *gp, const char *why) {
  fprintf(gp,
          "set xrange [0:1]\nset yrange [0:1]\nunset xtics\nunset ytics\n"
          "set label 1 \"%s\" at graph 0.5, graph 0.5 center noenhanced\nplot 1/0 notitle\n",
          why);
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
 * empty by lf_plot_png) are removed and named as in out, where they would have gone. The
 * number of PNGs goes to *count. */
static lf_status check_pngs(const char *dir, const char *out, int *count) {
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
  *count = total;
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

/* The default output folder of path: <dir of path>/plots/<sub>, sub NULL: the file name
 * without .h5. */
static lf_status default_outdir(char *dir, size_t n, const char *path, const char *sub) {
  char a[LF_PATH_MAX], b[LF_PATH_MAX], stem[LF_PATH_MAX], plots[LF_PATH_MAX];
  snprintf(a, sizeof a, "%s", path);
  snprintf(b, sizeof b, "%s", path);
  snprintf(stem, sizeof stem, "%s", sub ? sub : basename(b));
  const size_t len = strlen(stem);
  if (!sub && len > 3 && !strcmp(stem + len - 3, ".h5")) stem[len - 3] = '\0';
  const lf_status rc = lf_io_path_join(plots, sizeof plots, dirname(a), "plots");
  return rc == LF_OK ? lf_io_path_join(dir, n, plots, stem) : rc;
}

/* What one staged plot run draws: the input(s) and their data (borrowed). */
typedef struct plot_job {
  const char *path;      /* the file named first (the ensemble, train or study file) */
  const char *kind;      /* "ensemble", "train", "compare" or "study" */
  lf_plot_side s[2];     /* ensemble: s[0]; compare: both */
  const lf_study *study; /* study: the study read from path */
} plot_job;

/* The script and data of job j into the staging folder st (script gp). */
static lf_status plot_body(FILE *gp, const char *st, const plot_job *j) {
  char tmp[LF_PATH_MAX], train[LF_PATH_MAX];
  lf_status rc;
  if (!strcmp(j->kind, "train")) return lf_plot_training(gp, st, j->path);
  if (!strcmp(j->kind, "compare")) return lf_plot_compare_write(gp, st, j->s);
  if (!strcmp(j->kind, "study")) return lf_plot_study_write(gp, st, j->study);
  const lf_ensemble *e = j->s[0].e;
  if ((rc = lf_plot_ensemble(gp, st, j->path, e, j->s[0].a)) != LF_OK) return rc;
  /* a flow ensemble: the training curves of the train.h5 beside its model */
  if (e->info.kind == LF_ENS_HMC || !e->info.model_path[0]) return LF_OK;
  snprintf(tmp, sizeof tmp, "%s", e->info.model_path);
  if ((rc = lf_io_path_join(train, sizeof train, dirname(tmp), "train.h5")) != LF_OK) return rc;
  return lf_io_exists(train) ? lf_plot_training(gp, st, train) : LF_OK;
}

/* Writes job j's script and data into a new staging folder in dir (created as with mkdir
 * -p), runs gnuplot there, checks its PNGs, and only then moves every file into dir. A
 * failure removes the staging folder (keeping gnuplot.log in dir when gnuplot itself
 * failed). json (may be NULL) gets "outdir" and "plots". */
static lf_status plot_staged(const char *dir, const plot_job *j, cJSON *json) {
  lf_status rc = LF_OK;
  char st[LF_PATH_MAX], tmp[LF_PATH_MAX], log[LF_PATH_MAX];
  FILE *gp = NULL;
  int staged = 0, keep_log = 0, n = 0;
  LF_CHECK(lf_io_mkdirs(dir));
  snprintf(tmp, sizeof tmp, ".plot-%ld.tmp", (long)getpid());
  LF_CHECK(lf_io_path_join(st, sizeof st, dir, tmp));
  if (mkdir(st, 0700) != 0) { /* new and ours: nothing planted inside */
    rc = LF_FAIL(LF_ERR_IO, "cannot create the staging folder '%s': %s", st, strerror(errno));
    goto fail;
  }
  staged = 1;
  LF_CHECK(lf_plot_open_out(&gp, st, "plots.gp"));
  if (!strcmp(j->kind, "compare"))
    fprintf(gp, "# latflow plot %s %s (run: cd %s && gnuplot plots.gp)\n", j->s[0].path,
            j->s[1].path, dir);
  else
    fprintf(gp, "# latflow plot %s (run: cd %s && gnuplot plots.gp)\n", j->path, dir);
  LF_CHECK(plot_body(gp, st, j));
  rc = lf_plot_close_out(gp, st, "plots.gp");
  gp = NULL;
  LF_CHECK(rc);
  keep_log = 1;
  LF_CHECK(run_gnuplot(st, dir));
  LF_CHECK(check_pngs(st, dir, &n));
  keep_log = 0;
  if (json) cJSON_AddStringToObject(json, "outdir", dir);
  LF_CHECK(stage_commit(st, dir, json));
  lf_log_info("plot", "%d plots in %s", n, dir);
fail:
  if (gp) fclose(gp);
  if (staged) {
    if (keep_log && lf_io_path_join(tmp, sizeof tmp, st, "gnuplot.log") == LF_OK &&
        lf_io_path_join(log, sizeof log, dir, "gnuplot.log") == LF_OK &&
        lf_io_check_not_symlink(log) == LF_OK)
      rename(tmp, log); /* the diagnostics the message names */
    stage_remove(st);
  }
  return rc;
}

/* The analysis of e for the plots: first with NRHO lags; again with more (up to NRHO_MAX)
 * when an observable's tau_int(W) plot, drawn to max(100, 2 W), needs more lags than that
 * and the chains are long enough to have them. */
static lf_status analyze_lags(const lf_ensemble *e, lf_analysis *a) {
  lf_status rc = lf_analyze(e, NRHO, a);
  if (rc != LF_OK) return rc;
  size_t minlen = a->n;
  for (int r = 0; r < e->R; r++)
    if (e->steps[r] < minlen) minlen = e->steps[r];
  int need = 0;
  for (int k = 0; k < a->nobs; k++)
    if (2 * a->obs[k].g.window + 1 > need) need = 2 * a->obs[k].g.window + 1;
  if ((size_t)need > minlen) need = (int)minlen;
  if (need > NRHO_MAX) need = NRHO_MAX;
  if (need <= NRHO) return LF_OK;
  lf_analysis_free(a);
  return lf_analyze(e, need, a);
}

/* Checks the input, reads and analyses it before any folder is made (a refused input
 * touches nothing), then plot_staged into outdir or the default folder. */
lf_status lf_plot_pipeline(const char *path, const char *outdir, cJSON *json) {
  lf_status rc = LF_OK;
  char kind[32], dir[LF_PATH_MAX];
  lf_ensemble e;
  lf_analysis a;
  memset(&e, 0, sizeof e);
  memset(&a, 0, sizeof a);
  LF_CHECK(lf_io_file_kind(path, kind, sizeof kind));
  if (!strcmp(kind, "study")) return lf_plot_study(path, outdir, json);
  if (strcmp(kind, "train") && strcmp(kind, "ensemble")) {
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "'%s' is a latflow %s file; plot takes an ensemble, a train or a study file", path,
                 kind);
    goto fail;
  }
  if (!strcmp(kind, "ensemble")) {
    LF_CHECK(lf_ens_read(path, &e));
    LF_CHECK(analyze_lags(&e, &a));
  }
  if (outdir)
    snprintf(dir, sizeof dir, "%s", outdir);
  else
    LF_CHECK(default_outdir(dir, sizeof dir, path, NULL));
  if (json) {
    cJSON_AddStringToObject(json, "input", path);
    cJSON_AddStringToObject(json, "kind", kind);
  }
  const plot_job j = {path, kind, {{path, &e, &a}, {NULL, NULL, NULL}}, NULL};
  LF_CHECK(plot_staged(dir, &j, json));
fail:
  lf_analysis_free(&a);
  lf_ens_free(&e);
  return rc;
}

/* Reads the study before any folder is made (a refused file touches nothing), then
 * plot_staged into outdir or <dir of path>/plots. */
lf_status lf_plot_study(const char *path, const char *outdir, cJSON *json) {
  char dir[LF_PATH_MAX], tmp[LF_PATH_MAX];
  lf_study st;
  lf_status rc = lf_io_study_read(path, &st);
  if (rc != LF_OK) return rc;
  snprintf(tmp, sizeof tmp, "%s", path);
  if (outdir)
    snprintf(dir, sizeof dir, "%s", outdir);
  else
    rc = lf_io_path_join(dir, sizeof dir, dirname(tmp), "plots");
  if (rc == LF_OK && json) {
    cJSON_AddStringToObject(json, "input", path);
    cJSON_AddStringToObject(json, "kind", "study");
  }
  const plot_job j = {path, "study", {{NULL, NULL, NULL}, {NULL, NULL, NULL}}, &st};
  if (rc == LF_OK) rc = plot_staged(dir, &j, json);
  lf_study_free(&st);
  return rc;
}

/* Refuses two ensembles that cannot be compared (nothing is made), then plot_staged into
 * outdir or <dir of path_a>/plots/compare. */
lf_status lf_plot_compare_analysed(const char *path_a, const lf_ensemble *ea, const lf_analysis *aa,
                                   const char *path_b, const lf_ensemble *eb, const lf_analysis *ab,
                                   const char *outdir, cJSON *json) {
  const plot_job j = {path_a, "compare", {{path_a, ea, aa}, {path_b, eb, ab}}, NULL};
  char dir[LF_PATH_MAX];
  lf_status rc = lf_plot_compare_check(j.s);
  if (rc != LF_OK) return rc;
  if (outdir)
    snprintf(dir, sizeof dir, "%s", outdir);
  else if ((rc = default_outdir(dir, sizeof dir, path_a, "compare")) != LF_OK)
    return rc;
  if (json) {
    cJSON_AddStringToObject(json, "input", path_a);
    cJSON_AddStringToObject(json, "compare", path_b);
    cJSON_AddStringToObject(json, "kind", "compare");
  }
  return plot_staged(dir, &j, json);
}

/* Reads both ensembles and refuses another kind of file or other physics before the
 * analysis and before any folder is made; then lf_plot_compare_analysed. */
lf_status lf_plot_compare(const char *path_a, const char *path_b, const char *outdir, cJSON *json) {
  lf_status rc = LF_OK;
  const char *path[2] = {path_a, path_b};
  char kind[32];
  lf_ensemble e[2];
  lf_analysis a[2];
  memset(e, 0, sizeof e);
  memset(a, 0, sizeof a);
  for (int i = 0; i < 2; i++) {
    LF_CHECK(lf_io_file_kind(path[i], kind, sizeof kind));
    if (strcmp(kind, "ensemble")) {
      rc = LF_FAIL(LF_ERR_FORMAT,
                   "'%s' is a latflow %s file; plot compares two ensembles (ensemble.h5, hmc.h5)",
                   path[i], kind);
      goto fail;
    }
    LF_CHECK(lf_ens_read(path[i], &e[i]));
  }
  { /* refused before the analysis (which reads the chains), with the analysis' names */
    const lf_plot_side s[2] = {{path_a, &e[0], &a[0]}, {path_b, &e[1], &a[1]}};
    for (int i = 0; i < 2; i++) {
      a[i].nobs = e[i].info.nobs;
      for (int k = 0; k < a[i].nobs; k++)
        snprintf(a[i].obs[k].name, sizeof a[i].obs[k].name, "%s", e[i].info.obs_names[k]);
    }
    LF_CHECK(lf_plot_compare_check(s));
  }
  for (int i = 0; i < 2; i++) LF_CHECK(lf_analyze(&e[i], 0, &a[i]));
  LF_CHECK(lf_plot_compare_analysed(path_a, &e[0], &a[0], path_b, &e[1], &a[1], outdir, json));
fail:
  for (int i = 0; i < 2; i++) {
    lf_analysis_free(&a[i]);
    lf_ens_free(&e[i]);
  }
  return rc;
}
