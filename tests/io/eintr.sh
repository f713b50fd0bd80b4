#!/bin/sh
# eintr.sh PROBE DIR - weft takes a system call a signal interrupted again
# (PEP 475; weft/io.h): eintr_probe's file I/O, on the epoll backend with 1
# and 2 workers, under strace injecting EINTR into the first two calls of
# each kind that reach its file, per thread (the worker's tries, the
# offload threads' blocking calls). Without the retry the probe fails with
# "Interrupted system call". Skipped (77) where strace is missing or ptrace
# is not allowed.
set -eu
probe=$1
file=$2/weft-eintr.$$
trap 'rm -f "$file"' EXIT
command -v strace >/dev/null || { echo "skipped: strace missing"; exit 77; }
strace -f -qq -o /dev/null true 2>/dev/null || { echo "skipped: ptrace not allowed"; exit 77; }
calls=openat,pwritev2,preadv2,pwrite64,pread64,write,read,fsync,statx,close
: >"$file" # strace -P resolves the path when it starts
for w in 1 2; do
  "$probe" "$file" # plainly first: the probe itself works
  # LeakSanitizer cannot run under ptrace; the plain run above checks leaks.
  out=$(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    WEFT_IO_BACKEND=epoll WEFT_WORKERS=$w strace -f -qq -o /dev/null -P "$file" \
    -e trace=$calls -e inject=$calls:error=EINTR:when=1..2 "$probe" "$file" 2>&1) || {
    echo "workers=$w: $out"
    exit 1
  }
  [ "$out" = ok ] || { echo "workers=$w: $out"; exit 1; }
done
echo "EINTR taken again on every call (1 and 2 workers)"
