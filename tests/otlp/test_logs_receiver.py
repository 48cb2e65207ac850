"""POST /v1/logs: the real OpenTelemetry SDK exporters (protobuf and JSON) and raw OTLP."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter as JsonExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as ProtoExporter
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from tests.factories import unique
from tests.served import Served

pytestmark = pytest.mark.in_process
SCOPE = "com.anthropic.claude_code.events"
T0 = 1_778_068_800_000_000_000  # 2026-05-06T12:00:00Z in nanoseconds


def claude_code_records(session: str) -> list[dict[str, Any]]:
    """One turn of Claude Code events, shaped as its monitoring documentation lists them."""
    common = {
        "session.id": session,
        "organization.id": "org-1",
        "user.account_uuid": "u-1",
        "terminal.type": "vscode",
        "prompt.id": "p-1",
        "app.version": "2.1.3",
    }

    def record(n: int, name: str, **attributes: Any) -> dict[str, Any]:
        stamp = f"2026-05-06T12:00:0{n}.000Z"
        return {
            "body": f"claude_code.{name}",
            "timestamp": T0 + n * 1_000_000_000,
            "attributes": {
                **common,
                "event.name": name,
                "event.timestamp": stamp,
                "event.sequence": n,
                **attributes,
            },
        }

    return [
        record(1, "user_prompt", prompt_length="19", prompt="Run the test suite."),
        record(
            2,
            "api_request",
            model="claude-sonnet-4-6",
            cost_usd="0.0123",
            duration_ms="2100",
            input_tokens="1200",
            output_tokens="85",
            cache_read_tokens="900",
            cache_creation_tokens="0",
        ),
        record(
            3,
            "tool_decision",
            tool_name="Bash",
            decision="accept",
            source="config",
            tool_use_id="toolu_01ABC123",
        ),
        record(
            4,
            "tool_result",
            tool_name="Bash",
            success="false",
            duration_ms="812",
            error="Exit code 1",
            tool_use_id="toolu_01ABC123",
        ),
        record(
            5,
            "assistant_response",
            model="claude-sonnet-4-6",
            response="One test fails; here is the fix.",
        ),
        record(
            6,
            "api_error",
            model="claude-sonnet-4-6",
            error="Overloaded",
            status_code="529",
            duration_ms="300",
            attempt="1",
        ),
    ]


def export(
    base: str,
    key: str,
    records: list[dict[str, Any]],
    *,
    encoding: str = "protobuf",
    bearer: bool = False,
    gzip_body: bool = False,
    resource: dict[str, Any] | None = None,
) -> None:
    """Emit `records` through the SDK's LoggerProvider and an OTLP/HTTP exporter."""
    headers = {"Authorization": f"Bearer {key}"} if bearer else {"X-Clone-API-Key": key}
    endpoint = f"{base}/v1/logs"
    if encoding == "protobuf":
        exporter: Any = ProtoExporter(
            endpoint=endpoint,
            headers=headers,
            timeout=10,
            compression=Compression.Gzip if gzip_body else None,
        )
    else:
        exporter = JsonExporter(endpoint=endpoint, headers=headers, timeout=10)
    provider = LoggerProvider(
        resource=Resource.create(
            resource or {"service.name": "claude-code", "service.version": "2.1.3"}
        )
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger(SCOPE)
    for item in records:
        logger.emit(
            LogRecord(
                timestamp=item["timestamp"],
                observed_timestamp=item["timestamp"],
                body=item["body"],
                attributes=item["attributes"],
            )
        )
    provider.shutdown()


def payloads(base: str, key: str, session: str) -> list[dict[str, Any]]:
    headers = {"X-Clone-API-Key": key}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        page = client.get(f"/api/recording/sessions/{session}/events/")
        if page.status_code == 404:
            return []
        return [
            client.get(f"/api/recording/events/{e['id']}/").json()["payload"] for e in page.json()
        ]


@pytest.mark.parametrize(
    ("encoding", "bearer", "gzip_body"),
    [("protobuf", False, False), ("protobuf", True, True), ("json", False, False)],
    ids=["protobuf", "protobuf-gzip-bearer", "json"],
)
def test_claude_code_events_from_the_sdk_exporter_read_back_as_our_events(
    served: Served, key: str, encoding: str, bearer: bool, gzip_body: bool
) -> None:
    session = unique("otel")
    export(
        served.base,
        key,
        claude_code_records(session),
        encoding=encoding,
        bearer=bearer,
        gzip_body=gzip_body,
    )
    events = payloads(served.base, key, session)
    assert [(e["type"], e["occurred_at"]) for e in events] == [
        ("agent.prompt", "2026-05-06T12:00:01.000Z"),
        ("note", "2026-05-06T12:00:02.000Z"),
        ("agent.tool_call", "2026-05-06T12:00:03.000Z"),
        ("agent.tool_result", "2026-05-06T12:00:04.000Z"),
        ("agent.response", "2026-05-06T12:00:05.000Z"),
        ("note", "2026-05-06T12:00:06.000Z"),
    ]
    prompt, request, call, result, response, error = events
    assert all(e["source_detail"] == "claude-code" and e["session_id"] == session for e in events)
    assert (prompt["agent"], prompt["prompt"]) == ("Claude Code", "Run the test suite.")
    assert request["text"] == "API request to claude-sonnet-4-6: 1200 tokens in, 85 out, $0.0123"
    assert {k: request["attributes"][k] for k in ("input_tokens", "cost_usd", "duration_ms")} == {
        "input_tokens": 1200,
        "cost_usd": 0.0123,
        "duration_ms": 2100.0,
    }
    assert (call["tool"], call["call_id"], call["attributes"]["decision"]) == (
        "Bash",
        "toolu_01ABC123",
        "accept",
    )
    assert (result["is_error"], result["output"], result["duration_ms"]) == (
        True,
        "Exit code 1",
        812.0,
    )
    assert (response["response"], response["model"]) == (
        "One test fails; here is the fix.",
        "claude-sonnet-4-6",
    )
    assert error["text"] == "API error from claude-sonnet-4-6: 529 Overloaded"


def test_a_re_export_is_all_duplicates(served: Served, key: str, stored: Any) -> None:
    session = unique("otel")
    records = claude_code_records(session)
    export(served.base, key, records)
    export(served.base, key, records, encoding="json")  # the same records, the other encoding
    assert len(payloads(served.base, key, session)) == len(records)


def test_records_of_other_tools_are_kept_as_notes_under_a_resource_session(
    served: Served, key: str
) -> None:
    service = unique("svc")
    resource = {"service.name": service, "host.name": "dev-box"}
    records = [
        {"body": "codex.tool_result", "timestamp": T0, "attributes": {"tool_name": "shell"}},
        {"body": "compiled 3 files", "timestamp": T0 + 1, "attributes": {"level": "info"}},
    ]
    export(served.base, key, records, resource=resource)
    with httpx.Client(base_url=served.base, headers={"X-Clone-API-Key": key}) as client:
        sessions = [s["id"] for s in client.get("/api/recording/sessions/").json()]
    [session] = [s for s in sessions if s.startswith(f"otel-{service}-")]
    notes = payloads(served.base, key, session)
    assert [(n["type"], n["text"], n["source_detail"]) for n in notes] == [
        ("note", "codex.tool_result", service),
        ("note", "compiled 3 files", service),
    ]
    assert notes[0]["attributes"]["otel"]["resource"]["host.name"] == "dev-box"
    assert notes[1]["attributes"]["otel"]["attributes"] == {"level": "info"}


# Raw OTLP/HTTP: what the exporters above do not show.


def any_value(value: Any) -> common_pb2.AnyValue:
    if isinstance(value, str):
        return common_pb2.AnyValue(string_value=value)
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    return common_pb2.AnyValue(int_value=value)


def proto_request(records: list[dict[str, Any]]) -> bytes:
    logs = [
        logs_pb2.LogRecord(
            time_unix_nano=r["timestamp"],
            body=any_value(r["body"]),
            attributes=[
                common_pb2.KeyValue(key=k, value=any_value(v)) for k, v in r["attributes"].items()
            ],
        )
        for r in records
    ]
    request = logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[logs_pb2.ResourceLogs(scope_logs=[logs_pb2.ScopeLogs(log_records=logs)])]
    )
    return request.SerializeToString()


def post(base: str, content: Any, content_type: str, key: str | None, **headers: str) -> Any:
    sent = {"Content-Type": content_type, **headers}
    if key:
        sent["X-Clone-API-Key"] = key
    return httpx.post(f"{base}/v1/logs", content=content, headers=sent, timeout=10)


def test_invalid_records_are_counted_in_partial_success_and_the_rest_stored(
    served: Served, key: str, stored: Any
) -> None:
    session = unique("otel")
    records = claude_code_records(session)
    records[2]["attributes"]["tool_name"] = "T" * 300  # longer than a tool name may be
    answer = post(served.base, proto_request(records), "application/x-protobuf", key)
    assert (answer.status_code, answer.headers["content-type"]) == (200, "application/x-protobuf")
    response = logs_service_pb2.ExportLogsServiceResponse.FromString(answer.content)
    assert response.partial_success.rejected_log_records == 1
    assert response.partial_success.error_message.startswith("log record 2: tool: 'TTTT")
    assert len(payloads(served.base, key, session)) == 5


def test_a_full_success_leaves_partial_success_unset(served: Served, key: str) -> None:
    answer = post(
        served.base,
        proto_request(claude_code_records(unique("otel"))),
        "application/x-protobuf",
        key,
    )
    response = logs_service_pb2.ExportLogsServiceResponse.FromString(answer.content)
    assert answer.status_code == 200 and not response.HasField("partial_success")
    json_answer = post(served.base, b'{"resourceLogs": []}', "application/json", key)
    assert (json_answer.status_code, json_answer.json()) == (200, {})


def test_json_accepts_int_values_as_numbers_or_strings_hex_ids_and_snake_case(
    served: Served, key: str
) -> None:
    session = unique("otel")
    request = {
        "resourceLogs": [
            {
                "resource": {"attributes": []},
                "scopeLogs": [
                    {
                        "scope": {"name": SCOPE},
                        "logRecords": [
                            {
                                "timeUnixNano": str(T0),
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "body": {"stringValue": "claude_code.user_prompt"},
                                "attributes": [
                                    {"key": "session.id", "value": {"stringValue": session}},
                                    {"key": "event.sequence", "value": {"intValue": 7}},
                                    {"key": "prompt", "value": {"stringValue": "first"}},
                                ],
                            },
                            {
                                "time_unix_nano": T0 + 1,
                                "body": {"string_value": "claude_code.user_prompt"},
                                "attributes": [
                                    {"key": "session.id", "value": {"string_value": session}},
                                    {"key": "event.sequence", "value": {"int_value": "8"}},
                                    {"key": "prompt", "value": {"stringValue": "second"}},
                                ],
                            },
                        ],
                    }
                ],
            }
        ]
    }
    answer = post(served.base, json.dumps(request), "application/json", key)
    assert (answer.status_code, answer.json()) == (200, {})
    events = payloads(served.base, key, session)
    assert [(e["prompt"], e["attributes"]["event.sequence"]) for e in events] == [
        ("first", 7),
        ("second", 8),
    ]


def test_a_chunked_gzip_body_without_content_length_is_read(served: Served, key: str) -> None:
    session = unique("otel")
    body = gzip.compress(proto_request(claude_code_records(session)))

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    answer = post(
        served.base, chunks(), "application/x-protobuf", key, **{"Content-Encoding": "gzip"}
    )
    assert answer.status_code == 200
    assert "content-length" not in answer.request.headers
    assert len(payloads(served.base, key, session)) == 6


@pytest.mark.parametrize(
    ("content", "content_type", "with_key", "status", "code", "message"),
    [
        (
            b"\xff\xff\xff",
            "application/x-protobuf",
            True,
            400,
            3,
            "body is not a protobuf ExportLogsServiceRequest",
        ),
        (b"{oops", "application/json", True, 400, 3, "body is not valid JSON"),
        (
            b'{"resourceLogs": {}}',
            "application/json",
            True,
            400,
            3,
            "body is not an ExportLogsServiceRequest: resourceLogs must be an array",
        ),
        (
            b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "zz"}]}]}]}',
            "application/json",
            True,
            400,
            3,
            "body is not an ExportLogsServiceRequest: trace",
        ),
        (b"", "application/x-protobuf", False, 401, 16, "missing API key"),
        (b"", "application/json", False, 401, 16, "missing API key"),
        (b"hello", "text/plain", True, 415, 3, "Content-Type must be application/x-protobuf"),
    ],
    ids=[
        "bad-protobuf",
        "bad-json",
        "not-a-request",
        "bad-trace-id",
        "no-key-protobuf",
        "no-key-json",
        "text-plain",
    ],
)
def test_errors_are_a_status_in_the_requests_encoding(
    served: Served,
    key: str,
    content: bytes,
    content_type: str,
    with_key: bool,
    status: int,
    code: int,
    message: str,
) -> None:
    answer = post(served.base, content, content_type, key if with_key else None)
    assert answer.status_code == status
    if content_type == "application/json":
        assert answer.headers["content-type"] == "application/json"
        found = answer.json()
        assert found["code"] == code and found["message"].startswith(message), found
    else:
        assert answer.headers["content-type"] == "application/x-protobuf"
        found_pb = status_pb2.Status.FromString(answer.content)
        assert found_pb.code == code and found_pb.message.startswith(message), found_pb


def test_a_wrong_key_is_refused_and_nothing_is_stored(served: Served, key: str) -> None:
    session = unique("otel")
    answer = post(
        served.base,
        proto_request(claude_code_records(session)),
        "application/x-protobuf",
        "rec_wrong",
    )
    assert answer.status_code == 401
    assert status_pb2.Status.FromString(answer.content).message == "invalid or revoked API key"
    assert payloads(served.base, key, session) == []


def test_the_openapi_document_describes_the_receiver(served: Served) -> None:
    document = httpx.get(f"{served.base}/openapi.json").json()
    operation = document["paths"]["/v1/logs"]["post"]
    assert set(operation["requestBody"]["content"]) == {
        "application/x-protobuf",
        "application/json",
    }
    assert set(operation["responses"]) == {"200", "400", "401", "403", "413", "415", "429", "503"}
    assert operation["security"] == [{"ApiKeyHeader": []}, {"BearerKey": []}]


def test_an_empty_export_still_checks_the_key(served: Served, key: str) -> None:
    assert post(served.base, b"", "application/x-protobuf", key).status_code == 200
    refused = post(served.base, b"", "application/x-protobuf", "rec_wrong")
    assert refused.status_code == 401
