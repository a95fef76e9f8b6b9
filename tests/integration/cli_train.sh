#!/usr/bin/env bash
# Drives the latflow binary: version, config printing and errors (exit code 2 with file,
# line and key), a short training run with --json and its files, refusal to overwrite,
# parameter and volume transfer, an architecture mismatch, and bench --json. Evaluations
# on fresh samples during training (issue 12): eval_every 7 over 30 steps gives the JSON
# list "evals" at steps 7, 14, 21, 28, 30 with n_train = 16 x step, one `eval step=` log
# line each and /eval in train.h5 (format_version 2, every dataset described), the same
# on 2 training ranks; on the quickstart card after 300 steps the fresh-sample ESS is far
# below the (biased) batch ESS and the JSON warns that the flow is useless for IMH.
# usage: cli_train.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"

expect_code 0 "--version" -- "$lf" --version
grep -q '^latflow ' out.txt && ok "version printed" || bad "version not printed"
expect_code 2 "no command" -- "$lf"
expect_code 2 "unknown command" -- "$lf" frobnicate
expect_code 0 "config --default" -- "$lf" config --default
cp out.txt default.yaml
expect_code 0 "config of the default card" -- "$lf" config default.yaml
cp out.txt effective.yaml
expect_code 0 "effective config reads back" -- "$lf" config effective.yaml
cmp -s <(tail -n +2 out.txt) <(tail -n +2 effective.yaml) && ok "effective config round trip is a fixed point (below the source comment)" || bad "effective config round trip differs"
expect_code 2 "misspelt --set key" -- "$lf" config --set train.bach=3
expect_err "did you mean 'train.batch'" "suggestion"
printf 'theory:\n  name: phi4\n  shape: [8, 7]\n' > odd.yaml
expect_code 2 "odd lattice size" -- "$lf" train odd.yaml
expect_err "odd.yaml:3" "file and line named"
expect_code 2 "missing config file" -- "$lf" train nothere.yaml
expect_err "nothere.yaml" "missing file named"
expect_code 2 "unknown option" -- "$lf" train --frobnicate

cat > tiny.yaml <<'YAML'
seed: 7
output: out/tiny
theory: {name: phi4, shape: [4, 4], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [4], kernel: 3, precision: double}
train:
  batch: 16
  stop: {steps: 60, ess_window: 10}
  eval_samples: 500
  log_every: 20
YAML
expect_code 0 "train tiny --json" -- "$lf" train tiny.yaml --json
for key in '"steps":' '"ess_eval":' '"acceptance":' '"ess_smoothed":' '"loss":' '"wall_seconds":' '"model":'; do
  grep -qF "$key" out.txt && ok "json has $key" || bad "json lacks $key"
done
grep -q 'step=20/60' err.txt && ok "progress line printed" || bad "no progress line"
[ -s out/tiny/model.h5 ] && [ -s out/tiny/train.h5 ] && ok "model.h5 and train.h5 written" || bad "outputs missing"
ls out/tiny/*.tmp >/dev/null 2>&1 && bad "temporary files left" || ok "no temporary files left"
expect_code 1 "second run refuses to overwrite" -- "$lf" train tiny.yaml
expect_err "refusing to overwrite" "overwrite refusal"
expect_code 0 "--force overwrites" -- "$lf" train tiny.yaml --force --set train.stop.steps=5
expect_code 0 "parameter transfer" -- "$lf" train tiny.yaml --output out/pt --set train.init_from=out/tiny/model.h5 --set theory.m2=-3.5 --set train.stop.steps=5
expect_err "parameter transfer" "parameter transfer logged"
expect_code 0 "volume transfer" -- "$lf" train tiny.yaml --output out/vt --set train.init_from=out/tiny/model.h5 --set 'theory.shape=[8,8]' --set train.stop.steps=5
expect_err "volume transfer" "volume transfer logged"
expect_code 2 "transfer between architectures" -- "$lf" train tiny.yaml --output out/bad --set train.init_from=out/tiny/model.h5 --set model.layers=4
expect_err "another architecture" "architecture mismatch explained"
echo "not hdf5" > fake.h5
expect_code 1 "init_from a text file" -- "$lf" train tiny.yaml --output out/fake --set train.init_from=fake.h5
expect_err "fake.h5" "bad model file named"
# ---- evaluations on fresh samples during training ----------------------------------------
py=/usr/bin/python3
ev="--set train.stop.steps=30 --set train.eval_every=7 --set train.eval_samples=300"
expect_code 0 "train with eval_every 7 --json" -- "$lf" train tiny.yaml --output out/ev $ev --json
cp out.txt ev1.json; cp err.txt ev1.err
[ "$(grep -c 'train: eval step=' ev1.err)" = 5 ] && ok "five 'eval step=' log lines" ||
  bad "eval log lines: $(grep -c 'train: eval step=' ev1.err), want 5"
grep -q 'eval step=14 ess=[0-9.]* acc=[0-9.]* .*n_train=224 s=' ev1.err && ok "eval line greppable (step, ess, acc, n_train, s)" || bad "eval line format"
grep -q 'step=20/30 .*ess_batch=[0-9.]* ess_batch_s=[0-9.]* ess_fresh=[0-9.]' ev1.err && ok "progress line shows ess_batch and the last ess_fresh" || bad "progress line lacks ess_batch/ess_fresh"
$py - ev1.json out/ev/train.h5 <<'PY' && ok "json evals at 7 14 21 28 30, n_train 16 x step, last = ess_eval; /eval in train.h5 v2, described" || bad "json evals or /eval wrong"
import json, sys, h5py
d = json.load(open(sys.argv[1]))
ev = d["evals"]
assert [e["step"] for e in ev] == [7, 14, 21, 28, 30], ev
for e in ev:
    for k in ("ess", "acceptance", "n_train", "seconds", "loss", "eval_seconds", "samples"):
        assert k in e, k
    assert e["n_train"] == 16 * e["step"] and e["samples"] == 300, e
    assert 0 < e["ess"] <= 1 and 0 <= e["acceptance"] <= 1, e
assert all(a["seconds"] <= b["seconds"] for a, b in zip(ev, ev[1:]))
assert d["ess_eval"] == ev[-1]["ess"] and d["acceptance"] == ev[-1]["acceptance"]
assert d["eval_samples"] == 300 and isinstance(d["warnings"], list)
with h5py.File(sys.argv[2]) as f:
    assert f.attrs["format_version"] == 2
    assert list(f["eval/step"][:]) == [7, 14, 21, 28, 30]
    assert list(f["eval/ess"][:]) == [e["ess"] for e in ev]
    for name in ["step", "loss", "ess", "ess_smoothed", "seconds"] + ["eval/" + k for k in f["eval"]]:
        assert len(f[name].attrs["description"]) > 10, name
PY
mpi 2 "$lf" train tiny.yaml --output out/ev2 $ev --json >ev2.json 2>ev2.err &&
  ok "the same on 2 training ranks" || { bad "2-rank training failed"; cat ev2.err; }
$py - ev1.json ev2.json <<'PY' && ok "2 ranks: the same evaluation steps, n_train and acceptance, ESS to 1e-8" || bad "1 and 2 ranks give other evaluations"
import json, sys
a, b = (json.load(open(p))["evals"] for p in sys.argv[1:3])
assert [(e["step"], e["n_train"], e["acceptance"]) for e in a] == [(e["step"], e["n_train"], e["acceptance"]) for e in b]
for x, y in zip(a, b):
    assert abs(x["ess"] - y["ess"]) <= 1e-8 * x["ess"], (x, y)
PY
expect_code 0 "eval_samples 0: no evaluation" -- "$lf" train tiny.yaml --output out/ev0 $ev --set train.eval_samples=0 --json
$py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["evals"] == [] and d["ess_eval"] is None and any("no evaluation" in w for w in d["warnings"])' out.txt &&
  ok "eval_samples 0: evals [], ess_eval null, a warning" || bad "eval_samples 0 json"
if command -v gnuplot >/dev/null; then
  expect_code 0 "plot of a train.h5 with evaluations" -- "$lf" plot out/ev/train.h5
  [ "$(grep -vc '^#' out/ev/plots/train/eval.dat)" = 5 ] && grep -q "t 'fresh-sample ESS'" out/ev/plots/train/plots.gp &&
    grep -q "t 'batch ESS (biased high), smoothed'" out/ev/plots/train/plots.gp && [ -s out/ev/plots/train/train_ess.png ] &&
    ok "training plot: fresh-sample ESS points (eval.dat, 5 rows) over the labelled batch ESS" ||
    bad "training plot lacks the evaluations: $(ls out/ev/plots/train)"
  [ "$(head -c 8 out/ev/plots/train/train_fresh_ess.png | tail -c 7)" = "$(printf 'PNG\r\n\032\n')" ] &&
    grep -q "plot 'eval.dat' u 2:3 .* t 'fresh-sample ESS', '' u 2:4 .* t 'IMH acceptance (fresh samples)'" out/ev/plots/train/plots.gp &&
    ok "train_fresh_ess.png: fresh-sample ESS and IMH acceptance against the samples flowed" || bad "train_fresh_ess plot"
  # samples flowed follow a batch schedule: 16 per step, doubled every 10 steps up to 64
  expect_code 0 "train with batch doubling and evaluations" -- "$lf" train tiny.yaml --output out/evb \
    --set train.stop.steps=30 --set train.eval_every=10 --set train.eval_samples=200 \
    --set train.schedule.batch_double_every=10 --set train.schedule.batch_max=64
  expect_code 0 "plot of the batch-doubling run" -- "$lf" plot out/evb/train.h5
  $py - out/evb/plots/train <<'PY' && ok "fresh ESS x axis: samples flowed = sum of the scheduled batches (160, 480, 1120)" || bad "samples flowed with a batch schedule"
import math, sys
rows = lambda n: [l.split() for l in open(sys.argv[1] + "/" + n) if not l.startswith("#")]
flowed = {int(r[0]): int(float(r[1])) for r in rows("train.dat")}  # after step r[0]
ev = rows("eval.dat")
assert [int(r[0]) for r in ev] == [10, 20, 30], ev
assert [int(r[1]) for r in ev] == [flowed[int(r[0]) - 1] for r in ev] == [160, 480, 1120], ev
assert all(math.isfinite(float(x)) for r in ev for x in r), ev
PY
  expect_code 0 "plot of a train.h5 without evaluations" -- "$lf" plot out/ev0/train.h5
  [ ! -e out/ev0/plots/train/eval.dat ] && ! grep -q "eval.dat" out/ev0/plots/train/plots.gp &&
    [ ! -e out/ev0/plots/train/train_fresh_ess.png ] &&
    ok "no evaluations: no eval.dat, no fresh-sample curve or plot" || bad "plot without evaluations"
fi
# the quickstart card after 300 steps: the batch ESS of 64 samples is biased high
# train needs a card (no silent fallback to the quickstart): a usage error naming the way to one
expect_code 2 "train without a card" -- "$lf" train --output out/nocard --set train.stop.steps=1
grep -q "needs a run card" err.txt && grep -q "latflow config --default" err.txt && [ ! -e out/nocard ] &&
  ok "train without a card: exit 2, names 'latflow config --default', no output" || bad "train without a card: $(cat err.txt)"
"$lf" config --default >qs.yaml
# the default card pins nothing that follows theory.name or the optimizer
sed 's/name: phi4 /name: u1   /' qs.yaml >qs-u1.yaml
expect_code 0 "default card with theory.name u1 is valid for every command" -- "$lf" check qs-u1.yaml
expect_code 0 "default card + adadelta" -- "$lf" config qs.yaml --set train.optimizer.name=adadelta
grep -qE '^ +lr: 1$' out.txt && grep -qE '^ +eps: 1e-06$' out.txt &&
  ok "adadelta from the default card: lr 1, eps 1e-06" || bad "adadelta lr/eps: $(grep -E ' (lr|eps):' out.txt)"
expect_code 0 "quickstart card, 300 steps, eval_every 100" -- "$lf" train qs.yaml --output out/qs --set train.stop.steps=300 --set train.eval_every=100 --json
$py - out.txt <<'PY' && ok "quickstart: fresh-sample ESS << smoothed batch ESS" || bad "quickstart: fresh ESS not below the batch ESS"
import json, sys
d = json.load(open(sys.argv[1]))
fresh = [e["ess"] for e in d["evals"]]
print("  batch ESS (smoothed) %.4f, fresh ESS at steps 100, 200, 300: %s" % (d["ess_smoothed"], fresh))
assert [e["step"] for e in d["evals"]] == [100, 200, 300]
assert max(fresh) < 0.5 * d["ess_smoothed"]
assert (d["ess_eval"] >= 1e-3) != any("useless for IMH" in w for w in d["warnings"]), d["warnings"]
PY

# A failed run is recognizable on disk (issue 13, defect 2): a diverged run (every step
# NaN) keeps its last good parameters as model.failed.h5, never as model.h5, so neither
# train --resume nor run --resume takes it for a finished run; --force starts over.
expect_code 1 "diverged run (m2 = 1e300) fails" -- "$lf" train tiny.yaml --set theory.m2=1e300 --output failed
[ -f failed/model.failed.h5 ] && [ ! -e failed/model.h5 ] && ok "failed run: model.failed.h5, no model.h5" \
  || bad "failed run left: $(ls failed | tr '\n' ' ')"
expect_code 1 "train --resume of a failed run is refused" -- "$lf" train tiny.yaml --set theory.m2=1e300 --output failed --resume
grep -q "holds a failed training run" err.txt && ok "the refusal says the run failed" || bad "refusal text: $(tail -1 err.txt)"
expect_code 1 "run --resume of a failed run is refused (never samples it)" -- "$lf" run tiny.yaml --set theory.m2=1e300 --output failed --resume
[ ! -e failed/ensemble.h5 ] && ok "no ensemble from the failed model" || bad "run --resume sampled the failed model"
expect_code 1 "a fresh run over a failed one needs --force" -- "$lf" train tiny.yaml --output failed
expect_code 0 "--force starts over" -- "$lf" train tiny.yaml --output failed --force
[ -f failed/model.h5 ] && [ ! -e failed/model.failed.h5 ] && ok "after --force: model.h5, the failed model removed" \
  || bad "after --force: $(ls failed | tr '\n' ' ')"

expect_code 0 "bench --json" -- "$lf" bench tiny.yaml --json --seconds 0.2
for key in '"train_steps_per_s":' '"proposals_per_s":' '"peak_rss_mb":' '"flop_efficiency":'; do
  grep -qF "$key" out.txt && ok "bench json has $key" || bad "bench json lacks $key"
done
finish
