# benchmarks/io/servers.sh - running a server under load, as io/run.sh and
# scale.sh both do (sourced by them; bash):
#
#   srv_start FIFO ERR CMD...  starts CMD with its stdout on a new FIFO at
#                              path FIFO and its stderr appended to ERR,
#                              sets server_pid and waits (through the FIFO:
#                              no polling; 20 s at most) for its first line,
#                              "ready" (or http_hello's "Serving on ...").
#                              0, or 1 with the server killed.
#   srv_stop                   ends it (server_pid emptied).
#   cpu_ticks PID...           user+system ticks the processes used so far.
#   cpu_per_req TICKS REQS     server CPU microseconds per request, or "-".
#   wrk_us VALUE               a wrk latency ("812.00us", "1.20ms") in us,
#                              or "-".
#   nginx_conf FILE DIR WORKERS PORT [ROOT [CONNS]]
#                              nginx's `return 200` server (the reference)
#                              with everything it writes under DIR; with
#                              ROOT, its static-file server for ROOT
#                              instead (sendfile on, as distributions ship
#                              it). CONNS: connections a worker takes
#                              (default 4096).

srv_start() {
  local fifo=$1 err=$2 line=""; shift 2
  mkfifo "$fifo"
  "$@" >"$fifo" 2>>"$err" &
  server_pid=$!
  local rfd
  exec {rfd}<"$fifo"
  IFS= read -r -t 20 line <&$rfd || true
  exec {rfd}<&-
  rm -f "$fifo"
  [[ "$line" == ready || "$line" == "Serving on"* ]] && return 0
  kill "$server_pid" 2>/dev/null
  return 1
}

srv_stop() {
  kill "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  server_pid=""
}

srv_hz=$(getconf CLK_TCK)

cpu_ticks() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo $t
}

cpu_per_req() {
  awk -v t="$1" -v r="$2" -v hz="$srv_hz" 'BEGIN { if (r > 0) printf "%.2f", t * 1e6 / hz / r; else print "-" }'
}

wrk_us() {
  # 0: wrk's percentiles past its samples (with pipelining it times only
  # some responses), not a latency.
  awk -v v="$1" 'BEGIN { if (v + 0 == 0) print "-"; else if (v ~ /us$/) print v + 0;
                         else if (v ~ /ms$/) print (v + 0) * 1000; else if (v ~ /s$/) print (v + 0) * 1e6;
                         else print "-" }'
}

nginx_conf() {
  local file=$1 dir=$2 workers=$3 port=$4 root=${5:-} conns=${6:-4096}
  local loc='location / { default_type text/plain; return 200 "Hello, World!"; }'
  [ -n "$root" ] && loc="sendfile on; root $root;"
  cat >"$file" <<NGX
worker_processes $workers;
$([ "$(id -u)" = 0 ] && echo "user root;")
pid $dir/nginx.pid;
error_log $dir/nginx.err;
worker_rlimit_nofile $((conns + 64));
events { worker_connections $conns; }
http {
  access_log off;
  client_body_temp_path $dir/b; proxy_temp_path $dir/p; fastcgi_temp_path $dir/f;
  uwsgi_temp_path $dir/u; scgi_temp_path $dir/s;
  server { listen 127.0.0.1:$port; $loc }
}
NGX
}
