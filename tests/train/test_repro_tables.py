#!/usr/bin/env python3
"""collide-reproduce's tables.tex and its two nuclear norms, in seconds (issue 15).

usage: test_repro_tables.py BINDIR WORKDIR

A tiny --quick --synthetic reproduction (a 20-step base, 4 to 6 examples a
class, one epoch), into folders whose names hold '_' (LaTeX's subscript), then:

16. tables.tex is a complete document of ASCII bytes only, with no special
    character unescaped outside math, every tabular row with its columns'
    count of '&', braces balanced; and it compiles with pdflatex where
    pdflatex exists (said loudly when it does not: the compile step is then
    skipped, the checks above still run);
15. both nuclear norms are named in tables.md and tables.tex: per task
    (mean over tasks and modules of ||dW_t||_*) and accumulated (mean over
    modules of ||sum_t dW_t||_*), each equal to collide-subspace's number,
    and the accumulated one equal to the nuclear-norm figure's mean.
Python's standard library only.
"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

BIN, WORK = os.path.abspath(sys.argv[1]), os.path.realpath(sys.argv[2])
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
base = os.path.join(WORK, "tiny_base")
r = run("collide-pretrain", "-o", base, "--synthetic", "--dim", "64", "--layers", "2", "--heads",
        "2", "--kv-heads", "2", "--ffn", "128", "--seq", "64", "--batch", "16", "--vocab", "512",
        "--steps", "20", "--lr", "1e-2", "--quiet")
check(r.returncode == 0, f"pretrain: {r.stderr}")
out = os.path.join(WORK, "out_dir")
r = run("collide-reproduce", "-o", out, "--quick", "--synthetic", "--base", base,
        "--train-per-class", "6", "--test-per-task", "6", "--sweep-train-per-class", "4",
        "--epochs", "1", "--lr", "1e-2", "--max-len", "128", "--quiet")
check(r.returncode in (0, 3), f"collide-reproduce: exit {r.returncode}: {r.stderr.strip()}")

# ---------------------------------------------------------------- 16: tables.tex
raw = open(os.path.join(out, "tables.tex"), "rb").read()
bad = sorted({b for b in raw if b > 0x7e or (b < 0x20 and b != 0x0a)})
check(not bad, f"tables.tex holds bytes outside printable ASCII: {[hex(b) for b in bad]}")
tex = raw.decode("ascii", errors="replace")
check(tex.startswith("\\documentclass") and tex.rstrip().endswith("\\end{document}"),
      "tables.tex is not a complete document")
check("¡" not in tex and "<-" not in tex, "tables.tex prints '<' as an inverted '!'")


def outside_math(text):
    """text without its math: $...$ and \\ensuremath{...} (no nesting of $ needed here)"""
    text = re.sub(r"\\ensuremath\{(?:[^{}]|\{[^{}]*\})*\}", " ", text)
    return re.sub(r"\$[^$]*\$", " ", text)


# the text: without math, and without the tabulars' column specifications
plain = outside_math(re.sub(r"\\begin\{tabular\}\{(?:[^{}]|\{[^{}]*\})*\}", " ", tex))
# escaped forms out of the way, then nothing special may be left
cleaned = re.sub(r"\\[_%&#${}]", " ", plain)
for ch, name in (("_", "underscore"), ("%", "percent"), ("#", "hash"), ("^", "caret"),
                 ("~", "tilde"), ("$", "dollar"), ("<", "less-than"), (">", "greater-than"),
                 ("|", "bar"), ('"', "double quote")):
    where = [line for line in cleaned.splitlines() if ch in line]
    check(not where, f"tables.tex: an unescaped {name} outside math: {where[:2]}")
check(plain.count("--targets") == 0, "tables.tex: '--' in text would print as a dash")
depth = 0
for c in re.sub(r"\\[{}]", "", tex):
    depth += c == "{"
    depth -= c == "}"
    check(depth >= 0, "tables.tex: a '}' closes nothing") if depth < 0 else None
    if depth < 0:
        break
check(depth == 0, f"tables.tex: braces unbalanced ({depth} left open)")
tabulars = re.findall(r"\\begin\{tabular\}\{((?:[^{}]|\{[^{}]*\})*)\}(.*?)\\end\{tabular\}",
                      tex, re.S)
check(len(tabulars) == 5, f"tables.tex: {len(tabulars)} tabulars, expected 5 (claims, runs, accuracy, geometry, explain)")
for spec, body in tabulars:
    cols = len(re.findall(r"[lrcp]", re.sub(r"\{[^}]*\}", "", spec)))
    for line in body.splitlines():
        if "\\\\" not in line:
            continue
        amp = len(re.findall(r"(?<!\\)&", line))
        check(amp == cols - 1, f"tables.tex: a row of {amp + 1} cells in a {cols}-column "
              f"tabular: {line[:120]}")
for need in ("\\ensuremath{\\lambda}", "\\ensuremath{\\pm}", "\\_", "\\%", "out\\_dir",
             "tiny\\_base"):
    check(need in tex, f"tables.tex: {need!r} not found (the escaping of λ, ±, _, %)")

pdflatex = shutil.which("pdflatex")
if pdflatex:
    with tempfile.TemporaryDirectory(dir=WORK) as d:
        shutil.copy(os.path.join(out, "tables.tex"), d)
        r = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "tables.tex"],
                           cwd=d, capture_output=True, text=True, timeout=120)
        log = open(os.path.join(d, "tables.log"), errors="replace").read() \
            if os.path.exists(os.path.join(d, "tables.log")) else ""
        check(r.returncode == 0 and os.path.getsize(os.path.join(d, "tables.pdf")) > 1000,
              f"pdflatex tables.tex: exit {r.returncode}: {r.stdout[-1500:]}")
        check("Missing character" not in log, "pdflatex: a character is missing from the font")
        print(f"pdflatex {pdflatex}: tables.tex compiled (exit {r.returncode})")
else:
    msg = "pdflatex absent, compile step skipped (the escaping checks above ran)"
    print(f"WARNING: {msg}")
    print(f"WARNING: {msg}", file=sys.stderr)

# ---------------------------------------------------------------- 15: nuclear norms
md = open(os.path.join(out, "tables.md")).read()
check("Nuclear norm per task ‖ΔW_t‖_* (mean over tasks and modules)" in md
      and "Nuclear norm accumulated ‖Σ_t ΔW_t‖_* (mean over modules)" in md,
      "tables.md: the geometry table does not name both nuclear norms")
check("nuclear norm per task ‖ΔW_t‖_* | nuclear norm accumulated ‖Σ_t ΔW_t‖_*" in md,
      "tables.md: the runs table does not name both nuclear norms")
check("$\\|\\Delta W_t\\|_*$" in tex and "$\\|\\sum_t \\Delta W_t\\|_*$" in tex,
      "tables.tex does not name both nuclear norms")
fig = {}
figcsv = os.path.join(out, "figures", "nuclear-norm.csv")
if check(os.path.exists(figcsv), "figures/nuclear-norm.csv is written"):
    for row in csv.DictReader(open(figcsv)):
        fig[row["store"]] = float(row["nuclear_mean"])
claims = {c["claim"]: c for c in json.load(open(os.path.join(out, "claims.json")))["claims"]}
nuc_claim = [c for n, c in claims.items() if "nuclear norm" in n]
for m, label in (("inclora", "IncLoRA"), ("olora", "O-LoRA"), ("nlora", "N-LoRA")):
    store = os.path.join(out, "stores", f"{m}-synthetic.h5")
    row = re.search(r"^\| \*\*" + re.escape(label) + r" \(collide\)\*\* \| synthetic \|(.*)$", md,
                    re.M)
    if not check(row is not None, f"tables.md has the {label} geometry row"):
        continue
    cells = [c.strip().rstrip("%") for c in row.group(1).split("|") if c.strip()]
    per_task, accumulated = float(cells[3]), float(cells[4])
    r = run("collide-subspace", "--format", "json", store)
    if not check(r.returncode == 0, f"collide-subspace {store}: {r.stderr.strip()}"):
        continue
    tasks = json.loads(r.stdout)["tables"]["tasks"]
    want_t = sum(t["nuclear_mean"] for t in tasks if t["task"] >= 0) / \
        sum(1 for t in tasks if t["task"] >= 0)
    want_a = [t["nuclear_mean"] for t in tasks if t["task"] < 0][0]
    check(abs(per_task - float(f"{want_t:.4g}")) <= 1e-9 * max(1, want_t),
          f"{label}: per-task nuclear norm {per_task}, collide-subspace {want_t:.4g}")
    check(abs(accumulated - float(f"{want_a:.4g}")) <= 1e-9 * max(1, want_a),
          f"{label}: accumulated nuclear norm {accumulated}, collide-subspace {want_a:.4g}")
    check(accumulated > per_task, f"{label}: the accumulated norm {accumulated} is not above "
          f"the per-task mean {per_task} (4 tasks)")
    if store in fig:
        check(abs(fig[store] - want_a) <= 1e-9 * max(1, want_a),
              f"{label}: the nuclear-norm figure's mean {fig[store]} is not the accumulated "
              f"{want_a}")
    if m != "inclora" and check(len(nuc_claim) == 1, "claims.json: one nuclear-norm claim"):
        ours = nuc_claim[0]["ours"]
        check(f"{want_t:.4g}" in ours and f"{want_a:.4g}" in ours and "per task" in ours
              and "accumulated" in ours, f"the nuclear-norm claim does not show {label}'s two "
              f"norms, each named: {ours}")
    print(f"{label}: nuclear norm per task {per_task}, accumulated {accumulated} "
          f"(collide-subspace {want_t:.4g}, {want_a:.4g})")

# ---------------------------------------------------------------- 18: the explain section
# its pooled numbers are collide-explain's over the same stores (scope "all"),
# each measure with its sentence
sec = md.split("## Does collision predict forgetting?", 1)
if check(len(sec) == 2, "tables.md has the explain section"):
    body = sec[1].split("\n## ", 1)[0]
    # in the runs' order, as tables.md lists them: the bootstrap resamples
    # pairs by position, so the pooled order is part of the numbers
    stores = re.findall(r"^- `([^`]+\.h5)`", md.split("\n## Stores", 1)[-1], re.M)
    th = re.search(r"^\| collision_rate at (energy:[0-9.]+) \|", body, re.M)
    if check(th is not None, "explain table: a collision_rate row at the energy threshold"):
        r = run("collide-explain", "--format", "json", "--threshold", th.group(1), *stores)
        check(r.returncode == 0, f"collide-explain: {r.stderr.strip()}")
        rows = json.loads(r.stdout)["tables"]["correlations"] if r.returncode == 0 else []
        scope = "all" if len(stores) > 1 else stores[0]
        for m in ("collision_rate", "overlap_energy", "oo", "norm_j"):
            want = [x for x in rows if x["scope"] == scope and x["measure"] == m and
                    x["kind"] == "spearman" and x["protocol"] == "ranked"]
            label = f"{m} at {th.group(1)}" if m == "collision_rate" else m
            got = re.search(r"^\| " + re.escape(label) + r" \| ([^|]*) \| ([^|]*) \|", body, re.M)
            if not check(len(want) == 1 and got is not None, f"explain row {label}"):
                continue
            w = want[0]
            text = "-" if w["r"] is None else f"{w['r']:.2f} [{w['lo']:.2f}, {w['hi']:.2f}]"
            check(got.group(1).strip() == text, f"{label}: tables.md {got.group(1)}, "
                  f"collide-explain {text}")
            check(re.search(r"^- " + re.escape(label) + r": (evidence|no evidence|too few)", body,
                            re.M) is not None, f"{label}: its sentence")

print(f"test_repro_tables: {'FAIL' if failures else 'PASS'}: {checks} checks, {failures} failures")
sys.exit(1 if failures else 0)
