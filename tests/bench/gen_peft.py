#!/usr/bin/env python3
"""N PEFT LoRA adapters of one Llama-3.2-1B-shaped base, in clusters.

    gen_peft.py OUTDIR [--adapters 32] [--layers 16] [--rank 16] [--seed 1]

Writes OUTDIR/<name>/adapter_config.json and adapter_model.safetensors for
each adapter, as PEFT saves them (base_model.model.model.layers.L.self_attn.
{q,v}_proj.lora_{A,B}.weight, F32; lora_A r x d_in, lora_B d_out x r), and
OUTDIR/clusters.json (each adapter's cluster, for reading the figure).

Shapes are Llama-3.2-1B's: hidden 2048, 8 KV heads of 64, so q_proj is
2048 x 2048 and v_proj 512 x 2048 (d_out x d_in). r = 16, lora_alpha = 32.

What makes the collision matrix worth clustering: the adapters come from four
clusters (sizes 12, 8, 7, 5; which adapter is in which is a seeded shuffle, so
the command-line order says nothing). Per module, each cluster writes to a
block of rows x columns of dW: a random 25% of the rows and of the columns
(drawn per module and cluster, so two clusters share about 1/16 of a block
by chance), except that cluster 1 takes half its rows and half its columns from
cluster 0's block (so those two are nearer each other than the rest). An adapter keeps
85% of its cluster's rows and columns and adds as many of its own at random,
so adapters of one cluster collide a lot, but not identically, and adapters
of different clusters little. Within its support B has heavy-tailed row scales and a decaying column spectrum; A is
Gaussian at PEFT's Kaiming scale. (Written with numpy: the safetensors format
is an 8-byte header length, a JSON header and the raw little-endian data.)
"""
import argparse
import json
import os
import struct

import numpy as np

HIDDEN, KV = 2048, 512


def save_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, dtype="<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def support(rng, d, base, keep=0.85):
    """An adapter's rows (or columns): most of its cluster's, plus its own."""
    kept = base[rng.random(base.size) < keep]
    extra = rng.choice(d, size=base.size - kept.size, replace=False)
    return np.union1d(kept, extra)


def half_of(rng, d, base):
    """As many indices as base: half of base's, half from outside it."""
    rest = np.setdiff1d(np.arange(d), base)
    h = base.size // 2
    return np.sort(np.concatenate([rng.choice(base, h, replace=False),
                                   rng.choice(rest, base.size - h, replace=False)]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--adapters", type=int, default=32)
    p.add_argument("--layers", type=int, default=16)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    n, r, alpha = a.adapters, a.rank, 2 * a.rank
    sizes = [12, 8, 7, 5] if n == 32 else [n - 3 * (n // 4)] + [n // 4] * 3
    cluster = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    names = [f"llama32-1b-lora-{i:02d}" for i in range(n)]
    shapes = {"q_proj": (HIDDEN, HIDDEN), "v_proj": (KV, HIDDEN)}
    mods = [(l, proj) for l in range(a.layers) for proj in ("q_proj", "v_proj")]
    # per module and cluster: its block of rows and columns (25% of each)
    blocks = {}
    for l, proj in mods:
        d_out, d_in = shapes[proj]
        for c in range(len(sizes)):
            if c == 1:  # half of cluster 0's rows and columns: a hierarchy
                blocks[(l, proj, c)] = tuple(half_of(rng, d, b) for d, b in
                                             zip((d_out, d_in), blocks[(l, proj, 0)]))
            else:
                blocks[(l, proj, c)] = (np.sort(rng.choice(d_out, d_out // 4, replace=False)),
                                        np.sort(rng.choice(d_in, d_in // 4, replace=False)))
    os.makedirs(a.out, exist_ok=True)
    decay = (1.0 + np.arange(r)) ** -0.7
    for i, name in enumerate(names):
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        tensors = {}
        for l, proj in mods:
            d_out, d_in = shapes[proj]
            rows0, cols0 = blocks[(l, proj, int(cluster[i]))]
            rows, cols = support(rng, d_out, rows0), support(rng, d_in, cols0)
            A = np.zeros((r, d_in), np.float32)
            B = np.zeros((d_out, r), np.float32)
            A[:, cols] = rng.standard_normal((r, cols.size)) / np.sqrt(d_in)
            scale = np.exp(0.5 * rng.standard_normal(rows.size))[:, None]
            B[rows, :] = 0.01 * scale * decay * rng.standard_normal((rows.size, r))
            key = f"base_model.model.model.layers.{l}.self_attn.{proj}"
            tensors[f"{key}.lora_A.weight"] = A
            tensors[f"{key}.lora_B.weight"] = B
        save_safetensors(os.path.join(d, "adapter_model.safetensors"), tensors)
        cfg = {"peft_type": "LORA", "base_model_name_or_path": "meta-llama/Llama-3.2-1B",
               "task_type": "CAUSAL_LM", "r": r, "lora_alpha": alpha, "lora_dropout": 0.05,
               "target_modules": ["q_proj", "v_proj"], "fan_in_fan_out": False, "bias": "none",
               "use_rslora": False, "use_dora": False}
        with open(os.path.join(d, "adapter_config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
    with open(os.path.join(a.out, "clusters.json"), "w") as f:
        json.dump({"adapters": names, "cluster": [int(c) for c in cluster], "sizes": sizes,
                   "layers": a.layers, "rank": r, "alpha": alpha}, f, indent=1)
    print(f"gen_peft: {n} adapters, {len(mods)} modules each, in {a.out}")


if __name__ == "__main__":
    main()
