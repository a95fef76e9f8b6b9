/* Option parsing, config loading, small file helpers, the output lock and the locked run of
 * a pipeline, shared by the subcommands (the memory check is in cli_mem.c). */
#include "cli.h"
#include "cmd_train.h"

#include "latflow/comm.h"
#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/nn.h"
#include "latflow/signal.h"
#include "latflow/version.h"

#include <cblas.h>
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

lf_status lf_cli_parse(int argc, char **argv, int first, const char *cmd, lf_cli_opts *o) {
  memset(o, 0, sizeof *o);
  for (int i = first; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
#define NEEDVAL(name)                                                                              \
  do {                                                                                             \
    if (i + 1 >= argc) return lf_fail_msg(LF_ERR_USAGE, "%s: option %s needs a value", cmd, name); \
    val = argv[++i];                                                                               \
  } while (0)
    if (!strcmp(a, "--json"))
      o->json = 1;
    else if (!strcmp(a, "--force"))
      o->force = 1;
    else if (!strcmp(a, "--resume"))
      o->resume = 1;
    else if (!strcmp(a, "--default"))
      o->use_default = 1;
    else if (!strcmp(a, "--dry-run"))
      o->dry_run = 1;
    else if (!strcmp(a, "--root-only"))
      o->root_only = 1;
    else if (!strcmp(a, "--assemble"))
      o->assemble = 1;
    else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      o->quiet = 1;
      lf_log_set_level(LF_LOG_WARN);
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
      o->help = 1;
    else if (!strcmp(a, "--set") || !strncmp(a, "--set=", 6)) {
      if (a[5] == '=')
        val = a + 6;
      else
        NEEDVAL("--set");
      if (o->nsets == LF_CLI_MAX_SETS)
        return lf_fail_msg(LF_ERR_USAGE, "%s: more than %d --set options", cmd, LF_CLI_MAX_SETS);
      o->sets[o->nsets++] = val;
    } else if (!strcmp(a, "--model")) {
      NEEDVAL("--model");
      o->model = val;
    } else if (!strcmp(a, "--output") || !strcmp(a, "-o") || !strcmp(a, "--out")) {
      NEEDVAL("--output");
      o->output = val;
    } else if (!strcmp(a, "--point")) {
      NEEDVAL("--point");
      o->point = val;
    } else if (!strcmp(a, "--stau")) {
      NEEDVAL("--stau");
      o->stau = val;
    } else if (!strcmp(a, "--bins")) {
      NEEDVAL("--bins");
      o->bins = val;
    } else if (!strcmp(a, "--seconds")) {
      NEEDVAL("--seconds");
      char *end;
      o->seconds = strtod(val, &end);
      if (*end || o->seconds <= 0)
        return lf_fail_msg(LF_ERR_USAGE, "%s: --seconds needs a positive number, got '%s'", cmd,
                           val);
    } else if (a[0] == '-' && a[1] != '\0') {
      return lf_fail_msg(LF_ERR_USAGE, "%s: unknown option '%s' (see latflow %s --help)", cmd, a,
                         cmd);
    } else if (!o->config) {
      o->config = a;
    } else if (!o->config2 && !strcmp(cmd, "plot")) { /* plot ENSEMBLE.h5 HMC.h5 */
      o->config2 = a;
    } else {
      return lf_fail_msg(LF_ERR_USAGE, "%s: unexpected argument '%s' (config already '%s')", cmd, a,
                         o->config);
    }
#undef NEEDVAL
  }
  return LF_OK;
}

lf_status lf_cli_load_config(const lf_cli_opts *o, lf_config *cfg) {
  lf_status rc;
  if (o->config) {
    /* an unreadable config file is a usage error (exit 2), like a bad key */
    if ((rc = lf_config_load(cfg, o->config)) != LF_OK) {
      if (rc != LF_ERR_IO) return rc;
      char msg[2048];
      snprintf(msg, sizeof msg, "%s", lf_last_error());
      return lf_fail_msg(LF_ERR_USAGE, "%s", msg);
    }
  } else {
    lf_config_defaults(cfg);
    if ((rc = lf_config_parse_string(cfg, lf_config_default_yaml(), "<default>")) != LF_OK)
      return rc;
  }
  /* verbatim, not YAML: '#', ': ' and quotes are part of a folder's name */
  if (o->output && (rc = lf_config_set_output(cfg, o->output)) != LF_OK) return rc;
  /* all --set options at once: the cross-key rules judge the result, not each step */
  return lf_config_set_list(cfg, o->nsets, o->sets);
}

/* The path helpers are the library's (src/io/paths.c); these names stay for the commands. */
lf_status lf_cli_mkdirs(const char *dir) {
  return lf_io_mkdirs(dir);
}

lf_status lf_cli_path(char *out, size_t n, const char *dir, const char *name) {
  return lf_io_path_join(out, n, dir, name);
}

int lf_cli_file_exists(const char *path) {
  return lf_io_exists(path);
}

void lf_cli_banner(MPI_Comm comm, const char *cmd) {
  int rank = 0, size = 1, len = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  char mpiv[MPI_MAX_LIBRARY_VERSION_STRING];
  MPI_Get_library_version(mpiv, &len);
  char *nl = strchr(mpiv, '\n');
  if (nl) *nl = '\0';
  char *comma = strchr(mpiv, ',');
  if (comma) *comma = '\0';
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  const char *blas_threads = getenv("OPENBLAS_NUM_THREADS");
  lf_log_info("latflow", "%s: version %s (git %s%s), %s, %s", cmd, LATFLOW_VERSION, LATFLOW_GIT_REV,
              LATFLOW_GIT_DIRTY ? ", dirty" : "", LATFLOW_COMPILER, LATFLOW_BUILD_TYPE);
  lf_log_info("latflow", "%s; HDF5 %u.%u.%u; %s; ranks %d; OPENBLAS_NUM_THREADS=%s", mpiv, maj, min,
              rel, openblas_get_config(), size, blas_threads ? blas_threads : "(unset)");
}

int lf_cli_report(lf_status rc) {
  if (rc == LF_OK) return 0;
  lf_log_progress_end();
  if (rc == LF_ERR_NOMEM) /* the check at the start was bypassed or the estimate was short */
    fprintf(stderr,
            "latflow: out of memory: %s (the start-up log's \"memory:\" line has this card's "
            "estimate; docs/CONFIG.md, \"Memory\")\n",
            lf_last_error()[0] ? lf_last_error() : lf_status_str(rc));
  else
    fprintf(stderr, "latflow: %s\n", lf_last_error()[0] ? lf_last_error() : lf_status_str(rc));
  if (rc == LF_INTERRUPTED) {
    lf_cli_print_resume_hint();
    return LF_CLI_EXIT_INTERRUPTED;
  }
  return (rc == LF_ERR_USAGE || rc == LF_ERR_CONFIG) ? 2 : 1;
}

static int builds_flow(const char *cmd) {
  return !strcmp(cmd, "train") || !strcmp(cmd, "sample") || !strcmp(cmd, "run") ||
         !strcmp(cmd, "bench");
}

int lf_cli_setup(int argc, char **argv, MPI_Comm comm, const char *cmd, const char *help,
                 lf_cli_opts *o, lf_config *cfg, int *code) {
  lf_status rc = lf_cli_parse(argc, argv, 2, cmd, o);
  if (rc == LF_OK && o->help) {
    lf_cli_print_help(help);
    *code = 0;
    return 0;
  }
  /* training takes hours and writes a model: it never falls back to the built-in card */
  if (rc == LF_OK && !o->config && !strcmp(cmd, "train"))
    rc = lf_fail_msg(LF_ERR_USAGE,
                     "train: needs a run card: latflow train CONFIG (get one with `latflow config "
                     "--default > my.yaml`, edit it, then run latflow train my.yaml)");
  if (rc == LF_OK) rc = lf_cli_load_config(o, cfg);
  if (rc == LF_OK) rc = lf_nn_isa_from_env(); /* LATFLOW_ISA caps the kernels' SIMD level */
  /* the flow's rules only for the commands that build one: hmc runs any valid theory */
  if (rc == LF_OK && builds_flow(cmd)) rc = lf_config_validate_flow(cfg);
  if (rc != LF_OK) {
    *code = lf_cli_report(rc);
    return 0;
  }
  lf_cli_banner(comm, cmd);
  /* before any big allocation and before the output folder is created */
  if ((rc = lf_cli_memory_check(comm, cmd, o, cfg)) != LF_OK) {
    *code = lf_cli_report(rc);
    return 0;
  }
  return 1;
}

lf_status lf_cli_agree(MPI_Comm comm, lf_status rc) {
  return lf_comm_agree(comm, rc);
}

/* Rank 0's half of lf_cli_lock_output: the status, and in msg the refusal to broadcast. */
static lf_status lock_rank0(lf_cli_lock *lk, const char *dir, const char *cmd) {
  char path[LF_PATH_MAX];
  lf_status rc = lf_cli_mkdirs(dir);
  if (rc == LF_OK) rc = lf_cli_path(path, sizeof path, dir, LF_CLI_LOCK_NAME);
  if (rc != LF_OK) return rc;
  /* the holder's identity, for the message of a refused second run */
  char host[128] = "?", line[512];
  if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "?");
  host[sizeof host - 1] = '\0';
  time_t now = time(NULL);
  struct tm tm;
  char utc[32] = "?";
  if (gmtime_r(&now, &tm)) strftime(utc, sizeof utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
  snprintf(line, sizeof line, "pid %ld on host %s, started %s, command %s\n", (long)getpid(), host,
           utc, cmd);
  lf_io_flock fl;
  if ((rc = lf_io_flock_try(&fl, path, line)) != LF_OK) return rc;
  if (fl.busy)
    return LF_FAIL(LF_ERR_IO,
                   "'%s' is in use by another latflow run (%s); wait for it to end or choose "
                   "another output (--force does not override this)",
                   dir, fl.holder[0] ? fl.holder : "it has not written its name yet");
  if (fl.unsupported) {
    lf_log_warn("cli",
                "cannot lock '%s' (%s): this file system does not support flock, so a second "
                "run into the same folder is not detected (docs/CLUSTER.md section 7)",
                path, strerror(fl.unsupported));
    return LF_OK;
  }
  if (!fl.recorded)
    lf_log_warn("cli", "cannot record this run in '%s': %s", path, strerror(fl.record_errno));
  lk->fd = fl.fd;
  return LF_OK;
}

lf_status lf_cli_lock_output(lf_cli_lock *lk, const char *dir, const char *cmd, MPI_Comm comm) {
  int rank = 0;
  lk->fd = -1;
  if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "lf_cli_lock_output: MPI_Comm_rank failed");
  lf_status rc = rank == 0 ? lock_rank0(lk, dir, cmd) : LF_OK;
  /* every rank reports rank 0's reason, so a refused job says why on each of them */
  int code = (int)rc;
  char msg[1024] = "";
  if (rank == 0 && rc != LF_OK) snprintf(msg, sizeof msg, "%s", lf_last_error());
  if (MPI_Bcast(&code, 1, MPI_INT, 0, comm) != MPI_SUCCESS ||
      MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, 0, comm) != MPI_SUCCESS) {
    lf_cli_unlock_output(lk);
    return LF_FAIL(LF_ERR_MPI, "lf_cli_lock_output: MPI_Bcast failed");
  }
  if (rank != 0 && code != LF_OK) return LF_FAIL((lf_status)code, "%s", msg);
  return (lf_status)code;
}

void lf_cli_unlock_output(lf_cli_lock *lk) {
  if (!lk || lk->fd < 0) return;
  /* the holder line goes with the lock; the file stays (see cli.h) */
  if (ftruncate(lk->fd, 0) != 0) lf_log_debug("cli", "cannot clear the lock file");
  close(lk->fd);
  lk->fd = -1;
}

int lf_cli_start(int argc, char **argv, const char *cmd, const char *help, lf_cli_opts *o,
                 int *code) {
  const lf_status rc = lf_cli_parse(argc, argv, 2, cmd, o);
  *code = lf_cli_report(rc); /* 0 for LF_OK: also the exit code of --help */
  if (rc == LF_OK && o->help) lf_cli_print_help(help);
  return rc == LF_OK && !o->help;
}

void lf_cli_print_help(const char *help) {
  fputs(help, stdout);
  fputs(LF_CLI_HELP_TAIL, stdout);
}

/* Pretty-printed, flushed at once: scripts read it as soon as the command ends. */
int lf_cli_print_json(cJSON *json) {
  char *s = cJSON_Print(json);
  if (!s) return 1;
  printf("%s\n", s);
  fflush(stdout);
  cJSON_free(s);
  return 0;
}

/* lf_cli_run_locked's work: body(o, ...) or, when body is NULL, pipeline(cfg, --force,
 * --resume, ...). The order is the commands' own: lock, signals, the pipeline, its report,
 * unlock, JSON. */
static int run_locked(const lf_cli_opts *o, const lf_config *cfg, const char *cmd, int signals,
                      lf_cli_body body, lf_cli_pipeline pipeline, MPI_Comm comm) {
  lf_cli_lock lock;
  const lf_status lrc = lf_cli_lock_output(&lock, cfg->output, cmd, comm);
  if (lrc != LF_OK) return lf_cli_report(lrc);
  /* SIGTERM/SIGUSR1/SIGINT now set a flag that the pipelines read at step boundaries */
  const lf_status src = signals ? lf_signal_install() : LF_OK;
  if (src != LF_OK) {
    lf_cli_unlock_output(&lock);
    return lf_cli_report(src);
  }
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  cJSON *json = o->json && rank == 0 ? cJSON_CreateObject() : NULL; /* one summary */
  int code = lf_cli_report(body ? body(o, cfg, comm, json)
                                : pipeline(cfg, o->force, o->resume, comm, json));
  lf_cli_unlock_output(&lock);
  if (json) {
    if (code == 0) code = lf_cli_print_json(json);
    cJSON_Delete(json);
  }
  return code;
}

int lf_cli_run_locked(const lf_cli_opts *o, const lf_config *cfg, const char *cmd, int signals,
                      lf_cli_body body, MPI_Comm comm) {
  return run_locked(o, cfg, cmd, signals, body, NULL, comm);
}

int lf_cli_main(int argc, char **argv, MPI_Comm comm, const char *cmd, const char *help,
                lf_cli_pipeline pipeline) {
  lf_cli_opts o;
  lf_config cfg;
  int code;
  if (!lf_cli_setup(argc, argv, comm, cmd, help, &o, &cfg, &code)) return code;
  return run_locked(&o, &cfg, cmd, 1, NULL, pipeline, comm);
}
