/* latflow/nn_t.h: template of the network declarations; included by latflow/nn.h
 * once per precision with LF_R and LF_T defined. No include guard on purpose.
 *
 * Layout: activations are (B, channels, V) row-major, V = L0*L1 sites, site
 * v = x0*L1 + x1. Kernels are local, never allocate, never fail, never do I/O;
 * every _backward ACCUMULATES (+=) into parameter gradients and into d_in, and the
 * caller zeroes the grad arena once per step (STYLE.md section 2). */

/* ---- 2D convolution, periodic (circular) padding, stride 1, odd kernel k ----------------
 * y[b,o,x] = bias[o] + sum_{i,a,c} w[o,i,a,c] * x[b,i, x0 + a - k/2, x1 + c - k/2]
 * (cross-correlation, PyTorch's Conv2d with padding_mode='circular'; indices mod L).
 * w (cout, cin, k, k), bias (cout): borrowed views into the param arena; dw, dbias the
 * same shapes in the grad arena. */
typedef struct LF_T(lf_conv2d) {
  int cin, cout, k;
  int L0, L1, V;
  LF_R *w, *bias;   /* borrowed: param arena */
  LF_R *dw, *dbias; /* borrowed: grad arena  */
} LF_T(lf_conv2d);

size_t LF_T(lf_conv2d_nparams)(int cin, int cout, int k);
/* Binds views: w = params[0 .. cout*cin*k*k), bias after it; same offsets in grads. */
void LF_T(lf_conv2d_bind)(LF_T(lf_conv2d) * c, int cin, int cout, int k, int L0, int L1,
                          LF_R *params, LF_R *grads);
/* Scratch (in LF_R elements) that forward/backward need for batch B; not kept between
 * calls, so layers may share one scratch buffer. */
size_t LF_T(lf_conv2d_ws_size)(const LF_T(lf_conv2d) * c, int B);
/* x (B,cin,V) -> y (B,cout,V), overwritten. */
void LF_T(lf_conv2d_forward)(const LF_T(lf_conv2d) * c, int B, const LF_R *x, LF_R *y, LF_R *ws);
/* dw, dbias += ...; dx (B,cin,V) += ... unless dx is NULL. */
void LF_T(lf_conv2d_backward)(LF_T(lf_conv2d) * c, int B, const LF_R *x, const LF_R *dy, LF_R *dx,
                              LF_R *ws);
/* The same with the algorithm forced (LF_CONV_AUTO = the two above). ws as above. */
void LF_T(lf_conv2d_forward_algo)(const LF_T(lf_conv2d) * c, int B, const LF_R *x, LF_R *y,
                                  LF_R *ws, lf_conv_algo algo);
void LF_T(lf_conv2d_backward_algo)(LF_T(lf_conv2d) * c, int B, const LF_R *x, const LF_R *dy,
                                   LF_R *dx, LF_R *ws, lf_conv_algo algo);
/* y = act(conv(x)) (B,cout,V), overwritten: the activation is applied to each output
 * before it is stored, so y is written once. Equals lf_conv2d_forward followed by
 * lf_act_forward(act, ..., y, y): bitwise for leaky_relu, to float rounding for tanh
 * (the kernels may contract multiply-adds). ws as above. */
void LF_T(lf_conv2d_forward_act)(const LF_T(lf_conv2d) * c, int B, const LF_R *x, LF_R *y, LF_R *ws,
                                 lf_act_kind act);
void LF_T(lf_conv2d_forward_act_algo)(const LF_T(lf_conv2d) * c, int B, const LF_R *x, LF_R *y,
                                      LF_R *ws, lf_act_kind act, lf_conv_algo algo);
/* Initializes w and bias: kaiming: U(-b, b), b = scale / sqrt(fan_in) for w and bias
 * (PyTorch's default Conv2d init is scale = 1); xavier: w ~ U(-b, b),
 * b = gain * sqrt(6 / (fan_in + fan_out)), bias = 0. fan_in = cin*k*k,
 * fan_out = cout*k*k. Draws come from key (LF_STREAM_INIT) at step 0, index
 * offset + (position of the parameter within this layer), so they are a pure function
 * of the seed and the parameter's place in the arena. */
void LF_T(lf_conv2d_init)(LF_T(lf_conv2d) * c, lf_init_kind kind, double scale, lf_rng_key key,
                          uint64_t offset);

/* ---- a stack of n convolutions: the context net of every coupling layer -------------
 * conv[0]: cin -> hidden[0], ..., conv[n-1]: hidden[n-2] -> cout, n = nhidden + 1, kernel
 * k; parameters laid out conv after conv. The hidden convs are followed by the activation
 * act, whose outputs post[0 .. n-2] (B, hidden[j], V) the forward pass keeps. */
size_t LF_T(lf_convnet_nparams)(int cin, int nhidden, const int *hidden, int cout, int k);
void LF_T(lf_convnet_bind)(LF_T(lf_conv2d) * conv, int cin, int nhidden, const int *hidden,
                           int cout, int k, int L0, int L1, LF_R *params, LF_R *grads);
/* Each conv initialized as lf_conv2d_init, offsets continuing from `offset`. */
void LF_T(lf_convnet_init)(LF_T(lf_conv2d) * conv, int n, lf_init_kind kind, double scale,
                           lf_rng_key key, uint64_t offset);
/* The largest conv scratch (lf_conv2d_ws_size) of the stack at batch B. */
size_t LF_T(lf_convnet_ws_size)(const LF_T(lf_conv2d) * conv, int n, int B);
/* The widest channel count of the stack, at least h. */
int LF_T(lf_convnet_hmax)(const LF_T(lf_conv2d) * conv, int n, int h);
/* Back through the stack (input netin (B, cin, V), saved post[]): on entry dout holds
 * dL/d(output of conv[n-1]); accumulates the parameter gradients. If want_dnetin, writes
 * dL/dnetin (B, cin, V) into dbuf and returns it, else returns NULL. dout and dbuf are
 * (B, hmax, V) buffers and both clobbered; ws is conv scratch. */
LF_R *LF_T(lf_convnet_backward)(LF_T(lf_conv2d) * conv, int n, lf_act_kind act, int B,
                                const LF_R *netin, LF_R *const *post, LF_R *dout, LF_R *dbuf,
                                LF_R *ws, int want_dnetin);

/* ---- elementwise activations over n values -------------------------------------------
 * forward writes y (may alias x); backward reads the forward INPUT x (leaky_relu) or
 * OUTPUT y (tanh), as named, and accumulates dx += f'(.) * dy. */
void LF_T(lf_act_forward)(lf_act_kind act, size_t n, const LF_R *x, LF_R *y);
void LF_T(lf_act_backward)(lf_act_kind act, size_t n, const LF_R *x, const LF_R *y, const LF_R *dy,
                           LF_R *dx);

/* ---- optimizers over one flat arena of n parameters ------------------------------------
 * One step t = 1, 2, ... with learning rate lr (the schedule's current value; cfg->lr
 * is only the initial one). m and v are the two moment arenas, same layout as p,
 * zeroed before step 1:
 *   adam:     m,v = first and second moments (Kingma & Ba, bias-corrected)
 *   sgd:      m = momentum buffer (PyTorch convention), v unused
 *   adadelta: m = E[g^2], v = E[dx^2] (Zeiler 2012; update scaled by lr, PyTorch)
 * weight_decay adds wd*p to g (L2, as PyTorch's non-decoupled form). */
void LF_T(lf_optim_step)(const lf_optim_cfg *cfg, double lr, uint64_t t, size_t n, LF_R *p,
                         const LF_R *g, LF_R *m, LF_R *v);
