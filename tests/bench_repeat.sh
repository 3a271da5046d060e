#!/usr/bin/env bash
# bench --repeat: the JSON says how many runs there were, and the rate shown (the median run's)
# lies between the lowest and the highest; the table adds the spread line. No speed is checked.
set -euo pipefail
tcpsim=$1
json=$("$tcpsim" bench --tiny -w churn --repeat 3 --json)
grep -q '"runs": 3' <<<"$json" || { echo "no \"runs\": 3 in: $json"; exit 1; }
awk -F': ' '/"lifecycles_per_s"/ {m = $2 + 0} /"lifecycles_per_s_lowest"/ {l = $2 + 0}
            /"lifecycles_per_s_highest"/ {h = $2 + 0}
            END {if (!(l > 0 && l <= m && m <= h)) {print "not lowest <= median <= highest:", l, m, h; exit 1}}' <<<"$json"
table=$("$tcpsim" bench --tiny -w churn --repeat 2)
grep -Eq '^churn: 2 runs, lifecycles/s lowest [0-9]+, median [0-9]+ \(the row above\), highest [0-9]+$' <<<"$table" ||
  { echo "no spread line in: $table"; exit 1; }
