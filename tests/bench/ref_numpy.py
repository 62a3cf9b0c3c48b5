#!/usr/bin/env python3
"""The numpy way: what a user writes to audit a collide store without collide.

Each dW is formed densely (s * B @ A), thresholds by sorting |dW|, collisions
by dense boolean masks, spectra by numpy.linalg.svd, inner products and AWOM
by dense products. The definitions are collide's (docs/METRICS.md), so
results can be compared: counts and tau exactly, values within 1e-4.

    ref_numpy.py collision STORE [--threshold MODE:V] [--module GLOB] [--canonical] [--near]
                           -o OUT.json
    ref_numpy.py subspace  STORE [--module GLOB] -o OUT.json
    ref_numpy.py ortho     STORE [--module GLOB] -o OUT.json
    ref_numpy.py peft-collision ADAPTER_DIR... [--threshold MODE:V] [--near] -o OUT.json

peft-collision is the N x N audit of N PEFT adapters straight from their
directories (what collide-import + collide-collision do): per module, each
dW = s * B @ A in float32, thresholded, and the pair counts of all N tasks at
once as one matrix product of their 0/1 masks (M @ M.T, float32: exact, every
partial sum is an integer below 2^24), then the N x N collision rate and
Jaccard matrices, means over modules.

OUT.json holds the per-module results, the seconds spent and the peak RSS.
"""
import argparse
import fnmatch
import json
import math
import os
import re
import resource
import struct
import sys
import time

import h5py
import numpy as np

FLT_TRUE_MIN = np.float32(np.finfo(np.float32).smallest_subnormal)


def open_store(path):
    """The store's committed snapshots, as docs/FORMAT.md reads them."""
    f = h5py.File(path, "r", swmr=True)
    n = int(f["snapshots/committed"][()])
    table = f["snapshots/table"][:n]
    store = {
        "f": f,
        "modules": list(f["modules/name"].asstr()[:]),
        "ranks": f["snapshots/rank"][:n],
        "scales": f["snapshots/scale"][:n],
        # each task at its end-of-task snapshot (collide's --snapshot task-ends)
        "ends": sorted((int(r["task"]), int(r["id"])) for r in table if r["kind"] == 1),
    }
    return store


def factors(st, m, snap):
    k = st["ranks"][snap, m]
    A = st["f"][f"adapters/{m:06d}/A"][snap, :k, :]
    B = st["f"][f"adapters/{m:06d}/B"][snap, :, :k]
    return A, B, st["scales"][snap, m]


def delta32(st, m, snap):
    """dW in float32, the user's way: (B @ A) * float32(s). numpy's sgemm does
    not always sum in collide's order (see canonical_delta)."""
    A, B, s = factors(st, m, snap)
    return (B @ A) * np.float32(s)


def fma32(b, a, c):
    """Correctly rounded float32 b * a + c, elementwise (numpy has no fma):
    the product is exact in float64; the sum's rounding error (TwoSum) decides
    the one case where rounding twice would differ, an exact float32 tie."""
    p = b.astype(np.float64) * a.astype(np.float64)
    c64 = c.astype(np.float64)
    s = p + c64
    bv = s - p
    err = (p - (s - bv)) + (c64 - bv)
    r = s.astype(np.float32)
    r64 = r.astype(np.float64)
    up = np.nextafter(r, np.float32(np.inf)).astype(np.float64)
    down = np.nextafter(r, np.float32(-np.inf)).astype(np.float64)
    other = np.where(s > r64, up, down)
    tie = (s == (r64 + other) / 2) & (err != 0) & (np.sign(err) == np.sign(other - r64))
    return np.where(tie, other.astype(np.float32), r)


def canonical_delta(st, m, snap):
    """dW in collide's canonical order (kernels/kernels.h): b0*a0, then one
    fused multiply-add per k, then times float32(s). Slow; for checking."""
    A, B, s = factors(st, m, snap)
    acc = B[:, :1] * A[:1, :]
    for q in range(1, A.shape[0]):
        acc = fma32(B[:, q:q + 1], A[q:q + 1, :], acc)
    return acc * np.float32(s)


def delta64(st, m, snap):
    """dW in float64 (docs/FORMAT.md's snippet)."""
    A, B, s = factors(st, m, snap)
    return s * (B.astype(np.float64) @ A.astype(np.float64))


def active_mask(w, mode, value):
    """The active set of dW under a threshold, and its tau (docs/METRICS.md 1)."""
    a = np.abs(w)
    if mode == "abs":
        return a > np.float32(value), float(np.float32(value))
    if mode == "rel":
        tau = np.float32(value * float(a.max()))  # in double, rounded once
        return a > tau, float(tau)
    s = np.sort(a, axis=None)[::-1]
    if mode == "energy":
        c = np.cumsum(s.astype(np.float64) ** 2)
        if not c[-1] > 0:
            return np.zeros(a.shape, bool), math.inf
        k = min(int(np.searchsorted(c, value * c[-1])), s.size - 1)  # first c >= target
    else:  # top
        k = max(math.ceil(value * s.size), 1) - 1
    tau = max(s[k], FLT_TRUE_MIN)
    return a >= tau, float(tau)


def near(w, tau, rel=2e-6):
    """Entries within rel of tau: the ones a last-bit difference in dW or tau
    can move across the threshold."""
    if not math.isfinite(tau):
        return 0
    a = np.abs(w)
    return int(np.count_nonzero((a >= tau * (1 - rel)) & (a <= tau * (1 + rel))))


def selected(st, glob):
    return [m for m, name in enumerate(st["modules"]) if glob is None or fnmatch.fnmatchcase(name, glob)]


def run_collision(st, args):
    mode, value = args.threshold.split(":")
    value = float(value)
    out = []
    for m in selected(st, args.module):
        masks, rows = [], []
        for t, snap in st["ends"]:
            w = canonical_delta(st, m, snap) if args.canonical else delta32(st, m, snap)
            mk, tau = active_mask(w, mode, value)
            masks.append(mk)
            rows.append({"task": t, "active": int(np.count_nonzero(mk)), "tau": tau,
                         "near": near(w, tau) if args.near else None})
        both = [[int(np.count_nonzero(masks[i] & masks[j])) if j >= i else None
                 for j in range(len(masks))] for i in range(len(masks))]
        out.append({"module": st["modules"][m], "entries": int(masks[0].size), "tasks": rows,
                    "both": both})
    return out


def run_subspace(st, args):
    out = []
    for m in selected(st, args.module):
        ws = [delta32(st, m, snap) for _, snap in st["ends"]]
        rows = []
        for (t, snap), w in zip(st["ends"], ws):
            sv = np.linalg.svd(w, compute_uv=False)
            rows.append({"task": t, "sigma": [float(x) for x in sv[: st["ranks"][snap, m]]]})
        acc = np.sum(ws, axis=0)
        sv = np.linalg.svd(acc, compute_uv=False)
        k = int(sum(st["ranks"][snap, m] for _, snap in st["ends"]))
        rows.append({"task": -1, "sigma": [float(x) for x in sv[:k]]})
        out.append({"module": st["modules"][m], "tasks": rows})
    return out


def basis(x):
    """Orthonormal basis of the columns of x (thin QR)."""
    return np.linalg.qr(x.astype(np.float64))[0]


def run_ortho(st, args):
    out = []
    for m in selected(st, args.module):
        facs = [factors(st, m, snap) for _, snap in st["ends"]]
        ws = [delta64(st, m, snap) for _, snap in st["ends"]]
        norms = [np.linalg.norm(w) for w in ws]
        qa = [basis(A.T) for A, _, _ in facs]
        qb = [basis(B) for _, B, _ in facs]
        pairs = []
        n = len(ws)
        for i in range(n):
            for j in range(i + 1, n):
                Ai, Aj = facs[i][0].astype(np.float64), facs[j][0].astype(np.float64)
                inner = float(np.vdot(ws[i], ws[j]))
                pairs.append({
                    "task_i": st["ends"][i][0], "task_j": st["ends"][j][0],
                    "oo": float(np.linalg.norm(Ai @ Aj.T) ** 2),
                    "sim_a": float(np.linalg.norm(qa[i].T @ qa[j]) ** 2 / min(qa[i].shape[1], qa[j].shape[1])),
                    "sim_b": float(np.linalg.norm(qb[i].T @ qb[j]) ** 2 / min(qb[i].shape[1], qb[j].shape[1])),
                    "awom": float(np.linalg.norm(ws[i].T @ ws[j]) ** 2),
                    "inner": inner,
                    "cosine": inner / (norms[i] * norms[j]),
                    "scale": float(norms[i] * norms[j]),
                })
        out.append({"module": st["modules"][m], "pairs": pairs})
    return out


# ---------------------------------------------------------- PEFT adapters

def load_safetensors(path):
    """{name: array} of a .safetensors file (what safetensors.numpy.load_file
    returns; read with numpy so that the reference needs numpy only)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dt = {"F32": np.float32, "F16": np.float16, "F64": np.float64}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, x = e["data_offsets"]
        out[name] = np.frombuffer(data, dt[e["dtype"]], (x - b) // np.dtype(dt[e["dtype"]]).itemsize,
                                  b).reshape(e["shape"]).astype(np.float32)
    return out


def natural(name):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def run_peft_collision(args):
    """The N x N collision matrix of N adapters, module by module."""
    mode, value = args.threshold.split(":")
    value = float(value)
    ads = []
    for d in args.adapters:
        with open(os.path.join(d, "adapter_config.json")) as f:
            cfg = json.load(f)
        ads.append((cfg["lora_alpha"] / cfg["r"], load_safetensors(os.path.join(d, "adapter_model.safetensors"))))
    pre, suf = "base_model.model.", ".lora_A.weight"
    modules = sorted((k[len(pre):-len(suf)] for k in ads[0][1] if k.endswith(suf)), key=natural)
    n = len(ads)
    out, near_s = [], 0.0
    cr_sum, j_sum = np.zeros((n, n)), np.zeros((n, n))
    for name in modules:
        masks, rows = None, []
        for t, (s, sd) in enumerate(ads):
            A, B = sd[f"{pre}{name}.lora_A.weight"], sd[f"{pre}{name}.lora_B.weight"]
            w = (B @ A) * np.float32(s)
            mk, tau = active_mask(w, mode, value)
            if masks is None:
                masks = np.empty((n, w.size), np.float32)
            masks[t] = mk.reshape(-1)
            t0 = time.perf_counter()
            rows.append({"task": t, "active": int(np.count_nonzero(mk)), "tau": tau,
                         "near": near(w, tau) if args.near else None})
            near_s += time.perf_counter() - t0
        # every pair at once: |A_i AND A_j| = (M M^T)_ij, in column chunks
        both = np.zeros((n, n))
        for c in range(0, masks.shape[1], 1 << 20):
            m = masks[:, c:c + (1 << 20)]
            both += m @ m.T
        both = np.rint(both).astype(np.int64)
        entries = masks.shape[1]
        act = np.diag(both).astype(np.float64)
        union = act[:, None] + act[None, :] - both
        cr_sum += both / entries
        with np.errstate(invalid="ignore", divide="ignore"):
            j_sum += np.where(union > 0, both / union, np.nan)
        out.append({"module": name, "entries": int(entries), "tasks": rows,
                    "both": [[int(both[i, j]) if j >= i else None for j in range(n)] for i in range(n)]})
    return out, {"collision_rate": (cr_sum / len(modules)).tolist(),
                 "jaccard": (j_sum / len(modules)).tolist(), "near_seconds": near_s}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("what", choices=["collision", "subspace", "ortho", "peft-collision"])
    p.add_argument("store", nargs="+", help="a store (peft-collision: adapter directories)")
    p.add_argument("--threshold", default="energy:0.99")
    p.add_argument("--module", default=None, help="fnmatch glob, as collide's --module")
    p.add_argument("--canonical", action="store_true",
                   help="form dW in collide's order (exact comparison; slow)")
    p.add_argument("--near", action="store_true",
                   help="also count entries within 2e-6 of tau (tolerance-aware comparison)")
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args()
    t0 = time.perf_counter()
    extra = {}
    if args.what == "peft-collision":
        args.adapters = args.store
        res, extra = run_peft_collision(args)
        args.store = args.store[0]
    else:
        if len(args.store) != 1:
            p.error(f"{args.what}: one STORE")
        args.store = args.store[0]
        st = open_store(args.store)
        res = {"collision": run_collision, "subspace": run_subspace, "ortho": run_ortho}[args.what](st, args)
    seconds = time.perf_counter() - t0
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(args.output, "w") as f:
        json.dump({"what": args.what, "store": args.store, "threshold": args.threshold,
                   "module": args.module, "seconds": seconds, "peak_rss_kib": rss_kib,
                   "modules": res, **extra}, f)
    print(f"ref_numpy {args.what}: {len(res)} modules, {seconds:.2f} s, peak RSS {rss_kib / 1024:.0f} MiB",
          file=sys.stderr)


if __name__ == "__main__":
    main()
