#!/usr/bin/env python3
"""explain_ref.py -- the dense numpy reference for section 8 of docs/METRICS.md
(pair interference, libmetrics/metrics/explain.c, and its statistics,
stats.c). Writes tests/fixtures/explain/pairs.json, which tests/unit/test_explain.c
reads: the float32 factors of a few small updates, every pair's measures and the
cumulative shares computed on the dense updates in float64, and Pearson,
Spearman and partial correlations of a few vectors.

Pinned: Python 3.11.2, numpy 1.24.2 (Debian 12's /usr/bin/python3). numpy only.
Deterministic (np.random.default_rng(20241014)); rerun with

    /usr/bin/python3 tests/ref/explain_ref.py [OUT.json]

and the fixture is rewritten byte for byte.

Cases (d_out 100, so the C side's 64-row tiles split it, d_in 32):
  0  random, k 4, scale 2, A supported on columns 0..15
  1  A = C @ A_0 (inside A_0's row span up to float32 rounding: share 1), k 3,
     scale 0.5
  2  a zero update (B = 0), A random on columns 0..15: norms 0, ratios NaN
  3  A supported on columns 16..31, orthogonal to every earlier A: OO 0,
     share 0, cumulative share 0
  4  A = 0 (B random): a zero update with an empty row span (share 0 as i)
  5  rank-deficient A (k 4, rank 2: row 2 = 2 row 1, row 3 = row 0, exact
     in float32), scale 1
  6  random, k 6 (a seqlora-like rank 2r pair), scale 4, all columns
"""
import json
import sys

import numpy as np

ROW_RTOL = 1e-5  # rowspace_share, cum_share: explain.c's row_basis
ANGLE_RTOL = 1e-10  # angle_sim: cl_col_basis_cm (libmetrics/metrics/lowrank.c)


def f32_list(a):
    """Shortest decimal of each float32; checked to read back through a double
    (what jansson and a C cast do) to the same float32."""
    out = []
    for v in np.asarray(a, dtype=np.float32).ravel():
        s = str(v)
        if np.float32(float(s)) != v:
            raise SystemExit(f"{s} does not round-trip")
        out.append(float(s))
    return out


def num(v):
    v = float(v)
    return None if np.isnan(v) else v


def row_basis(A):
    """Orthonormal basis (d x q) of the row span of A (k x d), as explain.c:
    non-zero rows scaled to unit length, the SVD, cut at ROW_RTOL * sigma_max."""
    A = np.asarray(A, dtype=np.float64)
    A = A[np.any(A != 0, axis=1)]
    if A.shape[0] == 0:
        return np.zeros((A.shape[1], 0))
    A = A / np.linalg.norm(A, axis=1, keepdims=True)
    _, s, vt = np.linalg.svd(A, full_matrices=False)
    q = int(np.sum(s > ROW_RTOL * s[0]))
    return vt[:q].T


def angle_basis(A):
    """angle_sim's basis (cl_ortho.sim_a): A unscaled, cut at ANGLE_RTOL."""
    A = np.asarray(A, dtype=np.float64)
    if not np.any(A):
        return np.zeros((A.shape[1], 0))
    _, s, vt = np.linalg.svd(A, full_matrices=False)
    q = int(np.sum(s > ANGLE_RTOL * s[0]))
    return vt[:q].T


def share(W, Q):
    tot = np.sum(W * W)
    if tot == 0:
        return np.nan
    if Q.shape[1] == 0:
        return 0.0
    return np.sum((W @ Q) ** 2) / tot


def pair_case(rng):
    d_out, d_in = 100, 32
    tasks = []

    def add(B, A, scale):
        tasks.append((np.asarray(B, np.float32), np.asarray(A, np.float32), float(scale)))

    A0 = np.zeros((4, d_in), np.float32)
    A0[:, :16] = rng.standard_normal((4, 16))
    add(rng.standard_normal((d_out, 4)), A0, 2.0)
    C = rng.standard_normal((3, 4)).astype(np.float32)
    add(rng.standard_normal((d_out, 3)), C @ A0, 0.5)
    A2 = np.zeros((4, d_in), np.float32)
    A2[:, :16] = rng.standard_normal((4, 16))
    add(np.zeros((d_out, 4)), A2, 1.0)
    A3 = np.zeros((4, d_in), np.float32)
    A3[:, 16:] = rng.standard_normal((4, 16))
    add(rng.standard_normal((d_out, 4)), A3, 1.0)
    add(rng.standard_normal((d_out, 2)), np.zeros((2, d_in)), 1.0)
    A5 = rng.standard_normal((4, d_in)).astype(np.float32)
    A5[2] = 2 * A5[1]
    A5[3] = A5[0]
    add(rng.standard_normal((d_out, 4)), A5, 1.0)
    add(rng.standard_normal((d_out, 6)), rng.standard_normal((6, d_in)), 4.0)

    W = [s * (B.astype(np.float64) @ A.astype(np.float64)) for B, A, s in tasks]
    As = [A.astype(np.float64) for _, A, _ in tasks]
    Q = [row_basis(A) for A in As]
    G = [angle_basis(A) for A in As]
    n = len(tasks)
    pairs = []
    for i in range(n):
        for j in range(i + 1, n):
            ni, nj = np.linalg.norm(W[i]), np.linalg.norm(W[j])
            den = ni * nj
            qi, qj = G[i].shape[1], G[j].shape[1]
            pairs.append({
                "i": i, "j": j,
                "overlap_energy": num(np.sum(np.abs(W[i] * W[j])) / den if den > 0 else np.nan),
                "cosine": num(np.sum(W[i] * W[j]) / den if den > 0 else np.nan),
                "oo": num(np.sum((As[i] @ As[j].T) ** 2)),
                "angle_sim": num(np.sum((G[i].T @ G[j]) ** 2) / min(qi, qj)
                                 if qi and qj else np.nan),
                "rowspace_share": num(share(W[j], Q[i])),
                "norm_i": num(ni), "norm_j": num(nj),
            })
    cum = [None]
    for j in range(1, n):
        cum.append(num(share(W[j], row_basis(np.vstack(As[:j])))))
    return {
        "d_out": d_out, "d_in": d_in,
        "tasks": [{"k": int(A.shape[0]), "scale": s, "B": f32_list(B), "A": f32_list(A)}
                  for B, A, s in tasks],
        "pairs": pairs,
        "cum_share": cum,
    }


def rankdata(x):
    """1-based ranks, ties sharing their mean rank (scipy.stats.rankdata's
    'average')."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    xs = x[order]
    s = 0
    while s < len(x):
        e = s + 1
        while e < len(x) and xs[e] == xs[s]:
            e += 1
        r[order[s:e]] = 0.5 * (s + e + 1)
        s = e
    return r


def pearson(x, y):
    return np.corrcoef(np.asarray(x, float), np.asarray(y, float))[0, 1]


def partial(x, y, z):
    Z = np.column_stack([np.ones(len(z)), z])
    rx = x - Z @ np.linalg.lstsq(Z, x, rcond=None)[0]
    ry = y - Z @ np.linalg.lstsq(Z, y, rcond=None)[0]
    return pearson(rx, ry)


def stats_cases(rng):
    cases = []

    def add(name, x, y, z):
        x, y, z = (np.asarray(v, np.float64) for v in (x, y, z))
        cases.append({
            "name": name, "x": x.tolist(), "y": y.tolist(), "z": z.tolist(),
            "pearson": pearson(x, y),
            "spearman": pearson(rankdata(x), rankdata(y)),
            "partial_pearson": partial(x, y, z),
            "partial_spearman": partial(rankdata(x), rankdata(y), rankdata(z)),
        })

    n = 25
    z = rng.standard_normal(n)
    add("normal", z + 0.5 * rng.standard_normal(n), 0.7 * z + rng.standard_normal(n),
        z)
    # ties in every variable (small integers)
    z = rng.integers(0, 5, 30).astype(float)
    add("ties", z + rng.integers(0, 3, 30), rng.integers(0, 4, 30) + 0.5 * z, z)
    # the "only a smaller update" case: x, y both follow z
    z = rng.standard_normal(40)
    add("confounded", z + 0.3 * rng.standard_normal(40), np.exp(z) + 0.3 * rng.standard_normal(40),
        z)
    # heavy-tailed, monotone but not linear
    x = rng.standard_normal(20)
    add("monotone", x, x ** 3 + 0.01 * rng.standard_normal(20), rng.standard_normal(20))
    return cases


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/explain/pairs.json"
    rng = np.random.default_rng(20241014)
    doc = {
        "generator": "tests/ref/explain_ref.py",
        "numpy": np.__version__,
        "row_rtol": ROW_RTOL,
        "angle_rtol": ANGLE_RTOL,
        "pair": pair_case(rng),
        "stats": stats_cases(rng),
    }
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")


if __name__ == "__main__":
    main()
