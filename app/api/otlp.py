"""The OTLP/HTTP logs receiver: `POST /v1/logs`, answered as the OTLP specification says.

Every answer is in the request's encoding (protobuf or JSON): 200 with an
ExportLogsServiceResponse, whose partialSuccess counts the records that were refused; 4xx
and 5xx with a google.rpc.Status, and 503 with Retry-After when the exporter should retry.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

from app import body, ingest, metrics, otlp, rate_limit
from app.api.direct import DirectRoute
from app.deps import get_credential, header, headers_of, resources_of
from app.errors import BadRequest, ServiceError, UnsupportedMediaType
from app.openapi import OTLP_REQUEST_BODY
from app.pool import unavailable
from app.repository import UNAVAILABLE_ERRORS
from recording_client.ids import instant

router = APIRouter(tags=["otlp"])
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_REASONS = 3
# google.rpc.Code for each status we answer with.
GRPC_CODES = {400: 3, 401: 16, 403: 7, 413: 8, 415: 3, 429: 8, 503: 14}


def _encoding(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _status(error: ServiceError, encoding: str) -> Response:
    status = status_pb2.Status(code=GRPC_CODES.get(error.status, 2), message=error.detail)
    if encoding == JSON:
        content, media_type = json_format.MessageToJson(status, indent=None).encode(), JSON
    else:
        content, media_type = status.SerializeToString(), PROTOBUF
    return Response(content, status_code=error.status, headers=error.headers, media_type=media_type)


def _answer(rejected: int, message: str, encoding: str) -> Response:
    response = logs_service_pb2.ExportLogsServiceResponse()
    if rejected:  # a full success leaves partial_success unset, as the specification asks
        response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = message
    if encoding == JSON:
        return Response(json_format.MessageToJson(response, indent=None), media_type=JSON)
    return Response(response.SerializeToString(), media_type=PROTOBUF)


async def post_logs(request: Request) -> Response:
    """Receive OpenTelemetry log records (Claude Code's events, or any exporter's logs)."""
    received_at = instant()
    headers = headers_of(request)
    encoding = _encoding(header(headers, b"content-type"))
    resources = resources_of(request)
    try:
        if encoding not in (PROTOBUF, JSON):
            raise UnsupportedMediaType(
                f"Content-Type must be {PROTOBUF} or {JSON}, not {encoding[:100]!r}"
            )
        caller = get_credential(request, headers)
        raw = await body.read_body(
            request.stream(),
            content_encoding=header(headers, b"content-encoding"),
            limit=resources.settings.max_body_bytes,
        )
        try:
            records = otlp.decode_json(raw) if encoding == JSON else otlp.decode_protobuf(raw)
        except otlp.Undecodable as exc:
            raise BadRequest(str(exc)) from None
        events = [otlp.to_event(record, received_at) for record in records]
        await rate_limit.take(resources, caller, len(events))
        rejected: list[str] = []
        size = resources.settings.max_batch_items
        # An empty export still goes to the store statement once: it checks the key.
        for start in range(0, max(len(events), 1), size):
            chunk = events[start : start + size]
            result = await ingest.ingest_batch(
                resources.committer, caller, chunk, resources.validator
            )
            metrics.record_ingest(result.accepted, result.duplicates, len(result.invalid))
            rejected += [
                f"log record {start + item.index}: {'; '.join(item.errors)}"
                for item in result.invalid
            ]
    except ServiceError as exc:
        return _status(exc, encoding)
    except UNAVAILABLE_ERRORS:
        return _status(unavailable(resources.settings), encoding)
    shown = "; ".join(rejected[:MAX_REASONS]) + ("; …" if len(rejected) > MAX_REASONS else "")
    return _answer(len(rejected), shown, encoding)


router.add_api_route(
    "/v1/logs",
    post_logs,
    methods=["POST"],
    route_class_override=DirectRoute,
    status_code=200,
    response_class=Response,
    responses={
        200: {
            "description": (
                "An ExportLogsServiceResponse in the request's encoding; `partialSuccess` "
                "counts the records that were refused, with the first reasons."
            ),
            "content": {
                JSON: {
                    "example": {
                        "partialSuccess": {
                            "rejectedLogRecords": "1",
                            "errorMessage": "log record 3: 'agent' is a required property",
                        }
                    }
                },
                PROTOBUF: {},
            },
        },
        **{
            status: {"description": meaning + " A google.rpc.Status in the request's encoding."}
            for status, meaning in {
                400: "The body is not an ExportLogsServiceRequest in its declared encoding.",
                401: "Missing, unknown or revoked API key.",
                403: "A read-only key: sending needs an ingest (or all) key.",
                413: "Body larger than the limit (after decompression).",
                429: "Over the key's rate limit; the exporter retries after Retry-After.",
                415: "Content-Type is neither application/x-protobuf nor application/json.",
                503: "Database unavailable; the exporter retries after Retry-After seconds.",
            }.items()
        },
    },
    openapi_extra={"requestBody": OTLP_REQUEST_BODY},
)
