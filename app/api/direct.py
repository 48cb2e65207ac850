"""Direct routes: the ingest endpoints, served without FastAPI's per-request machinery.

A 1-event batch is a small request, and most of its Python went to layers it does not
use: dependency solving and response handling, the exception and exit-stack middleware,
the router's match over every route, and Starlette's request/response wrapping. The
routes stay declared on the app, so the OpenAPI document and every other method or path
are FastAPI's as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send


class DirectRoute(APIRoute):
    """A route that DirectRoutes answers: its endpoint takes only the Request and returns
    its Response itself. FastAPI still documents it from its declaration."""


class DirectRoutes:
    """Middleware that answers the DirectRoutes of `routers` itself, by method and path.

    It sits inside the app's own middleware (request ids, access log, metrics, trailing
    slashes), so those see these requests as before. An exception goes to the handler the
    app registered for its class, as the exception middleware would send it; one without a
    handler propagates to the server-error middleware, as before. The routers must be
    included in the app as they are (no added prefix), so their paths are the app's.
    """

    def __init__(self, app: ASGIApp, routers: Iterable[APIRouter]) -> None:
        self.app = app
        self.routes = {
            (method, route.path): route
            for router in routers
            for route in router.routes
            if isinstance(route, DirectRoute)
            for method in route.methods or ()
        }
        for route in self.routes.values():
            assert not route.param_convertors, f"{route.path}: a direct route has no parameters"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.routes.get((scope["method"], scope["path"]))
            if route is not None:
                scope["route"] = route
                await _serve(route, scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _serve(route: DirectRoute, scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive, send)
    try:
        response: Response = await route.endpoint(request)
    except Exception as exc:
        handler = _handler_for(scope["app"].exception_handlers, exc)
        if handler is None:
            raise
        response = await handler(request, exc)
    await response(scope, receive, send)


def _handler_for(handlers: dict[Any, Any], exc: Exception) -> Any:
    """The app's handler for this exception's class, as Starlette's exception middleware
    finds it; the catch-all (Exception) belongs to the server-error middleware."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None
