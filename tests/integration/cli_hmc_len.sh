#!/usr/bin/env bash
# latflow hmc: the trajectory length (hmc.tau_dist) and the end-of-run warnings.
#  - the start-up line names the distribution; --json gives "tau_dist", "mean_steps" (the
#    mean number of integrator steps used: 10 for fixed, 10 +- 4 sigma for uniform) and a
#    "warnings" list (empty for a healthy run);
#  - uniform and fixed give different chains; uniform with hmc.steps = 1 warns that
#    nothing is randomized;
#  - a frozen chain (tau 20 in 1 step: acceptance 0) exits 0 with a warning line and a
#    warning in --json; a blown-up integrator (tau 1e200) also warns about the non-finite
#    dH; under mpiexec -n 2 the warning counts both chains;
#  - an interrupted and resumed run reports the same mean_steps as an uninterrupted one
#    (the steps before the checkpoint are recomputed from (seed, chain, t)).
# usage: cli_hmc_len.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
py=/usr/bin/python3
# jq FILE EXPR: a Python expression of the JSON object j in FILE
jq() { "$py" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null; }
cat > c.yaml <<'YAML'
seed: 9
theory: {name: phi4, shape: [6, 6], m2: 1.0, lambda: 0.0}
sample: {save: none}
hmc: {trajectories: 4000, therm: 20, tau: 1.0, steps: 10, checkpoint_every: 1000}
YAML

# --- uniform (the default) and fixed ---------------------------------------------------
expect_code 0 "uniform run" -- "$lf" hmc c.yaml --output u --json
grep -qF "leapfrog, tau 1, 10 steps, tau_dist uniform (1 .. 19 steps of 0.1)" err.txt &&
  ok "start-up line names the distribution" || bad "start-up line: $(grep -F 'tau_dist' err.txt)"
[ "$(jq out.txt 'j["tau_dist"]')" = uniform ] && ok "json tau_dist uniform" || bad "json tau_dist"
ms=$(jq out.txt 'j["mean_steps"]')
# sd of the mean of 4000 draws of U{1..19}: sqrt(30 / 4000) = 0.087
[ "$(jq out.txt 'int(abs(j["mean_steps"] - 10) < 4 * (30 / 4000) ** 0.5 and j["mean_steps"] != 10)')" = 1 ] &&
  ok "uniform: mean_steps $ms (10 +- 0.35, not exactly 10)" || bad "uniform: mean_steps '$ms'"
[ "$(jq out.txt 'j["warnings"] == []')" = True ] && ok "healthy run: warnings []" || bad "warnings: $(jq out.txt 'j["warnings"]')"
grep -q "no trajectory was accepted\|had a non-finite dH\|not randomized" err.txt &&
  bad "healthy run printed a warning" || ok "healthy run: no warning line"
expect_code 0 "fixed run" -- "$lf" hmc c.yaml --output f --json --set hmc.tau_dist=fixed
grep -qF "leapfrog, tau 1, 10 steps, tau_dist fixed |" err.txt && ok "start-up line: fixed" || bad "start-up line (fixed)"
[ "$(jq out.txt 'j["tau_dist"] + " " + str(j["mean_steps"])')" = "fixed 10" ] &&
  ok "json: fixed, mean_steps 10" || bad "json fixed: $(jq out.txt 'j["tau_dist"], j["mean_steps"]')"
h5diff -q u/hmc.h5 f/hmc.h5 /chain_0/dH /chain_0/dH >/dev/null 2>&1 &&
  bad "uniform and fixed gave the same dH" || ok "uniform and fixed are different chains"
expect_code 0 "steps = 1" -- "$lf" hmc c.yaml --output one --json --set hmc.steps=1 --set hmc.trajectories=100
grep -qF "its length is not randomized (that needs hmc.steps >= 2)" err.txt &&
  ok "steps = 1 with uniform warns" || bad "no warning for steps = 1"
[ "$(jq out.txt 'j["mean_steps"]')" = 1 ] && ok "steps = 1: mean_steps 1" || bad "steps = 1: mean_steps"

# --- a frozen chain, a blown-up integrator --------------------------------------------
expect_code 0 "frozen chain (tau 20 in 1 step) exits 0" -- "$lf" hmc c.yaml --output fz --json \
  --set hmc.tau=20 --set hmc.steps=1 --set hmc.trajectories=300 --set theory.m2=-4 --set theory.lambda=8
[ "$(jq out.txt 'j["acceptance"]')" = 0 ] && ok "frozen: acceptance 0" || bad "frozen: acceptance $(jq out.txt 'j["acceptance"]')"
grep -qF "no trajectory was accepted (0 of 300)" err.txt && ok "frozen: warning line" ||
  { bad "frozen: no warning line"; cat err.txt; }
[ "$(jq out.txt 'sum("no trajectory was accepted" in w for w in j["warnings"])')" = 1 ] &&
  ok "frozen: warning in --json" || bad "frozen: json warnings $(jq out.txt 'j["warnings"]')"
expect_code 0 "non-finite dH (tau 1e200) exits 0" -- "$lf" hmc c.yaml --output nf --json \
  --set hmc.tau=1e200 --set hmc.trajectories=300
[ "$(jq out.txt 'sum("had a non-finite dH" in w for w in j["warnings"])')" = 1 ] &&
  ok "non-finite: warning in --json" || bad "non-finite: json warnings $(jq out.txt 'j["warnings"]')"
grep -qF "320 of 320 trajectories (thermalization included) had a non-finite dH" err.txt &&
  ok "non-finite: warning line counts 320" || { bad "non-finite: warning line"; grep -F "non-finite" err.txt; }
expect_code 0 "frozen chains under mpiexec -n 2" -- mpi 2 "$lf" hmc c.yaml \
  --output fz2 --json --set hmc.tau=20 --set hmc.steps=1 --set hmc.trajectories=300 \
  --set theory.m2=-4 --set theory.lambda=8
[ "$(jq out.txt 'sum("2 of 2 chains accepted no trajectory" in w for w in j["warnings"])')" = 1 ] &&
  ok "mpiexec -n 2: '2 of 2 chains' in --json" || bad "mpiexec -n 2: $(jq out.txt 'j["warnings"]')"
grep -qF "chain 1 accepted none of its 300 trajectories" err.txt && ok "rank 1 names its chain" ||
  bad "rank 1 did not warn"

# --- resume: the same mean_steps ------------------------------------------------------
expect_code 3 "interrupted (SIGTERM at trajectory 1500)" -- env LATFLOW_TEST_INTERRUPT=hmc:1500:TERM "$lf" hmc c.yaml --output r --json
expect_code 0 "resumed" -- "$lf" hmc c.yaml --output r --json --resume
[ "$(jq out.txt 'j["mean_steps"]')" = "$ms" ] && ok "resumed run: mean_steps $ms as uninterrupted" ||
  bad "resumed run: mean_steps $(jq out.txt 'j["mean_steps"]') vs $ms"
diff=""
for d in obs row dH accepted; do
  h5diff -q u/hmc.h5 r/hmc.h5 /chain_0/$d /chain_0/$d >/dev/null 2>&1 || diff="$diff $d"
done
[ -z "$diff" ] && ok "resumed run: bitwise the uninterrupted uniform run" || bad "resumed run differs in$diff"

finish
