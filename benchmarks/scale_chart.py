#!/usr/bin/env python3
"""benchmarks/scale_chart.py - charts of a benchmarks/scale.sh run.

    benchmarks/scale_chart.py DIR [--out OUTDIR]

Reads DIR/runtime.txt and DIR/servers.txt (scale.sh's output) and writes,
with gnuplot (report.py's helpers), one chart per workload into OUTDIR
(default DIR): scale-<workload>.svg, throughput over workers for every
runtime, each point the median of the rounds, with the ideal linear line
from weft's 1-worker figure. Prints the files it wrote.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (gnuplot, line_chart, COLORS)


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def runtime_points(path):
    """{workload: {runtime: [(workers, Mops/s median)]}}"""
    vals = {}
    with open(path) as f:
        for line in f:
            if not line.startswith("RESULT"):
                continue
            d = fields(line)
            vals.setdefault((d["name"], d["impl"], int(d["workers"])), []).append(float(d["ops_per_s"]) / 1e6)
    out = {}
    for (wl, rt, w), v in sorted(vals.items()):
        out.setdefault(wl, {}).setdefault(rt, []).append((w, statistics.median(v)))
    return out


def server_points(path):
    """{workload: {impl: [(workers, kreq/s median)]}}"""
    vals = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 4 and p[3] != "-":
                vals.setdefault((p[0], p[1], int(p[2])), []).append(float(p[3]) / 1e3)
    out = {}
    for (wl, impl, w), v in sorted(vals.items()):
        out.setdefault(wl, {}).setdefault(impl, []).append((w, statistics.median(v)))
    return out


def chart(outdir, name, title, ylabel, curves_by_impl):
    order = ["weft", "go", "tokio", "nginx"]
    impls = sorted(curves_by_impl, key=lambda i: order.index(i) if i in order else len(order))
    curves = [(i, curves_by_impl[i]) for i in impls]
    base = dict(curves_by_impl.get("weft", []))
    workers = sorted({w for pts in curves_by_impl.values() for w, _ in pts})
    if 1 in base:
        curves.append(("linear (weft 1 worker x N)", [(w, base[1] * w) for w in workers]))
    return report.line_chart(outdir, name, title, "workers", ylabel, curves, logx=True, logy=True, xtics=workers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--out")
    args = ap.parse_args()
    outdir = os.path.abspath(args.out or args.dir)
    os.makedirs(outdir, exist_ok=True)
    written = []
    rt = os.path.join(args.dir, "runtime.txt")
    if os.path.exists(rt):
        for wl, curves in runtime_points(rt).items():
            c = chart(outdir, f"scale-{wl}", f"{wl}: throughput over workers (Mops/s, log-log)", "Mops/s", curves)
            written += [c] if c else []
    sv = os.path.join(args.dir, "servers.txt")
    if os.path.exists(sv):
        for wl, curves in server_points(sv).items():
            c = chart(outdir, f"scale-{wl}", f"{wl}: req/s over server workers (thousands, log-log)",
                      "k req/s", curves)
            written += [c] if c else []
    for c in written:
        print(os.path.join(outdir, c))
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
