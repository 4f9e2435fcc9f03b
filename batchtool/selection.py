"""--only-failed: a results file sent again sends only the rows that were not done.

A selection step (see ``plan.preset``): rows the earlier run finished get the status
``skipped`` with the reason, and are never sent; every other row is validated and sent as
usual. The earlier run's status and error come from the results file's own columns, which
the reader keeps as bookkeeping (``result:status``, ``result:error``) — or, when the input
is the earlier run's own input (passwords and all, which a results file masks), from that
run's results file beside it, matched by row number (and by installation, when it is of a
run to several). The results file of a run to several installations says whose each row is
(``result:installation``): each row is then sent again only to its own installation
(:func:`shares`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import polars as pl

from batchtool import model
from batchtool.errors import UsageError
from batchtool.plan import preset
from batchtool.reader import BOOKKEEPING_PREFIX, ROW
from batchtool.results import read_results

EARLIER_STATUS: Final = BOOKKEEPING_PREFIX + "status"
EARLIER_ERROR: Final = BOOKKEEPING_PREFIX + "error"
EARLIER_INSTALLATION: Final = BOOKKEEPING_PREFIX + model.INSTALLATION
#: Earlier statuses that mean the row needs nothing more: it was applied, or had nothing to
#: apply (``unchanged``, under --changed-only).
DONE: Final[tuple[str, ...]] = (model.OK, model.UNCHANGED)
_EARLIER: Final = " in the earlier run"


def reason(status: str) -> str:
    """Why a row done in an earlier run is not sent, e.g. "ok in the earlier run"."""
    return status + _EARLIER


def skipped_as_done(status: pl.Expr, error: pl.Expr) -> pl.Expr:
    """A row an earlier selection skipped because a run before it had done it."""
    return (status == model.SKIPPED) & error.is_in([reason(s) for s in DONE])


def done(status: pl.Expr, error: pl.Expr) -> pl.Expr:
    """A row of a results file that needs nothing more: done then, or in a run before."""
    return status.is_in(DONE) | skipped_as_done(status, error)


def only_failed(planned: pl.LazyFrame, path: Path, earlier: Path | None = None) -> pl.LazyFrame:
    """``planned`` with the rows an earlier run finished given ``skipped`` and the reason.

    A row skipped that way once stays skipped: sending this run's results file again with
    --only-failed still sends nothing it already did. ``earlier``: the earlier run's results
    file, when ``path`` is that run's input rather than its results.
    """
    if earlier is not None:
        planned = _with_earlier(planned, earlier)
    names = planned.collect_schema().names()
    if EARLIER_STATUS not in names:
        raise UsageError(
            f"{path}: --only-failed needs a batchtool results file, with its status column — "
            "this file has none; to send every row, run it without --only-failed"
        )
    status = pl.col(EARLIER_STATUS).str.strip_chars().str.to_lowercase()
    error = pl.col(EARLIER_ERROR) if EARLIER_ERROR in names else pl.lit(None, dtype=pl.String)
    why = (
        pl.when(skipped_as_done(status, error))
        .then(error)
        .otherwise(pl.concat_str(status, pl.lit(_EARLIER)))
    )
    return preset(planned, done(status, error), model.SKIPPED, why)


def _with_earlier(planned: pl.LazyFrame, earlier: Path) -> pl.LazyFrame:
    """``planned`` with each row's status and error in the results file ``earlier`` (which the
    same input gave), in place of any the input itself holds.

    The results file of a run to several holds each row once per installation: the row then
    comes once per installation too, each with its status there and whose it is, as it would
    from that results file given as the input (:func:`shares` sends each to its own)."""
    row_type = planned.collect_schema()["row"]
    theirs = read_results(earlier)
    whose = [
        pl.col(model.INSTALLATION).cast(pl.String).alias(EARLIER_INSTALLATION)
        for name in theirs.collect_schema().names()
        if name == model.INSTALLATION
    ]
    theirs = theirs.select(
        pl.col("row").cast(row_type),
        pl.col("status").cast(pl.String).alias(EARLIER_STATUS),
        pl.col("error").cast(pl.String).alias(EARLIER_ERROR),
        *whose,
    )
    mine = planned.drop(EARLIER_STATUS, EARLIER_ERROR, EARLIER_INSTALLATION, strict=False)
    return mine.join(theirs, on="row", how="left", maintain_order="left")


def shares(
    planned: pl.LazyFrame, names: Sequence[str | None], path: Path, *, only_failed: bool
) -> list[pl.LazyFrame]:
    """Each installation's rows of ``planned``, in the order of ``names``: every row, but
    with --only-failed a row of a fan-out run's results file goes only to its own.

    Rows of an installation this run does not send to are refused rather than skipped: their
    group in the results would be one this run never sent to, and the next --only-failed
    would have nobody to resend them to.
    """
    routed = only_failed and EARLIER_INSTALLATION in planned.collect_schema().names()
    if not routed:
        if only_failed and len(names) > 1:
            raise UsageError(
                f"{path}: --only-failed with several installations needs the results file of "
                "a run to them, whose installation column says whose each row is — this one "
                "is of a run to one installation: send it to that one alone"
            )
        return [planned] * len(names)
    sent_to = [name for name in names if name]
    if len(sent_to) < len(names):
        raise UsageError(
            f"{path} is the results file of a run to several installations: name the ones to "
            "send its rows to with --profile (each row goes to its own)"
        )
    place = pl.col(EARLIER_INSTALLATION)
    stray = (
        planned.select(place, ROW)
        .filter(place.is_null() | ~place.is_in(sent_to))
        .head(1)
        .collect(engine="streaming")
    )
    if stray.height:
        name, row = stray.row(0)
        if name is None:
            raise UsageError(
                f"{path}: row {row} names no installation — fill in its installation column "
                f"(one of {', '.join(sent_to)}) or delete the row"
            )
        raise UsageError(
            f"{path}: row {row} is for installation '{name}', which this run does not send "
            f"to ({', '.join(sent_to)}) — add --profile {name}, or delete its rows"
        )
    return [planned.filter(place == name) for name in sent_to]
