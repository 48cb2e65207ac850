"""Liveness, readiness and metrics: no API key needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from app import metrics
from app.api import OrjsonResponse
from app.deps import ConnDep
from app.repository import ping
from app.schemas import Status, error_responses

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Status)
async def healthz() -> Any:
    """The process is up."""
    return OrjsonResponse({"status": "ok"})


@router.get("/readyz", response_model=Status, responses=error_responses(503))
async def readyz(conn: ConnDep) -> Any:
    """The database answers."""
    await ping(conn)
    return OrjsonResponse({"status": "ready"})


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def prometheus_metrics() -> Response:
    """Prometheus text exposition: ingest outcomes, request latency."""
    content, media_type = metrics.render()
    return Response(content, media_type=media_type)
