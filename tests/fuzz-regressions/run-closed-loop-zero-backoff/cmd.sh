#!/bin/sh
# OK-RUN: run OK-RUN: (empty stderr)
# tcpsim's outcome when saved: OK-RUN (exit 0)
# Usage: cmd.sh [TCPSIM] (default: build/debug/tcpsim, from the repository's top folder).
# All the saved cases at once: python3 tools/fuzz/fuzz.py --replay FOLDER... --bin TCPSIM
case=$(cd "$(dirname "$0")" && pwd)
out=${TMPDIR:-/tmp}/fuzz-repro-out
rm -rf "$out" && mkdir -p "$out"
printf 'SENTINEL\n' > "$out/out.json"  # a file that an error must leave as it is
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:hard_rss_limit_mb=4096 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "${1:-build/debug/tcpsim}" run "$case"/closed-loop-4x10000.json -o "$out"/out.txt --json "$out"/out.json --csv "$out"/out.csv
