"""Adaptive concurrency end to end: a default run against the simulator's busy model (a few
workers, a short queue, 503 for the rest) loses no row, where a fixed high concurrency does."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from batchtool import Credentials, DispatchConfig, run_batch_async
from batchtool.events import Event, RunProgress
from batchtool.simulator import FaultConfig, Simulator

ROWS = 400


def write_input(path: Path) -> Path:
    # 40 customers with 10 rows each, alternating lock and unlock: order is visible.
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["operation", "customer_id"])
        for i in range(ROWS):
            writer.writerow(["lock" if (i // 40) % 2 == 0 else "unlock", str(1 + i % 40)])
    return path


def busy_server() -> Simulator:
    return Simulator(customers=40, faults=FaultConfig(latency_ms=5), workers=3, queue=1)


async def test_the_default_run_against_a_busy_server_loses_no_row(tmp_path: Path) -> None:
    src = write_input(tmp_path / "in.csv")
    out = tmp_path / "in.results.csv"
    events: list[Event] = []
    async with busy_server() as sim:
        report = await run_batch_async(
            src,
            credentials=Credentials(sim.base_url, sim.api_username, sim.api_key),
            results_path=out,
            on_event=events.append,
            progress_interval_s=0.05,
        )
        statuses = sim.statuses
        log = sim.log
    assert report.exit_code == 0, report.summary
    assert report.summary.counts == {"ok": ROWS}
    assert statuses[200] == ROWS
    # The limit is shown as it goes, and its average is in the report.
    shown = [e.concurrency for e in events if isinstance(e, RunProgress)]
    assert shown and all(limit is not None and 1 <= limit <= 64 for limit in shown)
    assert report.mean_concurrency is not None and 1 <= report.mean_concurrency <= 64
    # Each customer's requests reached the server in file order, none after a later one.
    applied: dict[str, list[str]] = defaultdict(list)
    for entry in log:
        if entry.applied and entry.lookup is not None:
            applied[entry.lookup[1]].append(entry.operation)
    assert all(ops == ["lock", "unlock"] * 5 for ops in applied.values())
    assert len(applied) == 40


async def test_a_fixed_high_concurrency_without_retries_loses_rows_there(tmp_path: Path) -> None:
    # The same server and file: what the default protects against.
    src = write_input(tmp_path / "in.csv")
    out = tmp_path / "in.results.csv"
    async with busy_server() as sim:
        report = await run_batch_async(
            src,
            credentials=Credentials(sim.base_url, sim.api_username, sim.api_key),
            results_path=out,
            dispatch_config=DispatchConfig(concurrency=32, max_attempts=1),
        )
        statuses = sim.statuses
    assert report.exit_code == 1
    assert statuses[503] > 0
    assert report.summary.counts.get("failed", 0) == statuses[503]
