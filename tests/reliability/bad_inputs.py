#!/usr/bin/env python3
"""The bad-input catalogue: collide's tools against damaged, hostile and absurd input.

usage: bad_inputs.py TOOLDIR HELPERDIR WORKDIR

TOOLDIR holds the tools under test (build/bin, or build/asan/bin: then every
run is also watched by ASan+UBSan); HELPERDIR holds the Release tools that make
the good inputs every case starts from, and relstore (which damages a store
through HDF5). Each case builds one bad input in WORKDIR, runs one tool, and
asserts:

  - the exit status: 1 for bad input, 2 for bad usage or an option out of
    range -- never a signal, a sanitizer report or HDF5's own error stack;
  - the message on stderr names the file, the object and the reason (each
    case lists the words it must contain);
  - an output that already existed is byte for byte as it was (or, where
    the tool would create one, none was created), and no temporary file is
    left beside it.

Categories: stores (missing, unreadable, not HDF5, truncated, bit flips,
missing objects, wrong dtypes and shapes, NaN/Inf, accuracy matrix of the
wrong size, newer version, ...); benchmark datasets through collide-train
--data (malformed JSON, empty list, unknown label, wrong schema, missing
labels.json, ...); PEFT adapters through collide-import (hostile
adapter_config.json, safetensors and torch.save adapter_model.bin); a base's tokenizer.json, config.json and
model.safetensors through collide-train --base; options out of range. Prints
the number of cases (docs/GUARANTEES.md quotes it). Python's standard library
only.
"""
import json
import os
import shutil
import struct
import subprocess
import sys

TOOLS, HELPERS, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
ROOT = os.geteuid() == 0
failures, cases = [], 0
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)


def w(*parts):
    return os.path.join(WORK, *parts)


def helper(*args):
    r = subprocess.run([os.path.join(HELPERS, args[0]), *args[1:]], env=ENV, capture_output=True,
                       text=True)
    if r.returncode != 0:
        sys.exit(f"bad_inputs: making an input failed: {' '.join(args)}: {r.stderr.strip()}")
    return r


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path


PRECIOUS = b"an existing output that a failed run must not touch\n"
NOISE = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "HDF5-DIAG", "infinite loop",
         "Traceback")


def case(name, argv, code, needles, output=None, existing=True):
    """Run argv[0] of TOOLS with argv[1:]; check code, needles, output, litter."""
    global cases
    cases += 1
    before = None
    if output is not None:
        if existing:
            if os.path.isdir(output):
                pass
            else:
                write(output, PRECIOUS)
                before = PRECIOUS
        elif os.path.exists(output):
            os.remove(output)
    r = subprocess.run([os.path.join(TOOLS, argv[0]), *argv[1:]], env=ENV, capture_output=True,
                       text=True, errors="replace", timeout=120)
    why = []
    if r.returncode != code:
        why.append(f"exit {r.returncode}, expected {code}")
    for n in needles:
        if n not in r.stderr:
            why.append(f"message lacks {n!r}")
    for n in NOISE:
        if n in r.stderr:
            why.append(f"stderr holds {n!r}")
    if not r.stderr.startswith(argv[0] + ":"):
        why.append("the message does not start with the tool's name")
    if output is not None:
        if existing and before is not None:
            now = open(output, "rb").read() if os.path.isfile(output) else None
            if now != before:
                why.append(f"{output} was changed")
        elif not existing and os.path.exists(output):
            why.append(f"{output} was created")
        d, base = os.path.split(output)
        litter = [f for f in os.listdir(d) if f.startswith(base + ".tmp.")]
        if litter:
            why.append(f"temporary files left: {litter}")
    first = r.stderr.strip().splitlines()[0] if r.stderr.strip() else "(no message)"
    if why:
        failures.append(name)
        print(f"FAIL {name}: {'; '.join(why)}\n     stderr: {r.stderr.strip()[:600]}")
    else:
        print(f"ok   {name}: {first[:150]}")


# ================================================================== stores
good = w("good.h5")
helper("collide-synth", "-o", good, "--tasks", "3", "--modules", "2", "--shape", "8x6", "--rank",
       "2", "--snapshots-per-task", "1", "--seed", "5")
GOOD = open(good, "rb").read()


def store(name, data=None, mutation=None):
    p = w("stores", name + ".h5")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    if mutation:
        helper("relstore", "mutate", good, p, mutation)
    else:
        write(p, data)
    return p


def store_case(name, p, needles, tool="collide-info", extra=()):
    case(f"store/{name}", [tool, *extra, p], 1, [p, *needles])


missing = w("stores", "absent.h5")
store_case("missing file", missing, ["No such file"])
os.makedirs(w("stores", "a-directory.h5"), exist_ok=True)
store_case("a directory where the file should be", w("stores", "a-directory.h5"),
           ["not a regular file"])
if ROOT:  # chmod does not stop root: a path through a regular file is unreadable to anyone
    store_case("unreadable (a path through a file)", good + "/inner.h5", ["Not a directory"])
else:
    p = store("unreadable", GOOD)
    os.chmod(p, 0)
    store_case("unreadable (mode 000)", p, ["Permission denied"])
store_case("empty file", store("empty", b""), ["not an HDF5 file"])
store_case("a text file", store("text", b"this is not HDF5\n" * 10), ["not an HDF5 file"])
for cut in (8, 512, len(GOOD) // 2, len(GOOD) - 100):
    store_case(f"truncated to {cut} of {len(GOOD)} bytes", store(f"cut{cut}", GOOD[:cut]),
               ["damaged or truncated"], tool="collide-report")


def flipped(at):
    d = bytearray(GOOD)
    d[at] ^= 0xFF
    return bytes(d)


store_case("bit flip in the signature", store("flip-sig", flipped(0)), ["not an HDF5 file"])
store_case("bit flip in the superblock (checksummed)", store("flip-sb", flipped(20)),
           ["damaged or truncated", "checksum"])
ohdr = GOOD.index(b"OHDR", 48)
store_case("bit flip in an object header (checksummed)", store("flip-oh", flipped(ohdr + 12)),
           ["checksum"], tool="collide-report")
# The global heap holds the strings and has no checksum. "GCOL", version,
# 3 reserved bytes, the collection size (8); then each object: index (2),
# references (2), reserved (4), size (8), data padded to 8. The top byte of
# the first string's size flipped makes libhdf5 1.10 copy ~2^56 bytes; collide
# reads the metadata first in a throw-away process.
gcol = GOOD.index(b"GCOL")
at = gcol + 16
while struct.unpack("<H", GOOD[at:at + 2])[0] == 0:  # index 0: free space
    at += 16 + (struct.unpack("<Q", GOOD[at + 8:at + 16])[0] + 7) // 8 * 8
store_case("bit flip in the global heap (no checksum; crashes libhdf5)",
           store("flip-gh", flipped(at + 15)), ["HDF5 metadata", "damaged", "crashed"],
           tool="collide-report")
M = [  # (name, mutation, tool, words naming the object and the reason)
    ("missing /snapshots/table", "delete:snapshots/table", "collide-info",
     ["snapshots/table", "object missing"]),
    ("missing adapter B", "delete:adapters/000001/B", "collide-report",
     ["adapters/000001/B", "object missing"]),
    ("missing attribute", "delete-attr:method", "collide-info", ["/@method", "attribute missing"]),
    ("A stored as float64", "retype:adapters/000000/A:float64", "collide-collision",
     ["adapters/000000/A", "expected float32, found float64"]),
    ("A stored as int32", "retype:adapters/000000/A:int32", "collide-ortho",
     ["adapters/000000/A", "found int32"]),
    ("B of the wrong shape", "reshape:adapters/000001/B", "collide-subspace",
     ["adapters/000001/B", "shape"]),
    ("accuracy matrix of the wrong size", "accuracy-size", "collide-forget",
     ["/accuracy", "shape 2 x 2, expected 3 x 3"]),
    ("accuracy above 1", "set:accuracy:1:1.5", "collide-forget", ["/accuracy", "R[0][1] is 1.5"]),
    ("accuracy -Inf", "set:accuracy:4:-inf", "collide-forget", ["/accuracy", "-inf"]),
    ("NaN in an adapter", "set:adapters/000000/A:14:nan", "collide-collision",
     ["adapters/000000/A", "is NaN"]),
    ("Inf in an adapter", "set:adapters/000001/B:50:inf", "collide-sparsity",
     ["adapters/000001/B", "is Inf"]),
    ("NaN scale", "set:snapshots/scale:0:nan", "collide-info", ["snapshots/scale", "nan"]),
    ("a newer format version", "attr-int:format_version:3", "collide-info",
     ["/@format_version", "version 3 is newer than this collide reads (2)"]),
    ("a version 2 store without its ranked accuracy", "delete:accuracy_ranked", "collide-forget",
     ["accuracy_ranked", "object missing"]),
    ("a negative test count", "set:tasks/n_test:0:-5", "collide-forget",
     ["tasks/n_test", "expected >= 0"]),
    ("an HDF5 file without the format attribute", "delete-attr:format", "collide-info",
     ["not a collide store (/@format", "attribute missing)"]),
    ("not a collide store", "attr-str:format:something-else", "collide-info",
     ["/@format", "is not a collide store"]),
    ("a task name that is not UTF-8", "string:tasks/name:1:\\xff\\xfeab", "collide-info",
     ["tasks/name", "not valid UTF-8"]),
    ("a method that is not UTF-8", "attr-str:method:ab\\xc3", "collide-info",
     ["/@method", "not valid UTF-8"]),
    ("the counter beyond the rows", "set:snapshots/committed:0:50", "collide-info",
     ["snapshots/table", "fewer than the 50 committed"]),
    ("a negative counter", "set:snapshots/committed:0:-3", "collide-info",
     ["snapshots/committed", "negative count"]),
    ("a snapshot rank above the module's", "set:snapshots/rank:1:9", "collide-info",
     ["snapshots/rank", "rank 9 outside [1, 2]"]),
    ("a table row naming no task", "table:0:task:7", "collide-info",
     ["snapshots/table", "task 7 out of range"]),
    ("task names stored as integers", "retype:tasks/name:int32", "collide-info",
     ["tasks/name", "expected variable-length string"]),
    ("a module of 0 rows", "set:modules/d_out:0:0", "collide-info", ["modules", "out of range"]),
    ("a baseline above 1", "set:tasks/baseline:0:2", "collide-forget",
     ["tasks/baseline", "expected [0, 1] or NaN"]),
]
for name, mutation, tool, words in M:
    store_case(name, store(name.replace(" ", "-").replace("/", ""), mutation=mutation), words,
               tool=tool)
# export of a damaged store: the adapters already exported stay as they were
exp = w("export-out")
bad = store("export-nan", mutation="set:adapters/000000/A:14:nan")
case("store/export of a store with NaN (existing adapters kept)",
     ["collide-export", "--force", bad, "-o", exp], 1, [bad, "adapters/000000/A", "is NaN"],
     output=w("export-out", "task1", "adapter_model.safetensors"))

# ================================================================== datasets
base = w("base")
helper("collide-pretrain", "-o", base, "--synthetic", "--dim", "32", "--layers", "1", "--heads",
       "2", "--kv-heads", "2", "--ffn", "64", "--seq", "32", "--batch", "8", "--vocab", "300",
       "--steps", "5", "--quiet")
LABELS = ["World", "Sports", "Business", "Sci/Tech"]


def records(n=8):
    return [{"sentence": f"news item {i} about {LABELS[i % 4]}", "label": LABELS[i % 4]}
            for i in range(n)]


def dataset(name, labels=LABELS, train=None, test=None, drop=()):
    """A one-task benchmark folder (TC/agnews), with the given files."""
    root = w("data", name)
    d = os.path.join(root, "TC", "agnews")
    files = {"labels.json": labels, "train.json": records() if train is None else train,
             "test.json": records(4) if test is None else test}
    for f, v in files.items():
        if f in drop:
            continue
        write(os.path.join(d, f), v if isinstance(v, (str, bytes)) else json.dumps(v))
    return root, d


TRAIN = ["--tasks", "agnews", "--base", base, "--train-per-class", "2", "--test-per-task", "2",
         "--epochs", "1", "--quiet"]


def data_case(name, words, code=1, **kw):
    root, d = dataset(name.replace(" ", "-"), **kw)
    out = w("train-out", name.replace(" ", "-") + ".h5")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    case(f"dataset/{name}", ["collide-train", "-o", out, "--data", root, *TRAIN], code,
         [x.replace("{d}", d) for x in words], output=out, existing=False)


data_case("train.json malformed", ["{d}/train.json", "invalid JSON"], train='[{"sentence": "a",')
data_case("train.json an empty list", ["{d}/train.json", "the list is empty"], train=[])
data_case("a label not in labels.json", ["{d}/train.json", "record 3", "\"Cooking\"",
                                         "not in labels.json"],
          train=records(3) + [{"sentence": "x", "label": "Cooking"}])
data_case("a record without a sentence", ["{d}/train.json", "record 0",
                                          "needs string \"sentence\" and \"label\""],
          train=[{"text": "x", "label": "World"}])
data_case("a label that is a number", ["{d}/train.json", "record 0", "\"label\""],
          train=[{"sentence": "x", "label": 1}])
data_case("train.json an object, not a list", ["{d}/train.json", "expected a list"],
          train={"sentence": "x", "label": "World"})
data_case("test.json malformed", ["{d}/test.json", "invalid JSON"], test="not json at all")
data_case("labels.json missing", ["{d}/labels.json", "missing"], drop=("labels.json",))
data_case("labels.json malformed", ["{d}/labels.json"], labels="[\"World\", ")
data_case("labels.json one label", ["{d}/labels.json", "2 to 1000 labels"], labels=["World"])
data_case("labels.json repeated label", ["{d}/labels.json", "repeated"],
          labels=["World", "World"])
data_case("no train.json or test.json", ["agnews", "no data", "{d}"],
          drop=("train.json", "test.json"))
out = w("train-out", "nodata.h5")
case("dataset/--data a missing folder", ["collide-train", "-o", out, "--data", w("no-such-data"),
                                         *TRAIN], 1, [w("no-such-data"), "not a directory"],
     output=out, existing=False)
pre_out = w("pretrain-out")
case("dataset/collide-pretrain --data a missing folder",
     ["collide-pretrain", "-o", pre_out, "--data", w("no-such-data"), "--steps", "1"], 1,
     [w("no-such-data"), "not a directory"], output=pre_out, existing=False)

# ================================================================== PEFT adapters
FIX = os.path.join(SRC, "fixtures", "peft", "llama", "task1")
CONFIG = json.load(open(os.path.join(FIX, "adapter_config.json")))
ST = open(os.path.join(FIX, "adapter_model.safetensors"), "rb").read()
HLEN = struct.unpack("<Q", ST[:8])[0]
HEADER = json.loads(ST[8:8 + HLEN])
DATA = ST[8 + HLEN:]
A0 = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"


def safetensors(header, data):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def adapter(name, config=None, st=None, raw_config=None, drop=()):
    d = w("adapters", name)
    os.makedirs(d, exist_ok=True)
    if "adapter_config.json" not in drop:
        write(os.path.join(d, "adapter_config.json"),
              raw_config if raw_config is not None else json.dumps(config or CONFIG))
    if "adapter_model.safetensors" not in drop:
        write(os.path.join(d, "adapter_model.safetensors"), ST if st is None else st)
    return d


def import_case(name, d, words, code=1, extra=()):
    out = w("import-out.h5")
    case(f"adapter/{name}", ["collide-import", "--force", "-o", out, *extra, d], code, words,
         output=out)


def cfg(**kv):
    c = dict(CONFIG)
    c.update(kv)
    return c


d = adapter("config-malformed", raw_config='{"r": 4, "lora_alpha": ')
import_case("adapter_config.json malformed", d, [d + "/adapter_config.json"])
d = adapter("config-prompt-tuning", cfg(peft_type="PROMPT_TUNING"))
import_case("peft_type PROMPT_TUNING", d, [d + "/adapter_config.json", "peft_type"])
d = adapter("config-r-string", cfg(r="four"))
import_case("r a string", d, [d + "/adapter_config.json", "r", "integer"])
d = adapter("config-r-zero", cfg(r=0))
import_case("r of 0", d, [d + "/adapter_config.json", "r"])
d = adapter("config-dora", cfg(use_dora=True))
import_case("use_dora true", d, [d + "/adapter_config.json", "use_dora"])
d = adapter("config-duplicate", raw_config='{"r": 4, "r": 8, "lora_alpha": 8}')
import_case("a duplicate key", d, [d + "/adapter_config.json", "duplicate"])
d = adapter("config-regex", cfg(rank_pattern={"layers\\.\\d+\\.q_proj": 2}))
import_case("rank_pattern with \\d", d, [d + "/adapter_config.json", "rank_pattern"])
d = adapter("config-huge-number", raw_config='{"r": 4, "lora_alpha": 1e999}')
import_case("lora_alpha overflowing a double", d, [d + "/adapter_config.json"])
d = adapter("no-config", drop=("adapter_config.json",))
import_case("adapter_config.json missing", d, [d + "/adapter_config.json"])
d = adapter("st-header-beyond", st=struct.pack("<Q", 10 ** 6) + ST[8:])
import_case("safetensors header longer than the file", d, [d + "/adapter_model.safetensors",
                                                           "header"])
h = dict(HEADER)
h[A0] = dict(h[A0], data_offsets=[256, 768])
d = adapter("st-overlap", st=safetensors(h, DATA))
import_case("safetensors tensors overlapping", d, [d + "/adapter_model.safetensors", "overlap"])
nan = bytearray(DATA)
nan[0:4] = struct.pack("<f", float("nan"))
d = adapter("st-nan", st=safetensors(HEADER, bytes(nan)))
import_case("NaN in lora_A", d, [d + "/adapter_model.safetensors", "q_proj", "NaN"])
h = dict(HEADER)
h[A0] = dict(h[A0], shape=[2, 64])
d = adapter("st-rank", st=safetensors(h, DATA))
import_case("lora_A of another rank", d, [d, "q_proj"])
d = adapter("st-truncated", st=ST[:len(ST) - 700])
import_case("safetensors data cut short", d, [d + "/adapter_model.safetensors"])
d = adapter("pickle", drop=("adapter_model.safetensors",))
write(os.path.join(d, "adapter_model.bin"), b"\x80\x04pickle")
import_case("a pickle adapter_model.bin", d, [d + "/adapter_model.bin", "pickle",
                                              "not a torch.save checkpoint"])
# torch.save checkpoints (adapter_model.bin) read by collide's own pickle
# machine: every hostile file of tests/fixtures/peft/torch/hostile (made by
# make_torch.py, each with the words its message must contain), then the
# million-opcode bombs written here (after the legacy format's first three
# pickles).
TORCH = os.path.join(SRC, "fixtures", "peft", "torch")
TCONFIG = open(os.path.join(TORCH, "f32", "bin", "adapter_config.json")).read()
for c in json.load(open(os.path.join(TORCH, "hostile", "cases.json"))):
    d = adapter("torch-" + c["file"][:-4], raw_config=TCONFIG, drop=("adapter_model.safetensors",))
    b = write(os.path.join(d, "adapter_model.bin"),
              open(os.path.join(TORCH, "hostile", c["file"]), "rb").read())
    import_case("torch.save " + c["file"][:-4], d, [b, *c["needles"]])
LEGACY_HEAD = (b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19." +
               b"\x80\x02M\xe9\x03." + b"\x80\x02}.")
N = 1000000
for name, body, words in (("MARK bomb", b"(" * N, ["MARKs nested deeper"]),
                          ("nested EMPTY_LIST bomb", b"]" * N + b"a" * (N - 1), ["stack deeper"]),
                          ("nested TUPLE1 bomb", b"]" + b"\x85" * N, ["holds a tuple"]),
                          ("a list holding itself", b"]q\x00h\x00a", ["holds a list"])):
    d = adapter("torch-" + name.replace(" ", "-"), raw_config=TCONFIG,
                drop=("adapter_model.safetensors",))
    b = write(os.path.join(d, "adapter_model.bin"), LEGACY_HEAD + b"\x80\x02" + body +
              b".\x80\x02].")
    import_case("torch.save " + name, d, [b, *words])
import_case("a missing adapter folder", w("adapters", "absent"),
            [w("adapters", "absent"), "No such file"])
import_case("--tasks naming 2 tasks for 1", FIX, ["--tasks"], code=2, extra=("--tasks", "a,b"))

# ================================================================== bases
SYN = ["--synthetic", "--tasks", "synth1", "--train-per-class", "2", "--test-per-task", "2",
       "--epochs", "1", "--quiet"]


def base_variant(name, files=None, drop=(), dirs=()):
    d = w("bases", name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(base, d)
    for f in drop:
        os.remove(os.path.join(d, f))
    for f in dirs:
        os.remove(os.path.join(d, f))
        os.makedirs(os.path.join(d, f))
    for f, v in (files or {}).items():
        write(os.path.join(d, f), v if isinstance(v, (str, bytes)) else json.dumps(v))
    return d


def base_case(name, d, words):
    out = w("train-out", "base-" + name.replace(" ", "-").replace("/", "") + ".h5")
    case(f"base/{name}", ["collide-train", "-o", out, "--base", d, *SYN], 1,
         [x.replace("{d}", d) for x in words], output=out, existing=False)


TOK = json.load(open(os.path.join(base, "tokenizer.json")))
CONF = json.load(open(os.path.join(base, "config.json")))


def tok(**kv):
    t = json.loads(json.dumps(TOK))
    for k, v in kv.items():
        t["model"][k] = v
    return t


def conf(**kv):
    c = dict(CONF)
    c.update(kv)
    return c


base_case("tokenizer.json malformed", base_variant("tok-malformed", {"tokenizer.json": "{\"model\": "}),
          ["{d}/tokenizer.json", "invalid JSON"])
base_case("tokenizer.json not BPE", base_variant("tok-wordpiece", {"tokenizer.json": tok(type="WordPiece")}),
          ["{d}/tokenizer.json", "model", "BPE"])
vocab = {("Q" * 9 if k == "A" else k): v for k, v in TOK["model"]["vocab"].items()}
base_case("tokenizer.json without byte A's token",
          base_variant("tok-nobyte", {"tokenizer.json": tok(vocab=vocab)}),
          ["{d}/tokenizer.json", "model.vocab", "byte 0x41 has no token"])
base_case("tokenizer.json a merge of unknown tokens",
          base_variant("tok-merge", {"tokenizer.json": tok(merges=["zz qq"] + TOK["model"]["merges"])}),
          ["{d}/tokenizer.json", "model.merges[0]", "not in the vocabulary"])
base_case("tokenizer.json missing", base_variant("tok-missing", drop=("tokenizer.json",)),
          ["{d}/tokenizer.json", "cannot open"])
base_case("tokenizer.json a directory", base_variant("tok-dir", dirs=("tokenizer.json",)),
          ["{d}/tokenizer.json", "Is a directory"])
base_case("config.json malformed", base_variant("conf-malformed", {"config.json": "{\"vocab_size\": 3"}),
          ["{d}/config.json", "invalid JSON"])
base_case("config.json another architecture", base_variant("conf-gpt2", {"config.json": conf(model_type="gpt2")}),
          ["{d}/config.json", "model_type", '"gpt2" is not supported (llama, qwen2, mistral)'])
base_case("config.json hidden_size a string",
          base_variant("conf-str", {"config.json": conf(hidden_size="32")}),
          ["{d}/config.json", "hidden_size", "expected an integer, found a string"])
base_case("config.json heads not a multiple of the kv heads",
          base_variant("conf-heads", {"config.json": conf(num_key_value_heads=3)}),
          ["{d}/config.json", "num_key_value_heads 3"])
c = conf()
del c["vocab_size"]
base_case("config.json without vocab_size", base_variant("conf-novocab", {"config.json": c}),
          ["{d}/config.json", "vocab_size", "missing"])
base_case("config.json rope scaling", base_variant("conf-rope", {"config.json": conf(rope_scaling={"type": "yarn", "factor": 2.0})}),
          ["{d}/config.json", "rope_scaling", 'type "yarn" but rope_parameters.rope_type "default"'])
base_case("config.json a directory", base_variant("conf-dir", dirs=("config.json",)),
          ["{d}/config.json", "Is a directory"])
base_case("config.json of another size than the weights",
          base_variant("conf-size", {"config.json": conf(intermediate_size=96)}),
          ["{d}/model.safetensors", "does not match config.json"])
base_case("config.json's vocabulary not the weights'",
          base_variant("conf-vocab", {"config.json": conf(vocab_size=CONF["vocab_size"] + 1)}),
          ["{d}/model.safetensors", "embed_tokens", "does not match config.json"])
base320 = w("base320")
helper("collide-pretrain", "-o", base320, "--synthetic", "--dim", "32", "--layers", "1",
       "--heads", "2", "--kv-heads", "2", "--ffn", "64", "--seq", "32", "--batch", "8", "--vocab",
       "320", "--steps", "1", "--quiet")
base_case("a tokenizer of another vocabulary than the model",
          base_variant("tok-vocab", {"tokenizer.json": open(os.path.join(base320, "tokenizer.json")).read()}),
          ["{d}", "the tokenizer has 320 tokens, the model 300"])
base_case("model.safetensors missing", base_variant("st-missing", drop=("model.safetensors",)),
          ["{d}", "model.safetensors"])
mst = open(os.path.join(base, "model.safetensors"), "rb").read()
n = struct.unpack("<Q", mst[:8])[0]
bad = bytearray(mst)
bad[8 + n + ((len(mst) - 8 - n) // 2 & ~3):][:4] = struct.pack("<f", float("inf"))
bad[8 + n + ((len(mst) - 8 - n) // 2 & ~3): 8 + n + ((len(mst) - 8 - n) // 2 & ~3) + 4] = \
    struct.pack("<f", float("inf"))
base_case("a weight that is Inf", base_variant("st-inf", {"model.safetensors": bytes(bad)}),
          ["{d}/model.safetensors", "not finite"])
base_case("--base a missing folder", w("bases", "absent"), [w("bases", "absent")])

# ================================================================== options out of range
def usage_case(name, argv, words, output=None):
    case(f"option/{name}", argv, 2, words, output=output, existing=False)


so = w("option-out.h5")
usage_case("collide-synth --tasks 0", ["collide-synth", "-o", so, "--tasks", "0"], ["tasks"], so)
usage_case("collide-synth --density 2", ["collide-synth", "-o", so, "--density", "2"],
           ["density"], so)
usage_case("collide-synth --shape 0x5", ["collide-synth", "-o", so, "--shape", "0x5"], ["shape"],
           so)
usage_case("collide-synth --rank 1e12", ["collide-synth", "-o", so, "--rank", "1e12"], ["--rank"],
           so)
usage_case("collide-collision --threshold energy:2",
           ["collide-collision", "--threshold", "energy:2", good], ["energy"])
usage_case("collide-sparsity --threshold top:0", ["collide-sparsity", "--threshold", "top:0", good],
           ["top"])
usage_case("collide-subspace --rank-tol 1.5", ["collide-subspace", "--rank-tol", "1.5", good],
           ["--rank-tol"])
usage_case("collide-ortho --device tpu", ["collide-ortho", "--device", "tpu", good], ["--device"])
usage_case("collide-info --format xml", ["collide-info", "--format", "xml", good], ["--format"])
usage_case("collide-report --snapshot abc", ["collide-report", "--snapshot", "abc", good],
           ["--snapshot", "abc"])
# well formed, but beyond what this store holds: bad input (1)
case("store/--snapshot 99 of a store with 6", ["collide-report", "--snapshot", "99", good], 1,
     [good, "--snapshot 99", "snapshots 0 to 5"])
usage_case("collide-forget --snapshot -1", ["collide-forget", "--snapshot", "-1", good],
           ["--snapshot"])
to = w("option-train.h5")
usage_case("collide-train --rank 0", ["collide-train", "-o", to, "--rank", "0", *SYN, "--base",
                                      base], ["--rank"], to)
usage_case("collide-train --lr 5", ["collide-train", "-o", to, "--lr", "5", *SYN, "--base", base],
           ["--lr"], to)
usage_case("collide-train --dropout 1", ["collide-train", "-o", to, "--dropout", "1", *SYN,
                                         "--base", base], ["--dropout"], to)
po = w("option-pretrain")
usage_case("collide-pretrain --vocab 10", ["collide-pretrain", "-o", po, "--vocab", "10"],
           ["--vocab"], po)
usage_case("collide-pretrain --dim 30 --heads 4",
           ["collide-pretrain", "-o", po, "--dim", "30", "--heads", "4"], ["--dim", "--heads"], po)
usage_case("collide-export --fan-in-fan-out maybe",
           ["collide-export", good, "-o", w("option-export"), "--fan-in-fan-out", "maybe"],
           ["--fan-in-fan-out"], w("option-export"))

print(f"bad_inputs: {'FAIL' if failures else 'PASS'}: {cases} cases, {len(failures)} failures"
      + (": " + ", ".join(failures) if failures else ""))
sys.exit(1 if failures else 0)
