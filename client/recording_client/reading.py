"""Events from a file: NDJSON (one a line) or one JSON array, each with its line number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

WHITESPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Line:
    """An event read from the input, or why the text at that line is not one."""

    number: int
    event: dict[str, Any] | None
    error: str | None = None
    label: str = ""  # the file's name, when several are read

    @property
    def where(self) -> str:
        return f"{self.label}line {self.number}"


def read_events(stream: BinaryIO) -> Iterator[Line]:
    """NDJSON is read a line at a time (any size); an input starting with `[` is an array."""
    blank_lines = 0
    head = stream.read(1)
    while head and head.isspace():
        blank_lines += head == b"\n"
        head = stream.read(1)
    if head == b"[":
        yield from _array(b"\n" * blank_lines + b"[" + stream.read())
        return
    yield from _ndjson(iter([head + stream.readline()]), start=blank_lines + 1)
    yield from _ndjson(stream, start=blank_lines + 2)


def _ndjson(lines: Iterator[bytes] | BinaryIO, start: int) -> Iterator[Line]:
    for number, raw in enumerate(lines, start):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except UnicodeDecodeError as exc:
            yield Line(number, None, f"not valid UTF-8: {exc.reason} at byte {exc.start}")
            continue
        except json.JSONDecodeError as exc:
            yield Line(number, None, f"not valid JSON: {exc.msg} (column {exc.colno})")
            continue
        yield _checked(number, value)


def _checked(number: int, value: Any) -> Line:
    if isinstance(value, dict):
        return Line(number, value)
    return Line(number, None, f"not a JSON object but {type(value).__name__}")


def _array(raw: bytes) -> Iterator[Line]:
    try:
        text = raw.decode()
    except UnicodeDecodeError as exc:
        yield Line(raw.count(b"\n", 0, exc.start) + 1, None, f"not valid UTF-8: {exc.reason}")
        return
    decoder = json.JSONDecoder()
    position, line, counted = text.index("[") + 1, 1, 0

    def line_at(offset: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, offset)
        counted = offset
        return line

    position = _skip(text, position)
    if text.startswith("]", position):
        return
    while True:
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            yield Line(exc.lineno, None, f"not valid JSON: {exc.msg} (column {exc.colno})")
            return
        yield _checked(line_at(position), value)
        position = _skip(text, end)
        if text.startswith(",", position):
            position = _skip(text, position + 1)
            continue
        if text.startswith("]", position) and not text[position + 1 :].strip():
            return
        yield Line(line_at(position), None, "not valid JSON: expected ',' or the closing ']'")
        return


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in WHITESPACE:
        position += 1
    return position
