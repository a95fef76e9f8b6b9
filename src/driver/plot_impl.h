/* src/driver/plot_impl.h: what the plot files share, private to src/driver (the contract
 * of the plots is latflow/plot.h):
 *   plot.c          lf_plot_pipeline, lf_plot_compare(_analysed): the input checks, the
 *                   staging folder, gnuplot, the PNG check and the move into the output
 *                   folder; the helpers below that write one data file or one PNG
 *   plot_ensemble.c the plots of one ensemble (history, autocorrelation, tau_int(W),
 *                   correlator and effective mass, log w or dH)
 *   plot_train.c    the training curves of a train.h5
 *   plot_compare.c  two ensembles of the same theory side by side
 *   plot_study.c    the overlay plots of a study file (latflow/study.h)
 * Every function writes data files into the staging folder dir and gnuplot commands into
 * the script gp; each PNG the script writes is first created here (lf_plot_png). */
#ifndef LATFLOW_PLOT_IMPL_H
#define LATFLOW_PLOT_IMPL_H

#include "latflow/analyze.h"
#include "latflow/ensemble_data.h"
#include "latflow/status.h"

#include <stdio.h>

/* Opens dir/name for writing as a new file (*f NULL on failure). */
lf_status lf_plot_open_out(FILE **f, const char *dir, const char *name);
/* Closes a file of lf_plot_open_out; a failed close (the last buffered write) is
 * LF_ERR_IO. */
lf_status lf_plot_close_out(FILE *f, const char *dir, const char *name);
/* Creates dir/<out>.png as a new, empty regular file and writes the gnuplot preamble of
 * that PNG (reset, terminal, output, title and axis labels) to gp. */
lf_status lf_plot_png(FILE *gp, const char *dir, const char *out, const char *title, const char *xl,
                      const char *yl);
/* The plot command of a PNG that has nothing to draw: the sentence why, centred (gnuplot
 * refuses a plot whose points are all undefined). */
void lf_plot_placeholder(FILE *gp, const char *why);

/* The plots of the ensemble e (read from path) with its analysis a (plot_ensemble.c). */
lf_status lf_plot_ensemble(FILE *gp, const char *dir, const char *path, const lf_ensemble *e,
                           const lf_analysis *a);
/* The training curves of train_path (plot_train.c). */
lf_status lf_plot_training(FILE *gp, const char *dir, const char *train_path);

struct lf_study;
/* The overlay plots of the study st (plot_study.c): ESS and acceptance against N_train,
 * final ESS and cost to the targets against the x parameter, ESS against V with the
 * volume law and the mass against L. */
lf_status lf_plot_study_write(FILE *gp, const char *dir, const struct lf_study *st);

/* One ensemble of a comparison: its path, data and analysis (borrowed). */
typedef struct lf_plot_side {
  const char *path;
  const lf_ensemble *e;
  const lf_analysis *a;
} lf_plot_side;
/* Two ensembles of the same physics side by side (plot_compare.c): the observables both
 * have, with errors, and their effective samples per second. */
lf_status lf_plot_compare_write(FILE *gp, const char *dir, const lf_plot_side s[2]);
/* Refuses (LF_ERR_USAGE, naming both files and the first difference) two ensembles that
 * cannot be compared: another theory, lattice or coupling, or no observable in common. */
lf_status lf_plot_compare_check(const lf_plot_side s[2]);

#endif
