/* latflow/log.h: logging with a rank and elapsed-time prefix.
 *
 * Lines look like "[r0003 +12.345s] module: text" and go to stderr. INFO and DEBUG
 * print on rank 0 only; WARN and ERROR print on every rank. The rank is set once with
 * lf_log_set_rank() (default 0); the clock starts at the first call to lf_log_init()
 * or of any log function. lf_log_is_tty() tells whether stderr is a terminal, for
 * progress lines that overwrite themselves. lf_log_set_level(LF_LOG_WARN) is --quiet:
 * warnings and errors only. Local; never fails. */
#ifndef LATFLOW_LOG_H
#define LATFLOW_LOG_H

#include <stddef.h>

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

/* A progress report, its fields "key=value" separated by spaces in the order of their
 * importance (step, loss, ESS, rate, ETA first). On a terminal (stderr a tty) it rewrites
 * one line: carriage return, "[+12.3s] module: " and the text cut to the terminal's width
 * by lf_log_fit, so it never wraps; the next log line of any kind replaces it, and
 * lf_log_progress_end() keeps it (a newline). Otherwise it prints a plain log line with
 * the whole text. Rank 0 only, and not below LF_LOG_INFO (--quiet shows none). Lines that
 * must stay in the scrollback (train's every train.log_every steps) are lf_log_info. */
void lf_log_progress(const char *module, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void lf_log_progress_end(void);

/* The width of the terminal on stderr: TIOCGWINSZ, else $COLUMNS, else 80. */
int lf_log_width(void);
/* The same from its sources, pure: ioctl_cols the TIOCGWINSZ answer (<= 0: none),
 * columns_env the text of $COLUMNS (NULL: unset; not a positive integer: ignored). */
int lf_log_width_from(int ioctl_cols, const char *columns_env);
/* Fits the NUL-terminated ASCII line into a terminal of width columns: at most width - 1
 * characters (the last column stays free, so no terminal wraps it), dropping whole
 * trailing fields (cut at the last space that leaves a fitting prefix, trailing spaces
 * and commas removed), or cutting the first field itself when it alone is too wide.
 * width < 2 counts as 2. Returns the new length. Pure. */
size_t lf_log_fit(char *line, int width);
/* A duration for a progress line: "42s", "3m05s", "2h07m", "?" (negative or not finite).
 * Pure. */
void lf_log_eta(double seconds, char *buf, size_t n);

#define lf_log_debug(...) lf_log(LF_LOG_DEBUG, __VA_ARGS__)
#define lf_log_info(...) lf_log(LF_LOG_INFO, __VA_ARGS__)
#define lf_log_warn(...) lf_log(LF_LOG_WARN, __VA_ARGS__)
#define lf_log_error(...) lf_log(LF_LOG_ERROR, __VA_ARGS__)

#endif
