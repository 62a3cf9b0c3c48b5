#!/usr/bin/env bash
# dev.sh -- set-up, build, main job and test suite in one place, so that the
# README's two commands and CI run exactly the same steps.
#
#   tools/dev.sh main    install what is missing, build, run the main job
#   tools/dev.sh test    install what is missing, build, run the whole suite
#   tools/dev.sh build   install what is missing and build only
#
# Run as root on Debian 12 (or as a user with sudo). Environment:
#   COLLIDE_BUILD  build directory (default: build)
#   COLLIDE_JOBS   parallel jobs (default: number of cores)
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${COLLIDE_BUILD:-build}
JOBS=${COLLIDE_JOBS:-$(nproc)}

# Debian packages: build, run time (gnuplot), and what the tests use
# (python3-h5py reads stores; clang's libFuzzer and valgrind check hostile input).
PACKAGES=(build-essential cmake pkg-config libhdf5-dev hdf5-tools libopenblas-dev
          liblapacke-dev libjansson-dev libpcre2-dev gnuplot-nox python3 python3-h5py python3-numpy
          clang libclang-rt-14-dev valgrind)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

deps() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

build() {
    deps
    say "configuring and building in $BUILD/"
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j "$JOBS"
}

main_job() {
    build
    # the paper's quick experiment: inclora, olora and nlora on one 4-task
    # order (the real benchmark when found, the synthetic one otherwise),
    # the embedded base pretrained first (reused when out/base exists)
    say "main job: collide-reproduce --quick -o out/"
    "$BUILD/bin/collide-reproduce" --quick -o out
}

run_tests() {
    build
    say "running the test suite"
    cd "$BUILD"
    ctest --output-on-failure -j "$JOBS"
}

case "${1:-}" in
    main) main_job ;;
    test) run_tests ;;
    build) build ;;
    *) echo "usage: tools/dev.sh main|test|build" >&2; exit 2 ;;
esac
