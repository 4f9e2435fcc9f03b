"""An .xlsx workbook held to Excel's limits while it is still packed, before calamine opens it.

calamine unpacks the shared strings when it opens a workbook and builds a sheet as one dense
grid of every row and column up to its last cell, so a 905 KB zip bomb of 6,000,000 rows, or
two cells far apart, costs gigabytes there. Here the parts are streamed out of the zip in
1 MiB chunks (what the zip's directory says they unpack to is the most zipfile gives) and the
workbook is refused, in words, when:

- a part unpacks to hundreds of times its packed size (no spreadsheet packs that tightly);
- a text (a shared string, an inline string, a value) is longer than a cell holds (a text
  in many formatted runs is measured once loaded, see ``excel``);
- the sheet has a row beyond 1,048,576 or more rows than that (or than ``max_rows``), a
  column beyond XFD, or a grid (rows × columns up to the last cell) larger than
  ``MAX_GRID_CELLS``, which calamine would need gigabytes for.

The ``<dimension>`` element is not trusted (it is optional and calamine ignores it). Cell and
row references are found by their byte patterns, mostly with ``bytes.find``; only a sheet
wider than 26 columns whose grid might be too large is read twice to count exactly.
"""

from __future__ import annotations

import html
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final
from xml.etree import ElementTree

from batchtool.errors import InputError
from batchtool.reader.formats import first_line
from batchtool.reader.limits import (
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_ROWS,
    cell_message,
    long_stretches,
    rows_message,
)

#: The largest grid loaded: 1,048,576 rows of 64 columns (about 2 GB in calamine).
MAX_GRID_CELLS: Final = MAX_ROWS * 64
#: A part unpacking to more than this many times its packed size is a zip bomb: sheets of
#: real data pack 5 to 30 times, and deflate cannot pass about 1,030.
_MAX_PACKING: Final = 250
#: Parts smaller than this unpacked are not worth a packing question.
_PACKING_FLOOR: Final = 32 << 20

_NS: Final = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS: Final = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS: Final = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_SHARED_STRINGS_TYPE: Final = "/sharedStrings"

_CHUNK: Final = 1 << 20
#: A tag or text longer than this is refused outright (no cell text, escaped, is longer).
_MAX_STRETCH: Final = 10 * (MAX_CELL_CHARS + 1)
#: Letters of a column reference -> "a", digits -> "0": references become byte patterns.
_REF_CLASSES: Final = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", b"a" * 26 + b"0" * 10
)
_LAST_COLUMN: Final = "XFD"
_LETTERS: Final = re.compile(rb' r="([A-Z]{1,3})\d')
_THREE_LETTERS: Final = re.compile(rb' r="([A-Z]{3})\d')
_TWO_LETTERS: Final = 26 * 27  # ZZ
#: The number of a row or cell reference: of any length, of n digits or more, of 7 or more.
_ANY_NUMBER: Final = re.compile(rb' r="[A-Z]{0,3}(\d+)"')
_NUMBER_OF: Final = {n: re.compile(rb' r="[A-Z]{0,3}\d{%d}' % n) for n in range(2, 8)}
_LONG_NUMBER: Final = re.compile(rb' r="[A-Z]{0,3}(\d{7,})"')
_NOT_SAVED: Final = "this is not a spreadsheet anyone saved; check that it is the right file"
#: What zipfile raises on a workbook it cannot unpack: damaged, or using a feature it lacks.
_UNREADABLE: Final = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
    ValueError,
)


def column_number(letters: str) -> int:
    """1 for A, 27 for AA, 16,384 for XFD."""
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def workbook_sheets(z: zipfile.ZipFile) -> tuple[str, ...]:
    """The names of the workbook's sheets, in its order."""
    workbook = ElementTree.fromstring(z.read("xl/workbook.xml"))
    return tuple(name for s in workbook.iter(f"{_NS}sheet") if (name := s.get("name")) is not None)


def sheet_member(z: zipfile.ZipFile, sheet: str | None) -> tuple[str, str] | None:
    """(name, part) of the sheet called ``sheet`` (None: the first) in the workbook ``z``;
    None when the workbook does not say (calamine then says what is wrong)."""
    workbook = ElementTree.fromstring(z.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    sheets = [(s.get("name"), s.get(f"{_REL_NS}id")) for s in workbook.iter(f"{_NS}sheet")]
    found = next(((n, rid) for n, rid in sheets if sheet is None or n == sheet), None)
    if found is None or found[0] is None:
        return None
    targets = {r.get("Id"): r.get("Target") for r in rels.iter(f"{_PKG_REL_NS}Relationship")}
    target = targets.get(found[1])
    return (found[0], _part(target)) if target else None


def _part(target: str) -> str:
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def check_xlsx(data: Path, name: Path, sheet: str | None, max_rows: int | None) -> None:
    """Refuse the workbook at ``data`` if any of the module's limits is broken; messages
    speak of ``name``. A workbook these checks cannot unpack is refused too: what it would
    cost calamine cannot be known before it is loaded."""
    try:
        with zipfile.ZipFile(data) as z:
            _check_packing(z, name)
            shared = _shared_strings(z)
            found = sheet_member(z, sheet)
            if shared is not None:
                _check_shared_strings(z, shared, name, found)
            if found is not None:
                _SheetScan(z, found[1], name, found[0], max_rows or MAX_ROWS).run()
    except (KeyError, ElementTree.ParseError, *_UNREADABLE) as exc:
        raise InputError(
            f"{name}: cannot read it as an Excel workbook ({first_line(exc)}) — check that it "
            "opens in Excel and save it again"
        ) from exc


def _check_packing(z: zipfile.ZipFile, name: Path) -> None:
    for info in z.infolist():
        packed = max(info.compress_size, 1)
        if info.file_size > _PACKING_FLOOR and info.file_size > _MAX_PACKING * packed:
            raise InputError(
                f"{name}: '{info.filename}' inside the workbook unpacks to "
                f"{info.file_size / 1e6:,.0f} MB from {packed / 1e3:,.0f} KB, "
                f"{info.file_size // packed:,} times its size, which no spreadsheet does — "
                f"{_NOT_SAVED}"
            )


def _shared_strings(z: zipfile.ZipFile) -> str | None:
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    for rel in rels.iter(f"{_PKG_REL_NS}Relationship"):
        target = rel.get("Target")
        if (rel.get("Type") or "").endswith(_SHARED_STRINGS_TYPE) and target:
            return _part(target)
    return "xl/sharedStrings.xml" if "xl/sharedStrings.xml" in z.namelist() else None


def _buffers(stream: IO[bytes]) -> Iterator[tuple[bytes, int, bool]]:
    """(buffer, where its last tag ends, whether it is the last) of an XML part: what follows
    the last ``>`` is carried into the next buffer, unless it is longer than any text."""
    carry = b""
    while True:
        chunk = stream.read(_CHUNK)
        buf = carry + chunk if carry else chunk
        if not chunk:
            if buf:
                yield buf, len(buf), True
            return
        stop = buf.rfind(b">") + 1
        if len(buf) - stop > _MAX_STRETCH:
            stop = len(buf)
        yield buf, stop, False
        carry = buf[stop:]


def _texts_too_long(buf: bytes, stop: int) -> Iterator[tuple[int, bool]]:
    """(offset, whether it is a text) of each text or tag in ``buf[:stop]`` longer than
    a cell can hold."""
    for begin, end in long_stretches(buf, (b"<",), stop):
        tag_end = buf.rfind(b">", begin, end)
        if tag_end == -1 or tag_end - begin > _MAX_STRETCH:
            yield begin, False
        elif _xml_chars(buf[tag_end + 1 : end]) > MAX_CELL_CHARS:
            yield tag_end + 1, True


def _xml_chars(text: bytes) -> int:
    if len(text) <= MAX_CELL_CHARS:
        return len(text)
    if len(text) > _MAX_STRETCH:
        return MAX_CELL_CHARS + 1
    return len(html.unescape(text.decode("utf-8", "replace")))


def _absurd_tag(name: Path, part: str) -> InputError:
    return InputError(
        f"{name}: '{part}' inside the workbook holds an XML tag of more than "
        f"{MAX_CELL_CHARS:,} characters, which no spreadsheet does — {_NOT_SAVED}"
    )


_SHARED_ITEM: Final = re.compile(rb"<(?:\w+:)?si[\s>/]")


def _check_shared_strings(
    z: zipfile.ZipFile, part: str, name: Path, sheet: tuple[str, str] | None
) -> None:
    """No text of the shared strings longer than a cell. (A string of many formatted runs
    longer than a cell altogether is found once loaded: its bytes are all in the part.)"""
    index = 0  # shared strings before the current buffer
    with z.open(part) as stream:
        for buf, stop, _ in _buffers(stream):
            for at, is_text in _texts_too_long(buf, stop):
                if not is_text:
                    raise _absurd_tag(name, part)
                before = len(_SHARED_ITEM.findall(buf, 0, at))
                raise _shared_too_long(z, name, sheet, index + before - 1)
            index += len(_SHARED_ITEM.findall(buf, 0, stop))


def _shared_too_long(
    z: zipfile.ZipFile, name: Path, sheet: tuple[str, str] | None, index: int
) -> InputError:
    """Where a too-long shared string is used: a cell of the sheet being read, if one is."""
    ref = _cell_using(z, sheet[1], index) if sheet is not None else None
    where = f"cell {ref} on sheet '{sheet[0]}'" if ref and sheet else "a text in the workbook"
    return InputError(cell_message(name, where))


def _cell_using(z: zipfile.ZipFile, part: str, index: int) -> str | None:
    pattern = re.compile(rb'<(?:\w+:)?c\s[^>]*?r="([A-Z]+\d+)"[^>]*>\s*<(?:\w+:)?v>%d<' % index)
    with z.open(part) as stream:
        for buf, stop, _ in _buffers(stream):
            for match in pattern.finditer(buf, 0, stop):
                if b't="s"' in match[0]:
                    return match[1].decode("ascii")
    return None


class _SheetScan:
    """One pass over a sheet's XML; a second, exact one when its grid might be too large.

    The first pass bounds the grid cheaply: the number of digits of the largest row number,
    the number of letters of the last column. References are found with ``bytes.find`` on
    a copy of the buffer where every capital letter reads ``a`` and every digit ``0``.
    """

    def __init__(
        self, z: zipfile.ZipFile, part: str, name: Path, sheet: str, max_rows: int
    ) -> None:
        self.z, self.part, self.name, self.sheet, self.max_rows = z, part, name, sheet, max_rows
        self.prefix = b""
        self.rows = 0  # row elements seen
        self.unnumbered = 0  # row elements without their number
        self.digits = 1  # of the largest row number (of a row or a cell) seen
        self.last_row = 0  # the largest row number of seven digits or more seen
        self.columns = 26  # a bound of the last column (from the letters of references)
        self.open_row_cells = 0  # cells of a row that goes on in the next buffer
        self.counted_columns = 0  # the last column of rows whose cells lack references

    def run(self) -> None:
        with self.z.open(self.part) as stream:
            for buf, stop, _ in _buffers(stream):
                if not self.rows and not self.prefix:
                    self.prefix = _prefix(buf)
                self._scan(buf, stop)
        numbered = self.last_row or 10**self.digits - 1
        rows = max(self.rows, min(numbered, self.max_rows) + self.unnumbered)
        columns = max(self.columns, self.counted_columns)
        if rows * columns > MAX_GRID_CELLS:
            last_row, last_column = self._count_grid()
            rows = max(self.rows, last_row + self.unnumbered)
            columns = max(last_column, self.counted_columns)
        if rows * columns > MAX_GRID_CELLS:
            raise InputError(
                f"{self.name}: sheet '{self.sheet}' spans {rows:,} rows × {columns:,} "
                f"columns, more cells than batchtool loads at once ({MAX_GRID_CELLS:,}) — "
                "delete stray cells far from the table (Ctrl+End in Excel goes to the last "
                "one), or save the sheet as CSV"
            )

    def _scan(self, buf: bytes, stop: int) -> None:
        for at, is_text in _texts_too_long(buf, stop):
            if not is_text:
                raise _absurd_tag(self.name, self.part)
            raise InputError(cell_message(self.name, self._where(buf, at)))
        refs = buf.translate(_REF_CLASSES)
        self._rows(buf, refs, stop)
        three = refs.find(b' r="aaa0', 0, stop) != -1
        if refs.find(b' r="aaaa', 0, stop) != -1 or (three and self._beyond_last_column(buf, stop)):
            raise InputError(
                f"{self.name}: sheet '{self.sheet}' has a cell beyond column {_LAST_COLUMN}, "
                f"the last of the {MAX_COLUMNS:,} Excel has — {_NOT_SAVED}"
            )
        if three:
            self.columns = MAX_COLUMNS
        elif self.columns < _TWO_LETTERS and refs.find(b' r="aa0', 0, stop) != -1:
            self.columns = _TWO_LETTERS
        cells = buf.count(b"<" + self.prefix + b"c", 0, stop)
        numbered = refs.count(b' r="a', 0, stop)
        if cells > numbered or self.open_row_cells:
            self._unnumbered_cells(buf, stop, numbered > 0)

    def _rows(self, buf: bytes, refs: bytes, stop: int) -> None:
        """Count the row elements and bound their numbers (and the rows cells name)."""
        tag = b"<" + self.prefix + b"row"
        rows = buf.count(tag, 0, stop)
        self.rows += rows
        self.unnumbered += rows - buf.count(tag + b' r="', 0, stop)
        while self.digits < 7 and refs.find(b"0" * (self.digits + 1) + b'"', 0, stop) != -1:
            # A number that long ending in a quote: a reference's, if one is (not a style's).
            if _NUMBER_OF[self.digits + 1].search(buf, 0, stop) is None:
                break
            self.digits += 1
        if self.digits >= 7:
            numbers = _LONG_NUMBER.findall(buf, 0, stop)
            if numbers:
                longest = len(max(numbers, key=len))
                top = max(n for n in numbers if len(n) == longest)
                self.last_row = max(self.last_row, int(top))
        if max(self.rows, self.last_row) > self.max_rows:
            raise InputError(rows_message(self.name, self.max_rows, f"sheet '{self.sheet}'"))

    def _beyond_last_column(self, buf: bytes, stop: int) -> bool:
        letters = set(_THREE_LETTERS.findall(buf, 0, stop))
        return any(column_number(w.decode()) > MAX_COLUMNS for w in letters)

    def _unnumbered_cells(self, buf: bytes, stop: int, numbered: bool) -> None:
        """A cell without a reference takes the column after the one before it, so a row's
        last column is at most its cells plus its last numbered column: counted row by row
        (only in sheets whose cells lack references), a row's cells carried across buffers."""
        row_start = re.compile(re.escape(b"<" + self.prefix + b"row") + rb"[\s>/]")
        tag = b"<" + self.prefix + b"c"
        rows = row_start.split(buf[:stop])
        counts = [row.count(tag) for row in rows]
        counts[0] += self.open_row_cells
        self.open_row_cells = counts[-1]
        if numbered:
            for i, row in enumerate(rows):
                letters = _LETTERS.findall(row)
                counts[i] += max((column_number(w.decode()) for w in letters), default=0)
        last = max(counts)
        if last > MAX_COLUMNS:
            raise InputError(
                f"{self.name}: sheet '{self.sheet}' has a row of more than {MAX_COLUMNS:,} "
                f"cells, the most Excel has — {_NOT_SAVED}"
            )
        self.counted_columns = max(self.counted_columns, last)

    def _count_grid(self) -> tuple[int, int]:
        """The sheet's last row number and last column, from every reference (a second pass)."""
        last_row = last_column = 0
        with self.z.open(self.part) as stream:
            for buf, stop, _ in _buffers(stream):
                for letters in set(_LETTERS.findall(buf, 0, stop)):
                    last_column = max(last_column, column_number(letters.decode()))
                numbers = _ANY_NUMBER.findall(buf, 0, stop)
                if numbers:
                    longest = len(max(numbers, key=len))
                    last_row = max(last_row, int(max(n for n in numbers if len(n) == longest)))
        return last_row, last_column

    def _where(self, buf: bytes, at: int) -> str:
        cell = buf.rfind(b"<" + self.prefix + b"c ", 0, at)
        ref = re.match(rb'<(?:\w+:)?c\s[^>]*?r="([A-Z]+\d+)"', buf[cell:]) if cell != -1 else None
        if ref is None:
            return f"a cell on sheet '{self.sheet}'"
        return f"cell {ref[1].decode('ascii')} on sheet '{self.sheet}'"


def _prefix(buf: bytes) -> bytes:
    """The namespace prefix of the sheet's elements (``x:`` in ``<x:worksheet>``), or none."""
    match = re.search(rb"<(\w+:)?worksheet[\s>]", buf)
    return match[1] or b"" if match else b""
