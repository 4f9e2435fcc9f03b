"""Scenario 3: how fast and how lean is reading + validating + writing a huge file?"""

from __future__ import annotations

from harness import Runs, Scenario, Size, Target, fmt
from harness import contestants as c

MAX_RSS_MB = 300.0
MIN_ROWS_PER_S = 250_000.0


def _rss(runs: Runs) -> float | None:
    return runs.median(c.BATCHTOOL_DRY, lambda r: r.rss_mb)


def _rows_per_s(runs: Runs) -> float | None:
    return runs.median(c.BATCHTOOL_DRY, lambda r: r.rows_per_s)


def _notes(runs: Runs) -> list[str]:
    slow = runs.pair(c.BATCHTOOL_DRY, c.FLOOR, lambda a, b: a.wall_s / b.wall_s)
    mem = runs.pair(c.BATCHTOOL_DRY, c.FLOOR, lambda a, b: a.rss_mb / b.rss_mb)
    return [
        f"- batchtool dry-run wall time ÷ polars floor: **{fmt(slow, '.2f', 'x')}**",
        f"- batchtool dry-run peak RSS ÷ polars floor: **{fmt(mem, '.2f', 'x')}**",
    ]


SCENARIO = Scenario(
    number=3,
    name="dry-run",
    title="{rows:,}-row dry run to Parquet",
    question="How fast and how lean is reading + validating + writing a huge file?",
    rows=Size(full=1_000_000, quick=100_000),
    contestants=lambda setup: [c.batchtool_dry(), c.polars_floor()],
    targets=[
        Target(
            f"{{rows:,}}-row dry run: peak RSS ≤ {MAX_RSS_MB:g} MB",
            _rss,
            lambda v: v <= MAX_RSS_MB,
            spec=".0f",
            unit=" MB",
        ),
        Target(
            f"{{rows:,}}-row dry run: ≥ {MIN_ROWS_PER_S:,.0f} rows/s",
            _rows_per_s,
            lambda v: v >= MIN_ROWS_PER_S,
            spec=",.0f",
            unit=" rows/s",
        ),
    ],
    notes=_notes,
)
