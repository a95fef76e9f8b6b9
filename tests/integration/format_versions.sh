#!/usr/bin/env bash
# docs/FORMAT.md's format_version of every file kind matches the code (issue 15): the
# constants LF_IO_{MODEL,TRAIN,ENSEMBLE,CKPT,STUDY}_FORMAT_VERSION in include/latflow/, the
# writers that pass them (src/io), the table at the top of FORMAT.md, the section titles
# ("`latflow_format = "kind"`, version N") and the newest version in the change log.
# usage: format_versions.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
py=/usr/bin/python3
[ -x "$py" ] || skip "no $py"
lf_setup "$@"
if "$py" - "$src" > check.txt 2>&1 <<'PY'; then ok "FORMAT.md versions = code"; else bad "FORMAT.md versions"; fi
import glob, re, sys
src = sys.argv[1]
macro = {"model": "MODEL", "train": "TRAIN", "ensemble": "ENSEMBLE", "checkpoint": "CKPT",
         "study": "STUDY"}
const = {}
for h in glob.glob(src + "/include/latflow/*.h"):
    for m in re.finditer(r"#define LF_IO_(\w+)_FORMAT_VERSION (\d+)", open(h).read()):
        const[m.group(1)] = int(m.group(2))
code = "".join(open(f).read() for f in glob.glob(src + "/src/io/*.c"))
doc = open(src + "/docs/FORMAT.md").read()
table = {m.group(1): int(m.group(2))
         for m in re.finditer(r"^\| `(\w+)` \|[^\n]*\| (\d+) \|$", doc.split("## 1.")[0], re.M)}
titles = {m.group(1): int(m.group(2))
          for m in re.finditer(r'^## \d+\. .*\(`latflow_format = "(\w+)"`, version (\d+)\)', doc, re.M)}
log = {}
for m in re.finditer(r"^\| \d{4}-\d\d-\d\d \| (\w+) \| (\d+) \|", doc, re.M):
    log[m.group(1)] = max(log.get(m.group(1), 0), int(m.group(2)))
errs = []
for kind, name in macro.items():
    v = const.get(name)
    if v is None:
        errs.append(f"no LF_IO_{name}_FORMAT_VERSION"); continue
    if f'"{kind}", LF_IO_{name}_FORMAT_VERSION' not in code:
        errs.append(f"no writer in src/io passes LF_IO_{name}_FORMAT_VERSION for {kind}")
    for what, d in (("table", table), ("section title", titles), ("change log", log)):
        if d.get(kind) != v:
            errs.append(f"{kind}: code writes version {v}, FORMAT.md {what} says {d.get(kind)}")
    vs = sorted(int(m.group(1)) for m in re.finditer(rf"^\| [\d-]+ \| {kind} \| (\d+) \|", doc, re.M))
    if vs != list(range(1, v + 1)):
        errs.append(f"{kind}: change log versions {vs}, want 1..{v}")
extra = set(table) - set(macro)
if extra:
    errs.append(f"table kinds without a constant: {sorted(extra)}")
print("\n".join(errs) or f"ok: {const}")
sys.exit(1 if errs else 0)
PY
cat check.txt
finish format_versions
