#!/usr/bin/env bash
# The command line's common contract (issue 15, items 5, 8 and "exit codes consistent and
# documented; every command has --json"):
# - every command and latflow-merge print, with --json, one JSON object on stdout whose
#   "command" names the command;
# - exit codes 0 ok, 1 run failure (a corrupt input), 2 usage/config (a bad option, a
#   missing file, a bad card), 3 stopped by a signal; every command's --help ends with the
#   same "exit codes:" line;
# - -q/--quiet: a successful tiny train writes nothing on stderr, and the results (the
#   analysis table, the JSON) are those without it;
# - stderr that is not a terminal gets train's plain line every train.log_every steps; on
#   a terminal (a pty of 60 columns, python3's pty module) the overwritten progress line
#   never exceeds the width, and the log_every lines stay as whole lines.
# usage: cli_ux.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
command -v python3 >/dev/null || skip "python3 not installed"

cat > tiny.yaml <<'YAML'
seed: 11
output: out/tiny
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 32, stop: {steps: 60}, eval_samples: 200, log_every: 20}
sample: {proposals: 2000, block: 128, save: accepted}
hmc: {trajectories: 300, therm: 20, tau: 1.0, steps: 8}
YAML

# ---- --json: one object, "command" names the command ------------------------------------------
# json_cmd NAME -- CMD...: CMD exits 0 and stdout is one JSON object with "command" == NAME
json_cmd() {
  local name=$1; shift 2
  expect_code 0 "$name --json" -- "$@"
  python3 -c 'import json,sys; d=json.load(open("out.txt")); assert d["command"] == sys.argv[1], d.get("command")' "$name" &&
    ok "$name --json: one object, command = $name" || { bad "$name --json: no object with command = $name"; head -3 out.txt; }
}
json_cmd config -- "$lf" config tiny.yaml --json
json_cmd check -- "$lf" check tiny.yaml --json
json_cmd train -- "$lf" train tiny.yaml --json
json_cmd sample -- "$lf" sample tiny.yaml --json
json_cmd hmc -- "$lf" hmc tiny.yaml --json
json_cmd analyze -- "$lf" analyze out/tiny/ensemble.h5 --json
json_cmd info -- "$lf" info out/tiny/model.h5 --json
json_cmd bench -- "$lf" bench tiny.yaml --json --seconds 0.2 --train-only
json_cmd sample -- "$lf" sample tiny.yaml --json --set seed=12 --output out/tiny2 --model out/tiny/model.h5
json_cmd merge -- "$merge" --json out/merged.h5 out/tiny/ensemble.h5 out/tiny2/ensemble.h5
if command -v gnuplot >/dev/null 2>&1; then
  json_cmd plot -- "$lf" plot out/tiny/ensemble.h5 --json
  json_cmd run -- "$lf" run tiny.yaml --json --output out/run
else
  echo "skip: plot and run --json (no gnuplot)"
fi

# ---- exit codes ---------------------------------------------------------------------------------
echo "not an HDF5 file" > corrupt.h5
printf 'theory: {name: phi4, shape: [4, 4]}\nmodel: {layers: 3x}\n' > badcard.yaml
expect_code 2 "no command" -- "$lf"
expect_code 2 "unknown command" -- "$lf" nosuch
expect_code 2 "train: unknown option" -- "$lf" train tiny.yaml --bogus
expect_code 2 "analyze: unknown option" -- "$lf" analyze out/tiny/ensemble.h5 --bogus
expect_code 2 "latflow-merge: unknown option" -- "$merge" --bogus
expect_code 2 "train: missing CONFIG file" -- "$lf" train missing.yaml
expect_code 2 "check: a bad card" -- "$lf" check badcard.yaml
expect_code 2 "analyze: missing file" -- "$lf" analyze missing.h5
expect_code 2 "sample: missing --model" -- "$lf" sample tiny.yaml --model missing.h5 --output out/s2
expect_code 2 "latflow-merge: missing input" -- "$merge" out/m2.h5 missing.h5
expect_code 1 "analyze: corrupt file" -- "$lf" analyze corrupt.h5
expect_code 1 "plot: corrupt file" -- "$lf" plot corrupt.h5
expect_code 1 "sample: corrupt --model" -- "$lf" sample tiny.yaml --model corrupt.h5 --output out/s3
expect_code 1 "latflow-merge: corrupt input" -- "$merge" out/m3.h5 corrupt.h5 out/tiny/ensemble.h5
LATFLOW_TEST_INTERRUPT=train:10:TERM expect_code 3 "train stopped by SIGTERM" -- "$lf" train tiny.yaml --output out/sig
expect_err "continue with: " "the stopped train prints how to continue"
want="exit codes: 0 ok, 1 run failure, 2 usage/config, 3 stopped (resume)"
helps=0
for c in run train sample hmc analyze plot bench config check info; do
  "$lf" "$c" --help > help.txt 2>&1; code=$?
  [ "$code" = 0 ] && [ "$(tail -1 help.txt)" = "$want" ] && grep -q -- "--quiet" help.txt &&
    helps=$((helps + 1)) || bad "$c --help: exit $code, last line '$(tail -1 help.txt)'"
done
[ "$helps" = 10 ] && ok "every command's --help ends with '$want' and names --quiet"
"$merge" --help | grep -q -- "--quiet" && ok "latflow-merge --help names --quiet" || bad "latflow-merge --help lacks --quiet"

# ---- --quiet ----------------------------------------------------------------------------------
expect_code 0 "train -q" -- "$lf" train tiny.yaml -q --output out/q
[ ! -s err.txt ] && ok "train -q: nothing on stderr" || { bad "train -q wrote to stderr"; head -5 err.txt; }
[ -s out/q/model.h5 ] && ok "train -q: the model is written" || bad "train -q: no model"
expect_code 0 "hmc --quiet --json" -- "$lf" hmc tiny.yaml --quiet --json --output out/q
python3 -c 'import json; assert json.load(open("out.txt"))["command"] == "hmc"' && [ ! -s err.txt ] &&
  ok "hmc --quiet --json: the JSON on stdout, nothing on stderr" || bad "hmc --quiet --json"
"$lf" analyze out/tiny/ensemble.h5 > table.txt 2> /dev/null
expect_code 0 "analyze -q" -- "$lf" analyze out/tiny/ensemble.h5 -q
cmp -s table.txt out.txt && [ -s out.txt ] && ok "analyze -q: the same table on stdout" || bad "analyze -q changed the table"
expect_code 0 "latflow-merge -q" -- "$merge" -q out/mq.h5 out/tiny/ensemble.h5 out/tiny2/ensemble.h5
[ ! -s err.txt ] && ok "latflow-merge -q: nothing on stderr" || bad "latflow-merge -q wrote to stderr"

# ---- progress: plain log_every lines off a terminal; on a terminal, never wider than it -------
expect_code 0 "train, stderr to a file" -- "$lf" train tiny.yaml --output out/log
n=$(grep -cE '^\[r0000 \+[0-9.]+s\] train: step=(20|40|60)/60 loss=' err.txt)
[ "$n" = 3 ] && ! grep -q $'\r' err.txt && ok "stderr not a terminal: the 3 log_every lines, plain" ||
  { bad "stderr not a terminal: $n log_every lines"; cat err.txt; }
cat > pty_run.py <<'PY'
# pty_run.py COLS CMD...: runs CMD with stdout and stderr on a pty of COLS columns; prints
# what it wrote; exits with its code
import fcntl, os, pty, select, struct, sys, termios
cols, argv = int(sys.argv[1]), sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
out = b""
while True:
    try:
        if not select.select([fd], [], [], 300)[0]:
            break
        d = os.read(fd, 65536)
    except OSError:
        break
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(st))
PY
if python3 -c 'import pty' 2>/dev/null; then
  COLUMNS=200 python3 pty_run.py 60 "$lf" train tiny.yaml --output out/pty --set train.stop.steps=60000 \
    --set train.log_every=30000 --set train.eval_samples=0 > pty.txt
  code=$?
  [ "$code" = 0 ] && ok "train on a pty: exit 0" || bad "train on a pty: exit $code"
  python3 - <<'PY' && ok "pty: progress lines <= 59 columns with step, loss and ESS; the log_every lines kept whole" || bad "pty progress"
import re
t = open("pty.txt", "rb").read().decode()
lines = t.split("\r\n")  # the lines that stay (the pty turns \n into \r\n)
kept = [l.split("\r")[-1].replace("\x1b[K", "") for l in lines]
steps = [l for l in kept if re.search(r"train: step=(30000|60000)/60000 loss=.* ess_batch_s=", l)]
assert len(steps) == 2, kept
prog = [s.replace("\x1b[K", "") for l in lines for s in l.split("\r")[:-1]]
prog = [p for p in prog if p]
assert prog, "no progress line (the run took under 0.5 s?)"
for p in prog:
    assert len(p) <= 59 and re.match(r"\[\+[0-9.]+s\] train: step=\d+/60000 loss=\S+ ess=", p), p
PY
fi
finish cli_ux
