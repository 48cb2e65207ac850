"""schemathesis against our own OpenAPI document and a live server: no 5xx, every answer
as documented. Bounded: a few dozen examples per operation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.faults.test_process_faults import new_key
from tests.live import Service

pytestmark = pytest.mark.in_process

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def live(database_url: str) -> Iterator[tuple[Service, str]]:
    service = Service({**os.environ, "DATABASE_URL": database_url})
    try:
        yield service, new_key(database_url)
    finally:
        service.stop()


def operations(service: Service) -> list[Any]:
    document = httpx.get(f"{service.base}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    return [result.ok() for result in schema.get_all_operations()]


def test_no_server_errors_and_documented_answers(live: tuple[Service, str]) -> None:
    """Each operation in turn (schemathesis's pytest plugin predates pytest 9)."""
    service, key = live
    found = operations(service)
    assert len(found) == 13
    statuses: list[int] = []
    for operation in found:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def exercise(case: Any) -> None:
            response = case.call_and_validate(
                base_url=service.base,
                headers={"X-Clone-API-Key": key},
                checks=CHECKS,
                timeout=30,
            )
            statuses.append(response.status_code)

        exercise()
    assert len(statuses) > 50
    # Into storage (201), back out (200) and past ownership checks (404). A 400 is left out:
    # only a generated `after` cursor gives one, in ~1 of 10 cases, so 30 examples missed it
    # in about one run of ten; bad cursors have their own tests in tests/api.
    assert {200, 201, 404} <= set(statuses)
