#!/usr/bin/env python3
"""probes.py - the machine facts under weft's figures, from the probes
built beside weft-bench:

- line_rtt (weft-line-rtt, line_rtt.c): the ns a cache line takes between
  two CPUs and back, the host placement fact under every multi-worker
  figure (benchmarks/RESULTS.md, 2026-12-03 16:05Z);
- page_touch (weft-page-touch, page_touch.c): the ns the first write to a
  fresh 4 KiB page costs, fault included, plain and after
  MADV_POPULATE_WRITE: the fact under every workload that keeps many tasks
  suspended at once (a suspended fiber holds its stack's top page;
  RESULTS.md, 2026-12-04 01:35Z); and the ns a page already touched costs
  on its next touch after the kernel made page tables outside a fault
  (a fault's worth under a shadow-paging hypervisor, ~0 elsewhere;
  RESULTS.md, 2026-12-04 09:30Z);
- page_reach (weft-page-reach, page_reach.c): the ns a dependent load
  costs with one line on each of 2,000 pages (a suspended fiber's hot
  lines are on its stack's top page) against the same lines packed: the
  TLB's reach, the fact under the message-passing workloads that cycle
  through many tasks (ping_pong; RESULTS.md, 2026-12-07 14:00Z).

report.py prints them in its machine table; ab.py tags its rounds with the
round trip.

    benchmarks/probes.py        prints the figures
"""
import os
import re
import subprocess

BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "benchmarks")


def run_probe(name):
    """The probe's RESULT line as a dict of its numeric fields, or None
    (not built, failed, or no RESULT line)."""
    try:
        out = subprocess.run([os.path.join(BIN, name)], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = next((l for l in out.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        return None
    return {k: float(v) for k, v in re.findall(r"(\w+)=(-?[0-9.]+)(?:\s|$)", line)}


def line_rtt():
    """The cache-line round trip in ns, or None (one CPU, or the probe not built)."""
    r = run_probe("weft-line-rtt")
    return r.get("ns_per_round_trip") if r else None


def page_touch():
    """(fresh, populated, refault) ns per page, populated and refault None
    where the kernel has no MADV_POPULATE_WRITE; None if the probe did not
    run."""
    r = run_probe("weft-page-touch")
    if not r or "ns_per_page" not in r:
        return None
    pop = r.get("populated_ns_per_page", -1)
    ref = r.get("refault_ns_per_page", -1)
    return r["ns_per_page"], pop if pop >= 0 else None, ref if ref >= 0 else None


def page_reach():
    """(spread, packed, pages): ns per dependent load with a line on each
    of `pages` pages and with the same lines packed; None if the probe did
    not run."""
    r = run_probe("weft-page-reach")
    if not r or not all(k in r for k in ("spread_ns_per_load", "packed_ns_per_load", "pages")):
        return None
    return r["spread_ns_per_load"], r["packed_ns_per_load"], int(r["pages"])


if __name__ == "__main__":
    rtt = line_rtt()
    print("cross-CPU cache-line round trip: " + (f"{rtt:.1f} ns" if rtt is not None else "not measured"))
    pt = page_touch()
    if pt is None:
        print("first write to a fresh page: not measured")
    else:
        print(f"first write to a fresh page: {pt[0] / 1e3:.1f} us"
              + (f" ({pt[1] / 1e3:.1f} us populated first)" if pt[1] is not None else ""))
        if pt[2] is not None:
            print(f"a touched page after kernel-made page tables: {pt[2] / 1e3:.2f} us")
    pr = page_reach()
    print("a line on each of N pages: " + (f"{pr[0]:.1f} ns a load over {pr[2]} pages, {pr[1]:.1f} ns packed"
                                            if pr is not None else "not measured"))
