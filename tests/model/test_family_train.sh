#!/bin/sh
# test_family_train.sh BIN SRC -- collide-train on each family fixture of
# tests/ref/llama_families.py (llama3 rope, llama attention biases, qwen2 F16,
# mistral BF16 sharded), a few steps on two synthetic tasks, and the store
# audited by collide-info and collide-collision.
#
# The fixtures carry no tokenizer (transformers' save_pretrained of a random
# model writes none), and collide-train wants the base's tokenizer.json with
# the model's vocabulary. So a collide BPE tokenizer of the fixtures' 320
# tokens is made here (collide-pretrain --synthetic --vocab 320, one step: only
# its tokenizer.json is used) and copied beside a copy of each base.
set -eu
BIN=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1

"$BIN/collide-pretrain" -o "$T/tok" --synthetic --vocab 320 --steps 1 --dim 32 --layers 1 \
    --heads 2 --kv-heads 2 --ffn 32 --seq 16 --batch 2 --quiet >/dev/null

for fam in llama3 llama_bias qwen2 mistral; do
    cp -r "$SRC/tests/fixtures/llama/$fam/base" "$T/$fam"
    cp "$T/tok/tokenizer.json" "$T/$fam/"
    # the synthetic prompts need about 120 of the fixtures' 256 positions
    "$BIN/collide-train" -o "$T/$fam.h5" --base "$T/$fam" --synthetic --tasks synth1,synth2 \
        --train-per-class 4 --test-per-task 8 --epochs 1 --max-len 160 --max-new 4 --batch 4 \
        --quiet >"$T/$fam.train.txt"
    grep -q "AA" "$T/$fam.train.txt" || { echo "$fam: no accuracy in collide-train's output"; exit 1; }
    "$BIN/collide-info" "$T/$fam.h5" >"$T/$fam.info.txt"
    grep -q "inclora" "$T/$fam.info.txt" || { echo "$fam: collide-info: no method"; exit 1; }
    grep -q "end_of_task" "$T/$fam.info.txt" || { echo "$fam: collide-info: no snapshot"; exit 1; }
    "$BIN/collide-collision" --format csv "$T/$fam.h5" >"$T/$fam.coll.csv"
    [ "$(wc -l <"$T/$fam.coll.csv")" -ge 2 ] || { echo "$fam: collide-collision: empty"; exit 1; }
    echo "$fam: trained, info and collision audited"
done
