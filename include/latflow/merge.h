/* latflow/merge.h: merging ensemble files into one multi-chain file (`latflow-merge`;
 * layout: docs/FORMAT.md section 8, "Merged files").
 *
 * lf_ens_merge reads n >= 1 ensemble files (latflow/ensemble.h) and writes one file whose
 * chains are the input chains, in input order (input 0's chains first), each kept as its
 * own chain: rows (obs, corr), chain steps (row, id, logw, dH, accepted) and, when every
 * input saves them, configurations are copied bitwise. Row indices stay local to their
 * chain, so the copied chain table is valid unchanged; each chain's multiplicity is
 * recomputed from it (equal to the input's). The output has the current format_version;
 * inputs of any version the reader accepts (1..3) may be mixed.
 *
 * The inputs must agree on (else LF_ERR_FORMAT, "<key> differs: <a> has <x>, <b> has <y>",
 * naming input 0 and the first input that differs):
 *   kind (imh, reweight and hmc are never mixed: a flow ensemble with an
 *   HMC one, or IMH chains with reweighting samples), theory, C, theory.shape (L0, L1),
 *   the couplings of the stored config that the theory's action uses (phi4: theory.m2,
 *   theory.lambda; u1: theory.beta; schwinger: theory.beta, theory.kappa,
 *   theory.fermion_bc), nobs, obs_names (in order) and ncorr.
 * No chain may occur twice (else LF_ERR_FORMAT, "chain <r> of <a> and chain <s> of <b> are
 * identical" or "... are the same chain", naming a merged input's source_path and
 * source_chain too): each chain's content is fingerprinted while it is read (FNV-1a/64 over
 * its steps row, id, logw, dH, accepted and its rows' obs and corr, bitwise), and two chains
 * whose first steps with their rows agree bitwise are refused. This refuses a copy of an
 * input, two runs with the same seed, model and config (of any lengths) and a merged file
 * with one of its sources; independent chains differ in their first logw (flow) or dH (HMC).
 * Chains without steps are not compared.
 * They may differ in seed, model, sample sizes and latflow version; these are recorded
 * per output chain as provenance attributes of /chain_<r> (source_path, source_chain,
 * source_model_hash, source_seed, source_latflow_version, source_gen_seconds,
 * source_train_seconds; an input that is itself a merged file passes its chains'
 * provenance on unchanged).
 * If the inputs disagree on save_configs the output has no configurations
 * (save_configs = 0) and sum->configs_dropped says so (the caller logs it).
 * Root attributes of the output: those of input 0 (and its /meta config), except
 * save_configs (as above), gen_seconds = the sum of the inputs' gen_seconds,
 * train_seconds = the sum of source_train_seconds over the distinct non-empty model
 * hashes of the output chains, model_hash and model_path = input 0's if every chain has
 * the same model hash, else "" (then see the chains' provenance), nchains = total chains.
 *
 * Every input is read and validated completely before the output is created; memory
 * holds one input at a time without configurations, plus a configuration buffer of at
 * most 8 MiB (configurations are copied in chunks with lf_ens_read_configs).
 * The output is written as "<out>.tmp" and renamed when complete: a failed merge leaves
 * no <out>. An existing out is refused unless overwrite != 0 (LF_ERR_IO, "refusing to
 * overwrite"); out naming one of the inputs, or one input given twice, is LF_ERR_INVALID.
 * One merge per output: "<out>.lock" is held with flock for the whole call (removed at its
 * end); a second merge into the same out is refused at once (LF_ERR_IO, "'<out>' is being
 * written by another latflow-merge (pid ...)"), also with overwrite.
 * A missing, corrupt or non-ensemble input is refused with the reader's code and a
 * message that starts "merge input '<path>': ".
 * Local (serial HDF5, one process); never prints. */
#ifndef LATFLOW_MERGE_H
#define LATFLOW_MERGE_H

#include "latflow/config.h"
#include "latflow/status.h"

#include <stdint.h>

/* What a merge did (for the tool's log lines and --json). */
typedef struct lf_merge_summary {
  int inputs;                        /* n                                         */
  int chains;                        /* chains of the output                      */
  int64_t rows, steps;               /* totals over all chains                    */
  int save_configs;                  /* 1 if the output holds configurations      */
  int configs_dropped;               /* 1 if some but not all inputs saved them   */
  char no_configs_path[LF_PATH_MAX]; /* configs_dropped: first input without them */
  int models;                        /* distinct non-empty model hashes           */
  double gen_seconds, train_seconds; /* root attributes written                   */
} lf_merge_summary;

/* Merges in_paths[0..n-1] into out_path as described above. sum (may be NULL) is
 * filled on success. Errors: LF_ERR_INVALID (arguments, out is an input, an input
 * twice), LF_ERR_FORMAT (mismatch, a chain twice, corrupt input), LF_ERR_IO (out
 * exists, missing input, rename), LF_ERR_HDF5, LF_ERR_NOMEM. */
lf_status lf_ens_merge(const char *out_path, int n, const char *const *in_paths, int overwrite,
                       lf_merge_summary *sum);

#endif
