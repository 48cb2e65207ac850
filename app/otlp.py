"""OTLP logs (ExportLogsServiceRequest) as Recording events: decoding and mapping, no HTTP.

Both encodings decode to the same plain `LogRecord`s: protobuf through opentelemetry-proto,
JSON by the OTLP/JSON rules (lowerCamelCase or proto field names, 64-bit integers as
numbers or strings, trace and span ids in hex, enums as integers). Claude Code's events
(`claude_code.*`, with a `session.id`) become our typed events; any other record becomes a
`note` that keeps it whole. docs/decisions.md has the rules.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

from recording_client import claude_code
from recording_client.ids import event_id

AGENT, SOURCE_DETAIL = claude_code.AGENT, claude_code.SOURCE_DETAIL
CLAUDE_PREFIX = "claude_code."
# Where a record names its conversation, in order of preference.
SESSION_ATTRIBUTES = ("session.id", "conversation.id", "gen_ai.conversation.id")
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
INTEGERS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
            "prompt_length", "attempt", "status_code", "tool_result_size_bytes")  # fmt: skip
NUMBERS = ("cost_usd", "duration_ms")


class Undecodable(ValueError):
    """The body is not an ExportLogsServiceRequest in the declared encoding."""


@dataclass(slots=True)
class LogRecord:
    resource: dict[str, Any]
    scope: str
    time_unix_nano: int
    observed_time_unix_nano: int
    event_name: str
    severity: str
    body: Any
    attributes: dict[str, Any]
    trace_id: str  # hex, "" when unset
    span_id: str


# Protobuf.


def decode_protobuf(raw: bytes | bytearray) -> list[LogRecord]:
    request = logs_service_pb2.ExportLogsServiceRequest()
    try:
        request.ParseFromString(bytes(raw))
    except DecodeError as exc:
        raise Undecodable(f"body is not a protobuf ExportLogsServiceRequest: {exc}") from exc
    records = []
    for resource_logs in request.resource_logs:
        resource = _pb_attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                records.append(
                    LogRecord(
                        resource=resource,
                        scope=scope_logs.scope.name,
                        time_unix_nano=record.time_unix_nano,
                        observed_time_unix_nano=record.observed_time_unix_nano,
                        event_name=record.event_name,
                        severity=record.severity_text,
                        body=_pb_value(record.body) if record.HasField("body") else None,
                        attributes=_pb_attributes(record.attributes),
                        trace_id=record.trace_id.hex(),
                        span_id=record.span_id.hex(),
                    )
                )
    return records


def _pb_attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _pb_value(pair.value) for pair in pairs}


def _pb_value(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_pb_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _pb_attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


# JSON.


def decode_json(raw: bytes | bytearray) -> list[LogRecord]:
    try:
        request = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Undecodable(f"body is not valid JSON: {exc}") from exc
    if not isinstance(request, dict):
        raise Undecodable("body must be a JSON ExportLogsServiceRequest object")
    try:
        return list(_json_records(request))
    except (TypeError, ValueError, AttributeError) as exc:
        raise Undecodable(f"body is not an ExportLogsServiceRequest: {exc}") from exc


def _field(message: Mapping[str, Any], camel: str, snake: str, default: Any = None) -> Any:
    """A field by its JSON name or its proto name (OTLP/JSON receivers accept both)."""
    value = message.get(camel, message.get(snake, default))
    return default if value is None else value


def _list(message: Mapping[str, Any], camel: str, snake: str) -> list[Any]:
    value = _field(message, camel, snake, [])
    if not isinstance(value, list):
        raise TypeError(f"{camel} must be an array")
    return value


def _object(message: Mapping[str, Any], camel: str, snake: str) -> Mapping[str, Any]:
    value = _field(message, camel, snake, {})
    if not isinstance(value, dict):
        raise TypeError(f"{camel} must be an object")
    return value


def _json_records(request: Mapping[str, Any]) -> Iterator[LogRecord]:
    for resource_logs in _list(request, "resourceLogs", "resource_logs"):
        resource = _json_attributes(_object(resource_logs, "resource", "resource"))
        for scope_logs in _list(resource_logs, "scopeLogs", "scope_logs"):
            scope = _object(scope_logs, "scope", "scope")
            for record in _list(scope_logs, "logRecords", "log_records"):
                if not isinstance(record, dict):
                    raise TypeError("a log record must be an object")
                body = _field(record, "body", "body")
                yield LogRecord(
                    resource=resource,
                    scope=str(_field(scope, "name", "name", "")),
                    time_unix_nano=_uint(_field(record, "timeUnixNano", "time_unix_nano", 0)),
                    observed_time_unix_nano=_uint(
                        _field(record, "observedTimeUnixNano", "observed_time_unix_nano", 0)
                    ),
                    event_name=str(_field(record, "eventName", "event_name", "")),
                    severity=str(_field(record, "severityText", "severity_text", "")),
                    body=_json_value(body) if isinstance(body, dict) else None,
                    attributes=_json_attributes(record),
                    trace_id=_hex_id(_field(record, "traceId", "trace_id", "")),
                    span_id=_hex_id(_field(record, "spanId", "span_id", "")),
                )


def _json_attributes(message: Mapping[str, Any]) -> dict[str, Any]:
    pairs = _list(message, "attributes", "attributes")
    found = {}
    for pair in pairs:
        if not isinstance(pair, dict) or not isinstance(pair.get("key"), str):
            raise TypeError("an attribute is an object with a string key")
        value = pair.get("value")
        found[pair["key"]] = _json_value(value) if isinstance(value, dict) else None
    return found


def _json_value(value: Mapping[str, Any]) -> Any:
    if "stringValue" in value or "string_value" in value:
        return str(_field(value, "stringValue", "string_value", ""))
    if "boolValue" in value or "bool_value" in value:
        return bool(_field(value, "boolValue", "bool_value", False))
    if "intValue" in value or "int_value" in value:
        return int(_field(value, "intValue", "int_value", 0))  # a number or a string
    if "doubleValue" in value or "double_value" in value:
        return float(_field(value, "doubleValue", "double_value", 0.0))
    if "arrayValue" in value or "array_value" in value:
        items = _list(_object(value, "arrayValue", "array_value"), "values", "values")
        return [_json_value(item) if isinstance(item, dict) else None for item in items]
    if "kvlistValue" in value or "kvlist_value" in value:
        pairs = _object(value, "kvlistValue", "kvlist_value")
        return _json_attributes({"attributes": _list(pairs, "values", "values")})
    if "bytesValue" in value or "bytes_value" in value:
        return str(_field(value, "bytesValue", "bytes_value", ""))
    return None


def _uint(value: Any) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("a time is an unsigned integer")
    return number


def _hex_id(value: Any) -> str:
    """OTLP/JSON sends trace and span ids in hex (not base64, unlike proto3 JSON)."""
    text = str(value)
    if text and not re.fullmatch(r"[0-9a-fA-F]*", text):
        raise ValueError(f"trace and span ids are hex, not {text[:40]!r}")
    return text.lower()


# Mapping.


def claude_code_event(record: LogRecord) -> str | None:
    """The short event name (`user_prompt`…) of a Claude Code record, else None."""
    body = record.body if isinstance(record.body, str) else None
    attribute = record.attributes.get("event.name")
    for candidate in (record.event_name, attribute, body):
        if isinstance(candidate, str) and candidate.startswith(CLAUDE_PREFIX):
            return candidate.removeprefix(CLAUDE_PREFIX)
    if record.resource.get("service.name") == "claude-code" and isinstance(attribute, str):
        return attribute
    return None


def session_of(record: LogRecord) -> str:
    """The record's conversation, else one session per resource (see docs/decisions.md)."""
    for name in SESSION_ATTRIBUTES:
        value = record.attributes.get(name)
        if isinstance(value, str) and IDENTIFIER.match(value):
            return value
        if isinstance(value, str) and value:
            return "otel-" + _digest(value)[:32]
    service = re.sub(
        r"[^A-Za-z0-9._-]+", "-", str(record.resource.get("service.name") or "unknown")
    )
    resource = json.dumps(sorted(record.resource.items()), default=str)
    return f"otel-{service[:60].strip('-') or 'unknown'}-{_digest(resource)[:16]}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def occurred_at(record: LogRecord, received_at: str) -> str:
    """`event.timestamp` when it is an instant, else the record's time, else arrival."""
    stamp = record.attributes.get("event.timestamp")
    if isinstance(stamp, str):
        try:
            if datetime.fromisoformat(stamp).tzinfo is not None:
                return stamp
        except ValueError:
            pass
    nanos = record.time_unix_nano or record.observed_time_unix_nano
    if not nanos:
        return received_at
    seconds, rest = divmod(nanos, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _typed(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Claude Code sends numbers as strings: known numeric attributes become numbers."""
    found = dict(attributes)
    for name in INTEGERS + NUMBERS:
        value = found.get(name)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                found[name] = int(value) if name in INTEGERS else float(value)
    return found


def _text(value: Any) -> str:
    """A value as bounded text (the same cut as the hooks' texts)."""
    return claude_code.clip(value if isinstance(value, str) else claude_code.text_of(value))


def to_event(record: LogRecord, received_at: str) -> dict[str, Any]:
    """The one event a log record stands for."""
    name = claude_code_event(record)
    session = session_of(record)
    when = occurred_at(record, received_at)
    if name is None or not isinstance(record.attributes.get("session.id"), str):
        return _note(record, session, when)
    attributes = _typed(record.attributes)
    sequence = str(attributes.get("event.sequence", ""))
    base: dict[str, Any] = {
        # event.sequence restarts with each Claude Code process; with the timestamp it is
        # unique in a session, and the same in an exporter's retry of the same record.
        "id": event_id(
            session, "otel", name, sequence, str(attributes.get("event.timestamp", when))
        ),
        "session_id": session,
        "occurred_at": when,
        "source": "agent",
        "source_detail": SOURCE_DETAIL,
        "attributes": attributes,
    }
    agent = {**base, "agent": AGENT}
    model = attributes.get("model") if isinstance(attributes.get("model"), str) else None
    tool = str(attributes.get("tool_name") or "unknown")
    call_id = (
        attributes.get("tool_use_id") if isinstance(attributes.get("tool_use_id"), str) else None
    )
    if name == "user_prompt":
        # The text is there only with OTEL_LOG_USER_PROMPTS=1; otherwise its length is.
        return {**agent, "type": "agent.prompt", "prompt": _text(attributes.get("prompt"))}
    if name == "assistant_response":
        text = attributes.get("response", attributes.get("text"))
        if (
            text is None
            and isinstance(record.body, str)
            and not record.body.startswith(CLAUDE_PREFIX)
        ):
            text = record.body
        return _without_none(
            {**agent, "type": "agent.response", "response": _text(text), "model": model}
        )
    if name == "tool_decision":
        return _without_none({**agent, "type": "agent.tool_call", "tool": tool, "call_id": call_id})
    if name == "tool_result":
        success = attributes.get("success")
        failed = success is False or (isinstance(success, str) and success.lower() != "true")
        output = attributes.get("tool_result", attributes.get("error"))
        duration = attributes.get("duration_ms")
        valid_duration = isinstance(duration, int | float) and duration >= 0
        return _without_none({
            **agent, "type": "agent.tool_result", "tool": tool, "call_id": call_id,
            "is_error": failed, "output": _text(output) if output is not None else None,
            "duration_ms": duration if valid_duration else None,
        })  # fmt: skip
    return {**base, "type": "note", "text": _summary(name, attributes)}


def _summary(name: str, attributes: Mapping[str, Any]) -> str:
    """A line for Claude Code events kept as notes (api_request, api_error, others)."""
    if name == "api_request":
        return (
            f"API request to {attributes.get('model', '?')}: "
            f"{attributes.get('input_tokens', '?')} tokens in, "
            f"{attributes.get('output_tokens', '?')} out, ${attributes.get('cost_usd', '?')}"
        )
    if name == "api_error":
        return (
            f"API error from {attributes.get('model', '?')}: "
            f"{attributes.get('status_code', '?')} {attributes.get('error', '')}".rstrip()
        )
    return f"{CLAUDE_PREFIX}{name}"


def _note(record: LogRecord, session: str, when: str) -> dict[str, Any]:
    """Any other record, kept whole; its id is a digest of where and what it is (the same
    record re-exported is one event)."""
    kept = {
        "scope": record.scope, "severity": record.severity, "event_name": record.event_name,
        "body": record.body, "attributes": record.attributes, "resource": record.resource,
        "trace_id": record.trace_id, "span_id": record.span_id,
    }  # fmt: skip
    identity = json.dumps(
        [record.time_unix_nano, record.observed_time_unix_nano, kept], sort_keys=True, default=str
    )
    text = record.body if isinstance(record.body, str) else record.event_name or record.scope
    return {
        "id": event_id(session, "otel", _digest(identity)[:32]),
        "session_id": session,
        "occurred_at": when,
        "source": "agent",
        "source_detail": _detail(record),
        "type": "note",
        "text": _text(text or "log record"),
        "attributes": {"otel": {k: v for k, v in kept.items() if v not in (None, "", {})}},
    }


def _detail(record: LogRecord) -> str:
    service = record.resource.get("service.name")
    return str(service)[:200] if isinstance(service, str) and service else "otel"


def _without_none(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if value is not None}
