#!/usr/bin/env python3
"""ab.py - interleaved A/B of two weft-bench binaries (a commit before a
change and one after), for "no regression" and "what did it buy" checks.

    benchmarks/ab.py BEFORE AFTER [--rounds 5] [--workers 1,2] [workload ...]

Runs BEFORE and AFTER on every workload, one after the other (which goes
first alternates from round to round), ROUNDS times, so slow drifts of the
machine hit both alike; prints a Markdown table of the median
ns/op (and range) of each and the ratio after / before (below 1: faster
after). Workloads default to run.sh's list. Both binaries are dropped from
the page cache first (evict.py says why). Below the table: the cross-CPU
cache-line round trip before and after (weft-line-rtt), because the
host's vCPU placement moves multi-worker figures (RESULTS.md 2026-12-03
16:05Z).

The placement can change within minutes, so each round (both binaries)
is tagged with a round trip measured just before it (0.3 s): near
(under NEAR_NS) or far. When a workload's rounds saw both, two more rows
compare the rounds of each placement on their own, the only comparison
that means something then.
"""
import argparse
import re
import statistics
import subprocess
import sys

from evict import evict
from probes import line_rtt

DEFAULT = ("spawn_many yield_many ping_pong yield_many_warm ping_pong_warm chained_spawn timers switch sched_switch fork_join "
           "lock_contended lock_contended_barging queue_mpmc semaphore_limit ping_pong_queue lock_handoff event_broadcast gather_10k taskgroup_10k "
           "wait_for_overhead").split()


NEAR_NS = 200  # this VM: ~50-70 ns near, ~420-480 ns far (line_rtt.c)


def row(w, n, label, b, f):
    mb, mf = statistics.median(b), statistics.median(f)
    return (f"| {w}{label} | {n} | {mb:.1f} ({min(b):.0f}–{max(b):.0f}) | "
            f"{mf:.1f} ({min(f):.0f}–{max(f):.0f}) | {mf / mb:.2f} |")


def run(binary, workers, workload):
    out = subprocess.run([binary, "--workers", str(workers), workload], capture_output=True,
                         text=True, check=False).stdout
    m = re.search(r"^RESULT .*ns_per_op=([0-9.]+)", out, re.M)
    return float(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("workloads", nargs="*")
    a = ap.parse_intermixed_args()
    workloads = a.workloads or DEFAULT
    evict([a.before, a.after])
    print("| workload | workers | before ns/op (median, range) | after ns/op (median, range) | after ÷ before |")
    print("|---|---:|---:|---:|---:|")
    rtt = [line_rtt()]
    for w in workloads:
        for n in [int(x) for x in a.workers.split(",")]:
            rounds = []  # (before, after, round trip just before) per round
            for k in range(a.rounds):
                r = line_rtt()
                # Alternate which goes first: the second run of a pair is
                # not always as the first (a fresh process's page faults
                # follow the last one's frees), so a fixed order biased
                # every ratio one way.
                pair = (a.before, a.after) if k % 2 == 0 else (a.after, a.before)
                got = {binary: run(binary, n, w) for binary in pair}
                v = [got[a.before], got[a.after]]
                if None not in v:
                    rounds.append((v[0], v[1], r))
            if not rounds:
                print(f"| {w} | {n} | (failed) | (failed) | — |")
                continue
            print(row(w, n, "", [x[0] for x in rounds], [x[1] for x in rounds]), flush=True)
            near = [x for x in rounds if x[2] is not None and x[2] < NEAR_NS]
            far = [x for x in rounds if x[2] is not None and x[2] >= NEAR_NS]
            if near and far:
                for label, part in ((f" (near: {len(near)} rounds)", near), (f" (far: {len(far)} rounds)", far)):
                    print(row(w, n, label, [x[0] for x in part], [x[1] for x in part]), flush=True)
    rtt.append(line_rtt())
    # The host's vCPU placement moves every hand-off between threads
    # (line_rtt.c): say which one these rounds ran in.
    print("\ncross-CPU cache-line round trip: " +
          ", ".join(f"{x:.0f} ns {when}" for x, when in zip(rtt, ("before", "after")) if x is not None)
          if any(x is not None for x in rtt) else "\ncross-CPU cache-line round trip: not measured")


if __name__ == "__main__":
    sys.exit(main())
