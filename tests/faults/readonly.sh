#!/usr/bin/env bash
# Read-only folders and inputs (issue 13, fault suite). The read-only place is a tmpfs
# remounted read-only when we are root (root writes through chmod), else a folder with
# mode 555 (files 444); skipped (77) if neither works.
#   Outputs there: train, sample, hmc, run (into an existing read-only folder, and into a
#   new folder below one), sample --resume and hmc --resume of a run stopped there,
#   latflow-merge OUT there and plot --out there each exit 1, never a signal, with a
#   message naming the folder (or OUT), and write nothing anywhere else.
#   Inputs there: sample --model, analyze, analyze --json, plot and latflow-merge read
#   model.h5, train.h5 and ensembles from the read-only place and write elsewhere: exit 0.
# (analyze writes no file: --json goes to stdout.)
# usage: readonly.sh LATFLOW WORKDIR SOURCEDIR   (latflow-merge sits next to LATFLOW)
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
# a read-only tmpfs left mounted by a killed earlier run would stop the rm -rf
if mountpoint -q "$2/ro" 2>/dev/null; then umount "$2/ro" 2>/dev/null; fi
lf_setup "$@"
cat > c.yaml <<'YAML'
seed: 3
output: w/base
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 32, stop: {steps: 40}, eval_samples: 64, checkpoint_every: 10}
sample: {proposals: 2048, block: 64, save: all, checkpoint_every: 512}
hmc: {trajectories: 400, therm: 10, tau: 1.0, steps: 4, checkpoint_every: 100}
YAML
"$lf" train c.yaml >s.log 2>&1 && "$lf" sample c.yaml --model w/base/model.h5 >>s.log 2>&1 \
  && "$lf" sample c.yaml --model w/base/model.h5 --output w/b2 --set seed=4 >>s.log 2>&1 \
  && LATFLOW_TEST_INTERRUPT=sample:16:TERM "$lf" sample c.yaml --model w/base/model.h5 --output w/cks >>s.log 2>&1
[ $? = 3 ] || { bad "setup runs"; tail -5 s.log; exit 1; }
LATFLOW_TEST_INTERRUPT=hmc:250:TERM "$lf" hmc c.yaml --output w/ckh >>s.log 2>&1
[ $? = 3 ] || { bad "setup: stopped hmc"; tail -5 s.log; exit 1; }

# the read-only place: ro/ with in/ (inputs), out/ (an existing run folder), cks/ and ckh/
# (stopped runs)
mkdir ro
fill() {
  mkdir -p ro/in ro/out && cp w/base/model.h5 w/base/train.h5 w/base/ensemble.h5 ro/in/ \
    && cp w/b2/ensemble.h5 ro/in/e2.h5 && cp -a w/cks ro/cks && cp -a w/ckh ro/ckh
}
how=""
if [ "$(id -u)" = 0 ]; then
  if mount -t tmpfs -o size=32m tmpfs ro 2>/dev/null; then
    trap 'cd "$wd" && umount ro 2>/dev/null' EXIT
    fill && mount -o remount,ro ro && how="a tmpfs remounted read-only"
  fi
else
  fill && chmod -R a-w ro && how="mode 555 folders"
  trap 'chmod -R u+w "$wd/ro" 2>/dev/null' EXIT
fi
if [ -z "$how" ] || touch ro/probe 2>/dev/null; then
  echo "skip: cannot make a read-only folder here"; exit 77
fi
echo "read-only place: $how"

touch stamp; sleep 0.01
# refused DESC NAME -- cmd...: exit 1, names NAME, no new file outside ro/ but our logs
refused() {
  local desc=$1 name=$2; shift 3
  touch stamp
  "$@" >o.txt 2>e.txt; local rc=$?
  if [ $rc = 1 ] && grep -qF -- "$name" e.txt; then ok "$desc: exit 1: $(grep "^latflow[a-z-]*: " e.txt | head -n1 | cut -c1-110)"
  else bad "$desc: exit $rc"; grep -v '^\[r0' e.txt | tail -3; fi
  local new; new=$(find . -mindepth 1 -path ./ro -prune -o -newer stamp ! -name o.txt ! -name e.txt ! -name stamp -print | grep -v '^\./ro$')
  [ -z "$new" ] && ok "$desc: nothing written elsewhere" || bad "$desc: wrote $new"
}
refused "train into a read-only folder" ro/out -- "$lf" train c.yaml --output ro/out
refused "sample into a read-only folder" ro/out -- "$lf" sample c.yaml --model w/base/model.h5 --output ro/out
refused "hmc into a read-only folder" ro/out -- "$lf" hmc c.yaml --output ro/out
refused "run into a read-only folder" ro/out -- "$lf" run c.yaml --output ro/out
refused "train into a new folder below a read-only one" ro/new -- "$lf" train c.yaml --output ro/new/x
refused "sample --resume of a read-only stopped run" ro/cks -- "$lf" sample c.yaml --model w/base/model.h5 --output ro/cks --resume
refused "hmc --resume of a read-only stopped run" ro/ckh -- "$lf" hmc c.yaml --output ro/ckh --resume
refused "merge into a read-only folder" ro/out/m.h5 -- "$merge" ro/out/m.h5 w/base/ensemble.h5 w/b2/ensemble.h5
refused "plot --out a read-only folder" ro/out -- "$lf" plot w/base/ensemble.h5 --out ro/out
refused "plot --out a new folder below a read-only one" ro/new -- "$lf" plot w/base/ensemble.h5 --out ro/new/p

# read-only inputs, outputs elsewhere
reads() {
  local desc=$1; shift 2
  "$@" >o.txt 2>e.txt; local rc=$?
  [ $rc = 0 ] && ok "$desc: exit 0" || { bad "$desc: exit $rc"; grep -v '^\[r0' e.txt | tail -3; }
}
reads "sample --model from a read-only folder" -- "$lf" sample c.yaml --model ro/in/model.h5 --output w/s
reads "analyze a read-only ensemble" -- "$lf" analyze ro/in/ensemble.h5
reads "analyze --json a read-only ensemble" -- "$lf" analyze ro/in/ensemble.h5 --json
reads "plot a read-only train.h5" -- "$lf" plot ro/in/train.h5 --out w/p1
reads "plot a read-only ensemble" -- "$lf" plot ro/in/ensemble.h5 --out w/p2
reads "merge read-only ensembles" -- "$merge" w/m.h5 ro/in/ensemble.h5 ro/in/e2.h5
finish
