"""Batch ingest and event detail."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from app import body, ingest, metrics, rate_limit, validation
from app.api import API_PREFIX, OrjsonResponse, require_known
from app.api.direct import DirectRoute
from app.deps import (
    AnyKeyUser,
    ConnDep,
    CurrentUser,
    get_credential,
    header,
    headers_of,
    resources_of,
)
from app.errors import BadRequest, NotFound
from app.openapi import INGEST_PARAMETERS, INGEST_REQUEST_BODY
from app.pool import connection
from app.repository import events as events_repo
from app.schemas import EventDetail, IngestResult, LookupRequest, LookupResult, error_responses

router = APIRouter(prefix=API_PREFIX, tags=["events"])
NO_OPTIONS = (False, False)


def ingest_options(request: Request) -> tuple[bool, bool]:
    """(per-item results, dry run) from the query string; anything else there is a 400."""
    query = request.query_params
    unknown = sorted(set(query) - {"results", "dry_run"})
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}; known: results, dry_run")
    results = query.get("results")
    if results not in (None, "items"):
        raise BadRequest(f"results must be 'items', not {results[:50]!r}")
    dry_run = query.get("dry_run", "false").lower()
    if dry_run not in ("true", "false", "1", "0"):
        raise BadRequest(f"dry_run must be true or false, not {dry_run[:50]!r}")
    return results == "items", dry_run in ("true", "1")


async def post_events(request: Request) -> Response:
    """Ingest a batch of 1–1000 events: each is validated on its own and stored once by id."""
    # The key and resources are read here, not declared as dependencies: the route is a
    # DirectRoute (app/api/direct.py), answered without FastAPI's per-request machinery.
    # openapi.py documents the security schemes.
    headers = headers_of(request)
    caller = get_credential(request, headers)
    items_wanted, dry_run = ingest_options(request) if request.scope["query_string"] else NO_OPTIONS
    resources = resources_of(request)
    settings = resources.settings
    body.check_content_type(header(headers, b"content-type"))
    raw = await body.read_body(
        request.stream(),
        content_encoding=header(headers, b"content-encoding"),
        limit=settings.max_body_bytes,
    )
    items = body.batch_items(raw, max_items=settings.max_batch_items)
    if dry_run:
        async with connection(resources.pool, settings) as conn:
            preview = await ingest.preview_batch(conn, caller, items, resources.validator)
        return OrjsonResponse(preview.as_dict(items=items_wanted), status_code=200)
    if settings.rate_limit_per_s is not None:
        items = list(items)
        await rate_limit.take(resources, caller, len(items))
    result = await ingest.ingest_batch(
        resources.committer, caller, items, resources.validator, with_ids=items_wanted
    )
    metrics.record_ingest(result.accepted, result.duplicates, len(result.invalid))
    request.state.ingest_counts = {
        # every item is exactly one of the three
        "items": result.accepted + result.duplicates + len(result.invalid),
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "invalid": len(result.invalid),
    }
    return OrjsonResponse(
        result.as_dict(items=items_wanted), status_code=201 if result.accepted else 200
    )


router.add_api_route(
    "/events/",
    post_events,
    methods=["POST"],
    route_class_override=DirectRoute,
    status_code=201,
    response_model=IngestResult,
    responses={
        200: {
            "model": IngestResult,
            "description": "Nothing new was stored (all duplicates or invalid).",
        },
        201: {"description": "At least one event was newly stored."},
        **error_responses(400, 401, 403, 413, 415, 429, 503),
    },
    openapi_extra={"requestBody": INGEST_REQUEST_BODY, "parameters": INGEST_PARAMETERS},
)


@router.post(
    "/events/lookup/",
    response_model=LookupResult,
    responses=error_responses(400, 401, 503),
)
async def lookup_events(request: LookupRequest, conn: ConnDep, user_id: AnyKeyUser) -> Any:
    """Which of these ids are stored in your sessions: a producer that lost its state
    re-sends only the missing ones."""
    for index, given in enumerate(request.ids):
        try:
            given.encode()
        except UnicodeEncodeError:
            raise BadRequest(f"ids.{index}: not valid Unicode (a lone surrogate)") from None
    # An id that breaks the id rules was never stored (and may not even reach PostgreSQL:
    # U+0000, lone surrogates).
    possible = [i for i in request.ids if validation.is_identifier(i)]
    found = await events_repo.stored_ids(conn, possible, user_id) if possible else set()
    return OrjsonResponse(
        {
            "stored": [i for i in request.ids if i in found],
            "missing": [i for i in request.ids if i not in found],
        }
    )


@router.get(
    "/events/{event_id}/", response_model=EventDetail, responses=error_responses(401, 403, 404, 503)
)
async def get_event(event_id: str, conn: ConnDep, user_id: CurrentUser) -> Any:
    """One event with its full payload, exactly as ingested."""
    require_known(event_id, "event")
    row = await events_repo.get_event(conn, event_id, user_id)
    if row is None:
        raise NotFound("event not found")
    row["payload"] = orjson.Fragment(row["payload"])
    return OrjsonResponse(row)
