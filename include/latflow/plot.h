/* latflow/plot.h: PNG plots of a latflow file with gnuplot (src/driver/plot.c; the driver
 * of `latflow plot`, also called by `latflow run`).
 *
 * For an ensemble file: the Monte Carlo history of each observable, its normalized
 * autocorrelation with the Gamma-method window marked, and (flow ensembles) the histogram
 * of log w; for HMC ensembles the energy violation dH per trajectory. For a training file
 * (train.h5), or the train.h5 next to a flow ensemble's model: loss and ESS against the
 * step and against the number of training samples. The data go to <outdir>/<name>.dat,
 * the script to <outdir>/plots.gp, gnuplot's stderr to <outdir>/gnuplot.log; all stay so
 * a user can restyle a plot. The default outdir is <dir of FILE>/plots/<FILE's name
 * without .h5> (run/plots/ensemble, run/plots/hmc, run/plots/train), so the plots of two
 * files never share a folder. A file that is not an ensemble or a train file is refused
 * before any folder or file is made. Every file is first written into a new staging
 * folder <outdir>/.plot-<pid>.tmp (created new, the PNGs too before gnuplot opens them)
 * and renamed into outdir only when gnuplot succeeded and every PNG is whole: a failure
 * leaves outdir's earlier plots as they were (only gnuplot.log is kept when gnuplot
 * failed). A symbolic link or a non-regular file at an output name in outdir is refused
 * (LF_ERR_IO naming it) before any file is moved.
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

#include <cjson/cJSON.h>

/* Plots of an ensemble or train file into outdir (NULL: <dir of path>/plots/<stem>,
 * created as with mkdir -p). json (may be NULL) gets "input", "kind", "outdir" and
 * "plots" (the paths of the PNGs written). */
lf_status lf_plot_pipeline(const char *path, const char *outdir, cJSON *json);

#endif
