"""What the dry-run scenarios (3 and 8) share: batchtool --dry-run beside polars alone, the
memory and speed targets, and the ratios to the floor."""

from __future__ import annotations

from collections.abc import Callable

from harness import Contestant, Runs, Setup, Target, fmt
from harness import contestants as c


def contestants(setup: Setup) -> list[Contestant]:
    return [c.batchtool_dry(), c.polars_floor()]


def targets(label: str, max_rss_mb: float, min_rows_per_s: float) -> list[Target]:
    """Peak RSS and whole-process rows/s of batchtool's dry run; ``label`` names the run."""
    return [
        Target(
            f"{{rows:,}}-row {label}: peak RSS ≤ {max_rss_mb:g} MB",
            lambda runs: runs.median(c.BATCHTOOL_DRY, lambda r: r.rss_mb),
            lambda v: v <= max_rss_mb,
            spec=".0f",
            unit=" MB",
        ),
        Target(
            f"{{rows:,}}-row {label}: ≥ {min_rows_per_s:,.0f} rows/s",
            lambda runs: runs.median(c.BATCHTOOL_DRY, lambda r: r.rows_per_s),
            lambda v: v >= min_rows_per_s,
            spec=",.0f",
            unit=" rows/s",
        ),
    ]


def notes(first: tuple[str, ...] = ()) -> Callable[[Runs], list[str]]:
    """The report's lines under the table: ``first``, then the ratios to the polars floor."""

    def lines(runs: Runs) -> list[str]:
        slow = runs.pair(c.BATCHTOOL_DRY, c.FLOOR, lambda a, b: a.wall_s / b.wall_s)
        mem = runs.pair(c.BATCHTOOL_DRY, c.FLOOR, lambda a, b: a.rss_mb / b.rss_mb)
        return [
            *first,
            f"- batchtool dry-run wall time ÷ polars floor: **{fmt(slow, '.2f', 'x')}**",
            f"- batchtool dry-run peak RSS ÷ polars floor: **{fmt(mem, '.2f', 'x')}**",
        ]

    return lines
