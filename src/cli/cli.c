/* Option parsing, config loading and small file helpers shared by the subcommands. */
#include "cli.h"

#include "latflow/log.h"
#include "latflow/version.h"

#include <cblas.h>
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
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

lf_status lf_cli_mkdirs(const char *dir) {
  char buf[LF_PATH_MAX];
  if (strlen(dir) >= sizeof buf) return LF_FAIL(LF_ERR_INVALID, "path too long: %s", dir);
  strcpy(buf, dir);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return LF_FAIL(LF_ERR_IO, "cannot create directory '%s': %s", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST)
    return LF_FAIL(LF_ERR_IO, "cannot create directory '%s': %s", buf, strerror(errno));
  return LF_OK;
}

lf_status lf_cli_path(char *out, size_t n, const char *dir, const char *name) {
  const int k = snprintf(out, n, "%s/%s", dir, name);
  if (k < 0 || (size_t)k >= n) return LF_FAIL(LF_ERR_INVALID, "path too long: %s/%s", dir, name);
  return LF_OK;
}

int lf_cli_file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
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
  fprintf(stderr, "latflow: %s\n", lf_last_error()[0] ? lf_last_error() : lf_status_str(rc));
  if (rc == LF_INTERRUPTED) return LF_CLI_EXIT_INTERRUPTED;
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
    fputs(help, stdout);
    *code = 0;
    return 0;
  }
  if (rc == LF_OK) rc = lf_cli_load_config(o, cfg);
  /* the flow's rules only for the commands that build one: hmc runs any valid theory */
  if (rc == LF_OK && builds_flow(cmd)) rc = lf_config_validate_flow(cfg);
  if (rc != LF_OK) {
    *code = lf_cli_report(rc);
    return 0;
  }
  lf_cli_banner(comm, cmd);
  return 1;
}

lf_status lf_cli_agree(MPI_Comm comm, lf_status rc) {
  int mine = (int)rc, worst = mine;
  if (MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "MPI_Allreduce of the status failed");
  if (worst != LF_OK && mine == LF_OK)
    return LF_FAIL((lf_status)worst, "another rank failed (status %d: %s); see its message", worst,
                   lf_status_str((lf_status)worst));
  return (lf_status)worst == rc ? rc : (lf_status)worst;
}
