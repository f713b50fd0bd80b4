#!/usr/bin/env bash
# scripts/fault-sweep.sh - fault probes from outside, as a hostile user would
# run them: each system call weft's programs make fails (strace -e inject)
# at its Nth call per thread (N = 1, 2, 5; more without --quick), and each
# run is checked for what must never happen: a signal ending the process,
# a hang, or (where the expected output is known) different output with a
# success status. An error status with a message is the right answer to a
# failure; so is success with the right output (a call made again).
#
#   scripts/fault-sweep.sh [--quick] [BUILD]     (BUILD: default build/)
#
# A failure the program cannot hide (ECONNRESET, ENOMEM from epoll_ctl) is
# marked ! in the lists: it must be reported (tcp_echo's handler says
# "Unhandled exception", its client reads the end), so only a crash or a
# hang counts there.
#
# Probes: the asyncio examples (their .out files are the expected output),
# on io_uring and on epoll, with 1 and 2 workers, against a list of
# (system call, errno) pairs picked for each backend. --quick takes fewer
# call positions. Prints one line per finding and a count; exits 1 if any
# run crashed, hung or printed other output with status 0. On 2 vCPUs
# --quick is 1,300 runs in about 5 minutes, the full sweep 2,600 in 10.
# Needs strace and ptrace.
#
# Expected, and not reported: a failure in the dynamic loader (status 127)
# and runs whose stdout differs after a failed write(2) to stdout itself
# (stdio does not retry). Known and listed in benchmarks/RESULTS.md
# (2026-12-07 10:29Z): membarrier failing after registration aborts on
# purpose; io_uring_enter failing on every call from some point on stalls
# the loop. Those pairs are not in the lists below. (An injected EPIPE on a
# live socket left the reader and its peer waiting until 2026-12-07: a
# failed send now ends the connection, as asyncio's fatal write error.)
set -uo pipefail
quick=0
if [ "${1:-}" = --quick ]; then quick=1; shift; fi
build=${1:-build}
ex=$build/examples/asyncio
src=$(cd "$(dirname "$0")/.." && pwd)/examples/asyncio
command -v strace >/dev/null || { echo "fault-sweep: strace missing (scripts/deps.sh test)"; exit 2; }
[ -x "$ex/asyncio_hello_world" ] || { echo "fault-sweep: build the examples first ($ex)"; exit 2; }

# Both backends: thread and resource failures at start and while running.
common="clone3:EAGAIN eventfd2:EMFILE signalfd4:EMFILE sigaltstack:ENOMEM pidfd_open:EMFILE
socket:EMFILE pipe2:EMFILE process_madvise:EPERM madvise:ENOMEM munmap:ENOMEM"
uring="io_uring_setup:ENOMEM io_uring_register:ENOMEM io_uring_enter:EINTR io_uring_enter:EAGAIN
io_uring_enter:EBUSY"
# epoll: the backend's own tries and its offload threads' calls (! as in
# the header: reported, not survived).
epoll="epoll_pwait2:EINTR epoll_ctl:ENOMEM! sendto:EINTR recvfrom:EINTR recvmsg:EINTR
accept4:EINTR accept4:ECONNABORTED connect:EINTR preadv2:EINTR pwritev2:EINTR read:EINTR
recvfrom:ECONNRESET! sendto:EPIPE!"
programs="hello_world tcp_echo subprocess_lines run_in_executor threadsafe_loop taxi_sim"
if [ $quick = 1 ]; then positions="1 2 5"; else positions="1 2 3 5 8 13"; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
runs=0 bad=0
probe() { # backend workers syscall errno[!] position program
  local be=$1 w=$2 sc=$3 err=${4%!} n=$5 p=$6 compare=1
  [ "$err" = "$4" ] || compare=0
  WEFT_IO_BACKEND=$be WEFT_WORKERS=$w timeout -s KILL 20 strace -f -qq -o /dev/null \
    -e trace="$sc" -e inject="$sc:error=$err:when=$n" "$ex/asyncio_$p" >"$tmp/out" 2>"$tmp/err" </dev/null
  local rc=$? what=""
  runs=$((runs + 1))
  if [ $rc -eq 137 ]; then what=hang
  elif [ $rc -gt 128 ]; then what="signal $((rc - 128))"
  elif [ $compare = 1 ] && [ $rc -eq 0 ] && [ -f "$src/$p.out" ] && ! cmp -s "$tmp/out" "$src/$p.out"; then
    [ "$sc" = write ] || what="other output"
  fi
  if [ -n "$what" ]; then
    bad=$((bad + 1))
    echo "$what: $p, $be, $w worker(s), $sc fails with $err at call $n: $(tail -c 160 "$tmp/err" | tr '\n' ' ')"
  fi
}
for be in io_uring epoll; do
  list=$common
  if [ $be = io_uring ]; then list="$list $uring"; else list="$list $epoll"; fi
  for w in 1 2; do
    for p in $programs; do
      for pair in $list; do
        for n in $positions; do probe $be $w "${pair%%:*}" "${pair#*:}" $n $p; done
      done
    done
  done
done
echo "fault-sweep: $runs runs, $bad findings"
[ $bad -eq 0 ]
