#!/usr/bin/env python3
"""line_rtt.py - runs build/benchmarks/weft-line-rtt (line_rtt.c): the ns a
cache line takes between two CPUs and back, the host placement fact under
every multi-worker figure (benchmarks/RESULTS.md, 2026-12-03 16:05Z).
report.py and ab.py measure it around their runs.

    benchmarks/line_rtt.py        prints the figure
"""
import os
import re
import subprocess

PROBE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build",
                     "benchmarks", "weft-line-rtt")


def line_rtt():
    """The round trip in ns, or None (one CPU, or the probe not built)."""
    try:
        out = subprocess.run([PROBE], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"ns_per_round_trip=([0-9.]+)", out)
    return float(m.group(1)) if m else None


if __name__ == "__main__":
    rtt = line_rtt()
    print(f"{rtt:.1f} ns" if rtt is not None else "not measured")
