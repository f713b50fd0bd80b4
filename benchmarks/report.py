#!/usr/bin/env python3
"""benchmarks/report.py - `make bench`: weft against Go and Tokio (runtime
workloads) and against Go, Tokio, libuv, asyncio, uvloop and nginx (I/O,
through benchmarks/io/run.sh), as a report people can read at a glance.

    benchmarks/report.py [--quick] [--workers 1,2] [--reps 5] [--out DIR]
                         [--no-io] [--io-seconds S] [workload ...]

What it does, in order:
  1. describes the machine (CPU, cores, memory, kernel, compiler, the
     version of every peer) at the top of the report;
  2. builds the peers that have a toolchain here (benchmarks/peers/build.sh);
  3. runs every workload on every runtime, for each worker count, REPS
     times, the repetitions interleaved (rep 1 of everything, then rep 2...)
     so that a drift of the machine hits every runtime alike, and which
     runtime goes first rotating with the rep and the workload; progress on
     stderr: which workload, which runtime, rep k of n, time left;
  4. runs the I/O suite (io/run.sh) unless --no-io;
  5. prints the summary table (median of the reps; ratio = peer time / weft
     time, above 1 means weft is faster) and writes DIR (default
     benchmarks/report/): README.md (the same tables and the machine),
     results.json (every raw figure), and charts drawn by gnuplot (SVG): one
     bar chart per workload family with every runtime side by side, a
     scaling chart over worker counts when more than one was measured, the
     peak memory chart, and the I/O servers' throughput and latency CDF.

--render results.json draws the report again from a previous run's data.
--quick (written to build/report-quick/) runs a handful of workloads once each with the I/O suite at one
second per server: about a minute, to check that everything builds and runs.
Peak RSS is every benchmark process's own, measured by weft-peak-rss
(benchmarks/peak_rss.c: fork, exec, wait4's ru_maxrss; ~1 MiB floor), so
the memory figures cost no extra runs and are measured the same way for all.
"""
import argparse
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from evict import evict
from probes import line_rtt, page_reach, page_touch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES = [
    ("scheduler", "Scheduler hot paths",
     ["spawn_many", "yield_many", "ping_pong", "yield_many_warm", "ping_pong_warm", "chained_spawn",
      "sched_switch", "fork_join"]),
    ("fibers", "Task switches and timers", ["switch", "switch_fp", "timers", "timer_accuracy"]),
    ("sync", "Synchronization primitives",
     ["lock_contended", "lock_contended_fifo", "lock_contended_barging", "queue_mpmc",
      "semaphore_limit", "semaphore_limit_warm", "semaphore_uncontended", "ping_pong_queue", "lock_handoff",
      "event_broadcast"]),
    ("compose", "Composition", ["gather_10k", "taskgroup_10k", "wait_for_overhead"]),
    ("offload", "Executors, generators, context",
     ["executor_roundtrip", "gen_pingpong", "contextvar_spawn"]),
    ("memory", "Memory", ["idle", "rss"]),
]
ALL = [w for _, _, ws in FAMILIES for w in ws]
QUICK = ["spawn_many", "yield_many", "ping_pong", "chained_spawn", "lock_contended", "rss"]
RUNTIMES = ["weft", "go", "tokio"]
# weft with one worker in locality order (weft.h: WEFT_ORDER_LOCALITY), run
# beside the default: one worker's default is asyncio's exact FIFO order,
# which starts every spawned task before the first one ends; this is the
# order a user gives up exactness for (a spawned child runs next, an
# awaited one inline, as Tokio's LIFO slot does). Its own table, not a peer.
LOCALITY = "weft-locality"
DATA = tempfile.mkdtemp(prefix="weft-report-")  # charts' data, peak files; removed at exit
atexit.register(shutil.rmtree, DATA, True)
SCALING = ["fork_join", "spawn_many", "yield_many", "ping_pong"]


def sh(cmd):
    """A command's first output line, or '' (for version strings)."""
    try:
        r = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20)
        out = (r.stdout or r.stderr).strip().splitlines()
        return out[0].strip() if out else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def caches():
    """CPU 0's caches from sysfs, e.g. "L1d 32K, L1i 32K, L2 512K, L3 32768K
    (shared by CPUs 0-1)": message-passing ratios depend on whether every task's
    lines fit in L2 (benchmarks/README.md, order)."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    out = []
    try:
        names = sorted(n for n in os.listdir(base) if n.startswith("index"))
    except OSError:
        return ""
    for n in names:
        def rd(f):
            try:
                with open(os.path.join(base, n, f)) as fh:
                    return fh.read().strip()
            except OSError:
                return ""
        level, kind, size = rd("level"), rd("type"), rd("size")
        if not level or not size:
            continue
        tag = f"L{level}" + {"Data": "d", "Instruction": "i"}.get(kind, "")
        shared = rd("shared_cpu_list")
        out.append(f"{tag} {size}" + (f" (shared by CPUs {shared})" if shared and shared != "0" else ""))
    return ", ".join(out)


def machine():
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    distro = sh(". /etc/os-release && echo \"$PRETTY_NAME\"")
    dpkg = lambda p: sh(f"dpkg-query -W -f='${{Version}}' {p} 2>/dev/null")
    tokio = sh(f"grep -A1 '^name = \"tokio\"$' {ROOT}/benchmarks/peers/tokio/Cargo.lock | "
               "sed -n 's/version = \"\\(.*\\)\"/\\1/p'")
    uvloop = sh("/usr/bin/python3 -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null")
    commit = sh(f"git -C {ROOT} describe --always --dirty")
    return {
        "date": time.strftime("%Y-%m-%d %H:%MZ", time.gmtime()),
        "cpu": cpu or "unknown", "cores": os.cpu_count(), "memory": mem, "os": distro,
        "caches": caches() or "unknown",
        "hypervisor": sh("lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p'") or "none",
        "kernel": os.uname().release, "weft": commit,
        "cc": sh("cc --version"), "liburing": dpkg("liburing-dev"), "jemalloc": dpkg("libjemalloc-dev"),
        "go": sh("go version"), "rustc": sh("rustc --version"), "tokio": tokio,
        "libuv": dpkg("libuv1-dev"), "python": sh("/usr/bin/python3 --version"), "uvloop": uvloop,
        "nginx": sh("nginx -v 2>&1"), "wrk": sh("wrk -v 2>&1 | head -1"), "fio": sh("fio --version"),
    }


def build_peers():
    out = subprocess.run([f"{ROOT}/benchmarks/peers/build.sh"], capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    paths = dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)
    return {k: v for k, v in paths.items() if v}


def command(runtime, peers, workers, workload):
    if runtime == "weft":
        return [f"{ROOT}/build/benchmarks/weft-bench", "--workers", str(workers), workload]
    if runtime == LOCALITY:
        return [f"{ROOT}/build/benchmarks/weft-bench", "--workers", str(workers), "--order", "locality",
                workload]
    if runtime == "go" and "go" in peers:
        return [peers["go"], "-workers", str(workers), workload]
    if runtime == "tokio" and "tokio" in peers:
        return [peers["tokio"], "--workers", str(workers), workload]
    return None


def parse(out):
    m = re.search(r"^RESULT (.*)$", out or "", re.M)
    if not m:
        return None
    return dict(kv.split("=", 1) for kv in m.group(1).split() if "=" in kv)


PEAK = os.path.join(ROOT, "build", "benchmarks", "weft-peak-rss")


def run_measured(cmd):
    """Runs @cmd under weft-peak-rss; returns (fields, peak RSS KiB, seconds, stderr)."""
    t0 = time.monotonic()
    peak_file = os.path.join(DATA, "peak")
    try:
        r = subprocess.run([PEAK, peak_file] + cmd, capture_output=True, text=True)
    except OSError as e:
        return None, 0, 0.0, str(e)
    try:
        with open(peak_file) as f:
            rss = int(f.read().split()[0])
        os.unlink(peak_file)
    except (OSError, ValueError, IndexError):
        rss = 0
    return parse(r.stdout), rss, time.monotonic() - t0, r.stderr


def fmt_s(s):
    s = int(s + 0.5)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Progress:
    """Progress on stderr. Time left: each remaining run is expected to take
    what the same (workload, runtime, workers) took in an earlier rep, or
    the mean of the runs so far until one has."""

    def __init__(self, plan):
        self.plan, self.done, self.t0 = plan, 0, time.monotonic()
        self.took = {}
        self.tty = sys.stderr.isatty()

    def show(self, what):
        el = time.monotonic() - self.t0
        mean = el / self.done if self.done else 0
        left = sum(self.took.get(key[1:], mean) for key in self.plan[self.done:])
        line = f"[{self.done + 1:>3}/{len(self.plan)}] {fmt_s(el)} elapsed" + \
            (f", ~{fmt_s(left)} left" if self.done else "") + f" | {what}"
        sys.stderr.write(("\r\033[K" + line) if self.tty else (line + "\n"))
        sys.stderr.flush()

    def step(self, seconds):
        self.took[self.plan[self.done][1:]] = seconds
        self.done += 1

    def end(self):
        if self.tty:
            sys.stderr.write("\n")


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return None if not n else xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def run_runtime(args, peers):
    runtimes = [r for r in RUNTIMES if r == "weft" or r in peers]

    def turns(rep, i, w):
        # Who goes first rotates with the rep and the workload, so that no
        # runtime always follows the previous workload's last (a cold core
        # after an idle one, the page cache after another's exit): as ab.py
        # alternates its two binaries.
        rts = runtimes + ([LOCALITY] if w == 1 else [])
        k = (rep + i) % len(rts)
        return rts[k:] + rts[:k]

    plan = [(rep, w, wl, rt) for rep in range(args.reps) for w in args.workers
            for i, wl in enumerate(args.workloads) for rt in turns(rep, i, w)]
    prog = Progress(plan)
    raw = []
    for rep, w, wl, rt in plan:
        cmd = command(rt, peers, w, wl)
        prog.show(f"rep {rep + 1}/{args.reps} | {w} worker{'s' if w > 1 else ''} | {wl} | {rt}")
        fields, rss, secs, err = run_measured(cmd)
        prog.step(secs)
        raw.append({"rep": rep, "workers": w, "workload": wl, "runtime": rt, "fields": fields,
                    "peak_rss_kib": rss, "seconds": round(secs, 3),
                    "error": None if fields else (err.strip().splitlines() or ["no RESULT line"])[-1]})
    prog.end()
    return raw, runtimes


def summarize(raw):
    """{(workers, workload, runtime): {ns, rss, extras}} from the reps' medians."""
    groups = {}
    for r in raw:
        if r["fields"] and "ns_per_op" in r["fields"]:
            groups.setdefault((r["workers"], r["workload"], r["runtime"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        ns = [float(r["fields"]["ns_per_op"]) for r in rs]
        mid = sorted(rs, key=lambda r: float(r["fields"]["ns_per_op"]))[len(rs) // 2]
        extras = {k: v for k, v in mid["fields"].items()
                  if k not in ("impl", "name", "workers", "ops", "ns_per_op", "ops_per_s")}
        out[key] = {"ns": median(ns), "min": min(ns), "max": max(ns), "n": len(ns),
                    "rss_kib": median([r["peak_rss_kib"] for r in rs]), "extras": extras}
    return out


def locality_table(summary, args):
    """One worker: weft's default (asyncio's FIFO) beside its locality order
    and the peers, for the workloads measured in both orders."""
    rows = [wl for wl in args.workloads if (1, wl, LOCALITY) in summary and (1, wl, "weft") in summary]
    if not rows:
        return []
    lines = ["", "### 1 worker in locality order (`--order locality`; median; ns per op)", "",
             "One worker's default is asyncio's exact FIFO order, which starts every spawned task before "
             "the first one ends (so fork_join, timers and semaphore_limit keep every task suspended at once, "
             "a fresh stack page each). Locality order gives that exactness up as Tokio's LIFO slot does: a "
             "spawned or woken task runs next, an awaited task that has not started runs inline.", "",
             "| workload | weft (FIFO) | weft (locality) | go | tokio | locality vs go | locality vs tokio |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for wl in rows:
        loc = summary[(1, wl, LOCALITY)]["ns"]
        cells = [summary[(1, wl, "weft")]["ns"], loc] + [
            summary[(1, wl, p)]["ns"] if (1, wl, p) in summary else None for p in ("go", "tokio")]
        ns = [f"{c:.1f}" if c else "-" for c in cells]
        lines.append(f"| {wl} | " + " | ".join(ns + [ratio(cells[2], loc), ratio(cells[3], loc)]) + " |")
    return lines


def ratio(peer, weft):
    return f"{peer / weft:.2f}x" if peer and weft else "-"


def unsettled(a, b):
    """True if two summaries' ranges over the reps overlap: some rep of the
    slower was faster than some rep of the faster, so the order the medians
    give is not what every rep said (a noisy host, or a real tie)."""
    return bool(a and b and "min" in a and "min" in b and a["min"] <= b["max"] and b["min"] <= a["max"])


UNSETTLED_NOTE = ("A ratio marked † compares runtimes whose ranges over the reps overlap: "
                  "some rep of the slower beat some rep of the faster, so the order is not settled "
                  "by every rep (a noisy host, or a tie).")


def runtime_tables(summary, args, runtimes):
    lines = []
    peers = [r for r in runtimes if r != "weft"]
    for w in args.workers:
        lines.append(f"\n### {w} worker{'s' if w > 1 else ''} (median of {args.reps}; ns per op, lower is better; "
                     "ratio = peer time / weft time, above 1: weft is faster)\n")
        if w == args.workers[0]:
            lines.append(UNSETTLED_NOTE + "\n")
        head = "| workload | " + " | ".join(f"{r} ns/op" for r in runtimes) + " | " + \
            " | ".join(f"vs {p}" for p in peers) + " | " + " | ".join(f"{r} peak RSS MiB" for r in runtimes) + " |"
        lines += [head, "|---|" + "---:|" * (2 * len(runtimes) + len(peers))]
        for wl in args.workloads:
            cells = [summary.get((w, wl, r)) for r in runtimes]
            if not any(cells):
                continue
            ns = [f"{c['ns']:.1f}" if c else "-" for c in cells]
            base = cells[0]["ns"] if cells[0] else None
            rat = [ratio(summary[(w, wl, p)]["ns"], base) +
                   ("†" if unsettled(cells[0], summary[(w, wl, p)]) else "")
                   if (w, wl, p) in summary else "-" for p in peers]
            rss = [f"{c['rss_kib'] / 1024:.1f}" if c and c["rss_kib"] else "-" for c in cells]
            lines.append(f"| {wl} | " + " | ".join(ns + rat + rss) + " |")
        det = []
        for wl in args.workloads:
            for r in runtimes:
                c = summary.get((w, wl, r))
                if c and c["extras"]:
                    det.append(f"- {wl} {r}: " + " ".join(f"{k}={v}" for k, v in c["extras"].items()))
        if det:
            lines += ["", "Details (latencies, memory, CPU, as each benchmark reports them):", ""] + det
    return lines


# ---- charts (gnuplot) -------------------------------------------------------

COLORS = {"weft": "#1f77b4", "go": "#2ca02c", "tokio": "#d62728", "weft-stream": "#17becf",
          "weft-fixed": "#aec7e8", "weft-epoll": "#ff7f0e",
          "libuv": "#9467bd", "asyncio": "#8c564b", "uvloop": "#e377c2", "nginx": "#7f7f7f"}


def gnuplot(script, outdir):
    if not shutil.which("gnuplot"):
        return False
    script = script.replace("@OUT@", outdir)
    r = subprocess.run(["gnuplot"], input=script, text=True, cwd=DATA, capture_output=True)
    if r.returncode:
        sys.stderr.write("report.py: gnuplot: " + r.stderr)
    return r.returncode == 0


def bar_chart(outdir, name, title, ylabel, rows, series, log=True):
    """rows: [(label, [value or None per series])]."""
    if not rows:
        return None
    data = os.path.join(DATA, name + ".dat")
    with open(data, "w") as f:
        for label, vals in rows:
            f.write(label + " " + " ".join("-" if v is None else f"{v:g}" for v in vals) + "\n")
    plots = ", ".join(f"'{name}.dat' using {i + 2}:xtic(1) lc rgb '{COLORS.get(s, '#333333')}' title '{s}'"
                      for i, s in enumerate(series))
    ok = gnuplot(f"""set terminal svg size 900,420 dynamic noenhanced font 'sans,11' background '#ffffff'
set output '@OUT@/{name}.svg'
set title '{title}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set datafile missing '-'
set key outside right top
set xrange [-0.6:{len(rows) - 0.4}]
set ylabel '{ylabel}'
{'set logscale y' if log else 'set yrange [0:*]'}
set grid ytics
set xtics rotate by -20
plot {plots}
""", outdir)
    return name + ".svg" if ok else None


def line_chart(outdir, name, title, xlabel, ylabel, curves, logx=False, logy=False, xtics=None):
    """curves: [(title, [(x, y)...])]."""
    curves = [(t, pts) for t, pts in curves if pts]
    if not curves:
        return None
    plots = []
    for i, (t, pts) in enumerate(curves):
        fn = f"{name}.{i}.dat"
        with open(os.path.join(DATA, fn), "w") as f:
            for x, y in pts:
                f.write(f"{x:g} {y:g}\n")
        color = COLORS.get(t.split()[0], "#333333")
        plots.append(f"'{fn}' using 1:2 with linespoints lw 2 lc rgb '{color}' title '{t}'")
    ok = gnuplot(f"""set terminal svg size 900,420 dynamic noenhanced font 'sans,11' background '#ffffff'
set output '@OUT@/{name}.svg'
set title '{title}'
set key top left
set xlabel '{xlabel}'
set ylabel '{ylabel}'
set grid
{'set logscale x' if logx else ''}
{'set logscale y' if logy else ''}
{('set xtics (' + ', '.join(str(x) for x in xtics) + ')') if xtics else ''}
plot {', '.join(plots)}
""", outdir)
    return name + ".svg" if ok else None


def runtime_charts(outdir, summary, args, runtimes):
    charts = []
    w = max(args.workers)
    for key, title, wls in FAMILIES:
        rows = []
        for wl in wls:
            if wl in args.workloads and key != "memory":
                vals = [summary[(w, wl, r)]["ns"] if (w, wl, r) in summary else None for r in runtimes]
                if any(vals):
                    rows.append((wl, vals))
        c = bar_chart(outdir, f"family-{key}", f"{title}, {w} worker{'s' if w > 1 else ''} (ns per op, lower is better)",
                      "ns per op (log scale)", rows, runtimes)
        if c:
            charts.append((title, c))
    rows = []
    for wl in args.workloads:
        vals = [summary[(w, wl, r)]["rss_kib"] / 1024 if (w, wl, r) in summary and summary[(w, wl, r)]["rss_kib"]
                else None for r in runtimes]
        if wl in ("spawn_many", "rss", "idle", "semaphore_limit", "gather_10k", "taskgroup_10k") and any(vals):
            rows.append((wl, vals))
    c = bar_chart(outdir, "memory", f"Peak RSS of the benchmark process, {w} workers (MiB, lower is better)",
                  "MiB", rows, runtimes, log=False)
    if c:
        charts.append(("Peak memory", c))
    if len(args.workers) > 1:
        curves = []
        for wl in SCALING:
            if wl not in args.workloads:
                continue
            for r in runtimes:
                pts = [(n, 1e3 / summary[(n, wl, r)]["ns"]) for n in args.workers if (n, wl, r) in summary]
                if len(pts) > 1:
                    curves.append((f"{r} {wl}", pts))
        c = line_chart(outdir, "scaling", "Scaling over workers (million ops/s, higher is better)",
                       "workers", "Mops/s", curves, logx=True, logy=True, xtics=args.workers)
        if c:
            charts.append(("Scaling", c))
    return charts


# ---- I/O ---------------------------------------------------------------------

def run_io(args, outdir):
    raw = os.path.join(outdir, "io-rounds.txt")
    if os.path.exists(raw):
        os.unlink(raw)
    cmd = [f"{ROOT}/benchmarks/io/run.sh", "--workers", str(args.io_workers), "--seconds", str(args.io_seconds),
           "--reps", str(args.io_reps)] + args.io_workloads
    sys.stderr.write(f"report.py: I/O suite: {' '.join(cmd[1:])}\n")
    env = dict(os.environ, WEFT_BENCH_RAW=raw)
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    sys.stdout.write(r.stdout)
    rounds = []
    if os.path.exists(raw):
        with open(raw) as f:
            for line in f:
                p = line.split()
                if len(p) >= 6:
                    rounds.append({"workload": p[0], "impl": p[1], "req_s": num(p[2]), "p50_us": num(p[3]),
                                   "p99_us": num(p[4]), "cpu_us_per_req": num(p[5]),
                                   "cdf_us": [tuple(map(float, q.split(":"))) for q in p[6].split(",")
                                              if not q.endswith(":-")]
                                   if len(p) > 6 and p[6] != "-" else []})
    return r.stdout, rounds


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def io_median(rounds):
    by = {}
    for r in rounds:
        by.setdefault((r["workload"], r["impl"]), []).append(r)
    return {k: sorted(v, key=lambda r: r["req_s"] or 0)[(len(v) - 1) // 2] for k, v in by.items()}


def io_charts(outdir, med):
    charts = []
    for wl in ("tcp_echo", "tcp_echo_1k", "tcp_echo_hog", "tcp_churn", "http_plaintext", "http_pipelined",
               "http_static_16k", "http_static_300k"):
        impls = [i for (w, i) in med if w == wl]
        if not impls:
            continue
        c = bar_chart(outdir, f"io-{wl}", f"{wl}: requests per second (higher is better)", "req/s",
                      [(i, [med[(wl, i)]["req_s"]]) for i in impls], ["req/s"], log=False)
        if c:
            charts.append((f"{wl} throughput", c))
        c = bar_chart(outdir, f"io-{wl}-cpu", f"{wl}: server CPU per request (us, lower is better)", "us",
                      [(i, [med[(wl, i)]["cpu_us_per_req"]]) for i in impls], ["cpu"], log=False)
        if c:
            charts.append((f"{wl} CPU per request", c))
        curves = [(i, [(v, q) for q, v in med[(wl, i)]["cdf_us"]]) for i in impls if med[(wl, i)]["cdf_us"]]
        c = line_chart(outdir, f"io-{wl}-cdf", f"{wl}: latency CDF", "latency (us, log scale)",
                       "percentile", curves, logx=True)
        if c:
            charts.append((f"{wl} latency CDF", c))
    return charts


def glance(summary, workers, runtimes):
    """Per worker count and family, the geometric mean of peer/weft ratios
    and how many workloads weft wins: the report's first table."""
    peers = [r for r in runtimes if r != "weft"]
    lines = ["", "## At a glance", "",
             "Geometric mean of `peer time / weft time` over each family's workloads "
             "(above 1: weft is faster), and the workloads weft wins.", "",
             "| family | workers | " + " | ".join(f"vs {p}" for p in peers) + " |",
             "|---|---:|" + "---:|" * len(peers)]
    for key, title, wls in FAMILIES:
        if key == "memory":
            continue
        for w in workers:
            cells = []
            for p in peers:
                rs = [summary[(w, wl, p)]["ns"] / summary[(w, wl, "weft")]["ns"] for wl in wls
                      if (w, wl, p) in summary and (w, wl, "weft") in summary]
                if rs:
                    g = 1.0
                    for r in rs:
                        g *= r
                    g **= 1.0 / len(rs)
                    cells.append(f"{g:.2f}x ({sum(r > 1 for r in rs)} of {len(rs)})")
                else:
                    cells.append("-")
            if any(c != "-" for c in cells):
                lines.append(f"| {title} | {w} | " + " | ".join(cells) + " |")
    return lines


def collect(args):
    sys.stderr.write("report.py: building the peers\n")
    peers = build_peers()
    m = machine()
    sys.stderr.write(f"report.py: {m['cpu']}, {m['cores']} CPUs, kernel {m['kernel']}\n")
    # Every runtime's code from pages read back in, not as its linker left
    # them in the page cache (evict.py: up to 20% on the same bytes).
    evict([f"{ROOT}/build/benchmarks/weft-bench"] + [peers[k] for k in ("go", "tokio") if k in peers])
    # Measured around the runtime workloads: a VM's vCPUs may sit close or
    # far apart on the host, and that moves every multi-worker figure.
    m["line_rtt_ns"] = [line_rtt()]
    m["page_touch_ns"] = page_touch()
    m["page_reach_ns"] = page_reach()
    raw, runtimes = run_runtime(args, peers)
    m["line_rtt_ns"].append(line_rtt())
    io_text, io_rounds = ("", []) if args.no_io else run_io(args, args.out)
    return {"machine": m, "command": " ".join(["benchmarks/report.py"] + sys.argv[1:]),
            "args": {"workers": args.workers, "reps": args.reps, "workloads": args.workloads},
            "runtimes": runtimes, "runs": raw, "io_text": io_text, "io_rounds": io_rounds}


def rtt_text(rtts):
    """The machine table's line for weft-line-rtt's figures (before, after)."""
    when = ["before the runtime workloads", "after them"]
    got = [f"{x:.0f} ns {when[i]}" for i, x in enumerate((rtts or [])[:2]) if x is not None]
    if not got:
        return "not measured"
    return ", ".join(got) + \
        " (weft-line-rtt: a VM's vCPUs placed far apart on the host slow every hand-off between threads)"


def page_text(pt):
    """The machine table's line for weft-page-touch's figures (fresh,
    populated[, refault]: results.json files written before the third
    figure have two)."""
    if not pt:
        return "not measured"
    fresh, populated = pt[0], pt[1]
    refault = pt[2] if len(pt) > 2 else None
    text = f"{fresh / 1e3:.1f} us"
    if populated is not None:
        text += f", {populated / 1e3:.1f} us populated first (MADV_POPULATE_WRITE, as weft's stack slabs do)"
    text += (" (weft-page-touch: a suspended task holds its stack's top page, so a workload that"
             " keeps N tasks suspended at once pays this N times: fork_join, timers and"
             " semaphore_limit with one worker)")
    if refault is not None:
        text += (f"; a page already touched, after the kernel made page tables outside a fault:"
                 f" {refault / 1e3:.2f} us (a fault's worth under shadow paging)")
    return text


def reach_text(pr):
    """The machine table's line for weft-page-reach's figures (spread,
    packed, pages); results.json files written before the probe have none."""
    if not pr:
        return "not measured"
    spread, packed, pages = pr
    return (f"{spread:.1f} ns a dependent load with one line on each of {pages:,} pages, {packed:.1f} ns"
            " with the same lines packed (weft-page-reach: a suspended task's hot lines are on its"
            " stack's top page, so a workload cycling through that many tasks, ping_pong's 1,000 pairs,"
            " pays the difference, a page walk, on every switch once the pages outgrow the TLB; a"
            " stackless runtime packs many tasks a page)")


def render(data, out):
    m, runtimes, raw = data["machine"], data["runtimes"], data["runs"]
    args = argparse.Namespace(**data["args"])
    summary = summarize(raw)
    med = io_median(data["io_rounds"])
    for f in os.listdir(out):
        if f.endswith(".svg"):
            os.unlink(os.path.join(out, f))
    desc = [f"# weft benchmark report, {m['date']}", "", f"`{data['command']}` (weft {m['weft']})", "",
            "| machine | |", "|---|---|",
            f"| CPU | {m['cpu']}, {m['cores']} CPUs |",
            f"| caches (CPU 0) | {m.get('caches', 'unknown')} |",
            f"| hypervisor | {m.get('hypervisor', 'unknown')} |", f"| memory | {m['memory']} |",
            f"| cross-CPU cache-line round trip | {rtt_text(m.get('line_rtt_ns'))} |",
            f"| first write to a fresh 4 KiB page | {page_text(m.get('page_touch_ns'))} |",
            f"| a line on each of many pages | {reach_text(m.get('page_reach_ns'))} |",
            f"| OS | {m['os']}, kernel {m['kernel']} |", f"| C compiler | {m['cc']} |",
            f"| weft deps | liburing {m['liburing']}, jemalloc {m['jemalloc']} |",
            f"| Go | {m['go'] or 'not installed'} |",
            f"| Tokio | {('tokio ' + m['tokio'] + ', ' + m['rustc']) if m['rustc'] else 'not installed'} |",
            f"| libuv | {m['libuv'] or 'not installed'} |",
            f"| Python / uvloop | {m['python'] or '-'} / {m['uvloop'] or 'not installed'} |",
            f"| nginx | {m['nginx'] or 'not installed'} |", f"| wrk / fio | {m['wrk'] or '-'} / {m['fio'] or '-'} |"]
    missing = [r for r in RUNTIMES if r not in runtimes]
    if missing:
        desc += ["", f"Not measured (no toolchain here): {', '.join(missing)}."]
    desc += glance(summary, args.workers, runtimes)
    tables = ["", "## Runtime workloads"] + runtime_tables(summary, args, runtimes) + \
        locality_table(summary, args)
    failed = {}
    for r in raw:
        if r["error"]:
            failed.setdefault((r["workload"], r["error"]), set()).add(r["runtime"])
    if failed:
        tables += ["", "Runs without a result (the peer has no such workload, or it failed):", ""]
        tables += [f"- {wl}: {', '.join(sorted(rts))} ({err})" for (wl, err), rts in failed.items()]
    io_tables = []
    if data["io_text"]:
        io_tables = ["", "## I/O (benchmarks/io/run.sh; median round by req/s)", "", "```",
                     data["io_text"].strip(), "```"]
    charts = runtime_charts(out, summary, args, runtimes) + io_charts(out, med)
    chart_md = ["", "## Charts", ""] + [f"### {t}\n\n![{t}]({c})\n" for t, c in charts] if charts else \
        ["", "(No charts: gnuplot is not installed; `scripts/deps.sh bench` installs it.)"]
    if os.path.exists(os.path.join(out, "scale", "README.md")):  # benchmarks/scale.sh's, on many cores
        chart_md += ["", "## Scaling on many cores", "",
                     "[scale/README.md](scale/README.md): benchmarks/scale.sh's latest run kept here "
                     "(`make bench` makes one on machines of 8 CPUs or more)."]
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(desc + tables + io_tables + chart_md) + "\n")
    print("\n".join(desc + tables))
    print(f"\nreport.py: report written to {os.path.relpath(out, os.getcwd())}/README.md ({len(charts)} charts)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", default=None, help="comma-separated worker counts (default: 1 and nproc)")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--out", default=None,
                    help="default: benchmarks/report (build/report-quick with --quick, so that a "
                    "check never overwrites the committed full run)")
    ap.add_argument("--no-io", action="store_true")
    ap.add_argument("--io-seconds", type=int, default=None)
    ap.add_argument("--render", metavar="JSON", help="draw the report again from a results.json; run nothing")
    ap.add_argument("workloads", nargs="*")
    args = ap.parse_args()
    if not args.out:
        args.out = os.path.join(ROOT, "build", "report-quick") if args.quick else \
            os.path.join(ROOT, "benchmarks", "report")
    # Absolute: gnuplot runs in the data directory, where a relative --out
    # sent the charts (the old ones deleted, no new ones in place).
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    if args.render:
        with open(args.render) as f:
            data = json.load(f)
        for r in data["runs"]:  # JSON made the (workers, ...) keys' ints ints again; nothing else to undo
            r["workers"] = int(r["workers"])
        render(data, args.out)
        return
    ncpu = os.cpu_count() or 1
    args.workers = [int(x) for x in args.workers.split(",")] if args.workers else \
        ([ncpu] if args.quick else sorted({1, ncpu}))
    # Five: the median then survives two outliers. With three, one slow
    # stretch of the host (its modes move the cheap rows 1.3-2.5x) decided
    # several one-worker rows of a run (RESULTS.md, 2026-12-05 04:25Z);
    # the runtime suite takes ~1.5 minutes more.
    args.reps = args.reps or (1 if args.quick else 5)
    args.workloads = args.workloads or (QUICK if args.quick else ALL)
    args.io_seconds = args.io_seconds or (1 if args.quick else 5)
    args.io_reps = 1 if args.quick else 3
    args.io_workers = 1
    args.io_workloads = ["tcp_echo", "tcp_echo_hog", "http_plaintext", "http_pipelined", "nop"] if args.quick else []
    bench = os.path.join(ROOT, "build", "benchmarks", "weft-bench")
    if not os.access(bench, os.X_OK) or not os.access(PEAK, os.X_OK):
        sys.exit("report.py: build weft first (make build)")
    data = collect(args)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(data, f, indent=1)
    render(data, args.out)


if __name__ == "__main__":
    main()
