"""Scenario 4: does memory stay bounded on a long live run?"""

from __future__ import annotations

from harness import Runs, Scenario, SimulatorSpec, Size, Target, fmt
from harness import contestants as c

MAX_RSS_MB = 250.0


def _rss(runs: Runs) -> float | None:
    return runs.median(c.BATCHTOOL_LIVE, lambda r: r.rss_mb)


def _notes(runs: Runs) -> list[str]:
    worst = max((r.rss_mb for r in runs.ok(c.BATCHTOOL_LIVE)), default=None)
    return [f"- worst rep: {fmt(worst, '.0f', ' MB')}"]


SCENARIO = Scenario(
    number=4,
    name="live-memory",
    title="{rows:,}-row live run at 0 ms: peak RSS",
    question="Does memory stay bounded on a long live run?",
    rows=Size(full=150_000, quick=20_000),
    simulator=SimulatorSpec(latency_ms=0),
    contestants=lambda setup: [c.batchtool_live()],
    targets=[
        Target(
            f"{{rows:,}}-row live run: peak RSS ≤ {MAX_RSS_MB:g} MB",
            _rss,
            lambda v: v <= MAX_RSS_MB,
            spec=".0f",
            unit=" MB",
        ),
    ],
    notes=_notes,
)
