#!/usr/bin/env python3
"""docs/IMPORT.md's walk-through, run verbatim: the shell block after the
"<!-- walkthrough" marker, in a scratch folder laid out as the repository
(build/bin and tests/ linked), then checks on what it made: three labelled
stores, the summary table and its LaTeX, the figures with every run's
forgetting.

usage: walkthrough.py BINDIR SOURCE_DIR
"""
import csv
import json
import os
import re
import subprocess
import sys
import tempfile

failures = 0


def check(ok, what):
    global failures
    if not ok:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)


def main(bindir, src):
    with open(os.path.join(src, "docs", "IMPORT.md")) as f:
        doc = f.read()
    m = re.search(r"<!-- walkthrough[^>]*-->\s*```sh\n(.*?)```", doc, re.S)
    check(m is not None, "IMPORT.md has the walk-through block")
    if not m:
        return
    block = m.group(1)
    with tempfile.TemporaryDirectory(prefix="collide-walkthrough-") as tmp:
        os.makedirs(os.path.join(tmp, "build"))
        os.symlink(os.path.abspath(bindir), os.path.join(tmp, "build", "bin"))
        os.symlink(os.path.join(src, "tests"), os.path.join(tmp, "tests"))
        r = subprocess.run(["sh", "-e", "-c", block], cwd=tmp, capture_output=True, text=True)
        check(r.returncode == 0, f"the block exits 0 (exit {r.returncode}):\n{r.stderr}")
        print(r.stdout)
        audit = os.path.join(tmp, "audit")
        stores = sorted(p for p in os.listdir(audit) if p.endswith(".h5")) if os.path.isdir(audit) else []
        check(stores == ["nlora-seed1.h5", "olora-seed1.h5", "olora-seed2.h5"], f"stores {stores}")
        if failures:
            return
        s = subprocess.run([os.path.join(bindir, "collide-summary"), "--format", "json"] +
                           [os.path.join(audit, p) for p in stores],
                           capture_output=True, text=True, check=True)
        rows = json.loads(s.stdout)["tables"]["summary"]
        got = [(r["method"], r["name"], r["origin"]) for r in rows]
        check(got == [("nlora", "N-LoRA seed1", "imported"),
                      ("olora", "O-LoRA olora-seed1", "imported"),
                      ("olora", "O-LoRA olora-seed2", "imported")], f"labels {got}")
        check(all(r["aa"] is not None and r["forgetting_max"] is not None for r in rows),
              "every run has its AA and F_max from accuracy.csv")
        check(rows[0]["lambda_sparse"] == 0.4 and rows[1]["lambda_orth"] == 0.5, "lambdas")
        with open(os.path.join(audit, "summary.tex")) as f:
            tex = f.read()
        check("\\begin{tabular}" in tex and "N-LoRA seed1" in tex, "summary.tex")
        for fig in ["forgetting-sparsity", "collision-orthogonality", "accuracy-matrix"]:
            png = os.path.join(audit, "figures", fig + ".png")
            check(os.path.exists(png) and os.path.getsize(png) > 1000, f"{fig}.png drawn")
        with open(os.path.join(audit, "figures", "forgetting-sparsity.csv")) as f:
            pts = [r for r in csv.DictReader(l for l in f if not l.startswith("#"))]
        methods = sorted({r.get("method", "") for r in pts})
        check(methods == ["nlora", "olora"], f"forgetting-sparsity: methods {methods}")
        check(len(pts) >= 3, f"forgetting-sparsity: {len(pts)} points, one per run at least")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], os.path.abspath(sys.argv[2]))
    print("walkthrough: " + ("PASS" if not failures else f"FAIL: {failures} failures"))
    sys.exit(1 if failures else 0)
