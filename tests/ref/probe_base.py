#!/usr/bin/env python3
"""How much of a task a base model's hidden states hold: a linear probe.

    python3 tests/ref/probe_base.py BASE_DIR TASK [PER_CLASS] [--data DIR]

BASE_DIR is a base in the HF layout (collide-pretrain's output); TASK a folder of
the benchmark such as TC/agnews or SC/amazon. Takes PER_CLASS training examples
a class (default 150, seeded), builds the paper's prompt up to "Answer:", and fits
a logistic regression on 70% of them, scoring the other 30%, for four features:
the last layer at the last position (what a LoRA that generates the answer works
from), and the mean over the text of the embeddings, of layer 2 and of the last
layer. docs/TRAINING.md reports what it measured. Not part of the test suite.

Used with: torch 2.15, transformers 5.23, tokenizers 0.23.3, scikit-learn 1.9.1,
numpy (pip install torch transformers tokenizers scikit-learn).
"""
import json
import os
import random
import sys

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from tokenizers import Tokenizer
from transformers import LlamaForCausalLM

args = [a for a in sys.argv[1:] if not a.startswith("--")]
data_root = os.environ.get("COLLIDE_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                                         "shared", "datasets", "CL_Benchmark"))
if "--data" in sys.argv:
    data_root = sys.argv[sys.argv.index("--data") + 1]
    args = [a for a in args if a != data_root]
if len(args) < 2:
    sys.exit(__doc__)
base, task = args[0], args[1]
per = int(args[2]) if len(args) > 2 else 150
torch.set_num_threads(os.cpu_count() or 1)
model = LlamaForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
tok = Tokenizer.from_file(os.path.join(base, "tokenizer.json"))
folder = os.path.join(data_root, task)
labels = json.load(open(os.path.join(folder, "labels.json")))
data = json.load(open(os.path.join(folder, "train.json" if os.path.exists(
    os.path.join(folder, "train.json")) else "test.json")))
random.Random(0).shuffle(data)
# The prompt's fixed part (its instruction differs per task in collide; the
# probe only needs one that is the same for every example).
head = (f"Task:{task.split('/')[0]}\nDataset:{task.split('/')[-1]}\n"
        "Choose one from the option.\nOption: " + ", ".join(labels) + " \n")
n_head = len(tok.encode(head).ids)
count = {label: 0 for label in labels}
feats = {k: [] for k in ("last", "mean_emb", "mean_l2", "mean_last")}
ys = []
with torch.no_grad():
    for d in data:
        if d["label"] not in count or count[d["label"]] >= per:
            continue
        count[d["label"]] += 1
        ids = tok.encode(head).ids + tok.encode(d["sentence"]).ids[:120] + tok.encode("\nAnswer:").ids
        hs = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
        feats["last"].append(hs[-1][0, -1].numpy())
        feats["mean_emb"].append(hs[0][0, n_head:].mean(0).numpy())
        feats["mean_l2"].append(hs[min(2, len(hs) - 1)][0, n_head:].mean(0).numpy())
        feats["mean_last"].append(hs[-1][0, n_head:].mean(0).numpy())
        ys.append(labels.index(d["label"]))
y = np.array(ys)
order = np.random.RandomState(0).permutation(len(y))
tr, te = order[: len(y) * 7 // 10], order[len(y) * 7 // 10:]
for name, x in feats.items():
    x = np.array(x)
    x = (x - x[tr].mean(0)) / (x[tr].std(0) + 1e-6)
    clf = LogisticRegression(max_iter=2000, C=0.1).fit(x[tr], y[tr])
    print(f"{task} {name:<9} probe accuracy {clf.score(x[te], y[te]):.3f}  "
          f"(chance {1 / len(labels):.3f}, {len(y)} examples)")
