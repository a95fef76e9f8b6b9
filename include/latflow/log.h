/* latflow/log.h: logging with a rank and elapsed-time prefix.
 *
 * Lines look like "[r0003 +12.345s] module: text" and go to stderr. INFO and DEBUG
 * print on rank 0 only; WARN and ERROR print on every rank. The rank is set once with
 * lf_log_set_rank() (default 0); the clock starts at the first call to lf_log_init()
 * or of any log function. lf_log_is_tty() tells whether stderr is a terminal, for
 * progress lines that overwrite themselves. Local; never fails. */
#ifndef LATFLOW_LOG_H
#define LATFLOW_LOG_H

typedef enum lf_log_level {
  LF_LOG_DEBUG = 0,
  LF_LOG_INFO = 1,
  LF_LOG_WARN = 2,
  LF_LOG_ERROR = 3,
  LF_LOG_QUIET = 4
} lf_log_level;

void lf_log_init(void);
void lf_log_set_rank(int rank);
void lf_log_set_level(lf_log_level level);
int lf_log_is_tty(void);
double lf_log_elapsed(void); /* seconds since lf_log_init */

void lf_log(lf_log_level level, const char *module, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A progress report: on a terminal it rewrites one line (carriage return, no newline);
 * otherwise it prints a plain log line. lf_log_progress_end() finishes a terminal line. */
void lf_log_progress(const char *module, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void lf_log_progress_end(void);

#define lf_log_debug(...) lf_log(LF_LOG_DEBUG, __VA_ARGS__)
#define lf_log_info(...) lf_log(LF_LOG_INFO, __VA_ARGS__)
#define lf_log_warn(...) lf_log(LF_LOG_WARN, __VA_ARGS__)
#define lf_log_error(...) lf_log(LF_LOG_ERROR, __VA_ARGS__)

#endif
