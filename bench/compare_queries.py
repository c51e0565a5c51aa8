#!/usr/bin/env python3
"""The issue-4 queries side by side, in one run, on one data set:

  rg       over the NDJSON file (in the page cache), output to /dev/null
  sqlite   SQLite 3 with four B-tree indexes (session, type, tool, timestamp),
           rows fetched in this process (no output at all: SQLite's favour)
  tracelog the CLI, process start and output to /dev/null included

Every query's match count is checked to be the same for all three.

  bench/compare_queries.py --ndjson fleet.ndjson --log LOGDIR [--sqlite fleet.db]
"""
import argparse, json, os, random, sqlite3, statistics, subprocess, sys, time

def timed(fn, runs):
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result

def build_sqlite(ndjson, db):
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("CREATE TABLE ev (seq INTEGER PRIMARY KEY, session TEXT, type TEXT, tool TEXT,"
                " error INTEGER, ts REAL, line TEXT)")
    rows = []
    with open(ndjson, "rb") as f:
        for seq, raw in enumerate(f, 1):
            line = raw.rstrip(b"\n").decode("utf-8", "surrogateescape")
            o = json.loads(line)
            d = o.get("data") if isinstance(o.get("data"), dict) else {}
            err = o.get("event_type") == "error" or bool(d.get("error")) or bool(d.get("is_error"))
            rows.append((seq, o.get("session_id"), o.get("event_type"), d.get("tool_name"),
                         1 if err else 0, o.get("timestamp"), line))
            if len(rows) == 50000:
                con.executemany("INSERT INTO ev VALUES (?,?,?,?,?,?,?)", rows)
                rows = []
    con.executemany("INSERT INTO ev VALUES (?,?,?,?,?,?,?)", rows)
    for col in ("session", "type", "tool", "ts"):
        con.execute(f"CREATE INDEX ev_{col} ON ev({col})")
    con.commit()
    con.close()

def rg_count(pattern, ndjson, pcre=False):
    args = ["rg", "--no-config", "-c"] + (["-P"] if pcre else []) + ["-e", pattern, ndjson]
    return int(subprocess.run(args, capture_output=True, text=True).stdout.strip() or 0)

def rg_run(pattern, ndjson, pcre=False, count=False):
    args = ["rg", "--no-config"] + (["-c"] if count else []) + (["-P"] if pcre else [])
    subprocess.run(args + ["-e", pattern, ndjson], stdout=subprocess.DEVNULL)

def tracelog_count(cli, log, args):
    return int(subprocess.run([cli, "query", "--log", log, "--count"] + args, capture_output=True,
                              text=True).stdout.strip() or 0)

def tracelog_run(cli, log, args, count=False):
    subprocess.run([cli, "query", "--log", log] + (["--count"] if count else []) + args,
                   stdout=subprocess.DEVNULL)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ndjson", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--sqlite", default=None)
    ap.add_argument("--cli", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                  "tools", "tracelog"))
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    db = a.sqlite or a.ndjson + ".db"
    if not os.path.exists(db):
        t0 = time.perf_counter()
        build_sqlite(a.ndjson, db)
        print(f"built {db} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    con = sqlite3.connect(db)
    sessions = [r[0] for r in con.execute("SELECT DISTINCT session FROM ev")]
    lo, hi = con.execute("SELECT min(ts), max(ts) FROM ev").fetchone()
    random.seed(7)
    sizes = {"ndjson": os.path.getsize(a.ndjson), "sqlite": os.path.getsize(db)}
    print(f"data: {a.ndjson}: {sizes['ndjson']/1e6:.1f} MB; SQLite file {sizes['sqlite']/1e6:.1f} MB "
          f"({sizes['sqlite']/sizes['ndjson']:.2f}x)")
    print("| query | matches | rg | SQLite | tracelog CLI | rg / tracelog | SQLite / tracelog |")
    print("|---|---|---|---|---|---|---|")

    def row(name, pattern, sql, params, tl_args, pcre=False, count=False):
        n_rg = rg_count(pattern, a.ndjson, pcre)
        n_tl = tracelog_count(a.cli, a.log, tl_args)
        t_rg, _ = timed(lambda: rg_run(pattern, a.ndjson, pcre, count), max(1, a.runs // 2))
        t_sql, rows = timed(lambda: con.execute(sql, params).fetchall(), a.runs)
        t_tl, _ = timed(lambda: tracelog_run(a.cli, a.log, tl_args, count), a.runs)
        n_sql = rows[0][0] if count else len(rows)
        assert n_rg == n_sql == n_tl, (name, n_rg, n_sql, n_tl)
        print(f"| {name} | {n_tl} | {t_rg*1e3:.1f} ms | {t_sql*1e3:.1f} ms | {t_tl*1e3:.1f} ms "
              f"| {t_rg/t_tl:.1f}x | {t_sql/t_tl:.2f}x |")

    s = random.choice(sessions)
    row("one session", f'"session_id":"{s}"',
        "SELECT line FROM ev WHERE session=? ORDER BY seq", (s,), ["--session", s])
    row("tool Bash, tool_call", '"event_type":"tool_call".*"tool_name":"Bash"',
        "SELECT line FROM ev WHERE tool='Bash' AND type='tool_call' ORDER BY seq", (),
        ["--tool", "Bash", "--type", "tool_call"])
    row("tool Bash, --error",
        '^(?=.*"tool_name":"Bash")(?=.*("event_type":"error"|"is_error":true|"error":"))',
        "SELECT line FROM ev WHERE tool='Bash' AND error=1 ORDER BY seq", (),
        ["--tool", "Bash", "--error"], pcre=True)
    # A 10-minute window on whole hundreds of seconds, so a regex can express it.
    t = int(lo + (hi - lo) / 2) // 100 * 100
    prefixes = "|".join(str(t // 100 + k) for k in range(6))
    row("10-minute window", f'"timestamp":({prefixes})[0-9]{{2}}[.,}}]',
        "SELECT line FROM ev WHERE ts>=? AND ts<? ORDER BY seq", (t, t + 600),
        ["--since", str(t), "--until", str(t + 600)])
    row("--count by type", '"event_type":"tool_call"',
        "SELECT count(*) FROM ev WHERE type='tool_call'", (), ["--type", "tool_call"], count=True)

if __name__ == "__main__":
    main()
