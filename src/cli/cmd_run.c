/* latflow run [CONFIG]: the whole pipeline. In this version: train + evaluation
 * (sampling, analysis and plots are added by the sampling issue). */
#include "cli.h"
#include "cmd_train.h"

#include <stdio.h>

static const char help[] =
    "usage: latflow run [CONFIG] [--set key=value]... [--output DIR] [--force] [--json]\n"
    "Runs the pipeline on CONFIG (default: the built-in quickstart card: phi^4, L=8,\n"
    "m2=-4, lambda=8): trains the flow with a live progress line and evaluates it\n"
    "(ESS, IMH acceptance on train.eval_samples fresh samples).\n";

int lf_cmd_run(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  lf_status rc = lf_cli_parse(argc, argv, 2, "run", &o);
  if (rc != LF_OK) return lf_cli_report(rc);
  if (o.help) {
    fputs(help, stdout);
    return 0;
  }
  lf_config cfg;
  if ((rc = lf_cli_load_config(&o, &cfg)) != LF_OK) return lf_cli_report(rc);
  lf_cli_banner(comm, "run");
  cJSON *json = o.json ? cJSON_CreateObject() : NULL;
  rc = lf_train_pipeline(&cfg, o.force, comm, json);
  int code = lf_cli_report(rc);
  if (json) {
    if (code == 0) code = lf_cli_print_json(json);
    cJSON_Delete(json);
  }
  return code;
}
