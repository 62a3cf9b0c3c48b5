#!/bin/sh
# run_fuzz.sh BIN WORKDIR MAX_TIME MAX_RUNS MAX_LEN DICT|- [SEEDDIR|FILE ...]
# A brief libFuzzer run from a fresh corpus in WORKDIR: the seeds are copied
# there (the fuzzer adds what it finds to that copy, never to the sources).
# Exit status: libFuzzer's (0 clean; non-zero on a crash, leak or timeout,
# with the reproducer left in WORKDIR). The last line says how many inputs
# ran: "run_fuzz: NAME: N executions in S s".
#
# run_fuzz.sh --long SECONDS [BUILDDIR]
# Every target built in BUILDDIR (default: build) for SECONDS each, with no
# cap on runs, from the arguments ctest uses (BUILDDIR/fuzz/NAME.args); the
# corpus grows in BUILDDIR/fuzz/NAME.long. Stops at the first failure.
set -eu
if [ "${1:-}" = "--long" ]; then
    secs=$2 build=${3:-build}
    status=0
    for args in "$build"/fuzz/*.args; do
        [ -e "$args" ] || { echo "run_fuzz: no targets in $build/fuzz (build first)" >&2; exit 2; }
        # BIN WORK MAX_TIME MAX_RUNS MAX_LEN DICT SEEDS...
        set -- $(cat "$args")
        bin=$1 work=$2.long max_len=$5 dict=$6
        shift 6
        sh "$0" "$bin" "$work" "$secs" -1 "$max_len" "$dict" "$@" || { status=$?; break; }
    done
    exit $status
fi
bin=$1 work=$2 max_time=$3 max_runs=$4 max_len=$5 dict=$6
shift 6
rm -rf "$work"
mkdir -p "$work/corpus"
work=$(cd "$work" && pwd)
case "$bin" in /*) ;; *) bin=$(pwd)/$bin ;; esac
for s in "$@"; do
    if [ -d "$s" ]; then cp "$s"/* "$work/corpus/"; else cp "$s" "$work/corpus/"; fi
done
# -timeout above the store reader's own 20 s bound on its throw-away child
# (store_read.c): an input libhdf5 loops on is refused there, not a hang here
set -- -max_total_time="$max_time" -runs="$max_runs" -max_len="$max_len" -timeout=30 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/"
[ "$dict" = "-" ] || set -- "$@" -dict="$dict"
# fuzz_store forks a child per input (store_read.c): ASan's quarantine of
# freed memory (256 MB by default) makes each fork copy that much page table.
case "$(basename "$bin")" in
fuzz_store) export ASAN_OPTIONS="quarantine_size_mb=16${ASAN_OPTIONS:+:$ASAN_OPTIONS}" ;;
esac
cd "$work"
status=0
"$bin" "$@" "$work/corpus" > "$work/log" 2>&1 || status=$?
cat "$work/log"
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
echo "run_fuzz: $(basename "$bin"): ${execs:-?} executions (${secs:-?} a second)"
exit $status
