"""Read any supported input file into a lazy polars frame of text columns named by the API.

Every value comes out as the text a person sees in the file (``01234`` stays ``01234``, a
number stored as ``191.0`` reads ``191``), trimmed except ``password``, empty meaning null.
Booleans read ``true``/``false``; Excel dates ``YYYY-MM-DD`` (``YYYY-MM-DD HH:MM:SS`` with a
time of day, ``HH:MM:SS`` for a time alone); nested JSON or Parquet values as JSON text.
JSON numbers read as polars prints them (``191.0`` -> ``191``, ``1.50`` -> ``1.5``).
Rows whose every cell is empty are dropped, but ``row`` still counts them, so ``row`` + 1 is
the line (sheet row) under a one-line header.

Any problem with the file or its columns is an :class:`errors.InputError` with a one-line
message naming the file and what to do.

The package's modules, one job each: ``sniff`` (format and encoding), ``delimited``,
``jsonl``, ``parquet``, ``excel`` (one per format), ``names`` (naming columns), ``rows``
(the final frame), ``messages`` (errors as one-line messages), ``formats`` (shared tables).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from batchtool.errors import InputError, UsageError
from batchtool.reader import sniff
from batchtool.reader.delimited import read_delimited
from batchtool.reader.excel import check_xlsx_cells, read_excel
from batchtool.reader.formats import EXCEL_FORMATS, FORMATS, IGNORED_PREFIX, ROW, RawTable, title
from batchtool.reader.jsonl import read_jsonl
from batchtool.reader.messages import Source, explain_os, polars_errors, register
from batchtool.reader.names import name_columns
from batchtool.reader.parquet import read_parquet
from batchtool.reader.rows import finish, has_data_rows

__all__ = ["FORMATS", "IGNORED_PREFIX", "ROW", "InputTable", "polars_errors", "read_input"]


@dataclass(frozen=True)
class InputTable:
    """An input file read lazily: ``row``, then one String column per file column.

    ``headers`` maps each frame column (not ``row``) to its header exactly as written.
    """

    path: Path
    format: str
    frame: pl.LazyFrame
    headers: dict[str, str]


def read_input(
    path: str | Path,
    *,
    fmt: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    column_map: Mapping[str, str] | None = None,
    ignore_columns: Sequence[str] = (),
    data_path: str | Path | None = None,
) -> InputTable:
    """Open ``path`` lazily, check its header and first row, name its columns by the API.

    ``data_path``: read the bytes from there instead (a snapshot of ``path`` taken for the
    run); messages, the format by extension and ``polars_errors`` still speak of ``path``.
    """
    path = Path(path)
    data = Path(data_path) if data_path is not None else path
    name = str(path)
    if not data.exists():
        raise InputError(explain_os(path, FileNotFoundError()))
    if data.is_dir():
        raise InputError(explain_os(path, IsADirectoryError()))
    chosen = sniff.choose_format(path, fmt)
    if sheet is not None and chosen not in EXCEL_FORMATS:
        raise UsageError(f"{name}: --sheet applies to Excel files only; this is {title(chosen)}")
    encoding = sniff.check_encoding(name, chosen, encoding)
    head = sniff.read_head(data, path)
    chosen = sniff.check_content(name, chosen, head, encoding)

    register(path, Source(chosen, encoding, data))
    with polars_errors(path):
        raw = _read_raw(data, path, chosen, head, encoding, sheet)
        names, headers = name_columns(name, raw, column_map or {}, ignore_columns)
        if not headers:
            raise InputError(f"{name}: the file has no columns — is it the right file?")
        if chosen == "xlsx" and raw.sheet is not None:
            check_xlsx_cells(path, data, raw, names)
        frame = finish(raw, names)
        if not has_data_rows(raw, names, frame):
            where = f"sheet '{raw.sheet}'" if raw.sheet else "the file"
            raise InputError(
                f"{name}: {where} has a header but no data rows — add rows under the header"
            )
    return InputTable(path=path, format=chosen, frame=frame, headers=headers)


def _read_raw(
    data: Path, path: Path, fmt: str, head: bytes, encoding: str | None, sheet: str | None
) -> RawTable:
    if fmt in ("csv", "tsv"):
        return read_delimited(data, path, fmt, head, encoding)
    if fmt == "jsonl":
        return read_jsonl(data, path, encoding)
    if fmt == "parquet":
        return read_parquet(data)
    return read_excel(data, path, fmt, sheet)
