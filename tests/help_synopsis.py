#!/usr/bin/env python3
"""The documented synopsis and `tcpsim SUB --help` list the same options (issue #20).

Usage: help_synopsis.py TCPSIM DOC [HEADING]

The synopsis is the first fenced block after HEADING (default "## The commands", the section of
docs/user-guide.md that holds it; it was "## Using it" in the README before issue 22). A line starting with
"tcpsim SUB" is SUB's usage; a following line that starts with spaces and then "[" continues it;
any other indented line is a description. Every option of `tcpsim SUB --help` (but -h/--help)
must appear in SUB's usage under one of its names, and every option in the usage must be one
that --help lists.
"""
import re
import subprocess
import sys


def synopsis(readme, heading):
    text = open(readme, encoding="utf-8").read()
    at = text.find("\n" + heading + "\n")
    if at < 0:
        sys.exit("%s: no heading %r" % (readme, heading))
    start = text.index("```", at)
    start = text.index("\n", start) + 1
    end = text.index("```", start)
    usages = {}
    current = None
    for line in text[start:end].splitlines():
        if line.startswith("tcpsim "):
            current = line.split()[1]
            usages.setdefault(current, "")
            usages[current] += " " + line
        elif current and re.match(r"^\s+\[", line):
            usages[current] += " " + line
        else:
            current = None
    return {sub: set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", u)) for sub, u in usages.items()}


def help_options(tcpsim, sub):
    out = subprocess.run([tcpsim, sub, "--help"], capture_output=True, text=True, check=True).stdout
    options = []
    in_options = False
    for line in out.splitlines():
        if re.match(r"^(OPTIONS|Options):", line):
            in_options = True
            continue
        if re.match(r"^[A-Z][A-Za-z ]*:$", line):
            in_options = False
        m = re.match(r"^\s+(-[^\s]+)", line)
        if in_options and m:
            names = set(n for n in m.group(1).split(",") if n.startswith("-"))
            if names & {"-h", "--help"}:
                continue
            options.append(names)
    return options


def main():
    tcpsim, readme = sys.argv[1], sys.argv[2]
    heading = sys.argv[3] if len(sys.argv) > 3 else "## The commands"
    usages = synopsis(readme, heading)
    subs = ["run", "trace", "diagram", "pkt", "profiles", "experiment", "sweep", "merge", "capacity", "remedies", "bench"]
    bad = 0
    for sub in subs:
        if sub not in usages:
            print("the synopsis in %s has no line for `tcpsim %s`" % (readme, sub))
            bad += 1
            continue
        shown = usages[sub]
        opts = help_options(tcpsim, sub)
        for names in opts:
            if not names & shown:
                print("tcpsim %s: --help lists %s, the synopsis in %s does not" % (sub, "/".join(sorted(names)), readme))
                bad += 1
        known = set().union(*opts) if opts else set()
        for o in sorted(shown - known):
            print("tcpsim %s: the synopsis in %s shows %s, --help does not list it" % (sub, readme, o))
            bad += 1
    print("help_synopsis: %d subcommands, %d mismatches" % (len(subs), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
