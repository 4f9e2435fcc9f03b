"""What pages show from a run's CSV files: invalid rows, errors grouped, the Excel download.

Every function here does polars work: callers run them off the event loop's thread. Texts
from a file come back cut (``shown.cut``), so a page never holds a 32,767-character cell
500 times over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import polars as pl

from batchtool import model
from batchtool.client import RETRYABLE_STATUSES
from batchtool.results import write_results
from batchtool.web import shown

#: Invalid rows shown on the plan page; all of them are in the plan download.
INVALID_ROWS_SHOWN: Final = 500
#: Distinct errors shown on the done page, most frequent first.
ERROR_GROUPS_SHOWN: Final = 20

#: The results columns that hold numbers; everything else is text exactly as written.
_NUMERIC: Final = ("row", "http_status", "attempts", "elapsed_ms")


def _scan(path: Path) -> pl.LazyFrame:
    # All text: an input column of "01234" must come back as written, not as 1234.
    return pl.scan_csv(path, infer_schema=False)


def invalid_rows(plan_path: Path, limit: int = INVALID_ROWS_SHOWN) -> list[tuple[int, str]]:
    """(data row number, reason) of the first ``limit`` invalid rows of a plan file."""
    frame = (
        _scan(plan_path)
        .filter(pl.col("status") == model.INVALID)
        .head(limit)
        .select(pl.col("row").cast(pl.Int64), shown.cut_expr("error"))
        .collect()
    )
    return [(int(row), str(error or "")) for row, error in frame.iter_rows()]


def error_groups(
    results_path: Path, limit: int = ERROR_GROUPS_SHOWN
) -> tuple[list[tuple[str, int]], bool]:
    """The ``limit`` most frequent errors of rows not ok, and whether a resume would have
    anything to do (rows not sent, or failed for a reason worth retrying)."""
    scan = _scan(results_path).select(
        "status", "error", pl.col("http_status").cast(pl.Int64, strict=False)
    )
    failed = pl.col("status") == model.FAILED
    retryable = failed & (
        pl.col("http_status").is_null() | pl.col("http_status").is_in(list(RETRYABLE_STATUSES))
    )
    errors_q = (
        scan.filter(
            ~pl.col("status").is_in([model.OK, model.VALID]) & pl.col("error").is_not_null()
        )
        .group_by("error")
        .agg(pl.len().alias("n"))
        .sort(["n", "error"], descending=[True, False])
        .head(limit)
    )
    left_q = scan.select(((pl.col("status") == model.SKIPPED) | retryable).any().alias("left"))
    errors_df, left_df = pl.collect_all([errors_q, left_q])
    groups = [(shown.cut(str(e)), int(n)) for e, n in errors_df.iter_rows()]
    return groups, bool(left_df.item())


def write_excel(results_path: Path, excel_path: Path) -> None:
    """The results file again as Excel, numbers as numbers, text as written (formula-guarded)."""
    scan = _scan(results_path)
    names = scan.collect_schema().names()
    typed = scan.with_columns(
        pl.col(n).cast(pl.Int64, strict=False) for n in _NUMERIC if n in names
    )
    write_results(typed, excel_path)
