/* Logging (see latflow/log.h). SWIFT-style prefix "[r0003 +12.345s] module:". */
#include "latflow/log.h"
#include "latflow/timer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

/* An open progress line on the terminal is replaced, not kept: the progress shows only
 * between the lines that stay. */
static void clear_progress(void) {
  if (progress_open) {
    fputs("\r\033[K", stderr);
    progress_open = 0;
  }
}

void lf_log(lf_log_level level, const char *module, const char *fmt, ...) {
  if (level < log_level) return;
  if (level < LF_LOG_WARN && log_rank != 0) return;
  clear_progress();
  va_list ap;
  va_start(ap, fmt);
  vlog(module, fmt, ap, "\n");
  va_end(ap);
}

void lf_log_progress(const char *module, const char *fmt, ...) {
  if (log_rank != 0 || log_level > LF_LOG_INFO) return;
  va_list ap;
  va_start(ap, fmt);
  if (!lf_log_is_tty()) {
    vlog(module, fmt, ap, "\n");
    va_end(ap);
    return;
  }
  char line[512];
  const int k = snprintf(line, sizeof line, "[+%.1fs] %s: ", lf_log_elapsed(), module);
  if (k > 0 && (size_t)k < sizeof line) vsnprintf(line + k, sizeof line - (size_t)k, fmt, ap);
  va_end(ap);
  lf_log_fit(line, lf_log_width());
  fprintf(stderr, "\r\033[K%s", line);
  fflush(stderr);
  progress_open = 1;
}

void lf_log_progress_end(void) {
  if (progress_open) {
    fputc('\n', stderr);
    progress_open = 0;
  }
}

int lf_log_width_from(int ioctl_cols, const char *columns_env) {
  if (ioctl_cols > 0) return ioctl_cols;
  if (columns_env) {
    char *end;
    const long c = strtol(columns_env, &end, 10);
    if (end != columns_env && *end == '\0' && c > 0 && c < 100000) return (int)c;
  }
  return 80;
}

int lf_log_width(void) {
  struct winsize ws;
  const int cols = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
  return lf_log_width_from(cols, getenv("COLUMNS"));
}

size_t lf_log_fit(char *line, int width) {
  const size_t max = (size_t)(width < 2 ? 1 : width - 1);
  size_t len = strlen(line);
  if (len <= max) return len;
  /* the last space with a fitting prefix ends the last whole field that fits */
  size_t cut = max;
  for (size_t i = max; i > 0; i--)
    if (line[i] == ' ') {
      cut = i;
      break;
    }
  while (cut > 0 && (line[cut - 1] == ' ' || line[cut - 1] == ',')) cut--;
  if (cut == 0) cut = max; /* one field wider than the terminal: cut it */
  line[cut] = '\0';
  return cut;
}

void lf_log_eta(double s, char *buf, size_t n) {
  if (!isfinite(s) || s < 0)
    snprintf(buf, n, "?");
  else if (s < 60)
    snprintf(buf, n, "%.0fs", s);
  else if (s < 3600)
    snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  else
    snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}
