#!/usr/bin/env python3
"""Every collide tool under valgrind memcheck, on small inputs: no error, no leak.

usage: valgrind_test.py BINDIR SUPPRESSIONS WORKDIR

Runs the Release binaries under
    valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
with the suppressions in tests/reliability/valgrind.supp (each documented
there: library-internal reports only, never a collide frame), two at a time.
A run fails on any memcheck error or definite leak (exit 99), on any other
exit status than the tool's success, or when valgrind reports anything at all
(-q prints only errors). Exit 77 (skipped) when valgrind is not installed.
collide-plot is run when it is built (--data-only: gnuplot is not a memcheck
matter); its absence is reported, not hidden.

The store reader opens every store first in a throw-away child
(store_open.c); --child-silent-after-fork keeps that child's valgrind quiet,
and the parent then runs the very same reading code under memcheck.
"""
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

BIN, SUPP, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/
VALGRIND = shutil.which("valgrind")
if not VALGRIND:
    print("valgrind_test: Skipped: valgrind is not installed (apt-get install valgrind)")
    sys.exit(77)
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
VG = [VALGRIND, "-q", "--error-exitcode=99", "--leak-check=full",
      "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
      "--child-silent-after-fork=yes", f"--suppressions={SUPP}", "--num-callers=30"]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)


def w(*p):
    return os.path.join(WORK, *p)


def native(*args):
    r = subprocess.run([os.path.join(BIN, args[0]), *args[1:]], env=ENV, capture_output=True,
                       text=True)
    if r.returncode != 0:
        sys.exit(f"valgrind_test: making an input failed: {args}: {r.stderr}")


# Inputs, made without valgrind: a small store, a one-task benchmark folder
# (the synthetic benchmark generates thousands of examples: slow under
# memcheck), a tiny base.
import json  # noqa: E402
LABELS = ["World", "Sports", "Business", "Sci/Tech"]
data = w("data")
os.makedirs(os.path.join(data, "TC", "agnews"))
with open(os.path.join(data, "TC", "agnews", "labels.json"), "w") as f:
    json.dump(LABELS, f)
with open(os.path.join(data, "TC", "agnews", "train.json"), "w") as f:
    json.dump([{"sentence": f"story {i}: the {LABELS[i % 4].lower()} desk reports item {i * 7} "
                            f"of the day, with notes and numbers {i * 13}",
                "label": LABELS[i % 4]} for i in range(60)], f)
store = w("small.h5")
native("collide-synth", "-o", store, "--tasks", "2", "--modules", "2", "--shape", "16x12",
       "--rank", "2", "--snapshots-per-task", "1")
base = w("base")
TINY = ["--data", data, "--dim", "16", "--layers", "1", "--heads", "2", "--kv-heads", "1", "--ffn",
        "32", "--seq", "16", "--batch", "4", "--vocab", "300", "--steps", "2", "--quiet"]
native("collide-pretrain", "-o", base, *TINY)
adapters = [os.path.join(SRC, "fixtures", "peft", "llama", t) for t in ("task1", "task2")]
audit = os.path.join(SRC, "fixtures", "peft", "audit", "olora-seed1")

RUNS = [
    ["collide-synth", "-o", w("synth.h5"), "--tasks", "2", "--modules", "2", "--shape", "16x12",
     "--rank", "2", "--snapshots-per-task", "1"],
    ["collide-info", store],
    ["collide-collision", "--sweep", store],
    ["collide-subspace", store],
    ["collide-ortho", store],
    ["collide-sparsity", store],
    ["collide-forget", store],
    ["collide-report", "--format", "json", store],
    ["collide-summary", "--format", "latex", store],
    ["collide-explain", "--reps", "20", "--perms", "20", store],
    ["collide-import", "-o", w("imported.h5"), *adapters],
    # the torch.save reader, labels and an accuracy file
    ["collide-import", "-o", w("imported-bin.h5"), audit, "--tasks", "dbpedia,amazon,yahoo,agnews",
     "--method", "olora", "--lambda-orth", "0.5", "--name", "audit",
     "--accuracy", os.path.join(audit, "accuracy.csv"), "--accuracy-protocol", "ranked"],
    ["collide-export", store, "-o", w("exported")],
    ["collide-pretrain", "-o", w("pretrained"), *TINY],
    ["collide-train", "-o", w("trained.h5"), "--data", data, "--base", base, "--tasks", "agnews",
     "--train-per-class", "1", "--test-per-task", "2", "--epochs", "1", "--batch", "2",
     "--max-new", "2", "--snapshot-every", "1", "--targets", "q", "--quiet"],
]
# collide-reproduce's own work once its runs are trained (the training is
# collide-train's, checked above): tables, report and figures from the stores.
repro = w("repro")
REPRO = ["--quick", "--synthetic", "-o", repro, "--base", base, "--train-per-class", "1",
         "--test-per-task", "2", "--epochs", "1", "--targets", "q", "--quiet"]
native("collide-reproduce", *REPRO)
RUNS.append(["collide-reproduce", *REPRO])
plot = os.path.join(BIN, "collide-plot")
if os.path.exists(plot):
    RUNS.append(["collide-plot", "accuracy-matrix", "--data-only", store, "-o", w("plot")])
else:
    print("valgrind_test: collide-plot is not built here: not run")


def run(argv):
    t0 = time.time()
    r = subprocess.run([*VG, os.path.join(BIN, argv[0]), *argv[1:]], env=ENV, capture_output=True,
                       text=True, errors="replace", timeout=600)
    return argv, r, time.time() - t0


failures = 0
# The check itself must be able to fail: a program that leaks on purpose.
_, r, _ = run(["relstore", "leak"])
if r.returncode != 99 or "definitely lost" not in r.stderr:
    failures += 1
    print(f"FAIL memcheck as run here does not catch a definite leak (exit {r.returncode})")
else:
    print("ok   memcheck fails a deliberate definite leak (relstore leak: exit 99)")
with ThreadPoolExecutor(max_workers=2) as pool:
    for argv, r, secs in pool.map(run, RUNS):
        vg = [l for l in r.stderr.splitlines() if l.startswith("==")]
        bad = r.returncode != 0 or vg
        failures += bool(bad)
        print(f"{'FAIL' if bad else 'ok  '} {argv[0]} ({secs:.1f} s): exit {r.returncode}"
              + (", valgrind: " + str(len(vg)) + " lines" if vg else ""))
        if bad:
            print("\n".join(r.stderr.splitlines()[:80]))
print(f"valgrind_test: {'FAIL' if failures else 'PASS'}: {len(RUNS)} tools under memcheck, "
      f"{failures} with errors or leaks")
sys.exit(1 if failures else 0)
