#!/usr/bin/env bash
# Checkpoint integrity (issue 13, defect 11) through the CLI: a sample run stopped at
# block 100 (checkpoints at blocks 96 -> .prev and 100) gets one bit flipped in the chain
# state (the lowest mantissa bit of imh_cur_logw, the current state's log weight) or in
# the ensemble length `rows` of sample.ckpt.h5 (h5py, in place). --resume
# then warns "checksum mismatch: corrupted", falls back to .prev and ends with an ensemble
# bitwise equal to an uninterrupted run's; without .prev it is refused (exit 1) naming
# the file. Skipped (77) without python3-h5py.
# usage: sec_ckpt_checksum.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
py=/usr/bin/python3
$py -c 'import h5py' 2>/dev/null || skip "no h5py"
lf_setup "$@"
cat > tiny.yaml <<'YAML'
seed: 11
theory: {name: phi4, shape: [8, 8], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [8]}
train: {batch: 64, stop: {steps: 50}, eval_samples: 0}
sample: {proposals: 12800, block: 64, epoch: 4, checkpoint_every: 2048, save: all}
YAML
S=(sample tiny.yaml --model m/model.h5)
# flip FILE ATTR: the lowest bit of root attribute ATTR (f64 or integer), written back in
# place with the stored type
flip() {
  $py - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+")
name = sys.argv[2]; a = np.array(f.attrs[name])
b = a.view(np.uint64) if a.dtype == np.float64 else a
b ^= b.dtype.type(1)
f.attrs.modify(name, a)
print(name, f.attrs[name]); f.close()
PY
}
"$lf" train tiny.yaml --output m > train.log 2>&1 && ok "train the tiny model" || { bad "train"; tail -3 train.log; }
"$lf" "${S[@]}" --output ref > ref.log 2>&1 && ok "reference run" || { bad "reference run"; tail -3 ref.log; }
for kind in imh_cur_logw rows; do
  d=run_$kind
  LATFLOW_TEST_INTERRUPT=sample:100:TERM "$lf" "${S[@]}" --output $d > $d.1.log 2>&1
  [ $? = 3 ] && [ -f $d/sample.ckpt.h5 ] && [ -f $d/sample.ckpt.h5.prev ] \
    && ok "$kind: stopped at block 100 with a checkpoint and its .prev" || bad "$kind: stop"
  name=$(flip $d/sample.ckpt.h5 $kind) && ok "$kind: one bit of '$name' flipped" || bad "$kind: flip"
  "$lf" "${S[@]}" --output $d --resume > $d.2.log 2>&1 && ok "$kind: resume exits 0" || { bad "$kind: resume"; tail -3 $d.2.log; }
  grep -q "sample.ckpt.h5': checksum mismatch: corrupted.*resuming from the previous checkpoint" $d.2.log \
    && ok "$kind: corruption reported, .prev used" || { bad "$kind: no warning"; grep -i ckpt $d.2.log | tail -3; }
  n=0
  for x in obs configs row id logw accepted; do
    h5diff -q ref/ensemble.h5 $d/ensemble.h5 /chain_0/$x /chain_0/$x >/dev/null 2>&1 || n=$((n+1))
  done
  [ $n = 0 ] && ok "$kind: ensemble bitwise equal to the uninterrupted run" || bad "$kind: $n datasets differ"
done
# no .prev: refused
d=noprev
LATFLOW_TEST_INTERRUPT=sample:100:TERM "$lf" "${S[@]}" --output $d > $d.1.log 2>&1
flip $d/sample.ckpt.h5 imh_cur_logw >/dev/null; rm -f $d/sample.ckpt.h5.prev
"$lf" "${S[@]}" --output $d --resume > $d.2.log 2>&1; rc=$?
[ $rc = 1 ] && grep -q "'$d/sample.ckpt.h5': checksum mismatch: corrupted" $d.2.log \
  && ok "no .prev: refused (exit 1) naming the file" || { bad "no .prev: exit $rc"; tail -3 $d.2.log; }
finish
