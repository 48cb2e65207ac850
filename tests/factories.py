"""Valid events with unique ids, so tests never collide (also against a live server)."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

_counter = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}-{next(_counter)}"


def event(session_id: str, type_: str = "note", **fields: Any) -> dict[str, Any]:
    """A valid event of `type_`; `fields` override or add to the defaults."""
    defaults: dict[str, dict[str, Any]] = {
        "session.started": {"source": "cli"},
        "session.stopped": {"source": "cli"},
        "agent.prompt": {"source": "agent", "agent": "Claude Code", "prompt": "Run the tests."},
        "agent.response": {"source": "agent", "agent": "Claude Code", "response": "Done."},
        "agent.tool_call": {"source": "agent", "agent": "Codex", "tool": "Bash"},
        "agent.tool_result": {"source": "agent", "agent": "Codex", "tool": "Bash"},
        "command.executed": {"source": "terminal", "command": "pytest -q"},
        "file.changed": {"source": "ide", "path": "app.py", "change": "modified"},
        "note": {"source": "desktop", "text": "hello"},
    }
    item: dict[str, Any] = {
        "id": unique("evt"),
        "session_id": session_id,
        "occurred_at": "2026-05-05T12:00:00Z",
        "type": type_,
        **defaults[type_],
    }
    item.update(fields)
    return item


def at(minute: int, second: int = 0) -> str:
    return f"2026-05-05T12:{minute:02d}:{second:02d}Z"
