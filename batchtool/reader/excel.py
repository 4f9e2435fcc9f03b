"""Excel workbooks (.xlsx, .xls): one sheet, every cell as the text Excel shows, and a check
for cells that calamine would silently read as empty (errors, uncalculated formulas)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Final
from xml.etree import ElementTree

import fastexcel
import polars as pl

from batchtool.errors import InputError
from batchtool.reader.formats import EXTENSIONS, IGNORED_PREFIX, RawTable
from batchtool.reader.names import shell_word


def read_excel(data: Path, name: Path, fmt: str, sheet: str | None) -> RawTable:
    """One sheet of a workbook (the first unless ``sheet``); ``name`` is what messages say."""
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
            f"{name}: no sheet '{sheet}' — the sheets are {listed}; pick one with --sheet"
        )
    loaded = reader.load_sheet(sheet, header_row=None, dtypes="string")
    whole: pl.DataFrame = loaded.to_polars()
    if whole.height == 0:
        raise InputError(
            f"{name}: sheet '{sheet}' is empty — put a header row and data in it, "
            "or pick another sheet with --sheet"
        )
    letters = [_column_letter(info.absolute_index) for info in loaded.available_columns()]
    headers: list[str | None] = [None if v is None else str(v) for v in whole.row(0)]
    body = whole.slice(1)
    empty = frozenset(i for i, c in enumerate(body.columns) if body[c].null_count() == body.height)
    body = body.select(_excel_text(pl.col(c)).alias(f"_c{i}") for i, c in enumerate(body.columns))
    return RawTable(body.lazy(), headers, letters, empty, sheet)


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
_REL_NS: Final = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS: Final = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def check_xlsx_cells(name: Path, data: Path, raw: RawTable, names: list[str | None]) -> None:
    """Refuse error cells (#N/A...) and never-calculated formulas, which calamine reads as empty.

    Sending nothing where the sheet shows #N/A would silently skip a change the user asked for;
    in a column the user chose to ignore, it does no harm.
    """
    assert raw.sheet is not None
    used = {
        raw.labels[i]: i
        for i, col in enumerate(names)
        if col is not None and not col.startswith(IGNORED_PREFIX)
    }
    try:
        problem = _first_bad_cell(data, raw.sheet, set(used))
    except (KeyError, StopIteration, zipfile.BadZipFile, ElementTree.ParseError, OSError):
        return  # best effort: calamine already read the sheet, this check only adds detail
    if problem is not None:
        ref, what = problem
        header = raw.headers[used[re.sub(r"\d", "", ref)]] or ""
        raise InputError(
            f"{name}: cell {ref} on sheet '{raw.sheet}' holds {what} — fix it, or skip the "
            f"column with --ignore-column {shell_word(header)}"
        )


def _first_bad_cell(path: Path, sheet: str, letters: set[str]) -> tuple[str, str] | None:
    with zipfile.ZipFile(path) as z:
        workbook = ElementTree.fromstring(z.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        rid = next(
            s.get(f"{_REL_NS}id") for s in workbook.iter(f"{_NS}sheet") if s.get("name") == sheet
        )
        target = next(
            r.get("Target") for r in rels.iter(f"{_PKG_REL_NS}Relationship") if r.get("Id") == rid
        )
        if target is None:
            return None
        member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        with z.open(member) as f:
            for _, el in ElementTree.iterparse(f):
                if el.tag != f"{_NS}c":
                    continue
                ref = el.get("r", "")
                if re.sub(r"\d", "", ref) in letters:
                    value = el.find(f"{_NS}v")
                    text = value.text if value is not None else None
                    if el.get("t") == "e":
                        return ref, f"the error {text or '#ERROR'}"
                    if el.find(f"{_NS}f") is not None and not text and el.get("t") != "str":
                        return ref, (
                            "a formula that was never calculated (open and save the file "
                            "in Excel or LibreOffice)"
                        )
                el.clear()
    return None
