#!/bin/sh
# Memory of loading a base and one LoRA training step, collide against
# PyTorch on the same folder (docs/PERFORMANCE.md, "Memory of a base").
#
#   tests/bench/mem.sh [SHAPE [LAYERS]]
#
# Writes a random-weight float32 base of SHAPE (llama-3.2-1b, the default:
# 1.24 billion parameters, 4.9 GB; or smollm2-135m) under $BUILD/bench/base-*
# (never committed) unless it is there, then runs bench_mem (collide) and
# tests/bench/mem_torch.py (LlamaForCausalLM.from_pretrained, PEFT LoRA q and
# v r 8, one forward and backward) on it, one after the other, batch $BATCH
# (1) x $SEQ (128), threads $OMP_NUM_THREADS (2). Prints per implementation
# the peak resident set (VmHWM, what ru_maxrss and /usr/bin/time -v report)
# after loading and after the step, and the resident set at the end split
# into anonymous memory (private copies) and file pages (mapped page cache),
# then the ratios collide / PyTorch. BEFORE=path/to/bench_mem adds a row for
# another build of bench_mem (e.g. one from before the loader mapped).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
python=${PYTHON:-python3}
shape=${1:-llama-3.2-1b}
layers=${2:-}
batch=${BATCH:-1}
seq=${SEQ:-128}
threads=${OMP_NUM_THREADS:-2}
"$python" -c "import torch, transformers, peft, numpy" 2>/dev/null || {
    echo "mem.sh: $python needs torch, transformers, peft and numpy" >&2
    exit 1
}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target bench_mem >/dev/null
dir=$build/bench/base-$shape${layers:+-L$layers}
[ -f "$dir/model.safetensors" ] || "$python" "$root/tests/bench/make_base.py" "$dir" "$shape" $layers
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ -n "${BEFORE:-}" ]; then
    printf 'before\t%s\n' "$("$BEFORE" "$dir" "$batch" "$seq")" >>"$out"
fi
printf 'collide\t%s\n' "$("$build/bench/bench_mem" "$dir" "$batch" "$seq")" >>"$out"
printf 'pytorch\t%s\n' "$("$python" "$root/tests/bench/mem_torch.py" "$dir" "$batch" "$seq" "$threads" 2>/dev/null)" >>"$out"
"$python" - "$out" "$shape${layers:+ (L$layers)} B${batch}xT${seq}, $threads threads" <<'PY'
import json, sys
rows = [l.split("\t", 1) for l in open(sys.argv[1]).read().splitlines()]
r = {k: json.loads(v) for k, v in rows}
print(f"{sys.argv[2]}: {r['collide']['params'] / 1e9:.2f}B parameters")
print(f"{'':10} {'load s':>7} {'peak RSS load':>14} {'peak RSS step':>14} {'anon':>9} {'file':>9}")
for k, v in r.items():
    s = v["step"]
    print(f"{k:10} {v['load']['seconds']:7.1f} {v['load']['peak_rss_mb']:11.0f} MB "
          f"{s['peak_rss_mb']:11.0f} MB {s['rss_anon_mb']:6.0f} MB {s['rss_file_mb']:6.0f} MB")
c, p = r["collide"], r["pytorch"]
print(f"collide / PyTorch: peak RSS load {c['load']['peak_rss_mb'] / p['load']['peak_rss_mb']:.2f}x,"
      f" step {c['step']['peak_rss_mb'] / p['step']['peak_rss_mb']:.2f}x,"
      f" anonymous {c['step']['rss_anon_mb'] / p['step']['rss_anon_mb']:.2f}x"
      f" (loss {c['loss']} / {p['loss']})")
if "before" in r:
    b = r["before"]
    print(f"collide / before: peak RSS step {c['step']['peak_rss_mb'] / b['step']['peak_rss_mb']:.2f}x,"
          f" anonymous {c['step']['rss_anon_mb'] / b['step']['rss_anon_mb']:.2f}x,"
          f" load time {c['load']['seconds'] / b['load']['seconds']:.2f}x")
PY
