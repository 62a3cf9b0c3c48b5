#!/usr/bin/python3
"""Builds the tokenizer fixtures of tests/fixtures/tokenizers/ with PyPI's
`tokenizers` itself (no download) and writes the ids it gives a corpus of hard
cases, which tests/model/test_tokenizer_kinds.c asserts collide reproduces.

Pinned: tokenizers==0.23.3 (Python 3.11; run with /usr/bin/python3 where the
pyenv python3 first on PATH lacks it). Rerun after changing this file:

    /usr/bin/python3 tests/ref/tokenizers_ref.py [OUTDIR]
      (without OUTDIR also the fuzz seeds tests/fuzz/seeds_tokenizer/<kind>.json)
    /usr/bin/python3 tests/ref/tokenizers_ref.py --nfc-table datasets/tokenizer_nfc.h

Kinds (each a tiny BPE trained here on CORPUS, configured like the model):
  gpt2       ByteLevel pre-tokenizer with its own regex, merges as "a b"
  smollm     Sequence[Digits(individual), ByteLevel(use_regex)]
  llama3     Sequence[Split(Llama-3 regex), ByteLevel(no regex)], ignore_merges,
             TemplateProcessing "<|begin_of_text|> $A"
  qwen2      NFC, Sequence[Split(Qwen2 regex), ByteLevel(no regex)]
  tinyllama  SentencePiece-like: normalizer Sequence[Prepend, Replace],
             pre_tokenizer null, byte_fallback, decoder Replace/ByteFallback/
             Fuse/Strip, TemplateProcessing "<s> $A"
  metaspace  Metaspace pre-tokenizer (prepend_scheme first) and decoder,
             byte_fallback

Invalid UTF-8 in the corpus is given as raw bytes; `tokenizers` takes text,
so the expected ids are those of the bytes read with errors="replace" (U+FFFD
for each maximal invalid subpart), which is what collide does too.
"""
import json
import os
import sys
import unicodedata

import tokenizers
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers import trainers

PINNED = "0.23.3"

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

CORPUS = [
    "The quick brown fox jumps over the lazy dog. It's what they're doing, isn't it?",
    "Task:TC\nDataset:agnews\nWhat is the topic of the following paragraph? Option: World, Sports",
    "Stocks rallied 3.5% on Tuesday after the Fed held rates at 5.25-5.50 percent.",
    "The team won 2-1 in the final minute; fans celebrated until 11:45 pm.",
    "Question: Is the sentiment of this review positive or negative? Answer: positive",
    "Съешь же ещё этих мягких французских булок, да выпей чаю. Москва, Россия.",
    "我们今天去北京看长城。东京和上海都是大城市。机器学习很有趣。",
    "مرحبا بالعالم. اللغة العربية جميلة جدا. كتاب ومدرسة.",
    "नमस्ते दुनिया। हिंदी एक सुंदर भाषा है। भारत में कई भाषाएँ हैं।",
    "café naïve résumé Ångström Zürich São Paulo garçon über straße",
    "def f(x):\n\treturn x ** 2  # square\n\nprint(f(12345))\n",
    "emoji 😀 👍🏽 ❤️ 👨‍👩‍👧‍👦 🇫🇷 are fun!!! ... ??? $$$ 100%",
    "I'm sure we'll see you've done what you'd like; he's here, they've gone.",
    "    indented    text\twith\t\ttabs\r\nand CRLF lines\n\n\nend",
    "Numbers: 1 12 123 1234 12345 123456 3.14159 1,000,000 2024-01-31",
]
CORPUS = CORPUS * 3 + [" ".join(CORPUS)]

CASES = [
    "Hello world",
    " Hello world",
    "Hello  world   three   spaces",
    "The quick brown fox jumps over the lazy dog.",
    "Task:TC\nDataset:agnews\nWhat is the topic of the following paragraph? Option: World, Sports\nAnswer:",
    "It's what they're doing; we've, I'd, you'll, I'm. IT'S THEY'RE",
    "'s 're 've 'm 'll 'd 't",
    "1 12 123 1234 12345 1234567890 3.14159 1,000,000",
    "Съешь же ещё этих мягких французских булок",
    "我们今天去北京看长城。東京",
    "مرحبا بالعالم",
    "नमस्ते दुनिया। हिंदी",
    "café naïve Zürich",
    "cafe\u0301 nai\u0308ve",
    "Ω\u2126 \u212b Å",
    "emoji 😀 👍🏽 ❤️",
    "family 👨‍👩‍👧‍👦 flag 🇫🇷 zwj",
    "tabs\there\t\tand\t\t\tmore",
    "lines\nand\n\nblank\r\nlines\n",
    "   leading and trailing   ",
    "\n\n\n",
    " ",
    "",
    "a",
    "!!! ??? ... $$$ %%% @@@ ### ***",
    "def f(x):\n\treturn x ** 2  # square\n",
    "mixed 123abc abc123 ab12cd34",
    "Ünïcödé ÀÉÎÕÜ ǅ ﬁ ½ ² ٣ ३",
    "zero\u200bwidth\u00a0nbsp\u3000ideographic space",
    "<|endoftext|>",
    "before<|endoftext|>after",
    "x <s> y </s> z <|begin_of_text|> w <|im_start|>q<|im_end|>",
    "UPPER lower MiXeD",
    "\u2581 already has a metaspace \u2581\u2581",
    b"raw \xff\xfe bytes \xc3 and \xe2\x82 cut \xed\xa0\x80 surrogate",
    b"\x80\x81\x82",
    b"ok \xf0\x9f\x98 cut emoji",
    # not in NFC: decomposed accents, Hangul jamo, marks out of canonical
    # order, a composition exclusion, singletons
    "re\u0301sume\u0301 E\u0301TE\u0301 o\u0302 u\u0308ber A\u030a",
    "\u1100\u1161 \u1112\u1161\u11ab\u1100\u116e\u11a8 \u110b\u1175\u11a8 \uac00\u11a8",
    "a\u0323\u0302 a\u0302\u0323 q\u0307\u0323 e\u0301\u0327 \u1e0b\u0323",
    "\u0958 \u0915\u093c \u2adc \ufb2c",
    "\u212b \u2126 \u212a \u0340\u0341 \u0344 e\u0344 \u1f80\u0301",
]

# More strings for the unit check of collide's NFC alone (nfc.json).
NFC_EXTRA = [
    "\u0041\u030a\u0301 \u0061\u0328\u0301\u0300 \u0301a \u0301\u0300",
    "\u1100\u1161\u11a8\u11a8 \u1100\u0300\u1161 \uac00\u1161 \u1112\u1175\u11c2\u11c2",
    "\u05e9\u05bc\u05c1 \u05e9\u05c1\u05bc \u0627\u0653 \u0627\u0655\u0650",
    "\U0001d15e \U0001d160 \U00011099\U000110ba \U0002f800 \U0002fa1d",
]


def byte_level(tok_pre, **kw):
    return tok_pre


def train_bytelevel(pre, normalizer=None, vocab=800, special=("<|endoftext|>",), ignore_merges=False):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=vocab, special_tokens=list(special),
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             show_progress=False)
    tok.train_from_iterator(CORPUS, tr)
    return tok


def train_spm(normalizer, pre, decoder, vocab=700):
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoder
    tr = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<unk>", "<s>", "</s>"],
                             show_progress=False)
    tok.train_from_iterator(CORPUS, tr)
    # SentencePiece's byte tokens <0x00>..<0xFF> right after the specials, as
    # LLaMA-2 / TinyLlama have them; the rest renumbered after.
    j = json.loads(tok.to_str())
    old = j["model"]["vocab"]
    specials = ["<unk>", "<s>", "</s>"]
    new = {s: i for i, s in enumerate(specials)}
    for b in range(256):
        new["<0x%02X>" % b] = len(new)
    for s, _ in sorted(old.items(), key=lambda kv: kv[1]):
        if s not in new:
            new[s] = len(new)
    j["model"]["vocab"] = new
    for a in j["added_tokens"]:
        a["id"] = new[a["content"]]
    return Tokenizer.from_str(json.dumps(j))


def build():
    kinds = {}
    # GPT-2: ByteLevel with its regex; merges rewritten as "a b" strings.
    t = train_bytelevel(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))
    t.post_processor = processors.ByteLevel(trim_offsets=True)
    kinds["gpt2"] = (t, {"merges_as_strings": True},
                     {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"})
    # SmolLM: Digits then ByteLevel.
    t = train_bytelevel(pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]),
        special=("<|endoftext|>", "<|im_start|>", "<|im_end|>"))
    kinds["smollm"] = (t, {}, {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"})
    # Llama-3.
    t = train_bytelevel(pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)]),
        special=("<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"), ignore_merges=True)
    t.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                      pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>",
                                                       t.token_to_id("<|begin_of_text|>"))])])
    kinds["llama3"] = (t, {}, {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"})
    # Qwen2.
    t = train_bytelevel(pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)]),
        normalizer=normalizers.NFC(),
        special=("<|endoftext|>", "<|im_start|>", "<|im_end|>"))
    t.post_processor = processors.ByteLevel(trim_offsets=False)
    kinds["qwen2"] = (t, {}, {"bos_token": None, "eos_token": "<|endoftext|>"})
    # TinyLlama / LLaMA-2 (legacy normalizer form).
    t = train_spm(normalizers.Sequence([normalizers.Prepend("\u2581"),
                                        normalizers.Replace(" ", "\u2581")]),
                  None,
                  decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)]))
    t.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", 1)])
    kinds["tinyllama"] = (t, {}, {"bos_token": "<s>", "eos_token": "</s>"})
    # Metaspace pre-tokenizer (newer conversions of SentencePiece models).
    t = train_spm(None, pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first",
                                                 split=False),
                  decoders.Sequence([decoders.Metaspace(replacement="\u2581",
                                                        prepend_scheme="first", split=False),
                                     decoders.ByteFallback(), decoders.Fuse()]))
    t.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", 1)])
    kinds["metaspace"] = (t, {}, {"bos_token": "<s>", "eos_token": "</s>"})
    return kinds


def nfc_cases(path):
    """tests/fixtures/tokenizers/nfc.json: unicodedata.normalize("NFC", s) of
    each corpus string (invalid UTF-8 read with errors="replace"), of a few
    more, and of every code point with a canonical decomposition (alone, and
    decomposed after "a"), for the unit check of datasets/nfc.c."""
    texts = [c.decode("utf-8", errors="replace") if isinstance(c, bytes) else c
             for c in CASES + NFC_EXTRA]
    dec = [chr(cp) for cp in range(0x110000) if not 0xd800 <= cp < 0xe000
           and unicodedata.decomposition(chr(cp))
           and not unicodedata.decomposition(chr(cp)).startswith("<")]
    texts.append(" ".join(dec))
    texts.append(" ".join("a" + unicodedata.normalize("NFD", c) for c in dec))
    texts.append("".join(chr(0xac00 + i) for i in range(0, 11172, 7)))
    texts.append(unicodedata.normalize("NFD", texts[-1]))
    out = {"unicode": unicodedata.unidata_version,
           "cases": [{"hex": t.encode("utf-8").hex(),
                      "nfc_hex": unicodedata.normalize("NFC", t).encode("utf-8").hex()}
                     for t in texts]}
    with open(path, "w") as f:
        json.dump(out, f, indent=0)


def rust_nfc_differs():
    """Code points that PyPI tokenizers' NFC (its Rust crate's older Unicode
    tables) normalizes otherwise than Python's unicodedata, each tried as
    "a" + c + U+0301 + c."""
    nfc = normalizers.NFC()
    cps = [c for c in range(0x110000) if not 0xd800 <= c < 0xe000]
    out = []
    for i in range(0, len(cps), 4096):
        chunk = cps[i:i + 4096]
        s = "".join("a" + chr(c) + "\u0301" + chr(c) + " " for c in chunk)
        if nfc.normalize_str(s) != unicodedata.normalize("NFC", s):
            out += [c for c in chunk if nfc.normalize_str("a%s\u0301%s" % (chr(c), chr(c)))
                    != unicodedata.normalize("NFC", "a%s\u0301%s" % (chr(c), chr(c)))]
    return out


def nfc_table(path):
    """datasets/tokenizer_nfc.h, the tables of datasets/nfc.c: the quick check
    and combining classes as ranges, the canonical decompositions, and the
    primary composites (those NFC composes) as indexes into them."""
    maybe = set(range(0x1161, 0x1176)) | set(range(0x11a8, 0x11c3))
    dec = []
    for cp in range(0x110000):
        if 0xac00 <= cp < 0xac00 + 11172:
            continue  # Hangul syllables: algorithmic
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<"):
            parts = [int(x, 16) for x in d.split()]
            assert len(parts) in (1, 2)
            primary = (len(parts) == 2 and
                       unicodedata.normalize("NFC", "".join(map(chr, parts))) == chr(cp))
            if primary:
                maybe.add(parts[1])
            dec.append((cp, parts[0], parts[1] if len(parts) == 2 else 0, primary))
    comp = sorted((i for i, d in enumerate(dec) if d[3]), key=lambda i: (dec[i][1], dec[i][2]))
    assert len(dec) < 65536
    full = max(len(unicodedata.normalize("NFD", chr(cp))) for cp in range(0x110000)
               if not 0xd800 <= cp < 0xe000)
    rows = []
    for cp in range(0x300, 0x110000):
        if 0xd800 <= cp < 0xe000:
            continue
        c = chr(cp)
        ccc = unicodedata.combining(c)
        qc = 2 if unicodedata.normalize("NFC", c) != c else 1 if cp in maybe else 0
        if ccc == 0 and qc == 0:
            continue
        if rows and rows[-1][1] == cp - 1 and rows[-1][2] == ccc and rows[-1][3] == qc:
            rows[-1][1] = cp
        else:
            rows.append([cp, cp, ccc, qc])
    assert all(unicodedata.combining(chr(cp)) == 0 for cp in range(0x300))
    differs = rust_nfc_differs()
    out = ["/* tokenizer_nfc.h -- generated by tests/ref/tokenizers_ref.py --nfc-table from Python's",
           " * unicodedata, Unicode %s: the tables of datasets/nfc.c." % unicodedata.unidata_version,
           " *",
           " * PyPI tokenizers normalizes with its Rust crate's own tables, of an older",
           " * Unicode: on tokenizers %s, %d code points (marks assigned since, e.g."
           % (tokenizers.__version__, len(differs)),
           " * %s) get another NFC there;" % ", ".join("U+%04X" % c for c in differs[:4]),
           " * text without them is normalized alike.",
           " *",
           " * tok_nfc_rows: code points from U+0300 (none below has a combining class)",
           " * with a non-zero canonical combining class or an NFC quick-check value",
           " * other than Yes (1 Maybe, 2 No), as ranges (%d rows)." % len(rows),
           " * tok_nfc_decomp: each canonical decomposition, one level (b 0: a singleton),",
           " * sorted by code point, Hangul syllables left to the algorithm (%d)." % len(dec),
           " * tok_nfc_comp: the primary composites (not excluded from composition), as",
           " * indexes into tok_nfc_decomp sorted by the pair (a, b) (%d)." % len(comp),
           " * TOK_NFC_DECOMP_MAX: the longest full decomposition of one code point. */",
           "#define TOK_NFC_UNICODE \"%s\"" % unicodedata.unidata_version,
           "#define TOK_NFC_DECOMP_MAX %d" % full,
           "static const struct { uint32_t lo, hi; uint8_t ccc, qc; } tok_nfc_rows[] = {"]

    def emit(items):
        line = ""
        for s in items:
            if len(line) + len(s) > 96:
                out.append(line)
                line = ""
            line += s
        out.append(line)
        out.append("};")

    emit(["{0x%x,0x%x,%d,%d}," % tuple(r) for r in rows])
    out.append("static const struct { uint32_t cp, a, b; } tok_nfc_decomp[] = {")
    emit(["{0x%x,0x%x,0x%x}," % d[:3] for d in dec])
    out.append("static const uint16_t tok_nfc_comp[] = {")
    emit(["%d," % i for i in comp])
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def fuzz_seed(j, path, keep=300):
    """A small copy of a fixture (the first ids, the merges among them) as a
    seed for tests/fuzz/fuzz_tokenizer.c, whose inputs stop at 16 KiB."""
    v = {s: i for s, i in j["model"]["vocab"].items() if i < keep}
    ms = []
    for m in j["model"]["merges"]:
        a, b = m.split(" ") if isinstance(m, str) else m
        if a in v and b in v and a + b in v:
            ms.append(m)
    j = dict(j, model=dict(j["model"], vocab=v, merges=ms))
    j["added_tokens"] = [a for a in j["added_tokens"] if a["id"] < keep]
    Tokenizer.from_str(json.dumps(j))  # loads in tokenizers too
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False, separators=(",", ":"))


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--nfc-table":
        return nfc_table(sys.argv[2])
    if tokenizers.__version__ != PINNED:
        print(f"warning: tokenizers {tokenizers.__version__}, fixtures pinned to {PINNED}",
              file=sys.stderr)
    root = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "fixtures", "tokenizers")
    expected = {"tokenizers": tokenizers.__version__, "kinds": {}}
    for name, (tok, opt, cfg) in build().items():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        j = json.loads(tok.to_str())
        if opt.get("merges_as_strings"):
            j["model"]["merges"] = [" ".join(m) for m in j["model"]["merges"]]
        path = os.path.join(d, "tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(j, f, ensure_ascii=False, indent=1)
        if len(sys.argv) <= 1:
            fuzz_seed(j, os.path.join(root, "..", "fuzz", "seeds_tokenizer", name + ".json"),
                      keep=300 if name in ("gpt2", "smollm", "llama3", "qwen2") else 320)
        with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(cfg, f, indent=1)
        tok = Tokenizer.from_file(path)
        lossless = name in ("gpt2", "smollm", "llama3")
        cases = []
        for c in CASES:
            raw = c if isinstance(c, bytes) else c.encode("utf-8")
            text = raw.decode("utf-8", errors="replace")
            enc = tok.encode(text, add_special_tokens=False)
            dec = tok.decode(enc.ids, skip_special_tokens=False)
            if lossless:
                assert dec == text, (name, text, dec)
            cases.append({"hex": raw.hex(), "ids": enc.ids, "nfc": unicodedata.is_normalized("NFC", text),
                          "decoded_hex": dec.encode("utf-8").hex()})
        with_special = tok.encode("Hi", add_special_tokens=True).ids
        plain = tok.encode("Hi", add_special_tokens=False).ids
        bos = with_special[:len(with_special) - len(plain)]
        vocab = tok.get_vocab(with_added_tokens=True)
        expected["kinds"][name] = {
            "vocab_size": tok.get_vocab_size(with_added_tokens=True),
            "bos": bos,
            "eos": vocab[cfg["eos_token"]],
            "lossless": lossless,
            "cases": cases,
        }
        print(f"{name}: vocab {len(vocab)}, {len(cases)} cases, bos {bos}")
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=0)
    nfc_cases(os.path.join(out, "nfc.json"))


if __name__ == "__main__":
    main()
