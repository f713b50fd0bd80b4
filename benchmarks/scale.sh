#!/usr/bin/env bash
# benchmarks/scale.sh - scaling over workers (issue 13): weft, Go and Tokio
# on the scheduler workloads and the two servers, at 1, 2, 4, ... workers,
# on a machine with many cores.
#
#   benchmarks/scale.sh [--workers 1,2,4,...] [--reps 3] [--server-reps 2]
#                       [--fib 32] [--seconds 3] [--conns 256] [--workloads A,B,...]
#                       [--order locality|fifo|default] [--bin DIR] [--out DIR]
#   benchmarks/scale.sh --pack DIR
#
# --pack copies the built programs (weft's, the peers', wrk and nginx where
# installed) and the shared libraries they need beyond libc into DIR, so
# that they run on a machine where nothing can be built or installed;
# --bin DIR then runs from such a folder (LD_LIBRARY_PATH=DIR/lib).
#
# Scheduler workloads: fork_join (fib(--fib): fib(30) ends in a few ms on
# 16 cores), spawn_many, yield_many, ping_pong, chained_spawn; every
# runtime at every worker count, weft in LOCALITY order throughout (the
# default from 2 workers on; one worker's default is asyncio's FIFO order,
# which make bench measures and which never runs a fork_join child inline;
# --order default keeps each count's default), or --workloads (any of
# weft-bench's that the peers have too, e.g. semaphore_limit,timers to
# see whether their one-worker gap is the host's page faults), --reps rounds interleaved; each row is the
# median round. Servers: tcp_echo (weft-loadgen, --conns connections,
# 64-byte round trips) and http_plaintext (wrk, --conns connections),
# with the server pinned to CPUs 0..W-1 and the load generator to the
# upper half of the CPUs (its own cores), so only worker counts up to half
# the CPUs are measured for the servers. Server CPU per request counts the
# warm-up second too (as io/run.sh does).
#
# --workers defaults to 1, 2, 4, ... up to the CPUs, and the CPU count.
# Writes to --out (default a fresh temporary folder): machine.txt,
# runtime.txt (RESULT lines), servers.txt (workload impl workers req/s p50
# p99 cpu_us/req), summary.md (medians and speed-ups over 1 worker) and
# README.md (the machine, the command, the summary and, where gnuplot is
# installed, one chart per workload: benchmarks/scale_chart.py). `make
# bench` runs it into benchmarks/report/scale/ on machines of 8 CPUs or
# more.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
workers="" reps=3 sreps=2 fibn=32 secs=3 conns=256 bin="" out="" pack=""
workloads=fork_join,spawn_many,yield_many,ping_pong,chained_spawn order=locality
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) workers=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --server-reps) sreps=$2; shift 2 ;;
    --fib) fibn=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --order) order=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --pack) pack=$2; shift 2 ;;
    *) echo "scale.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# The programs, by the names a --pack folder holds them under.
progs() {
  local B=$here/build/benchmarks k v
  echo "weft-bench=$B/weft-bench weft-echo=$B/weft-echo weft-loadgen=$B/weft-loadgen"
  echo "http_hello=$here/build/examples/http_hello"
  while IFS== read -r k v; do
    case $k in
      go) echo "weft-go-bench=$v" ;; go_io) echo "weft-go-io=$v" ;;
      tokio) echo "weft-tokio-bench=$v" ;; tokio_io) echo "weft-tokio-io=$v" ;;
    esac
  done < <("$here/benchmarks/peers/build.sh")
  command -v wrk >/dev/null && echo "wrk=$(command -v wrk)"
  command -v nginx >/dev/null && echo "nginx=$(command -v nginx)"
}

if [ -n "$pack" ]; then
  mkdir -p "$pack/lib"
  for kv in $(progs); do
    name=${kv%%=*} path=${kv#*=}
    [ -x "$path" ] || { echo "scale.sh: $name not built ($path); left out" >&2; continue; }
    cp "$path" "$pack/$name"
    # libraries beyond the C library's own (the target has a newer glibc)
    ldd "$path" | awk '$3 ~ /^\// { print $3 }' | grep -Ev '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
      while read -r lib; do cp -L "$lib" "$pack/lib/"; done
  done
  du -sh "$pack"
  exit 0
fi

[ -n "$out" ] || out=$(mktemp -d)
mkdir -p "$out"
if [ -n "$bin" ]; then
  bin=$(cd "$bin" && pwd)
  export LD_LIBRARY_PATH=$bin/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  P() { [ -x "$bin/$1" ] && echo "$bin/$1"; }
else
  declare -A paths
  for kv in $(progs); do paths[${kv%%=*}]=${kv#*=}; done
  P() { [ -x "${paths[$1]:-}" ] && echo "${paths[$1]}"; }
fi
ncpu=$(nproc)
if [ -z "$workers" ]; then # 1, 2, 4, ... up to the CPUs, and the CPUs themselves
  workers=1
  for ((w = 2; w <= ncpu; w *= 2)); do workers+=",$w"; done
  [ "${workers##*,}" = "$ncpu" ] || workers+=",$ncpu"
fi
IFS=, read -r -a wlist <<<"$workers"
pinned=yes
command -v taskset >/dev/null || { pinned="no (no taskset)"; taskset() { shift 2; "$@"; }; }

{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $ncpu CPUs"
  echo "cpu0 shares its core with CPUs: $(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list 2>/dev/null)" \
       "(itself alone: no SMT); sockets: $(sort -u /sys/devices/system/cpu/cpu*/topology/physical_package_id 2>/dev/null | wc -l)"
  echo "kernel: $(uname -r); memory: $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "io backend: $(timeout 2 "$(P http_hello)" 0 1 </dev/null 2>&1 | head -1)"
  echo "servers pinned to CPUs 0..W-1, load generator to $(($(nproc) / 2))-$(($(nproc) - 1)): $pinned"
  echo "args: workers=$workers reps=$reps server_reps=$sreps fib=$fibn seconds=$secs conns=$conns order=$order workloads=$workloads"
} | tee "$out/machine.txt"

# ---- scheduler workloads --------------------------------------------------
IFS=, read -r -a wls <<<"$workloads"
run_rt() { # RUNTIME WORKERS WORKLOAD
  local b
  case $1 in
    weft) b=$(P weft-bench) && timeout 60 "$b" --workers "$2" ${order:+--order "$order"} "$3" ;;
    go) b=$(P weft-go-bench) && timeout 60 "$b" -workers "$2" "$3" ;;
    tokio) b=$(P weft-tokio-bench) && timeout 60 "$b" --workers "$2" "$3" ;;
  esac
}
: >"$out/runtime.txt"
export WEFT_BENCH_FIB=$fibn WEFT_STALL_MS=0
for ((rep = 0; rep < reps; rep++)); do
  for wl in "${wls[@]}"; do
    for w in "${wlist[@]}"; do
      for rt in weft go tokio; do
        run_rt "$rt" "$w" "$wl" 2>>"$out/runtime.err" | grep '^RESULT' | sed "s/\$/ rep=$rep/" >>"$out/runtime.txt"
      done
    done
  done
  echo "scale.sh: scheduler round $((rep + 1))/$reps done at $(date -u +%T)" >&2
done

# ---- servers ---------------------------------------------------------------
half=$((ncpu / 2))
client_cpus=$half-$((ncpu - 1))
[ "$ncpu" -lt 2 ] && client_cpus=0
port=19500
sdir=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; [ -f "$sdir/nginx.pid" ] && kill "$(cat "$sdir/nginx.pid")" 2>/dev/null; rm -rf "$sdir"; }
trap cleanup EXIT
. "$here/benchmarks/io/servers.sh"
# start W CMD...: the server on the next port, pinned to CPUs 0..W-1
# (srv_start: it says "ready" or "Serving on ..." once listening).
start() {
  local w=$1; shift
  port=$((port + 1))
  srv_start "$sdir/fifo.$port" "$out/servers.err" taskset -c "0-$((w - 1))" "$@" && return 0
  echo "scale.sh: $* did not start" >>"$out/servers.err"
  server_pid=""
  return 1
}
nginx_up() { # W: nginx with W worker processes on CPUs 0..W-1
  nginx_conf "$sdir/nginx.conf" "$sdir" "$1" "$port"
  taskset -c "0-$(($1 - 1))" "$(P nginx)" -e "$sdir/nginx.err" -c "$sdir/nginx.conf" -p "$sdir" 2>>"$out/servers.err"
}
: >"$out/servers.txt"
for ((rep = 0; rep < sreps; rep++)); do
  for w in "${wlist[@]}"; do
    [ "$w" -le "$half" ] || continue
    for impl in weft go tokio; do # tcp_echo
      case $impl in
        weft) cmd=("$(P weft-echo)" $((port + 1)) "$w" raw) ;;
        go) cmd=(env GOMAXPROCS="$w" "$(P weft-go-io)" echo $((port + 1))) ;;
        tokio) cmd=("$(P weft-tokio-io)" echo $((port + 1)) "$w") ;;
      esac
      start "$w" "${cmd[@]}" || continue
      t0=$(cpu_ticks $server_pid)
      r=$(taskset -c "$client_cpus" "$(P weft-loadgen)" $port "$conns" "$secs" 64 $((ncpu - half)))
      t1=$(cpu_ticks $server_pid)
      srv_stop
      rps=$(sed -n 's/.*req_s=\([0-9.]*\).*/\1/p' <<<"$r")
      p50=$(sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p' <<<"$r") p99=$(sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p' <<<"$r")
      # The warm-up second is load too: count it in the requests' CPU.
      cpu=$(cpu_per_req $((t1 - t0)) "$(awk -v r="${rps:-0}" -v s="$secs" 'BEGIN { print r * (s + 1) }')")
      echo "tcp_echo $impl $w ${rps:--} ${p50:--} ${p99:--} $cpu" >>"$out/servers.txt"
    done
    [ -n "$(P wrk)" ] || continue
    for impl in weft go tokio nginx; do # http_plaintext
      spids=""
      case $impl in
        weft) start "$w" "$(P http_hello)" $((port + 1)) "$w" || continue ;;
        go) start "$w" env GOMAXPROCS="$w" "$(P weft-go-io)" http $((port + 1)) || continue ;;
        tokio) start "$w" "$(P weft-tokio-io)" http $((port + 1)) "$w" || continue ;;
        nginx) [ -n "$(P nginx)" ] || continue; port=$((port + 1)); nginx_up "$w" || continue
               spids=$(pgrep -P "$(cat "$sdir/nginx.pid")" | tr '\n' ' ') ;;
      esac
      [ -n "$spids" ] || spids=$server_pid
      t0=$(cpu_ticks $spids)
      r=$(taskset -c "$client_cpus" "$(P wrk)" -t$((ncpu - half)) -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/" 2>&1)
      t1=$(cpu_ticks $spids)
      if [ "$impl" = nginx ]; then kill "$(cat "$sdir/nginx.pid")"; rm -f "$sdir/nginx.pid"; else srv_stop; fi
      rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$r")
      p50=$(wrk_us "$(awk '$1 == "50%" { print $2 }' <<<"$r")") p99=$(wrk_us "$(awk '$1 == "99%" { print $2 }' <<<"$r")")
      cpu=$(cpu_per_req $((t1 - t0)) "$(awk -v r="${rps:-0}" -v s="$secs" 'BEGIN { print r * s }')")
      echo "http_plaintext $impl $w ${rps:--} ${p50:--} ${p99:--} $cpu" >>"$out/servers.txt"
    done
  done
  echo "scale.sh: server round $((rep + 1))/$sreps done at $(date -u +%T)" >&2
done

# ---- summary ---------------------------------------------------------------
{
  echo "## Scheduler workloads: Mops/s (median of $reps), speed-up over 1 worker in brackets"
  echo
  awk -v wl="${wls[*]}" -v ws="${wlist[*]}" '
    function f(line, key,   n, i, kv) { n = split(line, kv, " ")
      for (i = 1; i <= n; i++) if (index(kv[i], key "=") == 1) return substr(kv[i], length(key) + 2); return "" }
    function median(k,   n, i, j, t, a) { n = split(v[k], a, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n ? a[int((n + 1) / 2)] : "" }
    { k = f($0, "name") SUBSEP f($0, "impl") SUBSEP f($0, "workers"); v[k] = v[k] " " f($0, "ops_per_s") }
    END { nw = split(ws, W, " "); nl = split(wl, L, " "); split("weft go tokio", R, " ")
      printf "| workload | runtime |"; for (i = 1; i <= nw; i++) printf " %sw |", W[i]; print ""
      printf "|---|---|"; for (i = 1; i <= nw; i++) printf "---:|"; print ""
      for (l = 1; l <= nl; l++) for (r = 1; r <= 3; r++) {
        base = median(L[l] SUBSEP R[r] SUBSEP W[1]); printf "| %s | %s |", L[l], R[r]
        for (i = 1; i <= nw; i++) { m = median(L[l] SUBSEP R[r] SUBSEP W[i])
          if (m == "") printf " - |"; else printf " %.2f (%.1fx) |", m / 1e6, (base > 0 ? m / base : 0) }
        print "" } }' "$out/runtime.txt"
  echo
  echo "## Servers: req/s (median of $sreps), speed-up over 1 worker, p99 us, server CPU us/request"
  echo
  echo "| workload | impl | workers | req/s | speed-up | p99 us | cpu us/req |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  sort -k1,1 -k2,2 -k3,3n -k4,4g "$out/servers.txt" | awk '
    { k = $1 " " $2 " " $3; n[k]++; row[k, n[k]] = $0; if (!(k in seen)) { seen[k] = 1; order[++c] = k } }
    END { for (i = 1; i <= c; i++) { k = order[i]; split(row[k, int((n[k] + 1) / 2)], a, " ")
      if (a[3] == 1 || !((a[1] " " a[2]) in base)) base[a[1] " " a[2]] = a[4]
      b = base[a[1] " " a[2]]
      printf "| %s | %s | %s | %.0f | %.2fx | %s | %s |\n", a[1], a[2], a[3], a[4], (b > 0 ? a[4] / b : 0), a[6], a[7] } }'
} | tee "$out/summary.md"

# ---- README.md: the machine, the command, the summary, the charts ----------
charts=""
if command -v python3 >/dev/null && command -v gnuplot >/dev/null; then
  charts=$(python3 "$here/benchmarks/scale_chart.py" "$out" 2>>"$out/runtime.err" | xargs -r -n1 basename)
  rm -rf "$here/benchmarks/__pycache__"
fi
{
  echo "# Scaling over workers on a $ncpu-CPU machine, $(sed -n 's/^date: //p' "$out/machine.txt")"
  echo
  echo "\`benchmarks/scale.sh --workers $workers --reps $reps --server-reps $sreps --fib $fibn --seconds $secs --conns $conns\`"
  echo
  echo "| machine | |"
  echo "|---|---|"
  sed -n 's/^\([^:]*\): \(.*\)$/| \1 | \2 |/p' "$out/machine.txt"
  echo
  echo "weft's order: $order at every worker count (LOCALITY is the default from"
  echo "2 workers on; one worker's default, asyncio's FIFO order, is what \`make"
  echo "bench\` measures). Raw rounds: runtime.txt, servers.txt. Their reading"
  echo "goes to benchmarks/RESULTS.md."
  echo
  cat "$out/summary.md"
  if [ -n "$charts" ]; then
    echo
    echo "## Charts (throughput over workers, log-log; the last line is weft's 1-worker figure times the workers)"
    echo
    for c in $charts; do echo "![${c%.svg}]($c)"; echo; done
  fi
} >"$out/README.md"
echo "scale.sh: report written to $out/README.md" >&2
