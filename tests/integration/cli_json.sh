#!/usr/bin/env bash
# Output streams and plot safety (issue 15, items 4 and 5). Every command's --json prints
# exactly one JSON object on stdout (python3's json parses the whole of stdout; logs stay on
# stderr); `config --json` is the validated config as JSON (YAML stays the default);
# `latflow run` prints its result table on stdout (`run > file` holds it) and, with --json,
# only the JSON object there. `latflow plot` refuses a model file without writing anything,
# plots each file into its own folder (plots/ensemble, plots/hmc: an HMC plot never
# overwrites the flow ensemble's), and keeps no temporary folder.
# usage: cli_json.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
command -v python3 >/dev/null || skip "python3 not installed"
# one_json DESC KEY...: stdout (out.txt) is exactly one JSON object holding every KEY
one_json() {
  local desc=$1; shift
  python3 - "$@" <<'PY' && ok "$desc: stdout is one JSON object with $*" || { bad "$desc: stdout is not one JSON object with $*"; head -5 out.txt; }
import json, sys
d = json.loads(open("out.txt").read())  # the whole of stdout: one value, nothing else
assert isinstance(d, dict), type(d)
missing = [k for k in sys.argv[1:] if k not in d]
assert not missing, missing
PY
}

cat > tiny.yaml <<'YAML'
seed: 11
output: out/tiny
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 32, stop: {steps: 60}, eval_samples: 500, log_every: 30}
sample: {proposals: 2000, block: 128, save: accepted}
hmc: {trajectories: 500, therm: 20, tau: 1.0, steps: 8}
YAML

# ---- every command's --json -------------------------------------------------------------
expect_code 0 "config --json" -- "$lf" config tiny.yaml --json --set seed=12
one_json "config" command source config
python3 -c 'import json; c=json.load(open("out.txt"))["config"]; assert c["seed"] == 12 and c["theory"]["name"] == "phi4" and c["theory"]["shape"] == [4, 4] and c["model"]["hidden"] == [4], c' &&
  ok "config --json: the validated config (overrides applied, nested sections)" || bad "config --json values"
expect_code 0 "config --default --json" -- "$lf" config --default --json
one_json "config --default" command config
expect_code 0 "config (YAML stays the default)" -- "$lf" config tiny.yaml
grep -q "^theory:" out.txt && ! grep -q "^{" out.txt && ok "config prints YAML" || bad "config without --json is not YAML"
expect_code 0 "check --json" -- "$lf" check tiny.yaml --json
one_json "check" valid valid_for
expect_code 0 "train --json" -- "$lf" train tiny.yaml --json
one_json "train" command
expect_code 0 "sample --json" -- "$lf" sample tiny.yaml --json
one_json "sample" command ensemble
expect_code 0 "hmc --json" -- "$lf" hmc tiny.yaml --json
one_json "hmc" command ensemble
expect_code 0 "analyze --json" -- "$lf" analyze out/tiny/ensemble.h5 --json
one_json "analyze" observables
expect_code 0 "bench --json" -- "$lf" bench tiny.yaml --json --seconds 0.2 --train-only
one_json "bench" train_steps_per_s

# ---- plot: refusal writes nothing, one folder per file, --json ----------------------------
if command -v gnuplot >/dev/null 2>&1; then
  expect_code 0 "plot --json (flow ensemble)" -- "$lf" plot out/tiny/ensemble.h5 --json
  one_json "plot" command input outdir plots
  python3 -c 'import json,os; d=json.load(open("out.txt")); assert d["input"] == "out/tiny/ensemble.h5" and d["outdir"] == "out/tiny/plots/ensemble" and len(d["plots"]) >= 12 and all(os.path.getsize(p) > 0 and p.startswith("out/tiny/plots/ensemble/") for p in d["plots"]), d' &&
    ok "plot --json: the input, out/tiny/plots/ensemble and the PNGs written there" || bad "plot --json content"
  sums=$(cd out/tiny/plots/ensemble && md5sum -- *)
  expect_code 1 "plot refuses a model file" -- "$lf" plot out/tiny/model.h5
  expect_err "is a latflow model file" "refusal names the kind"
  [ "$sums" = "$(cd out/tiny/plots/ensemble && md5sum -- *)" ] && [ ! -e out/tiny/plots/model ] &&
    ok "the refused plot wrote nothing (plots.gp and every plot unchanged, no plots/model)" || bad "the refused plot changed the output"
  expect_code 1 "plot refuses a model file with --out" -- "$lf" plot out/tiny/model.h5 --out out/tiny/plots/ensemble
  [ "$sums" = "$(cd out/tiny/plots/ensemble && md5sum -- *)" ] && ok "--out: nothing written either" || bad "--out: the refused plot changed the output"
  expect_code 0 "plot hmc (default folder)" -- "$lf" plot out/tiny/hmc.h5
  [ -s out/tiny/plots/hmc/dH_history.png ] && [ -s out/tiny/plots/hmc/history_chi2.png ] &&
    [ "$sums" = "$(cd out/tiny/plots/ensemble && md5sum -- *)" ] &&
    ok "HMC plots in plots/hmc; the flow ensemble's plots unchanged" || bad "HMC plot overwrote the flow plots or is missing"
  ls -a out/tiny/plots/ensemble out/tiny/plots/hmc | grep -q '\.tmp' && bad "a temporary folder was left" || ok "no temporary folder left"
  # ---- run: the table on stdout, only JSON with --json --------------------------------------
  expect_code 0 "run > file" -- "$lf" run tiny.yaml --output out/r1
  grep -q "== latflow run" out.txt && grep -q "observable" out.txt && ! grep -q "== latflow run" err.txt &&
    ok "run: the result table on stdout, not stderr" || bad "run: table not on stdout"
  grep -q "\[run\]\|run:" err.txt && ok "run: logs on stderr" || bad "run: no logs on stderr"
  [ -s out/r1/plots/ensemble/history_chi2.png ] && [ -s out/r1/plots/hmc/history_chi2.png ] &&
    ok "run: plots in plots/ensemble and plots/hmc" || bad "run: plots missing: $(ls -R out/r1/plots | head)"
  expect_code 0 "run --json" -- "$lf" run tiny.yaml --output out/r2 --json
  one_json "run" command analysis analysis_hmc plots plots_hmc
  grep -q "== latflow run" err.txt && ok "run --json: the table moves to stderr" || bad "run --json: no table on stderr"
else
  echo "note: gnuplot not installed, plot and run cases not run"
fi
finish
