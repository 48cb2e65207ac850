"""Plot events/s against batch size and against connections from a bench result file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(result_path: str, image_path: str) -> None:
    results = json.loads(Path(result_path).read_text())
    runs = [r for r in results["runs"] if r["name"].startswith("ingest") and "dup" not in r["name"]]
    ceiling = results["ceiling"]["rows_per_s"]
    connections = results["settings"]["connections"]
    by_batch = sorted((r["batch"], r) for r in runs if r["connections"] == connections)
    by_conns = sorted((r["connections"], r) for r in runs if r["batch"] == 100)

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for axis, points, label in (
        (left, by_batch, "events per batch"),
        (right, by_conns, "keep-alive connections (100-event batches)"),
    ):
        xs = [x for x, _ in points]
        axis.plot(xs, [r["events_per_s"] for _, r in points], "o-", label="service, events/s")
        axis.axhline(ceiling, color="grey", linestyle="--", label="PostgreSQL unnest ceiling")
        axis.axhline(0.4 * ceiling, color="grey", linestyle=":", label="40% of the ceiling")
        twin = axis.twinx()
        twin.plot(xs, [r["p99_ms"] for _, r in points], "s--", color="tab:red", label="p99 ms")
        twin.set_ylabel("p99 latency (ms)", color="tab:red")
        axis.set_xscale("log")
        axis.set_xticks(xs, [str(x) for x in xs])
        axis.set_xlabel(label)
        axis.set_ylabel("events/s")
        axis.set_ylim(bottom=0)
        axis.legend(loc="upper left", fontsize=8)
    left.set_title(f"Batch size ({connections} connections)")
    right.set_title("Connections")
    workers = results["settings"]["workers"]
    figure.suptitle(
        f"Recording ingest, {workers} workers, {results['machine']['cores']} cores "
        f"shared with PostgreSQL ({results['when']})"
    )
    figure.tight_layout()
    figure.savefig(image_path, dpi=110)
    print(f"plot written to {image_path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
