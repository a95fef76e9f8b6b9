/* Periodic 2D convolution (PyTorch Conv2d, padding_mode='circular', stride 1, odd k),
 * written once over LF_R (src/core/prec.h). Contract: include/latflow/nn_t.h.
 *
 * im2col path: for a chunk of nb samples the patches are unrolled into
 *   col ((i,a,c), (b,v)) = x[b, i, x0+a-h, x1+c-h]   (indices mod L, h = k/2)
 * a (cin*k*k, nb*V) matrix, so the whole chunk is one GEMM: tmp (cout, nb*V) = W col,
 * then tmp is scattered into y (B, cout, V) with the bias. Backward reuses the same
 * unrolling: dW += dy col^T (one GEMM over the chunk), dcol = W^T dy, and the col2im
 * scatter-add of dcol into dx wraps exactly as the gather did. Chunks keep the scratch
 * small (about CHUNK_COLS columns) so col stays in L2.
 *
 * lf_conv2d_forward_act fuses the activation: the direct kernels apply it to the register
 * tile before the store (each hidden tensor is written once, not written, read and
 * rewritten by a separate activation pass); the im2col path applies it afterwards.
 *
 * The direct path (src/nn/conv2d_direct_t.c) has SIMD kernels picked at run time; pick()
 * below chooses between the two paths. Both are tested against a naive loop and
 * against each other (tests/unit/test_nn.c). */
#include "latflow/nn.h"

#include "core/prec.h"
#include "nn/conv2d_direct.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Columns (nb * V) per im2col chunk. */
#define CHUNK_COLS 2048

size_t LF_T(lf_conv2d_nparams)(int cin, int cout, int k) {
  return (size_t)cout * (size_t)cin * (size_t)k * (size_t)k + (size_t)cout;
}

void LF_T(lf_conv2d_bind)(LF_T(lf_conv2d) * c, int cin, int cout, int k, int L0, int L1,
                          LF_R *params, LF_R *grads) {
  const size_t nw = (size_t)cout * (size_t)cin * (size_t)k * (size_t)k;
  c->cin = cin;
  c->cout = cout;
  c->k = k;
  c->L0 = L0;
  c->L1 = L1;
  c->V = L0 * L1;
  c->w = params;
  c->bias = params ? params + nw : NULL;
  c->dw = grads;
  c->dbias = grads ? grads + nw : NULL;
}

/* Samples per im2col chunk. */
static int chunk_samples(const LF_T(lf_conv2d) * c, int B) {
  int nb = CHUNK_COLS / (c->V > 0 ? c->V : 1);
  if (nb < 1) nb = 1;
  if (nb > B) nb = B;
  return nb;
}

static size_t im2col_ws(const LF_T(lf_conv2d) * c, int B) {
  const size_t K = (size_t)c->cin * (size_t)c->k * (size_t)c->k;
  const size_t nb = (size_t)chunk_samples(c, B < 1 ? 1 : B);
  return (K + (size_t)c->cout) * nb * (size_t)c->V;
}

size_t LF_T(lf_conv2d_ws_size)(const LF_T(lf_conv2d) * c, int B) {
  const size_t a = im2col_ws(c, B), d = LF_T(lf_conv2d_direct_ws)(c, B);
  return a > d ? a : d;
}

static int wrap(int j, int L) {
  j %= L;
  return j < 0 ? j + L : j;
}

/* col ((i,a,c), (bl,v)) for samples b0 .. b0+nb-1; N = nb*V columns. */
static void im2col(const LF_T(lf_conv2d) * cv, int b0, int nb, const LF_R *x, LF_R *col) {
  const int k = cv->k, h = k / 2, L0 = cv->L0, L1 = cv->L1, V = cv->V;
  const size_t N = (size_t)nb * (size_t)V;
  for (int i = 0; i < cv->cin; i++)
    for (int a = 0; a < k; a++)
      for (int c = 0; c < k; c++) {
        LF_R *row = col + (size_t)((i * k + a) * k + c) * N;
        const int s = wrap(c - h, L1); /* dst[x1] = src[(x1 + s) mod L1] */
        for (int bl = 0; bl < nb; bl++) {
          const LF_R *xb = x + ((size_t)(b0 + bl) * (size_t)cv->cin + (size_t)i) * (size_t)V;
          for (int x0 = 0; x0 < L0; x0++) {
            const LF_R *src = xb + (size_t)wrap(x0 + a - h, L0) * (size_t)L1;
            LF_R *dst = row + (size_t)bl * (size_t)V + (size_t)x0 * (size_t)L1;
            memcpy(dst, src + s, (size_t)(L1 - s) * sizeof *dst);
            memcpy(dst + (L1 - s), src, (size_t)s * sizeof *dst);
          }
        }
      }
}

/* dx[b, i, x0+a-h, x1+c-h] += dcol ((i,a,c), (bl,v)): the adjoint of im2col. */
static void col2im_add(const LF_T(lf_conv2d) * cv, int b0, int nb, const LF_R *dcol, LF_R *dx) {
  const int k = cv->k, h = k / 2, L0 = cv->L0, L1 = cv->L1, V = cv->V;
  const size_t N = (size_t)nb * (size_t)V;
  for (int i = 0; i < cv->cin; i++)
    for (int a = 0; a < k; a++)
      for (int c = 0; c < k; c++) {
        const LF_R *row = dcol + (size_t)((i * k + a) * k + c) * N;
        const int s = wrap(c - h, L1);
        for (int bl = 0; bl < nb; bl++) {
          LF_R *xb = dx + ((size_t)(b0 + bl) * (size_t)cv->cin + (size_t)i) * (size_t)V;
          for (int x0 = 0; x0 < L0; x0++) {
            LF_R *dst = xb + (size_t)wrap(x0 + a - h, L0) * (size_t)L1;
            const LF_R *src = row + (size_t)bl * (size_t)V + (size_t)x0 * (size_t)L1;
            for (int x1 = 0; x1 < L1 - s; x1++) dst[x1 + s] += src[x1];
            for (int x1 = L1 - s; x1 < L1; x1++) dst[x1 + s - L1] += src[x1];
          }
        }
      }
}

static void forward_im2col(const LF_T(lf_conv2d) * c, int B, const LF_R *x, LF_R *y, LF_R *ws) {
  const int K = c->cin * c->k * c->k, V = c->V, cout = c->cout;
  const int nbmax = chunk_samples(c, B);
  LF_R *col = ws;
  LF_R *tmp = ws + (size_t)K * (size_t)nbmax * (size_t)V;
  for (int b0 = 0; b0 < B; b0 += nbmax) {
    const int nb = B - b0 < nbmax ? B - b0 : nbmax;
    const int N = nb * V;
    im2col(c, b0, nb, x, col);
    LF_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, N, K, (LF_R)1, c->w, K, col, N,
            (LF_R)0, tmp, N);
    /* y[b, o, :] = bias[o] + tmp[o, bl*V : (bl+1)*V] */
    for (int bl = 0; bl < nb; bl++)
      for (int o = 0; o < cout; o++) {
        LF_R *yo = y + ((size_t)(b0 + bl) * (size_t)cout + (size_t)o) * (size_t)V;
        const LF_R *t = tmp + (size_t)o * (size_t)N + (size_t)bl * (size_t)V;
        const LF_R bo = c->bias[o];
        for (int v = 0; v < V; v++) yo[v] = t[v] + bo;
      }
  }
}

static void backward_im2col(LF_T(lf_conv2d) * c, int B, const LF_R *x, const LF_R *dy, LF_R *dx,
                            LF_R *ws) {
  const int K = c->cin * c->k * c->k, V = c->V, cout = c->cout;
  const int nbmax = chunk_samples(c, B);
  LF_R *col = ws;
  LF_R *dyt = ws + (size_t)K * (size_t)nbmax * (size_t)V;
  for (int b0 = 0; b0 < B; b0 += nbmax) {
    const int nb = B - b0 < nbmax ? B - b0 : nbmax;
    const int N = nb * V;
    /* dyt (cout, N) = dy of the chunk, channel-major; dbias += its row sums */
    for (int bl = 0; bl < nb; bl++)
      for (int o = 0; o < cout; o++) {
        const LF_R *d = dy + ((size_t)(b0 + bl) * (size_t)cout + (size_t)o) * (size_t)V;
        LF_R *t = dyt + (size_t)o * (size_t)N + (size_t)bl * (size_t)V;
        LF_R s = 0;
        for (int v = 0; v < V; v++) {
          t[v] = d[v];
          s += d[v];
        }
        c->dbias[o] += s;
      }
    im2col(c, b0, nb, x, col);
    /* dW (cout, K) += dyt (cout, N) col^T (N, K) */
    LF_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, cout, K, N, (LF_R)1, dyt, N, col, N, (LF_R)1,
            c->dw, K);
    if (dx) {
      /* dcol (K, N) = W^T (K, cout) dyt (cout, N), written over col */
      LF_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, cout, (LF_R)1, c->w, K, dyt, N,
              (LF_R)0, col, N);
      col2im_add(c, b0, nb, col, dx);
    }
  }
}

/* Which path is faster for this shape. Measured on Zen 5 (notes/machine.md), float, one
 * thread, k = 3 and 5, cin/cout from 1/8 to 64/64, L = 8..32, B = 16..1024: with AVX2 or
 * AVX-512 the direct kernels beat im2col + OpenBLAS everywhere, by 2-20x forward and
 * 1.3-17x backward (small cout is where GEMM is worst: M = cout rows). The plain-C direct
 * path beats im2col only when cout <= 2. */
static lf_conv_algo pick(const LF_T(lf_conv2d) * c) {
  if (lf_nn_isa_current() >= LF_ISA_AVX2) return LF_CONV_DIRECT;
  return c->cout <= 2 ? LF_CONV_DIRECT : LF_CONV_IM2COL;
}

/* y = epi(conv(x)); the direct kernels apply epi in registers, im2col in a second pass. */
static void forward_epi(const LF_T(lf_conv2d) * c, int B, const LF_R *x, LF_R *y, LF_R *ws,
                        lf_conv_algo algo, int epi) {
  if (algo == LF_CONV_AUTO) algo = pick(c);
  if (algo == LF_CONV_DIRECT) {
    LF_T(lf_conv2d_direct_forward)(c, B, x, y, ws, lf_nn_isa_current(), epi);
    return;
  }
  forward_im2col(c, B, x, y, ws);
  if (epi != LF_CONV_EPI_NONE) LF_T(lf_act_forward)
  (epi == LF_CONV_EPI_TANH ? LF_ACT_TANH : LF_ACT_LEAKY_RELU,
   (size_t)B * (size_t)c->cout * (size_t)c->V, y, y);
}

void LF_T(lf_conv2d_forward_algo)(const LF_T(lf_conv2d) * c, int B, const LF_R *x, LF_R *y,
                                  LF_R *ws, lf_conv_algo algo) {
  forward_epi(c, B, x, y, ws, algo, LF_CONV_EPI_NONE);
}

void LF_T(lf_conv2d_forward_act_algo)(const LF_T(lf_conv2d) * c, int B, const LF_R *x, LF_R *y,
                                      LF_R *ws, lf_act_kind act, lf_conv_algo algo) {
  forward_epi(c, B, x, y, ws, algo, act == LF_ACT_TANH ? LF_CONV_EPI_TANH : LF_CONV_EPI_LEAKY);
}

void LF_T(lf_conv2d_backward_algo)(LF_T(lf_conv2d) * c, int B, const LF_R *x, const LF_R *dy,
                                   LF_R *dx, LF_R *ws, lf_conv_algo algo) {
  if (algo == LF_CONV_AUTO) algo = pick(c);
  if (algo == LF_CONV_DIRECT)
    LF_T(lf_conv2d_direct_backward)(c, B, x, dy, dx, ws, lf_nn_isa_current());
  else
    backward_im2col(c, B, x, dy, dx, ws);
}

void LF_T(lf_conv2d_forward)(const LF_T(lf_conv2d) * c, int B, const LF_R *x, LF_R *y, LF_R *ws) {
  forward_epi(c, B, x, y, ws, LF_CONV_AUTO, LF_CONV_EPI_NONE);
}

void LF_T(lf_conv2d_forward_act)(const LF_T(lf_conv2d) * c, int B, const LF_R *x, LF_R *y, LF_R *ws,
                                 lf_act_kind act) {
  LF_T(lf_conv2d_forward_act_algo)(c, B, x, y, ws, act, LF_CONV_AUTO);
}

void LF_T(lf_conv2d_backward)(LF_T(lf_conv2d) * c, int B, const LF_R *x, const LF_R *dy, LF_R *dx,
                              LF_R *ws) {
  LF_T(lf_conv2d_backward_algo)(c, B, x, dy, dx, ws, LF_CONV_AUTO);
}

/* PyTorch's Conv2d.reset_parameters (kaiming_uniform with a = sqrt(5) gives
 * bound 1/sqrt(fan_in) for w, and the bias bound is 1/sqrt(fan_in)); xavier_uniform
 * (Glorot & Bengio 2010) with zero bias. One uniform per parameter, counter index
 * offset + position in the layer, so the draw does not depend on the layer's neighbours. */
void LF_T(lf_conv2d_init)(LF_T(lf_conv2d) * c, lf_init_kind kind, double scale, lf_rng_key key,
                          uint64_t offset) {
  const size_t nw = (size_t)c->cout * (size_t)c->cin * (size_t)c->k * (size_t)c->k;
  const double fan_in = (double)c->cin * c->k * c->k;
  const double fan_out = (double)c->cout * c->k * c->k;
  const double bw =
      kind == LF_INIT_XAVIER ? scale * sqrt(6.0 / (fan_in + fan_out)) : scale / sqrt(fan_in);
  for (size_t j = 0; j < nw; j++) {
    const double u = lf_rng_uniform(key, 0u, offset + (uint64_t)j);
    c->w[j] = (LF_R)(bw * (2.0 * u - 1.0));
  }
  for (int o = 0; o < c->cout; o++) {
    if (kind == LF_INIT_XAVIER) {
      c->bias[o] = 0;
    } else {
      const double u = lf_rng_uniform(key, 0u, offset + (uint64_t)nw + (uint64_t)o);
      c->bias[o] = (LF_R)(bw * (2.0 * u - 1.0));
    }
  }
}
