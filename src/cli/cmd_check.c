/* latflow check CONFIG [--set k=v] [--output DIR] [--json]: validates a run card for every
 * command without running anything (no MPI, no files written). */
#include "cli.h"

#include "latflow/log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

static const char help[] =
    "usage: latflow check CONFIG [--set key=value]... [--output DIR] [--json]\n"
    "Validates a run card without running anything: the YAML, every key, type and range\n"
    "and the cross-key rules (what every command checks at its start), then the flow's\n"
    "rules (what train, sample, run and bench check; hmc builds no flow). Prints the\n"
    "commands the card is valid for. Exit codes: 0 valid for every command, 2 not (the\n"
    "first error is printed, naming the file and, where there is one, the line).\n";

static const char all_cmds[] = "train, sample, hmc, run, bench";

int lf_cmd_check(int argc, char **argv) {
  lf_cli_opts o;
  lf_config cfg;
  lf_status rc = lf_cli_parse(argc, argv, 2, "check", &o);
  if (rc == LF_OK && o.help) {
    lf_cli_print_help(help);
    return 0;
  }
  if (rc == LF_OK && !o.config)
    rc = lf_fail_msg(LF_ERR_USAGE, "check: needs CONFIG (see latflow check --help)");
  if (rc != LF_OK) return lf_cli_report(rc);
  /* the base rules first: a card that fails them is valid for no command */
  rc = lf_cli_load_config(&o, &cfg);
  const int base_ok = rc == LF_OK;
  if (base_ok) rc = lf_config_validate_flow(&cfg);
  const char *valid = rc == LF_OK ? all_cmds : base_ok ? "hmc" : "";
  const int code = lf_cli_report(rc);
  if (!o.json) {
    if (base_ok) printf("%s: valid for %s\n", o.config, valid);
  } else {
    cJSON *j = cJSON_CreateObject();
    if (!j) return 1;
    cJSON_AddStringToObject(j, "command", "check");
    cJSON_AddStringToObject(j, "config", o.config);
    cJSON_AddBoolToObject(j, "valid", code == 0);
    cJSON_AddStringToObject(j, "valid_for", valid);
    if (code != 0) cJSON_AddStringToObject(j, "error", lf_last_error());
    char *txt = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!txt) return 1;
    puts(txt);
    free(txt);
  }
  return code;
}
