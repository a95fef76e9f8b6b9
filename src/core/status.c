/* Status codes and the thread-local error message (see latflow/status.h). */
#include "latflow/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[2048];

const char *lf_status_str(lf_status s) {
  switch (s) {
  case LF_OK:
    return "ok";
  case LF_ERR_INVALID:
    return "invalid argument";
  case LF_ERR_NOMEM:
    return "out of memory";
  case LF_ERR_IO:
    return "I/O error";
  case LF_ERR_FORMAT:
    return "format error";
  case LF_ERR_CONFIG:
    return "config error";
  case LF_ERR_HDF5:
    return "HDF5 error";
  case LF_ERR_MPI:
    return "MPI error";
  case LF_ERR_NUMERIC:
    return "numerical error";
  case LF_ERR_USAGE:
    return "usage error";
  case LF_INTERRUPTED:
    return "interrupted (checkpoint written; continue with --resume)";
  }
  return "unknown status";
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
