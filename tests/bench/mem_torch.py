#!/usr/bin/env python3
"""PyTorch's memory for what bench_mem measures: LlamaForCausalLM.from_pretrained
of a folder (float32, as the file), then PEFT LoRA (q_proj, v_proj, r 8,
alpha 32) and one forward and backward of a B x T batch. Prints one JSON
object with the peak resident set (VmHWM, = ru_maxrss) and the resident set
split into anonymous memory and file pages, after loading and after the step.

usage: mem_torch.py DIR BATCH SEQ [THREADS]
Checked with torch 2.15.0, transformers 5.23.0, peft 0.21.2.
"""
import json
import sys
import time

import torch
from transformers import LlamaForCausalLM


def status():
    v = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, rest = line.partition(":")
            if k in ("VmHWM", "RssAnon", "RssFile"):
                v[k] = int(rest.split()[0]) / 1024.0
    return v


def stage(secs):
    s = status()
    return {"seconds": round(secs, 2), "peak_rss_mb": round(s["VmHWM"], 1),
            "rss_anon_mb": round(s["RssAnon"], 1), "rss_file_mb": round(s["RssFile"], 1)}


def main():
    d, B, T = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
    base = stage(0)
    t0 = time.perf_counter()
    model = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32)
    t1 = time.perf_counter()
    load = stage(t1 - t0)
    from peft import LoraConfig, get_peft_model
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=32, lora_dropout=0.0,
                                             target_modules=["q_proj", "v_proj"]))
    model.train()
    V = model.config.vocab_size
    x = (torch.arange(B * T) * 7919 + 13) % V
    y = (torch.arange(B * T) * 104729 + 5) % V
    out = model(input_ids=x.view(B, T))
    loss = torch.nn.functional.cross_entropy(out.logits.view(-1, V), y)
    loss.backward()
    step = stage(time.perf_counter() - t1)
    n = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "params": n,
                      "before_load": base, "load": load, "step": step,
                      "loss": round(loss.item(), 4)}))


if __name__ == "__main__":
    main()
