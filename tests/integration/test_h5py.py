#!/usr/bin/env python3
"""The store read by h5py, with the very snippet docs/FORMAT.md shows.

usage: test_h5py.py BINDIR DOCS/FORMAT.md

Writes a store with collide-synth (and a seqlora-like and a killed one are
covered by the C tests), runs the FORMAT.md snippet on it, and checks what it
returns against collide-info --format json and against dW recomputed from
the factors collide-collision saw.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError as e:  # never a silent skip: say what is missing
    print(f"test_h5py: FAIL: {e}; install python3-h5py and python3-numpy "
          "(Debian) or pip install h5py numpy", file=sys.stderr)
    sys.exit(1)

failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)


def main():
    bindir, fmt = sys.argv[1], sys.argv[2]
    text = open(fmt, encoding="utf-8").read()
    snippet = re.search(r"## Reading a store with h5py\s+```python\n(.*?)```", text, re.S)
    check(snippet is not None, "FORMAT.md has the h5py snippet")
    ns = {}
    exec(snippet.group(1), ns)
    read_store = ns["read_store"]
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "s.h5")
        subprocess.run([f"{bindir}/collide-synth", "-o", store, "--tasks", "3", "--modules", "4",
                        "--shape", "24x20", "--rank", "3", "--seed", "9"], check=True,
                       stdout=subprocess.DEVNULL)
        st = read_store(store)
        info = json.loads(subprocess.run([f"{bindir}/collide-info", "--format", "json", store],
                                         check=True, capture_output=True, text=True).stdout)
        tab = info["tables"]
        check(st["tasks"] == [r["name"] for r in tab["tasks"]], "task names")
        check(all(isinstance(t, str) for t in st["tasks"]), "task names are str")
        check(isinstance(st["method"], str) and st["method"] == tab["store"][0]["method"],
              "method attribute is str")
        check(st["modules"] == [r["name"] for r in tab["modules"]], "module names")
        check(st["snapshots"] == tab["store"][0]["snapshots"] == 9, "snapshot count")
        check(st["task_end"] == {r["task"]: r["end_snapshot"] for r in tab["tasks"]}, "task ends")
        R = st["accuracy"]
        check(R.shape == (3, 3) and np.all((R >= 0) & (R <= 1)), "accuracy matrix")
        # dW from h5py equals collide's view of it: the Frobenius norms that
        # collide-sparsity reports (l2 over modules) for each task
        sp = json.loads(subprocess.run([f"{bindir}/collide-sparsity", "--format", "json",
                                        "--threshold", "energy:0.99", store],
                                       check=True, capture_output=True, text=True).stdout)
        for row in sp["tables"]["tasks"]:
            t = row["task"]
            l2 = np.sqrt(sum((st["delta"][(m, t)] ** 2).sum() for m in range(4)))
            check(abs(l2 - row["l2"]) <= 1e-5 * l2, f"task {t}: l2 {l2} vs collide {row['l2']}")
            d = st["delta"][(0, t)]
            check(d.shape == (24, 20), "dW shape")
        # the table is a structured array with the documented members
        names = set(st["table"].dtype.names)
        check({"id", "task", "epoch", "step", "loss", "kind", "wall_time"} <= names,
              f"table members {names}")
        with h5py.File(store, "r") as f:
            check(f["adapters/000000/A"].dtype == np.float32, "A is float32")
            check(f["adapters/000000/A"].shape == (9, 3, 20), "A shape")
            check(f["adapters/000000/B"].shape == (9, 24, 3), "B shape")
            check(f["snapshots/table"].dtype["kind"].kind == "i", "kind is an integer enum")
            check(h5py.check_enum_dtype(f["snapshots/table"].dtype["kind"]) ==
                  {"periodic": 0, "end_of_task": 1}, "kind enum names")
    verdict = "FAIL" if failures else "PASS"
    print(f"test_h5py: {verdict}: {checks} checks, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
