#!/bin/sh
# asyncio.sh MODE COMMAND EXPECTED - run COMMAND (a program, or "python3
# file.py") and compare what it prints with EXPECTED: "exact" (byte for
# byte) or "lines" (the same lines in any order: several workers may
# interleave what one worker, like asyncio, prints in order).
set -eu
mode=$1
cmd=$2
expected=$3
out=$(mktemp)
trap 'rm -f "$out" "$out.a" "$out.b"' EXIT
$cmd > "$out"
if [ "$mode" = lines ]; then
  sort "$out" > "$out.a"
  sort "$expected" > "$out.b"
  diff -u "$out.b" "$out.a"
else
  diff -u "$expected" "$out"
fi
