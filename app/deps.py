"""Request dependencies as Annotated aliases: resources, a pooled connection, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request

from app import auth
from app.lifespan import Resources
from app.pool import connection

# Dependencies are all `async def`: a plain `def` would be sent to the thread pool.

API_KEY_HEADER = "X-Clone-API-Key"
API_KEY_HEADER_RAW = API_KEY_HEADER.lower().encode()
# openapi.py documents both on every operation under the API prefix (each reads the key).
SECURITY_SCHEMES = {
    "ApiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": "An API key from `clone-recording keys create USER`.",
    },
    "BearerKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "The same API key as `Authorization: Bearer <key>`.",
    },
}


def resources_of(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def get_resources(request: Request) -> Resources:
    return resources_of(request)


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_conn(resources: ResourcesDep) -> AsyncIterator[Any]:
    async with connection(resources.pool, resources.settings) as conn:
        yield conn


ConnDep = Annotated[Any, Depends(get_conn)]


def headers_of(request: Request) -> dict[bytes, bytes]:
    """The request's headers by (lowercase) name, the first of each, in one pass.

    Starlette's `Headers.get` scans the list for each name and raises KeyError inside for
    an absent one; ingest reads four headers, most of them absent, on every request.
    """
    found: dict[bytes, bytes] = {}
    for name, value in request.scope["headers"]:
        found.setdefault(name, value)
    return found


def header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None


def get_credential(request: Request, headers: dict[bytes, bytes] | None = None) -> auth.Credential:
    """The presented key, not yet checked; a missing one is refused before anything else.

    Read from the headers here rather than by FastAPI's security classes, which cost a
    dependency each on every request. Plain, so the ingest route calls it directly.
    """
    headers = headers_of(request) if headers is None else headers
    key = header(headers, API_KEY_HEADER_RAW)
    if not key:
        scheme, _, credentials = (header(headers, b"authorization") or "").partition(" ")
        if scheme.lower() == "bearer":
            key = credentials.strip()
    return auth.credential(key)


async def _credential_dep(request: Request) -> auth.Credential:
    return get_credential(request)


CredentialDep = Annotated[auth.Credential, Depends(_credential_dep)]


async def get_current_user(given: CredentialDep, conn: ConnDep) -> int:
    """The caller of a read: a `read` or `all` key (an ingest key is a 403)."""
    return await auth.verify(conn, given, need="read")


async def get_any_user(given: CredentialDep, conn: ConnDep) -> int:
    """The caller of what any key may do (lookup, a session's resume point)."""
    return await auth.verify(conn, given, need="any")


async def get_full_user(given: CredentialDep, conn: ConnDep) -> int:
    """The caller of what neither sends nor reads (deleting): an `all` key only."""
    return await auth.verify(conn, given, need="all")


CurrentUser = Annotated[int, Depends(get_current_user)]
FullKeyUser = Annotated[int, Depends(get_full_user)]
AnyKeyUser = Annotated[int, Depends(get_any_user)]
