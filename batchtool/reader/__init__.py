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

What the reader decided (the sheet, the header's place, the delimiter, the encoding) is the
table's ``read_as``; ``places`` says on which sheet row or line each data row is.

The package's modules, one job each: ``sniff`` (format and encoding), ``magic`` (what a
file is by its first bytes, spreadsheet or not), ``limits`` and ``xlsx_limits`` (Excel's
limits, before a file is loaded), ``delimited``, ``jsonl``, ``parquet``, ``excel`` (one per
format), ``names`` (naming columns), ``rows`` (the final frame), ``places`` (data rows to
sheet rows and lines), ``messages`` (errors as one-line messages), ``formats`` (shared
tables).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from batchtool.errors import InputError
from batchtool.reader import excel, limits, sniff, transcode
from batchtool.reader.delimited import read_delimited
from batchtool.reader.excel import check_xlsx_cells, read_excel
from batchtool.reader.formats import (
    BOOKKEEPING_PREFIX,
    DELIMITED_FORMATS,
    EXCEL_FORMATS,
    FORMATS,
    IGNORED_PREFIX,
    NUMBER_EXCEL_ROUNDED,
    NUMBER_FLOAT_ROUNDED,
    NUMBER_FRACTION,
    NUMBER_PREFIX,
    ROW,
    SEPARATORS,
    TEXT_FORMATS,
    RawTable,
    cut,
)
from batchtool.reader.jsonl import read_jsonl
from batchtool.reader.layout import Fits, find_layout, parse_delimiter
from batchtool.reader.limits import MAX_CELL_CHARS, MAX_COLUMNS, MAX_ROWS
from batchtool.reader.messages import (
    Source,
    explain_os,
    open_quote_message,
    polars_errors,
    register,
    unclosed_quote_line,
)
from batchtool.reader.names import HeaderFit, header_fit, is_results_file, name_columns
from batchtool.reader.parquet import read_parquet
from batchtool.reader.places import Places, ReadAs, line_breaks, places
from batchtool.reader.rows import finish, has_data_rows, unguard, unguarded
from batchtool.remedies import ChooseSheet

__all__ = [
    "BOOKKEEPING_PREFIX",
    "FORMATS",
    "IGNORED_PREFIX",
    "MAX_CELL_CHARS",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "NUMBER_EXCEL_ROUNDED",
    "NUMBER_FLOAT_ROUNDED",
    "NUMBER_FRACTION",
    "NUMBER_PREFIX",
    "ROW",
    "InputTable",
    "Places",
    "ReadAs",
    "cut",
    "polars_errors",
    "read_input",
    "sheet_names",
    "unguard",
    "unguarded",
]

#: Formats whose results files carry the formula guard (results.py writes it into CSV and Excel).
_GUARDED_FORMATS = DELIMITED_FORMATS | EXCEL_FORMATS


@dataclass(frozen=True)
class InputTable:
    """An input file read lazily: ``row``, then one String column per file column, then the
    hidden ``number:`` marks (see ``NUMBER_PREFIX``).

    ``headers`` maps each file column's frame name (not ``row``) to its header exactly as
    written; ``header_row`` is the 1-based line (text) or sheet row (Excel) the header is on;
    ``read_as``, all the reader decided.
    """

    path: Path
    format: str
    frame: pl.LazyFrame
    headers: dict[str, str]
    header_row: int = 1
    read_as: ReadAs | None = None
    #: Delimited text: the records whose values hold line breaks (see ``places``), and how
    #: many the header's values hold.
    breaks: pl.LazyFrame | None = None
    header_breaks: int = 0
    text: Path | None = None  # delimited text: the UTF-8 file the frame reads

    def places(self) -> Places | None:
        """Where each data row is in the file (None: it has no lines or sheet rows); a pass
        over a delimited file's values."""
        if self.read_as is None:
            return None
        return places(self.read_as, self.breaks, self.header_breaks, self.text)

    @property
    def header_place(self) -> str | None:
        """Where the header is, as a person finds it ("line 3", "row 3"); None on the first."""
        if self.header_row == 1:
            return None
        return f"{'row' if self.format in EXCEL_FORMATS else 'line'} {self.header_row}"


def read_input(
    path: str | Path,
    *,
    fmt: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    header_row: int | None = None,
    column_map: Mapping[str, str] | None = None,
    ignore_columns: Sequence[str] = (),
    ignore_unknown: bool = False,
    data_path: str | Path | None = None,
    scratch_dir: str | Path | None = None,
    max_rows: int | None = None,
) -> InputTable:
    """Open ``path`` lazily, find and check its header and first row, name its columns by the API.

    ``ignore_unknown``: columns that are no API name are ignored instead of refused.
    ``data_path``: read the bytes from there instead (a snapshot of ``path`` taken for the
    run); messages, the format by extension and ``polars_errors`` still speak of ``path``.
    ``scratch_dir``: where a file in another encoding than UTF-8 is copied as UTF-8, for the
    caller to remove after the run (default: a private folder removed when the process exits).

    A file beyond Excel's limits (``limits``: 16,384 columns, 32,767 characters a cell) is
    refused before it is loaded; so is a workbook of more than 1,048,576 rows, which Excel
    cannot have saved. Other formats may hold any number of rows (an export, a migration)
    unless ``max_rows`` says how many at most (the ops page reads Excel's 1,048,576).
    """
    path = Path(path)
    data = Path(data_path) if data_path is not None else path
    name = str(path)
    if not data.exists():
        raise InputError(explain_os(path, FileNotFoundError()))
    if data.is_dir():
        raise InputError(explain_os(path, IsADirectoryError()))
    chosen = sniff.choose_format(path, fmt)
    sniff.check_options(name, chosen, sheet=sheet, delimiter=delimiter, header_row=header_row)
    separator = parse_delimiter(delimiter) if delimiter is not None else None
    codec = sniff.check_encoding(name, chosen, encoding)
    head = sniff.read_head(data, path)
    if chosen in TEXT_FORMATS:
        codec = sniff.text_codec(name, head, codec)
    chosen = sniff.check_content(name, chosen, head, codec, data)
    column_map = column_map or {}

    def fits(cells: Sequence[str | None]) -> HeaderFit:
        return header_fit(cells, column_map, ignore_columns)

    source = Source(chosen, data)
    if chosen in TEXT_FORMATS:
        folder = Path(scratch_dir) if scratch_dir is not None else None
        source = _text_source(path, source, head, codec, separator, header_row, fits, folder)
        _check_text(path, source, max_rows)
    register(path, source)
    with polars_errors(path):
        raw = _read_raw(source, path, sheet, header_row, fits, max_rows)
        if chosen in _GUARDED_FORMATS and is_results_file(raw.headers):
            unguarded = [None if h is None else unguard(h) for h in raw.headers]
            raw = replace(raw, headers=unguarded, formula_guarded=True)
        names, headers = name_columns(
            name,
            raw,
            column_map,
            ignore_columns,
            header_hint=_header_hint(chosen, header_row),
            ignore_unknown=ignore_unknown,
        )
        if not headers:
            raise InputError(f"{name}: the file has no columns — is it the right file?")
        frame = _frame(path, source, raw, names)
    read_as = ReadAs(
        format=chosen,
        sheet=raw.sheet,
        sheets=raw.sheets,
        header_row=raw.header_row,
        delimiter=source.separator,
        encoding=codec,
    )
    breaks, header_breaks = None, 0
    if chosen in DELIMITED_FORMATS:
        breaks = line_breaks(raw.frame, len(raw.headers), source.eol)
        header_breaks = sum(h.count(source.eol) for h in raw.headers if h)
    return InputTable(
        path=path,
        format=chosen,
        frame=frame,
        headers=headers,
        header_row=raw.header_row,
        read_as=read_as,
        breaks=breaks,
        header_breaks=header_breaks,
        text=source.data if breaks is not None else None,
    )


def _text_source(
    path: Path,
    source: Source,
    head: bytes,
    codec: str | None,
    separator: str | None,
    header_row: int | None,
    fits: Fits,
    scratch_dir: Path | None,
) -> Source:
    """How to hand a text file to polars: its layout (delimited text), found in the first
    bytes, and its bytes as UTF-8 (a copy in ``scratch_dir`` when ``codec`` says otherwise)."""
    text = sniff.head_text(head, codec)
    eol = sniff.line_ending(text)
    layout = None
    if source.fmt in DELIMITED_FORMATS:
        layout = find_layout(
            str(path),
            text,
            complete=len(head) < sniff.HEAD_BYTES,
            eol=eol,
            default=SEPARATORS[source.fmt],
            delimiter=separator,
            header_row=header_row,
            fits=fits,
        )
    data = source.data
    if codec is not None:
        data = transcode.to_utf8(data, path, codec, scratch_dir or transcode.scratch_folder())
    return Source(
        source.fmt,
        data,
        transcoded=codec is not None,
        separator=layout.separator if layout else None,
        header_line=layout.header_line if layout else 1,
        eol=eol,
    )


def _check_text(path: Path, source: Source, max_rows: int | None) -> None:
    """Excel's limits on a text file's UTF-8 bytes, before polars holds any record of it."""
    try:
        if source.fmt in DELIMITED_FORMATS:
            assert source.separator is not None
            limits.check_delimited(
                source.data, path, source.separator, source.header_line, source.eol, max_rows
            )
        else:
            limits.check_jsonl(source.data, path, max_rows)
    except OSError as exc:
        raise InputError(explain_os(path, exc)) from exc


def _frame(path: Path, source: Source, raw: RawTable, names: list[str | None]) -> pl.LazyFrame:
    """The final frame of ``raw``, once its cells are checked and it is known to have data."""
    if source.fmt == "xlsx" and raw.sheet is not None:
        raw = check_xlsx_cells(path, source.data, raw, names)
    frame = finish(raw, names)
    if has_data_rows(raw, names, frame):
        return frame
    if source.fmt in DELIMITED_FORMATS:
        # A quote that never closes swallows the rows after it: polars then finds none.
        line = unclosed_quote_line(source.data, source.eol)
        if line is not None:
            raise InputError(open_quote_message(path, line))
    where = f"sheet '{raw.sheet}'" if raw.sheet else "the file"
    others = ChooseSheet(raw.sheets) if len(raw.sheets) > 1 else None
    raise InputError(
        f"{path}: {where} has a header but no data rows — add rows under the header",
        remedy=others,
    )


def _header_hint(fmt: str, header_row: int | None) -> str | None:
    if header_row is not None:
        return None
    if fmt in DELIMITED_FORMATS:
        return "if the header is on a later line, pass --header-row N"
    if fmt in EXCEL_FORMATS:
        return "if the header is in a later row, pass --header-row N"
    return None


def _read_raw(
    source: Source,
    path: Path,
    sheet: str | None,
    header_row: int | None,
    fits: Fits,
    max_rows: int | None,
) -> RawTable:
    if source.fmt in DELIMITED_FORMATS:
        assert source.separator is not None
        return read_delimited(source.data, path, source.separator, source.header_line, source.eol)
    if source.fmt == "jsonl":
        return read_jsonl(source.data, path)
    if source.fmt == "parquet":
        return read_parquet(source.data, path, max_rows)
    return read_excel(source.data, path, source.fmt, sheet, header_row, fits, max_rows)


def sheet_names(path: str | Path) -> tuple[str, ...]:
    """The sheets of the workbook at ``path``, in order, read without loading any (empty when
    it is no workbook, or one that cannot be read: reading it says why)."""
    return excel.sheet_names(Path(path))
