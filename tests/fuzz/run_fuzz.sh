#!/bin/sh
# run_fuzz.sh BIN WORKDIR MAX_TIME MAX_RUNS MAX_LEN DICT|- [SEEDDIR|FILE ...]
# A brief libFuzzer run from a fresh corpus in WORKDIR: the seeds are copied
# there (the fuzzer adds what it finds to that copy, never to the sources).
# Exit status: libFuzzer's (0 clean; non-zero on a crash, leak or timeout,
# with the reproducer left in WORKDIR).
set -eu
bin=$1 work=$2 max_time=$3 max_runs=$4 max_len=$5 dict=$6
shift 6
rm -rf "$work"
mkdir -p "$work/corpus"
for s in "$@"; do
    if [ -d "$s" ]; then cp "$s"/* "$work/corpus/"; else cp "$s" "$work/corpus/"; fi
done
set -- -max_total_time="$max_time" -runs="$max_runs" -max_len="$max_len" -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/"
[ "$dict" = "-" ] || set -- "$@" -dict="$dict"
cd "$work"
exec "$bin" "$@" "$work/corpus"
