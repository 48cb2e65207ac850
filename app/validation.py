"""Per-item validation: fastjsonschema decides, jsonschema explains the rejects."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import orjson

from app.body import Unrepresentable
from app.instants import is_instant, parse_instant

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "events.schema.json"
MAX_ERRORS = 3
FREE_FORM = ("attributes", "input")
MAX_MESSAGE_CHARS = 300
SHOWN_VALUE_CHARS = 80


@dataclass(slots=True)
class Event:
    """A valid item, ready to store."""

    index: int
    id: str
    session_id: str
    type: str
    source: str
    source_detail: str | None
    occurred_at: datetime
    payload: bytes  # the item as compact JSON (UTF-8), exactly what is stored
    digest: bytes  # SHA-256 of `payload`: a re-sent id with another digest is a conflict


@dataclass(frozen=True, slots=True)
class Invalid:
    index: int
    errors: list[str]
    # The same reasons for machines: {"code", "path" (JSON Pointer), "message"} each.
    details: list[dict[str, str]] = field(default_factory=list)


# jsonschema's validator keyword -> our error code (the OpenAPI document lists them).
CODES = {
    "required": "required",
    "enum": "enum",
    "const": "enum",
    "pattern": "pattern",
    "maxLength": "max_length",
    "minLength": "min_length",
    "type": "type",
    "format": "format",
    "additionalProperties": "additional_property",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "minimum",
    "exclusiveMaximum": "maximum",
}
_NAMED = re.compile(r"'((?:[^'\\]|\\.)*)'")  # the first quoted name in a message


def pointer(parts: Iterable[Any]) -> str:
    """A JSON Pointer (RFC 6901) to the value at `parts`."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def invalid(index: int, code: str, path: str, message: str) -> Invalid:
    """An item refused for one reason of our own (not the schema's)."""
    return Invalid(index, [message], [{"code": code, "path": path, "message": message}])


def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


@functools.cache
def _identifier_rule() -> tuple[int, int, re.Pattern[str]]:
    rule = load_schema()["definitions"]["identifier"]
    return rule["minLength"], rule["maxLength"], re.compile(rule["pattern"])


def is_identifier(value: str) -> bool:
    """Whether `value` could be an event or session id (only those can be stored)."""
    shortest, longest, pattern = _identifier_rule()
    return shortest <= len(value) <= longest and pattern.search(value) is not None


def flatten_by_type(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One flat schema per event type, equivalent to the whole schema for items of that type.

    The whole schema selects the type's fields with `if`/`then`; fastjsonschema evaluates
    every `if` by raising and catching, which costs more than the rest of the validation.
    Dispatching on `type` first and validating against a flat schema gives the same verdict.
    """
    flat: dict[str, dict[str, Any]] = {}
    for branch in schema["allOf"]:
        name = branch["if"]["properties"]["type"]["const"]
        then = branch["then"]
        own = {
            key: rule for key, rule in then["properties"].items() if key not in schema["properties"]
        }
        flat[name] = {
            "type": "object",
            "required": [*schema["required"], *then.get("required", [])],
            # occurred_at is parsed once after the schema check instead of as a format.
            # The type is known once dispatched on, and is checked as a constant.
            "properties": {
                **schema["properties"],
                "occurred_at": {"type": "string"},
                "type": {"const": name},
                **own,
            },
            "additionalProperties": then["additionalProperties"],
            "definitions": schema.get("definitions", {}),
        }
    return flat


def let_go(items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
    """Each item with its index; a list's slot is emptied as its item is taken (a generator
    lets go by itself), so whoever still holds the list no longer keeps the parsed batch."""
    if isinstance(items, list):
        for index in range(len(items)):
            item, items[index] = items[index], None
            yield index, item
    else:
        yield from enumerate(items)


class EventValidator:
    """The event schema compiled once; `classify` splits a batch into events and rejects."""

    def __init__(
        self, schema: dict[str, Any], *, max_event_bytes: int, max_depth: int = 64
    ) -> None:
        self.schema = schema
        self.max_event_bytes = max_event_bytes
        self.max_depth = max_depth
        self._accepts_type = {
            name: fastjsonschema.compile(flat) for name, flat in flatten_by_type(schema).items()
        }

    @cached_property
    def _explainer(self) -> jsonschema.Draft7Validator:
        checker = jsonschema.FormatChecker(formats=())
        checker.checks("date-time")(is_instant)
        return jsonschema.Draft7Validator(self.schema, format_checker=checker)

    def classify(self, items: Iterable[Any]) -> tuple[list[Event], list[Invalid]]:
        """Consumes `items`: each parsed item is let go once its payload is made, so a large
        batch is never held twice (parsed, and serialized) in memory."""
        events: list[Event] = []
        invalid: list[Invalid] = []
        for index, item in let_go(items):
            outcome = self.check(index, item)
            if isinstance(outcome, Event):
                events.append(outcome)
            else:
                invalid.append(outcome)
        return events, invalid

    def check(self, index: int, item: Any) -> Event | Invalid:
        if isinstance(item, Unrepresentable):
            return invalid(index, "unrepresentable", "", item.reason)
        payload = orjson.dumps(item)
        if len(payload) > self.max_event_bytes:
            return invalid(
                index, "too_large", "", f"event is larger than {self.max_event_bytes} bytes"
            )
        type_ = item.get("type") if isinstance(item, dict) else None
        accepts = self._accepts_type.get(type_) if isinstance(type_, str) else None
        try:
            if accepts is None:
                raise fastjsonschema.JsonSchemaException("not an event of a known type")
            accepts(item)
        except fastjsonschema.JsonSchemaException:
            return self.explain(index, item)
        occurred_at = parse_instant(item["occurred_at"])
        if occurred_at is None:
            return self.explain(index, item)
        # An item cannot nest deeper than it has opening brackets (strings' ones included),
        # so most items skip the walk over their free-form fields.
        if payload.count(b"{") + payload.count(b"[") > self.max_depth:
            for key in FREE_FORM:
                # Only these fields hold arbitrary JSON; the schema bounds every other one.
                if key in item and _deeper_than(item[key], self.max_depth - 2):
                    message = f"{key}: nested deeper than {self.max_depth} levels"
                    return invalid(index, "too_deep", f"/{key}", message)
        return Event(
            index=index,
            id=item["id"],
            session_id=item["session_id"],
            type=item["type"],
            source=item["source"],
            source_detail=item.get("source_detail"),
            occurred_at=occurred_at,
            # An exact-size copy: orjson's own buffer keeps its spare capacity, and 1000 of
            # them held a 1000 x 32 KB batch at 4-6x the body instead of ~3x.
            payload=bytes(memoryview(payload)),
            digest=hashlib.sha256(payload).digest(),
        )

    def explain(self, index: int, item: Any) -> Invalid:
        """At most MAX_ERRORS messages in jsonschema's wording, prefixed by their path, and
        the same as details with a code and a JSON Pointer."""
        messages: list[str] = []
        details: list[dict[str, str]] = []
        for error in self._explainer.iter_errors(item):
            path = ".".join(str(part) for part in error.absolute_path)
            message = _shorten(f"{path}: {error.message}" if path else error.message,
                               repr(error.instance))  # fmt: skip
            messages.append(message)
            details.append({"code": CODES.get(str(error.validator), str(error.validator)),
                            "path": _error_pointer(error), "message": message})  # fmt: skip
            if len(messages) == MAX_ERRORS:
                break
        if not messages:  # fastjsonschema and jsonschema agree; never answer an empty list
            return invalid(index, "schema", "", "event does not match the event schema")
        return Invalid(index, messages, details)


def _error_pointer(error: jsonschema.ValidationError) -> str:
    """Where the error is; for a missing or an unexpected property, that property."""
    parts = list(error.absolute_path)
    if error.validator in ("required", "additionalProperties"):
        named = _NAMED.search(error.message)
        if named:
            parts.append(named.group(1))
    return pointer(parts)


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` levels below `value` (iterative, early exit)."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth >= limit:
            if any(isinstance(child, dict | list) for child in children):
                return True
            continue
        stack.extend((child, depth + 1) for child in children)
    return False


def _shorten(message: str, shown: str) -> str:
    """Keep messages readable: elide a huge offending value, keep the reason after it."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    if len(shown) > SHOWN_VALUE_CHARS:
        message = message.replace(shown, shown[: SHOWN_VALUE_CHARS - 1] + "…", 1)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return message
