"""Agents' own hooks, posted straight to the service: Claude Code's `http` hooks."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app import body, ingest, metrics, rate_limit
from app.api import API_PREFIX, OrjsonResponse
from app.api.direct import DirectRoute
from app.deps import get_credential, header, headers_of, resources_of
from app.errors import BadRequest
from app.openapi import CLAUDE_CODE_HOOK_BODY
from app.schemas import error_responses
from recording_client import claude_code
from recording_client.ids import instant

router = APIRouter(prefix=API_PREFIX, tags=["hooks"])


async def post_claude_code_hook(request: Request) -> Response:
    """Record one Claude Code hook input (an `http` hook): answers `{}` once it is stored."""
    received_at = instant()  # hooks carry no time of their own
    headers = headers_of(request)
    caller = get_credential(request, headers)
    resources = resources_of(request)
    body.check_content_type(header(headers, b"content-type"))
    raw = await body.read_body(
        request.stream(),
        content_encoding=header(headers, b"content-encoding"),
        limit=resources.settings.max_body_bytes,
    )
    hook = body.parse_object(raw)
    try:
        found = claude_code.from_hook(hook, received_at)
    except claude_code.NotAHookInput as exc:
        raise BadRequest(str(exc)) from None
    await rate_limit.take(resources, caller, len(found))
    result = await ingest.ingest_all(resources.committer, caller, found, resources.validator)
    if result.invalid:
        reasons = "; ".join(
            f"{found[item.index]['type']}: {', '.join(item.errors)}" for item in result.invalid
        )
        raise BadRequest(f"the hook input makes invalid events, none was stored: {reasons}")
    metrics.record_ingest(result.accepted, result.duplicates, 0)
    # Claude Code reads a JSON body as the hook's output: an empty object decides nothing.
    return OrjsonResponse({})


router.add_api_route(
    "/hooks/claude-code/",
    post_claude_code_hook,
    methods=["POST"],
    route_class_override=DirectRoute,
    status_code=200,
    responses={
        200: {
            "description": (
                "Stored (or already stored). The body is `{}`: Claude Code reads a JSON body "
                "as the hook's output, and an empty object changes nothing."
            ),
            "content": {"application/json": {"example": {}}},
        },
        **error_responses(400, 401, 403, 413, 415, 429, 503),
    },
    openapi_extra={"requestBody": CLAUDE_CODE_HOOK_BODY},
)
