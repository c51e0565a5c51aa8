#!/usr/bin/env python3
"""agent-strace's loader, restated: reads an agent-strace trace directory
the way agent-strace's TraceStore does (models.py SessionMeta/TraceEvent,
store.py load_meta/load_events, as ../shared/agent-strace-format.md and
../shared/research/ecosystem.md section 7 describe them; agent-strace itself
is not installable here) and prints one JSON line per session. Strict where
agent-strace is: an unknown key in meta.json or in an event, an unknown
event_type or a line that is not JSON raises, as it does there.

Usage: agent_strace_loader.py TRACE_DIR
"""
import dataclasses
import enum
import json
import pathlib
import sys
from typing import Any, Optional


class EventType(enum.Enum):
    SESSION_START = "session_start"
    SESSION_END = "session_end"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    LLM_REQUEST = "llm_request"
    LLM_RESPONSE = "llm_response"
    FILE_READ = "file_read"
    FILE_WRITE = "file_write"
    DECISION = "decision"
    ERROR = "error"
    USER_PROMPT = "user_prompt"
    ASSISTANT_RESPONSE = "assistant_response"


@dataclasses.dataclass
class TraceEvent:
    event_type: EventType
    timestamp: float = 0.0
    event_id: str = ""
    session_id: str = ""
    parent_id: str = ""
    duration_ms: Optional[float] = None
    data: dict = dataclasses.field(default_factory=dict)
    # newer versions
    tenant_id: str = ""
    redacted: bool = False
    prev_hash: str = ""


@dataclasses.dataclass
class SessionMeta:
    session_id: str = ""
    started_at: float = 0.0
    ended_at: Optional[float] = None
    agent_name: str = ""
    command: str = ""
    tool_calls: int = 0
    llm_requests: int = 0
    errors: int = 0
    total_tokens: int = 0
    total_duration_ms: Any = 0
    parent_session_id: str = ""
    parent_event_id: str = ""
    depth: int = 0
    attribution: dict = dataclasses.field(default_factory=dict)
    # newer versions
    tenant_id: str = ""
    workspace_id: str = ""
    redacted: bool = False


def load_events(path: pathlib.Path):
    events = []
    for line in path.read_text().strip().splitlines():
        if line:
            d = json.loads(line)
            d["event_type"] = EventType(d["event_type"])
            events.append(TraceEvent(**d))
    return events


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    for session_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        meta = SessionMeta(**json.loads((session_dir / "meta.json").read_text()))
        events = load_events(session_dir / "events.ndjson")
        print(json.dumps({
            "session_id": meta.session_id,
            "agent_name": meta.agent_name,
            "parent_session_id": meta.parent_session_id,
            "tool_calls": meta.tool_calls,
            "errors": meta.errors,
            "events": len(events),
            "types": sorted({e.event_type.value for e in events}),
            "paired": sum(1 for e in events if e.parent_id),
        }, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
