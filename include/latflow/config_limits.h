/* latflow/config_limits.h: sizes of the fixed buffers of the run card's structs (paths,
 * names, the observables list), shared by the section headers (latflow/config_*.h).
 * Constants only. */
#ifndef LATFLOW_CONFIG_LIMITS_H
#define LATFLOW_CONFIG_LIMITS_H

#define LF_PATH_MAX 1024
#define LF_MAX_OBS 16
#define LF_NAME_MAX 32

#endif
