#!/usr/bin/env python3
"""test_report.py - benchmarks/report.py's --render on a made-up results.json:
the tables mark a ratio whose two runtimes' ranges over the reps overlap
(and only those), and a relative --out gets the report and, where gnuplot
is installed, its charts (they once went to gnuplot's working directory,
the old ones deleted)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPORT = os.path.join(ROOT, "benchmarks", "report.py")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import report  # noqa: E402


def run(rep, workload, runtime, ns):
    return {"rep": rep, "workers": 1, "workload": workload, "runtime": runtime,
            "fields": {"impl": runtime, "name": workload, "workers": "1", "ops": "1000",
                       "ns_per_op": str(ns)},
            "peak_rss_kib": 4096, "seconds": 0.1, "error": None}


def results():
    with open(os.path.join(ROOT, "benchmarks", "report", "results.json")) as f:
        machine = json.load(f)["machine"]  # the committed report's: every field render reads
    runs = []
    # settled: every weft rep beats every tokio rep; unsettled: the ranges overlap
    for rep, (w, t) in enumerate([(10, 20), (11, 21), (12, 22)]):
        runs += [run(rep, "yield_many", "weft", w), run(rep, "yield_many", "tokio", t)]
    for rep, (w, t) in enumerate([(10, 12), (14, 13), (12, 15)]):
        runs += [run(rep, "ping_pong", "weft", w), run(rep, "ping_pong", "tokio", t)]
    return {"machine": machine, "command": "test_report.py", "runtimes": ["weft", "tokio"],
            "args": {"workers": [1], "reps": 3, "workloads": ["yield_many", "ping_pong"]},
            "runs": runs, "io_text": None, "io_rounds": []}


def main():
    a = {"min": 10, "max": 12}
    assert report.unsettled(a, {"min": 12, "max": 15})
    assert report.unsettled(a, {"min": 5, "max": 10})
    assert not report.unsettled(a, {"min": 12.5, "max": 15})
    assert not report.unsettled(a, None)
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "results.json"), "w") as f:
            json.dump(results(), f)
        subprocess.run([sys.executable, REPORT, "--render", "results.json", "--out", "rep"],
                       cwd=d, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(d, "rep", "README.md")) as f:
            text = f.read()
        rows = {line.split("|")[1].strip(): line for line in text.splitlines()
                if line.startswith("| yield_many ") or line.startswith("| ping_pong ")}
        assert "1.91x" in rows["yield_many"] and "†" not in rows["yield_many"], rows["yield_many"]
        assert "1.08x†" in rows["ping_pong"], rows["ping_pong"]
        assert "ranges over the reps overlap" in text
        if shutil.which("gnuplot"):
            charts = [f for f in os.listdir(os.path.join(d, "rep")) if f.endswith(".svg")]
            assert charts, "no chart in the relative --out"
    print("test_report: ok")


if __name__ == "__main__":
    main()
