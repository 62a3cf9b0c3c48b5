#!/usr/bin/env python3
"""collide-reproduce --quick on the synthetic benchmark, end to end.

usage: test_reproduce.py BINDIR WORKDIR

1. the three quick runs train, and tables.md, tables.tex, report.txt and the
   six figures are written (the five of the paper and explain) (PNG files checked: signature and size);
2. every number of ours in tables.md is the number the metric tools print
   for that store (collide-collision, -ortho, -subspace, -sparsity, -forget);
3. running again trains nothing: the stores stay byte for byte the same;
4. a run killed with SIGKILL at a random moment and run again ends with the
   same stores as the uninterrupted run (one thread, fixed seed).
Python's standard library only.
"""
import json
import math
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import time

BIN, WORK = sys.argv[1], sys.argv[2]
ENV = dict(os.environ, OMP_NUM_THREADS="1")
checks = failures = 0
FIGURES = ["forgetting-sparsity", "collision-map", "nuclear-norm", "collision-orthogonality",
           "accuracy-matrix", "explain"]
RUNS = [("inclora", "IncLoRA"), ("olora", "O-LoRA"), ("nlora", "N-LoRA")]


def check(cond, what):
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def run(*args):
    return subprocess.run([os.path.join(BIN, args[0]), *args[1:]], env=ENV, capture_output=True,
                          text=True)


def tool(name, store):
    r = run(name, "--format", "json", store)
    check(r.returncode == 0, f"{name} {store}: {r.stderr.strip()}")
    return json.loads(r.stdout)["tables"]


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
base = os.path.join(WORK, "base")
r = run("collide-pretrain", "-o", base, "--synthetic", "--dim", "64", "--layers", "2", "--heads",
        "2", "--kv-heads", "2", "--ffn", "128", "--seq", "64", "--batch", "16", "--vocab", "512",
        "--steps", "60", "--lr", "1e-2", "--quiet")
check(r.returncode == 0, f"pretrain: {r.stderr}")
ARGS = ["--quick", "--synthetic", "--base", base, "--train-per-class", "6", "--test-per-task", "6",
        "--sweep-train-per-class", "4", "--epochs", "1", "--lr", "1e-2", "--max-len", "128",
        "--quiet"]
SWEEP = 4  # N-LoRA lambdas beside the default (model/reproduce.c)
gnuplot = shutil.which("gnuplot") is not None


def reproduce(out):
    r = run("collide-reproduce", "-o", out, *ARGS)
    # 3: everything written but the images (gnuplot missing)
    check(r.returncode == (0 if gnuplot else 3), f"collide-reproduce -o {out}: rc {r.returncode} "
          f"{r.stderr.strip()}")
    return r


# 1: everything is written
out = os.path.join(WORK, "a")
reproduce(out)
for f in ["tables.md", "tables.tex", "report.txt"]:
    check(os.path.getsize(os.path.join(out, f)) > 0, f"{f} is written")
stores = {m: os.path.join(out, "stores", f"{m}-synthetic.h5") for m, _ in RUNS}
for fig in FIGURES:
    check(os.path.getsize(os.path.join(out, "figures", fig + ".csv")) > 0, f"{fig}.csv")
    if gnuplot:
        with open(os.path.join(out, "figures", fig + ".png"), "rb") as fp:
            head = fp.read(24)
        ok = head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
        w, h = struct.unpack(">II", head[16:24]) if ok else (0, 0)
        check(ok and w >= 400 and h >= 300, f"{fig}.png is a PNG of a sensible size ({w}x{h})")
report = open(os.path.join(out, "report.txt")).read()
for m, _ in RUNS:
    check(stores[m] in report, f"report.txt covers {stores[m]}")
tex = open(os.path.join(out, "tables.tex")).read()
check("\\begin{tabular}" in tex and tex.count("\\begin{tabular}") == tex.count("\\end{tabular}"),
      "tables.tex holds balanced tabulars")

# 2: our rows in tables.md, and the claims, are the tools' numbers
md = open(os.path.join(out, "tables.md")).read()
claims = json.load(open(os.path.join(out, "claims.json")))
eps = claims["abs_threshold"]
check(eps is not None and eps > 0, f"an absolute threshold was derived ({eps})")
ABS = f"abs:{eps!r}"


def near(a, b, what, tol=5e-4):
    check(abs(a - b) <= tol * max(1.0, abs(b)), f"{what}: {a} in tables.md, {b} from the tool")


def tool_th(name, store, th):
    r = run(name, "--format", "json", "--threshold", th, store)
    check(r.returncode == 0, f"{name} {store}: {r.stderr.strip()}")
    return json.loads(r.stdout)["tables"]


def headline(store):
    rows = [x for x in tool("collide-forget", store)["summary"] if x["headline"]]
    check(len(rows) == 1 and rows[0]["protocol"] == "ranked", f"{store}: ranked is the headline")
    return rows[0]


vals = {}
for m, label in RUNS:
    row = re.search(r"^\| \*\*" + re.escape(label) + r" \(collide\)\*\* \| synthetic \|(.*)$", md,
                    re.M)
    if not check(row is not None, f"tables.md has the {label} collision row"):
        continue
    cells = [c.strip().rstrip("%") for c in row.group(1).split("|") if c.strip()]
    # the nuclear norms: per task, then accumulated (test_repro_tables.py checks the latter)
    acr_a, acr_e, oo, nuc, _nuc_acc, dens_a, dens_e = (float(c) for c in cells[:7])
    col = tool("collide-collision", stores[m])["summary"][0]
    cola = tool_th("collide-collision", stores[m], ABS)["summary"][0]
    ort = tool("collide-ortho", stores[m])["summary"][0]
    sub = [t["nuclear_mean"] for t in tool("collide-subspace", stores[m])["tasks"] if t["task"] >= 0]
    fg = headline(stores[m])
    vals[m] = dict(acr_e=col["acr_mean"], acr_a=cola["acr_mean"], dens_a=cola["density_mean"],
                   dens_e=col["density_mean"], oo=ort["oo_pair_mean"],
                   nuc=sum(sub) / len(sub), aa=fg["aa"])
    near(acr_e, round(100 * col["acr_mean"], 1), f"{label}: ACR at energy:0.99")
    near(acr_a, round(100 * cola["acr_mean"], 1), f"{label}: ACR at {ABS}")
    near(dens_e, round(100 * col["density_mean"], 1), f"{label}: density")
    near(dens_a, round(100 * cola["density_mean"], 1), f"{label}: density at {ABS}")
    near(oo, float(f"{ort['oo_pair_mean']:.4g}"), f"{label}: OO per pair")
    near(nuc, float(f"{sum(sub) / len(sub):.4g}"), f"{label}: mean nuclear norm")
    aa = re.search(r"^\| \*\*" + re.escape(label)
                   + r" \(collide, ranked\)\*\* \| collide base, synthetic tasks \| ([0-9.]+) \|",
                   md, re.M)
    if check(aa is not None, f"tables.md has the {label} ranked AA row"):
        near(float(aa.group(1)), round(100 * fg["aa"], 1), f"{label}: AA")
check("N-LoRA (published) | T5-large | 79.2" in md, "published N-LoRA order 1 AA beside ours")

# the claims: each compared number recomputed from the tools' JSON
byname = {c["claim"]: c for c in claims["claims"]}
o, nl = vals.get("olora"), vals.get("nlora")


def claim_is(key, want):
    c = [x for n, x in byname.items() if key in n]
    if not check(len(c) == 1, f"claims.json has one claim matching {key!r}"):
        return
    got = c[0]["value"]
    check(c[0]["verdict"] in ("holds", "does not hold", "not measurable here"),
          f"{key}: verdict {c[0]['verdict']!r}")
    if want is None or not math.isfinite(want):
        check(got is None, f"{key}: {got} where the tools give {want}")
    else:
        check(got is not None and abs(got - want) <= 1e-6 * max(1.0, abs(want)),
              f"{key}: claims.json {got}, tools {want}")


def ratio(a, b):
    return a / b if b else (math.inf if a else math.nan)


if o and nl:
    claim_is("collision rate (paper-like", ratio(o["acr_a"], nl["acr_a"]))
    claim_is("collision rate (scale-free", ratio(o["acr_e"], nl["acr_e"]))
    claim_is("orthogonality", ratio(o["oo"], nl["oo"]))
    claim_is("nuclear norm", ratio(o["nuc"], nl["nuc"]))
    claim_is("sparser (density, paper-like", ratio(o["dens_a"], nl["dens_a"]))
    claim_is("sparser (density, scale-free", ratio(o["dens_e"], nl["dens_e"]))
    claim_is("average accuracy", 100 * (nl["aa"] - o["aa"]))
    # less forgetting with sparsity: Spearman over IncLoRA and every N-LoRA run
    pts = []
    for f in sorted(os.listdir(os.path.join(out, "stores"))):
        if f.startswith("inclora-") or f.startswith("nlora-"):
            st = os.path.join(out, "stores", f)
            d = tool_th("collide-collision", st, ABS)["summary"][0]["density_mean"]
            pts.append((d, headline(st)["forgetting_max"]))
    check(len(pts) == 2 + SWEEP, f"{len(pts)} runs in the sweep's claim")

    def rk(xs):
        return [sum(y < x for y in xs) + (sum(y == x for y in xs) + 1) / 2 for x in xs]
    rx, ry = rk([p[0] for p in pts]), rk([p[1] for p in pts])
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    claim_is("less forgetting", sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else math.nan)
check("| Claim | Published |" in md, "tables.md has the claims table")
# the sweep reaches "update crushed": at its largest lambda N-LoRA's update is
# sparser at the absolute threshold than IncLoRA's
lam = max(float(re.search(r"lambda([0-9.e+-]+)\.h5$", f).group(1))
          for f in os.listdir(os.path.join(out, "stores")) if "lambda" in f)
big = os.path.join(out, "stores", f"nlora-synthetic-lambda{lam:g}.h5")
di = tool_th("collide-collision", stores["inclora"], ABS)["summary"][0]["density_mean"]
dn = tool_th("collide-collision", big, ABS)["summary"][0]["density_mean"]
print(f"density at {ABS}: inclora {di:.4f}, nlora lambda {lam:g} {dn:.4f}")
check(dn < di, f"N-LoRA at lambda {lam:g}: density {dn} at {ABS}, IncLoRA's {di}")


# 3: a second run trains nothing
def digest(paths):
    return {p: open(p, "rb").read() for p in paths}


before = digest(stores.values())
t0 = time.time()
reproduce(out)
check(digest(stores.values()) == before, "running again leaves the finished stores as they were")
print(f"second run: {time.time() - t0:.1f} s, nothing trained")

# 4: killed at a random moment, then run again: the same stores
rng = random.Random(int(os.environ.get("COLLIDE_TEST_SEED", "0")) or None)
t0 = time.time()
reproduce(os.path.join(WORK, "timing"))
full = time.time() - t0
for trial in range(2):
    kout = os.path.join(WORK, f"killed{trial}")
    when = rng.uniform(0.1, 0.9) * full
    p = subprocess.Popen([os.path.join(BIN, "collide-reproduce"), "-o", kout, *ARGS], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(when)
    p.send_signal(signal.SIGKILL)
    p.wait()
    reproduce(kout)
    for m, _ in RUNS:
        k = os.path.join(kout, "stores", f"{m}-synthetic.h5")
        r = run("storecmp", stores[m], k)
        check(r.returncode == 0, f"killed after {when:.1f} s and run again: {m} differs: "
              f"{r.stdout.strip()} {r.stderr.strip()}")
    print(f"killed after {when:.1f} s of {full:.1f} s, run again: stores equal")

print(f"test_reproduce: {checks - failures}/{checks} checks passed")
sys.exit(1 if failures else 0)
