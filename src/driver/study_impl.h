/* src/driver/study_impl.h: what the files of the study engine share (study.c,
 * study_json.c, study_run.c); the public side is latflow/study_run.h. Local functions. */
#ifndef LATFLOW_STUDY_IMPL_H
#define LATFLOW_STUDY_IMPL_H

#include "latflow/study_run.h"

/* Point k's object (k = -1: the root): index, label, set, parent, dir, done and, when
 * done, the measurements; with_curve adds the evaluation curve (point.json). NULL on no
 * memory. */
cJSON *lf_study_point_json(const lf_study *st, int k, int with_curve);
/* Writes json (pretty) to path atomically (path.tmp, fsync, rename). LF_ERR_IO. */
lf_status lf_study_write_json_file(const char *path, const cJSON *json);
/* Reads a point.json (or root.json) written by the above into *r (its curve allocated;
 * targets as sp lists them). LF_ERR_IO, LF_ERR_FORMAT (not a finished point's object). */
lf_status lf_study_read_point_json(const char *path, const lf_study_spec *sp, lf_study_result *r);

#endif
