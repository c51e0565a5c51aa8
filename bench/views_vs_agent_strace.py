#!/usr/bin/env python3
"""tracelog's views beside agent-strace's, same machine, same run (issue 18).

Times, as whole processes (median of --runs, page cache warm):
  list              every session          tracelog list            / agent-strace list
  replay            one session's timeline tracelog replay ID       / agent-strace replay ID
  stats SESSION     one session            tracelog stats ID        / agent-strace stats ID
  stats (all)       every session          tracelog stats           / agent-strace stats, per session
and `tracelog --version` (process start) as the floor. agent-strace is
restated in bench/agent_strace_views.py (it cannot be installed here); its
figures are low estimates of the real CLI's.

The data set: the issue-4 fleet (`tracelog gen --agents 24 --sessions 12000
--turns 8 --seed 1 --span 86400`, 1,324,616 events) as an agent-strace
tree, imported into a log, plus one 1,028-event session (`gen --sessions 1
--turns 70 --seed 5`) for replay. Made under WORK when missing (~2 min, 2
GB).

Usage: bench/views_vs_agent_strace.py [--tracelog BIN] [--work DIR] [--runs N]
"""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def median_ms(cmd, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times), max(times)


def make_data(tl, work):
    tree, log, big = work / "tree", work / "log", work / "big"
    if not (log / "CONFIG").exists() and not log.exists():
        print("making the data set under", work, file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        run([tl, "gen", "--agents", "24", "--sessions", "12000", "--turns", "8", "--seed", "1",
             "--span", "86400", "--format", "dir", "--out", str(tree)])
        run([tl, "gen", "--sessions", "1", "--turns", "70", "--seed", "5", "--format", "dir",
             "--out", str(big)])
        for d in big.iterdir():
            shutil.copytree(d, tree / d.name)
        run([tl, "import", "--log", str(log), str(tree)])
    big_id = next(big.iterdir()).name
    return tree, log, big_id


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracelog", default=str(HERE.parent / "build/tools/tracelog"))
    ap.add_argument("--work", default="/tmp/tracelog-views-bench")
    ap.add_argument("--runs", type=int, default=11)
    a = ap.parse_args()
    tl, work = a.tracelog, pathlib.Path(a.work)
    tree, log, sid = make_data(tl, work)
    events = sum(1 for _ in open(tree / sid / "events.ndjson"))
    # The whole-log stats are summarised once per segment (stats.cache):
    # a first run builds it; it is timed apart.
    cache = log / "stats.cache"
    if cache.exists():
        cache.unlink()
    cold, _, _ = median_ms([tl, "stats", "--log", str(log), "--format", "json"], 1)
    py = [sys.executable, str(HERE / "agent_strace_views.py"), str(tree)]
    L = ["--log", str(log)]
    rows = [
        ("process start (`--version`)", [tl, "--version"], None),
        ("list (12,001 sessions)", [tl, "list", *L, "--format", "table", "--no-pager"], py + ["list"]),
        (f"replay ({events} events)", [tl, "replay", *L, sid, "--format", "terminal", "--no-pager"],
         py + ["replay", sid]),
        ("stats SESSION", [tl, "stats", *L, sid, "--format", "table", "--no-pager"], py + ["stats", sid]),
        ("stats (all, stats.cache warm)", [tl, "stats", *L, "--format", "table", "--no-pager"],
         py + ["stats-all"]),
    ]
    print(f"| view | tracelog ms (median, min-max) | agent-strace ms | ratio |")
    print(f"|---|---|---|---|")
    for name, ours, theirs in rows:
        m, lo, hi = median_ms(ours, a.runs)
        if theirs is None:
            py_start, _, _ = median_ms([sys.executable, "-c", "pass"], a.runs)
            print(f"| {name} | {m:.1f} ({lo:.1f}-{hi:.1f}) | python3 start {py_start:.1f} | "
                  f"{py_start / m:.0f}x |")
            continue
        t, tlo, thi = median_ms(theirs, 1 if "stats-all" in theirs else max(3, a.runs // 3))
        print(f"| {name} | {m:.1f} ({lo:.1f}-{hi:.1f}) | {t:.0f} ({tlo:.0f}-{thi:.0f}) | {t / m:.0f}x |")
    print("\nratio = agent-strace / tracelog: a view can be at most (agent-strace's time) /"
          " (tracelog's process start) times faster")
    print(f"\nstats (all), first run (builds {cache.name}, {cache.stat().st_size} bytes): {cold:.0f} ms")


if __name__ == "__main__":
    main()
