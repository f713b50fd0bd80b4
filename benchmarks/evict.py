#!/usr/bin/env python3
"""evict.py - drops benchmark binaries from the page cache, so that every
run maps its code from pages the kernel read back in (readahead), whatever
wrote the file last.

    benchmarks/evict.py FILE...

Why (benchmarks/RESULTS.md, 2026-12-03 03:52Z): a binary's code runs from
the page cache's copy of the file, and how that copy was made changes how
fast the code runs. Right after a linker wrote the file, the cache holds
it in the small pieces the linker wrote; read back by readahead it comes in
large folios, which the CPU can map with fewer TLB entries. The same bytes
ran chained_spawn at 102 ns per spawn as the linker left them and at 85
once evicted and read back (one worker, pinned, repeatable both ways); Go's
peer moved 180 -> 166. So a comparison between a freshly linked binary and
an older one measured the page cache. ab.py, report.py and io/run.sh evict
every binary they run, peers' included, before they start.

Dirty pages cannot be dropped: each file is synced first. Files that
cannot be opened are skipped (a peer that is not built).
"""
import os
import sys


def evict(paths):
    for p in paths:
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
        finally:
            os.close(fd)


if __name__ == "__main__":
    evict(sys.argv[1:])
