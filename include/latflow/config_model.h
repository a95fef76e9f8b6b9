/* latflow/config_model.h: the model section of the run card (lf_model_cfg: the flow's
 * base, layers, network and precision), part of lf_config (latflow/config.h; keys and
 * ranges in docs/CONFIG.md). Types only. */
#ifndef LATFLOW_CONFIG_MODEL_H
#define LATFLOW_CONFIG_MODEL_H

#define LF_MAX_HIDDEN 8

typedef enum lf_base_kind {
  LF_BASE_NORMAL = 0,
  LF_BASE_FREE_FIELD = 1,
  LF_BASE_HAAR = 2,
  LF_BASE_PLAQUETTE = 3
} lf_base_kind;
typedef enum lf_act_kind { LF_ACT_LEAKY_RELU = 0, LF_ACT_TANH = 1 } lf_act_kind;
typedef enum lf_coupling_kind { LF_COUPLING_AFFINE = 0, LF_COUPLING_SPLINE = 1 } lf_coupling_kind;
typedef enum lf_init_kind { LF_INIT_KAIMING = 0, LF_INIT_XAVIER = 1 } lf_init_kind;
typedef enum lf_precision { LF_PREC_F32 = 0, LF_PREC_F64 = 1 } lf_precision;

typedef struct lf_model_cfg {
  lf_base_kind base;         /* model.base: normal | free_field | haar | plaquette */
  double base_mass;          /* model.base_mass: initial mass of free_field, > 0; 1.0 */
  double base_beta;          /* model.base_beta >= 0: plaquette's initial weight
                                exp(base_beta cos theta_P); default theory.beta       */
  int layers;                /* model.layers >= 1; default 16                          */
  int hidden[LF_MAX_HIDDEN]; /* model.hidden: 1..8 entries, each >= 1; default [8, 8]  */
  int nhidden;
  int kernel;                /* model.kernel: odd, >= 1; default 3                     */
  lf_act_kind activation;    /* model.activation: leaky_relu | tanh                    */
  lf_coupling_kind coupling; /* model.coupling: affine | spline                        */
  int spline_bins;           /* model.spline_bins in [1, 64]: bins per spline; default 8 */
  lf_init_kind init;         /* model.init.scheme: kaiming | xavier                    */
  double init_scale;         /* model.init.scale (kaiming width scale / xavier gain) > 0 */
  lf_precision precision;    /* model.precision: single | double                       */
} lf_model_cfg;

#endif
