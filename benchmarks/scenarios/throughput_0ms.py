"""Scenario 2: how much CPU does each row cost, when the server answers at once?"""

from __future__ import annotations

from harness import CONCURRENCY, Scenario, SimulatorSpec, Size, Target

from scenarios import _throughput

MAX_CPU_VS_BARE = 1.3  # batchtool's CPU per row ≤ 1.3x the bare script's

SCENARIO = Scenario(
    number=2,
    name="throughput-0ms",
    title=f"Throughput and CPU at 0 ms latency — {{rows:,}} rows, concurrency {CONCURRENCY}",
    question="How much CPU does each row cost? At 0 ms latency the client's CPU per row is "
    "what counts.",
    rows=Size(full=10_000, quick=2_000),
    simulator=SimulatorSpec(latency_ms=0),
    contestants=_throughput.contestants(loop_rows=Size(full=2_000, quick=300)),
    targets=[
        Target(
            f"0 ms: CPU per row ≤ {MAX_CPU_VS_BARE}x bare aiohttp",
            _throughput.cpu_vs_bare,
            lambda v: v <= MAX_CPU_VS_BARE,
        ),
    ],
    notes=_throughput.notes,
)
