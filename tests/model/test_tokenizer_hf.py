#!/usr/bin/env python3
"""A tokenizer.json written by collide loads in PyPI's `tokenizers` and
encodes a test text to the same ids as collide does.

usage: test_tokenizer_hf.py BINDIR
Needs `pip install tokenizers` (checked with tokenizers 0.23.3); without it
the test reports itself skipped (exit 77), never passes silently.
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    from tokenizers import Tokenizer
except ImportError:
    print("test_tokenizer_hf: skipped: PyPI's tokenizers is not installed "
          "(pip install tokenizers)")
    sys.exit(77)


def main():
    bindir = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([os.path.join(bindir, "test_tokenizer"), "--emit", d], check=True)
        want = json.load(open(os.path.join(d, "ids.json")))
        tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        got = tok.encode(want["text"]).ids
        back = tok.decode(got, skip_special_tokens=False)
        ok = got == want["ids"]
        print(f"test_tokenizer_hf: {'PASS' if ok else 'FAIL'}: {len(got)} ids from tokenizers, "
              f"{len(want['ids'])} from collide; decode round trip "
              f"{'exact' if back == want['text'] else 'differs'}")
        if not ok:
            for i, (a, b) in enumerate(zip(got, want["ids"])):
                if a != b:
                    print(f"first difference at {i}: tokenizers {a} collide {b}")
                    break
        return 0 if ok and back == want["text"] else 1


if __name__ == "__main__":
    sys.exit(main())
