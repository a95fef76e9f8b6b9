#!/usr/bin/env bash
# Concurrent runs into one output (issue 13, fault suite), beyond sec_lock.sh (which holds
# one run and refuses others while it is stopped): here the runs start together, released
# by one gate file, so they race in their start-up.
#   1. `run`, `sample --model` and `train` into one fresh folder, 3 tries: exactly one
#      exits 0, the other two exit 1 with "... is in use by another latflow run", and the
#      winner's files (model params, ensemble and HMC chains) are bitwise those of an
#      undisturbed run of the same command.
#   2. two `latflow-merge` into one OUT (also both with --force), 4 tries: exactly one
#      exits 0, the other exits 1 naming OUT ("is being written by another latflow-merge"
#      or, if it came late, "exists"), OUT equals an undisturbed merge, no OUT.tmp,
#      OUT.tmp.tmp or OUT.lock is left. (Old code: both failed with "cannot rename
#      'm.h5.tmp.tmp'" / "cannot reopen the merged file", each removing the other's
#      temporary as stale.)
#   3. two 2-rank `hmc` jobs into one folder, 2 tries: one exits 0 with the undisturbed
#      chains, the other exits 1 with the refusal.
# usage: concurrent.sh LATFLOW WORKDIR SOURCEDIR   (latflow-merge sits next to LATFLOW)
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
export SOURCE_DATE_EPOCH=1700000000
cat > c.yaml <<'YAML'
seed: 5
output: out/x
theory: {name: phi4, shape: [8, 8], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [8], kernel: 3}
train: {batch: 64, stop: {steps: 800}, eval_samples: 0}
sample: {proposals: 120000, block: 256, save: all}
hmc: {trajectories: 20000, therm: 10, tau: 1.0, steps: 8}
YAML
CH="accepted configs corr dH id logw multiplicity obs row"
# same A B OBJ...: every named dataset bitwise equal (h5diff without tolerance)
same() {
  local a=$1 b=$2; shift 2
  for x in "$@"; do h5diff -q "$a" "$b" "$x" "$x" >/dev/null 2>&1 || { echo "$x differs"; return 1; }; done
}
same_out() { # same_out DIR REFDIR CMD: the files CMD writes, compared with the reference's
  case $3 in
    train)  same "$1/model.h5" "$2/model.h5" /model/params ;;
    sample) same "$1/ensemble.h5" "$2/ensemble.h5" $(for x in $CH; do echo /chain_0/$x; done) ;;
    hmc)    local ds=""; for x in $CH; do ds="$ds /chain_0/$x"; [ "${4:-1}" = 2 ] && ds="$ds /chain_1/$x"; done
            same "$1/hmc.h5" "$2/hmc.h5" $ds ;;
    run)    same_out "$1" "$2" train && same_out "$1" "$2" sample && same_out "$1" "$2" hmc ;;
  esac
}
# hold LOCK RC...: as soon as LOCK names its holder, stop the holder (SIGSTOP keeps its
# lock) until all but one of the RC files exist (the others have been refused), then let
# it go on: on a loaded machine a late starter must not find the winner already finished
hold() {
  local lock=$1 pid="" k t; shift
  for t in $(seq 1200); do
    pid=$(sed -n 's/^pid \([0-9]*\).*/\1/p' "$lock" 2>/dev/null); [ -n "$pid" ] && break; sleep 0.05
  done
  [ -n "$pid" ] && kill -STOP "$pid" 2>/dev/null
  for t in $(seq 2400); do
    k=0; for f in "$@"; do [ -e "$f" ] && k=$((k+1)); done
    [ $k -ge $(($# - 1)) ] && break; sleep 0.05
  done
  [ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null
}
# start ID CMD...: launches CMD in the background, blocked until the file "go" appears;
# its exit code goes to ID.rc, its stderr to ID.err
start() {
  local id=$1; shift
  ( while [ ! -e go ]; do sleep 0.01; done; "$@" >"$id.out" 2>"$id.err"; echo $? >"$id.rc" ) &
}

"$lf" train c.yaml --output out/m >m.log 2>&1 || { bad "train the model for sample"; tail -3 m.log; }
for c in train sample run; do
  extra=(); [ $c = sample ] && extra=(--model out/m/model.h5)
  "$lf" $c c.yaml --output ref/$c "${extra[@]}" >ref_$c.log 2>&1 || { bad "reference $c"; tail -3 ref_$c.log; }
done

# 1. run vs sample vs train, started together
for try in 1 2 3; do
  d=out/race$try; rm -f go *.rc
  start run "$lf" run c.yaml --output $d
  start sample "$lf" sample c.yaml --output $d --model out/m/model.h5
  start train "$lf" train c.yaml --output $d
  touch go; hold $d/.latflow.lock run.rc sample.rc train.rc; wait
  winners=(); losers=0; other=""
  for c in run sample train; do
    rc=$(cat $c.rc)
    if [ "$rc" = 0 ]; then winners+=($c)
    elif [ "$rc" = 1 ] && grep -q "'$d' is in use by another latflow run" $c.err; then losers=$((losers+1))
    else other="$other $c:exit $rc($(tail -n1 $c.err))"; fi
  done
  if [ ${#winners[@]} = 1 ] && [ $losers = 2 ]; then
    ok "race $try: ${winners[0]} won, the other two refused (exit 1, folder in use)"
    w=${winners[0]}
    if diff=$(same_out $d ref/$w $w); then ok "race $try: $w's output equals the undisturbed run's"
    else bad "race $try: $w's output differs: $diff"; fi
  else bad "race $try: winners '${winners[*]}', refused $losers,$other"; fi
done

# 2. two merges into one OUT
for s in 1 2; do
  "$lf" hmc c.yaml --output in/h$s --set seed=$s --set theory.shape=[16,16] >in$s.log 2>&1 \
    || { bad "hmc input $s"; tail -3 in$s.log; }
done
"$merge" ref.h5 in/h1/hmc.h5 in/h2/hmc.h5 >mref.log 2>&1 || { bad "reference merge"; tail -3 mref.log; }
for try in 1 2 3 4; do
  force=(); [ $try -gt 2 ] && force=(--force)
  o=mg$try.h5; rm -f go *.rc
  start ma "$merge" "${force[@]}" $o in/h1/hmc.h5 in/h2/hmc.h5
  start mb "$merge" "${force[@]}" $o in/h1/hmc.h5 in/h2/hmc.h5
  touch go; hold $o.lock ma.rc mb.rc; wait
  ra=$(cat ma.rc); rb=$(cat mb.rc)
  if [ "$ra" = 0 ]; then l=mb; rl=$rb; else l=ma; rl=$ra; fi
  if [ $((ra + rb)) = 1 ] && [ "$rl" = 1 ] \
     && grep -Eq "'$o' (is being written by another latflow-merge|exists)" $l.err; then
    ok "merge race $try${force:+ (--force)}: one merged, the other refused: $(grep -o "'$o' .*" $l.err | head -c 60)"
  else bad "merge race $try: exits $ra $rb: $(tail -n1 ma.err) | $(tail -n1 mb.err)"; fi
  if cmp -s $o ref.h5; then ok "merge race $try: OUT equals the undisturbed merge, bitwise"
  else bad "merge race $try: OUT differs from the undisturbed merge"; fi
  left=$(ls $o.* 2>/dev/null)
  [ -z "$left" ] && ok "merge race $try: no temporary or lock left" || bad "merge race $try: left $left"
done

# 3. two 2-rank hmc jobs into one folder
if command -v mpiexec >/dev/null; then
  mpi 2 "$lf" hmc c.yaml --output ref/hmc2 >ref_hmc2.log 2>&1 || { bad "reference 2-rank hmc"; tail -3 ref_hmc2.log; }
  for try in 1 2; do
    d=out/mpi$try; rm -f go *.rc
    start ja mpi 2 "$lf" hmc c.yaml --output $d
    start jb mpi 2 "$lf" hmc c.yaml --output $d
    touch go; hold $d/.latflow.lock ja.rc jb.rc; wait
    ra=$(cat ja.rc); rb=$(cat jb.rc)
    if [ "$ra" = 0 ]; then l=jb; rl=$rb; else l=ja; rl=$ra; fi
    if [ $((ra + rb)) = 1 ] && [ "$rl" = 1 ] && grep -q "'$d' is in use by another latflow run" $l.err; then
      ok "2-rank race $try: one job ran, the other was refused (exit 1, folder in use)"
    else bad "2-rank race $try: exits $ra $rb: $(tail -n1 ja.err) | $(tail -n1 jb.err)"; fi
    if diff=$(same_out $d ref/hmc2 hmc 2); then ok "2-rank race $try: both chains equal the undisturbed job's"
    else bad "2-rank race $try: $diff"; fi
  done
else
  echo "skip: no mpiexec (2-rank races)"
fi
finish
