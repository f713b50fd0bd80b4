#!/bin/sh
# exports.sh LIB SRCDIR - the shared library exports exactly the functions
# the public headers declare with WEFT_EXTERN, and weft.map lists exactly
# those: a new export needs all three to agree.
set -eu
lib=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -ho 'WEFT_EXTERN[^(;]*(' "$src"/include/weft.h "$src"/include/weft/*.h 2>/dev/null |
  sed -E 's/.*[ *]([a-z_0-9]+)\($/\1/' | grep '^weft_' | sort -u > "$tmp/headers"
sed -n 's/^[[:space:]]*\(weft_[a-z_0-9]*\);$/\1/p' "$src/weft.map" | sort -u > "$tmp/map"
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sed 's/@.*//' | sort -u > "$tmp/lib"
rc=0
if ! cmp -s "$tmp/headers" "$tmp/map"; then
  echo "weft.map and the headers' WEFT_EXTERN declarations differ (< headers, > map):"
  diff "$tmp/headers" "$tmp/map" | grep '^[<>]' || true
  rc=1
fi
if ! cmp -s "$tmp/map" "$tmp/lib"; then
  echo "weft.map and the library's exports differ (< map, > library):"
  diff "$tmp/map" "$tmp/lib" | grep '^[<>]' || true
  rc=1
fi
[ $rc -eq 0 ] && echo "exports: $(wc -l < "$tmp/lib") symbols, headers = weft.map = library"
exit $rc
