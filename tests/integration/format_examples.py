#!/usr/bin/python3
"""Runs the python examples of docs/FORMAT.md on a real file and checks their numbers.

usage: format_examples.py DOC FILE JSON EXAMPLE[,EXAMPLE...] [--old-read-fails]

DOC is docs/FORMAT.md. An example is a ```python block whose first line is
"# example: NAME"; it runs exactly as the page shows it, except that the one file name it
opens ("runs/quickstart/ensemble.h5" or "runs/quickstart/train.h5") is replaced by FILE.
JSON is `latflow analyze FILE --json` (ignored for the train example). After each example
its variables are compared with analyze:

  ensemble-series      len(series[r][name]) summed over chains = n; the pooled mean of
                       the series = analyze's mean (IMH/HMC; reweighting: weighted)
  ensemble-mean        mean[name] = analyze's mean, every observable
  ensemble-reweighted  mean[name] = analyze's mean; ess = analyze's ess
  ensemble-configs     phi2 = analyze's phi2 (a one-chain phi^4 file)
  ensemble-acceptance  acceptance = analyze's acceptance
  train                step and ess have the same length > 0

Means agree to 1e-12 relative (of max(|mean|, the observable's spread)). Independently of
the examples, the file itself is checked: per chain, row never decreases, multiplicity =
bincount(row), it sums to the steps, every dataset has a description, obs has columns,
the root has how_to_read. --old-read-fails also requires that the mean the old page led
to, obs[:].mean(0) without multiplicity, fails the same comparison for phi2 by far (more
than 1e-3 relative; its distance in analyze errors is printed): the file is one on which
that mistake shows. Exit 0 if all checks pass, 1 if not,
77 if h5py or numpy is missing (CTest: skipped).
"""
import contextlib
import io
import json
import re
import sys

try:
    import h5py
    import numpy as np
except ImportError as exc:  # CTest SKIP_RETURN_CODE
    print(f"SKIP: {exc} (install Debian's python3-h5py and python3-numpy: tools/setup.sh --test)")
    sys.exit(77)

PLACEHOLDERS = ("runs/quickstart/ensemble.h5", "runs/quickstart/train.h5")
fails = 0


def check(cond, msg):
    global fails
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        fails += 1


def examples(doc):
    text = open(doc, encoding="utf-8").read()
    out = {}
    for m in re.finditer(r"```python\n(# example: (\S+)\n.*?)```", text, re.S):
        out[m.group(2)] = m.group(1)
    return out


def run_example(code, name, path):
    hits = [p for p in PLACEHOLDERS if code.count(f'"{p}"') == 1]
    check(len(hits) == 1, f"{name}: opens exactly one file, which the test replaces")
    if len(hits) != 1:
        return None
    ns = {"__name__": "__example__"}
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            exec(compile(code.replace(f'"{hits[0]}"', repr(path)), name, "exec"), ns)
    except Exception as exc:  # the example must run as shown
        check(False, f"{name}: runs on {path}: {type(exc).__name__}: {exc}")
        return None
    check(True, f"{name}: runs on {path}; prints: {buf.getvalue().strip()[:200]}")
    return ns


def close(a, b, scale, tol=1e-12):
    return abs(a - b) <= tol * max(abs(b), scale, 1e-300)


def check_file(path):
    """The layout promises of format version 3, independent of the examples."""
    with h5py.File(path, "r") as f:
        check(f.attrs["format_version"] == 3, f"format_version {f.attrs['format_version']}")
        check("np.repeat(obs, multiplicity, axis=0)" in f.attrs["how_to_read"].decode(),
              "root attribute how_to_read")
        names = [n.decode() for n in f.attrs["obs_names"]]
        for r in range(f.attrs["nchains"]):
            c = f[f"chain_{r}"]
            row, mult = c["row"][:], c["multiplicity"][:]
            rows = c["obs"].shape[0]
            check(np.all(np.diff(row) >= 0),
                  f"chain {r}: row never decreases ({len(row)} steps, {rows} rows)")
            check(mult.shape == (rows,) and np.array_equal(mult, np.bincount(row, minlength=rows)),
                  f"chain {r}: multiplicity = bincount(row); sum {mult.sum()} = {len(row)} steps; "
                  f"{int((mult == 0).sum())} rows with 0, max {mult.max() if rows else 0}")
            undescribed = [k for k in c if "description" not in c[k].attrs]
            check(not undescribed, f"chain {r}: every dataset has a description "
                  f"({len(c)} datasets; missing: {undescribed})")
            cols = [x.decode() for x in c["obs"].attrs["columns"]]
            check(cols == names, f"chain {r}: obs columns {cols}")


def main():
    args = sys.argv[1:]
    old_read = "--old-read-fails" in args
    if old_read:
        args.remove("--old-read-fails")
    if len(args) != 4:
        print(__doc__)
        return 2
    doc, path, jpath, wanted = args
    ex = examples(doc)
    print(f"{doc}: examples {sorted(ex)}")
    a = json.load(open(jpath)) if jpath != "-" else None
    if a is not None:
        try:
            check_file(path)
        except Exception as exc:  # e.g. a version 2 file: no multiplicity, no how_to_read
            check(False, f"{path}: layout of format version 3: {type(exc).__name__}: {exc}")
        obs = a["observables"]
        # the spread of each observable, the scale of the 1e-12 comparison
        with h5py.File(path, "r") as f:
            x = np.concatenate([f[f"chain_{r}/obs"][:] for r in range(f.attrs["nchains"])])
            names = [n.decode() for n in f.attrs["obs_names"]]
        spread = dict(zip(names, x.std(axis=0)))
    for name in wanted.split(","):
        if name not in ex:
            check(False, f"{name}: no such example in {doc}")
            continue
        ns = run_example(ex[name], name, path)
        if ns is None:
            continue
        if name == "train":
            check(len(ns["step"]) == len(ns["ess"]) > 0, f"train: {len(ns['step'])} records")
        elif name in ("ensemble-mean", "ensemble-reweighted"):
            for k, v in ns["mean"].items():
                check(close(v, obs[k]["mean"], spread[k]),
                      f"{name}: {k} = {v:.15g}, analyze {obs[k]['mean']:.15g} "
                      f"(diff {v - obs[k]['mean']:.3g})")
            if name == "ensemble-reweighted":
                check(close(ns["ess"], a["ess"], 0.0, 1e-10),
                      f"{name}: ESS/N = {ns['ess']:.15g}, analyze {a['ess']:.15g}")
        elif name == "ensemble-series":
            s = ns["series"]
            n = sum(len(c[names[0]]) for c in s)
            check(n == a["n"] and len(s) == a["chains"],
                  f"{name}: {len(s)} chains, {n} steps; analyze {a['chains']}, {a['n']}")
            if a["kind"] != "reweight":
                for k in names:
                    m = np.concatenate([c[k] for c in s]).mean()
                    check(close(m, obs[k]["mean"], spread[k]),
                          f"{name}: mean of the {k} series {m:.15g}, analyze "
                          f"{obs[k]['mean']:.15g}")
        elif name == "ensemble-configs":
            check(a["chains"] == 1 and close(ns["phi2"], obs["phi2"]["mean"], spread["phi2"]),
                  f"{name}: <phi^2> from the fields {ns['phi2']:.15g}, analyze phi2 "
                  f"{obs['phi2']['mean']:.15g}")
        elif name == "ensemble-acceptance":
            check(close(ns["acceptance"], a["acceptance"], 0.0),
                  f"{name}: acceptance {ns['acceptance']:.15g}, analyze {a['acceptance']:.15g}")
    if old_read:
        # the read the old page led to: every stored row once
        k = names.index("phi2")
        naive, right, err = x[:, k].mean(), obs["phi2"]["mean"], obs["phi2"]["error"]
        z = (naive - right) / err if err else float("nan")
        check(not close(naive, right, spread["phi2"], 1e-3),
              f"obs[:].mean(0) without multiplicity: phi2 {naive:.6g} vs analyze "
              f"{right:.6g} +- {err:.2g} ({100 * (naive / right - 1):+.1f}%, z = {z:.1f}): "
              f"the old read fails on this file")
    print(f"{path}: {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
