#!/usr/bin/env python3
"""Issue #24: the captures tcpsim writes, read back by tshark.

For every teaching scenario: `trace --json` and `trace --pcap` of the same run; every segment the
trace shows sent (send, drop, lost events) is a packet of the capture, in order, with the same
time, addresses, ports, flags, raw sequence and acknowledgment numbers, window, payload length,
MSS and timestamp options; tshark finds no malformed packet, no bad IPv4 or TCP checksum and no
expert error. Then `pkt --pcap` of a script and `run --pcap` with a filter and a size limit.
Exit 77 (skipped) when tshark is not installed.

usage: pcap_check.py TCPSIM SOURCE_DIR WORKDIR
"""
import glob
import json
import os
import shutil
import subprocess
import sys

FIELDS = ["frame.time_epoch", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", "tcp.flags", "tcp.seq_raw",
          "tcp.ack_raw", "tcp.window_size_value", "tcp.len", "tcp.options.mss_val", "tcp.options.timestamp.tsval",
          "tcp.options.timestamp.tsecr"]
CHECKS = ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"]
BAD = "_ws.malformed || _ws.expert.severity == error || ip.checksum.status != 1 || tcp.checksum.status != 1"
FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, ".": 0x10}

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def tshark(path, *args):
    r = subprocess.run(["tshark", "-r", path, *CHECKS, *args], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{path}: tshark exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def packets(path):
    out = tshark(path, "-T", "fields", "-E", "separator=|", *sum((["-e", f] for f in FIELDS), []))
    return [dict(zip(FIELDS, line.split("|"))) for line in out.splitlines()]


def check_clean(path):
    bad = tshark(path, "-Y", BAD).strip()
    if bad:
        fail(f"{path}: tshark reports malformed packets or bad checksums:\n{bad}")


def expected_row(ev):
    s = ev["segment"]
    flags = 0
    for c in s["flags"]:
        flags |= FLAG_BITS[c]
    src_ip, src_port = s["src"].rsplit(":", 1)
    dst_ip, dst_port = s["dst"].rsplit(":", 1)
    ns = ev["time_ns"]
    return {
        "frame.time_epoch": f"{ns // 10**9}.{ns % 10**9:09d}",
        "ip.src": src_ip, "tcp.srcport": src_port, "ip.dst": dst_ip, "tcp.dstport": dst_port,
        "tcp.flags": f"0x{flags:03x}",
        "tcp.seq_raw": str(s["seq"]),
        "tcp.ack_raw": str(s["ack"] if s["ack"] is not None else 0),
        "tcp.window_size_value": str(s["win"]), "tcp.len": str(s["len"]),
        "tcp.options.mss_val": str(s["mss"]) if "mss" in s else "",
        "tcp.options.timestamp.tsval": str(s["ts"]["val"]) if "ts" in s else "",
        "tcp.options.timestamp.tsecr": str(s["ts"]["ecr"]) if "ts" in s else "",
    }


def normalise(row):
    r = dict(row)
    r["tcp.flags"] = f"0x{int(r['tcp.flags'], 16):03x}"
    return r


def main():
    tcpsim, src, work = sys.argv[1:4]
    if shutil.which("tshark") is None:
        print("SKIP: tshark is not installed (Debian package tshark; scripts/setup.sh --test installs it)")
        return 77
    os.makedirs(work, exist_ok=True)
    scenarios = sorted(f for f in glob.glob(os.path.join(src, "scenarios/teaching/*.json")) if not f.endswith(".trace.json"))
    for sc in scenarios:
        name = os.path.basename(sc)[:-5]
        pcap = os.path.join(work, name + ".pcap")
        js = subprocess.run([tcpsim, "trace", "--json", "-q", "--pcap", pcap, sc], capture_output=True, text=True, check=True)
        events = [e for e in json.loads(js.stdout)["events"] if e["kind"] in ("send", "drop", "lost")]
        got = [normalise(p) for p in packets(pcap)]
        want = [expected_row(e) for e in events]
        if len(got) != len(want):
            fail(f"{name}: {len(want)} segments in the trace, {len(got)} packets in the capture")
        for i, (w, g) in enumerate(zip(want, got)):
            for k in FIELDS:
                if w[k] != g[k]:
                    fail(f"{name}: packet {i + 1}: {k}: trace {w[k]!r}, capture {g[k]!r}")
        check_clean(pcap)
        print(f"ok {name}: {len(got)} packets")
    # pkt --pcap: the script's peer and the system under test, both directions.
    script = os.path.join(src, "scenarios/pkt/syn-in-time-wait-higher-seq.pkt")
    pcap = os.path.join(work, "pkt.pcap")
    subprocess.run([tcpsim, "pkt", "--profile", "freebsd", "-D", "FreeBSD", "--pcap", pcap, script, "-o", os.devnull], check=True)
    n = len(packets(pcap))
    if n < 4:
        fail(f"pkt --pcap: {n} packets")
    check_clean(pcap)
    print(f"ok pkt --pcap: {n} packets")
    # run --pcap with a filter: only that connection, in the time window; and a size limit.
    scen = os.path.join(src, "scenarios/capacity/cloud-nat-64-ports.json")
    pcap = os.path.join(work, "run.pcap")
    subprocess.run([tcpsim, "run", "-q", scen, "-o", os.devnull, "--pcap", pcap, "--pcap-filter", "from=1s,to=2s"], check=True)
    rows = packets(pcap)
    times = [float(r["frame.time_epoch"]) for r in rows]
    if not rows or min(times) < 1.0 or max(times) >= 2.0:
        fail(f"run --pcap-filter from=1s,to=2s: {len(rows)} packets, times {times[:1]}..{times[-1:]}")
    check_clean(pcap)
    print(f"ok run --pcap-filter: {len(rows)} packets")
    r = subprocess.run([tcpsim, "run", "-q", scen, "-o", os.devnull, "--pcap", pcap, "--pcap-max", "10k"],
                       capture_output=True, text=True, check=True)
    if os.path.getsize(pcap) > 10000 or "capture stopped" not in r.stderr:
        fail(f"run --pcap-max 10k: {os.path.getsize(pcap)} bytes, stderr {r.stderr!r}")
    check_clean(pcap)
    print(f"ok run --pcap-max 10k: {os.path.getsize(pcap)} bytes")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
