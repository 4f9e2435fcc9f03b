"""The formats batchtool reads (names, extensions, titles) and the raw table every format reader
returns, plus the small helpers the reader modules share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, overload

import polars as pl

FORMATS: Final[tuple[str, ...]] = ("csv", "tsv", "parquet", "xlsx", "xls", "jsonl")

EXTENSIONS: Final[dict[str, str]] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "csv",  # Excel's "Unicode Text" and other exports: the delimiter is detected
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}

FORMAT_ALIASES: Final[dict[str, str]] = {
    **{fmt: fmt for fmt in FORMATS},
    **{ext.lstrip("."): fmt for ext, fmt in EXTENSIONS.items()},
}

_FORMAT_TITLES: Final[dict[str, str]] = {
    "csv": "CSV",
    "tsv": "TSV",
    "parquet": "Parquet",
    "xlsx": "Excel .xlsx",
    "xls": "Excel .xls",
    "jsonl": "JSON Lines",
}

#: Each delimited format's own delimiter: the one used when the header line cannot tell.
SEPARATORS: Final[dict[str, str]] = {"csv": ",", "tsv": "\t"}
TEXT_FORMATS: Final[frozenset[str]] = frozenset({"csv", "tsv", "jsonl"})
DELIMITED_FORMATS: Final[frozenset[str]] = frozenset(SEPARATORS)
EXCEL_FORMATS: Final[frozenset[str]] = frozenset({"xlsx", "xls"})

#: The frame column holding each row's 1-based data row number.
ROW: Final = "row"
#: Frame name prefix of a column the user skipped with --ignore-column (echoed, never sent).
IGNORED_PREFIX: Final = "ignored:"
#: Frame name prefix of a result column (model.RESULT_COLUMNS) in a results file read back as
#: input: ``result:status``... Bookkeeping: never sent, and not echoed (the run writes its own).
BOOKKEEPING_PREFIX: Final = "result:"
#: Frame name prefix of a hidden column saying how the file stored a column's numbers, when
#: that may have changed them: ``number:customer_id`` is null where the cell is plain, else
#: one of the NUMBER_* values below. plan/numbers.py turns these into reasons and warnings.
NUMBER_PREFIX: Final = "number:"
#: An Excel number cell of more than 15 digits: Excel keeps 15, so the rest may be rounded.
NUMBER_EXCEL_ROUNDED: Final = "excel-rounded"
#: A floating-point (e.g. Parquet double) value of more than 15 digits: the same loss.
NUMBER_FLOAT_ROUNDED: Final = "float-rounded"
#: A number cell (Excel) or floating-point value (Parquet) that is not a whole number.
NUMBER_FRACTION: Final = "fraction"
#: Numbers with more digits than this are not held exactly by Excel or a 64-bit float.
EXACT_DIGITS: Final = 15


@dataclass(frozen=True)
class RawTable:
    """A file's columns before naming: String columns ``_c0``.., their headers, their labels.

    ``numbers`` maps a column's index to an expression over ``frame`` giving its NUMBER_*
    marker per row (null where the cell is plain); ``header_row`` is the 1-based line (text)
    or sheet row (Excel) of the header, 1 where the format has none; ``formula_guarded``: the
    file is a results file whose writer prefixed ``'`` to formula-like cells (see results.py).
    """

    frame: pl.LazyFrame
    headers: list[str | None]
    labels: list[str]  # how a person finds column i: "3" in a CSV, "C" in a sheet
    empty_columns: frozenset[int] = frozenset()  # Excel columns without any value at all
    sheet: str | None = None
    header_row: int = 1
    numbers: Mapping[int, pl.Expr] = field(default_factory=dict)
    sheets: tuple[str, ...] = ()  # every sheet of the workbook, in order
    formula_guarded: bool = False


def title(fmt: str) -> str:
    """The format's name as a person knows it, e.g. "Excel .xlsx"."""
    return _FORMAT_TITLES.get(fmt, fmt)


#: Characters of a file's text (a header, a value) a message shows; the rest is cut, with "…".
SHOWN_CHARS: Final = 80
#: Characters shown of a library's error message, which may quote the file too.
SHOWN_ERROR_CHARS: Final = 300
_CUT: Final = "…"


@overload
def cut(text: str, limit: int = SHOWN_CHARS) -> str: ...


@overload
def cut(text: pl.Expr, limit: int = SHOWN_CHARS) -> pl.Expr: ...


def cut(text: str | pl.Expr, limit: int = SHOWN_CHARS) -> str | pl.Expr:
    """``text`` (or each value of a String expression) cut to ``limit`` characters, the last
    one "…": whatever a file holds, a message quoting it stays short."""
    keep = limit - len(_CUT)
    if isinstance(text, str):
        return text if len(text) <= limit else text[:keep] + _CUT
    # Only values of more bytes than the limit can be too long, and counting bytes is free:
    # the characters are counted, and the values cut, only among those (null elsewhere).
    long = pl.when(text.str.len_bytes() > limit).then(text)
    shortened = pl.when(long.str.len_chars() > limit).then(long.str.slice(0, keep) + _CUT)
    return pl.coalesce(shortened, text)


def printable(text: str) -> str:
    """``text`` for a one-line message: cut, line breaks and other control characters escaped."""
    text = cut(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def first_line(exc: BaseException) -> str:
    """The first line of an error's text, cut (a library's message may quote the file)."""
    lines = str(exc).strip().splitlines()
    return cut(lines[0], SHOWN_ERROR_CHARS) if lines else type(exc).__name__
