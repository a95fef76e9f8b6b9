/* latflow/status.h: status codes and error messages.
 *
 * Every library function that can fail returns an lf_status. The failing function
 * records one message, "file:line: detail", with LF_FAIL; callers pass the code up
 * unchanged and read the text with lf_last_error(). Only main() decides to exit.
 * The message buffer is thread-local. Values are never renumbered (SQLite rule).
 * Local; never allocates. */
#ifndef LATFLOW_STATUS_H
#define LATFLOW_STATUS_H

typedef enum lf_status {
  LF_OK = 0,
  LF_ERR_INVALID = 1, /* caller bug or bad argument */
  LF_ERR_NOMEM = 2,
  LF_ERR_IO = 3,     /* + errno text */
  LF_ERR_FORMAT = 4, /* wrong file kind, version, shape */
  LF_ERR_CONFIG = 5, /* YAML key, type or range */
  LF_ERR_HDF5 = 6,
  LF_ERR_MPI = 7,
  LF_ERR_NUMERIC = 8, /* NaN/Inf */
  LF_ERR_USAGE = 9,   /* command-line usage */
  LF_INTERRUPTED = 10 /* stopped on a signal after writing a checkpoint (not a failure of
                         the run: `--resume` continues it; the CLI exits with code 3) */
} lf_status;

/* Static text naming the code ("config error", ...). */
const char *lf_status_str(lf_status s);

/* The message of the most recent failure on this thread ("" if none). */
const char *lf_last_error(void);

/* Records "file:line: <fmt...>" as the last error and returns s. */
lf_status lf_fail(lf_status s, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Records a message that already carries its own location (e.g. "run.yaml:7: ...")
 * verbatim. */
lf_status lf_fail_msg(lf_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Clears the last error. */
void lf_clear_error(void);

#define LF_FAIL(s, ...) lf_fail((s), __FILE__, __LINE__, __VA_ARGS__)
/* Use inside functions that declare `lf_status rc` and a `fail:` label. */
#define LF_CHECK(expr)                                                                             \
  do {                                                                                             \
    if ((rc = (expr)) != LF_OK) goto fail;                                                         \
  } while (0)

#endif
