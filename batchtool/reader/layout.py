"""Where a delimited text file's table starts, decided from its first bytes alone: the
delimiter (from the header line, counting only outside quotes, unless --delimiter says it) and
the header line (the first line with text; or, when that names no column batchtool knows, the
first of the next lines that names only known columns; unless --header-row says it)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from batchtool.errors import InputError, UsageError
from batchtool.reader.names import HeaderFit
from batchtool.remedies import ChooseDelimiter, ChooseHeaderRow

#: The delimiters detected, in the order a tie is reported.
CANDIDATES: Final[tuple[str, ...]] = (",", ";", "\t", "|")
#: Lines with text looked at for the header when the first one is a title.
SEARCH_ROWS: Final = 20

_NAMES: Final[dict[str, str]] = {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}

#: How a row of cells fits as the header (names.header_fit with --map and --ignore-column).
Fits = Callable[[Sequence[str | None]], HeaderFit]


@dataclass(frozen=True)
class Layout:
    """The delimiter, and the 1-based line the header is on (the lines above it are skipped)."""

    separator: str
    header_line: int


def parse_delimiter(value: str) -> str:
    """The delimiter ``--delimiter`` names: one character, or tab as a word or ``\\t``."""
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    chosen = named.get(value.lower(), value)
    if len(chosen) != 1 or chosen in '\r\n"':
        raise UsageError(
            f"--delimiter '{value}' is not one character — use e.g. --delimiter ';' "
            "or --delimiter tab"
        )
    return chosen


def find_layout(
    name: str,
    text: str,
    *,
    complete: bool,
    eol: str,
    default: str,
    delimiter: str | None,
    header_row: int | None,
    fits: Fits,
) -> Layout:
    """The layout of the text whose beginning is ``text`` (all of it when ``complete``).

    ``default`` is the format's own delimiter, used when the header line holds none of the
    candidates and preferred when it holds as many of it as of another.
    """
    lines = text.split(eol)
    if not complete and len(lines) > 1:
        lines.pop()  # cut off by the head's end (unless it is all there is: a huge header)
    if eol == "\n":
        lines = [line.removesuffix("\r") for line in lines]
    filled = [n for n, line in enumerate(lines, start=1) if line.strip()]
    if not filled:
        raise InputError(f"{name}: the file has no header row — put the column names first")

    if header_row is not None:
        record = _header_record(name, lines, header_row, complete)
        return Layout(delimiter or _delimiter(name, header_row, record, default, fits), header_row)

    first = filled[0]
    record = _record(lines, first)
    separator = delimiter or _delimiter(name, first, record, default, fits)
    if fits(split(record, separator)).named:
        return Layout(separator, first)
    # No known column on the first line: a title. Take the first line below it that names
    # only columns batchtool knows; failing that, one that names some (its unknown columns
    # are then reported where they are); failing that, the first line after all.
    later = [(n, lines[n - 1]) for n in filled[1:SEARCH_ROWS]]
    for n, line in later:
        for candidate in (delimiter,) if delimiter else _present(line, default):
            if fits(split(line, candidate)).complete:
                return Layout(candidate, n)
    for n, line in later:
        candidate = delimiter or _most_counted(line, default)
        if fits(split(line, candidate)).named:
            return Layout(candidate, n)
    return Layout(separator, first)


def split(record: str, separator: str) -> list[str | None]:
    """The cells of one record, quotes removed as a CSV reader removes them."""
    try:
        return list(next(csv.reader(io.StringIO(record), delimiter=separator), []))
    except csv.Error:
        return [record]


def _header_record(name: str, lines: list[str], header_row: int, complete: bool) -> str:
    if header_row > len(lines):
        if complete:
            # The text after a last line break is no line of its own when it is empty.
            count = len(lines) - (lines[-1] == "")
            raise UsageError(
                f"{name}: --header-row {header_row}, but the file has only {count} lines",
                problem=f"{name}: the header is said to be on line {header_row}, but the file "
                f"has only {count} lines",
                remedy=ChooseHeaderRow(),
            )
        tail = "is too far down — the header must be within the first 64 KB of the file"
        raise UsageError(
            f"{name}: --header-row {header_row} {tail}",
            problem=f"{name}: header row {header_row} {tail}",
            remedy=ChooseHeaderRow(),
        )
    if not lines[header_row - 1].strip():
        problem = f"{name}: line {header_row} is empty"
        raise UsageError(
            f"{problem} — pass the line the header is on with --header-row",
            problem=problem,
            remedy=ChooseHeaderRow(),
        )
    return _record(lines, header_row)


def _record(lines: list[str], number: int) -> str:
    """The record that starts on line ``number``: more lines while a quote is open."""
    parts = []
    open_quote = False
    for line in lines[number - 1 :]:
        parts.append(line)
        open_quote ^= line.count('"') % 2 == 1
        if not open_quote:
            return "\n".join(parts)
    return lines[number - 1]  # a quote that never closes: the line alone


def _counts(record: str) -> dict[str, int]:
    """How often each candidate occurs outside quotes."""
    counts = dict.fromkeys(CANDIDATES, 0)
    for i, part in enumerate(record.split('"')):
        if i % 2 == 0:
            for candidate in CANDIDATES:
                counts[candidate] += part.count(candidate)
    return counts


def _present(line: str, default: str) -> list[str]:
    counts = _counts(line)
    return [c for c in CANDIDATES if counts[c]] or [default]


def _most_counted(line: str, default: str) -> str:
    counts = _counts(line)
    best = max(counts.values())
    tied = [c for c in CANDIDATES if counts[c] == best]
    return default if not best or default in tied else tied[0]


def _delimiter(name: str, number: int, record: str, default: str, fits: Fits) -> str:
    """The delimiter of the header ``record`` on line ``number``.

    A delimiter that turns the line into known column names wins; otherwise the one counted
    most; a tie that the format's own delimiter is not part of cannot be settled safely.
    """
    counts = _counts(record)
    present = [c for c in CANDIDATES if counts[c]]
    if not present:
        return default
    naming = [c for c in present if fits(split(record, c)).complete]
    if len(naming) == 1:
        return naming[0]
    best = max(counts.values())
    tied = [c for c in present if counts[c] == best]
    if len(tied) == 1:
        return tied[0]
    if default in tied:
        return default
    listed = " and ".join(_NAMES[c] for c in tied)
    options = " or ".join(f"--delimiter {_option(c)}" for c in tied)
    problem = (
        f"{name}: cannot tell the delimiter: line {number} has {best} each of {listed} "
        "outside quotes"
    )
    raise InputError(
        f"{problem} — pass {options}", problem=problem, remedy=ChooseDelimiter(tuple(tied), number)
    )


def _option(separator: str) -> str:
    return "tab" if separator == "\t" else f"'{separator}'"
