#!/usr/bin/env python3
"""PEFT's logits for adapters trained by collide-train and written by
collide-export: the ground truth of tests/import/test_peft_train.c.

Pinned versions (tests/fixtures/peft/collide_train was produced with these;
reference.json records what was installed):

    python        3.11
    torch         2.15.0   (PyPI build, run on the CPU)
    transformers  5.23.0
    peft          0.21.2
    safetensors   0.8.0
    numpy         1.24.2

What it does, from the repository root (the committed base is model/base):

1. `collide-train` on the committed base, a few steps of two synthetic tasks
   (TRAIN_ARGS below, OMP_NUM_THREADS=1: deterministic), into a scratch store;
2. `collide-export` of that store into OUT/adapters/<task>/;
3. for each task, transformers' LlamaForCausalLM on model/base with the
   exported adapter loaded by PeftModel.from_pretrained, checked to have read
   every tensor of the file (the adapter's state dict has exactly the file's
   keys and values), and its logits on a fixed input (INPUT_IDS, seeded);
4. OUT/reference.safetensors (input_ids, logits.<task>, base_logits) and
   OUT/reference.json (the training arguments, tasks, versions).

usage: collide_train_peft.py BINDIR OUT [--repo DIR]

BINDIR holds collide-train and collide-export. OUT is created (it must not
exist, or be empty). Regenerate the committed fixture with

    python3 tests/ref/collide_train_peft.py build/bin tests/fixtures/peft/collide_train

and commit the whole folder; tests/import/roundtrip.py runs the same into a
scratch folder and then the C test on it, so that with torch installed the
round trip is checked end to end, not only against the committed logits.
"""
import json
import os
import subprocess
import sys
import tempfile

# Kept small: the fixture (two adapters of rank 2 on all seven projections,
# and their logits on 8 tokens) stays under 500 KB.
TRAIN_ARGS = ["--synthetic", "--tasks", "synth1,synth2", "--train-per-class", "4",
              "--test-per-task", "4", "--epochs", "1", "--batch", "4", "--rank", "2",
              "--alpha", "8", "--dropout", "0.05", "--lr", "0.02",
              "--targets", "q,k,v,o,gate,up,down", "--seed", "7", "--max-new", "2"]
BASE = "model/base"  # relative to the repository root: what the store records
SEQ = 8
INPUT_SEED = 1234


def run(cmd, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True)


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bindir")
    ap.add_argument("out")
    ap.add_argument("--repo", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    a = ap.parse_args(argv)
    import numpy as np
    import peft
    import safetensors
    import torch
    import transformers
    from peft import PeftModel
    from peft.utils import get_peft_model_state_dict
    from safetensors.numpy import load_file, save_file

    torch.manual_seed(0)
    torch.set_num_threads(1)
    repo = os.path.abspath(a.repo)
    bindir = os.path.abspath(a.bindir)
    out = os.path.abspath(a.out)
    if os.path.exists(out) and os.listdir(out):
        print(f"{out}: exists and is not empty", file=sys.stderr)
        return 2
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="collide-train-peft-") as tmp:
        store = os.path.join(tmp, "run.h5")
        run([os.path.join(bindir, "collide-train"), "-o", store, "--base", BASE, "--quiet",
             *TRAIN_ARGS], repo)
        exp = run([os.path.join(bindir, "collide-export"), "--quiet", "--format", "json", store, "-o",
                   os.path.join(out, "adapters")], repo)
    exported = json.loads(exp.stdout)["tables"]["adapters"]
    tasks = [e["task"] for e in exported]

    base_dir = os.path.join(repo, BASE)
    vocab = json.load(open(os.path.join(base_dir, "config.json")))["vocab_size"]
    ids = np.random.default_rng(INPUT_SEED).integers(0, vocab, size=(1, SEQ)).astype(np.int32)
    x = torch.from_numpy(ids.astype(np.int64))

    def base_model():
        m = transformers.LlamaForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
        return m.eval()

    tensors = {"input_ids": ids}
    with torch.no_grad():
        tensors["base_logits"] = base_model()(input_ids=x).logits.float().numpy().copy()
    report = {}
    for t in tasks:
        d = os.path.join(out, "adapters", t)
        model = PeftModel.from_pretrained(base_model(), d).eval()
        # every tensor of the file was loaded into a module, and nothing else
        # was adapted: the adapter's state dict is the file
        want = load_file(os.path.join(d, "adapter_model.safetensors"))
        got = {k: v.detach().numpy() for k, v in get_peft_model_state_dict(model).items()}
        if set(want) != set(got):
            print(f"{t}: PEFT's adapter keys differ from the file: missing "
                  f"{sorted(set(want) - set(got))[:4]}, extra {sorted(set(got) - set(want))[:4]}",
                  file=sys.stderr)
            return 1
        bad = [k for k in want if not np.array_equal(want[k], got[k])]
        if bad:
            print(f"{t}: PEFT loaded other values for {bad[:4]}", file=sys.stderr)
            return 1
        with torch.no_grad():
            lg = model(input_ids=x).logits.float().numpy().copy()
        tensors[f"logits.{t}"] = lg
        effect = float(np.abs(lg - tensors["base_logits"]).max())
        report[t] = {"modules": len(want) // 2, "max_abs_logit": float(np.abs(lg).max()),
                     "adapter_effect": effect}
        print(f"{t}: {len(want) // 2} modules loaded by PeftModel.from_pretrained; max |logit| "
              f"{report[t]['max_abs_logit']:.4g}, adapter effect max |logits - base| {effect:.4g}")
    save_file(tensors, os.path.join(out, "reference.safetensors"), metadata={"format": "np"})
    os.chmod(os.path.join(out, "reference.safetensors"), 0o644)
    versions = {"python": sys.version.split()[0], "torch": torch.__version__,
                "transformers": transformers.__version__, "peft": peft.__version__,
                "safetensors": safetensors.__version__, "numpy": np.__version__}
    meta = {"producer": "tests/ref/collide_train_peft.py", "train_args": TRAIN_ARGS, "base": BASE,
            "env": {"OMP_NUM_THREADS": "1"}, "tasks": tasks, "seq": SEQ, "input_seed": INPUT_SEED,
            "versions": versions, "peft": report}
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print("versions:", json.dumps(versions))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
