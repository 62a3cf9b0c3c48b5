#!/usr/bin/env python3
"""Crash safety of collide-train: killed at exact points, then read, resumed, compared.

usage: crash_test.py BINDIR KILLSHIM WORKDIR

1. A tiny base is pretrained (fixed steps: deterministic; reused when present).
2. A census: one uninterrupted run (fixed seed, one thread) under the kill shim,
   which logs every write to the store (offset, size, time). The file offsets
   of /snapshots/committed, /accuracy and /tasks/baseline (relstore probe)
   label the writes: each snapshot's commit, each accuracy row, the baseline.
3. Kill points, chosen from the census, each reproducible to the byte
   (killshim.c): a torn write (half of it written, then SIGKILL), SIGKILL just
   before a write (the file exactly as a kill anywhere since the previous write
   leaves it), or SIGKILL a measured delay after a write, so that the process
   dies in the middle of what follows (training, an evaluation). After each
   kill: the store opens and every committed adapter reads (relstore probe,
   collide-info, collide-report); the phase the writer was in, read from the
   store, is the one aimed at; `collide-train --resume` finishes; and storecmp
   finds the result equal to the uninterrupted run, bit for bit.
4. A full disk: a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored, so writes
   fail with EFBIG) stops collide-train with a clear message and leaves a store
   that opens, reads and resumes to the same result; collide-synth,
   collide-import and collide-export under the limit leave no partial file and
   never touch an existing output.

Python's standard library only. Prints the kill points survived and the phases
hit (docs/GUARANTEES.md quotes them).
"""
import glob
import json
import os
import resource
import shutil
import signal
import subprocess
import sys

BIN, SHIM, WORK = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
for k in [k for k in ENV if k.startswith("CLKILL_")]:
    del ENV[k]
checks = failures = 0


def check(cond, what):
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def tool(name, *args, env=None, preexec=None):
    return subprocess.run([os.path.join(BIN, name), *args], env=env or ENV, capture_output=True,
                          text=True, errors="replace", preexec_fn=preexec)


def probe(path):
    r = tool("relstore", "probe", path)
    return json.loads(r.stdout) if r.returncode == 0 else None, r


os.makedirs(WORK, exist_ok=True)
base = os.path.join(WORK, "base")
r = tool("collide-pretrain", "-o", base, "--synthetic", "--dim", "32", "--layers", "1", "--heads",
         "2", "--kv-heads", "2", "--ffn", "64", "--seq", "32", "--batch", "8", "--vocab", "300",
         "--steps", "20", "--lr", "1e-2", "--quiet")
if not check(r.returncode == 0, f"pretrain: {r.stderr.strip()}"):
    sys.exit(1)

TRAIN = ["--synthetic", "--base", base, "--tasks", "synth1,synth2", "--train-per-class", "8",
         "--test-per-task", "12", "--epochs", "2", "--batch", "4", "--lr", "1e-2", "--max-len",
         "192", "--seed", "7", "--snapshot-every", "2", "--targets", "q,v", "--max-new", "6",
         "--method", "olora+nlora", "--lambda", "0.05", "--quiet"]


def fresh(name):
    path = os.path.join(WORK, name)
    for p in [path, *glob.glob(path + ".tmp.*")]:
        if os.path.exists(p):
            os.remove(p)
    return path


def override(base, extra):
    """base's options with extra's values in place of the same options' (each
    option is given once: collide refuses an option given twice)."""
    out, i = list(base), 0
    extra = list(extra)
    while i < len(extra):
        opt = extra[i]
        val = extra[i + 1] if i + 1 < len(extra) and not extra[i + 1].startswith("--") else None
        if opt in out:
            j = out.index(opt)
            if val is not None:
                out[j + 1] = val
        else:
            out += [opt] + ([val] if val is not None else [])
        i += 2 if val is not None else 1
    return out


def train(path, *extra, env=None, preexec=None):
    return tool("collide-train", "-o", path, *override(TRAIN, extra), env=env, preexec=preexec)


def shim_env(path, **kv):
    e = dict(ENV, LD_PRELOAD=SHIM, CLKILL_PATH=path)
    e.update({f"CLKILL_{k.upper()}": str(v) for k, v in kv.items()})
    return e


# ---------------------------------------------------------------- census
ref = fresh("reference.h5")
census = os.path.join(WORK, "census.log")
if os.path.exists(census):
    os.remove(census)
r = train(ref, "--format", "json", env=shim_env(ref, log=census))
if not check(r.returncode == 0, f"uninterrupted run: {r.stderr.strip()}"):
    sys.exit(1)
ref_summary = json.loads(r.stdout)
info, _ = probe(ref)
writes = [tuple(int(x) for x in line.split()) for line in open(census)]  # (n, offset, size, us)
check(info is not None and info["phase"] == "finished", "the reference run finished")


def covering(offset):
    return [n for n, off, size, _ in writes if off <= offset < off + size]


commits, accs, bases = (covering(info[k]) for k in
                        ("offset_committed", "offset_accuracy", "offset_baseline"))
T, N = info["tasks"], info["committed"]
# The first of each is written when the store is created (0, NaN, NaN).
check(len(commits) == N + 1 and len(accs) == T + 1 and len(bases) == 2,
      f"census: {len(commits)} commit, {len(accs)} accuracy and {len(bases)} baseline writes for "
      f"{N} snapshots and {T} tasks")
W = len(writes)
end_commit = [max(c for c in commits if c < accs[t + 1]) for t in range(T)]
t_us = {n: us for n, _, _, us in writes}


def gap_after(n):
    """Microseconds between write n and the next (the last: 50 ms)."""
    return t_us[n + 1] - t_us[n] if n + 1 in t_us else 50000


print(f"census: {W} writes to the store; {N} snapshots committed at writes {commits[1:]}; "
      f"accuracy rows at {accs[1:]}, the baseline at {bases[1]}")

# ---------------------------------------------------------------- kill points
# (name, mode, write, expected phase, rows beyond the counter expected: True/False/None)
def spanning(n):
    """The first write from n on that crosses a page boundary: one a kill can tear."""
    for m, off, size, _ in writes[n - 1:]:
        if off // 4096 != (off + size - 1) // 4096:
            return m
    return n


K = []
K.append(("creating the store (before it is linked into place)", "before", 3, "absent", None))
K.append(("during the baseline evaluation", "delay", bases[1] - 1, "baseline-evaluation", False))
K.append(("first snapshot, a torn write", "torn", spanning(bases[1] + 1), "training", None))
K.append(("first snapshot, written but not committed", "before", commits[1], "training", True))
K.append(("between snapshots (training)", "delay", commits[2], "training", False))
K.append(("a torn write in the fourth snapshot", "torn", spanning(commits[3] + 1), "training", None))
K.append(("before the superblock write that precedes a commit", "before", commits[4] - 1,
          "training", True))
K.append(("during the evaluation after task 1", "delay", end_commit[0], "evaluation", False))
K.append(("just after the accuracy row of task 1", "delay", accs[1], "training", False))
K.append(("task 2, a torn write mid-task", "torn", spanning((accs[1] + end_commit[1]) // 2),
          "training", None))
K.append(("task 2, its end-of-task snapshot written but not committed", "before", end_commit[1],
          "training", True))
K.append(("during the evaluation after the last task", "delay", end_commit[-1], "evaluation", False))
K.append(("closing the finished store", "before", W, "finished", False))
phases = {}
survived = 0


def after_kill(path, name, expect_phase, expect_torn):
    """The store a kill left: opens, reads, is where we aimed; resumes to the reference."""
    global survived
    ok = True
    if expect_phase == "absent":
        ok &= check(not os.path.exists(path), f"{name}: a half-made store is at {path}")
        phases["absent (store not yet created)"] = phases.get("absent (store not yet created)", 0) + 1
        r = train(path)  # nothing to resume: the run starts again
        ok &= check(r.returncode == 0, f"{name}: restart: {r.stderr.strip()}")
    else:
        pr, r = probe(path)
        ok &= check(pr is not None, f"{name}: the killed store does not read: {r.stderr.strip()}")
        if pr is None:
            return False
        got = pr["phase"]
        ok &= check(expect_phase is None or got == expect_phase,
                    f"{name}: the store says the writer was in {got}, expected {expect_phase}")
        torn = pr.get("torn_rows", 0) > 0
        ok &= check(expect_torn is None or torn == expect_torn,
                    f"{name}: rows beyond the counter: {pr.get('torn_rows')}")
        key = got + (" (a snapshot half-written)" if torn else "")
        phases[key] = phases.get(key, 0) + 1
        r = tool("collide-info", path)
        ok &= check(r.returncode == 0, f"{name}: collide-info: {r.stderr.strip()}")
        if pr["committed"] > 0:
            r = tool("collide-report", "--snapshot", "last", "--format", "json", path)
            ok &= check(r.returncode == 0 and bool(json.loads(r.stdout)["tables"]),
                        f"{name}: collide-report: {r.stderr.strip()}")
        r = tool("collide-train", "--resume", path, "--quiet")
        ok &= check(r.returncode == 0, f"{name}: resume: {r.stderr.strip()}")
    r = tool("storecmp", ref, path)
    ok &= check(r.returncode == 0, f"{name}: not the uninterrupted run: {r.stdout.strip()} "
                                   f"{r.stderr.strip()}")
    survived += ok
    return ok


for i, (name, mode, at, expect_phase, expect_torn) in enumerate(K):
    path = fresh(f"kill{i:02d}.h5")
    report = os.path.join(WORK, f"kill{i:02d}.report")
    if os.path.exists(report):
        os.remove(report)
    extra = {"at": at, "mode": mode, "report": report}
    if mode == "delay":  # halfway into the quiet time after the write
        extra["delay_us"] = max(gap_after(at) // 2, 1)
    r = train(path, env=shim_env(path, **extra))
    how = open(report).read().strip() if os.path.exists(report) else "?"
    if not check(r.returncode == -signal.SIGKILL, f"{name}: not killed at write {at} "
                                                  f"(exit {r.returncode}): {r.stderr.strip()}"):
        continue
    ok = after_kill(path, name, expect_phase, expect_torn)
    print(f"kill {i + 1:2d} at write {at:4d}/{W} ({mode}{', ' + how if mode == 'delay' else ''}): "
          f"{name}: {'survived' if ok else 'FAILED'}")

# Killed twice: the resumed run is killed too, then resumed again.
path = fresh("kill-twice.h5")
r = train(path, env=shim_env(path, at=spanning((commits[5] + commits[6]) // 2), mode="torn"))
if check(r.returncode == -signal.SIGKILL, "killed twice: the first kill"):
    r = tool("collide-train", "--resume", path, "--quiet", env=shim_env(path, at=40, mode="torn"))
    check(r.returncode == -signal.SIGKILL, f"killed twice: the resumed run was not killed "
                                           f"(exit {r.returncode})")
    ok = after_kill(path, "killed twice", "training", None)
    print(f"kill {len(K) + 1:2d}+{len(K) + 2}: torn writes in a run and then in its resumed run: "
          f"{'survived' if ok else 'FAILED'}")

kill_points = len(K) + 1  # the double kill counts once: it is judged once, after both

# ---------------------------------------------------------------- full disk
def limit(n):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return apply


def no_litter(path, what):
    left = glob.glob(path + ".tmp.*")
    return check(not left, f"{what}: temporary files left behind: {left}")


# collide-train: a run long enough to outgrow what the store reserves at creation
LONG = ["--epochs", "4", "--snapshot-every", "1"]
big_ref = fresh("fulldisk-reference.h5")
r = train(big_ref, *LONG)
check(r.returncode == 0, f"full disk: reference run: {r.stderr.strip()}")
size = os.path.getsize(big_ref)
full = fresh("fulldisk.h5")
r = train(full, *LONG, preexec=limit(size * 3 // 4))
check(r.returncode == 1, f"full disk: collide-train exit {r.returncode}, expected 1")
check(full in r.stderr or "fulldisk.h5" in r.stderr, f"full disk: the message names no file: {r.stderr}")
check("File too large" in r.stderr, f"full disk: the message gives no reason: {r.stderr.strip()}")
check(len(r.stderr.strip().splitlines()) == 1, f"full disk: one line expected: {r.stderr!r}")
r_msg = r.stderr.strip()
pr, pr_r = probe(full)
committed = pr["committed"] if pr else -1
check(pr is not None and committed > 0, f"full disk: the store does not read, or holds nothing: "
                                        f"{pr_r.stderr.strip()}")
r = tool("collide-train", "--resume", full, "--quiet")
check(r.returncode == 0, f"full disk: resume once there is room: {r.stderr.strip()}")
r = tool("storecmp", big_ref, full)
check(r.returncode == 0, f"full disk: resumed store differs: {r.stdout.strip()} {r.stderr.strip()}")
print(f"full disk: collide-train stopped by a {size * 3 // 4}-byte limit with {committed} snapshots "
      f"committed (\"{r_msg}\"); the store read and resumed to the uninterrupted result")


def keep_output(what, out, run):
    """run() under a small limit must fail (1), name out, leave it as it was, no litter."""
    before = open(out, "rb").read() if os.path.isfile(out) else None
    r = run()
    check(r.returncode == 1, f"{what}: exit {r.returncode}, expected 1: {r.stderr.strip()}")
    check(os.path.basename(out) in r.stderr and "File too large" in r.stderr,
          f"{what}: the message names neither the output nor the reason: {r.stderr.strip()}")
    after = open(out, "rb").read() if os.path.isfile(out) else None
    check(before == after, f"{what}: {out} changed")
    no_litter(out, what)


precious = b"an existing output that a failed run must not touch\n"
out = os.path.join(WORK, "synth-out.h5")
open(out, "wb").write(precious)
for lim in (4096, 100000, 250000):
    keep_output(f"full disk ({lim} bytes): collide-synth", out, lambda: tool(
        "collide-synth", "--force", "-o", out, "--tasks", "3", "--modules", "8", "--shape", "64x64", "--rank",
        "4", preexec=limit(lim)))
adapter = os.path.join(SRC, "fixtures", "peft", "llama", "task1")
out = os.path.join(WORK, "import-out.h5")
open(out, "wb").write(precious)
for lim in (4096, 140000):
    keep_output(f"full disk ({lim} bytes): collide-import", out, lambda: tool(
        "collide-import", "--force", "-o", out, adapter, preexec=limit(lim)))
# collide-export: an adapter already exported stays as it was
store = fresh("export-src.h5")
r = tool("collide-synth", "-o", store, "--tasks", "2", "--modules", "4", "--shape", "64x64")
check(r.returncode == 0, f"export source: {r.stderr.strip()}")
exp = os.path.join(WORK, "export-out")
shutil.rmtree(exp, ignore_errors=True)
os.makedirs(os.path.join(exp, "task1"))
existing = os.path.join(exp, "task1", "adapter_model.safetensors")
open(existing, "wb").write(precious)
keep_output("full disk: collide-export", existing, lambda: tool(
    "collide-export", "--force", store, "-o", exp, preexec=limit(6000)))
left = [p for p in glob.glob(os.path.join(exp, "**", "*"), recursive=True) if ".tmp." in p]
check(not left, f"full disk: collide-export left temporary files: {left}")

print(f"kill points survived: {survived} of {kill_points} ({len(K) + 2} SIGKILLs: {len(K)} single kills "
      f"and a run killed twice); "
      f"phases hit: " + ", ".join(f"{k} x{v}" for k, v in sorted(phases.items())))
print(f"crash_test: {'FAIL' if failures else 'PASS'}: {checks} checks, {failures} failures")
sys.exit(1 if failures else 0)
