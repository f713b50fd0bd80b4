#!/bin/sh
# errno_calls.sh LIB - libweft's code reaches errno only through
# weft_errno_location (include/weft/errno.h): no other function of LIB
# calls or jumps to __errno_location, whose answer a compiler may keep
# across a suspension point, after which a task can run on another thread.
set -eu
lib=$1
command -v objdump >/dev/null || { echo "skipped: objdump missing"; exit 77; }
bad=$(objdump -d --no-show-raw-insn "$lib" | awk '
  /^[0-9a-f]+ <.*>:$/ { fn = $2 }
  /<__errno_location(@plt)?>/ && $0 !~ /^[0-9a-f]+ </ && fn != "<weft_errno_location>:" { print fn }' | sort -u)
if [ -n "$bad" ]; then
  echo "these functions use __errno_location directly (built without weft/errno.h's WEFT_ERRNO_ANEW?):"
  echo "$bad"
  exit 1
fi
n=$(objdump -d --no-show-raw-insn "$lib" | grep -c 'call.*<weft_errno_location>' || true)
[ "$n" -gt 0 ] || { echo "no call to weft_errno_location found: is LIB libweft?"; exit 1; }
echo "errno: $n uses, every one through weft_errno_location"
