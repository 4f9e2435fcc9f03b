"""What scenarios 1 and 2 share: batchtool against bare aiohttp (the ceiling for a Python
client) and the vendor's sequential loop, and the ratios between them."""

from __future__ import annotations

from collections.abc import Callable

from harness import Contestant, Runs, Setup, Size, fmt
from harness import contestants as c


def contestants(loop_rows: Size) -> Callable[[Setup], list[Contestant]]:
    """batchtool, bare aiohttp, and the loop sending ``loop_rows`` rows (it is scaled up)."""

    def build(setup: Setup) -> list[Contestant]:
        return [c.batchtool_live(), c.bare(), c.sequential(setup.size(loop_rows))]

    return build


def vs_bare(runs: Runs) -> float | None:
    """batchtool's throughput ÷ bare aiohttp's."""
    return runs.pair(c.BATCHTOOL_LIVE, c.BARE, lambda a, b: b.wall_s / a.wall_s)


def vs_loop(runs: Runs) -> float | None:
    """batchtool's throughput ÷ the sequential loop's."""
    return runs.pair(c.BATCHTOOL_LIVE, c.LOOP, lambda a, b: b.wall_s / a.wall_s)


def cpu_vs_bare(runs: Runs) -> float | None:
    """batchtool's CPU per row ÷ bare aiohttp's."""
    return runs.pair(c.BATCHTOOL_LIVE, c.BARE, lambda a, b: a.cpu_per_1k / b.cpu_per_1k)


def notes(runs: Runs) -> list[str]:
    ceiling = runs.pair(c.BARE, c.LOOP, lambda a, b: b.wall_s / a.wall_s)
    return [
        f"- batchtool throughput ÷ bare aiohttp: **{fmt(vs_bare(runs), '.2f', 'x')}**",
        f"- batchtool throughput ÷ sequential requests loop: **{fmt(vs_loop(runs), '.1f', 'x')}**",
        f"- batchtool CPU per row ÷ bare aiohttp: **{fmt(cpu_vs_bare(runs), '.2f', 'x')}**",
        f"- for reference, the ceiling: bare aiohttp ÷ sequential loop: {fmt(ceiling, '.1f', 'x')}",
    ]
