#!/usr/bin/env python3
"""Write a random-weight LLaMA base in the Hugging Face layout (config.json,
model.safetensors, F32), streamed tensor by tensor so that writing a 1B model
never holds it in memory. Tensors are written in the order safetensors'
save_file uses (by name), 8-byte aligned header, as transformers writes them.

usage: make_base.py OUT_DIR SHAPE [LAYERS]
  SHAPE: llama-3.2-1b (hidden 2048, 16 layers, 32 heads, 8 kv heads,
         intermediate 8192, vocab 128256, tied, llama3 rope) or
         smollm2-135m (hidden 576, 30 layers, 9 heads, 3 kv heads,
         intermediate 1536, vocab 49152, tied, rope_theta 100000)
  LAYERS: fewer layers than the shape has (same per-layer sizes)
Weights are normal(0, 0.02), norms one. For benchmarks only; never commit.
"""
import json
import os
import struct
import sys

import numpy as np

SHAPES = {
    "llama-3.2-1b": dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32,
                         num_key_value_heads=8, intermediate_size=8192, vocab_size=128256,
                         rope_theta=500000.0, max_position_embeddings=131072,
                         rope_scaling={"factor": 32.0, "high_freq_factor": 4.0,
                                       "low_freq_factor": 1.0,
                                       "original_max_position_embeddings": 8192,
                                       "rope_type": "llama3"},
                         bos_token_id=128000, eos_token_id=128001, rms_norm_eps=1e-5),
    "smollm2-135m": dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, intermediate_size=1536, vocab_size=49152,
                         rope_theta=100000.0, max_position_embeddings=8192,
                         bos_token_id=0, eos_token_id=0, rms_norm_eps=1e-5),
}


def tensors(cfg):
    C, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    D = C // cfg["num_attention_heads"]
    QD, KD = cfg["num_attention_heads"] * D, cfg["num_key_value_heads"] * D
    out = {"model.embed_tokens.weight": (V, C), "model.norm.weight": (C,)}
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        out.update({p + "input_layernorm.weight": (C,),
                    p + "post_attention_layernorm.weight": (C,),
                    p + "self_attn.q_proj.weight": (QD, C), p + "self_attn.k_proj.weight": (KD, C),
                    p + "self_attn.v_proj.weight": (KD, C), p + "self_attn.o_proj.weight": (C, QD),
                    p + "mlp.gate_proj.weight": (F, C), p + "mlp.up_proj.weight": (F, C),
                    p + "mlp.down_proj.weight": (C, F)})
    return dict(sorted(out.items()))


def main():
    out_dir, shape = sys.argv[1], sys.argv[2]
    cfg = dict(SHAPES[shape])
    if len(sys.argv) > 3:
        cfg["num_hidden_layers"] = int(sys.argv[3])
    cfg.update(architectures=["LlamaForCausalLM"], model_type="llama", hidden_act="silu",
               tie_word_embeddings=True, torch_dtype="float32", attention_bias=False,
               mlp_bias=False, head_dim=cfg["hidden_size"] // cfg["num_attention_heads"])
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    ts = tensors(cfg)
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shp in ts.items():
        n = int(np.prod(shp)) * 4
        header[name] = {"dtype": "F32", "shape": list(shp), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    rng = np.random.default_rng(0)
    path = os.path.join(out_dir, "model.safetensors")
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, shp in ts.items():
            if name.endswith("norm.weight"):
                a = np.ones(shp, dtype=np.float32)
            else:
                a = rng.standard_normal(shp, dtype=np.float32)
                a *= np.float32(0.02)
            f.write(np.ascontiguousarray(a, dtype="<f4").data)
    os.replace(path + ".tmp", path)
    n_params = off // 4
    print(f"{out_dir}: {shape}, {cfg['num_hidden_layers']} layers, {n_params} parameters, "
          f"{off / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
