"""Scenario 19: does a dry run to three installations stay about as lean as one to one?"""

from __future__ import annotations

from harness import Scenario, Size, Target

from scenarios import _fanout

MAX_RATIO = 1.5  # issue 18: peak RSS ≤ 1.5x the same run to one installation

SCENARIO = Scenario(
    number=19,
    name="fanout-dry-memory",
    title="{rows:,}-row dry run to 3 installations, to Parquet: peak RSS",
    question="Does a dry run to three installations stay about as lean as one to one?",
    rows=Size(full=1_000_000, quick=100_000),
    contestants=lambda setup: [_fanout.dry(1), _fanout.dry(3)],
    targets=[
        Target(
            f"{{rows:,}}-row dry run to 3 installations: peak RSS ≤ {MAX_RATIO}x one's",
            _fanout.rss_ratio,
            lambda v: v <= MAX_RATIO,
        ),
    ],
    notes=_fanout.rss_notes(
        "the results file of three installations has three times the rows: one lazy "
        "concatenation streamed to disk, each installation's part reading the input for itself"
    ),
)
