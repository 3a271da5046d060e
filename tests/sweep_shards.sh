#!/usr/bin/env bash
# The user guide's GNU parallel form: a sweep split in two shards run side by side, joined by
# `tcpsim merge`, must print the same bytes (text, JSON, CSV) as the sweep run on one machine.
# Usage: sweep_shards.sh TCPSIM OUTDIR (run in the source folder).
set -euo pipefail
tcpsim=$1
out=$2
rm -rf "$out" && mkdir -p "$out"
if ! command -v parallel >/dev/null; then
  echo "GNU parallel is not installed: run scripts/setup.sh" >&2
  exit 1
fi
sweep=(scenarios/capacity/linux-default-range.json --set /duration=90s
       --vary "/hosts/0/sysctls/net.ipv4.ip_local_port_range=40000 40999,32768 60999"
       --vary /clients/0/arrival/rate=10,20,400)
"$tcpsim" sweep "${sweep[@]}" -q -j 1 -o "$out/one.txt" --json "$out/one.json" --csv "$out/one.csv"
# As in docs/user-guide.md ("Sweeps, and sweeps split across machines"):
parallel "$tcpsim" sweep "${sweep[@]@Q}" -q --shard {}/2 --json "$out/shard-{}.json" '>' /dev/null ::: 1 2
"$tcpsim" merge "$out"/shard-*.json -o "$out/merged.txt" --json "$out/merged.json" --csv "$out/merged.csv"
for f in txt json csv; do
  cmp "$out/one.$f" "$out/merged.$f"
done
rows=$(grep -c '^ *[0-9]' "$out/one.txt")
[ "$rows" -eq 6 ] || { echo "expected 6 rows, found $rows" >&2; exit 1; }
echo "two shards merged: the same bytes as one machine's $rows rows"
