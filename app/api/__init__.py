"""HTTP routers; they choose status codes and answer with orjson-rendered JSON."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

API_PREFIX = "/api/recording"


class OrjsonResponse(Response):
    """JSON via orjson: UTC datetimes as RFC 3339 with `Z`, stored payloads passed through."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)
