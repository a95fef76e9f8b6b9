/* latflow/sample.h: flow proposals in blocks and the Independence Metropolis chain
 * (DESIGN.md sections 4-5). This is the numerical core that the serial driver
 * (lf_sample_run) and, later, the MPI workers and coordinator share.
 *
 * Proposals are numbered g = 0, 1, 2, ...; block b holds g in [b B, (b+1) B). For
 * proposal g: eps = normals of stream LF_STREAM_SAMPLE (step 0, index g), phi = f(eps)
 * by the model, log q(phi), S(phi), log w = -S - log q. A block is a pure function of
 * (seed, model parameters, b, B) and of nothing else (not of the rank that computes it).
 *
 * IMH (Tierney 1994): the chain's state is the last accepted proposal. Proposal g is
 * accepted when log u_g < log w_g - log w_cur, u_g = uniform of stream LF_STREAM_ACCEPT
 * (step 0, index g); the first proposal with a finite weight starts the chain and counts
 * as accepted. A proposal with non-finite log w (NaN/Inf in phi, S or log q) is rejected
 * and counted in n_bad; it never becomes a state.
 * Reweighting: every finite proposal is kept with its weight.
 * Local unless stated; never allocates after _init. */
#ifndef LATFLOW_SAMPLE_H
#define LATFLOW_SAMPLE_H

#include "latflow/config.h"
#include "latflow/ensemble.h"
#include "latflow/model.h"
#include "latflow/rng.h"
#include "latflow/status.h"
#include "latflow/theory.h"

#include <stdint.h>

typedef struct lf_proposer {
  lf_model *m;         /* borrowed; lf_model_reserve'd to B */
  const lf_theory *th; /* borrowed */
  lf_rng_key key;      /* LF_STREAM_SAMPLE */
  int B, n;            /* block size, C*V */
  double *eps;         /* owned (B, n) */
} lf_proposer;

lf_status lf_proposer_init(lf_proposer *p, lf_model *m, const lf_theory *th, uint64_t seed, int B);
void lf_proposer_free(lf_proposer *p);
/* Block b: phi (B, n), logq, S, logw (B). Non-finite results are left as they are. */
void lf_propose_block(lf_proposer *p, uint64_t b, double *phi, double *logq, double *S,
                      double *logw);

/* The IMH chain state (what the coordinator keeps; checkpointable as plain data). */
typedef struct lf_imh {
  lf_rng_key key;        /* LF_STREAM_ACCEPT */
  int started;           /* a state exists */
  double cur_logw;       /* log w of the current state */
  int64_t cur_row;       /* its ensemble row (set by the caller through lf_imh_set_row) */
  uint64_t steps;        /* decisions made (proposals consumed) */
  uint64_t accepted;     /* accepted proposals (including the first state) */
  uint64_t bad;          /* non-finite proposals */
  uint64_t run, max_run; /* current and longest run of consecutive rejections */
} lf_imh;

void lf_imh_init(lf_imh *c, uint64_t seed);
/* Decides proposals g0 .. g0+n-1 in order: acc[i] = 1 if accepted. */
void lf_imh_decide(lf_imh *c, uint64_t g0, int n, const double *logw, int8_t *acc);

/* Progress/cancel callback of the driver: called after every block; nonzero stops. */
typedef int (*lf_sample_cb)(const lf_imh *c, uint64_t done, uint64_t total, double seconds,
                            void *ctx);

typedef struct lf_sample_result {
  uint64_t proposals, rows, bad;
  double acceptance; /* accepted / proposals (IMH); 1 for reweighting */
  int max_run;       /* longest run of rejections (IMH) */
  double ess;        /* ESS fraction of all finite proposal weights */
  double seconds;    /* generation wall time */
} lf_sample_result;

/* The serial production driver: cfg->sample.proposals proposals (rounded up to whole
 * blocks of cfg->sample.block), IMH or reweighting by cfg->sample.mode, rows and chain
 * steps appended to w (configurations saved per cfg->sample.save: accepted = states
 * only, all = every finite proposal (the chain still points at its current state), none =
 * observables and correlators only). Errors: LF_ERR_NOMEM, writer errors. */
lf_status lf_sample_run(const lf_config *cfg, lf_model *m, const lf_theory *th, lf_ens_writer *w,
                        lf_sample_cb cb, void *ctx, lf_sample_result *res);

#endif
