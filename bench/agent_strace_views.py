#!/usr/bin/env python3
"""agent-strace's list, replay and stats, restated for timing beside
tracelog's views (bench/views_vs_agent_strace.sh). agent-strace cannot be
installed here (no PyPI); this does what its CLI does for these commands as
../shared/agent-strace-cli.md describes it, with its loader restated in
tests/tools/agent_strace_loader.py (json.loads per line, a dataclass per
event and per meta.json): list reads every meta.json; replay and stats read
the session's events.ndjson; `stats-all` does stats for every session (what
agent-strace's `dashboard` must read). It imports fewer modules than
agent-strace's cli.py, so it starts faster: the ratios it gives are low
estimates.

Usage: agent_strace_views.py TRACE_DIR list|replay ID|stats ID|stats-all
"""
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "tools"))
from agent_strace_loader import EventType, SessionMeta, load_events  # noqa: E402

RULE = "─" * 70


def load_meta(d):
    return SessionMeta(**json.loads((d / "meta.json").read_text()))


def cmd_list(root):
    metas = [load_meta(d) for d in sorted(root.iterdir(), reverse=True) if d.is_dir()]
    out = ["", "Captured Sessions", RULE,
           f"  {'ID':<18} {'Started':<24} {'Duration':>9} {'Tools':>6} {'LLM':>5} {'Err':>4}", RULE]
    for m in metas:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(m.started_at))
        dur = f"{(m.ended_at - m.started_at):.1f}s" if m.ended_at else "-"
        out.append(f"  {m.session_id:<18} {started:<24} {dur:>9} {m.tool_calls:>6} "
                   f"{m.llm_requests:>5} {m.errors:>4}")
    out += [RULE, f"  {len(metas)} session(s)", ""]
    print("\n".join(out))


MARKERS = {"session_start": "▶", "session_end": "■", "tool_call": "→", "tool_result": "←",
           "llm_request": "⬆", "llm_response": "⬇", "file_read": "📄", "file_write": "✎",
           "decision": "◆", "error": "✗", "user_prompt": "👤", "assistant_response": "🤖"}


def cmd_replay(root, sid):
    d = root / sid
    meta = load_meta(d)
    events = load_events(d / "events.ndjson")
    out = ["Session Summary", "─" * 50, f"  Session:    {meta.session_id}",
           f"  Agent:      {meta.agent_name}", f"  Tool calls: {meta.tool_calls}",
           f"  Errors:     {meta.errors}", "─" * 50, ""]
    t0 = events[0].timestamp if events else 0
    for e in events:
        t = e.event_type.value
        line = f"+{e.timestamp - t0:6.2f}s {MARKERS.get(t, '·')} {t}"
        if t == "tool_call":
            line += " " + str(e.data.get("tool_name", ""))
            for k, v in list(e.data.get("arguments", {}).items())[:3]:
                line += f"\n                {k}: {repr(v)[:120]}"
        elif t == "tool_result":
            if e.duration_ms is not None:
                line += f"  ({e.duration_ms:.0f}ms)"
            line += "\n                " + repr(e.data.get("result", e.data.get("content_preview", "")))[:200]
        elif t == "error":
            line += "\n                " + str(e.data.get("message", e.data.get("error", "")))[:200]
        out.append(line)
    print("\n".join(out))


def stats_of(events):
    calls, durations, errors = {}, {}, []
    by_id = {}
    for e in events:
        if e.event_type == EventType.TOOL_CALL:
            name = e.data.get("tool_name", "unknown") or "unknown"
            calls[name] = calls.get(name, 0) + 1
            by_id[e.event_id] = name
    for e in events:
        if e.event_type == EventType.TOOL_RESULT and e.parent_id in by_id and e.duration_ms is not None:
            durations.setdefault(by_id[e.parent_id], []).append(e.duration_ms)
        elif e.event_type == EventType.ERROR:
            errors.append(e.data.get("message", "unknown"))
    return calls, durations, errors


def print_stats(sid, events):
    calls, durations, errors = stats_of(events)
    out = ["Session Summary", "─" * 50, f"  Session:    {sid}", "─" * 50, "", "  Tool Call Frequency:"]
    for name, n in sorted(calls.items(), key=lambda kv: -kv[1]):
        d = durations.get(name, [])
        avg = f"  avg: {sum(d) / len(d):.0f}ms" if d else ""
        out.append(f"    {name:<30} {n:>3}x{avg}")
    if errors:
        out += ["", f"  Errors ({len(errors)}):"] + [f"    {m}" for m in errors]
    print("\n".join(out))


def main():
    root = pathlib.Path(sys.argv[1])
    what = sys.argv[2]
    if what == "list":
        cmd_list(root)
    elif what == "replay":
        cmd_replay(root, sys.argv[3])
    elif what == "stats":
        print_stats(sys.argv[3], load_events(root / sys.argv[3] / "events.ndjson"))
    elif what == "stats-all":
        for d in sorted(root.iterdir()):
            if d.is_dir():
                load_meta(d)
                print_stats(d.name, load_events(d / "events.ndjson"))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
