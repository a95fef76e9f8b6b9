#!/usr/bin/env python3
"""latflow_h5: read latflow's HDF5 files with h5py and numpy, and export a model as .npz.

The layouts are those of docs/FORMAT.md ("Reading latflow files outside latflow" has this
module's API and the .npz layout). Functions:

    file_kind(path)            -> (kind, format_version): "model", "train", "ensemble", "checkpoint"
    read_ensemble(path, configs=True) -> dict: the run attributes and one dict per chain
    read_model(path)           -> dict: the architecture, the flat parameters and one named
                                  array per tensor (model_tensors)
    model_tensors(arch, params) -> dict name -> array (the layout of src/flow, src/nn)
    read_metrics(path)         -> dict: "steps" (one array per column of the per-step table),
                                  "eval" (the evaluations on fresh samples), "config_yaml"
    export_npz(model_path, out_path) -> the dict written to out_path (np.savez)

Command line:

    python3 python/latflow_h5.py export-npz model.h5 out.npz
    python3 python/latflow_h5.py show FILE.h5     # what the reader sees, briefly

Needs h5py and numpy (Debian: python3-h5py python3-numpy). No other dependency.
"""
import sys

import h5py
import numpy as np

# the slope of leaky_relu (LF_LEAKY_SLOPE, include/latflow/nn.h)
LEAKY_SLOPE = 0.01


def _str(v):
    """An HDF5 string attribute (fixed-length bytes or str) as str."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        return _str(v[()])
    return str(v)


def _strs(v):
    """A string-array attribute as a list of str."""
    return [_str(x) for x in np.atleast_1d(v)]


def _header(f):
    """The root attributes of docs/FORMAT.md section 2 and /meta, as a dict."""
    h = {k: _str(f.attrs[k]) for k in ("latflow_format", "latflow_version", "git_rev",
                                         "created_utc") if k in f.attrs}
    h["format_version"] = int(f.attrs["format_version"])
    if "meta" in f:
        m = f["meta"].attrs
        h["config_yaml"] = _str(m["config_yaml"]) if "config_yaml" in m else None
        if "seed" in m:
            h["seed"] = int(m["seed"])
    return h


def _open(path, kind):
    """Opens path read-only; refuses a file that is not a latflow file of this kind."""
    f = h5py.File(path, "r")
    got = _str(f.attrs.get("latflow_format", b""))
    if got != kind:
        f.close()
        what = "not a latflow file" if not got else "a latflow %s file" % got
        raise ValueError("%s is %s, expected a %s file" % (path, what, kind))
    return f


def file_kind(path):
    """(latflow_format, format_version) of a latflow file; ValueError if it is not one."""
    with h5py.File(path, "r") as f:
        if "latflow_format" not in f.attrs:
            raise ValueError("%s is an HDF5 file but not a latflow file" % path)
        return _str(f.attrs["latflow_format"]), int(f.attrs["format_version"])


# ---- ensembles -------------------------------------------------------------------------


def read_ensemble(path, configs=True):
    """An ensemble file (sample, hmc, latflow-merge) as a dict.

    Keys: the header ("latflow_format", "format_version", "config_yaml", "seed", ...), "kind"
    (imh, reweight, hmc), "theory", "C", "L0", "L1", "obs_names", "model_hash",
    "model_path", "train_seconds", "gen_seconds", "model_shape" ([L0, L1] of the lattice
    the model was trained on when it was volume transferred, else None) and "chains": one
    dict per chain with
      obs (rows, nobs), corr (rows, ncorr) or None, configs (rows, C, L0, L1) or None
      (configs=False, or sample.save: none), multiplicity (rows), row, id, logw, dH,
      accepted (steps), and the derived
      series (steps, nobs) = obs[row], the Monte Carlo series of the observables,
      weights (steps): the weight of each step in a mean of series: 1 (IMH, HMC), or
        exp(logw - M) with one M for all chains (reweighting).
    Rows are unique stored states: obs.mean(0) is NOT the Monte Carlo mean; use
    series.mean(0) or np.average(obs, weights=multiplicity, axis=0).
    """
    with _open(path, "ensemble") as f:
        a = f.attrs
        e = _header(f)
        e.update(kind=_str(a["kind"]), theory=_str(a["theory"]), C=int(a["C"]),
                 L0=int(a["L0"]), L1=int(a["L1"]), obs_names=_strs(a["obs_names"]),
                 model_hash=_str(a["model_hash"]), model_path=_str(a["model_path"]),
                 train_seconds=float(a["train_seconds"]), gen_seconds=float(a["gen_seconds"]),
                 model_shape=([int(x) for x in np.atleast_1d(a["model_shape"])]
                              if "model_shape" in a else None))
        C, L0, L1 = e["C"], e["L0"], e["L1"]
        chains = []
        for r in range(int(a["nchains"])):
            g = f["chain_%d" % r]
            c = {k: g[k][:] for k in ("obs", "row", "id", "logw", "dH", "accepted")}
            c["corr"] = g["corr"][:] if "corr" in g else None
            c["configs"] = (g["configs"][:].reshape(-1, C, L0, L1)
                            if configs and "configs" in g else None)
            c["multiplicity"] = (g["multiplicity"][:] if "multiplicity" in g else
                                 np.bincount(c["row"], minlength=len(c["obs"])))
            c["series"] = c["obs"][c["row"]]
            for k in ("source_path", "source_chain"):
                if k in g.attrs:
                    c[k] = _str(g.attrs[k]) if k == "source_path" else int(g.attrs[k])
            chains.append(c)
    if e["kind"] == "reweight":
        M = max((c["logw"].max() for c in chains if len(c["logw"])), default=0.0)
        for c in chains:
            c["weights"] = np.exp(c["logw"] - M)
    else:
        for c in chains:
            c["weights"] = np.ones(len(c["row"]))
    e["chains"] = chains
    return e


# ---- models ------------------------------------------------------------------------------

_ARCH_INT = ("C", "layers", "kernel", "nparams", "nbase", "optimizer_step", "train_steps",
             "n_train", "chain_steps", "chain_n_train")
_ARCH_STR = ("theory", "base", "activation", "coupling", "init", "precision")
_ARCH_REAL = ("base_mass", "base_beta", "init_scale", "train_seconds", "chain_seconds")
# the name of the base's parameters [0, nbase) in model_tensors
_BASE_TENSOR = {"free_field": "base.log_mass", "plaquette": "base.spline"}


def _conv_shapes(cin, hidden, cout, k):
    """The (weight, bias) shapes of a periodic conv net cin -> hidden... -> cout."""
    shapes = []
    for co in list(hidden) + [cout]:
        shapes.append(((co, cin, k, k), (co,)))
        cin = co
    return shapes


def _net_size(shapes):
    return sum(int(np.prod(w)) + int(np.prod(b)) for w, b in shapes)


def model_tensors(arch, params):
    """The named tensors of the flat parameter arena (docs/FORMAT.md, "The .npz layout").

    [0, nbase): the base ("base.log_mass" for free_field, "base.spline" (3K: widths,
    heights, derivatives) for plaquette); then layer i = 0 .. layers-1,
    each a conv net of convs j = 0 .. nhidden: "layer%02d.net.conv%d.weight" (cout, cin, k,
    k) then ".bias" (cout). affine: cin = C for conv 0, cout = 2C for the last (channels
    [0, C) = s, [C, 2C) = t). spline: cin = 2 (cos P, sin P), cout = 3K (bin widths
    [0, K), heights [K, 2K), derivatives [2K, 3K)); K = arch["spline_bins"], derived from
    nparams when absent.
    """
    C, k, L = int(arch["C"]), int(arch["kernel"]), int(arch["layers"])
    hidden = [int(h) for h in np.atleast_1d(arch["hidden"])]
    nbase, n = int(arch["nbase"]), int(arch["nparams"])
    if len(params) != n:
        raise ValueError("params has %d entries, nparams = %d" % (len(params), n))
    if arch["coupling"] == "affine":
        cin, cout = C, 2 * C
    else:  # spline: 2 -> hidden -> 3K; K from the per-layer size
        cin = 2
        K = arch.get("spline_bins")
        if K is None:
            per = (n - nbase) // L
            last_in = hidden[-1] if hidden else cin
            body = _net_size(_conv_shapes(cin, hidden, 0, k)[:-1]) if hidden else 0
            K = (per - body) // (3 * (last_in * k * k + 1))
        arch["spline_bins"] = int(K)
        cout = 3 * int(K)
    shapes = _conv_shapes(cin, hidden, cout, k)
    if nbase + L * _net_size(shapes) != n:
        raise ValueError("the architecture gives %d parameters, the file has %d"
                         % (nbase + L * _net_size(shapes), n))
    out = {}
    if nbase:
        out[_BASE_TENSOR.get(arch["base"], "base.params")] = params[:nbase]
    off = nbase
    for i in range(L):
        for j, (ws, bs) in enumerate(shapes):
            nw, nb = int(np.prod(ws)), int(np.prod(bs))
            out["layer%02d.net.conv%d.weight" % (i, j)] = params[off:off + nw].reshape(ws)
            off += nw
            out["layer%02d.net.conv%d.bias" % (i, j)] = params[off:off + nb]
            off += nb
    return out


def read_model(path):
    """A model file as a dict: the header, "arch" (the /model attributes: C, shape, base,
    layers, hidden, kernel, activation, coupling, precision, nparams, nbase, ..., and the
    training cost: train_steps, n_train, train_seconds, and the transfer chain's totals
    chain_steps, chain_n_train, chain_seconds when the file has them), "params"
    (the flat arena, float32 or float64 as stored) and "tensors" (model_tensors)."""
    with _open(path, "model") as f:
        m = _header(f)
        a = f["model"].attrs
        arch = {}
        for key in _ARCH_INT:
            if key in a:
                arch[key] = int(a[key])
        for key in _ARCH_STR:
            if key in a:
                arch[key] = _str(a[key])
        for key in _ARCH_REAL:
            if key in a:
                arch[key] = float(a[key])
        arch["shape"] = [int(x) for x in np.atleast_1d(a["shape"])]
        arch["hidden"] = [int(x) for x in np.atleast_1d(a["hidden"])] if "hidden" in a else []
        arch["hash"] = "%016x" % int(a["hash"])
        params = f["model/params"][:]
    m["arch"], m["params"] = arch, params
    m["tensors"] = model_tensors(arch, params)
    return m


def export_npz(model_path, out_path):
    """Writes the model's tensors and its architecture to out_path (numpy .npz, no pickles):
    every tensor of model_tensors, "params" (the flat arena), and "arch.<name>" for the
    architecture (numbers as 0-d or 1-d arrays, names as 0-d str arrays), "arch.layer_parity"
    (layer i updates the sites with (x0 + x1) % 2 == i % 2; affine), "arch.leaky_slope" and
    "config_yaml". Returns the dict written."""
    m = read_model(model_path)
    arch = m["arch"]
    out = dict(m["tensors"])
    out["params"] = m["params"]
    for key, v in arch.items():
        out["arch." + key] = np.array(v)
    out["arch.layer_parity"] = np.arange(arch["layers"]) % 2
    out["arch.leaky_slope"] = np.array(LEAKY_SLOPE)
    out["config_yaml"] = np.array(m.get("config_yaml") or "")
    np.savez(out_path, **out)
    return out


# ---- training metrics ------------------------------------------------------------------

_STEP_COLUMNS = ("step", "loss", "ess", "ess_smoothed", "lr", "batch", "seconds", "grad_norm",
                 "skipped")
_EVAL_COLUMNS = ("step", "samples", "ess", "acceptance", "loss", "log_mean_weight", "n_train",
                 "seconds", "eval_seconds")


def read_metrics(path):
    """A train.h5 as a dict: the header, "steps" (one array per column of the per-step
    table: step, loss, ess, ess_smoothed, lr, batch, seconds, grad_norm, skipped) and "eval"
    (one array per column of /eval: step, samples, ess, acceptance, loss, log_mean_weight,
    n_train, seconds, eval_seconds; empty arrays for a version-1 file)."""
    with _open(path, "train") as f:
        t = _header(f)
        t["steps"] = {k: f[k][:] for k in _STEP_COLUMNS}
        if "eval" in f:
            t["eval"] = {k: f["eval/" + k][:] for k in _EVAL_COLUMNS}
        else:
            t["eval"] = {k: np.zeros(0) for k in _EVAL_COLUMNS}
    return t


# ---- command line ------------------------------------------------------------------------


def _show(path):
    kind, version = file_kind(path)
    print("%s: latflow %s file, format version %d" % (path, kind, version))
    if kind == "model":
        m = read_model(path)
        for name, a in m["tensors"].items():
            print("  %-28s %-8s %s" % (name, a.dtype, tuple(a.shape)))
    elif kind == "train":
        t = read_metrics(path)
        print("  %d steps, %d evaluations" % (len(t["steps"]["step"]), len(t["eval"]["step"])))
    elif kind == "ensemble":
        e = read_ensemble(path, configs=False)
        for r, c in enumerate(e["chains"]):
            print("  chain %d: %d rows, %d steps, %d accepted"
                  % (r, len(c["obs"]), len(c["row"]), int(c["accepted"].sum())))


def main(argv):
    """python3 latflow_h5.py export-npz MODEL.h5 OUT.npz | show FILE.h5"""
    if len(argv) == 4 and argv[1] == "export-npz":
        out = export_npz(argv[2], argv[3])
        n = sum(1 for k in out if k.startswith("layer") or k.startswith("base."))
        print("%s: %d tensors, %d parameters" % (argv[3], n, len(out["params"])))
        return 0
    if len(argv) == 3 and argv[1] == "show":
        _show(argv[2])
        return 0
    sys.stderr.write("usage: latflow_h5.py export-npz MODEL.h5 OUT.npz | show FILE.h5\n")
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except BrokenPipeError:  # `... show FILE | head`
        sys.exit(0)
    except (OSError, ValueError, KeyError) as exc:
        sys.stderr.write("latflow_h5: %s\n" % exc)
        sys.exit(1)
