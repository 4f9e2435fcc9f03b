"""What scenarios 6 and 7 share: batchtool with adaptive concurrency (its default) beside
fixed concurrencies, and what the simulator counted while they ran."""

from __future__ import annotations

from pathlib import Path

from harness import Contestant, Ctx, Run, get_json
from harness import contestants as c

AUTO = "batchtool (auto)"
#: The simulator's answers that refuse a request as overload.
OVERLOAD = ("429", "503")


def auto() -> Contestant:
    """batchtool as a user runs it: ``--concurrency auto``, the default."""
    return c.batchtool_live(AUTO, concurrency="auto")


def fixed(concurrency: int) -> Contestant:
    return c.batchtool_live(f"batchtool --concurrency {concurrency}", concurrency=concurrency)


def accounted(contestant: Contestant) -> Contestant:
    """The same contestant, counted when every row is in its results as ok or failed.

    On a busy server how many rows a setting loses is the point, so a run that lost some is
    measured (its ``rows failed`` is the news) instead of being left out.
    """

    def check(ctx: Ctx, run: Run, log: Path) -> None:
        import polars as pl

        path = ctx.workdir / c.RESULTS
        if run.rc not in (0, 1) or not path.exists():
            run.note = f"exit {run.rc}: {c.tail(log)}"
            return
        status = pl.read_parquet(path, columns=["status"])["status"]
        ok, failed = int((status == "ok").sum()), int((status == "failed").sum())
        run.extra["rows failed"] = failed
        run.ok = status.len() == ctx.rows and ok + failed == ctx.rows
        if not run.ok:
            run.note = f"results: {status.len()} rows, {ok} ok, {failed} failed"

    return Contestant(
        contestant.name,
        contestant.build,
        check,
        requires=contestant.requires,
        server_args=contestant.server_args,
        imports=contestant.imports,
    )


def count_answers(ctx: Ctx, run: Run) -> None:
    """After a run, while its simulator is up: the share of requests refused as overload."""
    stats = get_json(f"{ctx.url}/_sim/stats")
    if not isinstance(stats, dict):
        raise ValueError(f"/_sim/stats answered {stats!r}")
    requests = int(stats["requests"])
    refused = sum(int(stats["statuses"].get(status, 0)) for status in OVERLOAD)
    run.extra["requests"] = requests
    run.extra["refused share"] = refused / requests if requests else 0.0
