"""What the fan-out scenarios (18, 19, 20) share: batchtool sending one file to one
installation and to three, each installation a simulator process of its own.

The scenario's simulator is the first installation; two services are the others, started
alike. Both contestants get the same three servers up (the one-installation run leaves two
idle), the same config file of three profiles and the same options, so the only difference
is how many installations the run sends to.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness import (
    API_KEY,
    API_USERNAME,
    BATCHTOOL,
    PY,
    Contestant,
    Ctx,
    Run,
    Runs,
    ServiceSpec,
    fmt,
)
from harness import contestants as c

PROFILES = ("offerit", "nats", "trackfinity")
ONE = "batchtool, 1 installation"
THREE = "batchtool, 3 installations"
_OPTIONS = ("--profile", "--config", "--results", "--quiet", "--restart", "--concurrency")


def other_installations(latency_ms: float) -> list[ServiceSpec]:
    """The second and third installations: simulators like the scenario's own."""

    def build(ctx: Ctx) -> list[str]:
        return [PY, "-m", "batchtool.simulator", "--customers", str(ctx.rows),
                "--latency-ms", f"{latency_ms:g}", "--seed", "1", "--no-log"]  # fmt: skip

    return [ServiceSpec(name, build) for name in PROFILES[1:]]


def _config(ctx: Ctx) -> Path:
    """A config file of the three installations' profiles, in the run's folder."""
    urls = [ctx.url, *(ctx.services[name] for name in PROFILES[1:])]
    path = ctx.workdir / "config.toml"
    path.write_text(
        "".join(
            f'[profiles.{name}]\nbase_url = "{url}"\napi_username = "{API_USERNAME}"\n'
            f'api_key = "{API_KEY}"\n\n'
            for name, url in zip(PROFILES, urls, strict=True)
        )
    )
    path.chmod(0o600)  # it holds a key: batchtool refuses it otherwise
    return path


def live(installations: int, concurrency: int | str) -> Contestant:
    """``batchtool run`` to the first ``installations`` profiles, results to Parquet."""
    names = PROFILES[:installations]

    def build(ctx: Ctx) -> list[str]:
        profiles = [arg for name in names for arg in ("--profile", name)]
        return [BATCHTOOL, "run", str(ctx.csv), "--config", str(_config(ctx)), *profiles,
                "--concurrency", str(concurrency), "--results", str(ctx.workdir / c.RESULTS),
                "--quiet", "--restart"]  # fmt: skip

    return Contestant(
        ONE if installations == 1 else THREE,
        build,
        _check(installations, "ok"),
        requires=tuple(f"batchtool run {o}" for o in _OPTIONS),
        imports=("batchtool.cli",),
    )


def dry(installations: int) -> Contestant:
    """``batchtool run --dry-run`` to the first ``installations`` profiles (names only)."""
    names = PROFILES[:installations]

    def build(ctx: Ctx) -> list[str]:
        profiles = [arg for name in names for arg in ("--profile", name)]
        return [BATCHTOOL, "run", str(ctx.csv), "--dry-run", *profiles,
                "--results", str(ctx.workdir / c.RESULTS), "--quiet"]  # fmt: skip

    return Contestant(
        ONE if installations == 1 else THREE,
        build,
        _check(installations, "valid"),
        requires=tuple(f"batchtool run {o}" for o in ("--dry-run", *_OPTIONS[:1], "--results")),
        imports=("batchtool.cli",),
    )


def _check(installations: int, want: str) -> Callable[[Ctx, Run, Path], None]:
    def check(ctx: Ctx, run: Run, log: Path) -> None:
        """Counts only if the results hold every row once per installation, all ``want``."""
        import polars as pl

        path = ctx.workdir / c.RESULTS
        if run.rc != 0 or not path.exists():
            run.note = f"exit {run.rc}: {c.tail(log)}"
            return
        status = pl.read_parquet(path, columns=["status"])["status"]
        good = int((status == want).sum())
        expected = ctx.rows * installations
        run.ok = status.len() == expected and good == expected
        if not run.ok:
            run.note = f"results: {status.len()} rows, {good} {want}, {expected} expected"

    return check


def wall_ratio(runs: Runs) -> float | None:
    """Wall time to three installations ÷ to one, pair by pair."""
    return runs.pair(THREE, ONE, lambda a, b: a.wall_s / b.wall_s)


def rss_ratio(runs: Runs) -> float | None:
    """Peak RSS of the run to three installations ÷ to one, pair by pair."""
    return runs.pair(THREE, ONE, lambda a, b: a.rss_mb / b.rss_mb)


def rss_notes(how: str) -> Callable[[Runs], list[str]]:
    """The memory scenarios' lines under the table: both peaks, their ratio, and ``how``."""

    def notes(runs: Runs) -> list[str]:
        one = runs.median(ONE, lambda r: r.rss_mb)
        three = runs.median(THREE, lambda r: r.rss_mb)
        return [
            f"- peak RSS to one installation {fmt(one, '.0f', ' MB')}, to three "
            f"{fmt(three, '.0f', ' MB')}: **{fmt(rss_ratio(runs))}**",
            f"- {how}",
        ]

    return notes
