/* latflow info FILE [--json]: what a latflow file holds (the driver: latflow/info.h). */
#include "cli.h"

#include "latflow/info.h"

#include <stdio.h>

static const char help[] =
    "usage: latflow info FILE [--json]\n"
    "What a file latflow wrote holds: its kind (model, train, ensemble, checkpoint) and\n"
    "format version; the theory and lattice (name, shape, couplings); the model's\n"
    "architecture and parameter count (model files, the model an ensemble was sampled\n"
    "with, a training checkpoint's); the training (steps, final loss, the last ESS and\n"
    "acceptance on fresh samples, seconds: train.h5, and model.h5 through the train.h5\n"
    "beside it); the chains (chains, steps, stored states, accepted, acceptance, and where\n"
    "the chains of a merged file came from); and the provenance (latflow version, git\n"
    "revision, compiler, creation time, seed, ranks, the stored card's FNV-1a 64 hash).\n"
    "--json prints one object on stdout (command, file, kind, format_version, theory,\n"
    "model, training, chains, provenance with the card's text as config_yaml).\n"
    "Exit codes: 0; 2 for a missing file or one that is not latflow's (a YAML card, another\n"
    "HDF5 file); 1 for a damaged latflow file.\n";

/* Reads FILE on rank 0 and prints the summary or (--json) the object. */
int lf_cmd_info(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  int code;
  if (!lf_cli_start(argc, argv, "info", help, &o, &code)) return code;
  if (!o.config) return lf_cli_report(lf_fail_msg(LF_ERR_USAGE, "info: give a file\n%s", help));
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank != 0) return 0;
  cJSON *json = cJSON_CreateObject();
  if (!json) return lf_cli_report(LF_FAIL(LF_ERR_NOMEM, "info: JSON object"));
  cJSON_AddStringToObject(json, "command", "info");
  code = lf_cli_report(lf_info_read(o.config, json));
  if (code == 0) {
    if (o.json)
      code = lf_cli_print_json(json);
    else
      lf_info_print(stdout, json);
  }
  cJSON_Delete(json);
  return code;
}
