#!/usr/bin/env python3
"""Round trip through PEFT itself: the fixtures are imported with
collide-import, exported with collide-export, and each exported adapter is
loaded with PeftModel.from_pretrained next to the original
(tests/ref/peft_reference.py --roundtrip: same logits on a fixed input,
same get_delta_weight per module, within rtol 1e-5 of the original's scale).

usage: roundtrip.py BINDIR FIXTURES REFERENCE_SCRIPT

Cases: llama (F32, F16, rsLoRA), gpt2 (BF16, Conv1D with fan_in_fan_out),
t5 (rank_pattern / alpha_pattern), and the O-LoRA cumulative checkpoint,
split into tasks and each compared with the per-task adapter.

Then collide's own adapters: tests/ref/collide_train_peft.py trains two
tasks with collide-train on the committed base, exports them, and records
PEFT's logits with each loaded by PeftModel.from_pretrained on that base
(as transformers' LlamaForCausalLM) into a scratch fixture; test_peft_train
(in BINDIR) then checks collide's logits for the same adapters against them,
the key names and the config (the same test runs on the committed fixture
without torch).

Exit 0 when every case passes, 1 otherwise, 77 when torch / peft do not
import.
"""
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    bindir, fixtures, ref = sys.argv[1:]
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any broken install means: cannot run here
        print(f"peft_roundtrip: Skipped: needs torch and peft ({exc}); pip install torch transformers peft")
        return 77
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    sys.path.insert(0, os.path.dirname(os.path.abspath(ref)))
    import peft_reference as pr

    versions = pr.check_versions()
    print("versions:", json.dumps(versions))
    # (family, source adapter dirs to import, per-task originals to compare with, base)
    cases = [
        ("llama", ["llama/task1", "llama/task2", "llama/task1_f16"], None, "llama/base"),
        ("gpt2", ["gpt2/task1", "gpt2/task2"], None, "gpt2/base"),
        ("t5", ["t5/task1", "t5/task2"], None, "t5/base"),
        ("t5_olora", ["t5_olora/cumulative"], ["t5_olora/task1", "t5_olora/task2", "t5_olora/task3"],
         "t5/base"),
    ]
    failures, worst = 0, {}
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="collide-roundtrip-") as tmp:
        for family, sources, originals, base in cases:
            store = os.path.join(tmp, family + ".h5")
            out = os.path.join(tmp, family)
            src = [os.path.join(fixtures, s) for s in sources]
            subprocess.run([os.path.join(bindir, "collide-import"), "--quiet", "-o", store, *src],
                           check=True, stdout=subprocess.DEVNULL)
            exp = subprocess.run([os.path.join(bindir, "collide-export"), "--quiet", "--format", "json",
                                  store, "-o", out], check=True, capture_output=True, text=True)
            exported = json.loads(exp.stdout)["tables"]["adapters"]
            origs = originals or sources
            if len(exported) != len(origs):
                print(f"ROUNDTRIP FAIL: {family}: {len(exported)} adapters exported for {len(origs)} tasks")
                failures += 1
                continue
            for orig, e in zip(origs, exported):
                buf = io.StringIO()
                with contextlib.redirect_stdout(buf):
                    rc = pr.roundtrip(os.path.join(fixtures, orig), e["dir"], os.path.join(fixtures, base),
                                      family)
                line = buf.getvalue().strip().splitlines()[-1]
                print(f"{orig} -> {os.path.relpath(e['dir'], tmp)}: {line}")
                failures += rc != 0
                m = re.search(r"max\|dlogits\|=(\S+) rel=(\S+) .*max rel dW diff=(\S+)", line)
                if m:
                    w = worst.setdefault(family, [0.0, 0.0, 0.0])
                    for i in range(3):
                        w[i] = max(w[i], float(m.group(i + 1)))
        # collide-train -> collide-export -> PEFT, against collide's logits
        fx = os.path.join(tmp, "collide_train")
        gen = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(ref)),
                                                           "collide_train_peft.py"), bindir, fx],
                             capture_output=True, text=True)
        if gen.returncode != 0:
            print(f"ROUNDTRIP FAIL: collide_train: the reference script exited {gen.returncode}:\n"
                  f"{gen.stdout}{gen.stderr}")
            failures += 1
        else:
            for line in gen.stdout.splitlines():
                print(f"collide_train (PEFT): {line}")
            chk = subprocess.run([os.path.join(bindir, "test_peft_train"), bindir, fx],
                                 capture_output=True, text=True)
            for line in (chk.stdout + chk.stderr).splitlines():
                print(f"collide_train (collide): {line}")
            if chk.returncode != 0:
                print("ROUNDTRIP FAIL: collide_train: collide's logits or the export disagree with PEFT")
                failures += 1
    for family, (d, r, dw) in worst.items():
        print(f"{family}: max |dlogits| {d:.3e}, relative {r:.3e}, max relative dW diff {dw:.3e}")
    print(f"peft_roundtrip: {'PASS' if not failures else f'{failures} FAILURES'} "
          f"({time.time() - t0:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
