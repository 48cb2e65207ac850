"""Builders for valid events of every type: the envelope is filled in, unset fields left out.

Each builder takes the session id first and the type's fields by keyword. `id` defaults to
a random one; pass `id=event_id(session_id, ...)` from a natural key when the producer may
build the same event again after a crash, so that the service sees a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping

from recording_client.ids import instant, new_id

# Not typing.TYPE_CHECKING: the hook command's path must not import typing (~5 ms).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

    Event = dict[str, Any]


def build(
    type_: str,
    session_id: str,
    *,
    source: str,
    id: str | None = None,
    occurred_at: datetime | str | None = None,
    source_detail: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Event:
    """An event of any type; fields given as None are left out."""
    event: Event = {
        "id": id or new_id(),
        "session_id": session_id,
        "occurred_at": instant(occurred_at),
        "source": source,
        "type": type_,
    }
    if source_detail is not None:
        event["source_detail"] = source_detail
    if attributes is not None:
        event["attributes"] = dict(attributes)
    event.update((name, value) for name, value in fields.items() if value is not None)
    return event


def session_started(
    session_id: str,
    *,
    title: str | None = None,
    cwd: str | None = None,
    host: str | None = None,
    repository: Mapping[str, str] | None = None,
    source: str = "sdk",
    **envelope: Any,
) -> Event:
    repo = dict(repository) if repository is not None else None
    return build(
        "session.started",
        session_id,
        source=source,
        title=title,
        cwd=cwd,
        host=host,
        repository=repo,
        **envelope,
    )


def session_stopped(
    session_id: str,
    *,
    reason: str | None = None,
    exit_code: int | None = None,
    source: str = "sdk",
    **envelope: Any,
) -> Event:
    return build(
        "session.stopped", session_id, source=source, reason=reason, exit_code=exit_code, **envelope
    )


def prompt(
    session_id: str,
    *,
    agent: str,
    prompt: str,
    model: str | None = None,
    source: str = "agent",
    **envelope: Any,
) -> Event:
    return build(
        "agent.prompt",
        session_id,
        source=source,
        agent=agent,
        prompt=prompt,
        model=model,
        **envelope,
    )


def response(
    session_id: str,
    *,
    agent: str,
    response: str,
    model: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    source: str = "agent",
    **envelope: Any,
) -> Event:
    usage = {
        name: value
        for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens))
        if value is not None
    }
    return build(
        "agent.response",
        session_id,
        source=source,
        agent=agent,
        response=response,
        model=model,
        usage=usage or None,
        **envelope,
    )


def tool_call(
    session_id: str,
    *,
    agent: str,
    tool: str,
    call_id: str | None = None,
    input: Any = None,
    source: str = "agent",
    **envelope: Any,
) -> Event:
    return build(
        "agent.tool_call",
        session_id,
        source=source,
        agent=agent,
        tool=tool,
        call_id=call_id,
        input=input,
        **envelope,
    )


def tool_result(
    session_id: str,
    *,
    agent: str,
    tool: str,
    call_id: str | None = None,
    output: str | None = None,
    is_error: bool | None = None,
    duration_ms: float | None = None,
    source: str = "agent",
    **envelope: Any,
) -> Event:
    return build(
        "agent.tool_result",
        session_id,
        source=source,
        agent=agent,
        tool=tool,
        call_id=call_id,
        output=output,
        is_error=is_error,
        duration_ms=duration_ms,
        **envelope,
    )


def command(
    session_id: str,
    *,
    command: str,
    cwd: str | None = None,
    exit_code: int | None = None,
    duration_ms: float | None = None,
    output: str | None = None,
    source: str = "terminal",
    **envelope: Any,
) -> Event:
    return build(
        "command.executed",
        session_id,
        source=source,
        command=command,
        cwd=cwd,
        exit_code=exit_code,
        duration_ms=duration_ms,
        output=output,
        **envelope,
    )


def file_changed(
    session_id: str,
    *,
    path: str,
    change: str,
    old_path: str | None = None,
    diff: str | None = None,
    source: str = "ide",
    **envelope: Any,
) -> Event:
    return build(
        "file.changed",
        session_id,
        source=source,
        path=path,
        change=change,
        old_path=old_path,
        diff=diff,
        **envelope,
    )


def note(session_id: str, *, text: str, source: str = "sdk", **envelope: Any) -> Event:
    return build("note", session_id, source=source, text=text, **envelope)
