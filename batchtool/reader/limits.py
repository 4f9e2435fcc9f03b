"""Excel's limits, checked on a text file's bytes before polars reads it: at most 16,384 columns,
32,767 characters a cell and, when the caller asks, a number of rows.

A file beyond them is not a spreadsheet anyone saved, and reading it anyway can cost gigabytes:
polars holds a whole record in memory, and a 1 GB line with no line break is one record. So the
file is streamed in 1 MiB chunks and refused, naming the line, as soon as it breaks a limit.

The scan stays at memchr speed: cells are the stretches between boundary bytes (delimiter, line
break; a quote for JSON Lines), a stretch longer than a cell can be contains a whole aligned
block of ``_BLOCK`` bytes without any boundary, and looking for a boundary in a block stops at
the first one. Boundaries inside quoted CSV values are blanked out first; only stretches found
that way are measured exactly. Each chunk is cut after its last boundary and the rest carried
into the next, so no cell is ever split between two chunks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Final

from batchtool.errors import InputError

#: Excel's limits (https://support.microsoft.com/office/excel-specifications-and-limits).
MAX_ROWS: Final = 1_048_576
MAX_COLUMNS: Final = 16_384
MAX_CELL_CHARS: Final = 32_767

_NOT_SAVED: Final = "this is not a spreadsheet anyone saved; check that it is the right file"

_CHUNK: Final = 1 << 20
#: A stretch of more than MAX_CELL_CHARS bytes holds a whole block of this size at a multiple
#: of it (a stretch of 2B - 1 bytes always does).
_BLOCK: Final = (MAX_CELL_CHARS + 1) // 2
#: Quotes in a chunk found one by one; past that many, the chunk is split on all of them.
_QUOTES_FOUND_ONE_BY_ONE: Final = 4096
#: UTF-8 continuation bytes: deleting them leaves one byte per character.
_CONTINUATION: Final = bytes(range(0x80, 0xC0))
#: The most bytes one character of a value takes in a file (a JSON \\uXXXX escape, UTF-8).
_MAX_CHAR_BYTES: Final = 6


def columns_message(name: Path | str, columns: int | None, where: str) -> str:
    """A table wider than a spreadsheet can be; ``columns`` None: more than that, uncounted."""
    if columns is None:
        return (
            f"{name}: {where} has more than the {MAX_COLUMNS:,} columns a spreadsheet holds "
            f"— {_NOT_SAVED}"
        )
    return (
        f"{name}: {where} has {columns:,} columns, more than the {MAX_COLUMNS:,} a spreadsheet "
        f"holds — {_NOT_SAVED}"
    )


def check_columns(name: Path | str, columns: int, where: str) -> None:
    if columns > MAX_COLUMNS:
        raise InputError(columns_message(name, columns, where))


def cell_message(name: Path | str, where: str) -> str:
    return (
        f"{name}: {where} holds more than {MAX_CELL_CHARS:,} characters, the most a "
        f"spreadsheet cell holds — {_NOT_SAVED}"
    )


def rows_message(name: Path | str, max_rows: int, where: str = "the file") -> str:
    if max_rows >= MAX_ROWS:
        return (
            f"{name}: {where} has more than {MAX_ROWS:,} rows, the most a spreadsheet holds "
            f"— {_NOT_SAVED}"
        )
    return f"{name}: {where} has more than {max_rows:,} rows, the most read here — split it"


def chars(data: bytes) -> int:
    """How many characters the UTF-8 ``data`` holds (a broken sequence counts as bytes)."""
    return len(data.translate(None, _CONTINUATION))


def long_stretches(
    buf: bytes | bytearray, boundaries: Sequence[bytes], stop: int, start: int = 0
) -> Iterator[tuple[int, int]]:
    """(begin, end) of every stretch of ``buf[start:stop]`` without any of ``boundaries`` that
    may be longer than a cell can be (it spans a whole block): begin is just after the
    boundary before it, end the next boundary (``stop`` when there is none)."""
    at = start
    while at < stop:
        block_end = at + _BLOCK
        if block_end > stop:
            return  # a stretch too long to be a cell holds a whole block before this one
        if any(buf.find(b, at, block_end) != -1 for b in boundaries):
            at = block_end
            continue
        begin = max(buf.rfind(b, start, at) for b in boundaries) + 1
        ends = [i for b in boundaries if (i := buf.find(b, block_end, stop)) != -1]
        end = min(ends, default=stop)
        yield begin, end
        at = end + 1


def check_delimited(
    data: Path,
    name: Path,
    separator: str,
    header_line: int,
    eol: str,
    max_rows: int | None,
) -> None:
    """Refuse a UTF-8 delimited file (header on line ``header_line``) with a header wider than
    MAX_COLUMNS, a cell longer than MAX_CELL_CHARS or, given ``max_rows``, more data rows."""
    scan = _DelimitedScan(data, name, separator.encode(), header_line, eol.encode(), max_rows)
    scan.run()


def check_jsonl(data: Path, name: Path, max_rows: int | None) -> None:
    """Refuse a UTF-8 JSON Lines file with a value (or anything between two strings) longer
    than MAX_CELL_CHARS or, given ``max_rows``, more lines than that."""
    boundaries = (b'"', b"\n")
    lines = 0
    with data.open("rb") as f:
        for buf, neutral, base, stop, final in _buffers(f, 0, _json_neutral, boundaries):
            for begin, end in long_stretches(neutral, boundaries, stop):
                if _json_chars(buf[begin:end]) > MAX_CELL_CHARS:
                    line = _lines_between(data, 0, base + begin) + 1
                    raise InputError(cell_message(name, f"line {line}"))
            if max_rows is not None:
                lines += buf.count(b"\n", 0, stop) + (final and not buf.endswith(b"\n"))
                if lines > max_rows:
                    raise InputError(rows_message(name, max_rows))


class _DelimitedScan:
    """One pass over a delimited file; see :func:`check_delimited`."""

    def __init__(
        self,
        data: Path,
        name: Path,
        sep: bytes,
        header_line: int,
        newline: bytes,
        max_rows: int | None,
    ) -> None:
        self.data, self.name, self.sep, self.newline = data, name, sep, newline
        self.header_line, self.max_rows = header_line, max_rows
        self.boundaries = (sep, b"\n", b"\r") if len(sep) == 1 else (b"\n", b"\r")
        self.blank = bytes.maketrans(b"".join(self.boundaries), b"_" * len(self.boundaries))
        self.start = 0  # the header's offset in the file
        self.in_header = True
        self.header_seps = 0
        self.record_seps = 0  # separators since the last line break outside quotes
        self.records = 0  # line breaks outside quotes, the header's included

    def run(self) -> None:
        with self.data.open("rb") as f:
            self.start = _skip_lines(f, self.header_line - 1, self.newline)
            for buf, neutral, base, stop, final in _buffers(
                f, self.start, self._neutral, self.boundaries
            ):
                self._scan(buf, neutral, base, stop, final)

    def _neutral(self, buf: bytes) -> bytes | bytearray:
        """``buf`` with the boundary bytes inside quotes blanked out (the same length).

        Like polars, every quote toggles quoting; ``buf`` starts outside quotes (just after a
        boundary, or at the header's line). Quotes are found with ``bytes.find`` and only the
        quoted values are rewritten; a chunk of many quotes is split on them instead, which
        costs a pass over its bytes whatever their number.
        """
        quotes: list[int] = []
        at = buf.find(b'"')
        while at != -1:
            if len(quotes) == _QUOTES_FOUND_ONE_BY_ONE:
                return self._neutral_split(buf)
            quotes.append(at)
            at = buf.find(b'"', at + 1)
        if not quotes:
            return buf
        quotes.append(len(buf))  # a quote still open at the end runs to it
        blanked = bytearray(buf)
        for start, end in zip(quotes[0::2], quotes[1::2], strict=False):
            blanked[start:end] = blanked[start:end].translate(self.blank)
        return blanked

    def _neutral_split(self, buf: bytes) -> bytes:
        parts = buf.split(b'"')
        inside = b'"'.join(parts[1::2]).translate(self.blank)
        parts[1::2] = inside.split(b'"')
        return b'"'.join(parts)

    def _scan(
        self, buf: bytes, neutral: bytes | bytearray, base: int, stop: int, final: bool
    ) -> None:
        if self.in_header:
            ends = [i for b in (b"\n", b"\r") if (i := neutral.find(b, 0, stop)) != -1]
            self.header_seps += neutral.count(self.sep, 0, min(ends, default=stop))
            if self.header_seps + 1 > MAX_COLUMNS:
                where = f"the header on line {self.header_line}"
                raise InputError(columns_message(self.name, None, where))
            self.in_header = not ends
        for begin, end in long_stretches(neutral, self.boundaries, stop):
            value = buf[begin:end]
            quotes = value.count(b'"')
            if chars(value) - quotes + max(quotes - 2, 0) // 2 > MAX_CELL_CHARS:
                self._refuse_cell(buf, neutral, base, begin, end)
        if self.max_rows is not None:
            self.records += neutral.count(self.newline, 0, stop)
            rows = self.records - 1 + (final and not buf.endswith(self.newline))
            if rows > self.max_rows:
                raise InputError(rows_message(self.name, self.max_rows))
        last_break = max(neutral.rfind(b"\n", 0, stop), neutral.rfind(b"\r", 0, stop))
        if last_break == -1:
            self.record_seps += neutral.count(self.sep, 0, stop)
        else:
            self.record_seps = neutral.count(self.sep, last_break + 1, stop)

    def _refuse_cell(
        self, buf: bytes, neutral: bytes | bytearray, base: int, begin: int, end: int
    ) -> None:
        record = max(neutral.rfind(b"\n", 0, begin), neutral.rfind(b"\r", 0, begin))
        before = self.record_seps if record == -1 else 0
        column = before + neutral.count(self.sep, record + 1, begin) + 1
        line = self.header_line + _lines_between(self.data, self.start, base + begin, self.newline)
        if buf[begin : begin + 1] == b'"' and buf.find(self.newline, begin, end) != -1:
            # Most likely a quote that was never closed, swallowing the lines after it.
            raise InputError(
                f"{self.name}: line {line} opens a quoted value that runs on for more than "
                f'{MAX_CELL_CHARS:,} characters — close its quote, and write a " inside a '
                'quoted value as ""'
            )
        raise InputError(cell_message(self.name, f"line {line}, column {column}"))


def _buffers(
    f: IO[bytes],
    start: int,
    neutral: Callable[[bytes], bytes | bytearray],
    boundaries: Sequence[bytes],
) -> Iterator[tuple[bytes, bytes | bytearray, int, int, bool]]:
    """(buffer, its ``neutral`` form, its offset in the file, where the part to scan ends,
    whether it is the last) for the file from ``start`` on.

    The part to scan ends after the buffer's last boundary; the rest is one unfinished cell,
    carried into the next buffer. A carry longer than any cell can be is scanned at once
    instead (and refused by the caller), so memory stays bounded.
    """
    carry = b""
    base = start
    while True:
        chunk = f.read(_CHUNK)
        buf = carry + chunk if carry else chunk
        if not chunk:
            if buf:
                yield buf, neutral(buf), base, len(buf), True
            return
        blanked = neutral(buf)
        stop = max(blanked.rfind(b) for b in boundaries) + 1
        if len(buf) - stop > _MAX_CHAR_BYTES * (MAX_CELL_CHARS + 2) * 2:
            stop = len(buf)
        yield buf, blanked, base, stop, False
        carry = buf[stop:]
        base += stop


def _skip_lines(f: IO[bytes], count: int, newline: bytes) -> int:
    """Move ``f`` past ``count`` lines (those above the header); returns the offset reached."""
    offset = 0
    while count:
        chunk = f.read(_CHUNK)
        if not chunk:
            break
        at = -1
        while count and (at := chunk.find(newline, at + 1)) != -1:
            count -= 1
        if not count:
            offset += at + 1
            break
        offset += len(chunk)
    f.seek(offset)
    return offset


def _lines_between(data: Path, start: int, end: int, newline: bytes = b"\n") -> int:
    """How many line breaks the file holds between two offsets (read again, in chunks)."""
    count = 0
    with data.open("rb") as f:
        f.seek(start)
        left = end - start
        while left > 0 and (chunk := f.read(min(_CHUNK, left))):
            count += chunk.count(newline)
            left -= len(chunk)
    return count


_JSON_ESCAPE: Final = re.compile(rb"\\.", re.DOTALL)


def _json_neutral(buf: bytes) -> bytes:
    """``buf`` with every escape (``\\"`` included) blanked out: quotes left are delimiters."""
    return _JSON_ESCAPE.sub(b"__", buf) if b"\\" in buf else buf


def _json_chars(stretch: bytes) -> int:
    """The characters of a stretch between two quotes: a string's, escapes decoded, when it is
    short enough to decode; its bytes' otherwise (a number or spaces between values)."""
    if len(stretch) <= _MAX_CHAR_BYTES * (MAX_CELL_CHARS + 1):
        try:
            value = json.loads(b'"' + stretch + b'"')
        except ValueError:
            return chars(stretch)
        return len(value) if isinstance(value, str) else chars(stretch)
    return MAX_CELL_CHARS + 1
