#!/usr/bin/env python3
"""tcpsim mutation fuzzer (Python 3 standard library only).

Mutates the shipped input files (scenarios, experiments, kernel results, sweep shards,
packetdrill scripts), runs one tcpsim process at a time on each mutant and classifies the
outcome: CRASH, HANG, NOPLACE, PARTIAL, ROUGH, OK-ERROR, OK-RUN (see README.md). Distinct
findings are deduplicated by a signature, minimised (each single mutation replayed alone on the
original file) and saved with the exact command and its stderr. Case N of a seed depends on the
seed and N only. --fail-on makes a campaign exit 1 on findings of those classes; --replay re-runs
saved case folders (tests/fuzz-regressions) and exits 1 if any is still a finding.
"""
import argparse
import collections
import copy
import hashlib
import json
import os
import random
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# Where tests/CMakeLists.txt finds the conformance suite: beside the clone, in ../shared.
CONFORMANCE = os.path.join(os.path.dirname(REPO), "shared", "conformance")
FINDINGS = ("CRASH", "HANG", "PARTIAL", "NOPLACE", "ROUGH")
STDERR_KEPT = 16384  # bytes of stderr a saved case keeps

ASAN_OPTIONS = "detect_leaks=0:abort_on_error=1:hard_rss_limit_mb=4096"
UBSAN_OPTIONS = "halt_on_error=1:print_stacktrace=1"

# ----------------------------------------------------------------------------------------------
# JSON serialisation with markers for things Python's json cannot express


class Raw:
    """A token written verbatim into the JSON text (1e400, NaN, deep nesting...)."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return "Raw(%r)" % self.text[:40]


DUPKEY = "\x00dup\x00"  # a dict key "DUPKEY<k>" is written as a second key k


def dump(v, out, ind=0):
    """Pretty-printed, one member per line, so line:column places stay meaningful."""
    pad = "\n" + "  " * (ind + 1)
    if isinstance(v, Raw):
        out.append(v.text)
    elif isinstance(v, dict):
        if not v:
            out.append("{}")
            return
        out.append("{")
        for i, (k, x) in enumerate(v.items()):
            out.append(("," if i else "") + pad)
            k = str(k)  # a mutation may key an object by a number
            if k.startswith(DUPKEY):
                k = k[len(DUPKEY):]
            out.append(json.dumps(k) + ": ")
            dump(x, out, ind + 1)
        out.append("\n" + "  " * ind + "}")
    elif isinstance(v, list):
        if not v or all(not isinstance(x, (dict, list)) for x in v):
            out.append("[")
            for i, x in enumerate(v):
                out.append(", " if i else "")
                dump(x, out, ind + 1)
            out.append("]")
            return
        out.append("[")
        for i, x in enumerate(v):
            out.append(("," if i else "") + pad)
            dump(x, out, ind + 1)
        out.append("\n" + "  " * ind + "]")
    else:
        out.append(json.dumps(v))


def dumps(v):
    out = []
    dump(v, out)
    return "".join(out) + "\n"


def to_jsonable(v):
    """Mutation descriptors in the log: Raw -> {"$raw": text}."""
    if isinstance(v, Raw):
        return {"$raw": v.text[:200] + ("..." if len(v.text) > 200 else "")}
    if isinstance(v, dict):
        return {str(k).replace(DUPKEY, "$dup:"): to_jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_jsonable(x) for x in v]
    if isinstance(v, str) and len(v) > 200:
        return v[:80] + "...(%d chars)" % len(v)
    return v


def ptr(path):
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path) if path else ""


# ----------------------------------------------------------------------------------------------
# Value pools

NUMBERS = [0, -1, 1, 2, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1,
           2**64, -2**63, -2**63 - 1, 10**30, 1e308, -1e308, 1e-308, 5e-324, 0.5, 1.5, -0.0, 0.1,
           1e19, 1e20, 65535, 65536, 1e9, Raw("1e400"), Raw("-1e400"), Raw("NaN"), Raw("Infinity"),
           "NaN", "inf", "-0", "1e999", "12abc"]
STRINGS = ["", " ", "x" * 100000, "é", "\u0000", "ñandú", "\U0001F642", "\u202e", "%s%n%x",
           "../../etc/passwd", "null", "0", "true", "a" * 1000 + ":80", "\ud800"]
DURATIONS = ["0s", "0", "0ms", "1ns", "1us", "-0s", "-1s", "-1ms", "1e400s", "1e3s", "5 parsecs",
             "100000h", "100000.000001h", "100001h", "99999h", "360000000s", "360000000001s",
             "9223372036854775807ns", "9223372036854775808ns", "18446744073709551616ns",
             "0.0000000001ns", "0.4ns", "0.5ns", "1e-9s", "nans", "infs", "NaNs", "1.5", "s", "1..5s",
             "1s1s", ".s", ".5s", "5.s", "1 s", " 1s", "1s ", "+1s", "0x10s", "1S", "1sec", "1d",
             "\u0661s", "1\u00a0s", "00000000000000000000000001s", "1" + "0" * 400 + "s",
             "0." + "0" * 400 + "1s", "2m", "1h"]
ADDRESSES = ["10.0.0.256", "10.0.0", "10.0.0.1.1", "", "0.0.0.0", "255.255.255.255", "127.0.0.1",
             "127.255.255.255", "::1", "fe80::1", "010.000.000.001", "10.0.0.-1", "a.b.c.d",
             "1.2.3.4/24", " 10.0.0.1", "10.0.0.1 ", "4294967296.0.0.1", "1e3.0.0.1", "10.0.0.01"]
PORT_RANGES = ["5 4", "0 0", "0 65535", "1 65536", "65535 65535", "1024", "a b", "1024 65535 1",
               "-1 5", "40000 40000", "  1  2 ", "1024-65535", "65536 70000", "1 4294967297", ""]
PROFILE_NAMES = ["linux", "linux-4.9", "linux-5.10", "freebsd", "macos", "windows",
                 "windows-legacy", "rfc793", "rfc9293", "linux-9", "", "LINUX", "none"]
TYPES = [[], {}, "str", None, True, False, 0, [1, 2], {"a": 1}, [[]], [{}]]

RE_DUR = re.compile(r"^-?[0-9.]+\s*(ns|us|ms|s|m|h)$")
RE_ADDR = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
RE_HOSTPORT = re.compile(r"^([^:\s]+):(\d+)$")
RE_RANGE = re.compile(r"^\d+ \d+$")


def leaves(v, path=()):
    """Every (path, value) in a document, containers included (root excluded)."""
    out = []
    if isinstance(v, dict):
        for k, x in v.items():
            out.append((path + (k,), x))
            out.extend(leaves(x, path + (k,)))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out.append((path + (i,), x))
            out.extend(leaves(x, path + (i,)))
    return out


def get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


def names_in(doc):
    """Names a scenario refers to: hosts, NATs, balancers, sockets, clients."""
    names = set()
    for path, v in leaves(doc):
        if path and path[-1] in ("name", "sock", "host") and isinstance(v, str):
            names.add(v)
    return sorted(names)


def addresses_in(doc):
    return sorted({v for _, v in leaves(doc) if isinstance(v, str) and RE_ADDR.match(v)})


# ----------------------------------------------------------------------------------------------
# JSON mutations. A mutation is {"desc": str, "ops": [primitive ops]}; primitive ops are
# {"op": "set", "path": [...], "value": v}, {"op": "del", "path": [...]},
# {"op": "raw", "kind": ..., ...} (applied to the serialised text) and
# {"op": "cliset", "ptr": ..., "value": ...} (a --set on the command line instead).


def value_for(rng, path, v, doc):
    """A replacement value fitting what v looks like."""
    key = path[-1] if path else ""
    r = rng.random()
    if isinstance(v, bool):
        return rng.choice([0, 1, "true", None, "yes"]) if r < 0.8 else rng.choice(TYPES)
    if isinstance(v, (int, float)):
        if r < 0.75:
            return rng.choice(NUMBERS)
        if r < 0.9:
            return v + rng.choice([0.5, -0.5, 1, -1]) if isinstance(v, int) else int(v)
        return rng.choice(TYPES + [str(v), str(v) + "s"])
    if isinstance(v, str):
        if RE_DUR.match(v) and r < 0.85:
            return rng.choice(DURATIONS)
        if RE_ADDR.match(v) and r < 0.85:
            return rng.choice(ADDRESSES + addresses_in(doc))
        m = RE_HOSTPORT.match(v)
        if m and r < 0.85:
            h, p = m.group(1), m.group(2)
            return rng.choice(["%s:0" % h, "%s:65535" % h, "%s:65536" % h, "%s:-1" % h, "%s:" % h,
                               ":%s" % p, h, "nowhere:%s" % p, "%s:%s:%s" % (h, p, p),
                               "%s:4294967376" % h, "127.0.0.1:%s" % p, "0.0.0.0:%s" % p,
                               "%s:0%s" % (h, p), "%s: %s" % (h, p), "%s:%s" % (rng.choice(
                                   names_in(doc) + ["nowhere"]), p)])
        if RE_RANGE.match(v) and r < 0.85:
            lo, hi = v.split()
            return rng.choice(PORT_RANGES + ["%s %s" % (hi, lo)])
        if key in ("profile",) and r < 0.8:
            return rng.choice(PROFILE_NAMES)
        names = names_in(doc)
        if v in names and r < 0.8:
            return rng.choice(["nowhere", "", v.upper(), v + " ", v + ".99", v + ".1"] + names)
        if r < 0.93:
            return rng.choice(STRINGS + [v + "x", v.upper(), v[:-1], v * 2])
        return rng.choice(TYPES + [1])
    if isinstance(v, list):
        if len(v) == 2 and all(isinstance(x, int) for x in v) and r < 0.6:
            return rng.choice([[v[1], v[0]], [0, 0], [1, 65536], [65535, 65535], [-1, 5], [1.5, 2],
                               [v[0]], [v[0], v[1], v[1]], [0, 2**64]])
        return rng.choice(TYPES)
    if isinstance(v, dict):
        return rng.choice(TYPES)
    return rng.choice(TYPES + NUMBERS[:5] + STRINGS[:3])


def json_mutation(rng, doc, allow_cli):
    all_paths = leaves(doc)
    if not all_paths:
        return {"desc": "raw truncate", "ops": [{"op": "raw", "kind": "truncate", "at": rng.random()}]}
    path, v = rng.choice(all_paths)
    p = ptr(path)
    k = rng.random()
    if k < 0.45:
        nv = value_for(rng, path, v, doc)
        if allow_cli and rng.random() < 0.12 and not isinstance(nv, Raw) and "\\u0000" not in json.dumps(nv) \
                and not (isinstance(nv, str) and len(nv) > 5000):
            return {"desc": "--set %s" % p, "ops": [{"op": "cliset", "ptr": p, "value": nv}]}
        return {"desc": "replace %s" % p, "ops": [{"op": "set", "path": list(path), "value": nv}]}
    if k < 0.55:
        return {"desc": "delete %s" % p, "ops": [{"op": "del", "path": list(path)}]}
    if k < 0.62:
        return {"desc": "wrong type %s" % p, "ops": [{"op": "set", "path": list(path), "value": rng.choice(TYPES)}]}
    if k < 0.68:
        arrays = [(q, x) for q, x in all_paths if isinstance(x, list) and x]
        if arrays:
            q, x = rng.choice(arrays)
            i = rng.randrange(len(x))
            nx = list(x) + [copy.deepcopy(x[i])] * rng.choice([1, 1, 2, 100])
            return {"desc": "duplicate element %s/%d" % (ptr(q), i), "ops": [{"op": "set", "path": list(q), "value": nx}]}
    if k < 0.74:
        scal = [(q, x) for q, x in all_paths if not isinstance(x, (dict, list))]
        if len(scal) >= 2:
            (q1, x1), (q2, x2) = rng.sample(scal, 2)
            return {"desc": "swap %s <-> %s" % (ptr(q1), ptr(q2)),
                    "ops": [{"op": "set", "path": list(q1), "value": x2}, {"op": "set", "path": list(q2), "value": x1}]}
    if k < 0.78:
        objs = [(q, x) for q, x in all_paths if isinstance(x, dict) and x] + ([((), doc)] if isinstance(doc, dict) else [])
        if objs:
            q, x = rng.choice(objs)
            kk = rng.choice(list(x.keys()))
            nv = value_for(rng, q + (kk,), x[kk], doc) if rng.random() < 0.5 else copy.deepcopy(x[kk])
            return {"desc": "duplicate key %s/%s" % (ptr(q), kk), "ops": [{"op": "set", "path": list(q) + [DUPKEY + kk], "value": nv}]}
    if k < 0.81:
        objs = [(q, x) for q, x in all_paths if isinstance(x, dict)] + ([((), doc)] if isinstance(doc, dict) else [])
        if objs:
            q, x = rng.choice(objs)
            kk = rng.choice(["unknown", "nmae", "", "\u00e9", "$schema", "comment"])
            return {"desc": "add key %s/%s" % (ptr(q), kk), "ops": [{"op": "set", "path": list(q) + [kk], "value": rng.choice(TYPES + [1])}]}
    if k < 0.83:
        n = rng.choice([1000, 10000, 100000, 1000000])
        return {"desc": "deep nesting %d at %s" % (n, p), "ops": [{"op": "set", "path": list(path), "value": Raw("[" * n + "]" * n if rng.random() < 0.5 else '{"a": ' * n + "1" + "}" * n)}]}
    if k < 0.85:
        objs = [(q, x) for q, x in all_paths if isinstance(x, dict) and x]
        if objs:
            q, x = rng.choice(objs)
            return {"desc": "empty %s" % ptr(q), "ops": [{"op": "set", "path": list(q), "value": {}}]}
    return byte_mutation(rng)


def byte_mutation(rng):
    kind = rng.choice(["truncate", "flip", "insert", "delete", "nul", "bom", "badutf8", "dupline"])
    return {"desc": "raw %s" % kind, "ops": [{"op": "raw", "kind": kind, "at": rng.random(), "n": rng.randrange(1, 16),
                                               "byte": rng.randrange(256)}]}


def apply_raw(data, op):
    n = len(data)
    at = min(int(op["at"] * n), max(n - 1, 0))
    kind = op["kind"]
    if kind == "truncate":
        return data[:at]
    if kind == "flip" and n:
        return data[:at] + bytes([data[at] ^ (op["byte"] or 1)]) + data[at + 1:]
    if kind == "insert":
        return data[:at] + bytes([op["byte"]]) * op["n"] + data[at:]
    if kind == "delete":
        return data[:at] + data[at + op["n"]:]
    if kind == "nul":
        return data[:at] + b"\x00" + data[at:]
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "badutf8":
        return data[:at] + rng_bad_utf8(op["byte"]) + data[at:]
    if kind == "dupline":
        lines = data.split(b"\n")
        i = min(int(op["at"] * len(lines)), len(lines) - 1)
        lines.insert(i, lines[i])
        return b"\n".join(lines)
    return data


def rng_bad_utf8(b):
    return [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xc0\xaf"][b % 5]


def apply_json(doc, mutations):
    """(text bytes, cli --set list) for doc with the mutations applied; ops whose path is gone
    are skipped."""
    doc = copy.deepcopy(doc)
    raws, clis = [], []
    for m in mutations:
        for op in m["ops"]:
            if op["op"] == "raw":
                raws.append(op)
            elif op["op"] == "cliset":
                clis.append((op["ptr"], op["value"]))
            else:
                try:
                    parent = get(doc, op["path"][:-1])
                    last = op["path"][-1]
                    if op["op"] == "set":
                        if isinstance(parent, list):
                            parent[last] = op["value"]
                        elif isinstance(parent, dict):
                            parent[last] = op["value"]
                    elif op["op"] == "del":
                        del parent[last]
                except (KeyError, IndexError, TypeError):
                    pass
    data = dumps(doc).encode("utf-8", "surrogatepass")
    for op in raws:
        data = apply_raw(data, op)
    return data, clis


def sets_duration(mutations):
    return any(op.get("path") == ["duration"] or op.get("ptr") == "/duration" for m in mutations for op in m["ops"])


def cli_value(v):
    if isinstance(v, str):
        return v
    return json.dumps(v)


# ----------------------------------------------------------------------------------------------
# Packetdrill script mutations (line level)

PKT_NUMBERS = ["0", "-1", "4294967295", "4294967296", "2147483648", "99999999999999999999", "1e308",
               "65535", "65536", "0.000001", "1e9", "-0", "18446744073709551616", "nan", ""]
PKT_LINES = [
    "+0 close(99) = 0", "+0 close(3) = -1 EBADF (Bad file descriptor)",
    "+0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 5", "+0 `sysctl -w net.inet.tcp.msl=0`",
    "+-1 < S 0:0(0) win 0", "+1e9 < . 1:1(0) ack 1 win 0", "#ifdef X", "#endif", "#else", "#ifndef",
    "+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0",
    "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0", "+0 write(4, ..., 4294967296) = 4294967296",
    "+0 read(4, ..., -1) = -1", "+0 < S 4294967295:4294967295(4294967295) win 65535",
    "+0 < P. 1:100000001(100000000) ack 1 win 65535", "--tolerance_usecs=-1",
    "--tolerance_usecs=99999999999999999999", "--ip_version=ipv5", "+0 shutdown(4, SHUT_RDWR) = 0",
    "0 `sysctl -w kern.ipc.maxsockbuf=0`", "+0 < S 0:0(0) win 65535 <mss 0>",
    "+0 < S 0:0(0) win 65535 <mss 65536,wscale 255>", "+0 < S 0:0(0) win 65535 <TS val 4294967295 ecr 0>",
    "+0 < S 0:0(0) win 65535 <sackOK,TS val 1 ecr 0,nop,wscale 7>", "+0 < S 0:0(0) win 65535 <>",
    "+0 < S 0:0(0) win 65535 <mss>", "+0 < SFRPUEW. 0:0(0) win 65535", "+0 > S. 0:0(0) ack 1 win 65535",
    "+0 accept(3, ..., ...) = 4", "+0 accept(3, ..., ...) = 3", "+0 listen(3, -1) = 0",
    "+0 bind(3, ..., ...) = 0", "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)",
    "+0 < R 0:0(0) win 0", "+0 < R. 1:1(0) ack 4294967295 win 0", "* < . 1:1(0) ack 1 win 0",
    "+0 `sockstat -4 -P tcp -s | grep -c TIME_WAIT | grep 99`", "+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [0], [4]) = 0",
    "+0...1 read(4, ..., 1) = 1", "+0 < . 1:1(0) ack 1 win 65535 <nop,nop,TS val 1 ecr 1>",
    "+0 (", "+0 < S", "+0 > ", "+0 `", "+0 setsockopt(3, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0",
    "+99999999999 close(4) = 0", "4294967296.0 close(4) = 0", "-5 close(4) = 0",
]
RE_NUM = re.compile(r"-?\d+(\.\d+)?")


def pkt_mutation(rng, lines, corpus_lines):
    n = len(lines)
    k = rng.random()
    if n == 0:
        k = 0.8
    i = rng.randrange(max(n, 1))
    if k < 0.15:
        return {"desc": "delete line %d" % (i + 1), "ops": [{"op": "pdel", "i": i}]}
    if k < 0.25:
        return {"desc": "duplicate line %d" % (i + 1), "ops": [{"op": "pdup", "i": i}]}
    if k < 0.35:
        j = rng.randrange(n)
        return {"desc": "swap lines %d %d" % (i + 1, j + 1), "ops": [{"op": "pswap", "i": i, "j": j}]}
    if k < 0.65:
        nums = list(RE_NUM.finditer(lines[i]))
        if nums:
            m = rng.randrange(len(nums))
            return {"desc": "number %d on line %d" % (m, i + 1), "ops": [{"op": "pnum", "i": i, "m": m, "v": rng.choice(PKT_NUMBERS)}]}
    if k < 0.8:
        text = rng.choice(PKT_LINES)
        return {"desc": "insert line %d" % (i + 1), "ops": [{"op": "pins", "i": i, "text": text}]}
    if k < 0.9 and corpus_lines:
        text = rng.choice(corpus_lines)
        return {"desc": "splice line %d" % (i + 1), "ops": [{"op": "pins", "i": i, "text": text}]}
    if k < 0.95 and n:
        cut = rng.randrange(len(lines[i]) + 1)
        return {"desc": "truncate line %d" % (i + 1), "ops": [{"op": "ptrunc", "i": i, "cut": cut}]}
    return byte_mutation(rng)


def apply_pkt(text, mutations):
    lines = text.split("\n")
    raws = []
    for m in mutations:
        for op in m["ops"]:
            o = op["op"]
            n = len(lines)
            if o == "raw":
                raws.append(op)
                continue
            if n == 0:
                continue
            i = op.get("i", 0) % n
            if o == "pdel":
                del lines[i]
            elif o == "pdup":
                lines.insert(i, lines[i])
            elif o == "pswap":
                j = op["j"] % n
                lines[i], lines[j] = lines[j], lines[i]
            elif o == "pnum":
                nums = list(RE_NUM.finditer(lines[i]))
                if nums:
                    mm = nums[op["m"] % len(nums)]
                    lines[i] = lines[i][:mm.start()] + op["v"] + lines[i][mm.end():]
            elif o == "pins":
                lines.insert(i, op["text"])
            elif o == "ptrunc":
                lines[i] = lines[i][:op["cut"]]
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    for op in raws:
        data = apply_raw(data, op)
    return data


# ----------------------------------------------------------------------------------------------
# Targets


def glob(d, ext):
    out = []
    for root, _, files in os.walk(d):
        out += [os.path.join(root, f) for f in files if f.endswith(ext)]
    return sorted(out)


class Target:
    """One subcommand: its seeds, how to shorten a seed, and its command line."""

    def __init__(self, name, kind, seeds, weight, outputs=(), cli_set=False):
        self.name, self.kind, self.seeds, self.weight = name, kind, seeds, weight
        self.outputs = list(outputs)
        self.cli_set = cli_set

    def shorten(self, doc, dur):
        if not isinstance(doc, dict):
            return doc
        doc = copy.deepcopy(doc)
        if self.name in ("experiment", "experiment-compare"):
            if "observe_ms" in doc:
                doc["observe_ms"] = min(doc["observe_ms"], 5000) if isinstance(doc["observe_ms"], int) else doc["observe_ms"]
        elif self.name != "merge":
            doc["duration"] = dur
        return doc

    def argv(self, bin_, files, outdir, clis, extra):
        a = [bin_]
        f = files[0]
        n = self.name
        if n == "run":
            a += ["run", f, "-o", outdir + "/out.txt", "--json", outdir + "/out.json", "--csv", outdir + "/out.csv"]
        elif n == "trace":
            a += ["trace", f, "-o", outdir + "/out.txt"] + (["--json"] if extra.get("json") else [])
        elif n == "diagram":
            a += ["diagram", "--scenario", f, "-o", outdir + "/out.dot"]
        elif n == "sweep":
            a += ["sweep", f, "--vary", "/seed=1,2", "-j", "1", "-q", "-o", outdir + "/out.txt",
                  "--json", outdir + "/out.json", "--csv", outdir + "/out.csv"]
        elif n == "capacity":
            a += ["capacity", f, "--tolerance", "10", "-j", "1", "-q", "-o", outdir + "/out.txt",
                  "--json", outdir + "/out.json", "--csv", outdir + "/out.csv"]
        elif n == "remedies":
            a += ["remedies", f, "-j", "1", "-q", "-o", outdir + "/out.txt",
                  "--json", outdir + "/out.json", "--csv", outdir + "/out.csv"]
        elif n == "merge":
            a += ["merge"] + files + ["-o", outdir + "/out.txt", "--json", outdir + "/out.json", "--csv", outdir + "/out.csv"]
        elif n == "experiment":
            a += ["experiment", f, "--profile", extra.get("profile", "linux")]
        elif n == "experiment-compare":
            a += ["experiment", files[1], "--compare", f]
        elif n == "pkt":
            prof, sym = extra.get("profile", ("linux", "Linux"))
            a += ["pkt", "--profile", prof, "-D", sym, "--require-all", f]
        for p, v in clis:
            a += ["--set", "%s=%s" % (p, cli_value(v))]
        return a


def make_targets(workdir, bin_for_seeds):
    sc = [p for p in glob(os.path.join(REPO, "scenarios"), ".json")
          if not p.endswith("schema.json") and not p.endswith(".trace.json")]
    teaching = [p for p in glob(os.path.join(REPO, "scenarios/teaching"), ".json") if not p.endswith(".trace.json")]
    capacity = [p for p in sc if "/teaching/" not in p]
    exps = glob(os.path.join(REPO, "tools/kernel/experiments"), ".json")
    pkts = glob(os.path.join(REPO, "scenarios/pkt"), ".pkt") + glob(CONFORMANCE, ".pkt")
    pairs = []
    for r in glob(os.path.join(REPO, "tools/kernel/results"), ".json"):
        e = os.path.join(REPO, "tools/kernel/experiments", os.path.basename(r))
        if os.path.exists(e):
            pairs.append((r, e))
    shards = make_shards(workdir, bin_for_seeds)
    capacity_one = []
    for p in capacity:
        try:
            d = json.load(open(p))
            if len(d.get("clients", [])) == 1:
                capacity_one.append(p)
        except ValueError:
            pass
    return [
        Target("run", "json", sc, 30, cli_set=True),
        Target("trace", "json", teaching, 10, cli_set=True),
        Target("diagram", "json", teaching + capacity[:3], 3, cli_set=True),
        Target("sweep", "json", sc, 7, cli_set=True),
        Target("capacity", "json", capacity_one, 6, cli_set=True),
        Target("remedies", "json", capacity, 6, cli_set=True),
        Target("merge", "json", shards, 6),
        Target("experiment", "json", exps, 10),
        Target("experiment-compare", "json", pairs, 4),
        Target("pkt", "pkt", pkts, 18),
    ]


def make_shards(workdir, bin_):
    d = os.path.join(workdir, "seeds")
    os.makedirs(d, exist_ok=True)
    out = [os.path.join(d, "shard-%d.json" % i) for i in (1, 2)]
    if all(os.path.exists(p) for p in out):
        return [tuple(out)]
    for i in (1, 2):
        subprocess.run([bin_, "sweep", os.path.join(REPO, "scenarios/capacity/linux-default-range.json"),
                        "--vary", "/clients/0/arrival/rate=100,600", "--vary", "/seed=1,2", "--set", "/duration=3s",
                        "-q", "-j", "1", "--shard", "%d/2" % i, "--json", out[i - 1]],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=run_env(), timeout=300)
    return [tuple(out)] if all(os.path.exists(p) for p in out) else []


# ----------------------------------------------------------------------------------------------
# Running and classifying


def run_env():
    e = dict(os.environ)
    e["ASAN_OPTIONS"] = ASAN_OPTIONS
    e["UBSAN_OPTIONS"] = UBSAN_OPTIONS
    return e


def limits():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def execute(argv, timeout, case_dir):
    out_p, err_p = os.path.join(case_dir, "stdout.txt"), os.path.join(case_dir, "stderr.txt")
    t0 = time.time()
    with open(out_p, "wb") as fo, open(err_p, "wb") as fe:
        argv = [x.encode("utf-8", "surrogatepass") if isinstance(x, str) else x for x in argv]
        p = subprocess.Popen(argv, stdout=fo, stderr=fe, cwd=REPO, env=run_env(), preexec_fn=limits,
                             start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
            hung = False
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # the group of the one process we started
            rc = p.wait()
            hung = True
    dt = time.time() - t0

    def head(path, n=65536):
        with open(path, "rb") as f:
            return f.read(n).decode("utf-8", "replace")
    return rc, hung, head(out_p), head(err_p), dt


SAN = re.compile(r"AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:|LeakSanitizer|"
                 r"terminate called|Aborted|Segmentation fault|stack-overflow|hard rss limit|"
                 r"Assertion .* failed|std::bad_alloc")
PLACE_AFTER_FILE = re.compile(r"^(:\d+:\d+:|:\d+:|: (/[^\s]*|/)(:|\s|$)|: (/\S*) ?\()")


def snapshot(d):
    s = {}
    for f in sorted(os.listdir(d)):
        p = os.path.join(d, f)
        with open(p, "rb") as fh:
            s[f] = hashlib.sha1(fh.read()).hexdigest()
    return s


def names_place(text, names):
    for nm in names:
        for m in re.finditer(re.escape(nm), text):
            if PLACE_AFTER_FILE.match(text[m.end():]):
                return True
    return False


def classify(target, rc, hung, out, err, input_names, before, after):
    if hung:
        return "HANG"
    if rc < 0 or rc >= 128 or SAN.search(err):
        return "CRASH"
    if rc == 0:
        leftovers = set(after) - set(before) - {"out.txt", "out.json", "out.csv", "out.dot"}
        return "PARTIAL" if leftovers else "OK-RUN"
    if before != after:
        return "PARTIAL"
    text = out + err if target == "pkt" else err
    if target == "experiment-compare" and rc == 1 and not err.strip():
        return "OK-RUN"  # the comparison disagrees: exit 1 by design
    if target == "merge" and re.search(r"^tcpsim: error: merge: \d+ of \d+ runs are in none of the files", err, re.M):
        return "OK-ERROR"  # about the set of shards, not a place in one (README: merge)
    if names_place(text, input_names) or (target == "pkt" and re.search(
            r"(SKIP|FAIL|ERROR) \S*%s:\d+|ERROR \S*%s: " % (re.escape(input_names[0]), re.escape(input_names[0])), text)):
        return "ROUGH" if "json.exception" in err else "OK-ERROR"
    if any(n in text for n in input_names) and re.search(r"at line \d+(, column \d+)?", text):
        return "ROUGH"  # a place, but not as FILE:LINE:COL, and nlohmann's exception text
    return "NOPLACE"


def classify_case(target, mutations, rc, hung, out, err, input_names, before, after):
    cls = classify(target, rc, hung, out, err, input_names, before, after)
    if cls == "NOPLACE" and any(op.get("op") == "cliset" for m in mutations for op in m["ops"]) \
            and re.search(r"--set /\S*", err):
        cls = "OK-ERROR"  # an error in a --set value, named by its pointer
    return cls


def plant_sentinel(outdir):
    with open(os.path.join(outdir, "out.json"), "w") as fh:
        fh.write("SENTINEL\n")


def normalise(s):
    s = re.sub(r"0x[0-9a-f]+", "0x?", s)
    s = re.sub(r'"[^"]*"', '"…"', s)
    s = re.sub(r"-?\d+(\.\d+)?(e[+-]?\d+)?", "N", s)
    return s.strip()[:100]


def source_path(p):
    """A source file as the repository names it, whichever checkout the binary was built in."""
    p = p.replace(REPO + "/", "")
    return re.sub(r"^\S*?/(?=(include|sim|models|tools|tests)/)", "", p)


def signature(target, cls, err, mutations):
    if cls == "CRASH":
        m = re.search(r"(\S+?:\d+):\d+: runtime error: ([^\n]{0,70})", err)
        if m:
            return "UBSan %s: %s" % (source_path(m.group(1)), normalise(m.group(2)))
        m = re.search(r"ERROR: AddressSanitizer: ([\w-]+)", err)
        if m:
            frame = ""
            for fm in re.finditer(r"#\d+ 0x[0-9a-f]+ in (.+?) (/\S+:\d+)", err):
                if REPO in fm.group(2) and "/_deps/" not in fm.group(2):
                    frame = "%s %s" % (fm.group(1)[:80], source_path(fm.group(2)))
                    break
            if not frame:
                sm = re.search(r"SUMMARY: AddressSanitizer: [\w-]+ (\S+:\d+) in ([\w:~<>]+?)(<|\(|$)", err, re.M)
                if sm:
                    frame = "%s %s" % (re.sub(r"json_abi_v[\d_]+::", "", sm.group(2))[-60:], os.path.basename(sm.group(1)))
            return "ASan %s at %s" % (m.group(1), frame or "?")
        m = re.search(r"terminate called after throwing an instance of '([^']+)'\s*(what\(\):\s*([^\n]*))?", err)
        if m:
            return "terminate %s: %s" % (m.group(1), normalise(m.group(3) or ""))
        m = re.search(r"(Assertion .*? failed|hard rss limit[^\n]*|stack-overflow|std::bad_alloc)", err)
        if m:
            return normalise(m.group(1))
        return "%s signal/rc" % target
    if cls == "HANG":
        d = mutations[0]["desc"] if mutations else ""
        return "%s hang %s" % (target, re.sub(r"/\d+", "/*", re.sub(r"line \d+", "line N", d)))
    first = next((l for l in err.splitlines() if l.strip()), "(empty stderr)")
    first = re.sub(r"\S*/", "", first)
    first = re.sub(r"[\w.-]+\.(json|pkt)\b", "FILE", first)
    return "%s %s: %s" % (target, cls, normalise(first))


# ----------------------------------------------------------------------------------------------
# The fuzzer


class Fuzzer:
    def __init__(self, a):
        self.a = a
        self.work = a.work
        os.makedirs(self.work, exist_ok=True)
        os.makedirs(a.out, exist_ok=True)
        self.targets = [t for t in make_targets(self.work, a.release_bin or a.bin)
                        if not a.targets or t.name in a.targets.split(",")]
        self.targets = [t for t in self.targets if t.seeds]
        self.counts = collections.defaultdict(collections.Counter)
        self.findings = {}
        self.seen_slow = 0
        self.log = open(os.path.join(a.out, "log.jsonl"), "a")
        for d in sorted(os.listdir(a.out)):  # findings of earlier campaigns in the same --out
            p = os.path.join(a.out, d, "case.json")
            if os.path.exists(p):
                c = json.load(open(p))
                self.findings[c["signature"]] = {"class": c["class"], "dest": os.path.dirname(p), "count": 0,
                                                 "target": c["target"], "stderr": "(earlier campaign)"}
        self.doc_cache = {}
        self.pkt_corpus = []
        for t in self.targets:
            if t.kind == "pkt":
                for p in t.seeds[:80]:
                    self.pkt_corpus += [l for l in open(p, encoding="utf-8", errors="replace").read().split("\n")
                                        if l and not l.startswith("//")]

    def load(self, path):
        if path not in self.doc_cache:
            with open(path, "rb") as f:
                data = f.read()
            self.doc_cache[path] = data
        return self.doc_cache[path]

    def new_case(self, rng):
        """A case drawn from rng (one per case number: case N does not depend on what ran before)."""
        t = rng.choices(self.targets, [t.weight for t in self.targets])[0]
        seed = rng.choice(t.seeds)
        case = {"target": t.name, "seed": seed, "extra": {},
                "shorten": rng.choice(["1s", "2s", "5s"] if t.name in ("run", "trace", "diagram") else ["1s", "2s"])
                if rng.random() < 0.8 else None}
        if t.name == "trace":
            case["extra"]["json"] = rng.random() < 0.3
        if t.name == "experiment":
            case["extra"]["profile"] = rng.choice(["linux", "linux", "linux-4.9", "linux-5.10", "freebsd", "rfc793"])
        if t.name == "pkt":
            case["extra"]["profile"] = rng.choice([("freebsd", "FreeBSD"), ("rfc9293", "STANDARD"), ("linux", "Linux")])
        if t.name == "merge":
            case["which"] = rng.randrange(2)
        nm = rng.choice([1, 1, 1, 2, 3])
        muts = []
        if t.kind == "pkt":
            lines = self.load(seed).decode("utf-8", "replace").split("\n")
            for _ in range(nm):
                muts.append(pkt_mutation(rng, lines, self.pkt_corpus))
        else:
            doc = json.loads(self.load(self.main_input(t, case)))
            for _ in range(nm):
                muts.append(json_mutation(rng, doc, t.cli_set))
        case["mutations"] = muts
        # Half the cases find a file where --json will write: it must survive an error untouched.
        case["sentinel"] = rng.random() < 0.5
        return t, case

    def main_input(self, t, case):
        s = case["seed"]
        if t.name == "merge":
            return s[case["which"]]
        if t.name == "experiment-compare":
            return s[0]
        return s

    def materialise(self, t, case, d, bin_):
        """Write the case's input files into d and return (argv, file names the errors may name)."""
        src = self.main_input(t, case)
        base = os.path.basename(src)
        f = os.path.join(d, base)
        clis = []
        if t.kind == "pkt":
            data = apply_pkt(self.load(src).decode("utf-8", "surrogateescape"), case["mutations"])
        else:
            doc = json.loads(self.load(src))
            if case["shorten"]:
                doc = t.shorten(doc, case["shorten"])
            data, clis = apply_json(doc, case["mutations"])
        with open(f, "wb") as fh:
            fh.write(data)
        files = [f]
        if t.name == "merge":
            other = case["seed"][1 - case["which"]]
            o = os.path.join(d, "other-" + os.path.basename(other))
            shutil.copy(other, o)
            files = [f, o] if case["which"] == 0 else [o, f]
        if t.name == "experiment-compare":
            e = os.path.join(d, "experiment-" + os.path.basename(case["seed"][1]))
            shutil.copy(case["seed"][1], e)
            files = [f, e]
        # Errors may name the mutated file; for merge either shard (a shard of another sweep is
        # reported at the second one, whichever of the two was mutated).
        named = files if t.name == "merge" else [f]
        return t.argv(bin_, files, os.path.join(d, "out"), clis, case["extra"]), \
            [n for x in named for n in (os.path.basename(x), x)], files

    def run_case(self, t, case, bin_, keep=False, timeout=None):
        d = os.path.join(self.work, "case")
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(os.path.join(d, "out"))
        argv, names, files = self.materialise(t, case, d, bin_)
        outdir = os.path.join(d, "out")
        if case.get("sentinel", True):
            plant_sentinel(outdir)
        before = snapshot(outdir)
        rc, hung, out, err, dt = execute(argv, timeout or self.a.timeout, d)
        after = snapshot(outdir)
        cls = classify_case(t.name, case["mutations"], rc, hung, out, err, names, before, after)
        return cls, rc, out, err, dt, argv, d

    def triage_hang(self, t, case):
        """A debug-build timeout that the release build finishes quickly is slowness, not a hang."""
        if not self.a.release_bin or self.a.release_bin == self.a.bin:
            return "HANG"
        cls, rc, out, err, dt, argv, d = self.run_case(t, case, self.a.release_bin)
        if cls != "HANG":
            return "SLOW"
        # The unmutated seed (same shortening) needing half the timeout or more is a long
        # workload, not a hang: a busy machine must not turn a search near the limit into a HANG.
        half = self.a.timeout / 2
        if self.run_case(t, dict(case, mutations=[]), self.a.release_bin, timeout=half)[0] == "HANG":
            return "SLOW"
        # A mutation that sets the duration undoes the shortening: then the seed as shipped is the
        # measure (a 600 s remedies run of a 100 s scenario is long, not hung).
        if case["shorten"] and sets_duration(case["mutations"]) and \
                self.run_case(t, dict(case, mutations=[], shorten=None), self.a.release_bin, timeout=half)[0] == "HANG":
            return "SLOW"
        return "HANG"

    def minimise(self, t, case, cls, sig):
        if len(case["mutations"]) == 1 and not case["shorten"]:
            return case
        for m in case["mutations"]:
            for shorten in ([case["shorten"], None] if case["shorten"] else [None]):
                c = dict(case, mutations=[m], shorten=shorten)
                r = self.run_case(t, c, self.a.bin)
                if r[0] == cls and (cls == "HANG" or signature(t.name, r[0], r[3], [m]) == sig):
                    return c
        if case["shorten"]:
            c = dict(case, shorten=None)
            r = self.run_case(t, c, self.a.bin)
            if r[0] == cls and (cls == "HANG" or signature(t.name, r[0], r[3], c["mutations"]) == sig):
                return c
        return case

    def save(self, t, case, cls, sig, dest=None, index=None, extra_fields=None):
        """Write the case as a folder that runs anywhere (see replay()): its input files, case.json
        with the command relative to the folder, cmd.sh, the stderr and the head of stdout."""
        if dest is None:
            slug = re.sub(r"[^A-Za-z0-9]+", "-", sig)[:60].strip("-")
            dest = os.path.join(self.a.out, "%03d-%s-%s" % (len(self.findings) + 1, cls, slug))
        cls2, rc, out, err, dt, argv, d = self.run_case(t, case, self.a.bin)
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.makedirs(dest)
        inputs = sorted(f for f in os.listdir(d) if os.path.isfile(os.path.join(d, f))
                        and f not in ("stdout.txt", "stderr.txt"))
        for f in inputs:
            shutil.copy(os.path.join(d, f), os.path.join(dest, f))
        # The command with the binary, the inputs and the outputs as placeholders.
        argv2 = ["tcpsim"]
        for x in argv[1:]:
            if x.startswith(os.path.join(d, "out") + "/"):
                x = "{out}/" + x[len(os.path.join(d, "out")) + 1:]
            elif os.path.dirname(x) == d and os.path.basename(x) in inputs:
                x = "{case}/" + os.path.basename(x)
            argv2.append(x)
        write_cmd_sh(os.path.join(dest, "cmd.sh"), argv2, case.get("sentinel", True),
                     ["%s: %s" % (cls, sig), "tcpsim's outcome when saved: %s (exit %s)" % (cls2, rc)])
        with open(os.path.join(d, "stderr.txt"), "rb") as fh:
            err_bytes = fh.read()
        with open(os.path.join(dest, "stderr.txt"), "wb") as fh:  # ASan's stack overflows run to 700 kB
            fh.write(err_bytes[:STDERR_KEPT])
            if len(err_bytes) > STDERR_KEPT:
                fh.write(b"\n[... %d more bytes]\n" % (len(err_bytes) - STDERR_KEPT))
        with open(os.path.join(dest, "stdout-head.txt"), "w") as fh:
            fh.write(out[:4000])
        rec = {"format": 2, "class": cls, "signature": sig, "target": t.name,
               "seed": portable(case["seed"], self.work),
               "fuzz_seed": self.a.seed, "case": index, "shorten": case["shorten"], "extra": case["extra"],
               "sentinel": case.get("sentinel", True), "rc": rc, "seconds": round(dt, 2),
               "mutations": to_jsonable(case["mutations"]),
               "input": os.path.basename(self.main_input(t, case)), "argv": argv2}
        rec.update(extra_fields or {})
        with open(os.path.join(dest, "case.json"), "w") as fh:
            json.dump(rec, fh, indent=1)
            fh.write("\n")
        return dest

    def campaign(self):
        """Cases 1, 2, ... of the seed (or only --case N) until --minutes or --cases; returns the
        exit status: 1 if a finding of a --fail-on class was seen, else 0."""
        t_end = time.time() + self.a.minutes * 60
        n = 0
        i = self.a.case - 1 if self.a.case else 0
        stop = [False]
        for sig in (signal.SIGINT, signal.SIGTERM):  # stop after this case, still write the summary
            signal.signal(sig, lambda *_: stop.__setitem__(0, True))
        while time.time() < t_end and not stop[0] and (not self.a.cases or n < self.a.cases):
            if self.a.case and i >= self.a.case:
                break
            i += 1
            n += 1
            t, case = self.new_case(random.Random("tcpsim-fuzz/%d/%d" % (self.a.seed, i)))
            try:
                cls, rc, out, err, dt, argv, d = self.run_case(t, case, self.a.bin)
            except (ValueError, OSError) as e:  # a mutant the OS cannot pass (argv with NUL...)
                self.counts[t.name]["FUZZER-SKIP"] += 1
                print("[%d] skipped: %s" % (i, e), flush=True)
                continue
            if cls == "HANG":
                cls = self.triage_hang(t, case)
            self.counts[t.name][cls] += 1
            rec = {"i": i, "target": t.name, "class": cls, "rc": rc, "s": round(dt, 2),
                   "seed": portable(self.main_input(t, case), self.work),
                   "mutations": [m["desc"] for m in case["mutations"]]}
            if cls in FINDINGS:
                sig = signature(t.name, cls, err, case["mutations"])
                rec["sig"] = sig
                if sig not in self.findings:
                    mc = self.minimise(t, case, cls, sig)
                    dest = self.save(t, mc, cls, sig, index=i)
                    self.findings[sig] = {"class": cls, "dest": dest, "count": 0, "target": t.name, "case": i,
                                          "stderr": "\n".join(err.strip().splitlines()[:6])}
                    print("[%d] NEW %s: %s -> %s" % (i, cls, sig, dest), flush=True)
                self.findings[sig]["count"] += 1
            self.log.write(json.dumps(rec) + "\n")
            self.log.flush()
            if n % 50 == 0:
                print("[%d] %.0fs left; %s" % (i, t_end - time.time(), dict(self.total())), flush=True)
        self.report(n)
        return self.verdict()

    def verdict(self):
        fail_on = [c for c in self.a.fail_on.split(",") if c]
        bad = [(sig, f) for sig, f in self.findings.items() if f["count"] and f["class"] in fail_on]
        if not bad:
            if fail_on:
                print("\nno finding of the classes %s" % ",".join(fail_on))
            return 0
        print("\nFAILED: %d distinct finding(s) of the classes %s (--fail-on):" % (len(bad), ",".join(fail_on)))
        for sig, f in bad:
            print("\n  [%s x%d] %s\n  first as case %s of --seed %d: %s\n  reproducer: %s"
                  % (f["class"], f["count"], sig, f.get("case", "?"), self.a.seed, f["dest"],
                     os.path.join(f["dest"], "cmd.sh")))
            print("    " + (f["stderr"] or "(no stderr%s)" % (": killed at the timeout" if f["class"] == "HANG" else ""))
                  .replace("\n", "\n    "))
        print("\nAfter the fix, copy each reproducer folder into tests/fuzz-regressions/ (see tools/fuzz/README.md).")
        return 1

    def total(self):
        c = collections.Counter()
        for v in self.counts.values():
            c.update(v)
        return c

    def report(self, n):
        lines = ["cases: %d" % n, "", "per subcommand:"]
        for name in sorted(self.counts):
            lines.append("  %-20s %5d  %s" % (name, sum(self.counts[name].values()),
                                              " ".join("%s=%d" % kv for kv in sorted(self.counts[name].items()))))
        lines += ["", "distinct findings: %d" % len(self.findings)]
        for sig, f in self.findings.items():
            lines.append("  [%s x%d] %s\n      %s" % (f["class"], f["count"], sig, f["dest"]))
        text = "\n".join(lines)
        print(text)
        with open(os.path.join(self.a.out, "summary.txt"), "w") as fh:
            fh.write(text + "\n")
        with open(os.path.join(self.a.out, "summary.json"), "w") as fh:
            json.dump({"cases": n, "counts": {k: dict(v) for k, v in self.counts.items()},
                       "findings": self.findings}, fh, indent=1)


# ----------------------------------------------------------------------------------------------
# Saved cases: portable folders, and their replay


def portable(p, work):
    """A seed path as case.json and log.jsonl keep it: relative to the repository (the conformance
    scripts as ../shared/...), or {work}/... for the fuzzer's scratch (the merge shards)."""
    if isinstance(p, (list, tuple)):
        return [portable(x, work) for x in p]
    ap = os.path.abspath(p)
    if ap.startswith(os.path.abspath(work) + os.sep):
        return "{work}/" + os.path.relpath(ap, work)
    return os.path.relpath(ap, REPO)


def write_cmd_sh(path, argv, sentinel, comments):
    """A shell script running the saved command on the inputs beside it, from any folder."""
    def word(x):
        for ph, var in (("{case}/", "$case/"), ("{out}/", "$out/")):
            if x.startswith(ph):
                return '"%s"%s' % (var[:-1], shlex.quote("/" + x[len(ph):]))
        return shlex.quote(x)
    lines = ["#!/bin/sh"] + ["# " + c for c in comments] + [
        "# Usage: cmd.sh [TCPSIM] (default: build/debug/tcpsim, from the repository's top folder).",
        "# All the saved cases at once: python3 tools/fuzz/fuzz.py --replay FOLDER... --bin TCPSIM",
        'case=$(cd "$(dirname "$0")" && pwd)',
        'out=${TMPDIR:-/tmp}/fuzz-repro-out',
        'rm -rf "$out" && mkdir -p "$out"']
    if sentinel:
        lines.append("printf 'SENTINEL\\n' > \"$out/out.json\"  # a file that an error must leave as it is")
    lines += ["ASAN_OPTIONS=%s UBSAN_OPTIONS=%s \\" % (ASAN_OPTIONS, UBSAN_OPTIONS),
              '  "${1:-build/debug/tcpsim}" ' + " ".join(word(x) for x in argv[1:])]
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(path, 0o755)


def case_folders(paths):
    """Every folder holding a case.json under the given folders (a case folder itself too), sorted."""
    found = []
    for p in paths:
        p = os.path.abspath(p)
        for root, dirs, files in os.walk(p):
            dirs.sort()
            if "case.json" in files:
                found.append(root)
                dirs[:] = []
    return sorted(set(found))


def replay_argv(c, folder, outdir, bin_):
    """The saved command with this binary, the folder's inputs and outdir. Folders of the first
    format (absolute paths) are read too: a path whose file name is in the folder is that file."""
    argv = [bin_]
    for x in c["argv"][1:]:
        if x.startswith("{case}/"):
            x = os.path.join(folder, x[len("{case}/"):])
        elif x.startswith("{out}/"):
            x = os.path.join(outdir, x[len("{out}/"):])
        elif x.startswith("/tmp/fuzz-repro-out/"):
            x = os.path.join(outdir, x[len("/tmp/fuzz-repro-out/"):])
        elif os.path.isabs(x) and os.path.isfile(os.path.join(folder, os.path.basename(x))):
            x = os.path.join(folder, os.path.basename(x))
        argv.append(x)
    return argv


def replay(a):
    """Re-run saved cases; 1 if any is still a finding or is not of its "expect" classes."""
    folders = case_folders(a.replay)
    if not folders:
        print("fuzz.py --replay: no case.json in %s" % " ".join(a.replay), file=sys.stderr)
        return 2
    scratch = os.path.join(a.work, "replay")
    failed = []
    for folder in folders:
        with open(os.path.join(folder, "case.json")) as fh:
            c = json.load(fh)
        # Inside the repository the inputs are named relative to it (tcpsim runs from its top).
        shown = os.path.relpath(folder, REPO) if folder.startswith(REPO + os.sep) else folder
        if os.path.exists(scratch):
            shutil.rmtree(scratch)
        outdir = os.path.join(scratch, "out")
        os.makedirs(outdir)
        if c.get("sentinel", True):
            plant_sentinel(outdir)
        argv = replay_argv(c, shown, outdir, a.bin)
        inputs = [c["input"]] if c.get("input") and c["target"] != "merge" else \
            [os.path.basename(x) for x in argv[1:] if x.startswith(shown + "/")]
        names = [n for i in inputs for n in (i, os.path.join(shown, i))]
        before = snapshot(outdir)
        rc, hung, out, err, dt = execute(argv, a.timeout, scratch)
        cls = classify_case(c["target"], c.get("mutations", []), rc, hung, out, err, names, before, snapshot(outdir))
        expect = c.get("expect")
        ok = cls not in FINDINGS and (not expect or cls in expect)
        print("%-6s %-8s exit %-3s %5.1fs  %s%s" % ("ok" if ok else "FAILED", cls, rc, dt, shown,
                                                     "" if ok or not expect or cls in FINDINGS
                                                     else "  (expected %s)" % " or ".join(expect)), flush=True)
        if not ok:
            failed.append(shown)
            print("       was %s: %s" % (c.get("class", "?"), c.get("signature", "")))
            print("       " + "\n       ".join(err.strip().splitlines()[:8] or ["(empty stderr)"]))
    print("%d case(s) replayed, %d failed%s" % (len(folders), len(failed), ": " + " ".join(failed) if failed else ""))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(REPO, "build/debug/tcpsim"), help="tcpsim to fuzz (default: the ASan/UBSan build)")
    ap.add_argument("--release-bin", default=os.path.join(REPO, "build/release/tcpsim"),
                    help="fast build: makes the merge seeds and re-checks timeouts (SLOW vs HANG); '' to skip")
    ap.add_argument("--minutes", type=float, default=10, help="wall-time budget of the campaign")
    ap.add_argument("--cases", type=int, default=0, help="stop after this many cases (0: no limit)")
    ap.add_argument("--case", type=int, default=0, metavar="N", help="run only case N of the seed (to reproduce one)")
    ap.add_argument("--timeout", type=float, default=20, help="seconds per case")
    ap.add_argument("--seed", type=int, default=1, help="PRNG seed (same seed, binary and options: same cases)")
    ap.add_argument("--targets", default="", help="comma-separated subset of: run,trace,diagram,sweep,capacity,"
                    "remedies,merge,experiment,experiment-compare,pkt")
    ap.add_argument("--fail-on", default="", metavar="CLASSES",
                    help="exit 1 if the campaign finds any of these comma-separated classes (%s)" % ",".join(FINDINGS))
    ap.add_argument("--replay", nargs="+", metavar="DIR",
                    help="re-run the saved case folders in DIR (case.json + inputs) against --bin; exit 1 "
                    "if any is still a finding (no campaign)")
    ap.add_argument("--out", default="/tmp/fuzz-out", help="findings, log.jsonl, summary.txt")
    ap.add_argument("--work", default="/tmp/fuzz-work", help="scratch directory")
    a = ap.parse_args()
    for c in a.fail_on.split(","):
        if c and c not in FINDINGS:
            ap.error("--fail-on: %r is not one of %s" % (c, ",".join(FINDINGS)))
    a.bin, a.out, a.work = os.path.abspath(a.bin), os.path.abspath(a.out), os.path.abspath(a.work)
    if not os.access(a.bin, os.X_OK):
        ap.error("--bin %s: not an executable file (build it first)" % a.bin)
    if a.replay:
        sys.exit(replay(a))
    if a.release_bin and not os.path.exists(a.release_bin):
        a.release_bin = ""
    a.release_bin = os.path.abspath(a.release_bin) if a.release_bin else ""
    sys.exit(Fuzzer(a).campaign())


if __name__ == "__main__":
    main()
