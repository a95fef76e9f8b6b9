#!/usr/bin/env bash
# latflow info FILE [--json] on every kind of file latflow writes, made here in seconds (a
# 4x6 phi^4 model trained 200 steps): model.h5, train.h5, ensemble.h5 (IMH and
# reweighting), hmc.h5, a latflow-merge file, the train, sample and hmc checkpoints (runs
# stopped by the test hook) and a .tmp of a stopped run. Each: exit 0, the text names the
# kind, --json is one object whose kind and key fields (theory, model, training, chains,
# provenance) are right. Refused, naming the file: a YAML card, an HDF5 file that is not
# latflow's, an empty or a missing file (exit 2), a truncated model or ensemble (exit 1).
# `latflow config model.h5` says it is an HDF5 file and points to latflow info (exit 2).
# usage: cli_info.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
command -v python3 > /dev/null || skip "python3 is needed to parse the JSON"

cat > tiny.yaml <<'YAML'
seed: 11
theory: {name: phi4, shape: [4, 6], m2: -4.0, lambda: 8.0}
model: {layers: 4, hidden: [4, 4], precision: single}
train: {batch: 32, stop: {steps: 200}, eval_every: 100, eval_samples: 256, checkpoint_every: 50}
sample: {proposals: 2048, block: 64, save: all, checkpoint_every: 1024}
hmc: {trajectories: 200, therm: 10, tau: 1.0, steps: 4, checkpoint_every: 50}
YAML
expect_code 0 "train 200 steps" -- "$lf" train tiny.yaml --output m
expect_code 0 "sample (IMH, save all)" -- "$lf" sample tiny.yaml --model m/model.h5 --output s
expect_code 0 "sample, seed 12" -- "$lf" sample tiny.yaml --model m/model.h5 --output s2 --set seed=12
expect_code 0 "sample (reweighting)" -- "$lf" sample tiny.yaml --model m/model.h5 --output rw --set sample.mode=reweight
expect_code 0 "hmc" -- "$lf" hmc tiny.yaml --output h
expect_code 0 "latflow-merge of two IMH files" -- "$merge" mm.h5 s/ensemble.h5 s2/ensemble.h5
LATFLOW_TEST_INTERRUPT=train:120:TERM expect_code 3 "train stopped at step 120" -- "$lf" train tiny.yaml --output ct
LATFLOW_TEST_INTERRUPT=sample:64:TERM expect_code 3 "sample stopped at block 64" -- "$lf" sample tiny.yaml --model m/model.h5 --output cs --set sample.proposals=16384
LATFLOW_TEST_INTERRUPT=hmc:100:TERM expect_code 3 "hmc stopped at trajectory 100" -- "$lf" hmc tiny.yaml --output ch

# info NAME FILE TEXT PYEXPR: text and --json of FILE; TEXT in the text output and PYEXPR
# (over the parsed object j) true
info() {
  local name=$1 f=$2 text=$3 expr=$4
  if "$lf" info "$f" > "$name.txt" 2> "$name.err" && grep -qF -- "$text" "$name.txt"; then
    ok "info $f: '$text'"
  else bad "info $f: exit or text"; cat "$name.txt" "$name.err" | tail -12; fi
  if ! "$lf" info "$f" --json > "$name.json" 2> "$name.err"; then
    bad "info $f --json: exit code"; tail -3 "$name.err"; return
  fi
  if python3 - "$name.json" "$f" "$expr" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["command"] == "info" and j["file"] == sys.argv[2], (j["command"], j["file"])
p = j["provenance"]
assert p["latflow_version"] and p["git_rev"] and p["seed"] is not None, p
assert len(p["config_fnv1a64"]) == 16 and "theory:" in p["config_yaml"], p
th = j["theory"]
assert th["name"] == "phi4" and th["shape"] == [4, 6], th
assert th["couplings"] == {"m2": -4, "lambda": 8}, th
assert eval(sys.argv[3], {"j": j}), sys.argv[3]
PY
  then ok "info $f --json: $expr"
  else bad "info $f --json: $expr"; head -c 600 "$name.json"; fi
}
# per layer 1->4->4->2 convs of 3x3: 40 + 148 + 74 = 262; 4 layers = 1048
arch='j["model"]["coupling"] == "affine" and j["model"]["hidden"] == [4, 4] and j["model"]["nparams"] == 1048 and j["model"]["precision"] == "single"'
info model m/model.h5 "latflow model file, format version 1" \
  "j['kind'] == 'model' and j['format_version'] == 1 and $arch and j['model']['optimizer_step'] == 200 and len(j['model']['hash']) == 16 and j['training']['steps'] == 200 and j['training']['last_eval']['samples'] == 256 and j['training']['source'] == 'm/train.h5'"
info train m/train.h5 "final loss" \
  "j['kind'] == 'train' and j['format_version'] == 2 and $arch and j['training']['records'] == 200 and j['training']['evaluations'] == 2 and 0 < j['training']['last_eval']['ess'] <= 1 and j['training']['final_loss'] is not None"
info ens s/ensemble.h5 "imh ensemble" \
  "j['kind'] == 'ensemble' and j['ensemble_kind'] == 'imh' and $arch and j['model']['path'] == 'm/model.h5' and j['chains']['chains'] == 1 and j['chains']['steps'] == 2048 and 0 < j['chains']['accepted'] < 2048 and abs(j['chains']['acceptance'] - j['chains']['accepted'] / 2048) < 1e-12 and j['chains']['save_configs'] and not j['chains']['merged']"
info rw rw/ensemble.h5 "reweight ensemble" \
  "j['ensemble_kind'] == 'reweight' and j['chains']['acceptance'] == 1 and j['chains']['rows'] == j['chains']['steps']"
info hmc h/hmc.h5 "hmc ensemble" \
  "j['ensemble_kind'] == 'hmc' and 'model' not in j and j['chains']['steps'] == 200 and j['chains']['rows'] - j['chains']['accepted'] in (0, 1)"
info merged mm.h5 "2 chain(s) (merged)" \
  "j['chains']['merged'] and j['chains']['chains'] == 2 and j['chains']['steps'] == 4096 and [c['source_path'] for c in j['chains']['per_chain']] == ['s/ensemble.h5', 's2/ensemble.h5']"
info ckpt_train ct/train.ckpt.h5 "checkpoint file, format version 4 of \`latflow train\`" \
  "j['kind'] == 'checkpoint' and j['checkpoint_of'] == 'train' and $arch and j['training']['steps'] == 120"
info ckpt_sample cs/sample.ckpt.h5 "of \`latflow sample\`" \
  "j['checkpoint_of'] == 'sample' and $arch and j['chains']['steps'] > 0 and j['chains']['steps'] % 1024 == 0 and 0 < j['chains']['accepted'] < j['chains']['steps']"
info ckpt_hmc ch/hmc.ckpt.h5 "of \`latflow hmc\`" \
  "j['checkpoint_of'] == 'hmc' and j['chains']['chains'] == 1 and 0 < j['chains']['steps'] < 200"
info tmp ct/train.h5.tmp "latflow train file" \
  "j['kind'] == 'train' and j['training']['records'] == 120"

# refusals
expect_code 2 "a YAML card" -- "$lf" info tiny.yaml
expect_err "'tiny.yaml' is not an HDF5 file" "the card's refusal names it"
h5copy -i m/model.h5 -o plain.h5 -s /meta -d /meta > /dev/null 2>&1 || bad "h5copy (HDF5 tools)"
expect_code 2 "an HDF5 file that is not latflow's" -- "$lf" info plain.h5
expect_err "'plain.h5' is an HDF5 file but not a latflow file" "its refusal names it"
expect_code 2 "a missing file" -- "$lf" info nothere.h5
expect_err "nothere.h5" "the missing file is named"
head -c 3000 m/model.h5 > cut.h5
expect_code 1 "a truncated model (a damaged latflow file)" -- "$lf" info cut.h5
expect_err "cut.h5" "the damaged file is named"
head -c 20000 s/ensemble.h5 > cut_ens.h5
expect_code 1 "a truncated ensemble" -- "$lf" info cut_ens.h5
expect_err "cut_ens.h5" "the damaged ensemble is named"
: > empty.h5
expect_code 2 "an empty file" -- "$lf" info empty.h5
expect_err "'empty.h5' is empty" "the empty file is named"
expect_code 2 "latflow config model.h5" -- "$lf" config m/model.h5
expect_err "m/model.h5 is an HDF5 file, not a run card; use latflow info m/model.h5" \
  "config points to latflow info"
expect_code 2 "latflow check ensemble.h5" -- "$lf" check s/ensemble.h5
expect_err "is an HDF5 file" "check says so too"
finish cli_info
