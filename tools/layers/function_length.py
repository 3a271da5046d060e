#!/usr/bin/env python3
"""Functions that do not fit on a screen (DESIGN.md: about 80 lines, tables of data aside).

Usage: function_length.py [--max N] [--allow FILE] [REPO]
Lists every function longer than N lines (default 80) under include/tcpsim, models/ and sim/.
With --allow, the functions named in FILE (one "path name  # why" a line) may be longer; exit 1
when another is, or when a listed one is no longer long (the list only shrinks). CTest runs it
as house.functions with tools/layers/long_functions.txt.

A heuristic reader, not a compiler: it strips comments, strings and character literals (not
digit separators), then takes every brace block whose head looks like a function definition (a
parameter list, not a control statement); lambdas count with the function that holds them.
"""
import os, re, sys

CONTROL = re.compile(r'\b(if|for|while|switch|catch|do|else|return|namespace|class|struct|enum|union)\b')

def strip(text):
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i); j = n if j < 0 else j
            out.append(' ' * (j - i)); i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2); j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j])); i = j
        elif c == '"' or (c == "'" and not (i > 0 and text[i-1].isalnum())):
            if c == '"' and i > 0 and text[i-1] == 'R':  # raw string R"(...)"
                m = re.match(r'R"([^(]*)\(', text[i-1:])
                end = text.find(')' + m.group(1) + '"', i) + len(m.group(1)) + 2
                out.append(re.sub(r'[^\n]', ' ', text[i:end])); i = end; continue
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == '\\' else 1
            out.append(c + ' ' * (j - i - 1) + c); i = j + 1
        else:
            out.append(c); i += 1
    return ''.join(out)

def functions(text):
    s = strip(text)
    stack, found = [], []
    for i, c in enumerate(s):
        if c == '{':
            j = i - 1
            while j >= 0 and s[j] not in ';{}':
                j -= 1
            head = s[j + 1:i]
            hs = ' '.join(head.split())
            is_fn = (')' in hs and '(' in hs and not CONTROL.match(hs.split('(')[0].split()[-1] if hs.split('(')[0].split() else '')
                     and not hs.rstrip().endswith('=') and '[' not in hs.split('(')[0][-2:])
            name = hs.split('(')[0].split()[-1] if is_fn and hs.split('(')[0].split() else ''
            inside_fn = any(f for f in stack if f[0])
            stack.append((is_fn and not inside_fn and name and not CONTROL.fullmatch(name), name, s.count('\n', 0, i) + 1))
        elif c == '}' and stack:
            is_fn, name, line = stack.pop()
            if is_fn:
                found.append((name, line, s.count('\n', 0, i) + 1 - line + 1))
    return found

def read_allow(path):
    allowed = set()
    for line in open(path, encoding='utf-8'):
        line = line.split('#', 1)[0].strip()
        if line:
            p, name = line.split()
            allowed.add((p, name))
    return allowed


def main():
    args = sys.argv[1:]
    limit, allow = 80, None
    while args[:1] in (['--max'], ['--allow']):
        if args[0] == '--max':
            limit = int(args[1])
        else:
            allow = read_allow(args[1])
        args = args[2:]
    repo = args[0] if args else '.'
    rows = []
    for top in ('include/tcpsim', 'models', 'sim'):
        for d, _, names in os.walk(os.path.join(repo, top)):
            for nm in sorted(names):
                if nm.endswith(('.cpp', '.hpp')):
                    p = os.path.join(d, nm)
                    for name, line, length in functions(open(p, encoding='utf-8').read()):
                        if length > limit:
                            rows.append((length, os.path.relpath(p, repo), line, name))
    if allow is None:
        for length, p, line, name in sorted(rows, reverse=True):
            print(f"{length:5d} {p}:{line} {name}")
        return 1 if rows else 0
    bad = 0
    for length, p, line, name in sorted(rows, reverse=True):
        if (p, name) not in allow:
            print(f"{p}:{line}: {name} is {length} lines, over {limit}: split it along its steps")
            bad = 1
    long_now = {(p, name) for _, p, _, name in rows}
    for p, name in sorted(allow - long_now):
        print(f"{p}: {name} is no longer over {limit} lines: take it off the list")
        bad = 1
    return bad

if __name__ == '__main__':
    sys.exit(main())
