#!/usr/bin/env python3
"""layering.py -- collide's libraries include and link only downwards.

Every #include "..." in the C and CUDA sources and headers of core/,
kernels/, libmetrics/, datasets/, model/ and tools/ is resolved to a file
and checked against LAYERS below (docs/ARCHITECTURE.md): a folder may
include its own headers and those of the folders its row names, nothing
else. So are the collide libraries each folder's CMakeLists.txt links
(COLLIDE_LIBS of collide_target). Any other arrow, upward or sideways, and
any cycle between folders fails the test, naming file:line.

Before the checkout, the script checks itself on a small tree with one
upward include and one upward link, and fails if it does not see them.

usage: layering.py [SOURCE_DIR]    (default: the checkout holding this file)
Python 3 standard library only.
"""
import os
import re
import sys
import tempfile

# Folder -> layer, the longest prefix winning; the layers bottom up, each
# with the layers it may include and link. Same-layer includes are free.
FOLDERS = {
    "core": "core",
    "kernels": "kernels",            # kernels/cpu, kernels/cuda too
    "kernels/layers": "layers",      # the model's layer kernels
    "libmetrics/store": "store",
    "libmetrics/peft": "peft",
    "libmetrics/metrics": "metrics",
    "libmetrics": "collide",         # collide.h, the umbrella header
    "datasets": "datasets",
    "model": "model",
    "tools": "tools",
}
LAYERS = {
    "core": [],
    "layers": [],
    "kernels": ["core"],
    "store": ["core"],
    "peft": ["store", "core"],
    "metrics": ["kernels", "store", "core"],
    "collide": ["metrics", "peft", "store", "kernels", "core"],
    "datasets": ["core"],
    "model": ["collide", "metrics", "peft", "store", "kernels", "layers", "datasets", "core"],
    "tools": ["model", "collide", "metrics", "peft", "store", "kernels", "layers", "datasets",
              "core"],
}
# The CMake targets of each layer (both variants: <name> and <name>_asan).
TARGETS = {
    "collide_core": "core",
    "collide_kernels": "kernels",
    "collide_cuda": "kernels",
    "collide_layers": "layers",
    "collide_store": "store",
    "collide_peft": "peft",
    "collide_metrics": "metrics",
    "collide": "collide",
    "collide_datasets": "datasets",
    "collide_model": "model",
    "collide_cli": "tools",
    "collide_plot": "tools",
}
SOURCE_EXT = (".c", ".h", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def layer_of(rel):
    """The layer of a path relative to the top, or None outside the table."""
    best = None
    for folder in FOLDERS:
        if rel == folder or rel.startswith(folder + "/"):
            if best is None or len(folder) > len(best):
                best = folder
    return FOLDERS[best] if best else None


def check_table():
    """The table itself: every layer named, and no cycle among them."""
    errors = []
    for layer, below in LAYERS.items():
        for b in below:
            if b not in LAYERS:
                errors.append(f"LAYERS: {layer} names unknown layer {b}")
    state = {}

    def visit(layer, path):
        if state.get(layer) == 1:
            cycle = path[path.index(layer):] + [layer]
            errors.append("LAYERS: cycle " + " -> ".join(cycle))
            return
        if state.get(layer) == 2:
            return
        state[layer] = 1
        for b in LAYERS.get(layer, []):
            visit(b, path + [layer])
        state[layer] = 2

    for layer in LAYERS:
        visit(layer, [])
    return errors


def sources(top):
    for folder in sorted({f.split("/")[0] for f in FOLDERS}):
        base = os.path.join(top, folder)
        for root, dirs, files in os.walk(base):
            dirs.sort()
            for f in sorted(files):
                if f.endswith(SOURCE_EXT):
                    yield os.path.relpath(os.path.join(root, f), top).replace(os.sep, "/")


def resolve(top, rel, name, by_folder):
    """The file an #include "name" in rel means: beside rel first, then on
    the include path (the libraries' folders). Returns (path, why)."""
    here = os.path.normpath(os.path.join(os.path.dirname(rel), name)).replace(os.sep, "/")
    if os.path.isfile(os.path.join(top, here)):
        return here, None
    found = [os.path.join(folder, name).replace(os.sep, "/") for folder in by_folder
             if os.path.isfile(os.path.join(top, folder, name))]
    if len(found) == 1:
        return found[0], None
    if not found:
        return None, f'#include "{name}" matches no file of collide\'s folders'
    return None, f'#include "{name}" is ambiguous: {", ".join(found)}'


def check_includes(top):
    errors, edges = [], {}
    folders = sorted(FOLDERS, key=len, reverse=True)
    for rel in sources(top):
        src = layer_of(rel)
        if src is None:
            continue
        with open(os.path.join(top, rel), encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target, why = resolve(top, rel, m.group(1), folders)
                if why:
                    errors.append(f"{rel}:{lineno}: {why}")
                    continue
                dst = layer_of(target)
                if dst is None:
                    errors.append(f"{rel}:{lineno}: includes {target}, outside the layered folders")
                    continue
                if dst == src:
                    continue
                edges.setdefault((src, dst), f"{rel}:{lineno}")
                if dst not in LAYERS[src]:
                    way = "upward" if src in below_all(dst) else "sideways"
                    errors.append(f"{rel}:{lineno}: {way} include of {target}: {src} may include "
                                  f"only {', '.join(LAYERS[src]) or 'itself'}, not {dst}")
    return errors, edges


def below_all(layer, seen=None):
    seen = set() if seen is None else seen
    for b in LAYERS.get(layer, []):
        if b not in seen:
            seen.add(b)
            below_all(b, seen)
    return seen


CALL = re.compile(r"collide_target\s*\(\s*([A-Za-z0-9_-]+)(.*?)\)\s*$", re.S | re.M)
KEYWORDS = {"SOURCES", "LIBS", "COLLIDE_LIBS", "INCLUDES", "OUTDIR"}


def check_links(top):
    """COLLIDE_LIBS of every collide_target call in the layered folders."""
    errors, edges = [], {}
    for folder in sorted(FOLDERS):
        base = os.path.join(top, folder)
        names = sorted(f for f in os.listdir(base) if f == "CMakeLists.txt" or
                       f.endswith(".cmake")) if os.path.isdir(base) else []
        for name in names:
            errors += links_of(top, folder, name, edges)
    return errors, edges


def links_of(top, folder, name, edges):
    """The COLLIDE_LIBS of the collide_target calls in one CMake file."""
    errors = []
    text = open(os.path.join(top, folder, name), encoding="utf-8").read()
    for m in CALL.finditer(text):
        lineno = text.count("\n", 0, m.start()) + 1
        words = re.sub(r"#[^\n]*", "", m.group(2)).split()
        libs, key = [], None
        for w in words:
            if w in KEYWORDS:
                key = w
            elif key == "COLLIDE_LIBS":
                libs.append(w)
        src = TARGETS.get(m.group(1), FOLDERS[folder])
        where = f"{folder}/{name}:{lineno}"
        for lib in libs:
            dst = TARGETS.get(lib)
            if dst is None:
                errors.append(f"{where}: {m.group(1)} links {lib}, a target the table "
                              "does not know (add it to TARGETS in tests/layering.py)")
                continue
            if dst == src:
                continue
            edges.setdefault((src, dst), where)
            if dst not in LAYERS[src]:
                errors.append(f"{where}: {m.group(1)} ({src}) links {lib} ({dst}): "
                              f"{src} may link only {', '.join(LAYERS[src]) or 'nothing'}")
    return errors


def cycles(edges):
    """Cycles among the folders' actual arrows, each with a file:line."""
    graph = {}
    for (a, b) in edges:
        graph.setdefault(a, []).append(b)
    found, state = [], {}

    def visit(n, path):
        if state.get(n) == 1:
            loop = path[path.index(n):] + [n]
            where = ", ".join(edges[(loop[i], loop[i + 1])] for i in range(len(loop) - 1))
            found.append("cycle " + " -> ".join(loop) + f" ({where})")
            return
        if state.get(n) == 2:
            return
        state[n] = 1
        for m in sorted(graph.get(n, [])):
            visit(m, path + [n])
        state[n] = 2

    for n in sorted(graph):
        visit(n, [])
    return found


def check(top):
    errors = check_table()
    inc_errors, inc_edges = check_includes(top)
    link_errors, link_edges = check_links(top)
    errors += inc_errors + link_errors
    errors += cycles({**link_edges, **inc_edges})
    return errors


def self_test():
    """A tree with one upward include (kernels -> metrics) and one upward
    link (core -> store) must fail with both named."""
    with tempfile.TemporaryDirectory() as d:
        files = {
            "core/cl_core.h": "#include <stddef.h>\n",
            "core/CMakeLists.txt": "collide_target(collide_core LIBRARY SOURCES a.c\n"
                                   "  COLLIDE_LIBS collide_store)\n",
            "kernels/select.c": '#include "cl_core.h"\n\n#include "cl_metrics.h"\n',
            "libmetrics/metrics/cl_metrics.h": '#include "cl_core.h"\n',
        }
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as fh:
                fh.write(text)
        errors = check(d)
        want = ["kernels/select.c:3: upward include of libmetrics/metrics/cl_metrics.h",
                "core/CMakeLists.txt:1: collide_core (core) links collide_store (store)"]
        missing = [w for w in want if not any(e.startswith(w) for e in errors)]
        return missing, errors


def main():
    top = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                          os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    missing, seen = self_test()
    if missing:
        print("layering.py: the self-test did not see:", *missing, "it saw:", *seen, sep="\n  ")
        return 1
    errors = check(top)
    for e in errors:
        print(e)
    if errors:
        print(f"layering: {len(errors)} arrow(s) against the layering (tests/layering.py, "
              "docs/ARCHITECTURE.md)")
        return 1
    n = sum(1 for _ in sources(top))
    print(f"layering: {n} files, every include and link points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
