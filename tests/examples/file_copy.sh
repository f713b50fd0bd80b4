#!/bin/sh
# file_copy.sh FILE_COPY - copies a 5 MiB + 123 byte file (not a multiple of
# any block size) in the build directory (a disk: tmpfs has no O_DIRECT) and
# compares the bytes.
set -eu
src=weft-copy-src.$$ dst=weft-copy-dst.$$
trap 'rm -f "$src" "$dst"' EXIT
head -c $((5 * 1024 * 1024 + 123)) /dev/urandom >"$src"
"$1" "$src" "$dst"
cmp "$src" "$dst"
echo "copy ok"
