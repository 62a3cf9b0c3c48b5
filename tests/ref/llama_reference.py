#!/usr/bin/env python3
"""Reference fixtures for collide's C LLaMA implementation (forward, backward, LoRA).

Regenerating the fixtures
=========================
From the repository root, run exactly this (CPU only, no GPU or network needed):

    python3 tests/ref/llama_reference.py --out tests/fixtures/llama

It writes (and overwrites) ``tests/fixtures/llama/{gqa,tied}/``. The script is
deterministic: fixed seeds, dedicated ``torch.Generator`` objects for every
random tensor, ``torch.use_deterministic_algorithms(True)``, one CPU thread,
float32 everywhere, eager attention, PYTHONHASHSEED=0 (the script re-execs itself
to set it, because PEFT writes target_modules from a set). It exits 0 only if
every sanity check passes. Two runs give byte-identical files.

Pinned versions (the ones the committed fixtures came from). The script checks
them at startup and prints a WARNING, without stopping, if they differ. With
other versions the numbers may differ in the last bits, or file layouts may
change:

    python        3.11.7
    torch         2.15.0 (the +cu132 wheel, run on CPU)
    transformers  5.23.0
    peft          0.21.2
    safetensors   0.8.0
    numpy         2.4.6

Cases
=====
``gqa/``  : LlamaForCausalLM, vocab 64, hidden 32, intermediate 48, 2 layers,
            4 query heads, 2 KV heads (grouped-query attention, head_dim 8),
            max_position_embeddings 64, rms_norm_eps 1e-5, rope_theta 10000,
            untied lm_head, no biases, SiLU, no rope scaling.
``tied/`` : same, but 1 layer, 4 KV heads (plain multi-head attention) and
            tie_word_embeddings=True (lm_head.weight IS model.embed_tokens.weight).

Weights are N(0, 0.1^2) for every Linear/Embedding weight. RMSNorm weights are
1 + 0.1*N(0,1). That is larger than HF's default init (std 0.02, norms = 1), so
the logits are O(1) and the test is sensitive. ``pad_token_id`` is None, so the
embedding has no padding row, and every row of the embedding gradient can be
non-zero.

LoRA (PEFT): r=4, lora_alpha=8 (scaling = alpha/r = 2.0), target_modules
q_proj and v_proj, dropout 0, bias "none", task CAUSAL_LM. After wrapping, all
lora_A and lora_B weights are overwritten with N(0, 0.1^2). PEFT's default
lora_B = 0 would make dL/dA identically zero.

Batch: batch 2, seq len 12, input_ids uniform in [0, 64), attention_mask all
ones, position_ids 0..11 (HF's default). labels = input_ids with positions
0..7 set to -100, so only the LAST 4 label positions (8..11) of each sequence
are counted. After HF's causal shift, those targets come from the logits at
positions 7..10. In total 2*4 = 8 tokens are counted. The logits at position 11
and at positions 0..6 do not affect the loss.

Files in each case folder
=========================
``base/config.json``, ``base/model.safetensors``
    ``model.save_pretrained(dir/"base", safe_serialization=True)``. HF tensor
    names, all float32: model.embed_tokens.weight,
    model.layers.N.self_attn.{q,k,v,o}_proj.weight,
    model.layers.N.mlp.{gate,up,down}_proj.weight,
    model.layers.N.{input,post_attention}_layernorm.weight, model.norm.weight,
    and lm_head.weight ONLY in the untied case. For ``tied``, HF's convention
    is to omit lm_head.weight; the loader must reuse model.embed_tokens.weight.
    Linear weights are stored [out_features, in_features] (y = x @ W^T).
    NOTE: transformers 5 writes RoPE settings as
    ``"rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"}``,
    not as a top-level ``"rope_theta"`` key as older (4.x) configs do. A
    config parser should accept both. config.json also has an explicit
    ``"head_dim": 8``.
``base/generation_config.json``
    Written by save_pretrained. It is unused (bos 1 / eos 2 defaults).
``adapter/adapter_config.json``, ``adapter/adapter_model.safetensors``
    ``peft_model.save_pretrained(dir/"adapter")``. Tensor names in the file look
    like ``base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight``.
    PEFT drops the adapter name ".default" when saving. lora_A is [r, d_in] and
    lora_B is [d_out, r], both float32. The boilerplate README.md model
    card that PEFT also writes is deleted. adapter_config.json has r=4,
    lora_alpha=8, use_rslora=false.
``reference.safetensors`` (read with any safetensors reader)
    input_ids              int32  [2, 12]
    labels                 int32  [2, 12]   (-100 = ignored)
    logits                 f32    [2, 12, 64]  PEFT model, LoRA active
    loss                   f32    [1]          HF loss, LoRA active
    base_logits            f32    [2, 12, 64]  same model, adapter disabled
    base_loss              f32    [1]          HF loss, no LoRA
    grad.<mod>.lora_A      f32    [r, d_in]    dloss/dA (base frozen)
    grad.<mod>.lora_B      f32    [d_out, r]   dloss/dB
        <mod> = model.layers.N.self_attn.{q_proj,v_proj} (PEFT's
        "base_model.model." prefix and ".default" suffix removed)
    fullgrad.<HF name>     f32    same as the weight: d base_loss / d weight
        when training ALL base weights with no LoRA (full fine-tuning /
        pretraining), for every tensor in base/model.safetensors. In the tied
        case, fullgrad.model.embed_tokens.weight is the SUM of the embedding
        lookup gradient and the lm_head gradient (it is one shared
        Parameter). No separate fullgrad.lm_head.weight is written there.
    base_hidden.embed      f32    [2, 12, 32]  embedding output (no LoRA)
    base_hidden.layer.N    f32    [2, 12, 32]  output of decoder layer N
                                               (residual stream, no LoRA)
    base_hidden.final_norm f32    [2, 12, 32]  after model.norm (lm_head input)
``reference.json``
    A readable summary: versions, config, LoRA r/alpha/scaling, losses, max
    |logit|, gradient norms, the list of tensors, and ``fp64_deviation``. That
    field holds the max abs difference between these float32 results and the
    same computation in float64. It shows the noise floor a C implementation
    in float32 can expect, which helps when picking test tolerances.

Sanity checks the script runs (it fails with an AssertionError otherwise)
--------------------------------------------------------------
* Saved base and adapter safetensors are all float32. lm_head.weight is
  present iff the embeddings are untied.
* LlamaForCausalLM.from_pretrained(base) + PeftModel.from_pretrained(adapter)
  reproduce ``logits`` (and ``base_logits`` with the adapter disabled) with
  max abs diff < 1e-6 (in practice exactly 0).
* The HF loss matches an independent numpy float64 shifted/masked
  cross-entropy on the recorded logits (< 1e-5).
* An independent float64 numpy forward pass, written from the conventions
  below and reading only the saved files, matches ``logits`` and
  ``base_logits`` (< 1e-5, in practice ~7e-7). This confirms the conventions
  are stated correctly.
* HF's SDPA attention backend agrees with eager (< 1e-5).
* Every LoRA gradient is non-zero. LoRA changes the logits noticeably.
* Total fixture size < 1 MB.

Conventions a C implementation must follow to match (checked against the
installed transformers 5.23.0 modeling_llama.py and peft 0.21.2 lora/layer.py)
=====================================================================
Notation: T = sequence length, D = hidden_size, H = num_attention_heads,
Hkv = num_key_value_heads, d = head_dim (config "head_dim" when present,
else D / H; 8 here), x is one token's row.

* Linear: y = x W^T (W stored [out, in]); no biases anywhere.
* Embedding: h0[t] = E[input_ids[t]] (no scaling by sqrt(D)).
* Decoder layer (pre-norm):
      a = x + o_proj(Attn(RMSNorm_in(x)))
      y = a + down_proj(silu(gate_proj(n)) * up_proj(n)),  n = RMSNorm_post(a)
  Final: logits = lm_head(RMSNorm_final(h_L)).
* RMSNorm: y = x * rsqrt(mean_j(x_j^2) + eps) * w, mean over the D features,
  eps = 1e-5, computed in float32. The weight multiplies after normalisation.
  There is no bias and no mean subtraction.
* SiLU: silu(z) = z * sigmoid(z). SwiGLU MLP: down(silu(gate(x)) * up(x)).
* Attention: q = q_proj(n) viewed as [T, H, d] (head h = columns h*d..h*d+d-1
  of the projection output). k, v = k_proj(n), v_proj(n) viewed as
  [T, Hkv, d]. RoPE is applied to q and k (NOT v) after the projections, so
  after the LoRA delta for q, and before any KV-head sharing.
  scores = q k^T * d^-0.5. Causal mask: key s is allowed for query t iff
  s <= t (HF adds finfo(float32).min, which after softmax is the same as
  -inf / skipping). Softmax runs in float32 over keys. out = P v. Heads are
  concatenated back to [T, H*d] in head order, then o_proj.
* GQA head mapping: query head h uses KV head h // (H / Hkv), i.e. each KV
  head is repeated H/Hkv times CONSECUTIVELY (HF repeat_kv ==
  repeat_interleave over the head dim). For gqa: q heads 0,1 -> kv 0 and
  q heads 2,3 -> kv 1.
* RoPE (HF "rotate_half" / NeoX layout, NOT the interleaved-pair layout of
  Meta's original code): for i in [0, d/2):
      inv_freq[i] = 1 / theta^(2i/d)       (theta = 10000, d = head_dim)
      angle(p, i) = p * inv_freq[i]        (p = position 0..T-1)
  For each head vector v of length d, with c = cos(angle), s = sin(angle):
      out[i]       = v[i]       * c(p,i) - v[i + d/2] * s(p,i)
      out[i + d/2] = v[i + d/2] * c(p,i) + v[i]       * s(p,i)
  i.e. element i pairs with element i + d/2 (the two halves of the head), and
  both halves use the same frequency index i. HF computes inv_freq as
  1.0 / (theta ** (arange(0, d, 2, float32) / d)), the angles as
  float32(p) * inv_freq in float32, and then cos/sin in float32.
  attention_scaling = 1.0 for the default rope type.
* LoRA (PEFT Linear, vanilla): y = x W^T + (alpha/r) * (x A^T) B^T, with
  A = lora_A [r, d_in], B = lora_B [d_out, r], scaling = alpha/r = 8/4 = 2.0
  (use_rslora False). It only applies to q_proj and v_proj. Dropout is 0.
* Loss (HF ForCausalLMLoss): labels are padded on the right with -100 and
  shifted left by one. The logit at position t (t = 0..T-2) is scored
  against labels[t+1]. Position T-1 is never scored. Cross-entropy is in
  float32 with ignore_index -100. Reduction = MEAN over the non-ignored
  targets in the WHOLE batch: sum of per-token NLL / count(labels[:,1:] !=
  -100), not a per-sequence mean. Here count = 8.
  dloss/dlogits[b,t,:] = (softmax(logits[b,t]) - onehot(target)) / 8 for the
  counted (b,t), and 0 elsewhere.

Things that may surprise (found by reading the installed source)
--------------------------------------------------------------
* The RoPE cos/sin tables are computed ONCE in LlamaModel.forward (in
  LlamaRotaryEmbedding) and passed to every layer. They are cast to the
  activation dtype, which is a no-op in float32.
* RMSNorm upcasts to float32, normalises, casts back to the input dtype, and
  only then multiplies by the weight. In float32 all of this is a no-op.
* Attention softmax is explicitly float32 (dtype=torch.float32), then cast to
  the query dtype.
* The loss upcasts logits to float32 before cross-entropy. If a
  num_items_in_batch kwarg were passed (the Trainer does this), the reduction
  would become sum / num_items_in_batch. We do not pass it, so this is the
  plain mean.
* The HF rotate_half layout pairs element i with element i + d/2. Meta's
  original LLaMA code paired (2i, 2i+1). HF's conversion script permutes the
  q_proj/k_proj rows to make up for this, so every HF checkpoint (these
  fixtures included) must use the half-split rotation, not the interleaved one.
* config.json stores rope_theta inside "rope_parameters" (transformers 5
  format), not at the top level.
* The tied model's model.safetensors has no lm_head.weight.
* PEFT's default init sets lora_B = 0. We overwrite it so that dL/dA != 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

PINNED = {
    "python": "3.11.7",
    "torch": "2.15.0",
    "transformers": "5.23.0",
    "peft": "0.21.2",
    "safetensors": "0.8.0",
    "numpy": "2.4.6",
}

# PEFT stores target_modules as a Python set, so the order written to
# adapter_config.json depends on string hashing. Re-exec with a fixed hash seed
# so that the output is byte-identical from run to run.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

# Deterministic CPU-only environment, set before torch is imported.
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import numpy as np  # noqa: E402
import peft  # noqa: E402
import safetensors  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

BATCH = 2
SEQ = 12
N_COUNTED = 4  # last 4 label positions of each sequence count
LORA_R = 4
LORA_ALPHA = 8
LORA_TARGETS = ["q_proj", "v_proj"]
INIT_STD = 0.1

CASES = {
    "gqa": dict(num_hidden_layers=2, num_key_value_heads=2, tie_word_embeddings=False, seed=1234),
    "tied": dict(num_hidden_layers=1, num_key_value_heads=4, tie_word_embeddings=True, seed=5678),
}


def versions() -> dict:
    return {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
    }


def check_versions() -> dict:
    got = versions()
    for k, want in PINNED.items():
        have = got[k].split("+")[0]
        if have != want:
            print(
                f"WARNING: {k} version {got[k]} differs from pinned {want}; "
                "regenerated fixtures may not be bit-identical to the committed ones.",
                file=sys.stderr,
            )
    return got


def setup_determinism() -> None:
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)


def make_config(case: dict) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=case["num_hidden_layers"],
        num_attention_heads=4,
        num_key_value_heads=case["num_key_value_heads"],
        head_dim=8,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=case["tie_word_embeddings"],
        attention_bias=False,
        attention_dropout=0.0,
        mlp_bias=False,
        hidden_act="silu",
        pad_token_id=None,
        attn_implementation="eager",
    )


def init_weights(model: torch.nn.Module, gen: torch.Generator) -> None:
    """N(0, 0.1^2) for linear/embedding weights; 1 + 0.1*N(0,1) for RMSNorm weights.

    Parameters are visited in named_parameters() order. A tied lm_head is the
    same Parameter as embed_tokens, so named_parameters() lists it once.
    """
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if name.endswith("norm.weight"):
                p.copy_(1.0 + INIT_STD * noise)
            else:
                p.copy_(INIT_STD * noise)


def lora_config() -> LoraConfig:
    return LoraConfig(
        r=LORA_R,
        lora_alpha=LORA_ALPHA,
        target_modules=list(LORA_TARGETS),
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
    )


def lora_key(peft_name: str) -> str:
    """base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight
    -> model.layers.0.self_attn.q_proj.lora_A"""
    assert peft_name.startswith("base_model.model.") and peft_name.endswith(".default.weight"), peft_name
    return peft_name[len("base_model.model.") : -len(".default.weight")]


def to_np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy())


def numpy_causal_lm_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    """Independent float64 check of HF's shifted, masked mean cross-entropy."""
    lg = logits[:, :-1, :].astype(np.float64)
    tg = labels[:, 1:]
    mask = tg != -100
    m = lg.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(lg - m).sum(-1, keepdims=True)))[..., 0]
    safe_tg = np.where(mask, tg, 0)
    picked = np.take_along_axis(lg, safe_tg[..., None], axis=-1)[..., 0]
    nll = lse - picked
    return float(nll[mask].sum() / mask.sum())


def numpy_llama_forward(case_dir: Path, input_ids: np.ndarray, with_lora: bool) -> np.ndarray:
    """Independent float64 numpy forward pass that follows the conventions in the
    docstring literally, reading only the saved files. It shows that those
    conventions (RoPE halves, GQA mapping, RMSNorm, SwiGLU, LoRA scaling) are
    the ones HF uses."""
    cfg = json.loads((case_dir / "base" / "config.json").read_text())
    D, H, Hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    theta = cfg["rope_parameters"]["rope_theta"]
    with safe_open(str(case_dir / "base" / "model.safetensors"), framework="np") as f:
        W = {k: f.get_tensor(k).astype(np.float64) for k in f.keys()}
    lora = {}
    scale = 0.0
    if with_lora:
        acfg = json.loads((case_dir / "adapter" / "adapter_config.json").read_text())
        scale = acfg["lora_alpha"] / acfg["r"]
        with safe_open(str(case_dir / "adapter" / "adapter_model.safetensors"), framework="np") as f:
            for k in f.keys():
                lora[k[len("base_model.model.") :]] = f.get_tensor(k).astype(np.float64)

    def lin(x, name):
        y = x @ W[name + ".weight"].T
        if name + ".lora_A.weight" in lora:
            y = y + scale * ((x @ lora[name + ".lora_A.weight"].T) @ lora[name + ".lora_B.weight"].T)
        return y

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    B, T = input_ids.shape
    inv_freq = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)  # [d/2]
    ang = np.arange(T, dtype=np.float64)[:, None] * inv_freq[None, :]  # [T, d/2]
    c, s_ = np.cos(ang), np.sin(ang)

    def rope(v):  # v: [B, T, nh, d]
        a, b = v[..., : d // 2], v[..., d // 2 :]
        cc, ss = c[None, :, None, :], s_[None, :, None, :]
        return np.concatenate([a * cc - b * ss, b * cc + a * ss], axis=-1)

    h = W["model.embed_tokens.weight"][input_ids]
    causal = np.tril(np.ones((T, T), dtype=bool))
    for L in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{L}."
        n = rms(h, W[p + "input_layernorm.weight"])
        q = rope(lin(n, p + "self_attn.q_proj").reshape(B, T, H, d))
        k = rope(lin(n, p + "self_attn.k_proj").reshape(B, T, Hkv, d))
        v = lin(n, p + "self_attn.v_proj").reshape(B, T, Hkv, d)
        out = np.zeros((B, T, H, d))
        for hh in range(H):
            kv = hh // (H // Hkv)
            sc = np.einsum("btd,bsd->bts", q[:, :, hh], k[:, :, kv]) / np.sqrt(d)
            sc = np.where(causal[None], sc, -np.inf)
            sc = np.exp(sc - sc.max(-1, keepdims=True))
            sc = sc / sc.sum(-1, keepdims=True)
            out[:, :, hh] = np.einsum("bts,bsd->btd", sc, v[:, :, kv])
        h = h + lin(out.reshape(B, T, H * d), p + "self_attn.o_proj")
        n = rms(h, W[p + "post_attention_layernorm.weight"])
        g = lin(n, p + "mlp.gate_proj")
        h = h + lin(g / (1.0 + np.exp(-g)) * lin(n, p + "mlp.up_proj"), p + "mlp.down_proj")
    h = rms(h, W["model.norm.weight"])
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    return h @ head.T


def safetensors_dtypes(path: Path) -> dict:
    out = {}
    with safe_open(str(path), framework="np") as f:
        for k in f.keys():
            out[k] = str(f.get_tensor(k).dtype)
    return out


def capture_hidden(model: LlamaForCausalLM) -> tuple[dict, list]:
    """Forward hooks recording embedding / per-layer / final-norm outputs."""
    store: dict = {}
    handles = []

    def hook(name):
        def fn(_mod, _inp, out):
            t = out[0] if isinstance(out, tuple) else out
            store[name] = t.detach().clone()

        return fn

    inner = model.model
    handles.append(inner.embed_tokens.register_forward_hook(hook("base_hidden.embed")))
    for i, layer in enumerate(inner.layers):
        handles.append(layer.register_forward_hook(hook(f"base_hidden.layer.{i}")))
    handles.append(inner.norm.register_forward_hook(hook("base_hidden.final_norm")))
    return store, handles


def run_case(name: str, case: dict, out_root: Path, vers: dict) -> dict:
    out = out_root / name
    out.mkdir(parents=True, exist_ok=True)
    seed = case["seed"]
    torch.manual_seed(seed)

    # ---------------- base model ----------------
    cfg = make_config(case)
    model = LlamaForCausalLM(cfg).to(torch.float32)
    model.eval()
    init_weights(model, torch.Generator().manual_seed(seed))
    if cfg.tie_word_embeddings:
        assert model.lm_head.weight is model.model.embed_tokens.weight, "tied weights not shared"
    else:
        assert model.lm_head.weight is not model.model.embed_tokens.weight
    assert model.config._attn_implementation == "eager"
    model.save_pretrained(out / "base", safe_serialization=True)
    base_dtypes = safetensors_dtypes(out / "base" / "model.safetensors")
    assert all(v == "float32" for v in base_dtypes.values()), base_dtypes
    assert ("lm_head.weight" in base_dtypes) == (not cfg.tie_word_embeddings), sorted(base_dtypes)

    # ---------------- batch ----------------
    gen_data = torch.Generator().manual_seed(seed + 1)
    input_ids = torch.randint(0, cfg.vocab_size, (BATCH, SEQ), generator=gen_data, dtype=torch.int64)
    labels = input_ids.clone()
    labels[:, : SEQ - N_COUNTED] = -100
    attention_mask = torch.ones_like(input_ids)

    # ---------------- PEFT / LoRA ----------------
    peft_model = get_peft_model(model, lora_config())
    peft_model.eval()
    gen_lora = torch.Generator().manual_seed(seed + 2)
    lora_params = {}
    with torch.no_grad():
        for pname, p in peft_model.named_parameters():
            if ".lora_A." in pname or ".lora_B." in pname:
                p.copy_(INIT_STD * torch.randn(p.shape, generator=gen_lora, dtype=torch.float32))
                lora_params[pname] = p
    assert len(lora_params) == 2 * len(LORA_TARGETS) * cfg.num_hidden_layers, sorted(lora_params)
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert sorted(trainable) == sorted(lora_params), "base weights must be frozen"
    scaling = peft_model.base_model.model.model.layers[0].self_attn.q_proj.scaling["default"]
    assert scaling == LORA_ALPHA / LORA_R, scaling

    peft_model.zero_grad(set_to_none=True)
    outp = peft_model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    outp.loss.backward()
    logits = outp.logits.detach().clone()
    loss = outp.loss.detach().clone()

    tensors: dict[str, np.ndarray] = {}
    tensors["input_ids"] = to_np(input_ids).astype(np.int32)
    tensors["labels"] = to_np(labels).astype(np.int32)
    tensors["logits"] = to_np(logits).astype(np.float32)
    tensors["loss"] = np.array([loss.item()], dtype=np.float32)
    grad_norms = {}
    for pname, p in lora_params.items():
        assert p.grad is not None, pname
        key = "grad." + lora_key(pname)
        tensors[key] = to_np(p.grad).astype(np.float32)
        grad_norms[key] = float(np.linalg.norm(tensors[key]))
        assert grad_norms[key] > 0, key

    with torch.no_grad(), peft_model.disable_adapter():
        base_logits_disabled = peft_model(input_ids=input_ids, attention_mask=attention_mask).logits.clone()
    tensors["base_logits"] = to_np(base_logits_disabled).astype(np.float32)

    peft_model.save_pretrained(out / "adapter")
    # PEFT also writes a boilerplate model card. It carries no data, so drop it.
    (out / "adapter" / "README.md").unlink(missing_ok=True)
    adapter_file = out / "adapter" / "adapter_model.safetensors"
    ad_dtypes = safetensors_dtypes(adapter_file)
    assert all(v == "float32" for v in ad_dtypes.values()), ad_dtypes
    assert len(ad_dtypes) == len(lora_params), sorted(ad_dtypes)

    # ---------------- full fine-tuning gradients (fresh reload, no LoRA) ----------------
    base = LlamaForCausalLM.from_pretrained(out / "base", dtype=torch.float32, attn_implementation="eager")
    base.eval()
    if cfg.tie_word_embeddings:
        assert base.lm_head.weight is base.model.embed_tokens.weight
    for p in base.parameters():
        p.requires_grad_(True)
    store, handles = capture_hidden(base)
    base.zero_grad(set_to_none=True)
    outb = base(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    outb.loss.backward()
    for h in handles:
        h.remove()
    for k, v in store.items():
        tensors[k] = to_np(v).astype(np.float32)
    base_logits = outb.logits.detach()
    d = (base_logits - base_logits_disabled).abs().max().item()
    assert d < 1e-6, f"reloaded base logits differ from disable_adapter logits by {d}"
    tensors["base_loss"] = np.array([outb.loss.item()], dtype=np.float32)
    full_names = []
    for pname, p in base.named_parameters():
        assert p.grad is not None, pname
        key = "fullgrad." + pname
        tensors[key] = to_np(p.grad).astype(np.float32)
        grad_norms[key] = float(np.linalg.norm(tensors[key]))
        full_names.append(pname)
    assert sorted(full_names) == sorted(base_dtypes), (sorted(full_names), sorted(base_dtypes))

    # ---------------- reload check (base + adapter) ----------------
    base2 = LlamaForCausalLM.from_pretrained(out / "base", dtype=torch.float32, attn_implementation="eager")
    re_peft = PeftModel.from_pretrained(base2, out / "adapter")
    re_peft.eval()
    with torch.no_grad():
        re_logits = re_peft(input_ids=input_ids, attention_mask=attention_mask).logits
    reload_diff = (re_logits - logits).abs().max().item()
    assert reload_diff < 1e-6, f"reloaded PEFT logits differ by {reload_diff}"
    with torch.no_grad(), re_peft.disable_adapter():
        re_base = re_peft(input_ids=input_ids, attention_mask=attention_mask).logits
    reload_base_diff = (re_base - base_logits_disabled).abs().max().item()
    assert reload_base_diff < 1e-6, reload_base_diff

    # SDPA (HF's default attention backend) should agree with eager up to rounding.
    base3 = LlamaForCausalLM.from_pretrained(out / "base", dtype=torch.float32, attn_implementation="sdpa")
    base3.eval()
    with torch.no_grad():
        sdpa_logits = base3(input_ids=input_ids, attention_mask=attention_mask).logits
    sdpa_diff = (sdpa_logits - base_logits_disabled).abs().max().item()
    assert sdpa_diff < 1e-5, f"sdpa vs eager differ by {sdpa_diff}"

    # ---------------- independent numpy forward (documented conventions) ----------------
    ids_np = tensors["input_ids"].astype(np.int64)
    np_fwd_lora = numpy_llama_forward(out, ids_np, with_lora=True)
    np_fwd_base = numpy_llama_forward(out, ids_np, with_lora=False)
    np_fwd_diff = float(np.abs(np_fwd_lora - tensors["logits"]).max())
    np_fwd_base_diff = float(np.abs(np_fwd_base - tensors["base_logits"]).max())
    assert np_fwd_diff < 1e-5, f"numpy forward (LoRA) differs from HF by {np_fwd_diff}"
    assert np_fwd_base_diff < 1e-5, f"numpy forward (base) differs from HF by {np_fwd_base_diff}"
    head_w = base.lm_head.weight.detach()
    hook_diff = (store["base_hidden.final_norm"] @ head_w.T - base_logits).abs().max().item()
    assert hook_diff < 1e-5, hook_diff
    lora_effect = float(np.abs(tensors["logits"] - tensors["base_logits"]).max())
    assert lora_effect > 1e-2, f"LoRA barely changes logits ({lora_effect})"

    # ---------------- independent numpy loss check ----------------
    np_loss = numpy_causal_lm_loss(tensors["logits"], tensors["labels"])
    np_base_loss = numpy_causal_lm_loss(tensors["base_logits"], tensors["labels"])
    assert abs(np_loss - float(tensors["loss"][0])) < 1e-5, (np_loss, tensors["loss"])
    assert abs(np_base_loss - float(tensors["base_loss"][0])) < 1e-5, (np_base_loss, tensors["base_loss"])

    # ---------------- float64 recomputation: float32 noise floor ----------------
    fp64_dev = fp64_deviation(out, input_ids, attention_mask, labels, tensors)

    # ---------------- write ----------------
    for k, v in tensors.items():
        assert v.dtype in (np.float32, np.int32), (k, v.dtype)
        assert np.all(np.isfinite(v)), k
    save_file(dict(sorted(tensors.items())), str(out / "reference.safetensors"))

    # Round-trip the reference file.
    with safe_open(str(out / "reference.safetensors"), framework="np") as f:
        for k in f.keys():
            assert np.array_equal(f.get_tensor(k), tensors[k]), k

    max_logit = float(np.abs(tensors["logits"]).max())
    summary = {
        "case": name,
        "regenerate": "python3 tests/ref/llama_reference.py --out tests/fixtures/llama",
        "versions": vers,
        "pinned_versions": PINNED,
        "seed": seed,
        "config": {
            "vocab_size": cfg.vocab_size,
            "hidden_size": cfg.hidden_size,
            "intermediate_size": cfg.intermediate_size,
            "num_hidden_layers": cfg.num_hidden_layers,
            "num_attention_heads": cfg.num_attention_heads,
            "num_key_value_heads": cfg.num_key_value_heads,
            "head_dim": cfg.head_dim,
            "max_position_embeddings": cfg.max_position_embeddings,
            "rms_norm_eps": cfg.rms_norm_eps,
            "rope_theta": cfg.rope_parameters["rope_theta"],
            "rope_type": cfg.rope_parameters["rope_type"],
            "tie_word_embeddings": cfg.tie_word_embeddings,
            "hidden_act": cfg.hidden_act,
            "attention_bias": cfg.attention_bias,
            "mlp_bias": cfg.mlp_bias,
            "attn_implementation": "eager",
        },
        "init": {"linear_embedding_std": INIT_STD, "rmsnorm_weight": "1 + 0.1*N(0,1)", "lora_A_B_std": INIT_STD},
        "lora": {
            "r": LORA_R,
            "alpha": LORA_ALPHA,
            "scaling": scaling,
            "target_modules": LORA_TARGETS,
            "dropout": 0.0,
        },
        "batch": {
            "batch_size": BATCH,
            "seq_len": SEQ,
            "counted_label_positions": list(range(SEQ - N_COUNTED, SEQ)),
            "counted_logit_positions": list(range(SEQ - N_COUNTED - 1, SEQ - 1)),
            "num_counted_tokens": int((tensors["labels"][:, 1:] != -100).sum()),
        },
        "loss": float(tensors["loss"][0]),
        "base_loss": float(tensors["base_loss"][0]),
        "numpy_loss_check": np_loss,
        "numpy_base_loss_check": np_base_loss,
        "max_abs_logit": max_logit,
        "max_abs_base_logit": float(np.abs(tensors["base_logits"]).max()),
        "checks": {
            "reload_peft_logits_max_abs_diff": reload_diff,
            "reload_base_logits_max_abs_diff": reload_base_diff,
            "sdpa_vs_eager_logits_max_abs_diff": sdpa_diff,
            "numpy_fp64_forward_vs_logits_max_abs_diff": np_fwd_diff,
            "numpy_fp64_forward_vs_base_logits_max_abs_diff": np_fwd_base_diff,
            "lora_vs_base_logits_max_abs_diff": lora_effect,
        },
        "fp64_deviation": fp64_dev,
        "grad_norms": grad_norms,
        "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in sorted(tensors.items())},
        "base_safetensors": {k: v for k, v in sorted(base_dtypes.items())},
        "adapter_safetensors": {k: v for k, v in sorted(ad_dtypes.items())},
    }
    with open(out / "reference.json", "w") as f:
        json.dump(summary, f, indent=2, sort_keys=False)
        f.write("\n")

    print(f"[{name}] loss={summary['loss']:.6f} base_loss={summary['base_loss']:.6f} "
          f"max|logit|={max_logit:.4f} reload_diff={reload_diff:.2e} sdpa_diff={sdpa_diff:.2e} "
          f"numpy_fwd_diff={np_fwd_diff:.2e} lora_effect={lora_effect:.3f}")
    for k in sorted(grad_norms):
        print(f"[{name}]   |{k}| = {grad_norms[k]:.6e}")
    print(f"[{name}]   fp64 deviation: " + ", ".join(f"{k}={v:.2e}" for k, v in fp64_dev.items()))
    return summary


def fp64_causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Shifted, masked mean cross-entropy in the logits' own dtype (float64 here)."""
    lg = logits[:, :-1, :].reshape(-1, logits.shape[-1])
    tg = labels[:, 1:].reshape(-1)
    return torch.nn.functional.cross_entropy(lg, tg, ignore_index=-100, reduction="mean")


def fp64_deviation(out: Path, input_ids, attention_mask, labels, tensors) -> dict:
    """Recompute everything in float64. Report the max abs diff against the float32 results."""
    base = LlamaForCausalLM.from_pretrained(out / "base", dtype=torch.float32, attn_implementation="eager")
    base = base.to(torch.float64).eval()
    for p in base.parameters():
        p.requires_grad_(True)
    # The loss is computed here in float64 by hand: HF's loss_function upcasts with
    # .float(), which would round float64 logits back to float32.
    ob = base(input_ids=input_ids, attention_mask=attention_mask)
    ob.loss = fp64_causal_lm_loss(ob.logits, labels)
    ob.loss.backward()
    dev = {
        "base_logits": float(np.abs(to_np(ob.logits) - tensors["base_logits"]).max()),
        "base_loss": abs(ob.loss.item() - float(tensors["base_loss"][0])),
        "fullgrad": max(
            float(np.abs(to_np(p.grad) - tensors["fullgrad." + n]).max()) for n, p in base.named_parameters()
        ),
    }
    base2 = LlamaForCausalLM.from_pretrained(out / "base", dtype=torch.float32, attn_implementation="eager")
    pm = PeftModel.from_pretrained(base2, out / "adapter", is_trainable=True).to(torch.float64).eval()
    op = pm(input_ids=input_ids, attention_mask=attention_mask)
    op.loss = fp64_causal_lm_loss(op.logits, labels)
    op.loss.backward()
    dev["logits"] = float(np.abs(to_np(op.logits) - tensors["logits"]).max())
    dev["loss"] = abs(op.loss.item() - float(tensors["loss"][0]))
    lg = []
    for n, p in pm.named_parameters():
        if ".lora_A." in n or ".lora_B." in n:
            lg.append(float(np.abs(to_np(p.grad) - tensors["grad." + lora_key(n)]).max()))
    assert len(lg) > 0
    dev["lora_grad"] = max(lg)
    return dev


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("tests/fixtures/llama"), help="output folder")
    args = ap.parse_args()

    vers = check_versions()
    setup_determinism()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)

    args.out.mkdir(parents=True, exist_ok=True)
    for name, case in CASES.items():
        run_case(name, case, args.out, vers)

    total = dir_size(args.out)
    print(f"total fixture size under {args.out}: {total} bytes")
    assert total < 1_000_000, f"fixtures too large: {total} bytes"
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
