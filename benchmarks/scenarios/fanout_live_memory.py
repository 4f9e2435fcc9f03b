"""Scenario 20: does a long live run to three installations stay about as lean as to one?"""

from __future__ import annotations

from harness import CONCURRENCY, Scenario, SimulatorSpec, Size, Target

from scenarios import _fanout

MAX_RATIO = 1.5  # issue 18: peak RSS ≤ 1.5x the same run to one installation

SCENARIO = Scenario(
    number=20,
    name="fanout-live-memory",
    title=f"{{rows:,}}-row live run at 0 ms to 3 installations, concurrency {CONCURRENCY} "
    "each: peak RSS",
    question="Does a long live run to three installations stay about as lean as one to one?",
    rows=Size(full=150_000, quick=10_000),
    simulator=SimulatorSpec(latency_ms=0),
    services=_fanout.other_installations(0),
    contestants=lambda setup: [_fanout.live(1, CONCURRENCY), _fanout.live(3, CONCURRENCY)],
    targets=[
        Target(
            f"{{rows:,}}-row live run to 3 installations: peak RSS ≤ {MAX_RATIO}x one's",
            _fanout.rss_ratio,
            lambda v: v <= MAX_RATIO,
        ),
    ],
    notes=_fanout.rss_notes(
        "each installation streams its rows from polars in batches of its own, and has its "
        "own engine buffer and connection pool"
    ),
    timeout_s=900.0,
)
