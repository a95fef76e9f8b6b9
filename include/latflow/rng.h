/* latflow/rng.h: counter-based random numbers (Philox-4x32-10 from Random123).
 *
 * Every draw is a pure function of (seed, stream, step, index, j): there is no RNG
 * state, nothing to checkpoint, and the draws do not depend on the rank count
 * (DESIGN.md section 4, STYLE.md section 7).
 *   key     = Philox4x32-10(counter = {stream, 0, 0, 0}, key = {seed lo, seed hi})[0..1]
 *   counter = {j, step, index lo, index hi}, j = 0, 1, ... within one element
 * One Philox call gives 4 x 32 bits = two 64-bit words; each word gives one uniform
 * u = ((w >> 11) + 0.5) 2^-53 in the open interval (0,1). Normals come in pairs by
 * Box-Muller from two uniforms: r = sqrt(-2 log u1), (r cos 2 pi u2, r sin 2 pi u2).
 * Streams never share a value; one purpose per stream (see docs/ARCHITECTURE.md).
 * Local; never allocates or fails. */
#ifndef LATFLOW_RNG_H
#define LATFLOW_RNG_H

#include <stddef.h>
#include <stdint.h>

enum lf_stream {
  LF_STREAM_INIT = 1,   /* network initialization: step 0, index = parameter offset */
  LF_STREAM_TRAIN = 2,  /* training noise z: step = training step, index = global sample */
  LF_STREAM_SAMPLE = 3, /* production proposals: step 0, index = proposal id g */
  LF_STREAM_ACCEPT = 4, /* IMH accept uniforms: step 0, index = proposal id g */
  LF_STREAM_HMC = 5,    /* HMC momenta, accept, eta: step = trajectory, index by chain (hmc.h) */
  LF_STREAM_EVAL = 6,   /* evaluation after k training steps: step 2k noise, 2k+1 IMH
                           uniforms; index = sample (train.h) */
  LF_STREAM_TEST = 7    /* tests only */
};

typedef struct lf_rng_key {
  uint32_t k[2];
} lf_rng_key;

lf_rng_key lf_rng_key_make(uint64_t seed, uint32_t stream);

/* Raw Philox-4x32-10 block: out = philox(ctr, key), for known-answer tests. */
void lf_rng_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* n uniforms in (0,1) for element (step, index). */
void lf_rng_uniform_n(lf_rng_key k, uint32_t step, uint64_t index, size_t n, double *out);
double lf_rng_uniform(lf_rng_key k, uint32_t step, uint64_t index);

/* n standard normals for element (step, index). The first n of a longer request are
 * the same numbers: draws for an element never depend on n. */
void lf_rng_normal(lf_rng_key k, uint32_t step, uint64_t index, size_t n, double *out);

#endif
