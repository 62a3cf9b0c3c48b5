#!/usr/bin/env python3
"""collide-train's and collide-reproduce's command line, in seconds (issue 15).

usage: test_train_cli.py BINDIR WORKDIR SOURCEDIR

3. every setting that cannot run is refused before a store exists: exit 2, no
   store and no temporary file left, and the corrected command then runs
   (exit 0); an existing -o is refused before any base is pretrained;
   --resume refuses training settings (the store's own are used);
4. --resume of a finished run says "finished: all N tasks trained; nothing to
   do", exits 0 and leaves the file as it was (bytes and mtime), with the
   run's own AA in its JSON;
11. the default base does not depend on the working directory: run from
   elsewhere, collide-train finds the committed SOURCEDIR/model/base (real
   data) and says so; where it would pretrain one, it says where and about
   how long first (collide-train and collide-reproduce), by absolute path.
Python's standard library only; a tiny synthetic base (20 steps).
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import threading
import time

BIN, WORK, SRC = os.path.abspath(sys.argv[1]), os.path.realpath(sys.argv[2]), os.path.realpath(sys.argv[3])
ENV = dict(os.environ, OMP_NUM_THREADS="1")
checks = failures = 0


def check(cond, what):
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def run(*args, cwd=None):
    return subprocess.run([os.path.join(BIN, args[0]), *args[1:]], env=ENV, capture_output=True,
                          text=True, cwd=cwd)


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
base = os.path.join(WORK, "base")
r = run("collide-pretrain", "-o", base, "--synthetic", "--dim", "64", "--layers", "2", "--heads",
        "2", "--kv-heads", "2", "--ffn", "128", "--seq", "64", "--batch", "16", "--vocab", "512",
        "--steps", "20", "--lr", "1e-2", "--quiet")
check(r.returncode == 0, f"pretrain: {r.stderr}")
SMALL = ["--synthetic", "--base", base, "--train-per-class", "4",
         "--test-per-task", "4", "--epochs", "1", "--batch", "4", "--snapshot-every", "2",
         "--seed", "5", "--quiet"]


def litter(path):
    return glob.glob(path + ".tmp.*")


# ---------------------------------------------------------------- 3
# (refused settings, the same settings corrected); the base has 256 positions,
# its gate projection is 128 x 64
REFUSED = [
    (["--max-len", "250", "--max-new", "64"], ["--max-len", "128", "--max-new", "64"],
     "--max-len 250"),
    (["--method", "nlora", "--penalty", "code", "--targets", "gate"],
     ["--method", "nlora", "--penalty", "paper", "--targets", "gate"], "--penalty code"),
    (["--method", "olora+nlora", "--penalty", "code", "--targets", "q,up"],
     ["--method", "olora+nlora", "--penalty", "auto", "--targets", "q,up"], "--penalty code"),
    (["--tasks", "synth1,synth9"], ["--tasks", "synth1,synth3"], "synth9"),
    (["--tasks", ","], ["--tasks", "synth2"], "--tasks"),
    (["--order", "2"], [], "--order"),
    (["--substitute", "synth1=agnews"], ["--substitute", "synth1=synth4"], "agnews"),
    (["--lambda", "synth4=0.2"], ["--lambda", "synth2=0.2"], "synth4"),
]
def tasks(extra):
    """the two default tasks, unless extra names its own tasks or order"""
    return [] if "--tasks" in extra or "--order" in extra else ["--tasks", "synth1,synth2"]


for k, (bad, good, says) in enumerate(REFUSED):
    path = os.path.join(WORK, f"refused{k}.h5")
    r = run("collide-train", "-o", path, *SMALL, *tasks(bad), *bad)
    check(r.returncode == 2, f"{bad}: exit {r.returncode}, expected 2 (bad usage): "
          f"{r.stderr.strip()}")
    check(says in r.stderr, f"{bad}: the message does not name {says!r}: {r.stderr.strip()}")
    check(not os.path.exists(path) and not litter(path),
          f"{bad}: refused, yet {path} (or a temporary file) was left behind")
    r = run("collide-train", "-o", path, *SMALL, *tasks(good), *good)
    check(r.returncode == 0, f"{bad} corrected to {good}: exit {r.returncode}: {r.stderr.strip()}")
    info = run("collide-info", "--format", "json", path)
    n = json.loads(info.stdout)["tables"]["store"][0]["snapshots"] if info.returncode == 0 else 0
    check(n > 0, f"{good}: the corrected run's store holds {n} snapshots")
    print(f"refused {' '.join(bad)!r} (exit 2, nothing left); {' '.join(good) or 'without it'!r} "
          f"ran: {n} snapshots")

# an existing store is refused at once, before any default base is pretrained
nobase = os.path.join(WORK, "cwd-nobase")
os.makedirs(nobase)
taken = os.path.join(WORK, "refused0.h5")
before = open(taken, "rb").read()
t0 = time.time()
r = run("collide-train", "-o", taken, "--synthetic", "--quiet", cwd=nobase)
check(r.returncode == 1 and "already exists" in r.stderr,
      f"existing -o: exit {r.returncode}: {r.stderr.strip()}")
check(time.time() - t0 < 10 and not os.path.exists(os.path.join(nobase, "out")),
      "existing -o: a base was pretrained (or out/ made) before the store was refused")
check(open(taken, "rb").read() == before, "existing -o: the store changed")

# --resume takes the store's own settings: any training option is refused
r = run("collide-train", "--resume", taken, "--epochs", "3")
check(r.returncode == 2 and "--epochs" in r.stderr,
      f"--resume with --epochs: exit {r.returncode}: {r.stderr.strip()}")
check(open(taken, "rb").read() == before, "--resume with --epochs: the store changed")

# ---------------------------------------------------------------- 4
done = os.path.join(WORK, "done.h5")
r = run("collide-train", "-o", done, *SMALL, *tasks([]), "--method", "olora", "--format", "json")
check(r.returncode == 0, f"a finished run: {r.stderr.strip()}")
def summary(stdout):
    """collide-train --format json: {protocol: row} of its summary table."""
    return {row["protocol"]: row for row in json.loads(stdout)["tables"]["summary"]}


aa = {p: row["aa"] for p, row in summary(r.stdout).items()} if r.returncode == 0 else None
time.sleep(1.1)  # an mtime change would show at one-second resolution too
st0, bytes0 = os.stat(done), open(done, "rb").read()
for fmt in ("text", "json"):
    r = run("collide-train", "--resume", done, "--format", fmt)
    check(r.returncode == 0, f"--resume of a finished run ({fmt}): exit {r.returncode}: "
          f"{r.stderr.strip()}")
    check(f"{done}: finished: all 2 tasks trained; nothing to do" in r.stderr,
          f"--resume of a finished run ({fmt}) does not say so: {r.stderr.strip()!r}")
    check("wrote" not in r.stdout, f"--resume of a finished run ({fmt}) claims it wrote: "
          f"{r.stdout.splitlines()[:1]}")
    if fmt == "json" and r.returncode == 0:
        j = summary(r.stdout)
        got = {p: row["aa"] for p, row in j.items()}
        check(all(row["finished_before"] == 1 for row in j.values()) and got == aa,
              f"--resume of a finished run: JSON finished_before "
              f"{[row['finished_before'] for row in j.values()]}, aa {got}, the run's {aa}")
st1 = os.stat(done)
check(open(done, "rb").read() == bytes0 and st1.st_size == st0.st_size,
      f"--resume of a finished run changed the file ({st0.st_size} -> {st1.st_size} bytes)")
check(st1.st_mtime_ns == st0.st_mtime_ns, "--resume of a finished run changed the mtime")
check(not litter(done), "--resume of a finished run left temporary files")
print(f"--resume of a finished run twice: 'nothing to do', {st1.st_size} bytes and mtime kept")

# an existing store: refused without --force; with --force, a setting that
# fails only when the trainer checks it (--penalty code on gate) leaves the
# old store as it was; a --force that passes every check trains it again
r = run("collide-train", "-o", done, *SMALL, *tasks([]), "--method", "olora")
check(r.returncode == 1 and "already exists" in r.stderr and "--force" in r.stderr,
      f"-o an existing store without --force: exit {r.returncode}: {r.stderr.strip()}")
r = run("collide-train", "-o", done, *SMALL, *tasks([]), "--method", "nlora", "--penalty", "code",
        "--targets", "gate", "--force")
check(r.returncode == 2 and open(done, "rb").read() == bytes0,
      f"--force with a refused setting: exit {r.returncode}, store kept "
      f"{open(done, 'rb').read() == bytes0}: {r.stderr.strip()}")
r = run("collide-train", "-o", done, *SMALL, *tasks([]), "--method", "inclora", "--force")
check(r.returncode == 0 and "removed (--force)" in r.stderr and
      open(done, "rb").read() != bytes0, f"--force: exit {r.returncode}: {r.stderr.strip()}")
print("-o an existing store: refused; --force replaces it only once every setting passed")

# collide-pretrain: a finished base is reused (its own numbers reported, the
# options given said to be ignored); anything else at -o is refused unless
# --force; the --data folder is never written into
r = run("collide-pretrain", "-o", base, "--synthetic", "--steps", "7", "--format", "json")
row = json.loads(r.stdout)["tables"]["base"][0] if r.returncode == 0 else {}
check(r.returncode == 0 and row.get("reused") == 1 and row.get("steps") == 20 and
      "--steps and the other settings are ignored" in r.stderr,
      f"reusing a base: exit {r.returncode}, row {row}, stderr {r.stderr.strip()!r}")
keep = os.path.join(WORK, "notabase")
open(keep, "w").write("precious")
TINY = ["--synthetic", "--dim", "16", "--layers", "1", "--heads", "2", "--kv-heads", "2", "--ffn",
        "16", "--vocab", "300", "--steps", "3", "--quiet"]
r = run("collide-pretrain", "-o", keep, *TINY)
check(r.returncode == 1 and "not a finished base" in r.stderr and open(keep).read() == "precious",
      f"pretrain over a file: exit {r.returncode}: {r.stderr.strip()}")
r = run("collide-pretrain", "-o", keep, *TINY, "--force")
check(r.returncode == 0 and os.path.isfile(os.path.join(keep, "pretrain.json")),
      f"pretrain --force: exit {r.returncode}: {r.stderr.strip()}")
data = os.path.join(WORK, "data")
os.makedirs(data, exist_ok=True)
r = run("collide-pretrain", "-o", data, "--data", data, "--force", "--quiet")
check(r.returncode == 1 and "is the input --data" in r.stderr,
      f"pretrain into its --data: exit {r.returncode}: {r.stderr.strip()}")
print("collide-pretrain: reuse said, other outputs refused unless --force, --data never written")

# ---------------------------------------------------------------- 11
elsewhere = os.path.join(WORK, "elsewhere")
os.makedirs(elsewhere)


def first_lines(argv, cwd, want, limit=60):
    """Start argv in cwd, read stderr until a line contains want, then kill it."""
    p = subprocess.Popen(argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    lines = []
    timer = threading.Timer(limit, p.kill)  # a silent pretraining would block readline
    timer.start()
    try:
        while True:
            line = p.stderr.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if want in line:
                break
    finally:
        timer.cancel()
        p.kill()
        p.wait()
    return lines


# the synthetic benchmark's base: pretrained into ./out, which it says first
target = os.path.join(elsewhere, "out", "base-synthetic")
lines = first_lines([os.path.join(BIN, "collide-train"), "-o", "x.h5", "--synthetic",
                     "--quiet"], elsewhere, "pretraining")
say = [x for x in lines if "pretraining" in x]
check(len(say) == 1 and f"no synthetic-benchmark base at {target}: pretraining one there first"
      in say[0] and "minutes on 2 cores" in say[0] and "--base DIR" in say[0],
      f"collide-train --synthetic without a base: {lines}")
print(f"collide-train, no base: {say[0] if say else lines}")
rep = os.path.join(elsewhere, "rep")
lines = first_lines([os.path.join(BIN, "collide-reproduce"), "--quick", "--synthetic", "-o",
                     "rep", "--quiet"], elsewhere, "pretraining")
say = [x for x in lines if "pretraining" in x]
check(len(say) == 1 and f"no synthetic-benchmark base at {rep}/base-synthetic" in say[0],
      f"collide-reproduce --synthetic without a base: {lines}")

# the real data: the committed base, found from anywhere
committed = os.path.join(SRC, "model", "base")
elsewhere = os.path.join(WORK, "elsewhere-real")
os.makedirs(elsewhere)
steps = json.load(open(os.path.join(committed, "pretrain.json")))["steps"]
r = run("collide-train", "-o", "real.h5", "--tasks", "agnews", "--train-per-class", "1",
        "--test-per-task", "2", "--epochs", "1", "--max-len", "128", "--snapshot-every", "0",
        cwd=elsewhere)
if "benchmark data not found" in r.stderr:
    msg = "SKIPPED: no benchmark data here: the committed base's lookup from another directory " \
          "was not run"
    print(msg)
    print(msg, file=sys.stderr)
else:
    want = f"collide-train: base: {os.path.realpath(committed)} (committed, {steps} steps)"
    check(r.returncode == 0 and want in r.stderr.splitlines(),
          f"collide-train run from {elsewhere}: exit {r.returncode}, expected {want!r} on "
          f"stderr: {r.stderr.strip()}")
    check(not os.path.exists(os.path.join(elsewhere, "out")),
          "collide-train from another directory pretrained a base of its own")
    print(f"from {elsewhere}: {want}")

print(f"test_train_cli: {'FAIL' if failures else 'PASS'}: {checks} checks, {failures} failures")
sys.exit(1 if failures else 0)
