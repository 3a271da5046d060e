#!/bin/sh
# CRASH: UBSan include/tcpsim/time.hpp:16: signed integer overflow: N * N cannot be represente
# tcpsim's outcome when saved: CRASH (exit 1)
# Usage: cmd.sh [TCPSIM] (default: build/debug/tcpsim, from the repository's top folder).
# All the saved cases at once: python3 tools/fuzz/fuzz.py --replay FOLDER... --bin TCPSIM
case=$(cd "$(dirname "$0")" && pwd)
out=${TMPDIR:-/tmp}/fuzz-repro-out
rm -rf "$out" && mkdir -p "$out"
printf 'SENTINEL\n' > "$out/out.json"  # a file that an error must leave as it is
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:hard_rss_limit_mb=4096 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "${1:-build/debug/tcpsim}" pkt --profile freebsd -D FreeBSD --require-all "$case"/syn-in-time-wait-higher-seq.pkt
