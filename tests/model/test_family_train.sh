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
# against the tokenizer's own encoding (datasets/encode.c): the prompt ids are
# the post-processor's prefix (BOS where the tokenizer adds one) and the
# tokenizer's encoding of the whole prompt string (instruction + text +
# "\nAnswer:", the text cut at a character where --max-len cuts it); the whole
# example is the tokenizer's encoding of prompt + " <label>" with its special
# tokens (prefix and suffix), then the end-of-text of tokenizer_config.json
# unless the suffix ends with it. mistral_colon, the mistral fixture's
# tokenizer with ":" and a top merge ":" + "▁", merges across the
# prompt/answer boundary: there the prompt is still the tokenizer's encoding of
# the prompt alone and the target " <label>" encoded alone. A run with a
# shorter --max-len cuts texts, and each cut prompt is checked the same way. A
# base whose tokenizer.json collide refuses is refused naming the file, and no
# store is left.
set -eu
BIN=$1
SRC=$2
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1

check=1
"$PY" -c "import tokenizers" 2>/dev/null || { check=0; echo "no tokenizers in $PY: encodings not compared"; }

# mistral_colon: the mistral fixture with ":" and ":\u2581" in place of two
# unused letters and the merge ":" + "\u2581" first
fams="llama3 llama_bias qwen2 mistral"
if [ $check = 1 ]; then
    mkdir "$T/mistral_colon"
    for f in "$(cd "$SRC" && pwd)/tests/fixtures/llama/mistral/base/"*; do ln -s "$f" "$T/mistral_colon/"; done
    rm "$T/mistral_colon/tokenizer.json"
    "$PY" - "$SRC/tests/fixtures/llama/mistral/base/tokenizer.json" "$T/mistral_colon/tokenizer.json" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
v, m = j["model"]["vocab"], j["model"]["merges"]
assert not any(x in ("q", "x") for pair in m for x in pair + ["".join(pair)])
v[":"], v[":\u2581"] = v.pop("q"), v.pop("x")
m.insert(0, [":", "\u2581"])
json.dump(j, open(sys.argv[2], "w"), ensure_ascii=False)
PYEOF
    fams="$fams mistral_colon"
fi

for fam in $fams; do
    len=240  # the fixtures' small vocabularies make long prompts: every text here is cut
    base="$SRC/tests/fixtures/llama/$fam/base"
    [ "$fam" = mistral_colon ] && base="$T/mistral_colon"
    [ -f "$base/tokenizer.json" ] || { echo "$fam: the fixture has no tokenizer.json"; exit 1; }
    # the synthetic prompts need at most about 200 of the fixtures' 256 positions
    COLLIDE_DEBUG_ENCODE=1 "$BIN/collide-train" -o "$T/$fam.$len.h5" --base "$base" --synthetic \
        --tasks synth1,synth2 --train-per-class 4 --test-per-task 8 --epochs 1 --max-len $len \
        --max-new 4 --batch 4 --quiet >"$T/$fam.$len.train.txt" 2>"$T/$fam.$len.err.txt" ||
        { cat "$T/$fam.$len.err.txt"; echo "$fam: collide-train failed"; exit 1; }
    grep -q "AA" "$T/$fam.$len.train.txt" || { echo "$fam: no accuracy in collide-train's output"; exit 1; }
    "$BIN/collide-info" "$T/$fam.$len.h5" >"$T/$fam.$len.info.txt"
    grep -q "inclora" "$T/$fam.$len.info.txt" || { echo "$fam: collide-info: no method"; exit 1; }
    grep -q "end_of_task" "$T/$fam.$len.info.txt" || { echo "$fam: collide-info: no snapshot"; exit 1; }
    "$BIN/collide-collision" --format csv "$T/$fam.$len.h5" >"$T/$fam.$len.coll.csv"
    [ "$(wc -l <"$T/$fam.$len.coll.csv")" -ge 2 ] || { echo "$fam: collide-collision: empty"; exit 1; }
    [ "$(grep -c "collide-train: encode " "$T/$fam.$len.err.txt")" -eq 2 ] ||
        { echo "$fam: no encoding dumped"; exit 1; }
    if [ $check = 1 ]; then
        "$PY" - "$base" "$T/$fam.$len.err.txt" "$fam" "$len" <<'PYEOF'
import json, sys
from tokenizers import Tokenizer
base, log, fam, max_len = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tok = Tokenizer.from_file(base + "/tokenizer.json")
cfg = json.load(open(base + "/tokenizer_config.json"))
vocab = tok.get_vocab(with_added_tokens=True)
eos = vocab[cfg["eos_token"]]
enc = lambda s, sp=False: tok.encode(s, add_special_tokens=sp).ids
full, plain = enc("Hi", True), enc("Hi")
i = next(k for k in range(len(full)) if full[k:k + len(plain)] == plain)
pre, post = full[:i], full[i + len(plain):]
end = post + ([] if post and post[-1] == eos else [eos])
bos = {"llama3": ["<|begin_of_text|>"], "mistral": ["<s>"], "mistral_colon": ["<s>"]}
want_bos = [vocab[b] for b in bos.get(fam, [])]
assert pre == want_bos, (fam, pre, want_bos)
n = cut = split = 0
for line in open(log):
    if not line.startswith("collide-train: encode "):
        continue
    f = dict(x.split("=", 1) for x in line.split()[3:])
    h = {k: bytes.fromhex(f[k]).decode("utf-8") for k in ("prefix", "text", "suffix", "label")}
    got_p, got_t = [[int(x) for x in s.split(",")] for s in f["ids"].split("|")]
    assert len(got_p) + len(got_t) <= max_len, (fam, len(got_p), len(got_t))
    # the prompt: its prefix, then the tokenizer's encoding of the whole prompt
    # string, the text cut to its first m characters where --max-len cuts it
    text = h["text"]
    m = next((m for m in range(len(text), 0, -1)
              if pre + enc(h["prefix"] + text[:m] + h["suffix"]) == got_p), None)
    assert m is not None, (fam, "prompt is no cut of the whole prompt's encoding", got_p)
    cut += m < len(text)
    prompt = h["prefix"] + text[:m] + h["suffix"]
    p, whole = enc(prompt), enc(prompt + " " + h["label"])
    if whole[:len(p)] == p:
        # the target continues the prompt: the example is the tokenizer's
        # encoding of prompt + " <label>" with its special tokens, then EOS
        assert got_t == whole[len(p):] + end, (fam, "target", got_t, whole[len(p):] + end)
        w = enc(prompt + " " + h["label"], True)
        assert got_p + got_t == w + ([] if w[-1] == eos else [eos]), (fam, "example")
    else:
        # a merge across the boundary: " <label>" encoded alone
        split += 1
        assert got_t == enc(" " + h["label"]) + end, (fam, "split target", got_t)
    if m < len(text):  # one character more would not fit
        p1 = enc(h["prefix"] + text[:m + 1] + h["suffix"])
        w1 = enc(h["prefix"] + text[:m + 1] + h["suffix"] + " " + h["label"])
        t1 = w1[len(p1):] if w1[:len(p1)] == p1 else enc(" " + h["label"])
        assert len(pre) + len(p1) + len(t1) + len(end) > max_len, (fam, "cut too short", m)
    n += 1
assert n == 2, n
assert (split == 2) == (fam == "mistral_colon"), (fam, split)
print(f"{fam} --max-len {max_len}: encoding = tokenizers' of the whole prompt (prefix {pre}, "
      f"end {end}) on {n} prompts ({cut} cut, {split} split at the answer)")
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
