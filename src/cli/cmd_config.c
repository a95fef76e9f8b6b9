/* latflow config [--default] [CONFIG] [--set k=v] [--json]: prints the effective config. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

static const char help[] =
    "usage: latflow config [--default] [CONFIG] [--set key=value]... [--json]\n"
    "Prints the effective config (every key, defaults filled in) as YAML on stdout.\n"
    "--default prints the built-in quickstart card as written (with comments).\n"
    "--json prints one JSON object instead: command, source and config (the validated\n"
    "config, every key, sections as nested objects).\n";

/* The --json output: {"command", "source", "config"}, the config from lf_config_to_json. */
static lf_status print_json(const lf_config *cfg) {
  char *text = lf_config_to_json(cfg);
  if (!text) return LF_FAIL(LF_ERR_NOMEM, "formatting the config as JSON");
  cJSON *c = cJSON_Parse(text);
  free(text);
  if (!c) return LF_FAIL(LF_ERR_INVALID, "config --json: the config's JSON does not parse");
  cJSON *json = cJSON_CreateObject();
  cJSON_AddStringToObject(json, "command", "config");
  cJSON_AddStringToObject(json, "source", cfg->source);
  cJSON_AddItemToObject(json, "config", c);
  const int bad = lf_cli_print_json(json);
  cJSON_Delete(json);
  return bad ? LF_FAIL(LF_ERR_IO, "writing the config as JSON failed") : LF_OK;
}

/* Prints the built-in card (--default alone) or the effective config (YAML, or --json). */
int lf_cmd_config(int argc, char **argv, MPI_Comm comm) {
  (void)comm;
  lf_cli_opts o;
  int code;
  if (!lf_cli_start(argc, argv, "config", help, &o, &code)) return code;
  if (o.use_default && !o.config && o.nsets == 0 && !o.output && !o.json) {
    fputs(lf_config_default_yaml(), stdout);
    return 0;
  }
  lf_config cfg;
  const lf_status rc = lf_cli_load_config(&o, &cfg);
  if (rc != LF_OK) return lf_cli_report(rc);
  return lf_cli_report(o.json ? print_json(&cfg) : lf_config_write_yaml(&cfg, stdout));
}
