#!/usr/bin/env python3
"""Reference fixtures for the LLaMA family's real architectures in collide's C model.

Regenerating the fixtures
=========================
From the repository root (CPU only, no network):

    /usr/bin/python3 tests/ref/llama_families.py --out tests/fixtures/llama

It writes (and overwrites) ``tests/fixtures/llama/{llama3,llama_bias,qwen2,mistral}/``,
each in the layout of tests/ref/llama_reference.py's cases (``base/``,
``adapter/``, ``reference.safetensors``, ``reference.json``), so that
tests/model/test_model_ref.c checks them the same way. Deterministic: fixed seeds,
one thread, deterministic algorithms, eager attention, PYTHONHASHSEED=0 (re-exec).

Pinned versions (the ones the committed fixtures came from; a WARNING, not an
error, when they differ):

    python        3.11.7
    torch         2.15.0 (CPU)
    transformers  5.23.0
    peft          0.21.2
    safetensors   0.8.0
    numpy         2.4.6

Cases (vocab 320, hidden 32, intermediate 32, 2 layers, batch 2 x 12 tokens, the last 4 labels
counted; every Linear/Embedding weight and bias N(0, 0.1^2), norms 1 + 0.1 N(0, 1);
PEFT LoRA r 4, alpha 8 on q_proj, k_proj, v_proj, o_proj, A and B N(0, 0.1^2)):

``llama3/``     LlamaConfig, rope_parameters {rope_type llama3, factor 8,
                low_freq_factor 1, high_freq_factor 4,
                original_max_position_embeddings 64}, max_position 256: with head_dim
                12 the 6 frequencies fall in all three regimes of the remapping (kept,
                smoothed, divided by the factor). 4 query heads, 2 KV heads, head_dim 12
                given explicitly (not hidden / heads = 8), untied head, float32.
``llama_bias/`` LlamaConfig, attention_bias true (transformers' LlamaAttention puts a
                bias on q, k, v AND o_proj), rope_parameters {rope_type linear,
                factor 2}, tied head, 4 heads = 4 KV heads, float32.
``qwen2/``      Qwen2Config (q, k, v biases, none on o_proj), rope_theta 1e6, tied head
                (as Qwen2.5-0.5B), 4 query / 2 KV heads, use_sliding_window false,
                weights stored as F16 (the float32 model's weights rounded to float16
                before anything is computed, so collide's load reproduces them exactly).
``mistral/``    MistralConfig, sliding_window 4096 (longer than every sequence: plain
                causal attention), untied, 4 / 2 heads, weights stored as BF16 (rounded
                likewise) and SHARDED with max_shard_size 20KB:
                model-0000k-of-0000n.safetensors + model.safetensors.index.json.

Tokenizers: each base/ also holds the tokenizer of its family's kind, cut from
tests/fixtures/tokenizers/ (built by tests/ref/tokenizers_ref.py with PyPI's tokenizers) to the
fixtures' 320 ids, so that collide-train trains each base with its own tokenizer
(tests/model/test_family_train.sh):

``llama3``      the llama3 kind (Split by the Llama-3 regex + ByteLevel, ignore_merges,
                TemplateProcessing "<|begin_of_text|> $A": BOS 0, EOS <|end_of_text|> 1)
``llama_bias``  the smollm kind (Digits + ByteLevel, no post-processor: no BOS; EOS
                <|im_end|> 2), as SmolLM2 (a llama model) has
``qwen2``       the qwen2 kind (NFC, Split by the Qwen2 regex + ByteLevel; no BOS; EOS
                <|endoftext|> 0)
``mistral``     the tinyllama kind (SentencePiece-style BPE: Prepend/Replace normalizer,
                byte fallback with <0x00>..<0xFF> at ids 3-258, TemplateProcessing
                "<s> $A": BOS 1, EOS </s> 2), as Mistral-7B-v0.1 and TinyLlama have

The byte-level kinds keep their first 320 ids (specials, the 256 byte symbols, the first 61
merges) and the merges among them. The SentencePiece kind keeps its specials and 256 byte
tokens, then "\u2581" and a-z, then the fixture's merges in rank order whose parts are kept,
renumbered to 259..319 (its first 320 ids would be characters only). The model's config.json
bos_token_id / eos_token_id are the tokenizer's. None of this changes a weight or a reference
value: the random models depend on the seeds and shapes only.

reference.safetensors holds, as llama_reference.py's: input_ids, labels (int32),
logits / loss (LoRA on), base_logits / base_loss (LoRA off), grad.<module>.lora_A/B,
fullgrad.<HF name> (d base_loss / d weight for every base parameter but the embedding
and lm_head, biases included: those two are the largest tensors, their gradients
take no new code path, and the gqa/tied fixtures check them).
reference.json adds fp64_deviation: the largest difference between these float32
values and the same computation in float64 (the noise floor of float32).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
import peft  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402
from transformers import (  # noqa: E402
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

PINNED = {"python": "3.11.7", "torch": "2.15.0", "transformers": "5.23.0", "peft": "0.21.2",
          "safetensors": "0.8.0", "numpy": "2.4.6"}
INIT_STD = 0.1
LORA_R, LORA_ALPHA = 4, 8
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
BATCH, SEQ, N_COUNTED = 2, 12, 4
VOCAB = 320

COMMON = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=32, num_hidden_layers=2,
              num_attention_heads=4, rms_norm_eps=1e-5, hidden_act="silu", pad_token_id=None)
TOKENIZERS = Path(__file__).resolve().parent.parent / "fixtures" / "tokenizers"
# family -> (tokenizer kind, bos_token_id, eos_token_id of config.json: the tokenizer's)
TOKENIZER_KIND = {"llama3": ("llama3", 0, 1), "llama_bias": ("smollm", None, 2),
                  "qwen2": ("qwen2", None, 0), "mistral": ("tinyllama", 1, 2)}


def ids_of(kind: str) -> dict:
    bos, eos = TOKENIZER_KIND[kind][1:]
    return dict(bos_token_id=bos, eos_token_id=eos)

CASES = {
    "llama3": dict(
        seed=2101, cls=LlamaForCausalLM, dtype=torch.float32, shard=None,
        config=lambda: LlamaConfig(
            **COMMON, **ids_of("llama3"), num_key_value_heads=2, head_dim=12, max_position_embeddings=256,
            tie_word_embeddings=False, attention_bias=False, mlp_bias=False,
            rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
                             "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                             "original_max_position_embeddings": 64})),
    "llama_bias": dict(
        seed=2102, cls=LlamaForCausalLM, dtype=torch.float32, shard=None,
        config=lambda: LlamaConfig(
            **COMMON, **ids_of("llama_bias"), num_key_value_heads=4, max_position_embeddings=256,
            tie_word_embeddings=True, attention_bias=True, mlp_bias=False,
            rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0})),
    "qwen2": dict(
        seed=2103, cls=Qwen2ForCausalLM, dtype=torch.float16, shard=None,
        config=lambda: Qwen2Config(
            **COMMON, **ids_of("qwen2"), num_key_value_heads=2, max_position_embeddings=256,
            tie_word_embeddings=True, use_sliding_window=False,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})),
    "mistral": dict(
        seed=2104, cls=MistralForCausalLM, dtype=torch.bfloat16, shard="20KB",
        config=lambda: MistralConfig(
            **COMMON, **ids_of("mistral"), num_key_value_heads=2, max_position_embeddings=256,
            tie_word_embeddings=False, sliding_window=4096,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
}


def versions() -> dict:
    v = {"python": sys.version.split()[0], "torch": torch.__version__,
         "transformers": transformers.__version__, "peft": peft.__version__,
         "safetensors": safetensors.__version__, "numpy": np.__version__}
    for k, want in PINNED.items():
        if not v[k].startswith(want):
            print(f"WARNING: {k} {v[k]}, the fixtures were made with {want}", file=sys.stderr)
    return v


def init_weights(model, gen: torch.Generator, dtype) -> None:
    """N(0, 0.1^2) everywhere but the norms (1 + 0.1 N); then rounded through the
    storage dtype, so that the float32 model holds exactly what the file will."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            x = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            p.copy_(1.0 + 0.1 * x if "norm" in name else INIT_STD * x)
            p.copy_(p.to(dtype).to(torch.float32))


def lora_key(peft_name: str) -> str:
    assert peft_name.startswith("base_model.model.") and peft_name.endswith(".default.weight")
    return peft_name[len("base_model.model."):-len(".default.weight")]


def to_np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy())


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    lg = logits[:, :-1, :].reshape(-1, logits.shape[-1])
    return torch.nn.functional.cross_entropy(lg, labels[:, 1:].reshape(-1), ignore_index=-100)


def lora_model(model, seed: int):
    pm = get_peft_model(model, LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA,
                                          target_modules=list(LORA_TARGETS), lora_dropout=0.0,
                                          bias="none", task_type="CAUSAL_LM"))
    pm.eval()
    gen = torch.Generator().manual_seed(seed)
    params = {}
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if ".lora_A." in n or ".lora_B." in n:
                p.copy_(INIT_STD * torch.randn(p.shape, generator=gen, dtype=torch.float32))
                params[n] = p
    assert len(params) == 2 * len(LORA_TARGETS) * model.config.num_hidden_layers
    return pm, params


def compute(model_cls, base_dir: Path, adapter_dir: Path | None, lora_seed: int, ids, labels,
            dtype) -> dict:
    """Logits, loss, LoRA gradients (LoRA on) and base logits, loss, full gradients
    (LoRA off, every base weight trainable), in dtype."""
    out = {}
    base = model_cls.from_pretrained(base_dir, dtype=torch.float32, attn_implementation="eager")
    base = base.to(dtype).eval()
    for p in base.parameters():
        p.requires_grad_(True)
    ob = base(input_ids=ids, attention_mask=torch.ones_like(ids))
    loss = causal_lm_loss(ob.logits, labels)
    loss.backward()
    out["base_logits"] = ob.logits.detach().clone()
    out["base_loss"] = loss.detach().reshape(1)
    for n, p in base.named_parameters():
        if n not in ("model.embed_tokens.weight", "lm_head.weight"):  # size: see the docstring
            out["fullgrad." + n] = p.grad.detach().clone()
    base2 = model_cls.from_pretrained(base_dir, dtype=torch.float32, attn_implementation="eager")
    pm, params = lora_model(base2, lora_seed)
    pm = pm.to(dtype)
    params = {n: p for n, p in pm.named_parameters() if n in params}
    o = pm(input_ids=ids, attention_mask=torch.ones_like(ids))
    loss = causal_lm_loss(o.logits, labels)
    loss.backward()
    out["logits"] = o.logits.detach().clone()
    out["loss"] = loss.detach().reshape(1)
    for n, p in params.items():
        out["grad." + lora_key(n)] = p.grad.detach().clone()
    if adapter_dir is not None:
        pm.save_pretrained(adapter_dir)
        (adapter_dir / "README.md").unlink(missing_ok=True)
    return out


def merge_parts(m) -> tuple:
    return tuple(m.split(" ")) if isinstance(m, str) else tuple(m)


def family_tokenizer(kind: str, keep: int = VOCAB) -> tuple[dict, dict]:
    """The fixture tokenizer of this kind cut to `keep` ids (see the docstring), checked to
    load in `tokenizers` with exactly `keep` ids; and its tokenizer_config.json."""
    from tokenizers import Tokenizer
    src = TOKENIZERS / kind
    j = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    cfg = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8"))
    vocab, merges = j["model"]["vocab"], j["model"]["merges"]
    if j["model"].get("byte_fallback"):
        base = [s for s, i in sorted(vocab.items(), key=lambda kv: kv[1]) if i < 259]
        kept = base + [c for c in "\u2581abcdefghijklmnopqrstuvwxyz" if c in vocab]
        have = set(kept)
        ms = []
        for m in merges:
            a, b = merge_parts(m)
            if len(kept) >= keep:
                break
            if a in have and b in have and a + b in vocab and a + b not in have:
                kept.append(a + b)
                have.add(a + b)
                ms.append(m)
        new = {s: i for i, s in enumerate(kept)}
    else:
        new = {s: i for s, i in vocab.items() if i < keep}
        ms = [m for m in merges
              if all(p in new for p in merge_parts(m)) and "".join(merge_parts(m)) in new]
    assert len(new) == keep, (kind, len(new))
    j["model"] = dict(j["model"], vocab=new, merges=ms)
    j["added_tokens"] = [dict(a, id=new[a["content"]]) for a in j["added_tokens"]
                         if a["content"] in new]
    tok = Tokenizer.from_str(json.dumps(j))
    assert tok.get_vocab_size(with_added_tokens=True) == keep, kind
    return j, cfg


def write_tokenizer(family: str, base: Path, cfg) -> None:
    kind, bos, eos = TOKENIZER_KIND[family]
    j, tcfg = family_tokenizer(kind)
    v = j["model"]["vocab"]
    assert v[tcfg["eos_token"]] == eos == cfg.eos_token_id, (family, eos)
    if bos is not None:
        assert v[tcfg["bos_token"]] == bos == cfg.bos_token_id, (family, bos)
    with open(base / "tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    with open(base / "tokenizer_config.json", "w", encoding="utf-8") as f:
        json.dump(tcfg, f, indent=1)
        f.write("\n")


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_case(name: str, case: dict, root: Path, vers: dict) -> None:
    out = root / name
    if out.exists():
        for p in sorted(out.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
    out.mkdir(parents=True, exist_ok=True)
    seed = case["seed"]
    torch.manual_seed(seed)
    cfg = case["config"]()
    cfg._attn_implementation = "eager"
    model = case["cls"](cfg).to(torch.float32).eval()
    init_weights(model, torch.Generator().manual_seed(seed), case["dtype"])
    save_kw = {"max_shard_size": case["shard"]} if case["shard"] else {}
    model.to(case["dtype"]).save_pretrained(out / "base", **save_kw)
    (out / "base" / "generation_config.json").unlink(missing_ok=True)
    write_tokenizer(name, out / "base", cfg)
    files = sorted(p.name for p in (out / "base").iterdir())
    if case["shard"]:
        assert "model.safetensors.index.json" in files and len(files) > 3, files
    # every stored tensor has the case's dtype
    want = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}[case["dtype"]]
    for f in files:
        if f.endswith(".safetensors"):
            with open(out / "base" / f, "rb") as fh:
                n = int.from_bytes(fh.read(8), "little")
                hdr = json.loads(fh.read(n))
            assert all(v["dtype"] == want for k, v in hdr.items() if k != "__metadata__"), f

    gen = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(0, VOCAB, (BATCH, SEQ), generator=gen, dtype=torch.int64)
    labels = ids.clone()
    labels[:, :SEQ - N_COUNTED] = -100

    r32 = compute(case["cls"], out / "base", out / "adapter", seed + 2, ids, labels, torch.float32)
    r64 = compute(case["cls"], out / "base", None, seed + 2, ids, labels, torch.float64)
    # HF's own loss agrees with the hand-shifted one
    m = case["cls"].from_pretrained(out / "base", dtype=torch.float32, attn_implementation="eager")
    with torch.no_grad():
        hf = m(input_ids=ids, labels=labels).loss.item()
    assert abs(hf - r32["base_loss"].item()) < 1e-6, (hf, r32["base_loss"])
    # the float32 model really is the one stored (the rounding was exact)
    d = (m(input_ids=ids).logits - r32["base_logits"]).abs().max().item()
    assert d == 0.0, d
    lora_effect = (r32["logits"] - r32["base_logits"]).abs().max().item()
    assert lora_effect > 1e-2, lora_effect

    tensors = {"input_ids": to_np(ids).astype(np.int32), "labels": to_np(labels).astype(np.int32)}
    dev = {}
    for k, v in r32.items():
        tensors[k] = to_np(v).astype(np.float32)
        group = k.split(".")[0]
        e = (v.double() - r64[k]).abs().max().item() / max(r64[k].abs().max().item(), 1e-30)
        dev[group] = max(dev.get(group, 0.0), e)
        assert np.all(np.isfinite(tensors[k])), k
    save_file(dict(sorted(tensors.items())), str(out / "reference.safetensors"))
    with safe_open(str(out / "reference.safetensors"), framework="np") as f:
        for k in f.keys():
            assert np.array_equal(f.get_tensor(k), tensors[k]), k

    summary = {
        "case": name,
        "regenerate": "/usr/bin/python3 tests/ref/llama_families.py --out tests/fixtures/llama",
        "versions": vers,
        "pinned_versions": PINNED,
        "seed": seed,
        "model_type": cfg.model_type,
        "storage_dtype": want,
        "tokenizer_kind": TOKENIZER_KIND[name][0],
        "sharded": bool(case["shard"]),
        "base_files": files,
        "lora": {"r": LORA_R, "alpha": LORA_ALPHA, "target_modules": LORA_TARGETS},
        "batch": {"batch_size": BATCH, "seq_len": SEQ, "num_counted_tokens": BATCH * N_COUNTED},
        "loss": float(tensors["loss"][0]),
        "base_loss": float(tensors["base_loss"][0]),
        "lora_vs_base_logits_max_abs_diff": lora_effect,
        "fp64_deviation_relative_to_max": dev,
    }
    with open(out / "reference.json", "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(f"[{name}] {cfg.model_type} {want} files={len(files)} loss={summary['loss']:.6f} "
          f"base_loss={summary['base_loss']:.6f} size={dir_size(out)} fp64 dev: "
          + ", ".join(f"{k}={v:.1e}" for k, v in dev.items()))
    assert dir_size(out) < 310_000, dir_size(out)  # ~300 KB; the tokenizer adds 5-7 KB


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("tests/fixtures/llama"))
    ap.add_argument("--case", action="append", help="only these cases")
    args = ap.parse_args()
    vers = versions()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    for name, case in CASES.items():
        if not args.case or name in args.case:
            run_case(name, case, args.out, vers)
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
