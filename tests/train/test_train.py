#!/usr/bin/env python3
"""collide-train on the synthetic benchmark, end to end.

usage: test_train.py BINDIR WORKDIR

1. a tiny base is pretrained (fixed steps: deterministic) unless WORKDIR has it;
2. a fixed seed with one thread gives identical stores (storecmp);
3. a run killed with SIGKILL mid-task and resumed with --resume equals an
   uninterrupted run;
4. every metric tool reads the stores collide-train wrote;
5. with a large lambda, nlora has lower density and collision rate than
   inclora, and olora a lower OO than inclora.
Python's standard library only.
"""
import json
import os
import signal
import subprocess
import sys
import time

BIN, WORK = sys.argv[1], sys.argv[2]
ENV = dict(os.environ, OMP_NUM_THREADS="1")
checks = failures = 0


def check(cond, what):
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def run(*args, **kw):
    return subprocess.run([os.path.join(BIN, args[0]), *args[1:]], env=ENV, capture_output=True,
                          text=True, **kw)


def tool_json(tool, store, *extra):
    r = run(tool, "--format", "json", *extra, store)
    check(r.returncode == 0, f"{tool} on {store}: {r.stderr.strip()}")
    return json.loads(r.stdout) if r.returncode == 0 else None


os.makedirs(WORK, exist_ok=True)
base = os.path.join(WORK, "base")
r = run("collide-pretrain", "-o", base, "--synthetic", "--dim", "64", "--layers", "2",
        "--heads", "2", "--kv-heads", "2", "--ffn", "128", "--seq", "64", "--batch", "16",
        "--vocab", "512", "--steps", "250", "--lr", "1e-2", "--format", "json")
check(r.returncode == 0, f"pretrain: {r.stderr}")
pre = json.loads(r.stdout)["tables"]["base"][0]
if not pre.get("reused"):
    check(pre["heldout_loss"] < 0.8 * pre["unigram_entropy"],
          f"pretraining: held-out loss {pre['heldout_loss']:.3f} is not well below the unigram "
          f"entropy {pre['unigram_entropy']:.3f}")
    print(f"pretrained: held-out loss {pre['heldout_loss']:.3f} nats/token vs unigram "
          f"{pre['unigram_entropy']:.3f}")

COMMON = ["--synthetic", "--base", base, "--train-per-class", "16", "--test-per-task", "12",
          "--epochs", "2", "--batch", "8", "--lr", "1e-2", "--max-len", "192", "--seed", "7",
          "--snapshot-every", "5", "--targets", "q,v,o,up", "--quiet"]


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


def train(name, *extra, tasks="synth1,synth2"):
    path = os.path.join(WORK, name + ".h5")
    for p in (path,):
        if os.path.exists(p):
            os.remove(p)
    r = run("collide-train", "-o", path, "--tasks", tasks, *override(COMMON, extra))
    check(r.returncode == 0, f"train {name}: {r.stderr.strip()}")
    return path


def same(a, b, what):
    r = run("storecmp", a, b)
    check(r.returncode == 0, f"{what}: {r.stdout.strip()} {r.stderr.strip()}")
    print(f"{what}: {r.stdout.strip()}")


# 2. determinism
a = train("det_a", "--method", "olora+nlora", "--lambda", "0.05")
b = train("det_b", "--method", "olora+nlora", "--lambda", "0.05")
same(a, b, "two runs, one seed, one thread")

# 3. kill mid-run, resume, compare with the uninterrupted run
for k, at in enumerate((2, 5)):
    path = os.path.join(WORK, f"killed{k}.h5")
    if os.path.exists(path):
        os.remove(path)
    p = subprocess.Popen([os.path.join(BIN, "collide-train"), "-o", path, "--tasks",
                          "synth1,synth2", *COMMON, "--method", "olora+nlora", "--lambda", "0.05"],
                         env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        r = run("collide-info", "--format", "json", path)
        if r.returncode == 0 and json.loads(r.stdout)["tables"]["store"][0]["snapshots"] >= at:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    info = tool_json("collide-info", path)
    n = info["tables"]["store"][0]["snapshots"] if info else 0
    check(n >= at, f"killed store holds {n} snapshots, expected >= {at}")
    r = run("collide-train", "--resume", path, "--quiet")
    check(r.returncode == 0, f"resume: {r.stderr.strip()}")
    same(a, path, f"killed after {n} snapshots and resumed")

# 4 and 5: the methods on four tasks, trained long enough for the l1 penalty
# to change the shape of the updates, not only their scale
four = "synth1,synth2,synth3,synth4"
LONG = ["--epochs", "8", "--snapshot-every", "0", "--train-per-class", "12"]
inc = train("inclora", "--method", "inclora", *LONG, tasks=four)
orth = train("olora", "--method", "olora", "--lambda-orth", "5", *LONG, tasks=four)
nl = train("nlora", "--method", "nlora", "--lambda", "0.1", *LONG, tasks=four)
for s in (inc, orth, nl):
    for tool in ("collide-info", "collide-collision", "collide-ortho", "collide-subspace",
                 "collide-sparsity", "collide-forget", "collide-report"):
        tool_json(tool, s)
    tool_json("collide-collision", s, "--snapshot", "all")


def summary(tool, store):
    j = tool_json(tool, store)
    return j["tables"]["summary"][0] if j else {}


ci, cn = summary("collide-collision", inc), summary("collide-collision", nl)
print(f"inclora: ACR {ci['acr_mean']:.4f} density {ci['density_mean']:.4f}; "
      f"nlora: ACR {cn['acr_mean']:.4f} density {cn['density_mean']:.4f}")
check(cn["density_mean"] < ci["density_mean"], "nlora is not sparser than inclora")
check(cn["acr_mean"] < ci["acr_mean"], "nlora does not collide less than inclora")
oi, oo = summary("collide-ortho", inc), summary("collide-ortho", orth)
print(f"OO: inclora {oi['oo_total']:.4g}, olora {oo['oo_total']:.4g}")
check(oo["oo_total"] < oi["oo_total"], "olora's OO is not below inclora's")
acc = tool_json("collide-forget", inc)
m = acc["tables"]["matrix"] if acc else []
for prot in ("ranked", "generation"):
    mp = [x for x in m if x["protocol"] == prot]
    check(len(mp) == 16 and all(x["accuracy"] is not None for x in mp),
          f"a full 4 x 4 {prot} accuracy matrix")
    check(all(x["stderr"] is not None for x in mp), f"every {prot} accuracy has its standard error")

# 6. a learned task scores above chance under both protocols: two 3-label
# tasks, LoRA on q, k, v and o; each task's diagonal entry must be 3 standard
# errors above chance by ranked scoring and by generation
# the synthetic default shape at half its steps: the tiny base above learns
# the answer format but not the tasks
lbase = os.path.join(WORK, "learnbase")
r = run("collide-pretrain", "-o", lbase, "--synthetic", "--steps", "1500", "--quiet")
check(r.returncode == 0, f"pretrain the learning base: {r.stderr}")
learn = os.path.join(WORK, "learn.h5")
if os.path.exists(learn):
    os.remove(learn)
r = run("collide-train", "-o", learn, "--synthetic", "--base", lbase, "--tasks", "synth2,synth4",
        "--method", "inclora", "--targets", "q,k,v,o", "--train-per-class", "250", "--epochs", "2",
        "--lr", "3e-3", "--test-per-task", "60", "--snapshot-every", "0", "--seed", "7", "--quiet")
check(r.returncode == 0, f"train learn: {r.stderr.strip()}")
fj = tool_json("collide-forget", learn)
if fj:
    for prot in ("ranked", "generation"):
        for task in (0, 1):
            row = [x for x in fj["tables"]["tasks"] if x["protocol"] == prot and x["task"] == task]
            if not check(len(row) == 1, f"{prot}: task {task} in collide-forget"):
                continue
            x = row[0]
            se = x["learned_stderr"] or 1 / 60  # 100%: the standard error is 0
            z = (x["learned"] - x["chance"]) / se
            print(f"learned {x['name']}, {prot}: {100 * x['learned']:.1f}% against chance "
                  f"{100 * x['chance']:.1f}% ({z:.1f} standard errors)")
            check(x["n_test"] == 60 and abs(x["chance"] - 1 / 3) < 1e-12, f"{prot}: counts")
            check(z >= 3, f"{prot}: {x['name']} learned to {x['learned']}, not 3 standard "
                  f"errors above chance {x['chance']}")

print(f"test_train: {'FAIL' if failures else 'PASS'}: {checks} checks, {failures} failures")
sys.exit(1 if failures else 0)
