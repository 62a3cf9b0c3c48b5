#!/usr/bin/env python3
"""PyTorch's training throughput on the same shapes as bench_train (CPU).

usage: train_torch.py DIM LAYERS HEADS FFN VOCAB BATCH SEQ STEPS THREADS [KV_HEADS [ROPE_THETA]]
Uses transformers' LlamaForCausalLM (tied embeddings, as collide's base) and
PEFT LoRA (q_proj, v_proj, r 8, alpha 32): the way a user would train it.
Checked with torch 2.15.0, transformers 5.23.0, peft 0.21.2.
"""
import json
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def run(dim, layers, heads, ffn, vocab, B, T, steps, lora, kv_heads=None, rope_theta=10000.0):
    torch.manual_seed(1)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=dim, intermediate_size=ffn,
                      num_hidden_layers=layers, num_attention_heads=heads,
                      num_key_value_heads=kv_heads or heads, max_position_embeddings=T,
                      rope_theta=rope_theta, tie_word_embeddings=True,
                      attn_implementation="sdpa")
    model = LlamaForCausalLM(cfg)
    if lora:
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=32, lora_dropout=0.0,
                                                 target_modules=["q_proj", "v_proj"]))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
    x = torch.randint(0, vocab, (B, T))
    y = torch.randint(0, vocab, (B, T))
    t0 = 0
    for s in range(steps + 2):
        if s == 2:
            t0 = time.perf_counter()
        out = model(input_ids=x)
        loss = torch.nn.functional.cross_entropy(out.logits.view(-1, vocab), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * B * T / (time.perf_counter() - t0)


def main():
    a = [int(v) for v in sys.argv[1:10]]
    kv = int(sys.argv[10]) if len(sys.argv) > 10 else None
    theta = float(sys.argv[11]) if len(sys.argv) > 11 else 10000.0
    torch.set_num_threads(a[8])
    full = run(*a[:8], lora=False, kv_heads=kv, rope_theta=theta)
    lora = run(*a[:8], lora=True, kv_heads=kv, rope_theta=theta)
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "threads": a[8],
                      "dim": a[0], "layers": a[1], "full_tokens_per_s": round(full, 1),
                      "lora_tokens_per_s": round(lora, 1)}))


if __name__ == "__main__":
    main()
