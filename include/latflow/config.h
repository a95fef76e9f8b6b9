/* latflow/config.h: the run card (YAML, libyaml) as typed, validated structs.
 *
 * Sections and keys follow DESIGN.md section 3; docs/CONFIG.md is the full reference
 * (every key, its type, default and range). Parsing loads the text with libyaml's document
 * API (never keeps pointers into it), applies every key found over the current contents of
 * an lf_config (normally lf_config_defaults()), and validates each key as it is read, then
 * the cross-key rules. Unknown keys, duplicate keys, wrong types and out-of-range values
 * are errors. Block and flow style both work.
 *
 * Errors are LF_ERR_CONFIG (LF_ERR_IO for an unreadable file, LF_ERR_NOMEM) and the
 * message, read with lf_last_error(), always has the form
 *     <source>:<line>: <dotted.key>: <what>   ("run.yaml:7: train.batch: must be > 0, got -3")
 *     <source>:<line>: unknown key '<dotted.key>' (did you mean '<key>'?)
 *     <source>:<line>:<column>: YAML syntax error: <libyaml's problem> (<context> at line N)
 * where <line> is the 1-based line of the offending key (or list entry / value). Overrides
 * use "--set" as the source and print no line ("--set: train.batch: must be > 0, got -3").
 * A cross-key error about a key that the parsed text did not give names the source the
 * config came from before, without a line ("<default>: observables: ...").
 *
 * Defaults that depend on another key: train.optimizer.lr and .eps depend on the optimizer
 * name (adam 1e-3 / 1e-8, sgd 1e-2 / 1e-8, adadelta 1.0 / 1e-6) and observables on the
 * theory, unless the key was given explicitly in some parsed text or override; the `given`
 * mask (LF_CONFIG_GIVEN_*) remembers which were.
 *
 * Strings are copied into fixed buffers; an lf_config owns no heap memory (copy it by
 * assignment; nothing to free). Every function is local and never does MPI.
 *
 * Each section's struct and enums have their own header, so that a module sees only the
 * settings it uses: latflow/config_theory.h (lf_theory_cfg), config_model.h (lf_model_cfg),
 * config_optim.h (lf_optim_cfg), config_train.h (lf_train_cfg), config_sample.h
 * (lf_sample_cfg), config_hmc.h (lf_hmc_cfg); buffer sizes in config_limits.h. This header
 * includes them all and adds lf_config and the functions that read and write it. */
#ifndef LATFLOW_CONFIG_H
#define LATFLOW_CONFIG_H

#include "latflow/config_hmc.h"
#include "latflow/config_limits.h"
#include "latflow/config_model.h"
#include "latflow/config_sample.h"
#include "latflow/config_theory.h"
#include "latflow/config_train.h"
#include "latflow/status.h"

#include <stdint.h>
#include <stdio.h>

/* The longest file name a run writes inside its output folder (output keys are refused
 * when output + '/' + such a name would not fit LF_PATH_MAX). */
#define LF_OUTPUT_NAME_MAX 64
/* Hostile-input limits of a card (file, --set value or stored text): its size in bytes and
 * the nesting depth of its mappings and lists (a real card nests 3 deep). */
#define LF_CONFIG_MAX_BYTES (1 << 20)
#define LF_CONFIG_MAX_DEPTH 32

/* Bits of lf_config.given: keys with a name-dependent default that were set explicitly. */
#define LF_CONFIG_GIVEN_LR 0x1u          /* train.optimizer.lr  */
#define LF_CONFIG_GIVEN_EPS 0x2u         /* train.optimizer.eps */
#define LF_CONFIG_GIVEN_OBSERVABLES 0x4u /* observables         */
#define LF_CONFIG_GIVEN_BASE 0x8u        /* model.base: haar for u1/schwinger, else normal   */
#define LF_CONFIG_GIVEN_COUPLING 0x10u   /* model.coupling: spline for u1/schwinger, else affine */
#define LF_CONFIG_GIVEN_BASE_BETA 0x40u  /* model.base_beta: theory.beta                   */
#define LF_CONFIG_GIVEN_LOGDET                                                                     \
  0x20u /* theory.logdet: a stored card without it predates the                                    \
           key (its determinant was dense; lf_ckpt_compat) */

typedef struct lf_config {
  char source[LF_PATH_MAX]; /* file the card came from, or "<default>"           */
  unsigned given;           /* LF_CONFIG_GIVEN_* (not a key; not compared)        */
  uint64_t seed;            /* seed: >= 0; default 1234                           */
  char output[LF_PATH_MAX]; /* output: directory; default "runs/quickstart"       */
  int nobs;                 /* observables: names valid for the theory             */
  char observables[LF_MAX_OBS][LF_NAME_MAX];
  lf_theory_cfg theory;
  lf_model_cfg model;
  lf_train_cfg train;
  lf_sample_cfg sample;
  lf_hmc_cfg hmc;
} lf_config;

/* The built-in quickstart card as YAML text (phi^4, L=8, m2=-4, lambda=8, 16 affine
 * layers, hidden [8,8], kernel 3, batch 64, Adam 1e-3, 3000 steps). */
const char *lf_config_default_yaml(void);

/* Fills cfg with every default (the same values as the quickstart card). */
void lf_config_defaults(lf_config *cfg);

/* Parses YAML text over the current contents of cfg (keys not given keep their value),
 * then validates; on success cfg->source = source. `source` names the text in messages (a
 * path or "<default>"; NULL means "<string>"). On any error cfg is left unchanged. */
lf_status lf_config_parse_string(lf_config *cfg, const char *text, const char *source);

/* lf_config_defaults + parse of the file at path (cfg holds the defaults after a failure).
 * I/O errors are LF_ERR_IO ("<path>: cannot open config: <strerror>"). */
lf_status lf_config_load(lf_config *cfg, const char *path);

/* Applies one override "key=value" (dotted key, YAML scalar or flow value such as
 * "[16,16]" or "{name: sgd}"; the key may name a whole section), as given on the command
 * line by --set; messages name "--set" and carry no line. "key=" sets null (an error for
 * most keys; clears train.init_from). Validates the whole config afterwards; on any error
 * cfg is left unchanged. */
lf_status lf_config_set(lf_config *cfg, const char *assignment);

/* Applies n overrides in order, like n calls of lf_config_set, but checks the cross-key
 * rules once, on the result: keys that must change together (theory.m2 and theory.lambda,
 * theory.name and observables) may come in separate overrides. A later override of a key
 * wins. On any error cfg is left unchanged (none of the n is applied). */
lf_status lf_config_set_list(lf_config *cfg, int n, const char *const *assignments);

/* Checks cross-key consistency (even shape for checkerboards, batch_max >= batch, a
 * normalizable phi4 action, ...). Called by the functions above; exposed for code that
 * edits a config. It leaves out the flow's rules (lf_config_validate_flow), so a card that
 * only runs HMC or is read back from a file is not refused for a flow it never builds. */
lf_status lf_config_validate(const lf_config *cfg);

/* lf_config_validate plus the rules of the flow the model section describes (the gauge
 * flow's haar base and spline couplings go with u1/schwinger and with sides that are
 * multiples of 4; phi4 takes neither). Called by the commands that build a flow (train,
 * sample, run, bench); messages name the source and the key, without a line. */
lf_status lf_config_validate_flow(const lf_config *cfg);

/* Sets cfg->output to dir verbatim (no YAML: '#', ': ', quotes and spaces are part of the
 * name), as --output DIR does; messages name "--output". Refuses an empty name, a line
 * break and a name of LF_PATH_MAX bytes or more (LF_ERR_CONFIG; cfg is then unchanged). */
lf_status lf_config_set_output(lf_config *cfg, const char *dir);

/* Writes the effective config as YAML that lf_config_parse_string reads back to an
 * equal config (round trip): every key, block style, in a fixed order (that of
 * docs/CONFIG.md), strings double-quoted, doubles in the shortest form that reads back
 * exactly (at most %.17g). Returns LF_ERR_IO on a write error. */
lf_status lf_config_write_yaml(const lf_config *cfg, FILE *out);

/* The same YAML into a heap string (caller frees with free()); NULL on no memory. */
char *lf_config_to_yaml(const lf_config *cfg);

/* The same keys, order and values as one JSON object (sections are nested objects, enums
 * and names strings, a non-finite double null), built and printed with cJSON, in a heap
 * string (caller frees with free()); NULL on no memory. For `latflow config --json`. */
char *lf_config_to_json(const lf_config *cfg);

/* Compares every key's value (not source, not given). Returns 0 when equal; otherwise 1
 * and, if key != NULL, writes the dotted name of the first differing key (in the order
 * lf_config_write_yaml uses) into key[n]. For tests and for resume checks. */
int lf_config_diff(const lf_config *a, const lf_config *b, char *key, size_t n);

#endif
