/* latflow-merge OUT.h5 IN.h5...: merges ensemble files of one theory into one
 * multi-chain file (DESIGN.md section 2; the work is lf_ens_merge, latflow/merge.h).
 * A thin command line: options, one call, a log line, exit codes 0 success, 1 run
 * failure (mismatch, corrupt input, OUT exists), 2 bad usage (including a missing or
 * unreadable input). */
#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/merge.h"
#include "latflow/version.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: latflow-merge [--force] [--json] [-q] OUT.h5 IN.h5...\n"
    "\n"
    "Merges ensemble files (from `latflow sample` or `latflow hmc`) of the same theory into\n"
    "one multi-chain file: each input chain becomes one chain of OUT, in input order.\n"
    "The inputs must agree on kind, theory, lattice, couplings, observables and correlator\n"
    "length; seeds and models may differ and are recorded per chain (docs/FORMAT.md,\n"
    "\"Merged files\"). A chain given twice (a copy of an input, a rerun with the same\n"
    "seed, a merged file with one of its sources) is refused: it would be counted twice.\n"
    "If only some inputs saved configurations, OUT has none.\n"
    "\n"
    "  --force      replace an existing OUT\n"
    "  --json       print a JSON summary on stdout\n"
    "  -q, --quiet  only warnings and errors on stderr\n"
    "  --help       this text; --version: the version\n"
    "Exit codes: 0 success, 1 run failure, 2 bad usage (a missing or unreadable input too).\n";

static int fail_code(lf_status rc) {
  fprintf(stderr, "latflow-merge: %s\n", lf_last_error()[0] ? lf_last_error() : lf_status_str(rc));
  return rc == LF_ERR_USAGE || rc == LF_ERR_CONFIG ? 2 : 1;
}

static int print_json(const char *out, const lf_merge_summary *s) {
  cJSON *j = cJSON_CreateObject();
  if (!j) return 0;
  cJSON_AddStringToObject(j, "command", "merge");
  cJSON_AddStringToObject(j, "output", out);
  cJSON_AddNumberToObject(j, "inputs", s->inputs);
  cJSON_AddNumberToObject(j, "chains", s->chains);
  cJSON_AddNumberToObject(j, "rows", (double)s->rows);
  cJSON_AddNumberToObject(j, "steps", (double)s->steps);
  cJSON_AddBoolToObject(j, "save_configs", s->save_configs);
  cJSON_AddBoolToObject(j, "configs_dropped", s->configs_dropped);
  cJSON_AddNumberToObject(j, "models", s->models);
  cJSON_AddNumberToObject(j, "gen_seconds", s->gen_seconds);
  cJSON_AddNumberToObject(j, "train_seconds", s->train_seconds);
  char *txt = cJSON_Print(j);
  cJSON_Delete(j);
  if (!txt) return 0;
  const int ok = puts(txt) >= 0;
  free(txt);
  return ok;
}

int main(int argc, char **argv) {
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  int npos = 0, force = 0, json = 0, only_pos = 0;
  if (!pos) {
    fputs("latflow-merge: out of memory\n", stderr);
    return 1;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_pos || a[0] != '-' || !a[1]) {
      pos[npos++] = a;
    } else if (!strcmp(a, "--")) {
      only_pos = 1;
    } else if (!strcmp(a, "--force")) {
      force = 1;
    } else if (!strcmp(a, "--json")) {
      json = 1;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      lf_log_set_level(LF_LOG_WARN); /* warnings and errors only */
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      free(pos);
      return 0;
    } else if (!strcmp(a, "--version")) {
      printf("latflow-merge %s (git %s%s)\n", LATFLOW_VERSION, LATFLOW_GIT_REV,
             LATFLOW_GIT_DIRTY ? ", dirty" : "");
      free(pos);
      return 0;
    } else {
      fprintf(stderr, "latflow-merge: unknown option '%s'\n\n%s", a, usage);
      free(pos);
      return 2;
    }
  }
  if (npos < 2) {
    fprintf(stderr, "latflow-merge: need OUT.h5 and at least one IN.h5 (got %d file%s)\n\n%s", npos,
            npos == 1 ? "" : "s", usage);
    free(pos);
    return 2;
  }
  lf_log_init();
  lf_log_info("merge", "latflow-merge %s (git %s): %d input%s -> %s", LATFLOW_VERSION,
              LATFLOW_GIT_REV, npos - 1, npos == 2 ? "" : "s", pos[0]);
  lf_merge_summary s;
  lf_status rc = LF_OK;
  /* a missing or unreadable input is bad usage (exit 2), as in every latflow command */
  for (int i = 1; i < npos && rc == LF_OK; i++) rc = lf_io_input_check(pos[i], "merge input");
  if (rc == LF_OK) rc = lf_ens_merge(pos[0], npos - 1, pos + 1, force, &s);
  int code = 0;
  if (rc != LF_OK) {
    code = fail_code(rc);
  } else {
    if (s.configs_dropped)
      lf_log_warn("merge",
                  "configurations dropped: '%s' has none (save_configs = 0), so %s holds only "
                  "observables, correlators and chains",
                  s.no_configs_path, pos[0]);
    lf_log_info("merge",
                "wrote %s: chains=%d rows=%lld steps=%lld configs=%s models=%d "
                "gen_seconds=%.3f train_seconds=%.3f",
                pos[0], s.chains, (long long)s.rows, (long long)s.steps,
                s.save_configs ? "yes" : "no", s.models, s.gen_seconds, s.train_seconds);
    if (json && !print_json(pos[0], &s)) {
      fputs("latflow-merge: cannot print the JSON summary\n", stderr);
      code = 1;
    }
  }
  free(pos);
  return code;
}
