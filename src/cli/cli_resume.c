/* The command that continues an interrupted run (cli.h: lf_cli_resume_command,
 * lf_cli_set_invocation): this process's command line, shell-quoted, with --resume; printed
 * by lf_cli_report and handed to the library's messages (lf_driver_set_resume_hint). */
#include "cli.h"

#include "latflow/driver.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* The hint that continues this process's run ("continue with: <command>"; empty until
 * lf_cli_set_invocation) and this process's rank (the hint is printed once, by rank 0). */
static char resume_hint[8192];
static int invocation_rank;

/* Appends s to buf (n bytes, *len used, NUL-terminated); 0 when it does not fit. */
static int put(char *buf, size_t n, size_t *len, const char *s) {
  const size_t k = strlen(s);
  if (*len + k >= n) return 0;
  memcpy(buf + *len, s, k + 1);
  *len += k;
  return 1;
}

/* Appends a space (unless buf is empty) and word, shell-quoted (see
 * lf_cli_resume_command); 0 if it does not fit. */
static int put_word(char *buf, size_t n, size_t *len, const char *w) {
  int plain = w[0] != '\0';
  for (const char *c = w; *c && plain; c++)
    plain = isalnum((unsigned char)*c) || strchr("@%+=:,./_-", *c);
  int ok = *len == 0 || put(buf, n, len, " ");
  if (plain) return ok && put(buf, n, len, w);
  ok = ok && put(buf, n, len, "'");
  for (const char *c = w; *c && ok; c++) {
    const char one[2] = {*c, '\0'};
    ok = put(buf, n, len, *c == '\'' ? "'\\''" : one); /* close, \', reopen */
  }
  return ok && put(buf, n, len, "'");
}

lf_status lf_cli_resume_command(int argc, char *const *argv, char *buf, size_t n) {
  static const char *const with_value[] = {"--set",  "--model", "--output",  "-o",     "--out",
                                           "--stau", "--bins",  "--seconds", "--point"};
  size_t len = 0;
  int fits = n > 0, resume = 0;
  if (n) buf[0] = '\0';
  for (int i = 0; i < argc && fits; i++) {
    int takes_value = 0;
    for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
      takes_value |= i > 0 && !strcmp(argv[i], with_value[k]);
    if (takes_value && i + 1 < argc) { /* the option and its value, whatever it reads */
      fits = put_word(buf, n, &len, argv[i]) && put_word(buf, n, &len, argv[i + 1]);
      i++;
      continue;
    }
    if (i > 0 && !strcmp(argv[i], "--force")) continue;
    resume |= i > 0 && !strcmp(argv[i], "--resume");
    fits = put_word(buf, n, &len, argv[i]);
  }
  if (fits && !resume) fits = put_word(buf, n, &len, "--resume");
  return fits ? LF_OK : LF_FAIL(LF_ERR_INVALID, "the resume command needs more than %zu bytes", n);
}

void lf_cli_set_invocation(int argc, char **argv, int rank, int size) {
  char cmd[sizeof resume_hint - 64];
  invocation_rank = rank;
  if (lf_cli_resume_command(argc, argv, cmd, sizeof cmd) != LF_OK) {
    resume_hint[0] = '\0'; /* too long to print: the library's generic hint stays */
    return;
  }
  snprintf(resume_hint, sizeof resume_hint, "continue %swith: %s",
           size > 1 ? "(under the same mpiexec/srun launch) " : "", cmd);
  lf_driver_set_resume_hint(resume_hint);
}

void lf_cli_print_resume_hint(void) {
  if (resume_hint[0] && invocation_rank == 0) fprintf(stderr, "latflow: %s\n", resume_hint);
}
