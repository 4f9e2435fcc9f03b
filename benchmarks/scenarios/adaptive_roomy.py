"""Scenario 7: on a server with room to spare, does the default get up to speed?

The server answers in 20 ms whatever the load. The default starts at 4 requests in flight and
must find its way up; ``--concurrency 64`` (the adaptive maximum) starts there.
"""

from __future__ import annotations

from harness import Column, Runs, Scenario, SimulatorSpec, Size, Target, fmt

from scenarios import _adaptive

FIXED = 64
MIN_VS_FIXED = 0.8


def _vs_fixed(runs: Runs) -> float | None:
    """The default's throughput ÷ --concurrency 64's, pair by pair."""
    return runs.pair(
        _adaptive.AUTO, f"batchtool --concurrency {FIXED}", lambda a, b: b.wall_s / a.wall_s
    )


def _notes(runs: Runs) -> list[str]:
    return [
        f"- default (auto) throughput ÷ --concurrency {FIXED}: "
        f"**{fmt(_vs_fixed(runs), '.2f', 'x')}**",
    ]


SCENARIO = Scenario(
    number=7,
    name="adaptive-roomy",
    title="Adaptive concurrency on a roomy server (20 ms, no limit) — {rows:,} rows",
    question="On a server with room to spare, does the default concurrency get up to speed?",
    rows=Size(full=8_000, quick=2_000),
    simulator=SimulatorSpec(latency_ms=20),
    contestants=lambda setup: [_adaptive.auto(), _adaptive.fixed(FIXED)],
    targets=[
        Target(
            f"roomy server: auto ≥ {MIN_VS_FIXED}x the throughput of --concurrency {FIXED}",
            _vs_fixed,
            lambda v: v >= MIN_VS_FIXED,
        ),
    ],
    after_run=_adaptive.count_answers,
    columns=[Column("refused (503/429)", "refused share", ".1%")],
    notes=_notes,
)
