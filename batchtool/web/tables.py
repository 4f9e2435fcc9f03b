"""What pages show from a run's CSV files: invalid rows, errors grouped by reason, the rows
left to send, and the downloads made from the results (all of them as Excel, or the rows
not ok to fix and upload; of every installation, or of one).

The results of a run to several installations hold each row once per installation, with
``installation`` first: errors are grouped per installation, and the counts kept per
installation.

Every function here does polars work: callers run them off the event loop's thread. Texts
from a file come back cut (``shown.cut``), so a page never holds a 32,767-character cell
500 times over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from batchtool import model, selection
from batchtool.results import read_results, write_results
from batchtool.web import reading, shown

#: Invalid rows shown on the plan page; all of them are in the plan download.
INVALID_ROWS_SHOWN: Final = 500
#: Error groups shown on the done page, most rows first; the page says when there are more.
ERROR_GROUPS_SHOWN: Final = 100
#: Example rows shown for each error group.
EXAMPLE_ROWS: Final = 3

#: The results columns that hold numbers; everything else is text exactly as written.
_NUMERIC: Final = ("row", "http_status", "attempts", "elapsed_ms")
#: What stands in for a row's own value taken out of a message.
_VALUE: Final = "…"
#: A row's own values shorter than this are left to the patterns below: taking "7" or "ab"
#: out of a message literally would also take it out of the words around it.
_SHORTEST_VALUE: Final = 3
#: The row's own values a server or a check writes into a message, in the order they are
#: taken out: emails, quoted values, then any word with a digit in it (ids, numbers, dates).
_VALUE_PATTERNS: Final = (
    (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", _VALUE),
    (r"'[^']*'", f"'{_VALUE}'"),
    (r'"[^"]*"', f'"{_VALUE}"'),
    (r"[\w.:+-]*\d[\w.:+-]*", _VALUE),
)
_HTTP_PREFIX: Final = r"^HTTP \d{3}: "


def _scan(path: Path) -> pl.LazyFrame:
    # All text: an input column of "01234" must come back as written, not as 1234.
    return pl.scan_csv(path, infer_schema=False)


def invalid_rows(plan_path: Path, limit: int = INVALID_ROWS_SHOWN) -> list[tuple[int, str]]:
    """(data row number, reason) of the first ``limit`` invalid rows of a plan file; a row
    invalid at several installations (it is at each: validation is the file's) once."""
    frame = (
        _scan(plan_path)
        .filter(pl.col("status") == model.INVALID)
        .unique("row", keep="first", maintain_order=True)
        .head(limit)
        .select(pl.col("row").cast(pl.Int64), shown.cut_expr("error"))
        .collect()
    )
    return [(int(row), reading.in_text(str(error or ""))) for row, error in frame.iter_rows()]


@dataclass(frozen=True)
class Outcomes:
    """What a finished send left: the errors grouped (the ``ERROR_GROUPS_SHOWN`` biggest;
    in a run to several, each group is of one installation and names it), how many groups
    there are, and the rows not sent yet, in all and at each installation (``unsent_at``)."""

    groups: list[dict[str, Any]] = field(default_factory=list)
    group_count: int = 0
    failed: int = 0
    unsent: int = 0
    unsent_at: dict[str, int] = field(default_factory=dict)


def _not_done(names: list[str]) -> pl.Expr:
    # The same rule as sending the failed rows again (selection.only_failed): a row done in
    # a run before, and skipped for it, needs nothing either.
    error = pl.col("error") if "error" in names else pl.lit(None, dtype=pl.String)
    return ~selection.done(pl.col("status"), error)


def _reason(inputs: list[str]) -> pl.Expr:
    """The error without the row's own values, so rows that failed alike read alike:
    "HTTP 404: customer not found (customer_id=20000200)" -> "customer not found (customer_id=…)"
    (the status is grouped on beside it)."""
    reason = pl.col("error").fill_null("").str.replace(_HTTP_PREFIX, "")
    for name in inputs:
        value = pl.col(name)
        own = value.is_not_null() & (value.str.len_chars() >= _SHORTEST_VALUE)
        reason = pl.when(own).then(reason.str.split(value).list.join(_VALUE)).otherwise(reason)
    for pattern, stand_in in _VALUE_PATTERNS:
        reason = reason.str.replace_all(pattern, stand_in)
    return reason


def outcomes(results_path: Path) -> Outcomes:
    """The errors of a results file grouped by status, HTTP status and reason (see
    ``_reason``), and by installation in a run to several, most rows first, with their first
    ``EXAMPLE_ROWS`` row numbers (the ``ERROR_GROUPS_SHOWN`` biggest groups); and the counts
    of failed rows and of rows not sent yet."""
    scan = _scan(results_path)
    names = scan.collect_schema().names()
    inputs = [n for n in names if n not in model.RESULT_COLUMNS]
    whose = [model.INSTALLATION] if model.INSTALLATION in names else []
    status = pl.col("status")
    row = pl.col("row").cast(pl.Int64)
    groups_q = (
        scan.filter(status.is_in([model.FAILED, model.INVALID]))
        .select(
            *whose,
            status,
            pl.col("http_status").cast(pl.Int64, strict=False),
            _reason(inputs).alias("reason"),
            row,
        )
        .group_by(*whose, "status", "http_status", "reason")
        .agg(pl.len().alias("count"), pl.col("row").sort().head(EXAMPLE_ROWS).alias("rows"))
        .sort(
            ["count", *whose, "status", "reason"],
            descending=[True, *(False for _ in whose), False, False],
            nulls_last=True,
        )
    )
    unsent = ((status == model.SKIPPED) & _not_done(names)).sum().alias("unsent")
    counts_q = scan.select((status == model.FAILED).sum().alias("failed"), unsent)
    each_q = [scan.group_by(*whose).agg(unsent)] if whose else []
    groups, counts, *each = pl.collect_all([groups_q, counts_q, *each_q])
    listed = [
        {
            **({"installation": str(group[model.INSTALLATION])} if whose else {}),
            "status": str(group["status"]),
            "http_status": group["http_status"],
            "reason": shown.cut(reading.in_text(_worded(group["http_status"], group["reason"]))),
            "count": int(group["count"]),
            "rows": [int(r) for r in group["rows"]],
        }
        for group in groups.head(ERROR_GROUPS_SHOWN).iter_rows(named=True)
    ]
    failed, unsent_total = counts.row(0)
    at = {str(name): int(n) for frame in each for name, n in frame.iter_rows()}
    return Outcomes(listed, groups.height, int(failed), int(unsent_total), at)


def _worded(http: int | None, reason: str | None) -> str:
    return f"HTTP {http}: {reason}" if http is not None else str(reason)


def _typed(scan: pl.LazyFrame) -> pl.LazyFrame:
    names = scan.collect_schema().names()
    return scan.with_columns(
        pl.col(n).cast(pl.Int64, strict=False) for n in _NUMERIC if n in names
    )


def _of(scan: pl.LazyFrame, installations: Sequence[str] | None) -> pl.LazyFrame:
    """``scan``'s rows of ``installations`` (all of them when None)."""
    if installations is None:
        return scan
    return scan.filter(pl.col(model.INSTALLATION).is_in(list(installations)))


def write_copy(
    results_path: Path, target: Path, *, failed: bool = False, installation: str | None = None
) -> None:
    """A download made from the results file, in ``target``'s format (CSV or Excel: numbers
    as numbers, text as written, formula-guarded once: the CSV's own guard is undone first).

    ``failed``: only the rows not ok, in the results file's own form: fixed by hand, it is an
    upload like any other (a results file reads back as input). ``installation``: only that
    installation's rows (a run to several; ``installation`` stays their first column).
    """
    scan = _of(read_results(results_path), None if installation is None else [installation])
    if failed:
        scan = scan.filter(_not_done(scan.collect_schema().names()))
    write_results(_typed(scan), target)


def write_earlier(
    results_path: Path, target: Path, installations: Sequence[str] | None = None
) -> None:
    """Each row's status and error in ``results_path`` as they are now (and whose it is, in
    a run to several: of ``installations`` only), for a run that sends the failed rows again:
    what it selects must not move if the first run is resumed."""
    scan = _of(read_results(results_path), installations)
    whose = [model.INSTALLATION] if installations is not None else []
    write_results(scan.select(*whose, pl.col("row").cast(pl.Int64), "status", "error"), target)
