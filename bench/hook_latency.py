#!/usr/bin/env python3
"""Issue 17's latency driver: `tracelog hook PreToolUse` of one Claude Code
hook input, process start to exit (the event durable: --fsync always),
through a running `tracelog serve` and without one (the hook takes the
writer lock itself), against `tracelog --version` (process start alone),
all three alternating in one loop.

  bench/hook_latency.py BUILD/tools/tracelog [--runs 100]

Prints p50 and p99 of each and the p50 ratios to --version.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def timed(argv, stdin_bytes):
    start = time.perf_counter()
    done = subprocess.run(argv, input=stdin_bytes, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or done.stderr:
        sys.exit(f"{argv[1]} failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tracelog")
    ap.add_argument("--runs", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        served, alone = os.path.join(tmp, "served"), os.path.join(tmp, "alone")
        server = subprocess.Popen([args.tracelog, "serve", "--log", served, "--fsync", "always"],
                                  stderr=subprocess.PIPE)
        sock = os.path.join(served, "serve.sock")
        for _ in range(500):
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        else:
            sys.exit("the server did not start")
        times = {"version": [], "served": [], "alone": []}
        for i in range(args.runs):
            hook = json.dumps({
                "session_id": "7f0c1e2a-aaaa-4b1c-9d2e-000000000001",
                "transcript_path": "/home/dev/.claude/projects/p/s.jsonl", "cwd": "/home/dev/p",
                "permission_mode": "default", "hook_event_name": "PreToolUse", "tool_name": "Bash",
                "tool_input": {"command": f"make test -j2 # run {i}", "description": "Run tests"},
                "tool_use_id": f"toolu_{i:08d}"}).encode()
            times["version"].append(timed([args.tracelog, "--version"], b""))
            times["served"].append(timed([args.tracelog, "hook", "PreToolUse", "--log", served,
                                          "--fsync", "always"], hook))
            times["alone"].append(timed([args.tracelog, "hook", "PreToolUse", "--log", alone,
                                         "--fsync", "always"], hook))
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    ms = lambda v: f"{v * 1000:.1f} ms"
    base = statistics.median(times["version"])
    print(f"runs {args.runs}, --fsync always, one PreToolUse input of "
          f"{len(hook)} bytes per run")
    for name, label in (("version", "tracelog --version"), ("served", "hook through serve"),
                        ("alone", "hook, no server")):
        v = times[name]
        print(f"{label:22} p50 {ms(statistics.median(v))}  p99 {ms(percentile(v, 99))}  "
              f"p50 ratio {statistics.median(v) / base:.2f}")


if __name__ == "__main__":
    main()
