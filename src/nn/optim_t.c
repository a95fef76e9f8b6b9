/* Optimizer steps over one flat parameter arena, written once over LF_R.
 * Contract: include/latflow/nn_t.h. The formulas are PyTorch's (torch.optim, defaults
 * amsgrad=False, dampening=0, nesterov=False, maximize=False):
 *   g  = grad + wd * p
 *   adam:     m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *             p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)   (Kingma & Ba 2015)
 *   sgd:      m = momentum m + g;  p -= lr m          (momentum = 0: p -= lr g)
 *   adadelta: m = rho m + (1-rho) g^2;  d = sqrt(v + eps) / sqrt(m + eps) * g;
 *             v = rho v + (1-rho) d^2;  p -= lr d          (Zeiler 2012)
 * Arithmetic runs in the arena's precision; only the bias corrections are formed in
 * double (pow of t). */
#include "latflow/nn.h"

#include "core/prec.h"

#include <math.h>

void LF_T(lf_optim_step)(const lf_optim_cfg *cfg, double lr, uint64_t t, size_t n, LF_R *p,
                         const LF_R *g, LF_R *m, LF_R *v) {
  const LF_R wd = (LF_R)cfg->weight_decay;
  const LF_R lrr = (LF_R)lr;
  switch (cfg->name) {
  case LF_OPT_ADAM: {
    /* 1 - beta is formed in double: 1 - 0.999f in float is off by 5e-5 relative */
    const LF_R b1 = (LF_R)cfg->beta1, b2 = (LF_R)cfg->beta2, eps = (LF_R)cfg->eps;
    const LF_R a1 = (LF_R)(1.0 - cfg->beta1), a2 = (LF_R)(1.0 - cfg->beta2);
    const double td = (double)(t ? t : 1);
    const LF_R c1 = (LF_R)(1.0 / (1.0 - pow(cfg->beta1, td)));
    const LF_R c2 = (LF_R)(1.0 / (1.0 - pow(cfg->beta2, td)));
    for (size_t i = 0; i < n; i++) {
      const LF_R gi = g[i] + wd * p[i];
      m[i] = b1 * m[i] + a1 * gi;
      v[i] = b2 * v[i] + a2 * gi * gi;
      p[i] -= lrr * (m[i] * c1) / (LF_SQRT(v[i] * c2) + eps);
    }
    break;
  }
  case LF_OPT_SGD: {
    const LF_R mu = (LF_R)cfg->momentum;
    if (cfg->momentum == 0.0) {
      for (size_t i = 0; i < n; i++) p[i] -= lrr * (g[i] + wd * p[i]);
    } else {
      for (size_t i = 0; i < n; i++) {
        m[i] = mu * m[i] + (g[i] + wd * p[i]);
        p[i] -= lrr * m[i];
      }
    }
    break;
  }
  case LF_OPT_ADADELTA: {
    const LF_R rho = (LF_R)cfg->rho, eps = (LF_R)cfg->eps, a = (LF_R)(1.0 - cfg->rho);
    for (size_t i = 0; i < n; i++) {
      const LF_R gi = g[i] + wd * p[i];
      m[i] = rho * m[i] + a * gi * gi;
      const LF_R d = LF_SQRT(v[i] + eps) / LF_SQRT(m[i] + eps) * gi;
      v[i] = rho * v[i] + a * d * d;
      p[i] -= lrr * d;
    }
    break;
  }
  }
}
