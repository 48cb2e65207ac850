"""Turns a raw request body into its items: content type, capped gunzip, JSON, shape."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from app.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

_JSON_TYPES = ("application/json",)


def check_content_type(content_type: str | None) -> None:
    """Accept `application/json` with any parameters (charset), or no type at all."""
    if content_type is None or not content_type.strip():
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in _JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {media_type[:100]!r}"
        )


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {limit} bytes")


async def read_body(
    chunks: AsyncIterator[bytes], *, content_encoding: str | None, limit: int
) -> bytearray:
    """Read the body, inflating gzip as it streams; stop as soon as `limit` is passed.

    The limit applies to the decompressed size and never trusts Content-Length, so a small
    gzip bomb is refused after inflating at most `limit` bytes.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding[:50]!r} is not supported; use gzip")
    # One growing buffer, no join at the end: the body exists once in memory. The caller
    # may clear() it once parsed, even while others still hold a reference to it.
    body = bytearray()
    size = 0
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS) if encoding != "identity" else None
    try:
        async for chunk in chunks:
            if inflater is None:
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                body += chunk
                continue
            data = chunk
            while data:
                # Inflate at most what is still allowed (+1 to detect the overflow).
                out = inflater.decompress(data, limit - size + 1)
                size += len(out)
                if size > limit:
                    raise _too_large(limit)
                body += out
                data = inflater.unconsumed_tail
        if inflater is not None:
            if not inflater.eof:
                raise BadRequest("gzip body is truncated")
            if inflater.unused_data:
                raise BadRequest("gzip body has trailing data after the compressed stream")
    except zlib.error as exc:
        raise BadRequest(f"gzip body is corrupt: {exc}") from exc
    return body


@dataclass(frozen=True, slots=True)
class Unrepresentable:
    """An item that parsed, but not faithfully: it becomes an invalid item, not a 500."""

    reason: str


# Bodies from this size on are parsed item by item (batch_items).
ITEM_BY_ITEM_BYTES = 1 << 20


def batch_items(raw: bytearray, *, max_items: int) -> Iterable[Any]:
    """The batch's items; `raw` is cleared once they no longer need it.

    A small body is parsed at once. A large one is parsed one item at a time, as the caller
    consumes them: parsed text can take 4 bytes per character in Python (any emoji makes a
    whole string so), and a 32 MiB batch parsed at once peaked at ~4.5x the body, item by
    item at ~2x. Either way the outcome is the same as parse_batch's.
    """
    if len(raw) < ITEM_BY_ITEM_BYTES:
        items = parse_batch(raw, max_items=max_items)
        raw.clear()  # peak memory: the body is not needed once parsed
        return items
    return _item_by_item(raw, max_items)


def parse_object(raw: bytes | bytearray) -> dict[str, Any]:
    """Parse a body that must be one JSON object (a hook input)."""
    if not raw or raw.isspace():
        raise BadRequest("request body is empty; send a JSON object")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise BadRequest(f"request body must be a JSON object, not {_json_kind(value)}")
    return value


def parse_batch(raw: bytes | bytearray, *, max_items: int) -> list[Any]:
    """Parse a JSON array of 1..max_items items; the whole body is rejected otherwise."""
    if not raw or raw.isspace():
        raise BadRequest("request body is empty; send a JSON array of events")
    # Checked before parsing, so its scratch copies never coexist with the parsed items.
    long_digits = _has_long_digit_run(raw)
    try:
        batch = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc
    if long_digits and isinstance(batch, list):
        batch = _flag_big_integers(raw, batch)
    if not isinstance(batch, list):
        raise BadRequest(f"request body must be a JSON array of events, not {_json_kind(batch)}")
    if not batch:
        raise BadRequest(f"request body is an empty array; send 1 to {max_items} events")
    if len(batch) > max_items:
        raise BadRequest(f"batch has {len(batch)} items; at most {max_items} are allowed")
    return batch


# orjson turns integers beyond 64 bits into floats, silently changing them. A run of 19
# digits is the cheap sign that one may be present (anywhere, strings included); only then
# is the body parsed again, exactly, to find the items that hold one. translate + `in` runs
# in C at ~1 GB/s, where a regex took 3 ms for a 70 KB body.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGIT_RUN = b"0" * 19
_SCAN_WINDOW = 1 << 20  # bounded scratch memory, whatever the body size


def _has_long_digit_run(raw: bytes | bytearray) -> bool:
    overlap = len(_LONG_DIGIT_RUN) - 1
    for start in range(0, len(raw), _SCAN_WINDOW):
        window = raw[max(0, start - overlap) : start + _SCAN_WINDOW]
        if _LONG_DIGIT_RUN in window.translate(_DIGITS_TO_ZERO):
            return True
    return False


_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


class _BigInt(int):
    pass


def _exact_int(text: str) -> int:
    value = int(text)
    return value if _INT64_MIN <= value <= _UINT64_MAX else _BigInt(value)


def _flag_big_integers(raw: bytes | bytearray, batch: list[Any]) -> list[Any]:
    try:
        exact = json.loads(raw, parse_int=_exact_int)
    except (ValueError, RecursionError):
        return batch  # orjson accepted it; keep orjson's reading
    if not isinstance(exact, list) or len(exact) != len(batch):
        return batch
    flagged = []
    for parsed, item in zip(exact, batch, strict=True):
        big = _find_big_integer(parsed)
        flagged.append(
            item
            if big is None
            else Unrepresentable(f"integer {str(big)[:40]} does not fit in 64 bits")
        )
    return flagged


def _find_big_integer(value: Any) -> int | None:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, _BigInt):
            return int(node)
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def _json_kind(value: Any) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    kinds[type(None)] = "null"
    return kinds.get(type(value), "a number")


# Where one object item may end and the next begin. Such text may also sit inside a string;
# then the bytes before it are not a whole JSON value (they end inside that string), and
# the next candidate is tried.
_BETWEEN_OBJECTS = re.compile(rb"\}[ \t\r\n]*,[ \t\r\n]*\{")  # JSON whitespace only
_WHITESPACE = b" \t\r\n"
# Parse attempts may read at most this many times the body before giving up on splitting.
_MAX_READ_FACTOR = 3


class _NotSplit(Exception):
    """The body is not a plain array of objects (or is wrong): parse it whole instead."""


def _item_by_item(raw: bytearray, max_items: int) -> Iterator[Any]:
    """Yield the items of `raw`, parsing each alone; anything unusual is parsed whole.

    An object item is found by trying orjson on the bytes up to each `},{` in turn: the
    first that parse are that item, since a prefix of a JSON object that ends inside one
    of its strings is never a whole JSON value. The whole-body path takes over, from the
    item reached, for what this one does not handle: items that are not objects, too many
    items, integers beyond 64 bits, and every malformed body (for parse_batch's message).
    """
    yielded = 0
    view = memoryview(raw)
    try:
        try:
            for item in _split_objects(raw, view, max_items):
                yield item
                yielded += 1
            return
        except _NotSplit:
            view.release()
        rest = parse_batch(raw, max_items=max_items)[yielded:]
        raw.clear()
        rest.reverse()
        while rest:
            yield rest.pop()
    finally:
        view.release()
        raw.clear()


def _split_objects(raw: bytearray, view: memoryview, max_items: int) -> Iterator[Any]:
    if _has_long_digit_run(raw):
        raise _NotSplit  # exact integers need the whole-body path
    start = _skip_whitespace(raw, 0)
    if raw[start : start + 1] != b"[":
        raise _NotSplit
    start = _skip_whitespace(raw, start + 1)
    close = _last_non_whitespace(raw)
    if raw[start : start + 1] != b"{" or raw[close : close + 1] != b"]" or close < start:
        raise _NotSplit
    budget = _MAX_READ_FACTOR * len(raw)
    count = 0
    for match in _BETWEEN_OBJECTS.finditer(raw, start, close):
        end = match.start() + 1
        budget -= end - start
        if budget < 0:
            raise _NotSplit
        try:
            item = orjson.loads(view[start:end])
        except orjson.JSONDecodeError:
            continue  # that `},{` was inside a string
        count += 1
        if count > max_items:
            raise _NotSplit
        yield item
        start = match.end() - 1
    try:
        item = orjson.loads(view[start:close])
    except orjson.JSONDecodeError:
        raise _NotSplit from None
    if count + 1 > max_items:
        raise _NotSplit
    yield item


def _skip_whitespace(raw: bytearray, position: int) -> int:
    while position < len(raw) and raw[position] in _WHITESPACE:
        position += 1
    return position


def _last_non_whitespace(raw: bytearray) -> int:
    position = len(raw) - 1
    while position >= 0 and raw[position] in _WHITESPACE:
        position -= 1
    return position
