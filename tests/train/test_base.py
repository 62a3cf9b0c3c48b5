#!/usr/bin/env python3
"""The committed base (model/base): its files are the ones its README names,
and the README's command rebuilds a base bit for bit.

usage: test_base.py BINDIR WORKDIR

1. sha256 of config.json, model.safetensors and tokenizer.json (and
   pretrain.json) equal the table in model/base/README.md;
2. the README's command at a small scale (--steps 40, the same two threads)
   run twice writes identical config.json, model.safetensors and
   tokenizer.json: pretraining is deterministic for a fixed thread count. On
   the real benchmark's text when it is found (as the committed base was
   made), on the synthetic text otherwise; the output says which.
Python's standard library only.
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys

BIN, WORK = sys.argv[1], sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE = os.path.join(ROOT, "model", "base")
checks = failures = 0


def check(cond, what):
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# 1. the committed files are the ones the README names
readme = open(os.path.join(BASE, "README.md")).read()
table = dict(re.findall(r"^\| ([a-z_.]+\.(?:json|safetensors)) \| ([0-9a-f]{64}) \|$", readme, re.M))
check(set(table) == {"config.json", "model.safetensors", "tokenizer.json", "pretrain.json"},
      f"README names the four files: {sorted(table)}")
for name, want in table.items():
    check(sha(os.path.join(BASE, name)) == want, f"model/base/{name}: sha256 differs from README")
m = re.search(r"^OMP_NUM_THREADS=(\d+) build/bin/collide-pretrain -o model/base(.*)$", readme, re.M)
if not check(m is not None, "README gives the exact command"):
    sys.exit(1)
threads, extra = m.group(1), m.group(2).split("#")[0].split()

# 2. the command at a small scale, twice: bit-identical
data = os.environ.get("COLLIDE_DATA") or os.path.join(ROOT, "..", "shared", "datasets",
                                                       "CL_Benchmark")
real = os.path.isdir(data)
env = dict(os.environ, OMP_NUM_THREADS=threads)
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
outs = []
for k in range(2):
    out = os.path.join(WORK, f"base{k}")
    args = [os.path.join(BIN, "collide-pretrain"), "-o", out, *extra, "--steps", "40", "--quiet"]
    args += ["--data", data] if real else ["--synthetic"]
    r = subprocess.run(args, env=env, capture_output=True, text=True)
    check(r.returncode == 0, f"pretrain {k}: {r.stderr.strip()}")
    outs.append(out)
for name in ("config.json", "model.safetensors", "tokenizer.json"):
    a, b = (os.path.join(o, name) for o in outs)
    check(os.path.exists(a) and os.path.exists(b) and sha(a) == sha(b),
          f"{name} differs between two runs of the same command")
# the committed config is what the command's defaults give
check(open(os.path.join(outs[0], "config.json")).read() ==
      open(os.path.join(BASE, "config.json")).read() or not real,
      "the command's config.json differs from the committed one")
print(f"rebuilt twice at --steps 40 on the {'real' if real else 'synthetic'} text "
      f"({threads} threads): identical")
print(f"test_base: {checks - failures}/{checks} checks passed")
sys.exit(1 if failures else 0)
