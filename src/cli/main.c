/* latflow: one binary with subcommands (DESIGN.md section 2). The only place that
 * decides to exit or MPI_Abort. */
#include "cli.h"

#include "latflow/comm.h"
#include "latflow/log.h"
#include "latflow/signal.h"
#include "latflow/version.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: latflow <command> [CONFIG] [options]\n"
    "\n"
    "commands:\n"
    "  run [CONFIG]         the whole pipeline (no CONFIG: the built-in quickstart card)\n"
    "  train CONFIG         train a flow; writes <output>/model.h5 and <output>/train.h5\n"
    "  sample CONFIG [--model M]   flow proposals + Independence Metropolis (or\n"
    "                       reweighting); writes <output>/ensemble.h5\n"
    "  hmc CONFIG           the HMC baseline; writes <output>/hmc.h5 (same format)\n"
    "  analyze FILE.h5      means, Gamma-method errors, tau_int, acceptance, ESS\n"
    "  plot FILE.h5 [--out DIR]   PNG plots (gnuplot): training, histories, autocorrelation\n"
    "  bench CONFIG         throughput: train steps/s, proposals/s, memory, FLOP efficiency\n"
    "  study CARD           a study: the runs of a grid of overrides, their costs and ESS\n"
    "                       (study.h5 and study.csv, one run folder per point; --dry-run)\n"
    "  info FILE.h5         what a latflow file holds: kind, theory, model, chains, provenance\n"
    "  config [--default] [CONFIG]   print the effective config\n"
    "  check CONFIG         validate a card for every command (exit 0 valid, 2 not)\n"
    "\n"
    "common options: --set key=value (repeatable), --output DIR, --json, --force, --help,\n"
    "  -q/--quiet (only warnings and errors on stderr: no progress line, no info logs)\n"
    "  --version            print the version and exit\n"
    "Exit codes: 0 success, 1 run failure, 2 bad usage or bad config (including a missing\n"
    "or unreadable CONFIG, FILE.h5 or --model file, and a card that needs more memory per\n"
    "rank than this node has), 3 stopped by a signal (SIGTERM, SIGUSR1, SIGINT) after\n"
    "writing a checkpoint: its last line is the command (with --resume) that continues it.\n"
    "Memory: LATFLOW_MEM_LIMIT=<size> sets the memory per rank (2G, 512M, bytes);\n"
    "LATFLOW_MEM_CHECK=0 logs the estimate without refusing.\n";

static int dispatch(int argc, char **argv, MPI_Comm comm) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
      !strcmp(argv[1], "help")) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    printf("latflow %s (git %s%s)\n", LATFLOW_VERSION, LATFLOW_GIT_REV,
           LATFLOW_GIT_DIRTY ? ", dirty" : "");
    return 0;
  }
  if (!strcmp(cmd, "config")) return lf_cmd_config(argc, argv, comm);
  if (!strcmp(cmd, "train")) return lf_cmd_train(argc, argv, comm);
  if (!strcmp(cmd, "run")) return lf_cmd_run(argc, argv, comm);
  if (!strcmp(cmd, "bench")) return lf_cmd_bench(argc, argv, comm);
  if (!strcmp(cmd, "sample")) return lf_cmd_sample(argc, argv, comm);
  if (!strcmp(cmd, "hmc")) return lf_cmd_hmc(argc, argv, comm);
  if (!strcmp(cmd, "analyze")) return lf_cmd_analyze(argc, argv, comm);
  if (!strcmp(cmd, "plot")) return lf_cmd_plot(argc, argv, comm);
  if (!strcmp(cmd, "info")) return lf_cmd_info(argc, argv, comm);
  if (!strcmp(cmd, "study")) return lf_cmd_study(argc, argv, comm);
  fprintf(stderr, "latflow: unknown command '%s'\n\n%s", cmd, usage);
  return 2;
}

/* Long runs stop cleanly on SIGTERM/SIGUSR1/SIGINT (checkpoint, exit 3). Their handlers go
 * in before MPI_Init (which takes a good fraction of a second), so a signal during start-up
 * is not lost: the run stops at its first step boundary. Other commands keep the default
 * actions. */
static int wants_signals(int argc, char **argv) {
  if (argc < 2) return 0;
  const char *c = argv[1];
  return !strcmp(c, "train") || !strcmp(c, "run") || !strcmp(c, "sample") || !strcmp(c, "hmc") ||
         !strcmp(c, "study");
}

int main(int argc, char **argv) {
  /* check reads one card and nothing else: no MPI start-up (half a second), so editors,
   * scripts and the fault suite can call it on many cards */
  if (argc >= 2 && !strcmp(argv[1], "check")) {
    lf_log_init();
    return lf_cmd_check(argc, argv);
  }
  const lf_status sig_rc = wants_signals(argc, argv) ? lf_signal_install() : LF_OK;
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  lf_log_init();
  lf_log_set_rank(rank);
  lf_cli_set_invocation(argc, argv, rank, size); /* for the hint of an interrupted run */
  const int code = sig_rc != LF_OK ? lf_cli_report(sig_rc) : dispatch(argc, argv, MPI_COMM_WORLD);
  /* the only MPI_Abort, for a failure other ranks may not know of (they could wait in a
   * collective call forever); an interrupted run (code 3) and a failure every rank saw
   * through lf_cli_agree end normally */
  if (code != 0 && code != LF_CLI_EXIT_INTERRUPTED && size > 1 && !lf_comm_failure_agreed())
    MPI_Abort(MPI_COMM_WORLD, code);
  MPI_Finalize();
  return code;
}
