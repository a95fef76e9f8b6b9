/* latflow plot FILE.h5 [--out DIR]: PNG plots with gnuplot. The command parses its options
 * and calls the plotting driver (latflow/plot.h, src/driver/plot.c), which says what is
 * drawn and where the data, the script and the PNGs go. */
#include "cli.h"

#include "latflow/io.h"
#include "latflow/plot.h"

#include <stdio.h>

static const char help[] =
    "usage: latflow plot FILE.h5 [--out DIR] [--json]\n"
    "PNG plots with gnuplot. FILE is an ensemble (ensemble.h5, hmc.h5: Monte Carlo history\n"
    "and autocorrelation of every observable, histogram of log w; for a flow ensemble also\n"
    "the training curves from the train.h5 beside its model) or a training file (train.h5:\n"
    "loss, batch ESS and fresh-sample ESS vs step and vs training samples). DIR defaults to\n"
    "<dir of FILE>/plots/<FILE's name without .h5> (run/plots/ensemble, run/plots/hmc).\n"
    "Another kind of file is refused before anything is written. --json prints one JSON\n"
    "object: command, input, kind, outdir and plots (the paths of the PNGs).\n";

/* Checks FILE (and --out); rank 0 runs the plotting driver and with --json prints what it
 * wrote. */
int lf_cmd_plot(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  int code;
  if (!lf_cli_start(argc, argv, "plot", help, &o, &code)) return code;
  if (!o.config)
    return lf_cli_report(
        lf_fail_msg(LF_ERR_USAGE, "plot: give an ensemble or train file\n%s", help));
  const lf_status rc = lf_io_input_check(o.config, "plot: input");
  if (rc != LF_OK) return lf_cli_report(rc);
  /* under mpiexec one rank writes the plots: their files are created exclusively */
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank != 0) return 0;
  cJSON *json = o.json ? cJSON_CreateObject() : NULL;
  if (json) cJSON_AddStringToObject(json, "command", "plot");
  code = lf_cli_report(lf_plot_pipeline(o.config, o.output, json));
  if (json && code == 0) code = lf_cli_print_json(json);
  cJSON_Delete(json);
  return code;
}
