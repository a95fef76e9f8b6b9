"""Checks python/latflow_h5.py (run by python_reader.sh on files the CLI made).

usage: python_reader.py SRCDIR MODEL.h5 OUT.npz ENSEMBLE.h5 TRAIN.h5 HMC.h5 INFO_DIR

The .npz layout is proven right, not just present: the inverse flow of a phi^4 affine
model written in numpy from the .npz alone (checkerboard affine couplings over periodic
conv nets, src/flow/coupling_t.c, src/nn/conv2d_t.c) gives, for the configurations an
IMH ensemble stored (sample.save: all), log q(phi) = log r(z) + log|det dz/dphi| equal to
the log q latflow used, -S(phi) - logw (to 1e-4 relative; the net ran in single
precision); and two swapped tensors of the same shape break the agreement. The readers'
counts equal `latflow info --json`'s (INFO_DIR/<name>.json)."""
import json
import re
import sys

import numpy as np

fails = 0


def check(cond, msg):
    global fails
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        fails += 1


def conv_periodic(x, w, b):
    """y[b,o,x0,x1] = b[o] + sum_{i,a,c} w[o,i,a,c] x[b,i,x0+a-h,x1+c-h] (indices mod L):
    PyTorch's Conv2d with padding_mode='circular' (src/nn/conv2d_t.c)."""
    k = w.shape[2]
    h = k // 2
    y = np.zeros((x.shape[0], w.shape[0]) + x.shape[2:])
    for a in range(k):
        for c in range(k):
            xs = np.roll(x, shift=(h - a, h - c), axis=(2, 3))  # xs[..,x0,x1] = x[..,x0+a-h,x1+c-h]
            y += np.einsum("oi,bixy->boxy", w[:, :, a, c], xs)
    return y + b[None, :, None, None]


def inverse_logq(t, phi):
    """log q(phi) of an affine model with a normal base, from the .npz dict t alone."""
    C, L0, L1 = int(t["arch.C"]), phi.shape[2], phi.shape[3]
    layers, slope = int(t["arch.layers"]), float(t["arch.leaky_slope"])
    nconv = len(np.atleast_1d(t["arch.hidden"])) + 1
    x0, x1 = np.meshgrid(np.arange(L0), np.arange(L1), indexing="ij")
    site_parity = (x0 + x1) % 2
    y = phi.astype(np.float64)
    logdet = np.zeros(len(phi))
    for i in reversed(range(layers)):  # the inverse runs the layers backwards
        active = (site_parity == t["arch.layer_parity"][i])[None, None]
        a = np.where(active, 0.0, y)  # the net sees the frozen sites
        for j in range(nconv):
            w = t["layer%02d.net.conv%d.weight" % (i, j)].astype(np.float64)
            b = t["layer%02d.net.conv%d.bias" % (i, j)].astype(np.float64)
            a = conv_periodic(a, w, b)
            if j < nconv - 1:
                a = np.tanh(a) if str(t["arch.activation"]) == "tanh" else np.where(a > 0, a, slope * a)
        st = np.tanh(a)
        s, tt = st[:, :C], st[:, C:]
        y = np.where(active, (y - tt) * np.exp(-s), y)
        logdet -= np.where(active, s, 0.0).sum(axis=(1, 2, 3))
    n = C * L0 * L1
    logr = -0.5 * (y ** 2).sum(axis=(1, 2, 3)) - 0.5 * n * np.log(2 * np.pi)
    return logr + logdet


def phi4_action(phi, m2, lam):
    """S = sum_x [-2 sum_mu phi(x) phi(x+mu) + (m2 + 4) phi^2 + lambda phi^4] (src/theory/phi4.c)."""
    p = phi[:, 0]
    hop = (p * np.roll(p, -1, axis=1) + p * np.roll(p, -1, axis=2)).sum(axis=(1, 2))
    return ((m2 + 4.0) * p ** 2 + lam * p ** 4).sum(axis=(1, 2)) - 2.0 * hop


def coupling(yaml_text, key):
    """theory.<key> of a stored config (the emitter writes "  key: value" under theory:)."""
    sec = yaml_text.split("\ntheory:\n", 1)[1]
    return float(re.search(r"^  %s: (\S+)" % key, sec, re.M).group(1))


def main(argv):
    src, model, npz, ens, train, hmc, info = argv[1:8]
    sys.path.insert(0, src + "/python")
    import latflow_h5 as lh

    def info_json(name):
        with open("%s/%s.json" % (info, name)) as fh:
            return json.load(fh)

    # the readers against latflow info --json
    check(lh.file_kind(model) == ("model", 1), "file_kind(model.h5)")
    m = lh.read_model(model)
    jm = info_json("model")
    check(m["arch"]["nparams"] == jm["model"]["nparams"] == len(m["params"]),
          "read_model: %d parameters, as latflow info" % len(m["params"]))
    check(m["arch"]["hash"] == jm["model"]["hash"], "read_model: hash as latflow info")
    check(sum(a.size for k, a in m["tensors"].items()) == len(m["params"]),
          "the tensors cover the arena exactly")
    tr = lh.read_metrics(train)
    jt = info_json("train")["training"]
    check(len(tr["steps"]["step"]) == jt["records"] and int(tr["steps"]["step"][-1]) + 1 == jt["steps"],
          "read_metrics: %d records, as latflow info" % jt["records"])
    check(len(tr["eval"]["ess"]) == jt["evaluations"] and
          abs(tr["eval"]["ess"][-1] - jt["last_eval"]["ess"]) < 1e-12,
          "read_metrics: /eval as latflow info (last ESS %.4g)" % jt["last_eval"]["ess"])
    for path, name in ((ens, "ensemble"), (hmc, "hmc")):
        e = lh.read_ensemble(path)
        jc = info_json(name)["chains"]
        steps = sum(len(c["row"]) for c in e["chains"])
        acc = sum(int(c["accepted"].sum()) for c in e["chains"])
        rows = sum(len(c["obs"]) for c in e["chains"])
        check((steps, acc, rows) == (jc["steps"], jc["accepted"], jc["rows"]),
              "read_ensemble(%s): %d steps, %d accepted, %d rows, as latflow info"
              % (name, steps, acc, rows))
        c = e["chains"][0]
        check(np.array_equal(c["series"], np.repeat(c["obs"], c["multiplicity"], axis=0)),
              "read_ensemble(%s): series = obs repeated by multiplicity" % name)
        check(c["configs"].shape[1:] == (e["C"], e["L0"], e["L1"]), "configs shape (rows, C, L0, L1)")

    # the .npz layout, proven by the inverse flow
    t = dict(np.load(npz))
    check(str(t["arch.coupling"]) == "affine" and str(t["arch.base"]) == "normal",
          "the test model is affine with a normal base")
    e = lh.read_ensemble(ens)
    check(e["kind"] == "imh", "the ensemble is IMH")
    m2, lam = coupling(e["config_yaml"], "m2"), coupling(e["config_yaml"], "lambda")
    c = e["chains"][0]
    # the state after an accepted step is its proposal, whose log w the step holds
    acc = np.flatnonzero(c["accepted"] == 1)[:200]
    phi = c["configs"][c["row"][acc]]
    logq_lf = -phi4_action(phi, m2, lam) - c["logw"][acc]
    # the field row of each state is the phi2 observable's: a check of the reshape
    check(np.allclose((phi ** 2).mean(axis=(1, 2, 3)), c["obs"][c["row"][acc], e["obs_names"].index("phi2")],
                      rtol=1e-12, atol=0), "configs reshape: <phi^2> of each row = its phi2")
    logq_np = inverse_logq(t, phi)
    rel = np.abs(logq_np - logq_lf) / np.maximum(np.abs(logq_lf), 1.0)
    check(len(acc) >= 20 and rel.max() < 1e-4,
          "numpy's inverse flow from the .npz gives latflow's log q on %d states (max rel. "
          "error %.2e; log q from %.3f to %.3f)" % (len(acc), rel.max(), logq_lf.min(), logq_lf.max()))
    # negative control: two tensors of the same shape swapped must break it
    bad = dict(t)
    bad["layer00.net.conv0.weight"], bad["layer01.net.conv0.weight"] = \
        t["layer01.net.conv0.weight"], t["layer00.net.conv0.weight"]
    rel_bad = np.abs(inverse_logq(bad, phi) - logq_lf) / np.maximum(np.abs(logq_lf), 1.0)
    check(rel_bad.max() > 1e-2,
          "with layer00/layer01 conv0 weights swapped the check fails (max rel. error %.2e)"
          % rel_bad.max())
    print("%d failed" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
