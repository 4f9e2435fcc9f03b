"""Scenario 1: how fast against a slow server (20 ms per answer)?"""

from __future__ import annotations

from harness import CONCURRENCY, Scenario, SimulatorSpec, Size, Target

from scenarios import _throughput

MIN_VS_BARE = 0.9  # batchtool's throughput ≥ 0.9x the bare script's
MIN_VS_LOOP = 40.0  # and ≥ 40x the vendor's sequential loop

SCENARIO = Scenario(
    number=1,
    name="throughput-20ms",
    title=f"Throughput at 20 ms latency — {{rows:,}} rows, concurrency {CONCURRENCY}",
    question="How fast against a slow server?",
    rows=Size(full=10_000, quick=2_000),
    simulator=SimulatorSpec(latency_ms=20),
    contestants=_throughput.contestants(loop_rows=Size(full=300, quick=100)),
    targets=[
        Target(
            f"20 ms: ≥ {MIN_VS_BARE}x bare aiohttp throughput",
            _throughput.vs_bare,
            lambda v: v >= MIN_VS_BARE,
        ),
        Target(
            f"20 ms: ≥ {MIN_VS_LOOP:g}x sequential loop",
            _throughput.vs_loop,
            lambda v: v >= MIN_VS_LOOP,
            spec=".1f",
        ),
    ],
    notes=_throughput.notes,
)
