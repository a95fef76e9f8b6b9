#!/usr/bin/env bash
# latflow hmc: checkpoints and exact resume. Runs stopped by a signal (through the test
# hook LATFLOW_TEST_INTERRUPT: during thermalization, exactly at a checkpoint, between
# checkpoints, twice in a row, on rank 1 of 2 only) exit with code 3 and leave a checkpoint;
# runs killed by SIGKILL between checkpoints leave a longer ensemble .tmp than their
# checkpoint says; a real `kill -TERM` stops a running process. Every one, continued with
# --resume (also with a longer hmc.trajectories, and from <ckpt>.prev), ends with an hmc.h5
# bitwise equal in every dataset to an uninterrupted run, and the checkpoint is removed.
# Section P does the same for schwinger with pseudofermions (2 ranks, CG columns).
# Refusals: --resume with theory.lambda changed, with hmc.tau_dist changed, with
# hmc.fermion changed (P), with fewer trajectories than done, without a checkpoint, with
# another number of ranks; a fresh run over an interrupted one.
# usage: ckpt_hmc.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
# same A B CHAINS DESC: every dataset of every chain bitwise equal (h5diff without
# tolerances; only attributes such as gen_seconds and created_utc may differ)
same() {
  local a=$1 b=$2 chains=$3 desc=$4 diff=""
  for c in $(seq 0 $((chains - 1))); do
    for d in obs corr configs row id logw dH accepted; do
      h5diff -q "$a" "$b" /chain_$c/$d /chain_$c/$d >/dev/null 2>&1 || diff="$diff chain_$c/$d"
    done
  done
  [ -z "$diff" ] && ok "$desc: bitwise equal to the uninterrupted run" || bad "$desc: differs in$diff"
}
# clean DIR DESC: a finished run left hmc.h5 and no checkpoint or temporary file
clean() {
  [ -s "$1/hmc.h5" ] && ok "$2: hmc.h5 written" || bad "$2: hmc.h5 missing"
  local left; left=$(cd "$1" && ls hmc.ckpt.h5* *.tmp hmc.part* 2>/dev/null | tr '\n' ' ')
  [ -z "$left" ] && ok "$2: checkpoint and temporary files removed" || bad "$2: left $left"
}
# stopped DIR DESC: an interrupted run left a checkpoint and no hmc.h5
stopped() {
  [ -s "$1/hmc.ckpt.h5" ] && ok "$2: checkpoint written" || bad "$2: no checkpoint"
  [ -e "$1/hmc.h5" ] && bad "$2: hmc.h5 exists after an interruption" || ok "$2: no hmc.h5 yet"
}

# 8x8 phi^4, 200 + 3000 trajectories (3200 in all), a checkpoint every 500 trajectories;
# the ranks meet every 64 trajectories, so a signal at trajectory t stops the run at the
# next multiple of 64 or 500
cat > c.yaml <<'YAML'
seed: 7
theory: {name: phi4, shape: [8, 8], m2: -4.0, lambda: 8.0}
sample: {save: accepted}
hmc: {trajectories: 3000, therm: 200, tau: 1.0, steps: 10, checkpoint_every: 500}
YAML
# the reference for the external kill (about 2 s) runs in the background meanwhile
"$lf" hmc c.yaml --output refg --set hmc.trajectories=60000 >/dev/null 2>refg.err &
refg_pid=$!
expect_code 0 "reference run" -- "$lf" hmc c.yaml --output ref
expect_code 0 "reference run of 5000 trajectories" -- "$lf" hmc c.yaml --output reflong --set hmc.trajectories=5000
expect_code 0 "reference run, mpiexec -n 2" -- mpi 2 "$lf" hmc c.yaml --output ref2
h5diff -q ref/hmc.h5 ref2/hmc.h5 /chain_0/dH /chain_1/dH >/dev/null 2>&1 &&
  bad "control: h5diff sees no difference between two chains" || ok "control: h5diff tells chains apart"

# A: during thermalization (stops at 128)
LATFLOW_TEST_INTERRUPT=hmc:100:TERM expect_code 3 "A: SIGTERM during thermalization" -- "$lf" hmc c.yaml --output a
expect_err "interrupted by SIGTERM at trajectory 128; checkpoint a/hmc.ckpt.h5; continue with --resume" "A"
stopped a "A"
expect_code 0 "A: --resume" -- "$lf" hmc c.yaml --output a --resume
same ref/hmc.h5 a/hmc.h5 1 "A"
clean a "A"

# B: exactly at the checkpoint of trajectory 1000
LATFLOW_TEST_INTERRUPT=hmc:999:INT expect_code 3 "B: SIGINT at a checkpoint" -- "$lf" hmc c.yaml --output b
expect_err "interrupted by SIGINT at trajectory 1000" "B"
expect_code 0 "B: --resume --json" -- "$lf" hmc c.yaml --output b --resume --json
grep -q '"resumed_at":[[:space:]]*1000' out.txt && ok "B: json says resumed_at 1000" || bad "B: json lacks resumed_at 1000"
same ref/hmc.h5 b/hmc.h5 1 "B"
clean b "B"

# C: between checkpoints (stops at 1280), then the refusals, then resume from .prev
LATFLOW_TEST_INTERRUPT=hmc:1234:TERM expect_code 3 "C: SIGTERM between checkpoints" -- "$lf" hmc c.yaml --output c
expect_err "at trajectory 1280" "C"
expect_code 1 "C: a fresh run over the interrupted one" -- "$lf" hmc c.yaml --output c
expect_err "continue it with --resume" "C: fresh run refused"
expect_code 2 "C: --resume with theory.lambda changed" -- "$lf" hmc c.yaml --output c --resume --set theory.lambda=9
expect_err "'theory.lambda' differs" "C: lambda refusal names the key"
expect_code 2 "C: --resume with hmc.tau_dist changed" -- "$lf" hmc c.yaml --output c --resume --set hmc.tau_dist=fixed
expect_err "'hmc.tau_dist' differs" "C: tau_dist refusal names the key"
expect_code 2 "C: --resume with fewer trajectories than done" -- "$lf" hmc c.yaml --output c --resume --set hmc.trajectories=1000
expect_err "hmc.trajectories may only grow" "C: length refusal"
expect_code nz "C: --resume under mpiexec -n 2" -- mpi 2 "$lf" hmc c.yaml --output c --resume
expect_err "resume it with the same number of ranks (mpiexec -n 1), not 2" "C: rank refusal"
stopped c "C: after the refusals"
mv c/hmc.ckpt.h5 c/lost.h5 # as if stopped between the two renames of a commit: .prev (1000) is used
expect_code 0 "C: --resume from hmc.ckpt.h5.prev" -- "$lf" hmc c.yaml --output c --resume
grep -qF "resuming at trajectory 1000" err.txt && ok "C: resumed from .prev at 1000" || bad "C: not resumed from .prev"
same ref/hmc.h5 c/hmc.h5 1 "C"
rm -f c/lost.h5
clean c "C"

# D: stopped twice (704, then 2112)
LATFLOW_TEST_INTERRUPT=hmc:700:TERM expect_code 3 "D: first stop" -- "$lf" hmc c.yaml --output d
LATFLOW_TEST_INTERRUPT=hmc:2100:USR1 expect_code 3 "D: second stop after a resume" -- "$lf" hmc c.yaml --output d --resume
expect_err "interrupted by SIGUSR1 at trajectory 2112" "D"
expect_code 0 "D: --resume" -- "$lf" hmc c.yaml --output d --resume
same ref/hmc.h5 d/hmc.h5 1 "D"
clean d "D"

# E: SIGKILL between checkpoints (the checkpoint of 1500 is used)
LATFLOW_TEST_INTERRUPT=hmc:1700:KILL expect_code nz "E: SIGKILL at 1700" -- "$lf" hmc c.yaml --output e
stopped e "E"
expect_code 0 "E: --resume" -- "$lf" hmc c.yaml --output e --resume
grep -qF "resuming at trajectory 1500" err.txt && ok "E: resumed at 1500" || bad "E: not resumed at 1500"
same ref/hmc.h5 e/hmc.h5 1 "E"
clean e "E"

# F: a longer run on resume; killed 4280 trajectories after its checkpoint (320) with
# checkpoints off, so the .tmp holds more than 4096 steps (a flushed buffer) past it
LATFLOW_TEST_INTERRUPT=hmc:300:TERM expect_code 3 "F: stop at 320" -- "$lf" hmc c.yaml --output f
LATFLOW_TEST_INTERRUPT=hmc:4600:KILL expect_code nz "F: --resume with 5000 trajectories, no checkpoints, SIGKILL at 4600" -- \
  "$lf" hmc c.yaml --output f --resume --set hmc.trajectories=5000 --set hmc.checkpoint_every=0
expect_code 0 "F: --resume with 5000 trajectories" -- "$lf" hmc c.yaml --output f --resume --set hmc.trajectories=5000
grep -qF "resuming at trajectory 320" err.txt && ok "F: resumed at 320" || bad "F: not resumed at 320"
same reflong/hmc.h5 f/hmc.h5 1 "F"
clean f "F"

# H: mpiexec -n 2, SIGUSR1 on rank 1 only: both ranks stop at 1152
LATFLOW_TEST_INTERRUPT=hmc:1100:USR1:1 expect_code 3 "H: mpiexec -n 2, SIGUSR1 on rank 1" -- mpi 2 "$lf" hmc c.yaml --output h
expect_err "interrupted by SIGUSR1 at trajectory 1152" "H"
[ "$(grep -c 'interrupted by SIGUSR1 at trajectory 1152' err.txt)" = 2 ] && ok "H: both ranks stopped at 1152" || bad "H: the ranks did not stop together"
[ -e h/hmc.part0.h5.tmp ] && [ -e h/hmc.part1.h5.tmp ] && ok "H: part files kept" || bad "H: part files missing"
expect_code 2 "H: --resume with one rank" -- "$lf" hmc c.yaml --output h --resume
expect_err "holds 2 chains (one per rank); resume it with the same number of ranks (mpiexec -n 2), not 1" "H: rank refusal"
expect_code 0 "H: --resume, mpiexec -n 2" -- mpi 2 "$lf" hmc c.yaml --output h --resume
same ref2/hmc.h5 h/hmc.h5 2 "H"
clean h "H"

# P: schwinger with pseudofermions (CG), mpiexec -n 2: SIGTERM on rank 1 (stops at 320),
# a refused --resume with hmc.fermion changed, a --resume without checkpoints killed at
# 4700 (the .tmp parts then hold > 4096 steps past the checkpoint: cut back, including the
# CG columns), a final --resume: bitwise the uninterrupted run, cg_iters and cg_max too
cat > pf.yaml <<'YAML'
seed: 11
theory: {name: schwinger, shape: [4, 4], beta: 2.0, kappa: 0.25}
sample: {save: accepted}
hmc: {trajectories: 5000, therm: 50, tau: 1.0, steps: 6, checkpoint_every: 200, fermion: pseudofermion}
YAML
expect_code 0 "P: reference, schwinger pseudofermion, mpiexec -n 2" -- mpi 2 "$lf" hmc pf.yaml --output pref --json
grep -q '"cg_iters_per_solve"' out.txt && ok "P: json reports cg_iters_per_solve" || bad "P: json lacks cg_iters_per_solve"
grep -q "CG [0-9.]* iterations per solve" err.txt && ok "P: log reports CG iterations per solve" || bad "P: no CG summary in the log"
LATFLOW_TEST_INTERRUPT=hmc:300:TERM:1 expect_code 3 "P: SIGTERM on rank 1" -- mpi 2 "$lf" hmc pf.yaml --output p
expect_err "interrupted by SIGTERM at trajectory 320" "P"
expect_code 2 "P: --resume with hmc.fermion = exact" -- mpi 2 "$lf" hmc pf.yaml --output p --resume --set hmc.fermion=exact
expect_err "'hmc.fermion' differs" "P: fermion refusal names the key"
LATFLOW_TEST_INTERRUPT=hmc:4700:KILL expect_code nz "P: --resume without checkpoints, SIGKILL at 4700" -- \
  mpi 2 "$lf" hmc pf.yaml --output p --resume --set hmc.checkpoint_every=0
expect_code 0 "P: --resume" -- mpi 2 "$lf" hmc pf.yaml --output p --resume
grep -qF "resuming at trajectory 320" err.txt && ok "P: resumed at 320" || bad "P: not resumed at 320"
same pref/hmc.h5 p/hmc.h5 2 "P"
diff=""
for c in 0 1; do
  for d in cg_iters cg_max; do
    h5diff -q pref/hmc.h5 p/hmc.h5 /chain_$c/$d /chain_$c/$d >/dev/null 2>&1 || diff="$diff chain_$c/$d"
  done
done
[ -z "$diff" ] && ok "P: CG columns bitwise equal" || bad "P: CG columns differ in$diff"
clean p "P"

# no checkpoint at all
expect_code 0 "--resume without a checkpoint starts over" -- "$lf" hmc c.yaml --output none --resume
expect_err "starting from the beginning" "the restart is logged"
same ref/hmc.h5 none/hmc.h5 1 "--resume without a checkpoint"
# --resume of a finished run does nothing and succeeds (a requeued job may ask again)
expect_code 0 "--resume of a finished run" -- "$lf" hmc c.yaml --output h --resume
grep -q "nothing to resume" out.txt err.txt && ok "finished run: nothing to resume" || bad "finished run: no message"
same ref2/hmc.h5 h/hmc.h5 2 "H after a second --resume"

# G: a real SIGTERM from outside, at whatever trajectory the process is at
"$lf" hmc c.yaml --output g --set hmc.trajectories=60000 >/dev/null 2>g.err &
pid=$!
for _ in $(seq 100); do [ -e g/hmc.h5.tmp ] && break; sleep 0.05; done # handlers installed
sleep 0.3
kill -TERM "$pid"
wait "$pid"; code=$?
[ "$code" = 3 ] && ok "G: kill -TERM (exit 3)" || { bad "G: kill -TERM: exit $code, want 3"; tail -3 g.err; }
grep -q "interrupted by SIGTERM at trajectory" g.err && ok "G: stop reported" || bad "G: no stop message"
expect_code 0 "G: --resume" -- "$lf" hmc c.yaml --output g --resume --set hmc.trajectories=60000
wait "$refg_pid" && ok "G: reference run" || { bad "G: reference run"; tail -3 refg.err; }
same refg/hmc.h5 g/hmc.h5 1 "G"
clean g "G"

finish
