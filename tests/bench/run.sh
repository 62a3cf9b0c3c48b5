#!/bin/sh
# collide's benchmarks against the numpy way and the hardware (docs/PERFORMANCE.md).
#
#   tests/bench/run.sh [--quick] [--reps N] [--parts main,nxn]
#
# Builds what it needs (Release) in $BUILD (default: build/), writes the
# benchmark stores to $BENCH_DIR (default: $BUILD/bench/data, never
# committed), runs collide's tools and the numpy reference on them and prints
# one table. The full run takes about 30 minutes, mostly the numpy reference;
# --quick (fewer modules) takes a few minutes. --parts nxn runs only the N x N
# row (32 PEFT adapters imported as one store; about 5 minutes, --quick under
# one), --parts main every other row. Not part of ctest.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
dir=${BENCH_DIR:-$build/bench/data}
python=${PYTHON:-python3}
"$python" -c "import numpy, h5py" 2>/dev/null || {
    echo "run.sh: $python needs numpy and h5py (apt-get install python3-h5py)" >&2
    exit 1
}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target bench_kernels bench_gen bench_dump \
    collide-collision collide-subspace collide-ortho collide-sparsity collide-report \
    collide-import collide-plot >/dev/null
exec "$python" "$root/tests/bench/bench_run.py" --build "$build" --dir "$dir" "$@"
