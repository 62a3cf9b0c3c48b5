#!/usr/bin/env python3
"""Three continual-learning runs saved the way the O-LoRA / N-LoRA code saves
them: the input of docs/IMPORT.md's walk-through ("I have two O-LoRA runs and
one N-LoRA run in PyTorch format").

Pinned versions (tests/fixtures/peft/audit was produced with these):

    python        3.11
    torch         2.15.0   (PyPI build, CPU)
    safetensors   0.8.0

What it does, from the repository root:

1. `collide-train` on the committed base (model/base), the paper's order 1
   on the real benchmark (../shared/datasets/CL_Benchmark; yahoo's missing
   split stood in for by yelp, as the main job does) with the main job's
   settings (COMMON below): O-LoRA with seeds 1 and 2, N-LoRA (lambda 0.4)
   with seed 1 (RUNS below; OMP_NUM_THREADS=2, about 3 minutes a run);
2. `collide-export` of each store: one PEFT adapter per task;
3. each run's three adapters joined into ONE cumulative checkpoint as the
   O-LoRA fork of PEFT saves it after the last task (save_loranew): tasks 1
   and 2 concatenated along the rank in lora_A (rows) / lora_B (columns),
   task 3 in loranew_A / loranew_B, adapter_config.json with r_sum = 8;
   written with torch.save (the zip format) as adapter_model.bin;
4. accuracy.csv: the run's own accuracy matrix, in percent with two
   decimals as the O-LoRA logs print theirs, only the tasks seen so far in
   each row. It is collide's ranked scoring (the option label with the
   highest log-likelihood), collide's headline protocol: the small base
   generates few exact answers (docs/RESULTS.md), so the walk-through
   imports it with --accuracy-protocol ranked.

So the walk-through imports real trained adapters with their real
accuracies; only the file layout is the other code's. The runs are small
(the main job's quick setting): they show the commands, not the paper's
results.

usage: audit_runs.py BINDIR OUT

Regenerate the committed folder with
    python3 tests/ref/audit_runs.py build/bin tests/fixtures/peft/audit
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file

TASKS = ["dbpedia", "amazon", "yahoo", "agnews"]
COMMON = ["--order", "1", "--substitute", "yahoo=yelp", "--base", "model/base",
          "--train-per-class", "150", "--test-per-task", "200", "--max-len", "128",
          "--epochs", "2", "--quiet"]
RUNS = {
    "olora-seed1": ["--method", "olora", "--lambda-orth", "0.5", "--seed", "1"],
    "olora-seed2": ["--method", "olora", "--lambda-orth", "0.5", "--seed", "2"],
    "nlora-seed1": ["--method", "nlora", "--lambda", "0.4", "--seed", "1"],
}
R = 8


def run(cmd):
    env = dict(os.environ, OMP_NUM_THREADS="2")
    subprocess.run(cmd, env=env, check=True)


def cumulative(export_dir):
    """The fork's checkpoint after the last task, from per-task adapters."""
    per_task = [load_file(os.path.join(export_dir, t, "adapter_model.safetensors"))
                for t in TASKS]
    sd = {}
    for key in sorted(per_task[0]):
        if key.endswith(".lora_A.weight"):
            mod = key[: -len(".lora_A.weight")]
            sd[mod + ".lora_A.weight"] = torch.cat([p[key] for p in per_task[:-1]], 0)
            sd[mod + ".loranew_A.weight"] = per_task[-1][key].clone()
        elif key.endswith(".lora_B.weight"):
            mod = key[: -len(".lora_B.weight")]
            sd[mod + ".lora_B.weight"] = torch.cat([p[key] for p in per_task[:-1]], 1)
            sd[mod + ".loranew_B.weight"] = per_task[-1][key].clone()
        else:
            raise SystemExit(f"unexpected tensor {key}")
    with open(os.path.join(export_dir, TASKS[-1], "adapter_config.json")) as f:
        cfg = json.load(f)
    cfg["r_sum"] = R * (len(TASKS) - 1)
    cfg["save_loranew"] = True
    return sd, cfg


def accuracy_csv(bindir, store, path):
    """The store's generation accuracies, read back through collide-forget."""
    rows = json.loads(subprocess.run(
        [os.path.join(bindir, "collide-forget"), store, "--format", "json"],
        check=True, capture_output=True, text=True).stdout)["tables"]["matrix"]
    acc = [[None] * len(TASKS) for _ in TASKS]
    for r in rows:
        if r["protocol"] == "ranked":
            acc[r["after_task"]][r["task"]] = r["accuracy"]
    with open(path, "w") as out:
        out.write("after," + ",".join(TASKS) + "\n")
        for i, t in enumerate(TASKS):
            cells = [f"{100 * acc[i][j]:.2f}" if j <= i else "" for j in range(len(TASKS))]
            out.write(t + "," + ",".join(cells) + "\n")


def main(argv):
    if len(argv) != 3:
        raise SystemExit(__doc__)
    bindir, out = argv[1], argv[2]
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in RUNS.items():
            store = os.path.join(tmp, name + ".h5")
            run([os.path.join(bindir, "collide-train"), "-o", store] + COMMON + args)
            exp = os.path.join(tmp, name + "-peft")
            run([os.path.join(bindir, "collide-export"), store, "-o", exp, "--quiet"])
            sd, cfg = cumulative(exp)
            d = os.path.join(out, name)
            os.makedirs(d, exist_ok=True)
            torch.save(sd, os.path.join(d, "adapter_model.bin"))
            with open(os.path.join(d, "adapter_config.json"), "w") as f:
                json.dump(cfg, f, indent=2, sort_keys=True)
                f.write("\n")
            accuracy_csv(bindir, store, os.path.join(d, "accuracy.csv"))
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("# Three runs in the O-LoRA / N-LoRA code's format\n\n"
                "Made by `tests/ref/audit_runs.py` (see its docstring): collide-train runs on "
                "the committed base, saved as the O-LoRA fork saves a run (one cumulative "
                "`adapter_model.bin` from `torch.save`) with the run's own accuracy matrix as "
                "`accuracy.csv` (ranked scoring, in percent as the O-LoRA logs print theirs). "
                "Order 1 of the real benchmark with the main job's quick settings. The input "
                "of docs/IMPORT.md's walk-through: it shows the commands, not the paper's "
                "results.\n")


if __name__ == "__main__":
    main(sys.argv)
