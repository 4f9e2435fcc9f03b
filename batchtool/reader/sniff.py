"""Choosing how to read a file: its format (extension, --format, magic bytes) and its encoding,
checked against the first bytes before any reader touches it."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Final

from batchtool.errors import InputError, UsageError
from batchtool.reader.formats import (
    EXCEL_FORMATS,
    EXTENSIONS,
    FORMAT_ALIASES,
    FORMATS,
    TEXT_FORMATS,
    title,
)
from batchtool.reader.messages import explain_os

# Enough to hold any real header line, small enough to read eagerly on every run.
HEAD_BYTES: Final = 64 * 1024

_UTF8_NAMES: Final[frozenset[str]] = frozenset({"utf-8", "utf-8-sig"})

_MAGIC_ZIP: Final = b"PK\x03\x04"
_MAGIC_OLE: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAGIC_PARQUET: Final = b"PAR1"


def choose_format(path: Path, fmt: str | None) -> str:
    """The format ``--format`` names, else the one the extension names."""
    if fmt is not None:
        chosen = FORMAT_ALIASES.get(fmt.strip().lower().lstrip("."))
        if chosen is None:
            raise UsageError(f"unknown --format '{fmt}' — use one of: {', '.join(FORMATS)}")
        return chosen
    chosen = EXTENSIONS.get(path.suffix.lower())
    if chosen is None:
        what = f"extension '{path.suffix}'" if path.suffix else "no extension"
        raise InputError(
            f"{path}: cannot tell the file's format from {what} — "
            f"pass --format ({', '.join(FORMATS)})"
        )
    return chosen


def check_encoding(name: str, fmt: str, encoding: str | None) -> str | None:
    """The codec to decode a text file with, or None for polars' own UTF-8 reading."""
    if encoding is None:
        return None
    if fmt not in TEXT_FORMATS:
        raise UsageError(
            f"{name}: --encoding applies to CSV, TSV and JSON Lines only; "
            f"{title(fmt)} files carry their own encoding"
        )
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(
            f"unknown --encoding '{encoding}' — use a Python codec name such as "
            "utf-8, latin-1 or cp1252"
        ) from None
    # polars streams UTF-8 itself (BOM or not); only other encodings need decoding first.
    return None if codec in _UTF8_NAMES else codec


def read_head(data: Path, name: Path) -> bytes:
    """The first bytes of ``data``; messages name ``name`` (the file the user gave)."""
    try:
        with data.open("rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as exc:
        raise InputError(explain_os(name, exc)) from exc
    if not head:
        raise InputError(f"{name}: the file is empty (0 bytes) — is it the right file?")
    return head


def sniff(head: bytes) -> str:
    """What the first bytes say the file is: a binary format's name, else "csv" or "jsonl"."""
    if head.startswith(_MAGIC_PARQUET):
        return "parquet"
    if head.startswith(_MAGIC_ZIP):
        return "xlsx"
    if head.startswith(_MAGIC_OLE):
        return "xls"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "jsonl"
    return "csv"


def _looks_like(kind: str) -> str:
    return {
        "parquet": "a Parquet file",
        "xlsx": "an Excel .xlsx workbook (or another zip file)",
        "xls": "an old Excel .xls workbook",
        "jsonl": "JSON Lines text",
        "csv": "text, such as CSV",
    }[kind]


def check_content(name: str, fmt: str, head: bytes, encoding: str | None) -> str:
    """Refuse a file whose bytes are not ``fmt``; returns the format to read it with."""
    kind = sniff(head)
    if fmt in EXCEL_FORMATS:
        if kind in EXCEL_FORMATS:
            return kind  # calamine reads both; a misnamed workbook is still a workbook
        raise InputError(
            f"{name}: this is not an Excel workbook (it looks like {_looks_like(kind)}) — "
            f"rename it to its real extension or pass --format {_suggest(kind)}"
        )
    if fmt == "parquet":
        if kind != "parquet":
            raise InputError(
                f"{name}: this is not a Parquet file (it looks like {_looks_like(kind)}) — "
                f"rename it to its real extension or pass --format {_suggest(kind)}"
            )
        return fmt
    if kind in ("parquet", "xlsx", "xls"):
        raise InputError(
            f"{name}: this is not {title(fmt)} text (it looks like {_looks_like(kind)}) — "
            f"rename it to its real extension or pass --format {kind}"
        )
    if encoding is None:
        _check_utf8_head(name, head)
    return fmt


def _suggest(kind: str) -> str:
    return kind if kind in FORMATS else "csv"


def _check_utf8_head(name: str, head: bytes) -> None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{name}: the file is UTF-16 text — pass --encoding utf-16")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise InputError(not_utf8(name, head[exc.start], exc.start, head)) from None
    if b"\x00" in head:
        raise InputError(
            f"{name}: the file holds binary data (NUL bytes), not text — is it the right file?"
        )


def not_utf8(name: str, byte: int, offset: int, before: bytes) -> str:
    line = before[:offset].count(b"\n") + 1
    return (
        f"{name}: not valid UTF-8 (byte 0x{byte:02x} at offset {offset}, line {line}) — "
        "pass --encoding latin-1 (or the file's real encoding)"
    )


def decoded(data: Path, name: Path, encoding: str) -> bytes:
    """The whole file as UTF-8 bytes, for polars, which reads nothing else."""
    try:
        raw = data.read_bytes()
    except OSError as exc:
        raise InputError(explain_os(name, exc)) from exc
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{name}: not valid {encoding} (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start}, line {line}) — pass the file's real encoding with --encoding"
        ) from None
    return text.removeprefix("\ufeff").encode("utf-8")
