"""Scenario 3: how fast and how lean is reading + validating + writing a huge file?"""

from __future__ import annotations

from harness import Scenario, Size

from scenarios import _dry_run

SCENARIO = Scenario(
    number=3,
    name="dry-run",
    title="{rows:,}-row dry run to Parquet",
    question="How fast and how lean is reading + validating + writing a huge file?",
    rows=Size(full=1_000_000, quick=100_000),
    contestants=_dry_run.contestants,
    targets=_dry_run.targets("dry run", max_rss_mb=300.0, min_rows_per_s=250_000.0),
    notes=_dry_run.notes(),
)
