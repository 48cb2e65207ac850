"""Architecture rules: SQL and asyncpg stay in the repository layer."""

from __future__ import annotations

import re
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
ALLOWED = {"pool.py"}
SQL = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b")


def test_sql_and_asyncpg_live_only_in_the_repository() -> None:
    offenders = []
    for path in APP.rglob("*.py"):
        relative = path.relative_to(APP)
        if relative.parts[0] == "repository" or relative.name in ALLOWED:
            continue
        text = path.read_text()
        if "asyncpg" in text or SQL.search(text):
            offenders.append(str(relative))
    assert offenders == []
