/* latflow/prec_template.h: declares a template header (a *_t.h written over LF_R and
 * LF_T, see src/core/prec.h) in both precisions, float (_f) then double (_d). Use:
 *   #define LF_TEMPLATE "latflow/flow_t.h"
 *   #include "latflow/prec_template.h"
 * LF_TEMPLATE is undefined afterwards. No include guard on purpose. */
#define LF_R float
#define LF_T(name) name##_f
#include LF_TEMPLATE
#undef LF_R
#undef LF_T

#define LF_R double
#define LF_T(name) name##_d
#include LF_TEMPLATE
#undef LF_R
#undef LF_T

#undef LF_TEMPLATE
