/* latflow/timer.h: wall clock and aligned allocation. Local. */
#ifndef LATFLOW_TIMER_H
#define LATFLOW_TIMER_H

#include <stddef.h>

/* Monotonic wall-clock seconds. */
double lf_wtime(void);

/* 64-byte aligned allocation of n bytes (NULL on failure or n == 0 rounds up to 64).
 * Memory is zeroed. Big blocks are advised to use huge pages (see notes/machine.md).
 * Free with lf_free (NULL is fine). */
void *lf_alloc(size_t n);
void lf_free(void *p);

/* lf_free every pointer of ptrs[0..n) (NULL entries are fine). */
void lf_free_n(void *const *ptrs, size_t n);

/* LF_FREE_ALL(a, b, c): lf_free each listed pointer, for the release functions of structs that own
 * several buffers. */
#define LF_FREE_ALL(...)                                                                           \
  lf_free_n((void *const[]){__VA_ARGS__}, sizeof((void *const[]){__VA_ARGS__}) / sizeof(void *))

/* Peak resident set size of this process in MiB. */
double lf_peak_rss_mb(void);

#endif
