"""How the reader read a file (``ReadAs``: the sheet, the header's place, the delimiter, the
encoding), and where each data row is in it as a person finds it there (``Places``): the
sheet row of a workbook, the line of delimited text.

Data row ``r`` (``row`` in the frame and the results; blank rows are counted, see ``rows``) is

- in a workbook, sheet row ``header_row + r``: the sheet is loaded from its first row with
  every empty row kept, so this is exact;
- in CSV or TSV, line ``header_line + r``, plus the line breaks inside quoted values of the
  header and of every record before it (a quoted value may span lines; lines are counted by
  the file's line ending, as the reader's messages count them). Exact too: the breaks are
  counted in the values as the reader split them.

JSON Lines and Parquet rows have no place of their own: polars drops JSON Lines' blank lines
without counting them, so a line number could be wrong, and Parquet has no lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from batchtool.reader.formats import DELIMITED_FORMATS, EXCEL_FORMATS, ROW

#: The column of ``InputTable.breaks``: line breaks inside one record's values.
BREAKS: Final = "breaks"
_CHUNK_BYTES: Final = 4 * 1024 * 1024
#: The column of ``Places.shifts``: lines a data row is further down than its number says.
SHIFT: Final = "shift"


@dataclass(frozen=True)
class ReadAs:
    """How a file was read: its format, the sheet of a workbook (and all its sheets, in
    order), the line or sheet row of the header, the delimiter of delimited text, and the
    codec text was decoded with (None: UTF-8)."""

    format: str
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    header_row: int = 1
    delimiter: str | None = None
    encoding: str | None = None


@dataclass(frozen=True)
class Places:
    """Where data rows are: ``word`` ("sheet row" or "line") and the place of data row 1;
    ``shifts`` (columns ``row`` and ``shift``), from each row on that a record above it
    spans more lines than one, how many lines further down it is in all."""

    word: str
    first: int
    shifts: pl.DataFrame | None = None

    def of(self, rows: Sequence[int]) -> list[int]:
        """The place of each data row in ``rows``."""
        if not rows:
            return []
        wanted = pl.DataFrame({ROW: list(rows)}, schema={ROW: pl.Int64})
        if self.shifts is None or not self.shifts.height:
            shift = pl.lit(0)
        else:
            wanted = (
                wanted.with_row_index("order")
                .sort(ROW)
                .join_asof(self.shifts.sort(ROW), on=ROW, strategy="backward")
                .sort("order")
            )
            shift = pl.col(SHIFT).fill_null(0)
        found = wanted.select(pl.col(ROW) + (self.first - 1) + shift)
        return [int(place) for place in found.to_series()]

    def say(self, rows: Sequence[int]) -> list[str]:
        """Each row's place in words: "sheet row 5", "line 7"."""
        return [f"{self.word} {place}" for place in self.of(rows)]


def places(
    read_as: ReadAs, breaks: pl.LazyFrame | None, header_breaks: int, text: Path | None = None
) -> Places | None:
    """The places of a file read as ``read_as``; ``breaks`` (delimited text: each record's
    line breaks, where it has any) is collected here, one pass over the values, unless the
    UTF-8 ``text`` the frame reads holds no quote: only a quoted value spans lines."""
    if read_as.format in EXCEL_FORMATS:
        return Places("sheet row", read_as.header_row + 1)
    if read_as.format not in DELIMITED_FORMATS:
        return None
    first = read_as.header_row + header_breaks + 1
    if breaks is None or (text is not None and not _holds_quote(text)):
        return Places("line", first)
    found = breaks.collect(engine="streaming")
    if not found.height:
        return Places("line", first)
    # A record's breaks push every row after it down: from row r + 1 on, by the sum so far.
    shifts = found.select(
        (pl.col(ROW) + 1).alias(ROW), pl.col(BREAKS).cum_sum().cast(pl.Int64).alias(SHIFT)
    )
    return Places("line", first, shifts)


def _holds_quote(text: Path) -> bool:
    """Whether the file ``text`` holds a double quote, read a few MB at a time (much faster
    than splitting it into values); a file that cannot be read is searched the slow way."""
    try:
        with text.open("rb") as f:
            while chunk := f.read(_CHUNK_BYTES):
                if b'"' in chunk:
                    return True
    except OSError:
        return True
    return False


def line_breaks(frame: pl.LazyFrame, columns: int, eol: str) -> pl.LazyFrame:
    """Each record of a raw delimited ``frame`` (columns ``_c0``..) whose values hold line
    breaks: its ``row`` and how many (``BREAKS``)."""
    counted = pl.sum_horizontal(
        pl.col(f"_c{i}").str.count_matches(eol, literal=True).fill_null(0) for i in range(columns)
    )
    return (
        frame.with_row_index(ROW, offset=1)
        .select(pl.col(ROW).cast(pl.Int64), counted.alias(BREAKS))
        .filter(pl.col(BREAKS) > 0)
    )
