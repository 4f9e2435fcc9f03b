"""The contestants scenarios share, and the checks that tell whether a run counts.

batchtool (live and dry run), the bare aiohttp script (the ceiling for a Python client), the
vendor's sequential ``requests`` loop and the polars floor. A scenario with another program
writes its own ``Contestant(name, build, check)``; the checks here (``check_reported``,
``check_parquet_rows``) and the log readers (``last_json``, ``tail``) fit most programs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.model import Contestant, Ctx, Run
from harness.settings import API_USERNAME, BATCHTOOL, BENCH, CONCURRENCY, PY

RESULTS = "results.parquet"
# The shared contestants' names, for scenarios' targets and notes.
BATCHTOOL_LIVE = "batchtool"
BATCHTOOL_DRY = "batchtool --dry-run"
BARE = "bare aiohttp"
LOOP = "requests loop (vendor)"
FLOOR = "polars scan_csv→parquet (floor)"


def last_json(log: Path) -> dict[str, object] | None:
    """The last stdout line of a contestant, parsed as a JSON object (None if it is not one)."""
    try:
        lines = Path(f"{log}.out").read_text().strip().splitlines()
        got = json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None
    return got if isinstance(got, dict) else None


def tail(log: Path) -> str:
    """The last line of a contestant's stderr, cut to 200 characters."""
    try:
        text = Path(f"{log}.err").read_text(errors="replace").strip()
    except OSError:
        return ""
    return text.splitlines()[-1][:200] if text else ""


def _requires(options: Sequence[str]) -> tuple[str, ...]:
    return tuple(f"batchtool run {o}" for o in options if o.startswith("--"))


def batchtool_live(
    name: str = BATCHTOOL_LIVE,
    extra: Sequence[str] = (),
    concurrency: int | str = CONCURRENCY,
) -> Contestant:
    """``batchtool run`` against the simulator, results to Parquet; counts if every row is ok.

    ``extra`` options go last, e.g. ``("--no-journal",)``; each one becomes a requirement, so
    a CLI without it skips this contestant instead of failing every run.
    """
    fixed = ["--quiet", "--restart", *extra]

    def build(ctx: Ctx) -> list[str]:
        return [
            BATCHTOOL,
            "run",
            str(ctx.csv),
            "--base-url",
            ctx.url,
            "--api-username",
            API_USERNAME,
            "--concurrency",
            str(concurrency),
            "--results",
            str(ctx.workdir / RESULTS),
            *fixed,
        ]

    options = ["--base-url", "--api-username", "--concurrency", "--results", *fixed]
    return Contestant(
        name,
        build,
        lambda ctx, run, log: check_results(ctx, run, log, "ok"),
        requires=_requires(options),
        imports=("batchtool.cli",),
    )


def batchtool_dry(name: str = BATCHTOOL_DRY, extra: Sequence[str] = ()) -> Contestant:
    """``batchtool run --dry-run`` to Parquet; counts if every row is valid."""
    fixed = ["--dry-run", "--results"]

    def build(ctx: Ctx) -> list[str]:
        results = str(ctx.workdir / RESULTS)
        return [BATCHTOOL, "run", str(ctx.csv), *fixed, results, "--quiet", *extra]

    return Contestant(
        name,
        build,
        lambda ctx, run, log: check_results(ctx, run, log, "valid"),
        requires=_requires([*fixed, "--quiet", *extra]),
        imports=("batchtool.cli",),
    )


def check_results(ctx: Ctx, run: Run, log: Path, want: str) -> None:
    """batchtool's run counts only if its results file has every row, all ``want``."""
    import polars as pl

    path = ctx.workdir / RESULTS
    if run.rc != 0:
        run.note = f"exit {run.rc}: {tail(log)}"
        return
    if not path.exists():
        run.note = "exit 0 but no results file"
        return
    status = pl.read_parquet(path, columns=["status"])["status"]
    good = int((status == want).sum())
    run.extra["results_rows"] = status.len()
    run.ok = status.len() == ctx.rows and good == ctx.rows
    if not run.ok:
        run.note = f"results: {status.len()} rows, {good} {want}"


def check_reported(ctx: Ctx, run: Run, log: Path) -> None:
    """For a script that prints ``{"rows": N, "ok": K, ...}`` last: counts if N = K = all rows.

    Everything it printed lands in ``run.extra``.
    """
    got = last_json(log)
    run.extra.update(got or {})
    run.ok = got is not None and got.get("rows") == ctx.rows and got.get("ok") == ctx.rows
    if not run.ok:
        run.note = f"exit {run.rc}: {got or tail(log)}"


def check_parquet_rows(filename: str) -> Callable[[Ctx, Run, Path], None]:
    """Counts if the contestant exited 0 and left ``workdir/filename`` with every row."""

    def check(ctx: Ctx, run: Run, log: Path) -> None:
        import polars as pl

        path = ctx.workdir / filename
        n = pl.scan_parquet(path).select(pl.len()).collect().item() if path.exists() else 0
        run.ok = run.rc == 0 and n == ctx.rows
        if not run.ok:
            run.note = f"exit {run.rc}, {n} rows: {tail(log)}"

    return check


def bare(name: str = BARE, concurrency: int = CONCURRENCY) -> Contestant:
    """benchmarks/bare_aiohttp.py: csv module, one session, a semaphore, nothing else."""

    def build(ctx: Ctx) -> list[str]:
        return [
            PY,
            str(BENCH / "bare_aiohttp.py"),
            str(ctx.csv),
            "--base-url",
            ctx.url,
            "--api-username",
            API_USERNAME,
            "--concurrency",
            str(concurrency),
        ]

    return Contestant(name, build, check_reported, imports=("aiohttp", "csv"))


def sequential(limit: int) -> Contestant:
    """benchmarks/requests_loop.py on the first ``limit`` rows, scaled to the whole file."""

    def build(ctx: Ctx) -> list[str]:
        return [
            PY,
            str(BENCH / "requests_loop.py"),
            str(ctx.csv),
            "--base-url",
            ctx.url,
            "--api-username",
            API_USERNAME,
            "--limit",
            str(limit),
        ]

    def check(ctx: Ctx, run: Run, log: Path) -> None:
        got = last_json(log)
        if not got:
            run.note = f"exit {run.rc}: {tail(log)}"
            return
        run.extra.update(got)
        k = got.get("rows")
        if not (isinstance(k, int) and k == limit and got.get("ok") == k):
            run.note = f"exit {run.rc}: {got}"
            return
        run.ok = True
        # Extrapolate the loop (flat cost per row) to the whole file; startup stays as measured.
        loop_s, loop_cpu = _float(got, "loop_s"), _float(got, "loop_cpu_s")
        scale = ctx.rows / k
        run.extra.update(measured_wall_s=run.wall_s, measured_cpu_s=run.cpu_s)
        run.wall_s = run.wall_s - loop_s + loop_s * scale
        run.cpu_s = run.cpu_s - loop_cpu + loop_cpu * scale
        run.rows = ctx.rows
        run.note = f"{k} rows sent, extrapolated to {ctx.rows:,}"

    return Contestant(
        LOOP,
        build,
        check,
        imports=("requests",),
        method="The sequential loop sends the first rows only; its loop time and loop CPU are "
        "scaled to the full row count, its startup is kept as measured.",
    )


def _float(got: dict[str, object], key: str) -> float:
    value = got.get(key)
    return float(value) if isinstance(value, int | float) else float("nan")


def polars_floor() -> Contestant:
    """polars alone turning the CSV into Parquet: the least any tool must spend."""
    code = (
        "import sys, polars as pl; "
        "pl.scan_csv(sys.argv[1], infer_schema=False).sink_parquet(sys.argv[2])"
    )
    return Contestant(
        FLOOR,
        lambda ctx: [PY, "-c", code, str(ctx.csv), str(ctx.workdir / "floor.parquet")],
        check_parquet_rows("floor.parquet"),
        imports=("polars",),
    )
