/* Layering probe (CMakeLists.txt): compiles only where the area may include src/nn's
 * private headers. */
#include "nn/vmath.h"

int lf_probe_nn_private(void);
int lf_probe_nn_private(void) {
  return 0;
}
