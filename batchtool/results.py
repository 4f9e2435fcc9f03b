"""The results file: what happened to each input row, masked, formula-guarded, written atomically.

Builds the results as a lazy polars query over the planned frame (so a million-row dry run
streams straight to disk), writes it in the format its extension names, and summarises it
for the end-of-run report.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from batchtool import api, errors, model, plan
from batchtool.atomic import check_writable, fsync_path
from batchtool.model import FORMULA_GUARD, guard_formula
from batchtool.plan import PlanSummary
from batchtool.reader import BOOKKEEPING_PREFIX, unguard, unguarded

RESULT_COLUMNS: Final = model.RESULT_COLUMNS
RESULT_FORMATS: Final[tuple[str, ...]] = ("csv", "parquet", "jsonl", "xlsx")

_EXTENSIONS: Final[dict[str, str]] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".xlsx": "xlsx",
}

OUTCOME_SCHEMA: Final[dict[str, pl.DataType]] = {
    "row": pl.Int64(),
    "status": pl.String(),
    "http_status": pl.Int64(),
    "attempts": pl.Int64(),
    "error": pl.String(),
    "elapsed_ms": pl.Int64(),
    #: When the row's final answer came, in milliseconds since the Unix epoch: an integer is
    #: what costs least to journal; the results file shows it as ISO 8601 text.
    "finished_at": pl.Int64(),
}
#: The journal's records: outcomes, each of a run to several installations saying whose.
JOURNAL_SCHEMA: Final[dict[str, pl.DataType]] = {
    **OUTCOME_SCHEMA,
    model.INSTALLATION: pl.String(),
}

#: Prefix for an input header that would otherwise collide with a result column.
INPUT_PREFIX: Final = "input "

#: A cell that starts with one of model.FORMULA_CHARACTERS after any guards already there:
#: "'=x" (typed so) is guarded too, as "''=x", so that reading a results file back strips
#: exactly one guard and gets every value as typed.
_FORMULA_START: Final = r"^'*[=+\-@\t\r]"

#: One Excel sheet holds 1,048,576 rows, one of which is the header.
_EXCEL_MAX_ROWS: Final = 1_048_575

#: Status order in summaries: the outcomes a person looks for first.
_STATUS_ORDER: Final[tuple[str, ...]] = (
    model.OK,
    model.UNCHANGED,
    model.VALID,
    model.FAILED,
    model.INVALID,
    model.SKIPPED,
)


def results_format(path: Path) -> str:
    """The results format ``path``'s extension names; anything else is a usage error."""
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise errors.UsageError(
            f"results file '{path}': unknown extension — use .csv, .parquet, .jsonl or .xlsx"
        )
    return fmt


def check_results_path(path: Path) -> str:
    """Fail before anything is read or sent if the results cannot be written at ``path``.

    Returns its format. Checked up front because a results file is written last: finding
    out then would cost the whole run its record.
    """
    fmt = results_format(path)
    check_writable(path, "--results", "results file")
    return fmt


def default_results_path(input_path: Path, cwd: Path | None = None) -> Path:
    """``<input stem>.results.csv`` in the current directory (the input's may be read-only)."""
    base = Path.cwd() if cwd is None else cwd
    return base / f"{input_path.stem}.results.csv"


def outcomes_frame(outcomes: Iterable[model.Outcome]) -> pl.DataFrame:
    """Outcomes as a frame with the fixed schema the results join expects (no finished_at)."""
    rows: list[tuple[int, str, int | None, int, str | None, int | None, None]] = [
        (o.row, o.status, o.http_status, o.attempts, o.error, o.elapsed_ms, None)
        for o in outcomes
    ]
    return pl.DataFrame(rows, schema=OUTCOME_SCHEMA, orient="row")


def last_outcome_per_row(outcomes: pl.DataFrame) -> pl.DataFrame:
    """The last outcome of each row (a later record supersedes an earlier one), sorted by row;
    with an ``installation`` column, of each row at each installation, sorted by both."""
    place = outcomes.get_column(model.INSTALLATION, default=None)
    several = place is not None and place.null_count() < place.len()
    keys = [model.INSTALLATION, "row"] if several else ["row"]
    # A stable sort keeps each row's records in arrival order, so the last of a run wins. By
    # index, then gathered: half the peak memory of sorting the frame itself.
    order = outcomes.select(pl.arg_sort_by(keys, maintain_order=True)).to_series()
    ordered = outcomes[order]
    last = pl.col("row") != pl.col("row").shift(-1).fill_null(-1)
    if several:
        whose = pl.col(model.INSTALLATION)
        last = last | whose.ne_missing(whose.shift(-1))
    return ordered.filter(last)


def _output_names(
    headers: Mapping[str, str], own: Iterable[str] = RESULT_COLUMNS
) -> list[tuple[str, str]]:
    """(frame column, results header) for every input column shown after the result columns.

    The file's operation column is left out because ``operation`` already shows it normalised,
    and so are the result columns of a results file read back as input: this run's replace them.
    Collisions are compared case-insensitively: ``Status`` beside ``status`` would be read as
    the same column by a person and by many spreadsheet tools.
    """
    used = {name.casefold() for name in own}
    names: list[tuple[str, str]] = []
    for column, header in headers.items():
        if column in (api.OPERATION_COLUMN, "row") or column.startswith(BOOKKEEPING_PREFIX):
            continue
        name = header
        while name.casefold() in used:
            name = INPUT_PREFIX + name
        used.add(name.casefold())
        names.append((column, name))
    return names


def _is_secret(column: str, header: str) -> bool:
    # An ignored column called "Password" is as secret as the real one.
    return column in api.SECRET_COLUMNS or api.normalise_column_name(header) in api.SECRET_COLUMNS


def _input_expr(column: str, header: str, name: str) -> pl.Expr:
    value = pl.col(column)
    if _is_secret(column, header):
        value = pl.when(value.is_not_null()).then(pl.lit(api.MASK))
    return value.alias(name)


def _iso_utc(epoch_ms: pl.Expr) -> pl.Expr:
    """Milliseconds since the epoch as ISO 8601 UTC text, e.g. 2025-03-14T09:26:53.120Z."""
    return pl.from_epoch(epoch_ms, time_unit="ms").dt.to_string("%Y-%m-%dT%H:%M:%S%.3fZ")


def build_results(
    planned: pl.LazyFrame,
    headers: Mapping[str, str],
    *,
    outcomes: pl.DataFrame | None,
    unsent_reason: str = "not sent",
    installation: str | None = None,
) -> pl.LazyFrame:
    """The results as a lazy query: result columns, then the input columns as the user wrote them.

    A row's status, first match wins: the preset a selection step gave it (``unchanged``,
    ``skipped``), ``invalid``, then for a dry run (``outcomes=None``) ``valid``, otherwise
    its outcome, or ``skipped`` with ``unsent_reason`` when it has none. ``installation``:
    the rows are one installation's share of a run to several, named in a first column.
    """
    valid = pl.col(plan.VALID).fill_null(False)
    preset = pl.col(plan.PRESET_STATUS)
    if outcomes is None:
        frame = planned
        sent = pl.lit(False)
        unsent = pl.lit(model.VALID)
        unsent_error = pl.lit(None, dtype=pl.String)
    else:
        # One outcome per row whatever the caller passed: a duplicate would duplicate the row.
        right = (
            outcomes.select(pl.col(name).cast(dtype) for name, dtype in OUTCOME_SCHEMA.items())
            .pipe(last_outcome_per_row)
            .rename({name: f"_o_{name}" for name in OUTCOME_SCHEMA if name != "row"})
            .with_columns(_o_hit=pl.lit(True))
        )
        frame = planned.join(right.lazy(), on="row", how="left", maintain_order="left")
        sent = valid & preset.is_null() & pl.col("_o_hit").fill_null(False)
        unsent = pl.lit(model.SKIPPED)
        unsent_error = pl.lit(unsent_reason)

    def pick(
        for_preset: pl.Expr, for_invalid: pl.Expr, for_sent: pl.Expr, rest: pl.Expr
    ) -> pl.Expr:
        return (
            pl.when(preset.is_not_null())
            .then(for_preset)
            .when(~valid)
            .then(for_invalid)
            .when(sent)
            .then(for_sent)
            .otherwise(rest)
        )

    def outcome(name: str) -> pl.Expr:
        # Without outcomes (a dry run) no row is sent, so this branch is never taken.
        dtype = OUTCOME_SCHEMA[name]
        return pl.col(f"_o_{name}") if outcomes is not None else pl.lit(None, dtype=dtype)

    none = pl.lit(None, dtype=pl.Int64)
    zero = pl.lit(0, dtype=pl.Int64)
    status = pick(preset, pl.lit(model.INVALID), outcome("status"), unsent)
    error = pick(pl.col(plan.PRESET_ERROR), pl.col(plan.ERROR), outcome("error"), unsent_error)
    finished_at = pick(none, none, outcome("finished_at"), none)
    own = RESULT_COLUMNS if installation is None else model.RESULTS_FILE_COLUMNS
    place = () if installation is None else (pl.lit(installation).alias(model.INSTALLATION),)
    return frame.select(
        *place,
        pl.col("row").cast(pl.Int64),
        status.cast(pl.String).alias("status"),
        pl.col(api.OPERATION_COLUMN).cast(pl.String).alias("operation"),
        pick(none, none, outcome("http_status"), none).cast(pl.Int64).alias("http_status"),
        pick(zero, zero, outcome("attempts"), zero).cast(pl.Int64).alias("attempts"),
        error.cast(pl.String).alias("error"),
        pick(none, none, outcome("elapsed_ms"), none).cast(pl.Int64).alias("elapsed_ms"),
        _iso_utc(finished_at).alias("finished_at"),
        *(
            _input_expr(column, headers[column], name)
            for column, name in _output_names(headers, own)
        ),
    )


def _formula_guarded(results: pl.LazyFrame) -> pl.LazyFrame:
    """Prefix ``'`` to every text cell (and header) a spreadsheet would run as a formula."""
    schema = results.collect_schema()
    guarded = [
        (
            pl.when(pl.col(name).str.contains(_FORMULA_START))
            .then(pl.lit(FORMULA_GUARD) + pl.col(name))
            .otherwise(pl.col(name))
            if dtype == pl.String
            else pl.col(name)
        ).alias(guard_formula(name))
        for name, dtype in schema.items()
    ]
    return results.select(guarded)


def _temp_dir(path: Path) -> Path:
    """A fresh private folder beside ``path`` to write into: os.replace is atomic only within
    one filesystem.

    A folder rather than a file: when a query fails, polars may still open its output a moment
    after the error has reached us. Once the folder is gone that late open fails, where a
    deleted temp file would simply be created again and left behind.
    """
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))


def _write_excel(results: pl.LazyFrame, path: Path, optimizations: pl.QueryOptFlags) -> None:
    import xlsxwriter

    frame = results.collect(engine="streaming", optimizations=optimizations)
    if frame.height > _EXCEL_MAX_ROWS:
        raise errors.UsageError(
            f"results file '{path}': {frame.height} rows do not fit in one Excel sheet "
            f"(at most {_EXCEL_MAX_ROWS}) — use .csv or .parquet"
        )
    # Every cell is written as the text it is: no formulas, numbers or links made from strings.
    workbook = xlsxwriter.Workbook(
        str(path),
        {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False},
    )
    try:
        frame.write_excel(workbook, worksheet="results", autofit=frame.height <= 10_000)
    finally:
        workbook.close()


def write_results(results: pl.LazyFrame, path: Path, *, parts_share_input: bool = False) -> None:
    """Write ``results`` to ``path`` in the format of its extension, atomically.

    The data goes to a temporary file beside ``path``, is synced, then renamed over it, so a
    crash leaves either the old file or the complete new one, never half of one.

    ``parts_share_input``: ``results`` concatenates several queries over one input (a run to
    several installations). Each then reads the input for itself: to share it, polars would
    keep it in memory whole, which grows with the file.
    """
    fmt = results_format(path)
    folder = _temp_dir(path)
    tmp = folder / path.name
    opts = pl.QueryOptFlags(comm_subplan_elim=not parts_share_input)
    try:
        if fmt == "csv":
            _formula_guarded(results).sink_csv(
                tmp, check_extension=False, sync_on_close="data", optimizations=opts
            )
        elif fmt == "parquet":
            results.sink_parquet(tmp, sync_on_close="data", optimizations=opts)
        elif fmt == "jsonl":
            results.sink_ndjson(
                tmp, check_extension=False, sync_on_close="data", optimizations=opts
            )
        else:
            _write_excel(_formula_guarded(results), tmp, opts)
            fsync_path(tmp)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    # The rename itself is durable only once the directory entry is synced.
    with contextlib.suppress(OSError):
        fsync_path(path.parent, directory=True)


def read_results(path: Path) -> pl.LazyFrame:
    """A results file batchtool wrote, every column as the text it wrote before guarding it
    against formulas (headers included): for writing it again in another format, which
    guards it once more, never twice."""
    fmt = results_format(path)
    if fmt == "parquet":
        return pl.scan_parquet(path)
    if fmt == "jsonl":
        return pl.scan_ndjson(path, infer_schema_length=None)
    if fmt == "csv":
        frame = pl.scan_csv(path, infer_schema=False)
    else:
        frame = pl.read_excel(path, infer_schema_length=0).lazy()
    schema = frame.collect_schema()
    return frame.select(
        (unguarded(pl.col(name)) if dtype == pl.String else pl.col(name)).alias(unguard(name))
        for name, dtype in schema.items()
    )


def read_back(path: Path, installation: str | None = None) -> pl.LazyFrame:
    """``row``, ``status``, ``operation`` and ``error`` of a results file batchtool wrote;
    with ``installation``, of that installation's rows only (a run to several).

    Summaries are taken from the file itself: reading four columns back costs far less than
    reading and validating the input again, and the summary is then what the file says.
    The formula guard of CSV and Excel files is undone on ``error``, the one column of these
    that can hold a server's or a user's words.
    """
    fmt = results_format(path)
    wanted = _READ_BACK if installation is None else (model.INSTALLATION, *_READ_BACK)
    if fmt == "parquet":
        frame = pl.scan_parquet(path)
    elif fmt == "csv":
        frame = pl.scan_csv(path, infer_schema=False)
    elif fmt == "jsonl":
        frame = pl.scan_ndjson(path, infer_schema_length=None)
    else:
        frame = pl.read_excel(path, columns=list(wanted), infer_schema_length=0).lazy()
    if installation is not None:
        frame = frame.filter(pl.col(model.INSTALLATION).cast(pl.String) == installation)
    error = pl.col("error").cast(pl.String)
    if fmt in ("csv", "xlsx"):
        error = unguarded(error)
    return frame.select(
        pl.col("row").cast(pl.Int64),
        pl.col("status").cast(pl.String),
        pl.col("operation").cast(pl.String),
        error.alias("error"),
    )


_READ_BACK: Final = ("row", "status", "operation", "error")


@dataclass(frozen=True)
class ResultSummary:
    """Counts by status (fixed order), the most common errors with counts, the row total."""

    counts: dict[str, int]
    top_errors: list[tuple[str, int]]
    total: int


def dry_run_plan(
    path: Path, installation: str | None = None, *, examples: int = 20, top: int = 5
) -> PlanSummary:
    """The plan as a dry run's results file at ``path`` shows it (status valid or invalid, or
    a preset), so a dry run reads its input only once: while writing that file. With
    ``installation``: the plan of that installation's rows (a run to several)."""
    slim = read_back(path, installation)
    status = pl.col("status")
    counts_query = slim.group_by("status", "operation").agg(pl.len().alias("n"))
    examples_query = slim.filter(status == model.INVALID).select("row", "error").head(examples)
    counts, first_invalid = pl.collect_all([counts_query, examples_query], engine="streaming")
    by_status: dict[str, int] = {}
    by_operation: dict[str, int] = {}
    for found, operation, n in counts.iter_rows():
        by_status[found] = by_status.get(found, 0) + n
        if found == model.VALID:
            by_operation[operation] = by_operation.get(operation, 0) + n
    return PlanSummary(
        total=sum(by_status.values()),
        valid=by_status.get(model.VALID, 0),
        invalid=by_status.get(model.INVALID, 0),
        by_operation={op: by_operation[op] for op in api.OPERATIONS if op in by_operation},
        invalid_examples=[(int(row), str(error)) for row, error in first_invalid.iter_rows()],
        preset={s: by_status[s] for s in plan.PRESET_STATUSES if by_status.get(s)},
        top_reasons=summarise_results(slim, top).top_errors,
    )


def dry_run_summary(plan: PlanSummary) -> ResultSummary:
    """A dry run's results summary, which its plan already holds."""
    found = {model.VALID: plan.valid, model.INVALID: plan.invalid, **plan.preset}
    order = {status: i for i, status in enumerate(_STATUS_ORDER)}
    counts = {s: n for s, n in sorted(found.items(), key=lambda item: order[item[0]]) if n}
    return ResultSummary(counts=counts, top_errors=list(plan.top_reasons), total=plan.total)


def summarise_results(results: pl.LazyFrame, top: int = 5) -> ResultSummary:
    """Counts by status and the ``top`` most common errors of rows that are not ok (nor
    unchanged: a row --changed-only did not need to send is no problem)."""
    slim = results.select("status", "error")
    counts_query = slim.group_by("status").agg(pl.len().alias("n"))
    errors_query = (
        slim.filter(
            pl.col("error").is_not_null()
            & ~pl.col("status").is_in([model.OK, model.VALID, model.UNCHANGED])
        )
        .group_by("error")
        .agg(pl.len().alias("n"))
        .sort(["n", "error"], descending=[True, False])
        .head(top)
    )
    counts_df, errors_df = pl.collect_all([counts_query, errors_query])
    found = {str(status): int(n) for status, n in counts_df.iter_rows() if status is not None}
    order = {status: i for i, status in enumerate(_STATUS_ORDER)}
    counts = dict(sorted(found.items(), key=lambda item: (order.get(item[0], 99), item[0])))
    top_errors = [(str(error), int(n)) for error, n in errors_df.iter_rows()]
    return ResultSummary(counts=counts, top_errors=top_errors, total=int(counts_df["n"].sum()))
