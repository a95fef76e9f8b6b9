#!/usr/bin/env bash
# Corrupt and truncated inputs (issue 13, fault suite): a small valid run makes model.h5,
# train.h5, ensemble.h5, hmc.h5 and (stopped by LATFLOW_TEST_INTERRUPT, exit 3)
# train.ckpt.h5, sample.ckpt.h5 and hmc.ckpt.h5; corrupt_inputs.py damages copies of them
# with a fixed seed (bit flips anywhere and in the headers, random bytes, zeroed blocks,
# truncations, appended garbage), and each copy goes to the commands that read it:
#   model.h5           sample --model
#   train.h5           plot
#   ensemble.h5        analyze --json, latflow-merge (with an independent ensemble), plot
#   hmc.h5             analyze --json, latflow-merge
#   <cmd>.ckpt.h5      <cmd> --resume (train, sample, hmc; without .prev, so it is read)
# Pass, for every case: exit 0, 1 or 2 (never a signal or a hang: 60 s each), no sanitizer
# report on stderr, and a nonzero exit names the damaged file. Where the damage is not
# refused (exit 0) by sample --model or a --resume, the result must be bitwise that of the
# undamaged file (the damage hit bytes nothing reads): a model and checkpoints are checked
# by hash and checksum, so damage that matters must be refused. (Ensembles and train.h5
# carry no checksum: analyze may read damaged numbers; counted, not failed.) Runs under the ASan build
# too (label asan; tools/test.sh). Cases run 6 at a time (most of a case's time is MPI
# start-up, spent waiting). Skipped (77) without python3.
# usage: corrupt_inputs.sh LATFLOW WORKDIR SOURCEDIR   (latflow-merge sits next to LATFLOW)
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
py=$(command -v python3 || true)
[ -n "$py" ] || skip "no python3 for the corpus generator"
lf_setup "$@"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
t0=$(date +%s)
cat > c.yaml <<'YAML'
seed: 3
output: base
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 32, stop: {steps: 40}, eval_samples: 64, log_every: 10, checkpoint_every: 10}
sample: {proposals: 2048, block: 64, save: all, checkpoint_every: 512}
hmc: {trajectories: 400, therm: 10, tau: 1.0, steps: 4, checkpoint_every: 100}
YAML
step() { # step DESC EXPECTED-EXIT cmd...: a setup step
  local d=$1 want=$2; shift 2
  "$@" >setup.log 2>&1; local rc=$?
  [ $rc = "$want" ] && ok "setup: $d" || { bad "setup: $d: exit $rc"; tail -5 setup.log; finish; }
}
step "train" 0 "$lf" train c.yaml
step "sample" 0 "$lf" sample c.yaml --model base/model.h5
step "hmc" 0 "$lf" hmc c.yaml
step "independent sample" 0 "$lf" sample c.yaml --model base/model.h5 --output base2 --set seed=4
step "independent hmc" 0 "$lf" hmc c.yaml --output base2 --set seed=4
export LATFLOW_TEST_INTERRUPT=train:25:TERM
step "train stopped with a checkpoint" 3 "$lf" train c.yaml --output ck/train
export LATFLOW_TEST_INTERRUPT=sample:16:TERM
step "sample stopped with a checkpoint" 3 "$lf" sample c.yaml --model base/model.h5 --output ck/sample
export LATFLOW_TEST_INTERRUPT=hmc:250:TERM
step "hmc stopped with a checkpoint" 3 "$lf" hmc c.yaml --output ck/hmc
unset LATFLOW_TEST_INTERRUPT
total=$("$py" "$src/tests/faults/corrupt_inputs.py" corpus model=base/model.h5:21 \
  train=base/train.h5:14 ens=base/ensemble.h5:21 hmc=base/hmc.h5:14 \
  sckpt=ck/sample/sample.ckpt.h5:14 tckpt=ck/train/train.ckpt.h5:14 hckpt=ck/hmc/hmc.ckpt.h5:14) \
  || { bad "corpus generator"; exit 1; }
echo "corpus: $total damaged files"

# the cases: id <TAB> what the message must name <TAB> description <TAB> the result to
# compare with the undamaged one on exit 0 (kind:file, or -); commands in r/<id>.cmd
mkdir -p r; : > r/cases.tsv
n=0; same=-
add() { # add SHOWN DESC -- cmd...  (uses and resets $same)
  local shown=$1 desc=$2; shift 3
  n=$((n+1)); printf '%s\t%s\t%s\t%s\n' $n "$shown" "$desc" "$same" >> r/cases.tsv; same=-
  printf '%q ' "$@" > r/$n.cmd
}
resume_dir() { # resume_dir ID CKDIR CKNAME FILE: a copy of the stopped run with FILE as its checkpoint
  mkdir -p r/d$1; cp -a "$2"/. r/d$1/; rm -f r/d$1/$3.prev; cp "$4" r/d$1/$3
}
k=0
while IFS=$'\t' read -r name path desc; do
  k=$((k+1)); b=$(basename "$path")
  case $name in
    model) same=ens:r/o$k/ensemble.h5; add "$b" "$b ($desc): sample --model" -- "$lf" sample c.yaml --model "$path" --output r/o$k ;;
    train) add "$b" "$b ($desc): plot" -- "$lf" plot "$path" --out r/p$k ;;
    ens|hmc)
      add "$b" "$b ($desc): analyze" -- "$lf" analyze "$path" --json
      other=base2/ensemble.h5; [ $name = hmc ] && other=base2/hmc.h5
      [ $name = ens ] || [ $((k % 2)) = 0 ] && add "$b" "$b ($desc): merge" -- "$merge" r/m$k.h5 "$path" $other
      [ $name = ens ] && [ $((k % 3)) = 0 ] && add "$b" "$b ($desc): plot" -- "$lf" plot "$path" --out r/p$k ;;
    sckpt) resume_dir $k ck/sample sample.ckpt.h5 "$path"; same=ens:r/d$k/ensemble.h5
      add sample.ckpt.h5 "$b ($desc): sample --resume" -- "$lf" sample c.yaml --model base/model.h5 --output r/d$k --resume ;;
    tckpt) resume_dir $k ck/train train.ckpt.h5 "$path"; same=model:r/d$k/model.h5
      add train.ckpt.h5 "$b ($desc): train --resume" -- "$lf" train c.yaml --output r/d$k --resume ;;
    hckpt) resume_dir $k ck/hmc hmc.ckpt.h5 "$path"; same=hmc:r/d$k/hmc.h5
      add hmc.ckpt.h5 "$b ($desc): hmc --resume" -- "$lf" hmc c.yaml --output r/d$k --resume ;;
  esac
done < corpus/cases.tsv

# run them, 6 at a time
for i in $(seq $n); do
  while [ "$(jobs -rp | wc -l)" -ge 6 ]; do wait -n; done
  ( eval "timeout -s KILL 60 $(cat r/$i.cmd)" >r/$i.out 2>r/$i.err; echo $? > r/$i.rc ) &
done
wait

SAN='AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|runtime error:|SUMMARY: .*Sanitizer'
CH="accepted configs corr dH id logw multiplicity obs row"
undamaged() { # undamaged KIND FILE: FILE's data bitwise equal to the undamaged run's
  local ref ds
  case $1 in
    model) ref=base/model.h5; ds=/model/params ;;
    ens) ref=base/ensemble.h5; ds=$(for x in $CH; do echo /chain_0/$x; done) ;;
    hmc) ref=base/hmc.h5; ds=$(for x in $CH; do echo /chain_0/$x; done) ;;
  esac
  [ -f "$2" ] || return 1
  for x in $ds; do h5diff -q "$ref" "$2" $x $x >/dev/null 2>&1 || return 1; done
}
n0=0; n1=0; n2=0; nsame=0
while IFS=$'\t' read -r i shown desc same; do
  rc=$(cat r/$i.rc 2>/dev/null || echo none); why=""
  if [ "$rc" = none ] || [ "$rc" -ge 124 ]; then why="exit $rc (signal or timeout)"
  elif [ "$rc" -gt 2 ]; then why="exit $rc (expected 0, 1 or 2)"
  elif grep -Eq "$SAN" r/$i.err; then why="sanitizer report"
  elif [ "$rc" != 0 ] && ! grep -qF -- "$shown" r/$i.err; then why="the message does not name $shown"
  elif [ "$rc" = 0 ] && [ "$same" != - ]; then
    if undamaged "${same%%:*}" "${same#*:}"; then nsame=$((nsame+1))
    else why="exit 0, but ${same#*:} differs from the undamaged run's (damage used silently)"; fi
  fi
  if [ -n "$why" ]; then bad "$desc: $why"; grep -v '^\[r0' r/$i.err | head -c 800; echo; continue; fi
  passes=$((passes+1))
  case $rc in 0) n0=$((n0+1));; 1) n1=$((n1+1));; 2) n2=$((n2+1));; esac
done < r/cases.tsv
echo "$n cases from $total damaged files: $n0 exit 0 ($nsame of them model or checkpoint reads with a result bitwise the undamaged one's), $n1 exit 1, $n2 exit 2, all naming the file; $(( $(date +%s) - t0 )) s"
finish
