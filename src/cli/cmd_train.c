/* latflow train CONFIG [--resume]: parses the options (CONFIG is required) and runs the train
 * pipeline (lf_train_pipeline_ex, latflow/driver.h; src/driver/train_pipeline.c has the run's
 * files, checkpoints and evaluations) in the locked output folder, then prints its summary
 * (--json). A signal ends the command with exit code 3 after the checkpoint was written. */
#include "cli.h"
#include "cmd_train.h"

static const char help[] =
    "usage: latflow train CONFIG [--set key=value]... [--output DIR] [--force] [--json]\n"
    "                     [--resume]\n"
    "Trains the flow of the run card CONFIG (required; `latflow config --default > my.yaml`\n"
    "writes the quickstart card to start from) by reverse KL with\n"
    "train.estimator rt or re. Writes <output>/model.h5 and <output>/train.h5 (metrics per\n"
    "step). Every train.eval_every steps and at the end it evaluates the model on\n"
    "train.eval_samples fresh samples (ESS, IMH acceptance: the honest figures; the batch\n"
    "ESS of the progress line is biased high). --json prints a summary object on stdout,\n"
    "with the list \"evals\" and \"warnings\". An existing output is refused unless --force.\n"
    "Every train.checkpoint_every steps, every train.checkpoint_seconds of wall time and\n"
    "on SIGTERM, SIGUSR1 or SIGINT the state goes to <output>/train.ckpt.h5; a signal then\n"
    "ends the run with exit code 3. --resume continues it from there (same config; run\n"
    "lengths such as train.stop.steps may change; same number of training ranks), or\n"
    "starts over when the run stopped before its first checkpoint, and ends with the\n"
    "files of an uninterrupted run. A finished run removes its checkpoint.\n";

/* The whole command: options, config, the locked output and the pipeline (cli.h). */
int lf_cmd_train(int argc, char **argv, MPI_Comm comm) {
  return lf_cli_main(argc, argv, comm, "train", help, lf_train_pipeline_ex);
}
