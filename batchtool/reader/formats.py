"""The formats batchtool reads (names, extensions, titles) and the raw table every format reader
returns, plus the small text helpers the reader modules share."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import polars as pl

FORMATS: Final[tuple[str, ...]] = ("csv", "tsv", "parquet", "xlsx", "xls", "jsonl")

EXTENSIONS: Final[dict[str, str]] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
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

SEPARATORS: Final[dict[str, str]] = {"csv": ",", "tsv": "\t"}
TEXT_FORMATS: Final[frozenset[str]] = frozenset({"csv", "tsv", "jsonl"})
EXCEL_FORMATS: Final[frozenset[str]] = frozenset({"xlsx", "xls"})

#: The frame column holding each row's 1-based data row number.
ROW: Final = "row"
#: Frame name prefix of a column the user skipped with --ignore-column (echoed, never sent).
IGNORED_PREFIX: Final = "ignored:"


@dataclass(frozen=True)
class RawTable:
    """A file's columns before naming: String columns ``_c0``.., their headers, their labels."""

    frame: pl.LazyFrame
    headers: list[str | None]
    labels: list[str]  # how a person finds column i: "3" in a CSV, "C" in a sheet
    empty_columns: frozenset[int] = frozenset()  # Excel columns without any value at all
    sheet: str | None = None


def title(fmt: str) -> str:
    """The format's name as a person knows it, e.g. "Excel .xlsx"."""
    return _FORMAT_TITLES.get(fmt, fmt)


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextmanager
def open_text(source: str | bytes) -> Iterator[Iterator[str]]:
    """Lines of a UTF-8 file (by path) or of UTF-8 bytes already in memory."""
    if isinstance(source, bytes):
        yield io.StringIO(source.decode("utf-8"))
    else:
        with open(source, encoding="utf-8-sig", errors="replace") as f:
            yield f
