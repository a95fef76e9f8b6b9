/* Wall clock, aligned allocation, peak RSS (see latflow/timer.h). */
#include "latflow/timer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

double lf_wtime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void *lf_alloc(size_t n) {
  if (n > SIZE_MAX / 2) return NULL; /* a size that wrapped around: never round it up to 64 */
  size_t sz = (n + 63) / 64 * 64;
  if (sz == 0) sz = 64;
  void *p = NULL;
  const size_t huge = (size_t)2 << 20; /* big arenas: 2 MiB aligned, so huge pages apply */
  if (posix_memalign(&p, sz >= huge ? huge : 64, sz) != 0) return NULL;
#ifdef MADV_HUGEPAGE
  if (sz >= huge) (void)madvise(p, sz / huge * huge, MADV_HUGEPAGE); /* advice only */
#endif
  memset(p, 0, sz);
  return p;
}

void lf_free(void *p) {
  free(p);
}

void lf_free_n(void *const *ptrs, size_t n) {
  for (size_t i = 0; i < n; i++) free(ptrs[i]);
}

double lf_peak_rss_mb(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
  return (double)ru.ru_maxrss / 1024.0;
}
