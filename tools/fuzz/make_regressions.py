#!/usr/bin/env python3
"""Writes the hand-made cases of tests/fuzz-regressions: the bugs the fuzzer found before its
reproducers were kept, rebuilt as the fuzzer's own case folders (fuzz.py's mutations applied to a
shipped seed, saved by its save()).

Each case is run twice: on an old tcpsim from before the fixes (--old-bin; its class, signature,
exit code and stderr are what the folder records, as a folder copied from --out does) and on the
current one (--bin; its class becomes the case's "expect"). A case is written only if the old
build gives a finding (or, for a bug the fuzzer's classes cannot see, another class than now) and
the current build does not:

  python3 tools/fuzz/make_regressions.py --old-bin OLD/tcpsim --bin build/debug/tcpsim

The old build used for the shipped folders: commit a27eb75 (just before the first fix, 8782436),
Debug with ASan and UBSan.
"""
import argparse
import os
import shutil
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside fuzz.py
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzz  # noqa: E402
from fuzz import Raw, DUPKEY  # noqa: E402

DEST = os.path.join(fuzz.REPO, "tests", "fuzz-regressions")


def setm(desc, path, value):
    return {"desc": desc, "ops": [{"op": "set", "path": path, "value": value}]}


def deep(n):
    return Raw("[" * n + "]" * n)


# name, target, seed (relative to the repository; "{shards}" for merge), shorten, extra,
# mutations, the commit that fixed it, what it was.
SPECS = [
    # The fuzzer found 100,000 levels; 30,000 overflow the old build's stack too, in a third of the bytes.
    ("run-nested-30000-deep", "run", "scenarios/default.json", "1s", {},
     [setm("deep nesting 30000 at /seed", ["seed"], deep(30000))], "4a5aace",
     "JSON nested that deep overflowed the stack"),
    ("run-set-nested-30000-deep", "run", "scenarios/default.json", "1s", {},
     [{"desc": "--set /seed", "ops": [{"op": "cliset", "ptr": "/seed", "value": "[" * 30000 + "]" * 30000}]}],
     "4a5aace", "a --set value nested that deep overflowed the stack"),
    ("merge-shard-nested-30000-deep", "merge", "{shards}", None, {"which": 1},
     [setm("deep nesting 30000 at /seed", ["seed"], deep(30000))], "857b251",
     "a sweep shard nested that deep overflowed the stack"),
    ("experiment-compare-nested-30000-deep", "experiment-compare", "explicit-bind-reuseaddr-none", None, {},
     [setm("deep nesting 30000 at /summary", ["summary"], deep(30000))], "eea1c65",
     "a kernel result nested that deep: the JSON library's message"),
    ("run-number-1e400", "run", "scenarios/default.json", "1s", {},
     [setm("replace /seed", ["seed"], Raw("1e400"))], "29bc55e",
     "a number beyond a double's range, reported without file or place"),
    ("experiment-number-minus-1e400", "experiment", "tools/kernel/experiments/two-destinations.json", None,
     {"profile": "linux"}, [setm("replace /observe_ms", ["observe_ms"], Raw("-1e400"))], "29bc55e",
     "a number beyond a double's range in an experiment"),
    ("run-duplicate-key", "run", "scenarios/default.json", "1s", {},
     [setm("duplicate key /duration", [DUPKEY + "duration"], "5s")], "2a0e917",
     "a key given twice: the parser kept the last one silently (OK-RUN then: not a finding class, "
     "but not the OK-ERROR expected now)"),
    ("run-nul-byte", "run", "scenarios/default.json", "1s", {},
     [{"desc": "raw nul", "ops": [{"op": "raw", "kind": "nul", "at": 1.0, "n": 1, "byte": 0}]}], "2a0e917",
     "a NUL byte after the document"),
    ("merge-shard-mistyped-runs", "merge", "{shards}", None, {"which": 0},
     [setm("replace /runs", ["runs"], "4")], "857b251",
     "merge quoted the JSON library's message for a mistyped field instead of its JSON pointer"),
    ("merge-shard-of-another-sweep", "merge", "{shards}", None, {"which": 1},
     [setm("replace /seed", ["seed"], 2)], "62c2c1d",
     "merge's 'a shard of another sweep' without the field that differs"),
    ("experiment-compare-mistyped-field", "experiment-compare", "explicit-bind-reuseaddr-none", None, {},
     [setm("replace /summary/failed", ["summary", "failed"], "0")], "eea1c65",
     "experiment --compare quoted the JSON library's message instead of the JSON pointer"),
    ("run-duration-100001h", "run", "scenarios/default.json", None, {},
     [setm("replace /duration", ["duration"], "100001h")], "8782436",
     "a duration above 100,000 h (the old build ran past the timeout; the limit keeps sums of "
     "durations within int64)"),
    ("run-msl-overflow", "run", "scenarios/default.json", "1s", {},
     [setm("replace /tcp/msl", ["tcp", "msl"], "2562046h")], "8782436",
     "an MSL near the int64 limit: 2 * MSL overflowed (UBSan)"),
    ("run-closed-loop-zero-backoff", "run", "scenarios/capacity/closed-loop-4x10000.json", "2s", {},
     [setm("add key /clients/0/retry", ["clients", 0, "retry"], {"attempts": 3, "backoff": "0s"})], "ad173fb",
     "a closed-loop client retrying with a zero back-off"),
    ("run-set-index-past-stoul", "run", "scenarios/default.json", "1s", {},
     [{"desc": "--set /hosts/99999999999999999999/name", "ops": [
         {"op": "cliset", "ptr": "/hosts/99999999999999999999/name", "value": "x"}]}], "c8acddd",
     "a --set index too large for stoul (std::out_of_range)"),
    ("pkt-time-1e11-seconds", "pkt", "scenarios/pkt/syn-in-time-wait-higher-seq.pkt", None,
     {"profile": ["freebsd", "FreeBSD"]},
     [{"desc": "insert line 3", "ops": [{"op": "pins", "i": 2, "text": "+99999999999 close(4) = 0"}]}], "54d228e",
     "a packetdrill time of 10^11 s"),
    ("capacity-no-client-rate", "capacity", "scenarios/capacity/aws-nat-55000-per-destination.json", None, {},
     [{"desc": "delete /clients/0", "ops": [{"op": "del", "path": ["clients", 0]}]}], "e29059c",
     "capacity without --rate named the file but not /clients"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old-bin", required=True, help="tcpsim from before the fixes")
    ap.add_argument("--bin", default=os.path.join(fuzz.REPO, "build/debug/tcpsim"), help="the current tcpsim")
    ap.add_argument("--work", default="/tmp/fuzz-make-regressions")
    ap.add_argument("--only", default="", help="comma-separated names")
    args = ap.parse_args()
    a = argparse.Namespace(bin=os.path.abspath(args.bin), release_bin="", timeout=20, targets="", seed=0,
                           out=os.path.join(args.work, "out"), work=args.work, minutes=0, cases=0, case=0,
                           fail_on="")
    fz = fuzz.Fuzzer(a)
    targets = {t.name: t for t in fz.targets}
    shards = targets["merge"].seeds[0]
    bad = 0
    for name, target, seed, shorten, extra, muts, fixed_by, note in SPECS:
        if args.only and name not in args.only.split(","):
            continue
        t = targets[target]
        if seed == "{shards}":
            seed = shards
        elif target == "experiment-compare":
            seed = (os.path.join(fuzz.REPO, "tools/kernel/results", seed + ".json"),
                    os.path.join(fuzz.REPO, "tools/kernel/experiments", seed + ".json"))
        else:
            seed = os.path.join(fuzz.REPO, seed)
        case = {"target": target, "seed": seed, "shorten": shorten, "extra": extra, "mutations": muts,
                "sentinel": True}
        if "which" in extra:
            case["which"] = extra.pop("which")
        old = fz.run_case(t, case, os.path.abspath(args.old_bin))
        new = fz.run_case(t, case, a.bin)
        cls_old, cls_new = old[0], new[0]
        sig = fuzz.signature(target, cls_old, old[3], muts)
        good = cls_new not in fuzz.FINDINGS and cls_old != cls_new
        print("%-40s old %-8s new %-8s %s  %s" % (name, cls_old, cls_new, "" if good else "NOT WRITTEN", sig[:90]))
        if not good:
            bad += 1
            continue
        a.bin, keep = os.path.abspath(args.old_bin), a.bin
        try:
            fz.save(t, case, cls_old, sig, dest=os.path.join(DEST, name), extra_fields={
                "expect": [cls_new], "fixed_by": fixed_by, "note": note,
                "found_on": "tcpsim a27eb75 (Debug, ASan+UBSan); made by tools/fuzz/make_regressions.py",
                "fuzz_seed": None, "case": None})
        finally:
            a.bin = keep
    shutil.rmtree(os.path.join(args.work, "case"), ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
