/* latflow/plot.h: PNG plots of a latflow file with gnuplot (src/driver/plot.c; the driver
 * of `latflow plot`, also called by `latflow run`).
 *
 * For an ensemble file: the Monte Carlo history of each observable, its normalized
 * autocorrelation with the Gamma-method window marked, and (flow ensembles) the histogram
 * of log w; for HMC ensembles the energy violation dH per trajectory. For a training file
 * (train.h5), or the train.h5 next to a flow ensemble's model: loss and ESS against the
 * step and against the number of training samples. The data go to <outdir>/<name>.dat,
 * the script to <outdir>/plots.gp, gnuplot's stderr to <outdir>/gnuplot.log; all stay so
 * a user can restyle a plot. Every file is created new (never written through a link
 * planted at its name; lf_io_create_file), the PNGs too, before gnuplot opens them.
 *
 * Local: one process (under MPI the caller runs it on one rank). Logs "<n> plots in
 * <outdir>". Errors: the readers' (lf_io_file_kind, lf_ens_read, lf_io_metrics_read),
 * LF_ERR_FORMAT for a file of another kind, LF_ERR_IO when a file cannot be written,
 * gnuplot cannot be started or fails (naming gnuplot.log), or leaves a PNG empty or
 * truncated (those are removed; a full disk is named as such), LF_ERR_INVALID for a
 * path that is too long. */
#ifndef LATFLOW_PLOT_H
#define LATFLOW_PLOT_H

#include "latflow/status.h"

/* Plots of an ensemble or train file into outdir (NULL: <dir of path>/plots, created as
 * with mkdir -p); *nplots (may be NULL) gets the number of PNGs. */
lf_status lf_plot_pipeline(const char *path, const char *outdir, int *nplots);

#endif
