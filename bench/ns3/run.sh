#!/usr/bin/env bash
# Side by side with ns-3 (not in CI): the `churn` and `exhaust` workloads of `tcpsim bench` at
# the same size, link (0.5 ms one way) and rate (10,000 connections/s), in tcpsim and in ns-3
# 3.37 (Debian libns3-dev, an optional dependency: apt-get install -y libns3-dev).
# Prints both wall times, their ratio, and whether ns-3 forecasts the same first failure.
#
#   bench/ns3/run.sh [N] [WALL_LIMIT]
#     N: connections per workload (default 100000); WALL_LIMIT: seconds an ns-3 run may take
#     (default 600): ns-3's connect() searches every ephemeral port against a list of every
#     endpoint when none is free, so its exhaust run may not finish; it then stops and the
#     table says how far it got (the ratio is then a lower bound).
#
# Build tcpsim first (cmake --preset release && cmake --build --preset release).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100000}
limit=${2:-600}
tcpsim=build/release/tcpsim
out=build/ns3
[ -x "$tcpsim" ] || { echo "run.sh: build tcpsim first ($tcpsim is missing)" >&2; exit 1; }
[ -f /usr/include/ns3/core-module.h ] || { echo "run.sh: ns-3 is missing: apt-get install -y libns3-dev" >&2; exit 1; }
mkdir -p "$out"
# Debian's ns3 .pc files name libgsl.so, which only libgsl-dev installs: link the modules by name.
if [ ! -x "$out/ns3-churn" ] || [ bench/ns3/churn.cc -nt "$out/ns3-churn" ]; then
  g++ -O2 -std=c++17 bench/ns3/churn.cc -o "$out/ns3-churn" -lns3-core -lns3-network -lns3-internet \
      -lns3-point-to-point -lns3-applications -lns3-traffic-control -lns3-bridge -lns3-stats 2> "$out/build.log" ||
    { cat "$out/build.log" >&2; exit 1; }
fi

scale=$(python3 -c "print($n / 1000000)")
"$tcpsim" bench -w churn,exhaust --scale "$scale" --json > "$out/tcpsim.json"
# churn: tcpsim's tw_reuse=1 takes a TIME-WAIT port over after 1 s; ns-3 has no tw_reuse, so a
# 1 s TIME-WAIT (MaxSegLifetime 0.5 s) gives its ports back after the same second.
"$out/ns3-churn" --n="$n" --rate=10000 --msl=0.5 --wall-limit="$limit" > "$out/ns3-churn.txt"
# exhaust: Linux's 60 s TIME-WAIT (MaxSegLifetime 30 s).
"$out/ns3-churn" --n="$n" --rate=10000 --msl=30 --wall-limit="$limit" > "$out/ns3-exhaust.txt"

python3 - "$out" "$n" <<'EOF'
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
t = {r["workload"]: r for r in json.load(open(f"{out}/tcpsim.json"))}
def ns3(name):
    kv = dict(x.split("=") for x in open(f"{out}/ns3-{name}.txt").read().split())
    return {k: float(v) for k, v in kv.items()}
print(f"{'workload':<9} {'N':>8} {'tcpsim s':>9} {'ns-3 s':>9} {'ns-3/tcpsim':>12} {'tcpsim ok/fail':>16} {'ns-3 ok/fail':>16} "
      f"{'1st failure tcpsim':>19} {'ns-3':>10}  same?")
for name in ("churn", "exhaust"):
    a, b = t[name], ns3(name)
    fa = a.get("first_failure_s", -1)
    fb = b["first_failure_s"]
    same = (fa < 0 and fb < 0) or (fa >= 0 and fb >= 0 and abs(fa - fb) < 0.001)
    fmt = lambda x: "none" if x < 0 else f"{x:.3f} s"
    early = b["stopped_early"] > 0
    ratio = b["wall_s"] / a["wall_s"]
    print(f"{name:<9} {n:>8} {a['wall_s']:>9.2f} {b['wall_s']:>9.2f} {('>=' if early else '') + f'{ratio:.1f}x':>12} "
          f"{str(a['succeeded']) + '/' + str(a['failed']):>16} {str(int(b['completed'])) + '/' + str(int(b['failed'])):>16} "
          f"{fmt(fa):>19} {fmt(fb):>10}  {'yes' if same else 'no'}")
    if early:
        print(f"          ns-3 stopped at its wall limit: {int(b['attempted'])} of {n} connections offered, "
              f"{b['sim_s']:.3f} s simulated")
print("ns-3 takes ephemeral ports from 49152-65535 (16,384), one per port whatever the destination, and has no "
      "tcp_tw_reuse;\ntcpsim's linux profile has 32768-60999 (28,232 per destination). churn runs ns-3 with a 1 s "
      "TIME-WAIT (its ports come back\nafter the second tw_reuse waits), exhaust with Linux's 60 s.")
EOF
