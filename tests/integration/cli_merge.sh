#!/usr/bin/env bash
# Drives latflow-merge: a tiny model is sampled twice (seeds 11 and 12) and HMC runs
# twice (seeds 11 and 12); merging the two flow ensembles and the two HMC ensembles
# gives files that `latflow analyze --json` reads as 2 chains with n = the sum of the
# inputs' n; one chain given twice is refused naming both files (a cp of an input, a rerun
# with the same seed, a merged file with one of its inputs); merging flow with HMC is refused naming the kinds and both files (exit 1,
# no output); an existing OUT is refused without --force and replaced with it; bad
# usage exits 2.
# usage: cli_merge.sh LATFLOW WORKDIR SOURCEDIR   (latflow-merge sits next to LATFLOW)
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
[ -x "$merge" ] && ok "latflow-merge next to latflow: $merge" || { bad "no $merge"; exit 1; }

cat > tiny.yaml <<'YAML'
seed: 11
output: out/s11
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 32, stop: {steps: 60}, eval_samples: 500, log_every: 30}
sample: {proposals: 2000, block: 128, save: accepted}
hmc: {trajectories: 600, therm: 20, tau: 1.0, steps: 8}
YAML
expect_code 0 "train tiny" -- "$lf" train tiny.yaml
expect_code 0 "sample seed 11" -- "$lf" sample tiny.yaml --model out/s11/model.h5
expect_code 0 "sample seed 12" -- "$lf" sample tiny.yaml --model out/s11/model.h5 --output out/s12 --set seed=12
expect_code 0 "hmc seed 11" -- "$lf" hmc tiny.yaml
expect_code 0 "hmc seed 12" -- "$lf" hmc tiny.yaml --output out/s12 --set seed=12

n_of() { "$lf" analyze "$1" --json >out.txt 2>err.txt && json_num n; }
chains_of() { "$lf" analyze "$1" --json >out.txt 2>err.txt && json_num chains; }

for k in ensemble hmc; do
  n1=$(n_of out/s11/$k.h5); n2=$(n_of out/s12/$k.h5)
  expect_code 0 "merge two $k files --json" -- "$merge" --json merged_$k.h5 out/s11/$k.h5 out/s12/$k.h5
  c=$(json_num chains)
  [ "$c" = 2 ] && ok "merge --json: chains $c" || bad "merge --json: chains '$c'"
  grep -q "wrote merged_$k.h5: chains=2" err.txt && ok "merge log line" || { bad "no merge log line"; cat err.txt; }
  ls ./*.tmp >/dev/null 2>&1 && bad "temporary files left" || ok "no temporary files left"
  expect_code 0 "analyze merged_$k.h5 --json" -- "$lf" analyze merged_$k.h5 --json
  c=$(json_num chains); n=$(json_num n)
  [ "$c" = 2 ] && ok "analyze merged_$k.h5: \"chains\": $c" || bad "analyze merged_$k.h5: chains '$c'"
  if [ -n "$n1" ] && [ -n "$n2" ] && [ "$n" = $((n1 + n2)) ]; then
    ok "analyze merged_$k.h5: n = $n = $n1 + $n2"
  else bad "analyze merged_$k.h5: n = '$n', inputs '$n1' + '$n2'"; fi
done
s11=$(h5dump -a /chain_1/source_seed merged_ensemble.h5 2>/dev/null | grep -c '(0): 12')
[ "$s11" = 1 ] && ok "chain 1 records source_seed 12" || bad "chain 1 source_seed not 12"

# refusals
# one chain twice: a copy, a rerun with the same seed (and more trajectories), a merged
# file with one of its own inputs
cp out/s11/ensemble.h5 copy.h5
expect_code 1 "merge a file with its cp" -- "$merge" dup.h5 out/s11/ensemble.h5 copy.h5
expect_err "chain 0 of out/s11/ensemble.h5 and chain 0 of copy.h5 are identical" "cp refused"
expect_code 0 "hmc seed 11 again" -- "$lf" hmc tiny.yaml --output out/r11 --set hmc.trajectories=700
expect_code 1 "merge two hmc runs with one seed" -- "$merge" dup.h5 out/s11/hmc.h5 out/r11/hmc.h5
expect_err "chain 0 of out/s11/hmc.h5 and chain 0 of out/r11/hmc.h5 are the same chain" \
  "same seed refused"
expect_code 1 "merge a merged file with one of its inputs" -- "$merge" dup.h5 merged_ensemble.h5 out/s12/ensemble.h5
expect_err "chain 1 of merged_ensemble.h5 (from 'out/s12/ensemble.h5' chain 0) and chain 0 of out/s12/ensemble.h5 are identical" \
  "merged + its input refused"
[ -e dup.h5 ] && bad "a refused merge left dup.h5" || ok "no output after the duplicate refusals"
expect_code 1 "merge flow with hmc" -- "$merge" mixed.h5 out/s11/ensemble.h5 out/s11/hmc.h5
expect_err "kind differs: out/s11/ensemble.h5 has imh, out/s11/hmc.h5 has hmc" "kinds and files named"
[ -e mixed.h5 ] && bad "a refused merge left mixed.h5" || ok "no output after a refusal"
expect_code 1 "OUT exists" -- "$merge" merged_hmc.h5 out/s11/hmc.h5 out/s12/hmc.h5
expect_err "refusing to overwrite" "existing OUT refused"
expect_code 0 "OUT exists, --force" -- "$merge" --force merged_hmc.h5 out/s12/hmc.h5
[ "$(chains_of merged_hmc.h5)" = 1 ] && ok "--force replaced OUT (1 chain now)" || bad "--force did not replace OUT"
head -c 2000 out/s12/ensemble.h5 > trunc.h5
expect_code 1 "truncated input" -- "$merge" t.h5 out/s11/ensemble.h5 trunc.h5
expect_err "merge input 'trunc.h5'" "truncated input named"
expect_code 2 "no inputs" -- "$merge" only.h5
expect_code 2 "unknown option" -- "$merge" --frobnicate a.h5 b.h5
expect_code 0 "--help" -- "$merge" --help
finish
