"""Audit lines: who created or revoked a key, who deleted what. One JSON line each, on the
`recording.audit` logger, never with a key or a payload."""

from __future__ import annotations

import logging
from typing import Any

audit_log = logging.getLogger("recording.audit")


def record(action: str, **facts: Any) -> None:
    audit_log.info(action, extra={"audit": action, **facts})
