#!/usr/bin/env python3
"""Checks that keep the README and docs/ true (issue 22).

Usage:
  docs_check.py links SOURCE_DIR
      Every relative link and image in README.md, docs/ and the tools' READMEs names a file or
      folder inside the repository that exists, and every #anchor names a heading of the file
      it points to (GitHub's spelling of heading anchors). Links into code spans and fenced
      blocks are not links; http(s) and mailto links are not checked.
  docs_check.py tour SOURCE_DIR TCPSIM
      Every fenced block of the README's "## A short tour" that starts with "$ COMMAND" is run
      (build/release/tcpsim replaced by TCPSIM, in SOURCE_DIR); the lines shown under the command
      must be lines the command prints, in order: a line "..." stands for lines left out, and
      without one at the start (end) the block shows the first (last) lines.
  docs_check.py two-commands SOURCE_DIR
      The README's "## Two commands" block holds two commands; the second is a line of .ci/run,
      and the scenario both of them run exists.
"""
import os
import re
import subprocess
import sys


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def section(text, heading):
    """The text under a '## ' heading up to the next heading of the same level."""
    m = re.search(r"^" + re.escape(heading) + r"[^\n]*\n", text, re.M)
    if not m:
        return None
    rest = text[m.end():]
    n = re.search(r"^## ", rest, re.M)
    return rest[: n.start()] if n else rest


def fenced_blocks(text):
    """(info string, lines) of every ``` block."""
    blocks, lines, inside, info, body = [], text.split("\n"), False, "", []
    for line in lines:
        if line.startswith("```"):
            if inside:
                blocks.append((info, body))
                inside = False
            else:
                inside, info, body = True, line[3:].strip(), []
        elif inside:
            body.append(line)
    return blocks


# ---- links -------------------------------------------------------------------------------

def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)  # GitHub keeps letters, digits, _ and -, drops the rest
    return s.replace(" ", "-")


def anchors(path):
    seen, out, inside = {}, set(), False
    for line in read(path).split("\n"):
        if line.startswith("```"):
            inside = not inside
            continue
        m = None if inside else re.match(r"^#{1,6} +(.*?) *#* *$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else "%s-%d" % (base, n))
    return out


def prose_lines(text):
    """(line number, line) outside fenced blocks, with inline code spans blanked out."""
    inside = False
    for no, line in enumerate(text.split("\n"), 1):
        if line.startswith("```") or line.lstrip().startswith("```"):
            inside = not inside
            continue
        if not inside:
            yield no, re.sub(r"`[^`]*`", lambda m: " " * len(m.group(0)), line)


LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)")


def md_files(root):
    files = [os.path.join(root, "README.md")]
    for top in ("docs", "tools", "bench", "scenarios"):
        for d, dirs, names in os.walk(os.path.join(root, top)):
            dirs[:] = sorted(x for x in dirs if not x.startswith("."))
            files += [os.path.join(d, n) for n in sorted(names) if n.endswith(".md")]
    return [f for f in files if os.path.isfile(f)]


def check_links(root):
    root = os.path.realpath(root)
    bad, count = 0, 0
    for path in md_files(root):
        rel = os.path.relpath(path, root)
        for no, line in prose_lines(read(path)):
            targets = [m.group(1) for m in LINK.finditer(line)]
            m = REF.match(line)
            if m:
                targets.append(m.group(1))
            for target in targets:
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                    continue
                count += 1
                file_part, _, anchor = target.partition("#")
                dest = path if not file_part else os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                where = "%s:%d: %s" % (rel, no, target)
                if os.path.commonpath([root, os.path.realpath(dest)]) != root:
                    print("%s: points outside the repository" % where)
                    bad += 1
                elif not os.path.exists(dest):
                    print("%s: no such file" % where)
                    bad += 1
                elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                    print("%s: no heading #%s in %s" % (where, anchor, os.path.relpath(dest, root)))
                    bad += 1
    print("docs links: %d links in %d files, %d broken" % (count, len(md_files(root)), bad))
    return 1 if bad else 0


# ---- the README's tour -------------------------------------------------------------------

def check_tour(root, tcpsim):
    tour = section(read(os.path.join(root, "README.md")), "## A short tour")
    if tour is None:
        print("README.md: no section \"## A short tour\"")
        return 1
    bad, runs = 0, 0
    for _, body in fenced_blocks(tour):
        if not body or not body[0].startswith("$ "):
            continue
        command, i = body[0][2:], 1
        while command.endswith("\\") and i < len(body):
            command = command[:-1] + " " + body[i].strip()
            i += 1
        shown = body[i:]
        while shown and shown[-1] == "":
            shown.pop()
        runs += 1
        run = command.replace("build/release/tcpsim", tcpsim)
        out = subprocess.run(["bash", "-c", run], cwd=root, capture_output=True, text=True)
        if out.returncode != 0:
            print("README tour: `%s` exited with %d: %s" % (command, out.returncode, out.stderr.strip()))
            bad += 1
            continue
        printed = out.stdout.rstrip("\n").split("\n")
        problem = excerpt_mismatch(shown, printed)
        if problem:
            print("README tour: `%s`: %s" % (command, problem))
            bad += 1
    if runs == 0:
        print("README tour: no block starting with \"$ \"")
        bad += 1
    print("README tour: %d commands, %d mismatches" % (runs, bad))
    return 1 if bad else 0


def excerpt_mismatch(shown, printed):
    """None when `shown` (with "..." lines for what is left out) is an excerpt of `printed`."""
    parts, cur = [], []
    for line in shown:
        if line == "...":
            parts.append(cur)
            cur = []
        else:
            cur.append(line)
    parts.append(cur)
    at = 0
    for k, part in enumerate(parts):
        if not part:
            continue
        anchored_start = k == 0
        anchored_end = k == len(parts) - 1
        if anchored_start:
            candidates = [0]
        else:
            candidates = range(at, len(printed) - len(part) + 1)
        found = None
        for c in candidates:
            if printed[c:c + len(part)] == part and (not anchored_end or c + len(part) == len(printed)):
                found = c
                break
        if found is None:
            # say which line is the first one not printed where the excerpt puts it
            for line in part:
                if line not in printed[at:]:
                    return "the line %r is not printed (after line %d of the output)" % (line, at)
            if anchored_end:
                return "the block ends with %r but the output goes on (add a line \"...\")" % part[-1]
            if anchored_start:
                return "the block starts with %r but the output starts with %r (add a line \"...\")" % (
                    part[0], printed[0] if printed else "")
            return "the lines from %r on are not printed together and in this order" % part[0]
        at = found + len(part)
    return None


# ---- the two commands --------------------------------------------------------------------

def check_two_commands(root):
    sec = section(read(os.path.join(root, "README.md")), "## Two commands")
    if sec is None:
        print("README.md: no section \"## Two commands\"")
        return 1
    blocks = [b for info, b in fenced_blocks(sec) if info == "sh"]
    commands = [l for l in (blocks[0] if blocks else []) if l.strip() and not l.lstrip().startswith("#")]
    if len(commands) != 2:
        print("README.md \"Two commands\": expected two commands in its ```sh block, found %d" % len(commands))
        return 1
    bad = 0
    ci = read(os.path.join(root, ".ci", "run")).split("\n")
    if commands[1] not in ci:
        print("README.md command 2 is not a line of .ci/run:\n  README:  %s\n  .ci/run: %s" % (
            commands[1], next((l for l in ci if "setup.sh" in l), "(no line runs scripts/setup.sh)")))
        bad += 1
    for c in commands:
        for scenario in re.findall(r"scenarios/\S+\.json", c):
            if not os.path.isfile(os.path.join(root, scenario)):
                print("README.md: %s runs %s, which does not exist" % (c, scenario))
                bad += 1
        if not c.startswith("scripts/setup.sh"):
            print("README.md: a command that does not start with scripts/setup.sh: %s" % c)
            bad += 1
    print("README two commands: %d problems" % bad)
    return 1 if bad else 0


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    what, root = sys.argv[1], sys.argv[2]
    if what == "links":
        return check_links(root)
    if what == "tour" and len(sys.argv) == 4:
        return check_tour(root, os.path.abspath(sys.argv[3]))
    if what == "two-commands":
        return check_two_commands(root)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
