#!/usr/bin/env bash
# The docs match the command line (issue 15): every command `latflow SUB ...` (and
# `latflow-merge ...`) written in README.md or docs/*.md names a subcommand that exists, and
# every option --xxx written after it on the same line is one that the subcommand's --help
# lists. Shown to fail: a doc line naming an option no command has (a copy of the docs with
# one such line added).
# usage: docs_cli.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
command -v python3 > /dev/null || skip "no python3"
check() { # DOC...: the python checker over these files; its output in out.txt
  python3 - "$lf" "$merge" "$@" > out.txt 2>&1 <<'PY'
import re, subprocess, sys
import json, os
lf, merge, docs = sys.argv[1], sys.argv[2], sys.argv[3:]
bad, n = 0, 0
# the --help texts, kept in help.json for the second call (each one starts MPI: ~1 s)
helps = json.load(open("help.json")) if os.path.exists("help.json") else {}
if "" not in helps:  # the command list of `latflow --help`
    p = subprocess.run([lf, "--help"], capture_output=True, text=True)
    helps[""] = [p.returncode, p.stdout + p.stderr]
commands = set(re.findall(r"^  ([a-z]+) ", helps[""][1].split("commands:")[-1], re.M))
commands.add("latflow-merge")

def help_of(sub):
    if sub not in commands:
        return (2, "")
    if sub not in helps:
        cmd = [merge, "--help"] if sub == "latflow-merge" else [lf, sub, "--help"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        helps[sub] = [p.returncode, p.stdout + p.stderr]
        json.dump(helps, open("help.json", "w"))
    return helps[sub]

# `latflow SUB` (SUB a lower-case word) or `latflow-merge`, then the rest of the command on
# that line up to a comment (#), a pipe, a redirection or the end of a code span
pat = re.compile(r"(?:^|[\s`(/])latflow(-merge|\s+([a-z][a-z-]*))\b([^`#|<>\n]*)")
for path in docs:
    for ln, line in enumerate(open(path, encoding="utf-8"), 1):
        for m in pat.finditer(line):
            sub = "latflow-merge" if m.group(1) == "-merge" else m.group(2)
            if sub in ("run.sh", "test.sh", "setup.sh"):
                continue
            code, text = help_of(sub)
            if code != 0:
                # prose such as "latflow is a sampler": only a word that looks like a command
                # next to an option or a file argument counts as a command here
                if re.search(r"--[a-z]|\.(ya?ml|h5)\b|\bCONFIG\b|\bFILE", m.group(3)):
                    print(f"{path}:{ln}: 'latflow {sub}' is not a command of `latflow --help`")
                    bad += 1
                continue
            for opt in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", m.group(3)):
                if opt in ("--oversubscribe",):  # mpiexec's, on the same line
                    continue
                n += 1
                if not re.search(r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])", text):
                    print(f"{path}:{ln}: {sub}: option {opt} is not in `{sub} --help`")
                    bad += 1
print(f"{n} options checked, {bad} wrong")
sys.exit(1 if bad else 0)
PY
}
docs=("$src/README.md" "$src"/docs/*.md)
if check "${docs[@]}"; then ok "$(tail -1 out.txt) in README.md and docs/*.md"
else bad "docs name commands or options that do not exist:"; cat out.txt; fi
# the check can fail: a doc line with an option no command has
{ cat "$src/README.md"; echo 'build/bin/latflow sample CONFIG --no-such-option'; } > bad.md
if check bad.md; then bad "an unknown option in a doc line was not found"
else grep -q -- "--no-such-option" out.txt && ok "an unknown option is reported" ||
  { bad "the checker failed for another reason:"; cat out.txt; }
fi
finish docs_cli
