"""Excel workbooks (.xlsx, .xls): one sheet, its header row (the first row with a value, or the
first below a title that names known columns, or --header-row), every cell as the text Excel
shows; and one pass over an .xlsx sheet's cells for what calamine hides: error cells and
uncalculated formulas (refused), and number cells Excel may have rounded (marked)."""

from __future__ import annotations

import math
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final
from xml.etree import ElementTree

import fastexcel
import polars as pl

from batchtool import api
from batchtool.errors import InputError, UsageError
from batchtool.reader.formats import (
    EXACT_DIGITS,
    EXTENSIONS,
    IGNORED_PREFIX,
    NUMBER_EXCEL_ROUNDED,
    NUMBER_FRACTION,
    RawTable,
    printable,
)
from batchtool.reader.layout import SEARCH_ROWS, Fits
from batchtool.reader.limits import (
    MAX_CELL_CHARS,
    MAX_ROWS,
    cell_message,
    check_columns,
    rows_message,
)
from batchtool.reader.magic import MAGIC_OLE, MAGIC_ZIP
from batchtool.reader.names import shell_word
from batchtool.reader.xlsx_limits import check_xlsx, sheet_member, workbook_sheets
from batchtool.remedies import ChooseHeaderRow, ChooseSheet, IgnoreColumn

#: Rows looked at first for the table's start: a sheet rarely opens with more empty ones.
_FIRST_ROWS: Final = 1000


def read_excel(
    data: Path,
    name: Path,
    fmt: str,
    sheet: str | None,
    header_row: int | None,
    fits: Fits,
    max_rows: int | None = None,
) -> RawTable:
    """One sheet of a workbook (the first unless ``sheet``); ``name`` is what messages say.

    Held to Excel's limits: an .xlsx before calamine opens it (see ``xlsx_limits``), what
    remains once the sheet is loaded (an .xls's size is bounded by its format: 65,536 rows
    of 256 columns; its texts are measured once loaded).
    """
    if fmt == "xlsx":
        check_xlsx(data, name, sheet, max_rows)
    # calamine picks its parser by extension; the bytes let it go by content instead.
    source = data if EXTENSIONS.get(data.suffix.lower()) == fmt else data.read_bytes()
    reader = fastexcel.read_excel(source)
    sheets: list[str] = list(reader.sheet_names)
    if sheet is None:
        if not sheets:
            raise InputError(f"{name}: the workbook has no sheets — is it the right file?")
        sheet = sheets[0]
    elif sheet not in sheets:
        listed = ", ".join(f"'{s}'" for s in sheets)
        raise InputError(
            f"{name}: no sheet '{sheet}' — the sheets are {listed}; pick one with --sheet",
            problem=f"{name}: no sheet '{sheet}'; the sheets are {listed}",
            remedy=ChooseSheet(tuple(sheets)),
        )
    # skip_rows=0 keeps the empty rows above the table, so row i is sheet row i + 1.
    loaded = reader.load_sheet(sheet, header_row=None, skip_rows=0, dtypes="string")
    whole: pl.DataFrame = loaded.to_polars()
    letters = [_column_letter(info.absolute_index) for info in loaded.available_columns()]
    _check_loaded(name, sheet, whole, letters, max_rows or MAX_ROWS)
    filled = _filled_rows(whole)
    if not filled:
        problem = f"{name}: sheet '{sheet}' is empty — put a header row and data in it"
        raise InputError(
            f"{problem}, or pick another sheet with --sheet",
            problem=problem,
            remedy=ChooseSheet(tuple(sheets)),
        )
    at = _header_index(name, sheet, whole, filled, header_row, fits)
    headers: list[str | None] = [None if v is None else str(v) for v in whole.row(at)]
    body = whole.slice(at + 1)
    empty = frozenset(i for i, c in enumerate(body.columns) if body[c].null_count() == body.height)
    body = body.select(_excel_text(pl.col(c)).alias(f"_c{i}") for i, c in enumerate(body.columns))
    return RawTable(
        body.lazy(), headers, letters, empty, sheet, header_row=at + 1, sheets=tuple(sheets)
    )


def sheet_names(data: Path) -> tuple[str, ...]:
    """Every sheet of the workbook ``data``, in order: an .xlsx's from its workbook part (no
    sheet is loaded), an .xls's from calamine (its format bounds it); empty when ``data`` is
    no workbook that can be opened."""
    try:
        with data.open("rb") as f:
            head = f.read(len(MAGIC_OLE))
        if head.startswith(MAGIC_ZIP):
            with zipfile.ZipFile(data) as z:
                return workbook_sheets(z)
        if head.startswith(MAGIC_OLE):
            return tuple(fastexcel.read_excel(data.read_bytes()).sheet_names)
    except (*_UNREADABLE, fastexcel.FastExcelError):
        pass
    return ()


def _check_loaded(
    name: Path, sheet: str, whole: pl.DataFrame, letters: Sequence[str], max_rows: int
) -> None:
    """Excel's limits on a loaded sheet: what an .xls cannot be checked for before (and a
    text in many formatted runs, in an .xlsx)."""
    if whole.height > max_rows:
        raise InputError(rows_message(name, max_rows, f"sheet '{sheet}'"))
    check_columns(name, whole.width, f"sheet '{sheet}'")
    # Bytes first: counting them is free, and only a value of more bytes can be too long.
    for i, column in enumerate(whole.columns):
        if not whole.height or (whole[column].str.len_bytes() <= MAX_CELL_CHARS).all():
            continue
        too_long = (whole[column].str.len_chars() > MAX_CELL_CHARS).arg_true()
        if too_long.len():
            cell = f"cell {letters[i]}{int(too_long[0]) + 1} on sheet '{sheet}'"
            raise InputError(cell_message(name, cell))


def _filled_rows(whole: pl.DataFrame) -> list[int]:
    """Indexes of the first rows that hold a value, as many as the header search looks at.

    Looked for in the first rows, then (a big sheet whose first rows are mostly empty) in all.
    """
    if not whole.width:
        return []
    filled = pl.any_horizontal(pl.all().cast(pl.String).str.strip_chars().str.len_bytes() > 0)
    for rows in (whole.head(_FIRST_ROWS), whole):
        found = rows.select(filled.fill_null(False)).to_series().arg_true().head(SEARCH_ROWS)
        if found.len() == SEARCH_ROWS or rows.height == whole.height:
            break
    return found.to_list()


def _header_index(
    name: Path,
    sheet: str,
    whole: pl.DataFrame,
    filled: list[int],
    header_row: int | None,
    fits: Fits,
) -> int:
    """The index in ``whole`` of the header row (see the module docstring)."""
    if header_row is not None:
        if header_row > whole.height or not any(_cells(whole, header_row - 1)):
            problem = f"{name}: row {header_row} of sheet '{sheet}' is empty"
            raise UsageError(
                f"{problem} — pass the row the header is in with --header-row",
                problem=problem,
                remedy=ChooseHeaderRow(),
            )
        return header_row - 1
    first = filled[0]
    if fits(_cells(whole, first)).named:
        return first
    # A title: as in layout.find_layout, the first row naming only known columns, else the
    # first naming some (its unknown columns are then reported), else the first row after all.
    later = [(index, fits(_cells(whole, index))) for index in filled[1:]]
    for index, fit in later:
        if fit.complete:
            return index
    for index, fit in later:
        if fit.named:
            return index
    return first


def _cells(whole: pl.DataFrame, index: int) -> list[str | None]:
    return [v if v is None or v.strip() else None for v in whole.row(index)]


def _excel_text(e: pl.Expr) -> pl.Expr:
    # fastexcel renders dates as datetimes and lone times on Excel's day zero: show what
    # Excel shows instead.
    return e.str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", "${1}").str.replace(
        r"^1899-12-31 (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$", "${1}"
    )


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


_NS: Final = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_CELL_REF: Final = re.compile(r"([A-Z]+)(\d+)")
#: What Python's zipfile and XML parser raise on a workbook calamine could read but they
#: cannot (a zip feature they lack, encryption, damage past what calamine looked at).
_UNREADABLE: Final = (
    KeyError,
    StopIteration,
    zipfile.BadZipFile,
    ElementTree.ParseError,
    OSError,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    zlib.error,
)


_NEVER_CALCULATED: Final = (
    "a formula that was never calculated (open and save the file in Excel or LibreOffice)"
)


@dataclass
class _Found:
    """What one pass over a sheet's cells found: the first bad cell, and marked numbers."""

    bad: tuple[str, str] | None = None
    numbers: dict[str, list[tuple[int, str]]] = field(default_factory=dict)


def check_xlsx_cells(
    name: Path, data: Path, raw: RawTable, names: Sequence[str | None]
) -> RawTable:
    """Refuse error cells (#N/A...) and never-calculated formulas, which calamine reads as empty;
    mark number cells that Excel may have rounded, and those that are not whole in a lookup
    column; returns ``raw`` with the marks (see formats.NUMBER_PREFIX).

    Sending nothing where the sheet shows #N/A would silently skip a change the user asked for;
    in a column the user chose to ignore, it does no harm.
    """
    assert raw.sheet is not None
    used = {
        raw.labels[i]: i
        for i, col in enumerate(names)
        if col is not None and not col.startswith(IGNORED_PREFIX)
    }
    lookups = {raw.labels[i] for i, col in enumerate(names) if col in api.LOOKUP_KEYS}
    try:
        found = _scan_cells(data, raw.sheet, set(used), lookups, raw.header_row)
    except _UNREADABLE:
        return raw  # best effort: calamine already read the sheet, this pass only adds detail
    if found.bad is not None:
        ref, what = found.bad
        header = raw.headers[used[_CELL_REF.sub(r"\1", ref)]] or ""
        problem = f"{name}: cell {ref} on sheet '{raw.sheet}' holds {what}"
        raise InputError(
            f"{problem} — fix it, or skip the column with --ignore-column "
            f"{shell_word(printable(header))}",
            problem=problem,
            remedy=IgnoreColumn(header),
        )
    return _with_marks(raw, found.numbers, {letter: used[letter] for letter in found.numbers})


def _with_marks(
    raw: RawTable, numbers: dict[str, list[tuple[int, str]]], columns: dict[str, int]
) -> RawTable:
    """``raw`` with a mark column beside each column (letter -> index) that has marked cells."""
    if not numbers:
        return raw
    body = raw.frame.collect()
    marks: dict[int, pl.Expr] = {}
    extra = []
    for letter, cells in numbers.items():
        index = columns[letter]
        # Sheet row r is body row r - header_row - 1.
        at = [row - raw.header_row - 1 for row, _ in cells]
        series = pl.Series(f"_n{index}", [None] * body.height, dtype=pl.String)
        extra.append(series.scatter(at, [kind for _, kind in cells]))
        marks[index] = pl.col(f"_n{index}")
    return replace(raw, frame=body.with_columns(extra).lazy(), numbers=marks)


def _scan_cells(
    path: Path, sheet: str, letters: set[str], lookups: set[str], header_row: int
) -> _Found:
    found = _Found()
    for ref, column, row, cell in _cells_below(path, sheet, letters, header_row):
        value = cell.find(f"{_NS}v")
        text = value.text if value is not None else None
        kind = cell.get("t", "n")
        if kind == "e":
            found.bad = ref, f"the error {text or '#ERROR'}"
            return found
        if cell.find(f"{_NS}f") is not None and not text and kind != "str":
            found.bad = ref, _NEVER_CALCULATED
            return found
        if kind == "n" and text:
            mark = _number_mark(text, column in lookups)
            if mark is not None:
                found.numbers.setdefault(column, []).append((row, mark))
    return found


def _number_mark(text: str, lookup: bool) -> str | None:
    """The mark of a number cell stored as ``text``: rounded past 15 digits, or (in a lookup
    column, where ids are whole) not whole. Elsewhere a fraction is an ordinary value."""
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    if abs(number) >= 10**EXACT_DIGITS:
        return NUMBER_EXCEL_ROUNDED
    if lookup and not number.is_integer():
        return NUMBER_FRACTION
    return None


def _cells_below(
    path: Path, sheet: str, letters: set[str], header_row: int
) -> Iterator[tuple[str, str, int, ElementTree.Element]]:
    """(reference, column letter, row, element) of each cell in ``letters`` below the header."""
    with zipfile.ZipFile(path) as z:
        found = sheet_member(z, sheet)
        if found is None:
            return
        member = found[1]
        with z.open(member) as f:
            for _, el in ElementTree.iterparse(f):
                if el.tag != f"{_NS}c":
                    continue
                ref = el.get("r", "")
                match = _CELL_REF.fullmatch(ref)
                if match and match[1] in letters and int(match[2]) > header_row:
                    yield ref, match[1], int(match[2]), el
                el.clear()
