#!/usr/bin/env bash
# Resume hints that work (issue 15, item 3): a command stopped by a signal (exit 3) prints
# "latflow: continue with: <command>", the exact command that continues it: the program as
# invoked and every argument (card, --output, every --set, --model), shell-quoted, with
# --resume added once and --force dropped. The test runs that line verbatim with `sh -c`
# and checks it finishes the same run: exit 0, the same output folder, and for `run` the
# model and ensemble bitwise those of an uninterrupted run. Covers `run` stopped in its
# training stage (SIGINT) and in its sampling stage (SIGTERM), `sample --model`, `hmc`, a
# resumed run stopped again (--resume not doubled) and a two-rank job (the hint says
# "(under the same mpiexec/srun launch)", once).
# usage: cli_resume.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
command -v h5diff >/dev/null || { echo "FAIL h5diff not found in PATH"; exit 1; }

cat > tiny.yaml <<'YAML'
seed: 5
output: out/unused
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 16, stop: {steps: 40}, checkpoint_every: 10, eval_samples: 0, log_every: 20}
sample: {proposals: 4096, block: 64, epoch: 4, checkpoint_every: 512, save: none}
hmc: {compare: false, trajectories: 200, therm: 10, tau: 1.0, steps: 4, checkpoint_every: 50}
YAML
# the arguments of every run: an output folder with a quote and a space, a --set value
# with spaces, and --force (which the printed command must drop)
dir="out/it's a run"
sets=(--set "model.hidden=[4, 4]" --set 'seed=6')

# hint LOG: the command printed after "continue ... with: " (empty if none)
hint() { sed -n 's/^latflow: continue .*with: //p' "$1"; }
# check_hint DESC CMD WANT...: CMD names the program first, holds --resume once, no --force
# and every fixed string WANT
check_hint() {
  local desc=$1 cmd=$2; shift 2
  [ -n "$cmd" ] || { bad "$desc: no 'continue with:' line"; return; }
  local n; n=$(grep -o -- '--resume' <<<"$cmd" | wc -l)
  case $cmd in "$lf "*) ;; *) bad "$desc: the command does not start with the program: $cmd"; return ;; esac
  [ "$n" = 1 ] && ! grep -q -- '--force' <<<"$cmd" || { bad "$desc: --resume $n times or --force kept: $cmd"; return; }
  for w in "$@"; do grep -qF -- "$w" <<<"$cmd" || { bad "$desc: lacks $w: $cmd"; return; }; done
  ok "$desc: $cmd"
}

# ---- run, the reference and one stopped in its training stage by SIGINT --------------------
"$lf" run tiny.yaml --output out/ref "${sets[@]}" > ref.out 2> ref.err && ok "uninterrupted reference run" ||
  { bad "reference run"; tail ref.err; }
LATFLOW_TEST_INTERRUPT=train:15:INT "$lf" run tiny.yaml --output "$dir" "${sets[@]}" --force > r1.out 2> r1.err
code=$?
[ "$code" = 3 ] && ok "run stopped by SIGINT in training: exit 3" || { bad "run: exit $code, want 3"; tail r1.err; }
cmd=$(hint r1.err)
check_hint "run (training stage)" "$cmd" "'out/it'\\''s a run'" "'model.hidden=[4, 4]'" "seed=6" tiny.yaml
[ "$(grep -c 'continue .*with: ' r1.err)" = 1 ] && ok "the hint is printed once" || bad "the hint is printed $(grep -c 'continue .*with: ' r1.err) times"
# stopped again, now in the sampling stage (SIGTERM), by the printed command itself
LATFLOW_TEST_INTERRUPT=sample:64:TERM sh -c "$cmd" > r2.out 2> r2.err
code=$?
[ "$code" = 3 ] && ok "the printed command, stopped by SIGTERM in sampling: exit 3" || { bad "exit $code, want 3"; tail r2.err; }
grep -q "1/4 training (resumed from its checkpoint)" r2.err && ok "the printed command resumed the training stage" ||
  bad "the printed command did not resume training"
cmd2=$(hint r2.err)
check_hint "run (resumed, stopped again: --resume not doubled)" "$cmd2" "'out/it'\\''s a run'"
sh -c "$cmd2" > r3.out 2> r3.err
code=$?
[ "$code" = 0 ] && ok "the printed command finishes the run: exit 0" || { bad "exit $code, want 0"; tail r3.err; }
grep -q "2/4 sampling (resumed from its checkpoint)" r3.err && ok "it resumed the sampling stage" || bad "sampling not resumed"
for f in model.h5 ensemble.h5 analysis.json; do
  [ -s "$dir/$f" ] || bad "$dir/$f missing after the resumed run"
done
h5same out/ref/model.h5 "$dir/model.h5" /model/params && ok "same run: model parameters bitwise the reference's" ||
  bad "the resumed run's model differs from the reference (arguments lost?)"
h5same out/ref/ensemble.h5 "$dir/ensemble.h5" /chain_0/obs && ok "same run: ensemble bitwise the reference's" ||
  bad "the resumed run's ensemble differs from the reference"
[ ! -e out/unused ] && ok "nothing written into the card's own output" || bad "a run went to the card's output"

# ---- sample --model, hmc ----------------------------------------------------------------------
LATFLOW_TEST_INTERRUPT=sample:64:INT "$lf" sample tiny.yaml --model out/ref/model.h5 --output "out/s 1" \
  "${sets[@]}" > s1.out 2> s1.err
code=$?
[ "$code" = 3 ] && ok "sample --model stopped: exit 3" || { bad "sample: exit $code"; tail s1.err; }
cmd=$(hint s1.err)
check_hint "sample" "$cmd" "--model out/ref/model.h5" "'out/s 1'"
sh -c "$cmd" > s2.out 2> s2.err && [ -s "out/s 1/ensemble.h5" ] && ok "the printed sample command finishes the run" ||
  { bad "the printed sample command failed"; tail s2.err; }
LATFLOW_TEST_INTERRUPT=hmc:60:TERM "$lf" hmc tiny.yaml --output "out/h m" > h1.out 2> h1.err
code=$?
[ "$code" = 3 ] && ok "hmc stopped: exit 3" || { bad "hmc: exit $code"; tail h1.err; }
cmd=$(hint h1.err)
check_hint "hmc" "$cmd" "'out/h m'"
sh -c "$cmd" > h2.out 2> h2.err && [ -s "out/h m/hmc.h5" ] && ok "the printed hmc command finishes the run" ||
  { bad "the printed hmc command failed"; tail h2.err; }

# ---- two ranks: one hint, naming the launch -----------------------------------------------------
if command -v mpiexec >/dev/null; then
  LATFLOW_TEST_INTERRUPT=train:15:TERM mpi 2 -x LATFLOW_TEST_INTERRUPT "$lf" train tiny.yaml --output out/np2 > m1.out 2> m1.err
  code=$?
  [ "$code" = 3 ] && ok "train under mpiexec -n 2 stopped: exit 3" || { bad "np 2: exit $code"; tail m1.err; }
  n=$(grep -c '^latflow: continue (under the same mpiexec/srun launch) with: ' m1.err)
  [ "$n" = 1 ] && ok "np 2: one hint, under the same launch" || { bad "np 2: $n hints"; tail m1.err; }
fi
finish cli_resume
