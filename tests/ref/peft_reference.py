#!/usr/bin/env python3
"""PEFT ground-truth generator for collide's C tests.

Trains tiny LoRA adapters with the real Hugging Face PEFT library, saves them
exactly as users' tools would (``save_pretrained``), and records what PEFT
itself says they mean (delta weights, ranks, scalings) plus reference metrics
computed with numpy.  collide's C tests compare their importer, delta formation,
metrics and exporter against these files.

Pinned versions (the fixtures in tests/fixtures/peft were produced with these;
the script warns at run time when the installed versions differ):

    python        3.11
    torch         2.15.0   (CPU build; the "+cu132" local tag is ignored)
    transformers  5.23.0
    peft          0.21.2
    safetensors   0.8.0
    numpy         2.4.6

Modes
=====

Regenerate all fixtures (about 20 s on 2 CPU cores; run from the repository
root so the recorded paths match)::

    python3 tests/ref/peft_reference.py --out tests/fixtures/peft

Everything is seeded (torch.manual_seed / numpy default_rng with fixed seeds,
one intra-op thread, deterministic algorithms; the script re-executes itself
with PYTHONHASHSEED=0 because PEFT writes target_modules from a Python set), so
a re-run on the same machine and library versions reproduces every file byte
for byte (checked: two runs in different directories gave identical trees).
The path given to --out ends up in each adapter_config.json's
base_model_name_or_path (PEFT records the path the base was loaded from).  On another CPU / BLAS
the trained weights may differ in the last bits; the ground truth is always
recomputed from the saved files, so a regenerated set is self-consistent, but
commit the whole directory together.

Round-trip check of an exported adapter (Part 5)::

    python3 tests/ref/peft_reference.py --roundtrip ORIG_DIR EXPORTED_DIR \
        --base BASE_DIR --family llama|gpt2|t5 [--rtol 1e-5]

    The base is loaded three times (alone, + ORIG, + EXPORTED, each with
    PeftModel.from_pretrained; 16-bit adapter weights are compared through
    their exact float32 upcasts, so a BF16 original and an F32 export of the
    same values compare equal).  A fixed input (seed 1234; T5 also gets
    decoder_input_ids) is run and the logits compared in float64.  PASS needs:
    the same set of lora_A/lora_B (module, tensor) names in both files;
    max |logits_orig - logits_exp| <= rtol * max |logits_orig|; that diff
    <= 1% of the adapter's own effect max |logits_orig - logits_base| (and a
    non-zero effect); and, per module, max |dW_orig - dW_exp| <= rtol *
    max |dW_orig| with dW from get_delta_weight.  Prints one line starting
    "ROUNDTRIP PASS" / "ROUNDTRIP FAIL: ..." and exits 0 / 1 (1 also when an
    adapter cannot be loaded).  --family t5_olora is accepted as t5.

Self-test of the round-trip mode (for llama/task1, llama/task1_f16,
gpt2/task1 (BF16), t5/task2 (rank_pattern): the original vs. a byte copy and
vs. an F32 upcast copy must pass; a copy with one lora_B entry moved by 5% of
max |B| must fail)::

    python3 tests/ref/peft_reference.py --selftest-roundtrip --out tests/fixtures/peft

Sanity listing of the real adapters in ../shared/real-adapters (read-only; only
opened, never copied)::

    python3 tests/ref/peft_reference.py --inspect-real /work/shared/real-adapters

Layout of tests/fixtures/peft (``--out``)
=========================================

``<family>/base/``  (family = llama | gpt2 | t5)
    The tiny random base model, ``save_pretrained`` (config.json,
    generation_config.json, model.safetensors, float32).  Reload with
    AutoModelForCausalLM (llama, gpt2) / AutoModelForSeq2SeqLM (t5).

    * llama: LlamaForCausalLM, vocab 64, hidden 32, intermediate 48, 2 layers,
      4 heads, 2 KV heads (GQA: v_proj is 16 x 32, q_proj 32 x 32),
      targets ["q_proj", "v_proj"].
    * gpt2: GPT2LMHeadModel, vocab 64, n_embd 32, 2 layers, 4 heads,
      n_positions 32, targets ["c_attn"] (transformers Conv1D, weight stored
      [in=32, out=96]), fan_in_fan_out=True.
    * t5: T5ForConditionalGeneration, vocab 64, d_model 32, d_kv 8, d_ff 48,
      2 encoder + 2 decoder blocks, 4 heads, targets ["q", "v"]; PEFT matches
      12 modules: encoder.block.N.layer.0.SelfAttention.{q,v},
      decoder.block.N.layer.0.SelfAttention.{q,v},
      decoder.block.N.layer.1.EncDecAttention.{q,v}.

``<family>/<task>/``  (task1, task2; plus llama/task1_f16)
    ``adapter_config.json`` + ``adapter_model.safetensors`` exactly as PEFT's
    ``save_pretrained`` wrote them (the model-card README.md PEFT also writes is
    deleted).  LoRA r=4, lora_alpha=8, dropout 0, trained 8 AdamW steps
    (lr 1e-2) on a task-specific random token set, so lora_B is clearly
    non-zero.  Variations:

    * llama/task1: F32.  llama/task1_f16: the same weights cast to float16.
    * llama/task2: ``use_rslora=True`` (scaling = alpha/sqrt(r) = 4.0).
    * gpt2/task1, gpt2/task2: adapter weights cast to bfloat16 before saving
      (file dtype BF16).  fan_in_fan_out=True.
    * t5/task1: F32 plain.  t5/task2: ``rank_pattern`` =
      {"decoder.block.0.layer.1.EncDecAttention.q": 3} (r=3, so scaling = 8/3,
      which is not exactly representable: float32(8/3) matters) and
      ``alpha_pattern`` = {"encoder.block.1.layer.0.SelfAttention.v": 20}
      (scaling 20/4 = 5.0).  PEFT treats each pattern key as a regular
      expression matched with ``re.match(rf"(.*\\.)?({key})$", module_path)``
      (first matching key wins; unmatched modules take r / lora_alpha), and
      writes the dicts verbatim into adapter_config.json.

    Tensor keys are PEFT's on-disk names:
    ``base_model.model.<module path>.lora_A.weight`` [r, d_in] and
    ``base_model.model.<module path>.lora_B.weight`` [d_out, r] (the adapter name
    "default" is stripped on save).  For GPT-2 Conv1D (fan_in_fan_out) the
    files STILL hold lora_A [r, in] and lora_B [out, r] (PEFT builds them as
    nn.Linear(in, r) / nn.Linear(r, out) from the Conv1D's weight.shape =
    (in, out)); only the merged update is transposed.

    ``expected_delta.safetensors`` (float32)
        PEFT's own delta per adapted module: the saved adapter is reloaded with
        ``PeftModel.from_pretrained`` onto the reloaded saved base (16-bit
        adapter weights become float32 parameters; values are the exact
        upcasts), then ``layer.get_delta_weight("default")`` is stored.  Keys
        are module paths without ``base_model.model.`` and without the adapter
        name, e.g. ``model.layers.0.self_attn.q_proj``,
        ``transformer.h.0.attn.c_attn``,
        ``encoder.block.0.layer.0.SelfAttention.q``.  Orientation is always
        nn.Linear's [d_out, d_in].  NOTE for GPT-2: PEFT's get_delta_weight
        returns ``transpose(B @ A, fan_in_fan_out) * scaling``, i.e. the
        transposed update with shape [d_in, d_out] = [32, 96] (the Conv1D
        weight layout); this script transposes it back to [96, 32] before
        storing.  get_delta_weight computes ``(B @ A) * scaling`` with a torch
        float32 matmul (BLAS order) and then one float32 multiply.

    ``collide_delta.safetensors`` (float32)
        The same deltas formed the way collide's C code forms them (see
        "collide delta formation" below), bit-exact.  Same keys/orientation.

        On the generating machine collide_delta and expected_delta were
        bit-identical for every module of every adapter (max |diff| = 0): torch's
        CPU float32 matmul with k = r <= 4 accumulates exactly like the fma
        chain, and torch multiplies by the scaling as a float32 scalar.  Another
        BLAS may differ from PEFT in the last bit; collide_delta does not depend
        on BLAS.

    ``expected.json``
        file dtype (from the safetensors header), the adapter_config.json
        fields that matter, and per module: r, lora_alpha, scaling (as PEFT's
        layer.scaling holds it, after rank_pattern / alpha_pattern / rslora),
        scaling_f32 and its bit pattern, d_out, d_in, the on-disk A/B keys and
        shapes, the shape get_delta_weight returned, and
        max |collide delta - PEFT delta| (absolute and relative to max |PEFT|).

``<family>/metrics.json``  (llama, gpt2, t5; and t5_olora for its 3 tasks)
    Reference metrics computed with numpy in float64 from the float32 collide
    delta dW_t (d_out x d_in) and the float32 A/B as read from the files:

    per task and module: nuclear (sum of singular values, np.linalg.svd),
    frobenius, spectral, count (#singular values > 0.01 * sigma_1),
    l1 (sum |dW|), hoyer = (sqrt(n) - l1/l2)/(sqrt(n) - 1), n = d_out*d_in,
    l2 = Frobenius; and per threshold mode the threshold tau (float32 value and
    bit pattern), the active count and density:

    * ``energy:0.99``: a = |dW| flattened (float32); a_sorted = descending
      sort; cs = np.cumsum(a_sorted.astype(float64)**2) (a sequential
      left-to-right float64 sum); target = 0.99 * cs[-1];
      k = np.searchsorted(cs, target, side='left'); tau = a_sorted[k];
      active = (a >= tau) & (a > 0).  Also recorded: k, cs[-1], target and
      energy_margin_rel = min(cs[k] - target, target - cs[k-1]) / cs[-1] (the
      slack before a differently-rounded sum would change k; >= 2e-6 in these
      fixtures, so a C float64 sum in the same order reproduces k exactly).
    * ``rel:0.1``: tau = np.float32(0.1 * float(a.max())) (float64 product,
      one rounding to float32); active = a > tau.

    per task pair and module: for each threshold mode collision_rate =
    mean(active_1 & active_2), jaccard = |and| / |or| (0 when |or| = 0), and the
    counts; oo = ||A_1 A_2^T||_F^2 (A = lora_A [r, d_in] as stored, unscaled);
    cosine = <dW_1, dW_2>_F / (||dW_1|| ||dW_2||); awom = ||dW_1^T dW_2||_F^2;
    sim_a = ||Q_1^T Q_2||_F^2 / min(r_1, r_2) with Q_t from np.linalg.qr(A_t^T)
    (row spaces of A); sim_b likewise with np.linalg.qr(B_t) (column spaces of
    B = lora_B [d_out, r]).  Aggregates: mean collision rate / jaccard over
    modules per mode, sum of oo over modules, mean nuclear norm per task.

``t5_olora/``  O-LoRA / N-LoRA cumulative checkpoint (Part 4)
    ``task1``, ``task2``, ``task3``: standard PEFT adapters (r=4, alpha=8,
    targets ["q","v"], F32) on the t5 base (``../t5/base``; not duplicated),
    trained in sequence the O-LoRA way: task t is trained on the base with
    tasks 1..t-1 merged in (frozen) and with O-LoRA's orthogonality penalty
    lamda_1 * sum_modules sum |A_prev A_new^T| (lamda_1 = 0.5).  Each has
    expected_delta / collide_delta / expected.json like above.

    ``cumulative/``: the state after task 3 in the layout of the O-LoRA fork
    of PEFT, as written with ``save_loranew=True``::

        base_model.model.<module>.lora_A.weight     [8, d_in]  = cat(A1, A2), dim 0
        base_model.model.<module>.lora_B.weight     [d_out, 8] = cat(B1, B2), dim 1
        base_model.model.<module>.loranew_A.weight  [4, d_in]  = A3
        base_model.model.<module>.loranew_B.weight  [d_out, 4] = B3

    adapter_config.json has the fork's LoraConfig fields (json.dumps(...,
    indent=2, sort_keys=True) as the fork's PeftConfigMixin.save_pretrained
    writes them): r=4 (current task), r_sum=8 (rank of lora_A/B),
    save_loranew=true, lora_alpha=8, ... .  ``cumulative_concat/`` is the same
    state as written with the fork's default ``save_loranew=False``: loranew
    folded into lora along the rank (lora_A [12, d_in], lora_B [d_out, 12]),
    no loranew keys, r_sum=12.  Both have an ``expected.json`` giving, per
    module, which rank slices belong to which task (rows of A / columns of B:
    task1 = 0:4, task2 = 4:8, task3 = 8:12 in the concat layout) and the
    scaling the fork applies (lora_alpha / r for lora_* and loranew_* alike).
    The fork writes ``adapter_model.bin`` (torch.save pickle, PEFT 0.3.0's
    WEIGHTS_NAME); these fixtures use ``adapter_model.safetensors`` with the
    same tensor names, because that is what collide reads.

    Naming sources (read through the code index, public GitHub):
    * cmnfriend/O-LoRA src/peft/tuners/lora.py (commit 2a2e620c):
      LoraConfig adds ``r_sum: int = 0`` ("dim of the previous LoRA
      parameters") and ``save_loranew: bool = False``; LoraLayer.update_layer
      creates ``loranew_A = nn.Linear(in, r)``, ``loranew_B = nn.Linear(r,
      out)``, ``lora_A = nn.Linear(in, r_sum)``, ``lora_B = nn.Linear(r_sum,
      out)`` and one ``scaling = lora_alpha / r``; Linear.forward adds
      lora_B(lora_A(x))*scaling + loranew_B(loranew_A(x))*scaling.
    * src/peft/utils/save_and_load.py of the fork (upstream cmnfriend/O-LoRA
      holds only the .pyc in the index; read in the verbatim forks
      Hoilap/O-LoRA @3f01e7f2 and LLSGYN/O-LoRA @7067320a):
      get_peft_model_state_dict, when save_loranew is False, replaces
      ``...lora_A...`` by torch.cat((lora_A, loranew_A), dim=0) and
      ``...lora_B...`` by torch.cat((lora_B, loranew_B), dim=1), sets
      config.r_sum = concatenated rank, keeps only keys containing "lora_";
      with save_loranew True it keeps "lora_" and "loranew_" keys.  Finally
      ``.default`` is stripped from every key.
    * cmnfriend/O-LoRA src/run_uie_lora.py: the next task loads the previous
      ``<output_dir>/adapter`` with PeftModel.from_pretrained, freezes
      "lora_" and trains "loranew_"; src/uie_trainer_lora.py: the
      orthogonality loss pairs ``lora_A`` with ``loranew_A`` by the key prefix
      before "lora_A"/"loranew_A" and adds sum |lora_A @ loranew_A^T|.
    * zyx303/O-LoRA src/peft/peft_model.py, src/peft/utils/config.py (a fork
      keeping the same save path): save_pretrained torch.saves WEIGHTS_NAME
      and then writes the config (so the config's r_sum is the updated one).
    * PKU-YuanGroup/N-LoRA: only its README is in the index; it uses the same
      scripts layout (scripts/order_N.sh, logs_and_outputs/...) as O-LoRA and
      is built on the O-LoRA code base, so the same names are assumed.

collide delta formation (the C code's, reproduced bit-exactly here)
===================================================================

For A = lora_A (r x d_in) and B = lora_B (d_out x r) as float32 and
s = float32(scaling)::

    acc = B[i,0] * A[0,j]                       (float32 product)
    acc = fma(B[i,k], A[k,j], acc), k = 1..r-1  (single-rounding float32 fma)
    dW[i,j] = float32(acc * s)

Python 3.11 has no math.fma, and a float64 ``a*b + c`` followed by a cast to
float32 is NOT always a correct float32 fma: a*b is exact in float64 (48-bit
significand) but the float64 sum rounds, and the second rounding to float32 can
go the wrong way when that float64 sum lands exactly on a float32 rounding
midpoint.  This script therefore computes s = p + c in float64, recovers the
exact error e of that addition with Knuth's TwoSum (so s + e == a*b + c
exactly), casts s to float32 (round-to-nearest-even) and, only where s is
exactly a float32 midpoint and e != 0, replaces the result by the neighbour on
the side of e.  (No other case can mis-round: a float32 midpoint strictly
between s and the exact value would be a float64 closer than s.)  The
emulation is checked at run time against exact rational arithmetic
(fractions.Fraction, with a correct rational->float32 rounding) and against
the C library's fmaf through ctypes, on random data and on constructed
midpoint cases; the results go into every metrics.json ("fma_selfcheck").
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import ctypes.util
import json
import math
import os
import shutil
import struct
import sys
import tempfile
import warnings
from fractions import Fraction

import numpy as np

PINNED = {
    "torch": "2.15.0",
    "transformers": "5.23.0",
    "peft": "0.21.2",
    "safetensors": "0.8.0",
    "numpy": "2.4.6",
}
PINNED_PYTHON = (3, 11)

F32 = np.float32
F64 = np.float64

ADAPTER = "default"
PREFIX = "base_model.model."
THRESHOLDS = ("energy:0.99", "rel:0.1")

FAMILIES = ("llama", "gpt2", "t5")
TRAIN_STEPS = 8
LR = 1e-2
OLORA_LAMBDA1 = 0.5


# --------------------------------------------------------------------------
# environment
# --------------------------------------------------------------------------

def check_versions():
    import peft
    import safetensors
    import torch
    import transformers

    got = {
        "torch": torch.__version__.split("+")[0],
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
    }
    for k, v in PINNED.items():
        if got[k] != v:
            warnings.warn(f"{k} {got[k]} differs from pinned {v}; fixtures may not reproduce bit for bit")
    if sys.version_info[:2] != PINNED_PYTHON:
        warnings.warn(f"python {sys.version_info[:2]} differs from pinned {PINNED_PYTHON}")
    got["python"] = "%d.%d.%d" % sys.version_info[:3]
    return got


def setup_torch():
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=".*base_model_name_or_path.*")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*fan_in_fan_out.*")


# --------------------------------------------------------------------------
# float helpers
# --------------------------------------------------------------------------

def f32_bits(x) -> str:
    return "0x%08x" % struct.unpack("<I", struct.pack("<f", float(np.float32(x))))[0]


def safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


def file_dtypes(path):
    h = safetensors_header(path)
    return sorted({v["dtype"] for k, v in h.items() if k != "__metadata__"})


def load_f32(path):
    """Tensors of a safetensors file as float32 numpy arrays (BF16/F16 upcast exactly)."""
    from safetensors.torch import load_file

    return {k: v.float().numpy().copy() for k, v in load_file(path).items()}


def fma32(a, b, c):
    """Correctly rounded float32 fused multiply-add a*b + c, elementwise (see module docstring)."""
    a = np.asarray(a, F32)
    b = np.asarray(b, F32)
    c = np.asarray(c, F32)
    p = a.astype(F64) * b.astype(F64)  # exact: 24+24 bit significands
    cc = np.broadcast_to(c.astype(F64), p.shape)
    s = p + cc
    bb = s - p  # TwoSum: s + e == p + cc exactly
    e = (p - (s - bb)) + (cc - bb)
    r = s.astype(F32)
    rd = r.astype(F64)
    with np.errstate(invalid="ignore", over="ignore"):
        toward = np.where(s > rd, F32(np.inf), F32(-np.inf)).astype(F32)
        other = np.nextafter(r, toward)
        mid = (rd + other.astype(F64)) * 0.5
        is_mid = (s != rd) & (mid == s) & (e != 0) & np.isfinite(s)
        fix = np.where(e > 0, np.maximum(r, other), np.minimum(r, other))
    return np.where(is_mid, fix, r).astype(F32), int(is_mid.sum())


def collide_delta(A, B, scale):
    """dW (d_out x d_in) exactly as collide forms it; A [r, d_in], B [d_out, r] float32."""
    A = np.asarray(A, F32)
    B = np.asarray(B, F32)
    r = A.shape[0]
    assert B.shape[1] == r
    acc = (B[:, 0:1] * A[0:1, :]).astype(F32)  # float32 product, correctly rounded
    for k in range(1, r):
        acc, _ = fma32(B[:, k:k + 1], A[k:k + 1, :], acc)
    s = F32(scale)
    return (acc * s).astype(F32)  # float32 multiply, one rounding


def _round_fraction_to_f32(x: Fraction) -> np.float32:
    """Correct round-to-nearest-even of an exact rational to float32."""
    r0 = F32(float(x))  # within one float32 ulp of the answer
    cands = {float(r0), float(np.nextafter(r0, F32(np.inf))), float(np.nextafter(r0, F32(-np.inf)))}
    best = None
    for c in sorted(cands):
        d = abs(Fraction(c) - x)
        bits = struct.unpack("<I", struct.pack("<f", c))[0]
        key = (d, bits & 1)  # tie -> even significand
        if best is None or key < best[0]:
            best = (key, c)
    return F32(best[1])


def fma_selfcheck(n_random=20000, seed=7):
    """Compare fma32 against exact rationals and (when available) libm's fmaf."""
    rng = np.random.default_rng(seed)
    # random magnitudes like LoRA weights, with varied exponents
    a = (rng.standard_normal(n_random) * np.exp2(rng.integers(-12, 4, n_random))).astype(F32)
    b = (rng.standard_normal(n_random) * np.exp2(rng.integers(-12, 4, n_random))).astype(F32)
    c = (rng.standard_normal(n_random) * np.exp2(rng.integers(-20, 4, n_random))).astype(F32)
    # constructed double-rounding cases: a*b = +-h*(1 - 2^-46) with h = ulp32(c)/2, so the exact
    # c + a*b lies just inside a float32 rounding midpoint while the float64 sum lands exactly on it
    # (a = h*(1+2^-23), b = 1-2^-23; the 2^-46 tail is below half a float64 ulp of c).
    n_adv = 4000
    cm = (1.0 + rng.integers(0, 2**23, n_adv) * 2.0**-23) * np.exp2(rng.integers(-8, 8, n_adv))
    cm = cm.astype(F32) * np.where(rng.random(n_adv) < 0.5, -1, 1).astype(F32)
    ulp = np.abs(np.nextafter(cm, F32(np.inf)) - cm).astype(F64)
    h = ulp / 2
    toward = np.where(rng.random(n_adv) < 0.5, -1.0, 1.0) * np.sign(cm.astype(F64))
    am = (toward * h * (1 + 2.0**-23)).astype(F32)
    bm = np.full(n_adv, 1 - 2.0**-23, F32)
    a = np.concatenate([a, am])
    b = np.concatenate([b, bm])
    c = np.concatenate([c, cm])

    got, n_fixed = fma32(a, b, c)
    naive = (a.astype(F64) * b.astype(F64) + c.astype(F64)).astype(F32)
    n = len(a)
    mism_exact = 0
    for i in range(n):
        x = Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i]))
        ref = _round_fraction_to_f32(x)
        if ref.view(np.uint32) != got[i].view(np.uint32):
            mism_exact += 1
    res = {
        "samples": n,
        "constructed_midpoint_cases": n_adv,
        "midpoint_corrections_applied": n_fixed,
        "naive_float64_then_float32_mismatches_vs_exact": int((naive.view(np.uint32) != got.view(np.uint32)).sum()),
        "mismatches_vs_fraction": mism_exact,
    }
    libm_name = ctypes.util.find_library("m")
    try:
        libm = ctypes.CDLL(libm_name or "libm.so.6")
        fmaf = libm.fmaf
        fmaf.restype = ctypes.c_float
        fmaf.argtypes = [ctypes.c_float, ctypes.c_float, ctypes.c_float]
        mism_libm = 0
        for i in range(n):
            ref = F32(fmaf(float(a[i]), float(b[i]), float(c[i])))
            if ref.view(np.uint32) != got[i].view(np.uint32):
                mism_libm += 1
        res["mismatches_vs_libm_fmaf"] = mism_libm
    except (OSError, AttributeError) as exc:  # pragma: no cover
        res["mismatches_vs_libm_fmaf"] = f"libm fmaf unavailable: {exc}"
    libm_bad = res["mismatches_vs_libm_fmaf"]
    if res["mismatches_vs_fraction"] != 0 or (isinstance(libm_bad, int) and libm_bad != 0):
        raise SystemExit(f"fma emulation self-check FAILED: {res}")
    return res


# --------------------------------------------------------------------------
# model families
# --------------------------------------------------------------------------

def family_spec(family):
    from transformers import GPT2Config, LlamaConfig, T5Config

    if family == "llama":
        cfg = LlamaConfig(
            vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
            rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
            pad_token_id=0, attention_dropout=0.0,
        )
        return dict(config=cfg, kind="causal", targets=["q_proj", "v_proj"], fan_in_fan_out=False,
                    task_type="CAUSAL_LM", seed=101)
    if family == "gpt2":
        cfg = GPT2Config(
            vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=32, resid_pdrop=0.0,
            embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0,
        )
        return dict(config=cfg, kind="causal", targets=["c_attn"], fan_in_fan_out=True,
                    task_type="CAUSAL_LM", seed=202)
    if family == "t5":
        cfg = T5Config(
            vocab_size=64, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_decoder_layers=2,
            num_heads=4, dropout_rate=0.0, relative_attention_num_buckets=8,
            decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
        )
        return dict(config=cfg, kind="seq2seq", targets=["q", "v"], fan_in_fan_out=False,
                    task_type="SEQ_2_SEQ_LM", seed=303)
    raise ValueError(family)


def model_class(family):
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    return AutoModelForSeq2SeqLM if family in ("t5", "t5_olora") else AutoModelForCausalLM


def load_base(family, base_dir):
    import torch

    m = model_class(family).from_pretrained(base_dir, dtype=torch.float32, attn_implementation="eager")
    m.eval()
    return m


def make_base(family, base_dir):
    import torch
    from transformers import GPT2LMHeadModel, LlamaForCausalLM, T5ForConditionalGeneration

    spec = family_spec(family)
    cls = {"llama": LlamaForCausalLM, "gpt2": GPT2LMHeadModel, "t5": T5ForConditionalGeneration}[family]
    torch.manual_seed(spec["seed"])
    spec["config"]._attn_implementation = "eager"
    m = cls(spec["config"]).to(torch.float32)
    m.save_pretrained(base_dir, safe_serialization=True)
    # verify it reloads to identical weights
    r = load_base(family, base_dir)
    sd0, sd1 = m.state_dict(), r.state_dict()
    for k in sd1:
        if not torch.equal(sd0[k], sd1[k]):
            raise SystemExit(f"{family}: base reload mismatch at {k}")


def task_batch(family, task_seed, vocab=64):
    """Tiny task-specific random token set (fixed seed)."""
    import torch

    g = torch.Generator().manual_seed(task_seed)
    if family in ("t5", "t5_olora"):
        x = torch.randint(2, vocab, (8, 10), generator=g)
        y = torch.randint(2, vocab, (8, 6), generator=g)
        return dict(input_ids=x, labels=y)
    # causal: sequences from a task-specific affine token map (learnable structure)
    perm = torch.randperm(vocab, generator=g)
    start = torch.randint(0, vocab, (8, 1), generator=g)
    seq = [start]
    for _ in range(11):
        seq.append(perm[seq[-1]])
    x = torch.cat(seq, dim=1)
    return dict(input_ids=x, labels=x.clone())


def strip_module(key):
    """'base_model.model.X.lora_A.weight' -> ('X', 'lora_A')."""
    assert key.startswith(PREFIX), key
    k = key[len(PREFIX):]
    for part in ("lora_A", "lora_B", "loranew_A", "loranew_B"):
        suf = f".{part}.weight"
        if k.endswith(suf):
            return k[: -len(suf)], part
    raise ValueError(key)


def train_adapter(family, base_dir, lora_kwargs, task_seed, out_dir, save_dtype, *, prev_adapters=(),
                  extra_f16_dir=None):
    """Train one fresh LoRA adapter on the base (optionally with previous adapters merged in)."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model

    base = load_base(family, base_dir)
    prev_A = {}
    for pdir in prev_adapters:  # O-LoRA style: previous tasks frozen in the forward pass
        pm = PeftModel.from_pretrained(base, pdir)
        base = pm.merge_and_unload()
        for k, v in load_f32(os.path.join(pdir, "adapter_model.safetensors")).items():
            mod, part = strip_module(k)
            if part == "lora_A":
                prev_A.setdefault(mod, []).append(torch.from_numpy(v))
    base.train()
    cfg = LoraConfig(**lora_kwargs)
    model = get_peft_model(base, cfg)
    torch.manual_seed(task_seed)  # reproducible lora_A init irrespective of what ran before
    for n, mod in model.named_modules():
        if hasattr(mod, "reset_lora_parameters") and ADAPTER in getattr(mod, "lora_A", {}):
            mod.reset_lora_parameters(ADAPTER, True)
    batch = task_batch(family, task_seed)
    params = [p for n, p in model.named_parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.0)
    losses = []
    named_A = {}
    if prev_A:
        for n, mod in model.named_modules():
            if hasattr(mod, "lora_A") and ADAPTER in getattr(mod, "lora_A", {}):
                key = n[len(PREFIX):] if n.startswith(PREFIX) else n
                named_A[key] = mod.lora_A[ADAPTER].weight
    for _ in range(TRAIN_STEPS):
        opt.zero_grad()
        loss = model(**batch).loss
        if prev_A:
            orth = sum(torch.abs(torch.cat(prev_A[m], 0) @ a.T).sum() for m, a in named_A.items())
            loss = loss + OLORA_LAMBDA1 * orth
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()

    def cast_and_save(dtype, d):
        m2 = model
        if dtype is not torch.float32:
            m2 = copy.deepcopy(model)
            for n, p in m2.named_parameters():
                if "lora_" in n:
                    p.data = p.data.to(dtype)
        m2.save_pretrained(d, safe_serialization=True)
        readme = os.path.join(d, "README.md")
        if os.path.exists(readme):
            os.remove(readme)

    cast_and_save(save_dtype, out_dir)
    if extra_f16_dir:
        cast_and_save(torch.float16, extra_f16_dir)
    return losses


# --------------------------------------------------------------------------
# ground truth per adapter (Part 2)
# --------------------------------------------------------------------------

def ground_truth(family, base_dir, adapter_dir, base_rel):
    import torch
    from peft import PeftModel
    from peft.tuners.lora import LoraLayer
    from safetensors.numpy import save_file

    base = load_base(family, base_dir)
    pm = PeftModel.from_pretrained(base, adapter_dir)
    pm.eval()
    st_path = os.path.join(adapter_dir, "adapter_model.safetensors")
    tensors = load_f32(st_path)
    header = safetensors_header(st_path)
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        acfg = json.load(f)

    ab = {}
    for k, v in tensors.items():
        mod, part = strip_module(k)
        ab.setdefault(mod, {})[part] = (k, v)

    expected, collide = {}, {}
    modules = {}
    max_abs_all = 0.0
    for name, layer in pm.named_modules():
        if not isinstance(layer, LoraLayer) or ADAPTER not in layer.lora_A:
            continue
        mod = name[len(PREFIX):] if name.startswith(PREFIX) else name
        w_a = layer.lora_A[ADAPTER].weight
        if w_a.dtype != torch.float32:
            raise SystemExit(f"{adapter_dir}: loaded LoRA weight dtype {w_a.dtype}, expected float32")
        with torch.no_grad():
            dw = layer.get_delta_weight(ADAPTER).float().numpy().copy()
        peft_shape = list(dw.shape)
        fifo = bool(getattr(layer, "fan_in_fan_out", False))
        if fifo:
            dw = dw.T.copy()
        (ka, A), (kb, B) = ab[mod]["lora_A"], ab[mod]["lora_B"]
        # the loaded parameters must be exactly the file's values
        assert np.array_equal(w_a.detach().numpy(), A), mod
        assert np.array_equal(layer.lora_B[ADAPTER].weight.detach().numpy(), B), mod
        d_out, d_in = B.shape[0], A.shape[1]
        assert dw.shape == (d_out, d_in), (mod, dw.shape, A.shape, B.shape)
        scaling = float(layer.scaling[ADAPTER])
        cd = collide_delta(A, B, scaling)
        diff = float(np.max(np.abs(cd.astype(F64) - dw.astype(F64))))
        rel = diff / max(float(np.max(np.abs(dw))), 1e-30)
        max_abs_all = max(max_abs_all, diff)
        expected[mod] = np.ascontiguousarray(dw, F32)
        collide[mod] = np.ascontiguousarray(cd, F32)
        modules[mod] = {
            "r": int(layer.r[ADAPTER]),
            "lora_alpha": layer.lora_alpha[ADAPTER],
            "scaling": scaling,
            "scaling_f32": float(F32(scaling)),
            "scaling_f32_bits": f32_bits(scaling),
            "d_out": int(d_out),
            "d_in": int(d_in),
            "fan_in_fan_out": fifo,
            "lora_A_key": ka,
            "lora_B_key": kb,
            "lora_A_shape": list(A.shape),
            "lora_B_shape": list(B.shape),
            "lora_A_file_dtype": header[ka]["dtype"],
            "lora_B_file_dtype": header[kb]["dtype"],
            "peft_get_delta_weight_shape": peft_shape,
            "max_abs_diff_collide_vs_peft": diff,
            "max_rel_diff_collide_vs_peft": rel,
            "max_abs_peft_delta": float(np.max(np.abs(dw))),
            "max_abs_lora_B": float(np.max(np.abs(B))),
        }
    missing = set(ab) - set(modules)
    if missing:
        raise SystemExit(f"{adapter_dir}: tensors without a loaded LoRA layer: {sorted(missing)}")
    save_file(expected, os.path.join(adapter_dir, "expected_delta.safetensors"), metadata={"format": "np"})
    save_file(collide, os.path.join(adapter_dir, "collide_delta.safetensors"), metadata={"format": "np"})
    info = {
        "family": family,
        "adapter_dir": os.path.basename(os.path.normpath(adapter_dir)),
        "base": base_rel,
        "file_dtype": file_dtypes(st_path),
        "tensor_count": len(tensors),
        "config": {k: acfg.get(k) for k in ("r", "lora_alpha", "use_rslora", "fan_in_fan_out", "target_modules",
                                             "rank_pattern", "alpha_pattern", "task_type", "peft_version")},
        "module_count": len(modules),
        "max_abs_diff_collide_vs_peft": max_abs_all,
        "max_rel_diff_collide_vs_peft": max(m["max_rel_diff_collide_vs_peft"] for m in modules.values()),
        "modules": dict(sorted(modules.items())),
    }
    with open(os.path.join(adapter_dir, "expected.json"), "w") as f:
        json.dump(info, f, indent=2, sort_keys=False)
        f.write("\n")
    return info


# --------------------------------------------------------------------------
# metrics (Part 3)
# --------------------------------------------------------------------------

def active_mask(dw, mode):
    a = np.abs(np.asarray(dw, F32)).ravel()
    if mode.startswith("energy:"):
        frac = float(mode.split(":")[1])
        a_sorted = np.sort(a)[::-1]
        cs = np.cumsum(a_sorted.astype(F64) ** 2)
        target = frac * cs[-1]
        k = int(np.searchsorted(cs, target, side="left"))
        k = min(k, len(a_sorted) - 1)
        tau = a_sorted[k]
        active = (a >= tau) & (a > 0)
        below = float(target - cs[k - 1]) if k > 0 else float(target)
        # how far the target is from the neighbouring cumulative sums (relative to the total): a C
        # implementation summing in the same order gets the same k; this says how much slack there is
        margin = min(float(cs[k] - target), below) / float(cs[-1]) if cs[-1] > 0 else 0.0
        extra = {"k": k, "energy_total": float(cs[-1]), "energy_target": float(target),
                 "energy_margin_rel": margin}
    elif mode.startswith("rel:"):
        frac = float(mode.split(":")[1])
        tau = F32(frac * float(a.max()))
        active = a > tau
        extra = {"max_abs": float(a.max())}
    else:
        raise ValueError(mode)
    return active, F32(tau), extra


def per_task_metrics(dw):
    d = np.asarray(dw, F32).astype(F64)
    sv = np.linalg.svd(d, compute_uv=False)
    n = d.size
    l1 = float(np.abs(d).sum())
    l2 = float(np.linalg.norm(d))
    out = {
        "nuclear": float(sv.sum()),
        "frobenius": l2,
        "spectral": float(sv[0]),
        "count": int((sv > 0.01 * sv[0]).sum()),
        "singular_values": [float(s) for s in sv[: min(8, len(sv))]],
        "l1": l1,
        "n": int(n),
        "hoyer": float((math.sqrt(n) - l1 / l2) / (math.sqrt(n) - 1)) if l2 > 0 else None,
        "thresholds": {},
    }
    for mode in THRESHOLDS:
        act, tau, extra = active_mask(dw, mode)
        out["thresholds"][mode] = dict(tau=float(tau), tau_bits=f32_bits(tau), active=int(act.sum()),
                                       density=float(act.mean()), **extra)
    return out


def orth_basis(M):
    q, _ = np.linalg.qr(np.asarray(M, F64))
    return q


def pair_metrics(dw1, dw2, A1, A2, B1, B2):
    d1 = np.asarray(dw1, F32).astype(F64)
    d2 = np.asarray(dw2, F32).astype(F64)
    A1 = np.asarray(A1, F32).astype(F64)
    A2 = np.asarray(A2, F32).astype(F64)
    B1 = np.asarray(B1, F32).astype(F64)
    B2 = np.asarray(B2, F32).astype(F64)
    out = {}
    for mode in THRESHOLDS:
        a1, _, _ = active_mask(dw1, mode)
        a2, _, _ = active_mask(dw2, mode)
        both = int((a1 & a2).sum())
        either = int((a1 | a2).sum())
        out[mode] = {
            "collision_rate": float((a1 & a2).mean()),
            "jaccard": float(both / either) if either else 0.0,
            "and": both,
            "or": either,
        }
    out["oo"] = float(np.linalg.norm(A1 @ A2.T) ** 2)
    n1, n2 = np.linalg.norm(d1), np.linalg.norm(d2)
    out["cosine"] = float((d1 * d2).sum() / (n1 * n2)) if n1 > 0 and n2 > 0 else 0.0
    out["awom"] = float(np.linalg.norm(d1.T @ d2) ** 2)
    r1, r2 = A1.shape[0], A2.shape[0]
    qa1, qa2 = orth_basis(A1.T), orth_basis(A2.T)
    out["sim_a"] = float(np.linalg.norm(qa1.T @ qa2) ** 2 / min(r1, r2))
    qb1, qb2 = orth_basis(B1), orth_basis(B2)
    out["sim_b"] = float(np.linalg.norm(qb1.T @ qb2) ** 2 / min(B1.shape[1], B2.shape[1]))
    out["r"] = [int(r1), int(r2)]
    return out


def family_metrics(fam_dir, family, tasks, fma_check, versions):
    deltas, ab = {}, {}
    for t in tasks:
        d = os.path.join(fam_dir, t)
        deltas[t] = load_f32(os.path.join(d, "collide_delta.safetensors"))
        ab[t] = {}
        for k, v in load_f32(os.path.join(d, "adapter_model.safetensors")).items():
            mod, part = strip_module(k)
            ab[t].setdefault(mod, {})[part] = v
    mods = sorted(deltas[tasks[0]])
    for t in tasks:
        assert sorted(deltas[t]) == mods, (t, "module sets differ")
    per_task = {t: {m: per_task_metrics(deltas[t][m]) for m in mods} for t in tasks}
    pairs = {}
    for i in range(len(tasks)):
        for j in range(i + 1, len(tasks)):
            t1, t2 = tasks[i], tasks[j]
            pm = {m: pair_metrics(deltas[t1][m], deltas[t2][m], ab[t1][m]["lora_A"], ab[t2][m]["lora_A"],
                                  ab[t1][m]["lora_B"], ab[t2][m]["lora_B"]) for m in mods}
            agg = {
                "mean_collision_rate": {mode: float(np.mean([pm[m][mode]["collision_rate"] for m in mods]))
                                        for mode in THRESHOLDS},
                "mean_jaccard": {mode: float(np.mean([pm[m][mode]["jaccard"] for m in mods])) for mode in THRESHOLDS},
                "sum_oo": float(np.sum([pm[m]["oo"] for m in mods])),
                "mean_cosine": float(np.mean([pm[m]["cosine"] for m in mods])),
            }
            pairs[f"{t1}|{t2}"] = {"modules": pm, "aggregate": agg}
    out = {
        "schema": "collide-peft-metrics/1",
        "family": family,
        "tasks": list(tasks),
        "modules": mods,
        "thresholds": list(THRESHOLDS),
        "delta_source": "collide_delta.safetensors (float32, collide formation; see tests/ref/peft_reference.py)",
        "versions": versions,
        "fma_selfcheck": fma_check,
        "per_task": per_task,
        "pairs": pairs,
        "aggregate": {
            "mean_nuclear": {t: float(np.mean([per_task[t][m]["nuclear"] for m in mods])) for t in tasks},
            "mean_density": {t: {mode: float(np.mean([per_task[t][m]["thresholds"][mode]["density"] for m in mods]))
                                 for mode in THRESHOLDS} for t in tasks},
        },
    }
    with open(os.path.join(fam_dir, "metrics.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    return out


# --------------------------------------------------------------------------
# O-LoRA cumulative checkpoint (Part 4)
# --------------------------------------------------------------------------

def olora_config(r, r_sum, save_loranew, lora_alpha, targets, base):
    # Exactly the fields of the fork's LoraConfig + PeftConfig (cmnfriend/O-LoRA src/peft/tuners/lora.py,
    # src/peft/utils/config.py); PeftConfigMixin.save_pretrained writes json.dumps(indent=2, sort_keys=True),
    # with inference_mode forced to True.
    return {
        "base_model_name_or_path": base,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "lora_alpha": lora_alpha,
        "lora_dropout": 0.0,
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": r,
        "r_sum": r_sum,
        "save_loranew": save_loranew,
        "target_modules": targets,
        "task_type": "SEQ_2_SEQ_LM",
    }


def write_olora(root, task_dirs, r, lora_alpha, targets, base_rel):
    from safetensors.numpy import save_file

    per_task = []
    for d in task_dirs:
        ab = {}
        for k, v in load_f32(os.path.join(d, "adapter_model.safetensors")).items():
            mod, part = strip_module(k)
            ab.setdefault(mod, {})[part] = v
        per_task.append(ab)
    mods = sorted(per_task[0])
    ntask = len(task_dirs)
    for variant, save_loranew in (("cumulative", True), ("cumulative_concat", False)):
        out_dir = os.path.join(root, variant)
        os.makedirs(out_dir, exist_ok=True)
        tensors = {}
        split = {}
        for m in mods:
            As = [per_task[t][m]["lora_A"] for t in range(ntask)]
            Bs = [per_task[t][m]["lora_B"] for t in range(ntask)]
            assert all(a.shape[0] == r for a in As)
            if save_loranew:
                tensors[f"{PREFIX}{m}.lora_A.weight"] = np.ascontiguousarray(np.concatenate(As[:-1], 0), F32)
                tensors[f"{PREFIX}{m}.lora_B.weight"] = np.ascontiguousarray(np.concatenate(Bs[:-1], 1), F32)
                tensors[f"{PREFIX}{m}.loranew_A.weight"] = np.ascontiguousarray(As[-1], F32)
                tensors[f"{PREFIX}{m}.loranew_B.weight"] = np.ascontiguousarray(Bs[-1], F32)
                sl = {f"task{t + 1}": {"tensor": "lora", "rank_slice": [t * r, (t + 1) * r]} for t in range(ntask - 1)}
                sl[f"task{ntask}"] = {"tensor": "loranew", "rank_slice": [0, r]}
            else:
                tensors[f"{PREFIX}{m}.lora_A.weight"] = np.ascontiguousarray(np.concatenate(As, 0), F32)
                tensors[f"{PREFIX}{m}.lora_B.weight"] = np.ascontiguousarray(np.concatenate(Bs, 1), F32)
                sl = {f"task{t + 1}": {"tensor": "lora", "rank_slice": [t * r, (t + 1) * r]} for t in range(ntask)}
            split[m] = {"d_out": int(Bs[0].shape[0]), "d_in": int(As[0].shape[1]), "tasks": sl}
        save_file(tensors, os.path.join(out_dir, "adapter_model.safetensors"), metadata={"format": "pt"})
        r_sum = r * (ntask - 1) if save_loranew else r * ntask
        cfg = olora_config(r, r_sum, save_loranew, lora_alpha, targets, base_rel)
        with open(os.path.join(out_dir, "adapter_config.json"), "w") as f:
            f.write(json.dumps(cfg, indent=2, sort_keys=True))
        info = {
            "layout": "O-LoRA fork of PEFT (cmnfriend/O-LoRA), save_loranew=%s" % str(save_loranew).lower(),
            "tasks_in_order": [os.path.basename(d) for d in task_dirs],
            "source_adapters": [f"../{os.path.basename(d)}" for d in task_dirs],
            "r_per_task": r,
            "r_sum": r_sum,
            "lora_alpha": lora_alpha,
            "scaling_per_task": lora_alpha / r,
            "scaling_note": "the fork applies one scaling = lora_alpha / r (current task r) to lora_* and loranew_*",
            "key_pattern": "base_model.model.<module>.{lora_A,lora_B%s}.weight" % (
                ",loranew_A,loranew_B" if save_loranew else ""),
            "split_axis": {"A": "rows (dim 0)", "B": "columns (dim 1)"},
            "file_dtype": "F32",
            "modules": split,
        }
        with open(os.path.join(out_dir, "expected.json"), "w") as f:
            json.dump(info, f, indent=2)
            f.write("\n")
        # self-check: splitting recovers the per-task tensors bit-exactly
        back = load_f32(os.path.join(out_dir, "adapter_model.safetensors"))
        for m in mods:
            for t in range(ntask):
                s = split[m]["tasks"][f"task{t + 1}"]
                a0, a1 = s["rank_slice"]
                A = back[f"{PREFIX}{m}.{s['tensor']}_A.weight"][a0:a1]
                B = back[f"{PREFIX}{m}.{s['tensor']}_B.weight"][:, a0:a1]
                assert np.array_equal(A, per_task[t][m]["lora_A"]) and np.array_equal(B, per_task[t][m]["lora_B"])


# --------------------------------------------------------------------------
# generation driver
# --------------------------------------------------------------------------

def task_plan(family):
    spec = family_spec(family)
    common = dict(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=spec["targets"],
                  fan_in_fan_out=spec["fan_in_fan_out"], task_type=spec["task_type"], bias="none")
    t1 = dict(common)
    t2 = dict(common)
    if family == "llama":
        t2["use_rslora"] = True
    if family == "t5":
        t2["rank_pattern"] = {"decoder.block.0.layer.1.EncDecAttention.q": 3}
        t2["alpha_pattern"] = {"encoder.block.1.layer.0.SelfAttention.v": 20}
    return [("task1", t1, spec["seed"] + 1), ("task2", t2, spec["seed"] + 2)]


def dir_size(path):
    total = 0
    for dp, _, fns in os.walk(path):
        for fn in fns:
            total += os.path.getsize(os.path.join(dp, fn))
    return total


def generate(out):
    import torch

    versions = check_versions()
    setup_torch()
    os.makedirs(out, exist_ok=True)
    print("fma self-check ...", flush=True)
    fcheck = fma_selfcheck()
    print("  ", fcheck, flush=True)
    summary = {}
    for family in FAMILIES:
        fam_dir = os.path.join(out, family)
        if os.path.isdir(fam_dir):
            shutil.rmtree(fam_dir)
        base_dir = os.path.join(fam_dir, "base")
        make_base(family, base_dir)
        save_dtype = torch.bfloat16 if family == "gpt2" else torch.float32
        tasks = []
        for task, kw, seed in task_plan(family):
            kw = dict(kw, base_model_name_or_path=f"{family}/base")
            adir = os.path.join(fam_dir, task)
            f16 = os.path.join(fam_dir, "task1_f16") if (family == "llama" and task == "task1") else None
            losses = train_adapter(family, base_dir, kw, seed, adir, save_dtype, extra_f16_dir=f16)
            print(f"{family}/{task}: loss {losses[0]:.4f} -> {losses[-1]:.4f}", flush=True)
            tasks.append(task)
            with open(os.path.join(adir, "adapter_config.json")) as f:
                saved = json.load(f)
            if "rank_pattern" in kw:
                assert saved["rank_pattern"] == kw["rank_pattern"], saved["rank_pattern"]
                assert saved["alpha_pattern"] == kw["alpha_pattern"], saved["alpha_pattern"]
            if kw.get("use_rslora"):
                assert saved["use_rslora"] is True
        gts = {}
        for sub in sorted(os.listdir(fam_dir)):
            if sub == "base":
                continue
            gts[sub] = ground_truth(family, base_dir, os.path.join(fam_dir, sub), "../base")
            print(f"{family}/{sub}: dtype {gts[sub]['file_dtype']}, {gts[sub]['module_count']} modules, "
                  f"max|collide-peft| {gts[sub]['max_abs_diff_collide_vs_peft']:.3e} "
                  f"(rel {gts[sub]['max_rel_diff_collide_vs_peft']:.3e})", flush=True)
        family_metrics(fam_dir, family, tasks, fcheck, versions)
        summary[family] = {k: (v["file_dtype"], v["max_abs_diff_collide_vs_peft"]) for k, v in gts.items()}

    # Part 4: O-LoRA sequence on the t5 base
    fam_dir = os.path.join(out, "t5_olora")
    if os.path.isdir(fam_dir):
        shutil.rmtree(fam_dir)
    os.makedirs(fam_dir)
    t5_base = os.path.join(out, "t5", "base")
    spec = family_spec("t5")
    kw = dict(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q", "v"], task_type="SEQ_2_SEQ_LM",
              bias="none", base_model_name_or_path="t5/base")
    task_dirs = []
    for i in range(3):
        adir = os.path.join(fam_dir, f"task{i + 1}")
        losses = train_adapter("t5", t5_base, kw, 400 + i, adir, torch.float32, prev_adapters=list(task_dirs))
        print(f"t5_olora/task{i + 1}: loss {losses[0]:.4f} -> {losses[-1]:.4f}", flush=True)
        task_dirs.append(adir)
    gts = {}
    for adir in task_dirs:
        gts[os.path.basename(adir)] = ground_truth("t5", t5_base, adir, "../../t5/base")
    write_olora(fam_dir, task_dirs, 4, 8, ["q", "v"], "t5/base")
    family_metrics(fam_dir, "t5_olora", [os.path.basename(d) for d in task_dirs], fcheck, versions)
    summary["t5_olora"] = {k: (v["file_dtype"], v["max_abs_diff_collide_vs_peft"]) for k, v in gts.items()}

    size = dir_size(out)
    print(f"total size of {out}: {size} bytes ({size / 1e6:.2f} MB)")
    if size > 2_000_000:
        warnings.warn("fixtures exceed 2 MB")
    print(json.dumps(summary, indent=1))


# --------------------------------------------------------------------------
# round-trip check (Part 5)
# --------------------------------------------------------------------------

def fixed_inputs(family, vocab):
    import torch

    g = torch.Generator().manual_seed(1234)
    if family == "t5":
        return dict(input_ids=torch.randint(2, vocab, (2, 10), generator=g),
                    decoder_input_ids=torch.randint(2, vocab, (2, 6), generator=g))
    return dict(input_ids=torch.randint(0, vocab, (2, 12), generator=g))


def _adapter_deltas(pm):
    from peft.tuners.lora import LoraLayer

    out = {}
    for name, layer in pm.named_modules():
        if isinstance(layer, LoraLayer) and ADAPTER in layer.lora_A:
            mod = name[len(PREFIX):] if name.startswith(PREFIX) else name
            dw = layer.get_delta_weight(ADAPTER).detach().float()
            if getattr(layer, "fan_in_fan_out", False):
                dw = dw.T
            out[mod] = dw.numpy()
    return out


def roundtrip(orig, exported, base_dir, family, rtol=1e-5, quiet=False):
    """Return 0 when EXPORTED reproduces ORIG's outputs on the base, 1 otherwise."""
    import torch
    from peft import PeftModel

    setup_torch()
    fam = "t5" if family in ("t5", "t5_olora") else family
    reasons = []

    def logits_of(adapter_dir):
        base = load_base(fam, base_dir)
        inp = fixed_inputs(fam, base.config.vocab_size)
        if adapter_dir is None:
            with torch.no_grad():
                return base(**inp).logits.double(), None
        pm = PeftModel.from_pretrained(base, adapter_dir, autocast_adapter_dtype=True)
        pm.eval()
        # compare in float32: 16-bit originals are upcast to their exact float32 values
        for n, p in pm.named_parameters():
            if "lora_" in n and p.dtype != torch.float32:
                p.data = p.data.float()
        with torch.no_grad():
            return pm(**inp).logits.double(), _adapter_deltas(pm)

    def lora_keys(d):
        h = safetensors_header(os.path.join(d, "adapter_model.safetensors"))
        return {strip_module(k) for k in h if k != "__metadata__" and (".lora_A." in k or ".lora_B." in k)}

    try:
        ko, ke = lora_keys(orig), lora_keys(exported)
        if ko != ke:
            reasons.append(f"module/tensor sets differ: only in orig {sorted(ko - ke)[:4]}, "
                           f"only in exported {sorted(ke - ko)[:4]}")
        lb, _ = logits_of(None)
        lo, do = logits_of(orig)
        le, de = logits_of(exported)
    except Exception as exc:  # noqa: BLE001 - report any load failure as a mismatch
        print(f"ROUNDTRIP FAIL: could not load/run: {type(exc).__name__}: {exc}")
        return 1
    scale = float(lo.abs().max())
    effect = float((lo - lb).abs().max())
    diff = float((lo - le).abs().max())
    rel = diff / max(scale, 1e-30)
    if rel > rtol:
        reasons.append(f"output rel diff {rel:.3e} > {rtol:g}")
    if effect == 0.0:
        reasons.append("original adapter has no effect on the output (comparison vacuous)")
    elif diff > 1e-2 * effect:
        reasons.append(f"output diff {diff:.3e} exceeds 1% of the adapter's effect {effect:.3e}")
    wdiff = 0.0
    for m in sorted(set(do) & set(de)):
        if do[m].shape != de[m].shape:
            reasons.append(f"{m}: delta shape {do[m].shape} vs {de[m].shape}")
            continue
        d = float(np.max(np.abs(do[m].astype(F64) - de[m].astype(F64))))
        w = d / max(float(np.max(np.abs(do[m]))), 1e-30)
        wdiff = max(wdiff, w)
    if set(do) != set(de):
        reasons.append("adapted module sets differ after loading")
    if wdiff > rtol:
        reasons.append(f"delta-weight rel diff {wdiff:.3e} > {rtol:g}")
    verdict = "PASS" if not reasons else "FAIL"
    line = (f"ROUNDTRIP {verdict}: family={family} max|dlogits|={diff:.3e} rel={rel:.3e} "
            f"(adapter effect {effect:.3e}, max|logits| {scale:.3e}) max rel dW diff={wdiff:.3e}"
            f" orig_dtype={file_dtypes(os.path.join(orig, 'adapter_model.safetensors'))}"
            f" exported_dtype={file_dtypes(os.path.join(exported, 'adapter_model.safetensors'))}")
    if reasons:
        line += " :: " + "; ".join(reasons)
    print(line)
    return 0 if not reasons else 1


def selftest_roundtrip(out):
    from safetensors.torch import load_file, save_file

    setup_torch()
    failures = 0
    cases = [("llama", "task1"), ("llama", "task1_f16"), ("gpt2", "task1"), ("t5", "task2")]
    for family, task in cases:
        orig = os.path.join(out, family, task)
        base = os.path.join(out, family, "base")
        with tempfile.TemporaryDirectory() as tmp:
            same = os.path.join(tmp, "same")
            shutil.copytree(orig, same)
            rc = roundtrip(orig, same, base, family)
            if rc != 0:
                print(f"selftest: {family}/{task} copy should PASS but failed")
                failures += 1
            # upcast copy (what an exporter writing F32 would produce) must also pass
            up = os.path.join(tmp, "upcast")
            shutil.copytree(orig, up)
            sd = {k: v.float().contiguous() for k, v in load_file(os.path.join(orig, "adapter_model.safetensors")).items()}
            save_file(sd, os.path.join(up, "adapter_model.safetensors"), metadata={"format": "pt"})
            if roundtrip(orig, up, base, family) != 0:
                print(f"selftest: {family}/{task} F32 upcast should PASS but failed")
                failures += 1
            bad = os.path.join(tmp, "bad")
            shutil.copytree(orig, bad)
            k = sorted(x for x in sd if ".lora_B." in x)[0]
            sd2 = dict(sd)
            t = sd2[k].clone()
            t.view(-1)[0] += 0.05 * float(t.abs().max())
            sd2[k] = t
            save_file(sd2, os.path.join(bad, "adapter_model.safetensors"), metadata={"format": "pt"})
            if roundtrip(orig, bad, base, family) == 0:
                print(f"selftest: {family}/{task} perturbed copy should FAIL but passed")
                failures += 1
    print("selftest-roundtrip:", "OK" if failures == 0 else f"{failures} FAILURES")
    return 1 if failures else 0


# --------------------------------------------------------------------------
# Part 6: real adapters sanity listing
# --------------------------------------------------------------------------

def inspect_real(root):
    from safetensors import safe_open

    for d in sorted(os.listdir(root)):
        p = os.path.join(root, d, "adapter_model.safetensors")
        if not os.path.isfile(p):
            continue
        dtypes, shapes, kinds = {}, {}, {}
        with safe_open(p, framework="pt") as f:
            keys = list(f.keys())
            for k in keys:
                sl = f.get_slice(k)
                dt = sl.get_dtype()
                shp = tuple(sl.get_shape())
                dtypes[dt] = dtypes.get(dt, 0) + 1
                shapes[shp] = shapes.get(shp, 0) + 1
                kind = "lora_A" if ".lora_A." in k else "lora_B" if ".lora_B." in k else "other"
                kinds[kind] = kinds.get(kind, 0) + 1
        with open(os.path.join(root, d, "adapter_config.json")) as fc:
            cfg = json.load(fc)
        print(f"{d}: {len(keys)} tensors, dtypes {dtypes}, kinds {kinds}, r={cfg.get('r')} "
              f"alpha={cfg.get('lora_alpha')} targets={cfg.get('target_modules')}")
        print(f"    shapes {dict(sorted(shapes.items(), key=lambda kv: -kv[1]))}")
        print(f"    first key {keys[0]}")
        others = [k for k in keys if ".lora_A." not in k and ".lora_B." not in k]
        if others:
            print(f"    non-LoRA tensors: {others}")


# --------------------------------------------------------------------------

def main(argv=None):
    # PEFT writes target_modules from a Python set: pin the string hash seed so the order in
    # adapter_config.json (and hence the file bytes) is reproducible.
    if os.environ.get("PYTHONHASHSEED") != "0" and argv is None:
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/fixtures/peft", help="fixture root (default tests/fixtures/peft)")
    ap.add_argument("--roundtrip", nargs=2, metavar=("ORIG_DIR", "EXPORTED_DIR"))
    ap.add_argument("--base", help="base model dir for --roundtrip")
    ap.add_argument("--family", choices=["llama", "gpt2", "t5", "t5_olora"])
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--selftest-roundtrip", action="store_true")
    ap.add_argument("--inspect-real", nargs="?", const="/work/shared/real-adapters", metavar="DIR")
    args = ap.parse_args(argv)
    if args.roundtrip:
        if not args.base or not args.family:
            ap.error("--roundtrip needs --base and --family")
        check_versions()
        return roundtrip(args.roundtrip[0], args.roundtrip[1], args.base, args.family, args.rtol)
    if args.selftest_roundtrip:
        check_versions()
        return selftest_roundtrip(args.out)
    if args.inspect_real:
        inspect_real(args.inspect_real)
        return 0
    generate(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
