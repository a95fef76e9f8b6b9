/* latflow plot FILE.h5 [FILE2.h5] [--out DIR]: PNG plots with gnuplot. The command parses
 * its options and calls the plotting driver (latflow/plot.h, src/driver/plot*.c), which
 * says what is drawn and where the data, the script and the PNGs go. */
#include "cli.h"

#include "latflow/io.h"
#include "latflow/plot.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: latflow plot FILE.h5 [--out DIR] [--json]\n"
    "       latflow plot ENSEMBLE.h5 HMC.h5 [--out DIR] [--json]\n"
    "PNG plots with gnuplot. FILE is an ensemble (ensemble.h5, hmc.h5: Monte Carlo history,\n"
    "autocorrelation and tau_int against the summation window of every observable; the\n"
    "correlator G(t) and the effective mass m_eff(t) with the pole-mass fit (phi^4); the\n"
    "histogram of log w (flow) or dH (HMC); for a flow ensemble also the training curves\n"
    "from the train.h5 beside its model) or a training file (train.h5: loss, batch ESS and\n"
    "fresh-sample ESS vs step and vs training samples, fresh-sample ESS and IMH acceptance\n"
    "vs samples flowed) or a study file (study.h5 of latflow study: ESS and acceptance vs\n"
    "N_train of every point, final ESS and cost to each target vs the study's parameter,\n"
    "ESS vs volume with the fitted law, mass vs L; into <dir of FILE>/plots). DIR defaults\n"
    "to <dir of FILE>/plots/<FILE's name without .h5> (run/plots/ensemble, run/plots/hmc).\n"
    "With two ensembles of the same theory, lattice and\n"
    "couplings (a flow ensemble and HMC): their observables with errors side by side and\n"
    "their effective samples per second (the flow's also with its training time), in\n"
    "<dir of the first>/plots/compare; two ensembles of other physics are refused (exit 2).\n"
    "Another kind of file is refused before anything is written. --json prints one JSON\n"
    "object: command, input (and compare: the second file), kind, outdir and plots (the\n"
    "paths of the PNGs).\n";

/* Checks FILE (and FILE2, --out); rank 0 runs the plotting driver and with --json prints
 * what it wrote. */
int lf_cmd_plot(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  int code;
  if (!lf_cli_start(argc, argv, "plot", help, &o, &code)) return code;
  const char *second = o.config2;
  if (!o.config)
    return lf_cli_report(
        lf_fail_msg(LF_ERR_USAGE, "plot: give an ensemble, train or study file\n%s", help));
  lf_status rc = lf_io_input_check(o.config, "plot: input");
  if (rc == LF_OK && second) rc = lf_io_input_check(second, "plot: second input");
  if (rc != LF_OK) return lf_cli_report(rc);
  /* under mpiexec one rank writes the plots: their files are created exclusively */
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank != 0) return 0;
  cJSON *json = o.json ? cJSON_CreateObject() : NULL;
  if (json) cJSON_AddStringToObject(json, "command", "plot");
  code = lf_cli_report(second ? lf_plot_compare(o.config, second, o.output, json)
                              : lf_plot_pipeline(o.config, o.output, json));
  if (json && code == 0) code = lf_cli_print_json(json);
  cJSON_Delete(json);
  return code;
}
