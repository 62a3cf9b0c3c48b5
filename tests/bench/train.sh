#!/bin/sh
# Training throughput, collide against PyTorch on the CPU (docs/PERFORMANCE.md).
#
#   tests/bench/train.sh [STEPS]
#
# Full training (every weight, AdamW: what collide-pretrain does) and LoRA
# fine-tuning (q and v, r 8: what collide-train does), in tokens per second,
# for the embedded base's shape, a wider one (d_model 1024, 4 layers) and
# SmolLM2-135M's (d_model 576, 30 layers, 9 heads, 3 key/value heads, ffn 1536,
# vocab 49152, tied, rope_theta 100000; random weights), with the same thread
# count for both (OMP_NUM_THREADS, default every core; MKL_NUM_THREADS and
# torch.set_num_threads follow it). SHAPES=smollm2 (a name's prefix, or a
# space-separated list of them) runs only those rows.
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
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
printf '%-34s %12s %12s %7s   %12s %12s %7s\n' "shape (threads $threads)" "full collide" "PyTorch" "ratio" \
    "LoRA collide" "PyTorch" "ratio"
#      name                         dim layers heads ffn  vocab batch seq [kv_heads rope_theta]
for shape in "embedded-base 128 4 4 384 4096 16 128" "wide 1024 4 16 2816 4096 4 128" \
    "smollm2-135m 576 30 9 1536 49152 4 128 3 100000"; do
    set -- $shape
    name=$1
    shift
    if [ -n "${SHAPES:-}" ]; then
        keep=0
        for want in $SHAPES; do
            case $name in "$want"*) keep=1 ;; esac
        done
        [ $keep = 1 ] || continue
    fi
    dims="$1 $2 $3 $4 $5 $6 $7"
    shift 7
    c=$("$build/bench/bench_train" $dims "$steps" "$@")
    p=$("$python" "$root/tests/bench/train_torch.py" $dims "$steps" "$threads" "$@" 2>/dev/null)
    "$python" - "$name" "$c" "$p" "$dims $*" <<'PY'
import json, sys
name, c, p, shape = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
d = shape.split()
kv = f"/{d[7]}" if len(d) > 7 else ""
label = f"{name} d{d[0]} L{d[1]} H{d[2]}{kv} B{d[5]}xT{d[6]}"
fc, fp, lc, lp = c["full_tokens_per_s"], p["full_tokens_per_s"], c["lora_tokens_per_s"], p["lora_tokens_per_s"]
print(f"{label:<34} {fc:12.0f} {fp:12.0f} {fc / fp:6.2f}x   {lc:12.0f} {lp:12.0f} {lc / lp:6.2f}x")
PY
done
