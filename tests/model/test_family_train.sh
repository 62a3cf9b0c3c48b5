#!/bin/sh
# test_family_train.sh BIN SRC -- collide-train on each family fixture of
# tests/ref/llama_families.py (llama3 rope, llama attention biases, qwen2 F16,
# mistral BF16 sharded), each with the tokenizer of its family's kind that the
# fixture carries (llama3: Llama-3 byte-level BPE with <|begin_of_text|>;
# llama_bias: SmolLM's; qwen2: Qwen2's; mistral: SentencePiece-style with
# <s>), a few steps on two synthetic tasks, and the store audited by
# collide-info and collide-collision.
#
# Where PyPI's tokenizers is importable (by $PYTHON, default /usr/bin/python3),
# the first training example of each task (COLLIDE_DEBUG_ENCODE) is checked
# against the tokenizer's own encoding: the post-processor's prefix (BOS where
# the tokenizer adds one, and the tokenizer's encode of the whole prompt
# starts with it too), the instruction, text and "\nAnswer:" each encoded as
# collide encodes them, then " <label>", the post-processor's suffix and the
# end-of-text of tokenizer_config.json. A base whose tokenizer.json collide
# refuses is refused naming the file, and no store is left.
set -eu
BIN=$1
SRC=$2
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1

check=1
"$PY" -c "import tokenizers" 2>/dev/null || { check=0; echo "no tokenizers in $PY: encodings not compared"; }

for fam in llama3 llama_bias qwen2 mistral; do
    base="$SRC/tests/fixtures/llama/$fam/base"
    [ -f "$base/tokenizer.json" ] || { echo "$fam: the fixture has no tokenizer.json"; exit 1; }
    # the synthetic prompts need at most about 200 of the fixtures' 256 positions
    COLLIDE_DEBUG_ENCODE=1 "$BIN/collide-train" -o "$T/$fam.h5" --base "$base" --synthetic \
        --tasks synth1,synth2 --train-per-class 4 --test-per-task 8 --epochs 1 --max-len 240 \
        --max-new 4 --batch 4 --quiet >"$T/$fam.train.txt" 2>"$T/$fam.err.txt" ||
        { cat "$T/$fam.err.txt"; echo "$fam: collide-train failed"; exit 1; }
    grep -q "AA" "$T/$fam.train.txt" || { echo "$fam: no accuracy in collide-train's output"; exit 1; }
    "$BIN/collide-info" "$T/$fam.h5" >"$T/$fam.info.txt"
    grep -q "inclora" "$T/$fam.info.txt" || { echo "$fam: collide-info: no method"; exit 1; }
    grep -q "end_of_task" "$T/$fam.info.txt" || { echo "$fam: collide-info: no snapshot"; exit 1; }
    "$BIN/collide-collision" --format csv "$T/$fam.h5" >"$T/$fam.coll.csv"
    [ "$(wc -l <"$T/$fam.coll.csv")" -ge 2 ] || { echo "$fam: collide-collision: empty"; exit 1; }
    [ "$(grep -c "collide-train: encode " "$T/$fam.err.txt")" -eq 2 ] ||
        { echo "$fam: no encoding dumped"; exit 1; }
    if [ $check = 1 ]; then
        "$PY" - "$base" "$T/$fam.err.txt" "$fam" <<'PYEOF'
import json, sys
from tokenizers import Tokenizer
base, log, fam = sys.argv[1:4]
tok = Tokenizer.from_file(base + "/tokenizer.json")
cfg = json.load(open(base + "/tokenizer_config.json"))
vocab = tok.get_vocab(with_added_tokens=True)
eos = vocab[cfg["eos_token"]]
enc = lambda s, sp=False: tok.encode(s, add_special_tokens=sp).ids
full, plain = enc("Hi", True), enc("Hi")
i = next(k for k in range(len(full)) if full[k:k + len(plain)] == plain)
pre, post = full[:i], full[i + len(plain):]
end = post + ([] if post and post[-1] == eos else [eos])
want_bos = [vocab[b] for b in {"llama3": ["<|begin_of_text|>"], "mistral": ["<s>"]}.get(fam, [])]
assert pre == want_bos, (fam, pre, want_bos)
n = cut = 0
for line in open(log):
    if not line.startswith("collide-train: encode "):
        continue
    f = dict(x.split("=", 1) for x in line.split()[3:])
    h = {k: bytes.fromhex(f[k]).decode("utf-8") for k in ("prefix", "text", "suffix", "label")}
    got_p, got_t = [[int(x) for x in s.split(",")] for s in f["ids"].split("|")]
    head, body, tail = pre + enc(h["prefix"]), enc(h["text"]), enc(h["suffix"])
    k = len(got_p) - len(head) - len(tail)  # --max-len cuts the end of the text only
    assert 0 < k <= len(body), (fam, k, len(body))
    cut += k < len(body)
    want_p = head + body[:k] + tail
    want_t = enc(" " + h["label"]) + end
    assert got_p == want_p, (fam, "prompt", got_p, want_p)
    assert got_t == want_t, (fam, "target", got_t, want_t)
    # the model sees what its tokenizer gives the prompt: BOS first where it adds one
    whole = enc(h["prefix"] + h["text"] + h["suffix"], True)
    assert whole[:len(pre)] == pre == got_p[:len(pre)], (fam, whole[:3], got_p[:3])
    n += 1
assert n == 2, n
print(f"{fam}: encoding = tokenizers' (prefix {pre}, end {end}) on {n} prompts ({cut} cut)")
PYEOF
    fi
    echo "$fam: trained with its own tokenizer, info and collision audited"
done

# a tokenizer.json collide refuses: the refusal names the file, and no store is made
mkdir "$T/bad"
cp "$SRC/tests/fixtures/llama/qwen2/base/"* "$T/bad/"
sed 's/"normalizer":{"type":"NFC"}/"normalizer":{"type":"Lowercase"}/' \
    "$SRC/tests/fixtures/llama/qwen2/base/tokenizer.json" >"$T/bad/tokenizer.json"
grep -q Lowercase "$T/bad/tokenizer.json" || { echo "bad tokenizer not made"; exit 1; }
if "$BIN/collide-train" -o "$T/bad.h5" --base "$T/bad" --synthetic --tasks synth1,synth2 \
    --train-per-class 4 --test-per-task 8 --epochs 1 --max-len 240 --quiet >"$T/bad.out" 2>&1; then
    echo "a refused tokenizer.json was accepted"; exit 1
fi
grep -q "$T/bad/tokenizer.json" "$T/bad.out" || { cat "$T/bad.out"; echo "refusal does not name the file"; exit 1; }
[ ! -e "$T/bad.h5" ] || { echo "a store was left after the refusal"; exit 1; }
echo "refused tokenizer: $(head -1 "$T/bad.out")"
