#!/usr/bin/env bash
# docs/FORMAT.md's python examples run in CI, on ensembles the CLI makes, and give the
# numbers `latflow analyze --json` gives (format_examples.py: means to 1e-12).
# A small model trained for 2000 steps (seconds; acceptance ~0.05, long rejection runs, as
# the quickstart after a short training) is sampled with IMH
# (save accepted; save all; on 2 ranks; interrupted and resumed; a second seed merged with
# the first into a 2-chain file) and with reweighting; HMC runs on 1 and 2 ranks (a 2-chain
# file). Every file: row never decreases, multiplicity = bincount(row), descriptions,
# how_to_read; the IMH file tells the old read (obs[:].mean(0)) apart from the right one by
# far (12%, 5 errors). multiplicity is bitwise the same on 1 and 2 ranks and after a
# resume (h5diff). The train.h5 example runs on the model's train.h5.
# Exit 77 (skipped) only if /usr/bin/python3 lacks h5py or numpy (tools/setup.sh --test installs
# Debian's python3-h5py and python3-numpy).
# usage: format_examples.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
py=${LATFLOW_TEST_PYTHON:-/usr/bin/python3}   # Debian's; the override only checks the skip
"$py" -c "import h5py, numpy" 2>/dev/null ||
  skip "$py cannot import h5py and numpy (bash tools/setup.sh --test installs python3-h5py)"
lf_setup "$@"
doc=$src/docs/FORMAT.md
helper=$src/tests/integration/format_examples.py
run() { # run DESC LOG -- cmd...: exit 0 expected
  local desc=$1 log=$2; shift 3
  if "$@" > "$log" 2>&1; then ok "$desc"; else bad "$desc (exit $?)"; tail -5 "$log"; fi
}
# examples FILE EXAMPLES [--naive-z Z]: analyze --json, then the page's examples on FILE
examples() {
  local f=$1 ex=$2; shift 2
  if ! "$lf" analyze "$f" --json > "$f.json" 2> "$f.err"; then
    bad "analyze $f"; tail -3 "$f.err"; return
  fi
  if "$py" "$helper" "$doc" "$f" "$f.json" "$ex" "$@" > "$f.py.log" 2>&1; then
    ok "FORMAT.md examples $ex on $f ($(grep -c '^ok' "$f.py.log") checks)"
  else
    bad "FORMAT.md examples $ex on $f:"; grep -v '^ok' "$f.py.log" | head -20
  fi
  grep -E "z = |ensemble-mean: phi2|ESS/N =" "$f.py.log" | sed 's/^/     /'
}
# same_mult A B DESC: /chain_0/multiplicity bitwise equal (and present)
same_mult() {
  if h5diff -q "$1" "$2" /chain_0/multiplicity /chain_0/multiplicity > /dev/null 2>&1 &&
     h5ls "$1/chain_0/multiplicity" > /dev/null 2>&1; then
    ok "$3: multiplicity bitwise equal"
  else bad "$3: multiplicity differs or is missing"; fi
}

# 20000 proposals = 313 blocks of 64; epochs of 4 blocks; a checkpoint every 2048 proposals
cat > tiny.yaml <<'YAML'
seed: 11
theory: {name: phi4, shape: [8, 8], m2: -4.0, lambda: 8.0}
model: {layers: 4, hidden: [8]}
train: {batch: 64, stop: {steps: 2000}, eval_every: 500, eval_samples: 1024}
sample: {proposals: 20000, block: 64, epoch: 4, checkpoint_every: 2048, save: accepted}
hmc: {trajectories: 3000, therm: 50, tau: 1.0, steps: 8, checkpoint_every: 1000}
YAML
S=(sample tiny.yaml --model m/model.h5)
run "train a small model (2000 steps)" train.log -- "$lf" train tiny.yaml --output m
run "IMH, save accepted" imh.log -- "$lf" "${S[@]}" --output imh
run "IMH, seed 12" imh2.log -- "$lf" "${S[@]}" --output imh2 --set seed=12
run "IMH, save all" all.log -- "$lf" "${S[@]}" --output all --set sample.save=all
run "IMH on 2 ranks" np2.log -- mpi 2 "$lf" "${S[@]}" --output np2
LATFLOW_TEST_INTERRUPT=sample:64:TERM "$lf" "${S[@]}" --output res > res1.log 2>&1
[ $? = 3 ] && [ -f res/ensemble.h5.tmp ] && ok "IMH interrupted at block 64 (exit 3, .tmp kept)" \
  || { bad "IMH interrupt"; tail -3 res1.log; }
run "IMH resumed" res2.log -- "$lf" "${S[@]}" --output res --resume
run "reweighting" rew.log -- "$lf" "${S[@]}" --output rew --set sample.mode=reweight
run "HMC" hmc.log -- "$lf" hmc tiny.yaml --output hmc
run "HMC on 2 ranks (2 chains)" hmc2.log -- mpi 2 "$lf" hmc tiny.yaml --output hmc2
run "merge two IMH seeds" merge.log -- "$merge" merged.h5 imh/ensemble.h5 imh2/ensemble.h5

same_mult imh/ensemble.h5 np2/ensemble.h5 "IMH 1 rank vs 2 ranks"
same_mult imh/ensemble.h5 res/ensemble.h5 "IMH uninterrupted vs interrupted + resumed"

examples imh/ensemble.h5 ensemble-series,ensemble-mean,ensemble-configs,ensemble-acceptance --old-read-fails
examples all/ensemble.h5 ensemble-series,ensemble-mean,ensemble-configs,ensemble-acceptance
examples merged.h5 ensemble-series,ensemble-mean,ensemble-acceptance
examples rew/ensemble.h5 ensemble-series,ensemble-reweighted,ensemble-acceptance
examples hmc/hmc.h5 ensemble-series,ensemble-mean,ensemble-configs,ensemble-acceptance
examples hmc2/hmc.h5 ensemble-series,ensemble-mean,ensemble-acceptance
zeros=$("$py" -c "import h5py,sys; print(int((h5py.File(sys.argv[1])['chain_0/multiplicity'][:] == 0).sum()))" all/ensemble.h5 2>/dev/null)
[ "${zeros:-0}" -gt 0 ] && ok "save all: $zeros stored rejected proposals have multiplicity 0" \
  || bad "save all: no row with multiplicity 0 ('$zeros')"
if "$py" "$helper" "$doc" m/train.h5 - train > train.py.log 2>&1; then
  ok "FORMAT.md train example on m/train.h5"
else bad "FORMAT.md train example:"; grep -v '^ok' train.py.log | head; fi

# every example of the page was run above
for name in $(grep -o '^# example: [^ ]*' "$doc" | cut -d' ' -f3); do
  grep -q "^ok   $name: runs" ./*/*.py.log ./*.py.log 2>/dev/null && ok "example $name was run" \
    || bad "example $name of FORMAT.md is run by no case here"
done
finish
