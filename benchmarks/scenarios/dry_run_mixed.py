"""Scenario 8: the dry run on the file shape of issue 9 — 7 columns, mixed operations."""

from __future__ import annotations

import gen_data
from harness import Inputs, Runs, Scenario, Size, Target, fmt
from harness import contestants as c

MAX_RSS_MB = 300.0
MIN_ROWS_PER_S = 400_000.0


def _rss(runs: Runs) -> float | None:
    return runs.median(c.BATCHTOOL_DRY, lambda r: r.rss_mb)


def _rows_per_s(runs: Runs) -> float | None:
    return runs.median(c.BATCHTOOL_DRY, lambda r: r.rows_per_s)


def _notes(runs: Runs) -> list[str]:
    slow = runs.pair(c.BATCHTOOL_DRY, c.FLOOR, lambda a, b: a.wall_s / b.wall_s)
    mem = runs.pair(c.BATCHTOOL_DRY, c.FLOOR, lambda a, b: a.rss_mb / b.rss_mb)
    return [
        "- the whole process, start-up, the private copy of the input, validation, the "
        "results file and the summary included",
        f"- batchtool dry-run wall time ÷ polars floor: **{fmt(slow, '.2f', 'x')}**",
        f"- batchtool dry-run peak RSS ÷ polars floor: **{fmt(mem, '.2f', 'x')}**",
    ]


SCENARIO = Scenario(
    number=8,
    name="dry-run-mixed",
    title="{rows:,}-row dry run of a 7-column file with mixed operations, to Parquet",
    question=(
        "How fast is the dry run on issue 9's file: every fourth row a set with all fields, "
        "the others lock/unlock/forget with only the id?"
    ),
    rows=Size(full=1_000_000, quick=100_000),
    inputs=lambda rows: Inputs(gen_data.ensure_mixed(rows)),
    contestants=lambda setup: [c.batchtool_dry(), c.polars_floor()],
    targets=[
        Target(
            f"{{rows:,}}-row mixed dry run: peak RSS ≤ {MAX_RSS_MB:g} MB",
            _rss,
            lambda v: v <= MAX_RSS_MB,
            spec=".0f",
            unit=" MB",
        ),
        Target(
            f"{{rows:,}}-row mixed dry run: ≥ {MIN_ROWS_PER_S:,.0f} rows/s",
            _rows_per_s,
            lambda v: v >= MIN_ROWS_PER_S,
            spec=",.0f",
            unit=" rows/s",
        ),
    ],
    notes=_notes,
)
