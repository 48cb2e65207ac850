"""The one error hierarchy of the service: each error knows its status and JSON detail."""

from __future__ import annotations


class ServiceError(Exception):
    """An error that becomes `{"detail": ...}` with `status` (and `headers`) at the edge."""

    status = 500

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class BadRequest(ServiceError):
    status = 400


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class PayloadTooLarge(ServiceError):
    status = 413


class UnsupportedMediaType(ServiceError):
    status = 415


class TooManyRequests(ServiceError):
    status = 429


class Unavailable(ServiceError):
    status = 503
