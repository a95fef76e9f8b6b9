/* latflow config [--default] [CONFIG] [--set k=v]: prints the effective config. */
#include "cli.h"

#include <stdio.h>

static const char help[] =
    "usage: latflow config [--default] [CONFIG] [--set key=value]...\n"
    "Prints the effective config (every key, defaults filled in) as YAML on stdout.\n"
    "--default prints the built-in quickstart card as written (with comments).\n";

/* Prints the built-in card (--default alone) or the effective config. */
int lf_cmd_config(int argc, char **argv, MPI_Comm comm) {
  (void)comm;
  lf_cli_opts o;
  int code;
  if (!lf_cli_start(argc, argv, "config", help, &o, &code)) return code;
  if (o.use_default && !o.config && o.nsets == 0 && !o.output) {
    fputs(lf_config_default_yaml(), stdout);
    return 0;
  }
  lf_config cfg;
  const lf_status rc = lf_cli_load_config(&o, &cfg);
  if (rc != LF_OK) return lf_cli_report(rc);
  return lf_cli_report(lf_config_write_yaml(&cfg, stdout));
}
