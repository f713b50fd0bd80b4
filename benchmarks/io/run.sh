#!/usr/bin/env bash
# benchmarks/io/run.sh - the I/O benchmarks, weft and its peers in one run:
#
#   tcp_echo        the shared load generator (64 connections, 64-byte
#                   request/response) against echo servers: weft (raw ops
#                   and streams), Go, Tokio, libuv, asyncio, uvloop
#   tcp_echo_1k     the same with 1,000 connections: how a server shares
#                   itself among many clients (the tail, p99, shows it)
#   tcp_echo_hog    the same with as many server workers as CPUs and a busy
#                   process competing for them: tail latency under contention
#   tcp_churn       the same servers, one request per connection: 64 clients
#                   each connect, send, read the echo and reset, again and
#                   again (accept, a stream's set-up and close per request)
#   http_plaintext  wrk (64 connections) against http_hello and the peers'
#                   equivalents, with nginx (`return 200`) as the reference
#   http_pipelined  the same with 16 requests per write (TechEmpower's
#                   plaintext shape; benchmarks/io/pipeline.lua)
#   http_static     wrk against static-file servers (examples/file_server,
#                   Go's http.FileServer, nginx), a 16 KiB and a 300 KB file
#   idle_conns      4,000 keep-alive connections to each HTTP server, one
#                   GET each, then idle: the server's resident memory per
#                   connection (benchmarks/io/idle_conns.py)
#   nop             an awaited no-op through the reactor vs a bare liburing loop
#   file_randread   4 KiB O_DIRECT random reads at queue depth 32 vs fio's
#                   io_uring engine on the same file
#
#   benchmarks/io/run.sh [--workers N] [--seconds S] [--reps R] [workload ...]
#
# Each server is measured R times (default 3), the rounds interleaved so
# that drift on a shared machine hits every implementation alike; the
# table shows each one's median round (by req/s). file_randread alternates
# weft and fio R times the same way and shows the medians.
#
# Every server gets the same worker count (weft workers, GOMAXPROCS, Tokio
# worker threads, nginx worker_processes; libuv, asyncio and uvloop run one
# loop, their model). Default N = 1: on a 2-CPU machine that leaves the
# other CPU to the client, so the server, not the client, is measured.
# Peers that are not installed are reported and skipped.
set -uo pipefail
cd "$(dirname "$0")/../.."
workers=1 secs=5 reps=3
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) workers=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
workloads=(tcp_echo tcp_echo_1k tcp_echo_hog tcp_churn http_plaintext http_pipelined http_static idle_conns nop file_randread)
[ ${#args[@]} -gt 0 ] && workloads=("${args[@]}")
B=build/benchmarks E=build/examples
[ -x $B/weft-echo ] || { echo "io/run.sh: build weft first (make build)" >&2; exit 1; }
out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; [ -f "$out/nginx.pid" ] && kill "$(cat "$out/nginx.pid")" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT

# Peers, built where their toolchains exist (peers/build.sh says where).
go_io="" tokio_io="" py=""
while IFS== read -r k v; do
  case $k in go_io) go_io=$v ;; tokio_io) tokio_io=$v ;; esac
done < <(benchmarks/peers/build.sh)
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
# Every server's code from pages read back in (benchmarks/evict.py says why).
[ -n "$py" ] && $py benchmarks/evict.py $B/weft-echo $B/weft-loadgen $B/weft-uv-server $E/http_hello $E/file_server "$go_io" "$tokio_io"
uv_bin=""; [ -x $B/weft-uv-server ] && uv_bin=$B/weft-uv-server
has_uvloop=0; [ -n "$py" ] && $py -c "import uvloop" 2>/dev/null && has_uvloop=1

port=19000
. benchmarks/io/servers.sh
# start NAME CMD... : starts a server on the next port (srv_start: it says
# "ready", or "Serving on ..." for http_hello, once listening).
start() {
  local name=$1 rc; shift
  port=$((port + 1))
  : >"$out/err.$name"
  srv_start "$out/fifo.$name.$port" "$out/err.$name" "$@"; rc=$?
  pids+=("$server_pid")
  [ $rc = 0 ] || echo "io/run.sh: $name did not start: $(cat "$out/err.$name")" >&2
  return $rc
}
stop() { srv_stop; }

row() { printf '%-15s %-16s %12s %10s %10s %12s\n' "$@"; }
# median_rows WORKLOAD [P99]: each implementation's median round (by req/s)
# from $out/rounds; with P99=median, its p99 column is instead the median of
# the rounds' p99s (for tail latency under a hog, which swings between
# rounds with where the kernel puts the hog: the p99 of the round with the
# median throughput is one draw of it).
middle() { awk '{ r[NR] = $0 } END { if (NR) print r[int((NR + 1) / 2)] }'; } # of sorted lines
median_rows() {
  local impl rows row
  for impl in "${order[@]}"; do
    rows=$(awk -v i="$impl" '$2 == i' "$out/rounds")
    [ -n "$rows" ] || continue
    row=$(sort -k3 -g <<<"$rows" | middle)
    [ "${2:-}" = median ] && row=$(awk -v p="$(awk '{ print $5 }' <<<"$rows" | sort -g | middle)" '{ $5 = p; print }' <<<"$row")
    echo "$row"
  done | while read -r w i rps p50 p99 cpu _; do row "$w" "$i" "$rps" "$p50" "$p99" "$cpu"; done | tee -a "$results"
  [ -n "${WEFT_BENCH_RAW:-}" ] && cat "$out/rounds" >>"$WEFT_BENCH_RAW"
  return 0
}
results=$out/results

# echo_rounds NAME WORKERS HOG [churn]: the tcp_echo rounds against every
# echo server given WORKERS workers; HOG=1 runs a busy loop beside each
# round, at least 5 rounds (the p99 then is the median of the rounds'
# p99s: median_rows); churn: one request per connection (weft-loadgen's
# churn mode).
echo_rounds() {
  local name=$1 w=$2 hog=$3 churn=${4:-} conns=${5:-64} cmd hog_pid r rps p50 p99 cdf gen t0 t1 n=$reps
  [ "$hog" = 1 ] && [ "$n" -gt 1 ] && [ "$n" -lt 5 ] && n=5
  row workload impl req/s p50_us p99_us cpu_us/req
  : >"$out/rounds"
  for ((rep = 0; rep < n; rep++)); do
    for impl in "${order[@]}"; do
      [ -n "${echo_cmds[$impl]:-}" ] || continue
      [ "$impl" = weft-fixed ] && [ "$hog" != 1 ] && continue
      [ "$impl" = weft-epoll ] && [ "$hog" = 1 ] && continue
      cmd=${echo_cmds[$impl]//\{W\}/$w}
      start "$impl" ${cmd//\{P\}/$((port + 1))} || continue
      hog_pid=""
      if [ "$hog" = 1 ]; then (while :; do :; done) & hog_pid=$!; fi
      t0=$(cpu_ticks $server_pid)
      r=$($B/weft-loadgen $port "$conns" "$secs" 64 1 $churn)
      t1=$(cpu_ticks $server_pid)
      [ -n "$hog_pid" ] && { kill "$hog_pid"; wait "$hog_pid" 2>/dev/null; }
      stop
      rps=$(sed -n 's/.*req_s=\([0-9.]*\).*/\1/p' <<<"$r"); p50=$(sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p' <<<"$r"); p99=$(sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p' <<<"$r")
      cdf=$(sed -n 's/.*cdf_us=\([0-9.:,]*\).*/\1/p' <<<"$r"); gen=$(sed -n 's/.*gen_cpu=\([0-9.]*\).*/\1/p' <<<"$r")
      # The warm-up second is load too: count it in the requests' CPU.
      echo "$name $impl $rps $p50 $p99 $(cpu_per_req $((t1 - t0)) "$(awk -v r="$rps" -v s="$secs" 'BEGIN { print r * (s + 1) }')") ${cdf:--} ${gen:--}" >>"$out/rounds"
    done
  done
  if [ "$hog" = 1 ]; then median_rows "$name" median; else median_rows "$name"; fi
  generator_note
}

# generator_note: the load generator's own CPU (weft-loadgen's gen_cpu,
# the rounds' 8th field), median per server. One thread near 1.00 CPU is
# the generator's bound: the servers' rates then differ by what each costs
# the generator per request (a server that sleeps between requests is
# woken from the generator's system calls), not by their capacity.
generator_note() {
  local impl line="" g
  for impl in "${order[@]}"; do
    g=$(awk -v i="$impl" '$2 == i && $8 != "-" && $8 != "" { print $8 }' "$out/rounds" | sort -g | middle)
    [ -n "$g" ] && line+=" $impl $g,"
  done
  [ -n "$line" ] || return 0
  echo "# load generator's CPU (median, in CPUs; near 1.00 = the generator's bound):${line%,}" | tee -a "$results"
}

# http_rounds NAME [WRK ARG...]: wrk against every HTTP server (nginx's
# `return 200` included), REPS rounds interleaved; the median rows. With
# http_table=static_cmds, http_root=DIR and http_path=FILE, the
# static-file servers of DIR instead (nginx's too), asked for FILE.
http_table=http_cmds http_root="" http_path=""
http_rounds() {
  local name=$1 impl spids t0 t1 r rps p50 p99 cdf; shift
  row workload impl req/s p50_us p99_us cpu_us/req
  : >"$out/rounds"
  for ((rep = 0; rep < reps; rep++)); do
    for impl in "${order[@]}"; do
      http_start "$impl" || continue
      t0=$(cpu_ticks $spids)
      r=$(wrk -t1 -c64 -d"${secs}s" --latency "$@" "http://127.0.0.1:$port/$http_path" 2>&1)
      t1=$(cpu_ticks $spids)
      http_stop "$impl"
      rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$r")
      p50=$(wrk_us "$(awk '$1=="50%" {print $2}' <<<"$r")"); p99=$(wrk_us "$(awk '$1=="99%" {print $2}' <<<"$r")")
      cdf=$(for q in 50 75 90 99; do printf '%s:%s,' $q "$(wrk_us "$(awk -v q="$q%" '$1==q {print $2}' <<<"$r")")"; done)
      [ "$name" = http_pipelined ] && p50=- p99=- cdf=-, # (the case's comment)
      echo "$name $impl $rps $p50 $p99 $(cpu_per_req $((t1 - t0)) "$(awk -v r="$rps" -v s="$secs" 'BEGIN { print r * s }')") ${cdf%,}" >>"$out/rounds"
    done
  done
  median_rows "$name"
}

# http_start IMPL [CONNS]: starts IMPL's server of $http_table (nginx's
# from nginx_conf: $http_root's static files if set, CONNS connections a
# worker) on the next port and sets spids, the processes serving; 1 if
# IMPL has none or it did not start. http_stop IMPL ends it.
http_start() {
  local impl=$1 conns=${2:-} cmd
  local -n cmds=$http_table
  if [ "$impl" = nginx ]; then
    command -v nginx >/dev/null || return 1
    port=$((port + 1))
    nginx_conf "$out/nginx.conf" "$out" "$workers" "$port" "$http_root" $conns
    nginx -c "$out/nginx.conf" -p "$out" 2>"$out/err.nginx" || { echo "io/run.sh: nginx did not start" >&2; return 1; }
    spids=$(pgrep -P "$(cat "$out/nginx.pid")" | tr '\n' ' ')
  else
    [ -n "${cmds[$impl]:-}" ] || return 1
    cmd=${cmds[$impl]//\{W\}/$workers}
    start "$impl" ${cmd//\{P\}/$((port + 1))} || return 1
    spids=$server_pid
  fi
}
http_stop() {
  if [ "$1" = nginx ]; then kill "$(cat "$out/nginx.pid")"; rm -f "$out/nginx.pid"; else stop; fi
}

# idle_rounds N: N idle keep-alive connections against every HTTP server
# (nginx's included), REPS rounds interleaved; each server's median KiB per
# connection (benchmarks/io/idle_conns.py).
idle_rounds() {
  local n=$1 impl spids r kib
  printf '%-15s %-16s %12s %12s\n' workload impl conns kib_per_conn
  : >"$out/idle"
  for ((rep = 0; rep < reps; rep++)); do
    for impl in "${order[@]}"; do
      http_start "$impl" $((n + 100)) || continue
      r=$($py benchmarks/io/idle_conns.py "$port" "$n" $spids)
      http_stop "$impl"
      kib=$(sed -n 's/.*kib_per_conn=\([0-9.]*\).*/\1/p' <<<"$r")
      [ -n "$kib" ] && echo "$impl $kib" >>"$out/idle"
    done
  done
  for impl in "${order[@]}"; do
    awk -v i="$impl" '$1 == i { print $2 }' "$out/idle" | sort -g |
      awk -v i="$impl" -v n="$n" '{ r[NR] = $1 } END { if (NR) printf "%-15s %-16s %12s %12s\n", "idle_conns", i, n, r[int((NR + 1) / 2)] }'
  done | tee -a "$results"
}

# server command lines, with the port as {P} and the worker count as {W}
declare -A echo_cmds http_cmds
echo_cmds[weft]="$B/weft-echo {P} {W} raw"
echo_cmds[weft-stream]="$B/weft-echo {P} {W} stream"
# The same raw server with every worker serving whatever the CPUs do
# (WEFT_ADAPT_WORKERS=0; by default a loop serves on fewer workers while its
# threads wait for CPUs: docs/runtime.md "Sharing CPUs"); measured beside
# the hog only, where the two differ.
echo_cmds[weft-fixed]="env WEFT_ADAPT_WORKERS=0 $B/weft-echo {P} {W} raw"
http_cmds[weft]="$E/http_hello {P} {W}"
# weft on its epoll backend, what it serves on where io_uring is refused (a
# container's default seccomp profile, kernel.io_uring_disabled): the
# raw echo server and http_hello (not beside the hog, to keep the run short).
echo_cmds[weft-epoll]="env WEFT_IO_BACKEND=epoll $B/weft-echo {P} {W} raw"
http_cmds[weft-epoll]="env WEFT_IO_BACKEND=epoll $E/http_hello {P} {W}"
[ -n "$go_io" ] && { echo_cmds[go]="env GOMAXPROCS={W} $go_io echo {P}"; http_cmds[go]="env GOMAXPROCS={W} $go_io http {P}"; }
[ -n "$tokio_io" ] && { echo_cmds[tokio]="$tokio_io echo {P} {W}"; http_cmds[tokio]="$tokio_io http {P} {W}"; }
[ -n "$uv_bin" ] && { echo_cmds[libuv]="$uv_bin echo {P}"; http_cmds[libuv]="$uv_bin http {P}"; }
[ -n "$py" ] && { echo_cmds[asyncio]="$py benchmarks/peers/python/servers.py asyncio echo {P}"; http_cmds[asyncio]="$py benchmarks/peers/python/servers.py asyncio http {P}"; }
[ $has_uvloop = 1 ] && { echo_cmds[uvloop]="$py benchmarks/peers/python/servers.py uvloop echo {P}"; http_cmds[uvloop]="$py benchmarks/peers/python/servers.py uvloop http {P}"; }
order=(weft weft-fixed weft-stream weft-epoll go tokio libuv asyncio uvloop nginx)
# Static files (http_static): weft's examples/file_server (sendfile through
# its stream writer), Go's net/http FileServer (sendfile too), nginx's
# static server ({R}: the root). Tokio has no static-file server of its
# own; the others' loops would copy.
declare -A static_cmds
static_cmds[weft]="$E/file_server {R} {P} {W}"
[ -n "$go_io" ] && static_cmds[go]="env GOMAXPROCS={W} $go_io static {P} {R}"

echo "# weft I/O benchmarks: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r), workers=$workers, ${secs}s per run"
for w in "${workloads[@]}"; do
  case $w in
  tcp_echo)
    echo; echo "## tcp_echo: 64 connections, 64-byte request/response (weft-loadgen)"
    echo_rounds tcp_echo "$workers" 0 ;;
  tcp_echo_1k)
    # Many clients at once: a runtime that lets a few connections run
    # ahead of the rest shows it in the tail (this script's limit of open
    # files, which the client and the servers inherit, is raised, as for
    # idle_conns).
    [ "$(ulimit -n)" -ge 1100 ] || ulimit -n 1100 2>/dev/null || { echo "io/run.sh: cannot open 1,000 connections (ulimit -n); tcp_echo_1k skipped" >&2; continue; }
    echo; echo "## tcp_echo_1k: 1,000 connections, 64-byte request/response (weft-loadgen)"
    echo_rounds tcp_echo_1k "$workers" 0 "" 1000 ;;
  tcp_echo_hog)
    # Tail latency when the server shares its CPUs with another program
    # (issue 13): as many workers as CPUs, and a busy loop beside them.
    echo; echo "## tcp_echo_hog: tcp_echo with $(nproc) workers and a busy process competing for the CPUs (p99: median over the rounds)"
    echo_rounds tcp_echo_hog "$(nproc)" 1 ;;
  tcp_churn)
    echo; echo "## tcp_churn: 64 clients, one 64-byte request/response per connection, then a reset (weft-loadgen churn)"
    echo_rounds tcp_churn "$workers" 0 churn ;;
  http_plaintext)
    command -v wrk >/dev/null || { echo "io/run.sh: wrk missing; http_plaintext skipped" >&2; continue; }
    echo; echo "## http_plaintext: wrk -t1 -c64, keep-alive GET"
    http_rounds http_plaintext ;;
  http_pipelined)
    # TechEmpower's plaintext test sends its requests 16 deep: a server
    # that answers them in one write instead of sixteen saves most of its
    # CPU (the peers gather the answers by hand; weft's http_hello writes
    # each one and its queued sends gather them: docs/io.md).
    command -v wrk >/dev/null || { echo "io/run.sh: wrk missing; http_pipelined skipped" >&2; continue; }
    # No latency: wrk records one latency per batch of 16 and its
    # coordinated-omission correction then fills in samples its percentile
    # walk never reaches, so the printed distribution reads 0 us from some
    # percentile on, for every server (wg/wrk#236); its p50 ranked servers
    # by how their answers split across segments, not by time.
    echo; echo "## http_pipelined: wrk -t1 -c64, keep-alive GET, 16 requests pipelined per write (no latency: wrk's histogram is wrong under pipelining, wg/wrk#236)"
    http_rounds http_pipelined -s benchmarks/io/pipeline.lua ;;
  http_static)
    # A static file server's request: open beneath the root, a header, the
    # file from the page cache. 16 KiB (a typical asset: one segment on
    # the loopback) and 300 KB (many: the sendfile path's own cost).
    command -v wrk >/dev/null || { echo "io/run.sh: wrk missing; http_static skipped" >&2; continue; }
    http_root=$out/www
    mkdir -p "$http_root"
    head -c 16384 /dev/urandom >"$http_root/16k.bin"
    head -c 300000 /dev/urandom >"$http_root/300k.bin"
    for f in 16k 300k; do
      echo; echo "## http_static_$f: wrk -t1 -c64, keep-alive GET of a $f file (page cache)"
      http_table=static_cmds http_path=$f.bin
      for impl in "${!static_cmds[@]}"; do static_cmds[$impl]=${static_cmds[$impl]//\{R\}/$http_root}; done
      http_rounds "http_static_$f"
    done
    http_table=http_cmds http_root="" http_path="" ;;
  idle_conns)
    [ -n "$py" ] || { echo "io/run.sh: python3 missing; idle_conns skipped" >&2; continue; }
    # Each server and the client hold one fd per connection: the soft
    # limit raised towards the hard one (the servers inherit it).
    idle_n=4000 hard=$(ulimit -Hn)
    [ "$hard" != unlimited ] && [ "$hard" -lt $((idle_n + 200)) ] && idle_n=$((hard - 200))
    ulimit -n $((idle_n + 200)) 2>/dev/null
    echo; echo "## idle_conns: $idle_n keep-alive connections, one GET each, then idle: the server's resident memory per connection (KiB, median of the rounds)"
    idle_rounds "$idle_n" ;;
  nop)
    echo; echo "## nop: one awaited IORING_OP_NOP (ns/op; liburing = bare ring, same setup flags)"
    for n in nop nop_raw nop_batch nop_raw_batch; do $B/weft-bench --workers 1 $n; done | awk '/^RESULT/ {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      printf "%-15s %-16s %12s ns/op\n", f["name"], f["impl"], f["ns_per_op"] }' | tee -a "$results" ;;
  file_randread)
    echo; echo "## file_randread: 4 KiB O_DIRECT random reads, queue depth 32, 256 MiB file"
    f=build/weft-randread.dat
    # Written and synced first: dirty pages being flushed would compete
    # with whichever side runs first.
    [ -f "$f" ] || { head -c $((256 << 20)) /dev/urandom >"$f"; sync "$f"; }
    command -v fio >/dev/null || echo "io/run.sh: fio missing; its row skipped" >&2
    # REPS rounds, weft and fio alternating, medians: one run each let a
    # slow moment of the disk decide the ratio (RESULTS.md, 2026-12-02).
    : >"$out/rr"
    for ((rep = 0; rep < reps; rep++)); do
      WEFT_BENCH_FILE=$f WEFT_BENCH_SECONDS=$secs $B/weft-bench --workers 1 file_randread |
        sed -n 's/.*iops=\([0-9]*\).*/weft \1/p' >>"$out/rr"
      command -v fio >/dev/null &&
        fio --name=rr --filename="$f" --rw=randread --bs=4k --direct=1 --ioengine=io_uring --iodepth=32 \
            --runtime="$secs" --time_based --output-format=json 2>/dev/null |
          /usr/bin/python3 -c 'import json,sys; print("fio %.0f" % json.load(sys.stdin)["jobs"][0]["read"]["iops"])' >>"$out/rr"
    done
    for impl in weft fio; do
      awk -v i="$impl" '$1 == i { print $2 }' "$out/rr" | sort -g |
        awk -v i="$impl" '{ r[NR] = $1 } END { if (NR) printf "%-15s %-16s %12s iops\n", "file_randread", i, r[int((NR + 1) / 2)] }'
    done | tee -a "$results" ;;
  esac
done

# Ratios: weft over each peer (throughput: above 1 means weft is faster;
# CPU per request: below 1 means weft spends less server CPU per request,
# which is what shows when the client, not the server, is the bottleneck).
echo; echo "## ratios (weft / peer)"
awk '
  $1=="tcp_echo" || $1=="tcp_echo_1k" || $1=="tcp_echo_hog" || $1=="tcp_churn" || $1 ~ /^http_/ || $1=="file_randread" { v[$1","$2]=$3; p[$1","$2]=$5; c[$1","$2]=$6; impls[$1]=impls[$1]" "$2 }
  $1 ~ /^nop/ { v[$1","$2]=$3; impls[$1]=impls[$1]" "$2 }
  $1=="idle_conns" { m[$2]=$4 }
  END {
    for (i in m) if (i != "weft" && m[i] > 0 && m["weft"] > 0)
      printf "%-15s weft holds %.2fx %s'"'"'s memory per idle connection\n", "idle_conns", m["weft"] / m[i], i
    for (w in impls) {
      n = split(impls[w], l, " "); base = v[w",weft"]
      if (w == "tcp_echo_hog" && p[w",weft-fixed"] > 0)
        for (i = 1; i <= n; i++) if (l[i] !~ /^weft/ && p[w","l[i]] > 0)
          printf "%-15s weft-fixed %.2fx %s   (p99: weft-fixed %.2fx of %s)\n", w, v[w",weft-fixed"] / v[w","l[i]], l[i], p[w",weft-fixed"] / p[w","l[i]], l[i]
      for (i = 1; i <= n; i++) if (l[i] != "weft" && v[w","l[i]] > 0 && base > 0) {
        if (w ~ /^nop/) printf "%-15s weft costs %.2fx %s\n", w, base / v[w","l[i]], l[i]
        else {
          printf "%-15s weft %.2fx %s", w, base / v[w","l[i]], l[i]
          if (c[w",weft"] > 0 && c[w","l[i]] > 0) printf "   (CPU per request: weft %.2fx of %s)", c[w",weft"] / c[w","l[i]], l[i]
          if ((w == "tcp_echo_hog" || w == "tcp_echo_1k") && p[w",weft"] > 0 && p[w","l[i]] > 0) printf "   (p99: weft %.2fx of %s)", p[w",weft"] / p[w","l[i]], l[i]
          printf "\n"
        }
      }
    }
  }' "$results" | sort
