"""The requester's sessions and a session's events, page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from app import audit
from app.api import API_PREFIX, OrjsonResponse, require_known
from app.cursor import decode_cursor, encode_cursor
from app.deps import AnyKeyUser, ConnDep, CurrentUser, FullKeyUser, resources_of
from app.errors import NotFound
from app.pool import connection
from app.repository import events as events_repo
from app.repository import sessions as sessions_repo
from app.schemas import EventSummary, SessionDeleted, SessionDetail, SessionOut, error_responses

router = APIRouter(prefix=API_PREFIX, tags=["sessions"])

RECENT_SESSIONS = 50
DEFAULT_PAGE = 500
MAX_PAGE = 2000


@router.get("/sessions/", response_model=list[SessionOut], responses=error_responses(401, 403, 503))
async def list_sessions(conn: ConnDep, user_id: CurrentUser) -> Any:
    """The requester's 50 most recent sessions, newest started_at first."""
    return OrjsonResponse(await sessions_repo.list_recent(conn, user_id, RECENT_SESSIONS))


async def require_owned(conn: Any, session_id: str, user_id: int) -> None:
    require_known(session_id, "session")
    if not await sessions_repo.is_owned(conn, session_id, user_id):
        raise NotFound("session not found")


WARNING_MESSAGES = {
    "tool_call_without_result": "{n} tool call(s) without a result (by call_id)",
    "tool_result_without_call": "{n} tool result(s) without a call (by call_id)",
    "event_after_stop": "{n} event(s) after the session's last session.stopped",
    "stop_without_start": "{n} session.stopped without any session.started",
}


@router.get(
    "/sessions/{session_id}/",
    response_model=SessionDetail,
    responses=error_responses(401, 404, 503),
)
async def get_session(session_id: str, conn: ConnDep, user_id: AnyKeyUser) -> Any:
    """One of your sessions: counts, where to resume (its last event), integrity warnings."""
    require_known(session_id, "session")
    session = await sessions_repo.get_owned(conn, session_id, user_id)
    if session is None:
        raise NotFound("session not found")
    last_id, last_at = session.pop("last_event_id"), session.pop("last_event_occurred_at")
    session["last_event"] = {"id": last_id, "occurred_at": last_at} if last_id else None
    session["warnings"] = [
        {
            "code": found["code"],
            "message": WARNING_MESSAGES[found["code"]].format(n=found["count"]),
            "count": found["count"],
            "event_ids": found["event_ids"],
        }
        for found in await sessions_repo.find_warnings(conn, session_id)
    ]
    return OrjsonResponse(session)


@router.delete(
    "/sessions/{session_id}/",
    response_model=SessionDeleted,
    responses=error_responses(401, 403, 404, 503),
)
async def delete_session(session_id: str, conn: ConnDep, user_id: FullKeyUser) -> Any:
    """Delete one of your sessions and all its events, at once (an `all` key only).

    Their ids are free again: an event re-sent after this is stored anew."""
    require_known(session_id, "session")
    deleted = await sessions_repo.delete_owned(conn, session_id, user_id)
    if deleted is None:
        raise NotFound("session not found")
    audit.record("session.deleted", user_id=user_id, session_id=session_id, events=deleted)
    return OrjsonResponse({"session_id": session_id, "deleted_events": deleted})


EXPORT_CHUNK = 64 * 1024  # bytes of NDJSON gathered before each write


@router.get(
    "/sessions/{session_id}/export/",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "NDJSON: each event's full payload as ingested, one a line, oldest "
            "first (occurred_at, then arrival). Streamed: memory stays flat whatever the "
            "session's size. Sending it back (`clone-recording send`) reproduces the session.",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        },
        **error_responses(401, 403, 404, 503),
    },
)
async def export_session(
    session_id: str, request: Request, conn: ConnDep, user_id: CurrentUser
) -> Any:
    """The whole session as NDJSON, streamed (a `read` or `all` key)."""
    await require_owned(conn, session_id, user_id)
    resources = resources_of(request)

    async def lines() -> AsyncIterator[bytes]:
        # A connection of its own: the request's is released before the body is sent.
        async with connection(resources.pool, resources.settings) as streaming:
            chunk: list[str] = []
            size = 0
            async for payload in events_repo.stream_payloads(streaming, session_id):
                chunk.append(payload)
                size += len(payload) + 1
                if size >= EXPORT_CHUNK:
                    yield ("\n".join(chunk) + "\n").encode()
                    chunk, size = [], 0
            if chunk:
                yield ("\n".join(chunk) + "\n").encode()

    filename = f"{session_id}.ndjson"
    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/sessions/{session_id}/events/",
    response_model=list[EventSummary],
    responses={
        200: {
            "description": "Event summaries, oldest occurred_at first (ties in arrival order).",
            "headers": {
                "Link": {
                    "description": 'Present when more remain: `<url>; rel="next"`.',
                    "schema": {"type": "string"},
                }
            },
        },
        **error_responses(400, 401, 403, 404, 503),
    },
)
async def list_session_events(
    session_id: str,
    request: Request,
    conn: ConnDep,
    user_id: CurrentUser,
    limit: Annotated[
        int, Query(ge=1, description=f"Page size; larger values are clamped to {MAX_PAGE}.")
    ] = DEFAULT_PAGE,
    after: Annotated[
        str | None, Query(description="Opaque cursor from the previous page's Link header.")
    ] = None,
) -> Any:
    """A session's events without payloads, oldest first; follow `Link: rel="next"` for more."""
    limit = min(limit, MAX_PAGE)
    position = decode_cursor(after) if after is not None else None
    await require_owned(conn, session_id, user_id)
    rows = await events_repo.list_session_events(conn, session_id, after=position, limit=limit + 1)
    headers = {}
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_url = request.url.include_query_params(
            limit=limit, after=encode_cursor(last["occurred_at"], last["seq"])
        )
        headers["Link"] = f'<{next_url}>; rel="next"'
    for row in rows:
        del row["seq"]
    return OrjsonResponse(rows, headers=headers)
