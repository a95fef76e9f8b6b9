/* latflow study CARD [--output DIR] [--dry-run] [--resume] [--force] [--json]
 * [--point K | --root-only | --assemble]: parses the options, loads the study card
 * (lf_config_load_study), expands it (lf_study_init) and either prints the points
 * (--dry-run) or runs the study (lf_study_run, latflow/study_run.h) in its locked output
 * folder (one point's folder with --point, the root's with --root-only), then prints the
 * study's object (--json). A signal ends the command with exit code 3 after the running
 * point's checkpoint was written. */
#include "cli.h"

#include "latflow/log.h"
#include "latflow/study_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: latflow study CARD [--set key=value]... [--output DIR] [--dry-run] [--json]\n"
    "                     [--resume] [--force] [--point K | --root-only | --assemble]\n"
    "Runs the study of the study card CARD (a run card with a `study:` section:\n"
    "docs/CONFIG.md, \"study\"): one training run per point of its grid and cases, each\n"
    "exactly `latflow train CARD --set key=value ... --output DIR/points/pNNN`, from\n"
    "scratch, from the root model (DIR/root) or from the previous point's model, as\n"
    "study.protocol says. Each finished point's measurements (ESS and acceptance curve,\n"
    "costs, chain costs, the cost to reach each study.targets ESS) go to its point.json;\n"
    "at the end the study file DIR/study.h5, the tables DIR/study.csv and curves.csv (and\n"
    "volumes.csv), the plots DIR/plots/ and DIR/study.json (DIR: --output, default\n"
    "runs/<study.name>).\n"
    "--set applies to every point (before the point's own overrides).\n"
    "--dry-run lists the points (index, label, overrides, parent, folder; --json: the\n"
    "study's object without measurements) and runs nothing.\n"
    "An output that holds the runs of a study is refused unless --resume (finished points\n"
    "are kept, an interrupted one continues from its checkpoint) or --force (start over).\n"
    "Cluster arrays: --root-only trains only the root model, --point K only point K (its\n"
    "root must be trained; not for protocol sequential), --assemble builds the study's\n"
    "outputs from the points' results (an error lists the missing ones).\n";

/* lf_study_run's arguments for the locked run (lf_cli_run_locked passes only the config). */
static struct {
  lf_study *st;
  lf_study_opts opts;
} g_run;

/* The body of the locked run: the study. */
static lf_status run_body(const lf_cli_opts *o, const lf_config *cfg, MPI_Comm comm, cJSON *json) {
  (void)o;
  (void)cfg;
  return lf_study_run(g_run.st, &g_run.opts, comm, json);
}

/* --point K, --root-only, --assemble into *so (LF_ERR_USAGE for a bad or conflicting one). */
static lf_status study_opts(const lf_cli_opts *o, lf_study_opts *so) {
  memset(so, 0, sizeof *so);
  so->force = o->force;
  so->resume = o->resume;
  so->root_only = o->root_only;
  so->assemble = o->assemble;
  so->point = -1;
  if (o->point) {
    char *end = NULL;
    const long k = strtol(o->point, &end, 10);
    if (!o->point[0] || *end || k < 0 || k >= LF_STUDY_MAX_POINTS)
      return lf_fail_msg(LF_ERR_USAGE, "study: --point needs a point index (0, 1, ...), got '%s'",
                         o->point);
    so->point = (int)k;
  }
  if ((so->point >= 0) + so->root_only + so->assemble > 1)
    return lf_fail_msg(LF_ERR_USAGE,
                       "study: --point, --root-only and --assemble exclude each other");
  if (o->force && o->resume)
    return lf_fail_msg(LF_ERR_USAGE, "study: --force and --resume exclude each other");
  if (!o->config)
    return lf_fail_msg(LF_ERR_USAGE,
                       "study: needs a study card: latflow study CARD (a run card with a study: "
                       "section; docs/CONFIG.md, \"study\")");
  return LF_OK;
}

/* The card, the command line's --set, the expansion (st owns the spec afterwards). */
static lf_status load(const lf_cli_opts *o, lf_study *st, lf_config *cfg) {
  lf_study_spec *spec = malloc(sizeof *spec);
  memset(st, 0, sizeof *st);
  if (!spec) return LF_FAIL(LF_ERR_NOMEM, "study card");
  lf_status rc = lf_config_load_study(o->config, cfg, spec);
  if (rc == LF_ERR_IO) { /* an unreadable card is a usage error (exit 2), as for train */
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", lf_last_error());
    rc = lf_fail_msg(LF_ERR_USAGE, "%s", msg);
  }
  if (rc == LF_OK) rc = lf_config_set_list(cfg, o->nsets, o->sets);
  if (rc != LF_OK) {
    free(spec);
    return rc;
  }
  return lf_study_init(st, spec, cfg, o->output);
}

/* --dry-run: the points as a table or, with --json, the study's object (rank 0). */
static int dry_run(const lf_cli_opts *o, const lf_study *st, MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank != 0) return 0;
  if (!o->json) {
    lf_study_print_points(st, stdout);
    return 0;
  }
  cJSON *json = cJSON_CreateObject();
  if (!json) return lf_cli_report(LF_FAIL(LF_ERR_NOMEM, "study JSON"));
  lf_study_to_json(st, NULL, json);
  cJSON_AddBoolToObject(json, "dry_run", 1);
  const int code = lf_cli_print_json(json);
  cJSON_Delete(json);
  return code;
}

/* The whole command. */
int lf_cmd_study(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  lf_study st;
  lf_config cfg;
  int code;
  memset(&st, 0, sizeof st);
  if (!lf_cli_start(argc, argv, "study", help, &o, &code)) return code;
  lf_status rc = study_opts(&o, &g_run.opts);
  if (rc == LF_OK) rc = load(&o, &st, &cfg);
  if (rc != LF_OK) {
    lf_study_free(&st);
    return lf_cli_report(rc);
  }
  if (o.dry_run) {
    code = dry_run(&o, &st, comm);
    lf_study_free(&st);
    return code;
  }
  lf_cli_banner(comm, "study");
  /* the folder this invocation writes into is the one locked: an array's tasks each lock
   * their point's, so they run side by side */
  lf_config lock = cfg;
  char dir[LF_PATH_MAX];
  if (g_run.opts.point >= 0 && g_run.opts.point < st.npoints)
    snprintf(dir, sizeof dir, "%s", st.points[g_run.opts.point].dir);
  else if (g_run.opts.root_only)
    rc = lf_cli_path(dir, sizeof dir, st.output, "root");
  else
    snprintf(dir, sizeof dir, "%s", st.output);
  if (rc == LF_OK) rc = lf_cli_memory_check(comm, "train", &o, &cfg);
  if (rc == LF_OK) rc = lf_config_set_output(&lock, dir);
  if (rc != LF_OK) {
    lf_study_free(&st);
    return lf_cli_report(rc);
  }
  g_run.st = &st;
  code = lf_cli_run_locked(&o, &lock, "study", 1, run_body, comm);
  g_run.st = NULL;
  lf_study_free(&st);
  return code;
}
