"""Scenario 12: does the ops page stay quick and lean while it checks and sends a big file?"""

from __future__ import annotations

from harness import BENCH, PY, Column, Contestant, Scenario, SimulatorSpec, Size, Target
from harness import contestants as c

from scenarios import _ops_page

DRIVER = "ops page (driver)"
MAX_CHECK_S = 3.0
MAX_P95_MS = 200.0
MAX_IDLE_MB = 150.0
MAX_PEAK_MB = 400.0


def _driver() -> Contestant:
    return Contestant(
        DRIVER,
        lambda ctx: [
            PY,
            str(BENCH / "web_driver.py"),
            ctx.services[_ops_page.PAGE],
            str(ctx.workdir),
            str(ctx.csv),
        ],
        c.check_reported,
        imports=("requests", "psutil"),
        method="The ops page runs as its own process (`batchtool serve`, one user, a profile "
        "for the run's simulator); a driver signs in, uploads the CSV, presses Send and, until "
        "the run is done, keeps fetching the run's JSON, its page, the runs list and New batch. "
        "Wall, CPU and RSS in the table are the driver's; the page's own numbers are the "
        "columns after them (RSS sampled every 0.1 s).",
    )


SCENARIO = Scenario(
    number=12,
    name="ops-page",
    title="The ops page checking and sending {rows:,} rows",
    question="Does the ops page stay quick and lean while it checks and sends a big file?",
    rows=Size(full=200_000, quick=20_000),
    simulator=SimulatorSpec(latency_ms=0),
    services=[_ops_page.SERVICE],
    contestants=lambda setup: [_driver()],
    targets=[
        Target(
            f"{{rows:,}}-row CSV checked: plan shown in < {MAX_CHECK_S:g} s",
            _ops_page.reported(DRIVER, "check_s"),
            lambda v: v < MAX_CHECK_S,
            spec=".2f",
            unit=" s",
        ),
        Target(
            f"pages while sending: p95 < {MAX_P95_MS:g} ms",
            _ops_page.reported(DRIVER, "page_p95_ms"),
            lambda v: v < MAX_P95_MS,
            spec=".0f",
            unit=" ms",
        ),
        Target(
            f"server RSS idle ≤ {MAX_IDLE_MB:g} MB",
            _ops_page.reported(DRIVER, "idle_rss_mb"),
            lambda v: v <= MAX_IDLE_MB,
            spec=".0f",
            unit=" MB",
        ),
        Target(
            f"server RSS while sending ≤ {MAX_PEAK_MB:g} MB",
            _ops_page.reported(DRIVER, "peak_rss_mb"),
            lambda v: v <= MAX_PEAK_MB,
            spec=".0f",
            unit=" MB",
        ),
    ],
    columns=[
        Column("check s", "check_s", ".2f"),
        Column("page p95 ms", "page_p95_ms", ".0f"),
        Column("idle MB", "idle_rss_mb", ".0f"),
        Column("peak MB", "peak_rss_mb", ".0f"),
        Column("send s", "send_s", ".1f"),
    ],
    timeout_s=900,
)
