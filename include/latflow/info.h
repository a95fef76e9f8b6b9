/* latflow/info.h: what a latflow file holds (src/driver/info.c; the driver of `latflow
 * info`).
 *
 * For every kind of file latflow writes (docs/FORMAT.md: model, train, ensemble from
 * sample, hmc or latflow-merge, the train, sample and hmc checkpoints, studies) lf_info_read
 * collects into one JSON object: "file", "kind" (the file's latflow_format), "format_version",
 * "theory" (name, shape and the couplings the action reads), "model" (architecture and
 * parameter count: of a model file, of the model an ensemble was sampled with, of the
 * model a train checkpoint holds), "training" (steps, final loss, the last evaluation on
 * fresh samples, seconds: train files, and model files through the train.h5 of the same
 * run beside them), "chains" (chains, rows, steps, accepted, acceptance: ensembles and
 * sample/hmc checkpoints), "study" (name, protocol, points, done, grid keys, x, targets,
 * volumes, root: study files, whose "theory" is the base card's) and "provenance" (latflow version,
 * git revision, compiler, created_utc, seed, ranks, the stored card's FNV-1a 64 hash and its text).
 * Fields a file does not have are absent (or null where the kind would have them).
 *
 * Local: one process, reads only (the io readers; lf_io_model_load checks a model's hash).
 * Errors: LF_ERR_USAGE (exit 2) for a missing or unreadable path or a file that is not
 * latflow's (not HDF5, e.g. a YAML card; empty; HDF5 without latflow_format), naming it;
 * the readers' errors (LF_ERR_FORMAT for a damaged or newer file, LF_ERR_HDF5, LF_ERR_IO
 * for a locked one, LF_ERR_NOMEM) otherwise. */
#ifndef LATFLOW_INFO_H
#define LATFLOW_INFO_H

#include "latflow/status.h"

#include <cjson/cJSON.h>
#include <stdio.h>

/* Adds what the file at path holds to json (described above). On failure json may hold
 * part of it. */
lf_status lf_info_read(const char *path, cJSON *json);

/* Prints the object of lf_info_read as a few aligned lines for people to f. */
void lf_info_print(FILE *f, const cJSON *json);

#endif
