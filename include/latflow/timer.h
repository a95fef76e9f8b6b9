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

/* Peak resident set size of this process in MiB. */
double lf_peak_rss_mb(void);

#endif
