#!/usr/bin/env bash
# The analysis says when its numbers cannot be trusted (issue 12): a frozen HMC chain
# (tau 20 in one step: acceptance 0) analyses to null errors with warnings (JSON lists at
# the top and per observable; '!' rows and WARNING lines in the table), exit 0; --stau and
# --bins are used and checked; `sample --json` of a barely trained flow lists warnings.
# usage: cli_warnings.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
py=/usr/bin/python3
cat > tiny.yaml <<'YAML'
seed: 5
output: out
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 32, stop: {steps: 20}, eval_samples: 500, eval_every: 0, log_every: 10}
sample: {proposals: 4000, block: 128, save: none}
hmc: {trajectories: 300, therm: 10, tau: 20.0, steps: 1}
YAML
"$lf" hmc tiny.yaml --set output=frozen > hmc.out 2> hmc.err && ok "frozen hmc ran" || { bad "hmc"; tail hmc.err; }
if "$lf" analyze frozen/hmc.h5 --json > a.json 2> a.err; then ok "analyze of a frozen chain exits 0"
else bad "analyze of a frozen chain failed"; cat a.err; fi
$py - <<'PY' && ok "frozen: error and tau_int null, warnings at the top and per observable" || bad "frozen JSON"
import json
a = json.load(open("a.json"))
assert any("never moved" in w for w in a["warnings"]), a["warnings"]
for name, o in a["observables"].items():
    assert o["error"] is None and o["tau_int"] is None and o["eff_samples"] is None, (name, o)
    assert any("never changed" in w for w in o["warnings"]), (name, o["warnings"])
PY
"$lf" analyze frozen/hmc.h5 > t.out 2>&1
grep -q '^! phi2' t.out && grep -q 'WARNING: the chain never moved' t.out && ok "table: '!' rows and WARNING lines" || { bad "table marks"; cat t.out; }
"$lf" analyze frozen/hmc.h5 --bins 1 > /dev/null 2> e.txt; [ $? = 2 ] && ok "--bins 1 refused (exit 2)" || bad "--bins 1 not refused"
"$lf" analyze frozen/hmc.h5 --stau -1 > /dev/null 2> e.txt; [ $? = 2 ] && ok "--stau -1 refused (exit 2)" || bad "--stau -1 not refused"
"$lf" hmc tiny.yaml --set output=good --set hmc.tau=1.0 --set hmc.steps=8 > /dev/null 2>&1
"$lf" analyze good/hmc.h5 --json --stau 0 --bins 0 > g.json 2>&1
$py - <<'PY' && ok "--stau 0 --bins 0: W = 0, no bins, Gamma error reported" || bad "--stau 0 --bins 0"
import json
a = json.load(open("g.json"))
assert a["analysis"] == {"stau": 0, "bins": 0}, a["analysis"]
for o in a["observables"].values():
    assert o["window"] == 0 and o["bins"] == 0 and o["error"] == o["error_gamma"], o
    assert o["error_method"] == "gamma" and "eff_samples" in o and "warnings" in o, o
PY
"$lf" train tiny.yaml > /dev/null 2>&1 && ok "train (20 steps)" || bad "train"
"$lf" sample tiny.yaml --json > s.json 2> s.err && ok "sample --json" || { bad "sample"; tail s.err; }
$py - <<'PY' && ok "sample --json has a warnings list" || bad "sample warnings"
import json
s = json.load(open("s.json"))
assert isinstance(s["warnings"], list), s
print("   sample warnings:", s["warnings"])
PY
finish
