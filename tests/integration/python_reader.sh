#!/usr/bin/env bash
# python/latflow_h5.py (the reader for use outside latflow) on files the CLI makes: a 4x6
# phi^4 affine model (200 steps, single precision, two hidden layers), its train.h5, an
# IMH ensemble with sample.save: all and an HMC ensemble. The export-npz command writes the
# .npz; python_reader.py checks the readers against `latflow info --json` and proves the
# .npz layout by computing log q of the stored configurations with the inverse flow in
# numpy, equal to latflow's -S - logw to 1e-4 (and not with two tensors swapped).
# Exit 77 (skipped) only if the python lacks h5py or numpy (tools/setup.sh --test installs
# Debian's python3-h5py and python3-numpy for /usr/bin/python3).
# usage: python_reader.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
py=${LATFLOW_TEST_PYTHON:-/usr/bin/python3}
"$py" -c "import h5py, numpy" 2>/dev/null ||
  skip "$py cannot import h5py and numpy (bash tools/setup.sh --test installs python3-h5py)"
lf_setup "$@"
reader=$src/python/latflow_h5.py

cat > tiny.yaml <<'YAML'
seed: 5
theory: {name: phi4, shape: [4, 6], m2: -4.0, lambda: 8.0}
model: {layers: 4, hidden: [4, 4], precision: single}
train: {batch: 32, stop: {steps: 200}, eval_every: 100, eval_samples: 256}
sample: {proposals: 2048, block: 64, save: all}
hmc: {trajectories: 200, therm: 10, tau: 1.0, steps: 4}
YAML
expect_code 0 "train 200 steps" -- "$lf" train tiny.yaml --output m
expect_code 0 "sample (IMH, save all)" -- "$lf" sample tiny.yaml --model m/model.h5 --output s
expect_code 0 "hmc" -- "$lf" hmc tiny.yaml --output h
mkdir -p info
for n in model:m/model.h5 train:m/train.h5 ensemble:s/ensemble.h5 hmc:h/hmc.h5; do
  "$lf" info "${n#*:}" --json > "info/${n%%:*}.json" 2> info.err || { bad "info ${n#*:}"; tail -3 info.err; }
done
expect_code 0 "latflow_h5.py export-npz" -- "$py" "$reader" export-npz m/model.h5 m.npz
grep -qF "m.npz: 24 tensors, 1048 parameters" out.txt && ok "export-npz: 24 tensors, 1048 parameters" ||
  { bad "export-npz's summary"; cat out.txt; }
expect_code 0 "latflow_h5.py show on every file" -- sh -c "'$py' '$reader' show m/model.h5 && '$py' '$reader' show m/train.h5 && '$py' '$reader' show s/ensemble.h5"
expect_code 1 "latflow_h5.py on a YAML card" -- "$py" "$reader" show tiny.yaml
expect_code 2 "latflow_h5.py without a command" -- "$py" "$reader"
if "$py" "$src/tests/integration/python_reader.py" "$src" m/model.h5 m.npz s/ensemble.h5 \
    m/train.h5 h/hmc.h5 info > check.log 2>&1; then
  ok "python_reader.py ($(grep -c '^ok' check.log) checks)"
else bad "python_reader.py:"; fi
sed 's/^/     /' check.log
finish python_reader
