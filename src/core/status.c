/* Status codes and the thread-local error message (see latflow/status.h). */
#include "latflow/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[2048];

/* The text of each code, indexed by its value. */
static const char *const status_text[] = {
    [LF_OK] = "ok",
    [LF_ERR_INVALID] = "invalid argument",
    [LF_ERR_NOMEM] = "out of memory",
    [LF_ERR_IO] = "I/O error",
    [LF_ERR_FORMAT] = "format error",
    [LF_ERR_CONFIG] = "config error",
    [LF_ERR_HDF5] = "HDF5 error",
    [LF_ERR_MPI] = "MPI error",
    [LF_ERR_NUMERIC] = "numerical error",
    [LF_ERR_USAGE] = "usage error",
    [LF_INTERRUPTED] = "interrupted (checkpoint written; continue with --resume)",
};

const char *lf_status_str(lf_status s) {
  const size_t n = sizeof status_text / sizeof *status_text;
  return (size_t)s < n && status_text[s] ? status_text[s] : "unknown status";
}

const char *lf_last_error(void) {
  return last_error;
}

void lf_clear_error(void) {
  last_error[0] = '\0';
}

lf_status lf_fail(lf_status s, const char *file, int line, const char *fmt, ...) {
  const char *base = strrchr(file, '/');
  int n = snprintf(last_error, sizeof last_error, "%s:%d: ", base ? base + 1 : file, line);
  if (n < 0 || (size_t)n >= sizeof last_error) return s;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error + n, sizeof last_error - (size_t)n, fmt, ap);
  va_end(ap);
  return s;
}

lf_status lf_fail_msg(lf_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return s;
}
