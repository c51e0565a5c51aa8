#!/usr/bin/env python3
"""Issue 16's latency driver: `tracelog append --ack` of one event through a
running `tracelog serve`, process start to ack printed, against
`tracelog --version` (process start alone) in the same loop, alternating.

  bench/serve_ack_latency.py BUILD/tools/tracelog [--runs 40] [--fsync always]

Starts a server on a fresh log in a temporary directory, runs the two
commands `--runs` times each, alternating, prints p50/p90 of both and the
p50 ratio (target <= 1.5), stops the server with SIGTERM.
"""

import argparse
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
    if done.returncode != 0:
        sys.exit(f"{argv[1]} failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed, done.stdout


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tracelog")
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--fsync", default="always")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log")
        server = subprocess.Popen([args.tracelog, "serve", "--log", log, "--fsync", args.fsync],
                                  stderr=subprocess.PIPE)
        sock = os.path.join(log, "serve.sock")
        for _ in range(500):
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        else:
            sys.exit("the server did not start")
        version, ack = [], []
        for i in range(args.runs):
            event = ('{"event_type":"tool_call","timestamp":%d.5,"event_id":"e%d",'
                     '"session_id":"lat","data":{"tool_name":"Bash"}}\n' % (1795440000 + i, i))
            t, _ = timed([args.tracelog, "--version"], b"")
            version.append(t)
            t, out = timed([args.tracelog, "append", "--log", log, "--ack"], event.encode())
            if not out.strip():
                sys.exit("append printed no ack")
            ack.append(t)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    ms = lambda v: f"{v * 1000:.1f} ms"
    print(f"runs {args.runs}, fsync {args.fsync}")
    print(f"tracelog --version       p50 {ms(statistics.median(version))}  p90 {ms(percentile(version, 90))}")
    print(f"append --ack via server  p50 {ms(statistics.median(ack))}  p90 {ms(percentile(ack, 90))}")
    print(f"p50 ratio {statistics.median(ack) / statistics.median(version):.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
