"""Scenario 11: how much does --changed-only add to a dry run of a huge nightly export?"""

from __future__ import annotations

from pathlib import Path

import gen_data
from harness import BATCHTOOL, Contestant, Ctx, Inputs, Run, Runs, Scenario, Size, Target, fmt
from harness import contestants as c

MAX_WALL_S = 4.0
MAX_RSS_MB = 400.0
CHANGED_ONLY = "batchtool --dry-run --changed-only"
_OPTIONS = ("--dry-run", "--changed-only", "--state", "--results", "--quiet")


def _inputs(rows: int) -> Inputs:
    return Inputs(gen_data.ensure(rows), files={"state": gen_data.ensure_sync_state(rows)})


def _build(ctx: Ctx) -> list[str]:
    results = str(ctx.workdir / c.RESULTS)
    state = str(ctx.files["state"])
    return [BATCHTOOL, "run", str(ctx.csv), "--dry-run", "--changed-only", "--state", state,
            "--results", results, "--quiet"]  # fmt: skip


def _check(ctx: Ctx, run: Run, log: Path) -> None:
    """Counts if every row is in the results, 1% of them valid (changed), the rest unchanged."""
    import polars as pl

    path = ctx.workdir / c.RESULTS
    if run.rc != 0 or not path.exists():
        run.note = f"exit {run.rc}: {c.tail(log)}"
        return
    status = pl.read_parquet(path, columns=["status"])["status"]
    changed = len(range(0, ctx.rows, gen_data.SYNC_CHANGED_EVERY))
    valid, unchanged = int((status == "valid").sum()), int((status == "unchanged").sum())
    run.ok = status.len() == ctx.rows and valid == changed and unchanged == ctx.rows - changed
    if not run.ok:
        run.note = f"results: {status.len()} rows, {valid} valid, {unchanged} unchanged"


def _changed_only() -> Contestant:
    return Contestant(
        CHANGED_ONLY,
        _build,
        _check,
        requires=tuple(f"batchtool run {o}" for o in _OPTIONS),
        imports=("batchtool.cli",),
        method=f"{CHANGED_ONLY}: the same file against a sync state of every row, 1% changed",
    )


def _wall(runs: Runs) -> float | None:
    return runs.median(CHANGED_ONLY, lambda r: r.wall_s)


def _rss(runs: Runs) -> float | None:
    return runs.median(CHANGED_ONLY, lambda r: r.rss_mb)


def _notes(runs: Runs) -> list[str]:
    wall = runs.pair(CHANGED_ONLY, c.BATCHTOOL_DRY, lambda a, b: a.wall_s - b.wall_s)
    rss = runs.pair(CHANGED_ONLY, c.BATCHTOOL_DRY, lambda a, b: a.rss_mb - b.rss_mb)
    return [
        "- the whole process: start-up, the private copy of the input, the pass that collects "
        "what the diff needs, reading the state, the diff, the results file and the summary",
        f"- what the diff adds to the plain dry run: **{fmt(wall, '+.2f', ' s')}**, "
        f"**{fmt(rss, '+.0f', ' MB')}** peak RSS",
    ]


SCENARIO = Scenario(
    number=11,
    name="changed-only",
    title="{rows:,}-row --changed-only dry run against a {rows:,}-row sync state",
    question=(
        "How fast and how lean is the nightly diff: a 1M-row export against a 1M-row state "
        "with 1% of the rows changed, --changed-only --dry-run?"
    ),
    rows=Size(full=1_000_000, quick=100_000),
    inputs=_inputs,
    contestants=lambda setup: [_changed_only(), c.batchtool_dry()],
    targets=[
        Target(
            f"{{rows:,}}-row --changed-only dry run: ≤ {MAX_WALL_S:g} s",
            _wall,
            lambda v: v <= MAX_WALL_S,
            spec=".2f",
            unit=" s",
        ),
        Target(
            f"{{rows:,}}-row --changed-only dry run: peak RSS ≤ {MAX_RSS_MB:g} MB",
            _rss,
            lambda v: v <= MAX_RSS_MB,
            spec=".0f",
            unit=" MB",
        ),
    ],
    notes=_notes,
)
