/* src/cli/cli.h: shared pieces of the subcommands (option parsing, config loading,
 * output directories, the output lock, the locked run of a pipeline, JSON output).
 * Internal to the latflow binary. */
#ifndef LATFLOW_CLI_H
#define LATFLOW_CLI_H

#include "latflow/config.h"
#include "latflow/status.h"

#include <cjson/cJSON.h>
#include <mpi.h>

#define LF_CLI_MAX_SETS 64

/* The last lines of every command's --help (lf_cli_print_help): the option every command
 * takes and the exit codes, the same in every command (docs/USER_GUIDE.md, "Exit codes"). */
#define LF_CLI_HELP_TAIL                                                                           \
  "-q, --quiet: only warnings and errors on stderr (no progress line, no info logs)\n"             \
  "exit codes: 0 ok, 1 run failure, 2 usage/config, 3 stopped (resume)\n"

typedef struct lf_cli_opts {
  const char *config;                /* CONFIG positional, NULL = built-in default */
  const char *config2;               /* plot's second file (ENSEMBLE.h5 HMC.h5), else NULL */
  const char *sets[LF_CLI_MAX_SETS]; /* --set key=value, in order */
  int nsets;
  int json, force, resume, help, use_default;
  int quiet;          /* -q/--quiet: the parser has set the log level to warnings and errors */
  const char *model;  /* --model M */
  const char *output; /* --output DIR (taken verbatim, not as YAML) */
  double seconds;     /* bench: --seconds */
  const char *stau;   /* analyze: --stau S (text; checked by the command) */
  const char *bins;   /* analyze: --bins K (text; checked by the command) */
  int dry_run;        /* study: --dry-run */
  int root_only;      /* study: --root-only */
  int assemble;       /* study: --assemble */
  const char *point;  /* study: --point K (text; checked by the command) */
} lf_cli_opts;

/* Parses argv[first..] into opts; unknown options are LF_ERR_USAGE. -q/--quiet also sets
 * the log level to LF_LOG_WARN at once (before the banner): no info lines, no progress. */
lf_status lf_cli_parse(int argc, char **argv, int first, const char *cmd, lf_cli_opts *opts);
/* Default card, then CONFIG, then --output and --set overrides. An unreadable CONFIG is
 * LF_ERR_USAGE (exit 2). */
lf_status lf_cli_load_config(const lf_cli_opts *opts, lf_config *cfg);
/* mkdir -p of a directory. */
lf_status lf_cli_mkdirs(const char *dir);
/* Joins dir and name into out (LF_ERR_INVALID if too long). */
lf_status lf_cli_path(char *out, size_t n, const char *dir, const char *name);
int lf_cli_file_exists(const char *path);
/* Logs the startup banner: version, git revision, compiler, MPI/HDF5/OpenBLAS, ranks. */
void lf_cli_banner(MPI_Comm comm, const char *cmd);

int lf_cmd_config(int argc, char **argv, MPI_Comm comm);
int lf_cmd_train(int argc, char **argv, MPI_Comm comm);
int lf_cmd_run(int argc, char **argv, MPI_Comm comm);
int lf_cmd_bench(int argc, char **argv, MPI_Comm comm);
int lf_cmd_sample(int argc, char **argv, MPI_Comm comm);
int lf_cmd_hmc(int argc, char **argv, MPI_Comm comm);
int lf_cmd_analyze(int argc, char **argv, MPI_Comm comm);
int lf_cmd_plot(int argc, char **argv, MPI_Comm comm);
int lf_cmd_info(int argc, char **argv, MPI_Comm comm);
int lf_cmd_study(int argc, char **argv, MPI_Comm comm);
/* latflow check: runs before MPI_Init and without it (it reads one card, nothing else) */
int lf_cmd_check(int argc, char **argv);

/* The common start of a subcommand: parse options, print help (*code = 0), load the
 * config, check the flow's rules (lf_config_validate_flow) for the commands that build a
 * flow (train, sample, run, bench; not hmc), log the banner and check the card's memory
 * (lf_cli_memory_check; collective). Returns 1 to go on; 0 with *code set to stop. */
int lf_cli_setup(int argc, char **argv, MPI_Comm comm, const char *cmd, const char *help,
                 lf_cli_opts *o, lf_config *cfg, int *code);

/* Collective over comm: logs the memory the card needs per rank for cmd (train, sample,
 * hmc, run, bench; latflow/mem.h) and what this rank may use, and refuses with
 * LF_ERR_CONFIG (exit 2) a card that cannot fit, naming both numbers, the biggest parts
 * and what to lower. LATFLOW_MEM_LIMIT=<size> (per rank: "2G", "512M", bytes) replaces the
 * measured memory; LATFLOW_MEM_CHECK=0 logs the estimate but does not refuse. Other
 * commands: LF_OK. Called by lf_cli_setup, before anything is created. */
lf_status lf_cli_memory_check(MPI_Comm comm, const char *cmd, const lf_cli_opts *o,
                              const lf_config *cfg);

/* lf_comm_agree (latflow/comm.h): every rank leaves a collective step with the most severe
 * status of all ranks. */
lf_status lf_cli_agree(MPI_Comm comm, lf_status rc);

/* The lock of an output folder: <dir>/.latflow.lock held with flock(LOCK_EX | LOCK_NB) by
 * rank 0 on an open descriptor for the whole run, so two runs (train, sample, hmc, run)
 * never write into one folder at once, whatever their --force. The kernel drops the lock
 * when the process ends, however it ends: a killed run leaves nothing stuck (the file
 * stays, unlocked; it is never removed, because removing it would let two later runs
 * lock two different files). The file holds "pid <p> host <h> started <utc> command <c>"
 * of the holder, for the refusal's message. */
typedef struct lf_cli_lock {
  int fd; /* rank 0: the locked file (-1: none; other ranks always -1) */
} lf_cli_lock;

#define LF_CLI_LOCK_NAME ".latflow.lock"

/* Collective over comm: creates dir (mkdir -p) and locks it on rank 0, then every rank
 * returns rank 0's status. A folder locked by another process is LF_ERR_IO "'<dir>' is in
 * use by another latflow run (pid ... on host ..., started ..., command ...)" (exit code
 * 1). A file system without flock (some NFS or Lustre mounts: ENOLCK, EOPNOTSUPP, ENOSYS)
 * is not an error: a WARN says concurrent runs are not detected there. lk->fd is -1 on
 * failure. */
lf_status lf_cli_lock_output(lf_cli_lock *lk, const char *dir, const char *cmd, MPI_Comm comm);
/* Releases the lock (closes the descriptor); accepts an unlocked lk. Local. */
void lf_cli_unlock_output(lf_cli_lock *lk);

/* The exit code of a run stopped by SIGTERM/SIGUSR1/SIGINT after its checkpoint was
 * written (every rank agrees; no MPI_Abort): rerun the same command with --resume. */
#define LF_CLI_EXIT_INTERRUPTED 3

/* What a command runs in its locked output folder: its pipeline (latflow/driver.h) with
 * the command's options; json is the summary object (rank 0 with --json, else NULL). */
typedef lf_status (*lf_cli_body)(const lf_cli_opts *o, const lf_config *cfg, MPI_Comm comm,
                                 cJSON *json);
/* A pipeline that takes only --force and --resume (lf_train_pipeline_ex, lf_hmc_pipeline_ex). */
typedef lf_status (*lf_cli_pipeline)(const lf_config *cfg, int force, int resume, MPI_Comm comm,
                                     cJSON *json);

/* The common run of the commands that write into cfg->output (train, sample, hmc, run),
 * collective over comm: locks the folder (lf_cli_lock_output), installs the signal
 * handlers when signals != 0, runs body, unlocks, and with --json prints rank 0's summary
 * when the run succeeded. Returns the exit code (lf_cli_report). */
int lf_cli_run_locked(const lf_cli_opts *o, const lf_config *cfg, const char *cmd, int signals,
                      lf_cli_body body, MPI_Comm comm);
/* A whole command whose pipeline takes only --force and --resume: lf_cli_setup, then
 * lf_cli_run_locked with the signal handlers. Returns the exit code. */
int lf_cli_main(int argc, char **argv, MPI_Comm comm, const char *cmd, const char *help,
                lf_cli_pipeline pipeline);

/* Exit code for a status: 2 for usage/config errors, 3 for LF_INTERRUPTED, 1 otherwise,
 * 0 for LF_OK.
 * Prints "latflow: <message>" to stderr for failures, and for LF_INTERRUPTED (on rank 0,
 * once lf_cli_set_invocation ran) the line "latflow: continue with: <command>" with the
 * exact command that continues the run (lf_cli_resume_command), "continue (under the
 * same mpiexec/srun launch) with: <command>" when the job has more than one rank. */
int lf_cli_report(lf_status rc);

/* The command that continues the run of argv: argv[0] as invoked and every argument,
 * shell-quoted for POSIX sh (a word of other characters than letters, digits and
 * @%+=:,./_- goes in single quotes, a ' inside as '\''; an empty one is ''), with --force
 * dropped (--resume decides what to keep) and --resume added at the end unless present.
 * Values of the options that take one (--set, --model, --output/-o/--out, --stau,
 * --bins, --seconds) are kept as they are, whatever they read. Pure; LF_ERR_INVALID
 * (and a truncated buf) when it needs more than n bytes. */
lf_status lf_cli_resume_command(int argc, char *const *argv, char *buf, size_t n);
/* Remembers this process's command line (main, after MPI_Init) for the resume hints:
 * lf_cli_report's, and the library's through lf_driver_set_resume_hint (latflow/driver.h).
 * rank and size: this process in the job. Local. */
void lf_cli_set_invocation(int argc, char **argv, int rank, int size);
/* Prints "latflow: continue with: <command>" on stderr (rank 0, once
 * lf_cli_set_invocation ran; cli_resume.c). For lf_cli_report. */
void lf_cli_print_resume_hint(void);

/* Prints a command's --help text and LF_CLI_HELP_TAIL on stdout. */
void lf_cli_print_help(const char *help);

/* Prints json on stdout (pretty, flushed): the one JSON object of a command's --json;
 * returns 0 or 1 (cli.c). */
int lf_cli_print_json(cJSON *json);

/* The start of a subcommand without a config (analyze, config, plot): parses argv[2..]
 * into o; a bad option is reported (*code = its exit code, 2), --help prints help
 * (*code = 0). Returns 1 to go on; 0 with *code set to stop. */
int lf_cli_start(int argc, char **argv, const char *cmd, const char *help, lf_cli_opts *o,
                 int *code);

#endif
