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
expect_code 0 "schwinger kappa = 0 pseudofermion HMC" -- "$lf" hmc k0.yaml --json \
  --set hmc.trajectories=30 --set hmc.therm=5
[ "$(json_num cg_iters_per_solve)" = 1 ] && ok "kappa = 0: CG on D^dagger D = 1 takes one iteration" \
  || bad "kappa = 0: CG iterations per solve '$(json_num cg_iters_per_solve)'"
expect_code nz "kappa < 0 refused" -- "$lf" check k0.yaml --set theory.kappa=-0.1
expect_err "theory.kappa: must be >= 0, got -0.1" "kappa < 0 names the rule"

# --- volume-transfer sampling: a phi4 model of 4x4 sampled on 8x8 --------------------------
cat > p4.yaml <<'YAML'
seed: 11
output: p4
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
model: {layers: 4, hidden: [4], kernel: 3}
train: {batch: 32, stop: {steps: 40}, eval_samples: 400, log_every: 20}
sample: {proposals: 2048, block: 64, checkpoint_every: 512}
YAML
expect_code 0 "phi4 train on 4x4" -- "$lf" train p4.yaml
expect_code 0 "sample the 4x4 model on 8x8" -- "$lf" sample p4.yaml --model p4/model.h5 \
  --output v8 --set theory.shape=[8,8] --json
expect_err "volume transfer: model trained on 4x4 sampled on 8x8" "volume-transfer log line"
tr -d ' \t\n' < out.txt | grep -q '"model_shape":\[4,4\]' && ok "sample --json: model_shape [4, 4]" \
  || bad "sample --json has no model_shape [4, 4]"
expect_code 0 "info of the transferred ensemble" -- "$lf" info v8/ensemble.h5 --json
tr -d ' \t\n' < out.txt | grep -q '"model_shape":\[4,4\]' && ok "info --json: model_shape [4, 4]" \
  || bad "info --json has no model_shape [4, 4]"
tr -d ' \t\n' < out.txt | grep -q '"shape":\[8,8\]' && ok "info --json: theory on 8x8" \
  || bad "info --json: the ensemble's theory is not 8x8"
expect_code 0 "info text of the transferred ensemble" -- "$lf" info v8/ensemble.h5
grep -q "trained on 4x4 (volume transfer)" out.txt && ok "info text names the training lattice" \
  || bad "info text: no 'trained on 4x4'"
expect_code 0 "analyze the transferred ensemble" -- "$lf" analyze v8/ensemble.h5 --json
[ -n "$(json_num acceptance)" ] && ok "analysis of the 8x8 ensemble (acceptance $(json_num acceptance))" \
  || bad "analysis of the 8x8 ensemble has no acceptance"
# the Python reader (python/latflow_h5.py) sees the training lattice and the model's cost
py=${LATFLOW_TEST_PYTHON:-/usr/bin/python3}
if "$py" -c 'import h5py, numpy' 2> /dev/null; then
  if "$py" - "$src/python" v8/ensemble.h5 p4/model.h5 > py.txt 2>&1 <<'PY'; then
import sys
sys.path.insert(0, sys.argv[1])
import latflow_h5 as L
e, m = L.read_ensemble(sys.argv[2], configs=False), L.read_model(sys.argv[3])
a = m["arch"]
assert e["model_shape"] == [4, 4] and (e["L0"], e["L1"]) == (8, 8), e["model_shape"]
assert a["train_steps"] == 40 and a["n_train"] == 40 * 32, a
assert a["chain_steps"] == 40 and a["chain_n_train"] == a["n_train"], a
PY
    ok "python reader: model_shape [4, 4], the model's own and chain cost"
  else
    bad "python reader: $(tail -3 py.txt)"
  fi
else
  ok "python reader check skipped: no h5py/numpy for $py"
fi
expect_code 0 "ordinary sampling on 4x4" -- "$lf" sample p4.yaml
expect_code 0 "info of the ordinary ensemble" -- "$lf" info p4/ensemble.h5 --json
grep -q '"model_shape"' out.txt && bad "an ordinary ensemble has model_shape" \
  || ok "an ordinary ensemble has no model_shape attribute"
# interrupted and resumed: bitwise the uninterrupted run (the transferred model's hash)
LATFLOW_TEST_INTERRUPT=sample:16:TERM "$lf" sample p4.yaml --model p4/model.h5 --output vi \
  --set theory.shape=[8,8] > vi1.log 2>&1; rc=$?
[ $rc = 3 ] && ok "transferred sampling stopped by TERM (exit 3)" || { bad "TERM: exit $rc"; tail -3 vi1.log; }
expect_code 0 "resume the transferred sampling" -- "$lf" sample p4.yaml --model p4/model.h5 \
  --output vi --set theory.shape=[8,8] --resume
n=0
for d in obs row id logw accepted; do h5same v8/ensemble.h5 vi/ensemble.h5 /chain_0/$d || n=$((n+1)); done
[ $n = 0 ] && ok "resumed transferred ensemble bitwise the uninterrupted one" || bad "$n datasets differ after resume"
# a gauge flow needs lattices of multiples of 4: 4x4 -> 6x6 is refused (the card's check;
# lf_io_model_load_on's own refusal naming both lattices: test_io)
cat > g.yaml <<'YAML'
seed: 5
output: g
theory: {name: u1, shape: [4, 4], beta: 1.0}
model: {base: haar, coupling: spline, spline_bins: 6, layers: 4, hidden: [4], kernel: 3}
train: {batch: 16, stop: {steps: 10}, eval_samples: 100, log_every: 10}
sample: {proposals: 512, block: 64}
YAML
expect_code 0 "u1 train on 4x4" -- "$lf" train g.yaml
expect_code nz "u1 4x4 model on 6x6 refused" -- "$lf" sample g.yaml --model g/model.h5 \
  --output g6 --set theory.shape=[6,6]
expect_err "multiples of 4 (theory u1 6x6" "the 6x6 refusal names the lattice and the rule"
expect_code 0 "u1 4x4 model sampled on 8x8" -- "$lf" sample g.yaml --model g/model.h5 \
  --output g8 --set theory.shape=[8,8]
expect_err "volume transfer: model trained on 4x4 sampled on 8x8" "u1 volume-transfer log line"

# --- the transfer chain's cost: A (40 steps x 32) -> B (30 x 16) -> C (10 x 16, on 8x8) ----
# jnum FILE OBJ KEY: the number under "KEY" inside the object "OBJ" of a JSON file
jnum() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]][sys.argv[3]])" "$@"; }
expect_code 0 "info of A" -- "$lf" info p4/model.h5 --json
cp out.txt a.json
[ "$(jnum a.json cost steps)" = 40 ] && [ "$(jnum a.json cost n_train)" = 1280 ] \
  && [ "$(jnum a.json chain steps)" = 40 ] && [ "$(jnum a.json chain n_train)" = 1280 ] \
  && ok "A without a parent: chain = own = 40 steps, 1280 samples" || bad "A's cost/chain: $(grep -A3 '"c' a.json | tr -d '\n\t')"
expect_code 0 "train B from A" -- "$lf" train p4.yaml --output b --json --set train.init_from=p4/model.h5 \
  --set train.batch=16 --set train.stop.steps=30
cp out.txt b.json
[ "$(jnum b.json transfer kind)" = parameter ] && [ "$(jnum b.json transfer parent_steps)" = 40 ] \
  && [ "$(jnum b.json transfer parent_n_train)" = 1280 ] && ok "B's train --json: transfer from A (parameter, 40 steps, 1280 samples)" \
  || bad "B's transfer object: $(tr -d '\n\t' < b.json | grep -o '"transfer":{[^}]*}')"
[ "$(jnum b.json chain steps)" = 70 ] && [ "$(jnum b.json chain n_train)" = 1760 ] \
  && ok "B's train --json chain: 70 steps, 1760 samples (A's + B's own, exactly)" \
  || bad "B's chain: $(tr -d '\n\t' < b.json | grep -o '"chain":{[^}]*}')"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); t=d['transfer']; c=d['chain']
sys.exit(abs(c['seconds'] - t['parent_seconds'] - d['train_seconds']) > 1e-9)" b.json \
  && ok "B's chain seconds = A's + B's own" || bad "B's chain seconds do not add up"
expect_code 0 "info of B" -- "$lf" info b/model.h5 --json
cp out.txt binfo.json
[ "$(jnum binfo.json chain steps)" = 70 ] && [ "$(jnum binfo.json chain n_train)" = 1760 ] \
  && [ "$(jnum binfo.json cost steps)" = 30 ] && [ "$(jnum binfo.json cost n_train)" = 480 ] \
  && ok "B's model.h5: own 30 steps / 480 samples, chain 70 / 1760" || bad "B's model.h5 cost: $(tr -d '\n\t' < binfo.json | grep -o '"c[a-z]*":{[^}]*}')"
expect_code 0 "info text of B" -- "$lf" info b/model.h5
grep -q "chain (with its train.init_from ancestors) 70 steps, 1760 samples" out.txt \
  && ok "info text shows B's chain" || bad "info text: no chain line"
expect_code 0 "train C from B on 8x8" -- "$lf" train p4.yaml --output c --json --set train.init_from=b/model.h5 \
  --set train.batch=16 --set train.stop.steps=10 --set theory.shape=[8,8]
cp out.txt c.json
[ "$(jnum c.json transfer kind)" = volume ] && [ "$(jnum c.json chain steps)" = 80 ] \
  && [ "$(jnum c.json chain n_train)" = 1920 ] && ok "C: volume transfer, chain 80 steps / 1920 samples" \
  || bad "C: $(tr -d '\n\t' < c.json | grep -o '"transfer":{[^}]*}')"

finish cli_transfer
