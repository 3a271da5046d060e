#!/usr/bin/env bash
# Issue #27: the progress bar and the size estimate go to stderr only; stdout and the output files
# are the same bytes with and without them; a runaway run is named before it starts and refused
# with --max-wall; Ctrl-C stops a run with exit 130 and no output file.
# Usage: progress.sh TCPSIM WORKDIR
set -euo pipefail
tcpsim=$1
dir=$2
rm -rf "$dir" && mkdir -p "$dir"
sc=scenarios/capacity/linux-default-range.json

"$tcpsim" run $sc --progress -o "$dir/a.txt" --json "$dir/a.json" --csv "$dir/a.csv" 2>"$dir/a.err"
"$tcpsim" run $sc -q -o "$dir/b.txt" --json "$dir/b.json" --csv "$dir/b.csv" 2>"$dir/b.err"
"$tcpsim" run $sc --progress > "$dir/c.txt" 2>"$dir/c.err"
for f in txt json csv; do cmp "$dir/a.$f" "$dir/b.$f"; done
cmp "$dir/a.txt" "$dir/c.txt"
cmp "$dir/a.txt" scenarios/capacity/linux-default-range.forecast.txt
grep -q 'run \[' "$dir/a.err" || { echo "no progress bar with --progress"; cat "$dir/a.err"; exit 1; }
[ ! -s "$dir/b.err" ] || { echo "-q printed on stderr:"; cat "$dir/b.err"; exit 1; }
"$tcpsim" trace scenarios/teaching/normal-close.json --progress > "$dir/t.txt" 2>/dev/null
cmp "$dir/t.txt" scenarios/teaching/normal-close.trace.txt

# A runaway scenario: 100 million connections/s for 100,000 hours.
cat > "$dir/runaway.json" <<'JSON'
{"name": "runaway", "duration": "100000h", "profile": "linux",
 "hosts": [{"name": "client", "address": "10.0.0.1"}, {"name": "server", "address": "10.0.0.2"}],
 "servers": [{"host": "server", "port": 80}],
 "clients": [{"name": "load", "host": "client", "to": "server:80", "arrival": {"type": "constant", "rate": 100000000}}]}
JSON
set +e
"$tcpsim" run "$dir/runaway.json" --max-wall 10m -o "$dir/r.txt" 2>"$dir/r.err"
rc=$?
set -e
[ $rc -eq 1 ] || { echo "--max-wall: exit $rc, expected 1"; exit 1; }
grep -q 'tcpsim: note: .*runaway.json: about 3.6e+16 connections' "$dir/r.err" || { cat "$dir/r.err"; exit 1; }
grep -q 'to shrink it: --set /duration=1s, --set /stop/first_failure=true' "$dir/r.err" || { cat "$dir/r.err"; exit 1; }
grep -q 'not started' "$dir/r.err" || { cat "$dir/r.err"; exit 1; }
[ ! -e "$dir/r.txt" ]

# Ctrl-C: SIGINT after a second; the run ends by itself within 20 s with exit 130, no output.
"$tcpsim" run "$dir/runaway.json" -q -o "$dir/i.txt" --json "$dir/i.json" 2>"$dir/i.err" &
pid=$!
sleep 1
kill -INT $pid
set +e
for _ in $(seq 200); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -KILL $pid 2>/dev/null
wait $pid
rc=$?
set -e
[ $rc -eq 130 ] || { echo "Ctrl-C: exit $rc, expected 130"; cat "$dir/i.err"; exit 1; }
grep -q 'interrupted: no output was written' "$dir/i.err"
[ ! -e "$dir/i.txt" ] && [ ! -e "$dir/i.json" ]
! ls "$dir"/*.tmp.* 2>/dev/null
echo "progress: all checks passed"
