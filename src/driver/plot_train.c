/* The training curves of a train.h5 (latflow/plot.h; shared pieces in plot_impl.h): loss
 * and ESS against the step and against the number of training samples, and the
 * evaluations on fresh samples (train.h5 /eval): their ESS and IMH acceptance against the
 * samples flowed through training. The ESS of the training batches (biased high: few
 * samples, just fitted) is drawn as a curve, the fresh-sample evaluations as points. */
#include "plot_impl.h"

#include "latflow/io.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The preamble of a PNG whose y axis is the training loss, scaled to the records after
 * the first `skip` (the first steps' loss is orders of magnitude above the rest). */
static lf_status loss_png(FILE *gp, const char *dir, const char *out, const char *title,
                          const char *xl, size_t skip) {
  const lf_status rc = lf_plot_png(gp, dir, out, title, xl, "loss");
  if (rc != LF_OK) return rc;
  fprintf(gp, "stats 'train.dat' every ::%zu u 3 nooutput\nset yrange [STATS_min:STATS_max]\n",
          skip);
  return LF_OK;
}

/* The fresh-sample ESS and IMH acceptance of the evaluations of s against the samples
 * flowed through training when each was made (/eval/n_train: the sum of the batch sizes of
 * the steps done, batch schedules included), log x when they span more than a decade. */
static lf_status fresh_ess_png(FILE *gp, const char *dir, const lf_train_series *s) {
  int finite = 0;
  int64_t lo = INT64_MAX, hi = 0;
  for (size_t i = 0; i < s->neval; i++) {
    finite += isfinite(s->evals[i].ess) || isfinite(s->evals[i].acceptance);
    lo = s->evals[i].n_train < lo ? s->evals[i].n_train : lo;
    hi = s->evals[i].n_train > hi ? s->evals[i].n_train : hi;
  }
  const int logx = lo > 0 && hi >= 20 * lo; /* log x only over more than a decade */
  char title[160];
  snprintf(title, sizeof title,
           "fresh-sample ESS and IMH acceptance during training (%zu evaluations of %lld samples)",
           s->neval, (long long)s->evals[0].samples);
  const lf_status rc =
      lf_plot_png(gp, dir, "train_fresh_ess", title,
                  "samples flowed through training (sum of batches)", "ESS fraction / acceptance");
  if (rc != LF_OK) return rc;
  if (!finite) {
    lf_plot_placeholder(gp, "no finite ESS or acceptance in the evaluations");
    return LF_OK;
  }
  fprintf(gp, "%sset yrange [0:*]\nset key top left\n", logx ? "set logscale x\n" : "");
  fputs("plot 'eval.dat' u 2:3 w lp pt 7 ps 1.2 lw 2 lc rgb '#000080' t 'fresh-sample ESS', "
        "'' u 2:4 w lp pt 5 ps 0.9 dt 2 lw 2 lc rgb '#008000' t 'IMH acceptance (fresh samples)'\n",
        gp);
  return LF_OK;
}

/* train.dat and eval.dat (when there are evaluations), then the plots (plot_impl.h). */
lf_status lf_plot_training(FILE *gp, const char *dir, const char *train_path) {
  lf_train_series s;
  memset(&s, 0, sizeof s);
  lf_status rc = lf_io_metrics_read(train_path, &s, NULL);
  if (rc != LF_OK) return rc;
  FILE *f = NULL;
  rc = lf_plot_open_out(&f, dir, "train.dat");
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
  rc = lf_plot_close_out(f, dir, "train.dat");
  if (rc == LF_OK && nev > 0) rc = lf_plot_open_out(&f, dir, "eval.dat");
  if (rc == LF_OK && nev > 0) {
    fprintf(f, "# step n_train ess acceptance loss (fresh samples, from %s)\n", train_path);
    for (size_t i = 0; i < nev; i++)
      fprintf(f, "%lld %lld %.10g %.10g %.10g\n", (long long)s.evals[i].step,
              (long long)s.evals[i].n_train, s.evals[i].ess, s.evals[i].acceptance,
              s.evals[i].loss);
    rc = lf_plot_close_out(f, dir, "eval.dat");
  }
  if (rc == LF_OK && nev > 0) rc = fresh_ess_png(gp, dir, &s);
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
  if ((rc = lf_plot_png(gp, dir, "train_ess",
                        nev > 0 ? "ESS: training batches (biased high) and fresh samples"
                                : "ESS of the training batches (biased high)",
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
