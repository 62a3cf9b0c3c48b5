#!/bin/sh
# Training throughput, collide against PyTorch on the CPU (docs/PERFORMANCE.md).
#
#   tests/bench/train.sh [STEPS]
#
# Full training (every weight, AdamW: what collide-pretrain does) and LoRA
# fine-tuning (q and v, r 8: what collide-train does), in tokens per second,
# for the embedded base's shape and a wider one (d_model 1024, 4 layers), with
# the same thread count for both (OMP_NUM_THREADS, default every core).
# PyTorch runs transformers' LlamaForCausalLM and PEFT (pip install torch
# transformers peft). Prints one line per shape and the ratios collide/PyTorch.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
python=${PYTHON:-python3}
steps=${1:-10}
threads=${OMP_NUM_THREADS:-$(nproc)}
"$python" -c "import torch, transformers, peft" 2>/dev/null || {
    echo "train.sh: $python needs torch, transformers and peft (pip install torch transformers peft)" >&2
    exit 1
}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target bench_train >/dev/null
export OMP_NUM_THREADS=$threads
printf '%-34s %12s %12s %7s   %12s %12s %7s\n' "shape (threads $threads)" "full collide" "PyTorch" "ratio" \
    "LoRA collide" "PyTorch" "ratio"
#      name                         dim layers heads ffn  vocab batch seq
for shape in "embedded-base 128 4 4 384 4096 16 128" "wide 1024 4 16 2816 4096 4 128"; do
    set -- $shape
    name=$1
    shift
    c=$("$build/bench/bench_train" "$@" "$steps")
    p=$("$python" "$root/tests/bench/train_torch.py" "$@" "$steps" "$threads" 2>/dev/null)
    "$python" - "$name" "$c" "$p" "$*" <<'PY'
import json, sys
name, c, p, shape = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
d = shape.split()
label = f"{name} d{d[0]} L{d[1]} H{d[2]} B{d[5]}xT{d[6]}"
fc, fp, lc, lp = c["full_tokens_per_s"], p["full_tokens_per_s"], c["lora_tokens_per_s"], p["lora_tokens_per_s"]
print(f"{label:<34} {fc:12.0f} {fp:12.0f} {fc / fp:6.2f}x   {lc:12.0f} {lp:12.0f} {lc / lp:6.2f}x")
PY
done
