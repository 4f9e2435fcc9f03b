"""Scenario 5: what does durability cost? batchtool with its journal and without."""

from __future__ import annotations

from harness import Runs, Scenario, SimulatorSpec, Size, Target, fmt
from harness import contestants as c

NO_JOURNAL = "batchtool --no-journal"
MIN_THROUGHPUT = 0.9  # issue 5: the journal costs under 10% of throughput


def _kept(runs: Runs) -> float | None:
    """Throughput with the journal ÷ without."""
    return runs.pair(c.BATCHTOOL_LIVE, NO_JOURNAL, lambda a, b: b.wall_s / a.wall_s)


def _notes(runs: Runs) -> list[str]:
    extra = runs.pair(c.BATCHTOOL_LIVE, NO_JOURNAL, lambda a, b: a.cpu_per_1k - b.cpu_per_1k)
    return [
        f"- throughput with journal ÷ without: **{fmt(_kept(runs), '.2f', 'x')}**",
        f"- journal's CPU cost: **{fmt(extra, '+.3f', ' CPU s per 1k rows')}**",
    ]


SCENARIO = Scenario(
    number=5,
    name="journal-cost",
    title="Journal cost at 0 ms — {rows:,} rows",
    question="What does durability cost?",
    rows=Size(full=10_000, quick=2_000),
    simulator=SimulatorSpec(latency_ms=0),
    requires=("batchtool run --no-journal",),
    contestants=lambda setup: [
        c.batchtool_live(),
        c.batchtool_live(NO_JOURNAL, extra=["--no-journal"]),
    ],
    targets=[
        Target(
            f"0 ms: with journal ≥ {MIN_THROUGHPUT:g}x the throughput",
            _kept,
            lambda v: v >= MIN_THROUGHPUT,
        ),
    ],
    notes=_notes,
)
