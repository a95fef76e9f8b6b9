/* latflow run [CONFIG]: train, sample, (HMC), analyse and plot in one go, then a short
 * summary. Without CONFIG: the built-in quickstart card. */
#include "cli.h"
#include "cmd_train.h"

#include "latflow/analyze.h"
#include "latflow/ensemble.h"
#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/plot.h"
#include "latflow/table.h"
#include "latflow/theory.h"
#include "latflow/timer.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: latflow run [CONFIG] [--set key=value]... [--output DIR] [--force] [--resume]\n"
    "                   [--json]\n"
    "The whole pipeline on CONFIG (default: the built-in quickstart card: phi^4, L=8,\n"
    "m2=-4, lambda=8): trains the flow (<output>/model.h5, train.h5), samples it with the\n"
    "Independence Metropolis chain (<output>/ensemble.h5), runs HMC on the same theory when\n"
    "hmc.compare is true (<output>/hmc.h5), analyses both, writes PNG plots to\n"
    "<output>/plots/ensemble, <output>/plots/hmc and the two side by side in\n"
    "<output>/plots/compare, and ends with a summary table on stdout (logs go to stderr;\n"
    "with --json stdout has only the JSON object and the table goes to stderr) and the\n"
    "JSON analysis in <output>/analysis.json. Stopped by SIGTERM/SIGUSR1/SIGINT, a stage\n"
    "writes its checkpoint and the command exits with code 3 and prints the command that\n"
    "continues the run; --resume skips the completed stages and continues the interrupted\n"
    "one.\n";

static lf_status analyze_file(const char *path, lf_ensemble *e, lf_analysis *a) {
  lf_status rc = lf_ens_read(path, e);
  if (rc == LF_OK) rc = lf_analyze(e, 0, a);
  return rc;
}

/* The summary of a run on f: the theory, the samplers' chain statistics, the table of
 * flow against HMC with its legend (latflow/table.h), the warnings and the files. */
static void summary(FILE *f, const lf_config *cfg, const lf_ensemble *fe, const lf_analysis *fa,
                    const lf_analysis *ha, const char *out) {
  char desc[160];
  lf_theory_describe(&cfg->theory, desc, sizeof desc);
  fprintf(f, "\n== latflow run: %s ==\n", desc);
  fprintf(f,
          "flow: training %.1f s; %zu proposals in %.1f s; IMH acceptance %.3f, ESS %.4f, "
          "longest rejection run %ld\n",
          fa->train_seconds, fa->n, fa->gen_seconds, fa->acceptance, fa->ess, fa->max_run);
  if (ha)
    fprintf(f, "hmc:  %zu trajectories in %.3g s; acceptance %.3f, <exp(-dH)> = %.4f +- %.4f\n",
            ha->n, ha->gen_seconds, ha->acceptance, ha->exp_mdH, ha->exp_mdH_err);
  /* the table, its legend and the effective samples per second (latflow/table.h) */
  char *table = lf_table_compare(fa, ha, "flow (IMH)");
  if (table) {
    fprintf(f, "\n%s", table);
    lf_free(table);
  }
  lf_analysis_print_exact(f, fe, fa, ha);
  if (fa->warnings.n || fa->warn) {
    fprintf(f, "flow (IMH) warnings:\n");
    lf_analysis_print_warnings(f, fa, "  ");
  }
  if (ha && (ha->warnings.n || ha->warn)) {
    fprintf(f, "HMC warnings:\n");
    lf_analysis_print_warnings(f, ha, "  ");
  }
  fprintf(f, "files: %s/{model.h5, train.h5, ensemble.h5%s, analysis.json}, plots in %s/plots/%s\n",
          out, ha ? ", hmc.h5" : "", out, ha ? "{ensemble,hmc,compare}" : "ensemble");
}

/* The whole pipeline: the stages (lf_run_stages), then on rank 0 the analysis of both
 * ensembles, their plots, <output>/analysis.json, the summary table and json. */
static lf_status run_pipeline(const lf_config *cfg, int force, int resume, MPI_Comm comm,
                              cJSON *json) {
  lf_status rc = LF_OK;
  lf_ensemble fe, he;
  lf_analysis fa, ha;
  memset(&fe, 0, sizeof fe);
  memset(&he, 0, sizeof he);
  memset(&fa, 0, sizeof fa);
  memset(&ha, 0, sizeof ha);
  char ens[LF_PATH_MAX], hmc[LF_PATH_MAX], jpath[LF_PATH_MAX];
  cJSON *jt = cJSON_CreateObject(), *js = cJSON_CreateObject(), *jh = cJSON_CreateObject();
  cJSON *jaf = cJSON_CreateObject(), *jah = cJSON_CreateObject();
  cJSON *jpf = cJSON_CreateObject(), *jph = cJSON_CreateObject(), *jpc = cJSON_CreateObject();
  LF_CHECK(lf_cli_path(ens, sizeof ens, cfg->output, "ensemble.h5"));
  LF_CHECK(lf_cli_path(hmc, sizeof hmc, cfg->output, "hmc.h5"));
  LF_CHECK(lf_cli_path(jpath, sizeof jpath, cfg->output, "analysis.json"));
  LF_CHECK(lf_run_stages(cfg, force, resume, comm, jt, js, jh));
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank != 0) goto fail; /* analysis, plots and the summary are rank 0's */
  lf_log_info("run", "4/4 analysis and plots");
  LF_CHECK(analyze_file(ens, &fe, &fa));
  lf_analysis_to_json(ens, &fe, &fa, jaf);
  /* the default folders of `latflow plot`: <output>/plots/ensemble and .../plots/hmc */
  LF_CHECK(lf_plot_pipeline(ens, NULL, jpf));
  if (cfg->hmc.compare) {
    LF_CHECK(analyze_file(hmc, &he, &ha));
    lf_analysis_to_json(hmc, &he, &ha, jah);
    LF_CHECK(lf_plot_pipeline(hmc, NULL, jph));
    /* flow and HMC side by side: <output>/plots/compare */
    LF_CHECK(lf_plot_compare_analysed(ens, &fe, &fa, hmc, &he, &ha, NULL, jpc));
  }
  {
    cJSON *all = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(all, "flow", jaf);
    if (cfg->hmc.compare) cJSON_AddItemReferenceToObject(all, "hmc", jah);
    char *text = cJSON_Print(all);
    cJSON_Delete(all);
    FILE *f = NULL;
    if (text && (rc = lf_io_create_file(jpath, &f)) != LF_OK) {
      cJSON_free(text);
      goto fail;
    }
    const int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0) rc = LF_FAIL(LF_ERR_IO, "writing '%s' failed", jpath);
    cJSON_free(text);
    if (!ok && rc == LF_OK) rc = LF_FAIL(LF_ERR_IO, "cannot write '%s'", jpath);
    LF_CHECK(rc);
  }
  /* the table is the command's result (stdout), unless stdout carries the JSON object */
  summary(json ? stderr : stdout, cfg, &fe, &fa, cfg->hmc.compare ? &ha : NULL, cfg->output);
  fflush(stdout);
  if (json) {
    cJSON_AddStringToObject(json, "command", "run");
    /* every sentence of both analyses, also found inside "analysis" and "analysis_hmc" */
    cJSON *jw = cJSON_AddArrayToObject(json, "warnings");
    for (int j = 0; j < (cfg->hmc.compare ? 2 : 1); j++) {
      const lf_analysis *an = j ? &ha : &fa;
      char line[LF_ANA_WARN_LEN + 16];
      for (int i = 0; i < an->warnings.n; i++) {
        snprintf(line, sizeof line, "%s: %s", j ? "hmc" : "flow", an->warnings.text[i]);
        cJSON_AddItemToArray(jw, cJSON_CreateString(line));
      }
      for (int k = 0; k < an->nobs; k++)
        for (int i = 0; i < an->obs[k].warnings.n; i++) {
          snprintf(line, sizeof line, "%s: %s", j ? "hmc" : "flow", an->obs[k].warnings.text[i]);
          cJSON_AddItemToArray(jw, cJSON_CreateString(line));
        }
    }
    cJSON_AddItemToObject(json, "train", jt);
    cJSON_AddItemToObject(json, "sample", js);
    cJSON_AddItemToObject(json, "analysis", jaf);
    cJSON_AddItemToObject(json, "plots", jpf);
    jt = js = jaf = jpf = NULL;
    if (cfg->hmc.compare) {
      cJSON *z = cJSON_AddObjectToObject(json, "flow_vs_hmc_z");
      for (int k = 0; k < fa.nobs && k < ha.nobs; k++) {
        const double zk =
            (fa.obs[k].g.value - ha.obs[k].g.value) / hypot(fa.obs[k].g.error, ha.obs[k].g.error);
        if (isfinite(zk))
          cJSON_AddNumberToObject(z, fa.obs[k].name, zk);
        else
          cJSON_AddNullToObject(z, fa.obs[k].name);
      }
      cJSON_AddItemToObject(json, "hmc", jh);
      cJSON_AddItemToObject(json, "analysis_hmc", jah);
      cJSON_AddItemToObject(json, "plots_hmc", jph);
      cJSON_AddItemToObject(json, "plots_compare", jpc);
      jh = jah = jph = jpc = NULL;
    }
  }
fail:
  cJSON_Delete(jt);
  cJSON_Delete(js);
  cJSON_Delete(jh);
  cJSON_Delete(jaf);
  cJSON_Delete(jah);
  cJSON_Delete(jpf);
  cJSON_Delete(jph);
  cJSON_Delete(jpc);
  lf_analysis_free(&fa);
  lf_analysis_free(&ha);
  lf_ens_free(&fe);
  lf_ens_free(&he);
  return lf_cli_agree(comm, rc);
}

/* The pipeline with run's options (an interrupted run: lf_cli_report prints the command
 * that continues the whole pipeline). */
static lf_status run_body(const lf_cli_opts *o, const lf_config *cfg, MPI_Comm comm, cJSON *json) {
  return run_pipeline(cfg, o->force, o->resume, comm, json);
}

int lf_cmd_run(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  lf_config cfg;
  int code;
  if (!lf_cli_setup(argc, argv, comm, "run", help, &o, &cfg, &code)) return code;
  return lf_cli_run_locked(&o, &cfg, "run", 1, run_body, comm);
}
