"""Scenario 6: on a busy server, does the default lose no row, refuse little and keep up?

The server works on 6 requests at a time for 20 ms each and lets 2 wait; the rest get 503 at
once (PHP-FPM behind nginx): 300 rows/s at most. Fixed concurrencies are shown beside the
default, as in issue 10's table.
"""

from __future__ import annotations

from harness import Column, Runs, Scenario, SimulatorSpec, Size, Target, fmt

from scenarios import _adaptive

WORKERS, QUEUE, SERVICE_MS = 6, 2, 20
CAPACITY = WORKERS * 1000 / SERVICE_MS  # rows/s the server can do at most
MAX_REFUSED = 0.03  # of requests refused as overload (503, 429)
MIN_OF_CAPACITY = 0.7
FIXED = (8, 16, 64)


def _worst_failed(runs: Runs) -> float | None:
    """Rows the default lost in its worst rep: every rep must lose none."""
    values = [v for r in runs.ok(_adaptive.AUTO) if (v := r.number("rows failed")) is not None]
    return max(values) if values else None


def _refused(runs: Runs) -> float | None:
    return runs.median(_adaptive.AUTO, lambda r: r.number("refused share"))


def _rate(runs: Runs) -> float | None:
    return runs.median(_adaptive.AUTO, lambda r: r.rows_per_s)


def _notes(runs: Runs) -> list[str]:
    rate = _rate(runs)
    share = None if rate is None else rate / CAPACITY
    worst = max(
        (v for r in runs.ok(_adaptive.AUTO) if (v := r.number("refused share")) is not None),
        default=None,
    )
    return [
        f"- the server: {WORKERS} workers × {SERVICE_MS} ms, {QUEUE} waiting, 503 for the rest: "
        f"at most {CAPACITY:,.0f} rows/s",
        f"- default (auto): **{fmt(rate, ',.0f')} rows/s = {fmt(share, '.2f', 'x')} the "
        f"server's capacity**, refused {fmt(_refused(runs), '.1%')} (worst rep "
        f"{fmt(worst, '.1%')}), rows lost in the worst rep: {fmt(_worst_failed(runs), '.0f')}",
        "- rows/s is whole-process wall time (start-up, reading, results included); a fixed "
        "concurrency that lost rows is measured all the same (`rows failed`)",
    ]


SCENARIO = Scenario(
    number=6,
    name="adaptive-busy",
    title=f"Adaptive concurrency on a busy server ({WORKERS} workers, queue {QUEUE}, "
    f"{SERVICE_MS} ms) — {{rows:,}} rows",
    question="On a busy server, does the default concurrency lose no row, earn few 503s and "
    "still keep up with the server?",
    rows=Size(full=3_000, quick=600),
    simulator=SimulatorSpec(
        latency_ms=SERVICE_MS, args=("--workers", str(WORKERS), "--queue", str(QUEUE))
    ),
    contestants=lambda setup: [
        _adaptive.accounted(_adaptive.auto()),
        *(_adaptive.accounted(_adaptive.fixed(n)) for n in FIXED),
    ],
    targets=[
        Target(
            "busy server: auto loses no row (worst rep)",
            _worst_failed,
            lambda v: v == 0,
            spec=".0f",
            unit=" rows",
        ),
        Target(
            f"busy server: auto ≤ {MAX_REFUSED:.0%} of requests refused as overload",
            _refused,
            lambda v: v <= MAX_REFUSED,
            spec=".1%",
            unit="",
        ),
        Target(
            f"busy server: auto ≥ {MIN_OF_CAPACITY}x the server's capacity "
            f"(≥ {MIN_OF_CAPACITY * CAPACITY:,.0f} rows/s)",
            _rate,
            lambda v: v >= MIN_OF_CAPACITY * CAPACITY,
            spec=",.0f",
            unit=" rows/s",
        ),
    ],
    after_run=_adaptive.count_answers,
    columns=[
        Column("refused (503/429)", "refused share", ".1%"),
        Column("rows failed", "rows failed", ".0f"),
    ],
    notes=_notes,
)
