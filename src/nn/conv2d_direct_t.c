/* Direct periodic convolution kernels (no GEMM), written once over LF_R and compiled for
 * three SIMD levels with GCC target attributes; the level is chosen at run time
 * (src/nn/isa.c), so the default build still runs on any x86-64.
 *
 * Layout trick: for one sample the input is copied into k shifted, row-padded planes
 *   xs[c][i][r][x1] = x[i][(r - h) mod L0][(x1 + c - h) mod L1],   r in [0, L0 + 2h)
 * so the input of output site v = x0*L1 + x1 under kernel tap (a, c) is
 * xs[c][i][v + a*L1]: contiguous in v. The forward kernel then holds a register tile of
 * CO output channels x NVEC vectors of sites, and for every tap (i, a, c) loads NVEC
 * input vectors, broadcasts CO weights and issues CO*NVEC fused multiply-adds: the
 * "outer product" register blocking of GEMM micro-kernels (Goto & van de Geijn 2008),
 * applied to the convolution without materializing im2col. The copy costs
 * (1 + 2h/L0)/(cout*k) of the arithmetic.
 *
 * Backward: dx is the same convolution of dy with the weights transposed in (i, o) and
 * flipped in (a, c) (w'[i,o,a,c] = w[o,i,k-1-a,k-1-c]), run by the forward kernel in
 * accumulate mode. dw[o, (i,a,c)] += sum_{b,v} dy[b,o,v] xs_b[c][i][v + a*L1] is a
 * register tile of CO x NQ vector dot products, summed over a chunk of samples before
 * the horizontal reduction. dbias is a plain sum. */
#include "latflow/nn.h"

#include "core/prec.h"
#include "nn/conv2d_direct.h"
#include "nn/vmath.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#define HAVE_X86 1
#include <immintrin.h>
#endif

#if defined(LF_PREC_SINGLE)
#define EPI_TANH lf_vm_tanhf
#else
#define EPI_TANH tanh
#endif

/* Elements of shifted planes per dW chunk of samples (128 KiB in float). */
#define DW_CHUNK 32768

static int wrap(int j, int L) {
  j %= L;
  return j < 0 ? j + L : j;
}

/* xs (k, C, L0+2h, L1) from xb (C, L0, L1); see the top comment. The copy is on the
 * critical path for small cout, so each plane is one flat shifted copy of the channel
 * (dst[v] = src[v + s], vectorized), |s| wrapped elements fixed per row, and the row
 * halos copied from the plane itself. Kernels wider than the lattice take the slow path. */
#define BUILD_SHIFTED(NAME, ATTR)                                                                  \
  ATTR static void NAME(const LF_R *restrict xb, int C, int L0, int L1, int k,                     \
                        LF_R *restrict xs) {                                                       \
    const int h = k / 2, P0 = L0 + 2 * h;                                                          \
    const size_t V = (size_t)L0 * (size_t)L1, plane = (size_t)P0 * (size_t)L1;                     \
    const size_t halo = (size_t)h * (size_t)L1;                                                    \
    for (int c = 0; c < k; c++)                                                                    \
      for (int i = 0; i < C; i++) {                                                                \
        const LF_R *src = xb + (size_t)i * V;                                                      \
        LF_R *dst = xs + ((size_t)c * (size_t)C + (size_t)i) * plane;                              \
        const int sh = c - h;                                                                      \
        if (h >= L1 || h > L0) { /* slow path: any k */                                            \
          const int s = wrap(sh, L1);                                                              \
          for (int r = 0; r < P0; r++) {                                                           \
            const LF_R *sr = src + (size_t)wrap(r - h, L0) * (size_t)L1;                           \
            LF_R *dr = dst + (size_t)r * (size_t)L1;                                               \
            for (int x1 = 0; x1 < L1; x1++) dr[x1] = sr[(x1 + s) % L1];                            \
          }                                                                                        \
          continue;                                                                                \
        }                                                                                          \
        LF_R *core = dst + halo;                                                                   \
        if (sh >= 0) {                                                                             \
          for (size_t v = 0; v < V - (size_t)sh; v++) core[v] = src[v + (size_t)sh];               \
          for (int r = 0; r < L0; r++)                                                             \
            for (int x1 = L1 - sh; x1 < L1; x1++)                                                  \
              core[(size_t)r * (size_t)L1 + (size_t)x1] =                                          \
                  src[(size_t)r * (size_t)L1 + (size_t)(x1 + sh - L1)];                            \
        } else {                                                                                   \
          const size_t m = (size_t)(-sh);                                                          \
          for (size_t v = m; v < V; v++) core[v] = src[v - m];                                     \
          for (int r = 0; r < L0; r++)                                                             \
            for (int x1 = 0; x1 < -sh; x1++)                                                       \
              core[(size_t)r * (size_t)L1 + (size_t)x1] =                                          \
                  src[(size_t)r * (size_t)L1 + (size_t)(x1 + sh + L1)];                            \
        }                                                                                          \
        /* rows -h..-1 are rows L0-h..L0-1; rows L0..L0+h-1 are rows 0..h-1 */                     \
        for (size_t j = 0; j < halo; j++) dst[j] = core[V - halo + j];                             \
        for (size_t j = 0; j < halo; j++) core[V + j] = core[j];                                   \
      }                                                                                            \
  }

/* The epilogues on one value: leaky_relu(x) = max(x, slope x) for 0 < slope < 1 (the
 * same value as lf_act_forward's select); tanh as lf_act_forward computes it. */
static inline LF_R epi_scalar(LF_R v, int epi) {
  if (epi == LF_CONV_EPI_LEAKY) {
    const LF_R sv = (LF_R)LF_LEAKY_SLOPE * v;
    return v > sv ? v : sv;
  }
  if (epi == LF_CONV_EPI_TANH) return EPI_TANH(v);
  return v;
}

/* Tile group g = 0, 1, 2, 3 (8, 4, 2, 1 output channels) for the channels left. */
static int group_of(int remaining) {
  return remaining >= 8 ? 0 : remaining >= 4 ? 1 : remaining >= 2 ? 2 : 3;
}

/* Forward tile: y[o, v0 .. v0 + NVEC*LANES) for o < CO, from bias (or += into y when
 * bias is NULL), then the epilogue epi (LF_CONV_EPI_*) applied in registers. w points at
 * output channel 0 of the tile; wostr = cin*k*k. */
typedef void (*fwd_kern)(const LF_R *xs, size_t sstr, size_t istr, int cin, int k, int L1,
                         const LF_R *w, size_t wostr, const LF_R *bias, LF_R *y, size_t V,
                         size_t v0, int epi);
/* dW tile: dw[o*dwostr + q] += sum over nb samples and V sites of dy[b, o, v] *
 * xs_b[qoff[q] + v], for o < CO, q < NQ. */
typedef void (*dw_kern)(const LF_R *dy, size_t dbstr, size_t V, const LF_R *xs, size_t xbstr,
                        const size_t *qoff, int nb, LF_R *dw, size_t dwostr);

#define FWD_KERNEL(NAME, ATTR, VT, LANES, SET1, LOADU, STOREU, FMADD, EPI, CO, NVEC)               \
  ATTR static void NAME(const LF_R *restrict xs, size_t sstr, size_t istr, int cin, int k, int L1, \
                        const LF_R *restrict w, size_t wostr, const LF_R *restrict bias,           \
                        LF_R *restrict y, size_t V, size_t v0, int epi) {                          \
    VT acc[CO][NVEC];                                                                              \
    for (int o = 0; o < CO; o++)                                                                   \
      for (int j = 0; j < NVEC; j++)                                                               \
        acc[o][j] = bias ? SET1(bias[o]) : LOADU(y + (size_t)o * V + v0 + (size_t)j * LANES);      \
    for (int i = 0; i < cin; i++)                                                                  \
      for (int a = 0; a < k; a++) {                                                                \
        const LF_R *row = xs + (size_t)i * istr + (size_t)a * (size_t)L1 + v0;                     \
        const LF_R *wr = w + ((size_t)i * (size_t)k + (size_t)a) * (size_t)k;                      \
        for (int c = 0; c < k; c++) {                                                              \
          const LF_R *src = row + (size_t)c * sstr;                                                \
          VT in[NVEC];                                                                             \
          for (int j = 0; j < NVEC; j++) in[j] = LOADU(src + (size_t)j * LANES);                   \
          for (int o = 0; o < CO; o++) {                                                           \
            const VT wv = SET1(wr[(size_t)o * wostr + (size_t)c]);                                 \
            for (int j = 0; j < NVEC; j++) acc[o][j] = FMADD(wv, in[j], acc[o][j]);                \
          }                                                                                        \
        }                                                                                          \
      }                                                                                            \
    for (int o = 0; o < CO; o++)                                                                   \
      for (int j = 0; j < NVEC; j++)                                                               \
        STOREU(y + (size_t)o * V + v0 + (size_t)j * LANES, EPI(acc[o][j], epi));                   \
  }

#define DW_KERNEL(NAME, ATTR, VT, LANES, ZERO, LOADU, STOREU, FMADD, CO, NQ)                       \
  ATTR static void NAME(const LF_R *restrict dy, size_t dbstr, size_t V, const LF_R *restrict xs,  \
                        size_t xbstr, const size_t *restrict qoff, int nb, LF_R *restrict dw,      \
                        size_t dwostr) {                                                           \
    VT acc[CO][NQ];                                                                                \
    LF_R tail[CO][NQ];                                                                             \
    const size_t Vv = V - V % LANES;                                                               \
    for (int o = 0; o < CO; o++)                                                                   \
      for (int q = 0; q < NQ; q++) {                                                               \
        acc[o][q] = ZERO;                                                                          \
        tail[o][q] = 0;                                                                            \
      }                                                                                            \
    for (int b = 0; b < nb; b++) {                                                                 \
      const LF_R *d = dy + (size_t)b * dbstr;                                                      \
      const LF_R *xb = xs + (size_t)b * xbstr;                                                     \
      for (size_t v = 0; v < Vv; v += LANES) {                                                     \
        VT dv[CO], xv[NQ];                                                                         \
        for (int o = 0; o < CO; o++) dv[o] = LOADU(d + (size_t)o * V + v);                         \
        for (int q = 0; q < NQ; q++) xv[q] = LOADU(xb + qoff[q] + v);                              \
        for (int o = 0; o < CO; o++)                                                               \
          for (int q = 0; q < NQ; q++) acc[o][q] = FMADD(dv[o], xv[q], acc[o][q]);                 \
      }                                                                                            \
      for (size_t v = Vv; v < V; v++)                                                              \
        for (int o = 0; o < CO; o++)                                                               \
          for (int q = 0; q < NQ; q++) tail[o][q] += d[(size_t)o * V + v] * xb[qoff[q] + v];       \
    }                                                                                              \
    for (int o = 0; o < CO; o++)                                                                   \
      for (int q = 0; q < NQ; q++) {                                                               \
        LF_R t[LANES];                                                                             \
        STOREU(t, acc[o][q]);                                                                      \
        LF_R s = tail[o][q];                                                                       \
        for (int l = 0; l < LANES; l++) s += t[l];                                                 \
        dw[(size_t)o * dwostr + (size_t)q] += s;                                                   \
      }                                                                                            \
  }

/* One kernel set per SIMD level: index g = 0, 1, 2, 3 for CO = 8, 4, 2, 1 channels. */
typedef void (*build_fn)(const LF_R *xb, int C, int L0, int L1, int k, LF_R *xs);
typedef struct kset {
  build_fn build; /* build_shifted compiled for this level */
  int lanes;
  int nvec[4];      /* vectors of sites per forward tile */
  fwd_kern blk[4];  /* nvec[g] vectors */
  fwd_kern one[4];  /* 1 vector */
  int nq[4];        /* dW rows per tile */
  dw_kern dwblk[4]; /* nq[g] rows */
  dw_kern dwone[4]; /* 1 row */
} kset;

#define KSET_KERNELS(P, ATTR, VT, LANES, SET1, ZERO, LOADU, STOREU, FMADD, EPI, NV8, NV4, NV2,     \
                     NV1, NQ8, NQ4, NQ2, NQ1)                                                      \
  FWD_KERNEL(P##_f8, ATTR, VT, LANES, SET1, LOADU, STOREU, FMADD, EPI, 8, NV8)                     \
  FWD_KERNEL(P##_f4, ATTR, VT, LANES, SET1, LOADU, STOREU, FMADD, EPI, 4, NV4)                     \
  FWD_KERNEL(P##_f2, ATTR, VT, LANES, SET1, LOADU, STOREU, FMADD, EPI, 2, NV2)                     \
  FWD_KERNEL(P##_f1, ATTR, VT, LANES, SET1, LOADU, STOREU, FMADD, EPI, 1, NV1)                     \
  FWD_KERNEL(P##_f8s, ATTR, VT, LANES, SET1, LOADU, STOREU, FMADD, EPI, 8, 1)                      \
  FWD_KERNEL(P##_f4s, ATTR, VT, LANES, SET1, LOADU, STOREU, FMADD, EPI, 4, 1)                      \
  FWD_KERNEL(P##_f2s, ATTR, VT, LANES, SET1, LOADU, STOREU, FMADD, EPI, 2, 1)                      \
  FWD_KERNEL(P##_f1s, ATTR, VT, LANES, SET1, LOADU, STOREU, FMADD, EPI, 1, 1)                      \
  DW_KERNEL(P##_w8, ATTR, VT, LANES, ZERO, LOADU, STOREU, FMADD, 8, NQ8)                           \
  DW_KERNEL(P##_w4, ATTR, VT, LANES, ZERO, LOADU, STOREU, FMADD, 4, NQ4)                           \
  DW_KERNEL(P##_w2, ATTR, VT, LANES, ZERO, LOADU, STOREU, FMADD, 2, NQ2)                           \
  DW_KERNEL(P##_w1, ATTR, VT, LANES, ZERO, LOADU, STOREU, FMADD, 1, NQ1)                           \
  DW_KERNEL(P##_w8s, ATTR, VT, LANES, ZERO, LOADU, STOREU, FMADD, 8, 1)                            \
  DW_KERNEL(P##_w4s, ATTR, VT, LANES, ZERO, LOADU, STOREU, FMADD, 4, 1)                            \
  DW_KERNEL(P##_w2s, ATTR, VT, LANES, ZERO, LOADU, STOREU, FMADD, 2, 1)                            \
  DW_KERNEL(P##_w1s, ATTR, VT, LANES, ZERO, LOADU, STOREU, FMADD, 1, 1)                            \
  BUILD_SHIFTED(P##_build, ATTR)                                                                   \
  static const kset P##_set = {P##_build,                                                          \
                               LANES,                                                              \
                               {NV8, NV4, NV2, NV1},                                               \
                               {P##_f8, P##_f4, P##_f2, P##_f1},                                   \
                               {P##_f8s, P##_f4s, P##_f2s, P##_f1s},                               \
                               {NQ8, NQ4, NQ2, NQ1},                                               \
                               {P##_w8, P##_w4, P##_w2, P##_w1},                                   \
                               {P##_w8s, P##_w4s, P##_w2s, P##_w1s}};

/* ---- generic: plain C, one element per "vector" (GCC vectorizes the tails of the
 * unrolled tiles at the baseline ISA) ---------------------------------------------- */
#define G_SET1(s) (s)
#define G_ZERO ((LF_R)0)
#define G_LOADU(p) (*(p))
#define G_STOREU(p, v) (*(p) = (v))
#define G_FMADD(a, b, c) ((a) * (b) + (c))
#define G_EPI(v, epi) epi_scalar((v), (epi))
#define NOATTR
KSET_KERNELS(gen, NOATTR, LF_R, 1, G_SET1, G_ZERO, G_LOADU, G_STOREU, G_FMADD, G_EPI, 8, 16, 16, 16,
             2, 4, 8, 8)

#if HAVE_X86
#define AVX2_ATTR __attribute__((target("avx2,fma")))
#define AVX512_ATTR __attribute__((target("avx512f,avx2,fma")))
#if defined(LF_PREC_SINGLE)
#define A2_VT __m256
#define A2_LANES 8
#define A2_SET1 _mm256_set1_ps
#define A2_ZERO _mm256_setzero_ps()
#define A2_LOADU _mm256_loadu_ps
#define A2_STOREU _mm256_storeu_ps
#define A2_FMADD _mm256_fmadd_ps
#define A5_VT __m512
#define A5_LANES 16
#define A5_SET1 _mm512_set1_ps
#define A5_ZERO _mm512_setzero_ps()
#define A5_LOADU _mm512_loadu_ps
#define A5_STOREU _mm512_storeu_ps
#define A5_FMADD _mm512_fmadd_ps
#define A2_TANH lf_vm_tanh256
#define A5_TANH lf_vm_tanh512
#define A2_MAX _mm256_max_ps
#define A5_MAX _mm512_max_ps
#define A2_MUL _mm256_mul_ps
#define A5_MUL _mm512_mul_ps
#else
#define A2_VT __m256d
#define A2_LANES 4
#define A2_SET1 _mm256_set1_pd
#define A2_ZERO _mm256_setzero_pd()
#define A2_LOADU _mm256_loadu_pd
#define A2_STOREU _mm256_storeu_pd
#define A2_FMADD _mm256_fmadd_pd
#define A5_VT __m512d
#define A5_LANES 8
#define A5_SET1 _mm512_set1_pd
#define A5_ZERO _mm512_setzero_pd()
#define A5_LOADU _mm512_loadu_pd
#define A5_STOREU _mm512_storeu_pd
#define A5_FMADD _mm512_fmadd_pd
#define A2_TANH tanh256d
#define A5_TANH tanh512d
#define A2_MAX _mm256_max_pd
#define A5_MAX _mm512_max_pd
#define A2_MUL _mm256_mul_pd
#define A5_MUL _mm512_mul_pd
/* double tanh: libm per lane (the tile is in registers; double is the reference path) */
AVX2_ATTR static inline __m256d tanh256d(__m256d v) {
  double t[4];
  _mm256_storeu_pd(t, v);
  for (int l = 0; l < 4; l++) t[l] = tanh(t[l]);
  return _mm256_loadu_pd(t);
}
AVX512_ATTR static inline __m512d tanh512d(__m512d v) {
  double t[8];
  _mm512_storeu_pd(t, v);
  for (int l = 0; l < 8; l++) t[l] = tanh(t[l]);
  return _mm512_loadu_pd(t);
}
#endif
/* Epilogue on one vector (see epi_scalar). */
#define VEC_EPI(P, v, epi)                                                                         \
  ((epi) == LF_CONV_EPI_LEAKY  ? P##_MAX((v), P##_MUL(P##_SET1((LF_R)LF_LEAKY_SLOPE), (v)))        \
   : (epi) == LF_CONV_EPI_TANH ? P##_TANH(v)                                                       \
                               : (v))
#define A2_EPI(v, epi) VEC_EPI(A2, v, epi)
#define A5_EPI(v, epi) VEC_EPI(A5, v, epi)
/* 16 ymm registers: tiles of 8 accumulators; 32 zmm registers: tiles of 16. */
KSET_KERNELS(avx2, AVX2_ATTR, A2_VT, A2_LANES, A2_SET1, A2_ZERO, A2_LOADU, A2_STOREU, A2_FMADD,
             A2_EPI, 1, 2, 4, 4, 1, 2, 4, 4)
KSET_KERNELS(avx512, AVX512_ATTR, A5_VT, A5_LANES, A5_SET1, A5_ZERO, A5_LOADU, A5_STOREU, A5_FMADD,
             A5_EPI, 2, 4, 4, 4, 2, 4, 6, 8)

/* ---- k = 3 with whole lattice rows in one vector (L1 divides the vector length) ------
 * The k shifted planes are not built: each tap row (i, a) is loaded once from a
 * row-padded copy xp[i][r][x1] = x[i][(r - 1) mod L0][x1], and the x1 -/+ 1 neighbours
 * are made in registers by a lane permutation that rotates every L1-lane row
 * (rot[t] = row start + (t + s) mod L1). Permutes work on 32-bit units, so one index
 * vector serves float and double. */
#define ROT_FWD_KERNEL(NAME, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI, \
                       PERM, CO, NVEC)                                                             \
  ATTR static void NAME(const LF_R *restrict xp, size_t istr, int cin, int L1,                     \
                        const LF_R *restrict w, size_t wostr, const LF_R *restrict bias,           \
                        LF_R *restrict y, size_t V, size_t v0, int jr0,                            \
                        const int32_t *restrict idx, int epi) {                                    \
    const IT il = LOADI(idx), ir = LOADI(idx + LANES32);                                           \
    (void)jr0;                                                                                     \
    VT acc[CO][NVEC];                                                                              \
    for (int o = 0; o < CO; o++)                                                                   \
      for (int j = 0; j < NVEC; j++)                                                               \
        acc[o][j] = bias ? SET1(bias[o]) : LOADU(y + (size_t)o * V + v0 + (size_t)j * LANES);      \
    for (int i = 0; i < cin; i++)                                                                  \
      for (int a = 0; a < 3; a++) {                                                                \
        const LF_R *src = xp + (size_t)i * istr + (size_t)a * (size_t)L1 + v0;                     \
        const LF_R *wr = w + ((size_t)i * 3 + (size_t)a) * 3;                                      \
        VT in[NVEC], lf[NVEC], rt[NVEC];                                                           \
        for (int j = 0; j < NVEC; j++) {                                                           \
          in[j] = LOADU(src + (size_t)j * LANES);                                                  \
          lf[j] = PERM(in[j], il);                                                                 \
          rt[j] = PERM(in[j], ir);                                                                 \
        }                                                                                          \
        for (int o = 0; o < CO; o++) {                                                             \
          const VT w0 = SET1(wr[(size_t)o * wostr]), w1 = SET1(wr[(size_t)o * wostr + 1]),         \
                   w2 = SET1(wr[(size_t)o * wostr + 2]);                                           \
          for (int j = 0; j < NVEC; j++) {                                                         \
            acc[o][j] = FMADD(w0, lf[j], acc[o][j]);                                               \
            acc[o][j] = FMADD(w1, in[j], acc[o][j]);                                               \
            acc[o][j] = FMADD(w2, rt[j], acc[o][j]);                                               \
          }                                                                                        \
        }                                                                                          \
      }                                                                                            \
    for (int o = 0; o < CO; o++)                                                                   \
      for (int j = 0; j < NVEC; j++)                                                               \
        STOREU(y + (size_t)o * V + v0 + (size_t)j * LANES, EPI(acc[o][j], epi));                   \
  }

/* dw[o, (i,a,c)] += sum_{b,v} dy[b,o,v] rot_c(xp_b[i][v + a*L1]) for o < CO, c < 3, one
 * tap row (i, a); V is a multiple of LANES. */
#define ROT_DW_KERNEL(NAME, ATTR, VT, IT, LANES, LANES32, ZERO, LOADU, STOREU, FMADD, LOADI, PERM, \
                      CO)                                                                          \
  ATTR static void NAME(const LF_R *restrict dy, size_t dbstr, size_t V, const LF_R *restrict xp,  \
                        size_t xbstr, int nb, int L1, const int32_t *restrict idx,                 \
                        LF_R *restrict dw, size_t K) {                                             \
    const IT il = LOADI(idx), ir = LOADI(idx + LANES32);                                           \
    (void)L1;                                                                                      \
    VT acc[CO][3];                                                                                 \
    for (int o = 0; o < CO; o++)                                                                   \
      for (int c = 0; c < 3; c++) acc[o][c] = ZERO;                                                \
    for (int b = 0; b < nb; b++) {                                                                 \
      const LF_R *d = dy + (size_t)b * dbstr, *xb = xp + (size_t)b * xbstr;                        \
      for (size_t v = 0; v < V; v += LANES) {                                                      \
        const VT in = LOADU(xb + v), lf = PERM(in, il), rt = PERM(in, ir);                         \
        for (int o = 0; o < CO; o++) {                                                             \
          const VT dv = LOADU(d + (size_t)o * V + v);                                              \
          acc[o][0] = FMADD(dv, lf, acc[o][0]);                                                    \
          acc[o][1] = FMADD(dv, in, acc[o][1]);                                                    \
          acc[o][2] = FMADD(dv, rt, acc[o][2]);                                                    \
        }                                                                                          \
      }                                                                                            \
    }                                                                                              \
    for (int o = 0; o < CO; o++)                                                                   \
      for (int c = 0; c < 3; c++) {                                                                \
        LF_R t[LANES];                                                                             \
        STOREU(t, acc[o][c]);                                                                      \
        LF_R s = 0;                                                                                \
        for (int l = 0; l < LANES; l++) s += t[l];                                                 \
        dw[(size_t)o * K + (size_t)c] += s;                                                        \
      }                                                                                            \
  }

/* jr0: the vector index of site v0 within its lattice row (wide kernels only). */
typedef void (*rfwd_kern)(const LF_R *xp, size_t istr, int cin, int L1, const LF_R *w, size_t wostr,
                          const LF_R *bias, LF_R *y, size_t V, size_t v0, int jr0,
                          const int32_t *idx, int epi);
typedef void (*rdw_kern)(const LF_R *dy, size_t dbstr, size_t V, const LF_R *xp, size_t xbstr,
                         int nb, int L1, const int32_t *idx, LF_R *dw, size_t K);
typedef struct rset {
  int lanes;
  int nvec[4];
  rfwd_kern blk[4], one[4];
  int dw_gmin; /* smallest group index for dW tiles (AVX2: 4 channels, 12 accumulators) */
  rdw_kern dw[4];
  int fwd_gmin; /* smallest group index for forward tiles (AVX2 wide rows: 4 x 2 vectors) */
} rset;

#define RSET_KERNELS(P, ATTR, VT, IT, LANES, LANES32, SET1, ZERO, LOADU, STOREU, FMADD, EPI,       \
                     LOADI, PERM, NV8, NV4, NV2, NV1, GMIN)                                        \
  ROT_FWD_KERNEL(P##_r8, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,     \
                 PERM, 8, NV8)                                                                     \
  ROT_FWD_KERNEL(P##_r4, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,     \
                 PERM, 4, NV4)                                                                     \
  ROT_FWD_KERNEL(P##_r2, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,     \
                 PERM, 2, NV2)                                                                     \
  ROT_FWD_KERNEL(P##_r1, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,     \
                 PERM, 1, NV1)                                                                     \
  ROT_FWD_KERNEL(P##_r8s, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,    \
                 PERM, 8, 1)                                                                       \
  ROT_FWD_KERNEL(P##_r4s, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,    \
                 PERM, 4, 1)                                                                       \
  ROT_FWD_KERNEL(P##_r2s, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,    \
                 PERM, 2, 1)                                                                       \
  ROT_FWD_KERNEL(P##_r1s, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,    \
                 PERM, 1, 1)                                                                       \
  ROT_DW_KERNEL(P##_rw8, ATTR, VT, IT, LANES, LANES32, ZERO, LOADU, STOREU, FMADD, LOADI, PERM, 8) \
  ROT_DW_KERNEL(P##_rw4, ATTR, VT, IT, LANES, LANES32, ZERO, LOADU, STOREU, FMADD, LOADI, PERM, 4) \
  ROT_DW_KERNEL(P##_rw2, ATTR, VT, IT, LANES, LANES32, ZERO, LOADU, STOREU, FMADD, LOADI, PERM, 2) \
  ROT_DW_KERNEL(P##_rw1, ATTR, VT, IT, LANES, LANES32, ZERO, LOADU, STOREU, FMADD, LOADI, PERM, 1) \
  static const rset P##_rset = {LANES,                                                             \
                                {NV8, NV4, NV2, NV1},                                              \
                                {P##_r8, P##_r4, P##_r2, P##_r1},                                  \
                                {P##_r8s, P##_r4s, P##_r2s, P##_r1s},                              \
                                GMIN,                                                              \
                                {P##_rw8, P##_rw4, P##_rw2, P##_rw1},                              \
                                0};

#if defined(LF_PREC_SINGLE)
#define A5_PERM(v, i) _mm512_permutexvar_ps((i), (v))
#define A2_PERM(v, i) _mm256_permutevar8x32_ps((v), (i))
#else
#define A5_PERM(v, i) _mm512_castps_pd(_mm512_permutexvar_ps((i), _mm512_castpd_ps(v)))
#define A2_PERM(v, i) _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(v), (i)))
#endif
#define A5_LOADI(p) _mm512_loadu_si512((const void *)(p))
#define A2_LOADI(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
RSET_KERNELS(avx2, AVX2_ATTR, A2_VT, __m256i, A2_LANES, 8, A2_SET1, A2_ZERO, A2_LOADU, A2_STOREU,
             A2_FMADD, A2_EPI, A2_LOADI, A2_PERM, 1, 2, 4, 4, 1)
RSET_KERNELS(avx512, AVX512_ATTR, A5_VT, __m512i, A5_LANES, 16, A5_SET1, A5_ZERO, A5_LOADU,
             A5_STOREU, A5_FMADD, A5_EPI, A5_LOADI, A5_PERM, 2, 4, 4, 4, 0)

/* ---- k = 3 with lattice rows of m = L1 / LANES > 1 whole vectors ---------------------
 * The same row-padded copy xp and tap rows (i, a) as above; the x1 -/+ 1 neighbours of
 * vector j of a row cross into the row's previous / next vector (cyclically within the
 * row): blend the last (first) lane of that vector into vector j, then rotate the whole
 * vector by one lane (idx of rot_index with L1 = LANES):
 *   lf[t] = blend(in, prev, last lane)[(t - 1) mod LANES]   (x1 - 1)
 *   rt[t] = blend(in, next, lane 0)[(t + 1) mod LANES]      (x1 + 1)
 * The two extra loads hit L1; each tap still costs one input load per vector, and the
 * sums are taken in the order of the kernels above (taps c = 0, 1, 2 per (i, a)). */
#define WROT_FWD_KERNEL(NAME, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI,       \
                        LOADI, PERM, BLENDL, BLENDR, CO, NVEC)                                     \
  ATTR static void NAME(const LF_R *restrict xp, size_t istr, int cin, int L1,                     \
                        const LF_R *restrict w, size_t wostr, const LF_R *restrict bias,           \
                        LF_R *restrict y, size_t V, size_t v0, int jr0,                            \
                        const int32_t *restrict idx, int epi) {                                    \
    const IT il = LOADI(idx), ir = LOADI(idx + LANES32);                                           \
    const int m = L1 / LANES;                                                                      \
    ptrdiff_t poff[NVEC], noff[NVEC];                                                              \
    for (int j = 0, jr = jr0; j < NVEC; j++, jr = jr + 1 == m ? 0 : jr + 1) {                      \
      poff[j] = (ptrdiff_t)j * LANES + (jr == 0 ? (ptrdiff_t)(m - 1) * LANES : -LANES);            \
      noff[j] = (ptrdiff_t)j * LANES + (jr == m - 1 ? -(ptrdiff_t)(m - 1) * LANES : LANES);        \
    }                                                                                              \
    VT acc[CO][NVEC];                                                                              \
    for (int o = 0; o < CO; o++)                                                                   \
      for (int j = 0; j < NVEC; j++)                                                               \
        acc[o][j] = bias ? SET1(bias[o]) : LOADU(y + (size_t)o * V + v0 + (size_t)j * LANES);      \
    for (int i = 0; i < cin; i++)                                                                  \
      for (int a = 0; a < 3; a++) {                                                                \
        const LF_R *src = xp + (size_t)i * istr + (size_t)a * (size_t)L1 + v0;                     \
        const LF_R *wr = w + ((size_t)i * 3 + (size_t)a) * 3;                                      \
        VT in[NVEC], lf[NVEC], rt[NVEC];                                                           \
        for (int j = 0; j < NVEC; j++) {                                                           \
          in[j] = LOADU(src + (size_t)j * LANES);                                                  \
          lf[j] = PERM(BLENDL(in[j], LOADU(src + poff[j])), il);                                   \
          rt[j] = PERM(BLENDR(in[j], LOADU(src + noff[j])), ir);                                   \
        }                                                                                          \
        for (int o = 0; o < CO; o++) {                                                             \
          const VT w0 = SET1(wr[(size_t)o * wostr]), w1 = SET1(wr[(size_t)o * wostr + 1]),         \
                   w2 = SET1(wr[(size_t)o * wostr + 2]);                                           \
          for (int j = 0; j < NVEC; j++) {                                                         \
            acc[o][j] = FMADD(w0, lf[j], acc[o][j]);                                               \
            acc[o][j] = FMADD(w1, in[j], acc[o][j]);                                               \
            acc[o][j] = FMADD(w2, rt[j], acc[o][j]);                                               \
          }                                                                                        \
        }                                                                                          \
      }                                                                                            \
    for (int o = 0; o < CO; o++)                                                                   \
      for (int j = 0; j < NVEC; j++)                                                               \
        STOREU(y + (size_t)o * V + v0 + (size_t)j * LANES, EPI(acc[o][j], epi));                   \
  }

/* dW of one tap row (i, a) for the wide rows; as ROT_DW_KERNEL. */
#define WROT_DW_KERNEL(NAME, ATTR, VT, IT, LANES, LANES32, ZERO, LOADU, STOREU, FMADD, LOADI,      \
                       PERM, BLENDL, BLENDR, CO)                                                   \
  ATTR static void NAME(const LF_R *restrict dy, size_t dbstr, size_t V, const LF_R *restrict xp,  \
                        size_t xbstr, int nb, int L1, const int32_t *restrict idx,                 \
                        LF_R *restrict dw, size_t K) {                                             \
    const IT il = LOADI(idx), ir = LOADI(idx + LANES32);                                           \
    const int m = L1 / LANES;                                                                      \
    const ptrdiff_t wrap = (ptrdiff_t)(m - 1) * LANES;                                             \
    VT acc[CO][3];                                                                                 \
    for (int o = 0; o < CO; o++)                                                                   \
      for (int c = 0; c < 3; c++) acc[o][c] = ZERO;                                                \
    for (int b = 0; b < nb; b++) {                                                                 \
      const LF_R *d = dy + (size_t)b * dbstr, *xb = xp + (size_t)b * xbstr;                        \
      for (size_t v = 0; v < V; v += (size_t)L1)                                                   \
        for (int jr = 0; jr < m; jr++) {                                                           \
          const LF_R *src = xb + v + (size_t)jr * LANES;                                           \
          const VT in = LOADU(src);                                                                \
          const VT lf = PERM(BLENDL(in, LOADU(src + (jr == 0 ? wrap : -LANES))), il);              \
          const VT rt = PERM(BLENDR(in, LOADU(src + (jr == m - 1 ? -wrap : LANES))), ir);          \
          const LF_R *dv0 = d + v + (size_t)jr * LANES;                                            \
          for (int o = 0; o < CO; o++) {                                                           \
            const VT dv = LOADU(dv0 + (size_t)o * V);                                              \
            acc[o][0] = FMADD(dv, lf, acc[o][0]);                                                  \
            acc[o][1] = FMADD(dv, in, acc[o][1]);                                                  \
            acc[o][2] = FMADD(dv, rt, acc[o][2]);                                                  \
          }                                                                                        \
        }                                                                                          \
    }                                                                                              \
    for (int o = 0; o < CO; o++)                                                                   \
      for (int c = 0; c < 3; c++) {                                                                \
        LF_R t[LANES];                                                                             \
        STOREU(t, acc[o][c]);                                                                      \
        LF_R s = 0;                                                                                \
        for (int l = 0; l < LANES; l++) s += t[l];                                                 \
        dw[(size_t)o * K + (size_t)c] += s;                                                        \
      }                                                                                            \
  }

#define WSET_KERNELS(P, ATTR, VT, IT, LANES, LANES32, SET1, ZERO, LOADU, STOREU, FMADD, EPI,       \
                     LOADI, PERM, BL, BR, NV8, NV4, NV2, NV1, GMIN, FGMIN)                         \
  WROT_FWD_KERNEL(P##_q8, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,    \
                  PERM, BL, BR, 8, NV8)                                                            \
  WROT_FWD_KERNEL(P##_q4, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,    \
                  PERM, BL, BR, 4, NV4)                                                            \
  WROT_FWD_KERNEL(P##_q2, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,    \
                  PERM, BL, BR, 2, NV2)                                                            \
  WROT_FWD_KERNEL(P##_q1, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,    \
                  PERM, BL, BR, 1, NV1)                                                            \
  WROT_FWD_KERNEL(P##_q8s, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,   \
                  PERM, BL, BR, 8, 1)                                                              \
  WROT_FWD_KERNEL(P##_q4s, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,   \
                  PERM, BL, BR, 4, 1)                                                              \
  WROT_FWD_KERNEL(P##_q2s, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,   \
                  PERM, BL, BR, 2, 1)                                                              \
  WROT_FWD_KERNEL(P##_q1s, ATTR, VT, IT, LANES, LANES32, SET1, LOADU, STOREU, FMADD, EPI, LOADI,   \
                  PERM, BL, BR, 1, 1)                                                              \
  WROT_DW_KERNEL(P##_qw8, ATTR, VT, IT, LANES, LANES32, ZERO, LOADU, STOREU, FMADD, LOADI, PERM,   \
                 BL, BR, 8)                                                                        \
  WROT_DW_KERNEL(P##_qw4, ATTR, VT, IT, LANES, LANES32, ZERO, LOADU, STOREU, FMADD, LOADI, PERM,   \
                 BL, BR, 4)                                                                        \
  WROT_DW_KERNEL(P##_qw2, ATTR, VT, IT, LANES, LANES32, ZERO, LOADU, STOREU, FMADD, LOADI, PERM,   \
                 BL, BR, 2)                                                                        \
  WROT_DW_KERNEL(P##_qw1, ATTR, VT, IT, LANES, LANES32, ZERO, LOADU, STOREU, FMADD, LOADI, PERM,   \
                 BL, BR, 1)                                                                        \
  static const rset P##_wset = {LANES,                                                             \
                                {NV8, NV4, NV2, NV1},                                              \
                                {P##_q8, P##_q4, P##_q2, P##_q1},                                  \
                                {P##_q8s, P##_q4s, P##_q2s, P##_q1s},                              \
                                GMIN,                                                              \
                                {P##_qw8, P##_qw4, P##_qw2, P##_qw1},                              \
                                FGMIN};

/* BL(in, prev): in with its last lane from prev; BR(in, next): in with lane 0 from next. */
#if defined(LF_PREC_SINGLE)
#define A2_BL(a, b) _mm256_blend_ps((a), (b), 0x80)
#define A2_BR(a, b) _mm256_blend_ps((a), (b), 0x01)
#define A5_BL(a, b) _mm512_mask_blend_ps((__mmask16)0x8000, (a), (b))
#define A5_BR(a, b) _mm512_mask_blend_ps((__mmask16)0x0001, (a), (b))
#else
#define A2_BL(a, b) _mm256_blend_pd((a), (b), 0x8)
#define A2_BR(a, b) _mm256_blend_pd((a), (b), 0x1)
#define A5_BL(a, b) _mm512_mask_blend_pd((__mmask8)0x80, (a), (b))
#define A5_BR(a, b) _mm512_mask_blend_pd((__mmask8)0x01, (a), (b))
#endif
WSET_KERNELS(avx2, AVX2_ATTR, A2_VT, __m256i, A2_LANES, 8, A2_SET1, A2_ZERO, A2_LOADU, A2_STOREU,
             A2_FMADD, A2_EPI, A2_LOADI, A2_PERM, A2_BL, A2_BR, 1, 2, 4, 4, 1, 1)
WSET_KERNELS(avx512, AVX512_ATTR, A5_VT, __m512i, A5_LANES, 16, A5_SET1, A5_ZERO, A5_LOADU,
             A5_STOREU, A5_FMADD, A5_EPI, A5_LOADI, A5_PERM, A5_BL, A5_BR, 2, 4, 4, 4, 0, 0)
#endif

/* The rotation kernels for this layer and level (rows within one vector, or rows of several
 * whole vectors), or NULL when they do not apply (then the shifted planes). */
static const rset *rset_for(const LF_T(lf_conv2d) * c, lf_nn_isa isa) {
#if HAVE_X86
  const rset *rs = isa == LF_ISA_AVX512 ? &avx512_rset : isa == LF_ISA_AVX2 ? &avx2_rset : NULL;
  if (rs && c->k == 3 && rs->lanes % c->L1 == 0 && (size_t)c->V % (size_t)rs->lanes == 0) return rs;
  const rset *ws = isa == LF_ISA_AVX512 ? &avx512_wset : isa == LF_ISA_AVX2 ? &avx2_wset : NULL;
  if (ws && c->k == 3 && c->L1 > ws->lanes && c->L1 % ws->lanes == 0) return ws;
#endif
  (void)c;
  (void)isa;
  return NULL;
}

/* idx[0 .. lanes32) rotates every row by -1 (input x1 - 1), idx[lanes32 ..) by +1, in
 * 32-bit units. No division: this runs once per conv call, and calls come per small chunk
 * of samples in the no-grad forward. */
static void rot_index(int lanes, int L1, int32_t *idx) {
  const int epr = (int)(sizeof(LF_R) / 4), l32 = lanes * epr;
  for (int s = 0; s < 2; s++)
    for (int r0 = 0; r0 < lanes; r0 += L1)
      for (int x1 = 0; x1 < L1; x1++) {
        int nx = x1 + (s ? 1 : -1);
        nx = nx < 0 ? nx + L1 : nx >= L1 ? nx - L1 : nx;
        const int t = r0 + x1, rt = r0 + nx;
        for (int u = 0; u < epr; u++) idx[s * l32 + t * epr + u] = rt * epr + u;
      }
}

/* xp (C, L0+2, L1) from xb (C, L0, L1): rows padded periodically by one. Plain loops, kept
 * out of libc: three memcpy calls per channel and sample were 10% of a training step
 * (call overhead on copies of 1 KiB), so GCC must not turn the loops back into calls. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) static void
build_rowpad(const LF_R *restrict xb, int C, int L0, int L1, LF_R *restrict xp) {
  const size_t V = (size_t)L0 * (size_t)L1, L = (size_t)L1;
  for (int i = 0; i < C; i++) {
    const LF_R *src = xb + (size_t)i * V;
    LF_R *dst = xp + (size_t)i * (V + 2 * L);
    for (size_t j = 0; j < L; j++) dst[j] = src[V - L + j];
    for (size_t j = 0; j < V; j++) dst[L + j] = src[j];
    for (size_t j = 0; j < L; j++) dst[L + V + j] = src[j];
  }
}

/* One sample through the rotation kernels: y = epi(bias + conv(xp)), or y += conv(xp) when
 * bias is NULL (and epi none). */
static void rot_fwd_sample(const rset *rs, int cin, int cout, int L1, size_t V, const LF_R *w,
                           const LF_R *bias, const LF_R *xp, LF_R *y, const int32_t *idx, int epi) {
  const size_t istr = V + 2 * (size_t)L1, wostr = (size_t)cin * 9, lanes = (size_t)rs->lanes;
  for (int o0 = 0; o0 < cout;) {
    int g = group_of(cout - o0);
    if (g < rs->fwd_gmin) g = rs->fwd_gmin;
    const int CO = 8 >> g;
    const LF_R *wg = w + (size_t)o0 * wostr;
    const LF_R *bg = bias ? bias + o0 : NULL;
    LF_R *yg = y + (size_t)o0 * V;
    const int nv = rs->nvec[g], m = L1 > rs->lanes ? L1 / rs->lanes : 1;
    const size_t blk = (size_t)nv * lanes;
    size_t v0 = 0;
    int jr = 0; /* vector index of v0 within its row (wide rows) */
    for (; v0 + blk <= V; v0 += blk) {
      rs->blk[g](xp, istr, cin, L1, wg, wostr, bg, yg, V, v0, jr, idx, epi);
      for (jr += nv; jr >= m;) jr -= m;
    }
    for (; v0 < V; v0 += lanes) {
      rs->one[g](xp, istr, cin, L1, wg, wostr, bg, yg, V, v0, jr, idx, epi);
      if (++jr == m) jr = 0;
    }
    o0 += CO;
  }
}

static const kset *kset_for(lf_nn_isa isa) {
#if HAVE_X86
  if (isa == LF_ISA_AVX512) return &avx512_set;
  if (isa == LF_ISA_AVX2) return &avx2_set;
#endif
  (void)isa;
  return &gen_set;
}

/* Elements of one sample's shifted planes for C channels. */
static size_t plane_size(const LF_T(lf_conv2d) * c, int C) {
  const size_t k = (size_t)c->k;
  return k * (size_t)C * ((size_t)c->L0 + 2 * (k / 2)) * (size_t)c->L1;
}

static int dw_chunk(const LF_T(lf_conv2d) * c, int B) {
  const size_t per = plane_size(c, c->cin);
  int nb = (int)(DW_CHUNK / (per ? per : 1));
  if (nb < 1) nb = 1;
  if (nb > B) nb = B;
  return nb;
}

/* Transposed-flipped weights (cin, cout, k, k), padded to a multiple of 16 elements so the
 * planes after them stay 64-byte aligned. */
static size_t wt_size(const LF_T(lf_conv2d) * c) {
  const size_t n = (size_t)c->cin * (size_t)c->cout * (size_t)c->k * (size_t)c->k;
  return (n + 15) / 16 * 16;
}

size_t LF_T(lf_conv2d_direct_ws)(const LF_T(lf_conv2d) * c, int B) {
  size_t planes = plane_size(c, c->cin) * (size_t)dw_chunk(c, B < 1 ? 1 : B);
  const size_t p2 = plane_size(c, c->cout);
  if (p2 > planes) planes = p2;
  return wt_size(c) + planes;
}

/* y (cout, V) = epi(bias + conv(xs)) for one sample, or y += conv(xs) when bias is NULL
 * (and epi none). */
static void fwd_sample(const kset *ks, int cin, int cout, int k, int L0, int L1, const LF_R *w,
                       const LF_R *bias, const LF_R *xs, LF_R *y, int epi) {
  const size_t V = (size_t)L0 * (size_t)L1;
  const size_t istr = ((size_t)L0 + 2 * (size_t)(k / 2)) * (size_t)L1;
  const size_t sstr = (size_t)cin * istr, wostr = (size_t)cin * (size_t)k * (size_t)k;
  const size_t lanes = (size_t)ks->lanes;
  for (int o0 = 0; o0 < cout;) {
    const int g = group_of(cout - o0), CO = 8 >> g;
    const LF_R *wg = w + (size_t)o0 * wostr;
    const LF_R *bg = bias ? bias + o0 : NULL;
    LF_R *yg = y + (size_t)o0 * V;
    const size_t blk = (size_t)ks->nvec[g] * lanes;
    size_t v0 = 0;
    for (; v0 + blk <= V; v0 += blk)
      ks->blk[g](xs, sstr, istr, cin, k, L1, wg, wostr, bg, yg, V, v0, epi);
    for (; v0 + lanes <= V; v0 += lanes)
      ks->one[g](xs, sstr, istr, cin, k, L1, wg, wostr, bg, yg, V, v0, epi);
    /* sites left over when V is not a multiple of the vector length */
    for (int o = 0; o < CO; o++)
      for (size_t v = v0; v < V; v++) {
        LF_R s = bg ? bg[o] : yg[(size_t)o * V + v];
        for (int i = 0; i < cin; i++)
          for (int a = 0; a < k; a++)
            for (int cc = 0; cc < k; cc++)
              s += wg[(size_t)o * wostr + ((size_t)i * (size_t)k + (size_t)a) * (size_t)k +
                      (size_t)cc] *
                   xs[(size_t)cc * sstr + (size_t)i * istr + (size_t)a * (size_t)L1 + v];
        yg[(size_t)o * V + v] = epi_scalar(s, epi);
      }
    o0 += CO;
  }
}

void LF_T(lf_conv2d_direct_forward)(const LF_T(lf_conv2d) * c, int B, const LF_R *x, LF_R *y,
                                    LF_R *ws, lf_nn_isa isa, int epi) {
  const kset *ks = kset_for(isa);
  const rset *rs = rset_for(c, isa);
  LF_R *xs = ws + wt_size(c);
  const size_t V = (size_t)c->V;
  if (rs) {
    int32_t idx[64];
    rot_index(rs->lanes, c->L1 < rs->lanes ? c->L1 : rs->lanes, idx);
    for (int b = 0; b < B; b++) {
      build_rowpad(x + (size_t)b * (size_t)c->cin * V, c->cin, c->L0, c->L1, xs);
      rot_fwd_sample(rs, c->cin, c->cout, c->L1, V, c->w, c->bias, xs,
                     y + (size_t)b * (size_t)c->cout * V, idx, epi);
    }
    return;
  }
  for (int b = 0; b < B; b++) {
    ks->build(x + (size_t)b * (size_t)c->cin * V, c->cin, c->L0, c->L1, c->k, xs);
    fwd_sample(ks, c->cin, c->cout, c->k, c->L0, c->L1, c->w, c->bias, xs,
               y + (size_t)b * (size_t)c->cout * V, epi);
  }
}

void LF_T(lf_conv2d_direct_backward)(LF_T(lf_conv2d) * c, int B, const LF_R *x, const LF_R *dy,
                                     LF_R *dx, LF_R *ws, lf_nn_isa isa) {
  const kset *ks = kset_for(isa);
  const int cin = c->cin, cout = c->cout, k = c->k, L1 = c->L1;
  const size_t V = (size_t)c->V, kk = (size_t)k * (size_t)k, K = (size_t)cin * kk;
  const size_t istr = ((size_t)c->L0 + 2 * (size_t)(k / 2)) * (size_t)L1;
  const size_t sstr = (size_t)cin * istr, xbstr = plane_size(c, cin);
  LF_R *wt = ws, *xs = ws + wt_size(c);

  /* dbias: eight interleaved partial sums per (b, o) (one serial chain of V adds was 9% of
   * the backward); plain C, so the same bits at every SIMD level */
  for (int b = 0; b < B; b++)
    for (int o = 0; o < cout; o++) {
      const LF_R *d = dy + ((size_t)b * (size_t)cout + (size_t)o) * V;
      LF_R part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      size_t v = 0;
      for (; v + 8 <= V; v += 8)
        for (int j = 0; j < 8; j++) part[j] += d[v + (size_t)j];
      for (; v < V; v++) part[0] += d[v];
      c->dbias[o] +=
          ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
    }

  const rset *rs = rset_for(c, isa);
  int32_t idx[64];
  const int nbmax = dw_chunk(c, B);
  if (rs) {
    /* dW over chunks of nb row-padded samples: tiles of CO channels x one tap row (i, a) */
    rot_index(rs->lanes, L1 < rs->lanes ? L1 : rs->lanes, idx);
    const size_t pistr = V + 2 * (size_t)L1, pbstr = (size_t)cin * pistr;
    for (int b0 = 0; b0 < B; b0 += nbmax) {
      const int nb = B - b0 < nbmax ? B - b0 : nbmax;
      for (int bl = 0; bl < nb; bl++)
        build_rowpad(x + (size_t)(b0 + bl) * (size_t)cin * V, cin, c->L0, L1,
                     xs + (size_t)bl * pbstr);
      const LF_R *dyc = dy + (size_t)b0 * (size_t)cout * V;
      for (int o0 = 0; o0 < cout;) {
        int g = group_of(cout - o0);
        if (g < rs->dw_gmin) g = rs->dw_gmin;
        for (int i = 0; i < cin; i++)
          for (int a = 0; a < 3; a++)
            rs->dw[g](dyc + (size_t)o0 * V, (size_t)cout * V, V,
                      xs + (size_t)i * pistr + (size_t)a * (size_t)L1, pbstr, nb, L1, idx,
                      c->dw + (size_t)o0 * K + ((size_t)i * 3 + (size_t)a) * 3, K);
        o0 += 8 >> g;
      }
    }
  }
  /* dW over chunks of nb samples: tiles of CO output channels x NQ taps q = (i, a, c) */
  for (int b0 = 0; !rs && b0 < B; b0 += nbmax) {
    const int nb = B - b0 < nbmax ? B - b0 : nbmax;
    for (int bl = 0; bl < nb; bl++)
      ks->build(x + (size_t)(b0 + bl) * (size_t)cin * V, cin, c->L0, L1, k,
                xs + (size_t)bl * xbstr);
    const LF_R *dyc = dy + (size_t)b0 * (size_t)cout * V;
    for (int o0 = 0; o0 < cout;) {
      const int g = group_of(cout - o0), CO = 8 >> g;
      for (size_t q0 = 0; q0 < K;) {
        const int nq = q0 + (size_t)ks->nq[g] <= K ? ks->nq[g] : 1;
        size_t qoff[8];
        for (int q = 0; q < nq; q++) {
          const size_t qq = q0 + (size_t)q, i = qq / kk, a = (qq / (size_t)k) % (size_t)k,
                       cc = qq % (size_t)k;
          qoff[q] = cc * sstr + i * istr + a * (size_t)L1;
        }
        dw_kern kern = nq == ks->nq[g] ? ks->dwblk[g] : ks->dwone[g];
        kern(dyc + (size_t)o0 * V, (size_t)cout * V, V, xs, xbstr, qoff, nb,
             c->dw + (size_t)o0 * K + q0, K);
        q0 += (size_t)nq;
      }
      o0 += CO;
    }
  }
  if (!dx) return;

  /* dx += conv(dy; w'), w'[i,o,a,c] = w[o,i,k-1-a,k-1-c] */
  for (int o = 0; o < cout; o++)
    for (int i = 0; i < cin; i++)
      for (int a = 0; a < k; a++)
        for (int cc = 0; cc < k; cc++)
          wt[(((size_t)i * (size_t)cout + (size_t)o) * (size_t)k + (size_t)a) * (size_t)k +
             (size_t)cc] =
              c->w[(((size_t)o * (size_t)cin + (size_t)i) * (size_t)k + (size_t)(k - 1 - a)) *
                       (size_t)k +
                   (size_t)(k - 1 - cc)];
  for (int b = 0; rs && b < B; b++) {
    build_rowpad(dy + (size_t)b * (size_t)cout * V, cout, c->L0, L1, xs);
    rot_fwd_sample(rs, cout, cin, L1, V, wt, NULL, xs, dx + (size_t)b * (size_t)cin * V, idx,
                   LF_CONV_EPI_NONE);
  }
  for (int b = 0; !rs && b < B; b++) {
    ks->build(dy + (size_t)b * (size_t)cout * V, cout, c->L0, L1, k, xs);
    fwd_sample(ks, cout, cin, k, c->L0, L1, wt, NULL, xs, dx + (size_t)b * (size_t)cin * V,
               LF_CONV_EPI_NONE);
  }
}
