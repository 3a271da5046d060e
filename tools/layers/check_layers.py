#!/usr/bin/env python3
"""Refuses an #include that breaks the layers of docs/architecture.md.

Usage: check_layers.py [REPO]   (exit 0: every include goes down; 1: the offending lines listed)

Every source file under include/tcpsim, models/ and sim/ belongs to one layer (its folder); an
include names the layer of its target by its first path component ("tcp/...", "world/...",
<tcpsim/...>). A layer may include itself and the layers listed for it below; nothing else.
"""
import os
import re
import sys

MODELS = ["tcp", "host", "net", "app"]
# layer -> the layers it may include (besides itself). Ordered bottom-up.
ALLOWED = {
    "engine": [],
    "tcp": ["engine"],
    "host": ["tcp", "engine"],
    "net": ["host", "tcp", "engine"],
    "app": ["host", "tcp", "engine"],
    "base": ["engine"],
    "scenario": ["base"] + MODELS + ["engine"],
    "world": ["scenario", "base"] + MODELS + ["engine"],
    "teach": ["world", "scenario", "base"] + MODELS + ["engine"],
    "pkt": ["world", "scenario", "base"] + MODELS + ["engine"],
    "forecast": ["world", "scenario", "base"] + MODELS + ["engine"],
    "whatif": ["forecast", "world", "scenario", "base"] + MODELS + ["engine"],
    "experiment": ["whatif", "forecast", "world", "scenario", "base"] + MODELS + ["engine"],
    "cli": ["experiment", "whatif", "forecast", "pkt", "teach", "world", "scenario", "base"] + MODELS + ["engine"],
}
# Headers private to their layer, and the one file outside it that may include each: the
# endpoint's template bodies are seen by the host's input (a template over the runtime's Io);
# everything above drives endpoints through the host.
PRIVATE = {"tcp/endpoint_impl.hpp": {"models/host/host_input.hpp"}}
ROOMS = [k for k in ALLOWED if k not in MODELS and k != "engine"]
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of_file(rel):
    parts = rel.split("/")
    if parts[:2] == ["include", "tcpsim"]:
        return "engine"
    if parts[0] == "models" and len(parts) > 2 and parts[1] in MODELS:
        return parts[1]
    if parts[0] == "sim" and len(parts) > 2 and parts[1] in ROOMS:
        return parts[1]
    return None


def layer_of_include(kind, target):
    first = target.split("/")[0]
    if kind == "<":
        return "engine" if first == "tcpsim" else None  # std and libraries: not ours
    if first in ALLOWED and first != "engine":
        return first
    return "?"  # a quoted include that names no layer (a sibling by bare name): refused too


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    problems = []
    for top in ("include/tcpsim", "models", "sim"):
        for dirpath, _, names in os.walk(os.path.join(repo, top)):
            for name in sorted(names):
                if not name.endswith((".hpp", ".cpp", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, repo).replace(os.sep, "/")
                own = layer_of_file(rel)
                if own is None:
                    problems.append(f"{rel}: in no layer (put it in a room of docs/architecture.md)")
                    continue
                with open(path, encoding="utf-8") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        if m.group(2) in PRIVATE and own != m.group(2).split("/")[0] and rel not in PRIVATE[m.group(2)]:
                            problems.append(f"{rel}:{n}: \"{m.group(2)}\" is private to its layer; "
                                            f"include {', '.join(sorted(PRIVATE[m.group(2)]))} instead")
                            continue
                        target = layer_of_include(m.group(1), m.group(2))
                        if target is None or target == own:
                            continue
                        if target == "?":
                            if own == "engine" or "/" not in m.group(2) and os.path.exists(os.path.join(dirpath, m.group(2))):
                                problems.append(f"{rel}:{n}: #include \"{m.group(2)}\": write it with its layer "
                                                f"(\"{own}/{m.group(2)}\")" if own != "engine" else
                                                f"{rel}:{n}: the engine includes only <tcpsim/...> and libraries")
                            else:
                                problems.append(f"{rel}:{n}: #include \"{m.group(2)}\" names no layer")
                            continue
                        if target not in ALLOWED[own]:
                            problems.append(f"{rel}:{n}: {own} may not include {target} (\"{m.group(2)}\"); "
                                            f"{own} uses only {', '.join(ALLOWED[own]) or 'std and fmt'}")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include(s) break the layers of docs/architecture.md")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
