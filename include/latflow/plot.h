/* latflow/plot.h: PNG plots of latflow files with gnuplot (src/driver/plot*.c; the driver
 * of `latflow plot`, also called by `latflow run`).
 *
 * For an ensemble file, per observable: the Monte Carlo history (history_<obs>), the
 * normalized autocorrelation rho(t) (acf_<obs>) and tau_int(W) = 1/2 + sum_{t=1..W}
 * rho(t) against the summation window W up to max(100, 2 W_chosen) with its error band
 * (Wolff eq. 42) (tauint_<obs>), both with the Gamma-method window W marked; for
 * ensembles with a correlator (phi^4) G(t) with errors on a log scale (correlator) and
 * m_eff(t) with errors and the pole mass drawn as a band value +- error over its fit
 * range [pole_tmin, pole_tmax] of lf_analysis (meff); for flow ensembles the histogram of
 * log w (logw_hist), for HMC ensembles the energy violation dH per trajectory
 * (dH_history). For a training file (train.h5), or the train.h5 next to a flow
 * ensemble's model: loss and ESS against the step and against the number of training
 * samples (train_loss, train_ess, train_vs_samples) and, when it has evaluations on fresh
 * samples (/eval), their ESS and IMH acceptance against the samples flowed through
 * training (train_fresh_ess). For two ensembles of the same physics (a flow ensemble and
 * HMC): every observable both have, and the pole mass when both have one, with the two
 * estimates and their errors side by side (compare_<obs>), and the effective samples per
 * second of every observable, the flow's also with its training time (compare_eff, log
 * scale). A plot with nothing finite to draw says so in place of its points.
 *
 * The data go to <outdir>/<name>.dat, the script to <outdir>/plots.gp, gnuplot's stderr
 * to <outdir>/gnuplot.log; all stay so a user can restyle a plot. The default outdir is
 * <dir of FILE>/plots/<FILE's name without .h5> (run/plots/ensemble, run/plots/hmc,
 * run/plots/train), and <dir of the first file>/plots/compare for a comparison, so the
 * plots of two files never share a folder. A study file (latflow/study.h) gets the
 * overlay plots of lf_plot_study in <dir of FILE>/plots. A file that is not an ensemble, a
 * train or a study file (for a comparison: not two ensembles of the same theory, lattice and
 * couplings with an observable in common) is refused before any folder or file is made. Every file
 * is first written into a new staging folder <outdir>/.plot-<pid>.tmp (created new, the
 * PNGs too before gnuplot opens them) and renamed into outdir only when gnuplot succeeded
 * and every PNG is whole: a failure leaves outdir's earlier plots as they were (only
 * gnuplot.log is kept when gnuplot failed). A symbolic link or a non-regular file at an
 * output name in outdir is refused (LF_ERR_IO naming it) before any file is moved.
 *
 * Local: one process (under MPI the caller runs it on one rank). Logs "<n> plots in
 * <outdir>". Errors: the readers' (lf_io_file_kind, lf_ens_read, lf_io_metrics_read),
 * LF_ERR_FORMAT for a file of another kind, LF_ERR_USAGE for two ensembles that cannot
 * be compared (naming the first difference), LF_ERR_IO when a file cannot be written,
 * gnuplot cannot be started or fails (naming gnuplot.log), or leaves a PNG empty or
 * truncated (those are removed; a full disk is named as such), LF_ERR_INVALID for a
 * path that is too long. */
#ifndef LATFLOW_PLOT_H
#define LATFLOW_PLOT_H

#include "latflow/analyze.h"
#include "latflow/ensemble_data.h"
#include "latflow/status.h"

#include <cjson/cJSON.h>

/* Plots of an ensemble or train file into outdir (NULL: <dir of path>/plots/<stem>,
 * created as with mkdir -p). json (may be NULL) gets "input", "kind", "outdir" and
 * "plots" (the paths of the PNGs written). */
lf_status lf_plot_pipeline(const char *path, const char *outdir, cJSON *json);

/* The overlay plots of a study file (latflow/study.h) into outdir (NULL: <dir of
 * path>/plots): ESS and IMH acceptance against N_train for all points, the chain's N_train
 * (ancestors included) when the protocol transfers, the targets as dashed lines
 * (study_ess_vs_ntrain, study_acceptance_vs_ntrain); the final ESS (one line per series:
 * the points that agree in their case and every other grid value) and
 * the training cost N_train to each target (log y, one line per series and target; protocol
 * root: the retraining from the root alone; sequential: the predecessors included) against
 * the study's x parameter, its value taken from each point's overrides (the point index,
 * labelled, when a point has no numeric value) (study_ess_vs_x, study_cost_vs_x: with
 * targets), and the flow's effective samples per second ess_eval x eval_samples /
 * eval_seconds against x (log y, study_eff_vs_x); with volumes ESS against V = L0 L1 (log y) with
 * the fitted law ESS(V0)^(V/V0) (solid) and the one anchored at the largest V (dotted), V0 the base
 * card's lattice (study_ess_vs_volume), and the IMH ensemble's mass against L0 when a
 * volume has one (study_mass_vs_L). Data: study_curves.dat, study_x.dat, study_cost.dat,
 * study_volumes.dat. json as lf_plot_pipeline's, kind "study". lf_plot_pipeline
 * dispatches study files here. Errors: lf_io_study_read's, then as above. */
lf_status lf_plot_study(const char *path, const char *outdir, cJSON *json);

/* The two ensembles path_a and path_b side by side into outdir (NULL: <dir of
 * path_a>/plots/compare). json (may be NULL) gets "input" (path_a), "compare" (path_b),
 * "kind" ("compare"), "outdir" and "plots". */
lf_status lf_plot_compare(const char *path_a, const char *path_b, const char *outdir, cJSON *json);
/* lf_plot_compare of two ensembles already read and analysed (borrowed; any nrho). */
lf_status lf_plot_compare_analysed(const char *path_a, const lf_ensemble *ea, const lf_analysis *aa,
                                   const char *path_b, const lf_ensemble *eb, const lf_analysis *ab,
                                   const char *outdir, cJSON *json);

#endif
