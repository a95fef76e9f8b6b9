/* Logging (see latflow/log.h). SWIFT-style prefix "[r0003 +12.345s] module:". */
#include "latflow/log.h"
#include "latflow/timer.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static int log_rank = 0;
static lf_log_level log_level = LF_LOG_INFO;
static double log_t0 = -1.0;
static int progress_open = 0;

void lf_log_init(void) {
  if (log_t0 < 0.0) log_t0 = lf_wtime();
}

void lf_log_set_rank(int rank) {
  log_rank = rank;
}

void lf_log_set_level(lf_log_level level) {
  log_level = level;
}

int lf_log_is_tty(void) {
  return isatty(STDERR_FILENO);
}

double lf_log_elapsed(void) {
  lf_log_init();
  return lf_wtime() - log_t0;
}

static void vlog(const char *module, const char *fmt, va_list ap, const char *end) {
  fprintf(stderr, "[r%04d +%.3fs] %s: ", log_rank, lf_log_elapsed(), module);
  vfprintf(stderr, fmt, ap);
  fputs(end, stderr);
  fflush(stderr);
}

void lf_log(lf_log_level level, const char *module, const char *fmt, ...) {
  if (level < log_level) return;
  if (level < LF_LOG_WARN && log_rank != 0) return;
  if (progress_open) lf_log_progress_end();
  va_list ap;
  va_start(ap, fmt);
  vlog(module, fmt, ap, "\n");
  va_end(ap);
}

void lf_log_progress(const char *module, const char *fmt, ...) {
  if (log_rank != 0 || log_level > LF_LOG_INFO) return;
  const int tty = lf_log_is_tty();
  va_list ap;
  va_start(ap, fmt);
  if (tty) {
    fputs("\r\033[K", stderr);
    progress_open = 1;
  }
  vlog(module, fmt, ap, tty ? "" : "\n");
  va_end(ap);
}

void lf_log_progress_end(void) {
  if (progress_open) {
    fputc('\n', stderr);
    progress_open = 0;
  }
}
