"""The app factory: lifespan, middleware, routers and the one place errors become responses."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api import OrjsonResponse, events, health, hooks, otlp, sessions
from app.api.direct import DirectRoutes
from app.errors import ServiceError
from app.lifespan import build_lifespan
from app.middleware import ObserveMiddleware, TrailingSlashMiddleware
from app.openapi import install_openapi
from app.pool import unavailable
from app.repository import UNAVAILABLE_ERRORS
from app.settings import Settings, get_settings

log = logging.getLogger("app")

DESCRIPTION = """
Producers (CLIs, terminals, IDEs, AI coding agents) push batches of events; each is validated
against the CloneEvent schema, stored once (idempotent on its `id`) under a session owned by
the producer's user, and can be read back. Authenticate with `X-Clone-API-Key: <key>` or
`Authorization: Bearer <key>`.
"""


def _error_response(status: int, detail: str, headers: Mapping[str, str] | None = None) -> Response:
    return OrjsonResponse({"detail": detail}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI, settings: Settings) -> None:
    async def service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceError)
        return _error_response(exc.status, exc.detail, exc.headers)

    async def request_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        reasons = [
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        ]
        return _error_response(400, "; ".join(reasons) or "invalid request")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return _error_response(exc.status_code, str(exc.detail), exc.headers)

    async def database_unavailable(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        error = unavailable(settings)
        return _error_response(error.status, error.detail, error.headers)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_response(500, "internal server error")

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for error_class in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error_class, database_unavailable)
    app.add_exception_handler(Exception, unexpected)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Recording",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=build_lifespan(settings),
        redirect_slashes=False,
        # Metrics and logs are our own (Prometheus, JSON lines); with OpenTelemetry off,
        # FastAPI stops asking for its providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.include_router(events.router)
    app.include_router(hooks.router)
    app.include_router(otlp.router)
    app.include_router(sessions.router)
    app.include_router(health.router)
    _install_error_handlers(app, settings)
    install_openapi(app)
    # Innermost: inside the logs, metrics and slashes.
    app.add_middleware(DirectRoutes, routers=[events.router, hooks.router, otlp.router])
    app.add_middleware(ObserveMiddleware)
    app.add_middleware(TrailingSlashMiddleware)
    return app


app = create_app()
