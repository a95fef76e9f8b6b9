/* latflow/gauge_flow_t.h: template of the gauge-flow declarations (included by
 * latflow/gauge_flow.h once per precision). No include guard on purpose.
 *
 * ---- circular rational-quadratic spline (Durkan et al., arXiv 1906.04032, section 3.1;
 * circular form: Rezende et al., arXiv 2002.02428, section 3) ----------------------------
 * A monotone bijection of [0, 2 pi) onto itself with f(0) = 0, f(2 pi) = 2 pi and K bins.
 * Unconstrained parameters u (3K, element j at u[j * stride]):
 *   widths   w_k = 2 pi (m + (1 - K m) softmax(u[0..K))_k),   m = LF_RQS_MIN_BIN
 *   heights  h_k = 2 pi (m + (1 - K m) softmax(u[K..2K))_k)
 *   slopes   d_k = LF_RQS_MIN_DERIV + softplus(u[2K + k] + c), k = 0..K-1, and d_K = d_0
 *            (the slope at 0 equals the slope at 2 pi: f is C^1 on the circle);
 *            c = log(e^(1 - LF_RQS_MIN_DERIV) - 1), so d_k = 1 at u = 0.
 * At u = 0 the spline is the identity (equal bins, unit slopes). In bin k, with
 * xi = (x - x_k)/w_k, s = h_k/w_k (Durkan eq. 4 and 5):
 *   f(x) = y_k + h_k [s xi^2 + d_k xi(1-xi)] / [s + (d_k + d_{k+1} - 2s) xi(1-xi)]
 *   f'(x) = s^2 [d_{k+1} xi^2 + 2 s xi(1-xi) + d_k (1-xi)^2] / [s + (...) xi(1-xi)]^2
 * Inputs outside [0, 2 pi) are the caller's business (the layers wrap first); an input
 * just outside (rounding) uses the end bin. K in [1, LF_RQS_KMAX]. Local, never fails.
 *   _forward:  returns y = f(x), *logj = log f'(x)
 *   _inverse:  returns x = f^-1(y) (Durkan eq. 6-8), *logj = log dx/dy = -log f'(x)
 *   _backward: for a loss with dL/dy = gy and dL/dlogj = gl at the forward input x,
 *              du[j*dstride] += dL/du_j and returns dL/dx
 *   _inverse_backward: for the inverse, given its OUTPUT x, dL/dx = gx and dL/dlogj = gl
 *              of the inverse's logj: du += dL/du and returns dL/dy.
 * du may be NULL (no parameter gradient). */
LF_R LF_T(lf_rqs_forward)(int K, const LF_R *u, size_t stride, LF_R x, LF_R *logj);
LF_R LF_T(lf_rqs_inverse)(int K, const LF_R *u, size_t stride, LF_R y, LF_R *logj);
LF_R LF_T(lf_rqs_backward)(int K, const LF_R *u, size_t stride, LF_R x, LF_R gy, LF_R gl, LF_R *du,
                           size_t dstride);
LF_R LF_T(lf_rqs_inverse_backward)(int K, const LF_R *u, size_t stride, LF_R x, LF_R gx, LF_R gl,
                                   LF_R *du, size_t dstride);

/* ---- gauge-equivariant coupling for 2D U(1) (Kanwar et al., PRL 125, 121601 (2020);
 * masks of the tutorial Albergo et al., arXiv 2101.08176, section IV) ------------------
 * Fields: link angles (B, 2, V): theta_0 at all sites v = x0*L1 + x1, then theta_1.
 * Plaquette P(x) = theta_0(x) + theta_1(x+0^) - theta_0(x+1^) - theta_1(x).
 * A layer with direction mu (0, 1) and offset off (0..3), nu = 1 - mu, classifies the
 * plaquettes by c = (x_nu - off) mod 4 (stripes along mu, period 4 along nu):
 *   c = 0 active, c = 1, 2 frozen, c = 3 passive.
 * Active links: theta_mu(x) with c(x) = 0. Each belongs to exactly one active plaquette
 * P(x) (sign sigma = +1 for mu = 0, -1 for mu = 1) and one passive one; frozen
 * plaquettes contain no active link. Forward (z -> theta):
 *   u = net(frozen * (cos P, sin P))        net: conv(2 -> h1) act ... conv(-> 3K), linear
 *   P~ = P mod 2 pi in [0, 2 pi),  P' = spline_u(x)(P~)           (active plaquettes)
 *   theta_mu(x) -> (theta_mu(x) + sigma (P' - P~)) mod 2 pi       (active links)
 * so the active plaquette becomes P' (mod 2 pi); all other links are copied unchanged.
 *   log|det| = sum over active plaquettes of log spline'(P~).
 * The update is a function of gauge-invariant plaquettes only, so the layer commutes
 * with gauge transformations theta_mu(x) -> theta_mu(x) + a(x) - a(x+mu^) (mod 2 pi).
 * The inverse reads the same frozen plaquettes from theta and inverts the spline.
 * Needs L0 and L1 multiples of 4. Logdet, backward and workspace conventions as the
 * affine coupling (latflow/flow_t.h): logdet ACCUMULATED, backward ACCUMULATES into
 * parameter grads and d_in; ws is a per-call saved workspace, scratch shared. */
typedef struct LF_T(lf_gcoupling) {
  int L0, L1, V;
  int mu, off; /* mask: direction and offset */
  int K;       /* spline bins */
  int nconv;   /* nhidden + 1 conv layers */
  LF_T(lf_conv2d) conv[LF_MAX_HIDDEN + 1];
  lf_act_kind act; /* hidden activation */
} LF_T(lf_gcoupling);

size_t LF_T(lf_gcoupling_nparams)(int K, int nhidden, const int *hidden, int kernel);
void LF_T(lf_gcoupling_bind)(LF_T(lf_gcoupling) * c, int L0, int L1, int mu, int off, int K,
                             int nhidden, const int *hidden, int kernel, lf_act_kind act,
                             LF_R *params, LF_R *grads);
size_t LF_T(lf_gcoupling_ws_size)(const LF_T(lf_gcoupling) * c, int B);
size_t LF_T(lf_gcoupling_scratch_size)(const LF_T(lf_gcoupling) * c, int B);
void LF_T(lf_gcoupling_init)(LF_T(lf_gcoupling) * c, lf_init_kind kind, double scale,
                             lf_rng_key key, uint64_t offset);
/* Plaquette class of site v for this layer: 0 active, 1 frozen, 2 passive. */
int LF_T(lf_gcoupling_plaq_class)(const LF_T(lf_gcoupling) * c, int v);
void LF_T(lf_gcoupling_forward)(const LF_T(lf_gcoupling) * c, int B, const LF_R *x, LF_R *y,
                                double *logdet, LF_R *ws, LF_R *scratch);
void LF_T(lf_gcoupling_backward)(LF_T(lf_gcoupling) * c, int B, const LF_R *x, const LF_R *dy,
                                 const double *dlogdet, LF_R *dx, const LF_R *ws, LF_R *scratch);
void LF_T(lf_gcoupling_inverse)(const LF_T(lf_gcoupling) * c, int B, const LF_R *y, LF_R *x,
                                double *logdet, LF_R *ws, LF_R *scratch);
void LF_T(lf_gcoupling_inverse_backward)(LF_T(lf_gcoupling) * c, int B, const LF_R *y,
                                         const LF_R *dx, const double *dlogdet, LF_R *dy,
                                         const LF_R *ws, LF_R *scratch);

/* The gauge coupling as a layer of the stack (latflow/flow_t.h, cfg->coupling == spline):
 * layer i has mu = i % 2, off = (i / 2) % 4 (8 layers visit every mask once), K =
 * cfg->spline_bins; the stack needs C = 2 and L0, L1 multiples of 4 (LF_ERR_INVALID). */
extern const LF_T(lf_layer_ops) LF_T(lf_gcoupling_ops);
