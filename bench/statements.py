"""The two store statements side by side: the lean one (all new) against the full one.

Each round stores `--count` groups of new events one after the other on one connection,
once with each statement (in alternating order), and takes the median time of a statement
as the client sees it: PostgreSQL's work, its commit and the round trip. The host's speed
drifts within minutes, so the figure is the ratio within each round, then its median.

    .venv/bin/python bench/statements.py --batch 1 --group 1 4 --rounds 5

Like run.py it makes a fresh database (DATABASE_URL's server, else an embedded one).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import auth, repository
from app.repository import batches
from app.validation import Event, EventValidator, load_schema
from bench.openloop import TEXT
from bench.run import create_user, fresh_database

VALIDATOR = EventValidator(load_schema(), max_event_bytes=1024 * 1024)


def event(run: str, n: int) -> Event:
    """The event the service would store for this item (its payload, its digest)."""
    item = {"id": f"{run}-{n}", "session_id": f"{run}-s{n % 512}", "type": "note",
            "source": "agent", "occurred_at": "2026-05-05T12:00:00Z", "text": TEXT}  # fmt: skip
    made = VALIDATOR.check(0, item)
    assert isinstance(made, Event), made
    return made


Store = Callable[[Any, batches.Rows], Awaitable[list[batches.Stored] | None]]


async def median_ms(
    conn: Any, store: Store, caller: auth.Credential, group: int, batch: int, count: int
) -> float:
    run = uuid.uuid4().hex[:10]
    times = []
    for i in range(count):
        # Batches of a group hold distinct sessions, as the group committer makes them.
        rows = batches.pack(
            [
                batches.Batch(caller, [event(f"{run}-{i}-{j}", k) for k in range(batch)])
                for j in range(group)
            ]
        )
        start = time.perf_counter()
        outcomes = await store(conn, rows)
        times.append(time.perf_counter() - start)
        assert outcomes is not None and [o.count for o in outcomes] == [batch] * group
    return statistics.median(times) * 1000


async def measure(url: str, args: argparse.Namespace) -> None:
    _, key = await create_user(url, "statements")
    caller = auth.credential(key)
    conn = await repository.connect(url)
    statements: dict[str, Store] = {"lean": batches.store_new, "full": batches.store_all}
    try:
        for group in args.group:
            for store in statements.values():  # warm up
                await median_ms(conn, store, caller, group, args.batch, 50)
            ratios = []
            for round_ in range(args.rounds):
                order = list(statements) if round_ % 2 == 0 else list(reversed(statements))
                found = {
                    name: await median_ms(
                        conn, statements[name], caller, group, args.batch, args.count
                    )
                    for name in order
                }
                ratios.append(found["lean"] / found["full"])
                print(
                    f"{group} x {args.batch}-event batches, round {round_ + 1}: "
                    f"lean {found['lean']:.3f} ms, full {found['full']:.3f} ms",
                    flush=True,
                )
            print(f"lean/full, median of rounds: {statistics.median(ratios):.3f}", flush=True)
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=1, help="events per batch")
    parser.add_argument("--group", type=int, nargs="+", default=[1, 4], help="batches per group")
    parser.add_argument("--count", type=int, default=400, help="statements per measure")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with fresh_database() as url:
        asyncio.run(measure(url, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
