"""Scenario 8: the dry run on the file shape of issue 9 — 7 columns, mixed operations."""

from __future__ import annotations

import gen_data
from harness import Inputs, Scenario, Size

from scenarios import _dry_run

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
    contestants=_dry_run.contestants,
    targets=_dry_run.targets("mixed dry run", max_rss_mb=300.0, min_rows_per_s=400_000.0),
    notes=_dry_run.notes(
        (
            "- the whole process: start-up, the private copy of the input, validation, the "
            "results file and the summary",
        )
    ),
)
