#!/usr/bin/env bash
# README.md's command list works as written (issue 15): every line of the code block under
# "## Using the binary" is run from a folder laid out like the repository root (build/bin,
# configs, python), with its placeholders filled in: CONFIG -> a tiny phi^4 card, FILE.h5
# and ENSEMBLE.h5 -> an ensemble, HMC.h5 -> an HMC ensemble, M -> a model, OUT.h5 IN.h5...
# -> a merge of two ensembles, DIR -> a new folder, study's CARD -> that card with a
# two-point study: section; optional parts in [...] are left out, except run's [CONFIG]
# (the card: without it run is the quickstart, README command 1) and a [...] value after
# "=" (--set theory.shape=[16,16]).
# Each line runs in its own folder holding only the inputs it needs, and must exit 0.
# Not run: the SLURM lines (jobs/submit.sh, tests/slurm/run.sh: the slurm-labelled tests run
# them) and `latflow run` of the two long cards (u1-L8-b2, schwinger-L8-b2: 20,000 and 6,000
# steps), which are checked with `latflow check` instead. Also fails when the block is
# missing or has fewer than 15 command lines (the parser would otherwise pass vacuously).
# usage: readme_commands.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
command -v python3 > /dev/null || skip "no python3"
cat > card.yaml << 'EOF'
seed: 7
output: run
theory: {name: phi4, shape: [4, 4], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [4]}
train: {stop: {steps: 30}, eval_every: 0, eval_samples: 256, log_every: 10}
sample: {proposals: 2048, block: 64}
hmc: {trajectories: 200, therm: 10}
EOF
# the inputs: a model with its training file, two ensembles of other seeds, an HMC ensemble
# the study card of `latflow study CARD`: two points
{ cat card.yaml; printf 'study: {grid: {theory.lambda: [8.0, 6.0]}}\n'; } > study.yaml
mkdir -p prep && cp card.yaml study.yaml prep/ && cd prep || exit 1
"$lf" train card.yaml > /dev/null 2>&1 && "$lf" sample card.yaml > /dev/null 2>&1 &&
  "$lf" hmc card.yaml > /dev/null 2>&1 &&
  "$lf" sample card.yaml --set seed=8 --output run2 --model run/model.h5 > /dev/null 2>&1 ||
  { bad "preparing the inputs failed"; finish readme_commands; }
cd "$wd" || exit 1
python3 - "$src" "$wd" "$lf" > out.txt 2>&1 << 'PY'
import os, re, shlex, shutil, subprocess, sys
src, wd, lf = sys.argv[1:4]
text = open(os.path.join(src, "README.md"), encoding="utf-8").read()
m = re.search(r"## Using the binary\s*```sh\n(.*?)```", text, re.S)
if not m:
    print("FAIL no ```sh block under '## Using the binary'"); sys.exit(1)
lines = [l.split("#")[0].strip() for l in m.group(1).splitlines()]
lines = [l for l in lines if l]
prep = os.path.join(wd, "prep")
# the Python reader's line needs h5py in the system's python3 (Debian's python3-h5py), which
# the commands below find first on PATH
path = "/usr/bin:" + os.environ.get("PATH", "")
have_h5py = subprocess.run(["python3", "-c", "import h5py, numpy"], env=dict(os.environ, PATH=path),
                           capture_output=True).returncode == 0
fails = ran = 0
for i, line in enumerate(lines):
    if line.startswith("bash jobs/") or line.startswith("bash tests/slurm/"):
        print(f"skip {line}  (SLURM: the slurm-labelled tests run it)"); continue
    if "python3" in line and not have_h5py:
        print(f"skip {line}  (no h5py)"); continue
    cmd = line
    long_card = re.search(r"latflow run (configs/(u1-L8-b2|schwinger-L8-b2)\.yaml)", cmd)
    if long_card:
        cmd = cmd.replace("latflow run", "latflow check")
    cmd = cmd.replace("[CONFIG]", "CONFIG")  # run's: without it, the quickstart (command 1)
    # optional parts, innermost first; a [ ] right after "=" is a value (theory.shape=[16,16])
    while re.search(r"(?<!=)\[[^\[\]]*\]", cmd):
        cmd = re.sub(r"\s*(?<!=)\[[^\[\]]*\]", "", cmd)
    cmd = cmd.replace("...", "")
    sub = {"CONFIG": "card.yaml", "CARD": "card.yaml", "ENSEMBLE.h5": "ens.h5", "HMC.h5": "hmc.h5",
           "FILE.h5": "ens.h5", "OUT.h5": "out.h5", "IN.h5": "ens.h5 ens2.h5", "DIR": "outdir",
           "M": "run/model.h5", "S": "1"}
    if "study" in cmd.split():  # a study card: the run card with a study: section
        sub["CARD"] = "study.yaml"
    cmd = " ".join(sub.get(t, t) for t in cmd.split())
    d = os.path.join(wd, f"line{i:02d}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "build", "bin"))
    for name in ("latflow", "latflow-merge"):
        os.symlink(os.path.join(os.path.dirname(lf), name), os.path.join(d, "build", "bin", name))
    for name in ("configs", "python"):
        os.symlink(os.path.join(src, name), os.path.join(d, name))
    shutil.copy(os.path.join(prep, "card.yaml"), d)
    shutil.copy(os.path.join(prep, "study.yaml"), d)
    for a, b in (("run/ensemble.h5", "ens.h5"), ("run2/ensemble.h5", "ens2.h5"),
                 ("run/hmc.h5", "hmc.h5")):
        shutil.copy(os.path.join(prep, a), os.path.join(d, b))
    # what the command finds in the card's output folder: a model for sample (and for
    # sample --resume a finished ensemble, "nothing to resume"); nothing for train and run
    words = cmd.split()
    needs = []
    if "sample" in words:
        needs = ["model.h5", "train.h5"] + (["ensemble.h5"] if "--resume" in words else [])
    if needs:
        os.makedirs(os.path.join(d, "run"))
        for f in needs:
            shutil.copy(os.path.join(prep, "run", f), os.path.join(d, "run", f))
    if "model.h5" in words:  # the Python reader's example names the model file directly
        cmd = cmd.replace(" model.h5 ", " " + os.path.join(prep, "run", "model.h5") + " ")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PATH=path)
    p = subprocess.run(["bash", "-c", cmd], cwd=d, env=env, capture_output=True, text=True,
                       timeout=600)
    ran += 1
    if p.returncode != 0:
        fails += 1
        print(f"FAIL exit {p.returncode}: {line}\n     ran: {cmd}\n     {p.stderr.strip()[-400:]}")
    else:
        print(f"ok   {line}" + (f"   (ran: {cmd})" if cmd != line else ""))
print(f"{ran} README lines run, {fails} failed")
sys.exit(1 if fails or ran < 15 else 0)
PY
rc=$?
cat out.txt
[ $rc = 0 ] && ok "every command line of README's block works as written" ||
  bad "a README command line failed (above)"
finish readme_commands
