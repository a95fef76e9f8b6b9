/* The resume hint of the pipelines' messages (latflow/driver.h): one string, set once by
 * the command line. */
#include "latflow/driver.h"

#include <stdio.h>

static char hint[8192];

void lf_driver_set_resume_hint(const char *h) {
  snprintf(hint, sizeof hint, "%s", h ? h : "");
}

const char *lf_driver_resume_hint(void) {
  return hint[0] ? hint : "continue with --resume";
}
