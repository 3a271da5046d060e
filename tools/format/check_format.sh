#!/bin/sh
# Every C++ source of ours is formatted as .clang-format says (CTest house.format; CI).
# Usage: tools/format/check_format.sh [--fix]   (exit 0: formatted; 1: the files that are not listed)
# Skips with exit 77 when clang-format is not installed (scripts/setup.sh --test installs it).
cd "$(dirname "$0")/../.." || exit 2
command -v clang-format >/dev/null 2>&1 || { echo "clang-format not installed: skipped"; exit 77; }
files=$(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find include models sim tests tools bench -name '*.[ch]pp')
if [ "$1" = "--fix" ]; then
    clang-format --style=file -i $files
    exit 0
fi
bad=0
for f in $files; do
    if ! clang-format --style=file "$f" | cmp -s "$f" -; then
        echo "not formatted: $f (tools/format/check_format.sh --fix)"
        bad=1
    fi
done
exit $bad
