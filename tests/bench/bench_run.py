#!/usr/bin/env python3
"""collide's benchmark driver (tests/bench/run.sh builds, then runs this).

Generates the benchmark stores, runs collide's tools and the numpy reference
(ref_numpy.py) on the same stores, checks that they agree, and prints one
table: time ratios reference/collide, peak RSS, the FMA rate collide reaches
while forming dW against OpenBLAS sgemm measured in the same run, and the
agreement. Results also go to DIR/results.json.
"""
import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


CPU = {}  # command -> CPU seconds (user + system) of its last run


def run(cmd, out=None, quiet=False):
    """Run cmd; return (wall seconds, peak RSS in MiB, stdout). Peak RSS is the
    child's own (os.wait4), not the largest of all children; its CPU time
    (user + system, all threads) goes to CPU[cmd]."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE if out is None else open(out, "w"),
                         stderr=subprocess.DEVNULL if quiet else None, text=True)
    stdout = p.stdout.read() if out is None else ""
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    CPU[" ".join(cmd)] = ru.ru_utime + ru.ru_stime
    if p.returncode:
        sys.exit(f"bench: {' '.join(cmd)} failed with status {p.returncode}")
    return wall, ru.ru_maxrss / 1024.0, stdout


def best_of(n, cmd, out=None):
    """The best of n runs (on a shared machine, the least disturbed one)."""
    runs, cpus = [], []
    for _ in range(n):
        runs.append(run(cmd, out))
        cpus.append(cpu_of(cmd))
    CPU[" ".join(cmd)] = min(cpus)
    return min(r[0] for r in runs), max(r[1] for r in runs)


def cpu_of(cmd):
    return CPU[" ".join(cmd)]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ agreement

def load(path):
    with open(path) as f:
        return json.load(f)


def check_collision(collide_json, ref_json, exact):
    """Counts and tau of collide against the reference. exact: every count and
    tau equal. Otherwise tolerance-aware: numpy's sgemm forms some entries one
    ulp off collide's canonical order, so a count may differ by at most the
    entries lying within 2e-6 of tau ("near"), and tau by 2e-6 relative."""
    c, r = load(collide_json)["tables"], load(ref_json)
    tasks = {(x["module"], x["task"]): x for x in c["module_tasks"]}
    pairs = {(x["module"], x["task_i"], x["task_j"]): x["both"] for x in c["module_pairs"]}
    n = equal = bad = 0
    worst = 0
    for mod in r["modules"]:
        name, rows = mod["module"], mod["tasks"]
        for row in rows:
            x = tasks[(name, row["task"])]
            n += 1
            same = x["active"] == row["active"] and x["tau"] == row["tau"]
            equal += same
            if not same:
                slack = 0 if exact else row["near"]
                dt = abs(x["tau"] - row["tau"]) / row["tau"]
                worst = max(worst, abs(x["active"] - row["active"]))
                bad += exact or abs(x["active"] - row["active"]) > slack or dt > 2e-6
        for i, ri in enumerate(rows):
            for j in range(i + 1, len(rows)):
                got, want = pairs[(name, ri["task"], rows[j]["task"])], mod["both"][i][j]
                n += 1
                equal += got == want
                if got != want:
                    worst = max(worst, abs(got - want))
                    bad += exact or abs(got - want) > ri["near"] + rows[j]["near"]
    return {"checked": n, "equal": equal, "failed": bad, "largest_count_difference": worst}


def rel(a, b, atol=0.0):
    d = abs(a - b)
    return 0.0 if d <= atol else d / max(abs(a), abs(b))


def check_subspace(collide_json, ref_json):
    c, r = load(collide_json)["tables"], load(ref_json)
    sig = {}
    for x in c["spectra"]:
        sig.setdefault((x["module"], x["task"]), {})[x["index"]] = x["sigma"]
    n = worst = 0
    for mod in r["modules"]:
        for row in mod["tasks"]:
            got = sig[(mod["module"], row["task"])]
            for i, s in enumerate(row["sigma"]):
                n += 1
                worst = max(worst, rel(got[i], s))
    return {"checked": n, "largest_relative_difference": worst, "failed": int(worst > 1e-4)}


def check_ortho(collide_json, ref_json):
    c, r = load(collide_json)["tables"], load(ref_json)
    got = {(x["module"], x["task_i"], x["task_j"]): x for x in c["module_pairs"]}
    n = 0
    worst = {}
    for mod in r["modules"]:
        for p in mod["pairs"]:
            x = got[(mod["module"], p["task_i"], p["task_j"])]
            for key in ("oo", "sim_a", "sim_b", "awom", "inner", "cosine"):
                # inner products and cosines near zero: absolute, in units of
                # the norms' product (cosine 1e-6)
                atol = 1e-6 * p["scale"] if key == "inner" else 1e-6 if key == "cosine" else 0.0
                n += 1
                worst[key] = max(worst.get(key, 0.0), rel(x[key], p[key], atol))
    w = max(worst.values()) if worst else 0.0
    return {"checked": n, "largest_relative_difference": w, "by_metric": worst, "failed": int(w > 1e-4)}


# ------------------------------------------------------------------ the run

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="the build tree (bin/, bench/)")
    ap.add_argument("--dir", required=True, help="scratch folder for stores and outputs")
    ap.add_argument("--quick", action="store_true", help="fewer modules: minutes, not an hour")
    ap.add_argument("--reps", type=int, default=0, help="collide runs per figure (best is kept)")
    ap.add_argument("--parts", default="main,nxn",
                    help="which rows: main (T5, LLaMA, kernels), nxn (N PEFT adapters at once); "
                         "default both")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    binp = lambda tool: os.path.join(a.build, "bin", tool)
    benp = lambda tool: os.path.join(a.build, "bench", tool)
    at = lambda name: os.path.join(a.dir, name)
    ref = [sys.executable, os.path.join(HERE, "ref_numpy.py")]
    reps = a.reps or (1 if a.quick else 3)
    res = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "quick": a.quick,
           "machine": machine(), "load_start": os.getloadavg()}

    parts = set(a.parts.split(","))
    if parts - {"main", "nxn"}:
        sys.exit(f"bench: --parts {a.parts}: expected main, nxn or main,nxn")
    res["parts"] = sorted(parts)
    if "main" in parts:
        bench_main(a, res, binp, benp, at, ref, reps)
    if "nxn" in parts:
        bench_nxn(a, res, binp, at, ref, reps)
    res["load_end"] = os.getloadavg()
    with open(at("results.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(table(res))


def bench_main(a, res, binp, benp, at, ref, reps):
    """The T5 and LLaMA-7B rows, the kernel rates and the 1 GiB audit."""
    # stores
    t5_mods = 16 if a.quick else 144
    t5, llama = at(f"t5_{t5_mods}.h5"), at("llama.h5")
    for path, args in ((t5, ["--shape", "t5", "--modules", str(t5_mods)]), (llama, ["--shape", "llama"])):
        if not os.path.exists(path):
            log(f"generating {path}")
            run([benp("bench_gen"), "-o", path] + args)
    res["stores"] = {"t5": {"path": t5, "modules": t5_mods, "tasks": 15, "shape": "1024x1024", "rank": 8},
                     "llama": {"path": llama, "modules": 64, "tasks": 4, "shape": "4096x4096", "rank": 8}}

    # FMA rates: collide's dW formation against sgemm, both on every core
    log("kernel rates (bench_kernels)")
    _, _, out = run([benp("bench_kernels"), "--reps", "5", "--sgemm", "2048" if a.quick else "4096"])
    res["kernels"] = {k: (float(v) if v.replace(".", "").isdigit() else v)
                      for k, v in (line.split() for line in out.splitlines())}

    # numpy's B @ A against collide's canonical order, bit for bit
    run([benp("bench_dump"), t5, "0", "0", at("dw.f32")])
    bits = subprocess.run([sys.executable, "-c", (
        "import numpy as np, h5py, sys\n"
        "f = h5py.File(sys.argv[1], 'r'); A = f['adapters/000000/A'][0]; B = f['adapters/000000/B'][0]\n"
        "w = (B @ A) * np.float32(f['snapshots/scale'][0, 0])\n"
        "c = np.fromfile(sys.argv[2], np.float32).reshape(w.shape)\n"
        "d = np.abs(w.astype(np.float64) - c).max() / np.abs(c).max()\n"
        "print(np.count_nonzero(w.view(np.uint32) == c.view(np.uint32)), w.size, d)"),
        t5, at("dw.f32")], capture_output=True, text=True, check=True).stdout.split()
    res["numpy_sgemm_bits"] = {"identical": int(bits[0]), "entries": int(bits[1]),
                               "max_difference_rel_to_max": float(bits[2])}

    # collision on T5, both threshold modes
    res["collision"] = {}
    canon = "encoder.block.0.*" if a.quick else "encoder.block.[01].*"
    for th in ("energy:0.99", "rel:0.01"):
        key = th.split(":")[0]
        log(f"collision {th}: collide")
        ccmd = [binp("collide-collision"), t5, "--threshold", th, "--quiet"]
        wall, rss = best_of(reps, ccmd, at("c.txt"))
        ccpu = cpu_of(ccmd)
        run([binp("collide-collision"), t5, "--threshold", th, "--quiet", "--format", "json",
             "--per-module"], at(f"coll_{key}.json"))
        run([binp("collide-collision"), t5, "--threshold", th, "--quiet", "--format", "json",
             "--per-module", "--module", canon], at(f"coll_{key}_canon.json"))
        log(f"collision {th}: numpy reference ({t5_mods} modules)")
        rcmd = ref + ["collision", t5, "--threshold", th, "--near", "-o", at(f"ref_{key}.json")]
        rwall, rrss, _ = run(rcmd)
        rcpu = cpu_of(rcmd)
        log(f"collision {th}: exact check on {canon} (canonical dW in numpy)")
        run(ref + ["collision", t5, "--threshold", th, "--canonical", "--module", canon, "-o",
                   at(f"ref_{key}_canon.json")])
        res["collision"][th] = {
            "collide_s": wall, "collide_rss_mib": rss, "ref_s": rwall, "ref_rss_mib": rrss,
            "ratio": rwall / wall, "collide_cpu_s": ccpu, "ref_cpu_s": rcpu, "cpu_ratio": rcpu / ccpu,
            "agree_tolerant": check_collision(at(f"coll_{key}.json"), at(f"ref_{key}.json"), False),
            "agree_exact": check_collision(at(f"coll_{key}_canon.json"), at(f"ref_{key}_canon.json"), True),
            "exact_modules": canon}

    # subspace at 4096 x 4096: collide on the whole store, numpy on a subset
    sub = "model.layers.0.self_attn.q_proj" if a.quick else "model.layers.0.*"
    nsub = 1 if a.quick else 2
    log("subspace: collide")
    wall, rss = best_of(reps, [binp("collide-subspace"), llama, "--quiet"], at("s.txt"))
    swall, _ = best_of(reps, [binp("collide-subspace"), llama, "--quiet", "--module", sub], at("s.txt"))
    run([binp("collide-subspace"), llama, "--quiet", "--format", "json", "--per-module", "--module", sub],
        at("sub.json"))
    log(f"subspace: numpy reference ({nsub} modules: {sub})")
    rwall, rrss, _ = run(ref + ["subspace", llama, "--module", sub, "-o", at("ref_sub.json")])
    res["subspace"] = {"collide_s_all": wall, "collide_modules": 64, "collide_s_subset": swall,
                       "collide_rss_mib": rss, "ref_s": rwall, "ref_modules": nsub, "ref_rss_mib": rrss,
                       "ratio_per_module": (rwall / nsub) / (wall / 64), "ratio_same_work": rwall / swall,
                       "agree": check_subspace(at("sub.json"), at("ref_sub.json"))}

    # orthogonality on T5: collide on the whole store, numpy on a subset
    osub = "encoder.block.0.*" if a.quick else "encoder.block.[01].*"
    nos = 2 if a.quick else 4
    log("ortho: collide")
    wall, rss = best_of(reps, [binp("collide-ortho"), t5, "--quiet"], at("o.txt"))
    owall, _ = best_of(reps, [binp("collide-ortho"), t5, "--quiet", "--module", osub], at("o.txt"))
    run([binp("collide-ortho"), t5, "--quiet", "--format", "json", "--per-module", "--module", osub],
        at("ortho.json"))
    log(f"ortho: numpy reference ({nos} modules: {osub})")
    rwall, rrss, _ = run(ref + ["ortho", t5, "--module", osub, "-o", at("ref_ortho.json")])
    res["ortho"] = {"collide_s_all": wall, "collide_modules": t5_mods, "collide_s_subset": owall,
                    "collide_rss_mib": rss, "ref_s": rwall, "ref_modules": nos, "ref_rss_mib": rrss,
                    "ratio_per_module": (rwall / nos) / (wall / t5_mods), "ratio_same_work": rwall / owall,
                    "agree": check_ortho(at("ortho.json"), at("ref_ortho.json"))}

    # the LLaMA-7B-shape audit: every tool within 1 GiB
    res["llama_audit"] = {}
    for tool in ("collide-collision", "collide-subspace", "collide-ortho", "collide-sparsity", "collide-report"):
        log(f"LLaMA audit: {tool}")
        wall, rss, _ = run([binp(tool), llama, "--quiet"], at("audit.txt"))
        res["llama_audit"][tool] = {"s": wall, "rss_mib": rss}


# ------------------------------------------------------------ N x N

NXN_EXACT = "model.layers.0.self_attn.v_proj"


def check_matrix(collide_json, ref_json):
    """collide-collision's N x N matrices (means over modules: collision rate,
    Jaccard, the density on the diagonal) against the reference's."""
    c, r = load(collide_json)["tables"], load(ref_json)
    cr, jc = r["collision_rate"], r["jaccard"]
    worst_cr = worst_j = 0.0
    n = 0
    for x in c["pairs"]:
        i, j = x["task_i"], x["task_j"]
        worst_cr = max(worst_cr, abs(x["collision_rate_mean"] - cr[i][j]))
        worst_j = max(worst_j, abs(x["jaccard_mean"] - jc[i][j]))
        n += 1
    for x in c["tasks"]:
        worst_cr = max(worst_cr, abs(x["density_mean"] - cr[x["task"]][x["task"]]))
        n += 1
    return {"checked": n, "largest_rate_difference": worst_cr, "largest_jaccard_difference": worst_j}


def bench_nxn(a, res, binp, at, ref, reps):
    """N = 32 PEFT adapters of a Llama-3.2-1B-shaped base imported as the 32
    tasks of one store: collide-import, then collide-collision's N x N matrix,
    against the numpy way on the adapter directories."""
    layers = 2 if a.quick else 16
    adir = at(f"peft32_L{layers}")
    if not os.path.exists(os.path.join(adir, "clusters.json")):
        log(f"generating 32 PEFT adapters ({layers} layers) in {adir}")
        run([sys.executable, os.path.join(HERE, "gen_peft.py"), adir, "--layers", str(layers)])
    with open(os.path.join(adir, "clusters.json")) as f:
        dirs = [os.path.join(adir, name) for name in json.load(f)["adapters"]]
    store = at(f"peft32_L{layers}.h5")
    log(f"N x N: collide-import of {len(dirs)} adapters")
    icmd = [binp("collide-import"), "-o", store, "--force", "--quiet"] + dirs
    iwall, irss = best_of(reps, icmd, at("import.txt"))
    icpu = cpu_of(icmd)
    log("N x N: collide-collision")
    ccmd = [binp("collide-collision"), store, "--quiet"]
    cwall, crss = best_of(reps, ccmd, at("nxn.txt"))
    ccpu = cpu_of(ccmd)
    run(ccmd + ["--format", "json", "--per-module"], at("nxn_coll.json"))
    run(ccmd + ["--format", "json", "--per-module", "--module", NXN_EXACT], at("nxn_coll_canon.json"))
    log(f"N x N: numpy reference ({2 * layers} modules, from the adapter directories)")
    rcmd = ref + ["peft-collision"] + dirs + ["--near", "-o", at("ref_nxn.json")]
    rwall, rrss, _ = run(rcmd)
    rcpu = cpu_of(rcmd)
    near_s = load(at("ref_nxn.json"))["near_seconds"]
    log(f"N x N: exact check on {NXN_EXACT} (canonical dW in numpy)")
    run(ref + ["collision", store, "--canonical", "--module", NXN_EXACT, "-o", at("ref_nxn_canon.json")])
    fig = {}
    plot = binp("collide-plot")
    if os.path.exists(plot):
        log("N x N: collide-plot collision-map (not timed against anything)")
        t = time.perf_counter()
        try:
            p = subprocess.run([plot, "collision-map", store, "-o", at("figures"), "--name",
                                f"nxn_L{layers}", "--force", "--quiet"], capture_output=True, text=True)
            status, stderr = p.returncode, p.stderr.strip()
        except OSError as e:  # the figure is a by-product: never lose the timings for it
            status, stderr = -1, str(e)
        fig = {"status": status, "s": time.perf_counter() - t,
               "png": at(os.path.join("figures", f"nxn_L{layers}.png")), "stderr": stderr}
    res["nxn"] = {
        "adapters": len(dirs), "layers": layers, "modules": 2 * layers, "rank": 16,
        "shapes": "q_proj 2048x2048, v_proj 512x2048", "store": store, "adapter_dir": adir,
        "import_s": iwall, "import_rss_mib": irss, "import_cpu_s": icpu,
        "collide_s": cwall, "collide_rss_mib": crss, "collide_cpu_s": ccpu,
        "ref_s": rwall, "ref_near_s": near_s, "ref_s_timed": rwall - near_s, "ref_rss_mib": rrss,
        "ref_cpu_s": rcpu, "ratio": (rwall - near_s) / cwall,
        "ratio_with_import": (rwall - near_s) / (cwall + iwall), "cpu_ratio": rcpu / ccpu,
        "agree_tolerant": check_collision(at("nxn_coll.json"), at("ref_nxn.json"), False),
        "agree_exact": check_collision(at("nxn_coll_canon.json"), at("ref_nxn_canon.json"), True),
        "exact_modules": NXN_EXACT, "matrix": check_matrix(at("nxn_coll.json"), at("ref_nxn.json")),
        "figure": fig}


def table_nxn(x):
    L = []
    w = L.append
    w(f"N x N: {x['adapters']} PEFT adapters of a Llama-3.2-1B-shaped base as the {x['adapters']} tasks of "
      f"one store: {x['layers']} layers x (q_proj 2048x2048, v_proj 512x2048), r=16, energy:0.99")
    w("")
    w(f"{'figure':<46}{'numpy':>10}{'collide':>10}{'ratio':>10}")
    w(f"{'N x N collision matrix (collide-collision)':<46}{x['ref_s_timed']:>9.1f}s{x['collide_s']:>9.2f}s"
      f"{x['ratio']:>9.1f}x")
    w(f"{'  with collide-import of the adapters first':<46}{x['ref_s_timed']:>9.1f}s"
      f"{x['collide_s'] + x['import_s']:>9.2f}s{x['ratio_with_import']:>9.1f}x")
    w(f"{'  CPU seconds (user + system, all threads)':<46}{x['ref_cpu_s']:>9.1f}s{x['collide_cpu_s']:>9.2f}s"
      f"{x['cpu_ratio']:>9.1f}x")
    w(f"{'  peak RSS (MiB)':<46}{x['ref_rss_mib']:>10.0f}{x['collide_rss_mib']:>10.0f}")
    w(f"  collide-import alone: {x['import_s']:.2f}s, peak RSS {x['import_rss_mib']:.0f} MiB; numpy's time "
      f"excludes {x['ref_near_s']:.1f}s spent counting near-tau entries for the check")
    e, t, m = x["agree_exact"], x["agree_tolerant"], x["matrix"]
    ok = not e["failed"] and not t["failed"]
    w(f"agreement: canonical dW ({x['exact_modules']}): {e['equal']}/{e['checked']} counts and taus equal; "
      f"user's B @ A, all modules: {t['equal']}/{t['checked']} equal, {t['checked'] - t['failed']}/{t['checked']} "
      f"within the near-tau slack (largest difference {t['largest_count_difference']})  {'ok' if ok else 'FAILED'}")
    w(f"  N x N matrices (means over modules): collision rate within {m['largest_rate_difference']:.1e}, "
      f"Jaccard within {m['largest_jaccard_difference']:.1e} ({m['checked']} values)")
    f = x.get("figure") or {}
    if f:
        w(f"  figure: collide-plot collision-map in {f['s']:.1f}s: {f['png']} "
          f"({'ok' if f['status'] == 0 else 'exit ' + str(f['status']) + ': ' + f['stderr'][:200]})")
    return L


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    return {"cpu": cpu, "cores": os.cpu_count(), "system": platform.platform()}


def table(r):
    L = []
    w = L.append
    w(f"collide benchmark, {r['date']}{' (--quick)' if r['quick'] else ''}")
    w(f"machine: {r['machine']['cpu']}, {r['machine']['cores']} cores, {r['machine']['system']}")
    w(f"load average at start {r['load_start'][0]:.2f}, at end {r['load_end'][0]:.2f} "
      "(other work on the machine slows both sides)")
    if "collision" in r:
        L += table_main(r)
    if "nxn" in r:
        if "collision" in r:
            w("")
        L += table_nxn(r["nxn"])
    return "\n".join(L)


def table_main(r):
    k = r["kernels"]
    L = []
    w = L.append
    s = r["stores"]
    w(f"stores: T5-large shape {s['t5']['modules']} x {s['t5']['shape']}, r=8, 15 tasks; "
      f"LLaMA-7B shape 64 x 4096x4096, r=8, 4 tasks")
    w("")
    w(f"{'figure':<46}{'numpy':>10}{'collide':>10}{'ratio':>10}{'goal':>9}  met")
    for th, g in (("energy:0.99", 20), ("rel:0.01", 10)):
        c = r["collision"][th]
        w(f"{'collision matrix, T5, ' + th:<46}{c['ref_s']:>9.1f}s{c['collide_s']:>9.2f}s"
          f"{c['ratio']:>9.1f}x{'>=' + str(g) + 'x':>9}  {'yes' if c['ratio'] >= g else 'NO'}")
        w(f"{'  CPU seconds (user + system, all threads)':<46}{c['ref_cpu_s']:>9.1f}s{c['collide_cpu_s']:>9.2f}s"
          f"{c['cpu_ratio']:>9.1f}x")
    sb = r["subspace"]
    per_ref, per_col = sb["ref_s"] / sb["ref_modules"], sb["collide_s_all"] / sb["collide_modules"]
    w(f"{'subspace report, 4096x4096, per module':<46}{per_ref:>9.1f}s{per_col * 1e3:>8.1f}ms"
      f"{sb['ratio_per_module']:>9.0f}x{'>=1e4x':>9}  {'yes' if sb['ratio_per_module'] >= 1e4 else 'NO'}")
    w(f"{'  same modules, whole runs (incl. start-up)':<46}{sb['ref_s']:>9.1f}s{sb['collide_s_subset']:>9.2f}s"
      f"{sb['ratio_same_work']:>9.0f}x")
    o = r["ortho"]
    per_ref, per_col = o["ref_s"] / o["ref_modules"], o["collide_s_all"] / o["collide_modules"]
    w(f"{'orthogonality report, T5, per module':<46}{per_ref:>9.2f}s{per_col * 1e3:>8.1f}ms"
      f"{o['ratio_per_module']:>9.0f}x")
    w(f"{'  same modules, whole runs (incl. start-up)':<46}{o['ref_s']:>9.1f}s{o['collide_s_subset']:>9.2f}s"
      f"{o['ratio_same_work']:>9.0f}x")
    w("")
    w(f"{'peak RSS (MiB)':<46}{'numpy':>10}{'collide':>10}")
    for th in ("energy:0.99", "rel:0.01"):
        c = r["collision"][th]
        w(f"{'  collision, T5, ' + th:<46}{c['ref_rss_mib']:>10.0f}{c['collide_rss_mib']:>10.0f}")
    w(f"{'  subspace, LLaMA':<46}{sb['ref_rss_mib']:>10.0f}{sb['collide_rss_mib']:>10.0f}")
    w(f"{'  ortho, T5':<46}{o['ref_rss_mib']:>10.0f}{o['collide_rss_mib']:>10.0f}")
    audit = r["llama_audit"]
    top = max(v["rss_mib"] for v in audit.values())
    w(f"LLaMA-7B-shape audit, peak RSS (goal <= 1024 MiB): " +
      ", ".join(f"{t[8:]} {v['rss_mib']:.0f} MiB / {v['s']:.1f}s" for t, v in audit.items()) +
      f"  met: {'yes' if top <= 1024 else 'NO'}")
    w("")
    ratio = k["form_gfma"] / k["sgemm_gfma"]
    w(f"FMA rate forming dW (rank {int(k['rank'])}, {k['shape']}, {k['isa']}), against OpenBLAS sgemm "
      f"{int(k['sgemm_n'])}^3, timed alternately:")
    w(f"  all {int(k['threads'])} threads: {k['form_gfma']:.1f} GFMA/s against {k['sgemm_gfma']:.1f}: "
      f"{100 * ratio:.0f}% (goal >= 50%: {'yes' if ratio >= 0.5 else 'NO'})")
    w(f"  1 thread: {k['form_gfma_1thread']:.1f} GFMA/s against {k['sgemm_gfma_1thread']:.1f}: "
      f"{100 * k['form_vs_sgemm_1thread']:.0f}%")
    w(f"  whole dense pass, 15 tasks of 1024x1024: energy:0.99 {k['dense_energy:0.99_ms_per_module']:.1f} ms/module "
      f"({k['dense_energy:0.99_gfma_effective']:.1f} GFMA/s over its 3 formations), rel:0.01 "
      f"{k['dense_rel:0.01_ms_per_module']:.1f} ms/module ({k['dense_rel:0.01_gfma_effective']:.1f} GFMA/s over 2)")
    w("")
    nb = r["numpy_sgemm_bits"]
    w(f"agreement: numpy's float32 B @ A equals collide's canonical dW on {100 * nb['identical'] / nb['entries']:.2f}% "
      f"of entries (the others differ by at most {nb['max_difference_rel_to_max']:.1e} of max|dW|), so:")
    for th in ("energy:0.99", "rel:0.01"):
        c = r["collision"][th]
        e, t = c["agree_exact"], c["agree_tolerant"]
        w(f"  {th}: canonical dW ({c['exact_modules']}): {e['equal']}/{e['checked']} counts and taus equal; "
          f"user's B @ A, all modules: {t['equal']}/{t['checked']} equal, {t['checked'] - t['failed']}/{t['checked']} "
          f"within the near-tau slack (largest difference {t['largest_count_difference']})"
          f"  {'ok' if not e['failed'] and not t['failed'] else 'FAILED'}")
    w(f"  subspace: {sb['agree']['checked']} singular values, largest relative difference "
      f"{sb['agree']['largest_relative_difference']:.1e}  {'ok' if not sb['agree']['failed'] else 'FAILED'}")
    w(f"  ortho: {o['agree']['checked']} values, largest relative difference "
      f"{o['agree']['largest_relative_difference']:.1e}  {'ok' if not o['agree']['failed'] else 'FAILED'}")
    return L


if __name__ == "__main__":
    main()
