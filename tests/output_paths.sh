#!/usr/bin/env bash
# What an output path may be (sim/cli/output.hpp), through the tcpsim binary: a device or a FIFO is
# written through and stays what it was; a symlink stays a link and its target gets the bytes; a
# directory is refused; `-` is standard output, whose write errors are reported; two outputs
# naming one file (through a symlink) are a usage error that writes nothing.
# Usage: output_paths.sh TCPSIM OUTDIR CASE (run in the source folder). Exit 77: skipped.
set -euo pipefail
tcpsim=$1
out=$2/$3
rm -rf "$out" && mkdir -p "$out"
sc=scenarios/teaching/normal-close.json
golden=scenarios/teaching/normal-close.trace.txt
fail() { echo "FAIL: $*" >&2; exit 1; }
no_temporaries() {
  local left
  left=$(find "$out" -name '*.tmp.*')
  [ -z "$left" ] || fail "temporaries left: $left"
}

case $3 in
clash-symlink)  # -o X --json LINK, LINK -> X (not there yet): exit 2, nothing written
  ln -s x.txt "$out/link"
  set +e; "$tcpsim" run $sc -o "$out/x.txt" --json "$out/link" 2>"$out/err"; rc=$?; set -e
  [ $rc -eq 2 ] || fail "exit code $rc, expected 2"
  grep -q '^tcpsim: error: -o .* and --json .* both name the same file' "$out/err" || fail "stderr: $(cat "$out/err")"
  [ ! -e "$out/x.txt" ] || fail "x.txt written"
  [ -L "$out/link" ] || fail "the link is gone"
  ;;
clash-existing)  # the same through a link to an existing file and a hard link: the file is kept
  echo keep >"$out/x.txt"
  ln -s x.txt "$out/link"
  ln "$out/x.txt" "$out/hard"
  for pair in "--json $out/link" "--csv $out/hard"; do
    set +e; "$tcpsim" run $sc -o "$out/x.txt" $pair 2>"$out/err"; rc=$?; set -e
    [ $rc -eq 2 ] || fail "$pair: exit code $rc, expected 2"
    grep -q '^tcpsim: error: ' "$out/err" || fail "stderr: $(cat "$out/err")"
  done
  [ "$(cat "$out/x.txt")" = keep ] || fail "x.txt changed"
  ;;
device)  # a character device node (the null device) stays one
  if ! mknod "$out/null" c 1 3 2>"$out/err"; then
    echo "WARN: mknod: $(cat "$out/err"): skipped" >&2
    exit 77
  fi
  "$tcpsim" trace $sc -o "$out/null"
  [ -c "$out/null" ] || fail "the device was replaced"
  [ "$(stat -c %t:%T "$out/null")" = 1:3 ] || fail "the device is another: $(stat -c %t:%T "$out/null")"
  ;;
fifo)  # a FIFO stays one, and its reader gets the exact bytes
  mkfifo "$out/fifo"
  timeout 20 cat "$out/fifo" >"$out/got" &
  reader=$!
  timeout 20 "$tcpsim" trace $sc -o "$out/fifo" || { kill $reader 2>/dev/null; fail "tcpsim failed"; }
  if ! wait $reader; then
    fail "the reader got no end of file (the FIFO was replaced?)"
  fi
  [ -p "$out/fifo" ] || fail "the FIFO was replaced"
  cmp "$out/got" $golden
  ;;
symlink)  # a link to a file in another folder: the link stays, the file holds the trace
  mkdir "$out/a" "$out/b"
  echo old >"$out/b/target.txt"
  ln -s ../b/target.txt "$out/a/link"
  "$tcpsim" trace $sc -o "$out/a/link"
  [ -L "$out/a/link" ] || fail "the link was replaced"
  [ "$(readlink "$out/a/link")" = ../b/target.txt ] || fail "the link points elsewhere"
  cmp "$out/b/target.txt" $golden
  ;;
dangling)  # a link to nothing yet: its target is created, the link stays
  mkdir "$out/b"
  ln -s b/new.txt "$out/link"
  "$tcpsim" trace $sc -o "$out/link"
  [ -L "$out/link" ] || fail "the link was replaced"
  cmp "$out/b/new.txt" $golden
  ;;
directory)  # refused, with nothing written (and the link to it kept)
  mkdir "$out/d"
  ln -s d "$out/dlink"
  for d in "$out/d" "$out/dlink"; do
    set +e; "$tcpsim" trace $sc -o "$d" 2>"$out/err"; rc=$?; set -e
    [ $rc -eq 1 ] || fail "exit code $rc, expected 1"
    grep -q "^tcpsim: error: $d: cannot write: Is a directory" "$out/err" || fail "stderr: $(cat "$out/err")"
  done
  [ -L "$out/dlink" ] || fail "the link was replaced"
  [ -z "$(ls -A "$out/d")" ] || fail "something written into the folder"
  ;;
stdout)  # -o - is standard output
  "$tcpsim" trace $sc -o - >"$out/got"
  cmp "$out/got" $golden
  ;;
stdout-full)  # a standard output that cannot take the bytes: exit 1 and the reason
  [ -c /dev/full ] || { echo "WARN: no /dev/full: skipped" >&2; exit 77; }
  set +e; "$tcpsim" trace $sc >/dev/full 2>"$out/err"; rc=$?; set -e
  [ $rc -eq 1 ] || fail "exit code $rc, expected 1"
  grep -q '^tcpsim: error: standard output: cannot write: No space left on device' "$out/err" || fail "stderr: $(cat "$out/err")"
  ;;
*)
  fail "no case $3"
  ;;
esac
no_temporaries
echo "$3: ok"
