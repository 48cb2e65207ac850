"""HTTP routers; they choose status codes and answer with orjson-rendered JSON."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

from app import validation
from app.errors import NotFound

API_PREFIX = "/api/recording"


def require_known(identifier: str, what: str) -> None:
    """A path id that breaks the id rules names nothing: 404 before any query (PostgreSQL
    text cannot even take U+0000, which once made such a GET a 500)."""
    if not validation.is_identifier(identifier):
        raise NotFound(f"{what} not found")


class OrjsonResponse(Response):
    """JSON via orjson: UTC datetimes as RFC 3339 with `Z`, stored payloads passed through."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)
