/* latflow sample CONFIG [--model M]: parses the options and runs the sample pipeline
 * (lf_sample_pipeline_ex, latflow/driver.h: flow proposals -> IMH chain or reweighting ->
 * <output>/ensemble.h5, with checkpoints and --resume) in the locked output folder, then
 * prints its summary (--json). */
#include "cli.h"
#include "cmd_train.h"

#include "latflow/io.h"

static const char help[] =
    "usage: latflow sample [CONFIG] [--model M] [--set key=value]... [--output DIR] [--force]\n"
    "                      [--resume] [--json]\n"
    "Draws sample.proposals flow proposals in blocks of sample.block from the model M\n"
    "(default <output>/model.h5), computes log w = -S - log q, and runs the Independence\n"
    "Metropolis chain (sample.mode: imh) or keeps every proposal with its weight\n"
    "(sample.mode: reweight). Writes <output>/ensemble.h5 (configurations per sample.save,\n"
    "observables, correlator, chain). The theory of CONFIG must have the model's lattice\n"
    "shape; its couplings may differ from the training ones (the weights correct for it).\n"
    "Under mpiexec -n P, rank 0 runs the chain while ranks 1..P-1 generate proposal\n"
    "blocks; all ranks write the file in collective epochs (parallel HDF5); the datasets\n"
    "are bitwise the same for every P. A checkpoint <output>/sample.ckpt.h5 is written\n"
    "every sample.checkpoint_every proposals, every sample.checkpoint_seconds of wall\n"
    "time and on SIGTERM/SIGUSR1/SIGINT (then exit code 3); --resume continues an\n"
    "interrupted run to the same file, on any number of ranks (a run killed before its\n"
    "first checkpoint starts over; a finished one is left as it is).\n";

/* The pipeline with sample's options (it installs the signal handlers itself, once its
 * file is open). */
static lf_status sample_body(const lf_cli_opts *o, const lf_config *cfg, MPI_Comm comm,
                             cJSON *json) {
  return lf_sample_pipeline_ex(cfg, o->model, o->force, o->resume, comm, json);
}

int lf_cmd_sample(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  lf_config cfg;
  int code;
  if (!lf_cli_setup(argc, argv, comm, "sample", help, &o, &cfg, &code)) return code;
  if (o.model) { /* a wrong --model path is bad usage (exit 2), like a wrong CONFIG */
    const lf_status mrc = lf_io_input_check(o.model, "sample: --model");
    if (mrc != LF_OK) return lf_cli_report(mrc);
  }
  return lf_cli_run_locked(&o, &cfg, "sample", 0, sample_body, comm);
}
