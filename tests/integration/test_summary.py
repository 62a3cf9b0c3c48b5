#!/usr/bin/env python3
"""collide-summary: one row per store, each number the family tool's.

usage: test_summary.py BINDIR WORKDIR

BINDIR holds one variant's tools (bin/ or asan/bin/: the test is registered
for both). Stores are made here: two synthetic ones (collide-synth, one with
--method nlora, whose lambda is not a run's) and four imports of the llama
PEFT fixtures (tests/fixtures/peft/llama/task1, task2): unlabelled; nlora
with --lambda 0.4, a name holding LaTeX's special characters and an accuracy
matrix; olora with --lambda-orth; olora+nlora with both. Then:

1. JSON ({"tool", "collide_version", "tables": {"summary": [...]}}): per
   store, AA, BWT and F_max equal collide-forget's headline row, ACR and
   density collide-collision's, OO collide-ortho's oo_total, the nuclear
   norm the mean of collide-subspace's per-task rows: to the last bit (JSON
   keeps 17 digits); method, name and lambdas as labelled, null for what a
   store lacks (accuracy, lambda); at the default threshold and at two.
2. CSV: the same rows, the same numbers (empty where JSON has null).
3. Text: an aligned table, "not recorded" for a store without accuracy.
4. --format latex: ASCII only, every name escaped, each row with its
   columns' count of '&'; compiled with pdflatex where present (a loud
   WARNING when not: the compile step is skipped, the checks above run).
5. Bad input: a missing store and a file that is not a store, each given
   after a good store, exit 1 naming the file with nothing on stdout; an
   unknown format exit 2; --format latex is collide-summary's only.
Python's standard library only.
"""
import csv
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

BIN, WORK = os.path.abspath(sys.argv[1]), os.path.realpath(sys.argv[2])
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LLAMA = os.path.join(SRC, "tests", "fixtures", "peft", "llama")
ENV = dict(os.environ, OMP_NUM_THREADS="1")
checks = failures = 0


def check(cond, what):
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def run(*args):
    return subprocess.run([os.path.join(BIN, args[0]), *args[1:]], env=ENV, capture_output=True,
                          text=True, cwd=WORK, timeout=600)


def tool_json(*args):
    r = run(*args, "--format", "json")
    if not check(r.returncode == 0, f"{' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}"):
        return None
    return json.loads(r.stdout)


def same(a, b, what):
    """Equal to the last bit; both None (null) counts as equal."""
    ok = (a is None and b is None) or (a is not None and b is not None and a == b)
    return check(ok, f"{what}: summary {a!r}, tool {b!r}")


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
t1, t2 = os.path.join(LLAMA, "task1"), os.path.join(LLAMA, "task2")
with open(os.path.join(WORK, "acc.csv"), "w") as f:
    f.write("after,task1,task2\ntask1,0.9,\ntask2,0.8,0.7\n")
NAME = "run_1 50% & #2"
stores = {
    "syn.h5": ["collide-synth", "-o", "syn.h5", "--tasks", "3", "--modules", "4", "--shape",
               "64x48", "--density", "0.2", "--overlap", "0.3", "--quiet"],
    "syn_nlora.h5": ["collide-synth", "-o", "syn_nlora.h5", "--tasks", "2", "--modules", "2",
                     "--shape", "32x32", "--method", "nlora", "--quiet"],
    "plain.h5": ["collide-import", "-o", "plain.h5", t1, t2, "--quiet"],
    "nlora.h5": ["collide-import", "-o", "nlora.h5", t1, t2, "--method", "nlora", "--lambda",
                 "0.4", "--name", NAME, "--accuracy", "acc.csv", "--quiet"],
    "olora.h5": ["collide-import", "-o", "olora.h5", t1, t2, "--method", "olora",
                 "--lambda-orth", "0.5", "--quiet"],
    "both.h5": ["collide-import", "-o", "both.h5", t1, t2, "--method", "olora+nlora", "--lambda",
                "0.3", "--lambda-orth", "0.6", "--quiet"],
}
for name, cmd in stores.items():
    r = run(*cmd)
    check(r.returncode == 0, f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
order = list(stores)
# name, method, lambda_orth, lambda_sparse, has accuracy
want = {
    "syn.h5": ("syn.h5", "synthetic", None, None, True),
    "syn_nlora.h5": ("syn_nlora.h5", "nlora", None, None, True),
    "plain.h5": ("plain.h5", "imported", None, None, False),
    "nlora.h5": (NAME, "nlora", None, 0.4, True),
    "olora.h5": ("olora.h5", "olora", 0.5, None, False),
    "both.h5": ("both.h5", "olora+nlora", 0.6, 0.3, False),
}


def th_col(what, th):
    return f"{what}_{th.replace(':', '_')}"


def last(tables, table):
    return tables[table][-1]


def task_mean(tables, table, col):
    """Mean over the last view's tasks, as the summaries form it (sum, then divide)."""
    rows = tables[table]
    snap = rows[-1]["snapshot"]
    vals = [r[col] for r in rows if r["snapshot"] == snap and r["task"] >= 0]
    s = 0.0
    for v in vals:
        s += v
    return s / len(vals)


# ---------------------------------------------------------------- 1: JSON
def check_json(ths):
    extra = [a for th in ths for a in ("--threshold", th)]
    doc = tool_json("collide-summary", *order, *extra)
    if doc is None:
        return None
    check(doc.get("tool") == "collide-summary" and "collide_version" in doc
          and list(doc.get("tables", {})) == ["summary"], f"JSON shape: {list(doc)}")
    rows = doc["tables"]["summary"]
    check(len(rows) == len(order), f"{len(rows)} rows for {len(order)} stores")
    ths = ths or ["energy:0.99"]  # collide-collision's default
    for row, store in zip(rows, order):
        nm, method, lo, ls, has_acc = want[store]
        check(row["store"] == store, f"row store {row['store']} for {store}")
        check(row["name"] == nm, f"{store}: name {row['name']!r}, labelled {nm!r}")
        check(row["method"] == method, f"{store}: method {row['method']!r}, labelled {method!r}")
        same(row["lambda_orth"], lo, f"{store}: lambda_orth")
        same(row["lambda_sparse"], ls, f"{store}: lambda_sparse")
        fg = tool_json("collide-forget", store)
        if fg:
            head = [r for r in fg["tables"]["summary"] if r["headline"] == 1][0]
            check(row["tasks"] == head["tasks"], f"{store}: tasks {row['tasks']}, "
                  f"collide-forget {head['tasks']}")
            for k in ("aa", "bwt", "forgetting_max"):
                same(row[k], head[k] if has_acc else None, f"{store}: {k}")
            check((row["protocol"] == head["protocol"]) if has_acc else row["protocol"] is None,
                  f"{store}: protocol {row['protocol']!r}")
            if has_acc:
                check(row["aa"] is not None and row["bwt"] is not None,
                      f"{store}: AA and BWT recorded")
        ort = tool_json("collide-ortho", store)
        if ort:
            same(row["oo"], last(ort["tables"], "summary")["oo_total"], f"{store}: OO")
        sub = tool_json("collide-subspace", store)
        if sub:
            same(row["nuclear_mean"], task_mean(sub["tables"], "tasks", "nuclear_mean"),
                 f"{store}: nuclear norm")
        for th in ths:
            col = tool_json("collide-collision", store, "--threshold", th)
            if col:
                cs = last(col["tables"], "summary")
                same(row[th_col("acr", th)], cs["acr_mean"], f"{store}: ACR {th}")
                same(row[th_col("density", th)], cs["density_mean"], f"{store}: density {th}")
    return rows


rows1 = check_json([])
rows2 = check_json(["energy:0.99", "abs:0.001"])
if rows1:
    nl = rows1[order.index("nlora.h5")]
    check(nl["aa"] == (0.8 + 0.7) / 2 and math.isclose(nl["bwt"], 0.8 - 0.9, abs_tol=1e-15)
          and math.isclose(nl["forgetting_max"], 0.9 - 0.8, abs_tol=1e-15),
          f"nlora.h5: AA {nl['aa']}, BWT {nl['bwt']}, F_max {nl['forgetting_max']} "
          "from acc.csv (0.75, -0.1, 0.1)")
    check(all(r["acr_energy_0.99"] is not None and r["oo"] is not None for r in rows1),
          "every store has ACR and OO")
if rows2:
    check(all(r["acr_abs_0.001"] != r["acr_energy_0.99"] for r in rows2
              if r["store"] != "syn_nlora.h5"),
          "the two thresholds give different ACR columns")

# ---------------------------------------------------------------- 2: CSV
r = run("collide-summary", *order, "--threshold", "energy:0.99", "--threshold", "abs:0.001",
        "--format", "csv")
if check(r.returncode == 0 and r.stderr == "", f"CSV: exit {r.returncode}, stderr {r.stderr!r}") \
        and rows2:
    got = list(csv.DictReader(io.StringIO(r.stdout)))
    check(len(got) == len(rows2) and list(got[0]) == list(rows2[0]),
          f"CSV columns {list(got[0]) if got else []} are not JSON's")
    for c_row, j_row in zip(got, rows2):
        for k, v in j_row.items():
            if v is None:
                check(c_row[k] == "", f"CSV {c_row['store']} {k}: {c_row[k]!r} for null")
            elif isinstance(v, str):
                check(c_row[k] == v, f"CSV {c_row['store']} {k}: {c_row[k]!r}, JSON {v!r}")
            else:
                check(float(c_row[k]) == v, f"CSV {c_row['store']} {k}: {c_row[k]}, JSON {v!r}")

# ---------------------------------------------------------------- 3: text
r = run("collide-summary", *order)
if check(r.returncode == 0 and r.stderr == "", f"text: exit {r.returncode}, stderr {r.stderr!r}"):
    lines = r.stdout.splitlines()
    head = [l for l in lines if l.lstrip().startswith("name ")]
    body = {s: [l for l in lines if l.rstrip().endswith(" " + s)] for s in order}
    check(len(head) == 1 and "ACR energy:0.99" in head[0] and "λ" in head[0],
          f"text header: {head}")
    check(all(len(v) == 1 for v in body.values()), f"text: one line per store: {body}")
    if all(len(v) == 1 for v in body.values()):
        ends = {len(v[0]) - len(v[0].rstrip().split()[-1]) for v in body.values()}
        check("not recorded" in body["plain.h5"][0] and "not recorded" not in body["nlora.h5"][0],
              "text: 'not recorded' where a store has no accuracy")
        check(body["nlora.h5"][0].lstrip().startswith(NAME) and " 0.4 " in body["nlora.h5"][0]
              and "75.00%" in body["nlora.h5"][0], f"text nlora row: {body['nlora.h5'][0]}")
        check("0.3 / 0.6" in body["both.h5"][0], f"text olora+nlora row: {body['both.h5'][0]}")
        check(len(ends) == 1, "text: the store column does not start at one place in every row")

# ---------------------------------------------------------------- 4: LaTeX
r = run("collide-summary", *order, "--threshold", "energy:0.99", "--threshold", "top:0.1",
        "--format", "latex")
if check(r.returncode == 0 and r.stderr == "", f"latex: exit {r.returncode}, {r.stderr!r}"):
    raw = r.stdout.encode()
    bad = sorted({b for b in raw if b > 0x7e or (b < 0x20 and b != 0x0a)})
    check(not bad, f"latex: bytes outside printable ASCII: {[hex(b) for b in bad]}")
    tex = r.stdout
    check(tex.startswith("\\documentclass") and tex.rstrip().endswith("\\end{document}"),
          "latex: not a complete document")
    check("run\\_1 50\\% \\& \\#2" in tex, "latex: the name is not escaped (_ % & #)")
    check("$\\lambda$" in tex and "\\toprule" in tex and "\\midrule" in tex
          and "\\bottomrule" in tex, "latex: no $\\lambda$ header or booktabs rules")
    check("syn\\_nlora.h5" in tex, "latex: a file name's underscore is not escaped")
    m = re.search(r"\\begin\{tabular\}\{([a-z]+)\}(.*?)\\end\{tabular\}", tex, re.S)
    if check(m is not None, "latex: no tabular"):
        ncols = len(m.group(1))
        rows_tex = [l for l in m.group(2).splitlines() if l.endswith("\\\\")]
        check(len(rows_tex) == 1 + len(order), f"latex: {len(rows_tex)} rows")
        for line in rows_tex:
            amp = len(re.findall(r"(?<!\\)&", line))
            check(amp == ncols - 1, f"latex: a row of {amp + 1} cells in {ncols} columns: {line}")
    pdflatex = shutil.which("pdflatex")
    if pdflatex:
        with tempfile.TemporaryDirectory(dir=WORK) as d:
            with open(os.path.join(d, "summary.tex"), "w") as f:
                f.write(tex)
            p = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error",
                                "summary.tex"], cwd=d, capture_output=True, text=True, timeout=120)
            pdf = os.path.join(d, "summary.pdf")
            check(p.returncode == 0 and os.path.exists(pdf) and os.path.getsize(pdf) > 1000,
                  f"pdflatex summary.tex: exit {p.returncode}: {p.stdout[-1500:]}")
            log = open(os.path.join(d, "summary.log"), errors="replace").read()
            check("Missing character" not in log, "pdflatex: a character is missing")
            print(f"pdflatex {pdflatex}: summary.tex compiled (exit {p.returncode})")
    else:
        msg = "pdflatex absent, compile step skipped (the escaping checks above ran)"
        print(f"WARNING: {msg}")
        print(f"WARNING: {msg}", file=sys.stderr)

# ---------------------------------------------------------------- 5: bad input
with open(os.path.join(WORK, "notastore.h5"), "w") as f:
    f.write("this is not an HDF5 file\n")
for bad in ("missing.h5", "notastore.h5"):
    for fmt in ("text", "json", "latex"):
        r = run("collide-summary", "syn.h5", bad, "--format", fmt)
        check(r.returncode == 1 and bad in r.stderr and r.stdout == "",
              f"{bad} ({fmt}): exit {r.returncode}, stdout {r.stdout[:80]!r}, "
              f"stderr {r.stderr.strip()!r}")
r = run("collide-summary", "syn.h5", "--format", "xml")
check(r.returncode == 2 and "expected text, csv, json or latex" in r.stderr and r.stdout == "",
      f"--format xml: exit {r.returncode}: {r.stderr.strip()}")
r = run("collide-collision", "syn.h5", "--format", "latex")
check(r.returncode == 2 and "expected text, csv or json" in r.stderr,
      f"collide-collision --format latex: exit {r.returncode}: {r.stderr.strip()}")
r = run("collide-summary", "syn.h5", "--snapshot", "last")
check(r.returncode == 2 and r.stdout == "", f"--snapshot: exit {r.returncode}")
r = run("collide-summary")
check(r.returncode == 2 and "no STORE given" in r.stderr, f"no store: exit {r.returncode}")
r = run("collide-summary", "--version")
check(r.returncode == 0 and r.stdout.startswith("collide-summary "), f"--version: {r.stdout!r}")
r = run("collide-summary", "--help")
check(r.returncode == 0 and "text (default), csv, json or latex" in r.stdout
      and "--threshold" in r.stdout and "--snapshot" not in r.stdout, "--help")

print(f"test_summary: {'FAIL' if failures else 'PASS'}: {checks} checks, {failures} failures")
sys.exit(1 if failures else 0)
