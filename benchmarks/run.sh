#!/usr/bin/env bash
# benchmarks/run.sh - run weft-bench and its Go and Tokio peers in one go, with
# the same worker count, and print the side-by-side table with ratios
# (a quick look at a few workloads; `make bench` runs benchmarks/report.py,
# which does this for every workload and worker count, with charts).
#
#   benchmarks/run.sh [--workers N] [workload ...]
#
# Ratios are peer ns/op divided by weft ns/op: above 1 means weft is faster.
# Peers that fail to build are reported and skipped, not fatal.
set -uo pipefail
cd "$(dirname "$0")/.."
workers=$(nproc)
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) workers=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
workloads=(spawn_many yield_many ping_pong yield_many_warm ping_pong_warm chained_spawn timers timer_accuracy switch switch_fp sched_switch fork_join idle rss lock_contended lock_contended_barging queue_mpmc semaphore_limit semaphore_limit_warm semaphore_uncontended ping_pong_queue lock_handoff event_broadcast gather_10k taskgroup_10k wait_for_overhead executor_roundtrip gen_pingpong)
[ ${#args[@]} -gt 0 ] && workloads=("${args[@]}")

bench=build/benchmarks/weft-bench
[ -x "$bench" ] || { echo "run.sh: build weft first (make build)" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Peers, built where their toolchains exist (peers/build.sh says where).
go_bin="" tokio_bin=""
while IFS== read -r k v; do
  case $k in go) go_bin=$v ;; tokio) tokio_bin=$v ;; esac
done < <(benchmarks/peers/build.sh)

echo "# weft benchmarks: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), workers=$workers"
for w in "${workloads[@]}"; do
  "$bench" --workers "$workers" "$w" >>"$out/results" 2>>"$out/errors" || echo "run.sh: weft $w failed" >&2
  [ -n "$go_bin" ] && { "$go_bin" -workers "$workers" "$w" >>"$out/results" 2>>"$out/errors" || echo "run.sh: go $w failed" >&2; }
  [ -n "$tokio_bin" ] && { "$tokio_bin" --workers "$workers" "$w" >>"$out/results" 2>>"$out/errors" || echo "run.sh: tokio $w failed" >&2; }
done
grep '^RESULT' "$out/results" > "$out/r" || true

awk '
function field(line, key,   n, i, kv) {
  n = split(line, kv, " ")
  for (i = 1; i <= n; i++) if (index(kv[i], key "=") == 1) return substr(kv[i], length(key) + 2)
  return ""
}
function extras(line,   n, i, kv, s) {
  n = split(line, kv, " "); s = ""
  for (i = 8; i <= n; i++) s = s (s == "" ? "" : " ") kv[i]
  return s
}
{
  impl = field($0, "impl"); name = field($0, "name")
  ns[name, impl] = field($0, "ns_per_op"); ex[name, impl] = extras($0)
  if (!(name in seen)) { seen[name] = 1; order[++count] = name }
}
END {
  printf "\n| workload | weft ns/op | go ns/op | tokio ns/op | go/weft | tokio/weft |\n"
  printf "|---|---:|---:|---:|---:|---:|\n"
  for (i = 1; i <= count; i++) {
    n = order[i]; w = ns[n, "weft"]; g = ns[n, "go"]; t = ns[n, "tokio"]
    rg = (w != "" && g != "" && w > 0) ? sprintf("%.2fx", g / w) : "-"
    rt = (w != "" && t != "" && w > 0) ? sprintf("%.2fx", t / w) : "-"
    printf "| %s | %s | %s | %s | %s | %s |\n", n, (w == "" ? "-" : w), (g == "" ? "-" : g), (t == "" ? "-" : t), rg, rt
  }
  printf "\nDetails (latencies, memory, CPU):\n\n"
  for (i = 1; i <= count; i++) {
    n = order[i]
    split("weft go tokio", impls, " ")
    for (k = 1; k <= 3; k++) if (ex[n, impls[k]] != "") printf "- %s %s: %s\n", n, impls[k], ex[n, impls[k]]
  }
}' "$out/r"
if [ -s "$out/errors" ]; then echo; echo "stderr:"; cat "$out/errors"; fi
