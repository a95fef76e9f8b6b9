/* latflow/flow_t.h: template of the flow declarations (included by latflow/flow.h once
 * per precision). No include guard on purpose. The layer interface (lf_layer_ops), the
 * affine coupling and the generic stack of layers (lf_flow).
 *
 * Affine coupling with a checkerboard mask (real NVP; Albergo et al., arXiv 2101.08176):
 * a layer of parity p updates the sites with (x0+x1) % 2 == p ("active") and leaves the
 * others ("frozen"). With m = 1 on frozen sites and 0 on active ones,
 *   (s, t) = net(m * x)                  net: conv(C -> h1) act ... conv(-> 2C) tanh
 *   y = m * x + (1 - m) * (x * exp(s) + t)
 *   log|det dy/dx| = sum over active sites and components of s
 * s = channels [0, C), t = channels [C, 2C) of the net output; the final tanh acts on
 * both (as in the tutorial notebook). Layer i of a flow has parity i % 2.
 * Inverse: x = m * y + (1 - m) * (y - t) * exp(-s) with (s,t) = net(m * y), and
 * log|det dx/dy| = -sum s.
 *
 * Shapes: fields x, y, z, phi and their gradients (B, C, V); logdet, dlogdet (B).
 * logdet outputs are ACCUMULATED (+=) by layers and OVERWRITTEN by the stack; backward
 * functions ACCUMULATE into parameter gradients and into d_in. ws is a per-layer saved
 * workspace (what backward needs from the forward or inverse call with the same B);
 * scratch is shared temporary space. Kernels never allocate or fail. */

/* ---- the layer interface: what the stack needs of one coupling layer ------------------
 * A coupling kind is one source file that fills this table (lf_coupling_ops,
 * lf_gcoupling_ops), its lf_coupling_kind (model.coupling) and one line in
 * lf_layer_ops_of (src/flow/flowstack_t.c). `layer`
 * points at an object of the kind's own type, bound by `bind`; shapes and accumulation
 * conventions as above. */
typedef struct LF_T(lf_layer_ops) {
  const char *what; /* the stack's name in messages ("flow", "gauge flow") */
  size_t size;      /* bytes of one layer object */
  /* Kind-specific checks of cfg and shape (the stack checks layers, hidden, kernel, Bmax). */
  lf_status (*check)(const lf_model_cfg *cfg, const lf_flow_shape *sh);
  size_t (*nparams)(const lf_model_cfg *cfg, int C); /* of one layer */
  /* Layer i of the stack on params/grads (borrowed, npl entries each). */
  void (*bind)(void *layer, const lf_model_cfg *cfg, const lf_flow_shape *sh, int i, LF_R *params,
               LF_R *grads);
  /* Saved workspace per call and shared scratch (LF_R elements) at batch B; both about
   * linear in B (the stack checks its totals for overflow from the sizes at B = 1). */
  size_t (*ws_size)(const void *layer, int B);
  size_t (*scratch_size)(const void *layer, int B);
  void (*init)(void *layer, lf_init_kind kind, double scale, lf_rng_key key, uint64_t offset);
  double (*madds)(const void *layer); /* conv multiply-adds per site of one forward */
  void (*forward)(const void *layer, int B, const LF_R *x, LF_R *y, double *logdet, LF_R *ws,
                  LF_R *scratch);
  void (*inverse)(const void *layer, int B, const LF_R *y, LF_R *x, double *logdet, LF_R *ws,
                  LF_R *scratch);
  void (*backward)(void *layer, int B, const LF_R *x, const LF_R *dy, const double *dlogdet,
                   LF_R *dx, const LF_R *ws, LF_R *scratch);
  void (*inverse_backward)(void *layer, int B, const LF_R *y, const LF_R *dx, const double *dlogdet,
                           LF_R *dy, const LF_R *ws, LF_R *scratch);
  /* Optional (NULL: the stack runs forward over a shared workspace): the forward that
   * saves nothing, over chunks of samples; bytes of one sample's chunk buffers, and the
   * scratch of a chunk of B samples. */
  void (*forward_nograd)(const void *layer, int B, const LF_R *x, LF_R *y, double *logdet,
                         LF_R *scratch);
  size_t (*nograd_sample_bytes)(const void *layer);
  size_t (*nograd_scratch_size)(const void *layer, int B);
} LF_T(lf_layer_ops);

typedef struct LF_T(lf_coupling) {
  int C, L0, L1, V;
  int parity; /* updated sites: (x0+x1)%2 == parity */
  int nconv;  /* nhidden + 1 conv layers */
  LF_T(lf_conv2d) conv[LF_MAX_HIDDEN + 1];
  lf_act_kind act;                  /* hidden activation */
  const unsigned char *site_parity; /* (V) borrowed: (x0+x1)%2 */
} LF_T(lf_coupling);

size_t LF_T(lf_coupling_nparams)(int C, int nhidden, const int *hidden, int kernel);
void LF_T(lf_coupling_bind)(LF_T(lf_coupling) * c, int C, int L0, int L1, int parity, int nhidden,
                            const int *hidden, int kernel, lf_act_kind act,
                            const unsigned char *site_parity, LF_R *params, LF_R *grads);
/* Saved workspace per call (LF_R elements) and shared scratch for batch B. */
size_t LF_T(lf_coupling_ws_size)(const LF_T(lf_coupling) * c, int B);
size_t LF_T(lf_coupling_scratch_size)(const LF_T(lf_coupling) * c, int B);
void LF_T(lf_coupling_init)(LF_T(lf_coupling) * c, lf_init_kind kind, double scale, lf_rng_key key,
                            uint64_t offset);

void LF_T(lf_coupling_forward)(const LF_T(lf_coupling) * c, int B, const LF_R *x, LF_R *y,
                               double *logdet, LF_R *ws, LF_R *scratch);
void LF_T(lf_coupling_backward)(LF_T(lf_coupling) * c, int B, const LF_R *x, const LF_R *dy,
                                const double *dlogdet, LF_R *dx, const LF_R *ws, LF_R *scratch);
void LF_T(lf_coupling_inverse)(const LF_T(lf_coupling) * c, int B, const LF_R *y, LF_R *x,
                               double *logdet, LF_R *ws, LF_R *scratch);
/* The forward without a backward to follow (sampling): same y and logdet (accumulated),
 * bit for bit, but nothing is saved; every intermediate lives in scratch, of
 * lf_coupling_nograd_scratch_size(c, B) elements. y may alias x. */
size_t LF_T(lf_coupling_nograd_scratch_size)(const LF_T(lf_coupling) * c, int B);
void LF_T(lf_coupling_forward_nograd)(const LF_T(lf_coupling) * c, int B, const LF_R *x, LF_R *y,
                                      double *logdet, LF_R *scratch);
/* The affine update of lf_coupling_forward from the net's output st (B, 2C, V) = (s, t):
 * y = x on frozen sites, x e^s + t on active ones, logdet += sum of active s; at SIMD
 * level isa (the forwards use lf_nn_isa_current()). The same bits at every level. y may
 * alias x. */
void LF_T(lf_coupling_update)(const LF_T(lf_coupling) * c, int B, const LF_R *x, const LF_R *st,
                              LF_R *y, double *logdet, lf_nn_isa isa);
/* Gradient of the inverse: given dL/dx and dL/dlogdet of the last inverse call on y,
 * accumulates parameter gradients and dy += dL/dy.
 * In both backward functions dlogdet may be NULL (zero) and the input gradient (dx of
 * _backward, dy of _inverse_backward) may be NULL when it is not wanted (this skips the
 * first conv's input gradient). Output and input gradients must not alias. */
void LF_T(lf_coupling_inverse_backward)(LF_T(lf_coupling) * c, int B, const LF_R *y, const LF_R *dx,
                                        const double *dlogdet, LF_R *dy, const LF_R *ws,
                                        LF_R *scratch);

/* The affine coupling as a layer of the stack (parity i % 2 for layer i): */
extern const LF_T(lf_layer_ops) LF_T(lf_coupling_ops);

/* ---- the stack: layers 0..n-1 from z to phi, one coupling kind (cfg->coupling) --------
 * Owns its layer array, saved workspaces, intermediate fields and scratch for batch up
 * to Bmax; parameters and gradients are borrowed (the model's arenas, at offset 0).
 * Layer i's parameters follow those of layer i-1. */
typedef struct LF_T(lf_flow) {
  const LF_T(lf_layer_ops) * ops; /* borrowed (static table): the layers' operations */
  int nlayers, C, L0, L1, V, Bmax;
  void *layers;        /* owned: nlayers objects of ops->size bytes (lf_flow_layer) */
  size_t npl;          /* parameters per layer */
  LF_R *ws;            /* owned: saved workspaces of all layers at Bmax */
  LF_R *xs;            /* owned: (nlayers+1, Bmax, C*V) fields between layers */
  LF_R *dxs;           /* owned: 2 x (Bmax, C*V) gradient ping-pong buffers */
  LF_R *scratch;       /* owned */
  LF_R *tmp;           /* owned when ops->forward_nograd is NULL: one layer's ws + 2 fields */
  size_t ws_per_layer; /* at Bmax */
  int nograd_only;     /* 1: built by lf_flow_init_nograd (ws, xs, dxs not allocated) */
} LF_T(lf_flow);

/* The layer operations of a coupling kind; NULL for an unknown kind. */
const LF_T(lf_layer_ops) * LF_T(lf_layer_ops_of)(lf_coupling_kind kind);
/* Parameters of the stack of cfg->layers layers of kind cfg->coupling with C components. */
size_t LF_T(lf_flow_nparams)(const lf_model_cfg *cfg, int C);
/* Builds the stack of cfg->coupling layers (affine: latflow/flow_t.h; spline: the gauge
 * layers of latflow/gauge_flow_t.h, which need C = 2, ignore site_parity and read
 * cfg->spline_bins). LF_ERR_NOMEM, LF_ERR_INVALID. site_parity (V) is borrowed and must
 * outlive the flow (affine only; may be NULL for the gauge layers). */
lf_status LF_T(lf_flow_init)(LF_T(lf_flow) * f, const lf_model_cfg *cfg, int C, int L0, int L1,
                             const unsigned char *site_parity, LF_R *params, LF_R *grads, int Bmax);
/* The same stack for sampling only: lf_flow_forward_nograd (and the parameter functions)
 * work; the saved workspaces, the fields between layers and the gradient buffers of the
 * training path are not allocated, so forward, backward, inverse and inverse_backward must
 * not be called (caller bug). Same arguments and errors as lf_flow_init. */
lf_status LF_T(lf_flow_init_nograd)(LF_T(lf_flow) * f, const lf_model_cfg *cfg, int C, int L0,
                                    int L1, const unsigned char *site_parity, LF_R *params,
                                    LF_R *grads, int Bmax);
void LF_T(lf_flow_free)(LF_T(lf_flow) * f);
/* Layer i (0 <= i < nlayers), an object of the coupling's type (lf_coupling, lf_gcoupling). */
void *LF_T(lf_flow_layer)(const LF_T(lf_flow) * f, int i);
void LF_T(lf_flow_init_params)(LF_T(lf_flow) * f, lf_init_kind kind, double scale, lf_rng_key key,
                               uint64_t offset);
/* Conv multiply-adds of one forward pass per sample. */
double LF_T(lf_flow_forward_madds)(const LF_T(lf_flow) * f);
/* phi = f(z); logdet = log|det dphi/dz| (overwritten). B <= Bmax. */
void LF_T(lf_flow_forward)(LF_T(lf_flow) * f, int B, const LF_R *z, LF_R *phi, double *logdet);
/* phi = f(z) and logdet as lf_flow_forward, bit for bit, for sampling: nothing is saved
 * (no backward may follow; the saved state of an earlier call is left intact). With a
 * layer forward_nograd, chunks of samples pass through all layers in cache; otherwise the
 * layers ping-pong between two fields of tmp sharing one saved workspace. phi may alias
 * z. B <= Bmax. */
void LF_T(lf_flow_forward_nograd)(LF_T(lf_flow) * f, int B, const LF_R *z, LF_R *phi,
                                  double *logdet);
/* After forward: param grads += ...; dz = dL/dz (OVERWRITTEN; may be NULL). dphi may be
 * NULL (zero), dlogdet may be NULL (zero). */
void LF_T(lf_flow_backward)(LF_T(lf_flow) * f, int B, const LF_R *dphi, const double *dlogdet,
                            LF_R *dz);
/* z = f^-1(phi); logdet = log|det dz/dphi| (overwritten). */
void LF_T(lf_flow_inverse)(LF_T(lf_flow) * f, int B, const LF_R *phi, LF_R *z, double *logdet);
/* After inverse: param grads += ...; dphi = dL/dphi (OVERWRITTEN; may be NULL). */
void LF_T(lf_flow_inverse_backward)(LF_T(lf_flow) * f, int B, const LF_R *dz, const double *dlogdet,
                                    LF_R *dphi);
/* Sum over the convs of cin * cout * k^2 (multiply-adds per site of one net pass); for the
 * layers' madds operation. */
double LF_T(lf_flow_conv_madds)(const LF_T(lf_conv2d) * conv, int nconv);
