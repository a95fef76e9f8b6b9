/* latflow/mem.h: the memory a run card needs per rank, and the memory this process may use.
 *
 * lf_mem_estimate models the big allocations of a command from the card alone (no
 * allocation, no file): the flow's parameters and optimizer state (4 arenas of nparams
 * reals), its per-layer workspaces for a batch of Bmax samples (src/flow/flowstack_t.c,
 * gauge_t.c: L layers x B*V*(3C + sum(hidden)) reals saved for backward, (L+3) fields of
 * B*C*V reals, the conv scratch), the model's and trainer's batch buffers, the sampler's
 * proposal and pending-block buffers and the stored states of one storage epoch
 * (src/sample/dist.c), HMC fields and momenta, the Schwinger model's two dense
 * (2V x 2V) complex Dirac matrices (src/theory/wilson.c, allocated by every command
 * that builds the theory) and pseudofermion vectors (pf.c), the ensemble writer's
 * buffers, the ensembles `run` reads back for its analysis, and a fixed runtime part
 * (MPI, HDF5, OpenBLAS, code). The result is the peak of the command's phases (train,
 * sample, hmc, analysis for `run`; train and sample for `bench`) for the busiest rank.
 * It is meant to be within a factor 2 of the measured peak RSS (docs/PERFORMANCE.md,
 * "Memory"); sizes are doubles, so no card can overflow them.
 *
 * lf_mem_available reads the memory this process may use: the smallest of MemAvailable
 * (/proc/meminfo) and the cgroup's limit less its usage (v2 memory.max/memory.current,
 * v1 memory.limit_in_bytes/memory.usage_in_bytes), each divided by the ranks sharing the
 * node, and the headroom under RLIMIT_AS and RLIMIT_DATA (per process, not divided). The
 * file names are injectable for tests.
 *
 * lf_mem_estimate is src/driver/mem_estimate.c (it knows every module); the rest is
 * src/core/mem.c. Every function is local, does no MPI, never allocates on the heap and never fails
 * except where a status is returned (LF_ERR_INVALID for unparsable text). */
#ifndef LATFLOW_MEM_H
#define LATFLOW_MEM_H

#include "latflow/config.h"
#include "latflow/status.h"

#include <stddef.h>

typedef enum lf_mem_cmd {
  LF_MEM_TRAIN = 0,
  LF_MEM_SAMPLE = 1,
  LF_MEM_HMC = 2,
  LF_MEM_RUN = 3, /* train, then sample, then hmc (hmc.compare), then the analysis */
  LF_MEM_BENCH = 4
} lf_mem_cmd;

#define LF_MEM_MAX_PARTS 12

typedef struct lf_mem_part {
  const char *name; /* static text: "flow workspaces", "Dirac matrices", ...  */
  double bytes;
  char detail[160]; /* what it is made of: "16 layers x batch 64 x 8x8 x 19 reals (f32)" */
} lf_mem_part;

typedef struct lf_mem_est {
  double total;      /* bytes per rank at the peak phase (sum of part[].bytes)          */
  const char *phase; /* static: "train", "sample", "hmc", "analysis"                   */
  int nparts;
  lf_mem_part part[LF_MEM_MAX_PARTS]; /* largest first                                 */
} lf_mem_est;

/* The fixed part of every latflow process (code, MPI, HDF5, OpenBLAS buffers), measured
 * as the peak RSS of a tiny run (docs/PERFORMANCE.md, "Memory"). */
#define LF_MEM_RUNTIME_BYTES (28.0 * 1048576.0)
/* LF_DIST_WINDOW and sizeof(lf_ens_step), copied so this module needs no MPI header. */
#define LF_MEM_DIST_WINDOW 4.0
#define LF_MEM_ENS_STEP_BYTES 56.0

/* The peak bytes per rank of cmd on a card that passed lf_config_validate (nranks = the
 * size of the job's communicator, >= 1). */
void lf_mem_estimate(const lf_config *cfg, lf_mem_cmd cmd, int nranks, lf_mem_est *e);

/* "2.4 TiB", "21.9 GiB", "512.0 MiB", "12.0 KiB", "100 B" into buf (binary units). */
const char *lf_mem_format(double bytes, char *buf, size_t n);

/* Parses a size: a non-negative number with an optional unit K, M, G, T, P (powers of
 * 1024; "KiB", "KB", "k" mean the same) or B; "2G", "1.5GiB", "512m", "4096". Anything else
 * (empty, negative, trailing text, above 2^63) is LF_ERR_INVALID. */
lf_status lf_mem_parse_size(const char *s, double *bytes);

/* Where lf_mem_available reads; NULL fields are skipped. */
typedef struct lf_mem_sources {
  const char *meminfo;     /* /proc/meminfo                                       */
  const char *cg2_max;     /* cgroup v2 memory.max ("max" = none)                 */
  const char *cg2_current; /* cgroup v2 memory.current                            */
  const char *cg1_limit;   /* cgroup v1 memory.limit_in_bytes (>= 2^60 = none)    */
  const char *cg1_usage;   /* cgroup v1 memory.usage_in_bytes                     */
  int use_rlimits;         /* also RLIMIT_AS and RLIMIT_DATA of this process      */
} lf_mem_sources;

/* The files of this process: /proc/meminfo, its cgroup's files (from /proc/self/cgroup,
 * falling back to the top of /sys/fs/cgroup), the rlimits. The paths are written into
 * buf (n >= 2048 bytes) and src points into it. */
void lf_mem_sources_default(lf_mem_sources *src, char *buf, size_t n);

/* The bytes this rank may use (see the header comment), ranks_on_node >= 1. *bytes is
 * negative when no source could be read; what (n bytes) names the smallest source, for
 * example "MemAvailable 21.9 GiB / 2 ranks on this node". */
void lf_mem_available(const lf_mem_sources *src, int ranks_on_node, double *bytes, char *what,
                      size_t n);

#endif
