"""Turning what goes wrong while reading into one-line messages that say where and what to do.

polars reports bad UTF-8, a ragged row or an unclosed quote only when a lazy frame is
collected, long after ``read_input`` returned; ``polars_errors(path)`` wraps that later work
and looks up how the file was read (``register``) to locate the problem in it.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import fastexcel
import polars as pl

from batchtool.errors import InputError
from batchtool.reader.formats import (
    EXTENSIONS,
    SEPARATORS,
    SHOWN_ERROR_CHARS,
    TEXT_FORMATS,
    cut,
    first_line,
    title,
)
from batchtool.remedies import ChooseEncoding

_CHUNK_BYTES: Final = 1024 * 1024
#: The encoding a European office's text files most often are in when they are not UTF-8:
#: what Excel on Windows saves "CSV" in (a superset of latin-1's printable characters).
LIKELY_ENCODING: Final = "cp1252"


@dataclass(frozen=True)
class Source:
    """How a file was handed to polars: its format, where its (UTF-8) bytes are, and for
    delimited text its delimiter, header line and line ending.

    ``data`` differs from the path the user gave when the run reads a snapshot of it, or a
    UTF-8 copy of a file in another encoding (``transcoded``: offsets are not the file's).
    """

    fmt: str
    data: Path
    transcoded: bool = False
    separator: str | None = None
    header_line: int = 1
    eol: str = "\n"


_SOURCES: dict[str, Source] = {}


def _key(path: Path) -> str:
    return os.path.abspath(path)


def register(name: Path, source: Source) -> None:
    """Remember how ``name`` is being read, for messages about errors found later."""
    _SOURCES[_key(name)] = source


def source_of(name: Path) -> Source | None:
    return _SOURCES.get(_key(name))


_DATA_ERRORS: Final = (
    pl.exceptions.ComputeError,
    pl.exceptions.NoDataError,
)


@contextmanager
def polars_errors(path: Path) -> Iterator[None]:
    """Turn polars/fastexcel/OS errors raised while the lazy frame is collected into InputError
    one-liners.

    Only errors about the data are translated: a ColumnNotFoundError or the like is a bug in
    the code around the block and stays one.
    """
    try:
        yield
    except _DATA_ERRORS as exc:
        raise explain_polars(Path(path), exc) from exc
    except fastexcel.FastExcelError as exc:
        raise InputError(
            f"{path}: cannot read it as an Excel workbook ({first_line(exc)}) — "
            "check that it opens in Excel and save it again"
        ) from exc
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        # Only these: the block may also do network I/O, whose OSErrors are not about the file.
        raise InputError(explain_os(Path(path), exc)) from exc
    except BaseException as exc:
        # A Rust panic in a reader (calamine on a damaged .xls, say) arrives as pyo3's
        # PanicException, a BaseException that each extension module defines for itself.
        if type(exc).__name__ != "PanicException":
            raise
        source = source_of(Path(path))
        fmt = title(source.fmt) if source else "its format"
        raise InputError(
            f"{path}: cannot read it as {fmt}: the file looks damaged ({first_line(exc)}) — "
            "open it in the program that made it and save it again"
        ) from exc


def explain_polars(path: Path, exc: Exception) -> InputError:
    """What a polars error about the data at ``path`` means, as an InputError."""
    message = str(exc)
    lowered = message.lower()
    source = source_of(path)
    fmt = source.fmt if source else EXTENSIONS.get(path.suffix.lower(), "csv")
    data = source.data if source else path
    if ("utf-8" in lowered or "utf8" in lowered) and fmt not in TEXT_FORMATS:
        return InputError(
            f"{path}: a text column holds bytes that are not valid UTF-8 — "
            "store that column as UTF-8 text"
        )
    if "utf-8" in lowered or "utf8" in lowered:
        eol = source.eol if source else "\n"
        located = None if source and source.transcoded else _locate_bad_utf8(path, data, eol)
        if located is not None:
            return located
        return not_utf8(path, None, 0, 0, data)
    if "more fields than defined" in lowered:
        return InputError(_explain_ragged(path, source))
    if "not properly escaped" in lowered:
        return InputError(_explain_open_quote(path, source))
    if fmt == "jsonl":
        return InputError(_explain_jsonl(path, source, message))
    if isinstance(exc, pl.exceptions.NoDataError):
        return InputError(f"{path}: the file has no header row — put the column names first")
    problem = (
        f"{path}: cannot read it as {title(fmt)} ({first_line(exc)}) — "
        f"check that it really is a {title(fmt)} file"
    )
    return InputError(f"{problem}, or pass --format", problem=problem)


def _locate_bad_utf8(path: Path, data: Path, eol: str) -> InputError | None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    newlines = 0
    try:
        with data.open("rb") as f:
            while chunk := f.read(_CHUNK_BYTES):
                try:
                    decoder.decode(chunk, final=False)
                except UnicodeDecodeError as exc:
                    # The decoder may hold up to 3 bytes of a split character from the last chunk.
                    pending = len(decoder.getstate()[0])
                    start = max(exc.start - pending, 0)
                    line = newlines + chunk[:start].count(eol.encode()) + 1
                    return not_utf8(path, chunk[start], offset + start, line, data)
                offset += len(chunk)
                newlines += chunk.count(eol.encode())
    except OSError:
        return None
    return None


def _explain_ragged(path: Path, source: Source | None) -> str:
    fix = "remove the extra separator, or quote the value that contains it"
    for line, row, fields, expected in _csv_records(path, source):
        if fields > expected:
            return (
                f"{path}: line {line} (row {row}) has {fields} fields but the header has "
                f"{expected} — {fix}"
            )
    return f"{path}: a row has more fields than the header — {fix}"


def _explain_open_quote(path: Path, source: Source | None) -> str:
    line = unclosed_quote_line(source.data if source else path, source.eol if source else "\n")
    return open_quote_message(path, line)


def open_quote_message(path: Path, line: int | None) -> str:
    where = f"line {line}" if line is not None else "a line"
    return (
        f'{path}: {where} opens a quoted value that never closes — close it, and write a " '
        'inside a quoted value as ""'
    )


def unclosed_quote_line(data: Path, eol: str) -> int | None:
    """The line where a quote opens that the file never closes, or None.

    Like polars, every quote character toggles quoting (a doubled quote toggles twice), so
    this finds the quote that swallowed the rest of the file into one value.
    """
    newline = eol.encode()
    lines = 0  # line breaks before the current chunk
    opened: int | None = None  # line of the quote that is open, if any
    try:
        with data.open("rb") as f:
            while chunk := f.read(_CHUNK_BYTES):
                at = chunk.find(b'"')
                done = 0
                while at != -1:
                    lines += chunk.count(newline, done, at)
                    done = at
                    opened = lines + 1 if opened is None else None
                    at = chunk.find(b'"', at + 1)
                lines += chunk.count(newline, done)
    except OSError:
        return None
    return opened


def _csv_records(path: Path, source: Source | None) -> Iterator[tuple[int, int, int, int]]:
    """(first line, row, field count, header's field count) of each record, read by Python."""
    fmt = source.fmt if source else "csv"
    data = source.data if source else path
    separator = source.separator if source and source.separator else SEPARATORS.get(fmt, ",")
    skip = source.header_line - 1 if source else 0
    try:
        with data.open(encoding="utf-8-sig", errors="replace", newline="") as f:
            for _ in range(skip):
                f.readline()
            records = csv.reader(f, delimiter=separator)
            header = next(records, [])
            start = skip + records.line_num + 1
            for row, fields in enumerate(records, start=1):
                yield start, row, len(fields), len(header)
                start = skip + records.line_num + 1
    except (OSError, csv.Error):
        return


def _explain_jsonl(path: Path, source: Source | None, message: str) -> str:
    fix = 'each line must be one JSON object such as {"customer_id": "191"}'
    data = source.data if source else path
    records = 0
    try:
        with data.open(encoding="utf-8-sig", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                records += 1
                try:
                    record = json.loads(line)
                except ValueError:
                    return f"{path}: line {number} is not valid JSON — {fix}"
                if not isinstance(record, dict):
                    return f"{path}: line {number} is not a JSON object — {fix}"
    except OSError:
        pass
    if not records:
        return f"{path}: no JSON records, only blank lines — is it the right file?"
    first = cut(message.splitlines()[0], SHOWN_ERROR_CHARS)
    return f"{path}: cannot read it as JSON Lines ({first}) — {fix}"


def not_utf8(
    name: str | Path, byte: int | None, offset: int, line: int, data: Path
) -> InputError:
    """Text that is not UTF-8: ``byte`` at ``offset`` on ``line`` (None: not located). The
    encoding suggested is ``LIKELY_ENCODING`` when it decodes the whole file ``data``."""
    where = f" (byte 0x{byte:02x} at offset {offset}, line {line})" if byte is not None else ""
    problem = f"{name}: not valid UTF-8{where}"
    return InputError(
        f"{problem} — pass --encoding latin-1 (or the file's real encoding)",
        problem=problem,
        remedy=ChooseEncoding(LIKELY_ENCODING if decodes(data, LIKELY_ENCODING) else None),
    )


def decodes(data: Path, codec: str) -> bool:
    """Whether ``codec`` decodes every byte of the file ``data``."""
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        with data.open("rb") as f:
            while chunk := f.read(_CHUNK_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except (UnicodeDecodeError, OSError):
        return False
    return True


def explain_os(path: Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{path}: no such file — check the path"
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return f"{path}: is a directory — give the path of the input file inside it"
    if isinstance(exc, PermissionError):
        return f"{path}: permission denied — make the file readable (chmod u+r) or copy it"
    return f"{path}: cannot read the file ({exc.strerror or exc}) — check the path and the disk"
