"""Rate limits per key: a token bucket of events, shared by every worker through PostgreSQL.

On only when RATE_LIMIT_PER_S is set (the default for keys without their own limit): the
check is one more round trip per sending request, which a deployment without limits does
not pay. Over the limit: 429 with Retry-After and RateLimit-* headers, nothing written.
"""

from __future__ import annotations

import math

from app.auth import Credential
from app.errors import TooManyRequests
from app.lifespan import Resources
from app.pool import connection
from app.repository import api_keys as keys_repo


async def take(resources: Resources, caller: Credential, events: int) -> None:
    """Take `events` tokens from the caller's bucket, or raise TooManyRequests."""
    settings = resources.settings
    if settings.rate_limit_per_s is None:
        return
    async with connection(resources.pool, settings) as conn:
        allowed, tokens, rate, burst = await keys_repo.take_tokens(
            conn,
            caller.prefix,
            caller.digest,
            events,
            settings.rate_limit_per_s,
            settings.rate_limit_burst,
        )
    if allowed or tokens is None or rate is None or burst is None:
        return
    wait = max(1, math.ceil((min(events, burst) - tokens) / rate))
    raise TooManyRequests(
        f"rate limit: {rate:g} events/s, bursts of {burst:g}, for this key; retry after {wait} s",
        headers={
            "Retry-After": str(wait),
            "RateLimit-Limit": f"{burst:g}",
            "RateLimit-Remaining": str(max(0, int(tokens))),
            "RateLimit-Reset": str(wait),
        },
    )
